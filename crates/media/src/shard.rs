//! The shard task: a thin driver that owns many legs and serves them all on one 20 ms tick.
//!
//! Each tick it applies queued commands, then for every leg: reads what arrived on its sockets
//! (non-blocking, no per-socket wakeups), runs the session's timers, sends what the session says
//! is due, and forwards events. Buffers are the shard's and reused; nothing on this path
//! allocates or takes a lock shared with other legs. Counters go to the shared atomics once per
//! tick.
//!
//! Bridged legs are read on every tick (not every `RTP_READ_EVERY`th), and each packet read
//! is relayed on the partner's socket at once, within the same tick: a relayed packet waits at
//! most one tick (20 ms, 10 ms on average) in our socket buffer, never longer, and is not
//! buffered by us. Both legs of a bridge live on one shard, so relaying touches no lock.

use std::collections::HashMap;
use std::io::ErrorKind;
use std::net::UdpSocket;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::mpsc;
use tokio::time::MissedTickBehavior;

use crate::event::{BridgeEnd, LegId, MediaEvent, PlaybackId, RecordingEnd};
use crate::playout::PlayOptions;
use crate::prompt::Prompt;
use crate::recording::{FileRecording, RecordProgress};
use crate::rtcp;
use crate::session::{Channel, MAX_PACKET, RtpSession, SessionConfig, StreamParams};
use crate::stats::{Counters, TickCounts};

/// The shared send tick.
pub const TICK: Duration = Duration::from_millis(20);
/// A tick that starts this much after its schedule counts as late.
const LATE: Duration = Duration::from_millis(5);
/// Datagrams read per socket per tick at most (a peer flooding one leg cannot starve others).
const MAX_READS: usize = 16;
/// RTCP sockets are read every this many ticks (reports come every few seconds).
const RTCP_READ_EVERY: u64 = 4;
/// RTP sockets are drained every this many ticks, legs staggered across ticks. Draining ends
/// with a read that finds nothing, one system call per drain; every other tick halves those
/// while a caller's packets wait at most one tick more (recording places audio by timestamp,
/// digits are reported on their end packets, so neither notices).
const RTP_READ_EVERY: u64 = 2;

pub(crate) struct NewLeg {
    pub id: LegId,
    pub rtp: UdpSocket,
    pub rtcp: UdpSocket,
    pub events: mpsc::UnboundedSender<MediaEvent>,
}

pub(crate) enum LegCommand {
    Configure(StreamParams),
    Play {
        id: PlaybackId,
        prompts: Vec<Arc<Prompt>>,
        options: PlayOptions,
    },
    StopPlayback,
    SendDtmf {
        digit: char,
        duration: Duration,
    },
    StartRecording {
        path: PathBuf,
        max_duration: Duration,
    },
    StopRecording,
}

pub(crate) enum ShardCommand {
    Add(Box<NewLeg>),
    Leg(LegId, LegCommand),
    Bridge(LegId, LegId),
    Unbridge(LegId),
    Close(LegId),
}

struct Leg {
    id: LegId,
    session: RtpSession,
    rtp: UdpSocket,
    rtcp: UdpSocket,
    events: mpsc::UnboundedSender<MediaEvent>,
    recording: Option<FileRecording>,
    /// The leg we relay to and from.
    bridge: Option<LegId>,
    /// The session's foreign datagrams already added to the engine's counter.
    foreign_counted: u64,
}

/// Reusable buffers of one shard.
struct Buffers {
    rx: Vec<u8>,
    tx: Vec<u8>,
}

impl Leg {
    fn emit(&self, event: MediaEvent) {
        // The owner may have dropped its MediaEvents: nothing to do then.
        let _ = self.events.send(event);
    }

    fn finish_recording(&mut self, reason: RecordingEnd) {
        if let Some(rec) = self.recording.take() {
            let event = rec.finish(reason);
            tracing::debug!(leg = self.id.0, ?event, "recording finished");
            self.emit(event);
        }
    }

