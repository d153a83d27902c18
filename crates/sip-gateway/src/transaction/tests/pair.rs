//! Two layers, a UAC and a UAS, wired through a lossy link with fixed latency, in the manner of
//! quinn-proto's `Pair`: [`Pair::step`] jumps to the next deadline of either layer, of the link,
//! or of the TU. Messages cross the link as text and are parsed back, so what the layer builds
//! must be valid on the wire.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rsip::headers::Header;
use rsip::{Method, Request, Response, SipMessage};

use super::super::{Peer, TimerConfig, TransactionEvent, TransactionId, TransactionLayer};
use super::super::{TransportKind, new_branch};
use super::{ack_for_2xx, request_from, response};
use crate::rng::SipRng;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Client,
    Server,
}

struct Node {
    layer: TransactionLayer,
    addr: SocketAddr,
}

struct InFlight {
    deliver_at: Instant,
    to: Side,
    from: Peer,
    wire: String,
}

/// Two nodes and the link between them.
struct Pair {
    client: Node,
    server: Node,
    start: Instant,
    now: Instant,
    latency: Duration,
    /// 1-based numbers of the packets the link drops, counted over both directions.
    drop: BTreeSet<usize>,
    packets: usize,
    in_flight: Vec<InFlight>,
    /// Every packet offered to the link: its number, a summary, whether it was dropped.
    log: Vec<(usize, String, bool)>,
    /// The UAC's branches: seeded, so that a failing run replays exactly.
    rng: SipRng,
}

fn summary(message: &SipMessage) -> String {
    match message {
        SipMessage::Request(r) => r.method.to_string(),
        SipMessage::Response(r) => {
            let method = super::super::key::cseq(&r.headers)
                .map(|c| c.method.to_string())
                .unwrap_or_default();
            format!("{} {method}", r.status_code.code())
        }
    }
}

impl Pair {
    fn new(config: TimerConfig, drop: &[usize]) -> Self {
        let start = Instant::now();
        Self {
            client: Node {
                layer: TransactionLayer::new(config.clone()),
                addr: "192.0.2.1:5060".parse().expect("literal"),
            },
            server: Node {
                layer: TransactionLayer::new(config),
                addr: "192.0.2.2:5060".parse().expect("literal"),
            },
            start,
            now: start,
            latency: Duration::from_millis(10),
            drop: drop.iter().copied().collect(),
            packets: 0,
            in_flight: Vec::new(),
            log: Vec::new(),
            rng: SipRng::from_seed(0),
        }
    }

    fn node(&mut self, side: Side) -> &mut Node {
        match side {
            Side::Client => &mut self.client,
            Side::Server => &mut self.server,
        }
    }

    fn peer_of(&self, side: Side) -> Peer {
        let addr = match side {
            Side::Client => self.client.addr,
            Side::Server => self.server.addr,
        };
        Peer {
            addr,
            transport: TransportKind::Udp,
        }
    }

    /// Moves both layers' transmits onto the link and returns their events.
    fn flush(&mut self) -> Vec<(Side, TransactionEvent)> {
        let mut events = Vec::new();
        for side in [Side::Client, Side::Server] {
            let from = self.peer_of(side);
            while let Some(t) = self.node(side).layer.poll_transmit() {
                self.packets += 1;
                let dropped = self.drop.contains(&self.packets);
                self.log.push((self.packets, summary(&t.message), dropped));
                let to = if t.peer.addr == self.server.addr {
                    Side::Server
                } else {
                    Side::Client
                };
                assert_ne!(to, side, "a node sends to the other one");
                if !dropped {
                    self.in_flight.push(InFlight {
                        deliver_at: self.now + self.latency,
                        to,
                        from: from.clone(),
                        wire: t.message.to_string(),
                    });
                }
            }
            while let Some(e) = self.node(side).layer.poll_event() {
                events.push((side, e));
            }
        }
        events
    }

    /// Advances to the next deadline (layers, link, or `tu_wake`), delivers and fires what is
    /// due. `None` when nothing at all is pending.
    fn step(&mut self, tu_wake: Option<Instant>) -> Option<Vec<(Side, TransactionEvent)>> {
        let next = [
            self.client.layer.poll_timeout(),
            self.server.layer.poll_timeout(),
            self.in_flight.iter().map(|p| p.deliver_at).min(),
            tu_wake,
        ]
        .into_iter()
        .flatten()
        .min()?;
        self.now = self.now.max(next);
        let now = self.now;
        let (due, later): (Vec<_>, Vec<_>) =
            self.in_flight.drain(..).partition(|p| p.deliver_at <= now);
        self.in_flight = later;
        for packet in due {
            let message = SipMessage::try_from(packet.wire.as_str())
                .unwrap_or_else(|e| panic!("unparsable on the wire ({e}): {}", packet.wire));
            self.node(packet.to)
                .layer
                .handle_message(message, packet.from, now);
        }
        self.client.layer.handle_timeout(now);
        self.server.layer.handle_timeout(now);
        Some(self.flush())
    }

