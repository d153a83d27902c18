//! What a graceful stop of the service does to the ACD: calls it cuts leave their queue as
//! interrupted (not abandoned), and every agent is logged out with the stop's reason.

use std::time::Instant;

use crate::engine::{Acd, CallId, Phase};
use crate::types::{AcdEvent, AgentState};

impl Acd {
    /// [`crate::Input::CallInterrupted`]: a waiting or ringing call leaves without touching
    /// the queue's counters; a conversation completes.
    pub(crate) fn call_interrupted(&mut self, id: CallId, now: Instant) {
        let call = &self.calls[&id];
        let (queue, place, key) = (call.queue, call.place, call.key.clone());
        if let Phase::Talking { .. } = call.phase {
            return self.caller_gone(id, now);
        }
        let position = self.position(queue, place);
        let wait = now.saturating_duration_since(call.queued_at);
        self.push_event(AcdEvent::Interrupted {
            at: now,
            call: key.clone(),
            queue: self.queues[queue].config.name.clone(),
            position,
            wait,
        });
        self.withdraw(id, now);
    }

    /// [`crate::Input::LogOutAll`].
    pub(crate) fn log_out_all(&mut self, reason: &str, now: Instant) {
        for agent in 0..self.agents.len() {
            let a = &self.agents[agent];
            if !a.active || a.state == AgentState::LoggedOut {
                continue;
            }
            let ringing = a.state == AgentState::Ringing;
            let timer = self.agents[agent].wrap_timer.take();
            self.disarm(timer);
            self.agents[agent].after_call = None;
            // Leave the state first so a withdrawn call is not offered back to this agent.
            self.set_state(agent, AgentState::LoggedOut, Some(reason.to_string()), now);
            if ringing {
                self.withdraw_offer(agent, "service stopping", now);
            }
        }
    }
}
