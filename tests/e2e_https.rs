//! End to end: the web side over HTTPS from the configuration's certificate and key
//! (`[http] tls_cert`, `tls_key`; rustls). A certificate for 127.0.0.1 is made by `openssl`
//! for the test; `curl` is the client, trusting only that certificate. Checked: the health
//! check and a sign-in over TLS, the session cookie `Secure`, HSTS, no plain HTTP on that
//! port, and a clear refusal to start when the key does not load.

mod common;

use std::fs;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// A self-signed certificate for 127.0.0.1 (and its key) in `dir`.
fn certificate(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let out = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "2", "-subj", "/CN=127.0.0.1"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1"])
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
        .args(["--silent", "--show-error", "--max-time", "20"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run curl (Debian package curl)")
}

/// Starts `serve` with `toml` in `dir`; waits for "centralino ready" or an exit.
fn serve(dir: &Path, toml: &str) -> (std::process::Child, std::path::PathBuf) {
    let config = dir.join("centralino.toml");
    fs::write(&config, toml).unwrap();
    let log_path = dir.join("server.log");
    let log = fs::File::create(&log_path).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_centralino"))
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
    (child, log_path)
}

fn wait_for(log_path: &Path, child: &mut std::process::Child, what: &str) -> Option<i32> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if fs::read_to_string(log_path)
            .unwrap_or_default()
            .contains(what)
        {
            return None;
        }
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status.code().unwrap_or(-1));
        }
        assert!(
            Instant::now() < deadline,
            "no \"{what}\" after 60 s:\n{}",
            fs::read_to_string(log_path).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn stop(mut child: std::process::Child) {
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

#[test]
fn the_web_side_is_served_over_https_with_secure_cookies() {
    let dir = TempDir::new("https");
    let (cert, key) = certificate(dir.path());
    let (sip, http) = (free_sip_port(), free_sip_port());
    let rtp = free_rtp_range();
    let toml = format!(
        "[sip]\nlisten = \"127.0.0.1:{sip}\"\n\n\
         [media]\nrtp_port_min = {}\nrtp_port_max = {}\n\n\
         [http]\nlisten = \"127.0.0.1:{http}\"\ntls_cert = \"{}\"\ntls_key = \"{}\"\n\n\
         [database]\ndemo_data = true\n",
        rtp.0,
        rtp.1,
        cert.display(),
        key.display()
    );
    let (mut child, log_path) = serve(dir.path(), &toml);
    let exited = wait_for(&log_path, &mut child, "centralino ready");
    let log = fs::read_to_string(&log_path).unwrap();
    assert!(exited.is_none(), "exited {exited:?}:\n{log}");
    assert!(log.contains("scheme=https"), "{log}");
    let base = format!("https://127.0.0.1:{http}");
    let cacert = cert.display().to_string();

    // The health check, trusting only our certificate.
    let out = curl(&[
        "--cacert",
        &cacert,
        "--include",
        &format!("{base}/api/v1/health"),
    ]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.starts_with("HTTP/1.1 200") || text.starts_with("HTTP/2 200"),
        "{text}"
    );
    assert!(
        text.to_ascii_lowercase()
            .contains("strict-transport-security: max-age=31536000"),
        "{text}"
    );
    // A sign-in: the session cookie is Secure (and HttpOnly).
    let out = curl(&[
        "--cacert",
        &cacert,
        "--include",
        "-H",
        "content-type: application/json",
        "--data",
        r#"{"login":"supervisor","password":"demo-supervisor"}"#,
        &format!("{base}/api/v1/session"),
    ]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let cookie = text
        .lines()
        .find(|l| {
            l.to_ascii_lowercase()
                .starts_with("set-cookie: centralino_session=")
        })
        .unwrap_or_else(|| panic!("no session cookie:\n{text}"));
    assert!(cookie.contains("Secure"), "{cookie}");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    // Plain HTTP on the HTTPS port gets no page.
    let out = curl(&[&format!("http://127.0.0.1:{http}/api/v1/health")]);
    let plain = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(!plain.contains("\"ok\""), "plain HTTP answered: {plain}");
    // A client that does not trust the certificate is refused by its own check.
    let out = curl(&[&format!("{base}/api/v1/health")]);
    assert!(
        !out.status.success(),
        "an untrusted certificate was accepted"
    );
    stop(child);
}

#[test]
fn a_key_that_does_not_load_stops_the_start_with_its_field() {
    let dir = TempDir::new("https-bad");
    let (cert, _) = certificate(dir.path());
    let bad_key = dir.path().join("bad-key.pem");
    fs::write(
        &bad_key,
        "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    let rtp = free_rtp_range();
    let toml = format!(
        "[sip]\nlisten = \"127.0.0.1:{}\"\n\n\
         [media]\nrtp_port_min = {}\nrtp_port_max = {}\n\n\
         [http]\nlisten = \"127.0.0.1:{}\"\ntls_cert = \"{}\"\ntls_key = \"{}\"\n",
        free_sip_port(),
        rtp.0,
        rtp.1,
        free_sip_port(),
        cert.display(),
        bad_key.display()
    );
    let (mut child, log_path) = serve(dir.path(), &toml);
    let exited = wait_for(&log_path, &mut child, "centralino ready");
    let log = fs::read_to_string(&log_path).unwrap();
    assert!(
        exited.is_some_and(|code| code != 0),
        "started anyway:\n{log}"
    );
    assert!(log.contains("http.tls_cert / http.tls_key"), "{log}");
    // A key named without its certificate is a configuration error with its line.
    let half = dir.path().join("half.toml");
    fs::write(
        &half,
        format!("[http]\ntls_key = \"{}\"\n", bad_key.display()),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_centralino"))
        .arg("check-config")
        .arg(&half)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success(), "{said}");
    assert!(said.contains("http.tls_cert"), "{said}");
}

#[test]
fn a_start_that_fails_after_the_media_engine_ends_with_its_error_not_a_panic() {
    // The SIP port is taken (by this test): the start fails after the media runtime is up.
    let taken = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let dir = TempDir::new("sip-taken");
    let rtp = free_rtp_range();
    let toml = format!(
        "[sip]\nlisten = \"127.0.0.1:{port}\"\n\n\
         [media]\nrtp_port_min = {}\nrtp_port_max = {}\n\n\
         [http]\nlisten = \"127.0.0.1:{}\"\n",
        rtp.0,
        rtp.1,
        free_sip_port()
    );
    let (mut child, log_path) = serve(dir.path(), &toml);
    let exited = wait_for(&log_path, &mut child, "centralino ready");
    let log = fs::read_to_string(&log_path).unwrap();
    assert_eq!(exited, Some(1), "{log}");
    assert!(
        log.contains(&format!("cannot listen for SIP on 127.0.0.1:{port}")),
        "{log}"
    );
    assert!(!log.contains("panicked"), "{log}");
    drop(taken);
}
