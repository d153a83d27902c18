//! Scenario tests on fake time: each drives the engine the way the switchboard would.

use std::time::{Duration, Instant};

use crate::{
    Acd, AcdConfig, AcdError, AcdEvent, Action, AgentConfig, AgentState, CallKey, Input,
    OfferFailure, QueueConfig, RequestedState,
};

mod life_cycle;
mod proptests;
mod stop;

pub(crate) const S: Duration = Duration::from_secs(1);

/// The engine with a fake clock; `step`/`run_until` jump from deadline to deadline.
pub(crate) struct Harness {
    pub(crate) acd: Acd,
    pub(crate) start: Instant,
    pub(crate) now: Instant,
    log: Vec<Result<Action, AcdEvent>>,
}

impl Harness {
    pub(crate) fn new(config: AcdConfig) -> Self {
        let start = Instant::now();
        let acd = Acd::new(config, start).expect("valid config");
        Self {
            acd,
            start,
            now: start,
            log: Vec::new(),
        }
    }

    fn drain(&mut self) {
        while let Some(output) = self.acd.poll_output() {
            self.log.push(output);
        }
    }

    /// Actions and events in the order they were produced.
    pub(crate) fn take_log(&mut self) -> Vec<Result<Action, AcdEvent>> {
        std::mem::take(&mut self.log)
    }

    pub(crate) fn input(&mut self, input: Input) -> Result<(), AcdError> {
        let result = self.acd.handle(input, self.now);
        self.drain();
        result
    }

    pub(crate) fn ok(&mut self, input: Input) {
        self.input(input).expect("input accepted");
    }

    /// Advances the clock to `start + secs`, firing timers at their deadlines on the way.
    pub(crate) fn run_until(&mut self, secs: u64) {
        let target = self.start + Duration::from_secs(secs);
        while let Some(deadline) = self.acd.poll_timeout().filter(|&d| d <= target) {
            self.now = deadline.max(self.now);
            self.acd.handle_timeout(self.now);
            self.drain();
        }
        self.now = target;
    }

    pub(crate) fn take_actions(&mut self) -> Vec<Action> {
        let (actions, events) = std::mem::take(&mut self.log)
            .into_iter()
            .partition(Result::is_ok);
        self.log = events;
        actions.into_iter().filter_map(Result::ok).collect()
    }

    pub(crate) fn take_events(&mut self) -> Vec<AcdEvent> {
        let (events, actions) = std::mem::take(&mut self.log)
            .into_iter()
            .partition(Result::is_err);
        self.log = actions;
        events.into_iter().filter_map(Result::err).collect()
    }

    pub(crate) fn arrive(&mut self, call: &str, queue: &str) {
        self.ok(Input::CallArrived {
            call: call.into(),
            queue: queue.into(),
            at_head: false,
        });
    }

    pub(crate) fn ready(&mut self, login: &str) {
        self.ok(Input::AgentRegistered {
            login: login.into(),
            registered: true,
        });
        self.ok(Input::SetAgentState {
            login: login.into(),
            state: RequestedState::Ready,
        });
    }

    pub(crate) fn answer(&mut self, call: &str, agent: &str) {
        self.ok(Input::OfferAnswered {
            call: call.into(),
            agent: agent.into(),
        });
    }

    pub(crate) fn end(&mut self, call: &str) {
        self.ok(Input::CallEnded { call: call.into() });
    }

    pub(crate) fn view(&self, login: &str) -> crate::AgentView {
        self.acd
            .agents(self.now)
            .into_iter()
            .find(|a| a.login == login)
            .expect("agent")
    }

    pub(crate) fn stats(&self, queue: &str) -> crate::QueueStats {
        self.acd
            .queue_stats(self.now)
            .into_iter()
            .find(|q| q.name == queue)
            .expect("queue")
    }
}

pub(crate) fn offer(call: &str, agent: &str) -> Action {
    Action::Offer {
        call: call.into(),
        agent: agent.into(),
    }
}

pub(crate) fn cancel(call: &str, agent: &str) -> Action {
    Action::CancelOffer {
        call: call.into(),
        agent: agent.into(),
    }
}

/// Queues `a` and `b`; agents 1..=n in `a` (registered by REGISTER).
pub(crate) fn config(agents: &[(&str, &[&str])]) -> AcdConfig {
    AcdConfig {
        queues: vec![QueueConfig::new("a"), QueueConfig::new("b")],
        agents: agents
            .iter()
            .map(|(login, queues)| AgentConfig::new(*login, queues))
            .collect(),
        ring_timeout_s: 15,
        wrap_up_s: 5,
        blend: Default::default(),
    }
}

