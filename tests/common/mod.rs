//! End-to-end harness: starts the real `centralino serve` on free loopback ports and drives it
//! with SIPp scenarios from `tests/sipp/`. Only 127.0.0.1 is used.
//!
//! - `Server::start(extra_toml)` writes a config (a private RTP port range plus `extra_toml`) into
//!   a fresh temp dir, starts the binary with its log in that dir, and waits for
//!   `GET /api/v1/health` = 200. Drop sends SIGTERM (then SIGKILL) and removes the dir, which is
//!   kept (path printed) when the test failed.
//! - `sipp(scenario, &server, args)` runs one SIPp call and fails the test with SIPp's error and
//!   message logs and the server log when SIPp does not exit 0; `sipp_start` runs it in the
//!   background.
#![allow(dead_code)]

pub mod agents;
pub mod drills;
pub mod keypad;
pub mod web;

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const LOCALHOST: Ipv4Addr = Ipv4Addr::LOCALHOST;
/// SIPp's own bound on a run (`-timeout`); the harness kills it a little later still.
pub const SIPP_TIMEOUT: Duration = Duration::from_secs(20);
/// RTP ports reserved per server.
const RTP_RANGE_LEN: u16 = 200;

/// `tests/sipp`, where the scenarios and their pcap/ folder live (SIPp runs from there).
pub fn sipp_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/sipp")
        .canonicalize()
        .expect("tests/sipp exists")
}

/// True when the process runs as root (SIPp needs raw sockets to play pcap files).
pub fn is_root() -> bool {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(|uid| uid == "0"))
        })
        .unwrap_or(false)
}

/// For tests that play pcap files: false (and a loud message) when not root.
pub fn require_root(test: &str) -> bool {
    if is_root() {
        return true;
    }
    // Written to the stderr handle directly: libtest's capture only hooks the print macros, so
    // this shows up even for a passing (skipped) test under `cargo test`.
    let _ = writeln!(
        std::io::stderr(),
        "\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\
         !! SKIPPED {test}: SIPp plays RTP from pcap files through raw sockets and\n\
         !! must run as root. CI runs as root; run the tests as root to cover it.\n\
         !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n"
    );
    false
}

// ---------------------------------------------------------------------------------------------
// Free ports and temp dirs
//
// Ports come from below the kernel's ephemeral range, so no socket bound to port 0 and no
// outgoing connection (of this test or any other process) can take one between the moment it is
// picked and the moment the server binds it: signalling ports (SIP, HTTP, SIPp) from
// 10000-15999, RTP blocks of 200 from 16000 up to the ephemeral range. Test processes running
// in parallel (nextest) coordinate through lock files `<temp>/centralino-e2e-ports/<port>`
// holding the owner's pid: a lock is honoured while that process lives.

const SIGNAL_PORTS: (u16, u16) = (10_000, 15_999);
const RTP_LOW: u16 = 16_000;

fn reserved() -> &'static Mutex<HashSet<u16>> {
    static RESERVED: OnceLock<Mutex<HashSet<u16>>> = OnceLock::new();
    RESERVED.get_or_init(|| Mutex::new(HashSet::new()))
}

fn lock_dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join("centralino-e2e-ports");
        let _ = fs::create_dir_all(&dir);
        // Sweep locks left by processes that are gone.
        if let Ok(entries) = fs::read_dir(&dir) {
            for entry in entries.flatten() {
                if !lock_owner_alive(&entry.path()) {
                    let _ = fs::remove_file(entry.path());
                }
            }
        }
        dir
    })
}

fn lock_owner_alive(lock: &Path) -> bool {
    match fs::read_to_string(lock) {
        Ok(pid) => {
            let pid = pid.trim();
            !pid.is_empty() && Path::new("/proc").join(pid).exists()
        }
        // Being written right now by its owner: treat as taken.
        Err(_) => true,
    }
}

/// Takes `port` for this process (and every later call in it) unless another live test process
/// holds it.
fn lock_port(port: u16) -> bool {
    let mut taken = reserved().lock().unwrap_or_else(|e| e.into_inner());
    if taken.contains(&port) {
        return false;
    }
    let path = lock_dir().join(port.to_string());
    for _ in 0..2 {
        match fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(mut file) => {
                let _ = write!(file, "{}", std::process::id());
                taken.insert(port);
                return true;
            }
            Err(_) if !lock_owner_alive(&path) => {
                let _ = fs::remove_file(&path);
            }
            Err(_) => return false,
        }
    }
    false
}

