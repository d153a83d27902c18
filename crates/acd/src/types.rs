//! What goes in ([`Input`]), what comes out ([`Action`], [`AcdEvent`]) and the agent states.

use std::fmt;
use std::time::{Duration, Instant};

use crate::config::{AcdConfig, OverflowTarget};

/// The switchboard's id of a call, unique across nodes (a UUID in practice).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallKey(pub String);

impl fmt::Display for CallKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for CallKey {
    fn from(id: &str) -> Self {
        Self(id.to_owned())
    }
}

impl From<String> for CallKey {
    fn from(id: String) -> Self {
        Self(id)
    }
}

/// An agent's state (R-ACD-4). Only a `Ready` agent whose phone is registered is offered calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AgentState {
    /// Not working; never offered calls.
    LoggedOut,
    /// Idle, waiting for a call.
    Ready,
    /// A call is being offered: the phone rings.
    Ringing,
    /// On a call.
    Talking,
    /// After-call work; ready again when it ends.
    WrapUp,
    /// Logged in but not taking calls, with a reason (break, "no answer", …).
    NotReady,
}

impl AgentState {
    /// Every state, in display order.
    pub const ALL: [Self; 6] = [
        Self::LoggedOut,
        Self::Ready,
        Self::Ringing,
        Self::Talking,
        Self::WrapUp,
        Self::NotReady,
    ];

    /// Lower-case name used by the API and the event stream.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LoggedOut => "logged_out",
            Self::Ready => "ready",
            Self::Ringing => "ringing",
            Self::Talking => "talking",
            Self::WrapUp => "wrap_up",
            Self::NotReady => "not_ready",
        }
    }
}

impl fmt::Display for AgentState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The state an agent (or a supervisor on their behalf) asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestedState {
    /// Take calls. During wrap-up this ends the wrap-up at once.
    Ready,
    /// Stop taking calls. While ringing the offer is withdrawn; while talking the agent goes
    /// not ready when the call and its wrap-up are over.
    NotReady {
        /// Free text shown to supervisors ("break", "training", …).
        reason: String,
    },
    /// Stop working. While ringing the offer is withdrawn; while talking the logout happens when
    /// the call is over.
    LoggedOut,
}

/// Why an offered agent did not take the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OfferFailure {
    /// Rang until the timeout (the engine's own timer reports this too).
    NoAnswer,
    /// The phone answered busy (486/600).
    Busy,
    /// The agent declined (603 or the desktop's reject button).
    Rejected,
    /// The phone could not be reached (408, 480, transport error).
    Unreachable,
}

impl OfferFailure {
    /// The not-ready reason the agent gets.
    #[must_use]
    pub fn reason(self) -> &'static str {
        match self {
            Self::NoAnswer => "no answer",
            Self::Busy => "busy",
            Self::Rejected => "rejected",
            Self::Unreachable => "unreachable",
        }
    }
}

/// Something that happened outside the engine. Feed it with [`crate::Acd::handle`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A call enters a queue (from the IVR). `at_head`: ahead of every ordinary waiting caller
    /// (behind earlier head arrivals).
    CallArrived {
        call: CallKey,
        queue: String,
        at_head: bool,
    },
    /// The caller hung up (or the call ended) before or during the conversation.
    CallAbandoned { call: CallKey },
    /// The agent's phone registered or its registration ended or expired.
    AgentRegistered { login: String, registered: bool },
    /// The agent (desktop, API) asks for a state.
    SetAgentState {
        login: String,
        state: RequestedState,
    },
    /// The offered agent answered.
    OfferAnswered { call: CallKey, agent: String },
    /// The offered agent did not take the call.
    OfferFailed {
        call: CallKey,
        agent: String,
        reason: OfferFailure,
    },
    /// The conversation is over; the agent enters wrap-up. Before the answer it counts as an
    /// abandon.
    CallEnded { call: CallKey },
    /// The agent transfers the call to another queue (second level, R-ACD-6); the agent enters
    /// wrap-up and the call queues again.
    Transfer { call: CallKey, queue: String },
    /// New configuration, applied without losing calls or agent states.
    Reconfigure(AcdConfig),
    /// The service is stopping under the call: waiting or ringing, it leaves its queue as
    /// [`AcdEvent::Interrupted`] (the ringing offer is cancelled), never as an abandon, so the
    /// live counters and the queue log do not count it against the queue. In conversation it
    /// completes as [`Input::CallEnded`] does (the talk happened).
    CallInterrupted { call: CallKey },
    /// The service is stopping: every agent not logged out is logged out now with `reason`
    /// (one [`AcdEvent::AgentState`] each; a ringing offer is withdrawn, wrap-up and requests
    /// pending after a call are dropped), so the event log is complete without a restart.
    LogOutAll { reason: String },
}

