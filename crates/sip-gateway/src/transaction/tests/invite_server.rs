//! INVITE server transaction: RFC 3261 §17.2.1 (100 Trying, Timers G, H, I) and RFC 6026 §8.7
//! (Accepted, 2xx retransmission, Timer L).

use std::time::Duration;

use rsip::Method;

use super::super::{TimerConfig, TransactionError, TransactionEvent, TransactionState};
use super::*;

fn invite() -> rsip::Request {
    request(Method::Invite, "z9hG4bKi")
}

/// A harness holding one INVITE server transaction, created at t = 0.
fn with_invite(config: TimerConfig, from: Peer) -> (Harness, TransactionId) {
    let mut h = Harness::new(config);
    h.receive(invite(), from);
    let id = h.last_request_id();
    (h, id)
}

#[test]
fn layer_sends_100_trying_at_200_ms_when_the_tu_is_silent() {
    let (mut h, id) = with_invite(TimerConfig::default(), udp());
    assert_eq!(h.layer.state(id), Some(TransactionState::Proceeding));
    h.run_until(Duration::from_millis(100));
    h.receive(invite(), udp()); // too early for anything to re-send
    h.run_until(Duration::from_millis(1000));
    h.receive(invite(), udp()); // re-sends the 100
    assert_eq!(h.responses_sent_at(100), ms(&[200, 1000]));
    let trying = &h.sent[0].1.message;
    let rsip::SipMessage::Response(trying) = trying else {
        panic!("a response");
    };
    assert_eq!(
        super::super::key::call_id(&trying.headers).expect("Call-ID copied"),
        "call-1@192.0.2.1"
    );
    assert_eq!(super::super::key::to_tag(&trying.headers), None);
    assert_eq!(h.layer.stats().trying_sent, 1);
    assert_eq!(h.layer.stats().retransmissions_absorbed, 2);
    assert_eq!(
        h.events_at(|e| matches!(e, TransactionEvent::Request { .. })),
        ms(&[0])
    );
    assert_eq!(h.layer.poll_timeout(), None, "Proceeding waits for the TU");
}

#[test]
fn a_provisional_from_the_tu_within_200_ms_replaces_the_100() {
    let (mut h, id) = with_invite(TimerConfig::default(), udp());
    h.run_until(Duration::from_millis(150));
    h.respond(id, response(&invite(), 180, Some("s1")));
    h.run_until(Duration::from_millis(2000));
    h.receive(invite(), udp()); // re-sends the 180
    assert!(h.responses_sent_at(100).is_empty());
    assert_eq!(h.responses_sent_at(180), ms(&[150, 2000]));
}

#[test]
fn non_2xx_final_timer_g_doubles_to_t2_and_timer_h_reports_ack_timeout() {
    let (mut h, id) = with_invite(TimerConfig::default(), udp());
    h.run_until(Duration::from_millis(1000));
    h.respond(id, response(&invite(), 486, Some("s1")));
    assert_eq!(h.layer.state(id), Some(TransactionState::Completed));
    h.drive();
    assert_eq!(
        h.responses_sent_at(486),
        ms(&[
            1000, 1500, 2500, 4500, 8500, 12500, 16500, 20500, 24500, 28500, 32500
        ])
    );
    assert_eq!(
        h.events_at(|e| matches!(
            e,
            TransactionEvent::AckTimeout { id: t, final_status: 486 } if *t == id
        )),
        ms(&[33000])
    );
    assert_eq!(h.terminated_at(id), ms(&[33000]));
    assert_eq!(h.layer.stats().ack_timeouts, 1);
    assert_eq!(h.responses_sent_at(100), ms(&[200]));
}

