//! The engine over real UDP sockets on 127.0.0.1. Every wait is bounded; nothing sleeps to
//! synchronise: tests wait for events or datagrams.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use media::{
    Codec, Direction, MediaConfig, MediaEngine, MediaError, MediaEvent, MediaEvents, MediaLeg,
    PlayOptions, Prompt, RecordingEnd, RtpHeader, StreamParams, g711,
};
use rtp_rs::RtpReader;
use tokio::net::UdpSocket;
use tokio::time::timeout;

const WAIT: Duration = Duration::from_secs(5);

/// Each test gets its own slice of ports so tests running in parallel never collide. The slices
/// sit above the kernel's ephemeral range (32768-60999) and the end-to-end tests' RTP blocks
/// (16000-32767), so no other test process takes them.
fn config(port_min: u16, port_max: u16) -> MediaConfig {
    MediaConfig {
        port_min,
        port_max,
        ..MediaConfig::default()
    }
}

fn params(remote: SocketAddr, codec: Codec) -> StreamParams {
    StreamParams {
        remote,
        codec,
        payload_type: codec.static_payload_type(),
        dtmf_payload_type: Some(101),
        ptime_ms: 20,
        direction: Direction::SendRecv,
    }
}

/// A prompt whose frame k is µ-law code `0x80 + k` throughout (and so recognisable after
/// decoding, since every G.711 code round-trips).
fn numbered_prompt(frames: u8) -> Arc<Prompt> {
    let samples: Vec<i16> = (0..frames)
        .flat_map(|k| std::iter::repeat_n(g711::ulaw_decode(0x80 + k), 160))
        .collect();
    Arc::new(Prompt::from_samples_8k(&samples, "numbered"))
}

async fn next_event(events: &mut MediaEvents, what: &str) -> MediaEvent {
    timeout(WAIT, events.recv())
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
        .unwrap_or_else(|| panic!("event stream closed while waiting for {what}"))
}

/// Skips events until one matches.
async fn wait_for(
    events: &mut MediaEvents,
    what: &str,
    mut f: impl FnMut(&MediaEvent) -> bool,
) -> MediaEvent {
    loop {
        let e = next_event(events, what).await;
        if f(&e) {
            return e;
        }
    }
}

async fn pair(engine: &MediaEngine) -> ((MediaLeg, MediaEvents), (MediaLeg, MediaEvents)) {
    let a = engine.allocate().await.unwrap();
    let b = engine.allocate().await.unwrap();
    (a, b)
}