fn udp_free(port: u16) -> bool {
    UdpSocket::bind((LOCALHOST, port)).is_ok()
}

fn tcp_free(port: u16) -> bool {
    TcpListener::bind((LOCALHOST, port)).is_ok()
}

/// The first port of the kernel's ephemeral range (sockets bound to port 0 get one at or above).
fn ephemeral_low() -> u16 {
    fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(32_768)
}

fn unique_seed() -> u64 {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed) as u64;
    // splitmix64 of time, pid and a counter: spreads parallel test processes apart.
    let mut z = nanos ^ ((std::process::id() as u64) << 32) ^ n.wrapping_mul(0x9E37_79B9);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A free loopback port for UDP and TCP (with `pair`, `port + 2` too: SIPp's `-mp` binds both),
/// locked for this process.
fn free_port(pair: bool) -> u16 {
    let (low, high) = SIGNAL_PORTS;
    let span = (high - low - 2) as u64;
    for _ in 0..500 {
        let port = low + (unique_seed() % span) as u16;
        if !udp_free(port) || !tcp_free(port) || (pair && !udp_free(port + 2)) {
            continue;
        }
        if !lock_port(port) {
            continue;
        }
        if pair && !lock_port(port + 2) {
            continue;
        }
        return port;
    }
    panic!("no free loopback port found in {low}-{high}");
}

/// A free port on 127.0.0.1, UDP and TCP (for SIP or HTTP).
pub fn free_sip_port() -> u16 {
    free_port(false)
}

/// A block of `RTP_RANGE_LEN` ports between 16000 and the ephemeral range, every port of it
/// free for UDP now, locked for this process (by its first port).
pub fn free_rtp_range() -> (u16, u16) {
    let high = ephemeral_low().clamp(RTP_LOW + 2 * RTP_RANGE_LEN, 32_768);
    let blocks = (high - RTP_LOW) / RTP_RANGE_LEN;
    for _ in 0..200 {
        let block = (unique_seed() % blocks as u64) as u16;
        let min = RTP_LOW + block * RTP_RANGE_LEN;
        let max = min + RTP_RANGE_LEN - 1;
        if !(min..=max).all(udp_free) || !lock_port(min) {
            continue;
        }
        return (min, max);
    }
    panic!("no free RTP port range found between {RTP_LOW} and {high}");
}

/// A fresh directory under the system temp dir, removed on drop unless the test failed.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(label: &str) -> TempDir {
        let name = format!(
            "centralino-e2e-{label}-{}-{:016x}",
            std::process::id(),
            unique_seed()
        );
        let path = std::env::temp_dir().join(name);
        fs::create_dir_all(&path).expect("create temp dir");
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("e2e: test failed, files kept in {}", self.0.display());
        } else {
            let _ = fs::remove_dir_all(&self.0);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The server under test

pub struct Server {
    child: Option<Child>,
    exit: Option<ExitStatus>,
    pub sip_port: u16,
    pub http_port: u16,
    pub rtp_ports: (u16, u16),
    log_path: PathBuf,
    runs: AtomicU32,
    dir: TempDir,
}

/// The command that starts the server: the binary cargo built for this test.
fn server_command() -> Command {
    Command::new(env!("CARGO_BIN_EXE_centralino"))
}

impl Server {
    /// Starts `centralino serve` with a private RTP range, `extra_toml` appended to the config,
    /// and waits (up to 20 s) until its health endpoint answers 200.
    /// The demo configuration (`config/demo.toml`) on this server's ports, plus `extra_toml`
    /// (which must not repeat a table the demo has).
    pub fn start_demo(extra_toml: &str) -> Server {
        Server::start_demo_edited(|demo| demo, extra_toml)
    }

    /// [`Server::start_demo`] with the demo's text changed by `edit` first.
    pub fn start_demo_edited(edit: impl Fn(String) -> String, extra_toml: &str) -> Server {
        let demo = fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/demo.toml"),
        )
        .expect("read config/demo.toml");
        // The demo keeps 512 MiB of disk free for voicemail; test machines may have less,
        // and the voicemail tests are about messages, not the machine (the storage limit has
        // its own test with a zero quota).
        let demo = edit(demo.replacen("min_free_mb = 512", "min_free_mb = 1", 1));
        // The harness writes its own [media] table with the server's private RTP range.
        let mut out = String::new();
        let mut in_media = false;
        for line in demo.lines() {
            let t = line.trim();
            if t.starts_with('[') {
                in_media = t == "[media]";
            }
            if !in_media {
                out.push_str(line);
                out.push('\n');
            }
        }
        out.push_str(extra_toml);
        Server::start(&out)
    }

    pub fn start(extra_toml: &str) -> Server {
        let dir = TempDir::new("server");
        let sip_port = free_sip_port();
        let http_port = free_sip_port();
        let rtp_ports = free_rtp_range();
        let config_path = dir.path().join("centralino.toml");
        let config = format!(
            "[media]\nrtp_port_min = {}\nrtp_port_max = {}\n{}\n",
            rtp_ports.0, rtp_ports.1, extra_toml
        );
        fs::write(&config_path, &config).expect("write config");
        let log_path = dir.path().join("server.log");
        let mut server = Server {
            child: None,
            exit: None,
            sip_port,
            http_port,
            rtp_ports,
            log_path,
            runs: AtomicU32::new(0),
            dir,
        };
        server.spawn();
        server.wait_healthy(&config);
        server
    }

    /// Stops the server gracefully (SIGTERM) and starts it again on the same ports, data
    /// directory and configuration; waits until it is healthy. The log goes on in the same
    /// file.
    pub fn restart(&mut self) {
        self.sigterm();
        let status = self
            .wait_exit(Duration::from_secs(20))
            .expect("the server did not stop within 20 s of SIGTERM");
        assert!(status.success(), "the server stopped with {status}");
        self.exit = None;
        self.spawn();
        let config =
            fs::read_to_string(self.dir.path().join("centralino.toml")).expect("read config");
        self.wait_healthy(&config);
    }

    /// Kills the server with SIGKILL (no shutdown of any kind: a crash) and waits for it.
    pub fn kill9(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            self.exit = child.wait().ok();
        }
    }

    /// Starts the server again after it ended (however it ended), on the same ports, data
    /// directory and configuration; waits until it is healthy.
    pub fn start_again(&mut self) {
        assert!(self.try_wait().is_some(), "the server still runs");
        self.exit = None;
        self.spawn();
        let config =
            fs::read_to_string(self.dir.path().join("centralino.toml")).expect("read config");
        self.wait_healthy(&config);
    }

    /// Starts the process (its log appended to `server.log`).
    fn spawn(&mut self) {
        let dir = &self.dir;
        let config_path = dir.path().join("centralino.toml");
        let data = dir.path().join("data");
        let (sip_port, http_port) = (self.sip_port, self.http_port);
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .expect("open server log");
        let mut command = server_command();
        command
            .arg("serve")
            .arg("--config")
            .arg(&config_path)
            .arg("--data")
            .arg(&data)
            .arg("--sip-listen")
            .arg(format!("127.0.0.1:{sip_port}"))
            .arg("--http-listen")
            .arg(format!("127.0.0.1:{http_port}"))
            .current_dir(dir.path())
            .env(
                "RUST_LOG",
                std::env::var("E2E_SERVER_LOG").unwrap_or_else(|_| "info,call::dtmf=debug".into()),
            )
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone log handle"))
            .stderr(log);
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the server ({command:?}): {e}"));
        self.child = Some(child);
    }

    fn wait_healthy(&mut self, config: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok((200, _)) = self.http_get("/api/v1/health") {
                return;
            }
            if let Some(status) = self.try_wait() {
                panic!(
                    "the server exited ({status}) before it was healthy\n--- config ---\n{config}\n--- server log ---\n{}",
                    self.log()
                );
            }
            if Instant::now() > deadline {
                panic!(
                    "the server was not healthy after 20 s (GET /api/v1/health)\n--- config ---\n{config}\n--- server log ---\n{}",
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn sip_addr(&self) -> SocketAddr {
        SocketAddr::from((LOCALHOST, self.sip_port))
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// Everything the server logged so far.
    pub fn log(&self) -> String {
        fs::read(&self.log_path)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// Waits (polling every 50 ms) until `predicate(log)` holds; false on timeout.
    pub fn wait_log(&self, predicate: impl Fn(&str) -> bool, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if predicate(&self.log()) {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The log lines of one call (those carrying `sip_call_id=<call_id>`).
    pub fn call_log(&self, call_id: &str) -> Vec<String> {
        self.log()
            .lines()
            .filter(|l| field(l, "sip_call_id").as_deref() == Some(call_id))
            .map(str::to_string)
            .collect()
    }

    /// The digits logged as `dtmf received` for one call, in order.
    pub fn dtmf_digits(&self, call_id: &str) -> Vec<String> {
        self.call_log(call_id)
            .iter()
            .filter(|l| l.contains("dtmf received"))
            .filter_map(|l| field(l, "digit"))
            .collect()
    }

    /// Minimal HTTP/1.1 GET on the server's HTTP port: (status, body).
    pub fn http_get(&self, path: &str) -> std::io::Result<(u16, String)> {
        self.http("GET", path, None, None)
    }

    /// Minimal HTTP/1.1 request with an optional bearer token and JSON body: (status, body).
    pub fn http(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        json: Option<&str>,
    ) -> std::io::Result<(u16, String)> {
        let addr = SocketAddr::from((LOCALHOST, self.http_port));
        let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        let mut request = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n",
            self.http_port
        );
        if let Some(token) = token {
            request.push_str(&format!("Authorization: Bearer {token}\r\n"));
        }
        let body = json.unwrap_or("");
        if json.is_some() {
            request.push_str("Content-Type: application/json\r\n");
        }
        request.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
        stream.write_all(request.as_bytes())?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw)?;
        let text = String::from_utf8_lossy(&raw);
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("bad HTTP response: {head:?}")))?;
        let body = if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            dechunk(body)
        } else {
            body.to_string()
        };
        Ok((status, body))
    }

    /// An HTTP/1.1 request with a raw body of `content_type` (a WAV, an archive): the status
    /// and the body's bytes.
    pub fn http_bytes(
        &self,
        method: &str,
        path: &str,
        token: &str,
        content_type: &str,
        body: &[u8],
    ) -> std::io::Result<(u16, Vec<u8>)> {
        let addr = SocketAddr::from((LOCALHOST, self.http_port));
        let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\
             Authorization: Bearer {token}\r\nContent-Type: {content_type}\r\n\
             Content-Length: {}\r\n\r\n",
            self.http_port,
            body.len()
        );
        stream.write_all(head.as_bytes())?;
        stream.write_all(body)?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw)?;
        let split = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .ok_or_else(|| std::io::Error::other("no HTTP head"))?;
        let head = String::from_utf8_lossy(&raw[..split]).into_owned();
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("bad HTTP response: {head:?}")))?;
        Ok((status, raw[split + 4..].to_vec()))
    }

    /// Logs in through the API; the bearer token.
    pub fn login(&self, login: &str, password: &str) -> String {
        let body = format!("{{\"login\":\"{login}\",\"password\":\"{password}\"}}");
        let (status, text) = self
            .http("POST", "/api/v1/session", None, Some(&body))
            .expect("login request");
        assert_eq!(status, 200, "login {login}: {text}");
        let v: serde_json::Value = serde_json::from_str(&text).expect("login answer is JSON");
        v["token"].as_str().expect("a token").to_string()
    }

    /// `GET path` with a bearer token, parsed as JSON; panics unless 200.
    pub fn api_get(&self, path: &str, token: &str) -> serde_json::Value {
        let (status, text) = self
            .http("GET", path, Some(token), None)
            .expect("API request");
        assert_eq!(status, 200, "GET {path}: {text}");
        serde_json::from_str(&text).expect("JSON answer")
    }

    /// The exit status if the process has ended.
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        if self.exit.is_none()
            && let Some(child) = self.child.as_mut()
            && let Ok(Some(status)) = child.try_wait()
        {
            self.exit = Some(status);
        }
        self.exit
    }

    /// Sends SIGTERM (graceful shutdown).
    /// Sends SIGHUP (configuration reload).
    pub fn sighup(&self) {
        if let Some(pid) = self.pid() {
            let _ = Command::new("kill")
                .arg("-HUP")
                .arg(pid.to_string())
                .status();
        }
    }

    pub fn sigterm(&self) {
        if let Some(pid) = self.pid() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(pid.to_string())
                .status();
        }
    }

    /// Waits up to `timeout` for the process to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_wait() {
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn next_run(&self, scenario: &str) -> String {
        let n = self.runs.fetch_add(1, Ordering::Relaxed);
        format!("sipp{n}-{}", scenario.trim_end_matches(".xml"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.try_wait().is_none() {
            self.sigterm();
            if self.wait_exit(Duration::from_secs(5)).is_none()
                && let Some(child) = self.child.as_mut()
            {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        if std::thread::panicking() {
            eprintln!(
                "--- server log ({}) ---\n{}",
                self.log_path.display(),
                tail(&self.log(), 200)
            );
        }
    }
}

fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, after)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || after.len() < n {
            break;
        }
        out.push_str(&after[..n]);
        rest = after[n..].trim_start_matches("\r\n");
    }
    out
}

