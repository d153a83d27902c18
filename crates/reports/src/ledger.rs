//! The [`Ledger`]: the event log folded into what reports count — one [`CallRecord`] per
//! call with its queue visits, each agent's states as time spans, wrap-ups with the queue
//! of the call they follow, and Service Requests closed by whom.
//!
//! The fold reads events in log order and never looks at the clock: what a report says is a
//! function of the events alone, so the live console (which observes the same events) and a
//! report over the same interval cannot disagree. Events of a call that started before the
//! window read make a record marked `partial` (its start was not seen).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use events::{AgentStatus, Event, Outcome, TicketField};

/// How one stay in a queue ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VisitEnd {
    /// No end seen (still waiting when the log was read, or the process stopped).
    Waiting,
    /// An agent answered after `wait_ms`.
    Answered {
        agent: String,
        wait_ms: u64,
        /// Within the queue's own service-level threshold, as the ACD judged it.
        within_service_level: bool,
        at: DateTime<Utc>,
        /// The conversation's length, once it ended.
        talk_ms: Option<u64>,
        /// The queue the agent transferred the caller to, if any.
        transferred_to: Option<String>,
    },
    /// The caller hung up while waiting or ringing.
    Abandoned {
        wait_ms: u64,
        within_service_level: bool,
        at: DateTime<Utc>,
    },
    /// The queue's maximum wait sent the call on (`to`: a queue or `voicemail:<box>`).
    Overflowed {
        wait_ms: u64,
        within_service_level: bool,
        to: String,
        at: DateTime<Utc>,
    },
}

/// One stay of a call in a queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueVisit {
    pub queue: String,
    pub entered_at: DateTime<Utc>,
    /// The agents rung for this stay, in order, and how each offer went.
    pub offers: Vec<Offer>,
    pub end: VisitEnd,
}

impl QueueVisit {
    /// How long the caller waited in this queue (to the answer, hang-up or overflow); `None`
    /// while waiting.
    pub fn wait_ms(&self) -> Option<u64> {
        match &self.end {
            VisitEnd::Waiting => None,
            VisitEnd::Answered { wait_ms, .. }
            | VisitEnd::Abandoned { wait_ms, .. }
            | VisitEnd::Overflowed { wait_ms, .. } => Some(*wait_ms),
        }
    }
}

/// How an offer to an agent went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OfferResult {
    /// Still ringing (or the call ended while ringing).
    Pending,
    Answered,
    /// Rang until the ring time-out.
    RingNoAnswer,
    /// Busy, declined, unreachable or withdrawn.
    Rejected,
}

/// The ACD rang an agent for a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    pub agent: String,
    pub at: DateTime<Utc>,
    pub result: OfferResult,
}

/// One call as the reports see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRecord {
    pub call_id: String,
    /// When it started (`call.started`), or the first event seen for a `partial` record.
    pub started_at: DateTime<Utc>,
    /// Its start was before the events read.
    pub partial: bool,
    pub caller: Option<String>,
    pub dialled: Option<String>,
    /// We answered it: the caller reached the welcome message (SLA.C.1).
    pub welcomed: bool,
    pub ended_at: Option<DateTime<Utc>>,
    pub outcome: Option<Outcome>,
    pub visits: Vec<QueueVisit>,
}

/// A span of time an agent spent in one state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateSpan {
    pub agent: String,
    pub state: AgentStatus,
    /// The not-ready reason, when the agent gave one.
    pub reason: Option<String>,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// For a wrap-up: the queue of the call it follows.
    pub queue: Option<String>,
}

/// An agent's time in one state within one clock hour (UTC hours, which are local hours in
/// every whole-hour time zone): what the agent report and the wrap-ups of the queue report
/// read. Compact (a working day is tens of rows per agent, whatever the calls) and exact for
/// every sampling, whose buckets are whole hours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentHour {
    /// The hour's first instant.
    pub hour: DateTime<Utc>,
    pub agent: String,
    pub state: AgentStatus,
    /// The not-ready reason.
    pub reason: Option<String>,
    /// For wrap-ups: the queue of the call they follow.
    pub queue: Option<String>,
    /// Time in the state within the hour, milliseconds.
    pub ms: u64,
    /// Spans of the state that started in this hour …
    pub started: u64,
    /// … and their whole lengths (a wrap-up is counted where it started), milliseconds.
    pub started_ms: u64,
}

