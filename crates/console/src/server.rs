//! The HTTP server: the accept loop, connections over plain TCP or TLS, and the limits that
//! keep one client (or many) from taking every descriptor or worker:
//!
//! - **header time-out** ([`HttpLimits::header_timeout`]): the TLS handshake and each
//!   request's header must arrive within it, idle keep-alive connections included
//!   (slowloris); the connection is closed otherwise;
//! - **request time-out** ([`HttpLimits::request_timeout`]): a request's answer (its body read
//!   included) must be ready within it, else 503; prompt uploads and restores have their own
//!   longer bound ([`HttpLimits::upload_timeout`]) and the event stream none (its upgrade
//!   answers at once, and the stream checks its session itself);
//! - **connection caps** ([`HttpLimits::max_connections`] in all,
//!   [`HttpLimits::max_connections_per_address`] per client address): a connection over a cap
//!   is closed as soon as it is accepted; a WebSocket counts until it closes;
//! - **accept failures** (descriptors exhausted: `EMFILE`, `ENFILE`, memory): the loop backs
//!   off (10 ms doubling to 1 s) instead of spinning.
//!
//! Each of these logs at most once per [`LOG_EVERY`], with the count of what it did not log.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use hyper::server::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tower::ServiceExt;

/// A throttled log line is written at most this often.
pub const LOG_EVERY: Duration = Duration::from_secs(10);

/// The server's limits (`[http]` settings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpLimits {
    /// The TLS handshake, and each request's header, must arrive within this.
    pub header_timeout: Duration,
    /// A request must be answered within this (503 otherwise).
    pub request_timeout: Duration,
    /// A prompt upload or restore (up to 20 MB) must be answered within this.
    pub upload_timeout: Duration,
    /// Connections open at once, in all.
    pub max_connections: usize,
    /// Connections open at once from one client address (IPv6: one /64).
    pub max_connections_per_address: usize,
    /// Reverse proxies whose `X-Forwarded-For` is believed: a request from one of them is
    /// taken as coming from the address it names ([`forwarded_client`]).
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            header_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            upload_timeout: Duration::from_secs(300),
            max_connections: 1024,
            max_connections_per_address: 128,
            trusted_proxies: Vec::new(),
        }
    }
}

/// The client's address as the application sees it (a request extension set by [`serve`]):
/// the TCP peer, or, when the peer is a trusted proxy, the address its `X-Forwarded-For`
/// names. Rate limits, `/metrics`' loopback rule and logs use it; the connection caps count
/// TCP peers (a proxy is one address there).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

/// The client behind `peer`: `peer` itself unless it is in `trusted`; then the
/// `X-Forwarded-For` chain (every such header, in order, comma-separated) is read from the
/// right, skipping addresses in `trusted` (proxies behind proxies), and the first other
/// address is the client. Entries to its left were written by the client and are not
/// believed. A malformed entry ends the walk at the last address believed, so a client
/// cannot hide behind garbage; a chain of trusted proxies only gives its leftmost.
pub fn forwarded_client(peer: IpAddr, headers: &HeaderMap, trusted: &[ipnet::IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let entries: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .flat_map(|value| value.to_str().unwrap_or("!").split(','))
        .map(str::trim)
        .collect();
    let mut client = peer;
    for entry in entries.iter().rev() {
        let Some(ip) = parse_forwarded_entry(entry) else {
            return client;
        };
        client = ip;
        if !is_trusted(&ip) {
            return ip;
        }
    }
    client
}

/// One `X-Forwarded-For` entry: an address, IPv6 maybe in brackets, maybe with a port.
fn parse_forwarded_entry(entry: &str) -> Option<IpAddr> {
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(addr) = entry.parse::<SocketAddr>() {
        return Some(addr.ip());
    }
    entry
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .and_then(|inner| inner.parse().ok())
}

/// A log line written at most once per [`LOG_EVERY`].
#[derive(Debug, Default)]
struct Throttle {
    last: Option<Instant>,
    suppressed: u64,
}

impl Throttle {
    /// `Some(lines not written since the last one)` when a line may be written at `now`.
    fn allow(&mut self, now: Instant) -> Option<u64> {
        match self.last {
            Some(last) if now.duration_since(last) < LOG_EVERY => {
                self.suppressed += 1;
                None
            }
            _ => {
                self.last = Some(now);
                Some(std::mem::take(&mut self.suppressed))
            }
        }
    }
}

/// The address a per-address cap counts: the IPv4 address, or the IPv6 /64 (one host's
/// privacy addresses share it).
fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

/// Open connections per client address.
#[derive(Debug, Default)]
struct PerAddress {
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// One connection's place under the caps; dropping it frees both.
struct Slot {
    _global: OwnedSemaphorePermit,
    per_address: Arc<PerAddress>,
    key: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self
            .per_address
            .open
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(n) = open.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.key);
            }
        }
    }
}