/// The last `n` lines of `text`.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// The value of `name=value` in a tracing fmt line (span fields or event fields); quotes
/// (Debug formatting) are stripped. `field(l, "digit")` on `... dtmf received digit=5` is "5".
pub fn field(line: &str, name: &str) -> Option<String> {
    let key = format!("{name}=");
    let mut from = 0;
    while let Some(pos) = line[from..].find(&key) {
        let start = from + pos;
        let boundary = start == 0
            || matches!(
                line.as_bytes()[start - 1],
                b' ' | b'{' | b',' | b':' | b'\t'
            );
        if boundary {
            let value = &line[start + key.len()..];
            let value = if let Some(quoted) = value.strip_prefix('"') {
                quoted.split('"').next().unwrap_or("")
            } else if let Some(quoted) = value.strip_prefix('\'') {
                quoted.split('\'').next().unwrap_or("")
            } else {
                value
                    .split(|c: char| c.is_whitespace() || c == '}' || c == ',')
                    .next()
                    .unwrap_or("")
            };
            return Some(value.to_string());
        }
        from = start + key.len();
    }
    None
}

// ---------------------------------------------------------------------------------------------
// SIPp

/// The outcome of one SIPp run, with its logs.
#[derive(Debug)]
pub struct SippResult {
    pub name: String,
    pub scenario: String,
    pub command: String,
    pub status: Option<ExitStatus>,
    pub elapsed: Duration,
    /// `-trace_msg`: every SIP message sent and received.
    pub messages: String,
    /// `-trace_err`: unexpected messages, failed regexp checks, timeouts.
    pub errors: String,
    /// SIPp's stdout/stderr and final statistics screen.
    pub output: String,
}

