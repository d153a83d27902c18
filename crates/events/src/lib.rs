//! # events
//!
//! The one event vocabulary of centralino (DESIGN.md "one event bus"): every change of a call,
//! a queue, an agent, a Service Request or the system itself is one typed [`Event`] on one
//! [`EventBus`]. Consoles stream them, metrics count them, the event log keeps them.
//!
//! This crate is the bottom floor: it depends on no other crate of the workspace, so every
//! crate can speak it. Values that other crates model richly (an ACD agent state, a CRM
//! channel) appear here as their own small enums with the same wire names, converted at the
//! edge by the crate that owns the richer type.
//!
//! ## Wire format
//! Serialised with a `type` field (`call.started`, `queue.changed`, …) as CONTRACT.md's event
//! stream says; enum fields serialise as their `snake_case` names, so the stream's JSON is the
//! same whether a field is typed here or was a string before.

use serde::Serialize;
use tokio::sync::broadcast;

/// How a call ended, as counted in `centralino_calls_total{outcome}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The caller hung up after the answer.
    CallerHangup,
    /// We hung up (flow finished, idle, shutdown).
    ServerHangup,
    /// The caller gave up before the answer.
    Abandoned,
    /// We refused the call (capacity, no media).
    Rejected,
    /// The media or signalling path failed.
    Failed,
}

impl Outcome {
    pub const ALL: [Outcome; 5] = [
        Outcome::CallerHangup,
        Outcome::ServerHangup,
        Outcome::Abandoned,
        Outcome::Rejected,
        Outcome::Failed,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Outcome::CallerHangup => "caller_hangup",
            Outcome::ServerHangup => "server_hangup",
            Outcome::Abandoned => "abandoned",
            Outcome::Rejected => "rejected",
            Outcome::Failed => "failed",
        }
    }
}

/// What the caller's journey amounted to (the call card's outcome, R-TEL-2): where the call
/// ended, as opposed to [`Outcome`], which says who ended it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CallOutcome {
    /// An agent talked to the caller.
    Answered,
    /// The caller hung up while queued.
    Abandoned,
    /// The caller left a voicemail.
    Voicemail,
    /// The call ended in the IVR (invalid choices, hang-up).
    EndedInIvr,
    /// Out of service hours, no message.
    OutOfHours,
}

impl CallOutcome {
    pub const fn as_str(self) -> &'static str {
        match self {
            CallOutcome::Answered => "answered",
            CallOutcome::Abandoned => "abandoned",
            CallOutcome::Voicemail => "voicemail",
            CallOutcome::EndedInIvr => "ended_in_ivr",
            CallOutcome::OutOfHours => "out_of_hours",
        }
    }
}

/// The direction a call's media took after a re-INVITE (RFC 3264 §5.1, §8.4), seen from our
/// side: `sendonly` or `inactive` is the peer holding the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MediaDirection {
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
}

impl MediaDirection {
    /// The SDP attribute name (`sendrecv`, …).
    pub const fn as_str(self) -> &'static str {
        match self {
            MediaDirection::SendRecv => "sendrecv",
            MediaDirection::SendOnly => "sendonly",
            MediaDirection::RecvOnly => "recvonly",
            MediaDirection::Inactive => "inactive",
        }
    }
}

/// An agent's state as the event stream names it (R-ACD-4); the ACD's own type converts into it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentStatus {
    LoggedOut,
    Ready,
    Ringing,
    Talking,
    WrapUp,
    NotReady,
}

impl AgentStatus {
    pub const ALL: [AgentStatus; 6] = [
        AgentStatus::LoggedOut,
        AgentStatus::Ready,
        AgentStatus::Ringing,
        AgentStatus::Talking,
        AgentStatus::WrapUp,
        AgentStatus::NotReady,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            AgentStatus::LoggedOut => "logged_out",
            AgentStatus::Ready => "ready",
            AgentStatus::Ringing => "ringing",
            AgentStatus::Talking => "talking",
            AgentStatus::WrapUp => "wrap_up",
            AgentStatus::NotReady => "not_ready",
        }
    }
}