/// A connection's stream with its [`Slot`]: the slot lives as long as the stream, after a
/// WebSocket upgrade too.
struct Held<I> {
    io: I,
    _slot: Slot,
}

impl<I: AsyncRead + Unpin> AsyncRead for Held<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Held<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

/// Whether an accept error concerns only the connection being accepted (the next accept
/// may succeed at once), as opposed to the process (descriptors, memory).
fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
    )
}

/// The request time-outs as a layer: `timeouts` over `app`.
fn with_deadlines(app: Router, limits: &HttpLimits) -> Router {
    app.layer(middleware::from_fn_with_state(
        Deadlines {
            request: limits.request_timeout,
            upload: limits.upload_timeout,
        },
        deadline,
    ))
}

#[derive(Debug, Clone, Copy)]
struct Deadlines {
    request: Duration,
    upload: Duration,
}

/// Answers 503 when `next` takes longer than the request's bound (none for the event
/// stream's upgrade, the longer one for prompt uploads and restores).
async fn deadline(State(d): State<Deadlines>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if path == crate::api::openapi::EVENTS_PATH {
        return next.run(request).await;
    }
    let upload = (request.method() == Method::PUT && path.starts_with("/api/v1/prompts/"))
        || (request.method() == Method::POST && path == "/api/v1/prompts/restore");
    let bound = if upload { d.upload } else { d.request };
    match tokio::time::timeout(bound, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            let body = serde_json::json!({
                "type": "urn:centralino:problem:timeout",
                "title": "Service Unavailable",
                "status": 503,
                "detail": format!("the request was not answered within {} s", bound.as_secs_f64()),
            });
            (
                StatusCode::SERVICE_UNAVAILABLE,
                [
                    (header::CONTENT_TYPE, "application/problem+json"),
                    (header::CONNECTION, "close"),
                ],
                body.to_string(),
            )
                .into_response()
        }
    }
}

