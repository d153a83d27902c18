//! Screen-pop latency (issue 6, target p99 ≤ 20 ms): the time from the agent phone's 200 OK
//! to the `call.connected` event (with the Service Request opened for the call) on that
//! agent's WebSocket `/api/v1/events`, over N calls.
//!
//! This program is both ends the agent owns, so one monotonic clock stamps both instants:
//! - the agent's **phone**, a minimal UDP UAS: it registers as 1001 with digest
//!   authentication, answers each INVITE with 200 OK (the instant just before `send_to` is
//!   t0), waits for the ACK, then hangs up with BYE;
//! - the agent's **desktop**, a WebSocket client logged in as 1001 (`?token=`) that stamps
//!   each message as it is read (t1).
//!
//! SIPp plays the callers (`tests/sipp/uac_server_bye.xml`: they call the citizen-services
//! line 800100201 and wait for the server's BYE). The server is a release `centralino serve`
//! with the demo configuration (`config/demo.toml`), on free loopback ports, with one edit:
//! wrap-up 0 s instead of 5 so one agent can take 200 calls in a row. Callers queue while the
//! agent is busy, as on a real afternoon. It also reports, for information, the gap between
//! the INVITE reaching the phone and `call.offered` (the pop itself) reaching the desktop;
//! that one may be negative (the event is published as the INVITE goes out).
//!
//! Run with scripts/bench-screen-pop.sh, or:
//!
//! ```text
//! cargo build --release -p centralino
//! cargo run --release -p console --example screen_pop_latency -- \
//!     --centralino target/release/centralino --calls 200
//! ```

use std::net::{Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use sip_gateway::auth::{Algorithm, ha1, response_digest};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

const AGENT: &str = "1001";
const PASSWORD: &str = "demo1001";
/// One call's bound: INVITE to BYE answered.
const CALL_LIMIT: Duration = Duration::from_secs(20);

type Result<T> = std::result::Result<T, String>;

struct Args {
    centralino: PathBuf,
    calls: usize,
    rate: u32,
    /// Where to write every call's figures (CSV), to look at the tail's pattern.
    samples: Option<PathBuf>,
}

fn args() -> Result<Args> {
    let mut out = Args {
        centralino: workspace().join("target/release/centralino"),
        calls: 200,
        rate: 5,
        samples: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || it.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--centralino" => out.centralino = PathBuf::from(value()?),
            "--calls" => out.calls = value()?.parse().map_err(|e| format!("--calls: {e}"))?,
            "--rate" => out.rate = value()?.parse().map_err(|e| format!("--rate: {e}"))?,
            "--samples" => out.samples = Some(PathBuf::from(value()?)),
            other => {
                return Err(format!(
                    "unknown argument {other} (--centralino PATH, --calls N, --rate CPS, --samples CSV)"
                ));
            }
        }
    }
    if out.calls == 0 {
        return Err("--calls must be at least 1".into());
    }
    Ok(out)
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .unwrap_or(Path::new("."))
        .to_path_buf()
}

fn free_tcp_port() -> Result<u16> {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(|e| e.to_string())?;
    Ok(l.local_addr().map_err(|e| e.to_string())?.port())
}

fn free_udp_port() -> Result<u16> {
    let s = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).map_err(|e| e.to_string())?;
    Ok(s.local_addr().map_err(|e| e.to_string())?.port())
}

