//! The HTTP server's limits over real sockets on loopback (`console::server`): slow headers
//! are cut, requests are bounded, connections over the caps are closed at once while the
//! others are served. The limits are small so each test takes a few seconds.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ConnectInfo;
use axum::routing::{get, put};
use console::server::{HttpLimits, serve};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::watch;

/// Longest any single wait of these tests may take.
const WAIT: Duration = Duration::from_secs(10);

/// A small application: `/ok` answers with the TCP peer's address, `/client` with the client's
/// as the rate limits see it, `/pending` never answers,
/// and two routes that take 1.5 s: the event stream's path and a prompt upload.
fn app() -> Router {
    Router::new()
        .route(
            "/ok",
            get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.to_string() }),
        )
        .route(
            "/client",
            get(|console::api::session::ClientAddr(client): console::api::session::ClientAddr| async move {
                format!("client {}", client.map(|ip| ip.to_string()).unwrap_or_default())
            }),
        )
        .route("/pending", get(std::future::pending::<()>))
        .route(
            console::api::openapi::EVENTS_PATH,
            get(|| async {
                tokio::time::sleep(Duration::from_millis(1500)).await;
                "stream"
            }),
        )
        .route(
            "/api/v1/prompts/{lang}/{name}",
            put(|| async {
                tokio::time::sleep(Duration::from_millis(1500)).await;
                "uploaded"
            }),
        )
}

/// Serves [`app`] under `limits` on 127.0.0.1; the sender stops it.
async fn start(limits: HttpLimits) -> (SocketAddr, watch::Sender<bool>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = watch::channel(false);
    tokio::spawn(serve(listener, app(), None, limits, stopped));
    (addr, stop)
}

