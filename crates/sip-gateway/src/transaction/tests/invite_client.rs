//! INVITE client transaction: RFC 3261 §17.1.1 and RFC 6026 §8.4 (Timers A, B, D, M).

use std::time::Duration;

use rsip::{Method, SipMessage};

use super::super::key;
use super::super::{TimerConfig, TransactionEvent, TransactionState};
use super::*;

#[test]
fn udp_no_answer_retransmits_on_timer_a_and_times_out_on_b() {
    let mut h = Harness::new(TimerConfig::default());
    let id = h.send_request(request(Method::Invite, "z9hG4bKa"), udp());
    h.drive();
    assert_eq!(
        h.requests_sent_at(Method::Invite),
        ms(&[0, 500, 1500, 3500, 7500, 15500, 31500])
    );
    assert_eq!(
        h.events_at(|e| matches!(e, TransactionEvent::Timeout { id: t } if *t == id)),
        ms(&[32000])
    );
    assert_eq!(h.terminated_at(id), ms(&[32000]));
    assert!(h.layer.is_empty());
    let stats = h.layer.stats();
    assert_eq!(stats.retransmissions_sent, 6);
    assert_eq!(stats.timeouts, 1);
    assert_eq!(stats.client_created, 1);
}

#[test]
fn tcp_no_answer_sends_once_and_times_out_on_b() {
    let mut h = Harness::new(TimerConfig::default());
    let id = h.send_request(request(Method::Invite, "z9hG4bKa"), tcp());
    h.drive();
    assert_eq!(h.requests_sent_at(Method::Invite), ms(&[0]));
    assert_eq!(
        h.events_at(|e| matches!(e, TransactionEvent::Timeout { .. })),
        ms(&[32000])
    );
    assert_eq!(h.terminated_at(id), ms(&[32000]));
}

#[test]
fn timer_a_and_b_scale_with_t1() {
    let mut h = Harness::new(fast());
    h.send_request(request(Method::Invite, "z9hG4bKa"), udp());
    h.drive();
    assert_eq!(
        h.requests_sent_at(Method::Invite),
        ms(&[0, 100, 300, 700, 1500, 3100, 6300])
    );
    assert_eq!(
        h.events_at(|e| matches!(e, TransactionEvent::Timeout { .. })),
        ms(&[6400])
    );
}

#[test]
fn provisional_stops_retransmission_and_timer_b() {
    let mut h = Harness::new(TimerConfig::default());
    let invite = request(Method::Invite, "z9hG4bKa");
    let id = h.send_request(invite.clone(), udp());
    h.run_until(Duration::from_millis(1000));
    h.receive(response(&invite, 180, Some("t1")), udp());
    assert_eq!(h.layer.state(id), Some(TransactionState::Proceeding));
    h.run_until(Duration::from_secs(300));
    assert_eq!(h.requests_sent_at(Method::Invite), ms(&[0, 500]));
    assert!(
        h.events_at(|e| matches!(e, TransactionEvent::Timeout { .. }))
            .is_empty()
    );
    assert_eq!(h.layer.poll_timeout(), None, "no timer in Proceeding");
    assert_eq!(
        h.events_at(|e| matches!(
            e,
            TransactionEvent::Response { response, retransmission: false, .. }
                if response.status_code.code() == 180
        )),
        ms(&[1000])
    );
    // Further provisionals are passed up too.
    h.receive(response(&invite, 183, Some("t1")), udp());
    assert_eq!(
        h.events_at(|e| matches!(e, TransactionEvent::Response { .. }))
            .len(),
        2
    );
}

#[test]
fn non_2xx_final_is_acked_by_the_layer_and_timer_d_absorbs_retransmissions() {
    let mut h = Harness::new(TimerConfig::default());
    let invite = request(Method::Invite, "z9hG4bKa");
    let id = h.send_request(invite.clone(), udp());
    h.run_until(Duration::from_millis(2000));
    let busy = response(&invite, 486, Some("t9"));
    h.receive(busy.clone(), udp());

    let acks: Vec<_> = h
        .sent
        .iter()
        .filter(|(_, t)| method_of(&t.message) == Some(Method::Ack))
        .collect();
    assert_eq!(acks.len(), 1);
    let SipMessage::Request(ack) = &acks[0].1.message else {
        unreachable!("filtered on requests");
    };
    // RFC 3261 §17.1.1.3: same branch (it is part of this transaction), response's To tag.
    assert_eq!(
        key::top_via(&ack.headers)
            .expect("via")
            .branch()
            .map(ToString::to_string),
        Some("z9hG4bKa".to_owned())
    );
    assert_eq!(key::to_tag(&ack.headers).as_deref(), Some("t9"));
    assert_eq!(key::cseq(&ack.headers).expect("cseq").method, Method::Ack);
    assert_eq!(ack.uri, invite.uri);
    assert_eq!(h.layer.state(id), Some(TransactionState::Completed));

    // Retransmitted finals: ACKed again, never reported again.
    h.run_until(Duration::from_millis(2500));
    h.receive(busy.clone(), udp());
    h.run_until(Duration::from_millis(4500));
    h.receive(busy, udp());
    h.drive();
    assert_eq!(h.requests_sent_at(Method::Ack), ms(&[2000, 2500, 4500]));
    assert_eq!(
        h.events_at(|e| matches!(e, TransactionEvent::Response { .. })),
        ms(&[2000])
    );
    // Retransmissions stopped at the final; Timer D = 32 s on UDP.
    assert_eq!(h.requests_sent_at(Method::Invite), ms(&[0, 500, 1500]));
    assert_eq!(h.terminated_at(id), ms(&[34000]));
    assert_eq!(h.layer.stats().retransmissions_absorbed, 2);
}