    fn apply(&mut self, command: LegCommand, now: Instant) {
        match command {
            LegCommand::Configure(params) => {
                tracing::debug!(leg = self.id.0, ?params, "configure");
                self.session.configure(params, now);
            }
            LegCommand::Play {
                id,
                prompts,
                options,
            } => self.session.play(id, prompts, options),
            LegCommand::StopPlayback => self.session.stop_playback(),
            LegCommand::SendDtmf { digit, duration } => {
                if !self.session.send_dtmf(digit, duration) {
                    tracing::warn!(
                        leg = self.id.0,
                        %digit,
                        "DTMF not sent: expected a digit 0-9*#A-D on a configured, sending leg with a telephone-event payload type"
                    );
                }
            }
            LegCommand::StartRecording { path, max_duration } => {
                self.finish_recording(RecordingEnd::Stopped);
                match FileRecording::start(path.clone(), max_duration, now) {
                    Ok(rec) => self.recording = Some(rec),
                    Err(e) => self.emit(MediaEvent::RecordingFinished {
                        path,
                        duration: Duration::ZERO,
                        reason: RecordingEnd::Error(e),
                    }),
                }
            }
            LegCommand::StopRecording => self.finish_recording(RecordingEnd::Stopped),
        }
    }

    /// Drains the RTP socket; with a bridge partner, relays each accepted packet on its socket.
    fn read_rtp(
        &mut self,
        now: Instant,
        buf: &mut [u8],
        tx: &mut [u8],
        mut partner: Option<&mut Leg>,
        counts: &mut TickCounts,
    ) {
        for _ in 0..MAX_READS {
            let (n, source) = match self.rtp.recv_from(buf) {
                Ok(r) => r,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) => {
                    tracing::trace!(leg = self.id.0, error = %e, "RTP receive error");
                    return;
                }
            };
            counts.rtp_received += 1;
            let Some(packet) = self.session.handle_rtp_packet(&buf[..n], source, now) else {
                continue;
            };
            if let Some(partner) = partner.as_deref_mut()
                && let Some(t) = partner.session.relay(&packet, now, tx)
            {
                match partner.rtp.send_to(&tx[..t.len], t.destination) {
                    Ok(_) => {
                        counts.rtp_sent += 1;
                        counts.rtp_relayed += 1;
                    }
                    Err(e) => {
                        counts.send_errors += 1;
                        tracing::trace!(leg = partner.id.0, error = %e, "relay send failed");
                    }
                }
            }
            let Some(audio) = packet.audio() else {
                continue;
            };
            let Some(rec) = self.recording.as_mut() else {
                continue;
            };
            match rec.recorder().handle_audio(audio, now) {
                Ok(RecordProgress::Continue) => {}
                Ok(RecordProgress::Full) => self.finish_recording(RecordingEnd::MaxDuration),
                Err(e) => {
                    if let Some(rec) = self.recording.take() {
                        let msg = format!("cannot write {}: {e}", rec.path().display());
                        self.emit(rec.fail(msg));
                    }
                }
            }
        }
    }

    fn read_rtcp(&mut self, now: Instant, buf: &mut [u8]) {
        for _ in 0..MAX_READS {
            match self.rtcp.recv_from(buf) {
                Ok((n, source)) => {
                    self.session.handle_rtcp(&buf[..n], source, now);
                }
                Err(_) => return,
            }
        }
    }

    fn tick(
        &mut self,
        now: Instant,
        tick: u64,
        bufs: &mut Buffers,
        partner: Option<&mut Leg>,
        counts: &mut TickCounts,
    ) {
        if partner.is_some() || tick.wrapping_add(self.id.0).is_multiple_of(RTP_READ_EVERY) {
            self.read_rtp(now, &mut bufs.rx, &mut bufs.tx, partner, counts);
        }
        if tick.wrapping_add(self.id.0).is_multiple_of(RTCP_READ_EVERY) {
            self.read_rtcp(now, &mut bufs.rx);
        }
        self.session.handle_timeout(now);
        while let Some(t) = self.session.poll_transmit(now, &mut bufs.tx) {
            let socket = match t.channel {
                Channel::Rtp => &self.rtp,
                Channel::Rtcp => &self.rtcp,
            };
            match socket.send_to(&bufs.tx[..t.len], t.destination) {
                Ok(_) if t.channel == Channel::Rtp => counts.rtp_sent += 1,
                Ok(_) => counts.rtcp_sent += 1,
                Err(e) => {
                    counts.send_errors += 1;
                    tracing::trace!(leg = self.id.0, error = %e, to = %t.destination, "send failed");
                }
            }
        }
        if self
            .recording
            .as_mut()
            .is_some_and(|r| r.recorder().past_deadline(now))
        {
            self.finish_recording(RecordingEnd::MaxDuration);
        }
        while let Some(event) = self.session.poll_event() {
            if matches!(event, MediaEvent::Dtmf { .. }) {
                counts.dtmf_received += 1;
            }
            self.emit(event);
        }
        let foreign = self.session.foreign_packets();
        if foreign > self.foreign_counted {
            if self.foreign_counted == 0 {
                tracing::debug!(leg = self.id.0, "RTP or RTCP from a foreign source dropped");
            }
            counts.rtp_foreign += foreign - self.foreign_counted;
            self.foreign_counted = foreign;
        }
    }

    fn close(mut self, now: Instant, bufs: &mut Buffers) {
        if let Some(t) = self.session.close(now, &mut bufs.tx) {
            let _ = self.rtcp.send_to(&bufs.tx[..t.len], t.destination);
        }
        while let Some(event) = self.session.poll_event() {
            self.emit(event);
        }
        self.finish_recording(RecordingEnd::LegClosed);
        tracing::debug!(leg = self.id.0, "leg closed");
    }
}

