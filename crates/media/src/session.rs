//! One leg's RTP/RTCP session as a sans-IO state machine.
//!
//! The caller feeds it datagrams with [`RtpSession::handle_rtp`] / [`RtpSession::handle_rtcp`],
//! calls [`RtpSession::handle_timeout`] when [`RtpSession::poll_timeout`] says so (or on every
//! tick), and then drains [`RtpSession::poll_transmit`] and [`RtpSession::poll_event`]. It never
//! reads a clock: every method that needs the time takes `now`.
//!
//! Sending runs on a packet clock: slot *k* of the stream is due at `start + k × ptime` and
//! carries RTP timestamp `ts0 + k × samples`. Slots are filled with the playing prompt, a
//! telephone-event, comfort silence, or nothing (hold, nothing to play on a send-only leg), but
//! the clock advances in every case, so timestamps always match elapsed time and the sequence
//! number only counts packets actually sent (RFC 3550 §5.1).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rtp_rs::RtpReader;

use crate::Direction;
use crate::dtmf::{DtmfPacket, DtmfReceiver, DtmfSender, DtmfSlot, TelephoneEvent};
use crate::event::{MediaEvent, PlaybackId};
use crate::playout::{PlayOptions, Playout};
use crate::prompt::Prompt;
use crate::reception::ReceptionStats;
use crate::rtcp::{self, NtpTime, OutgoingReport, ReportBlock, SenderInfo};
use crate::rtp::{HEADER_LEN, RtpHeader};
pub use crate::stream::{
    Channel, ReceivedAudio, ReceivedRtp, RtpKind, SessionConfig, StreamParams, Transmit,
};

/// Largest datagram [`RtpSession::poll_transmit`] writes (12-byte header + 120 ms of G.711).
pub const MAX_PACKET: usize = HEADER_LEN + 960;

/// A slot is sent on the first call with `now > due - SEND_AHEAD`, so a caller on a 20 ms tick
/// sends each packet on the tick nearest its due time even if the tick wakes a little early.
pub const SEND_AHEAD: Duration = Duration::from_millis(10);
/// Slots further behind than this are skipped (clock kept, nothing sent) instead of burst out.
pub const MAX_LAG: Duration = Duration::from_millis(100);
/// RFC 3550 §6.2: 5 s minimum RTCP interval, randomised by ×[0.5, 1.5] (§6.3.1).
const RTCP_INTERVAL: Duration = Duration::from_secs(5);

/// One leg's RTP session. See the module docs.
#[derive(Debug)]
pub struct RtpSession {
    config: SessionConfig,
    params: Option<StreamParams>,
    // Packet clock.
    sequence: u16,
    slot_timestamp: u32,
    next_due: Option<Instant>,
    marker_pending: bool,
    bridge: BridgeState,
    playout: Playout,
    dtmf_out: DtmfSender,
    // Receiving.
    dtmf_in: DtmfReceiver,
    reception: Option<ReceptionStats>,
    rtp_destination: Option<SocketAddr>,
    latched: bool,
    rtcp_latched: Option<SocketAddr>,
    /// Datagrams dropped because they came from a source other than the peer's.
    foreign_packets: u64,
    last_rtp_at: Option<Instant>,
    timed_out: bool,
    // RTCP.
    next_rtcp: Option<Instant>,
    rng: u32,
    packets_sent: u32,
    octets_sent: u32,
    sent_since_report: bool,
    last_sr: Option<(u32, Instant)>,
    remote_report: Option<ReportBlock>,
    events: VecDeque<MediaEvent>,
}

impl RtpSession {
    pub fn new(config: SessionConfig) -> Self {
        RtpSession {
            config,
            params: None,
            sequence: config.initial_seq,
            slot_timestamp: config.initial_timestamp,
            next_due: None,
            marker_pending: true,
            bridge: BridgeState::default(),
            playout: Playout::new(),
            dtmf_out: DtmfSender::new(),
            dtmf_in: DtmfReceiver::new(),
            reception: None,
            rtp_destination: None,
            latched: false,
            rtcp_latched: None,
            foreign_packets: 0,
            last_rtp_at: None,
            timed_out: false,
            next_rtcp: None,
            rng: config.ssrc | 1,
            packets_sent: 0,
            octets_sent: 0,
            sent_since_report: false,
            last_sr: None,
            remote_report: None,
            events: VecDeque::with_capacity(8),
        }
    }

    pub fn ssrc(&self) -> u32 {
        self.config.ssrc
    }

    pub fn params(&self) -> Option<&StreamParams> {
        self.params.as_ref()
    }