/// The hour `at` falls in.
pub fn hour_of(at: DateTime<Utc>) -> DateTime<Utc> {
    let secs = at.timestamp().div_euclid(3600) * 3600;
    DateTime::from_timestamp(secs, 0).unwrap_or(at)
}

/// The spans cut into [`AgentHour`]s, merged per (hour, agent, state, reason, queue), sorted.
pub fn agent_hours(spans: &[StateSpan]) -> Vec<AgentHour> {
    /// (hour, agent, state, reason, queue) → (ms, started, started_ms).
    type Key<'a> = (
        DateTime<Utc>,
        &'a str,
        &'static str,
        Option<&'a str>,
        Option<&'a str>,
    );
    let mut map: std::collections::BTreeMap<Key<'_>, (u64, u64, u64)> =
        std::collections::BTreeMap::new();
    for span in spans {
        let key = |hour| {
            (
                hour,
                span.agent.as_str(),
                span.state.as_str(),
                span.reason.as_deref(),
                span.queue.as_deref(),
            )
        };
        let whole = u64::try_from((span.to - span.from).num_milliseconds()).unwrap_or(0);
        let first = map.entry(key(hour_of(span.from))).or_default();
        first.1 += 1;
        first.2 += whole;
        let mut at = span.from;
        while at < span.to {
            let hour = hour_of(at);
            let edge = (hour + chrono::Duration::hours(1)).min(span.to);
            map.entry(key(hour)).or_default().0 +=
                u64::try_from((edge - at).num_milliseconds()).unwrap_or(0);
            at = edge;
        }
    }
    map.into_iter()
        .map(
            |((hour, agent, state, reason, queue), (ms, started, started_ms))| AgentHour {
                hour,
                agent: agent.to_owned(),
                state: AgentStatus::ALL
                    .into_iter()
                    .find(|s| s.as_str() == state)
                    .unwrap_or(AgentStatus::LoggedOut),
                reason: reason.map(str::to_owned),
                queue: queue.map(str::to_owned),
                ms,
                started,
                started_ms,
            },
        )
        .collect()
}

/// A Service Request closed by an operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Closure {
    pub number: String,
    pub queue: String,
    pub by: Option<String>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
struct AgentNow {
    state: AgentStatus,
    reason: Option<String>,
    since: DateTime<Utc>,
    /// The queue of the agent's last answered call (a wrap-up belongs to it).
    last_queue: Option<String>,
    /// The queue the current span belongs to (set when a wrap-up starts).
    span_queue: Option<String>,
}

/// The fold. Feed it every event of the window in log order with [`Ledger::observe`], then
/// [`Ledger::finish`] at the window's end.
#[derive(Debug, Default)]
pub struct Ledger {
    calls: Vec<CallRecord>,
    index: HashMap<String, usize>,
    agents: HashMap<String, AgentNow>,
    spans: Vec<StateSpan>,
    closures: Vec<Closure>,
}

impl Ledger {
    pub fn new() -> Ledger {
        Ledger::default()
    }

    fn call(&mut self, call_id: &str, at: DateTime<Utc>) -> &mut CallRecord {
        let i = match self.index.get(call_id) {
            Some(&i) => i,
            None => {
                self.calls.push(CallRecord {
                    call_id: call_id.to_owned(),
                    started_at: at,
                    partial: true,
                    caller: None,
                    dialled: None,
                    welcomed: false,
                    ended_at: None,
                    outcome: None,
                    visits: Vec::new(),
                });
                self.index.insert(call_id.to_owned(), self.calls.len() - 1);
                self.calls.len() - 1
            }
        };
        &mut self.calls[i]
    }

    /// The open visit of `call_id` in `queue` (the last one), if any.
    fn visit(&mut self, call_id: &str, queue: &str, at: DateTime<Utc>) -> &mut QueueVisit {
        let call = self.call(call_id, at);
        let found = call
            .visits
            .iter()
            .rposition(|v| v.queue == queue && v.end == VisitEnd::Waiting);
        let i = match found {
            Some(i) => i,
            None => {
                // Entered before the window: a visit whose entry we did not see.
                call.visits.push(QueueVisit {
                    queue: queue.to_owned(),
                    entered_at: at,
                    offers: Vec::new(),
                    end: VisitEnd::Waiting,
                });
                call.visits.len() - 1
            }
        };
        &mut call.visits[i]
    }

