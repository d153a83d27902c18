//! SIP over WebSocket (RFC 7118): the flows browsers open to the web listener's `/ws`, as a
//! sibling of the TCP transport. The WebSocket itself (handshake, framing, masking) belongs to
//! the web server (axum over tungstenite); this module owns what the SIP side needs of it:
//!
//! - [`WsPort`], the gateway's door for WebSockets: admission before the upgrade (who, how
//!   many), and the channel each flow reports on ([`WsEvent`], like [`super::StreamEvent`]
//!   for TCP, plus a flow number so a reused client port never confuses two flows);
//! - [`FramePolicy`], sans-IO: what to do with each frame (one SIP message, a keep-alive, or
//!   a refusal with its close code) and when the flow is due a ping or a close;
//! - [`WsFlow`], one flow's handle for the task that runs the socket.
//!
//! ## Run loop
//! The web server's task for one WebSocket: [`WsPort::admit`] before the upgrade, then
//! [`WsSlot::open`]; loop on three inputs: a frame from the socket ([`WsFlow::handle_frame`],
//! then act on the [`FrameVerdict`]), a message to send ([`WsFlow::next_outgoing`], one
//! WebSocket message each, RFC 7118 §5), and [`WsFlow::poll_timeout`] (then
//! [`WsFlow::handle_timeout`]). Call [`WsFlow::close`] when the socket ends; dropping the flow
//! closes it too. Either way the gateway hears of it and drops the bindings registered over
//! it: a WebSocket cannot be reopened from our side.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tracing::{debug, warn};

use super::WRITE_QUEUE;

/// Limits on SIP WebSockets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WsLimits {
    /// WebSockets open at once; an upgrade beyond it is refused with 503.
    pub max_connections: usize,
    /// Largest WebSocket message (one SIP message) accepted; a larger one closes the flow
    /// with 1009 (RFC 6455 §7.4.1). Also the bound given to the WebSocket reader, so nothing
    /// larger is ever buffered.
    pub max_message_bytes: usize,
    /// A new WebSocket must deliver its first parsable SIP message within this time.
    pub first_message: Duration,
    /// Once it has, it is pinged after half this long without input and closed after this
    /// long: browsers answer pings by themselves, so a live tab stays, a vanished one goes.
    pub idle: Duration,
    /// The web listener is HTTPS (served here or by a proxy in front): the WebSockets are
    /// `wss`, and our Via on them says `WSS` (RFC 7118 §5.2).
    pub secure: bool,
}

impl Default for WsLimits {
    fn default() -> Self {
        WsLimits {
            max_connections: 256,
            max_message_bytes: 64 * 1024,
            first_message: Duration::from_secs(10),
            idle: Duration::from_secs(120),
            secure: false,
        }
    }
}

/// What flows tell the gateway's driver.
#[derive(Debug)]
pub enum WsEvent {
    /// A flow is up; send to `writer` to reach `peer` (one SIP message per send).
    Opened {
        peer: SocketAddr,
        flow: u64,
        writer: mpsc::Sender<Vec<u8>>,
    },
    /// One SIP message arrived (one WebSocket message).
    Message { peer: SocketAddr, bytes: Vec<u8> },
    /// The flow is gone.
    Closed { peer: SocketAddr, flow: u64 },
}

/// Why an upgrade to SIP over WebSocket is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WsRefusal {
    /// The client's address is outside `sip.allow_from`.
    #[error("{0} is not in sip.allow_from")]
    NotAllowed(IpAddr),
    /// `max_connections` WebSockets are open.
    #[error("{0} SIP WebSockets are open (sip.ws_max_connections): try again later")]
    Full(usize),
    /// The gateway has stopped.
    #[error("the SIP gateway has stopped")]
    Stopped,
}

/// Counters of the WebSocket transport.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WsStats {
    /// Flows open now.
    pub open: usize,
    /// Flows opened so far.
    pub opened: u64,
    /// Upgrades refused (outside `allow_from`, or over `max_connections`).
    pub refused_connections: u64,
    /// Frames refused (not SIP, too large, unreadable); each closed its flow.
    pub refused_frames: u64,
    /// Flows closed for silence (no first message in time, or idle past a ping).
    pub timed_out: u64,
}