/// The server process; stopped (SIGTERM, then killed) when dropped.
struct ServerProcess {
    child: Child,
    dir: tempfile::TempDir,
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free run of `len` even-aligned UDP ports for the server's RTP, checked by binding.
fn free_rtp_range(len: u16) -> Result<(u16, u16)> {
    let start = 30_000 + (std::process::id() % 100) as u16 * 200;
    for base in (start..60_000 - len).step_by(usize::from(len)) {
        let all_free =
            (base..base + len).all(|p| UdpSocket::bind((Ipv4Addr::LOCALHOST, p)).is_ok());
        if all_free {
            return Ok((base, base + len - 1));
        }
    }
    Err("no free RTP port range".into())
}

fn start_server(bin: &Path, sip_port: u16, http_port: u16) -> Result<ServerProcess> {
    if !bin.is_file() {
        return Err(format!(
            "{} not found: cargo build --release -p centralino",
            bin.display()
        ));
    }
    let demo = std::fs::read_to_string(workspace().join("config/demo.toml"))
        .map_err(|e| format!("config/demo.toml: {e}"))?;
    let (rtp_min, rtp_max) = free_rtp_range(400)?;
    let edited = demo
        .replacen("wrap_up_s = 5", "wrap_up_s = 0", 1)
        .replacen(
            "rtp_port_min = 20000",
            &format!("rtp_port_min = {rtp_min}"),
            1,
        )
        .replacen(
            "rtp_port_max = 29999",
            &format!("rtp_port_max = {rtp_max}"),
            1,
        )
        .replacen("min_free_mb = 512", "min_free_mb = 1", 1);
    if !edited.contains("wrap_up_s = 0") || !edited.contains(&format!("rtp_port_min = {rtp_min}")) {
        return Err("config/demo.toml changed: update the bench's edits".into());
    }
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let config = dir.path().join("bench.toml");
    std::fs::write(&config, edited).map_err(|e| e.to_string())?;
    let log = std::fs::File::create(dir.path().join("server.log")).map_err(|e| e.to_string())?;
    let child = Command::new(bin)
        .arg("serve")
        .arg("--config")
        .arg(&config)
        .arg("--data")
        .arg(dir.path().join("data"))
        .arg("--sip-listen")
        .arg(format!("127.0.0.1:{sip_port}"))
        .arg("--http-listen")
        .arg(format!("127.0.0.1:{http_port}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .map_err(|e| format!("start {}: {e}", bin.display()))?;
    Ok(ServerProcess { child, dir })
}

/// One HTTP/1.1 request on loopback: (status, body).
async fn http(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> Result<(u16, String)> {
    let mut s = tokio::net::TcpStream::connect((Ipv4Addr::LOCALHOST, port))
        .await
        .map_err(|e| e.to_string())?;
    let body = body.unwrap_or("");
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n{auth}\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or(format!("not an HTTP response: {text}"))?;
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    Ok((status, body))
}

async fn wait_healthy(server: &mut ServerProcess, port: u16) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok((200, _)) = http(port, "GET", "/api/v1/health", None, None).await {
            return Ok(());
        }
        if let Ok(Some(status)) = server.child.try_wait() {
            return Err(format!(
                "the server exited ({status}); log in {}",
                server.dir.path().join("server.log").display()
            ));
        }
        if Instant::now() > deadline {
            return Err("the server was not healthy within 30 s".into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// The agent's phone: just enough SIP (RFC 3261) for REGISTER with digest, answer, BYE.

/// A received SIP message, as text.
struct Sip {
    text: String,
    from: SocketAddr,
}

impl Sip {
    fn start_line(&self) -> &str {
        self.text.lines().next().unwrap_or("")
    }

    fn is_request(&self, method: &str) -> bool {
        self.start_line().starts_with(&format!("{method} "))
    }

    fn status(&self) -> Option<u16> {
        let line = self.start_line();
        line.strip_prefix("SIP/2.0 ")?.get(..3)?.parse().ok()
    }

    /// Every value of header `name` (or its compact form), in order.
    fn headers(&self, name: &str, compact: &str) -> Vec<&str> {
        self.text
            .split("\r\n\r\n")
            .next()
            .unwrap_or("")
            .lines()
            .skip(1)
            .filter_map(|l| {
                let (n, v) = l.split_once(':')?;
                let n = n.trim();
                (n.eq_ignore_ascii_case(name) || (!compact.is_empty() && n == compact))
                    .then_some(v.trim())
            })
            .collect()
    }

    fn header(&self, name: &str, compact: &str) -> &str {
        self.headers(name, compact).first().copied().unwrap_or("")
    }

    fn call_id(&self) -> &str {
        self.header("Call-ID", "i")
    }

    fn cseq_method(&self) -> &str {
        self.header("CSeq", "")
            .split_whitespace()
            .nth(1)
            .unwrap_or("")
    }
}

struct Phone {
    socket: tokio::net::UdpSocket,
    server: SocketAddr,
    local: SocketAddr,
    rtp_port: u16,
    branch: u64,
}

impl Phone {
    async fn recv(&self, timeout: Duration) -> Result<(Sip, Instant)> {
        let mut buf = vec![0u8; 65_536];
        let (n, from) = tokio::time::timeout(timeout, self.socket.recv_from(&mut buf))
            .await
            .map_err(|_| format!("no SIP message within {timeout:?}"))?
            .map_err(|e| e.to_string())?;
        let at = Instant::now();
        Ok((
            Sip {
                text: String::from_utf8_lossy(&buf[..n]).into_owned(),
                from,
            },
            at,
        ))
    }

    async fn send(&self, text: &str, to: SocketAddr) -> Result<Instant> {
        let at = Instant::now();
        self.socket
            .send_to(text.as_bytes(), to)
            .await
            .map_err(|e| e.to_string())?;
        Ok(at)
    }

    fn next_branch(&mut self) -> String {
        self.branch += 1;
        format!("z9hG4bKbench{}x{}", std::process::id(), self.branch)
    }

    /// Answers `req` with a bodiless `status` (OPTIONS, retransmitted BYE, …).
    async fn reply(&self, req: &Sip, status: &str) -> Result<()> {
        let mut r = format!("SIP/2.0 {status}\r\n");
        for v in req.headers("Via", "v") {
            r.push_str(&format!("Via: {v}\r\n"));
        }
        r.push_str(&format!(
            "From: {}\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: {}\r\nContent-Length: 0\r\n\r\n",
            req.header("From", "f"),
            req.header("To", "t"),
            req.call_id(),
            req.header("CSeq", "")
        ));
        self.send(&r, req.from).await.map(|_| ())
    }

    /// REGISTER, 401 with an MD5 challenge, REGISTER with the digest (qop=auth), 200.
    async fn register(&mut self) -> Result<()> {
        let call_id = format!("bench-register-{}", std::process::id());
        let uri = format!("sip:{}", self.server);
        let mut authorization = String::new();
        for cseq in 1..=2 {
            let branch = self.next_branch();
            let msg = format!(
                "REGISTER {uri} SIP/2.0\r\nVia: SIP/2.0/UDP {};branch={};rport\r\n\
                 From: <sip:{AGENT}@{}>;tag=benchreg\r\nTo: <sip:{AGENT}@{}>\r\n\
                 Call-ID: {call_id}\r\nCSeq: {cseq} REGISTER\r\n\
                 Contact: <sip:{AGENT}@{}>\r\nExpires: 600\r\n{authorization}\
                 Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
                self.local,
                branch,
                self.server.ip(),
                self.server.ip(),
                self.local
            );
            self.send(&msg, self.server).await?;
            let (answer, _) = loop {
                let (m, at) = self.recv(Duration::from_secs(5)).await?;
                if m.call_id() == call_id && m.status().is_some_and(|s| s >= 200) {
                    break (m, at);
                }
            };
            match answer.status() {
                Some(200) if cseq == 2 => return Ok(()),
                Some(401) if cseq == 1 => {
                    let challenge = answer
                        .headers("WWW-Authenticate", "")
                        .into_iter()
                        .find(|c| c.contains("algorithm=MD5"))
                        .ok_or("no MD5 challenge (the demo offers MD5 first)")?
                        .to_string();
                    let param = |name: &str| -> String {
                        challenge
                            .split(',')
                            .filter_map(|p| p.trim().trim_start_matches("Digest ").split_once('='))
                            .find(|(k, _)| k.trim() == name)
                            .map(|(_, v)| v.trim().trim_matches('"').to_string())
                            .unwrap_or_default()
                    };
                    let (realm, nonce) = (param("realm"), param("nonce"));
                    let ha1 = ha1(Algorithm::Md5, AGENT, &realm, PASSWORD);
                    let cnonce = "0a4f113b";
                    let response = response_digest(
                        Algorithm::Md5,
                        &ha1,
                        &nonce,
                        "00000001",
                        cnonce,
                        "auth",
                        "REGISTER",
                        &uri,
                    );
                    authorization = format!(
                        "Authorization: Digest username=\"{AGENT}\", realm=\"{realm}\", \
                         nonce=\"{nonce}\", uri=\"{uri}\", response=\"{response}\", \
                         algorithm=MD5, qop=auth, nc=00000001, cnonce=\"{cnonce}\"\r\n"
                    );
                }
                other => {
                    return Err(format!("REGISTER answered {other:?}: {}", answer.text));
                }
            }
        }
        Err("REGISTER not accepted".into())
    }

    /// The 200 OK for `invite` (our tag, our SDP: PCMU + telephone-event).
    fn ok_for(&self, invite: &Sip) -> String {
        let sdp = format!(
            "v=0\r\no=agent 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
             m=audio {} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n\
             a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n",
            self.rtp_port
        );
        let mut r = String::from("SIP/2.0 200 OK\r\n");
        for v in invite.headers("Via", "v") {
            r.push_str(&format!("Via: {v}\r\n"));
        }
        for rr in invite.headers("Record-Route", "") {
            r.push_str(&format!("Record-Route: {rr}\r\n"));
        }
        r.push_str(&format!(
            "From: {}\r\nTo: {};tag=benchagent\r\nCall-ID: {}\r\nCSeq: {}\r\n\
             Contact: <sip:{AGENT}@{}>\r\nContent-Type: application/sdp\r\n\
             Content-Length: {}\r\n\r\n{sdp}",
            invite.header("From", "f"),
            invite.header("To", "t"),
            invite.call_id(),
            invite.header("CSeq", ""),
            self.local,
            sdp.len()
        ));
        r
    }

    /// The agent hangs up: BYE to the INVITE's Contact (through its Record-Route), 200.
    async fn hang_up(&mut self, invite: &Sip) -> Result<()> {
        let contact = invite.header("Contact", "m");
        let target = contact
            .split('<')
            .nth(1)
            .and_then(|c| c.split('>').next())
            .unwrap_or(contact)
            .to_string();
        let mut routes = String::new();
        for rr in invite.headers("Record-Route", "").into_iter().rev() {
            routes.push_str(&format!("Route: {rr}\r\n"));
        }
        let branch = self.next_branch();
        let bye = format!(
            "BYE {target} SIP/2.0\r\nVia: SIP/2.0/UDP {};branch={};rport\r\n\
             From: {};tag=benchagent\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: 1 BYE\r\n{routes}\
             Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
            self.local,
            branch,
            invite.header("To", "t"),
            invite.header("From", "f"),
            invite.call_id()
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut resend = Instant::now();
        loop {
            if Instant::now() >= resend {
                self.send(&bye, self.server).await?;
                resend = Instant::now() + Duration::from_millis(500);
            }
            if Instant::now() > deadline {
                return Err("BYE not answered in 10 s".into());
            }
            let Ok((m, _)) = self.recv(Duration::from_millis(100)).await else {
                continue;
            };
            if m.call_id() == invite.call_id() && m.cseq_method() == "BYE" && m.status().is_some() {
                return Ok(());
            }
            self.answer_stray(&m).await?;
        }
    }

    /// What arrives outside the expected exchange: keep-alives, a retransmitted BYE or a
    /// CANCEL answered 200, the rest (responses, retransmitted ACKs) ignored.
    async fn answer_stray(&self, m: &Sip) -> Result<()> {
        if ["OPTIONS", "BYE", "CANCEL"].iter().any(|r| m.is_request(r)) {
            self.reply(m, "200 OK").await?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// The agent's desktop: the event stream, each message stamped as it is read.

struct Seen {
    kind: String,
    agent: String,
    ticket: Option<String>,
    at: Instant,
}

async fn desktop(http_port: u16, token: &str) -> Result<mpsc::UnboundedReceiver<Seen>> {
    let url = format!("ws://127.0.0.1:{http_port}/api/v1/events?token={token}");
    let (mut ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .map_err(|e| format!("event stream: {e}"))?;
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(Ok(msg)) = ws.next().await {
            let at = Instant::now();
            let Message::Text(text) = msg else { continue };
            let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else {
                continue;
            };
            let seen = Seen {
                kind: v["type"].as_str().unwrap_or("").to_string(),
                agent: v["agent"].as_str().unwrap_or("").to_string(),
                ticket: v["ticket"].as_str().map(str::to_string),
                at,
            };
            if tx.send(seen).is_err() {
                return;
            }
        }
    });
    Ok(rx)
}

/// Waits for the next `kind` event for our agent; events of other kinds are skipped.
async fn next_event(rx: &mut mpsc::UnboundedReceiver<Seen>, kind: &str) -> Result<Seen> {
    let deadline = tokio::time::Instant::now() + CALL_LIMIT;
    loop {
        let seen = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .map_err(|_| format!("no {kind} within {CALL_LIMIT:?}"))?
            .ok_or("the event stream closed")?;
        if seen.kind == kind && seen.agent == AGENT {
            return Ok(seen);
        }
    }
}

// ---------------------------------------------------------------------------------------------

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn summary(name: &str, mut v: Vec<f64>) {
    v.sort_by(f64::total_cmp);
    println!(
        "{name}: n={} p50={:.2} ms p99={:.2} ms max={:.2} ms min={:.2} ms",
        v.len(),
        percentile(&v, 50.0),
        percentile(&v, 99.0),
        v[v.len() - 1],
        v[0]
    );
}

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("screen_pop_latency: {e}");
        std::process::exit(1);
    }
}

async fn run() -> Result<()> {
    let args = args()?;
    let (sip_port, http_port) = (free_udp_port()?, free_tcp_port()?);
    let mut server = start_server(&args.centralino, sip_port, http_port)?;
    wait_healthy(&mut server, http_port).await?;
    let server_sip = SocketAddr::from((Ipv4Addr::LOCALHOST, sip_port));

    // The phone: a SIP socket and an RTP socket that takes what the bridge sends.
    let socket = tokio::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .map_err(|e| e.to_string())?;
    let rtp = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).map_err(|e| e.to_string())?;
    let mut phone = Phone {
        local: socket.local_addr().map_err(|e| e.to_string())?,
        socket,
        server: server_sip,
        rtp_port: rtp.local_addr().map_err(|e| e.to_string())?.port(),
        branch: 0,
    };
    phone.register().await?;

    // The desktop: log in as the agent, open the stream, go ready.
    let (status, body) = http(
        http_port,
        "POST",
        "/api/v1/session",
        None,
        Some(&format!(r#"{{"login":"{AGENT}","password":"{PASSWORD}"}}"#)),
    )
    .await?;
    let session: serde_json::Value =
        serde_json::from_str(&body).map_err(|e| format!("login {status}: {e}: {body}"))?;
    let token = session["token"]
        .as_str()
        .ok_or(format!("login {status}: {body}"))?
        .to_string();
    let mut events = desktop(http_port, &token).await?;
    let (status, body) = http(
        http_port,
        "PUT",
        &format!("/api/v1/agents/{AGENT}/state"),
        Some(&token),
        Some(r#"{"state":"ready"}"#),
    )
    .await?;
    if status != 204 {
        return Err(format!("PUT state ready: {status} {body}"));
    }

    // The callers.
    let scenario = workspace().join("tests/sipp/uac_server_bye.xml");
    let caller_port = free_udp_port()?;
    let sipp_log = server.dir.path().join("sipp.log");
    let limit_s = (args.calls as u64 * 2).max(60);
    let mut sipp = Command::new("sipp")
        .arg(format!("127.0.0.1:{sip_port}"))
        .args(["-sf", &scenario.display().to_string()])
        .args(["-s", "800100201", "-i", "127.0.0.1"])
        .args(["-p", &caller_port.to_string()])
        .args(["-m", &args.calls.to_string()])
        .args(["-r", &args.rate.to_string(), "-l", "10"])
        .args([
            "-timeout",
            &format!("{limit_s}s"),
            "-timeout_error",
            "-nostdin",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&sipp_log).map_err(|e| e.to_string())?)
        .spawn()
        .map_err(|e| format!("cannot run sipp ({e}): install sip-tester"))?;

    let mut connected_ms = Vec::with_capacity(args.calls);
    let mut offered_ms = Vec::with_capacity(args.calls);
    let mut without_ticket = 0usize;
    let outcome: Result<()> = async {
        for n in 0..args.calls {
            // The next offer.
            let (invite, invite_at) = loop {
                let (m, at) = phone
                    .recv(CALL_LIMIT)
                    .await
                    .map_err(|e| format!("call {n}: {e}"))?;
                if m.is_request("INVITE") {
                    break (m, at);
                }
                phone.answer_stray(&m).await?;
            };
            let offered = next_event(&mut events, "call.offered").await?;
            offered_ms.push(signed_ms(invite_at, offered.at));
            // Answer: t0 is the instant the 200 OK is handed to the socket.
            let ok = phone.ok_for(&invite);
            let t0 = phone.send(&ok, invite.from).await?;
            let connected = next_event(&mut events, "call.connected").await?;
            connected_ms.push(signed_ms(t0, connected.at));
            if connected.ticket.is_none() {
                without_ticket += 1;
            }
            // The ACK (the 200 again for a retransmitted INVITE), then the agent hangs up.
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                let (m, _) = phone.recv(Duration::from_millis(500)).await.unwrap_or((
                    Sip {
                        text: String::new(),
                        from: invite.from,
                    },
                    Instant::now(),
                ));
                if m.is_request("ACK") && m.call_id() == invite.call_id() {
                    break;
                }
                if m.text.is_empty() || (m.is_request("INVITE") && m.call_id() == invite.call_id())
                {
                    phone.send(&ok, invite.from).await?;
                } else {
                    phone.answer_stray(&m).await?;
                }
                if Instant::now() > deadline {
                    return Err(format!("call {n}: no ACK for the 200 OK"));
                }
            }
            phone.hang_up(&invite).await?;
        }
        Ok(())
    }
    .await;
    let sipp_status = tokio::task::spawn_blocking(move || sipp.wait())
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    drop(rtp);
    outcome?;
    if !sipp_status.success() {
        return Err(format!(
            "SIPp failed ({sipp_status}); see {}",
            sipp_log.display()
        ));
    }
    if let Some(path) = &args.samples {
        let mut csv = String::from("call,connected_ms,offered_ms\n");
        for (n, (c, o)) in connected_ms.iter().zip(&offered_ms).enumerate() {
            csv.push_str(&format!("{n},{c:.3},{o:.3}\n"));
        }
        std::fs::write(path, csv).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    println!(
        "screen-pop latency over {} calls ({} cps offered, queue cittadini, agent {AGENT}, \
         release build {}):",
        args.calls,
        args.rate,
        args.centralino.display()
    );
    summary(
        "200 OK sent by the phone -> call.connected (with the ticket) on the agent's WebSocket",
        connected_ms,
    );
    summary(
        "INVITE received by the phone -> call.offered on the agent's WebSocket (signed)",
        offered_ms,
    );
    // Where the time goes inside the server: its own log stamps, per call, from the answer
    // being handled ("agent answered: bridged") to the ticket written ("Service Request
    // opened"); call.connected is published right after the latter.
    let log = std::fs::read_to_string(server.dir.path().join("server.log")).unwrap_or_default();
    let inside = ticket_write_ms(&log);
    if !inside.is_empty() {
        summary(
            "inside the server: answer handled -> Service Request written (server log)",
            inside,
        );
    }
    if without_ticket > 0 {
        return Err(format!(
            "{without_ticket} call.connected events had no ticket"
        ));
    }
    Ok(())
}

/// Per call (by `call_id=` in the span), the milliseconds between the log lines "agent
/// answered: bridged" and "Service Request opened".
fn ticket_write_ms(log: &str) -> Vec<f64> {
    let mut answered = std::collections::HashMap::new();
    let mut out = Vec::new();
    for line in log.lines() {
        let Some(at) = line
            .split_whitespace()
            .next()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        else {
            continue;
        };
        let Some(call) = line
            .split("call{call_id=")
            .nth(1)
            .and_then(|r| r.split([' ', '}']).next())
        else {
            continue;
        };
        if line.contains("agent answered: bridged") {
            answered.insert(call.to_string(), at);
        } else if line.contains("Service Request opened")
            && let Some(start) = answered.remove(call)
        {
            let us = (at - start).num_microseconds().unwrap_or(0);
            out.push(us as f64 / 1000.0);
        }
    }
    out
}

/// `later - earlier` in milliseconds, negative when `later` came first.
fn signed_ms(earlier: Instant, later: Instant) -> f64 {
    match later.checked_duration_since(earlier) {
        Some(d) => d.as_secs_f64() * 1000.0,
        None => -(earlier.duration_since(later).as_secs_f64() * 1000.0),
    }
}
