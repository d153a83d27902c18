//! Two sans-IO sessions talking through an emulated network with loss, delay and reordering,
//! on virtual time (in the spirit of str0m's `tests/common.rs`): no sockets, no sleeping,
//! fully deterministic.

use std::io::Cursor;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use media::{
    Channel, Codec, Direction, MAX_PACKET, MediaEvent, PlayOptions, PlaybackId, Prompt, Recorder,
    RtpSession, SessionConfig, StreamParams,
};

/// xorshift64*: a deterministic source of "randomness" for the network.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn chance(&mut self, p: f64) -> bool {
        (self.next() % 1_000_000) as f64 / 1_000_000.0 < p
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

struct InFlight {
    deliver_at: Instant,
    to: usize,
    from: SocketAddr,
    channel: Channel,
    data: Vec<u8>,
}

/// Loses `loss` of the datagrams and delays each by 0..`max_delay_ms`, which reorders them.
struct Network {
    rng: Rng,
    loss: f64,
    max_delay_ms: u64,
    in_flight: Vec<InFlight>,
}

fn addr(i: usize) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 30_000 + 2 * i as u16))
}

fn session(ssrc: u32, start: Instant) -> RtpSession {
    RtpSession::new(SessionConfig {
        ssrc,
        initial_seq: ssrc as u16,
        initial_timestamp: ssrc.wrapping_mul(7919),
        rtp_timeout: Some(Duration::from_secs(5)),
        latch_any_address: false,
        clock_origin: (start, SystemTime::now()),
    })
}

fn params(remote: SocketAddr) -> StreamParams {
    StreamParams {
        remote,
        codec: Codec::Pcmu,
        payload_type: 0,
        dtmf_payload_type: Some(101),
        ptime_ms: 20,
        direction: Direction::SendRecv,
    }
}

#[test]
fn digits_and_audio_survive_loss_delay_and_reordering() {
    let start = Instant::now();
    let mut legs = [session(0xA, start), session(0xB, start)];
    legs[0].configure(params(addr(1)), start);
    legs[1].configure(params(addr(0)), start);
    let tone: Vec<i16> = (0..16_000)
        .map(|i| ((i % 16) * 1000 - 8000) as i16)
        .collect();
    legs[0].play(
        PlaybackId(1),
        vec![Arc::new(Prompt::from_samples_8k(&tone, "tone"))],
        PlayOptions {
            looped: true,
            barge_in: false,
        },
    );
    let mut net = Network {
        rng: Rng(0x9E37_79B9_7F4A_7C15),
        loss: 0.15,
        max_delay_ms: 70,
        in_flight: Vec::new(),
    };
    let mut wav = Cursor::new(Vec::new());
    let mut recorder = Recorder::new(&mut wav, Duration::from_secs(60), start).unwrap();
    let sent_digits = ['1', '2', '2', '#', '9', 'A'];
    let mut received = Vec::new();
    let mut buf = vec![0u8; MAX_PACKET];
    let mut now = start;
    let mut first_audio_ts = None;
    for tick in 0..400u32 {
        // One digit every 600 ms from leg 0.
        if tick % 30 == 10 && (tick / 30) < sent_digits.len() as u32 {
            assert!(legs[0].send_dtmf(
                sent_digits[(tick / 30) as usize],
                Duration::from_millis(120)
            ));
        }
        for (i, leg) in legs.iter_mut().enumerate() {
            leg.handle_timeout(now);
            while let Some(t) = leg.poll_transmit(now, &mut buf) {
                assert_eq!(
                    t.destination.port(),
                    addr(1 - i).port() + u16::from(t.channel == Channel::Rtcp)
                );
                if net.rng.chance(net.loss) {
                    continue;
                }
                let delay = Duration::from_millis(net.rng.below(net.max_delay_ms));
                net.in_flight.push(InFlight {
                    deliver_at: now + delay,
                    to: 1 - i,
                    from: match t.channel {
                        Channel::Rtp => addr(i),
                        Channel::Rtcp => SocketAddr::from(([127, 0, 0, 1], addr(i).port() + 1)),
                    },
                    channel: t.channel,
                    data: buf[..t.len].to_vec(),
                });
            }
        }
        // Deliver in arrival order whatever is due by the next tick.
        let next = now + Duration::from_millis(20);
        net.in_flight.sort_by_key(|p| p.deliver_at);
        let due: Vec<InFlight> = {
            let split = net.in_flight.partition_point(|p| p.deliver_at < next);
            net.in_flight.drain(..split).collect()
        };
        for p in due {
            let leg = &mut legs[p.to];
            match p.channel {
                Channel::Rtp => {
                    if let Some(audio) = leg.handle_rtp(&p.data, p.from, p.deliver_at)
                        && p.to == 1
                    {
                        first_audio_ts.get_or_insert(audio.timestamp);
                        recorder.handle_audio(audio, p.deliver_at).unwrap();
                    }
                }
                Channel::Rtcp => {
                    assert!(leg.handle_rtcp(&p.data, p.from, p.deliver_at));
                }
            }
        }
        while let Some(e) = legs[1].poll_event() {
            if let MediaEvent::Dtmf { digit, duration } = e {
                received.push((digit, duration));
            }
        }
        while legs[0].poll_event().is_some() {}
        now = next;
    }
    let digits: Vec<char> = received.iter().map(|d| d.0).collect();
    assert_eq!(digits, sent_digits, "each digit exactly once, in order");
    // A digit whose end packets all survived carries the full duration.
    assert!(received.iter().any(|d| d.1 == Duration::from_millis(120)));
    // The recording's timeline covers the whole call despite 15 % loss: 8 s sent, minus at most
    // the first packets lost before the first arrival and the last ones still in flight.
    let recorded = recorder.duration();
    assert!(
        recorded > Duration::from_millis(7_700) && recorded <= Duration::from_secs(8),
        "recorded {recorded:?}"
    );
    // Receive statistics saw the loss, and each side got the other's reports.
    let stats = legs[1].reception().unwrap().clone().report();
    // ~400 packets at 15 % loss; jitter from the 0-70 ms random delay.
    assert!((30..=90).contains(&stats.cumulative_lost), "{stats:?}");
    assert!(stats.jitter > 80, "{stats:?}");
    assert!(
        legs[0].remote_report().is_some(),
        "A heard B's receiver report"
    );
    assert!(
        legs[1].remote_report().is_some(),
        "B heard A's receiver report"
    );
    assert!(first_audio_ts.is_some());
}
