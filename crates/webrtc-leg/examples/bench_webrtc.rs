//! Server cost of a WebRTC leg against a plain RTP relay, measured in one run (issue 17).
//!
//! ```text
//! cargo run --release -p webrtc-leg --example bench_webrtc -- [LEGS=50] [SECONDS=10]
//! ```
//!
//! The server — every [`WebRtcLeg`] of phase 1, every plain relay of phase 2 — runs on one
//! dedicated thread (a current-thread Tokio runtime, as a media shard is one thread); its CPU
//! time is that thread's, read from `/proc/thread-self/schedstat` (the scheduler's
//! nanosecond run time, what `getrusage(RUSAGE_THREAD)` reports at tick resolution). The load
//! generator runs on the other threads of the process:
//!
//! * phase 1: LEGS webrtc-rs peers (the browsers) each send 20 ms PCMU over DTLS-SRTP to their
//!   leg; the leg relays the decrypted RTP to a plain UDP echo (the media engine), which sends
//!   it straight back; the leg encrypts it toward the browser.
//! * phase 2: LEGS plain UDP "phones" send the same packets to a plain relay (two sockets,
//!   UDP in → UDP out each way, like the leg's two sides) and the same echo.
//!
//! Printed: packets sent and relayed at each hop (must be 100 %), the send-interval p50/p99/max
//! of what the server sent (seen at the echo, server → engine, and at the browser/phone,
//! server → browser), and the server thread's CPU per leg, each phase, with the ratio.

#[path = "../tests/common/browser.rs"]
mod browser;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use browser::{Browser, PCMU, ulaw_tone};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use webrtc_leg::{LegConfig, WebRtcLeg};

const PTIME: Duration = Duration::from_millis(20);
const LOOPBACK: Ipv4Addr = Ipv4Addr::LOCALHOST;

/// Nanoseconds this thread has run (scheduler accounting).
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Seconds of CPU (user + system) of the whole process, from /proc/self/stat.
fn process_cpu_s() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, s)| s).unwrap_or_default();
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = fields
        .get(11)
        .and_then(|f| f.parse::<f64>().ok())
        .unwrap_or(0.0)
        + fields
            .get(12)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0);
    ticks / 100.0
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

enum ServerCommand {
    Answer {
        offer: String,
        engine: SocketAddr,
        reply: oneshot::Sender<String>,
    },
    AllConnected(oneshot::Sender<usize>),
    PlainRelay {
        engine: SocketAddr,
        reply: oneshot::Sender<SocketAddr>,
    },
    CpuNs(oneshot::Sender<u64>),
    CloseAll(oneshot::Sender<()>),
}

/// The server thread: legs and relays live here and nowhere else.
fn spawn_server() -> mpsc::UnboundedSender<ServerCommand> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    std::thread::Builder::new()
        .name("server".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let mut legs: Vec<WebRtcLeg> = Vec::new();
                let mut relays: Vec<tokio::task::JoinHandle<()>> = Vec::new();
                while let Some(command) = rx.recv().await {
                    match command {
                        ServerCommand::Answer {
                            offer,
                            engine,
                            reply,
                        } => {
                            let config = LegConfig {
                                plain_peer: Some(engine),
                                establish_timeout: Duration::from_secs(60),
                                ..LegConfig::default()
                            };
                            let (leg, answer) = WebRtcLeg::answer(&offer, &config).await.unwrap();
                            legs.push(leg);
                            let _ = reply.send(answer);
                        }
                        ServerCommand::AllConnected(reply) => {
                            let mut up = 0;
                            for leg in &legs {
                                if tokio::time::timeout(Duration::from_secs(30), leg.connected())
                                    .await
                                    .is_ok_and(|r| r.is_ok())
                                {
                                    up += 1;
                                }
                            }
                            let _ = reply.send(up);
                        }
                        ServerCommand::PlainRelay { engine, reply } => {
                            let phone_side = UdpSocket::bind((LOOPBACK, 0)).await.unwrap();
                            let engine_side = UdpSocket::bind((LOOPBACK, 0)).await.unwrap();
                            let _ = reply.send(phone_side.local_addr().unwrap());
                            relays.push(tokio::spawn(plain_relay(phone_side, engine_side, engine)));
                        }
                        ServerCommand::CpuNs(reply) => {
                            let _ = reply.send(thread_cpu_ns());
                        }
                        ServerCommand::CloseAll(reply) => {
                            for leg in legs.drain(..) {
                                leg.close().await;
                            }
                            for relay in relays.drain(..) {
                                relay.abort();
                            }
                            let _ = reply.send(());
                        }
                    }
                }
            });
        })
        .unwrap();
    tx
}