#[test]
fn timer_d_is_zero_on_tcp_and_at_least_32_s_whatever_t1() {
    let mut h = Harness::new(TimerConfig::default());
    let invite = request(Method::Invite, "z9hG4bKa");
    let id = h.send_request(invite.clone(), tcp());
    h.run_until(Duration::from_millis(300));
    h.receive(response(&invite, 603, Some("t")), tcp());
    assert_eq!(h.requests_sent_at(Method::Ack), ms(&[300]));
    assert_eq!(h.terminated_at(id), ms(&[300]));
    assert!(h.layer.is_empty());

    let mut fast = Harness::new(fast());
    let id = fast.send_request(invite.clone(), udp());
    fast.receive(response(&invite, 404, Some("t")), udp());
    fast.drive();
    assert_eq!(fast.terminated_at(id), ms(&[32000]));
}

#[test]
fn accepted_passes_every_2xx_flagged_and_ends_on_timer_m() {
    let mut h = Harness::new(TimerConfig::default());
    let invite = request(Method::Invite, "z9hG4bKa");
    let id = h.send_request(invite.clone(), udp());
    h.run_until(Duration::from_millis(100));
    let ok = response(&invite, 200, Some("t1"));
    h.receive(ok.clone(), udp());
    assert_eq!(h.layer.state(id), Some(TransactionState::Accepted));
    assert!(
        h.requests_sent_at(Method::Ack).is_empty(),
        "the ACK for a 2xx is the TU's"
    );
    h.run_until(Duration::from_millis(600));
    h.receive(ok.clone(), udp()); // retransmission
    h.receive(response(&invite, 200, Some("fork2")), udp()); // another fork
    h.receive(response(&invite, 200, Some("fork2")), udp()); // the fork's retransmission
    h.receive(response(&invite, 486, Some("t3")), udp()); // absorbed
    h.receive(response(&invite, 180, Some("t1")), udp()); // absorbed
    h.drive();
    let flags: Vec<(Duration, bool)> = h
        .events
        .iter()
        .filter_map(|(at, e)| match e {
            TransactionEvent::Response {
                retransmission,
                response,
                ..
            } => {
                assert_eq!(response.status_code.code(), 200);
                Some((*at, *retransmission))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        flags,
        vec![
            (Duration::from_millis(100), false),
            (Duration::from_millis(600), true),
            (Duration::from_millis(600), false),
            (Duration::from_millis(600), true),
        ]
    );
    assert_eq!(h.requests_sent_at(Method::Invite), ms(&[0]));
    assert_eq!(h.terminated_at(id), ms(&[32100]), "Timer M = 64*T1");
}

#[test]
fn timer_m_scales_with_t1() {
    let mut h = Harness::new(fast());
    let invite = request(Method::Invite, "z9hG4bKa");
    let id = h.send_request(invite.clone(), tcp());
    h.receive(response(&invite, 200, Some("t1")), tcp());
    h.drive();
    assert_eq!(h.terminated_at(id), ms(&[6400]));
}

#[test]
fn cancel_starts_the_rfc3261_9_1_wait_on_the_invite() {
    let mut h = Harness::new(TimerConfig::default());
    let invite = request(Method::Invite, "z9hG4bKa");
    let id = h.send_request(invite.clone(), udp());
    h.receive(response(&invite, 180, Some("t1")), udp());
    h.run_until(Duration::from_secs(10));
    let cancel = request(Method::Cancel, "z9hG4bKa");
    let cancel_id = h.send_request(cancel.clone(), udp());
    assert_ne!(cancel_id, id);
    h.receive(response(&cancel, 200, Some("t1")), udp());
    // The CANCEL's 200 went to the CANCEL transaction (CSeq method), not to the INVITE.
    assert_eq!(h.layer.state(cancel_id), Some(TransactionState::Completed));
    assert_eq!(h.layer.state(id), Some(TransactionState::Proceeding));
    h.drive();
    assert_eq!(
        h.events_at(|e| matches!(e, TransactionEvent::Timeout { id: t } if *t == id)),
        ms(&[42000])
    );
    assert_eq!(h.terminated_at(cancel_id), ms(&[15000]), "Timer K = T4");
}

#[test]
fn cancel_wait_stops_when_the_487_arrives() {
    let mut h = Harness::new(TimerConfig::default());
    let invite = request(Method::Invite, "z9hG4bKa");
    let id = h.send_request(invite.clone(), udp());
    h.receive(response(&invite, 180, Some("t1")), udp());
    h.send_request(request(Method::Cancel, "z9hG4bKa"), udp());
    h.run_until(Duration::from_secs(1));
    h.receive(response(&invite, 487, Some("t1")), udp());
    h.drive();
    assert!(
        h.events_at(|e| matches!(e, TransactionEvent::Timeout { id: t } if *t == id))
            .is_empty()
    );
    assert_eq!(h.terminated_at(id), ms(&[33000]));
}

#[test]
fn transport_error_terminates_and_is_reported() {
    let mut h = Harness::new(TimerConfig::default());
    let id = h.send_request(request(Method::Invite, "z9hG4bKa"), udp());
    h.transport_error(id);
    h.transport_error(id); // unknown now: ignored
    let kinds: Vec<&str> = h
        .events
        .iter()
        .map(|(_, e)| match e {
            TransactionEvent::TransportError { .. } => "transport-error",
            TransactionEvent::Terminated { .. } => "terminated",
            _ => "other",
        })
        .collect();
    assert_eq!(kinds, ["transport-error", "terminated"]);
    assert!(h.layer.is_empty());
    assert_eq!(h.layer.poll_timeout(), None);
    assert_eq!(h.layer.stats().transport_errors, 1);
}
