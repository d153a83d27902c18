//! The engine's timers: ring timeouts (R-ACD-4), announcements (R-ACD-3), maximum waits and ends
//! of wrap-up, kept in one ordered map keyed by (deadline, sequence number).

use std::time::Instant;

use crate::engine::{Acd, Phase, Timer, TimerKey};
use crate::types::{AcdEvent, Action, AgentState, OfferFailure};

impl Acd {
    /// Fires one timer at its deadline `at`.
    pub(crate) fn fire(&mut self, timer: Timer, at: Instant) {
        match timer {
            Timer::Ring(id) => {
                let call = self.calls.get_mut(&id).expect("ring timer of a live call");
                call.ring_timer = None;
                let Phase::Ringing { agent, since } = call.phase else {
                    unreachable!("ring timer of a call not ringing")
                };
                let key = call.key.clone();
                let queue = self.queues[call.queue].config.name.clone();
                let login = self.agents[agent].login.clone();
                self.push_action(Action::CancelOffer {
                    call: key.clone(),
                    agent: login.clone(),
                });
                self.push_event(AcdEvent::RingNoAnswer {
                    at,
                    call: key,
                    queue,
                    agent: login,
                    rang: at.saturating_duration_since(since),
                });
                self.agents[agent].call = None;
                self.set_state(
                    agent,
                    AgentState::NotReady,
                    Some(OfferFailure::NoAnswer.reason().to_owned()),
                    at,
                );
                self.requeue(id, at);
            }
            Timer::Announce(id) => {
                let call = self
                    .calls
                    .get_mut(&id)
                    .expect("announce timer of a live call");
                call.announce_timer = None;
                let (queue, place, phase) = (call.queue, call.place, call.phase);
                if phase == Phase::Waiting {
                    let position = self.position(queue, place);
                    let expected_wait = self.expected_wait(queue, position, at);
                    let key = self.calls[&id].key.clone();
                    self.push_action(Action::Announce {
                        call: key,
                        position,
                        expected_wait,
                    });
                }
                if let Some(every) = self.queues[queue].config.announce_every() {
                    let timer = self.arm(at + every, Timer::Announce(id));
                    self.calls.get_mut(&id).expect("live call").announce_timer = Some(timer);
                }
            }
            Timer::MaxWait(id) => {
                let call = self
                    .calls
                    .get_mut(&id)
                    .expect("max-wait timer of a live call");
                call.max_wait_timer = None;
                match call.phase {
                    Phase::Waiting => {
                        let (queue, place) = (call.queue, call.place);
                        self.queues[queue].waiting.remove(&place);
                        self.overflow(id, at);
                    }
                    Phase::Ringing { .. } => call.overflow_due = true,
                    Phase::Talking { .. } => {}
                }
            }
            Timer::WrapUp(agent) => {
                self.agents[agent].wrap_timer = None;
                self.end_wrap_up(agent, at);
            }
        }
    }

    pub(crate) fn arm(&mut self, at: Instant, timer: Timer) -> TimerKey {
        let key = (at, self.next_timer);
        self.next_timer += 1;
        self.timers.insert(key, timer);
        key
    }

    pub(crate) fn disarm(&mut self, key: Option<TimerKey>) {
        if let Some(key) = key {
            self.timers.remove(&key);
        }
    }
}
