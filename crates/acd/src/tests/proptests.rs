//! Random sequences of inputs and time jumps against a reference model of the queues and agents,
//! checking after every event that:
//! - no caller is overtaken in their queue: each offer takes the head of the model's queue (a
//!   call whose offer failed keeps its original place, head arrivals go ahead of ordinary ones);
//! - no available agent is skipped for a less idle one: the offered agent is the longest idle
//!   available agent of the call's queue (ties to configuration order);
//! - a ready agent's idle time is when it became ready or ended wrap-up, kept across a
//!   withdrawn offer;
//! - announced positions match the model;
//! - and after every input, no queue holds a waiting call while one of its agents is available.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use proptest::prelude::*;

use super::Harness;
use crate::{
    AcdConfig, AcdEvent, Action, AgentConfig, AgentState, Input, OfferFailure, OverflowTarget,
    QueueConfig, RequestedState,
};

const QUEUES: [&str; 3] = ["q0", "q1", "q2"];
const AGENTS: usize = 5;

#[derive(Debug, Clone)]
enum Op {
    Arrive { queue: usize, at_head: bool },
    Abandon(usize),
    Register { agent: usize, registered: bool },
    SetState { agent: usize, state: u8 },
    Answer(usize),
    Fail { call: usize, reason: u8 },
    End(usize),
    Transfer { call: usize, queue: usize },
    Advance(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..3usize, prop::bool::weighted(0.2)).prop_map(|(queue, at_head)| Op::Arrive { queue, at_head }),
        1 => any::<usize>().prop_map(Op::Abandon),
        2 => (0..AGENTS, prop::bool::weighted(0.8)).prop_map(|(agent, registered)| Op::Register { agent, registered }),
        3 => (0..AGENTS, 0..4u8).prop_map(|(agent, state)| Op::SetState { agent, state }),
        3 => any::<usize>().prop_map(Op::Answer),
        1 => (any::<usize>(), 0..4u8).prop_map(|(call, reason)| Op::Fail { call, reason }),
        3 => any::<usize>().prop_map(Op::End),
        1 => (any::<usize>(), 0..3usize).prop_map(|(call, queue)| Op::Transfer { call, queue }),
        4 => (0..25u64).prop_map(Op::Advance),
    ]
}

fn config(memberships: &[Vec<usize>], wrap_up_s: u64) -> AcdConfig {
    AcdConfig {
        queues: vec![
            QueueConfig {
                max_wait_s: Some(60),
                overflow: Some("q1".into()),
                announce_every_s: Some(11),
                ..QueueConfig::new("q0")
            },
            QueueConfig {
                transfers_at_head: true,
                announce_every_s: Some(7),
                ..QueueConfig::new("q1")
            },
            QueueConfig {
                weight: 2,
                max_wait_s: Some(45),
                overflow: Some("voicemail:1".into()),
                ..QueueConfig::new("q2")
            },
        ],
        agents: memberships
            .iter()
            .enumerate()
            .map(|(i, queues)| AgentConfig {
                static_contact: i == 0,
                ..AgentConfig::new(
                    format!("a{i}"),
                    &queues.iter().map(|&q| QUEUES[q]).collect::<Vec<_>>(),
                )
            })
            .collect(),
        ring_timeout_s: 10,
        wrap_up_s,
        blend: Default::default(),
    }
}

struct ModelAgent {
    state: AgentState,
    registered: bool,
    idle_since: Instant,
    queues: Vec<usize>,
}

impl ModelAgent {
    fn available(&self) -> bool {
        self.registered && self.state == AgentState::Ready
    }
}

struct Model {
    waiting: Vec<BTreeMap<(u8, u64), String>>,
    agents: Vec<ModelAgent>,
    /// Queue and place of each waiting or ringing call.
    place_of: HashMap<String, (usize, (u8, u64))>,
    ringing: BTreeMap<String, usize>,
    talking: BTreeMap<String, usize>,
    head_class: HashMap<String, bool>,
    next: u64,
}

fn queue_idx(name: &str) -> usize {
    QUEUES.iter().position(|q| *q == name).expect("known queue")
}

fn agent_idx(login: &str) -> usize {
    login[1..].parse().expect("a<n>")
}

impl Model {
    fn rank(&self, queue: usize, place: (u8, u64)) -> usize {
        self.waiting[queue].range(..place).count() + 1
    }