impl SippResult {
    pub fn success(&self) -> bool {
        self.status.is_some_and(|s| s.success())
    }

    /// The Call-ID of the (first) call.
    pub fn call_id(&self) -> String {
        self.messages
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                let name = name.trim();
                (name.eq_ignore_ascii_case("Call-ID") || name == "i")
                    .then(|| value.trim().to_string())
            })
            .unwrap_or_else(|| panic!("no Call-ID in SIPp's message log\n{}", self.report()))
    }

    /// SIP messages of the message log, each with its direction: ("sent" | "received", text).
    pub fn sip_messages(&self) -> Vec<(&'static str, String)> {
        const RULE: &str = "-----------------------------------------------";
        let mut out = Vec::new();
        let mut current: Option<(&'static str, Vec<&str>)> = None;
        let flush = |current: &mut Option<(&'static str, Vec<&str>)>, out: &mut Vec<_>| {
            if let Some((dir, lines)) = current.take()
                && !dir.is_empty()
            {
                out.push((dir, lines.join("\n").trim().to_string()));
            }
        };
        for line in self.messages.lines() {
            if line.contains(RULE) {
                flush(&mut current, &mut out);
                current = Some(("", Vec::new()));
                continue;
            }
            let Some((dir, lines)) = current.as_mut() else {
                continue;
            };
            if dir.is_empty() && line.contains(" message sent") {
                *dir = "sent";
            } else if dir.is_empty() && line.contains(" message received") {
                *dir = "received";
            } else {
                lines.push(line);
            }
        }
        flush(&mut current, &mut out);
        out
    }

    /// Everything useful to understand a failure.
    pub fn report(&self) -> String {
        format!(
            "SIPp run {} ({}) ended with {} after {:.1} s\ncommand: {}\n--- SIPp errors ---\n{}\n--- SIPp messages ---\n{}\n--- SIPp output ---\n{}",
            self.name,
            self.scenario,
            match self.status {
                Some(status) => status.to_string(),
                None => "no exit (killed by the harness after its timeout)".to_string(),
            },
            self.elapsed.as_secs_f64(),
            self.command,
            tail(&self.errors, 80),
            tail(&self.messages, 300),
            tail(&self.output, 40),
        )
    }

    /// Fails the test (with SIPp's logs and the server log) unless SIPp exited 0.
    pub fn assert_ok(&self, server: &Server) {
        assert!(
            self.success(),
            "{}\n--- server log ---\n{}",
            self.report(),
            tail(&server.log(), 150)
        );
    }
}

