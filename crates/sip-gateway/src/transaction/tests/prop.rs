//! Property test: any interleaving of TU actions, deliveries, losses, duplicates, reordering,
//! stray messages, transport errors and late timer wake-ups never panics, never reports an id
//! after its `Terminated`, terminates every transaction exactly once, and `len()` returns to 0
//! once the TUs answer what is open and time runs far enough.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use rsip::{Method, Request, SipMessage};

use super::super::{
    Peer, TimerConfig, TransactionEvent, TransactionId, TransactionLayer, TransactionState,
    TransportKind, new_branch,
};
use super::{ack_for_2xx, fast, request_from, response};
use crate::rng::SipRng;

const CLIENT: usize = 0;
const SERVER: usize = 1;

#[derive(Debug, Clone)]
enum Op {
    Invite,
    NonInvite(usize),
    Cancel(usize),
    Answer(usize, u16),
    Deliver(usize),
    Lose(usize),
    Duplicate(usize),
    Advance(u64),
    TransportError(usize, usize),
    InjectResponse(usize, u16),
    InjectAck(usize),
}

fn op() -> impl Strategy<Value = Op> {
    let status = prop::sample::select(vec![100u16, 180, 183, 200, 202, 302, 486, 487, 503, 603]);
    prop_oneof![
        2 => Just(Op::Invite),
        2 => (0..4usize).prop_map(Op::NonInvite),
        1 => any::<usize>().prop_map(Op::Cancel),
        4 => (any::<usize>(), status.clone()).prop_map(|(i, s)| Op::Answer(i, s)),
        6 => any::<usize>().prop_map(Op::Deliver),
        2 => any::<usize>().prop_map(Op::Lose),
        1 => any::<usize>().prop_map(Op::Duplicate),
        3 => (0..40_000u64).prop_map(Op::Advance),
        1 => (0..2usize, any::<usize>()).prop_map(|(s, i)| Op::TransportError(s, i)),
        1 => (any::<usize>(), status).prop_map(|(i, s)| Op::InjectResponse(i, s)),
        1 => any::<usize>().prop_map(Op::InjectAck),
    ]
}

struct Packet {
    to: usize,
    from: Peer,
    message: SipMessage,
}

struct Sim {
    layers: [TransactionLayer; 2],
    peers: [Peer; 2],
    now: Instant,
    in_flight: Vec<Packet>,
    /// Client INVITE transactions and their requests.
    invites: Vec<(TransactionId, Request)>,
    /// Every request the client sent, for injected responses.
    sent_requests: Vec<Request>,
    /// Server transactions the server TU heard of.
    server_open: Vec<(TransactionId, Request)>,
    created: [HashSet<TransactionId>; 2],
    terminated: [HashSet<TransactionId>; 2],
    /// Final phase: the server TU answers every new request at once.
    auto_answer: bool,
    next_call: u32,
    /// The TUs' branches: seeded, so that a failing case replays exactly.
    rng: SipRng,
}

fn event_id(event: &TransactionEvent) -> Option<TransactionId> {
    match event {
        TransactionEvent::Request { id, .. }
        | TransactionEvent::Cancel { id, .. }
        | TransactionEvent::Response { id, .. }
        | TransactionEvent::Timeout { id }
        | TransactionEvent::AckTimeout { id, .. }
        | TransactionEvent::TransportError { id }
        | TransactionEvent::Terminated { id } => Some(*id),
        TransactionEvent::Ack { .. }
        | TransactionEvent::StrayResponse { .. }
        | TransactionEvent::Overloaded { .. } => None,
    }
}

impl Sim {
    fn new(config: TimerConfig, transport: TransportKind) -> Self {
        let addr = |s: &str| s.parse::<SocketAddr>().expect("literal");
        Self {
            layers: [
                TransactionLayer::new(config.clone()),
                TransactionLayer::new(config),
            ],
            peers: [
                Peer {
                    addr: addr("192.0.2.1:5060"),
                    transport,
                },
                Peer {
                    addr: addr("192.0.2.2:5060"),
                    transport,
                },
            ],
            now: Instant::now(),
            in_flight: Vec::new(),
            invites: Vec::new(),
            sent_requests: Vec::new(),
            server_open: Vec::new(),
            created: [HashSet::new(), HashSet::new()],
            terminated: [HashSet::new(), HashSet::new()],
            auto_answer: false,
            next_call: 0,
            rng: SipRng::from_seed(0),
        }
    }