    fn event(&mut self, event: &AcdEvent) -> Result<(), TestCaseError> {
        match event {
            AcdEvent::Enter {
                call,
                queue,
                position,
                ..
            } => {
                let q = queue_idx(queue);
                let place = (
                    u8::from(!self.head_class.remove(&call.0).unwrap_or(false)),
                    self.next,
                );
                self.next += 1;
                self.waiting[q].insert(place, call.0.clone());
                self.place_of.insert(call.0.clone(), (q, place));
                prop_assert_eq!(*position, self.rank(q, place), "entry position of {}", call);
            }
            AcdEvent::Offer {
                call, queue, agent, ..
            } => {
                let (q, place) = self.place_of[&call.0];
                prop_assert_eq!(QUEUES[q], queue.as_str());
                let head = self.waiting[q]
                    .first_key_value()
                    .map(|(p, c)| (*p, c.clone()));
                prop_assert_eq!(
                    head,
                    Some((place, call.0.clone())),
                    "{} overtaken in {}",
                    call,
                    queue
                );
                self.waiting[q].remove(&place);
                let a = agent_idx(agent);
                prop_assert!(
                    self.agents[a].available(),
                    "{} offered while not available",
                    agent
                );
                prop_assert!(self.agents[a].queues.contains(&q));
                let key = (self.agents[a].idle_since, a);
                for (b, other) in self.agents.iter().enumerate() {
                    if b != a && other.available() && other.queues.contains(&q) {
                        prop_assert!(
                            (other.idle_since, b) > key,
                            "a{} idle longer than {} in {}",
                            b,
                            agent,
                            queue
                        );
                    }
                }
                self.ringing.insert(call.0.clone(), a);
            }
            AcdEvent::RingNoAnswer { call, .. } | AcdEvent::Reject { call, .. } => {
                prop_assert!(self.ringing.remove(&call.0).is_some());
                let (q, place) = self.place_of[&call.0];
                self.waiting[q].insert(place, call.0.clone());
            }
            AcdEvent::Connect { call, agent, .. } => {
                prop_assert!(self.ringing.remove(&call.0).is_some());
                self.place_of.remove(&call.0);
                self.talking.insert(call.0.clone(), agent_idx(agent));
            }
            AcdEvent::Abandon { call, position, .. }
            | AcdEvent::Interrupted { call, position, .. } => {
                let (q, place) = self.place_of.remove(&call.0).expect("waiting or ringing");
                prop_assert_eq!(*position, self.rank(q, place));
                self.waiting[q].remove(&place);
                self.ringing.remove(&call.0);
            }
            AcdEvent::Complete { call, .. } => prop_assert!(self.talking.remove(&call.0).is_some()),
            AcdEvent::Transfer { call, to, .. } => {
                prop_assert!(self.talking.remove(&call.0).is_some());
                self.head_class.insert(call.0.clone(), to == "q1");
            }
            AcdEvent::Overflow { call, .. } => {
                let (q, place) = self.place_of.remove(&call.0).expect("waiting");
                prop_assert!(self.waiting[q].remove(&place).is_some());
            }
            AcdEvent::AgentState {
                at,
                login,
                state,
                since,
                registered,
                ..
            } => {
                let agent = &mut self.agents[agent_idx(login)];
                if *state == AgentState::Ready {
                    let expected = match agent.state {
                        AgentState::Ringing | AgentState::Ready => agent.idle_since,
                        _ => *at,
                    };
                    prop_assert_eq!(*since, expected, "{} idle since", login);
                    agent.idle_since = *since;
                }
                agent.state = *state;
                agent.registered = *registered;
            }
        }
        Ok(())
    }

    fn action(&self, action: &Action) -> Result<(), TestCaseError> {
        if let Action::Announce { call, position, .. } = action {
            let (q, place) = self.place_of[&call.0];
            prop_assert_eq!(*position, self.rank(q, place));
        }
        if let Action::Overflow { target, .. } = action {
            prop_assert_eq!(target, &OverflowTarget::Voicemail("1".into()));
        }
        Ok(())
    }
}

fn pick<T: Clone>(items: impl Iterator<Item = T>, n: usize) -> Option<T> {
    let items: Vec<T> = items.collect();
    (!items.is_empty()).then(|| items[n % items.len()].clone())
}