    /// Where RTP goes now: the SDP address until the peer's RTP arrives, then its source.
    pub fn rtp_destination(&self) -> Option<SocketAddr> {
        self.rtp_destination
    }

    /// Datagrams dropped so far because their source was not the peer's (see
    /// [`RtpSession::handle_rtp_packet`]).
    pub fn foreign_packets(&self) -> u64 {
        self.foreign_packets
    }

    /// Whether a datagram from `source` may be the peer's. Before the latch: from the SDP's
    /// IP address, any port (a symmetric-RTP NAT keeps the address and may change the port;
    /// RFC 4961) or, with [`SessionConfig::latch_any_address`], from anywhere. After it: from
    /// the latched `latched` source only, address and port.
    fn is_peer(&self, source: SocketAddr, latched: Option<SocketAddr>, sdp: SocketAddr) -> bool {
        match latched {
            Some(addr) => same_source(addr, source),
            None => self.config.latch_any_address || same_ip(sdp, source),
        }
    }

    /// The peer's last report about our stream (RFC 3550 §6.4).
    pub fn remote_report(&self) -> Option<ReportBlock> {
        self.remote_report
    }

    /// Our receive statistics for the peer's audio source.
    pub fn reception(&self) -> Option<&ReceptionStats> {
        self.reception.as_ref()
    }

    /// Starts the stream (first call) or changes it (re-INVITE): the packet clock, sequence
    /// numbers and SSRC carry on; a new remote address undoes the latch.
    pub fn configure(&mut self, params: StreamParams, now: Instant) {
        match self.params {
            None => {
                self.next_due = Some(now);
                self.next_rtcp = Some(now + self.rtcp_interval() / 2);
                self.rtp_destination = Some(params.remote);
                self.last_rtp_at = Some(now);
            }
            Some(old) => {
                if old.remote != params.remote {
                    self.rtp_destination = Some(params.remote);
                    self.latched = false;
                    self.rtcp_latched = None;
                }
                if expects_rtp(old.direction) != expects_rtp(params.direction) {
                    self.last_rtp_at = Some(now);
                    self.timed_out = false;
                }
                if old.codec != params.codec || old.payload_type != params.payload_type {
                    self.reception = None;
                }
            }
        }
        if !params.direction.sends() || params.dtmf_payload_type.is_none() {
            self.dtmf_out.clear();
        }
        self.params = Some(params);
    }

    /// Plays `prompts` back to back, replacing (and reporting interrupted) what was playing.
    pub fn play(&mut self, id: PlaybackId, prompts: Vec<Arc<Prompt>>, options: PlayOptions) {
        let (replaced, done) = self.playout.play(id, prompts, options);
        if let Some(old) = replaced {
            self.finished(old, true);
        }
        if let Some(id) = done {
            self.finished(id, false);
        }
    }

    pub fn stop_playback(&mut self) {
        if let Some(id) = self.playout.stop() {
            self.finished(id, true);
        }
    }

    /// Queues a digit to send as RFC 4733 events; `false` if it cannot be sent (unknown digit,
    /// no telephone-event payload type negotiated, or not sending).
    pub fn send_dtmf(&mut self, digit: char, duration: Duration) -> bool {
        match self.params {
            Some(p) if p.direction.sends() && p.dtmf_payload_type.is_some() => {
                self.dtmf_out.queue(digit, duration)
            }
            _ => false,
        }
    }

    fn finished(&mut self, id: PlaybackId, interrupted: bool) {
        self.events
            .push_back(MediaEvent::PlaybackFinished { id, interrupted });
    }

    fn arrival_units(&self, now: Instant) -> u32 {
        let us = now
            .saturating_duration_since(self.config.clock_origin.0)
            .as_micros();
        (us * 8 / 1000) as u32
    }

