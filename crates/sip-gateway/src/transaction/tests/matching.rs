//! Matching (RFC 3261 §17.1.3, §17.2.3, §9.2), the TU-facing errors, the limit and scale.

use std::time::Duration;

use rsip::Method;

use super::super::{TimerConfig, TransactionError, TransactionEvent, TransactionState, new_branch};
use super::*;

#[test]
fn cancel_matching_a_proceeding_invite_names_it() {
    let mut h = Harness::new(TimerConfig::default());
    let invite = request(Method::Invite, "z9hG4bKi");
    h.receive(invite.clone(), udp());
    let invite_id = h.last_request_id();
    h.respond(invite_id, response(&invite, 180, Some("s1")));
    let cancel = request(Method::Cancel, "z9hG4bKi");
    h.receive(cancel.clone(), udp());
    let (cancel_id, matched) = h
        .events
        .iter()
        .find_map(|(_, e)| match e {
            TransactionEvent::Cancel { id, invite, .. } => Some((*id, *invite)),
            _ => None,
        })
        .expect("a Cancel event");
    assert_ne!(cancel_id, invite_id, "the CANCEL is its own transaction");
    assert_eq!(matched, Some(invite_id));
    assert_eq!(h.layer.cancel_target(&cancel), Some(invite_id));

    // Its retransmission is absorbed by the CANCEL's own transaction.
    h.receive(cancel.clone(), udp());
    assert_eq!(
        h.events_at(|e| matches!(e, TransactionEvent::Cancel { .. }))
            .len(),
        1
    );
    h.respond(cancel_id, response(&cancel, 200, Some("s1")));
    h.respond(invite_id, response(&invite, 487, Some("s1")));
    assert_eq!(h.layer.state(invite_id), Some(TransactionState::Completed));
    assert_eq!(h.layer.state(cancel_id), Some(TransactionState::Completed));
}

#[test]
fn cancel_matching_nothing_or_an_answered_invite_has_no_invite() {
    let mut h = Harness::new(TimerConfig::default());
    let cancel = request(Method::Cancel, "z9hG4bKunknown");
    h.receive(cancel.clone(), udp());
    assert!(matches!(
        h.events.last(),
        Some((_, TransactionEvent::Cancel { invite: None, .. }))
    ));
    assert_eq!(h.layer.cancel_target(&cancel), None);

    let invite = request(Method::Invite, "z9hG4bKi");
    h.receive(invite.clone(), udp());
    let invite_id = h.last_request_id();
    h.respond(invite_id, response(&invite, 200, Some("s1")));
    let cancel = request(Method::Cancel, "z9hG4bKi");
    h.receive(cancel.clone(), udp());
    assert!(matches!(
        h.events.last(),
        Some((_, TransactionEvent::Cancel { invite: None, .. }))
    ));
    // §9.2: it did match a transaction, so the TU answers 200 rather than 481.
    assert_eq!(h.layer.cancel_target(&cancel), Some(invite_id));
}

#[test]
fn requests_differing_in_sent_by_or_method_are_different_transactions() {
    let mut h = Harness::new(TimerConfig::default());
    h.receive(
        request_from(Method::Options, "z9hG4bKx", "192.0.2.1:5060", 1, "c"),
        udp(),
    );
    h.receive(
        request_from(Method::Options, "z9hG4bKx", "192.0.2.9:5060", 1, "c"),
        udp(),
    );
    h.receive(
        request_from(Method::Info, "z9hG4bKx", "192.0.2.1:5060", 1, "c"),
        udp(),
    );
    h.receive(
        request_from(Method::Options, "z9hG4bKx", "192.0.2.1:5060", 1, "c"),
        udp(),
    );
    assert_eq!(
        h.events_at(|e| matches!(e, TransactionEvent::Request { .. }))
            .len(),
        3
    );
    assert_eq!(h.layer.len(), 3);
    assert_eq!(h.layer.stats().retransmissions_absorbed, 1);
}

#[test]
fn rfc2543_requests_without_magic_cookie_still_match() {
    let mut h = Harness::new(TimerConfig::default());
    let invite = request(Method::Invite, "old1");
    h.receive(invite.clone(), udp());
    let id = h.last_request_id();
    h.receive(invite.clone(), udp());
    assert_eq!(h.layer.len(), 1, "the retransmission matched");
    h.respond(id, response(&invite, 486, Some("s1")));
    let mut ack = request(Method::Ack, "old1");
    for hdr in ack.headers.iter_mut() {
        if let rsip::Header::To(to) = hdr {
            *to = rsip::headers::To::new("<sip:bob@192.0.2.2>;tag=s1");
        }
    }
    h.receive(ack, udp());
    assert_eq!(h.layer.state(id), Some(TransactionState::Confirmed));
    assert!(
        h.events_at(|e| matches!(e, TransactionEvent::Ack { .. }))
            .is_empty()
    );
}

