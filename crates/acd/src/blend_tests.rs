//! Blended routing (R-ACD-5): the cases in virtual time, then random sequences of
//! calls, items, modes, states and time jumps checking after every input that:
//! - an on-line agent is never offered an item, an off-line agent never a call;
//! - an agent with an item offered or in hand has no call ringing, talking or in wrap-up
//!   (so a blended agent gets an item only after the call and its wrap-up);
//! - each item is in exactly one place (waiting once, or in one agent's hands), none lost;
//! - an offered item is the agent's best by channel priority then arrival (declines aside);
//! - no agent who may take an item coexists with an item waiting for them.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use proptest::prelude::*;

use crate::blend::ItemPhaseView;
use crate::blend::{Blend, BlendConfig, BlendInput, ItemAction, ItemChannel, ItemKey, Mode};
use crate::{
    AcdConfig, Action, AgentConfig, AgentState, Input, OfferFailure, QueueConfig, RequestedState,
};

fn blend(agents: &[(&str, &[&str])], start: Instant) -> Blend {
    let config = AcdConfig {
        queues: vec![QueueConfig::new("q0"), QueueConfig::new("q1")],
        agents: agents
            .iter()
            .map(|(login, queues)| AgentConfig {
                static_contact: true,
                ..AgentConfig::new(*login, queues)
            })
            .collect(),
        ..AcdConfig::default()
    };
    let acd = crate::Acd::new(config, start).unwrap();
    Blend::new(acd, BlendConfig::default())
}

fn drain(b: &mut Blend) -> (Vec<Action>, Vec<ItemAction>) {
    let mut calls = Vec::new();
    while let Some(a) = b.poll_action() {
        calls.push(a);
    }
    let mut items = Vec::new();
    while let Some(i) = b.poll_item() {
        items.push(i);
    }
    while b.poll_event().is_some() {}
    (calls, items)
}

fn ready(b: &mut Blend, login: &str, now: Instant) {
    b.handle(
        BlendInput::Call(Input::SetAgentState {
            login: login.into(),
            state: RequestedState::Ready,
        }),
        now,
    )
    .unwrap();
}

fn mode(b: &mut Blend, login: &str, mode: crate::Mode, now: Instant) {
    b.handle(
        BlendInput::SetMode {
            login: login.into(),
            mode,
        },
        now,
    )
    .unwrap();
}

fn item(b: &mut Blend, key: &str, channel: ItemChannel, now: Instant) {
    b.handle(
        BlendInput::ItemArrived {
            item: key.into(),
            channel,
            queue: "q0".into(),
        },
        now,
    )
    .unwrap();
}

