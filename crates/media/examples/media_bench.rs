//! Media hot-path benchmark: per-packet cost of the send path (prompt frame → RTP packet →
//! `send_to`) and of the receive path (RTP parse, RFC 4733 DTMF), then optionally a load run of
//! the whole engine.
//!
//! ```text
//! cargo run --release -p media --example media_bench                       # micro-benchmarks
//! cargo run --release -p media --example media_bench -- --legs 2000 --seconds 20
//! ```
//!
//! The load run allocates `--legs` legs in pairs pointing at each other, every leg playing a
//! looping prompt and receiving its partner's RTP, and reports process CPU per leg, packets
//! sent/received against the expected 50 per leg per second, and the shards' send-interval
//! p50/p99.

use std::hint::black_box;
use std::net::UdpSocket;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use media::dtmf::{DtmfReceiver, TelephoneEvent};
use media::{
    Codec, Direction, MAX_PACKET, MediaConfig, MediaEngine, PlayOptions, Prompt, RtpHeader,
    RtpSession, SessionConfig, StreamParams, g711,
};

fn tone(seconds: f64) -> Arc<Prompt> {
    let samples: Vec<i16> = (0..(8000.0 * seconds) as usize)
        .map(|i| ((i as f64 * 2.0 * std::f64::consts::PI * 440.0 / 8000.0).sin() * 12_000.0) as i16)
        .collect();
    Arc::new(Prompt::from_samples_8k(&samples, "tone"))
}

fn params(remote: std::net::SocketAddr) -> StreamParams {
    StreamParams {
        remote,
        codec: Codec::Pcmu,
        payload_type: 0,
        dtmf_payload_type: Some(101),
        ptime_ms: 20,
        direction: Direction::SendRecv,
    }
}

fn session(start: Instant) -> RtpSession {
    RtpSession::new(SessionConfig {
        ssrc: 1,
        initial_seq: 0,
        initial_timestamp: 0,
        rtp_timeout: None,
        latch_any_address: false,
        clock_origin: (start, SystemTime::now()),
    })
}

fn per_op(label: &str, n: u64, elapsed: Duration) {
    println!(
        "{label:<58} {:>9.1} ns/packet",
        elapsed.as_nanos() as f64 / n as f64
    );
}

fn micro() {
    const N: u64 = 500_000;
    // 1. G.711 encode of one 20 ms frame (done once per prompt at load, here for scale).
    let pcm: Vec<i16> = (0..160).map(|i| (i * 200 - 16_000) as i16).collect();
    let mut out = [0u8; 160];
    let t = Instant::now();
    for _ in 0..N {
        g711::encode(Codec::Pcmu, black_box(&pcm), &mut out);
        black_box(&out);
    }
    per_op("g711 µ-law encode, 160 samples", N, t.elapsed());

    // 2. Packet building: session slot (prompt copy + header), fake clock.
    let sink = UdpSocket::bind("127.0.0.1:0").unwrap();
    let start = Instant::now();
    let mut s = session(start);
    s.configure(params(sink.local_addr().unwrap()), start);
    s.play(
        media::PlaybackId(1),
        vec![tone(3.0)],
        PlayOptions {
            looped: true,
            barge_in: false,
        },
    );
    let mut buf = vec![0u8; MAX_PACKET];
    let mut now = start;
    let t = Instant::now();
    let mut built = 0u64;
    for _ in 0..N {
        now += Duration::from_millis(20);
        while let Some(tx) = s.poll_transmit(now, &mut buf) {
            let _ = black_box(tx);
            built += 1;
        }
    }
    per_op(
        "build RTP packet from cached prompt (session)",
        built,
        t.elapsed(),
    );

    // 3. Build + send_to over loopback (the whole per-packet send path).
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_nonblocking(true).unwrap();
    let n_send = N / 5;
    let t = Instant::now();
    let mut sent = 0u64;
    for _ in 0..n_send {
        now += Duration::from_millis(20);
        while let Some(tx) = s.poll_transmit(now, &mut buf) {
            let _ = sock.send_to(&buf[..tx.len], tx.destination);
            sent += 1;
        }
    }
    per_op(
        "build + send_to (loopback), full send path",
        sent,
        t.elapsed(),
    );

    // 4. Receive path: audio packet parse + stats + jitter.
    let peer: std::net::SocketAddr = "127.0.0.1:9".parse().unwrap();
    let mut rx = session(start);
    rx.configure(params(peer), start);
    let mut audio = vec![0u8; 172];
    let t = Instant::now();
    for i in 0..N {
        RtpHeader {
            payload_type: 0,
            marker: false,
            sequence: i as u16,
            timestamp: (i * 160) as u32,
            ssrc: 7,
        }
        .write(&mut audio);
        black_box(rx.handle_rtp(&audio, peer, start + Duration::from_millis(20 * i)));
    }
    per_op(
        "receive audio packet (parse, loss/jitter stats)",
        N,
        t.elapsed(),
    );

    // 5. DTMF: parse RTP + telephone-event + dedupe (3 digits' worth of packets, repeated).
    let mut packets = Vec::new();
    for (d, ts) in [(1u8, 0u32), (2, 4000), (3, 8000)] {
        for (dur, end) in [
            (160u16, false),
            (480, false),
            (800, false),
            (960, true),
            (960, true),
            (960, true),
        ] {
            let mut p = vec![0u8; 16];
            RtpHeader {
                payload_type: 101,
                marker: dur == 160,
                sequence: 0,
                timestamp: ts,
                ssrc: 5,
            }
            .write(&mut p);
            let mut e = [0u8; 4];
            TelephoneEvent {
                event: d,
                end,
                volume: 10,
                duration: dur,
            }
            .write(&mut e);
            p[12..].copy_from_slice(&e);
            packets.push(p);
        }
    }
    let mut rcv = DtmfReceiver::new();
    let t = Instant::now();
    let mut digits = 0u64;
    let rounds = N / packets.len() as u64;
    for round in 0..rounds {
        for p in &packets {
            let r = rtp_rs::RtpReader::new(p).unwrap();
            // A new SSRC per round so every round's digits are new.
            rcv.handle_packet(round as u32, r.timestamp(), r.payload(), start);
        }
        while rcv.poll_digit().is_some() {
            digits += 1;
        }
    }
    per_op(
        "DTMF packet: RtpReader + RFC 4733 parse + dedupe",
        rounds * packets.len() as u64,
        t.elapsed(),
    );
    assert_eq!(digits, rounds * 3, "each digit exactly once");
}