#[derive(Debug, Default)]
struct Counters {
    opened: AtomicU64,
    refused_connections: AtomicU64,
    refused_frames: AtomicU64,
    timed_out: AtomicU64,
}

/// The gateway's door for SIP WebSockets. Cheap to clone.
#[derive(Debug, Clone)]
pub struct WsPort {
    events: mpsc::Sender<WsEvent>,
    slots: Arc<Semaphore>,
    limits: WsLimits,
    allow_from: Arc<[ipnet::IpNet]>,
    counters: Arc<Counters>,
    next_flow: Arc<AtomicU64>,
}

impl WsPort {
    /// A port whose flows report on the returned receiver (the driver's).
    #[must_use]
    pub fn new(limits: WsLimits, allow_from: &[ipnet::IpNet]) -> (WsPort, mpsc::Receiver<WsEvent>) {
        let (events, rx) = mpsc::channel(1024);
        let port = WsPort {
            events,
            slots: Arc::new(Semaphore::new(limits.max_connections)),
            limits,
            allow_from: allow_from.into(),
            counters: Arc::default(),
            next_flow: Arc::new(AtomicU64::new(1)),
        };
        (port, rx)
    }

    #[must_use]
    pub fn limits(&self) -> WsLimits {
        self.limits
    }

    /// Whether a WebSocket from `peer` may open, asked before the upgrade: its address is in
    /// `allow_from` (the rule every SIP source is held to) and a slot is free. The slot is
    /// held until the flow it becomes is closed (or the slot dropped).
    pub fn admit(&self, peer: SocketAddr) -> Result<WsSlot, WsRefusal> {
        let refused = |refusal| {
            self.counters
                .refused_connections
                .fetch_add(1, Ordering::Relaxed);
            Err(refusal)
        };
        if self.events.is_closed() {
            return refused(WsRefusal::Stopped);
        }
        let ip = peer.ip().to_canonical();
        if !self.allow_from.iter().any(|net| net.contains(&ip)) {
            return refused(WsRefusal::NotAllowed(ip));
        }
        match self.slots.clone().try_acquire_owned() {
            Ok(permit) => Ok(WsSlot {
                port: self.clone(),
                peer,
                permit,
            }),
            Err(_) => refused(WsRefusal::Full(self.limits.max_connections)),
        }
    }

    #[must_use]
    pub fn stats(&self) -> WsStats {
        WsStats {
            open: self.limits.max_connections - self.slots.available_permits(),
            opened: self.counters.opened.load(Ordering::Relaxed),
            refused_connections: self.counters.refused_connections.load(Ordering::Relaxed),
            refused_frames: self.counters.refused_frames.load(Ordering::Relaxed),
            timed_out: self.counters.timed_out.load(Ordering::Relaxed),
        }
    }
}

/// An admitted WebSocket, before its upgrade completed.
#[derive(Debug)]
pub struct WsSlot {
    port: WsPort,
    peer: SocketAddr,
    permit: OwnedSemaphorePermit,
}

impl WsSlot {
    /// Tells the gateway the flow is up. `None` when the gateway has stopped.
    pub async fn open(self, now: Instant) -> Option<WsFlow> {
        let flow = self.port.next_flow.fetch_add(1, Ordering::Relaxed);
        let (writer, outgoing) = mpsc::channel(WRITE_QUEUE);
        let opened = WsEvent::Opened {
            peer: self.peer,
            flow,
            writer,
        };
        self.port.events.send(opened).await.ok()?;
        self.port.counters.opened.fetch_add(1, Ordering::Relaxed);
        debug!(peer = %self.peer, flow, "SIP WebSocket opened");
        Some(WsFlow {
            policy: FramePolicy::new(self.port.limits, now),
            port: self.port,
            peer: self.peer,
            flow,
            outgoing,
            closed: false,
            permit: Some(self.permit),
        })
    }
}

