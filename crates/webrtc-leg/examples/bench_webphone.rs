//! Browser phones bridged to SIP callers through the real media engine, against the same calls
//! with plain RTP phones, in one run (issue 17): cost per leg, packets relayed, and the delay
//! the server adds each way (the "mouth-to-ear" share of the server).
//!
//! ```text
//! cargo run --release -p webrtc-leg --example bench_webphone -- --calls 100 --seconds 10
//! ```
//!
//! Each call is the server's shape of a browser call: a caller (a plain UDP "SIP caller")
//! → the engine's caller leg ⇄ bridge ⇄ the engine's agent leg → the WebRTC leg (ICE-lite,
//! DTLS-SRTP; it made the offer, as for an INVITE to a browser) → a webrtc-rs peer (the
//! browser). The plain phase replaces the WebRTC leg and the browser with a plain UDP phone
//! on the agent leg. Both sides of every call send 20 ms PCMU, each packet stamped with its
//! send instant (the stamps cross the bridge and the leg unchanged: same codec both sides).
//!
//! The server (media engine and WebRTC legs) runs on its own runtime, one thread named
//! `media-worker` (one media shard); the callers, phones and browsers on others. Server CPU is
//! read per thread from /proc/self/task, so the load tool's own cost (the browsers' SRTP and
//! DTLS above all) is not counted.
//!
//! Printed per phase: packets received each way (% of those sent after warm-up), the one-way
//! delay caller → agent and agent → caller (p50/p99/max: what the server adds, with loopback
//! and the load tool's own scheduling), the server's CPU per call, and the ratio of a WebRTC
//! agent leg (engine leg + WebRTC leg) to a plain agent leg (engine leg alone). Every endpoint
//! starts at a random point of the 20 ms period, as real phones do: a packet waits in the
//! engine for its next 20 ms tick, so the delay spreads over that period.

#[path = "../tests/common/browser.rs"]
mod browser;
#[path = "../../media/examples/support/threads_cpu.rs"]
mod threads_cpu;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use browser::{Browser, PCMU};
use media::{Codec, Direction, MediaConfig, MediaEngine, MediaLeg, RtpHeader, StreamParams};
use threads_cpu::threads_cpu;
use tokio::net::UdpSocket;
use webrtc_leg::{LegConfig, WebRtcLeg};

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

/// 160 bytes of µ-law, the first 8 the send instant (ns since `origin`).
fn stamped(origin: Instant) -> [u8; 160] {
    let mut payload = [0x55u8; 160];
    payload[..8].copy_from_slice(&(origin.elapsed().as_nanos() as u64).to_le_bytes());
    payload
}

/// The delay of a stamped payload received now, if it was sent after `warm`; `None` for
/// the engine's own comfort frames and packets of the warm-up.
fn delay(payload: &[u8], origin: Instant, warm: Instant) -> Option<u64> {
    if payload.len() < 160 || payload[8..16] != [0x55; 8] {
        return None;
    }
    let sent = u64::from_le_bytes(payload[..8].try_into().ok()?);
    if sent < warm.duration_since(origin).as_nanos() as u64 {
        return None;
    }
    Some((origin.elapsed().as_nanos() as u64).saturating_sub(sent))
}

/// A 20 ms clock starting at a random point of the engine's 20 ms tick: real phones are not in
/// phase with the server, and the delay a packet waits for the next tick depends on the phase.
fn offset_interval() -> tokio::time::Interval {
    let offset = Duration::from_micros(rand::random::<u64>() % 20_000);
    tokio::time::interval_at(
        tokio::time::Instant::now() + offset,
        Duration::from_millis(20),
    )
}

/// Receivers go on this long after the senders stop, for the packets still on their way.
const LINGER: Duration = Duration::from_millis(300);

/// The measuring window: stamps count from `origin`, packets from `warm` to `until`.
#[derive(Clone, Copy)]
struct Window {
    origin: Instant,
    warm: Instant,
    until: Instant,
}

#[derive(Default)]
struct Tally {
    sent: u64,
    delays: Vec<u64>,
}

type Shared = Arc<Mutex<Tally>>;

