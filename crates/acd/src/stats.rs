//! Live figures: per-queue statistics, agent views, the expected-wait estimate.
//!
//! **Service level** of a queue = calls answered within its threshold (`service_level_s`, 30 s
//! by default) ÷ (calls answered + calls abandoned after the threshold + calls overflowed after
//! the threshold). Callers who hang up before the threshold are left out, as usual in contact
//! centres: the service never had the chance to answer them in time. None until the first call
//! counts.
//!
//! **Expected wait** for the caller at position `p` (1 = next) = `p × g`, where `g` is the mean
//! gap between the queue's last 20 connects (answers), or the time since the latest connect if
//! that is longer (so the estimate grows when the queue stalls). With fewer than two connects,
//! `g` is the queue's `default_expected_wait_s`. The gap between answers already reflects how
//! many agents serve the queue and how long their calls last, which an average of past waits
//! does not.
//!
//! Counters are "today": the driver calls [`Acd::reset_counters`] at local midnight.

use std::time::{Duration, Instant};

use crate::counters::Counters;
use crate::engine::{Acd, Phase, QueueIdx};
use crate::types::{AgentState, CallKey};

/// How many of a queue's agents are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AgentCounts {
    pub logged_out: usize,
    pub ready: usize,
    pub ringing: usize,
    pub talking: usize,
    pub wrap_up: usize,
    pub not_ready: usize,
    /// Ready and registered: could take a call now.
    pub available: usize,
}

impl AgentCounts {
    /// The count for one state.
    #[must_use]
    pub fn get(&self, state: AgentState) -> usize {
        match state {
            AgentState::LoggedOut => self.logged_out,
            AgentState::Ready => self.ready,
            AgentState::Ringing => self.ringing,
            AgentState::Talking => self.talking,
            AgentState::WrapUp => self.wrap_up,
            AgentState::NotReady => self.not_ready,
        }
    }

    fn count(&mut self, state: AgentState) {
        *match state {
            AgentState::LoggedOut => &mut self.logged_out,
            AgentState::Ready => &mut self.ready,
            AgentState::Ringing => &mut self.ringing,
            AgentState::Talking => &mut self.talking,
            AgentState::WrapUp => &mut self.wrap_up,
            AgentState::NotReady => &mut self.not_ready,
        } += 1;
    }
}

/// One queue's live figures (`GET /api/v1/queues`).
#[derive(Debug, Clone, PartialEq)]
pub struct QueueStats {
    pub name: String,
    /// Calls waiting (not counting those being offered).
    pub waiting: usize,
    /// Calls being offered to an agent.
    pub ringing: usize,
    /// The longest current wait among waiting and ringing calls.
    pub oldest_wait: Option<Duration>,
    pub agents: AgentCounts,
    pub answered: u64,
    pub answered_within_threshold: u64,
    pub abandoned: u64,
    pub overflowed: u64,
    /// See the module documentation; None until a call counts.
    pub service_level: Option<f64>,
    /// Mean wait of the calls answered today.
    pub avg_answer_time: Option<Duration>,
    /// Expected wait announced to a caller entering now.
    pub expected_wait: Duration,
}

/// One agent's live view (`GET /api/v1/agents`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentView {
    pub login: String,
    pub state: AgentState,
    pub reason: Option<String>,
    /// When the state began; for `Ready`, when the agent became idle.
    pub since: Instant,
    pub registered: bool,
    pub queues: Vec<String>,
    /// The call ringing at or talking with the agent.
    pub current_call: Option<CallKey>,
}

impl Acd {
    /// Live figures of every queue, in configuration order. Costs O(agents of each queue).
    #[must_use]
    pub fn queue_stats(&self, now: Instant) -> Vec<QueueStats> {
        self.queue_order
            .iter()
            .map(|&q| self.stats_of(q, now))
            .collect()
    }