/// A SIPp process running in the background.
pub struct SippRun {
    child: Child,
    name: String,
    scenario: String,
    command: String,
    started: Instant,
    /// SIPp's own `-timeout`.
    limit: Duration,
    files: (PathBuf, PathBuf, PathBuf, PathBuf),
}

impl SippRun {
    /// Waits for SIPp to exit (killing it past its own timeout + 15 s) and collects its logs.
    pub fn wait(mut self) -> SippResult {
        let deadline = self.started + self.limit + Duration::from_secs(15);
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) if Instant::now() > deadline => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    break None;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                Err(_) => break None,
            }
        };
        let read = |p: &Path| {
            fs::read(p)
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default()
        };
        let (msg, err, screen, out) = &self.files;
        SippResult {
            name: self.name.clone(),
            scenario: self.scenario.clone(),
            command: self.command.clone(),
            status,
            elapsed: self.started.elapsed(),
            messages: read(msg),
            errors: read(err),
            output: format!("{}\n{}", read(out), read(screen)),
        }
    }

    /// Ends SIPp at once (a peer that vanished) and waits for it.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// True while SIPp runs.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIPp's message log so far.
    pub fn messages_so_far(&self) -> String {
        fs::read(&self.files.0)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }
}

/// Starts SIPp with `scenario` (a file in tests/sipp) against the server: one call (`-m 1`,
/// overridable in `args`) to 800100200, from free loopback ports, traces into the server's dir.
pub fn sipp_start(scenario: &str, server: &Server, args: &[&str]) -> SippRun {
    let name = server.next_run(scenario);
    let dir = server.dir();
    let files = (
        dir.join(format!("{name}-messages.log")),
        dir.join(format!("{name}-errors.log")),
        dir.join(format!("{name}-screen.log")),
        dir.join(format!("{name}-output.log")),
    );
    let sipp_port = free_sip_port();
    let media_port = free_port(true);
    let scenario_path = sipp_dir().join(scenario);
    assert!(
        scenario_path.is_file(),
        "no scenario {}",
        scenario_path.display()
    );
    let mut argv: Vec<String> = vec![
        format!("127.0.0.1:{}", server.sip_port),
        "-sf".into(),
        scenario_path.display().to_string(),
        "-s".into(),
        "800100200".into(),
        "-i".into(),
        "127.0.0.1".into(),
        "-p".into(),
        sipp_port.to_string(),
        "-mp".into(),
        media_port.to_string(),
        "-timeout_error".into(),
        "-nostdin".into(),
        "-trace_msg".into(),
        "-message_file".into(),
        files.0.display().to_string(),
        "-trace_err".into(),
        "-error_file".into(),
        files.1.display().to_string(),
        "-trace_screen".into(),
        "-screen_file".into(),
        files.2.display().to_string(),
    ];
    if !args.contains(&"-m") {
        argv.extend(["-m".into(), "1".into()]);
    }
    // A test may give SIPp a longer bound (`-timeout 90s`); the harness's follows it.
    let limit = args
        .iter()
        .position(|a| *a == "-timeout")
        .and_then(|i| args.get(i + 1))
        .and_then(|t| t.trim_end_matches('s').parse().ok())
        .map_or(SIPP_TIMEOUT, Duration::from_secs);
    if !args.contains(&"-timeout") {
        argv.extend(["-timeout".into(), format!("{}s", SIPP_TIMEOUT.as_secs())]);
    }
    argv.extend(args.iter().map(|s| s.to_string()));
    let out = File::create(&files.3).expect("create SIPp output file");
    let command = format!("(cd {} && sipp {})", sipp_dir().display(), argv.join(" "));
    let child = Command::new("sipp")
        .args(&argv)
        .current_dir(sipp_dir())
        .stdin(Stdio::null())
        .stdout(out.try_clone().expect("clone output handle"))
        .stderr(out)
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run sipp ({e}): install SIPp (Debian package sip-tester), e.g. with \
                 scripts/install-test-deps.sh"
            )
        });
    SippRun {
        child,
        name,
        scenario: scenario.to_string(),
        command,
        started: Instant::now(),
        limit,
        files,
    }
}