/// What every leg's session is given by the engine's configuration.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LegSettings {
    pub rtp_timeout: Option<Duration>,
    pub latch_any_address: bool,
}

/// The shard task. Runs until every sender of its command channel (the engine and its legs) is
/// gone.
pub(crate) async fn run(
    index: usize,
    shards: usize,
    mut commands: mpsc::UnboundedReceiver<ShardCommand>,
    counters: Arc<Counters>,
    settings: LegSettings,
) {
    let mut legs: Vec<Leg> = Vec::new();
    let mut slots: HashMap<LegId, usize> = HashMap::new();
    let mut bufs = Buffers {
        rx: vec![0; 2048],
        tx: vec![0; MAX_PACKET.max(rtcp::MAX_COMPOUND_LEN)],
    };
    // Shards tick at evenly spread phases: their wakeups never coincide (so the runtime can put
    // them on different workers) and the engine's packets leave evenly over the 20 ms.
    let phase = TICK * index as u32 / shards.max(1) as u32;
    let mut interval = tokio::time::interval_at(tokio::time::Instant::now() + phase, TICK);
    // Sessions work out what is due from the clock, so a late tick catches up by itself;
    // Skip avoids a burst of back-to-back ticks after a stall.
    interval.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut last_wake: Option<Instant> = None;
    let mut tick: u64 = 0;
    tracing::debug!(shard = index, "media shard started");
    loop {
        let scheduled = interval.tick().await.into_std();
        let now = Instant::now();
        if now.saturating_duration_since(scheduled) > LATE {
            counters.late_ticks.fetch_add(1, Relaxed);
        }
        if let Some(prev) = last_wake.filter(|_| !legs.is_empty()) {
            counters.record_interval(now.saturating_duration_since(prev));
        }
        last_wake = Some(now);
        loop {
            match commands.try_recv() {
                Ok(ShardCommand::Add(new)) => {
                    let leg = new_leg(*new, settings, now);
                    slots.insert(leg.id, legs.len());
                    legs.push(leg);
                }
                Ok(ShardCommand::Leg(id, command)) => {
                    if let Some(&i) = slots.get(&id) {
                        legs[i].apply(command, now);
                    }
                }
                Ok(ShardCommand::Bridge(a, b)) => bridge(&mut legs, &slots, a, b, now),
                Ok(ShardCommand::Unbridge(a)) => {
                    unbridge(&mut legs, &slots, a, BridgeEnd::Unbridged);
                }
                Ok(ShardCommand::Close(id)) => {
                    unbridge(&mut legs, &slots, id, BridgeEnd::OtherClosed);
                    if let Some(i) = slots.remove(&id) {
                        let leg = legs.swap_remove(i);
                        if let Some(moved) = legs.get(i) {
                            slots.insert(moved.id, i);
                        }
                        leg.close(now, &mut bufs);
                        counters.legs_active.fetch_sub(1, Relaxed);
                    }
                }
                Err(mpsc::error::TryRecvError::Empty) => break,
                Err(mpsc::error::TryRecvError::Disconnected) => {
                    for leg in legs.drain(..) {
                        leg.close(now, &mut bufs);
                        counters.legs_active.fetch_sub(1, Relaxed);
                    }
                    tracing::debug!(shard = index, "media shard stopped");
                    return;
                }
            }
        }
        let mut counts = TickCounts::default();
        for i in 0..legs.len() {
            let partner = legs[i].bridge.and_then(|id| slots.get(&id).copied());
            match partner.and_then(|j| legs.get_disjoint_mut([i, j]).ok()) {
                Some([leg, partner]) => leg.tick(now, tick, &mut bufs, Some(partner), &mut counts),
                None => legs[i].tick(now, tick, &mut bufs, None, &mut counts),
            }
        }
        counters.flush(&counts);
        tick = tick.wrapping_add(1);
    }
}

