//! RFC 4733 telephone-events: the payload format, a receiver that reports each digit exactly
//! once, and a sender that lays an event onto the packet clock.
//!
//! Both are sans-IO: the receiver is fed parsed RTP fields and `now`; the sender is asked, slot by
//! slot, what (if anything) to send instead of audio.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// One telephone-event payload (RFC 4733 §2.3, figure 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelephoneEvent {
    /// Event code (RFC 4733 §3.2: 0-9, 10 `*`, 11 `#`, 12-15 `A`-`D`).
    pub event: u8,
    /// The E bit: this packet ends the event.
    pub end: bool,
    /// Power level in -dBm0 (0-63).
    pub volume: u8,
    /// Duration so far, in timestamp units.
    pub duration: u16,
}

impl TelephoneEvent {
    /// Length of the payload on the wire.
    pub const LEN: usize = 4;

    /// Parses the first event of a payload; `None` if shorter than 4 bytes.
    pub fn parse(payload: &[u8]) -> Option<TelephoneEvent> {
        let b = payload.get(..Self::LEN)?;
        Some(TelephoneEvent {
            event: b[0],
            end: b[1] & 0x80 != 0,
            volume: b[1] & 0x3F,
            duration: u16::from_be_bytes([b[2], b[3]]),
        })
    }

    /// Writes the payload.
    pub fn write(&self, out: &mut [u8; 4]) {
        out[0] = self.event;
        out[1] = (if self.end { 0x80 } else { 0 }) | (self.volume & 0x3F);
        out[2..4].copy_from_slice(&self.duration.to_be_bytes());
    }
}

/// The digit for a DTMF event code (RFC 4733 §3.2, table 7).
pub fn event_to_digit(event: u8) -> Option<char> {
    match event {
        0..=9 => Some((b'0' + event) as char),
        10 => Some('*'),
        11 => Some('#'),
        12..=15 => Some((b'A' + event - 12) as char),
        _ => None,
    }
}

/// The DTMF event code for a digit (accepts lower-case `a`-`d`).
pub fn digit_to_event(digit: char) -> Option<u8> {
    match digit {
        '0'..='9' => Some(digit as u8 - b'0'),
        '*' => Some(10),
        '#' => Some(11),
        'A'..='D' => Some(digit as u8 - b'A' + 12),
        'a'..='d' => Some(digit as u8 - b'a' + 12),
        _ => None,
    }
}

/// A digit the receiver decided on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceivedDigit {
    pub digit: char,
    /// Duration in timestamp units (8 kHz for the G.711 telephone-event clock).
    pub duration_units: u32,
}

impl ReceivedDigit {
    /// The duration at the telephone-event clock rate of 8000 Hz.
    pub fn duration(&self) -> Duration {
        Duration::from_micros(self.duration_units as u64 * 1_000_000 / 8000)
    }
}

/// How long an event may go without packets before it is reported without its end packet.
pub const EVENT_TIMEOUT: Duration = Duration::from_millis(1000);

/// Events already reported, to drop their repeated end packets and late updates.
const REMEMBERED: usize = 16;

#[derive(Debug, Clone, Copy)]
struct OpenEvent {
    ssrc: u32,
    timestamp: u32,
    event: u8,
    duration: u16,
    last_packet: Instant,
}

/// Turns a stream of telephone-event packets into digits, each reported exactly once.
///
/// An event is identified by its SSRC and RTP timestamp (RFC 4733 §2.5.2.1: all packets of one
/// event carry the start timestamp). A digit is reported when its first end packet arrives
/// (the two repeats are then ignored), also when the start packets were lost; when the end
/// packets are all lost it is reported once another event starts or after [`EVENT_TIMEOUT`]
/// without packets. Late updates and end packets of a reported event are ignored, so reordering
/// cannot report a digit twice.
#[derive(Debug)]
pub struct DtmfReceiver {
    open: Option<OpenEvent>,
    reported: [Option<(u32, u32)>; REMEMBERED],
    next_slot: usize,
    digits: VecDeque<ReceivedDigit>,
}

