//! Non-INVITE transactions: client RFC 3261 §17.1.2 (Timers E, F, K), server §17.2.2 (Timer J).

use std::time::Duration;

use rsip::Method;

use super::super::{TimerConfig, TransactionEvent, TransactionState};
use super::*;

#[test]
fn udp_no_answer_timer_e_doubles_up_to_t2_and_f_times_out() {
    let mut h = Harness::new(TimerConfig::default());
    let id = h.send_request(request(Method::Options, "z9hG4bKo"), udp());
    h.drive();
    assert_eq!(
        h.requests_sent_at(Method::Options),
        ms(&[
            0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500
        ])
    );
    assert_eq!(
        h.events_at(|e| matches!(e, TransactionEvent::Timeout { id: t } if *t == id)),
        ms(&[32000])
    );
    assert_eq!(h.terminated_at(id), ms(&[32000]));
    assert_eq!(h.layer.stats().retransmissions_sent, 10);
}

#[test]
fn provisional_switches_timer_e_to_t2() {
    let mut h = Harness::new(TimerConfig::default());
    let bye = request(Method::Bye, "z9hG4bKb");
    let id = h.send_request(bye.clone(), udp());
    h.run_until(Duration::from_millis(200));
    h.receive(response(&bye, 100, None), udp());
    assert_eq!(h.layer.state(id), Some(TransactionState::Proceeding));
    h.drive();
    // E keeps its 500 ms deadline, then fires every T2 = 4 s until Timer F.
    assert_eq!(
        h.requests_sent_at(Method::Bye),
        ms(&[0, 500, 4500, 8500, 12500, 16500, 20500, 24500, 28500])
    );
    assert_eq!(
        h.events_at(|e| matches!(e, TransactionEvent::Timeout { .. })),
        ms(&[32000])
    );
}

#[test]
fn provisional_after_some_doubling_still_resets_to_t2() {
    let mut h = Harness::new(TimerConfig::default());
    let bye = request(Method::Bye, "z9hG4bKb");
    h.send_request(bye.clone(), udp());
    h.run_until(Duration::from_millis(1000));
    h.receive(response(&bye, 100, None), udp());
    h.run_until(Duration::from_millis(10000));
    assert_eq!(
        h.requests_sent_at(Method::Bye),
        ms(&[0, 500, 1500, 5500, 9500])
    );
}

#[test]
fn tcp_has_no_timer_e_and_times_out_on_f() {
    let mut h = Harness::new(TimerConfig::default());
    h.send_request(request(Method::Register, "z9hG4bKr"), tcp());
    h.drive();
    assert_eq!(h.requests_sent_at(Method::Register), ms(&[0]));
    assert_eq!(
        h.events_at(|e| matches!(e, TransactionEvent::Timeout { .. })),
        ms(&[32000])
    );
}

#[test]
fn final_response_completes_and_timer_k_absorbs_retransmissions() {
    let mut h = Harness::new(TimerConfig::default());
    let options = request(Method::Options, "z9hG4bKo");
    let id = h.send_request(options.clone(), udp());
    h.run_until(Duration::from_millis(700));
    let ok = response(&options, 200, Some("x"));
    h.receive(ok.clone(), udp());
    assert_eq!(h.layer.state(id), Some(TransactionState::Completed));
    h.run_until(Duration::from_millis(2000));
    h.receive(ok, udp());
    h.drive();
    assert_eq!(h.requests_sent_at(Method::Options), ms(&[0, 500]));
    assert_eq!(
        h.events_at(|e| matches!(e, TransactionEvent::Response { .. })),
        ms(&[700]),
        "the retransmitted 200 is absorbed"
    );
    assert_eq!(h.terminated_at(id), ms(&[5700]), "Timer K = T4");
    assert_eq!(h.layer.stats().retransmissions_absorbed, 1);
}

#[test]
fn timer_k_is_zero_on_tcp() {
    let mut h = Harness::new(TimerConfig::default());
    let options = request(Method::Options, "z9hG4bKo");
    let id = h.send_request(options.clone(), tcp());
    h.run_until(Duration::from_millis(40));
    h.receive(response(&options, 404, Some("x")), tcp());
    assert_eq!(h.terminated_at(id), ms(&[40]));
    assert!(h.layer.is_empty());
}