#[test]
fn a_blended_agent_on_a_call_gets_the_email_only_after_the_call_and_its_wrap_up() {
    let t0 = Instant::now();
    let mut b = blend(&[("1001", &["q0"])], t0);
    mode(&mut b, "1001", Mode::Blended, t0);
    ready(&mut b, "1001", t0);
    b.handle(
        BlendInput::Call(Input::CallArrived {
            call: "c1".into(),
            queue: "q0".into(),
            at_head: false,
        }),
        t0,
    )
    .unwrap();
    let (calls, _) = drain(&mut b);
    assert!(matches!(&calls[..], [Action::Offer { agent, .. }] if agent == "1001"));
    b.handle(
        BlendInput::Call(Input::OfferAnswered {
            call: "c1".into(),
            agent: "1001".into(),
        }),
        t0,
    )
    .unwrap();
    // An e-mail arrives during the call: it waits.
    item(
        &mut b,
        "mail-1",
        ItemChannel::Email,
        t0 + Duration::from_secs(1),
    );
    assert!(drain(&mut b).1.is_empty(), "not during the call");
    let ended = t0 + Duration::from_secs(60);
    b.handle(
        BlendInput::Call(Input::CallEnded { call: "c1".into() }),
        ended,
    )
    .unwrap();
    assert!(drain(&mut b).1.is_empty(), "not during the wrap-up");
    assert_eq!(b.acd().agents(ended)[0].state, AgentState::WrapUp);
    let wrap_end = b.poll_timeout().unwrap();
    assert_eq!(
        wrap_end,
        ended + Duration::from_secs(5),
        "the default wrap-up"
    );
    b.handle_timeout(wrap_end);
    let (_, items) = drain(&mut b);
    assert_eq!(
        items,
        [ItemAction::Offer {
            item: "mail-1".into(),
            channel: ItemChannel::Email,
            queue: "q0".into(),
            agent: "1001".into(),
        }]
    );
    // While the e-mail is offered, a call waits rather than interrupt it.
    b.handle(
        BlendInput::Call(Input::CallArrived {
            call: "c2".into(),
            queue: "q0".into(),
            at_head: false,
        }),
        wrap_end,
    )
    .unwrap();
    assert!(drain(&mut b).0.is_empty(), "no call during the item");
    b.handle(
        BlendInput::ItemAccepted {
            item: "mail-1".into(),
            agent: "1001".into(),
        },
        wrap_end,
    )
    .unwrap();
    // Being ready for calls needs the item finished first: a clear refusal.
    let err = b
        .handle(
            BlendInput::Call(Input::SetAgentState {
                login: "1001".into(),
                state: RequestedState::Ready,
            }),
            wrap_end,
        )
        .unwrap_err();
    assert!(err.to_string().contains("finish or decline"), "{err}");
    b.handle(
        BlendInput::ItemDone {
            item: "mail-1".into(),
            agent: "1001".into(),
        },
        wrap_end + Duration::from_secs(90),
    )
    .unwrap();
    let (calls, _) = drain(&mut b);
    assert!(
        matches!(&calls[..], [Action::Offer { call, agent }] if call.0 == "c2" && agent == "1001"),
        "calls take precedence again: {calls:?}"
    );
}

#[test]
fn the_driver_sees_where_an_item_is() {
    let t0 = Instant::now();
    let mut b = blend(&[("1001", &["q0"])], t0);
    assert!(b.takes_items("q0"));
    assert!(!b.takes_items("nowhere"));
    item(&mut b, "t1", ItemChannel::Fax, t0);
    let view = b.item(&"t1".into()).unwrap();
    assert_eq!(
        (view.channel, view.queue.as_str()),
        (ItemChannel::Fax, "q0")
    );
    assert_eq!((view.agent, view.accepted), (None, false));
    mode(&mut b, "1001", Mode::Offline, t0);
    ready(&mut b, "1001", t0);
    drain(&mut b);
    let view = b.item(&"t1".into()).unwrap();
    assert_eq!(
        (view.agent.as_deref(), view.accepted),
        (Some("1001"), false)
    );
    b.handle(
        BlendInput::ItemAccepted {
            item: "t1".into(),
            agent: "1001".into(),
        },
        t0,
    )
    .unwrap();
    assert!(b.item(&"t1".into()).unwrap().accepted);
    assert_eq!(Mode::parse("blended"), Some(Mode::Blended));
    assert_eq!(Mode::Offline.as_str(), "offline");
    assert_eq!(ItemChannel::parse("web"), Some(ItemChannel::Web));
    assert_eq!(ItemChannel::parse("pigeon"), None);
}