fn run(memberships: &[Vec<usize>], wrap_up_s: u64, ops: &[Op]) -> Result<(), TestCaseError> {
    let mut h = Harness::new(config(memberships, wrap_up_s));
    let mut model = Model {
        waiting: vec![BTreeMap::new(); 3],
        agents: memberships
            .iter()
            .enumerate()
            .map(|(i, queues)| ModelAgent {
                state: AgentState::LoggedOut,
                registered: i == 0,
                idle_since: h.start,
                queues: queues.clone(),
            })
            .collect(),
        place_of: HashMap::new(),
        ringing: BTreeMap::new(),
        talking: BTreeMap::new(),
        head_class: HashMap::new(),
        next: 0,
    };
    let mut calls = 0;
    let mut elapsed = 0;
    for op in ops {
        let input = match op.clone() {
            Op::Arrive { queue, at_head } => {
                calls += 1;
                model.head_class.insert(format!("c{calls}"), at_head);
                Some(Input::CallArrived {
                    call: format!("c{calls}").into(),
                    queue: QUEUES[queue].into(),
                    at_head,
                })
            }
            Op::Abandon(n) => pick(
                model
                    .place_of
                    .keys()
                    .chain(model.talking.keys())
                    .cloned()
                    .collect::<std::collections::BTreeSet<_>>()
                    .into_iter(),
                n,
            )
            .map(|call| Input::CallAbandoned { call: call.into() }),
            Op::Register { agent, registered } => Some(Input::AgentRegistered {
                login: format!("a{agent}"),
                registered,
            }),
            Op::SetState { agent, state } => Some(Input::SetAgentState {
                login: format!("a{agent}"),
                state: match state {
                    0 | 1 => RequestedState::Ready,
                    2 => RequestedState::NotReady {
                        reason: "break".into(),
                    },
                    _ => RequestedState::LoggedOut,
                },
            }),
            Op::Answer(n) => pick(model.ringing.iter(), n).map(|(call, &a)| Input::OfferAnswered {
                call: call.clone().into(),
                agent: format!("a{a}"),
            }),
            Op::Fail { call, reason } => {
                pick(model.ringing.iter(), call).map(|(call, &a)| Input::OfferFailed {
                    call: call.clone().into(),
                    agent: format!("a{a}"),
                    reason: [
                        OfferFailure::NoAnswer,
                        OfferFailure::Busy,
                        OfferFailure::Rejected,
                        OfferFailure::Unreachable,
                    ][usize::from(reason)],
                })
            }
            Op::End(n) => pick(model.talking.keys(), n).map(|call| Input::CallEnded {
                call: call.clone().into(),
            }),
            Op::Transfer { call, queue } => {
                pick(model.talking.keys(), call).map(|call| Input::Transfer {
                    call: call.clone().into(),
                    queue: QUEUES[queue].into(),
                })
            }
            Op::Advance(secs) => {
                elapsed += secs;
                h.run_until(elapsed);
                None
            }
        };
        if let Some(input) = input {
            h.input(input.clone())
                .map_err(|e| TestCaseError::fail(format!("{input:?} refused: {e}")))?;
        }
        for output in h.take_log() {
            match output {
                Ok(action) => model.action(&action)?,
                Err(event) => model.event(&event)?,
            }
        }
        for (q, waiting) in model.waiting.iter().enumerate() {
            let idle = model
                .agents
                .iter()
                .enumerate()
                .find(|(_, a)| a.available() && a.queues.contains(&q));
            prop_assert!(
                waiting.is_empty() || idle.is_none(),
                "{} waits in {} while a{:?} is available",
                waiting.len(),
                QUEUES[q],
                idle.map(|i| i.0)
            );
            let stats = &h.acd.queue_stats(h.now)[q];
            prop_assert_eq!(stats.waiting, waiting.len());
        }
    }
    Ok(())
}

fn memberships() -> impl Strategy<Value = Vec<Vec<usize>>> {
    prop::collection::vec(prop::sample::subsequence(vec![0usize, 1, 2], 1..=3), AGENTS)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]
    #[test]
    fn no_overtaking_and_no_skipped_agent(memberships in memberships(), wrap_up_s in 0..4u64, ops in prop::collection::vec(op(), 1..120)) {
        run(&memberships, wrap_up_s, &ops)?;
    }
}
