//! Distribution (R-ACD-1, R-ACD-2): calls wait FIFO per queue, the longest-idle available agent
//! takes the head, a freed agent takes the best head among its queues. And the agent life cycle
//! around it (R-ACD-4): offers, wrap-up, requested states, registration.
//!
//! The invariant kept after every input: no queue has both a waiting call and an available
//! agent. So an arriving call only looks at its queue's longest-idle agent, and a freed agent
//! only looks at the heads of its own queues; each decision is a few ordered-map operations.

use std::time::Instant;

use crate::config::OverflowTarget;
use crate::engine::{Acd, AgentIdx, CallId, Phase, PlaceKey, QueueIdx, Timer};
use crate::types::{AcdEvent, Action, AgentState, RequestedState};

impl Acd {
    /// Puts a call at its place in `queue` (head class or tail), arms its announcement and
    /// maximum-wait timers, and offers it if an agent is available.
    pub(crate) fn enqueue(&mut self, id: CallId, queue: QueueIdx, at_head: bool, now: Instant) {
        let place = (u8::from(!at_head), self.next_place);
        self.next_place += 1;
        let call = self.calls.get_mut(&id).expect("live call");
        let (announce, max_wait) = (call.announce_timer.take(), call.max_wait_timer.take());
        call.queue = queue;
        call.place = place;
        call.queued_at = now;
        call.phase = Phase::Waiting;
        call.overflow_due = false;
        let key = call.key.clone();
        self.disarm(announce);
        self.disarm(max_wait);
        self.queues[queue].waiting.insert(place, id);
        self.arm_call_timers(id, now);
        let position = self.position(queue, place);
        self.push_event(AcdEvent::Enter {
            at: now,
            call: key,
            queue: self.queues[queue].config.name.clone(),
            position,
        });
        self.dispatch_queue(queue, now);
    }

    /// Arms the announcement and maximum-wait timers of a waiting call from its queue's settings,
    /// counting from the moment it entered the queue (a maximum already passed fires at once).
    pub(crate) fn arm_call_timers(&mut self, id: CallId, now: Instant) {
        let call = &self.calls[&id];
        let config = &self.queues[call.queue].config;
        let (announce_every, max_wait, queued_at) =
            (config.announce_every(), config.max_wait(), call.queued_at);
        let announce = announce_every.map(|every| self.arm(now + every, Timer::Announce(id)));
        let max_wait = max_wait.map(|max| self.arm((queued_at + max).max(now), Timer::MaxWait(id)));
        let call = self.calls.get_mut(&id).expect("live call");
        call.announce_timer = announce;
        call.max_wait_timer = max_wait;
    }

    /// A ringing call whose offer ended without an answer goes back to its original place.
    pub(crate) fn requeue(&mut self, id: CallId, now: Instant) {
        let call = self.calls.get_mut(&id).expect("live call");
        let ring = call.ring_timer.take();
        call.phase = Phase::Waiting;
        let (queue, place, overflow_due) = (call.queue, call.place, call.overflow_due);
        self.disarm(ring);
        self.queues[queue].ringing -= 1;
        // A reload may have removed the maximum wait since it passed.
        if overflow_due && self.queues[queue].overflow.is_some() {
            self.overflow(id, now);
        } else {
            self.queues[queue].waiting.insert(place, id);
            self.dispatch_queue(queue, now);
        }
    }

    /// Offers head calls of `queue` to its longest-idle available agents while both exist.
    pub(crate) fn dispatch_queue(&mut self, queue: QueueIdx, now: Instant) {
        loop {
            let q = &self.queues[queue];
            let (Some((&place, &id)), Some(&(_, agent))) =
                (q.waiting.first_key_value(), q.ready.first())
            else {
                return;
            };
            self.queues[queue].waiting.remove(&place);
            self.offer(id, agent, now);
        }
    }

