//! Bridging: relaying the packets another leg received onto this leg's stream.
//!
//! A bridged leg stays the only RTP source its peer sees (RFC 3550 §8.2: a bridge that changes
//! the media's path must not expose the other side's SSRC, and RFC 3550 §7.1/§7.3: what
//! crosses it is re-sent under the translator's own identity). Each relayed packet gets this
//! leg's SSRC and payload type, and its sequence number and timestamp are the source's shifted
//! by offsets fixed when relaying (re)starts:
//!
//! - the first relayed packet continues this leg's sequence (`seq = next own seq`) and its
//!   timestamp is this leg's packet clock at that instant (never before the end of the last
//!   packet sent), so prompt → bridge is continuous;
//! - later packets keep the source's spacing: a lost or reordered packet upstream shows as a
//!   gap or reordering downstream, exactly as the source produced it, and the downstream
//!   jitter buffer sees the source's timing rather than our relay instants;
//! - a new source SSRC, a timestamp jump of more than [`MAX_TS_JUMP`], or one of our own
//!   packets in between (prompt, digit, comfort silence) restarts the mapping with the
//!   marker bit set (RFC 3551 §4.1: a new talkspurt);
//! - when our own packets resume (unbridged, or a prompt played to one side), the packet
//!   clock is moved forward past the last relayed packet, so bridge → prompt is continuous.
//!
//! Direction is RFC 3264 §8.4: a leg that does not send (the peer put us on hold with
//! `sendonly`/`inactive`, we answered `recvonly`/`inactive`) relays nothing towards its peer;
//! a leg that does not receive hands nothing to relay. While bridged and relayed audio flows,
//! the leg sends no comfort silence of its own; after [`FILL_AFTER`] without relayed packets
//! (the other side is on hold, muted with silence suppression, or gone) it fills the stream
//! with comfort silence again so the phone never sees its RTP stop.

use std::time::{Duration, Instant};

use super::{Channel, HEADER_LEN, ReceivedRtp, RtpKind, RtpSession, Transmit};
use crate::dtmf::TelephoneEvent;
use crate::g711;
use crate::rtp::RtpHeader;

/// Relayed timestamps further than this (8 kHz units: 10 s) from the previous packet's restart
/// the mapping instead of being carried over.
pub const MAX_TS_JUMP: u32 = 80_000;
/// Comfort silence resumes after this long without a relayed packet.
pub const FILL_AFTER: Duration = Duration::from_millis(200);
/// The packet clock is moved forward by at most this much (8 kHz units: 1 s) to follow the
/// relayed timestamps; more than that means the source clock is off and is not followed.
const MAX_CATCH_UP: u32 = 8000;

/// How the source's numbers map onto ours.
#[derive(Debug, Clone, Copy)]
struct RelayMap {
    source_ssrc: u32,
    seq_offset: u16,
    ts_offset: u32,
    last_in_ts: u32,
}

/// The bridge part of a session's state.
#[derive(Debug, Default)]
pub(super) struct BridgeState {
    bridged: bool,
    /// `Some` while relayed packets are the last ones sent.
    map: Option<RelayMap>,
    last_relay_at: Option<Instant>,
    /// RTP timestamp just after the last packet sent (own or relayed).
    sent_end: Option<u32>,
}

/// `a` is after `b` on the wrapping 32-bit timestamp line.
fn is_after(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) > 0
}

impl BridgeState {
    /// Whether the leg may send comfort silence of its own now.
    pub(super) fn own_silence(&self, now: Instant) -> bool {
        !self.bridged
            || self
                .last_relay_at
                .is_none_or(|t| now.saturating_duration_since(t) >= FILL_AFTER)
    }

    pub(super) fn note_sent(&mut self, end: u32) {
        match self.sent_end {
            Some(e) if is_after(e, end) => {}
            _ => self.sent_end = Some(end),
        }
    }
}

impl RtpSession {
    /// Whether the leg is bridged (relays what its partner receives).
    pub fn is_bridged(&self) -> bool {
        self.bridge.bridged
    }

    /// Starts relaying: a playing prompt is stopped (reported interrupted), comfort silence
    /// gives way to relayed packets. Call [`relay`](Self::relay) with each packet the other
    /// leg accepts from then on.
    pub fn bridge_start(&mut self, now: Instant) {
        self.stop_playback();
        self.bridge.bridged = true;
        self.bridge.map = None;
        self.bridge.last_relay_at = Some(now);
    }

    /// Stops relaying; the leg's own stream (comfort silence, prompts) resumes on the next
    /// slot with sequence numbers and timestamps following the last relayed packet.
    pub fn bridge_end(&mut self) {
        self.bridge.bridged = false;
        self.marker_pending = true;
    }

