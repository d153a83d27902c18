//! Scenario tests of waiting (announcements, overflow), registration, refusals, figures and
//! reloads.

use std::time::Duration;

use super::{Harness, S, cancel, config, offer};
use crate::{AcdError, AcdEvent, Action, AgentState, Input, OverflowTarget, RequestedState};

#[test]
fn announcements_give_position_and_expected_wait() {
    let mut cfg = config(&[("1001", &["a"])]);
    cfg.queues[0].announce_every_s = Some(30);
    cfg.queues[0].default_expected_wait_s = 45;
    cfg.wrap_up_s = 0;
    let mut h = Harness::new(cfg);
    h.arrive("c1", "a");
    h.run_until(10);
    h.arrive("c2", "a");
    h.run_until(40);
    let announce = |call: &str, position: usize, secs: u32| Action::Announce {
        call: call.into(),
        position,
        expected_wait: secs * S,
    };
    assert_eq!(
        h.take_actions(),
        vec![announce("c1", 1, 45), announce("c2", 2, 90)],
        "no answers yet: the default per position"
    );
    // Answers at 40 and 50: mean gap 10 s.
    h.ready("1001");
    h.answer("c1", "1001");
    h.end("c1");
    h.arrive("c3", "a");
    h.run_until(50);
    h.answer("c2", "1001");
    h.take_actions();
    h.run_until(70);
    // c3 (entered at 40) hears at 70: position 1, gap max(10, 70 - 50) = 20.
    assert_eq!(h.take_actions(), vec![announce("c3", 1, 20)]);
    // The queue stalls: the gap grows with the time since the last answer.
    h.run_until(100);
    assert_eq!(h.take_actions(), vec![announce("c3", 1, 50)]);
}

#[test]
fn overflow_to_voicemail_after_the_maximum_wait() {
    let mut cfg = config(&[("1001", &["a"])]);
    cfg.queues[0].max_wait_s = Some(120);
    cfg.queues[0].overflow = Some("voicemail:100".into());
    let mut h = Harness::new(cfg);
    h.arrive("c1", "a");
    h.run_until(119);
    assert!(h.take_actions().is_empty());
    h.run_until(120);
    assert_eq!(
        h.take_actions(),
        vec![Action::Overflow {
            call: "c1".into(),
            target: OverflowTarget::Voicemail("100".into())
        }]
    );
    assert!(
        h.take_events()
            .iter()
            .any(|e| matches!(e, AcdEvent::Overflow { wait, .. } if *wait == 120 * S))
    );
    assert_eq!((h.stats("a").waiting, h.stats("a").overflowed), (0, 1));
    assert_eq!(h.acd.poll_timeout(), None);
}

#[test]
fn overflow_into_another_queue_and_not_while_ringing() {
    let mut cfg = config(&[("1001", &["a"]), ("2001", &["b"])]);
    cfg.queues[0].max_wait_s = Some(60);
    cfg.queues[0].overflow = Some("b".into());
    let mut h = Harness::new(cfg);
    h.arrive("c1", "a");
    h.arrive("c2", "a");
    h.run_until(50);
    h.ready("1001");
    h.run_until(60);
    // c1 rings at 1001 past its maximum: it stays offered; c2 overflows to b.
    assert_eq!(h.take_actions(), vec![offer("c1", "1001")]);
    assert_eq!(h.stats("b").waiting, 1);
    // The offer fails: c1 overflows instead of returning to a.
    h.run_until(65);
    assert_eq!(h.take_actions(), vec![cancel("c1", "1001")]);
    assert_eq!((h.stats("a").waiting, h.stats("b").waiting), (0, 2));
    h.ready("2001");
    assert_eq!(
        h.take_actions(),
        vec![offer("c2", "2001")],
        "FIFO by entry into b"
    );
}

