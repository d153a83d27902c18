//! Server cost of a WebRTC leg against a plain RTP relay, measured in one run (issue 17).
//!
//! ```text
//! cargo run --release -p webrtc-leg --example bench_webrtc -- [LEGS=50] [SECONDS=10] [both|webrtc|plain]
//! ```
//!
//! The WebRTC legs run on one dedicated server thread, the plain relays on another (each a
//! current-thread Tokio runtime, as a media shard is one thread), both loaded over the same
//! window so that both see the same machine; each one's CPU time is that thread's, read from
//! `/proc/thread-self/schedstat` (the scheduler's nanosecond run time, what
//! `getrusage(RUSAGE_THREAD)` reports at tick resolution; the workspace forbids the `unsafe`
//! a direct `getrusage` call needs). The load generator runs on the other threads:
//!
//! * LEGS webrtc-rs peers (the browsers) each send 20 ms PCMU over DTLS-SRTP to their leg; the
//!   leg relays the decrypted RTP to a plain UDP echo (the media engine), which sends it
//!   straight back; the leg encrypts it toward the browser.
//! * at the same time, LEGS plain UDP "phones" send the same packets to a plain relay (two
//!   sockets, UDP in → UDP out each way, like the leg's two sides) and the same kind of echo.
//!
//! `webrtc` or `plain` as third argument runs one kind only (to see the send intervals of many
//! WebRTC legs without the other half of the load on a small machine).
//!
//! Printed: packets sent and relayed at each hop (must be 100 %), the send-interval p50/p99/max
//! of what the server sent (seen at the echo, server → engine, and at the browser/phone,
//! server → browser), and each server thread's CPU per leg, with the ratio.

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
fn spawn_server(name: &str) -> mpsc::UnboundedSender<ServerCommand> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    std::thread::Builder::new()
        .name(name.into())
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
    legs: usize,
    sent: u64,
    at_engine: u64,
    back: u64,
    cpu_ns: u64,
    window: Duration,
}