impl Default for DtmfReceiver {
    fn default() -> Self {
        DtmfReceiver {
            open: None,
            reported: [None; REMEMBERED],
            next_slot: 0,
            digits: VecDeque::with_capacity(4),
        }
    }
}

/// What one packet meant to the receiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DtmfPacket {
    /// The first packet seen of a new event (use it for barge-in).
    NewEvent,
    /// A packet of an event already seen or reported, or a non-DTMF event.
    Known,
    /// Not a telephone-event payload (too short).
    Malformed,
}

impl DtmfReceiver {
    pub fn new() -> Self {
        Self::default()
    }

    fn was_reported(&self, key: (u32, u32)) -> bool {
        self.reported.contains(&Some(key))
    }

    fn report(&mut self, ssrc: u32, timestamp: u32, event: u8, duration: u16) {
        self.reported[self.next_slot] = Some((ssrc, timestamp));
        self.next_slot = (self.next_slot + 1) % REMEMBERED;
        if let Some(digit) = event_to_digit(event) {
            self.digits.push_back(ReceivedDigit {
                digit,
                duration_units: duration as u32,
            });
        }
    }

    fn close_open(&mut self) {
        if let Some(open) = self.open.take() {
            self.report(open.ssrc, open.timestamp, open.event, open.duration);
        }
    }

    /// Feeds one RTP packet received on the negotiated telephone-event payload type.
    pub fn handle_packet(
        &mut self,
        ssrc: u32,
        timestamp: u32,
        payload: &[u8],
        now: Instant,
    ) -> DtmfPacket {
        let Some(ev) = TelephoneEvent::parse(payload) else {
            return DtmfPacket::Malformed;
        };
        if event_to_digit(ev.event).is_none() {
            return DtmfPacket::Known;
        }
        let key = (ssrc, timestamp);
        if self.was_reported(key) {
            return DtmfPacket::Known;
        }
        let is_open = matches!(self.open, Some(o) if (o.ssrc, o.timestamp) == key);
        let outcome = if is_open {
            DtmfPacket::Known
        } else {
            // A different event: whatever was open ended without us seeing its end.
            self.close_open();
            DtmfPacket::NewEvent
        };
        if ev.end {
            let duration = match self.open.take() {
                Some(o) if (o.ssrc, o.timestamp) == key => o.duration.max(ev.duration),
                other => {
                    self.open = other;
                    ev.duration
                }
            };
            self.report(ssrc, timestamp, ev.event, duration);
        } else {
            let duration = match self.open {
                Some(o) if (o.ssrc, o.timestamp) == key => o.duration.max(ev.duration),
                _ => ev.duration,
            };
            self.open = Some(OpenEvent {
                ssrc,
                timestamp,
                event: ev.event,
                duration,
                last_packet: now,
            });
        }
        outcome
    }

    /// Reports an event whose end packets never came.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(open) = self.open
            && now.saturating_duration_since(open.last_packet) >= EVENT_TIMEOUT
        {
            self.close_open();
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) has something to do.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.open.map(|o| o.last_packet + EVENT_TIMEOUT)
    }

    /// The next decided digit, in order.
    #[must_use]
    pub fn poll_digit(&mut self) -> Option<ReceivedDigit> {
        self.digits.pop_front()
    }
}

/// Samples between update packets (RFC 4733 §2.5.1.2: 50 ms is the recommended update rate).
const UPDATE_INTERVAL: u32 = 400;
/// End packets sent per event (RFC 4733 §2.5.1.4).
const END_PACKETS: u8 = 3;
/// Audio between two queued digits, in samples (40 ms).
const INTER_DIGIT_GAP: u32 = 320;
/// Default power level: -10 dBm0.
const VOLUME: u8 = 10;

#[derive(Debug, Clone, Copy)]
struct ActiveEvent {
    event: u8,
    timestamp: u32,
    total: u32,
    next_update: u32,
    ends_sent: u8,
    final_duration: u16,
}