fn new_leg(new: NewLeg, limits: LegSettings, now: Instant) -> Leg {
    let config = SessionConfig {
        ssrc: rand::random(),
        initial_seq: rand::random(),
        initial_timestamp: rand::random(),
        rtp_timeout: limits.rtp_timeout,
        latch_any_address: limits.latch_any_address,
        clock_origin: (now, SystemTime::now()),
    };
    tracing::debug!(leg = new.id.0, local = ?new.rtp.local_addr().ok(), "leg added");
    Leg {
        id: new.id,
        session: RtpSession::new(config),
        rtp: new.rtp,
        rtcp: new.rtcp,
        events: new.events,
        recording: None,
        bridge: None,
        foreign_counted: 0,
    }
}

/// Bridges `a` and `b` (both on this shard); whatever either was bridged to is unbridged.
fn bridge(legs: &mut [Leg], slots: &HashMap<LegId, usize>, a: LegId, b: LegId, now: Instant) {
    let (Some(&i), Some(&j)) = (slots.get(&a), slots.get(&b)) else {
        // One of them was closed before the command arrived: tell the other.
        for (this, other) in [(a, b), (b, a)] {
            if let Some(&k) = slots.get(&this) {
                legs[k].emit(MediaEvent::BridgeEnded {
                    other,
                    reason: BridgeEnd::OtherClosed,
                });
            }
        }
        return;
    };
    if legs[i].bridge == Some(b) {
        return;
    }
    unbridge(legs, slots, a, BridgeEnd::Replaced);
    unbridge(legs, slots, b, BridgeEnd::Replaced);
    for (k, other) in [(i, b), (j, a)] {
        let leg = &mut legs[k];
        leg.bridge = Some(other);
        leg.session.bridge_start(now);
        // The interrupted prompt is reported before the bridge.
        while let Some(event) = leg.session.poll_event() {
            leg.emit(event);
        }
        leg.emit(MediaEvent::Bridged { other });
        tracing::debug!(leg = leg.id.0, other = other.0, "bridged");
    }
}

/// Ends `a`'s bridge, if any, reporting `reason` to its partner (and to `a` itself unless
/// it is closing).
fn unbridge(legs: &mut [Leg], slots: &HashMap<LegId, usize>, a: LegId, reason: BridgeEnd) {
    let Some(&i) = slots.get(&a) else {
        return;
    };
    let Some(b) = legs[i].bridge.take() else {
        return;
    };
    legs[i].session.bridge_end();
    if reason != BridgeEnd::OtherClosed {
        legs[i].emit(MediaEvent::BridgeEnded { other: b, reason });
    }
    if let Some(&j) = slots.get(&b) {
        let partner = &mut legs[j];
        partner.bridge = None;
        partner.session.bridge_end();
        partner.emit(MediaEvent::BridgeEnded { other: a, reason });
        tracing::debug!(leg = a.0, other = b.0, ?reason, "bridge ended");
    }
}