    fn stats_of(&self, queue: QueueIdx, now: Instant) -> QueueStats {
        let q = &self.queues[queue];
        let mut agents = AgentCounts::default();
        for &a in &q.members {
            let agent = &self.agents[a];
            agents.count(agent.state);
            agents.available += usize::from(agent.available());
        }
        // Within each class, places are taken in time order: the oldest waiting call is the first
        // head arrival or the first ordinary one. Ringing calls are few; look at them directly.
        let heads = [
            q.waiting.range(..(1, 0)).next(),
            q.waiting.range((1, 0)..).next(),
        ];
        let mut oldest = heads
            .into_iter()
            .flatten()
            .map(|(_, id)| self.calls[id].queued_at)
            .min();
        if q.ringing > 0 {
            for &a in &q.members {
                if let Some(id) = self.agents[a].call {
                    let call = &self.calls[&id];
                    if call.queue == queue && matches!(call.phase, Phase::Ringing { .. }) {
                        oldest = Some(oldest.map_or(call.queued_at, |o| o.min(call.queued_at)));
                    }
                }
            }
        }
        let c = q.counters;
        let counted = c.answered + c.abandoned_late + c.overflowed_late;
        QueueStats {
            name: q.config.name.clone(),
            waiting: q.waiting.len(),
            ringing: q.ringing,
            oldest_wait: oldest.map(|at| now.saturating_duration_since(at)),
            agents,
            answered: c.answered,
            answered_within_threshold: c.answered_in_time,
            abandoned: c.abandoned,
            overflowed: c.overflowed,
            #[expect(
                clippy::cast_precision_loss,
                reason = "call counts stay far below 2^52"
            )]
            service_level: (counted > 0).then(|| c.answered_in_time as f64 / counted as f64),
            avg_answer_time: (c.answered > 0)
                .then(|| c.answer_wait_total / u32::try_from(c.answered).unwrap_or(u32::MAX)),
            expected_wait: self.expected_wait(queue, q.waiting.len() + 1, now),
        }
    }

    /// The service-level threshold of the queue named `queue` (a removed queue keeps its
    /// last one); `None` for a name the ACD never had.
    #[must_use]
    pub fn service_level_threshold(&self, queue: &str) -> Option<Duration> {
        self.queue_index
            .get(queue)
            .map(|&q| self.queues[q].config.service_level())
    }

    /// Every agent's view, in configuration order.
    #[must_use]
    pub fn agents(&self, _now: Instant) -> Vec<AgentView> {
        self.agent_order
            .iter()
            .map(|&a| {
                let agent = &self.agents[a];
                AgentView {
                    login: agent.login.clone(),
                    state: agent.state,
                    reason: agent.reason.clone(),
                    since: agent.since,
                    registered: agent.registered,
                    queues: agent
                        .queues
                        .iter()
                        .map(|&q| self.queues[q].config.name.clone())
                        .collect(),
                    current_call: agent.call.map(|id| self.calls[&id].key.clone()),
                }
            })
            .collect()
    }

    /// Zeroes the "today" counters (answered, abandoned, overflowed, service level, average
    /// answer time). The recent-connect window behind the expected wait is kept.
    pub fn reset_counters(&mut self) {
        for queue in &mut self.queues {
            queue.counters = Counters::default();
        }
    }

    /// Expected wait at `position` in `queue`; see the module documentation.
    pub(crate) fn expected_wait(&self, queue: QueueIdx, position: usize, now: Instant) -> Duration {
        let q = &self.queues[queue];
        let gap = match (q.recent_connects.front(), q.recent_connects.back()) {
            (Some(&first), Some(&last)) if q.recent_connects.len() >= 2 => {
                let intervals = u32::try_from(q.recent_connects.len() - 1).unwrap_or(u32::MAX);
                (last.saturating_duration_since(first) / intervals)
                    .max(now.saturating_duration_since(last))
            }
            _ => Duration::from_secs(q.config.default_expected_wait_s),
        };
        gap.saturating_mul(u32::try_from(position).unwrap_or(u32::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_split_by_threshold() {
        let mut c = Counters::default();
        let t = Duration::from_secs(30);
        c.answer(Duration::from_secs(10), t);
        c.answer(Duration::from_secs(30), t);
        c.answer(Duration::from_secs(31), t);
        c.abandon(Duration::from_secs(5), t);
        c.abandon(Duration::from_secs(40), t);
        c.overflow(Duration::from_secs(60), t);
        assert_eq!(
            (
                c.answered,
                c.answered_in_time,
                c.abandoned,
                c.abandoned_late,
                c.overflowed_late
            ),
            (3, 2, 2, 1, 1)
        );
        assert_eq!(c.answer_wait_total, Duration::from_secs(71));
    }
}