/// The channel a Service Request came in by (R-SR-1, R-ACD-5); the CRM's `Channel` by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TicketChannel {
    Phone,
    Email,
    Voicemail,
    Web,
    Fax,
}

impl TicketChannel {
    pub const fn as_str(self) -> &'static str {
        match self {
            TicketChannel::Phone => "phone",
            TicketChannel::Email => "email",
            TicketChannel::Voicemail => "voicemail",
            TicketChannel::Web => "web",
            TicketChannel::Fax => "fax",
        }
    }

    /// Every channel, in the CRM's order.
    pub const ALL: [TicketChannel; 5] = [
        TicketChannel::Phone,
        TicketChannel::Email,
        TicketChannel::Voicemail,
        TicketChannel::Web,
        TicketChannel::Fax,
    ];

    /// The channel of a wire name; `None` for a name this vocabulary does not know.
    pub fn parse(name: &str) -> Option<TicketChannel> {
        TicketChannel::ALL.into_iter().find(|c| c.as_str() == name)
    }
}

/// Which escalation clock of a Service Request (R-SLA): take in charge, update, resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EscalationClock {
    FirstResponse,
    Update,
    Solution,
}

impl EscalationClock {
    pub const fn as_str(self) -> &'static str {
        match self {
            EscalationClock::FirstResponse => "first_response",
            EscalationClock::Update => "update",
            EscalationClock::Solution => "solution",
        }
    }
}

/// How close a clock is to its due time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EscalationStage {
    DueSoon,
    Overdue,
}

impl EscalationStage {
    pub const fn as_str(self) -> &'static str {
        match self {
            EscalationStage::DueSoon => "due_soon",
            EscalationStage::Overdue => "overdue",
        }
    }
}

/// How the caller was identified in the IVR (R-IVR-3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentifiedBy {
    Pin,
    Ani,
    #[default]
    None,
}

impl IdentifiedBy {
    pub const fn as_str(self) -> &'static str {
        match self {
            IdentifiedBy::Pin => "pin",
            IdentifiedBy::Ani => "ani",
            IdentifiedBy::None => "none",
        }
    }
}

/// One step of the caller's way to the agent, for the screen pop (R-SR-2): typed, so the
/// desktop says it in the agent's language ("Menu: 2 Technical assistance → PIN correct (Maria
/// Rossi) → queued in tecnica") instead of showing the call card's log lines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum JourneyStep {
    /// The service was closed (out of hours, a holiday, a closure).
    Closed { reason: Option<String> },
    /// A menu choice, with the option's words when the menu has them.
    Menu { digit: char, label: Option<String> },
    /// A wrong key, or no key, at a menu.
    MenuRetry { no_input: bool },
    /// Identified by PIN or caller number.
    Identified {
        by: IdentifiedBy,
        customer: Option<String>,
    },
    /// A PIN or a caller number that matched no one.
    NotIdentified { by: IdentifiedBy },
    /// The caller entered a queue.
    Queued { queue: String },
    /// An agent sent the caller to another queue.
    Transferred { queue: String },
    /// The caller was sent to a voicemail box.
    Voicemail { mailbox: String },
}

