//! The HTTP server when the process runs out of descriptors (`EMFILE`): the accept loop backs
//! off instead of spinning, logs the failure once per interval, and serves again once
//! descriptors are free. Alone in its file: it lowers the process's descriptor limit.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use console::server::{HttpLimits, serve};
use tokio::sync::watch;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_descriptors_the_loop_backs_off_logs_once_and_serves_again() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing::subscriber::set_global_default(
        tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish(),
    )
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let (_stop, stopped) = watch::channel(false);
    let app = Router::new().route("/ok", get(|| async { "ok" }));
    tokio::spawn(serve(listener, app, None, HttpLimits::default(), stopped));
    // A soft limit just above what is open now, then every descriptor taken but one.
    let open = std::fs::read_dir("/proc/self/fd").unwrap().count();
    let status = Command::new("prlimit")
        .arg(format!("--pid={}", std::process::id()))
        .arg(format!("--nofile={}:", open + 32))
        .status()
        .expect("run prlimit (util-linux)");
    assert!(status.success());
    let mut files = Vec::new();
    loop {
        match std::fs::File::open("/dev/null") {
            Ok(f) => files.push(f),
            Err(e) if e.raw_os_error() == Some(24) => break,
            Err(e) => panic!("{e}"),
        }
    }
    drop(files.pop());
    // The client takes the last descriptor: the server cannot accept its connection.
    let mut client = std::net::TcpStream::connect(addr).unwrap();
    client
        .write_all(b"GET /ok HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
        .unwrap();
    // For a while the accept keeps failing: it must back off, not spin, and log once.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let failures = |text: &str| text.matches("cannot accept connections").count();
    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert_eq!(failures(&text), 1, "{text}");
    assert!(text.contains("Too many open files"), "{text}");
    // Descriptors free again: the waiting connection is served (within the 1 s back-off).
    drop(files);
    client
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let answer = tokio::task::spawn_blocking(move || {
        let mut answer = String::new();
        client.read_to_string(&mut answer).map(|_| answer)
    })
    .await
    .unwrap()
    .unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 200") && answer.ends_with("ok"),
        "{answer}"
    );
    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert_eq!(failures(&text), 1, "still one line: {text}");
}
