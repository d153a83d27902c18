//! End to end: the web side's connection limits in the real binary, over plain HTTP and over
//! HTTPS (`[http] header_timeout_s`, `max_connections_per_address`): connections that send
//! half a header (or half nothing) are closed after the header time-out while `curl` is
//! served; connections from one address beyond its cap are closed at once, and a client is
//! served again once they are gone. Small settings keep each run to a few seconds.

mod common;

use std::fs;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// A self-signed certificate for 127.0.0.1 (and its key) in `dir`.
fn certificate(dir: &Path) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let out = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
        .args(["ec_paramgen_curve:prime256v1", "-nodes", "-days", "2"])
        .args([
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("run openssl (Debian package openssl)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (cert, key)
}

fn curl(args: &[&str]) -> Output {
    Command::new("curl")
        .args(["--silent", "--show-error", "--max-time", "10", "--include"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run curl (Debian package curl)")
}

/// Starts `serve` with `toml` in `dir` and waits for "centralino ready".
fn serve(dir: &Path, toml: &str) -> (Child, PathBuf) {
    let config = dir.join("centralino.toml");
    fs::write(&config, toml).unwrap();
    let log_path = dir.join("server.log");
    let log = fs::File::create(&log_path).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_centralino"))
        .arg("serve")
        .arg("--config")
        .arg(&config)
        .arg("--data")
        .arg(dir.join("data"))
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .env_remove("DATABASE_URL")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("start centralino");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let text = fs::read_to_string(&log_path).unwrap_or_default();
        if text.contains("centralino ready") {
            return (child, log_path);
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("exited {status}:\n{text}");
        }
        assert!(Instant::now() < deadline, "not ready after 60 s:\n{text}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn stop(mut child: Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the server did not stop within 20 s of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// How long after `since` the server closed `stream` (EOF or reset), reading what it sends.
fn closed_after(stream: &mut TcpStream, since: Instant) -> Duration {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut buf = [0u8; 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return since.elapsed(),
            Ok(_) => continue,
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                panic!("still open after 10 s")
            }
            Err(_) => return since.elapsed(),
        }
    }
}

fn limits_hold(tls: bool) {
    let dir = TempDir::new(if tls { "limits-https" } else { "limits-http" });
    let (sip, http) = (free_sip_port(), free_sip_port());
    let rtp = free_rtp_range();
    let (tls_lines, scheme, cacert) = if tls {
        let (cert, key) = certificate(dir.path());
        (
            format!(
                "tls_cert = \"{}\"\ntls_key = \"{}\"\n",
                cert.display(),
                key.display()
            ),
            "https",
            vec!["--cacert".to_string(), cert.display().to_string()],
        )
    } else {
        (String::new(), "http", Vec::new())
    };
    let toml = format!(
        "[sip]\nlisten = \"127.0.0.1:{sip}\"\n\n\
         [media]\nrtp_port_min = {}\nrtp_port_max = {}\n\n\
         [http]\nlisten = \"127.0.0.1:{http}\"\n{tls_lines}\
         header_timeout_s = 2\nmax_connections = 64\nmax_connections_per_address = 8\n",
        rtp.0, rtp.1
    );
    let (child, _log) = serve(dir.path(), &toml);
    let health = format!("{scheme}://127.0.0.1:{http}/api/v1/health");
    let ok = |args: &[String]| {
        let mut all: Vec<&str> = args.iter().map(String::as_str).collect();
        all.push(&health);
        let out = curl(&all);
        String::from_utf8_lossy(&out.stdout).into_owned()
    };

    // Six slow connections: half a request header (or half a TLS hello), or nothing.
    let started = Instant::now();
    let mut slow: Vec<TcpStream> = (0..6)
        .map(|i| {
            let mut s = TcpStream::connect(("127.0.0.1", http)).unwrap();
            if i % 2 == 0 {
                let half: &[u8] = if tls {
                    &[0x16, 0x03, 0x01, 0x02, 0x00, 0x01]
                } else {
                    b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-Slow: "
                };
                s.write_all(half).unwrap();
            }
            s
        })
        .collect();
    // Meanwhile a real client is served.
    let answer = ok(&cacert);
    assert!(
        answer.contains(" 200") && answer.contains("\"ok\""),
        "{answer}"
    );
    for s in &mut slow {
        let after = closed_after(s, started);
        assert!(
            after >= Duration::from_millis(1800) && after < Duration::from_secs(6),
            "{scheme}: a slow connection closed after {after:?}, expected about 2 s"
        );
    }

    // Eight idle connections fill this address's cap: the ninth is closed at once.
    let held: Vec<TcpStream> = (0..8)
        .map(|_| TcpStream::connect(("127.0.0.1", http)).unwrap())
        .collect();
    let since = Instant::now();
    let mut ninth = TcpStream::connect(("127.0.0.1", http)).unwrap();
    let after = closed_after(&mut ninth, since);
    assert!(
        after < Duration::from_secs(1),
        "{scheme}: over the cap closed after {after:?}"
    );
    drop(held);
    // Once the server has seen them go, the client is served again.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let answer = ok(&cacert);
        if answer.contains("\"ok\"") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{scheme}: not served again: {answer}"
        );
    }
    stop(child);
}

#[test]
fn slow_and_surplus_connections_are_cut_over_plain_http() {
    limits_hold(false);
}

#[test]
fn slow_and_surplus_connections_are_cut_over_https() {
    limits_hold(true);
}
