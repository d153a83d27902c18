//! The [`Acd`] state machine: its state, the inputs it accepts and the timers it runs.
//!
//! Distribution itself (enqueue, offer, longest idle) lives in `dispatch.rs`, live figures in
//! `stats.rs`, configuration reload in `reconfigure.rs`.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::time::{Duration, Instant};

use crate::config::{AcdConfig, OverflowTarget, QueueConfig};
use crate::counters::Counters;
use crate::types::{
    AcdError, AcdEvent, Action, AgentState, CallKey, Input, OfferFailure, RequestedState,
};

pub(crate) type QueueIdx = usize;
pub(crate) type AgentIdx = usize;
pub(crate) type CallId = u64;
/// A timer's place in the timer map: its deadline and a unique sequence number.
pub(crate) type TimerKey = (Instant, u64);
/// A waiting call's place in its queue: class (0 = head arrivals, 1 = ordinary) then the
/// sequence number taken when it entered the queue. A call whose offer fails goes back under the
/// same key, so it keeps its original place.
pub(crate) type PlaceKey = (u8, u64);

/// How many recent connects per queue feed the expected-wait estimate.
pub(crate) const RECENT_CONNECTS: usize = 20;

pub(crate) struct Queue {
    pub(crate) config: QueueConfig,
    pub(crate) overflow: Option<OverflowTarget>,
    /// False once a reload removed it; kept as a tombstone so indexes stay valid.
    pub(crate) active: bool,
    pub(crate) waiting: BTreeMap<PlaceKey, CallId>,
    /// Available agents (ready and registered, no call) by (idle since, index): the first is the
    /// longest idle.
    pub(crate) ready: BTreeSet<(Instant, AgentIdx)>,
    pub(crate) members: Vec<AgentIdx>,
    /// Calls of this queue being offered right now.
    pub(crate) ringing: usize,
    /// Instants of the last [`RECENT_CONNECTS`] connects.
    pub(crate) recent_connects: VecDeque<Instant>,
    pub(crate) counters: Counters,
}

pub(crate) struct Agent {
    pub(crate) login: String,
    pub(crate) queues: Vec<QueueIdx>,
    /// The agent's weight in each of `queues` (same order).
    pub(crate) weights: Vec<u32>,
    pub(crate) static_contact: bool,
    pub(crate) active: bool,
    pub(crate) registered: bool,
    pub(crate) state: AgentState,
    pub(crate) reason: Option<String>,
    pub(crate) since: Instant,
    /// When the agent last became idle (end of wrap-up, or becoming ready); the key of the
    /// longest-idle rule. A withdrawn offer leaves it unchanged.
    pub(crate) idle_since: Instant,
    pub(crate) call: Option<CallId>,
    /// A state asked for during a call, applied when the call and its wrap-up end.
    pub(crate) after_call: Option<RequestedState>,
    pub(crate) wrap_timer: Option<TimerKey>,
    /// In the `ready` set of each of its queues.
    pub(crate) listed: bool,
}

impl Agent {
    pub(crate) fn available(&self) -> bool {
        self.active && self.registered && self.state == AgentState::Ready && self.call.is_none()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Waiting,
    Ringing { agent: AgentIdx, since: Instant },
    Talking { agent: AgentIdx, since: Instant },
}

impl Phase {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Waiting => "waiting",
            Self::Ringing { .. } => "ringing",
            Self::Talking { .. } => "talking",
        }
    }
}