    /// Drains both layers (the run loop invariant) and lets both TUs react, until quiet.
    fn pump(&mut self) {
        loop {
            let mut quiet = true;
            for side in [CLIENT, SERVER] {
                while let Some(t) = self.layers[side].poll_transmit() {
                    quiet = false;
                    let to = if t.peer.addr == self.peers[SERVER].addr {
                        SERVER
                    } else {
                        CLIENT
                    };
                    assert_ne!(to, side);
                    self.in_flight.push(Packet {
                        to,
                        from: self.peers[side].clone(),
                        message: t.message,
                    });
                }
                while let Some(event) = self.layers[side].poll_event() {
                    quiet = false;
                    self.on_event(side, event);
                }
            }
            if quiet {
                return;
            }
        }
    }

    fn on_event(&mut self, side: usize, event: TransactionEvent) {
        if let Some(id) = event_id(&event) {
            assert!(
                !self.terminated[side].contains(&id),
                "side {side}: {event:?} after Terminated"
            );
        }
        match event {
            TransactionEvent::Terminated { id } => {
                assert!(
                    self.created[side].contains(&id),
                    "unknown id {id:?} terminated"
                );
                self.terminated[side].insert(id);
            }
            TransactionEvent::Request { id, request, .. }
            | TransactionEvent::Cancel { id, request, .. } => {
                assert_eq!(side, SERVER);
                assert!(self.created[SERVER].insert(id), "id {id:?} reused");
                if self.auto_answer {
                    let code = if request.method == Method::Invite {
                        487
                    } else {
                        200
                    };
                    let _ = self.layers[SERVER].send_response(
                        id,
                        response(&request, code, Some("s")),
                        self.now,
                    );
                }
                self.server_open.push((id, request));
            }
            TransactionEvent::Response { id, response, .. }
                if (200..300).contains(&response.status_code.code()) =>
            {
                // The UAC TU ACKs every 2xx to an INVITE (RFC 3261 §13.2.2.4).
                if let Some((_, invite)) = self.invites.iter().find(|(i, _)| *i == id) {
                    let ack = ack_for_2xx(invite, &response, &new_branch(&mut self.rng));
                    self.layers[CLIENT].send_stateless(ack.into(), self.peers[SERVER].clone());
                }
            }
            _ => {}
        }
    }

    fn send(&mut self, request: Request) {
        match self.layers[CLIENT].send_request(
            request.clone(),
            self.peers[SERVER].clone(),
            self.now,
        ) {
            Ok(id) => {
                assert!(self.created[CLIENT].insert(id), "id {id:?} reused");
                if request.method == Method::Invite {
                    self.invites.push((id, request.clone()));
                }
                self.sent_requests.push(request);
            }
            Err(e) => assert!(request.method == Method::Cancel, "unexpected refusal: {e}"),
        }
    }

    fn new_request(&mut self, method: Method) -> Request {
        self.next_call += 1;
        request_from(
            method,
            &new_branch(&mut self.rng),
            "192.0.2.1:5060",
            self.next_call,
            &format!("call-{}", self.next_call),
        )
    }

    fn deliver(&mut self, index: usize) {
        if self.in_flight.is_empty() {
            return;
        }
        let packet = self.in_flight.remove(index % self.in_flight.len());
        self.layers[packet.to].handle_message(packet.message, packet.from, self.now);
    }

    fn apply(&mut self, op: Op) {
        match op {
            Op::Invite => {
                let invite = self.new_request(Method::Invite);
                self.send(invite);
            }
            Op::NonInvite(m) => {
                let method = [Method::Options, Method::Bye, Method::Register, Method::Info][m];
                let request = self.new_request(method);
                self.send(request);
            }
            Op::Cancel(i) => {
                if let Some(cancel) = self.cancel_for(i) {
                    self.send(cancel);
                }
            }
            Op::Answer(i, code) => {
                if !self.server_open.is_empty() {
                    let (id, request) = &self.server_open[i % self.server_open.len()];
                    let resp = response(request, code, Some("s"));
                    let _ = self.layers[SERVER].send_response(*id, resp, self.now);
                }
            }
            Op::Deliver(i) => self.deliver(i),
            Op::Lose(i) => {
                if !self.in_flight.is_empty() {
                    let n = self.in_flight.len();
                    self.in_flight.remove(i % n);
                }
            }
            Op::Duplicate(i) => {
                if !self.in_flight.is_empty() {
                    let p = &self.in_flight[i % self.in_flight.len()];
                    let copy = Packet {
                        to: p.to,
                        from: p.from.clone(),
                        message: p.message.clone(),
                    };
                    self.in_flight.push(copy);
                }
            }
            Op::Advance(ms) => {
                // Wake-ups may come late: timers must then fire in order, once.
                self.now += Duration::from_millis(ms);
                self.layers[CLIENT].handle_timeout(self.now);
                self.layers[SERVER].handle_timeout(self.now);
            }
            Op::TransportError(side, i) => {
                let ids: Vec<_> = self.created[side].iter().copied().collect();
                if !ids.is_empty() {
                    let mut ids = ids;
                    ids.sort();
                    self.layers[side].handle_transport_error(ids[i % ids.len()], self.now);
                }
            }
            Op::InjectResponse(i, code) => {
                if !self.sent_requests.is_empty() {
                    let request = &self.sent_requests[i % self.sent_requests.len()];
                    let resp = response(request, code, Some("x"));
                    self.layers[CLIENT].handle_message(
                        resp.into(),
                        self.peers[SERVER].clone(),
                        self.now,
                    );
                }
            }
            Op::InjectAck(i) => {
                if !self.server_open.is_empty() {
                    let (_, request) = &self.server_open[i % self.server_open.len()];
                    let ack = ack_for_2xx(request, &response(request, 200, Some("s")), "z9hG4bKx");
                    self.layers[SERVER].handle_message(
                        ack.into(),
                        self.peers[CLIENT].clone(),
                        self.now,
                    );
                }
            }
        }
        self.pump();
    }