/// Runs SIPp to completion; fails the test (with all logs) unless it exits 0.
pub fn sipp(scenario: &str, server: &Server, args: &[&str]) -> SippResult {
    let result = sipp_start(scenario, server, args).wait();
    result.assert_ok(server);
    result
}

/// Runs SIPp to completion and returns the result whatever it is.
pub fn try_sipp(scenario: &str, server: &Server, args: &[&str]) -> SippResult {
    sipp_start(scenario, server, args).wait()
}

// ---------------------------------------------------------------------------------------------
// RTP and raw SIP helpers

/// One received RTP packet, decoded.
#[derive(Debug, Clone)]
pub struct RtpPacket {
    pub at: Instant,
    pub from: SocketAddr,
    pub marker: bool,
    pub payload_type: u8,
    pub seq: u16,
    pub timestamp: u32,
    pub ssrc: u32,
    pub payload_len: usize,
    /// G.711 payload (PT 0 or 8) with at least a few samples well above silence.
    pub audible: bool,
}

impl RtpPacket {
    pub fn parse(data: &[u8], from: SocketAddr, at: Instant) -> Option<RtpPacket> {
        if data.len() < 12 || data[0] >> 6 != 2 {
            return None;
        }
        let csrc = (data[0] & 0x0f) as usize;
        let mut header = 12 + 4 * csrc;
        if data[0] & 0x10 != 0 {
            let ext = data.get(header + 2..header + 4)?;
            header += 4 + 4 * u16::from_be_bytes([ext[0], ext[1]]) as usize;
        }
        let mut end = data.len();
        if data[0] & 0x20 != 0 {
            end = end.checked_sub(*data.last()? as usize)?;
        }
        let payload_type = data[1] & 0x7f;
        let payload = data.get(header..end)?;
        // G.711 segment (exponent) of each sample: 3 or more is above ~ -40 dBFS.
        let loud = payload
            .iter()
            .filter(|&&b| match payload_type {
                0 => ((!b >> 4) & 7) >= 3,
                8 => (((b ^ 0x55) >> 4) & 7) >= 3,
                _ => false,
            })
            .count();
        Some(RtpPacket {
            at,
            from,
            marker: data[1] & 0x80 != 0,
            payload_type,
            seq: u16::from_be_bytes([data[2], data[3]]),
            timestamp: u32::from_be_bytes([data[4], data[5], data[6], data[7]]),
            ssrc: u32::from_be_bytes([data[8], data[9], data[10], data[11]]),
            payload_len: payload.len(),
            audible: loud >= 8,
        })
    }
}

