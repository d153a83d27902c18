//! Transaction layer tests: fake time, no sockets, deterministic.
//!
//! [`Harness`] wraps one layer with a virtual clock in the manner of quinn-proto's test `Pair`:
//! [`Harness::step`] jumps to the next deadline, [`Harness::run_until`] and [`Harness::drive`]
//! keep stepping. Every transmit and event is logged with the virtual time it came out at, so
//! tests assert exact instants. `pair.rs` wires two layers through a lossy link.

mod invite_client;
mod invite_server;
mod matching;
mod non_invite;
mod pair;
mod prop;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rsip::headers::{Header, UntypedHeader};
use rsip::{Method, Request, Response, SipMessage, StatusCode};

use super::key::response_to;
use super::{
    Peer, TimerConfig, TransactionEvent, TransactionId, TransactionLayer, Transmit, TransportKind,
};

/// Milliseconds since the harness started, for readable assertions.
pub(super) fn ms(values: &[u64]) -> Vec<Duration> {
    values.iter().map(|&v| Duration::from_millis(v)).collect()
}

pub(super) fn peer(transport: TransportKind) -> Peer {
    Peer {
        addr: "192.0.2.2:5060".parse::<SocketAddr>().expect("literal"),
        transport,
    }
}

pub(super) fn udp() -> Peer {
    peer(TransportKind::Udp)
}

pub(super) fn tcp() -> Peer {
    peer(TransportKind::Tcp)
}

/// A request as a peer at `sent_by` would send it.
pub(super) fn request_from(
    method: Method,
    branch: &str,
    sent_by: &str,
    cseq: u32,
    call_id: &str,
) -> Request {
    let text = format!(
        "{method} sip:bob@192.0.2.2:5060 SIP/2.0\r\n\
         Via: SIP/2.0/UDP {sent_by};branch={branch}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:alice@192.0.2.1>;tag=alice1\r\n\
         To: <sip:bob@192.0.2.2>\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: {cseq} {method}\r\n\
         Content-Length: 0\r\n\r\n"
    );
    Request::try_from(text.as_str()).expect("test request parses")
}

pub(super) fn request(method: Method, branch: &str) -> Request {
    request_from(method, branch, "192.0.2.1:5060", 1, "call-1@192.0.2.1")
}

/// A response to `request`, with `to_tag` on its To header when given.
pub(super) fn response(request: &Request, code: u16, to_tag: Option<&str>) -> Response {
    let mut response = response_to(request, StatusCode::from(code));
    if let Some(tag) = to_tag {
        for h in response.headers.iter_mut() {
            if let Header::To(to) = h {
                *to = rsip::headers::To::new(format!("{};tag={tag}", to.value()));
            }
        }
    }
    response
}

/// The ACK a UAC sends for a 2xx: a new branch, the 2xx's To (RFC 3261 §13.2.2.4).
pub(super) fn ack_for_2xx(invite: &Request, ok: &Response, branch: &str) -> Request {
    let mut ack = request_from(
        Method::Ack,
        branch,
        "192.0.2.1:5060",
        super::key::cseq(&invite.headers).expect("cseq").seq,
        &super::key::call_id(&invite.headers).expect("call-id"),
    );
    let to = ok
        .headers
        .iter()
        .find(|h| matches!(h, Header::To(_)))
        .cloned()
        .expect("2xx has To");
    for h in ack.headers.iter_mut() {
        if matches!(h, Header::To(_)) {
            *h = to.clone();
        }
    }
    ack
}

pub(super) fn status_of(message: &SipMessage) -> Option<u16> {
    match message {
        SipMessage::Response(r) => Some(r.status_code.code()),
        SipMessage::Request(_) => None,
    }
}

pub(super) fn method_of(message: &SipMessage) -> Option<Method> {
    match message {
        SipMessage::Request(r) => Some(r.method),
        SipMessage::Response(_) => None,
    }
}

/// One layer on a virtual clock, with everything it said logged.
pub(super) struct Harness {
    pub(super) layer: TransactionLayer,
    pub(super) start: Instant,
    pub(super) now: Instant,
    pub(super) sent: Vec<(Duration, Transmit)>,
    pub(super) events: Vec<(Duration, TransactionEvent)>,
}