pub(crate) struct Call {
    pub(crate) key: CallKey,
    pub(crate) queue: QueueIdx,
    pub(crate) place: PlaceKey,
    pub(crate) queued_at: Instant,
    pub(crate) phase: Phase,
    pub(crate) ring_timer: Option<TimerKey>,
    pub(crate) announce_timer: Option<TimerKey>,
    pub(crate) max_wait_timer: Option<TimerKey>,
    /// The maximum wait passed while an agent rang: overflow if the offer fails.
    pub(crate) overflow_due: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Timer {
    Ring(CallId),
    Announce(CallId),
    MaxWait(CallId),
    WrapUp(AgentIdx),
}

/// The automatic call distributor. See the crate documentation for the run loop.
pub struct Acd {
    pub(crate) ring_timeout: Duration,
    pub(crate) wrap_up: Duration,
    pub(crate) queues: Vec<Queue>,
    pub(crate) queue_index: HashMap<String, QueueIdx>,
    /// Active queues in configuration order.
    pub(crate) queue_order: Vec<QueueIdx>,
    pub(crate) agents: Vec<Agent>,
    pub(crate) agent_index: HashMap<String, AgentIdx>,
    /// Active agents in configuration order.
    pub(crate) agent_order: Vec<AgentIdx>,
    pub(crate) calls: HashMap<CallId, Call>,
    pub(crate) call_index: HashMap<CallKey, CallId>,
    pub(crate) next_call_id: CallId,
    pub(crate) next_place: u64,
    pub(crate) timers: BTreeMap<TimerKey, Timer>,
    pub(crate) next_timer: u64,
    /// Outputs with a sequence number shared by both queues, so tests can interleave them.
    pub(crate) actions: VecDeque<(u64, Action)>,
    pub(crate) events: VecDeque<(u64, AcdEvent)>,
    pub(crate) next_output: u64,
    /// The latest time seen; keeps the engine's clock monotonic if a driver goes backwards.
    pub(crate) last_now: Instant,
}

impl Acd {
    /// Builds the engine from a configuration. Every agent starts logged out; agents with a
    /// static contact count as registered.
    ///
    /// # Errors
    /// [`AcdError::InvalidConfig`] with every problem [`AcdConfig::validate`] finds.
    pub fn new(config: AcdConfig, now: Instant) -> Result<Self, AcdError> {
        let problems = config.validate();
        if !problems.is_empty() {
            return Err(AcdError::InvalidConfig(problems));
        }
        let mut acd = Self {
            ring_timeout: config.ring_timeout(),
            wrap_up: config.wrap_up(),
            queues: Vec::new(),
            queue_index: HashMap::new(),
            queue_order: Vec::new(),
            agents: Vec::new(),
            agent_index: HashMap::new(),
            agent_order: Vec::new(),
            calls: HashMap::new(),
            call_index: HashMap::new(),
            next_call_id: 0,
            next_place: 0,
            timers: BTreeMap::new(),
            next_timer: 0,
            actions: VecDeque::new(),
            events: VecDeque::new(),
            next_output: 0,
            last_now: now,
        };
        acd.apply_config(config, now);
        Ok(acd)
    }

    /// Feeds one input. Timers due at `now` fire first, so a late `handle_timeout` cannot
    /// reorder what happened. Then poll actions and events, and ask `poll_timeout` again.
    ///
    /// # Errors
    /// The input does not fit the current state (unknown call, agent or queue, an answer from an
    /// agent that was not offered the call, …); nothing changed except the due timers.
    pub fn handle(&mut self, input: Input, now: Instant) -> Result<(), AcdError> {
        self.handle_timeout(now);
        let now = self.last_now;
        match input {
            Input::CallArrived {
                call,
                queue,
                at_head,
            } => {
                let queue = self.queue_idx(&queue)?;
                if self.call_index.contains_key(&call) {
                    return Err(AcdError::DuplicateCall(call));
                }
                let id = self.next_call_id;
                self.next_call_id += 1;
                self.call_index.insert(call.clone(), id);
                self.calls.insert(
                    id,
                    Call {
                        key: call,
                        queue,
                        place: (1, 0),
                        queued_at: now,
                        phase: Phase::Waiting,
                        ring_timer: None,
                        announce_timer: None,
                        max_wait_timer: None,
                        overflow_due: false,
                    },
                );
                self.enqueue(id, queue, at_head, now);
            }
            Input::CallAbandoned { call } => {
                let id = self.call_id(&call)?;
                self.caller_gone(id, now);
            }
            Input::CallEnded { call } => {
                let id = self.call_id(&call)?;
                self.caller_gone(id, now);
            }
            Input::AgentRegistered { login, registered } => {
                let agent = self.agent_idx(&login)?;
                self.set_registered(agent, registered, now);
            }
            Input::SetAgentState { login, state } => {
                let agent = self.agent_idx(&login)?;
                self.request_state(agent, state, now);
            }
            Input::OfferAnswered { call, agent } => {
                let (id, agent) = self.offered(&call, &agent)?;
                self.answered(id, agent, now);
            }
            Input::OfferFailed {
                call,
                agent,
                reason,
            } => {
                let (id, agent) = self.offered(&call, &agent)?;
                self.offer_failed(id, agent, reason, now);
            }
            Input::Transfer { call, queue } => {
                let target = self.queue_idx(&queue)?;
                let id = self.call_id(&call)?;
                let phase = self.calls[&id].phase;
                let Phase::Talking { agent, .. } = phase else {
                    return Err(AcdError::WrongCallPhase {
                        call,
                        expected: "talking",
                        actual: phase.name(),
                    });
                };
                let from = self.calls[&id].queue;
                self.push_event(AcdEvent::Transfer {
                    at: now,
                    call,
                    queue: self.queues[from].config.name.clone(),
                    agent: self.agents[agent].login.clone(),
                    to: queue,
                });
                self.agents[agent].call = None;
                let at_head = self.queues[target].config.transfers_at_head;
                self.enqueue(id, target, at_head, now);
                self.start_wrap_up(agent, now);
            }
            Input::Reconfigure(config) => self.reconfigure(config, now)?,
            Input::CallInterrupted { call } => {
                let id = self.call_id(&call)?;
                self.call_interrupted(id, now);
            }
            Input::LogOutAll { reason } => self.log_out_all(&reason, now),
        }
        Ok(())
    }