#[test]
fn unregistered_agents_are_never_offered_calls() {
    let mut cfg = config(&[("1001", &["a"]), ("1002", &["a"])]);
    cfg.agents[1].static_contact = true;
    let mut h = Harness::new(cfg);
    h.ok(Input::SetAgentState {
        login: "1001".into(),
        state: RequestedState::Ready,
    });
    h.arrive("c1", "a");
    assert!(
        h.take_actions().is_empty(),
        "1001 is ready but its phone is not registered"
    );
    assert_eq!(h.stats("a").agents.available, 0);
    h.run_until(1);
    h.ok(Input::SetAgentState {
        login: "1002".into(),
        state: RequestedState::Ready,
    });
    assert_eq!(
        h.take_actions(),
        vec![offer("c1", "1002")],
        "a static contact counts as registered"
    );
    h.ok(Input::AgentRegistered {
        login: "1002".into(),
        registered: false,
    });
    assert_eq!(h.take_actions(), vec![cancel("c1", "1002")]);
    assert_eq!(h.view("1002").state, AgentState::Ready);
    h.ok(Input::AgentRegistered {
        login: "1001".into(),
        registered: true,
    });
    assert_eq!(h.take_actions(), vec![offer("c1", "1001")]);
}

#[test]
fn inputs_that_do_not_fit_are_refused_without_change() {
    let mut h = Harness::new(config(&[("1001", &["a"]), ("1002", &["a"])]));
    h.ready("1001");
    h.arrive("c1", "a");
    assert_eq!(
        h.input(Input::CallArrived {
            call: "c1".into(),
            queue: "a".into(),
            at_head: false
        }),
        Err(AcdError::DuplicateCall("c1".into()))
    );
    assert_eq!(
        h.input(Input::CallArrived {
            call: "c9".into(),
            queue: "zz".into(),
            at_head: false
        }),
        Err(AcdError::UnknownQueue("zz".into()))
    );
    assert_eq!(
        h.input(Input::OfferAnswered {
            call: "c1".into(),
            agent: "1002".into()
        }),
        Err(AcdError::NotOfferedTo {
            call: "c1".into(),
            agent: "1002".into(),
            offered: "1001".into()
        })
    );
    assert_eq!(
        h.input(Input::SetAgentState {
            login: "9".into(),
            state: RequestedState::Ready
        }),
        Err(AcdError::UnknownAgent("9".into()))
    );
    assert_eq!(h.view("1001").state, AgentState::Ringing);
}

#[test]
fn queue_figures_and_daily_reset() {
    let mut h = Harness::new(config(&[("1001", &["a"]), ("1002", &["a", "b"])]));
    h.arrive("c1", "a");
    h.arrive("c2", "a");
    h.arrive("c3", "a");
    h.run_until(40);
    let s = h.stats("a");
    assert_eq!(
        (s.waiting, s.oldest_wait, s.service_level),
        (3, Some(40 * S), None)
    );
    h.ready("1001");
    h.answer("c1", "1001"); // 40 s: late
    h.ok(Input::CallAbandoned { call: "c3".into() }); // after the threshold: counts
    h.end("c1");
    h.run_until(45);
    h.answer("c2", "1001"); // 45 s
    h.arrive("c4", "a");
    h.run_until(50);
    h.ok(Input::CallAbandoned { call: "c4".into() }); // 5 s: left out
    h.arrive("c5", "a");
    h.ready("1002");
    h.answer("c5", "1002"); // 0 s: in time
    let s = h.stats("a");
    assert_eq!(
        (s.answered, s.answered_within_threshold, s.abandoned),
        (3, 1, 2)
    );
    assert_eq!(s.service_level, Some(0.25));
    assert_eq!(s.avg_answer_time, Some(Duration::from_secs(85) / 3));
    assert_eq!(
        (s.agents.talking, s.agents.ready, s.waiting, s.oldest_wait),
        (2, 0, 0, None)
    );
    assert_eq!(h.stats("b").agents.talking, 1);
    h.acd.reset_counters();
    let s = h.stats("a");
    assert_eq!(
        (s.answered, s.abandoned, s.service_level, s.avg_answer_time),
        (0, 0, None, None)
    );
}