    fn elapsed(&self) -> Duration {
        self.now - self.start
    }
}

/// The UAC's TU: ACKs every 2xx (again for each retransmission), then hangs up with BYE.
struct Uac {
    invite: Request,
    invite_id: TransactionId,
    ack: Option<Request>,
    bye_id: Option<TransactionId>,
    bye_final: Option<u16>,
    invite_finals: Vec<(u16, bool)>,
}

/// The UAS's TU: rings at once, answers 200 after `answer_after`, answers BYE with 200.
struct Uas {
    answer_after: Option<Duration>,
    invite: Option<(TransactionId, Request, Instant)>,
    acks: usize,
}

struct Outcome {
    log: Vec<(usize, String, bool)>,
    events: Vec<(Side, TransactionEvent)>,
    uac: Uac,
    uas: Uas,
    idle_after: Duration,
}

fn run_call(drop: &[usize], answer_after: Option<Duration>) -> Outcome {
    let mut pair = Pair::new(TimerConfig::default(), drop);
    let invite = request_from(
        Method::Invite,
        &new_branch(&mut pair.rng),
        "192.0.2.1:5060",
        1,
        "pair-1",
    );
    let server_peer = pair.peer_of(Side::Server);
    let invite_id = pair
        .client
        .layer
        .send_request(invite.clone(), server_peer.clone(), pair.now)
        .expect("INVITE starts");
    let mut uac = Uac {
        invite,
        invite_id,
        ack: None,
        bye_id: None,
        bye_final: None,
        invite_finals: Vec::new(),
    };
    let mut uas = Uas {
        answer_after,
        invite: None,
        acks: 0,
    };
    let mut all_events = pair.flush();
    let mut pending = all_events.clone();
    for _ in 0..100_000 {
        for (side, event) in std::mem::take(&mut pending) {
            match side {
                Side::Client => uac_react(&mut pair, &mut uac, event),
                Side::Server => uas_react(&mut pair, &mut uas, event),
            }
        }
        // The UAS's own timer: time to answer.
        let wake = uas.invite.as_ref().map(|(_, _, at)| *at);
        if let Some((id, request, at)) = uas.invite.take() {
            if pair.now >= at {
                let ok = response(&request, 200, Some("uas-tag"));
                pair.server
                    .layer
                    .send_response(id, ok, pair.now)
                    .expect("answer");
            } else {
                uas.invite = Some((id, request, at));
            }
        }
        let reacted = pair.flush();
        all_events.extend(reacted.iter().cloned());
        pending.extend(reacted);
        if !pending.is_empty() {
            continue;
        }
        let wake = wake.filter(|_| uas.invite.is_some());
        match pair.step(wake) {
            Some(events) => {
                all_events.extend(events.iter().cloned());
                pending = events;
            }
            None => break,
        }
    }
    assert!(pair.client.layer.is_empty(), "client layer drained");
    assert!(pair.server.layer.is_empty(), "server layer drained");
    Outcome {
        log: pair.log.clone(),
        events: all_events,
        idle_after: pair.elapsed(),
        uac,
        uas,
    }
}

fn uac_react(pair: &mut Pair, uac: &mut Uac, event: TransactionEvent) {
    let server = pair.peer_of(Side::Server);
    match event {
        TransactionEvent::Response {
            id,
            response,
            retransmission,
        } if id == uac.invite_id => {
            let code = response.status_code.code();
            if code < 200 {
                return;
            }
            uac.invite_finals.push((code, retransmission));
            if let Some(ack) = &uac.ack {
                // A retransmitted 2xx: our ACK was lost, send it again (RFC 3261 §13.2.2.4).
                pair.client.layer.send_stateless(ack.clone().into(), server);
                return;
            }
            let ack = ack_for_2xx(&uac.invite, &response, &new_branch(&mut pair.rng));
            pair.client
                .layer
                .send_stateless(ack.clone().into(), server.clone());
            uac.ack = Some(ack);
            let bye = with_to_of(
                request_from(
                    Method::Bye,
                    &new_branch(&mut pair.rng),
                    "192.0.2.1:5060",
                    2,
                    "pair-1",
                ),
                &response,
            );
            uac.bye_id = Some(
                pair.client
                    .layer
                    .send_request(bye, server, pair.now)
                    .expect("BYE starts"),
            );
        }
        TransactionEvent::Response { id, response, .. }
            if Some(id) == uac.bye_id && response.status_code.code() >= 200 =>
        {
            uac.bye_final = Some(response.status_code.code());
        }
        _ => {}
    }
}

