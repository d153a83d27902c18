use super::*;
use crate::g711;
use crate::{Codec, StreamParams};
use std::time::SystemTime;

const SDP_REMOTE: &str = "192.0.2.10:4000";

pub(super) fn remote() -> SocketAddr {
    SDP_REMOTE.parse().unwrap()
}

pub(super) fn params() -> StreamParams {
    StreamParams {
        remote: remote(),
        codec: Codec::Pcmu,
        payload_type: 0,
        dtmf_payload_type: Some(101),
        ptime_ms: 20,
        direction: Direction::SendRecv,
    }
}

#[derive(Debug, Clone)]
pub(super) struct Sent {
    pub(super) channel: Channel,
    pub(super) dest: SocketAddr,
    pub(super) pt: u8,
    pub(super) marker: bool,
    pub(super) seq: u16,
    pub(super) ts: u32,
    pub(super) payload: Vec<u8>,
}

pub(super) struct Harness {
    pub(super) s: RtpSession,
    pub(super) t0: Instant,
    pub(super) now: Instant,
    buf: Vec<u8>,
}

impl Harness {
    pub(super) fn new() -> Self {
        Self::with_latch(false)
    }

    /// With [`SessionConfig::latch_any_address`] as given.
    pub(super) fn with_latch(latch_any_address: bool) -> Self {
        let t0 = Instant::now();
        let s = RtpSession::new(SessionConfig {
            ssrc: 0x1234_5678,
            initial_seq: 65_530,
            initial_timestamp: u32::MAX - 500,
            rtp_timeout: Some(Duration::from_secs(2)),
            latch_any_address,
            clock_origin: (
                t0,
                SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            ),
        });
        Harness {
            s,
            t0,
            now: t0,
            buf: vec![0; MAX_PACKET],
        }
    }

    pub(super) fn started() -> Self {
        let mut h = Self::new();
        h.s.configure(params(), h.now);
        h
    }

    /// Moves time on by `ms` and drains what is due.
    pub(super) fn advance(&mut self, ms: u64) -> Vec<Sent> {
        self.now += Duration::from_millis(ms);
        self.drain()
    }

    pub(super) fn drain(&mut self) -> Vec<Sent> {
        self.s.handle_timeout(self.now);
        let mut out = Vec::new();
        while let Some(t) = self.s.poll_transmit(self.now, &mut self.buf) {
            let d = &self.buf[..t.len];
            let sent = match t.channel {
                Channel::Rtp => {
                    let r = RtpReader::new(d).unwrap();
                    Sent {
                        channel: t.channel,
                        dest: t.destination,
                        pt: r.payload_type(),
                        marker: r.mark(),
                        seq: r.sequence_number().into(),
                        ts: r.timestamp(),
                        payload: r.payload().to_vec(),
                    }
                }
                Channel::Rtcp => Sent {
                    channel: t.channel,
                    dest: t.destination,
                    pt: d[1],
                    marker: false,
                    seq: 0,
                    ts: 0,
                    payload: d.to_vec(),
                },
            };
            out.push(sent);
        }
        out
    }

    /// `n` ticks of 20 ms; RTP only.
    pub(super) fn ticks(&mut self, n: usize) -> Vec<Sent> {
        (0..n)
            .flat_map(|_| self.advance(20))
            .filter(|p| p.channel == Channel::Rtp)
            .collect()
    }

    pub(super) fn events(&mut self) -> Vec<MediaEvent> {
        std::iter::from_fn(|| self.s.poll_event()).collect()
    }

    pub(super) fn receive(
        &mut self,
        from: SocketAddr,
        pt: u8,
        ssrc: u32,
        seq: u16,
        ts: u32,
        payload: &[u8],
    ) {
        let mut p = vec![0u8; HEADER_LEN + payload.len()];
        RtpHeader {
            payload_type: pt,
            marker: false,
            sequence: seq,
            timestamp: ts,
            ssrc,
        }
        .write(&mut p);
        p[HEADER_LEN..].copy_from_slice(payload);
        let _ = self.s.handle_rtp(&p, from, self.now);
    }
}

pub(super) fn prompt(frames: usize, level: i16) -> Arc<Prompt> {
    let samples: Vec<i16> = (0..frames * 160).map(|i| level + (i as i16 % 50)).collect();
    Arc::new(Prompt::from_samples_8k(&samples, "p"))
}

pub(super) fn assert_continuous(packets: &[Sent]) {
    for w in packets.windows(2) {
        assert_eq!(
            w[1].seq,
            w[0].seq.wrapping_add(1),
            "seq after {:?}",
            w[0].seq
        );
    }
}