#[tokio::test]
async fn prompt_played_on_one_leg_is_received_in_order_by_the_other() {
    let engine = MediaEngine::start(config(61_000, 61_099)).unwrap();
    let ((a, mut a_events), (b, mut b_events)) = pair(&engine).await;
    assert_eq!(a.local_addr().port() % 2, 0, "RTP on an even port");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b.wav");
    b.start_recording(path.clone(), Duration::from_secs(30));
    b.configure(params(a.local_addr(), Codec::Pcmu));
    a.configure(params(b.local_addr(), Codec::Pcmu));
    let prompt = numbered_prompt(25);
    let id = a.play(vec![prompt.clone(), prompt.clone()], PlayOptions::default());

    // Both sides latch onto each other (same addresses as the SDP here).
    let latched = wait_for(&mut b_events, "B latching", |e| {
        matches!(e, MediaEvent::RemoteLatched { .. })
    })
    .await;
    assert_eq!(
        latched,
        MediaEvent::RemoteLatched {
            addr: a.local_addr()
        }
    );
    let done = wait_for(&mut a_events, "playback end", |e| {
        matches!(e, MediaEvent::PlaybackFinished { .. })
    })
    .await;
    assert_eq!(
        done,
        MediaEvent::PlaybackFinished {
            id,
            interrupted: false
        }
    );

    // Two digits after the prompt: when B has the second one, everything A sent before it
    // (the prompt, the silence between the digits) has arrived.
    a.send_dtmf('1', Duration::from_millis(60));
    a.send_dtmf('2', Duration::from_millis(60));
    wait_for(&mut b_events, "second digit", |e| {
        matches!(e, MediaEvent::Dtmf { digit: '2', .. })
    })
    .await;
    b.stop_recording();
    let finished = wait_for(&mut b_events, "recording end", |e| {
        matches!(e, MediaEvent::RecordingFinished { .. })
    })
    .await;
    let MediaEvent::RecordingFinished {
        path: got,
        duration,
        reason,
    } = finished
    else {
        unreachable!()
    };
    assert_eq!((got, reason), (path.clone(), RecordingEnd::Stopped));
    assert!(duration >= Duration::from_secs(1), "recorded {duration:?}");

    let mut reader = hound::WavReader::open(&path).unwrap();
    assert_eq!(reader.spec().sample_rate, 8000);
    assert_eq!(reader.spec().channels, 1);
    assert_eq!(reader.spec().bits_per_sample, 16);
    assert_eq!(reader.duration() as u128, duration.as_micros() * 8 / 1000);
    let samples: Vec<i16> = reader.samples::<i16>().map(Result::unwrap).collect();
    // B records what A sent from A's first packet on: frames 0-24 twice, in order, each at
    // its timestamp position; then comfort silence.
    for (k, frame) in samples.chunks(160).take(50).enumerate() {
        let expected = g711::ulaw_decode(0x80 + (k % 25) as u8);
        assert!(
            frame.iter().all(|&s| s == expected),
            "frame {k} out of place"
        );
    }
    let tail = &samples[50 * 160..];
    assert!(
        tail.len() >= 320,
        "the silence between the digits is on the timeline"
    );
    assert!(tail.iter().all(|&s| s == 0), "silence after the prompt");
    let stats = engine.stats();
    assert_eq!(stats.legs_active, 2);
    assert!(stats.send_interval.count() > 10);
    assert!(stats.rtp_packets_sent >= 100, "both legs send: {stats:?}");
}