/// One open SIP WebSocket, as the task running its socket sees it.
#[derive(Debug)]
pub struct WsFlow {
    port: WsPort,
    peer: SocketAddr,
    flow: u64,
    policy: FramePolicy,
    outgoing: mpsc::Receiver<Vec<u8>>,
    closed: bool,
    /// The flow's slot among `max_connections`, held until it closes.
    permit: Option<OwnedSemaphorePermit>,
}

impl WsFlow {
    #[must_use]
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// The next SIP message for the peer; `None` once the gateway has let the flow go.
    /// Cancel-safe.
    pub async fn next_outgoing(&mut self) -> Option<Vec<u8>> {
        self.outgoing.recv().await
    }

    /// A text or binary WebSocket message arrived: a SIP message goes to the gateway (which
    /// answers 400 to one it cannot parse, as over UDP and TCP); a refusal is logged and
    /// counted, and the caller closes the socket with its code.
    pub async fn handle_frame(&mut self, payload: Vec<u8>, now: Instant) -> FrameVerdict {
        let verdict = self.policy.handle_frame(&payload, now);
        match &verdict {
            FrameVerdict::Deliver => {
                let message = WsEvent::Message {
                    peer: self.peer,
                    bytes: payload,
                };
                if self.port.events.send(message).await.is_err() {
                    return FrameVerdict::Refuse(FrameRefusal::Stopped);
                }
            }
            FrameVerdict::KeepAlive { .. } => {}
            FrameVerdict::Refuse(refusal) => self.refused(refusal),
        }
        verdict
    }

    /// Any other input (a ping, a pong): the peer is alive.
    pub fn handle_liveness(&mut self, now: Instant) {
        self.policy.handle_liveness(now);
    }

    /// The WebSocket reader refused input before it became a message (one over the size
    /// bound, invalid UTF-8 in a text message, broken framing): logged and counted like a
    /// frame refused here. The caller closes the socket with the refusal's code.
    pub fn refuse(&mut self, refusal: &FrameRefusal) {
        self.refused(refusal);
    }

    fn refused(&self, refusal: &FrameRefusal) {
        self.port
            .counters
            .refused_frames
            .fetch_add(1, Ordering::Relaxed);
        warn!(peer = %self.peer, flow = self.flow, %refusal, "SIP WebSocket frame refused: closing");
    }

    /// When [`Self::handle_timeout`] is next due.
    #[must_use]
    pub fn poll_timeout(&self) -> Instant {
        self.policy.poll_timeout()
    }

    /// Time passed: maybe a ping is due, or the flow has been silent too long.
    pub fn handle_timeout(&mut self, now: Instant) -> TimeoutVerdict {
        let verdict = self.policy.handle_timeout(now);
        if let TimeoutVerdict::Close(reason) = verdict {
            self.port.counters.timed_out.fetch_add(1, Ordering::Relaxed);
            debug!(peer = %self.peer, flow = self.flow, reason, "closing SIP WebSocket");
        }
        verdict
    }

    /// The socket has ended: the gateway drops the flow and the bindings registered over it.
    /// The slot is free before the gateway hears of it: whoever sees the bindings go sees
    /// the slot free.
    pub async fn close(mut self) {
        self.closed = true;
        self.permit.take();
        let closed = WsEvent::Closed {
            peer: self.peer,
            flow: self.flow,
        };
        let _ = self.port.events.send(closed).await;
        debug!(peer = %self.peer, flow = self.flow, "SIP WebSocket closed");
    }
}

impl Drop for WsFlow {
    /// A flow dropped without [`WsFlow::close`] (its task was cancelled) still reports its
    /// end, so no binding outlives its WebSocket.
    fn drop(&mut self) {
        if self.closed {
            return;
        }
        let closed = WsEvent::Closed {
            peer: self.peer,
            flow: self.flow,
        };
        if let Err(mpsc::error::TrySendError::Full(closed)) = self.port.events.try_send(closed)
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            let events = self.port.events.clone();
            runtime.spawn(async move {
                let _ = events.send(closed).await;
            });
        }
    }
}

