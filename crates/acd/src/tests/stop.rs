//! A graceful stop: calls it cuts leave as interrupted, never abandoned; every agent is
//! logged out with the stop's reason.

use super::*;

#[test]
fn a_waiting_call_cut_by_a_stop_leaves_interrupted_and_is_not_abandoned() {
    let mut h = Harness::new(config(&[("1001", &["a"])]));
    h.arrive("c1", "a");
    h.arrive("c2", "a");
    h.run_until(40);
    h.take_log();
    h.ok(Input::CallInterrupted { call: "c2".into() });
    let events = h.take_events();
    assert_eq!(
        events,
        vec![AcdEvent::Interrupted {
            at: h.start + 40 * S,
            call: "c2".into(),
            queue: "a".into(),
            position: 2,
            wait: 40 * S,
        }]
    );
    assert!(h.take_actions().is_empty());
    let stats = h.stats("a");
    assert_eq!(stats.abandoned, 0, "an interrupted call is no abandon");
    assert_eq!(stats.waiting, 1);
    // The call has left the ACD: a second report is refused, not counted.
    assert_eq!(
        h.input(Input::CallInterrupted { call: "c2".into() }),
        Err(AcdError::UnknownCall("c2".into()))
    );
    // An abandon for comparison is counted.
    h.ok(Input::CallAbandoned { call: "c1".into() });
    assert_eq!(h.stats("a").abandoned, 1);
}

#[test]
fn a_ringing_call_cut_by_a_stop_cancels_the_offer() {
    let mut h = Harness::new(config(&[("1001", &["a"])]));
    h.ready("1001");
    h.arrive("c1", "a");
    assert_eq!(h.take_actions(), vec![offer("c1", "1001")]);
    h.take_log();
    h.ok(Input::CallInterrupted { call: "c1".into() });
    assert_eq!(h.take_actions(), vec![cancel("c1", "1001")]);
    let events = h.take_events();
    assert!(
        matches!(&events[0], AcdEvent::Interrupted { call, position: 1, .. } if call.0 == "c1"),
        "{events:?}"
    );
    assert!(
        !events.iter().any(|e| matches!(e, AcdEvent::Abandon { .. })),
        "{events:?}"
    );
    assert_eq!(h.stats("a").abandoned, 0);
    assert_eq!(h.stats("a").ringing, 0);
    assert_eq!(h.view("1001").state, AgentState::Ready);
}

#[test]
fn a_conversation_cut_by_a_stop_completes() {
    let mut h = Harness::new(config(&[("1001", &["a"])]));
    h.ready("1001");
    h.arrive("c1", "a");
    h.answer("c1", "1001");
    h.run_until(30);
    h.take_log();
    h.ok(Input::CallInterrupted { call: "c1".into() });
    let events = h.take_events();
    assert!(
        matches!(&events[0], AcdEvent::Complete { talk, .. } if *talk == 30 * S),
        "{events:?}"
    );
    assert_eq!(h.view("1001").state, AgentState::WrapUp);
}

#[test]
fn a_stop_logs_every_signed_in_agent_out_with_its_reason() {
    let mut h = Harness::new(config(&[
        ("1001", &["a"]),
        ("1002", &["a"]),
        ("1003", &["a"]),
        ("1004", &["a"]),
        ("1005", &["b"]),
    ]));
    // 1001 ready, 1002 in wrap-up, 1003 not ready, 1004 ringing, 1005 never signed in.
    h.ready("1001");
    h.ready("1002");
    h.ready("1003");
    h.ready("1004");
    h.ok(Input::SetAgentState {
        login: "1003".into(),
        state: RequestedState::NotReady {
            reason: "break".into(),
        },
    });
    h.arrive("c1", "a");
    h.arrive("c2", "a");
    let offers = h.take_actions();
    assert_eq!(offers.len(), 2, "{offers:?}");
    let (first, second) = match (&offers[0], &offers[1]) {
        (Action::Offer { agent: a, .. }, Action::Offer { agent: b, .. }) => (a.clone(), b.clone()),
        other => panic!("{other:?}"),
    };
    h.answer("c1", &first);
    h.end("c1");
    assert_eq!(h.view(&first).state, AgentState::WrapUp);
    assert_eq!(h.view(&second).state, AgentState::Ringing);
    h.take_log();

    h.ok(Input::LogOutAll {
        reason: "shutdown".into(),
    });
    let logged_out: Vec<String> = h
        .take_events()
        .into_iter()
        .filter_map(|e| match e {
            AcdEvent::AgentState {
                login,
                state: AgentState::LoggedOut,
                reason,
                ..
            } => {
                assert_eq!(reason.as_deref(), Some("shutdown"));
                Some(login)
            }
            _ => None,
        })
        .collect();
    let mut expected = vec!["1001", "1002", "1003", "1004"];
    expected.sort();
    let mut got: Vec<&str> = logged_out.iter().map(String::as_str).collect();
    got.sort();
    assert_eq!(got, expected, "each signed-in agent once, 1005 not at all");
    for login in ["1001", "1002", "1003", "1004", "1005"] {
        assert_eq!(h.view(login).state, AgentState::LoggedOut, "{login}");
    }
    // The ringing offer was withdrawn; the wrap-up timer is gone: nothing fires later.
    assert!(h.take_actions().contains(&cancel("c2", &second)));
    h.run_until(3600);
    assert!(
        !h.take_events()
            .iter()
            .any(|e| matches!(e, AcdEvent::AgentState { .. })),
        "no agent comes back by itself"
    );
    // A second stop has nobody left to log out.
    h.ok(Input::LogOutAll {
        reason: "shutdown".into(),
    });
    assert!(h.take_events().is_empty());
}