#[test]
fn prompts_play_back_to_back_with_continuous_seq_and_timestamps() {
    let mut h = Harness::started();
    let a = prompt(2, 1000);
    let b = prompt(3, -3000);
    h.s.play(
        PlaybackId(7),
        vec![a.clone(), b.clone()],
        PlayOptions::default(),
    );
    let mut packets = h.drain();
    packets.extend(h.ticks(9));
    assert_eq!(packets.len(), 10, "one packet per 20 ms");
    assert_continuous(&packets);
    for (k, p) in packets.iter().enumerate() {
        assert_eq!(
            p.ts,
            (u32::MAX - 500).wrapping_add(160 * k as u32),
            "ts of packet {k}"
        );
        assert_eq!(p.pt, 0);
        assert_eq!(p.dest, remote());
        assert_eq!(p.payload.len(), 160);
        assert_eq!(p.marker, k == 0, "marker only at the start, packet {k}");
    }
    assert_eq!(packets[0].seq, 65_530);
    let expected: Vec<&[u8]> = (0..2)
        .map(|i| a.frame(Codec::Pcmu, i).unwrap())
        .chain((0..3).map(|i| b.frame(Codec::Pcmu, i).unwrap()))
        .collect();
    for (k, e) in expected.iter().enumerate() {
        assert_eq!(&packets[k].payload[..], *e, "frame {k}");
    }
    // Comfort silence after the prompts on a sendrecv leg.
    assert!(
        packets[5..]
            .iter()
            .all(|p| p.payload.iter().all(|&x| x == g711::ULAW_SILENCE))
    );
    assert_eq!(
        h.events(),
        vec![MediaEvent::PlaybackFinished {
            id: PlaybackId(7),
            interrupted: false
        }]
    );
    // A new playback is a new talkspurt: marker on its first packet, numbering continues.
    h.s.play(PlaybackId(8), vec![a.clone()], PlayOptions::default());
    let more = h.ticks(3);
    assert!(more[0].marker && !more[1].marker);
    assert_eq!(more[0].seq, packets[9].seq.wrapping_add(1));
    assert_eq!(more[0].ts, packets[9].ts.wrapping_add(160));
}

#[test]
fn replacing_and_stopping_report_interrupted() {
    let mut h = Harness::started();
    h.s.play(PlaybackId(1), vec![prompt(50, 0)], PlayOptions::default());
    h.ticks(2);
    h.s.play(PlaybackId(2), vec![prompt(50, 0)], PlayOptions::default());
    h.s.stop_playback();
    h.s.stop_playback();
    assert_eq!(
        h.events(),
        vec![
            MediaEvent::PlaybackFinished {
                id: PlaybackId(1),
                interrupted: true
            },
            MediaEvent::PlaybackFinished {
                id: PlaybackId(2),
                interrupted: true
            },
        ]
    );
}

#[test]
fn reconfigure_changes_codec_and_remote_without_breaking_numbering() {
    let mut h = Harness::started();
    let a = prompt(10, 2000);
    h.s.play(PlaybackId(1), vec![a.clone()], PlayOptions::default());
    let mut packets = h.drain();
    packets.extend(h.ticks(3));
    let new_remote: SocketAddr = "192.0.2.99:7000".parse().unwrap();
    h.s.configure(
        StreamParams {
            remote: new_remote,
            codec: Codec::Pcma,
            payload_type: 8,
            ..params()
        },
        h.now,
    );
    let after = h.ticks(3);
    assert_eq!(after.len(), 3);
    let all: Vec<Sent> = packets.iter().chain(after.iter()).cloned().collect();
    assert_continuous(&all);
    for w in all.windows(2) {
        assert_eq!(w[1].ts, w[0].ts.wrapping_add(160));
    }
    assert!(
        after
            .iter()
            .all(|p| p.pt == 8 && p.dest == new_remote && !p.marker)
    );
    assert_eq!(&after[0].payload[..], a.frame(Codec::Pcma, 4).unwrap());
}

#[test]
fn hold_stops_sending_but_keeps_the_clock_and_marks_the_resume() {
    let mut h = Harness::started();
    let first = h.drain();
    assert_eq!(first.len(), 1);
    for direction in [Direction::RecvOnly, Direction::Inactive] {
        h.s.configure(
            StreamParams {
                direction,
                ..params()
            },
            h.now,
        );
        assert!(h.ticks(5).is_empty(), "{direction:?} sends nothing");
        assert!(!h.s.send_dtmf('1', Duration::from_millis(100)));
    }
    h.s.configure(params(), h.now);
    let resumed = h.ticks(2);
    assert_eq!(resumed[0].seq, first[0].seq.wrapping_add(1));
    assert_eq!(
        resumed[0].ts,
        first[0].ts.wrapping_add(11 * 160),
        "clock ran during hold"
    );
    assert!(resumed[0].marker && !resumed[1].marker);
}