fn uas_react(pair: &mut Pair, uas: &mut Uas, event: TransactionEvent) {
    match event {
        TransactionEvent::Request { id, request, .. } if request.method == Method::Invite => {
            match uas.answer_after {
                Some(delay) => {
                    let ringing = response(&request, 180, Some("uas-tag"));
                    pair.server
                        .layer
                        .send_response(id, ringing, pair.now)
                        .expect("ring");
                    uas.invite = Some((id, request, pair.now + delay));
                }
                None => {
                    let ok = response(&request, 200, Some("uas-tag"));
                    pair.server
                        .layer
                        .send_response(id, ok, pair.now)
                        .expect("answer");
                }
            }
        }
        TransactionEvent::Request { id, request, .. } if request.method == Method::Bye => {
            let ok = response(&request, 200, Some("uas-tag"));
            pair.server
                .layer
                .send_response(id, ok, pair.now)
                .expect("BYE answered");
        }
        TransactionEvent::Ack { .. } => uas.acks += 1,
        _ => {}
    }
}

fn with_to_of(mut request: Request, response: &Response) -> Request {
    let to = response
        .headers
        .iter()
        .find(|h| matches!(h, Header::To(_)))
        .cloned()
        .expect("To");
    for h in request.headers.iter_mut() {
        if matches!(h, Header::To(_)) {
            *h = to.clone();
        }
    }
    request
}

fn log_summary(log: &[(usize, String, bool)]) -> Vec<String> {
    log.iter()
        .map(|(_, what, dropped)| {
            if *dropped {
                format!("{what} (lost)")
            } else {
                what.clone()
            }
        })
        .collect()
}

fn assert_clean_call(outcome: &Outcome) {
    assert_eq!(outcome.uac.invite_finals.first(), Some(&(200, false)));
    assert_eq!(outcome.uac.bye_final, Some(200));
    assert!(outcome.uas.acks >= 1);
    for (side, event) in &outcome.events {
        assert!(
            !matches!(
                event,
                TransactionEvent::Timeout { .. }
                    | TransactionEvent::AckTimeout { .. }
                    | TransactionEvent::TransportError { .. }
                    | TransactionEvent::StrayResponse { .. }
            ),
            "{side:?} saw {event:?}"
        );
    }
    // Four transactions (INVITE and BYE on each side), each terminated exactly once.
    let terminated: Vec<_> = outcome
        .events
        .iter()
        .filter(|(_, e)| matches!(e, TransactionEvent::Terminated { .. }))
        .collect();
    assert_eq!(terminated.len(), 4);
}

#[test]
fn invite_200_ack_and_bye_complete_when_the_1st_and_3rd_packets_are_lost() {
    let outcome = run_call(&[1, 3], None);
    assert_eq!(
        log_summary(&outcome.log),
        [
            "INVITE (lost)",
            "INVITE",            // Timer A, 500 ms
            "200 INVITE (lost)", // the UAS answers at once
            "200 INVITE",        // the layer's 2xx retransmission, T1 later
            "ACK",
            "BYE",
            "200 BYE",
        ]
    );
    assert_clean_call(&outcome);
    assert_eq!(outcome.uas.acks, 1);
    // The BYE reached the UAS at 1.03 s; its Timer J (64*T1) is the last timer to fire.
    assert_eq!(outcome.idle_after, Duration::from_millis(33_030));
}

#[test]
fn ringing_call_completes_when_the_invite_and_the_180_are_lost() {
    let outcome = run_call(&[1, 3], Some(Duration::from_secs(2)));
    assert_eq!(
        log_summary(&outcome.log),
        [
            "INVITE (lost)",
            "INVITE", // Timer A at 500 ms
            "180 INVITE (lost)",
            "INVITE",     // Timer A at 1.5 s: still Calling
            "180 INVITE", // the UAS re-sends its last provisional
            "200 INVITE", // the TU answers at 2.51 s
            "ACK",
            "BYE",
            "200 BYE",
        ]
    );
    assert_clean_call(&outcome);
}

#[test]
fn a_lost_ack_is_recovered_by_the_2xx_retransmission() {
    // Packets: INVITE, 200, ACK (lost), BYE, 200 BYE, 200 INVITE (retransmitted), ACK again.
    let outcome = run_call(&[3], None);
    let log = log_summary(&outcome.log);
    assert_eq!(
        &log[..5],
        ["INVITE", "200 INVITE", "ACK (lost)", "BYE", "200 BYE"]
    );
    assert_eq!(&log[5..], ["200 INVITE", "ACK"]);
    assert_eq!(
        outcome.uac.invite_finals,
        vec![(200, false), (200, true)],
        "the retransmitted 2xx reached the TU flagged"
    );
    assert_clean_call(&outcome);
    assert_eq!(outcome.uas.acks, 1);
}