    /// Records how the pending offer of `call_id` to `agent` went.
    fn settle(
        &mut self,
        call_id: &str,
        queue: &str,
        agent: &str,
        at: DateTime<Utc>,
        result: OfferResult,
    ) {
        let visit = self.visit(call_id, queue, at);
        if let Some(o) = visit
            .offers
            .iter_mut()
            .rev()
            .find(|o| o.agent == agent && o.result == OfferResult::Pending)
        {
            o.result = result;
        } else {
            // Offered before the window.
            visit.offers.push(Offer {
                agent: agent.to_owned(),
                at,
                result,
            });
        }
    }

    /// The last answered visit of `call_id` in `queue`.
    fn answered_visit(&mut self, call_id: &str, queue: &str) -> Option<&mut QueueVisit> {
        let i = *self.index.get(call_id)?;
        self.calls[i]
            .visits
            .iter_mut()
            .rev()
            .find(|v| v.queue == queue && matches!(v.end, VisitEnd::Answered { .. }))
    }

    /// Takes in one event, published at `at`.
    pub fn observe(&mut self, at: DateTime<Utc>, event: &Event) {
        match event {
            Event::CallStarted {
                call_id,
                caller,
                dialled,
                ..
            } => {
                let call = self.call(call_id, at);
                call.started_at = at;
                call.partial = false;
                call.caller.clone_from(caller);
                call.dialled.clone_from(dialled);
            }
            Event::CallAnswered { call_id, .. } => self.call(call_id, at).welcomed = true,
            Event::CallEnded {
                call_id, outcome, ..
            } => {
                let call = self.call(call_id, at);
                call.ended_at = Some(at);
                call.outcome = Some(*outcome);
            }
            // Refused at the trunk (no free line): a contact that never became a call, so a
            // record of its own, outside the index (it has no call id to be found by).
            Event::CallRefused {
                caller,
                called,
                at: refused_at,
                ..
            } => self.calls.push(CallRecord {
                call_id: format!("refused-{}", self.calls.len()),
                started_at: *refused_at,
                partial: false,
                caller: caller.clone(),
                dialled: called.clone(),
                welcomed: false,
                ended_at: Some(*refused_at),
                outcome: Some(Outcome::Rejected),
                visits: Vec::new(),
            }),
            Event::QueueEntered {
                call_id,
                queue,
                at: entered,
                ..
            } => {
                self.call(call_id, at).visits.push(QueueVisit {
                    queue: queue.clone(),
                    entered_at: *entered,
                    offers: Vec::new(),
                    end: VisitEnd::Waiting,
                });
            }
            Event::QueueOffered {
                call_id,
                queue,
                agent,
                at: offered,
            } => self.visit(call_id, queue, at).offers.push(Offer {
                agent: agent.clone(),
                at: *offered,
                result: OfferResult::Pending,
            }),
            Event::QueueRingNoAnswer {
                call_id,
                queue,
                agent,
                ..
            } => self.settle(call_id, queue, agent, at, OfferResult::RingNoAnswer),
            Event::QueueRejected {
                call_id,
                queue,
                agent,
                ..
            } => self.settle(call_id, queue, agent, at, OfferResult::Rejected),
            Event::QueueConnected {
                call_id,
                queue,
                agent,
                wait_ms,
                within_service_level,
                at: connected,
            } => {
                self.settle(call_id, queue, agent, at, OfferResult::Answered);
                self.visit(call_id, queue, at).end = VisitEnd::Answered {
                    agent: agent.clone(),
                    wait_ms: *wait_ms,
                    within_service_level: *within_service_level,
                    at: *connected,
                    talk_ms: None,
                    transferred_to: None,
                };
                if let Some(a) = self.agents.get_mut(agent) {
                    a.last_queue = Some(queue.clone());
                }
            }
            Event::QueueAbandoned {
                call_id,
                queue,
                wait_ms,
                within_service_level,
                at: left,
                ..
            } => {
                self.visit(call_id, queue, at).end = VisitEnd::Abandoned {
                    wait_ms: *wait_ms,
                    within_service_level: *within_service_level,
                    at: *left,
                };
            }
            Event::QueueOverflowed {
                call_id,
                queue,
                wait_ms,
                within_service_level,
                to,
                at: left,
            } => {
                self.visit(call_id, queue, at).end = VisitEnd::Overflowed {
                    wait_ms: *wait_ms,
                    within_service_level: *within_service_level,
                    to: to.clone(),
                    at: *left,
                };
            }
            Event::QueueCompleted {
                call_id,
                queue,
                talk_ms: talked,
                ..
            } => {
                if let Some(VisitEnd::Answered { talk_ms, .. }) =
                    self.answered_visit(call_id, queue).map(|v| &mut v.end)
                {
                    *talk_ms = Some(*talked);
                }
            }
            Event::QueueTransferred {
                call_id, queue, to, ..
            } => {
                if let Some(VisitEnd::Answered { transferred_to, .. }) =
                    self.answered_visit(call_id, queue).map(|v| &mut v.end)
                {
                    *transferred_to = Some(to.clone());
                }
            }
            Event::AgentState {
                login,
                state,
                reason,
                since,
                ..
            } => self.agent_state(login, *state, reason.clone(), *since),
            Event::TicketUpdated {
                number,
                queue,
                by,
                changes,
                ..
            } => {
                let closed = changes.iter().any(|c| {
                    c.field == TicketField::State
                        && c.new.as_deref().is_some_and(|s| s.starts_with("closed"))
                        && !c.old.as_deref().is_some_and(|s| s.starts_with("closed"))
                });
                if closed {
                    self.closures.push(Closure {
                        number: number.clone(),
                        queue: queue.clone(),
                        by: by.clone(),
                        at,
                    });
                }
            }
            Event::SystemStarted { at: started, .. } => {
                // A start after a crash: whatever was open before is over. Agents were
                // logged out by the stop (their phones re-register and log in again).
                let open: Vec<String> = self.agents.keys().cloned().collect();
                for login in open {
                    self.agent_state(&login, AgentStatus::LoggedOut, None, *started);
                }
            }
            _ => {}
        }
    }