    /// Fires every timer due at `now` (ring timeouts, announcements, maximum waits, ends of
    /// wrap-up), each at its own deadline and in deadline order.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(entry) = self.timers.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let (key, timer) = entry.remove_entry();
            let at = key.0.max(self.last_now);
            self.last_now = at;
            self.fire(timer, at);
        }
        self.last_now = self.last_now.max(now);
    }

    /// The next deadline: call [`Acd::handle_timeout`] when it passes. None: no timer is armed.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.first_key_value().map(|(key, _)| key.0)
    }

    /// The next command for the driver, in the order they were decided.
    #[must_use]
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front().map(|(_, action)| action)
    }

    /// The next event for the queue log and the bus, in the order they happened.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<AcdEvent> {
        self.events.pop_front().map(|(_, event)| event)
    }

    /// The next action or event, whichever was produced first.
    #[cfg(test)]
    pub(crate) fn poll_output(&mut self) -> Option<Result<Action, AcdEvent>> {
        match (self.actions.front(), self.events.front()) {
            (Some((a, _)), Some((e, _))) if a < e => self.poll_action().map(Ok),
            (Some(_), None) => self.poll_action().map(Ok),
            (_, Some(_)) => self.poll_event().map(Err),
            (None, None) => None,
        }
    }

    pub(crate) fn push_action(&mut self, action: Action) {
        self.actions.push_back((self.next_output, action));
        self.next_output += 1;
    }

    pub(crate) fn push_event(&mut self, event: AcdEvent) {
        self.events.push_back((self.next_output, event));
        self.next_output += 1;
    }

    fn queue_idx(&self, name: &str) -> Result<QueueIdx, AcdError> {
        self.queue_index
            .get(name)
            .copied()
            .filter(|&q| self.queues[q].active)
            .ok_or_else(|| AcdError::UnknownQueue(name.to_owned()))
    }

    fn agent_idx(&self, login: &str) -> Result<AgentIdx, AcdError> {
        self.agent_index
            .get(login)
            .copied()
            .filter(|&a| self.agents[a].active)
            .ok_or_else(|| AcdError::UnknownAgent(login.to_owned()))
    }

    fn call_id(&self, call: &CallKey) -> Result<CallId, AcdError> {
        self.call_index
            .get(call)
            .copied()
            .ok_or_else(|| AcdError::UnknownCall(call.clone()))
    }

    /// The call, ringing at `login`.
    fn offered(&self, call: &CallKey, login: &str) -> Result<(CallId, AgentIdx), AcdError> {
        let id = self.call_id(call)?;
        let agent = self.agent_idx(login)?;
        match self.calls[&id].phase {
            Phase::Ringing { agent: offered, .. } if offered == agent => Ok((id, agent)),
            Phase::Ringing { agent: offered, .. } => Err(AcdError::NotOfferedTo {
                call: call.clone(),
                agent: login.to_owned(),
                offered: self.agents[offered].login.clone(),
            }),
            phase => Err(AcdError::WrongCallPhase {
                call: call.clone(),
                expected: "ringing",
                actual: phase.name(),
            }),
        }
    }

    /// The caller hung up, or the call ended: abandon while waiting or ringing, completion while
    /// talking.
    /// Takes a waiting or ringing call out of its queue for good (it abandoned, overflowed
    /// away or was interrupted; its event is already out): its place, its record, and the
    /// offer ringing an agent, cancelled with the agent freed.
    pub(crate) fn withdraw(&mut self, id: CallId, now: Instant) {
        let call = &self.calls[&id];
        let (queue, place, key) = (call.queue, call.place, call.key.clone());
        let ringing = match call.phase {
            Phase::Ringing { agent, .. } => Some(agent),
            Phase::Waiting | Phase::Talking { .. } => None,
        };
        self.queues[queue].waiting.remove(&place);
        self.forget_call(id);
        if let Some(agent) = ringing {
            self.queues[queue].ringing -= 1;
            self.push_action(Action::CancelOffer {
                call: key,
                agent: self.agents[agent].login.clone(),
            });
            self.offer_withdrawn(agent, now);
        }
    }

    pub(crate) fn caller_gone(&mut self, id: CallId, now: Instant) {
        let call = &self.calls[&id];
        let (queue, place, key) = (call.queue, call.place, call.key.clone());
        let queue_name = self.queues[queue].config.name.clone();
        match call.phase {
            Phase::Talking { agent, since } => {
                let login = self.agents[agent].login.clone();
                self.push_event(AcdEvent::Complete {
                    at: now,
                    call: key,
                    queue: queue_name,
                    agent: login,
                    talk: now.saturating_duration_since(since),
                });
                self.forget_call(id);
                self.agents[agent].call = None;
                self.start_wrap_up(agent, now);
            }
            Phase::Waiting | Phase::Ringing { .. } => {
                let position = self.position(queue, place);
                let wait = now.saturating_duration_since(call.queued_at);
                let threshold = self.queues[queue].config.service_level();
                self.queues[queue].counters.abandon(wait, threshold);
                self.push_event(AcdEvent::Abandon {
                    at: now,
                    call: key.clone(),
                    queue: queue_name,
                    position,
                    wait,
                });
                self.withdraw(id, now);
            }
        }
    }

    fn answered(&mut self, id: CallId, agent: AgentIdx, now: Instant) {
        let call = self.calls.get_mut(&id).expect("offered call");
        let (ring, announce, max_wait) = (
            call.ring_timer.take(),
            call.announce_timer.take(),
            call.max_wait_timer.take(),
        );
        call.phase = Phase::Talking { agent, since: now };
        call.overflow_due = false;
        let (queue, key, wait) = (
            call.queue,
            call.key.clone(),
            now.saturating_duration_since(call.queued_at),
        );
        for timer in [ring, announce, max_wait] {
            self.disarm(timer);
        }
        let q = &mut self.queues[queue];
        q.ringing -= 1;
        q.counters.answer(wait, q.config.service_level());
        if q.recent_connects.len() == RECENT_CONNECTS {
            q.recent_connects.pop_front();
        }
        q.recent_connects.push_back(now);
        let name = q.config.name.clone();
        let login = self.agents[agent].login.clone();
        self.push_event(AcdEvent::Connect {
            at: now,
            call: key,
            queue: name,
            agent: login,
            wait,
        });
        self.set_state(agent, AgentState::Talking, None, now);
    }

    fn offer_failed(&mut self, id: CallId, agent: AgentIdx, reason: OfferFailure, now: Instant) {
        let call = &self.calls[&id];
        let Phase::Ringing { since, .. } = call.phase else {
            unreachable!("checked by offered()")
        };
        let key = call.key.clone();
        let queue = self.queues[call.queue].config.name.clone();
        let login = self.agents[agent].login.clone();
        self.push_event(match reason {
            OfferFailure::NoAnswer => AcdEvent::RingNoAnswer {
                at: now,
                call: key,
                queue,
                agent: login,
                rang: now.saturating_duration_since(since),
            },
            _ => AcdEvent::Reject {
                at: now,
                call: key,
                queue,
                agent: login,
                reason: reason.reason().to_owned(),
            },
        });
        self.agents[agent].call = None;
        self.set_state(
            agent,
            AgentState::NotReady,
            Some(reason.reason().to_owned()),
            now,
        );
        self.requeue(id, now);
    }

    /// Withdraws the agent's ringing offer because the agent changed state or lost its
    /// registration: CancelOffer, a Reject event with `reason`, the call back to its place.
    pub(crate) fn withdraw_offer(&mut self, agent: AgentIdx, reason: &str, now: Instant) {
        let id = self.agents[agent]
            .call
            .take()
            .expect("a ringing agent has a call");
        let call = &self.calls[&id];
        let key = call.key.clone();
        let queue = self.queues[call.queue].config.name.clone();
        let login = self.agents[agent].login.clone();
        self.push_action(Action::CancelOffer {
            call: key.clone(),
            agent: login.clone(),
        });
        self.push_event(AcdEvent::Reject {
            at: now,
            call: key,
            queue,
            agent: login,
            reason: reason.to_owned(),
        });
        self.requeue(id, now);
    }

    /// Removes a call from the engine with its timers (not from its queue's waiting list).
    pub(crate) fn forget_call(&mut self, id: CallId) {
        if let Some(call) = self.calls.remove(&id) {
            self.call_index.remove(&call.key);
            for timer in [call.ring_timer, call.announce_timer, call.max_wait_timer] {
                self.disarm(timer);
            }
        }
    }

    /// Emits an agent state change.
    pub(crate) fn set_state(
        &mut self,
        agent: AgentIdx,
        state: AgentState,
        reason: Option<String>,
        now: Instant,
    ) {
        let a = &mut self.agents[agent];
        if a.listed && state != AgentState::Ready {
            self.unlist(agent);
        }
        let a = &mut self.agents[agent];
        a.state = state;
        a.reason = reason;
        a.since = if state == AgentState::Ready {
            a.idle_since
        } else {
            now
        };
        self.push_agent_event(agent, now);
    }

    pub(crate) fn push_agent_event(&mut self, agent: AgentIdx, now: Instant) {
        let a = &self.agents[agent];
        self.push_event(AcdEvent::AgentState {
            at: now,
            login: a.login.clone(),
            state: a.state,
            reason: a.reason.clone(),
            since: a.since,
            registered: a.registered,
        });
    }
}