#[test]
fn reload_keeps_calls_and_agents() {
    let mut h = Harness::new(config(&[("1001", &["a"]), ("1002", &["b"])]));
    h.ready("1001");
    h.ready("1002");
    h.arrive("c1", "a");
    h.answer("c1", "1001");
    h.arrive("c2", "a");
    h.take_actions();
    // Removing queue a while c2 waits there is refused.
    let mut without_a = config(&[("1001", &["b"]), ("1002", &["b"])]);
    without_a.queues.remove(0);
    assert_eq!(
        h.input(Input::Reconfigure(without_a)),
        Err(AcdError::QueueInUse {
            queue: "a".into(),
            calls: 1
        })
    );
    // Removing 1001 while talking is refused.
    assert_eq!(
        h.input(Input::Reconfigure(config(&[("1002", &["b"])]))),
        Err(AcdError::AgentInUse {
            login: "1001".into(),
            state: AgentState::Talking
        })
    );
    // 1002 joins queue a: takes c2 at once; a new agent starts logged out.
    h.ok(Input::Reconfigure(config(&[
        ("1001", &["a"]),
        ("1002", &["b", "a"]),
        ("1003", &["a"]),
    ])));
    assert_eq!(h.take_actions(), vec![offer("c2", "1002")]);
    assert_eq!(h.view("1003").state, AgentState::LoggedOut);
    assert_eq!(h.view("1001").current_call, Some("c1".into()));
    // Removing 1003 logs it out; an invalid configuration is refused with paths.
    h.ok(Input::Reconfigure(config(&[
        ("1001", &["a"]),
        ("1002", &["b", "a"]),
    ])));
    assert_eq!(h.acd.agents(h.now).len(), 2);
    let Err(AcdError::InvalidConfig(problems)) =
        h.input(Input::Reconfigure(config(&[("1001", &["x"])])))
    else {
        panic!("expected refusal")
    };
    assert_eq!(
        problems[0].to_string(),
        "acd.agents[0].queues[0]: unknown queue \"x\""
    );
}

#[test]
fn reload_applies_new_announcement_interval_to_waiting_calls() {
    let mut h = Harness::new(config(&[("1001", &["a"])]));
    h.arrive("c1", "a");
    h.run_until(10);
    let mut cfg = config(&[("1001", &["a"])]);
    cfg.queues[0].announce_every_s = Some(20);
    h.ok(Input::Reconfigure(cfg));
    h.run_until(30);
    assert_eq!(
        h.take_actions(),
        vec![Action::Announce {
            call: "c1".into(),
            position: 1,
            expected_wait: 60 * S
        }]
    );
}

#[test]
fn events_carry_their_time_and_agent_states() {
    let mut h = Harness::new(config(&[("1001", &["a"])]));
    h.run_until(7);
    h.ready("1001");
    let events = h.take_events();
    assert!(events.iter().all(|e| e.at() == h.start + 7 * S));
    assert!(events.contains(&AcdEvent::AgentState {
        at: h.start + 7 * S,
        login: "1001".into(),
        state: AgentState::Ready,
        reason: None,
        since: h.start + 7 * S,
        registered: true
    }));
}

#[test]
fn reload_removing_the_maximum_wait_of_a_ringing_call_keeps_it_queued() {
    let mut cfg = config(&[("1001", &["a"]), ("1002", &["a"])]);
    cfg.queues[0].max_wait_s = Some(20);
    cfg.queues[0].overflow = Some("b".into());
    let mut h = Harness::new(cfg);
    h.arrive("c1", "a");
    h.run_until(10);
    h.ready("1001");
    h.run_until(21); // the maximum passes while 1001 rings
    h.ok(Input::Reconfigure(config(&[
        ("1001", &["a"]),
        ("1002", &["a"]),
    ])));
    h.ok(Input::OfferFailed {
        call: "c1".into(),
        agent: "1001".into(),
        reason: crate::OfferFailure::Busy,
    });
    assert_eq!((h.stats("a").waiting, h.stats("b").waiting), (1, 0));
    h.ready("1002");
    assert_eq!(
        h.take_actions(),
        vec![offer("c1", "1001"), offer("c1", "1002")]
    );
}