    /// The agent is available (ready, registered, no call): it takes the best head call among its
    /// queues (the longest wait times the queue's weight times the agent's weight in it; ties to
    /// the earlier arrival), or joins the ready sets to wait for one.
    pub(crate) fn agent_available(&mut self, agent: AgentIdx, now: Instant) {
        debug_assert!(self.agents[agent].available());
        let mut best: Option<(u128, Instant, PlaceKey, QueueIdx, CallId)> = None;
        let a = &self.agents[agent];
        for (&queue, &member_weight) in a.queues.iter().zip(&a.weights) {
            let q = &self.queues[queue];
            let Some((&place, &id)) = q.waiting.first_key_value() else {
                continue;
            };
            let queued_at = self.calls[&id].queued_at;
            let score = now.saturating_duration_since(queued_at).as_nanos()
                * u128::from(q.config.weight)
                * u128::from(member_weight);
            let better = match best {
                None => true,
                Some((s, at, p, ..)) => score > s || (score == s && (queued_at, place) < (at, p)),
            };
            if better {
                best = Some((score, queued_at, place, queue, id));
            }
        }
        match best {
            Some((_, _, place, queue, id)) => {
                self.queues[queue].waiting.remove(&place);
                self.offer(id, agent, now);
            }
            None => self.list(agent),
        }
    }

    /// Rings `agent` with the call (already out of its queue's waiting list).
    fn offer(&mut self, id: CallId, agent: AgentIdx, now: Instant) {
        if self.agents[agent].listed {
            self.unlist(agent);
        }
        let ring = self.arm(now + self.ring_timeout, Timer::Ring(id));
        let call = self.calls.get_mut(&id).expect("live call");
        call.phase = Phase::Ringing { agent, since: now };
        call.ring_timer = Some(ring);
        let (queue, key) = (call.queue, call.key.clone());
        self.queues[queue].ringing += 1;
        self.agents[agent].call = Some(id);
        let login = self.agents[agent].login.clone();
        self.push_action(Action::Offer {
            call: key.clone(),
            agent: login.clone(),
        });
        self.push_event(AcdEvent::Offer {
            at: now,
            call: key,
            queue: self.queues[queue].config.name.clone(),
            agent: login,
        });
        self.set_state(agent, AgentState::Ringing, None, now);
    }

    /// The call left while ringing (caller hung up): the agent is ready again, keeping its idle
    /// time, and may take another call.
    pub(crate) fn offer_withdrawn(&mut self, agent: AgentIdx, now: Instant) {
        self.agents[agent].call = None;
        self.set_state(agent, AgentState::Ready, None, now);
        if self.agents[agent].available() {
            self.agent_available(agent, now);
        }
    }

    pub(crate) fn list(&mut self, agent: AgentIdx) {
        let a = &mut self.agents[agent];
        debug_assert!(!a.listed);
        a.listed = true;
        let key = (a.idle_since, agent);
        for &queue in &a.queues {
            self.queues[queue].ready.insert(key);
        }
    }

    pub(crate) fn unlist(&mut self, agent: AgentIdx) {
        let a = &mut self.agents[agent];
        a.listed = false;
        let key = (a.idle_since, agent);
        for &queue in &a.queues {
            self.queues[queue].ready.remove(&key);
        }
    }

    /// The call waited its queue's maximum (it is out of the waiting list): into the overflow
    /// queue, or out of the ACD toward voicemail.
    pub(crate) fn overflow(&mut self, id: CallId, now: Instant) {
        let call = &self.calls[&id];
        let (queue, key) = (call.queue, call.key.clone());
        let wait = now.saturating_duration_since(call.queued_at);
        let q = &mut self.queues[queue];
        let target = q
            .overflow
            .clone()
            .expect("a max-wait timer implies an overflow target");
        q.counters.overflow(wait, q.config.service_level());
        let name = q.config.name.clone();
        self.push_event(AcdEvent::Overflow {
            at: now,
            call: key.clone(),
            queue: name,
            wait,
            to: target.clone(),
        });
        match target {
            OverflowTarget::Queue(name) => {
                let target = self.queue_index[&name];
                self.enqueue(id, target, false, now);
            }
            OverflowTarget::Voicemail(_) => {
                self.push_action(Action::Overflow { call: key, target });
                self.forget_call(id);
            }
        }
    }

    /// 1-based position of a place among the queue's waiting calls (1 = next).
    pub(crate) fn position(&self, queue: QueueIdx, place: PlaceKey) -> usize {
        let waiting = &self.queues[queue].waiting;
        match waiting.last_key_value() {
            Some((&last, _)) if last <= place => waiting.len() - usize::from(last == place) + 1,
            _ => waiting.range(..place).count() + 1,
        }
    }