/// An event on the bus. Serialised with a `type` field as CONTRACT.md's event stream says.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type")]
pub enum Event {
    #[serde(rename = "call.started")]
    CallStarted {
        call_id: String,
        sip_call_id: String,
        caller: Option<String>,
        dialled: Option<String>,
    },
    #[serde(rename = "call.answered")]
    CallAnswered { call_id: String, codec: String },
    #[serde(rename = "call.dtmf")]
    Dtmf { call_id: String, digit: char },
    #[serde(rename = "call.media_changed")]
    MediaChanged {
        call_id: String,
        direction: MediaDirection,
    },
    #[serde(rename = "call.ended")]
    CallEnded {
        call_id: String,
        outcome: Outcome,
        duration_ms: u64,
    },
    /// A step of the IVR (R-TEL-2): the call card's path, live.
    #[serde(rename = "call.ivr")]
    IvrStep { call_id: String, step: String },
    /// The caller entered a queue.
    #[serde(rename = "call.queued")]
    CallQueued {
        call_id: String,
        queue: String,
        area: Option<String>,
    },
    /// The call rings an agent: what the agent's screen pop shows at once (R-SR-2).
    #[serde(rename = "call.offered")]
    CallOffered {
        call_id: String,
        agent: String,
        queue: String,
        channel: TicketChannel,
        caller: Option<String>,
        customer_id: Option<i64>,
        customer_name: Option<String>,
        identified_by: IdentifiedBy,
        area: Option<String>,
        sr_type: Option<String>,
        /// The call card's steps as stored (log lines with their offsets).
        ivr_path: Vec<String>,
        /// The caller's way here, typed, for the screen pop.
        journey: Vec<JourneyStep>,
        waited_ms: u64,
    },
    /// An agent answered: the two legs are bridged.
    #[serde(rename = "call.connected")]
    CallConnected {
        call_id: String,
        agent: String,
        queue: String,
        waited_ms: u64,
        ticket: Option<String>,
    },
    /// A queue's live figures changed.
    #[serde(rename = "queue.changed")]
    QueueChanged {
        queue: String,
        waiting: usize,
        oldest_wait_s: f64,
    },
    /// An agent's state changed (R-ACD-4).
    #[serde(rename = "agent.state")]
    AgentState {
        login: String,
        state: AgentStatus,
        reason: Option<String>,
        registered: bool,
        since: chrono::DateTime<chrono::Utc>,
    },
    /// A Service Request was opened (by a call, a voicemail, the API).
    #[serde(rename = "ticket.created")]
    TicketCreated {
        number: String,
        queue: String,
        channel: TicketChannel,
        call_id: Option<String>,
        owner: Option<String>,
    },
    /// A Service Request's escalation clock became due soon or overdue (announced once per
    /// stage by the escalation sweep; see `crm::EscalationWatch`).
    #[serde(rename = "ticket.escalation")]
    TicketEscalation {
        number: String,
        queue: String,
        clock: EscalationClock,
        stage: EscalationStage,
        due: chrono::DateTime<chrono::Utc>,
    },
}

impl Event {
    /// The wire name of the event (its `type` field).
    pub const fn kind(&self) -> &'static str {
        match self {
            Event::CallStarted { .. } => "call.started",
            Event::CallAnswered { .. } => "call.answered",
            Event::Dtmf { .. } => "call.dtmf",
            Event::MediaChanged { .. } => "call.media_changed",
            Event::CallEnded { .. } => "call.ended",
            Event::IvrStep { .. } => "call.ivr",
            Event::CallQueued { .. } => "call.queued",
            Event::CallOffered { .. } => "call.offered",
            Event::CallConnected { .. } => "call.connected",
            Event::QueueChanged { .. } => "queue.changed",
            Event::AgentState { .. } => "agent.state",
            Event::TicketCreated { .. } => "ticket.created",
            Event::TicketEscalation { .. } => "ticket.escalation",
        }
    }

    /// The call an event is about, when it is about one.
    pub fn call_id(&self) -> Option<&str> {
        match self {
            Event::CallStarted { call_id, .. }
            | Event::CallAnswered { call_id, .. }
            | Event::Dtmf { call_id, .. }
            | Event::MediaChanged { call_id, .. }
            | Event::CallEnded { call_id, .. }
            | Event::IvrStep { call_id, .. }
            | Event::CallQueued { call_id, .. }
            | Event::CallOffered { call_id, .. }
            | Event::CallConnected { call_id, .. } => Some(call_id),
            Event::TicketCreated { call_id, .. } => call_id.as_deref(),
            Event::QueueChanged { .. }
            | Event::AgentState { .. }
            | Event::TicketEscalation { .. } => None,
        }
    }
}