/// What to do with one WebSocket message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameVerdict {
    /// One SIP message: passed to the gateway.
    Deliver,
    /// Whitespace only: a keep-alive (RFC 5626 §3.5.1, as SIP.js sends over WebSocket);
    /// `pong`: answer it with one CRLF.
    KeepAlive { pong: bool },
    /// Close the WebSocket with [`FrameRefusal::close_code`] and its reason.
    Refuse(FrameRefusal),
}

/// Why a WebSocket message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameRefusal {
    #[error("message of {size} bytes is over the {max}-byte limit (sip.ws_max_message_bytes)")]
    TooLarge { size: usize, max: usize },
    #[error(
        "not a SIP message: RFC 7118 §5 wants one SIP request or response per WebSocket message"
    )]
    NotSip,
    /// A text message that is not UTF-8 (RFC 6455 §8.1).
    #[error("unreadable WebSocket input: {0}")]
    Unreadable(String),
    /// Broken WebSocket framing (RFC 6455 §7.4.1).
    #[error("WebSocket protocol error: {0}")]
    Protocol(String),
    #[error("the SIP gateway has stopped")]
    Stopped,
}

impl FrameRefusal {
    /// The close code (RFC 6455 §7.4.1): 1009 too big, 1008 policy violation (not SIP),
    /// 1007 unreadable data, 1002 protocol error, 1011 (our side failed).
    #[must_use]
    pub fn close_code(&self) -> u16 {
        match self {
            FrameRefusal::TooLarge { .. } => 1009,
            FrameRefusal::NotSip => 1008,
            FrameRefusal::Unreadable(_) => 1007,
            FrameRefusal::Protocol(_) => 1002,
            FrameRefusal::Stopped => 1011,
        }
    }

    /// The close frame's reason: at most 123 bytes (RFC 6455 §5.5.1).
    #[must_use]
    pub fn close_reason(&self) -> &'static str {
        match self {
            FrameRefusal::TooLarge { .. } => "SIP message over sip.ws_max_message_bytes",
            FrameRefusal::NotSip => "not a SIP message (RFC 7118: one SIP message per frame)",
            FrameRefusal::Unreadable(_) => "unreadable WebSocket message",
            FrameRefusal::Protocol(_) => "WebSocket protocol error",
            FrameRefusal::Stopped => "SIP gateway stopped",
        }
    }
}

/// What time asks of a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutVerdict {
    /// Nothing yet.
    Wait,
    /// Send a WebSocket ping: the peer has been quiet for half the idle time.
    Ping,
    /// Close the WebSocket (1000, with this reason): silent too long.
    Close(&'static str),
}

/// The per-flow rules, sans-IO: frames in, verdicts out, one deadline.
#[derive(Debug, Clone)]
pub struct FramePolicy {
    limits: WsLimits,
    opened: Instant,
    /// Whether a parsable SIP message has come (until then the first-message deadline runs).
    spoken: bool,
    last_input: Instant,
    pinged: bool,
}

impl FramePolicy {
    #[must_use]
    pub fn new(limits: WsLimits, now: Instant) -> FramePolicy {
        FramePolicy {
            limits,
            opened: now,
            spoken: false,
            last_input: now,
            pinged: false,
        }
    }

    /// Judges one WebSocket message (its payload, text or binary).
    pub fn handle_frame(&mut self, payload: &[u8], now: Instant) -> FrameVerdict {
        if payload.len() > self.limits.max_message_bytes {
            return FrameVerdict::Refuse(FrameRefusal::TooLarge {
                size: payload.len(),
                max: self.limits.max_message_bytes,
            });
        }
        if payload.iter().all(u8::is_ascii_whitespace) {
            // Whitespace is no message: it does not end the first-message wait.
            self.handle_liveness(now);
            return FrameVerdict::KeepAlive {
                pong: payload.windows(4).any(|w| w == b"\r\n\r\n"),
            };
        }
        if !looks_like_sip(payload) {
            return FrameVerdict::Refuse(FrameRefusal::NotSip);
        }
        // Like TCP: a malformed message still gets its 400, but only a parsable one ends the
        // first-message wait.
        if !self.spoken && crate::message::parse(payload).is_ok() {
            self.spoken = true;
        }
        self.handle_liveness(now);
        FrameVerdict::Deliver
    }

