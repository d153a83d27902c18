//! The vocabulary of a session: what signalling negotiated, the fixed per-session choices, and
//! what goes in and out of [`RtpSession`](crate::RtpSession).

use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

use crate::{Codec, Direction};

/// What the signalling side negotiated for one leg (SDP offer/answer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamParams {
    /// Where the SDP says to send RTP (RTCP goes to port + 1 until RTCP arrives).
    pub remote: SocketAddr,
    pub codec: Codec,
    /// The payload type negotiated for `codec` (usually its static one).
    pub payload_type: u8,
    /// The telephone-event payload type (RFC 4733 §7.1.1), if negotiated.
    pub dtmf_payload_type: Option<u8>,
    /// Packet duration; 10-120 ms in steps of 10 ms (other values are rounded).
    pub ptime_ms: u32,
    pub direction: Direction,
}

impl StreamParams {
    pub(crate) fn ptime_ms(&self) -> u32 {
        let p = if self.ptime_ms == 0 {
            20
        } else {
            self.ptime_ms
        };
        (p.div_ceil(10) * 10).clamp(10, 120)
    }

    pub(crate) fn samples_per_packet(&self) -> u32 {
        self.ptime_ms() * 8
    }

    pub(crate) fn ptime(&self) -> Duration {
        Duration::from_millis(self.ptime_ms() as u64)
    }
}

/// Fixed per-session choices, usually random (RFC 3550 §5.1: SSRC, initial sequence number and
/// timestamp should be random).
#[derive(Debug, Clone, Copy)]
pub struct SessionConfig {
    pub ssrc: u32,
    pub initial_seq: u16,
    pub initial_timestamp: u32,
    /// Report [`MediaEvent::RtpTimeout`](crate::MediaEvent::RtpTimeout) after this long without RTP while receiving.
    pub rtp_timeout: Option<Duration>,
    /// Before the latch, accept the first RTP (and RTCP) from any address, not only from the
    /// SDP's IP address: for phones behind NAT that announce a private address. After the
    /// latch only the latched source is accepted either way.
    pub latch_any_address: bool,
    /// One instant and the wall-clock time it corresponds to: RTCP NTP timestamps are derived
    /// from `now` through this pair, so the session never reads the system clock.
    pub clock_origin: (Instant, SystemTime),
}

/// Which socket a datagram goes out on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Rtp,
    Rtcp,
}

/// A datagram written into the caller's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub struct Transmit {
    pub channel: Channel,
    pub destination: SocketAddr,
    pub len: usize,
}

/// Received audio handed back to the caller (for recording).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceivedAudio<'a> {
    pub ssrc: u32,
    pub timestamp: u32,
    pub codec: Codec,
    pub payload: &'a [u8],
}

/// What a received RTP packet carries, as the session classified it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RtpKind {
    /// Audio in the leg's negotiated codec.
    Audio(Codec),
    /// An RFC 4733 telephone-event payload on the negotiated payload type.
    TelephoneEvent,
}

/// A received RTP packet the session accepted (the leg receives, the payload type is the
/// negotiated audio or telephone-event one): everything a bridge needs to relay it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceivedRtp<'a> {
    pub kind: RtpKind,
    pub ssrc: u32,
    pub sequence: u16,
    pub timestamp: u32,
    pub marker: bool,
    pub payload: &'a [u8],
}

impl<'a> ReceivedRtp<'a> {
    /// The audio part, for a recorder; `None` for telephone-events.
    pub fn audio(&self) -> Option<ReceivedAudio<'a>> {
        match self.kind {
            RtpKind::Audio(codec) => Some(ReceivedAudio {
                ssrc: self.ssrc,
                timestamp: self.timestamp,
                codec,
                payload: self.payload,
            }),
            RtpKind::TelephoneEvent => None,
        }
    }
}