#[test]
fn ack_for_non_2xx_is_absorbed_and_timer_i_ends_confirmed() {
    let (mut h, id) = with_invite(TimerConfig::default(), udp());
    h.respond(id, response(&invite(), 404, Some("s1")));
    h.run_until(Duration::from_millis(700));
    h.receive(invite(), udp()); // Completed: re-sends the 404
    h.run_until(Duration::from_millis(1000));
    let mut ack = request(Method::Ack, "z9hG4bKi"); // same branch: part of the transaction
    ack = with_to_tag(ack, "s1");
    h.receive(ack.clone(), udp());
    assert_eq!(h.layer.state(id), Some(TransactionState::Confirmed));
    h.run_until(Duration::from_millis(3000));
    h.receive(ack, udp()); // absorbed in Confirmed
    h.drive();
    assert_eq!(h.responses_sent_at(404), ms(&[0, 500, 700]));
    assert!(
        h.events_at(|e| matches!(e, TransactionEvent::Ack { .. }))
            .is_empty(),
        "the ACK for a non-2xx never reaches the TU"
    );
    assert_eq!(h.terminated_at(id), ms(&[6000]), "Timer I = T4");
    assert!(
        h.events_at(|e| matches!(e, TransactionEvent::AckTimeout { .. }))
            .is_empty()
    );
}

#[test]
fn tcp_has_no_timer_g_and_timer_i_is_zero() {
    let (mut h, id) = with_invite(TimerConfig::default(), tcp());
    h.run_until(Duration::from_millis(10));
    h.respond(id, response(&invite(), 486, Some("s1")));
    h.run_until(Duration::from_millis(20));
    h.receive(with_to_tag(request(Method::Ack, "z9hG4bKi"), "s1"), tcp());
    assert_eq!(h.responses_sent_at(486), ms(&[10]));
    assert_eq!(h.terminated_at(id), ms(&[20]));

    let (mut h, id) = with_invite(TimerConfig::default(), tcp());
    h.respond(id, response(&invite(), 486, Some("s1")));
    h.drive();
    assert_eq!(h.responses_sent_at(486), ms(&[0]));
    assert_eq!(
        h.events_at(|e| matches!(e, TransactionEvent::AckTimeout { .. })),
        ms(&[32000]),
        "Timer H applies on TCP too"
    );
}

#[test]
fn g_h_i_scale_with_t1_t2_t4() {
    let (mut h, id) = with_invite(fast(), udp());
    h.respond(id, response(&invite(), 500, Some("s1")));
    h.drive();
    let mut expected = vec![0, 100, 300, 700];
    let mut t = 700;
    while t + 400 < 6400 {
        t += 400;
        expected.push(t);
    }
    assert_eq!(h.responses_sent_at(500), ms(&expected));
    assert_eq!(h.terminated_at(id), ms(&[6400]));

    let (mut h, id) = with_invite(fast(), udp());
    h.respond(id, response(&invite(), 500, Some("s1")));
    h.receive(with_to_tag(request(Method::Ack, "z9hG4bKi"), "s1"), udp());
    h.drive();
    assert_eq!(h.terminated_at(id), ms(&[1000]), "I = T4 = 1 s");
}

#[test]
fn accepted_retransmits_the_2xx_until_timer_l_then_reports_ack_timeout() {
    let (mut h, id) = with_invite(TimerConfig::default(), udp());
    h.respond(id, response(&invite(), 200, Some("s1")));
    assert_eq!(h.layer.state(id), Some(TransactionState::Accepted));
    h.drive();
    assert_eq!(
        h.responses_sent_at(200),
        ms(&[
            0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500
        ])
    );
    assert_eq!(
        h.events_at(|e| matches!(
            e,
            TransactionEvent::AckTimeout {
                final_status: 200,
                ..
            }
        )),
        ms(&[32000])
    );
    assert_eq!(h.terminated_at(id), ms(&[32000]));
}

#[test]
fn the_2xx_is_retransmitted_over_tcp_too_because_its_ack_is_end_to_end() {
    let (mut h, id) = with_invite(fast(), tcp());
    h.respond(id, response(&invite(), 200, Some("s1")));
    h.run_until(Duration::from_millis(1000));
    assert_eq!(h.responses_sent_at(200), ms(&[0, 100, 300, 700]));
}

