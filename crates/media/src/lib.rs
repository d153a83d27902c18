//! # media
//!
//! The RTP media engine of centralino: G.711 µ-law/A-law, RFC 4733 telephone-events in and out,
//! prompt playback, recording of the caller's audio, RTCP, symmetric RTP.
//!
//! ## Shape
//!
//! The protocol logic is sans-IO. [`RtpSession`] is one leg's state machine: it never reads
//! a clock or touches a socket. Around it sit small pure parts, each its own module:
//! [`DtmfReceiver`]/[`DtmfSender`] (RFC 4733), [`Playout`] (what is playing), [`Recorder`]
//! (received audio on a timeline), [`ReceptionStats`] (RFC 3550 A.1/A.3/A.8), the RTCP codec in
//! [`rtcp`] and the G.711 tables in [`g711`].
//!
//! [`MediaEngine`] is the thin driver: shard tasks on tokio, each owning many legs and serving
//! them all on one 20 ms tick, with non-blocking sockets read and written on that tick, reused
//! buffers and no lock shared across legs. A [`MediaLeg`] is the call's handle; its
//! [`MediaEvents`] carry what happened.
//!
//! Bridging (B2BUA: caller ↔ agent) is sans-IO too: a leg hands what it accepted out of
//! [`RtpSession::handle_rtp_packet`], its partner re-sends it with [`RtpSession::relay`] under
//! its own SSRC and numbering (see `session_bridge.rs`). The shard relays on the tick the
//! packet is read, reading bridged legs on every tick; [`MediaLeg::bridge`] needs both legs
//! on one shard ([`MediaEngine::allocate_near`]).
//!
//! ## Run loop
//!
//! Driving an [`RtpSession`] (the shard task does exactly this; tests do it with fake time):
//!
//! ```
//! use std::time::{Duration, Instant, SystemTime};
//! use media::{Codec, Direction, RtpSession, SessionConfig, StreamParams, Channel, MAX_PACKET};
//!
//! let start = Instant::now();
//! let mut session = RtpSession::new(SessionConfig {
//!     ssrc: 0x1234, initial_seq: 1, initial_timestamp: 0,
//!     rtp_timeout: Some(Duration::from_secs(60)),
//!     latch_any_address: false,
//!     clock_origin: (start, SystemTime::now()),
//! });
//! session.configure(StreamParams {
//!     remote: "127.0.0.1:40000".parse().unwrap(), codec: Codec::Pcmu, payload_type: 0,
//!     dtmf_payload_type: Some(101), ptime_ms: 20, direction: Direction::SendRecv,
//! }, start);
//! let mut buf = vec![0u8; MAX_PACKET];
//! let mut sent = 0;
//! for tick in 0..5u32 {
//!     let now = start + Duration::from_millis(20) * tick;
//!     // 1. feed what arrived: session.handle_rtp(&datagram, source, now) and handle_rtcp.
//!     // 2. run timers:
//!     session.handle_timeout(now);
//!     // 3. send everything due:
//!     while let Some(t) = session.poll_transmit(now, &mut buf) {
//!         assert_eq!(t.channel, Channel::Rtp); // (RTCP comes after a few seconds)
//!         sent += 1; // socket.send_to(&buf[..t.len], t.destination)
//!     }
//!     // 4. hand events to the owner:
//!     while let Some(_event) = session.poll_event() {}
//! }
//! assert_eq!(sent, 5); // comfort silence, one packet per 20 ms
//! ```
//!
//! The one invariant: **call `poll_transmit` until it returns `None` at least once per
//! `poll_timeout()` deadline** (the shard does so every 20 ms). A late call is caught up
//! (slots due up to 100 ms ago are sent in a burst, older ones skipped) without ever breaking
//! the RTP timestamp/sequence relation, because the packet clock, not the caller, decides what
//! each packet carries.

pub mod config;
mod engine;
mod error;
mod event;
pub mod g711;
mod leg;
mod library;
mod playout;
mod ports;
mod priority;
mod prompt;
mod reception;
mod recording;
pub mod rtcp;
mod rtp;
mod session;
mod shard;
mod stats;
mod stream;
mod types;

pub mod dtmf;

pub use dtmf::{DtmfReceiver, DtmfSender};
pub use engine::{MediaConfig, MediaEngine};
pub use error::MediaError;
pub use event::{BridgeEnd, LegId, MediaEvent, PlaybackId, RecordingEnd};
pub use leg::{MediaEvents, MediaLeg};
pub use library::PromptLibrary;
pub use playout::{PlayOptions, Playout};
pub use priority::{HIGH_NICE, ThreadPriority};
pub use prompt::{FRAME_SAMPLES, MAX_PROMPT_LENGTH, PROMPT_SAMPLE_RATES, Prompt, SAMPLE_RATE};
pub use reception::{LossReport, ReceptionStats};
pub use recording::{FileRecording, RecordProgress, Recorder};
pub use rtp::{HEADER_LEN, RtpHeader};
pub use session::{
    Channel, MAX_PACKET, ReceivedAudio, ReceivedRtp, RtpKind, RtpSession, SessionConfig,
    StreamParams, Transmit,
};
pub use stats::{EngineStats, IntervalHistogram};
pub use types::{Codec, Direction};
