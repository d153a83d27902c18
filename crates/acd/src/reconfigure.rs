//! Applying a configuration, at start and on reload, without losing calls or agent states.
//!
//! Rules of a reload:
//! - A queue may be removed only when no call waits in it or is being offered from it (calls
//!   already talking keep their queue's name for the record). Otherwise the reload is refused
//!   with [`AcdError::QueueInUse`]: route new calls elsewhere first, then reload again.
//! - An agent may be removed unless ringing or talking ([`AcdError::AgentInUse`]); a removed
//!   agent is logged out.
//! - Changed queue memberships take effect at once; available agents are re-matched with waiting
//!   calls, longest idle first.
//! - Changed announcement or maximum-wait settings apply to calls already waiting: the next
//!   announcement comes one new interval from the reload, the maximum wait counts from when each
//!   call entered its queue.
//! - New ring timeout and wrap-up apply to offers and wrap-ups that start after the reload.

use std::collections::{BTreeMap, BTreeSet, HashSet, VecDeque};
use std::time::Instant;

use crate::config::AcdConfig;
use crate::counters::Counters;
use crate::engine::{Acd, Agent, CallId, Phase, Queue};
use crate::types::{AcdError, AgentState};

impl Acd {
    /// Validates and applies a new configuration; on error nothing changed.
    pub(crate) fn reconfigure(&mut self, config: AcdConfig, now: Instant) -> Result<(), AcdError> {
        let problems = config.validate();
        if !problems.is_empty() {
            return Err(AcdError::InvalidConfig(problems));
        }
        let queue_names: HashSet<&str> = config.queues.iter().map(|q| q.name.as_str()).collect();
        for &q in &self.queue_order {
            let queue = &self.queues[q];
            let calls = queue.waiting.len() + queue.ringing;
            if !queue_names.contains(queue.config.name.as_str()) && calls > 0 {
                return Err(AcdError::QueueInUse {
                    queue: queue.config.name.clone(),
                    calls,
                });
            }
        }
        let logins: HashSet<&str> = config.agents.iter().map(|a| a.login.as_str()).collect();
        for &a in &self.agent_order {
            let agent = &self.agents[a];
            if !logins.contains(agent.login.as_str())
                && matches!(agent.state, AgentState::Ringing | AgentState::Talking)
            {
                return Err(AcdError::AgentInUse {
                    login: agent.login.clone(),
                    state: agent.state,
                });
            }
        }
        self.apply_config(config, now);
        Ok(())
    }

    /// Applies a valid configuration (the checks of `reconfigure` passed).
    pub(crate) fn apply_config(&mut self, config: AcdConfig, now: Instant) {
        self.ring_timeout = config.ring_timeout();
        self.wrap_up = config.wrap_up();

        // Agents leave every ready set; they are matched again at the end.
        for a in 0..self.agents.len() {
            if self.agents[a].listed {
                self.unlist(a);
            }
        }

        // Queues.
        let mut retimed = HashSet::new();
        for queue in &mut self.queues {
            queue.active = false;
            queue.members.clear();
        }
        self.queue_order.clear();
        for queue_config in config.queues {
            let overflow = queue_config.overflow_target();
            let idx = match self.queue_index.get(&queue_config.name) {
                Some(&idx) => {
                    let queue = &mut self.queues[idx];
                    if (queue.config.announce_every_s, queue.config.max_wait_s)
                        != (queue_config.announce_every_s, queue_config.max_wait_s)
                    {
                        retimed.insert(idx);
                    }
                    queue.config = queue_config;
                    queue.overflow = overflow;
                    queue.active = true;
                    idx
                }
                None => {
                    let idx = self.queues.len();
                    self.queue_index.insert(queue_config.name.clone(), idx);
                    self.queues.push(Queue {
                        config: queue_config,
                        overflow,
                        active: true,
                        waiting: BTreeMap::new(),
                        ready: BTreeSet::new(),
                        members: Vec::new(),
                        ringing: 0,
                        recent_connects: VecDeque::new(),
                        counters: Counters::default(),
                    });
                    idx
                }
            };
            self.queue_order.push(idx);
        }
        debug_assert!(
            self.queues
                .iter()
                .all(|q| q.active || (q.waiting.is_empty() && q.ringing == 0))
        );

        // Agents.
        let previous: Vec<usize> = std::mem::take(&mut self.agent_order);
        let mut kept = HashSet::new();
        for agent_config in config.agents {
            let queues = agent_config
                .queues
                .iter()
                .map(|name| self.queue_index[name])
                .collect::<Vec<_>>();
            let weights = (0..queues.len())
                .map(|i| agent_config.weights.get(i).copied().unwrap_or(1))
                .collect();
            let idx = match self.agent_index.get(&agent_config.login) {
                Some(&idx) => {
                    let agent = &mut self.agents[idx];
                    if agent_config.static_contact != agent.static_contact {
                        agent.registered = agent_config.static_contact;
                    }
                    agent.static_contact = agent_config.static_contact;
                    agent.queues = queues;
                    agent.weights = weights;
                    agent.active = true;
                    idx
                }
                None => {
                    let idx = self.agents.len();
                    self.agent_index.insert(agent_config.login.clone(), idx);
                    self.agents.push(Agent {
                        login: agent_config.login,
                        queues,
                        weights,
                        static_contact: agent_config.static_contact,
                        active: true,
                        registered: agent_config.static_contact,
                        state: AgentState::LoggedOut,
                        reason: None,
                        since: now,
                        idle_since: now,
                        call: None,
                        after_call: None,
                        wrap_timer: None,
                        listed: false,
                    });
                    idx
                }
            };
            kept.insert(idx);
            self.agent_order.push(idx);
            for q in self.agents[idx].queues.clone() {
                self.queues[q].members.push(idx);
            }
        }
        for a in previous {
            if !kept.contains(&a) {
                let timer = self.agents[a].wrap_timer.take();
                self.disarm(timer);
                self.agents[a].after_call = None;
                if self.agents[a].state != AgentState::LoggedOut {
                    self.set_state(a, AgentState::LoggedOut, None, now);
                }
                self.agents[a].active = false;
            }
        }

        // Calls already waiting follow their queue's new timers.
        if !retimed.is_empty() {
            let ids: Vec<CallId> = self
                .calls
                .iter()
                .filter(|(_, c)| {
                    retimed.contains(&c.queue) && !matches!(c.phase, Phase::Talking { .. })
                })
                .map(|(&id, _)| id)
                .collect();
            for id in ids {
                let call = self.calls.get_mut(&id).expect("live call");
                let (announce, max_wait) = (call.announce_timer.take(), call.max_wait_timer.take());
                call.overflow_due = false;
                self.disarm(announce);
                self.disarm(max_wait);
                self.arm_call_timers(id, now);
            }
        }

        // Match available agents with waiting calls, longest idle first.
        let mut available: Vec<(Instant, usize)> = self
            .agent_order
            .iter()
            .filter(|&&a| self.agents[a].available())
            .map(|&a| (self.agents[a].idle_since, a))
            .collect();
        available.sort_unstable();
        for (_, a) in available {
            self.agent_available(a, now);
        }
        for q in self.queue_order.clone() {
            self.dispatch_queue(q, now);
        }
    }
}