#[test]
fn ack_for_2xx_stops_retransmission_is_reported_and_invites_are_absorbed_until_l() {
    let (mut h, id) = with_invite(TimerConfig::default(), udp());
    h.run_until(Duration::from_millis(300));
    let ok = response(&invite(), 200, Some("s1"));
    h.respond(id, ok.clone());
    h.run_until(Duration::from_millis(1000));
    h.receive(ack_for_2xx(&invite(), &ok, "z9hG4bKnew"), udp());
    h.run_until(Duration::from_millis(2000));
    h.receive(invite(), udp()); // RFC 6026 §7.1: absorbed, not a new transaction
    h.receive(ack_for_2xx(&invite(), &ok, "z9hG4bKnew"), udp()); // reported again
    h.drive();
    assert_eq!(h.responses_sent_at(200), ms(&[300, 800]));
    assert_eq!(
        h.events_at(|e| matches!(e, TransactionEvent::Ack { .. })),
        ms(&[1000, 2000])
    );
    assert_eq!(
        h.events_at(|e| matches!(e, TransactionEvent::Request { .. })),
        ms(&[0])
    );
    assert!(
        h.events_at(|e| matches!(e, TransactionEvent::AckTimeout { .. }))
            .is_empty()
    );
    assert_eq!(h.terminated_at(id), ms(&[32300]), "Timer L = 64*T1");
    assert_eq!(h.responses_sent_at(100), ms(&[200]));
}

#[test]
fn ack_with_another_to_tag_does_not_stop_the_2xx() {
    let (mut h, id) = with_invite(TimerConfig::default(), udp());
    let ok = response(&invite(), 200, Some("s1"));
    h.respond(id, ok);
    let wrong = response(&invite(), 200, Some("other"));
    h.receive(ack_for_2xx(&invite(), &wrong, "z9hG4bKnew"), udp());
    h.run_until(Duration::from_millis(2000));
    assert_eq!(h.responses_sent_at(200), ms(&[0, 500, 1500]));
    assert_eq!(
        h.events_at(|e| matches!(e, TransactionEvent::Ack { .. })),
        ms(&[0]),
        "still reported: the dialog layer decides"
    );
}

#[test]
fn timer_l_scales_with_t1() {
    let (mut h, id) = with_invite(fast(), udp());
    h.respond(id, response(&invite(), 200, Some("s1")));
    h.drive();
    assert_eq!(h.terminated_at(id), ms(&[6400]));
}

#[test]
fn send_response_refuses_what_the_state_machine_forbids() {
    let (mut h, id) = with_invite(TimerConfig::default(), udp());
    let now = h.now;
    assert_eq!(
        h.layer
            .send_response(id, response(&invite(), 99, None), now),
        Err(TransactionError::InvalidStatus(99))
    );
    h.respond(id, response(&invite(), 200, Some("s1")));
    // RFC 6026 §8.7: more 2xx may be sent in Accepted; nothing else.
    h.respond(id, response(&invite(), 200, Some("s1")));
    assert_eq!(
        h.layer
            .send_response(id, response(&invite(), 180, Some("s1")), now),
        Err(TransactionError::InvalidState {
            id,
            state: TransactionState::Accepted,
            status: 180
        })
    );
    assert_eq!(
        h.layer
            .send_response(id, response(&invite(), 486, Some("s1")), now),
        Err(TransactionError::InvalidState {
            id,
            state: TransactionState::Accepted,
            status: 486
        })
    );
    let gone = TransactionId(999);
    assert_eq!(
        h.layer
            .send_response(gone, response(&invite(), 200, None), now),
        Err(TransactionError::UnknownTransaction(gone))
    );
    let client = h.send_request(request(Method::Options, "z9hG4bKc"), udp());
    assert_eq!(
        h.layer
            .send_response(client, response(&invite(), 200, None), now),
        Err(TransactionError::NotServerTransaction(client))
    );

    let (mut h, id) = with_invite(TimerConfig::default(), udp());
    h.respond(id, response(&invite(), 486, Some("s1")));
    assert_eq!(
        h.layer
            .send_response(id, response(&invite(), 200, Some("s1")), h.now),
        Err(TransactionError::InvalidState {
            id,
            state: TransactionState::Completed,
            status: 200
        })
    );
}

fn with_to_tag(mut request: rsip::Request, tag: &str) -> rsip::Request {
    for h in request.headers.iter_mut() {
        if let rsip::Header::To(to) = h {
            *to = rsip::headers::To::new(format!("<sip:bob@192.0.2.2>;tag={tag}"));
        }
    }
    request
}