#[test]
fn a_request_after_its_transaction_terminated_starts_a_new_one() {
    let mut h = Harness::new(TimerConfig::default());
    let options = request(Method::Options, "z9hG4bKagain");
    h.receive(options.clone(), tcp());
    let first = h.last_request_id();
    h.respond(first, response(&options, 200, None)); // TCP: Timer J = 0
    assert!(h.layer.is_empty());
    assert_eq!(h.layer.index_sizes(), (0, 0, 0));
    h.receive(options, tcp());
    let second = h.last_request_id();
    assert_ne!(first, second);
    assert_eq!(h.layer.state(second), Some(TransactionState::Trying));

    // Likewise on the client side: a terminated branch may be reused.
    let invite = request(Method::Invite, "z9hG4bKreuse");
    let id = h.send_request(invite.clone(), tcp());
    h.receive(response(&invite, 486, Some("t")), tcp()); // TCP: Timer D = 0
    assert_eq!(h.layer.state(id), None);
    let again = h.send_request(invite, tcp());
    assert_ne!(id, again);
}

#[test]
fn unknown_ack_and_stray_response_go_to_the_core() {
    let mut h = Harness::new(TimerConfig::default());
    h.receive(request(Method::Ack, "z9hG4bKlost"), udp());
    let invite = request(Method::Invite, "z9hG4bKmine");
    h.receive(response(&invite, 200, Some("t")), udp());
    assert!(matches!(h.events[0].1, TransactionEvent::Ack { .. }));
    assert!(matches!(
        h.events[1].1,
        TransactionEvent::StrayResponse { .. }
    ));
    assert_eq!(h.layer.stats().stray_responses, 1);
    assert!(h.layer.is_empty(), "ACK never creates a transaction");
}