/// Serves `app` on `listener` (over TLS with `tls`) under `limits` until `stop` turns true;
/// then accepts no more and lets each connection finish its request in flight. Requests
/// carry the client's address as [`ConnectInfo<SocketAddr>`].
pub async fn serve(
    listener: TcpListener,
    app: Router,
    tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>,
    limits: HttpLimits,
    mut stop: watch::Receiver<bool>,
) -> io::Result<()> {
    let app = with_deadlines(app, &limits);
    let tls = tls.map(tokio_rustls::TlsAcceptor::from);
    let global = Arc::new(Semaphore::new(limits.max_connections));
    let per_address = Arc::new(PerAddress::default());
    let trusted: Arc<[ipnet::IpNet]> = limits.trusted_proxies.clone().into();
    // HTTP/1.1, and HTTP/2 where TLS negotiates it (ALPN, RFC 7301): each connection's
    // protocol is known before its first byte, so the header time-out runs from the start
    // (no version sniffing that would wait for a silent client without end).
    let mut h1 = http1::Builder::new();
    h1.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    let mut h2 = http2::Builder::new(TokioExecutor::new());
    h2.timer(TokioTimer::new())
        .keep_alive_interval(Some(limits.header_timeout))
        .keep_alive_timeout(limits.header_timeout);
    let builders = Builders { h1, h2 };
    let mut over_cap = Throttle::default();
    let mut accept_failed = Throttle::default();
    let mut backoff = Duration::from_millis(10);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stopped(&mut stop) => break,
        };
        let (tcp, peer) = match accepted {
            Ok(a) => {
                backoff = Duration::from_millis(10);
                a
            }
            Err(e) if is_connection_error(&e) => continue,
            Err(error) => {
                if let Some(suppressed) = accept_failed.allow(Instant::now()) {
                    tracing::error!(%error, suppressed, backoff_ms = backoff.as_millis() as u64,
                        "HTTP: cannot accept connections (descriptors or memory exhausted?): backing off");
                }
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = stopped(&mut stop) => break,
                }
                backoff = (backoff * 2).min(Duration::from_secs(1));
                continue;
            }
        };
        let Some(slot) = take_slot(&global, &per_address, peer.ip(), &limits) else {
            if let Some(suppressed) = over_cap.allow(Instant::now()) {
                tracing::warn!(peer = %peer, suppressed, max = limits.max_connections,
                    max_per_address = limits.max_connections_per_address,
                    "HTTP: too many connections: closed at once");
            }
            drop(tcp);
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let trusted = trusted.clone();
        let service = app.clone().map_request(move |mut request: Request<_>| {
            let client = forwarded_client(peer.ip(), request.headers(), &trusted);
            request.extensions_mut().insert(ConnectInfo(peer));
            request.extensions_mut().insert(ClientIp(client));
            request
        });
        let connection = Connection {
            builders: builders.clone(),
            service: TowerToHyperService::new(service),
            stop: stop.clone(),
        };
        match &tls {
            None => {
                tokio::spawn(connection.run(
                    Held {
                        io: tcp,
                        _slot: slot,
                    },
                    false,
                ));
            }
            Some(acceptor) => {
                let acceptor = acceptor.clone();
                let handshake_bound = limits.header_timeout;
                tokio::spawn(async move {
                    let held = Held {
                        io: tcp,
                        _slot: slot,
                    };
                    // A failed or slow handshake just closes: the client hears the TLS
                    // alert or the close; a log line per scanner's attempt would flood.
                    if let Ok(Ok(stream)) =
                        tokio::time::timeout(handshake_bound, acceptor.accept(held)).await
                    {
                        let h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2");
                        connection.run(stream, h2).await;
                    }
                });
            }
        }
    }
    Ok(())
}

/// Resolves once `stop` turns true (or its sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// A slot under both caps for a connection from `ip`, if there is one.
fn take_slot(
    global: &Arc<Semaphore>,
    per_address: &Arc<PerAddress>,
    ip: IpAddr,
    limits: &HttpLimits,
) -> Option<Slot> {
    let permit = global.clone().try_acquire_owned().ok()?;
    let key = address_key(ip);
    {
        let mut open = per_address.open.lock().unwrap_or_else(|p| p.into_inner());
        let n = open.entry(key).or_insert(0);
        if *n >= limits.max_connections_per_address {
            if *n == 0 {
                open.remove(&key);
            }
            return None;
        }
        *n += 1;
    }
    Some(Slot {
        _global: permit,
        per_address: per_address.clone(),
        key,
    })
}

/// The protocol builders, with the limits set.
#[derive(Clone)]
struct Builders {
    h1: http1::Builder,
    h2: http2::Builder<TokioExecutor>,
}

/// What one connection needs to be served.
struct Connection<S> {
    builders: Builders,
    service: TowerToHyperService<S>,
    stop: watch::Receiver<bool>,
}