impl Phase {
    fn per_leg_percent(&self) -> f64 {
        self.cpu_ns as f64 / (self.window.as_nanos() as f64 * self.legs as f64) * 100.0
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
    let mode = args.next().unwrap_or_else(|| "both".to_owned());
    let (webrtc_legs, plain_legs) = match mode.as_str() {
        "both" => (legs, legs),
        "webrtc" => (legs, 0),
        "plain" => (0, legs),
        other => panic!("MODE is both, webrtc or plain, not {other:?}"),
    };
    let duration = Duration::from_secs(seconds);
    println!(
        "bench_webrtc: {webrtc_legs} WebRTC legs and {plain_legs} plain relays side by side, {seconds} s of 20 ms PCMU each way; load average before: {}",
        load_average()
    );
    // Two server threads measured over the same window, so both kinds of leg see the same
    // machine (this one is shared with other builds).
    let webrtc_server = spawn_server("server-webrtc");
    let plain_server = spawn_server("server-plain");
    let process_start = process_cpu_s();
    let stop = Arc::new(AtomicBool::new(false));

    // WebRTC legs: browser ⇄ leg ⇄ engine echo.
    let mut browsers = Vec::with_capacity(webrtc_legs);
    let mut webrtc_engine = Vec::with_capacity(webrtc_legs);
    let mut webrtc_back = Vec::with_capacity(webrtc_legs);
    let setup = Instant::now();
    for _ in 0..webrtc_legs {
        let socket = UdpSocket::bind((LOOPBACK, 0)).await.unwrap();
        let engine = socket.local_addr().unwrap();
        let at_engine: Shared = Default::default();
        tokio::spawn(echo(socket, at_engine.clone(), stop.clone()));
        webrtc_engine.push(at_engine);

        let mut browser = Browser::new().await;
        let offer = browser.offer().await;
        let answer = call(&webrtc_server, |reply| ServerCommand::Answer {
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
        webrtc_back.push(back);
        browsers.push(browser);
    }
    for browser in &mut browsers {
        browser.connected(Duration::from_secs(30)).await;
    }
    let up = call(&webrtc_server, ServerCommand::AllConnected).await;
    println!(
        "setup: {up}/{webrtc_legs} WebRTC legs connected in {:.1} s",
        setup.elapsed().as_secs_f64()
    );

    // Plain relays: phone ⇄ relay ⇄ engine echo.
    let mut phones = Vec::with_capacity(plain_legs);
    let mut plain_engine = Vec::with_capacity(plain_legs);
    let mut plain_back = Vec::with_capacity(plain_legs);
    for _ in 0..plain_legs {
        let socket = UdpSocket::bind((LOOPBACK, 0)).await.unwrap();
        let engine = socket.local_addr().unwrap();
        let at_engine: Shared = Default::default();
        tokio::spawn(echo(socket, at_engine.clone(), stop.clone()));
        plain_engine.push(at_engine);
        let relay = call(&plain_server, |reply| ServerCommand::PlainRelay {
            engine,
            reply,
        })
        .await;
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
        plain_back.push(back);
        phones.push(phone);
    }

    // One 20 ms tick sends a packet on every browser and every phone.
    let payload = ulaw_tone(440.0, 0);
    let mut datagram = vec![0x80, PCMU, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    datagram.extend_from_slice(&payload);
    let webrtc_cpu0 = call(&webrtc_server, ServerCommand::CpuNs).await;
    let plain_cpu0 = call(&plain_server, ServerCommand::CpuNs).await;
    let start = Instant::now();
    let mut tick = tokio::time::interval(PTIME);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let (mut webrtc_sent, mut plain_sent) = (0u64, 0u64);
    let mut seq = 0u16;
    let ticks: Shared = Default::default();
    while start.elapsed() < duration {
        tick.tick().await;
        ticks.lock().unwrap().record(Instant::now());
        seq = seq.wrapping_add(1);
        datagram[2..4].copy_from_slice(&seq.to_be_bytes());
        // Interleaved, so that neither kind is always served first.
        for i in 0..legs {
            if let Some(browser) = browsers.get_mut(i) {
                browser.send(PCMU, false, &payload, true).await;
                webrtc_sent += 1;
            }
            if let Some(phone) = phones.get(i) {
                let _ = phone.send(&datagram).await;
                plain_sent += 1;
            }
        }
    }
    drain(webrtc_sent, &webrtc_engine, &webrtc_back).await;
    drain(plain_sent, &plain_engine, &plain_back).await;
    let window = start.elapsed();
    let webrtc = Phase {
        name: "WebRTC leg",
        legs: webrtc_legs,
        sent: webrtc_sent,
        at_engine: total(&webrtc_engine),
        back: total(&webrtc_back),
        cpu_ns: call(&webrtc_server, ServerCommand::CpuNs).await - webrtc_cpu0,
        window,
    };
    let plain = Phase {
        name: "plain RTP relay",
        legs: plain_legs,
        sent: plain_sent,
        at_engine: total(&plain_engine),
        back: total(&plain_back),
        cpu_ns: call(&plain_server, ServerCommand::CpuNs).await - plain_cpu0,
        window,
    };
    call(&webrtc_server, ServerCommand::CloseAll).await;
    call(&plain_server, ServerCommand::CloseAll).await;
    for browser in &browsers {
        browser.close().await;
    }
    stop.store(true, Relaxed);

    println!("load generator's own 20 ms tick: {}", intervals(&[ticks]));
    for (phase, engine, back) in [
        (&webrtc, &webrtc_engine, &webrtc_back),
        (&plain, &plain_engine, &plain_back),
    ] {
        if phase.legs == 0 {
            continue;
        }
        println!("{} ({} legs):", phase.name, phase.legs);
        println!(
            "  packets: sent {}, relayed to the engine {} ({:.2} %), relayed back {} ({:.2} %)",
            phase.sent,
            phase.at_engine,
            phase.at_engine as f64 * 100.0 / phase.sent.max(1) as f64,
            phase.back,
            phase.back as f64 * 100.0 / phase.sent.max(1) as f64,
        );
        println!("  send interval, server -> engine:  {}", intervals(engine));
        println!("  send interval, server -> browser: {}", intervals(back));
        println!(
            "  server thread CPU: {:.3} s over {:.2} s = {:.4} % of a core per leg",
            phase.cpu_ns as f64 / 1e9,
            phase.window.as_secs_f64(),
            phase.per_leg_percent()
        );
    }
    if webrtc.legs > 0 && plain.legs > 0 {
        println!(
            "cost per WebRTC leg / plain relay: {:.2}x",
            webrtc.per_leg_percent() / plain.per_leg_percent()
        );
    }
    println!(
        "process CPU (servers + load generator, setup included): {:.1} s; load average after: {}",
        process_cpu_s() - process_start,
        load_average()
    );
}