/// What the sender wants for one packet slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DtmfSlot {
    /// No event: send audio.
    Audio,
    /// An event is in progress but no packet is due in this slot: send nothing (audio muted).
    Muted,
    /// Send this telephone-event packet with the given RTP timestamp and marker.
    Packet {
        timestamp: u32,
        marker: bool,
        payload: [u8; 4],
    },
}

/// Lays queued digits onto the packet clock (RFC 4733 §2.5.1): a start packet with the marker
/// bit, updates every 50 ms, and three end packets, all with the event's start timestamp.
#[derive(Debug, Default)]
pub struct DtmfSender {
    queue: VecDeque<(u8, u32)>,
    active: Option<ActiveEvent>,
    gap_left: u32,
}

impl DtmfSender {
    pub fn new() -> Self {
        Self::default()
    }

    /// Queues a digit; unknown digits are refused with `false`. Duration is clamped to
    /// 40 ms - 8 s (the 16-bit duration field, without segmenting long events).
    pub fn queue(&mut self, digit: char, duration: Duration) -> bool {
        let Some(event) = digit_to_event(digit) else {
            return false;
        };
        let units = (duration.as_micros() * 8 / 1000).clamp(320, 64_000) as u32;
        self.queue.push_back((event, units));
        true
    }

    /// Whether an event is being sent or waiting.
    pub fn is_busy(&self) -> bool {
        self.active.is_some() || !self.queue.is_empty()
    }

    /// Drops everything queued and in progress (e.g. the stream stopped sending).
    pub fn clear(&mut self) {
        self.queue.clear();
        self.active = None;
        self.gap_left = 0;
    }

    /// Decides the slot starting at RTP timestamp `slot_ts` and lasting `samples` samples.
    pub fn poll_slot(&mut self, slot_ts: u32, samples: u32) -> DtmfSlot {
        if self.active.is_none() {
            if self.gap_left > 0 {
                self.gap_left = self.gap_left.saturating_sub(samples);
                return DtmfSlot::Audio;
            }
            let Some((event, total)) = self.queue.pop_front() else {
                return DtmfSlot::Audio;
            };
            self.active = Some(ActiveEvent {
                event,
                timestamp: slot_ts,
                total,
                next_update: UPDATE_INTERVAL,
                ends_sent: 0,
                final_duration: 0,
            });
            let payload = payload(event, false, samples.min(total) as u16);
            return DtmfSlot::Packet {
                timestamp: slot_ts,
                marker: true,
                payload,
            };
        }
        let Some(mut a) = self.active else {
            return DtmfSlot::Audio;
        };
        let elapsed = slot_ts.wrapping_sub(a.timestamp).wrapping_add(samples);
        let slot = if a.ends_sent > 0 || elapsed >= a.total {
            if a.ends_sent == 0 {
                a.final_duration = elapsed.min(u16::MAX as u32) as u16;
            }
            a.ends_sent += 1;
            DtmfSlot::Packet {
                timestamp: a.timestamp,
                marker: false,
                payload: payload(a.event, true, a.final_duration),
            }
        } else if elapsed >= a.next_update {
            while a.next_update <= elapsed {
                a.next_update += UPDATE_INTERVAL;
            }
            DtmfSlot::Packet {
                timestamp: a.timestamp,
                marker: false,
                payload: payload(a.event, false, elapsed as u16),
            }
        } else {
            DtmfSlot::Muted
        };
        if a.ends_sent >= END_PACKETS {
            self.active = None;
            self.gap_left = INTER_DIGIT_GAP;
        } else {
            self.active = Some(a);
        }
        slot
    }
}

fn payload(event: u8, end: bool, duration: u16) -> [u8; 4] {
    let mut out = [0u8; 4];
    TelephoneEvent {
        event,
        end,
        volume: VOLUME,
        duration,
    }
    .write(&mut out);
    out
}

#[cfg(test)]
#[path = "dtmf_tests.rs"]
mod tests;