    fn agent_state(
        &mut self,
        login: &str,
        state: AgentStatus,
        reason: Option<String>,
        since: DateTime<Utc>,
    ) {
        let now = self.agents.remove(login);
        let last_queue = now.as_ref().and_then(|n| n.last_queue.clone());
        if let Some(prev) = now
            && since > prev.since
            && prev.state != AgentStatus::LoggedOut
        {
            self.spans.push(StateSpan {
                agent: login.to_owned(),
                state: prev.state,
                reason: prev.reason,
                from: prev.since,
                to: since,
                queue: prev.span_queue,
            });
        }
        let span_queue = (state == AgentStatus::WrapUp)
            .then(|| last_queue.clone())
            .flatten();
        self.agents.insert(
            login.to_owned(),
            AgentNow {
                state,
                reason,
                since,
                last_queue,
                span_queue,
            },
        );
    }

    /// Closes the agents' open spans at `until` (the window's end, or now) and hands over
    /// what was folded.
    pub fn finish(mut self, until: DateTime<Utc>) -> Folded {
        let mut open: Vec<(String, AgentNow)> = self.agents.drain().collect();
        open.sort_by(|a, b| a.0.cmp(&b.0));
        for (login, now) in open {
            if until > now.since && now.state != AgentStatus::LoggedOut {
                self.spans.push(StateSpan {
                    agent: login,
                    state: now.state,
                    reason: now.reason,
                    from: now.since,
                    to: until,
                    queue: now.span_queue,
                });
            }
        }
        Folded {
            calls: self.calls,
            agent_hours: agent_hours(&self.spans),
            closures: self.closures,
        }
    }
}

/// What a [`Ledger`] folded: the input of every report.
#[derive(Debug, Clone, Default)]
pub struct Folded {
    /// In order of first appearance.
    pub calls: Vec<CallRecord>,
    /// Agents' time per hour and state.
    pub agent_hours: Vec<AgentHour>,
    pub closures: Vec<Closure>,
}

impl Folded {
    /// Folds `events` (in log order) up to `until`.
    pub fn from_events<'a>(
        events: impl IntoIterator<Item = (DateTime<Utc>, &'a Event)>,
        until: DateTime<Utc>,
    ) -> Folded {
        let mut ledger = Ledger::new();
        for (at, e) in events {
            ledger.observe(at, e);
        }
        ledger.finish(until)
    }
}
