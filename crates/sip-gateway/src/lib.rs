//! # sip-gateway
//!
//! The SIP side of centralino: a message facade over `rsip` that also reads the compact header
//! forms and folded headers real peers send, SDP offer/answer (RFC 3264/4566), the RFC 3261 §17
//! transaction layer with RFC 6026, dialogs and the user-agent core, the registrar for agents'
//! phones with digest authentication (RFC 3261 §10, §22), and the UDP/TCP transports that drive
//! them, with SIP over WebSocket (RFC 7118) fed in by the web server ([`transport::ws`]).
//!
//! ## Run loop
//! Everything except [`transport`] is sans-IO: state machines that take input (`handle_*` with the
//! current instant), queue output (`poll_transmit`, `poll_event`) and say when they next need to
//! be woken (`poll_timeout`). The one invariant a driver must keep: after every `handle_*` call,
//! drain `poll_transmit` and `poll_event`, then sleep until `poll_timeout` (or new input) and call
//! `handle_timeout(now)`.
//!
//! ## Randomness
//! Tags, branches, Call-IDs, SDP session ids and digest nonces come from one [`rng::SipRng`]
//! the user agent owns, seeded from [`ua::UserAgentConfig::rng_seed`] (the operating system's
//! entropy when `None`): with a seed, the same inputs give the same bytes out, so an exchange
//! can be replayed exactly.

pub mod auth;
pub mod config;
pub mod gateway;
pub mod message;
pub mod registrar;
pub mod rng;
pub mod sdp;
pub mod transaction;
pub mod transport;
pub mod ua;
