//! Bridging two legs over real UDP sockets on 127.0.0.1: two fake phones (plain sockets)
//! talk through the engine. Ports 61900-61999, a slice per test (see engine.rs). Every wait is
//! bounded; the only fixed waits are the bounded "nothing arrives" checks of the hold test.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use media::{
    BridgeEnd, Codec, Direction, MediaConfig, MediaEngine, MediaError, MediaEvent, MediaEvents,
    MediaLeg, PlayOptions, Prompt, RtpHeader, StreamParams, g711,
};
use rtp_rs::RtpReader;
use tokio::net::UdpSocket;
use tokio::time::timeout;

const WAIT: Duration = Duration::from_secs(5);

fn config(port_min: u16, port_max: u16) -> MediaConfig {
    MediaConfig {
        port_min,
        port_max,
        ..MediaConfig::default()
    }
}

fn params(remote: SocketAddr, codec: Codec, dtmf: u8) -> StreamParams {
    StreamParams {
        remote,
        codec,
        payload_type: codec.static_payload_type(),
        dtmf_payload_type: Some(dtmf),
        ptime_ms: 20,
        direction: Direction::SendRecv,
    }
}

#[derive(Debug, Clone)]
struct Packet {
    pt: u8,
    marker: bool,
    seq: u16,
    ts: u32,
    ssrc: u32,
    payload: Vec<u8>,
}

/// A fake phone: a socket, the leg it talks to, its own RTP numbering.
struct Phone {
    socket: UdpSocket,
    leg: SocketAddr,
    ssrc: u32,
    seq: u16,
    ts: u32,
}

impl Phone {
    async fn new(ssrc: u32) -> Phone {
        Phone {
            socket: UdpSocket::bind("127.0.0.1:0").await.unwrap(),
            leg: "127.0.0.1:9".parse().unwrap(),
            ssrc,
            seq: ssrc as u16,
            ts: ssrc.rotate_left(7),
        }
    }

    fn addr(&self) -> SocketAddr {
        self.socket.local_addr().unwrap()
    }

    async fn send(&mut self, pt: u8, marker: bool, ts: u32, payload: &[u8]) {
        let mut p = vec![0u8; 12 + payload.len()];
        RtpHeader {
            payload_type: pt,
            marker,
            sequence: self.seq,
            timestamp: ts,
            ssrc: self.ssrc,
        }
        .write(&mut p);
        p[12..].copy_from_slice(payload);
        self.socket.send_to(&p, self.leg).await.unwrap();
        self.seq = self.seq.wrapping_add(1);
    }

    /// Sends `frames` audio packets 20 ms apart.
    async fn talk(&mut self, pt: u8, frames: &[[u8; 160]]) {
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        for f in frames {
            tick.tick().await;
            let ts = self.ts;
            self.send(pt, false, ts, f).await;
            self.ts = self.ts.wrapping_add(160);
        }
    }

    async fn recv(&self) -> Packet {
        let mut buf = [0u8; 1500];
        loop {
            let (n, from) = timeout(WAIT, self.socket.recv_from(&mut buf))
                .await
                .expect("timed out waiting for RTP")
                .unwrap();
            if from != self.leg {
                continue;
            }
            let r = RtpReader::new(&buf[..n]).unwrap();
            return Packet {
                pt: r.payload_type(),
                marker: r.mark(),
                seq: r.sequence_number().into(),
                ts: r.timestamp(),
                ssrc: r.ssrc(),
                payload: r.payload().to_vec(),
            };
        }
    }

    /// Receives until a packet matches; returns everything received, that one last.
    async fn recv_until(&self, mut f: impl FnMut(&Packet) -> bool) -> Vec<Packet> {
        let mut all = Vec::new();
        loop {
            let p = self.recv().await;
            let done = f(&p);
            all.push(p);
            if done {
                return all;
            }
        }
    }
}