#[test]
fn sendonly_sends_prompts_but_no_comfort_silence() {
    let mut h = Harness::new();
    h.s.configure(
        StreamParams {
            direction: Direction::SendOnly,
            ..params()
        },
        h.now,
    );
    assert!(h.ticks(3).is_empty());
    h.s.play(PlaybackId(1), vec![prompt(2, 500)], PlayOptions::default());
    let p = h.ticks(4);
    assert_eq!(p.len(), 2);
    assert!(p[0].marker);
    // Received audio is ignored on a send-only leg, but the latch still happens.
    h.receive("192.0.2.10:9".parse().unwrap(), 0, 1, 1, 0, &[0xFF; 160]);
    assert_eq!(
        h.events(),
        vec![
            MediaEvent::PlaybackFinished {
                id: PlaybackId(1),
                interrupted: false
            },
            MediaEvent::RemoteLatched {
                addr: "192.0.2.10:9".parse().unwrap()
            }
        ]
    );
}

#[test]
fn late_ticks_catch_up_with_right_timestamps_and_long_stalls_skip() {
    let mut h = Harness::started();
    let first = h.drain();
    // 60 ms late: three packets at once, consecutive timestamps.
    let burst: Vec<Sent> = h.advance(60);
    assert_eq!(burst.len(), 3);
    assert_eq!(burst[2].ts, first[0].ts.wrapping_add(3 * 160));
    // 1 s stall: no 50-packet burst, but timestamps still follow the clock.
    let after = h.advance(1000);
    assert!(after.len() <= 7, "burst of {}", after.len());
    let last = after.last().unwrap();
    assert_eq!(last.ts, first[0].ts.wrapping_add(53 * 160));
    assert!(after[0].marker, "a gap starts a new talkspurt");
    assert_continuous(
        &[burst[2].clone()]
            .into_iter()
            .chain(after)
            .collect::<Vec<_>>(),
    );
}

#[test]
fn early_wakes_send_on_the_nearest_tick() {
    let mut h = Harness::started();
    assert_eq!(h.drain().len(), 1);
    // A tick waking 3 ms early still sends the slot due then; 5 ms later nothing more.
    assert_eq!(h.advance(17).len(), 1);
    assert_eq!(h.advance(5).len(), 0);
    assert_eq!(h.advance(18).len(), 1);
}

#[test]
fn ptime_40_sends_320_samples_every_other_tick() {
    let mut h = Harness::new();
    h.s.configure(
        StreamParams {
            ptime_ms: 40,
            ..params()
        },
        h.now,
    );
    let mut p = h.drain();
    p.extend(h.ticks(6));
    assert_eq!(p.len(), 4);
    assert!(p.iter().all(|x| x.payload.len() == 320));
    assert_eq!(p[1].ts, p[0].ts.wrapping_add(320));
}

pub(super) fn telephone_event(event: u8, end: bool, duration: u16) -> [u8; 4] {
    let mut b = [0u8; 4];
    TelephoneEvent {
        event,
        end,
        volume: 10,
        duration,
    }
    .write(&mut b);
    b
}

#[test]
fn sending_dtmf_replaces_audio_with_rfc4733_packets() {
    let mut h = Harness::started();
    let mut before = h.drain();
    assert!(h.s.send_dtmf('#', Duration::from_millis(100)));
    let during = h.ticks(12);
    let events: Vec<&Sent> = during.iter().filter(|p| p.pt == 101).collect();
    // Start (marker), one update at 60 ms, 3 end packets; all the start timestamp.
    assert_eq!(events.len(), 5);
    assert!(events[0].marker);
    assert!(
        events
            .iter()
            .all(|p| p.ts == events[0].ts && p.payload.len() == 4)
    );
    let parsed: Vec<TelephoneEvent> = events
        .iter()
        .map(|p| TelephoneEvent::parse(&p.payload).unwrap())
        .collect();
    assert!(parsed.iter().all(|e| e.event == 11));
    assert_eq!(parsed.iter().filter(|e| e.end).count(), 3);
    assert_eq!(parsed[4].duration, 800);
    before.extend(during.iter().cloned());
    assert_continuous(&before);
    // Audio resumes after the event with the clock's timestamp.
    let audio_after: Vec<&Sent> = during
        .iter()
        .skip_while(|p| p.pt != 101)
        .filter(|p| p.pt == 0)
        .collect();
    assert!(!audio_after.is_empty());
    assert_eq!(audio_after[0].ts.wrapping_sub(events[0].ts) % 160, 0);
}
