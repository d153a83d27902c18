//! What is, beside what happens: the ACD's live view of queues and agents, and the commands
//! people give it (an agent goes ready, a supervisor moves a call), as the consoles read and
//! give them.
//!
//! The ACD owns richer types (its agents' instants, its call keys, its errors); the crate that
//! drives it implements [`LiveAcd`] by converting them into these, so the consoles depend on
//! this vocabulary and not on the ACD's internals. Counters of the day are not here: they are
//! derived from the event log (console's figures), so that they survive a restart.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use crate::{AgentMode, AgentStatus};

/// A future the ports return (object-safe, sendable).
pub type PortFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The live view of every queue and agent, taken at one instant.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveView {
    /// When it was taken; the instants inside are on the same clock.
    pub at: Instant,
    /// Queues in configuration order.
    pub queues: Vec<QueueLive>,
    pub agents: Vec<AgentLive>,
}

impl LiveView {
    /// The agent ringing at or talking on `call_id`, if any.
    #[must_use]
    pub fn agent_on_call(&self, call_id: &str) -> Option<&AgentLive> {
        self.agents
            .iter()
            .find(|a| a.current_call.as_deref() == Some(call_id))
    }

    /// The queues `login` serves (empty for an unknown agent).
    #[must_use]
    pub fn queues_of(&self, login: &str) -> Vec<String> {
        self.agents
            .iter()
            .filter(|a| a.login == login)
            .flat_map(|a| a.queues.iter().cloned())
            .collect()
    }
}

/// One queue, now.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueLive {
    pub name: String,
    /// Calls waiting, not counting those being offered.
    pub waiting: usize,
    /// Calls being offered to an agent.
    pub ringing: usize,
    /// The longest current wait among waiting and ringing calls.
    pub oldest_wait: Option<Duration>,
    /// The queue's agents by state.
    pub agents: AgentsByStatus,
    /// The wait announced to a caller entering now.
    pub expected_wait: Duration,
}

/// A queue's agents counted by state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AgentsByStatus {
    pub logged_out: usize,
    pub ready: usize,
    pub ringing: usize,
    pub talking: usize,
    pub wrap_up: usize,
    pub not_ready: usize,
    /// Ready with a registered phone: could take a call now.
    pub available: usize,
}

/// One agent, now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentLive {
    pub login: String,
    pub status: AgentStatus,
    /// Why not ready ("break", "no answer", …).
    pub reason: Option<String>,
    /// When the state began; for `Ready`, since when the agent is idle.
    pub since: Instant,
    /// Whether the phone is registered (or has a static contact).
    pub registered: bool,
    pub queues: Vec<String>,
    /// Our call id of the call ringing at or talking with the agent.
    pub current_call: Option<String>,
    /// How the agent works (R-ACD-5).
    pub mode: AgentMode,
    /// The item (ticket number) offered to or held by the agent, and whether they accepted it.
    pub item: Option<(String, bool)>,
}

/// The state a person asks for an agent (R-ACD-4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentRequest {
    /// Take calls; during wrap-up this ends it at once.
    Ready,
    /// Stop taking calls, with a reason shown to supervisors.
    NotReady { reason: String },
    /// Stop working.
    LoggedOut,
}

/// Why the ACD did not do what it was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// No such agent.
    #[error("unknown agent \"{0}\"")]
    UnknownAgent(String),
    /// No such queue.
    #[error("unknown queue \"{0}\"")]
    UnknownQueue(String),
    /// No such call (it ended, or never was in the ACD).
    #[error("unknown call \"{0}\"")]
    UnknownCall(String),
    /// No such item (it left the ACD, or never was in it).
    #[error("unknown item \"{0}\"")]
    UnknownItem(String),
    /// The ACD has stopped.
    #[error("the ACD has stopped")]
    Stopped,
    /// Anything else the ACD refused, in its words (a call not in conversation, say).
    #[error("{0}")]
    Other(String),
}

/// What an agent does with an item offered to or held by them (R-ACD-5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemStep {
    /// Take the offered item.
    Accept,
    /// Refuse the offered item: it waits for someone else.
    Decline,
    /// The accepted item is finished: the agent is free again.
    Done,
}

/// The ACD as the consoles see it: its live view, and the changes people ask of it.
pub trait LiveAcd: Send + Sync {
    /// The live view; `None` once the ACD has stopped.
    fn view(&self) -> PortFuture<'_, Option<LiveView>>;

    /// Sets `login`'s state.
    fn set_state<'a>(
        &'a self,
        login: &'a str,
        request: AgentRequest,
    ) -> PortFuture<'a, Result<(), Refused>>;

    /// Moves the call in conversation `call_id` to `queue` (R-ACD-6): the agent enters
    /// wrap-up and the caller waits in `queue`.
    fn transfer<'a>(
        &'a self,
        call_id: &'a str,
        queue: &'a str,
    ) -> PortFuture<'a, Result<(), Refused>>;

    /// The agent in conversation on `call_id` holds (`held`) or resumes its caller from the
    /// desktop: the caller hears the hold music meanwhile. An ACD that cannot refuses.
    fn hold<'a>(&'a self, call_id: &'a str, held: bool) -> PortFuture<'a, Result<(), Refused>> {
        let _ = held;
        Box::pin(async move { Err(Refused::Other(format!("cannot hold call {call_id} here"))) })
    }

    /// Sets how `login` works (R-ACD-5). An ACD without blended routing refuses.
    fn set_mode<'a>(
        &'a self,
        login: &'a str,
        mode: AgentMode,
    ) -> PortFuture<'a, Result<(), Refused>> {
        let _ = (login, mode);
        Box::pin(async { Err(Refused::Other("no blended routing here".into())) })
    }

    /// `login` accepts, declines or finishes item `number`. An ACD without blended routing
    /// refuses.
    fn item<'a>(
        &'a self,
        login: &'a str,
        number: &'a str,
        step: ItemStep,
    ) -> PortFuture<'a, Result<(), Refused>> {
        let _ = (login, step);
        Box::pin(async move { Err(Refused::UnknownItem(number.to_string())) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent(login: &str, queues: &[&str], call: Option<&str>) -> AgentLive {
        AgentLive {
            login: login.into(),
            status: if call.is_some() {
                AgentStatus::Talking
            } else {
                AgentStatus::Ready
            },
            reason: None,
            since: Instant::now(),
            registered: true,
            queues: queues.iter().map(|q| q.to_string()).collect(),
            current_call: call.map(str::to_string),
            mode: AgentMode::Online,
            item: None,
        }
    }

    #[test]
    fn the_view_finds_an_agents_queues_and_who_is_on_a_call() {
        let view = LiveView {
            at: Instant::now(),
            queues: Vec::new(),
            agents: vec![
                agent("a1", &["cittadini", "tecnica"], Some("c-1")),
                agent("a2", &["tecnica"], None),
            ],
        };
        assert_eq!(view.queues_of("a1"), ["cittadini", "tecnica"]);
        assert!(view.queues_of("nobody").is_empty());
        assert_eq!(
            view.agent_on_call("c-1").map(|a| a.login.as_str()),
            Some("a1")
        );
        assert!(view.agent_on_call("c-2").is_none());
    }

    #[test]
    fn refusals_say_what_was_refused() {
        assert_eq!(
            Refused::UnknownAgent("a9".into()).to_string(),
            "unknown agent \"a9\""
        );
        assert_eq!(Refused::Stopped.to_string(), "the ACD has stopped");
    }
}