/// Receives RTP on `socket` until `until` returns true or `max` elapses.
pub fn collect_rtp(
    socket: &UdpSocket,
    max: Duration,
    mut until: impl FnMut(&[RtpPacket]) -> bool,
) -> Vec<RtpPacket> {
    socket
        .set_read_timeout(Some(Duration::from_millis(50)))
        .expect("set read timeout");
    let deadline = Instant::now() + max;
    let mut packets = Vec::new();
    let mut buf = [0u8; 2048];
    while Instant::now() < deadline && !until(&packets) {
        if let Ok((n, from)) = socket.recv_from(&mut buf)
            && let Some(p) = RtpPacket::parse(&buf[..n], from, Instant::now())
        {
            packets.push(p);
        }
    }
    packets
}

/// A UDP socket on 127.0.0.1 for sending raw SIP, with its port.
pub fn raw_sip_socket() -> (UdpSocket, u16) {
    let socket = UdpSocket::bind((LOCALHOST, 0)).expect("bind raw SIP socket");
    socket
        .set_read_timeout(Some(Duration::from_millis(100)))
        .expect("set read timeout");
    let port = socket.local_addr().expect("local addr").port();
    (socket, port)
}

/// Sends `data` to the server and collects every datagram answered within `wait`.
pub fn raw_exchange(
    socket: &UdpSocket,
    server: &Server,
    data: &[u8],
    wait: Duration,
) -> Vec<String> {
    socket
        .send_to(data, server.sip_addr())
        .expect("send raw SIP");
    let deadline = Instant::now() + wait;
    let mut out = Vec::new();
    let mut buf = [0u8; 65536];
    while Instant::now() < deadline {
        if let Ok((n, _)) = socket.recv_from(&mut buf) {
            out.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
    }
    out
}

/// Sends one INVITE (to the demo's 800100200, from `caller`, Call-ID `call_id`) from a raw
/// socket and returns every answer within 2 s: with `sip.max_calls` calls in progress the
/// server answers 503 and logs `call.refused`.
pub fn invite_over_capacity(server: &Server, call_id: &str, caller: &str) -> Vec<String> {
    let (socket, port) = raw_sip_socket();
    let sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
               m=audio 40000 RTP/AVP 0\r\n";
    let invite = format!(
        "INVITE sip:800100200@{addr} SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK{call_id};rport\r\n\
         From: <sip:{caller}@127.0.0.1:{port}>;tag=r1\r\n\
         To: <sip:800100200@{addr}>\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: 1 INVITE\r\n\
         Contact: <sip:{caller}@127.0.0.1:{port}>\r\n\
         Max-Forwards: 70\r\n\
         Content-Type: application/sdp\r\n\
         Content-Length: {}\r\n\r\n{sdp}",
        sdp.len(),
        addr = server.sip_addr(),
    );
    raw_exchange(&socket, server, invite.as_bytes(), Duration::from_secs(2))
}

/// A configuration whose IVR plays `prompt`, then listens: every digit is collected (and
/// logged) until the caller is silent for `idle_s`, then the server hangs up. The end-to-end
/// tests of the trunk and media use it to hold a call open without a menu.
pub fn listening(answer_delay_ms: u64, prompt: &str, idle_s: u64) -> String {
    format!(
        "[call]\nanswer_delay_ms = {answer_delay_ms}\n\n\
         [ivr]\ndefault_entry = \"listen\"\n\n\
         [ivr.nodes.listen]\nkind = \"collect\"\nprompts = \"{prompt}\"\nstore = \"digits\"\n\
         max_digits = 64\nterminator = \"\"\ndigit_timeout_ms = {ms}\ninter_digit_timeout_ms = {ms}\n\
         next = \"bye\"\n\n\
         [ivr.nodes.bye]\nkind = \"hangup\"\n",
        ms = idle_s * 1000
    )
}

/// The strongest of `candidates` (Hz) in 16-bit mono PCM at 8 kHz (Goertzel).
pub fn dominant(samples: &[i16], candidates: &[f64]) -> f64 {
    let power = |f: f64| {
        let k = 2.0 * (2.0 * std::f64::consts::PI * f / 8000.0).cos();
        let (mut s1, mut s2) = (0.0f64, 0.0f64);
        for &x in samples {
            let s0 = f64::from(x) + k * s1 - s2;
            s2 = s1;
            s1 = s0;
        }
        s1 * s1 + s2 * s2 - k * s1 * s2
    };
    candidates
        .iter()
        .copied()
        .max_by(|a, b| power(*a).total_cmp(&power(*b)))
        .unwrap()
}