#[tokio::test]
async fn packets_carry_continuous_seq_timestamps_and_one_marker() {
    let engine = MediaEngine::start(config(61_100, 61_199)).unwrap();
    let (a, mut a_events) = engine.allocate().await.unwrap();
    let peer = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut p = params(peer.local_addr().unwrap(), Codec::Pcma);
    p.direction = Direction::SendOnly; // no comfort silence: only the prompt is sent
    a.configure(p);
    let prompt = numbered_prompt(30);
    a.play(vec![prompt.clone()], PlayOptions::default());
    let mut buf = [0u8; 1500];
    let mut packets = Vec::new();
    while packets.len() < 30 {
        let (n, from) = timeout(WAIT, peer.recv_from(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(from, a.local_addr(), "symmetric: sent from our RTP port");
        let r = RtpReader::new(&buf[..n]).unwrap();
        packets.push((
            u16::from(r.sequence_number()),
            r.timestamp(),
            r.mark(),
            r.payload_type(),
            r.ssrc(),
            r.payload().to_vec(),
        ));
    }
    for (k, p) in packets.iter().enumerate() {
        assert_eq!(p.0, packets[0].0.wrapping_add(k as u16), "seq {k}");
        assert_eq!(p.1, packets[0].1.wrapping_add(160 * k as u32), "ts {k}");
        assert_eq!(p.2, k == 0, "marker {k}");
        assert_eq!(p.3, 8);
        assert_eq!(p.4, packets[0].4);
        assert_eq!(
            &p.5[..],
            prompt.frame(Codec::Pcma, k).unwrap(),
            "payload {k}"
        );
    }
    wait_for(&mut a_events, "playback end", |e| {
        matches!(e, MediaEvent::PlaybackFinished { .. })
    })
    .await;
}

#[tokio::test]
async fn dtmf_sent_by_one_leg_is_received_once_by_the_other() {
    let engine = MediaEngine::start(config(61_200, 61_299)).unwrap();
    let ((a, _a_events), (b, mut b_events)) = pair(&engine).await;
    a.configure(params(b.local_addr(), Codec::Pcmu));
    b.configure(params(a.local_addr(), Codec::Pcmu));
    a.send_dtmf('5', Duration::from_millis(100));
    a.send_dtmf('#', Duration::from_millis(60));
    let mut digits = Vec::new();
    while digits.len() < 2 {
        if let MediaEvent::Dtmf { digit, duration } = next_event(&mut b_events, "digits").await {
            digits.push((digit, duration));
        }
    }
    // '#' right after '5' shows '5' was reported once despite its three end packets.
    assert_eq!(
        digits,
        vec![
            ('5', Duration::from_millis(100)),
            ('#', Duration::from_millis(60))
        ]
    );
    assert_eq!(engine.stats().dtmf_digits_received, 2);
}

#[tokio::test]
async fn digit_barges_in_on_a_prompt() {
    let engine = MediaEngine::start(config(61_300, 61_399)).unwrap();
    let ((a, _a_events), (b, mut b_events)) = pair(&engine).await;
    a.configure(params(b.local_addr(), Codec::Pcmu));
    b.configure(params(a.local_addr(), Codec::Pcmu));
    let id = b.play(
        vec![numbered_prompt(100)],
        PlayOptions {
            looped: true,
            barge_in: true,
        },
    );
    a.send_dtmf('1', Duration::from_millis(80));
    let e = wait_for(&mut b_events, "barge-in", |e| {
        matches!(e, MediaEvent::PlaybackFinished { .. })
    })
    .await;
    assert_eq!(
        e,
        MediaEvent::PlaybackFinished {
            id,
            interrupted: true
        }
    );
    let d = wait_for(&mut b_events, "digit", |e| {
        matches!(e, MediaEvent::Dtmf { .. })
    })
    .await;
    assert_eq!(
        d,
        MediaEvent::Dtmf {
            digit: '1',
            duration: Duration::from_millis(80)
        }
    );
}

fn rtp(pt: u8, seq: u16, ts: u32, ssrc: u32, marker: bool, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0u8; 12 + payload.len()];
    RtpHeader {
        payload_type: pt,
        marker,
        sequence: seq,
        timestamp: ts,
        ssrc,
    }
    .write(&mut p);
    p[12..].copy_from_slice(payload);
    p
}

/// What SIPp's `play_dtmf` sends: telephone-events on PT 96, filler on PT 97, a new SSRC per
/// digit, end packets repeated with one sequence number; also a NAT in between: the SDP names
/// an address nobody sends from.
#[tokio::test]
async fn sipp_style_dtmf_and_nat_latching() {
    let engine = MediaEngine::start(config(61_400, 61_499)).unwrap();
    let (leg, mut events) = engine.allocate().await.unwrap();
    let sdp_addr = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let nat = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut p = params(sdp_addr.local_addr().unwrap(), Codec::Pcmu);
    p.dtmf_payload_type = Some(96);
    leg.configure(p);
    // Before any RTP arrives we send to the SDP address.
    let mut buf = [0u8; 1500];
    timeout(WAIT, sdp_addr.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let mut seq = 1000u16;
    for (i, event) in [4u8, 4, 11].into_iter().enumerate() {
        let ssrc = 0x5150_0000 + i as u32;
        for _ in 0..2 {
            nat.send_to(&rtp(97, seq, 0, ssrc, false, &[0; 4]), leg.local_addr())
                .await
                .unwrap();
            seq = seq.wrapping_add(1);
        }
        for (k, d) in [160u16, 320, 480].into_iter().enumerate() {
            let payload = [event, 10, (d >> 8) as u8, d as u8];
            nat.send_to(
                &rtp(96, seq, 8000, ssrc, k == 0, &payload),
                leg.local_addr(),
            )
            .await
            .unwrap();
            seq = seq.wrapping_add(1);
        }
        for _ in 0..3 {
            let payload = [event, 0x8A, 0x02, 0x80];
            nat.send_to(&rtp(96, seq, 8000, ssrc, false, &payload), leg.local_addr())
                .await
                .unwrap();
        }
        seq = seq.wrapping_add(1);
    }
    let latched = next_event(&mut events, "latch").await;
    assert_eq!(
        latched,
        MediaEvent::RemoteLatched {
            addr: nat.local_addr().unwrap()
        }
    );
    let mut digits = Vec::new();
    while digits.len() < 3 {
        if let MediaEvent::Dtmf { digit, .. } = next_event(&mut events, "digits").await {
            digits.push(digit);
        }
    }
    assert_eq!(digits, vec!['4', '4', '#']);
    // From now on RTP goes to where the peer really is.
    let (_, from) = timeout(WAIT, nat.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(from, leg.local_addr());
}

#[tokio::test]
async fn recording_stops_at_max_duration() {
    let engine = MediaEngine::start(config(61_500, 61_599)).unwrap();
    let ((a, _a_events), (b, mut b_events)) = pair(&engine).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("short.wav");
    b.start_recording(path.clone(), Duration::from_millis(300));
    b.configure(params(a.local_addr(), Codec::Pcma));
    a.configure(params(b.local_addr(), Codec::Pcma));
    let e = wait_for(&mut b_events, "recording end", |e| {
        matches!(e, MediaEvent::RecordingFinished { .. })
    })
    .await;
    assert_eq!(
        e,
        MediaEvent::RecordingFinished {
            path: path.clone(),
            duration: Duration::from_millis(300),
            reason: RecordingEnd::MaxDuration
        }
    );
    assert_eq!(hound::WavReader::open(&path).unwrap().duration(), 2400);
    assert!(!dir.path().join("short.wav.tmp").exists());
}

#[tokio::test]
async fn closing_a_leg_finishes_its_recording_and_frees_its_ports() {
    // Room for exactly one leg.
    let engine = MediaEngine::start(config(61_600, 61_601)).unwrap();
    let (leg, mut events) = engine.allocate().await.unwrap();
    assert_eq!(leg.local_addr().port(), 61_600);
    match engine.allocate().await {
        Err(e @ MediaError::PortsExhausted { .. }) => {
            assert!(e.to_string().contains("61600-61601"), "{e}")
        }
        other => panic!("expected PortsExhausted, got {:?}", other.map(|(l, _)| l)),
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("closed.wav");
    leg.configure(params("127.0.0.1:9".parse().unwrap(), Codec::Pcmu));
    leg.start_recording(path.clone(), Duration::from_secs(10));
    drop(leg);
    let e = wait_for(&mut events, "recording end", |e| {
        matches!(e, MediaEvent::RecordingFinished { .. })
    })
    .await;
    assert!(matches!(
        e,
        MediaEvent::RecordingFinished {
            reason: RecordingEnd::LegClosed,
            ..
        }
    ));
    assert!(path.exists());
    // The event stream ends once the leg is gone, and then its ports are free again.
    assert_eq!(timeout(WAIT, events.recv()).await.unwrap(), None);
    let (again, _) = engine.allocate().await.unwrap();
    assert_eq!(again.local_addr().port(), 61_600);
    assert_eq!(engine.stats().legs_active, 1);
}

#[tokio::test]
async fn ports_in_use_are_skipped() {
    let taken = std::net::UdpSocket::bind("127.0.0.1:61700").unwrap();
    let engine = MediaEngine::start(config(61_700, 61_703)).unwrap();
    let (leg, _) = engine.allocate().await.unwrap();
    assert_eq!(leg.local_addr().port(), 61_702);
    drop(taken);
}

#[tokio::test]
async fn silence_from_the_peer_times_out_once() {
    let engine = MediaEngine::start(MediaConfig {
        rtp_timeout: Some(Duration::from_millis(200)),
        ..config(61_800, 61_899)
    })
    .unwrap();
    let (leg, mut events) = engine.allocate().await.unwrap();
    let peer = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    leg.configure(params(peer.local_addr().unwrap(), Codec::Pcmu));
    assert_eq!(
        next_event(&mut events, "timeout").await,
        MediaEvent::RtpTimeout
    );
}

#[test]
fn handles_can_move_across_tasks() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<MediaEngine>();
    send_sync::<MediaLeg>();
    send_sync::<Prompt>();
    send_sync::<media::PromptLibrary>();
    send::<MediaEvents>();
    send_sync::<MediaError>();
}

/// One RFC 4733 key press from `socket` to `to`: a start packet and three end packets.
async fn press(socket: &UdpSocket, to: SocketAddr, ssrc: u32, seq: u16, ts: u32, digit: char) {
    let event = media::dtmf::digit_to_event(digit).unwrap();
    for (k, end) in [false, true, true, true].into_iter().enumerate() {
        let mut packet = [0u8; media::HEADER_LEN + media::dtmf::TelephoneEvent::LEN];
        RtpHeader {
            payload_type: 101,
            marker: k == 0,
            sequence: seq + k.min(1) as u16,
            timestamp: ts,
            ssrc,
        }
        .write(&mut packet);
        let mut payload = [0u8; 4];
        media::dtmf::TelephoneEvent {
            event,
            end,
            volume: 10,
            duration: if end { 800 } else { 160 },
        }
        .write(&mut payload);
        packet[media::HEADER_LEN..].copy_from_slice(&payload);
        socket.send_to(&packet, to).await.unwrap();
    }
}

#[tokio::test]
async fn an_off_path_senders_digits_are_dropped_and_counted_once_the_peer_latched() {
    let engine = MediaEngine::start(config(62_000, 62_019)).unwrap();
    let (leg, mut events) = engine.allocate().await.unwrap();
    let phone = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let attacker = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    leg.configure(params(phone.local_addr().unwrap(), Codec::Pcmu));
    // The phone's first digit latches the leg to it.
    press(&phone, leg.local_addr(), 7, 1, 0, '1').await;
    let latched = wait_for(&mut events, "the latch", |e| {
        matches!(e, MediaEvent::RemoteLatched { .. })
    })
    .await;
    assert_eq!(
        latched,
        MediaEvent::RemoteLatched {
            addr: phone.local_addr().unwrap()
        }
    );
    wait_for(&mut events, "the phone's 1", |e| {
        matches!(e, MediaEvent::Dtmf { digit: '1', .. })
    })
    .await;
    // Another source, same SSRC and later sequence numbers: a PIN digit and the `#` that
    // would end a voicemail. Then the phone's own next digit, which must be the next event.
    press(&attacker, leg.local_addr(), 7, 10, 800, '9').await;
    press(&attacker, leg.local_addr(), 7, 20, 1600, '#').await;
    let stats = engine.stats();
    press(&phone, leg.local_addr(), 7, 30, 2400, '2').await;
    let next = wait_for(&mut events, "the phone's 2", |e| {
        matches!(e, MediaEvent::Dtmf { .. })
    })
    .await;
    assert!(
        matches!(next, MediaEvent::Dtmf { digit: '2', .. }),
        "the attacker's digit was heard: {next:?}"
    );
    // The attacker's packets were read before the phone's (one socket, in order).
    assert_eq!(
        engine.stats().rtp_foreign_packets,
        8,
        "before the phone's 2: {}",
        stats.rtp_foreign_packets
    );
    assert_eq!(engine.stats().dtmf_digits_received, 2);
}

#[tokio::test]
async fn ports_are_drawn_at_random_never_twice_and_a_full_range_is_an_error() {
    // 20 pairs each; the same seed draws the same pairs in both ranges.
    let seeded = |min: u16| {
        MediaEngine::start(MediaConfig {
            rng_seed: Some(42),
            ..config(min, min + 39)
        })
        .unwrap()
    };
    let mut offsets = Vec::new();
    for min in [62_100u16, 62_200] {
        let engine = seeded(min);
        let mut legs = Vec::new();
        for _ in 0..20 {
            legs.push(engine.allocate().await.unwrap());
        }
        let ports: Vec<u16> = legs.iter().map(|(l, _)| l.local_addr().port()).collect();
        let distinct: std::collections::BTreeSet<u16> = ports.iter().copied().collect();
        assert_eq!(distinct.len(), 20, "no pair twice: {ports:?}");
        assert!(
            ports
                .iter()
                .all(|p| p % 2 == 0 && (min..min + 40).contains(p))
        );
        let mut sorted = ports.clone();
        sorted.sort_unstable();
        assert_ne!(ports, sorted, "not handed out in sequence: {ports:?}");
        let err = engine.allocate().await.map(|(l, _)| l).unwrap_err();
        assert!(matches!(err, MediaError::PortsExhausted { .. }), "{err}");
        assert!(
            err.to_string().contains(&format!("{min}-{}", min + 39)),
            "{err}"
        );
        offsets.push(ports.iter().map(|p| p - min).collect::<Vec<_>>());
    }
    assert_eq!(offsets[0], offsets[1], "deterministic with a seed");
}