#[test]
fn logging_out_with_an_item_offered_lets_it_go_at_once() {
    let t0 = Instant::now();
    let mut b = blend(&[("1001", &["q0"]), ("1002", &["q0"])], t0);
    mode(&mut b, "1001", Mode::Offline, t0);
    ready(&mut b, "1001", t0);
    item(&mut b, "t1", ItemChannel::Email, t0);
    drain(&mut b);
    assert_eq!(b.item_of("1001"), Some(&"t1".into()));
    b.handle(
        BlendInput::Call(Input::SetAgentState {
            login: "1001".into(),
            state: RequestedState::LoggedOut,
        }),
        t0,
    )
    .unwrap();
    let (_, items) = drain(&mut b);
    assert_eq!(
        items,
        [ItemAction::CancelOffer {
            item: "t1".into(),
            agent: "1001".into()
        }]
    );
    assert_eq!(b.waiting_items("q0"), [ItemKey::from("t1")]);
    // Past the offer's time-out nothing signs 1001 back in; a colleague takes the item.
    b.handle_timeout(t0 + Duration::from_secs(120));
    assert_eq!(b.acd().agents(t0)[0].state, AgentState::LoggedOut);
    mode(&mut b, "1002", Mode::Offline, t0);
    ready(&mut b, "1002", t0);
    assert_eq!(b.item_of("1002"), Some(&"t1".into()));
}

#[test]
fn off_line_agents_get_items_never_calls_and_on_line_agents_never_items() {
    let t0 = Instant::now();
    let mut b = blend(&[("off", &["q0"]), ("on", &["q0"])], t0);
    mode(&mut b, "off", Mode::Offline, t0);
    ready(&mut b, "off", t0);
    ready(&mut b, "on", t0);
    b.handle(
        BlendInput::Call(Input::CallArrived {
            call: "c1".into(),
            queue: "q0".into(),
            at_head: false,
        }),
        t0,
    )
    .unwrap();
    item(&mut b, "web-1", ItemChannel::Web, t0);
    let (calls, items) = drain(&mut b);
    assert!(matches!(&calls[..], [Action::Offer { agent, .. }] if agent == "on"));
    assert!(matches!(&items[..], [ItemAction::Offer { agent, .. }] if agent == "off"));
    assert_eq!(b.acd().agents(t0)[0].state, AgentState::NotReady);
}

#[test]
fn channel_priority_then_arrival_and_a_declined_item_keeps_its_place() {
    let t0 = Instant::now();
    let mut b = blend(&[("a", &["q0"]), ("b", &["q0"])], t0);
    item(&mut b, "fax-1", ItemChannel::Fax, t0);
    item(&mut b, "mail-1", ItemChannel::Email, t0);
    item(&mut b, "vm-1", ItemChannel::Voicemail, t0);
    item(&mut b, "web-1", ItemChannel::Web, t0);
    assert_eq!(
        b.waiting_items("q0"),
        [
            ItemKey::from("vm-1"),
            "mail-1".into(),
            "web-1".into(),
            "fax-1".into()
        ]
    );
    mode(&mut b, "a", Mode::Offline, t0);
    assert!(drain(&mut b).1.is_empty(), "logged out: nothing yet");
    ready(&mut b, "a", t0);
    let (_, items) = drain(&mut b);
    assert!(matches!(&items[..], [ItemAction::Offer { item, .. }] if item.0 == "vm-1"));
    b.handle(
        BlendInput::ItemDeclined {
            item: "vm-1".into(),
            agent: "a".into(),
        },
        t0,
    )
    .unwrap();
    // Back in its place, and "a" goes on with the next one.
    let (_, items) = drain(&mut b);
    assert!(
        matches!(&items[..], [ItemAction::Offer { item, agent, .. }] if item.0 == "mail-1" && agent == "a")
    );
    assert_eq!(b.waiting_items("q0")[0], "vm-1".into());
    mode(&mut b, "b", Mode::Offline, t0);
    ready(&mut b, "b", t0);
    let (_, items) = drain(&mut b);
    assert!(
        matches!(&items[..], [ItemAction::Offer { item, agent, .. }] if item.0 == "vm-1" && agent == "b")
    );
    // An offer nobody answers is taken back and the agent goes not ready.
    let timeout = b.poll_timeout().unwrap();
    b.handle_timeout(timeout);
    let (_, items) = drain(&mut b);
    assert!(items.contains(&ItemAction::CancelOffer {
        item: "mail-1".into(),
        agent: "a".into()
    }));
    let a = &b.acd().agents(timeout)[0];
    assert_eq!(
        (a.state, a.reason.as_deref()),
        (AgentState::NotReady, Some("no answer"))
    );
}