    fn cancel_for(&self, i: usize) -> Option<Request> {
        if self.invites.is_empty() {
            return None;
        }
        let (_, invite) = &self.invites[i % self.invites.len()];
        let mut cancel = invite.clone();
        cancel.method = Method::Cancel;
        for h in cancel.headers.iter_mut() {
            if let rsip::Header::CSeq(c) = h {
                let seq = c.seq().unwrap_or(1);
                *c = rsip::headers::CSeq::from(rsip::typed::CSeq {
                    seq,
                    method: Method::Cancel,
                });
            }
        }
        Some(cancel)
    }

    /// The TUs finish their work, the network becomes perfect, time runs.
    fn finish(&mut self) {
        self.auto_answer = true;
        for (id, request) in self.server_open.clone() {
            if !self.terminated[SERVER].contains(&id) {
                let code = if request.method == Method::Invite {
                    487
                } else {
                    200
                };
                let _ = self.layers[SERVER].send_response(
                    id,
                    response(&request, code, Some("s")),
                    self.now,
                );
            }
        }
        for i in 0..self.invites.len() {
            let (id, _) = self.invites[i];
            if matches!(
                self.layers[CLIENT].state(id),
                Some(TransactionState::Calling | TransactionState::Proceeding)
            ) && let Some(cancel) = self.cancel_for(i)
            {
                self.send(cancel);
            }
        }
        self.pump();
        for _ in 0..1_000_000 {
            if !self.in_flight.is_empty() {
                self.deliver(0);
                self.pump();
                continue;
            }
            let next = self
                .layers
                .iter()
                .filter_map(TransactionLayer::poll_timeout)
                .min();
            let Some(next) = next else {
                return;
            };
            self.now = self.now.max(next);
            self.layers[CLIENT].handle_timeout(self.now);
            self.layers[SERVER].handle_timeout(self.now);
            self.pump();
        }
        panic!("never went idle");
    }
}

proptest! {
    // Failing seeds are kept beside this file (prop.regressions).
    #![proptest_config(ProptestConfig {
        cases: 200,
        failure_persistence: Some(Box::new(
            proptest::test_runner::FileFailurePersistence::WithSource("regressions"),
        )),
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_interleavings_never_panic_and_drain_to_empty(
        ops in prop::collection::vec(op(), 1..80),
        reliable in any::<bool>(),
        quick in any::<bool>(),
        degenerate in prop::bool::weighted(0.1),
    ) {
        let config = match (quick, degenerate) {
            (_, true) => TimerConfig {
                t1: Duration::ZERO,
                t2: Duration::ZERO,
                t4: Duration::ZERO,
            },
            (true, false) => fast(),
            (false, false) => TimerConfig::default(),
        };
        let transport = if reliable { TransportKind::Tcp } else { TransportKind::Udp };
        let mut sim = Sim::new(config, transport);
        for op in ops {
            sim.apply(op);
        }
        sim.finish();
        for side in [CLIENT, SERVER] {
            prop_assert_eq!(sim.layers[side].len(), 0);
            prop_assert!(sim.layers[side].is_empty());
            prop_assert_eq!(sim.layers[side].poll_timeout(), None);
            prop_assert_eq!(sim.layers[side].index_sizes(), (0, 0, 0));
            prop_assert_eq!(sim.layers[side].timer_heap_len(), 0);
            prop_assert_eq!(&sim.created[side], &sim.terminated[side]);
        }
    }
}