/// The bus: a broadcast channel. Slow subscribers lose the oldest events and are told so by
/// `RecvError::Lagged`; the publisher never waits.
#[derive(Clone)]
pub struct EventBus {
    sender: broadcast::Sender<Event>,
}

impl EventBus {
    pub fn new(capacity: usize) -> Self {
        EventBus {
            sender: broadcast::channel(capacity).0,
        }
    }

    pub fn publish(&self, event: Event) {
        // No subscriber is not an error: events are also in the logs.
        let _ = self.sender.send(event);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.sender.subscribe()
    }
}

impl Default for EventBus {
    fn default() -> Self {
        EventBus::new(4096)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_serialise_with_their_type() {
        let json = serde_json::to_value(Event::Dtmf {
            call_id: "c1".into(),
            digit: '5',
        })
        .unwrap();
        assert_eq!(json["type"], "call.dtmf");
        assert_eq!(json["digit"], "5");
        let json = serde_json::to_value(Event::CallEnded {
            call_id: "c1".into(),
            outcome: Outcome::CallerHangup,
            duration_ms: 1200,
        })
        .unwrap();
        assert_eq!(json["type"], "call.ended");
        assert_eq!(json["outcome"], "caller_hangup");
    }

    #[test]
    fn typed_fields_keep_the_wire_names() {
        let json = serde_json::to_value(Event::MediaChanged {
            call_id: "c1".into(),
            direction: MediaDirection::SendOnly,
        })
        .unwrap();
        assert_eq!(json["direction"], "sendonly");
        let json = serde_json::to_value(Event::TicketEscalation {
            number: "1".into(),
            queue: "q".into(),
            clock: EscalationClock::FirstResponse,
            stage: EscalationStage::DueSoon,
            due: chrono::DateTime::UNIX_EPOCH,
        })
        .unwrap();
        assert_eq!(json["clock"], "first_response");
        assert_eq!(json["stage"], "due_soon");
        for s in AgentStatus::ALL {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        for m in [
            MediaDirection::SendRecv,
            MediaDirection::SendOnly,
            MediaDirection::RecvOnly,
            MediaDirection::Inactive,
        ] {
            assert_eq!(serde_json::to_value(m).unwrap(), m.as_str());
        }
        for c in ["phone", "email", "voicemail", "web", "fax"] {
            let channel = TicketChannel::parse(c).unwrap();
            assert_eq!(serde_json::to_value(channel).unwrap(), c);
        }
        for by in [IdentifiedBy::Pin, IdentifiedBy::Ani, IdentifiedBy::None] {
            assert_eq!(serde_json::to_value(by).unwrap(), by.as_str());
        }
    }

    #[test]
    fn journey_steps_say_what_happened_with_a_step_field() {
        let json = serde_json::to_value(vec![
            JourneyStep::Menu {
                digit: '2',
                label: Some("Assistenza tecnica".into()),
            },
            JourneyStep::Identified {
                by: IdentifiedBy::Pin,
                customer: Some("Maria Rossi".into()),
            },
            JourneyStep::Queued {
                queue: "tecnica".into(),
            },
        ])
        .unwrap();
        assert_eq!(
            json,
            serde_json::json!([
                {"step": "menu", "digit": "2", "label": "Assistenza tecnica"},
                {"step": "identified", "by": "pin", "customer": "Maria Rossi"},
                {"step": "queued", "queue": "tecnica"},
            ])
        );
    }

    #[test]
    fn kinds_match_the_serialised_type() {
        let e = Event::QueueChanged {
            queue: "q".into(),
            waiting: 0,
            oldest_wait_s: 0.0,
        };
        assert_eq!(serde_json::to_value(&e).unwrap()["type"], e.kind());
        assert_eq!(e.call_id(), None);
    }
}