/// A plain RTP relay, UDP in → UDP out each way: what a leg without WebRTC costs.
async fn plain_relay(phone_side: UdpSocket, engine_side: UdpSocket, engine: SocketAddr) {
    let mut phone: Option<SocketAddr> = None;
    let (mut a, mut b) = ([0u8; 1500], [0u8; 1500]);
    loop {
        tokio::select! {
            Ok((n, from)) = phone_side.recv_from(&mut a) => {
                phone = Some(from);
                let _ = engine_side.send_to(&a[..n], engine).await;
            }
            Ok((n, _)) = engine_side.recv_from(&mut b) => {
                if let Some(phone) = phone {
                    let _ = phone_side.send_to(&b[..n], phone).await;
                }
            }
        }
    }
}

async fn call<T>(
    server: &mpsc::UnboundedSender<ServerCommand>,
    f: impl FnOnce(oneshot::Sender<T>) -> ServerCommand,
) -> T {
    let (tx, rx) = oneshot::channel();
    server
        .send(f(tx))
        .unwrap_or_else(|_| panic!("server thread gone"));
    rx.await.unwrap()
}

/// Arrivals at one receiving point: count and gaps.
#[derive(Default)]
struct Arrivals {
    count: u64,
    last: Option<Instant>,
    gaps_us: Vec<u32>,
}

impl Arrivals {
    fn record(&mut self, now: Instant) {
        self.count += 1;
        if let Some(last) = self.last {
            self.gaps_us
                .push((now - last).as_micros().min(u128::from(u32::MAX)) as u32);
        }
        self.last = Some(now);
    }
}

type Shared = Arc<Mutex<Arrivals>>;