impl<S> Connection<S>
where
    S: tower::Service<Request<hyper::body::Incoming>, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    /// Serves `io` (HTTP/2 when `h2`, else HTTP/1.1) until the client leaves, a limit closes
    /// it, or the server stops.
    fn run<I>(self, io: I, h2: bool) -> impl Future<Output = ()> + Send
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let Connection {
            builders,
            service,
            mut stop,
        } = self;
        // Errors of a connection are the client's (gone, malformed, too slow): not logged.
        async move {
            if h2 {
                let connection = builders.h2.serve_connection(TokioIo::new(io), service);
                tokio::pin!(connection);
                tokio::select! {
                    _ = connection.as_mut() => {}
                    _ = stopped(&mut stop) => {
                        connection.as_mut().graceful_shutdown();
                        let _ = connection.await;
                    }
                }
            } else {
                let connection = builders
                    .h1
                    .serve_connection(TokioIo::new(io), service)
                    .with_upgrades();
                tokio::pin!(connection);
                tokio::select! {
                    _ = connection.as_mut() => {}
                    _ = stopped(&mut stop) => {
                        connection.as_mut().graceful_shutdown();
                        let _ = connection.await;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_throttled_line_is_written_once_per_interval_with_the_count_it_skipped() {
        let mut t = Throttle::default();
        let t0 = Instant::now();
        assert_eq!(t.allow(t0), Some(0));
        for i in 1..1000 {
            assert_eq!(t.allow(t0 + Duration::from_millis(i)), None);
        }
        assert_eq!(t.allow(t0 + LOG_EVERY), Some(999));
        assert_eq!(t.allow(t0 + LOG_EVERY + Duration::from_secs(1)), None);
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_64_prefix() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(address_key(a), address_key(b));
        assert_ne!(address_key(a), address_key(c));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(address_key(mapped), "192.0.2.7".parse::<IpAddr>().unwrap());
    }

    fn xff(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append("x-forwarded-for", v.parse().unwrap());
        }
        headers
    }

    #[test]
    fn forwarded_for_is_believed_only_from_a_trusted_proxy_and_only_its_own_entry() {
        let trusted: Vec<ipnet::IpNet> = vec!["10.0.0.0/30".parse().unwrap()];
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let stranger: IpAddr = "198.51.100.9".parse().unwrap();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        // Not from a trusted proxy: the header is the client's own words, ignored.
        assert_eq!(
            forwarded_client(stranger, &xff(&["203.0.113.5"]), &trusted),
            stranger
        );
        // From the proxy: the rightmost entry is what the proxy saw.
        assert_eq!(
            forwarded_client(proxy, &xff(&["203.0.113.5"]), &trusted),
            ip("203.0.113.5")
        );
        // A client that forges entries to the left is still its own address.
        assert_eq!(
            forwarded_client(
                proxy,
                &xff(&["127.0.0.1, 192.0.2.7", "203.0.113.5"]),
                &trusted
            ),
            ip("203.0.113.5")
        );
        // Proxies behind proxies are skipped; ports and brackets are read.
        assert_eq!(
            forwarded_client(proxy, &xff(&["[2001:db8::7]:4711, 10.0.0.2"]), &trusted),
            ip("2001:db8::7")
        );
        assert_eq!(
            forwarded_client(proxy, &xff(&["192.0.2.8:555"]), &trusted),
            ip("192.0.2.8")
        );
        // No header, or garbage where the client would be: the last address believed.
        assert_eq!(forwarded_client(proxy, &HeaderMap::new(), &trusted), proxy);
        assert_eq!(
            forwarded_client(proxy, &xff(&["nonsense, 10.0.0.2"]), &trusted),
            ip("10.0.0.2")
        );
        assert_eq!(forwarded_client(proxy, &xff(&["unknown"]), &trusted), proxy);
        // No trusted proxies (the default): nobody is believed.
        assert_eq!(forwarded_client(proxy, &xff(&["203.0.113.5"]), &[]), proxy);
    }

    #[test]
    fn slots_are_counted_per_address_and_in_all_and_freed_on_drop() {
        let limits = HttpLimits {
            max_connections: 3,
            max_connections_per_address: 2,
            ..HttpLimits::default()
        };
        let global = Arc::new(Semaphore::new(limits.max_connections));
        let per = Arc::new(PerAddress::default());
        let one: IpAddr = "192.0.2.1".parse().unwrap();
        let two: IpAddr = "192.0.2.2".parse().unwrap();
        let a = take_slot(&global, &per, one, &limits).unwrap();
        let _b = take_slot(&global, &per, one, &limits).unwrap();
        assert!(
            take_slot(&global, &per, one, &limits).is_none(),
            "per address"
        );
        let _c = take_slot(&global, &per, two, &limits).unwrap();
        assert!(take_slot(&global, &per, two, &limits).is_none(), "in all");
        drop(a);
        let _d = take_slot(&global, &per, one, &limits).unwrap();
        assert_eq!(global.available_permits(), 0);
        drop(_d);
        drop(_b);
        assert!(
            !per.open.lock().unwrap().contains_key(&one),
            "no entry left behind"
        );
    }
}