#[test]
fn calls_are_offered_in_arrival_order() {
    let mut h = Harness::new(config(&[("1001", &["a"])]));
    h.arrive("c1", "a");
    h.run_until(1);
    h.arrive("c2", "a");
    h.run_until(2);
    h.arrive("c3", "a");
    assert!(h.take_actions().is_empty(), "nobody is ready");
    h.ready("1001");
    assert_eq!(h.take_actions(), vec![offer("c1", "1001")]);
    h.answer("c1", "1001");
    h.end("c1");
    h.run_until(20);
    assert_eq!(
        h.take_actions(),
        vec![offer("c2", "1001")],
        "after wrap-up, the next in line"
    );
    assert_eq!(h.stats("a").waiting, 1);
}

#[test]
fn the_longest_idle_agent_takes_the_call() {
    let mut h = Harness::new(config(&[
        ("1001", &["a"]),
        ("1002", &["a"]),
        ("1003", &["a"]),
    ]));
    h.ready("1002");
    h.run_until(1);
    h.ready("1001");
    h.run_until(2);
    h.ready("1003");
    h.arrive("c1", "a");
    h.arrive("c2", "a");
    assert_eq!(
        h.take_actions(),
        vec![offer("c1", "1002"), offer("c2", "1001")]
    );
    // 1002's call ends at 10: after wrap-up (15) it is idle since 15, later than 1003 (2).
    h.answer("c1", "1002");
    h.run_until(10);
    h.end("c1");
    h.run_until(15);
    assert_eq!(h.view("1002").state, AgentState::Ready);
    assert_eq!(
        h.view("1002").since,
        h.start + 15 * S,
        "idle since the end of wrap-up"
    );
    h.arrive("c3", "a");
    assert_eq!(h.take_actions(), vec![offer("c3", "1003")]);
    h.arrive("c4", "a");
    assert_eq!(h.take_actions(), vec![offer("c4", "1002")]);
}

#[test]
fn a_freed_agent_takes_the_oldest_head_across_its_queues_by_weight() {
    let mut cfg = config(&[("1001", &["a", "b"])]);
    cfg.queues[1].weight = 3;
    let mut h = Harness::new(cfg);
    h.arrive("a1", "a"); // waits 40 s at the decision
    h.run_until(20);
    h.arrive("b1", "b"); // waits 20 s × 3 = 60 > 40
    h.run_until(30);
    h.arrive("a2", "a");
    h.run_until(40);
    h.ready("1001");
    assert_eq!(h.take_actions(), vec![offer("b1", "1001")]);
    h.answer("b1", "1001");
    h.end("b1");
    h.run_until(45);
    // a1 has waited 45 s, beyond b's empty queue; a2 cannot overtake a1.
    assert_eq!(h.take_actions(), vec![offer("a1", "1001")]);
}

#[test]
fn an_agents_own_weight_in_a_queue_multiplies_the_queues() {
    // 1001 weighs 4 in b (its main skill), 1 in a; 1002 serves a alone.
    let mut cfg = config(&[("1001", &["a", "b"]), ("1002", &["a"])]);
    cfg.agents[0].weights = vec![1, 4];
    let mut h = Harness::new(cfg);
    h.arrive("a1", "a"); // waits 30 s at the decision
    h.run_until(20);
    h.arrive("b1", "b"); // waits 10 s × 4 = 40 > 30
    h.run_until(30);
    h.ready("1001");
    assert_eq!(h.take_actions(), vec![offer("b1", "1001")]);
    // The weight is 1001's own: 1002 takes a1 as usual.
    h.ready("1002");
    assert_eq!(h.take_actions(), vec![offer("a1", "1002")]);
    // Out-of-range weights and more weights than queues are refused by validation.
    let mut bad = config(&[("1001", &["a"])]);
    bad.agents[0].weights = vec![0, 2];
    let problems: Vec<String> = bad.validate().iter().map(ToString::to_string).collect();
    assert_eq!(
        problems,
        [
            "acd.agents[0].weights: expected at most one weight per queue (1), got 2",
            "acd.agents[0].weights[0]: expected 1 to 100, got 0",
        ]
    );
}