impl Harness {
    pub(super) fn new(config: TimerConfig) -> Self {
        Self::with_layer(TransactionLayer::new(config))
    }

    pub(super) fn with_layer(layer: TransactionLayer) -> Self {
        let start = Instant::now();
        Self {
            layer,
            start,
            now: start,
            sent: Vec::new(),
            events: Vec::new(),
        }
    }

    pub(super) fn elapsed(&self) -> Duration {
        self.now - self.start
    }

    /// Drains the layer, as the run loop invariant demands after every input.
    fn collect(&mut self) {
        let at = self.elapsed();
        while let Some(t) = self.layer.poll_transmit() {
            self.sent.push((at, t));
        }
        while let Some(e) = self.layer.poll_event() {
            self.events.push((at, e));
        }
    }

    /// Jumps to the next deadline and fires it. False when nothing is armed.
    pub(super) fn step(&mut self) -> bool {
        let Some(deadline) = self.layer.poll_timeout() else {
            return false;
        };
        assert!(
            deadline >= self.now,
            "deadline in the past: timers were not fired"
        );
        self.now = deadline;
        self.layer.handle_timeout(self.now);
        self.collect();
        true
    }

    /// Fires every deadline up to `at` (since start), then sets the clock to `at`.
    pub(super) fn run_until(&mut self, at: Duration) {
        let end = self.start + at;
        assert!(end >= self.now, "time does not go backwards");
        while self.layer.poll_timeout().is_some_and(|d| d <= end) {
            self.step();
        }
        self.now = end;
    }

    /// Steps until no timer is armed.
    pub(super) fn drive(&mut self) {
        for _ in 0..1_000_000 {
            if !self.step() {
                return;
            }
        }
        panic!("the layer never went idle");
    }

    pub(super) fn receive(&mut self, message: impl Into<SipMessage>, from: Peer) {
        self.layer.handle_message(message.into(), from, self.now);
        self.collect();
    }

    pub(super) fn send_request(&mut self, request: Request, to: Peer) -> TransactionId {
        let id = self
            .layer
            .send_request(request, to, self.now)
            .expect("request accepted");
        self.collect();
        id
    }

    pub(super) fn respond(&mut self, id: TransactionId, response: Response) {
        self.layer
            .send_response(id, response, self.now)
            .expect("response accepted");
        self.collect();
    }

    pub(super) fn transport_error(&mut self, id: TransactionId) {
        self.layer.handle_transport_error(id, self.now);
        self.collect();
    }

    /// The instants at which messages matching `pick` went out.
    pub(super) fn sent_at(&self, pick: impl Fn(&SipMessage) -> bool) -> Vec<Duration> {
        self.sent
            .iter()
            .filter(|(_, t)| pick(&t.message))
            .map(|(at, _)| *at)
            .collect()
    }

    pub(super) fn requests_sent_at(&self, method: Method) -> Vec<Duration> {
        self.sent_at(|m| method_of(m) == Some(method))
    }

    pub(super) fn responses_sent_at(&self, code: u16) -> Vec<Duration> {
        self.sent_at(|m| status_of(m) == Some(code))
    }

    /// The instants of events matching `pick`.
    pub(super) fn events_at(&self, pick: impl Fn(&TransactionEvent) -> bool) -> Vec<Duration> {
        self.events
            .iter()
            .filter(|(_, e)| pick(e))
            .map(|(at, _)| *at)
            .collect()
    }

    pub(super) fn terminated_at(&self, id: TransactionId) -> Vec<Duration> {
        self.events_at(|e| matches!(e, TransactionEvent::Terminated { id: t } if *t == id))
    }

    /// The server transaction the last `Request` event created.
    pub(super) fn last_request_id(&self) -> TransactionId {
        self.events
            .iter()
            .rev()
            .find_map(|(_, e)| match e {
                TransactionEvent::Request { id, .. } => Some(*id),
                _ => None,
            })
            .expect("a Request event")
    }
}

/// T1 = 100 ms, T2 = 400 ms, T4 = 1 s: everything derived from T1 scales by 1/5.
pub(super) fn fast() -> TimerConfig {
    TimerConfig {
        t1: Duration::from_millis(100),
        t2: Duration::from_millis(400),
        t4: Duration::from_secs(1),
    }
}