/// A command for the driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Ring the agent's phone with this call (the caller keeps hearing hold music).
    Offer { call: CallKey, agent: String },
    /// Stop ringing the agent's phone for this call.
    CancelOffer { call: CallKey, agent: String },
    /// Play the caller their position (1 = next) and expected wait, then resume hold music.
    Announce {
        call: CallKey,
        position: usize,
        expected_wait: Duration,
    },
    /// The call waited `max_wait_s`: it has left the ACD and must be routed to `target`
    /// (always a voicemail box; overflow into another queue is done by the engine itself).
    Overflow {
        call: CallKey,
        target: OverflowTarget,
    },
}

/// What happened, for the queue log, the event bus and the consoles. Every event carries the
/// time it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AcdEvent {
    /// The call entered `queue`.
    Enter {
        at: Instant,
        call: CallKey,
        queue: String,
        position: usize,
    },
    /// The call is offered to `agent`.
    Offer {
        at: Instant,
        call: CallKey,
        queue: String,
        agent: String,
    },
    /// The agent answered after the caller waited `wait` in this queue.
    Connect {
        at: Instant,
        call: CallKey,
        queue: String,
        agent: String,
        wait: Duration,
    },
    /// The agent let the phone ring until the timeout; the call went back to its place.
    RingNoAnswer {
        at: Instant,
        call: CallKey,
        queue: String,
        agent: String,
        rang: Duration,
    },
    /// The offer failed for another reason (busy, rejected, unreachable) or was withdrawn because
    /// the agent changed state; the call went back to its place.
    Reject {
        at: Instant,
        call: CallKey,
        queue: String,
        agent: String,
        reason: String,
    },
    /// The caller hung up while waiting or while an agent rang; `position` 1 = next in line.
    Abandon {
        at: Instant,
        call: CallKey,
        queue: String,
        position: usize,
        wait: Duration,
    },
    /// The service stopped under the call while it waited or rang (`position` 1 = next in
    /// line): it left the queue, and is not an abandon.
    Interrupted {
        at: Instant,
        call: CallKey,
        queue: String,
        position: usize,
        wait: Duration,
    },
    /// The conversation ended after `talk`.
    Complete {
        at: Instant,
        call: CallKey,
        queue: String,
        agent: String,
        talk: Duration,
    },
    /// The agent transferred the call to queue `to`.
    Transfer {
        at: Instant,
        call: CallKey,
        queue: String,
        agent: String,
        to: String,
    },
    /// The call waited the queue's maximum and overflowed to `to`.
    Overflow {
        at: Instant,
        call: CallKey,
        queue: String,
        wait: Duration,
        to: OverflowTarget,
    },
    /// An agent's state or registration changed. `since`: when the state began (for `Ready`, the
    /// moment the agent became idle, which the longest-idle rule uses).
    AgentState {
        at: Instant,
        login: String,
        state: AgentState,
        reason: Option<String>,
        since: Instant,
        registered: bool,
    },
}

impl AcdEvent {
    /// When it happened.
    #[must_use]
    pub fn at(&self) -> Instant {
        match self {
            Self::Enter { at, .. }
            | Self::Offer { at, .. }
            | Self::Connect { at, .. }
            | Self::RingNoAnswer { at, .. }
            | Self::Reject { at, .. }
            | Self::Abandon { at, .. }
            | Self::Interrupted { at, .. }
            | Self::Complete { at, .. }
            | Self::Transfer { at, .. }
            | Self::Overflow { at, .. }
            | Self::AgentState { at, .. } => *at,
        }
    }
}

/// A refused input. The engine's state is unchanged when `handle` returns one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AcdError {
    #[error("unknown queue \"{0}\"")]
    UnknownQueue(String),
    #[error("unknown agent \"{0}\"")]
    UnknownAgent(String),
    #[error("unknown call \"{0}\"")]
    UnknownCall(CallKey),
    #[error("call \"{0}\" is already in the ACD")]
    DuplicateCall(CallKey),
    #[error("call \"{call}\": expected it {expected}, but it is {actual}")]
    WrongCallPhase {
        call: CallKey,
        expected: &'static str,
        actual: &'static str,
    },
    #[error("call \"{call}\" is offered to \"{offered}\", not to \"{agent}\"")]
    NotOfferedTo {
        call: CallKey,
        agent: String,
        offered: String,
    },
    #[error("agent \"{login}\" cannot go from {from} to {to}")]
    InvalidTransition {
        login: String,
        from: AgentState,
        to: &'static str,
    },
    #[error("invalid configuration: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    InvalidConfig(Vec<crate::config::ConfigProblem>),
    #[error("cannot remove queue \"{queue}\": it still holds {calls} call(s)")]
    QueueInUse { queue: String, calls: usize },
    #[error("cannot remove agent \"{login}\" while {state}")]
    AgentInUse { login: String, state: AgentState },
}