/// The media engine: echoes every datagram back to where it came from.
async fn echo(socket: UdpSocket, arrivals: Shared, stop: Arc<AtomicBool>) {
    let mut buf = [0u8; 1500];
    while !stop.load(Relaxed) {
        let Ok(Ok((n, from))) =
            tokio::time::timeout(Duration::from_millis(200), socket.recv_from(&mut buf)).await
        else {
            continue;
        };
        arrivals.lock().unwrap().record(Instant::now());
        let _ = socket.send_to(&buf[..n], from).await;
    }
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

fn intervals(points: &[Shared]) -> String {
    let mut all: Vec<u32> = points
        .iter()
        .flat_map(|p| p.lock().unwrap().gaps_us.clone())
        .collect();
    all.sort_unstable();
    format!(
        "p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} intervals)",
        percentile(&all, 0.5),
        percentile(&all, 0.99),
        all.last().map_or(f64::NAN, |&m| m as f64 / 1000.0),
        all.len()
    )
}

fn total(points: &[Shared]) -> u64 {
    points.iter().map(|p| p.lock().unwrap().count).sum()
}

struct Phase {
    name: &'static str,
    sent: u64,
    at_engine: u64,
    back: u64,
    cpu_ns: u64,
    window: Duration,
}

impl Phase {
    fn per_leg_percent(&self, legs: usize) -> f64 {
        self.cpu_ns as f64 / (self.window.as_nanos() as f64 * legs as f64) * 100.0
    }
}

/// Waits until the counts stop short of `expected` no longer (or 3 s pass).
async fn drain(expected: u64, engine: &[Shared], back: &[Shared]) {
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline && (total(engine) < expected || total(back) < expected) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut args = std::env::args().skip(1);
    let legs: usize = args.next().map_or(50, |a| a.parse().expect("LEGS"));
    let seconds: u64 = args.next().map_or(10, |a| a.parse().expect("SECONDS"));
    let duration = Duration::from_secs(seconds);
    println!(
        "bench_webrtc: {legs} legs, {seconds} s of 20 ms PCMU each way per phase; load average before: {}",
        load_average()
    );
    let server = spawn_server();
    let process_start = process_cpu_s();

    // Phase 1: WebRTC legs.
    let mut browsers = Vec::with_capacity(legs);
    let mut engine_points = Vec::with_capacity(legs);
    let mut back_points = Vec::with_capacity(legs);
    let stop = Arc::new(AtomicBool::new(false));
    let setup = Instant::now();
    for _ in 0..legs {
        let socket = UdpSocket::bind((LOOPBACK, 0)).await.unwrap();
        let engine = socket.local_addr().unwrap();
        let at_engine: Shared = Default::default();
        tokio::spawn(echo(socket, at_engine.clone(), stop.clone()));
        engine_points.push(at_engine);

        let mut browser = Browser::new().await;
        let offer = browser.offer().await;
        let answer = call(&server, |reply| ServerCommand::Answer {
            offer,
            engine,
            reply,
        })
        .await;
        browser.accept(answer).await;
        let (_, empty) = mpsc::unbounded_channel();
        let mut received = std::mem::replace(&mut browser.received, empty);
        let back: Shared = Default::default();
        let point = back.clone();
        tokio::spawn(async move {
            while received.recv().await.is_some() {
                point.lock().unwrap().record(Instant::now());
            }
        });
        back_points.push(back);
        browsers.push(browser);
    }
    for browser in &mut browsers {
        browser.connected(Duration::from_secs(30)).await;
    }
    let up = call(&server, ServerCommand::AllConnected).await;
    println!(
        "phase 1 setup: {up}/{legs} WebRTC legs connected in {:.1} s",
        setup.elapsed().as_secs_f64()
    );

    let payload = ulaw_tone(440.0, 0);
    let cpu0 = call(&server, ServerCommand::CpuNs).await;
    let start = Instant::now();
    let mut tick = tokio::time::interval(PTIME);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut sent = 0u64;
    while start.elapsed() < duration {
        tick.tick().await;
        for browser in &mut browsers {
            browser.send(PCMU, false, &payload, true).await;
            sent += 1;
        }
    }
    drain(sent, &engine_points, &back_points).await;
    let cpu1 = call(&server, ServerCommand::CpuNs).await;
    let webrtc = Phase {
        name: "WebRTC leg",
        sent,
        at_engine: total(&engine_points),
        back: total(&back_points),
        cpu_ns: cpu1 - cpu0,
        window: start.elapsed(),
    };
    let webrtc_intervals = (intervals(&engine_points), intervals(&back_points));
    call(&server, ServerCommand::CloseAll).await;
    for browser in &browsers {
        browser.close().await;
    }
    drop(browsers);

    // Phase 2: plain relays, same packets, same echo.
    let mut phones = Vec::with_capacity(legs);
    let mut engine_points = Vec::with_capacity(legs);
    let mut back_points = Vec::with_capacity(legs);
    for _ in 0..legs {
        let socket = UdpSocket::bind((LOOPBACK, 0)).await.unwrap();
        let engine = socket.local_addr().unwrap();
        let at_engine: Shared = Default::default();
        tokio::spawn(echo(socket, at_engine.clone(), stop.clone()));
        engine_points.push(at_engine);
        let relay = call(&server, |reply| ServerCommand::PlainRelay { engine, reply }).await;
        let phone = Arc::new(UdpSocket::bind((LOOPBACK, 0)).await.unwrap());
        phone.connect(relay).await.unwrap();
        let back: Shared = Default::default();
        let (point, receiver, stop) = (back.clone(), phone.clone(), stop.clone());
        tokio::spawn(async move {
            let mut buf = [0u8; 1500];
            while !stop.load(Relaxed) {
                if let Ok(Ok(_)) =
                    tokio::time::timeout(Duration::from_millis(200), receiver.recv(&mut buf)).await
                {
                    point.lock().unwrap().record(Instant::now());
                }
            }
        });
        back_points.push(back);
        phones.push(phone);
    }
    let mut datagram = vec![0x80, PCMU, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    datagram.extend_from_slice(&payload);
    let cpu0 = call(&server, ServerCommand::CpuNs).await;
    let start = Instant::now();
    let mut tick = tokio::time::interval(PTIME);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut sent = 0u64;
    let mut seq = 0u16;
    while start.elapsed() < duration {
        tick.tick().await;
        seq = seq.wrapping_add(1);
        datagram[2..4].copy_from_slice(&seq.to_be_bytes());
        for phone in &phones {
            let _ = phone.send(&datagram).await;
            sent += 1;
        }
    }
    drain(sent, &engine_points, &back_points).await;
    let cpu1 = call(&server, ServerCommand::CpuNs).await;
    let plain = Phase {
        name: "plain RTP relay",
        sent,
        at_engine: total(&engine_points),
        back: total(&back_points),
        cpu_ns: cpu1 - cpu0,
        window: start.elapsed(),
    };
    let plain_intervals = (intervals(&engine_points), intervals(&back_points));
    call(&server, ServerCommand::CloseAll).await;
    stop.store(true, Relaxed);

    for (phase, (to_engine, to_browser)) in [(&webrtc, webrtc_intervals), (&plain, plain_intervals)]
    {
        println!("{}:", phase.name);
        println!(
            "  packets: sent {}, relayed to the engine {} ({:.2} %), relayed back {} ({:.2} %)",
            phase.sent,
            phase.at_engine,
            phase.at_engine as f64 * 100.0 / phase.sent.max(1) as f64,
            phase.back,
            phase.back as f64 * 100.0 / phase.sent.max(1) as f64,
        );
        println!("  send interval, server -> engine:  {to_engine}");
        println!("  send interval, server -> browser: {to_browser}");
        println!(
            "  server thread CPU: {:.3} s over {:.2} s = {:.4} % of a core per leg",
            phase.cpu_ns as f64 / 1e9,
            phase.window.as_secs_f64(),
            phase.per_leg_percent(legs)
        );
    }
    println!(
        "cost per WebRTC leg / plain relay: {:.2}x",
        webrtc.per_leg_percent(legs) / plain.per_leg_percent(legs)
    );
    println!(
        "process CPU (server + load generator, setup included): {:.1} s; load average after: {}",
        process_cpu_s() - process_start,
        load_average()
    );
}