#[test]
fn equal_weights_pick_the_longest_waiting_head() {
    let mut h = Harness::new(config(&[("1001", &["a", "b"])]));
    h.arrive("b1", "b");
    h.run_until(1);
    h.arrive("a1", "a");
    h.ready("1001");
    assert_eq!(h.take_actions(), vec![offer("b1", "1001")]);
}

#[test]
fn ring_timeout_makes_the_agent_not_ready_and_the_call_goes_back_to_the_head() {
    let mut h = Harness::new(config(&[("1001", &["a"]), ("1002", &["a"])]));
    h.ready("1001");
    h.arrive("c1", "a");
    h.arrive("c2", "a");
    assert_eq!(h.take_actions(), vec![offer("c1", "1001")]);
    h.take_events();
    h.run_until(15);
    assert_eq!(h.take_actions(), vec![cancel("c1", "1001")]);
    let view = h.view("1001");
    assert_eq!(
        (view.state, view.reason.as_deref()),
        (AgentState::NotReady, Some("no answer"))
    );
    assert!(h.take_events().iter().any(|e| matches!(e, AcdEvent::RingNoAnswer { call, rang, .. } if call.0 == "c1" && *rang == 15 * S)));
    // c1 is back ahead of c2 and goes to the next agent.
    h.ready("1002");
    assert_eq!(h.take_actions(), vec![offer("c1", "1002")]);
    h.answer("c1", "1002");
    let connect = h.take_events().into_iter().find_map(|e| match e {
        AcdEvent::Connect { wait, .. } => Some(wait),
        _ => None,
    });
    assert_eq!(
        connect,
        Some(15 * S),
        "the wait counts from entering the queue"
    );
}

#[test]
fn ring_timeout_passes_the_call_to_the_next_ready_agent_at_once() {
    let mut h = Harness::new(config(&[("1001", &["a"]), ("1002", &["a"])]));
    h.ready("1001");
    h.run_until(1);
    h.ready("1002");
    h.arrive("c1", "a");
    h.run_until(16);
    assert_eq!(
        h.take_actions(),
        vec![
            offer("c1", "1001"),
            cancel("c1", "1001"),
            offer("c1", "1002")
        ]
    );
}

#[test]
fn busy_rejected_and_unreachable_carry_their_reason() {
    for failure in [
        OfferFailure::Busy,
        OfferFailure::Rejected,
        OfferFailure::Unreachable,
        OfferFailure::NoAnswer,
    ] {
        let mut h = Harness::new(config(&[("1001", &["a"]), ("1002", &["a"])]));
        h.ready("1001");
        h.run_until(1);
        h.ready("1002");
        h.arrive("c1", "a");
        h.take_events();
        h.ok(Input::OfferFailed {
            call: "c1".into(),
            agent: "1001".into(),
            reason: failure,
        });
        assert_eq!(
            h.take_actions(),
            vec![offer("c1", "1001"), offer("c1", "1002")],
            "the phone already stopped: no CancelOffer"
        );
        assert_eq!(h.view("1001").reason.as_deref(), Some(failure.reason()));
        let events = h.take_events();
        let logged = events.iter().any(|e| match e {
            AcdEvent::Reject { reason, .. } => reason == failure.reason(),
            AcdEvent::RingNoAnswer { .. } => failure == OfferFailure::NoAnswer,
            _ => false,
        });
        assert!(logged, "{failure:?}: {events:?}");
    }
}

#[test]
fn wrap_up_then_ready_and_requests_during_a_call() {
    let mut h = Harness::new(config(&[("1001", &["a"])]));
    h.ready("1001");
    h.arrive("c1", "a");
    h.answer("c1", "1001");
    assert_eq!(h.view("1001").current_call, Some(CallKey::from("c1")));
    h.ok(Input::SetAgentState {
        login: "1001".into(),
        state: RequestedState::NotReady {
            reason: "break".into(),
        },
    });
    assert_eq!(
        h.view("1001").state,
        AgentState::Talking,
        "applies after the call"
    );
    h.run_until(60);
    h.end("c1");
    assert_eq!(h.view("1001").state, AgentState::WrapUp);
    h.run_until(65);
    assert_eq!(
        (h.view("1001").state, h.view("1001").reason),
        (AgentState::NotReady, Some("break".into()))
    );
    // Ready again; a call during wrap-up waits, and ending wrap-up early takes it.
    h.ready("1001");
    h.arrive("c2", "a");
    h.answer("c2", "1001");
    h.end("c2");
    h.arrive("c3", "a");
    h.take_actions();
    h.run_until(66);
    h.ok(Input::SetAgentState {
        login: "1001".into(),
        state: RequestedState::Ready,
    });
    assert_eq!(h.take_actions(), vec![offer("c3", "1001")]);
    assert_eq!(
        h.acd.poll_timeout(),
        Some(h.start + 81 * S),
        "only the ring timer is left"
    );
}