#[test]
fn responses_match_on_branch_and_cseq_method() {
    let mut h = Harness::new(TimerConfig::default());
    let invite = request(Method::Invite, "z9hG4bKshared");
    let invite_id = h.send_request(invite.clone(), udp());
    let cancel = request(Method::Cancel, "z9hG4bKshared");
    let cancel_id = h.send_request(cancel.clone(), udp());
    h.receive(response(&cancel, 200, Some("t")), udp());
    h.receive(response(&invite, 487, Some("t")), udp());
    let ids: Vec<_> = h
        .events
        .iter()
        .filter_map(|(_, e)| match e {
            TransactionEvent::Response { id, response, .. } => {
                Some((*id, response.status_code.code()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(ids, vec![(cancel_id, 200), (invite_id, 487)]);
}

#[test]
fn send_request_refuses_what_cannot_be_a_client_transaction() {
    let mut h = Harness::new(TimerConfig::default());
    let now = h.now;
    assert_eq!(
        h.layer
            .send_request(request(Method::Ack, "z9hG4bKa"), udp(), now),
        Err(TransactionError::AckNotAllowed)
    );
    let first = h.send_request(request(Method::Options, "z9hG4bKdup"), udp());
    assert_eq!(
        h.layer
            .send_request(request(Method::Options, "z9hG4bKdup"), udp(), now),
        Err(TransactionError::DuplicateBranch {
            branch: "z9hG4bKdup".into(),
            existing: first
        })
    );
    let mut no_via = request(Method::Options, "z9hG4bKv");
    no_via
        .headers
        .retain(|hdr| !matches!(hdr, rsip::Header::Via(_)));
    assert!(matches!(
        h.layer.send_request(no_via, udp(), now),
        Err(TransactionError::InvalidRequest(_))
    ));
    let mut mismatch = request(Method::Options, "z9hG4bKm");
    mismatch.method = Method::Info;
    assert!(matches!(
        h.layer.send_request(mismatch, udp(), now),
        Err(TransactionError::InvalidRequest(_))
    ));
    assert_eq!(h.layer.len(), 1);
}

#[test]
fn malformed_messages_are_dropped_and_counted() {
    let mut h = Harness::new(TimerConfig::default());
    let mut no_via = request(Method::Invite, "z9hG4bKa");
    no_via
        .headers
        .retain(|hdr| !matches!(hdr, rsip::Header::Via(_)));
    h.receive(no_via.clone(), udp());
    let mut no_cseq = request(Method::Options, "z9hG4bKb");
    no_cseq
        .headers
        .retain(|hdr| !matches!(hdr, rsip::Header::CSeq(_)));
    h.receive(no_cseq, udp());
    let response_without_via = response(&no_via, 200, None);
    h.receive(response_without_via, udp());
    assert!(h.events.is_empty());
    assert!(h.layer.is_empty());
    assert_eq!(h.layer.stats().malformed, 3);
}

#[test]
fn beyond_the_limit_new_requests_are_reported_for_a_503() {
    let mut h = Harness::with_layer(TransactionLayer::with_limit(TimerConfig::default(), 2));
    h.receive(request(Method::Options, "z9hG4bK1"), udp());
    h.send_request(request(Method::Options, "z9hG4bK2"), udp());
    h.receive(request(Method::Options, "z9hG4bK3"), udp());
    assert!(matches!(
        h.events.last(),
        Some((_, TransactionEvent::Overloaded { .. }))
    ));
    assert_eq!(
        h.layer
            .send_request(request(Method::Options, "z9hG4bK4"), udp(), h.now),
        Err(TransactionError::LimitReached(2))
    );
    // Retransmissions of existing transactions are still absorbed.
    h.receive(request(Method::Options, "z9hG4bK1"), udp());
    assert_eq!(h.layer.stats().overloaded, 1);
    assert_eq!(h.layer.stats().retransmissions_absorbed, 1);
    // The TU answers 503 statelessly.
    let rejected = request(Method::Options, "z9hG4bK3");
    h.layer
        .send_stateless(response(&rejected, 503, Some("x")).into(), udp());
    assert_eq!(
        h.layer.poll_transmit().and_then(|t| status_of(&t.message)),
        Some(503)
    );
}

#[test]
fn new_branches_carry_the_magic_cookie_and_differ() {
    let mut rng = crate::rng::SipRng::from_seed(1);
    let a = new_branch(&mut rng);
    let b = new_branch(&mut rng);
    assert!(a.starts_with("z9hG4bK") && a.len() == 7 + 22);
    assert!(a[7..].bytes().all(|c| c.is_ascii_alphanumeric()));
    assert_ne!(a, b);
    // The same seed draws the same branches; another seed others.
    assert_eq!(new_branch(&mut crate::rng::SipRng::from_seed(1)), a);
    assert_ne!(new_branch(&mut crate::rng::SipRng::from_seed(2)), a);
}

#[test]
fn twenty_thousand_live_transactions_stay_cheap() {
    const N: usize = 20_000;
    let mut h = Harness::new(TimerConfig::default());
    let mut ids = Vec::with_capacity(N);
    for i in 0..N {
        let req = request_from(
            Method::Options,
            &format!("z9hG4bK{i}"),
            "192.0.2.1:5060",
            1,
            "bulk",
        );
        h.layer.handle_message(req.into(), udp(), h.now);
        while h.layer.poll_event().is_some() {}
        ids.push(super::super::TransactionId(i as u64 + 1));
    }
    assert_eq!(h.layer.len(), N);
    // Answer half over time, then let everything run out.
    for (i, id) in ids.iter().enumerate().take(N / 2) {
        h.now = h.start + Duration::from_millis(i as u64 / 100);
        let req = request_from(
            Method::Options,
            &format!("z9hG4bK{i}"),
            "192.0.2.1:5060",
            1,
            "bulk",
        );
        h.layer
            .send_response(*id, response(&req, 200, None), h.now)
            .expect("live");
        while h.layer.poll_transmit().is_some() {}
    }
    assert!(h.layer.timer_heap_len() <= N / 2 + 1024);
    let mut steps = 0;
    while let Some(at) = h.layer.poll_timeout() {
        h.now = at;
        h.layer.handle_timeout(at);
        while h.layer.poll_event().is_some() {}
        steps += 1;
    }
    assert!(steps <= N / 2, "one wake-up per deadline at most");
    assert_eq!(
        h.layer.len(),
        N / 2,
        "unanswered server transactions wait for the TU"
    );
    assert_eq!(h.layer.timer_heap_len(), 0);
}

#[test]
fn zero_timers_are_normalized_instead_of_spinning() {
    let zero = TimerConfig {
        t1: Duration::ZERO,
        t2: Duration::ZERO,
        t4: Duration::ZERO,
    };
    let layer = TransactionLayer::new(zero);
    assert_eq!(layer.config().t1, TimerConfig::MIN_T1);
    assert_eq!(layer.config().t2, TimerConfig::MIN_T1);
    let mut h = Harness::with_layer(layer);
    h.send_request(request(Method::Options, "z9hG4bKz"), udp());
    h.drive();
    // E at 1, 2, 3 ... ms (capped at T2 = 1 ms) until F at 64 ms.
    assert_eq!(h.requests_sent_at(Method::Options).len(), 64);
    assert_eq!(
        h.events_at(|e| matches!(e, TransactionEvent::Timeout { .. })),
        ms(&[64])
    );
}