async fn wait_for(events: &mut MediaEvents, what: &str, mut f: impl FnMut(&MediaEvent) -> bool) {
    loop {
        let e = timeout(WAIT, events.recv())
            .await
            .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
            .unwrap_or_else(|| panic!("events closed waiting for {what}"));
        if f(&e) {
            return;
        }
    }
}

/// A command barrier: an empty play finishes as soon as the shard applies it, so every
/// command sent before it has been applied too.
async fn applied(leg: &MediaLeg, events: &mut MediaEvents) {
    let id = leg.play(Vec::new(), PlayOptions::default());
    wait_for(
        events,
        "barrier",
        |e| matches!(e, MediaEvent::PlaybackFinished { id: got, .. } if *got == id),
    )
    .await;
}

/// Frames of distinct µ-law codes (0x80 + k), recognisable after transcoding.
fn frames(n: u8, base: u8) -> Vec<[u8; 160]> {
    (0..n).map(|k| [base.wrapping_add(k); 160]).collect()
}

struct Call {
    _engine: MediaEngine,
    a: MediaLeg,
    ea: MediaEvents,
    b: MediaLeg,
    eb: MediaEvents,
    pa: Phone,
    pb: Phone,
}

/// Caller (leg A, PCMU, telephone-event 101) and agent (leg B, PCMA, telephone-event 96),
/// bridged; the agent's phone was hearing hold music until then.
async fn bridged_call(port_min: u16) -> Call {
    let engine = MediaEngine::start(config(port_min, port_min + 19)).unwrap();
    let (a, mut ea) = engine.allocate().await.unwrap();
    let (b, mut eb) = engine.allocate_near(&a).await.unwrap();
    assert_eq!(a.shard(), b.shard());
    let mut pa = Phone::new(0x0A0A_0001).await;
    let mut pb = Phone::new(0x0B0B_0002).await;
    pa.leg = a.local_addr();
    pb.leg = b.local_addr();
    a.configure(params(pa.addr(), Codec::Pcmu, 101));
    b.configure(params(pb.addr(), Codec::Pcma, 96));
    let music = Arc::new(Prompt::from_samples_8k(&vec![2000; 400], "music"));
    let hold = b.play(
        vec![music],
        PlayOptions {
            looped: true,
            barge_in: false,
        },
    );
    // The agent's phone hears the music, then the bridge stops it.
    pb.recv_until(|p| p.payload.iter().any(|&c| c != g711::ALAW_SILENCE))
        .await;
    a.bridge(&b).unwrap();
    wait_for(&mut eb, "music stopped", |e| {
        *e == MediaEvent::PlaybackFinished {
            id: hold,
            interrupted: true,
        }
    })
    .await;
    wait_for(&mut eb, "B bridged", |e| {
        *e == MediaEvent::Bridged { other: a.id() }
    })
    .await;
    wait_for(&mut ea, "A bridged", |e| {
        *e == MediaEvent::Bridged { other: b.id() }
    })
    .await;
    Call {
        _engine: engine,
        a,
        ea,
        b,
        eb,
        pa,
        pb,
    }
}

/// `got` holds `sent` relayed in order as consecutive packets of one stream.
fn assert_relayed(got: &[Packet], sent: &[[u8; 160]], pt: u8, convert: impl Fn(u8) -> u8) {
    let first = got
        .iter()
        .position(|p| p.payload[0] == convert(sent[0][0]))
        .expect("first relayed frame");
    let relayed = &got[first..first + sent.len()];
    for (k, (p, f)) in relayed.iter().zip(sent).enumerate() {
        assert_eq!(p.pt, pt, "payload type of {k}");
        assert_eq!(p.ssrc, got[0].ssrc, "one SSRC on the leg, {k}");
        assert_eq!(p.seq, relayed[0].seq.wrapping_add(k as u16), "seq {k}");
        assert_eq!(p.ts, relayed[0].ts.wrapping_add(160 * k as u32), "ts {k}");
        assert!(p.payload.iter().all(|&c| c == convert(f[0])), "payload {k}");
    }
    assert!(
        relayed[0].marker,
        "the relayed talkspurt starts with a marker"
    );
    assert_continuous(got);
}