/// utime + stime of this process, from /proc/self/stat.
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10)) // USER_HZ = 100 on Linux
}

async fn load(legs: usize, seconds: u64, shards: usize) {
    let engine = MediaEngine::start(MediaConfig {
        port_min: 40_000,
        port_max: 40_000 + (legs as u16) * 2 + 200,
        shards,
        ..MediaConfig::default()
    })
    .unwrap();
    let prompt = tone(7.3);
    let mut held = Vec::new();
    for _ in 0..legs / 2 {
        let (a, ea) = engine.allocate().await.unwrap();
        let (b, eb) = engine.allocate().await.unwrap();
        a.configure(params(b.local_addr()));
        b.configure(params(a.local_addr()));
        let looped = PlayOptions {
            looped: true,
            barge_in: false,
        };
        a.play(vec![prompt.clone()], looped);
        b.play(vec![prompt.clone()], looped);
        held.push((a, ea, b, eb));
    }
    // Warm up, then measure.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let s0 = engine.stats();
    let c0 = cpu_time();
    let t0 = Instant::now();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let wall = t0.elapsed();
    let s1 = engine.stats();
    let c1 = cpu_time();
    let expected = legs as f64 * 50.0 * wall.as_secs_f64();
    let sent = (s1.rtp_packets_sent - s0.rtp_packets_sent) as f64;
    let received = (s1.rtp_packets_received - s0.rtp_packets_received) as f64;
    println!(
        "legs {legs}, shards {shards}, {:.1} s measured",
        wall.as_secs_f64()
    );
    println!(
        "  RTP sent      {sent:>10.0}  ({:.2} % of {expected:.0} expected)",
        sent * 100.0 / expected
    );
    println!(
        "  RTP received  {received:>10.0}  ({:.2} %)",
        received * 100.0 / expected
    );
    if let (Some(c0), Some(c1)) = (c0, c1) {
        let cpu = (c1 - c0).as_secs_f64() / wall.as_secs_f64();
        println!(
            "  process CPU   {:.1} % of one core; {:.4} % of a core per leg",
            cpu * 100.0,
            cpu * 100.0 / legs as f64
        );
    }
    let h = &s1.send_interval;
    println!(
        "  send interval p50 {:?}  p99 {:?}  p99.9 {:?}  max {:?}  (ticks {})",
        h.quantile(0.5),
        h.quantile(0.99),
        h.quantile(0.999),
        h.max(),
        h.count()
    );
    println!(
        "  late ticks {}  send errors {}",
        s1.late_ticks, s1.send_errors
    );
    drop(held);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse::<u64>().ok())
    };
    println!("command: {}", args.join(" "));
    micro();
    if let Some(legs) = arg("--legs") {
        let seconds = arg("--seconds").unwrap_or(10);
        let shards = arg("--shards").unwrap_or(2) as usize;
        let threads = arg("--threads").unwrap_or(2) as usize;
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()
            .unwrap()
            .block_on(load(legs as usize, seconds, shards));
    }
}