/// A plain endpoint (the SIP caller, or a plain phone): sends stamped PCMU every 20 ms to
/// `to` from `warm` to `until`, and records the delays of what it receives after `warm`.
async fn plain_end(
    socket: UdpSocket,
    to: SocketAddr,
    Window {
        origin,
        warm,
        until,
    }: Window,
    ssrc: u32,
    sent_by_me: Shared,
    received_by_me: Shared,
) {
    let mut tick = offset_interval();
    let mut packet = [0u8; 172];
    let mut buf = [0u8; 1500];
    let mut seq = 0u16;
    let (mut sent, mut delays) = (0u64, Vec::new());
    loop {
        tokio::select! {
            _ = tick.tick() => {
                if Instant::now() >= until + LINGER {
                    break;
                }
                if Instant::now() >= until {
                    continue;
                }
                RtpHeader { payload_type: 0, marker: false, sequence: seq, timestamp: u32::from(seq) * 160, ssrc }
                    .write(&mut packet);
                packet[12..].copy_from_slice(&stamped(origin));
                let _ = socket.send_to(&packet, to).await;
                seq = seq.wrapping_add(1);
                if Instant::now() >= warm {
                    sent += 1;
                }
            }
            Ok((n, _)) = socket.recv_from(&mut buf) => {
                if n > 12 && let Some(d) = delay(&buf[12..n], origin, warm) {
                    delays.push(d);
                }
            }
        }
    }
    sent_by_me.lock().unwrap().sent += sent;
    received_by_me.lock().unwrap().delays.extend(delays);
}

/// The browser's side: the same, over its WebRTC track.
async fn browser_end(
    mut browser: Browser,
    Window {
        origin,
        warm,
        until,
    }: Window,
    sent_by_me: Shared,
    received_by_me: Shared,
) {
    let mut tick = offset_interval();
    let (mut sent, mut delays) = (0u64, Vec::new());
    loop {
        tokio::select! {
            _ = tick.tick() => {
                if Instant::now() >= until + LINGER {
                    break;
                }
                if Instant::now() >= until {
                    continue;
                }
                browser.send(PCMU, false, &stamped(origin), true).await;
                if Instant::now() >= warm {
                    sent += 1;
                }
            }
            Some(packet) = browser.received.recv() => {
                if let Some(d) = delay(&packet.payload, origin, warm) {
                    delays.push(d);
                }
            }
        }
    }
    sent_by_me.lock().unwrap().sent += sent;
    received_by_me.lock().unwrap().delays.extend(delays);
    browser.close().await;
}

fn quantiles(delays: &mut [u64]) -> String {
    delays.sort_unstable();
    let q = |p: f64| {
        delays
            .get(((delays.len() as f64 * p) as usize).min(delays.len().saturating_sub(1)))
            .map_or(0.0, |&ns| ns as f64 / 1e6)
    };
    format!(
        "p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
        q(0.5),
        q(0.99),
        q(1.0)
    )
}

struct Phase {
    cpu: Duration,
    wall: Duration,
}