    /// Feeds a datagram received on the RTP port. Returns the audio payload when it is the
    /// negotiated codec and we are receiving, for the caller's recorder.
    pub fn handle_rtp<'a>(
        &mut self,
        packet: &'a [u8],
        source: SocketAddr,
        now: Instant,
    ) -> Option<ReceivedAudio<'a>> {
        self.handle_rtp_packet(packet, source, now)
            .and_then(|r| r.audio())
    }

    /// Like [`handle_rtp`](Self::handle_rtp), but returns every packet the leg accepted,
    /// audio and telephone-events, with the header fields a bridge relays
    /// ([`RtpSession::relay`] on the other leg).
    ///
    /// Only the peer is heard: before the latch, a packet from the SDP's IP address (any port,
    /// or any address with [`SessionConfig::latch_any_address`]) latches the leg to its source
    /// (address and port); after it, packets from any other source are dropped and counted
    /// ([`RtpSession::foreign_packets`]) until a new SDP address undoes the latch.
    pub fn handle_rtp_packet<'a>(
        &mut self,
        packet: &'a [u8],
        source: SocketAddr,
        now: Instant,
    ) -> Option<ReceivedRtp<'a>> {
        let params = self.params?;
        if crate::rtp::looks_like_rtcp(packet) {
            // RTCP multiplexed on the RTP port (RFC 5761 §4).
            self.handle_rtcp(packet, source, now);
            return None;
        }
        let latched = self.latched.then_some(self.rtp_destination).flatten();
        if !self.is_peer(source, latched, params.remote) {
            // Off-path audio or digits, or a hijack attempt: never heard, never relayed, and
            // it does not keep the leg alive.
            self.foreign_packets += 1;
            return None;
        }
        let rtp = RtpReader::new(packet).ok()?;
        if !self.latched {
            // Symmetric RTP (RFC 4961): answer where the peer really sends from, and from
            // now on hear only that source.
            self.latched = true;
            self.rtp_destination = Some(source);
            self.events
                .push_back(MediaEvent::RemoteLatched { addr: source });
        }
        self.last_rtp_at = Some(now);
        self.timed_out = false;
        if !params.direction.receives() {
            return None;
        }
        let pt = rtp.payload_type();
        let ssrc = rtp.ssrc();
        let seq = u16::from(rtp.sequence_number());
        let timestamp = rtp.timestamp();
        let is_audio = pt == params.payload_type;
        let is_dtmf = params.dtmf_payload_type == Some(pt) && !is_audio;
        match self.reception.as_mut() {
            Some(r) if r.ssrc() == ssrc && (is_audio || is_dtmf) => {
                r.update_seq(seq);
            }
            _ if is_audio => self.reception = Some(ReceptionStats::new(ssrc, seq)),
            _ => {}
        }
        if is_dtmf {
            let outcome = self
                .dtmf_in
                .handle_packet(ssrc, timestamp, rtp.payload(), now);
            // A digit that ended before this one started is reported first.
            self.drain_digits();
            if outcome == DtmfPacket::NewEvent
                && let Some(id) = self.playout.barge_in()
            {
                self.finished(id, true);
            }
            return (outcome != DtmfPacket::Malformed).then_some(ReceivedRtp {
                kind: RtpKind::TelephoneEvent,
                ssrc,
                sequence: seq,
                timestamp,
                marker: rtp.mark(),
                payload: rtp.payload(),
            });
        }
        if !is_audio {
            return None;
        }
        let arrival = self.arrival_units(now);
        if let Some(r) = self.reception.as_mut() {
            r.update_jitter(timestamp, arrival);
        }
        Some(ReceivedRtp {
            kind: RtpKind::Audio(params.codec),
            ssrc,
            sequence: seq,
            timestamp,
            marker: rtp.mark(),
            payload: rtp.payload(),
        })
    }

    /// Feeds a datagram received on the RTCP port. Garbage, or a report from a source other
    /// than the peer's, is ignored (and `false` returned). The first report from the SDP's IP
    /// address latches where ours go, once, like RTP.
    pub fn handle_rtcp(&mut self, packet: &[u8], source: SocketAddr, now: Instant) -> bool {
        let Some(params) = self.params else {
            return false;
        };
        if !self.is_peer(source, self.rtcp_latched, params.remote) {
            self.foreign_packets += 1;
            return false;
        }
        let Ok(info) = rtcp::parse_compound(packet, self.config.ssrc) else {
            return false;
        };
        // Latched once, like RTP; a new SDP address undoes it.
        self.rtcp_latched.get_or_insert(source);
        if let Some((_, sender)) = info.sender_report {
            self.last_sr = Some((sender.ntp.middle(), now));
        }
        if let Some(block) = info.report_about_us {
            self.remote_report = Some(block);
        }
        true
    }

    fn drain_digits(&mut self) {
        while let Some(d) = self.dtmf_in.poll_digit() {
            self.events.push_back(MediaEvent::Dtmf {
                digit: d.digit,
                duration: d.duration(),
            });
        }
    }

    /// Runs timers: an event whose end packets were lost, the RTP inactivity timeout (on a
    /// two-way leg only: a peer that put us on hold may send nothing).
    pub fn handle_timeout(&mut self, now: Instant) {
        self.dtmf_in.handle_timeout(now);
        self.drain_digits();
        if let (Some(p), Some(limit), Some(last)) =
            (self.params, self.config.rtp_timeout, self.last_rtp_at)
            && expects_rtp(p.direction)
            && !self.timed_out
            && now.saturating_duration_since(last) >= limit
        {
            self.timed_out = true;
            self.events.push_back(MediaEvent::RtpTimeout);
        }
    }

    /// The earliest instant something is due (a packet slot, RTCP, a timer).
    pub fn poll_timeout(&self) -> Option<Instant> {
        let rtp_timeout = match (self.params, self.config.rtp_timeout, self.last_rtp_at) {
            (Some(p), Some(t), Some(last)) if expects_rtp(p.direction) && !self.timed_out => {
                Some(last + t)
            }
            _ => None,
        };
        [
            self.next_due
                .map(|d| d.checked_sub(SEND_AHEAD).unwrap_or(d)),
            self.next_rtcp,
            self.dtmf_in.poll_timeout(),
            rtp_timeout,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// The next event for the leg's owner.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<MediaEvent> {
        self.events.pop_front()
    }

    /// Writes the next datagram due at `now` into `buf` (at least [`MAX_PACKET`] bytes). Call
    /// until it returns `None`.
    #[must_use]
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<Transmit> {
        let params = self.params?;
        if self.next_rtcp.is_some_and(|t| t <= now) {
            let interval = self.rtcp_interval();
            self.next_rtcp = Some(now + interval);
            if let Some(t) = self.write_rtcp(now, false, buf) {
                return Some(t);
            }
        }
        let ptime = params.ptime();
        let own_silence = self.bridge.own_silence(now);
        while let Some(due) = self.next_due {
            if due >= now + SEND_AHEAD {
                return None;
            }
            if now.saturating_duration_since(due) > MAX_LAG {
                self.run_slot(&params, None, own_silence);
            } else if let Some(len) = self.run_slot(&params, Some(&mut *buf), own_silence) {
                self.next_due = Some(due + ptime);
                return Some(Transmit {
                    channel: Channel::Rtp,
                    destination: self.rtp_destination?,
                    len,
                });
            }
            self.next_due = Some(due + ptime);
        }
        None
    }

    /// Fills one slot; with `buf == None` the slot is skipped (clock advances, nothing sent).
    /// Without `own_silence` (bridged, relayed audio flowing) a slot with nothing to play is
    /// left to the relay.
    fn run_slot(
        &mut self,
        params: &StreamParams,
        buf: Option<&mut [u8]>,
        own_silence: bool,
    ) -> Option<usize> {
        let samples = params.samples_per_packet();
        if buf.is_some()
            && params.direction.sends()
            && (self.playout.is_playing()
                || self.dtmf_out.is_busy()
                || (own_silence && params.direction == Direction::SendRecv))
        {
            // Our own packet follows relayed ones: keep timestamps moving forward.
            self.catch_up_after_relay();
        }
        let slot_ts = self.slot_timestamp;
        self.slot_timestamp = slot_ts.wrapping_add(samples);
        let Some(buf) = buf.filter(|_| params.direction.sends()) else {
            if let Some(id) = self.playout.advance(samples as usize) {
                self.finished(id, false);
            }
            if !params.direction.sends() {
                self.dtmf_out.clear();
            } else {
                let _ = self.dtmf_out.poll_slot(slot_ts, samples);
            }
            self.marker_pending = true;
            return None;
        };
        let dtmf = match params.dtmf_payload_type {
            Some(_) => self.dtmf_out.poll_slot(slot_ts, samples),
            None => DtmfSlot::Audio,
        };
        let (header, len) = match dtmf {
            DtmfSlot::Packet {
                timestamp,
                marker,
                payload,
            } => {
                if let Some(id) = self.playout.advance(samples as usize) {
                    self.finished(id, false);
                }
                buf[HEADER_LEN..HEADER_LEN + TelephoneEvent::LEN].copy_from_slice(&payload);
                let header = RtpHeader {
                    payload_type: params.dtmf_payload_type.unwrap_or_default(),
                    marker,
                    sequence: self.sequence,
                    timestamp,
                    ssrc: self.config.ssrc,
                };
                (header, HEADER_LEN + TelephoneEvent::LEN)
            }
            DtmfSlot::Muted => {
                if let Some(id) = self.playout.advance(samples as usize) {
                    self.finished(id, false);
                }
                return None;
            }
            DtmfSlot::Audio => {
                let len = HEADER_LEN + samples as usize;
                let fill = self.playout.fill(params.codec, &mut buf[HEADER_LEN..len]);
                if let Some(id) = fill.finished {
                    self.finished(id, false);
                }
                if !fill.audio && (params.direction != Direction::SendRecv || !own_silence) {
                    self.marker_pending = true;
                    return None;
                }
                let header = RtpHeader {
                    payload_type: params.payload_type,
                    marker: self.marker_pending || fill.talkspurt_start,
                    sequence: self.sequence,
                    timestamp: slot_ts,
                    ssrc: self.config.ssrc,
                };
                (header, len)
            }
        };
        header.write(buf);
        self.bridge.note_sent(slot_ts.wrapping_add(samples));
        self.sequence = self.sequence.wrapping_add(1);
        self.marker_pending = false;
        self.packets_sent = self.packets_sent.wrapping_add(1);
        self.octets_sent = self.octets_sent.wrapping_add((len - HEADER_LEN) as u32);
        self.sent_since_report = true;
        Some(len)
    }

    fn rtcp_interval(&mut self) -> Duration {
        // xorshift32: deterministic per SSRC, spreads legs' reports over time.
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 17;
        self.rng ^= self.rng << 5;
        let factor = 500 + (self.rng % 1001) as u64; // 0.5-1.5, in thousandths
        RTCP_INTERVAL * factor as u32 / 1000
    }

    /// The RTP timestamp that corresponds to `now` on our packet clock.
    fn timestamp_at(&self, now: Instant) -> u32 {
        let Some(due) = self.next_due else {
            return self.slot_timestamp;
        };
        let delta = if now >= due {
            (now - due).as_micros() as i64
        } else {
            -((due - now).as_micros() as i64)
        };
        self.slot_timestamp
            .wrapping_add((delta * 8 / 1000) as i32 as u32)
    }

    fn write_rtcp(&mut self, now: Instant, bye: bool, buf: &mut [u8]) -> Option<Transmit> {
        let params = self.params?;
        let destination = self.rtcp_latched.or_else(|| {
            self.rtp_destination
                .map(|a| SocketAddr::new(a.ip(), a.port().wrapping_add(1)))
        })?;
        let (origin, wall) = self.config.clock_origin;
        let sender = self.sent_since_report.then(|| SenderInfo {
            ntp: NtpTime::from_system(wall + now.saturating_duration_since(origin)),
            rtp_timestamp: self.timestamp_at(now),
            packet_count: self.packets_sent,
            octet_count: self.octets_sent,
        });
        self.sent_since_report = false;
        let (last_sr, delay) = match self.last_sr {
            Some((middle, at)) => {
                let d = now.saturating_duration_since(at);
                (middle, (d.as_micros() as u64 * 65536 / 1_000_000) as u32)
            }
            None => (0, 0),
        };
        let block = if params.direction.receives() {
            self.reception.as_mut().map(|r| {
                let l = r.report();
                ReportBlock {
                    ssrc: l.ssrc,
                    fraction_lost: l.fraction_lost,
                    cumulative_lost: l.cumulative_lost,
                    extended_highest_seq: l.extended_highest_seq,
                    jitter: l.jitter,
                    last_sr,
                    delay_since_last_sr: delay,
                }
            })
        } else {
            None
        };
        let len = rtcp::write_compound(
            &OutgoingReport {
                ssrc: self.config.ssrc,
                sender,
                block,
                bye,
            },
            buf,
        );
        Some(Transmit {
            channel: Channel::Rtcp,
            destination,
            len,
        })
    }

    /// Ends the session: reports an unfinished playback as interrupted and returns an RTCP BYE
    /// to send (RFC 3550 §6.6), if the stream was started.
    #[must_use]
    pub fn close(&mut self, now: Instant, buf: &mut [u8]) -> Option<Transmit> {
        self.stop_playback();
        self.dtmf_in
            .handle_timeout(now + crate::dtmf::EVENT_TIMEOUT);
        self.drain_digits();
        let t = self.write_rtcp(now, true, buf);
        self.params = None;
        self.next_due = None;
        self.next_rtcp = None;
        t
    }
}

/// Whether silence from the peer means it is gone, for the RTP time-out: only on a two-way
/// leg. On `recvonly` the peer put us on hold (its `sendonly`: many phones then send nothing);
/// on `sendonly` or `inactive` nothing is expected.
fn expects_rtp(direction: Direction) -> bool {
    direction == Direction::SendRecv
}

/// Two sources are the same: address (an IPv4-mapped IPv6 address is its IPv4 one) and port.
fn same_source(a: SocketAddr, b: SocketAddr) -> bool {
    a.port() == b.port() && same_ip(a, b)
}

fn same_ip(a: SocketAddr, b: SocketAddr) -> bool {
    a.ip().to_canonical() == b.ip().to_canonical()
}

#[path = "session_bridge.rs"]
mod bridge;
use bridge::BridgeState;

#[cfg(test)]
#[path = "session_receive_tests.rs"]
mod receive_tests;
#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