#[test]
fn a_queue_with_items_is_not_removed_and_unknown_queues_are_refused() {
    let t0 = Instant::now();
    let mut b = blend(&[("a", &["q0"])], t0);
    item(&mut b, "web-1", ItemChannel::Web, t0);
    let only_q1 = AcdConfig {
        queues: vec![QueueConfig::new("q1")],
        agents: vec![AgentConfig::new("a", &["q1"])],
        ..AcdConfig::default()
    };
    let err = b
        .handle(BlendInput::Call(Input::Reconfigure(only_q1)), t0)
        .unwrap_err();
    assert!(err.to_string().contains("q0"), "{err}");
    assert_eq!(b.waiting_items("q0"), [ItemKey::from("web-1")]);
    let err = b
        .handle(
            BlendInput::ItemArrived {
                item: "x".into(),
                channel: ItemChannel::Fax,
                queue: "nowhere".into(),
            },
            t0,
        )
        .unwrap_err();
    assert!(err.to_string().contains("nowhere"), "{err}");
    let err = b
        .handle(
            BlendInput::ItemArrived {
                item: "web-1".into(),
                channel: ItemChannel::Web,
                queue: "q0".into(),
            },
            t0,
        )
        .unwrap_err();
    assert!(matches!(err, crate::BlendError::DuplicateItem(_)), "{err}");
}

#[derive(Debug, Clone)]
enum Op {
    Call(usize),
    Answer(usize),
    FailCall(usize),
    EndCall(usize),
    Abandon(usize),
    State { agent: usize, ready: bool },
    Mode { agent: usize, mode: u8 },
    Item { queue: usize, channel: usize },
    Accept(usize),
    Decline(usize),
    Done(usize),
    Withdraw(usize),
    Advance(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..2usize).prop_map(Op::Call),
        3 => any::<usize>().prop_map(Op::Answer),
        1 => any::<usize>().prop_map(Op::FailCall),
        3 => any::<usize>().prop_map(Op::EndCall),
        1 => any::<usize>().prop_map(Op::Abandon),
        2 => (0..AGENTS, any::<bool>()).prop_map(|(agent, ready)| Op::State { agent, ready }),
        2 => (0..AGENTS, 0..3u8).prop_map(|(agent, mode)| Op::Mode { agent, mode }),
        4 => (0..2usize, 0..4usize).prop_map(|(queue, channel)| Op::Item { queue, channel }),
        3 => (0..AGENTS).prop_map(Op::Accept),
        2 => (0..AGENTS).prop_map(Op::Decline),
        3 => (0..AGENTS).prop_map(Op::Done),
        1 => any::<usize>().prop_map(Op::Withdraw),
        3 => (0..40u64).prop_map(Op::Advance),
    ]
}

