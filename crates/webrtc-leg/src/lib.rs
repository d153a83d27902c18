//! The agent's browser as a phone: a WebRTC media leg that the media engine sees as an
//! ordinary RTP leg (issue 17).
//!
//! A [`WebRtcLeg`] answers a browser's offer and terminates, toward the browser, ICE-lite
//! (RFC 8445 §2.5; one host candidate, or the configured public address behind 1:1 NAT),
//! DTLS-SRTP (RFC 5764) and rtcp-mux (RFC 5761). Toward the media engine it is a plain RTP/UDP
//! endpoint on loopback: the engine allocates an ordinary leg, points it at
//! [`WebRtcLeg::plain_rtp_addr`], and the WebRTC leg sends the browser's decrypted RTP to the
//! engine leg's address ([`WebRtcLeg::set_plain_peer`]). G.711 (PCMU/PCMA) and RFC 4733
//! telephone-events pass through unchanged in payload, with the offer's payload type numbers
//! on both sides ([`WebRtcLeg::negotiated`]).
//!
//! DTLS, SRTP, ICE and RTCP come from webrtc-rs's sans-IO core (`rtc` 0.21), driven by one
//! task per leg that owns both sockets (see the `driver` module); docs/DECISIONS.md says why
//! this and not the crate's async layer (`webrtc`, used here only to play the browser in
//! tests) or str0m.
//!
//! # Life
//! [`WebRtcLeg::answer`] → `Connecting` → `Connected` (ICE and DTLS done) → `Closed(reason)`.
//! A leg that is not connected within [`LegConfig::establish_timeout`] closes itself
//! ([`CloseReason::EstablishTimeout`]); so does one whose consent is lost
//! ([`CloseReason::Failed`]). Closed, it holds no socket; [`live_legs`] counts the others.

mod config;
mod driver;
mod error;
mod leg;
mod offer;
mod rtt;
mod sdp;
mod stats;

pub use config::LegConfig;
pub use error::LegError;
pub use leg::{CloseReason, LegState, Negotiated, OfferedLeg, WebRtcLeg, live_legs};
pub use offer::{G711, OfferedAudio, check_offer};
pub use stats::{FlowStats, LegStats};