#[test]
fn not_ready_while_ringing_withdraws_the_offer() {
    let mut h = Harness::new(config(&[("1001", &["a"]), ("1002", &["a"])]));
    h.ready("1001");
    h.run_until(1);
    h.ready("1002");
    h.arrive("c1", "a");
    h.ok(Input::SetAgentState {
        login: "1001".into(),
        state: RequestedState::LoggedOut,
    });
    assert_eq!(
        h.take_actions(),
        vec![
            offer("c1", "1001"),
            cancel("c1", "1001"),
            offer("c1", "1002")
        ]
    );
    assert_eq!(h.view("1001").state, AgentState::LoggedOut);
}

#[test]
fn abandon_while_waiting_records_position_and_wait() {
    let mut h = Harness::new(config(&[("1001", &["a"])]));
    h.arrive("c1", "a");
    h.arrive("c2", "a");
    h.arrive("c3", "a");
    h.run_until(42);
    h.take_events();
    h.ok(Input::CallAbandoned { call: "c2".into() });
    assert_eq!(
        h.take_events(),
        vec![AcdEvent::Abandon {
            at: h.start + 42 * S,
            call: "c2".into(),
            queue: "a".into(),
            position: 2,
            wait: 42 * S
        }]
    );
    assert_eq!(h.stats("a").abandoned, 1);
    assert_eq!(
        h.input(Input::CallAbandoned { call: "c2".into() }),
        Err(AcdError::UnknownCall("c2".into()))
    );
    h.ready("1001");
    assert_eq!(h.take_actions(), vec![offer("c1", "1001")]);
}

#[test]
fn abandon_while_ringing_cancels_the_offer_and_frees_the_agent() {
    let mut h = Harness::new(config(&[("1001", &["a"])]));
    h.ready("1001");
    h.arrive("c1", "a");
    h.arrive("c2", "a");
    h.run_until(3);
    h.ok(Input::CallAbandoned { call: "c1".into() });
    assert_eq!(
        h.take_actions(),
        vec![
            offer("c1", "1001"),
            cancel("c1", "1001"),
            offer("c2", "1001")
        ]
    );
    assert_eq!(h.view("1001").state, AgentState::Ringing);
    assert_eq!(
        h.input(Input::OfferAnswered {
            call: "c1".into(),
            agent: "1001".into()
        }),
        Err(AcdError::UnknownCall("c1".into()))
    );
}

#[test]
fn transfer_queues_the_call_again_and_the_agent_wraps_up() {
    let mut cfg = config(&[("1001", &["a"]), ("2001", &["b"])]);
    cfg.queues.push(QueueConfig {
        transfers_at_head: true,
        ..QueueConfig::new("second")
    });
    let mut h = Harness::new(cfg);
    h.arrive("w1", "b");
    h.arrive("c1", "a");
    h.ready("1001");
    h.answer("c1", "1001");
    h.ok(Input::Transfer {
        call: "c1".into(),
        queue: "b".into(),
    });
    assert_eq!(h.view("1001").state, AgentState::WrapUp);
    h.ready("2001");
    assert_eq!(
        h.take_actions(),
        vec![offer("c1", "1001"), offer("w1", "2001")],
        "tail of b: behind w1"
    );
    assert!(h.take_events().iter().any(
        |e| matches!(e, AcdEvent::Transfer { to, agent, .. } if to == "b" && agent == "1001")
    ));
    // Into a queue that takes transfers at the head.
    h.arrive("s1", "second");
    h.answer("w1", "2001");
    h.ok(Input::Transfer {
        call: "w1".into(),
        queue: "second".into(),
    });
    let entered = h.take_events().into_iter().find_map(|e| match e {
        AcdEvent::Enter { call, position, .. } if call.0 == "w1" => Some(position),
        _ => None,
    });
    assert_eq!(entered, Some(1), "ahead of s1");
    assert_eq!(
        h.input(Input::Transfer {
            call: "s1".into(),
            queue: "a".into()
        }),
        Err(AcdError::WrongCallPhase {
            call: "s1".into(),
            expected: "talking",
            actual: "waiting"
        })
    );
}