/// Consecutive sequence numbers, timestamps moving forward by at least one packet.
fn assert_continuous(got: &[Packet]) {
    for w in got.windows(2) {
        assert_eq!(w[1].seq, w[0].seq.wrapping_add(1), "seq continuity");
        let step = w[1].ts.wrapping_sub(w[0].ts) as i32;
        assert!(step >= 160, "timestamp step {step}");
        assert_eq!(w[1].ssrc, w[0].ssrc);
    }
}

#[tokio::test]
async fn audio_flows_both_ways_transcoded_under_each_legs_own_numbering() {
    let mut c = bridged_call(61_900).await;
    // Caller → agent: µ-law in, A-law out.
    let sent = frames(20, 0x80);
    c.pa.talk(0, &sent).await;
    let to_alaw = |u: u8| g711::alaw_encode(g711::ulaw_decode(u));
    let last = to_alaw(sent[19][0]);
    let got = c.pb.recv_until(|p| p.payload[0] == last).await;
    assert_relayed(&got, &sent, 8, to_alaw);
    // Agent → caller: A-law in, µ-law out.
    let sent = frames(20, 0xA0);
    c.pb.talk(8, &sent).await;
    let to_ulaw = |a: u8| g711::ulaw_encode(g711::alaw_decode(a));
    let last = to_ulaw(sent[19][0]);
    let got = c.pa.recv_until(|p| p.payload[0] == last).await;
    assert_relayed(&got, &sent, 0, to_ulaw);
    // Sample values survive: µ-law 0x85 decodes to the A-law level it became.
    let level = g711::alaw_decode(to_alaw(0x85)) as i32;
    assert!((level - g711::ulaw_decode(0x85) as i32).abs() <= 256);
    drop(c.a);
    drop(c.b);
}

#[tokio::test]
async fn digits_cross_the_bridge_with_the_other_legs_payload_type() {
    let mut c = bridged_call(61_920).await;
    let ts = c.pa.ts;
    for (k, (dur, end)) in [
        (160u16, false),
        (400, false),
        (640, true),
        (640, true),
        (640, true),
    ]
    .into_iter()
    .enumerate()
    {
        let payload = [
            5u8,
            if end { 0x8A } else { 0x0A },
            (dur >> 8) as u8,
            dur as u8,
        ];
        c.pa.send(101, k == 0, ts, &payload).await;
    }
    let mut ends = 0;
    let got =
        c.pb.recv_until(|p| {
            ends += usize::from(p.pt == 96 && p.payload[1] & 0x80 != 0);
            ends == 3
        })
        .await;
    let events: Vec<&Packet> = got.iter().filter(|p| p.pt == 96).collect();
    assert!(events[0].marker && events[0].payload[0] == 5);
    assert!(
        events.iter().all(|p| p.ts == events[0].ts),
        "one event, one timestamp"
    );
    assert_eq!(events.len(), 5);
    for w in got.windows(2) {
        assert_eq!(w[1].seq, w[0].seq.wrapping_add(1), "seq continuity");
    }
    // The caller's leg still reports the digit (for the switchboard / IVR).
    wait_for(&mut c.ea, "digit on A", |e| {
        matches!(e, MediaEvent::Dtmf { digit: '5', .. })
    })
    .await;
}