    /// Writes `packet` (accepted by the other leg, see
    /// [`handle_rtp_packet`](Self::handle_rtp_packet)) into `buf` as this leg's next packet:
    /// our SSRC, our payload type (audio transcoded through linear PCM when the codecs differ,
    /// telephone-events re-labelled with our negotiated telephone-event type), sequence and
    /// timestamp mapped as the module docs say. `None` when nothing is to be sent: not
    /// bridged, not sending (RFC 3264 §8.4 hold), a prompt or our own digit holds the stream,
    /// a telephone-event with no telephone-event type negotiated on this leg (RFC 4733 §2.1:
    /// it is not sent where not negotiated), or a payload larger than `buf`.
    #[must_use]
    pub fn relay(
        &mut self,
        packet: &ReceivedRtp<'_>,
        now: Instant,
        buf: &mut [u8],
    ) -> Option<Transmit> {
        let params = self.params?;
        if !self.bridge.bridged || !params.direction.sends() {
            return None;
        }
        // A prompt or a digit of our own has the stream: relayed audio would interleave.
        if self.playout.is_playing() || self.dtmf_out.is_busy() {
            return None;
        }
        let destination = self.rtp_destination?;
        let len = HEADER_LEN + packet.payload.len();
        if len > buf.len() {
            return None;
        }
        let (payload_type, samples, is_event) = match packet.kind {
            RtpKind::Audio(from) => {
                g711::transcode(
                    from,
                    params.codec,
                    packet.payload,
                    &mut buf[HEADER_LEN..len],
                );
                (params.payload_type, packet.payload.len() as u32, false)
            }
            RtpKind::TelephoneEvent => {
                let pt = params.dtmf_payload_type?;
                let event = TelephoneEvent::parse(packet.payload)?;
                buf[HEADER_LEN..len].copy_from_slice(packet.payload);
                (pt, event.duration as u32, true)
            }
        };
        let resync = match self.bridge.map {
            Some(m) => {
                m.source_ssrc != packet.ssrc
                    || (packet.timestamp.wrapping_sub(m.last_in_ts) as i32).unsigned_abs()
                        > MAX_TS_JUMP
            }
            None => true,
        };
        if resync {
            let mut base = self.timestamp_at(now);
            if let Some(end) = self.bridge.sent_end.filter(|&e| is_after(e, base)) {
                base = end;
            }
            self.bridge.map = Some(RelayMap {
                source_ssrc: packet.ssrc,
                seq_offset: self.sequence.wrapping_sub(packet.sequence),
                ts_offset: base.wrapping_sub(packet.timestamp),
                last_in_ts: packet.timestamp,
            });
        }
        let map = self.bridge.map.as_mut()?;
        if is_after(packet.timestamp, map.last_in_ts) {
            map.last_in_ts = packet.timestamp;
        }
        let header = RtpHeader {
            payload_type,
            // RFC 4733 §2.5.1.3: on events the marker means "new event", so it is only copied.
            marker: packet.marker || (resync && !is_event),
            sequence: packet.sequence.wrapping_add(map.seq_offset),
            timestamp: packet.timestamp.wrapping_add(map.ts_offset),
            ssrc: self.config.ssrc,
        };
        header.write(buf);
        let next = header.sequence.wrapping_add(1);
        if (next.wrapping_sub(self.sequence) as i16) > 0 {
            self.sequence = next;
        }
        self.bridge
            .note_sent(header.timestamp.wrapping_add(samples));
        self.bridge.last_relay_at = Some(now);
        self.marker_pending = true;
        self.packets_sent = self.packets_sent.wrapping_add(1);
        self.octets_sent = self.octets_sent.wrapping_add(packet.payload.len() as u32);
        self.sent_since_report = true;
        Some(Transmit {
            channel: Channel::Rtp,
            destination,
            len,
        })
    }

    /// Before an own packet (which may follow relayed ones): end the relay mapping and move
    /// the packet clock past the last packet sent (at most [`MAX_CATCH_UP`]).
    pub(super) fn catch_up_after_relay(&mut self) {
        self.bridge.map = None;
        if let Some(end) = self.bridge.sent_end {
            let ahead = end.wrapping_sub(self.slot_timestamp);
            if is_after(end, self.slot_timestamp) && ahead <= MAX_CATCH_UP {
                self.slot_timestamp = end;
            }
        }
    }
}

#[cfg(test)]
#[path = "session_bridge_tests.rs"]
mod tests;