    /// A ping or pong came: the peer is alive.
    pub fn handle_liveness(&mut self, now: Instant) {
        self.last_input = self.last_input.max(now);
        self.pinged = false;
    }

    /// When [`Self::handle_timeout`] is next due.
    #[must_use]
    pub fn poll_timeout(&self) -> Instant {
        if !self.spoken {
            self.opened + self.limits.first_message
        } else if self.pinged {
            self.last_input + self.limits.idle
        } else {
            self.last_input + self.limits.idle / 2
        }
    }

    pub fn handle_timeout(&mut self, now: Instant) -> TimeoutVerdict {
        if now < self.poll_timeout() {
            return TimeoutVerdict::Wait;
        }
        if !self.spoken {
            return TimeoutVerdict::Close("no SIP message in time");
        }
        if self.pinged {
            return TimeoutVerdict::Close("idle: no answer to a ping");
        }
        self.pinged = true;
        TimeoutVerdict::Ping
    }
}

/// Whether `payload` starts with a SIP start line: a request line (`METHOD URI SIP/2.0`) or a
/// status line (`SIP/2.0 200 OK`). Anything else cannot be answered, not even with a 400.
fn looks_like_sip(payload: &[u8]) -> bool {
    let start = payload
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(payload.len());
    let rest = &payload[start..];
    let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
    let Ok(line) = std::str::from_utf8(&rest[..end]) else {
        return false;
    };
    let sip = |word: &str| word.len() >= 4 && word[..4].eq_ignore_ascii_case("SIP/");
    let mut words = line.split_whitespace();
    match (words.next(), words.next_back()) {
        (Some(first), _) if sip(first) => true,
        (Some(_), Some(last)) => sip(last),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REGISTER: &[u8] = b"REGISTER sip:127.0.0.1 SIP/2.0\r\n\
        Via: SIP/2.0/WS 1i8ld7hcb1pl.invalid;branch=z9hG4bK8441379\r\n\
        Max-Forwards: 69\r\n\
        To: <sip:1001@127.0.0.1>\r\n\
        From: <sip:1001@127.0.0.1>;tag=p2u2n2an2n\r\n\
        Call-ID: 5hvbnf0frlaoo4ggq3gqg5\r\n\
        CSeq: 1 REGISTER\r\n\
        Contact: <sip:lcrkf7u1@1i8ld7hcb1pl.invalid;transport=ws>;expires=600\r\n\
        Content-Length: 0\r\n\r\n";

    fn limits() -> WsLimits {
        WsLimits {
            max_connections: 2,
            max_message_bytes: 1024,
            first_message: Duration::from_secs(10),
            idle: Duration::from_secs(60),
            secure: false,
        }
    }

    #[test]
    fn start_lines_tell_sip_from_garbage() {
        assert!(looks_like_sip(REGISTER));
        assert!(looks_like_sip(b"SIP/2.0 200 OK\r\n\r\n"));
        assert!(looks_like_sip(b"\r\nOPTIONS sip:x sip/2.0\r\n"));
        // Parsable far enough to be answered with a 400 by the gateway.
        assert!(looks_like_sip(b"INVITE sip:x SIP/2.0\r\nVia: junk\r\n\r\n"));
        assert!(!looks_like_sip(b"hello"));
        assert!(!looks_like_sip(b"GET / HTTP/1.1\r\n\r\n"));
        assert!(!looks_like_sip(b"\xff\xfe SIP/2.0"));
        assert!(!looks_like_sip(b"SIP"));
        assert!(!looks_like_sip(b""));
    }

    #[test]
    fn frames_are_delivered_kept_alive_or_refused_with_a_code() {
        let t0 = Instant::now();
        let mut policy = FramePolicy::new(limits(), t0);
        assert_eq!(policy.handle_frame(REGISTER, t0), FrameVerdict::Deliver);
        assert_eq!(
            policy.handle_frame(b"\r\n\r\n", t0),
            FrameVerdict::KeepAlive { pong: true }
        );
        assert_eq!(
            policy.handle_frame(b"\r\n", t0),
            FrameVerdict::KeepAlive { pong: false }
        );
        let garbage = policy.handle_frame(b"\x00\x01 not sip", t0);
        assert_eq!(garbage, FrameVerdict::Refuse(FrameRefusal::NotSip));
        let big = vec![b'a'; 1025];
        let FrameVerdict::Refuse(refusal) = policy.handle_frame(&big, t0) else {
            panic!("a message over the limit must be refused");
        };
        assert_eq!(
            refusal,
            FrameRefusal::TooLarge {
                size: 1025,
                max: 1024
            }
        );
        assert_eq!(refusal.close_code(), 1009);
        assert_eq!(FrameRefusal::NotSip.close_code(), 1008);
        for r in [
            FrameRefusal::TooLarge { size: 1, max: 0 },
            FrameRefusal::NotSip,
            FrameRefusal::Unreadable("x".into()),
            FrameRefusal::Protocol("x".into()),
            FrameRefusal::Stopped,
        ] {
            assert!(r.close_reason().len() <= 123, "{r:?}");
        }
    }

    #[test]
    fn a_silent_flow_is_closed_at_the_first_message_deadline() {
        let t0 = Instant::now();
        let mut policy = FramePolicy::new(limits(), t0);
        assert_eq!(policy.poll_timeout(), t0 + Duration::from_secs(10));
        // Keep-alives and garbage that looks like SIP but does not parse do not count.
        policy.handle_frame(b"\r\n\r\n", t0 + Duration::from_secs(5));
        policy.handle_frame(
            b"OPTIONS sip:x SIP/2.0\r\n\r\n",
            t0 + Duration::from_secs(6),
        );
        assert_eq!(policy.poll_timeout(), t0 + Duration::from_secs(10));
        assert_eq!(
            policy.handle_timeout(t0 + Duration::from_secs(9)),
            TimeoutVerdict::Wait
        );
        assert_eq!(
            policy.handle_timeout(t0 + Duration::from_secs(10)),
            TimeoutVerdict::Close("no SIP message in time")
        );
    }

    #[test]
    fn a_quiet_flow_is_pinged_then_closed_unless_it_answers() {
        let t0 = Instant::now();
        let mut policy = FramePolicy::new(limits(), t0);
        policy.handle_frame(REGISTER, t0);
        let half = t0 + Duration::from_secs(30);
        assert_eq!(policy.poll_timeout(), half);
        assert_eq!(policy.handle_timeout(half), TimeoutVerdict::Ping);
        assert_eq!(policy.poll_timeout(), t0 + Duration::from_secs(60));
        // The browser's pong: the clock starts again.
        let pong = t0 + Duration::from_secs(31);
        policy.handle_liveness(pong);
        assert_eq!(policy.poll_timeout(), pong + Duration::from_secs(30));
        assert_eq!(
            policy.handle_timeout(pong + Duration::from_secs(30)),
            TimeoutVerdict::Ping
        );
        assert_eq!(
            policy.handle_timeout(pong + Duration::from_secs(59)),
            TimeoutVerdict::Wait
        );
        assert_eq!(
            policy.handle_timeout(pong + Duration::from_secs(60)),
            TimeoutVerdict::Close("idle: no answer to a ping")
        );
    }

    proptest::proptest! {
        /// Whatever a WebSocket sends: no panic, and the verdict keeps the rules (only SIP
        /// within the bound is delivered, only whitespace is a keep-alive).
        #[test]
        fn any_frame_gets_a_verdict_that_keeps_the_rules(
            payload in proptest::collection::vec(proptest::num::u8::ANY, 0..1500),
            sip_prefix in proptest::bool::ANY,
        ) {
            let payload = if sip_prefix {
                [b"INVITE sip:x SIP/2.0\r\n".as_slice(), &payload].concat()
            } else {
                payload
            };
            let t0 = Instant::now();
            let mut policy = FramePolicy::new(limits(), t0);
            let verdict = policy.handle_frame(&payload, t0);
            match verdict {
                FrameVerdict::Deliver => {
                    proptest::prop_assert!(payload.len() <= 1024);
                    proptest::prop_assert!(looks_like_sip(&payload));
                }
                FrameVerdict::KeepAlive { .. } => {
                    proptest::prop_assert!(payload.iter().all(u8::is_ascii_whitespace));
                }
                FrameVerdict::Refuse(FrameRefusal::TooLarge { size, .. }) => {
                    proptest::prop_assert!(size > 1024);
                }
                FrameVerdict::Refuse(refusal) => {
                    proptest::prop_assert_eq!(refusal, FrameRefusal::NotSip);
                    proptest::prop_assert!(!looks_like_sip(&payload));
                }
            }
            proptest::prop_assert!(policy.poll_timeout() >= t0);
        }
    }

    #[tokio::test]
    async fn the_port_admits_within_allow_from_and_its_slots() {
        let (port, mut events) = WsPort::new(limits(), &["127.0.0.0/8".parse().unwrap()]);
        let a: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        let b: SocketAddr = "127.0.0.1:40001".parse().unwrap();
        assert_eq!(
            port.admit("192.0.2.1:4000".parse().unwrap()).unwrap_err(),
            WsRefusal::NotAllowed("192.0.2.1".parse().unwrap())
        );
        // IPv4 seen on a dual-stack socket is the same address.
        let mapped = port.admit("[::ffff:127.0.0.1]:4000".parse().unwrap());
        drop(mapped.unwrap());
        let now = Instant::now();
        let mut first = port.admit(a).unwrap().open(now).await.unwrap();
        let second = port.admit(b).unwrap().open(now).await.unwrap();
        assert_eq!(
            port.admit(a).unwrap_err(),
            WsRefusal::Full(2),
            "over max_connections"
        );
        let (flow_a, writer) = match events.recv().await.unwrap() {
            WsEvent::Opened { peer, flow, writer } => {
                assert_eq!(peer, a);
                (flow, writer)
            }
            other => panic!("expected Opened, got {other:?}"),
        };
        assert!(matches!(events.recv().await, Some(WsEvent::Opened { peer, .. }) if peer == b));
        // Out: what the driver writes comes out of the flow, one message each.
        writer
            .send(b"SIP/2.0 401 Unauthorized\r\n\r\n".to_vec())
            .await
            .unwrap();
        assert_eq!(
            first.next_outgoing().await.unwrap(),
            b"SIP/2.0 401 Unauthorized\r\n\r\n"
        );
        // In: a SIP message reaches the driver; garbage does not, and is counted.
        assert_eq!(
            first.handle_frame(REGISTER.to_vec(), now).await,
            FrameVerdict::Deliver
        );
        assert!(
            matches!(events.recv().await, Some(WsEvent::Message { peer, bytes }) if peer == a && bytes == REGISTER)
        );
        assert_eq!(
            first.handle_frame(b"garbage".to_vec(), now).await,
            FrameVerdict::Refuse(FrameRefusal::NotSip)
        );
        // Closing (or dropping) a flow reports it and frees its slot.
        first.close().await;
        assert!(
            matches!(events.recv().await, Some(WsEvent::Closed { peer, flow }) if peer == a && flow == flow_a)
        );
        drop(second);
        assert!(matches!(events.recv().await, Some(WsEvent::Closed { peer, .. }) if peer == b));
        let stats = port.stats();
        assert_eq!(
            stats,
            WsStats {
                open: 0,
                opened: 2,
                refused_connections: 2,
                refused_frames: 1,
                timed_out: 0,
            }
        );
        port.admit(a).expect("slots are free again");
        drop(events);
        assert_eq!(port.admit(a).unwrap_err(), WsRefusal::Stopped);
    }
}