#[tokio::test]
async fn hold_stops_the_flow_towards_the_held_side_only() {
    let mut c = bridged_call(61_940).await;
    // The agent's phone puts the call on hold (a=sendonly): we answer recvonly.
    let mut held = params(c.pb.addr(), Codec::Pcma, 96);
    held.direction = Direction::RecvOnly;
    c.b.configure(held);
    applied(&c.b, &mut c.eb).await;
    // The agent's hold music still reaches the caller...
    let music = frames(10, 0x30);
    c.pb.talk(8, &music).await;
    let last = g711::ulaw_encode(g711::alaw_decode(0x30 + 9));
    c.pa.recv_until(|p| p.payload[0] == last).await;
    // ...while nothing is sent towards the agent (bounded check: 10 packets' worth + margin).
    let talk = frames(10, 0x90);
    c.pa.talk(0, &talk).await;
    let mut buf = [0u8; 1500];
    let silence = timeout(Duration::from_millis(300), c.pb.socket.recv_from(&mut buf)).await;
    assert!(silence.is_err(), "a held leg receives nothing");
    // Resumed: audio flows again, numbering continuous with what the agent had before.
    c.b.configure(params(c.pb.addr(), Codec::Pcma, 96));
    applied(&c.b, &mut c.eb).await;
    let talk = frames(5, 0xC0);
    c.pa.talk(0, &talk).await;
    let last = g711::alaw_encode(g711::ulaw_decode(0xC4));
    let got = c.pb.recv_until(|p| p.payload[0] == last).await;
    assert_continuous(&got);
}

#[tokio::test]
async fn unbridge_then_prompt_keeps_the_stream_continuous_and_closing_ends_the_bridge() {
    let mut c = bridged_call(61_960).await;
    let sent = frames(10, 0x80);
    c.pa.talk(0, &sent).await;
    let last = g711::alaw_encode(g711::ulaw_decode(0x89));
    let mut got = c.pb.recv_until(|p| p.payload[0] == last).await;
    c.a.unbridge();
    for (events, other) in [(&mut c.ea, c.b.id()), (&mut c.eb, c.a.id())] {
        wait_for(events, "unbridged", |e| {
            *e == MediaEvent::BridgeEnded {
                other,
                reason: BridgeEnd::Unbridged,
            }
        })
        .await;
    }
    let prompt = Arc::new(Prompt::from_samples_8k(&vec![-5000; 800], "after"));
    let level = g711::alaw_encode(-5000);
    c.b.play(vec![prompt], PlayOptions::default());
    got.extend(c.pb.recv_until(|p| p.payload[0] == level).await);
    assert_continuous(&got);
    assert!(got.last().unwrap().marker, "the prompt starts a talkspurt");

    // Bridged again, then the caller hangs up: the agent's leg is told.
    c.a.bridge(&c.b).unwrap();
    wait_for(&mut c.eb, "bridged again", |e| {
        matches!(e, MediaEvent::Bridged { .. })
    })
    .await;
    let a_id = c.a.id();
    drop(c.a);
    wait_for(&mut c.eb, "other closed", |e| {
        *e == MediaEvent::BridgeEnded {
            other: a_id,
            reason: BridgeEnd::OtherClosed,
        }
    })
    .await;
}

#[tokio::test]
async fn legs_on_different_shards_or_the_same_leg_cannot_be_bridged() {
    let engine = MediaEngine::start(config(61_980, 61_999)).unwrap();
    let (a, _) = engine.allocate().await.unwrap();
    let (b, _) = engine.allocate().await.unwrap();
    assert_ne!(a.shard(), b.shard(), "round-robin over two shards");
    let err = a.bridge(&b).unwrap_err();
    assert!(matches!(err, MediaError::DifferentShards { .. }), "{err}");
    assert!(err.to_string().contains("allocate_near"));
    assert!(matches!(a.bridge(&a), Err(MediaError::BridgeToSelf(_))));
    let (near, _) = engine.allocate_near(&b).await.unwrap();
    assert_eq!(near.shard(), b.shard());
    assert!(near.bridge(&b).is_ok());
    let other_engine = MediaEngine::start(config(61_990, 61_999)).unwrap();
    assert!(matches!(
        other_engine.allocate_near(&a).await,
        Err(MediaError::DifferentShards { .. })
    ));
}