const AGENTS: usize = 4;
const LOGINS: [&str; AGENTS] = ["a0", "a1", "a2", "a3"];

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn blended_routing_keeps_its_promises(ops in prop::collection::vec(op(), 1..120)) {
        let t0 = Instant::now();
        let mut b = blend(&[("a0", &["q0"]), ("a1", &["q0", "q1"]), ("a2", &["q1"]), ("a3", &["q0", "q1"])], t0);
        let mut now = t0;
        let mut next = 0;
        let mut ringing: HashMap<String, String> = HashMap::new(); // call → agent
        let mut talking: Vec<String> = Vec::new();
        let mut calls: Vec<String> = Vec::new();
        let mut items: Vec<String> = Vec::new();
        let mut alive = 0usize;
        for op in ops {
            let before = waiting(&b);
            let result = match op {
                Op::Call(q) => {
                    next += 1;
                    let call = format!("c{next}");
                    calls.push(call.clone());
                    b.handle(BlendInput::Call(Input::CallArrived { call: call.as_str().into(), queue: format!("q{q}"), at_head: false }), now)
                }
                Op::Answer(i) => match ringing.keys().nth(i % ringing.len().max(1)).cloned() {
                    Some(call) => {
                        let agent = ringing.remove(&call).unwrap();
                        talking.push(call.clone());
                        b.handle(BlendInput::Call(Input::OfferAnswered { call: call.as_str().into(), agent }), now)
                    }
                    None => Ok(()),
                },
                Op::FailCall(i) => match ringing.keys().nth(i % ringing.len().max(1)).cloned() {
                    Some(call) => {
                        let agent = ringing.remove(&call).unwrap();
                        b.handle(BlendInput::Call(Input::OfferFailed { call: call.as_str().into(), agent, reason: OfferFailure::Rejected }), now)
                    }
                    None => Ok(()),
                },
                Op::EndCall(i) if !talking.is_empty() => {
                    let call = talking.remove(i % talking.len());
                    b.handle(BlendInput::Call(Input::CallEnded { call: call.as_str().into() }), now)
                }
                Op::EndCall(_) => Ok(()),
                Op::Abandon(i) if !calls.is_empty() => {
                    let call = calls[i % calls.len()].clone();
                    ringing.remove(&call);
                    b.handle(BlendInput::Call(Input::CallAbandoned { call: call.as_str().into() }), now)
                }
                Op::Abandon(_) => Ok(()),
                Op::State { agent, ready } => {
                    let state = if ready { RequestedState::Ready } else { RequestedState::NotReady { reason: "break".into() } };
                    b.handle(BlendInput::Call(Input::SetAgentState { login: LOGINS[agent].into(), state }), now)
                }
                Op::Mode { agent, mode } => {
                    let mode = [Mode::Online, Mode::Offline, Mode::Blended][mode as usize];
                    b.handle(BlendInput::SetMode { login: LOGINS[agent].into(), mode }, now)
                }
                Op::Item { queue, channel } => {
                    next += 1;
                    let key = format!("i{next}");
                    items.push(key.clone());
                    alive += 1;
                    b.handle(BlendInput::ItemArrived { item: key.as_str().into(), channel: ItemChannel::ALL[channel], queue: format!("q{queue}") }, now)
                }
                Op::Accept(agent) | Op::Decline(agent) | Op::Done(agent) => {
                    match b.item_of(LOGINS[agent]).cloned() {
                        Some(item) => {
                            let login = LOGINS[agent].to_string();
                            let input = match op {
                                Op::Accept(_) => BlendInput::ItemAccepted { item, agent: login },
                                Op::Decline(_) => BlendInput::ItemDeclined { item, agent: login },
                                _ => BlendInput::ItemDone { item, agent: login },
                            };
                            let done = matches!(input, BlendInput::ItemDone { .. });
                            let r = b.handle(input, now);
                            if done && r.is_ok() { alive -= 1; }
                            r
                        }
                        None => Ok(()),
                    }
                }
                Op::Withdraw(i) if !items.is_empty() => {
                    let key = items[i % items.len()].clone();
                    let r = b.handle(BlendInput::ItemWithdrawn { item: key.as_str().into() }, now);
                    if r.is_ok() { alive -= 1; }
                    r
                }
                Op::Withdraw(_) => Ok(()),
                Op::Advance(s) => {
                    let until = now + Duration::from_secs(s);
                    while let Some(t) = b.poll_timeout().filter(|t| *t <= until) {
                        now = now.max(t);
                        let before = waiting(&b);
                        b.handle_timeout(now);
                        check(&mut b, &before, &mut ringing, &mut talking)?;
                    }
                    now = until;
                    Ok(())
                }
            };
            // Refusals are fine (a call already gone, an item already done): nothing changes.
            let _ = result;
            check(&mut b, &before, &mut ringing, &mut talking)?;
            prop_assert_eq!(b.items.len(), alive, "items lost or invented");
        }
    }
}