/// One request on a fresh connection from `from` (127.0.0.1 when `None`): the whole answer
/// as text, or what went wrong.
async fn request(addr: SocketAddr, from: Option<&str>, head: &str) -> Result<String, String> {
    let socket = TcpSocket::new_v4().unwrap();
    if let Some(ip) = from {
        socket
            .bind(format!("{ip}:0").parse().unwrap())
            .map_err(|e| e.to_string())?;
    }
    let mut stream = socket.connect(addr).await.map_err(|e| e.to_string())?;
    stream
        .write_all(head.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut answer = Vec::new();
    match tokio::time::timeout(WAIT, stream.read_to_end(&mut answer)).await {
        Ok(Ok(_)) => Ok(String::from_utf8_lossy(&answer).into_owned()),
        Ok(Err(e)) => Err(format!("{e} after {:?}", String::from_utf8_lossy(&answer))),
        Err(_) => Err("no answer within 10 s".into()),
    }
}

fn get_ok(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
}

/// Waits until the server closes `stream` (EOF or reset); how long that took.
async fn closed_after(stream: &mut TcpStream, since: Instant) -> Duration {
    let mut buf = [0u8; 512];
    loop {
        match tokio::time::timeout(WAIT, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return since.elapsed(),
            // hyper may say 408 before closing.
            Ok(Ok(_)) => continue,
            Err(_) => panic!("still open after 10 s"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_headers_are_cut_at_the_header_timeout_while_others_are_served() {
    let limits = HttpLimits {
        header_timeout: Duration::from_secs(1),
        ..HttpLimits::default()
    };
    let (addr, _stop) = start(limits).await;
    let mut slow = Vec::new();
    let sent = Instant::now();
    for _ in 0..20 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        // Half a header, never finished (slowloris).
        s.write_all(b"GET /ok HTTP/1.1\r\nHost: test\r\nX-Slow: ")
            .await
            .unwrap();
        slow.push(s);
    }
    // One idle connection that sends nothing at all.
    slow.push(TcpStream::connect(addr).await.unwrap());
    // Meanwhile a normal request is answered.
    let answer = request(addr, None, &get_ok("/ok")).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        sent.elapsed() < Duration::from_millis(900),
        "the normal request was slow"
    );
    for s in &mut slow {
        let after = closed_after(s, sent).await;
        assert!(
            after >= Duration::from_millis(900) && after < Duration::from_secs(4),
            "closed after {after:?}, expected about 1 s"
        );
    }
    // And the server still serves.
    let answer = request(addr, None, &get_ok("/ok")).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_are_bounded_but_not_the_event_stream_nor_uploads() {
    let limits = HttpLimits {
        request_timeout: Duration::from_secs(1),
        upload_timeout: Duration::from_secs(5),
        ..HttpLimits::default()
    };
    let (addr, _stop) = start(limits).await;
    let started = Instant::now();
    let answer = request(addr, None, &get_ok("/pending")).await.unwrap();
    let took = started.elapsed();
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("application/problem+json"), "{answer}");
    assert!(answer.contains("not answered within 1 s"), "{answer}");
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(4),
        "{took:?}"
    );
    let answer = request(addr, None, &get_ok(console::api::openapi::EVENTS_PATH))
        .await
        .unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 200") && answer.ends_with("stream"),
        "{answer}"
    );
    let upload = "PUT /api/v1/prompts/it/welcome HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\
                  Content-Length: 4\r\n\r\nRIFF";
    let answer = request(addr, None, upload).await.unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 200") && answer.ends_with("uploaded"),
        "{answer}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_cap_are_closed_at_once_and_a_freed_slot_serves_again() {
    let limits = HttpLimits {
        header_timeout: Duration::from_secs(30),
        max_connections: 4,
        max_connections_per_address: 100,
        ..HttpLimits::default()
    };
    let (addr, _stop) = start(limits).await;
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(TcpStream::connect(addr).await.unwrap());
    }
    // The fifth and sixth are accepted after the four, and closed at once (not after the
    // 30 s header time-out).
    for _ in 0..2 {
        let since = Instant::now();
        let mut extra = TcpStream::connect(addr).await.unwrap();
        let after = closed_after(&mut extra, since).await;
        assert!(after < Duration::from_secs(2), "closed after {after:?}");
    }
    // The held ones are still open: a request on one of them is answered.
    let mut first = held.remove(0);
    first.write_all(get_ok("/ok").as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(WAIT, first.read_to_end(&mut answer))
        .await
        .unwrap()
        .unwrap();
    assert!(answer.starts_with(b"HTTP/1.1 200"), "{answer:?}");
    drop(held);
    // Once the server has seen them go, a legitimate client is served again.
    let deadline = Instant::now() + WAIT;
    loop {
        match request(addr, None, &get_ok("/ok")).await {
            Ok(a) if a.starts_with("HTTP/1.1 200") => break,
            other => assert!(Instant::now() < deadline, "not served again: {other:?}"),
        }
        tokio::task::yield_now().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_cannot_take_every_connection() {
    let limits = HttpLimits {
        header_timeout: Duration::from_secs(30),
        max_connections: 100,
        max_connections_per_address: 3,
        ..HttpLimits::default()
    };
    let (addr, _stop) = start(limits).await;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(TcpStream::connect(addr).await.unwrap());
    }
    let since = Instant::now();
    let mut fourth = TcpStream::connect(addr).await.unwrap();
    let after = closed_after(&mut fourth, since).await;
    assert!(after < Duration::from_secs(2), "closed after {after:?}");
    // Another loopback address (127.0.0.0/8 is all loopback) is served meanwhile.
    let answer = request(addr, Some("127.0.0.2"), &get_ok("/ok"))
        .await
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        answer.contains("\r\n\r\n127.0.0.2:"),
        "served as 127.0.0.2: {answer}"
    );
    drop(held);
}

/// Behind a trusted proxy the client is the address the proxy names in `X-Forwarded-For`;
/// from anyone else the header is the client's own words and ignored.
#[tokio::test]
async fn forwarded_for_names_the_client_only_from_a_trusted_proxy() {
    let limits = HttpLimits {
        trusted_proxies: vec!["127.0.0.1/32".parse().unwrap()],
        ..HttpLimits::default()
    };
    let (addr, _stop) = start(limits).await;
    let head = "GET /client HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\
                X-Forwarded-For: 127.0.0.9, 203.0.113.5\r\n\r\n";
    let via_proxy = request(addr, Some("127.0.0.1"), head).await.unwrap();
    assert!(via_proxy.ends_with("client 203.0.113.5"), "{via_proxy}");
    let direct = request(addr, Some("127.0.0.2"), head).await.unwrap();
    assert!(direct.ends_with("client 127.0.0.2"), "{direct}");
    let no_header = request(addr, Some("127.0.0.1"), &get_ok("/client"))
        .await
        .unwrap();
    assert!(no_header.ends_with("client 127.0.0.1"), "{no_header}");
}