/// Runs `calls` calls, WebRTC agents or plain ones, for `seconds` after a 2 s warm-up.
fn phase(
    name: &str,
    webrtc: bool,
    calls: usize,
    seconds: u64,
    engine: &MediaEngine,
    media_rt: &tokio::runtime::Runtime,
    load_rt: &tokio::runtime::Runtime,
) -> Phase {
    // The legs: caller leg, agent leg next to it, and (WebRTC) the leg and its browser.
    let mut pairs: Vec<(MediaLeg, MediaLeg)> = Vec::new();
    let mut agent_ends = Vec::new();
    let mut webrtc_legs = Vec::new();
    for _ in 0..calls {
        let (a, b) = media_rt.block_on(async {
            let (a, _) = engine.allocate().await.unwrap();
            let (b, _) = engine.allocate_near(&a).await.unwrap();
            (a, b)
        });
        if webrtc {
            let config = LegConfig {
                plain_peer: Some(b.local_addr()),
                ..LegConfig::default()
            };
            // The leg's task runs on the server's runtime, beside the engine.
            let (offered, offer) = media_rt.block_on(WebRtcLeg::offer(&config)).unwrap();
            let (browser, answer) = load_rt.block_on(async {
                let mut browser = Browser::new().await;
                let answer = browser.answer(&offer).await;
                (browser, answer)
            });
            let leg = media_rt
                .block_on(async { offered.accept(&answer) })
                .unwrap();
            b.configure(params(leg.plain_rtp_addr()));
            agent_ends.push(Err(browser));
            webrtc_legs.push(leg);
        } else {
            let phone = load_rt.block_on(UdpSocket::bind("127.0.0.1:0")).unwrap();
            b.configure(params(phone.local_addr().unwrap()));
            agent_ends.push(Ok(phone));
        }
        a.bridge(&b).unwrap();
        pairs.push((a, b));
    }
    if webrtc {
        media_rt.block_on(async {
            for leg in &webrtc_legs {
                tokio::time::timeout(Duration::from_secs(20), leg.connected())
                    .await
                    .expect("legs connect")
                    .expect("leg connected");
            }
        });
    }
    let callers: Vec<UdpSocket> = pairs
        .iter()
        .map(|(a, _)| {
            let s = load_rt.block_on(UdpSocket::bind("127.0.0.1:0")).unwrap();
            a.configure(params(s.local_addr().unwrap()));
            s
        })
        .collect();

    let origin = Instant::now();
    let warm = origin + Duration::from_secs(2);
    let until = warm + Duration::from_secs(seconds);
    let (by_caller, to_agent, by_agent, to_caller): (Shared, Shared, Shared, Shared) =
        Default::default();
    let measure = std::thread::spawn(move || {
        std::thread::sleep(warm.saturating_duration_since(Instant::now()));
        let c0 = threads_cpu("media-worker");
        let t0 = Instant::now();
        std::thread::sleep(until.saturating_duration_since(Instant::now()));
        (threads_cpu("media-worker") - c0, t0.elapsed())
    });
    load_rt.block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        for (i, ((caller, end), (a, b))) in callers
            .into_iter()
            .zip(agent_ends)
            .zip(pairs.iter())
            .enumerate()
        {
            let window = Window {
                origin,
                warm,
                until,
            };
            tasks.spawn(plain_end(
                caller,
                a.local_addr(),
                window,
                i as u32 * 2,
                by_caller.clone(),
                to_caller.clone(),
            ));
            match end {
                Ok(phone) => tasks.spawn(plain_end(
                    phone,
                    b.local_addr(),
                    window,
                    i as u32 * 2 + 1,
                    by_agent.clone(),
                    to_agent.clone(),
                )),
                Err(browser) => tasks.spawn(browser_end(
                    browser,
                    window,
                    by_agent.clone(),
                    to_agent.clone(),
                )),
            };
        }
        while tasks.join_next().await.is_some() {}
    });
    let (cpu, wall) = measure.join().unwrap();
    let mut to_agent = std::mem::take(&mut to_agent.lock().unwrap().delays);
    let mut to_caller = std::mem::take(&mut to_caller.lock().unwrap().delays);
    let (sent_by_caller, sent_by_agent) = (
        by_caller.lock().unwrap().sent,
        by_agent.lock().unwrap().sent,
    );
    let core = cpu.as_secs_f64() / wall.as_secs_f64();
    println!(
        "{name}: {calls} calls, {:.1} s measured",
        wall.as_secs_f64()
    );
    println!(
        "  caller → agent: {} of {} received ({:.2} %), delay {}",
        to_agent.len(),
        sent_by_caller,
        to_agent.len() as f64 * 100.0 / sent_by_caller.max(1) as f64,
        quantiles(&mut to_agent)
    );
    println!(
        "  agent → caller: {} of {} received ({:.2} %), delay {}",
        to_caller.len(),
        sent_by_agent,
        to_caller.len() as f64 * 100.0 / sent_by_agent.max(1) as f64,
        quantiles(&mut to_caller)
    );
    println!(
        "  server CPU {:.1} % of one core; {:.4} % of a core per call",
        core * 100.0,
        core * 100.0 / calls as f64
    );
    media_rt.block_on(async {
        for leg in &webrtc_legs {
            leg.close().await;
        }
    });
    drop(pairs);
    Phase { cpu, wall }
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
    let calls = arg("--calls", 100) as usize;
    let seconds = arg("--seconds", 10);
    println!("command: {}", args.join(" "));
    println!(
        "load average before: {}",
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );

    let media_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("media-worker")
        .enable_all()
        .build()
        .unwrap();
    let engine = media_rt
        .block_on(async {
            MediaEngine::start(MediaConfig {
                port_min: 42_000,
                port_max: 42_000 + calls as u16 * 8 + 100,
                shards: 1,
                rtp_timeout: None,
                ..MediaConfig::default()
            })
        })
        .unwrap();
    let load_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("load")
        .enable_all()
        .build()
        .unwrap();

    let plain = phase(
        "plain RTP agents",
        false,
        calls,
        seconds,
        &engine,
        &media_rt,
        &load_rt,
    );
    let webrtc = phase(
        "WebRTC agents",
        true,
        calls,
        seconds,
        &engine,
        &media_rt,
        &load_rt,
    );
    let per_call = |p: &Phase| p.cpu.as_secs_f64() / p.wall.as_secs_f64() / calls as f64;
    let (plain_call, webrtc_call) = (per_call(&plain), per_call(&webrtc));
    // A plain call is two engine legs; a WebRTC agent leg is an engine leg and the WebRTC leg.
    let plain_leg = plain_call / 2.0;
    let webrtc_leg = webrtc_call - plain_leg;
    println!(
        "cost: a WebRTC call {:.2}× a plain call; a WebRTC agent leg (engine leg + WebRTC leg) {:.2}× a plain agent leg",
        webrtc_call / plain_call.max(f64::MIN_POSITIVE),
        webrtc_leg / plain_leg.max(f64::MIN_POSITIVE)
    );
}