#[test]
fn client_timers_scale_with_t1_t2_t4() {
    let mut h = Harness::new(fast());
    h.send_request(request(Method::Options, "z9hG4bKo"), udp());
    h.drive();
    let mut expected = vec![0, 100, 300, 700];
    let mut t = 700;
    while t + 400 < 6400 {
        t += 400;
        expected.push(t);
    }
    assert_eq!(h.requests_sent_at(Method::Options), ms(&expected));
    assert_eq!(
        h.events_at(|e| matches!(e, TransactionEvent::Timeout { .. })),
        ms(&[6400])
    );

    let mut h = Harness::new(fast());
    let options = request(Method::Options, "z9hG4bKo2");
    let id = h.send_request(options.clone(), udp());
    h.receive(response(&options, 200, None), udp());
    h.drive();
    assert_eq!(h.terminated_at(id), ms(&[1000]), "K = T4 = 1 s");
}

#[test]
fn server_trying_proceeding_completed_and_timer_j() {
    let mut h = Harness::new(TimerConfig::default());
    let options = request(Method::Options, "z9hG4bKs");
    h.receive(options.clone(), udp());
    let id = h.last_request_id();
    assert_eq!(h.layer.state(id), Some(TransactionState::Trying));

    // Trying: a retransmission is absorbed silently.
    h.run_until(Duration::from_millis(500));
    h.receive(options.clone(), udp());
    assert!(h.sent.is_empty());

    h.run_until(Duration::from_millis(600));
    h.respond(id, response(&options, 100, None));
    assert_eq!(h.layer.state(id), Some(TransactionState::Proceeding));
    h.run_until(Duration::from_millis(1500));
    h.receive(options.clone(), udp()); // re-sends the 100

    h.run_until(Duration::from_millis(2000));
    h.respond(id, response(&options, 200, Some("s")));
    assert_eq!(h.layer.state(id), Some(TransactionState::Completed));
    h.run_until(Duration::from_millis(3500));
    h.receive(options.clone(), udp()); // re-sends the 200
    h.drive();

    assert_eq!(h.responses_sent_at(100), ms(&[600, 1500]));
    assert_eq!(h.responses_sent_at(200), ms(&[2000, 3500]));
    assert_eq!(
        h.events_at(|e| matches!(e, TransactionEvent::Request { .. })),
        ms(&[0]),
        "retransmissions are never reported again"
    );
    assert_eq!(h.terminated_at(id), ms(&[34000]), "Timer J = 64*T1");
    let stats = h.layer.stats();
    assert_eq!(stats.retransmissions_absorbed, 3);
    assert_eq!(stats.retransmissions_sent, 2);
    assert_eq!(stats.server_created, 1);

    // A second final is refused.
    let mut h = Harness::new(TimerConfig::default());
    h.receive(options.clone(), udp());
    let id = h.last_request_id();
    h.respond(id, response(&options, 200, None));
    assert_eq!(
        h.layer
            .send_response(id, response(&options, 500, None), h.now),
        Err(super::super::TransactionError::InvalidState {
            id,
            state: TransactionState::Completed,
            status: 500
        })
    );
}

#[test]
fn server_timer_j_is_zero_on_tcp_and_scales_with_t1() {
    let mut h = Harness::new(TimerConfig::default());
    let options = request(Method::Options, "z9hG4bKs");
    h.receive(options.clone(), tcp());
    let id = h.last_request_id();
    h.respond(id, response(&options, 200, None));
    assert_eq!(h.terminated_at(id), ms(&[0]));

    let mut h = Harness::new(fast());
    h.receive(options.clone(), udp());
    let id = h.last_request_id();
    h.run_until(Duration::from_millis(50));
    h.respond(id, response(&options, 200, None));
    h.drive();
    assert_eq!(h.terminated_at(id), ms(&[6450]));
}