/// The items waiting now.
fn waiting(b: &Blend) -> HashSet<ItemKey> {
    b.waiting
        .values()
        .flat_map(|w| w.values().cloned())
        .collect()
}

/// Drains the outputs and checks every promise; `before`: the items waiting before the input
/// (an item given back during it was not there to be chosen when earlier offers were made).
fn check(
    b: &mut Blend,
    before: &HashSet<ItemKey>,
    ringing: &mut HashMap<String, String>,
    talking: &mut Vec<String>,
) -> Result<(), TestCaseError> {
    let (calls, offers) = drain(b);
    for action in &calls {
        match action {
            Action::Offer { call, agent } => {
                prop_assert_ne!(
                    b.mode(agent),
                    Some(Mode::Offline),
                    "call {:?} to off-line {}",
                    call,
                    agent
                );
                ringing.insert(call.0.clone(), agent.clone());
            }
            Action::CancelOffer { call, .. } => {
                ringing.remove(&call.0);
            }
            _ => {}
        }
    }
    talking.retain(|c| b.acd.call_index.contains_key(&crate::CallKey(c.clone())));
    ringing.retain(|c, _| b.acd.call_index.contains_key(&crate::CallKey(c.clone())));
    for offer in &offers {
        if let ItemAction::Offer { item, agent, .. } = offer {
            prop_assert_ne!(
                b.mode(agent),
                Some(Mode::Online),
                "item {:?} to on-line {}",
                item,
                agent
            );
            // Still held (or already given back by a time-out in this very drain: not here).
            if b.item_of(agent) == Some(item) {
                let place = b.items[item].place;
                let a = b.acd.agent_index[agent.as_str()];
                for &q in &b.acd.agents[a].queues {
                    let name = &b.acd.queues[q].config.name;
                    for (p, k) in b.waiting.get(name).into_iter().flatten() {
                        prop_assert!(
                            *p > place || b.items[k].declined.contains(&a) || !before.contains(k),
                            "{:?} offered to {} while better {:?} waits",
                            item,
                            agent,
                            k
                        );
                    }
                }
            }
        }
    }
    // Each item in exactly one place.
    let mut placed: HashMap<&ItemKey, usize> = HashMap::new();
    for w in b.waiting.values() {
        for k in w.values() {
            *placed.entry(k).or_default() += 1;
            prop_assert_eq!(b.item_phase(k), Some(ItemPhaseView::Waiting));
        }
    }
    for (a, k) in &b.holding {
        *placed.entry(k).or_default() += 1;
        prop_assert_eq!(b.item_phase(k), Some(ItemPhaseView::Held(*a)));
        // Never during a call or its wrap-up.
        let agent = &b.acd.agents[*a];
        prop_assert!(
            agent.call.is_none(),
            "{} holds {:?} with a call",
            agent.login,
            k
        );
        prop_assert!(
            !matches!(
                agent.state,
                AgentState::Ringing | AgentState::Talking | AgentState::WrapUp
            ),
            "{} holds {:?} while {}",
            agent.login,
            k,
            agent.state
        );
    }
    prop_assert_eq!(placed.len(), b.items.len());
    prop_assert!(placed.values().all(|&n| n == 1), "an item in two places");
    // Work-conserving: nobody who may take an item coexists with one waiting for them.
    for a in 0..b.acd.agents.len() {
        if b.may_take(a) {
            for &q in &b.acd.agents[a].queues {
                let name = &b.acd.queues[q].config.name;
                for k in b.waiting.get(name).into_iter().flat_map(|w| w.values()) {
                    prop_assert!(
                        b.items[k].declined.contains(&a),
                        "{} idle beside {:?}",
                        b.acd.agents[a].login,
                        k
                    );
                }
            }
        }
    }
    Ok(())
}