    /// The call is over for this agent: wrap-up, or straight to what follows if wrap-up is 0.
    pub(crate) fn start_wrap_up(&mut self, agent: AgentIdx, now: Instant) {
        if self.wrap_up.is_zero() {
            self.end_wrap_up(agent, now);
            return;
        }
        let timer = self.arm(now + self.wrap_up, Timer::WrapUp(agent));
        self.agents[agent].wrap_timer = Some(timer);
        self.set_state(agent, AgentState::WrapUp, None, now);
    }

    /// Wrap-up over: the state asked for during the call, or ready (idle from now).
    pub(crate) fn end_wrap_up(&mut self, agent: AgentIdx, now: Instant) {
        let timer = self.agents[agent].wrap_timer.take();
        self.disarm(timer);
        match self.agents[agent].after_call.take() {
            Some(RequestedState::NotReady { reason }) => {
                self.set_state(agent, AgentState::NotReady, Some(reason), now)
            }
            Some(RequestedState::LoggedOut) => {
                self.set_state(agent, AgentState::LoggedOut, None, now)
            }
            Some(RequestedState::Ready) | None => self.become_ready(agent, now),
        }
    }

    fn become_ready(&mut self, agent: AgentIdx, now: Instant) {
        self.agents[agent].idle_since = now;
        self.set_state(agent, AgentState::Ready, None, now);
        if self.agents[agent].available() {
            self.agent_available(agent, now);
        }
    }

    /// A state asked for by the agent or a supervisor.
    ///
    /// | from \ asked | ready | not ready | logged out |
    /// |---|---|---|---|
    /// | logged out, not ready | ready, idle from now | not ready (new reason) | logged out |
    /// | ready | unchanged | not ready | logged out |
    /// | ringing | unchanged | offer withdrawn, not ready | offer withdrawn, logged out |
    /// | talking | clears a pending request | after the call and wrap-up | after the call and wrap-up |
    /// | wrap-up | wrap-up ends, ready | wrap-up ends, not ready | wrap-up ends, logged out |
    pub(crate) fn request_state(
        &mut self,
        agent: AgentIdx,
        requested: RequestedState,
        now: Instant,
    ) {
        let current = self.agents[agent].state;
        match (current, requested) {
            (AgentState::Ready | AgentState::Ringing, RequestedState::Ready) => {}
            (AgentState::Talking, requested) => {
                self.agents[agent].after_call = match requested {
                    RequestedState::Ready => None,
                    other => Some(other),
                };
            }
            (AgentState::WrapUp, requested) => {
                self.agents[agent].after_call = Some(requested);
                self.end_wrap_up(agent, now);
            }
            (AgentState::LoggedOut | AgentState::NotReady, RequestedState::Ready) => {
                self.become_ready(agent, now)
            }
            (_, RequestedState::LoggedOut) if current == AgentState::LoggedOut => {}
            (_, requested) => {
                let (state, reason, withdrawn) = match requested {
                    RequestedState::NotReady { reason } => {
                        (AgentState::NotReady, Some(reason), "agent not ready")
                    }
                    RequestedState::LoggedOut => (AgentState::LoggedOut, None, "agent logged out"),
                    RequestedState::Ready => unreachable!("handled above"),
                };
                // Leave the state first so the withdrawn call is not offered back to this agent.
                self.set_state(agent, state, reason, now);
                if current == AgentState::Ringing {
                    self.withdraw_offer(agent, withdrawn, now);
                }
            }
        }
    }

    /// The phone registered or unregistered. Unregistered agents keep their state but are not
    /// offered calls; a ringing offer is withdrawn.
    pub(crate) fn set_registered(&mut self, agent: AgentIdx, registered: bool, now: Instant) {
        if self.agents[agent].registered == registered {
            return;
        }
        self.agents[agent].registered = registered;
        if !registered && self.agents[agent].listed {
            self.unlist(agent);
        }
        self.push_agent_event(agent, now);
        if !registered && self.agents[agent].state == AgentState::Ringing {
            self.withdraw_offer(agent, "unregistered", now);
            self.set_state(agent, AgentState::Ready, None, now);
        } else if self.agents[agent].available() {
            self.agent_available(agent, now);
        }
    }
}
