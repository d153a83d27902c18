//! Bridge benchmark: N bridged pairs on loopback, each side a fake phone sending 50 packets
//! per second; reports the engine's CPU per bridged call and the relay latency (phone A's
//! send → phone B's receive) p50/p99/max.
//!
//! ```text
//! cargo run --release -p media --example bench_bridge -- --pairs 100 --seconds 10
//! cargo run --release -p media --example bench_bridge -- --pairs 500 --seconds 10 --transcode 1
//! ```
//!
//! The engine runs on its own runtime (threads named `media-worker`, `--threads`, default 1,
//! as many shards); the phones on another (the main thread). Engine CPU is read per thread
//! from /proc/self/task, so the phones' own cost is not counted. Each packet carries its send
//! instant in its first payload bytes; latency is timed on A→B. With `--transcode 1` the B
//! side uses PCMA, every packet is transcoded both ways and the stamps do not survive, so
//! only CPU is reported.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[path = "support/threads_cpu.rs"]
mod threads_cpu;

use media::{Codec, Direction, MediaConfig, MediaEngine, RtpHeader, StreamParams};
use threads_cpu::threads_cpu;
use tokio::net::UdpSocket;

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

/// A phone: sends a packet every 20 ms stamped with its send time; the one receiving records
/// how long each took.
async fn phone(
    socket: Arc<UdpSocket>,
    leg: SocketAddr,
    pt: u8,
    origin: Instant,
    until: Instant,
    ssrc: u32,
) {
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    let mut packet = [0u8; 172];
    let mut seq = 0u16;
    while Instant::now() < until {
        tick.tick().await;
        RtpHeader {
            payload_type: pt,
            marker: false,
            sequence: seq,
            timestamp: seq as u32 * 160,
            ssrc,
        }
        .write(&mut packet);
        let sent = origin.elapsed().as_nanos() as u64;
        packet[12..20].copy_from_slice(&sent.to_le_bytes());
        let _ = socket.send_to(&packet, leg).await;
        seq = seq.wrapping_add(1);
    }
}

async fn listen(
    socket: Arc<UdpSocket>,
    origin: Instant,
    from: Instant,
    until: Instant,
    out: Arc<Mutex<Vec<u64>>>,
) {
    let mut buf = [0u8; 1500];
    let mut mine = Vec::with_capacity(4096);
    while let Ok(Ok((n, _))) = tokio::time::timeout_at(
        tokio::time::Instant::from_std(until),
        socket.recv_from(&mut buf),
    )
    .await
    {
        if n < 20 || buf[12] == 0xFF {
            continue; // comfort silence, not a relayed packet
        }
        let now = Instant::now();
        if now < from {
            continue;
        }
        let sent = u64::from_le_bytes(buf[12..20].try_into().unwrap());
        mine.push((origin.elapsed().as_nanos() as u64).saturating_sub(sent));
    }
    out.lock().unwrap().extend(mine);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str, default: u64| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(default)
    };
    let pairs = arg("--pairs", 100) as usize;
    let seconds = arg("--seconds", 10);
    let threads = arg("--threads", 1) as usize;
    let transcode = arg("--transcode", 0) == 1;
    println!("command: {}", args.join(" "));

    let media_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .thread_name("media-worker")
        .enable_all()
        .build()
        .unwrap();
    let engine = media_rt
        .block_on(async {
            MediaEngine::start(MediaConfig {
                port_min: 42_000,
                port_max: 42_000 + pairs as u16 * 4 + 100,
                shards: threads.max(1),
                rtp_timeout: None,
                ..MediaConfig::default()
            })
        })
        .unwrap();
    let phones_rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let b_codec = if transcode { Codec::Pcma } else { Codec::Pcmu };
    let (legs, sockets) = phones_rt.block_on(async {
        let mut legs = Vec::new();
        let mut sockets = Vec::new();
        // Legs first: the phones' sockets take ephemeral ports, which may fall in the range.
        for _ in 0..pairs {
            let (a, ea) = engine.allocate().await.unwrap();
            let (b, eb) = engine.allocate_near(&a).await.unwrap();
            legs.push((a, ea, b, eb));
        }
        for (a, _, b, _) in &legs {
            let pa = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
            let pb = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
            a.configure(params(pa.local_addr().unwrap(), Codec::Pcmu));
            b.configure(params(pb.local_addr().unwrap(), b_codec));
            a.bridge(b).unwrap();
            sockets.push((pa, a.local_addr(), pb, b.local_addr()));
        }
        (legs, sockets)
    });
    let origin = Instant::now();
    let warm = origin + Duration::from_secs(2);
    let until = warm + Duration::from_secs(seconds);
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let measure = {
        let engine = engine.clone();
        std::thread::spawn(move || {
            std::thread::sleep(warm.saturating_duration_since(Instant::now()));
            let c0 = threads_cpu("media-");
            let s0 = engine.stats();
            let t0 = Instant::now();
            std::thread::sleep(until.saturating_duration_since(Instant::now()));
            (threads_cpu("media-") - c0, t0.elapsed(), s0, engine.stats())
        })
    };
    phones_rt.block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        for (i, (pa, la, pb, lb)) in sockets.iter().enumerate() {
            let ssrc = i as u32 * 2;
            tasks.spawn(phone(pa.clone(), *la, 0, origin, until, ssrc));
            tasks.spawn(phone(
                pb.clone(),
                *lb,
                b_codec.static_payload_type(),
                origin,
                until,
                ssrc + 1,
            ));
            if !transcode {
                tasks.spawn(listen(pb.clone(), origin, warm, until, latencies.clone()));
            }
        }
        while tasks.join_next().await.is_some() {}
    });
    let (cpu, wall, m0, m1) = measure.join().unwrap();
    let mut lat = latencies.lock().unwrap().clone();
    lat.sort_unstable();
    let q = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
            .map_or(0.0, |&ns| ns as f64 / 1e6)
    };
    let relayed = (m1.rtp_packets_relayed - m0.rtp_packets_relayed) as f64;
    let expected = pairs as f64 * 2.0 * 50.0 * wall.as_secs_f64();
    let core = cpu.as_secs_f64() / wall.as_secs_f64();
    println!(
        "pairs {pairs}, engine threads {threads}, transcode B side {transcode}, {:.1} s measured",
        wall.as_secs_f64()
    );
    println!(
        "  relayed {relayed:.0} packets ({:.2} % of {expected:.0} sent by the phones)",
        relayed * 100.0 / expected
    );
    println!(
        "  engine CPU {:.1} % of one core; {:.4} % of a core per bridged call ({:.1} µs per relayed packet)",
        core * 100.0,
        core * 100.0 / pairs as f64,
        cpu.as_secs_f64() * 1e6 / relayed.max(1.0)
    );
    println!(
        "  relay latency A→B (phone send → phone receive), {} samples: p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
        lat.len(),
        q(0.5),
        q(0.99),
        q(1.0)
    );
    println!(
        "  shard send interval p99 {:?}, late ticks {}, send errors {}",
        m1.send_interval.quantile(0.99),
        m1.late_ticks - m0.late_ticks,
        m1.send_errors - m0.send_errors
    );
    drop(legs);
    drop(media_rt);
}
