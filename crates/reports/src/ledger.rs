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

/// An agent's state as the fold last saw it: the open end of a checkpoint (see
/// [`crate::facts`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentOpen {
    pub login: String,
    pub state: AgentStatus,
    pub reason: Option<String>,
    pub since: DateTime<Utc>,
    /// The queue of the agent's last answered call.
    pub last_queue: Option<String>,
    /// The queue the current span belongs to (a wrap-up's).
    pub span_queue: Option<String>,
}

/// What a ledger still holds open after the events it was fed: calls not ended (or ended
/// recently, see [`Ledger::checkpoint`]) and every agent's current state. Folding resumes
/// from it exactly where it stopped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpenState {
    /// In order of first appearance.
    pub calls: Vec<CallRecord>,
    /// Sorted by login.
    pub agents: Vec<AgentOpen>,
}

/// A ledger cut at a watermark: what is final, and what stays open.
#[derive(Debug, Clone, Default)]
pub struct Checkpoint {
    /// Calls that ended, and calls without an event for a day (a lost `call.ended`): final
    /// unless a later event reopens them.
    pub calls: Vec<CallRecord>,
    /// The hours of the agents' spans that ended.
    pub agent_hours: Vec<AgentHour>,
    pub closures: Vec<Closure>,
    pub open: OpenState,
}

/// The earliest and latest instants a call record mentions (start, end, visits, offers,
/// answers): every report that counts the call counts it at one of them.
pub fn call_span(call: &CallRecord) -> (DateTime<Utc>, DateTime<Utc>) {
    let mut first = call.started_at;
    let mut last = call.started_at;
    let mut see = |t: DateTime<Utc>| {
        first = first.min(t);
        last = last.max(t);
    };
    if let Some(t) = call.ended_at {
        see(t);
    }
    for v in &call.visits {
        see(v.entered_at);
        for o in &v.offers {
            see(o.at);
        }
        match &v.end {
            VisitEnd::Waiting => {}
            VisitEnd::Answered { at, .. }
            | VisitEnd::Abandoned { at, .. }
            | VisitEnd::Overflowed { at, .. } => see(*at),
        }
    }
    (first, last)
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

    /// A ledger that continues from `open` (a [`Checkpoint`]'s open end).
    pub fn resume(open: OpenState) -> Ledger {
        let mut ledger = Ledger::new();
        for call in open.calls {
            ledger.reopen(call);
        }
        for a in open.agents {
            ledger.agents.insert(
                a.login,
                AgentNow {
                    state: a.state,
                    reason: a.reason,
                    since: a.since,
                    last_queue: a.last_queue,
                    span_queue: a.span_queue,
                },
            );
        }
        ledger
    }

    /// Takes back a call already checkpointed as final, because an event about it follows
    /// (so the fold goes on as if it had never been cut). No-op when the call is open here.
    pub fn reopen(&mut self, call: CallRecord) {
        if self.index.contains_key(&call.call_id) {
            return;
        }
        self.index.insert(call.call_id.clone(), self.calls.len());
        self.calls.push(call);
    }

    /// Whether the ledger holds a record of `call_id`.
    pub fn has_call(&self, call_id: &str) -> bool {
        self.index.contains_key(call_id)
    }

    /// The call an event adds to or changes the record of, for the events the fold keeps
    /// call records for (not DTMF, IVR steps, tickets).
    pub fn call_of(event: &Event) -> Option<&str> {
        match event {
            Event::CallStarted { call_id, .. }
            | Event::CallAnswered { call_id, .. }
            | Event::CallEnded { call_id, .. }
            | Event::QueueEntered { call_id, .. }
            | Event::QueueOffered { call_id, .. }
            | Event::QueueRingNoAnswer { call_id, .. }
            | Event::QueueRejected { call_id, .. }
            | Event::QueueConnected { call_id, .. }
            | Event::QueueAbandoned { call_id, .. }
            | Event::QueueLeft { call_id, .. }
            | Event::QueueOverflowed { call_id, .. }
            | Event::QueueCompleted { call_id, .. }
            | Event::QueueTransferred { call_id, .. } => Some(call_id),
            _ => None,
        }
    }

    /// Cuts the fold after the last event observed: calls that ended, or that mention
    /// nothing at or after `stale_before`, are final (a later event about one reopens it,
    /// [`Ledger::reopen`]); the agents' finished spans become hours; the rest stays open.
    pub fn checkpoint(self, stale_before: DateTime<Utc>) -> Checkpoint {
        let mut done = Vec::new();
        let mut open = Vec::new();
        for call in self.calls {
            if call.ended_at.is_some() || call_span(&call).1 < stale_before {
                done.push(call);
            } else {
                open.push(call);
            }
        }
        let mut agents: Vec<AgentOpen> = self
            .agents
            .into_iter()
            .map(|(login, a)| AgentOpen {
                login,
                state: a.state,
                reason: a.reason,
                since: a.since,
                last_queue: a.last_queue,
                span_queue: a.span_queue,
            })
            .collect();
        agents.sort_by(|a, b| a.login.cmp(&b.login));
        Checkpoint {
            calls: done,
            agent_hours: agent_hours(&self.spans),
            closures: self.closures,
            open: OpenState {
                calls: open,
                agents,
            },
        }
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
            // A call the service's stop took out of the queue ends its visit like an abandon;
            // the call's `interrupted` outcome keeps it out of the abandonment figures (`sla`).
            Event::QueueAbandoned {
                call_id,
                queue,
                wait_ms,
                within_service_level,
                at: left,
                ..
            }
            | Event::QueueLeft {
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
