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

pub mod live;
mod spill;
pub mod telemetry;

pub use spill::{DEFAULT_MEMORY_LIMIT, RecordLimits, RecordedLog, SpillError};

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, mpsc};

/// How a call ended, as counted in `centralino_calls_total{outcome}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
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
    /// The service stopped under the call: a graceful stop ended it, or start-up recovery
    /// closed what a crash left open. Neither the caller nor the service's flow ended it.
    Interrupted,
}

impl Outcome {
    pub const ALL: [Outcome; 6] = [
        Outcome::CallerHangup,
        Outcome::ServerHangup,
        Outcome::Abandoned,
        Outcome::Rejected,
        Outcome::Failed,
        Outcome::Interrupted,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Outcome::CallerHangup => "caller_hangup",
            Outcome::ServerHangup => "server_hangup",
            Outcome::Abandoned => "abandoned",
            Outcome::Rejected => "rejected",
            Outcome::Failed => "failed",
            Outcome::Interrupted => "interrupted",
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
    /// The service stopped under the call (a graceful stop; start-up recovery after a
    /// crash writes the same on the call record).
    Interrupted,
}

impl CallOutcome {
    pub const fn as_str(self) -> &'static str {
        match self {
            CallOutcome::Answered => "answered",
            CallOutcome::Abandoned => "abandoned",
            CallOutcome::Voicemail => "voicemail",
            CallOutcome::EndedInIvr => "ended_in_ivr",
            CallOutcome::OutOfHours => "out_of_hours",
            CallOutcome::Interrupted => "interrupted",
        }
    }
}

/// The direction a call's media took after a re-INVITE (RFC 3264 §5.1, §8.4), seen from our
/// side: `sendonly` or `inactive` is the peer holding the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
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

/// How an agent works (R-ACD-5): calls only, off-line items only, or both (calls first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AgentMode {
    /// Calls only (the default).
    #[default]
    Online,
    /// Off-line items only (e-mail, web, voicemail, fax); never a call.
    Offline,
    /// Calls first; an item when idle with no call waiting.
    Blended,
}

impl AgentMode {
    pub const ALL: [AgentMode; 3] = [AgentMode::Online, AgentMode::Offline, AgentMode::Blended];

    pub const fn as_str(self) -> &'static str {
        match self {
            AgentMode::Online => "online",
            AgentMode::Offline => "offline",
            AgentMode::Blended => "blended",
        }
    }

    /// The mode of a wire name; `None` for a name this vocabulary does not know.
    pub fn parse(name: &str) -> Option<AgentMode> {
        AgentMode::ALL.into_iter().find(|m| m.as_str() == name)
    }
}

/// A part of the service whose availability the contract measures (issue 15).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Component {
    /// Automatic call distribution: the ACD's actor answers.
    Acd,
    /// Computer-telephony integration: the HTTP API answers its own `/health` and the event
    /// stream's bus carries events.
    Cti,
    /// The IVR: the call side takes calls and the media engine runs.
    Ivr,
}

impl Component {
    pub const ALL: [Component; 3] = [Component::Acd, Component::Cti, Component::Ivr];

    pub const fn as_str(self) -> &'static str {
        match self {
            Component::Acd => "acd",
            Component::Cti => "cti",
            Component::Ivr => "ivr",
        }
    }
}

/// The channel a Service Request came in by (R-SR-1, R-ACD-5); the CRM's `Channel` by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
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

/// What an agent's notification is about (R-SR-9): each agent opts in to the kinds they want,
/// for the queues they follow (and the tickets they own).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    /// A new Service Request in a followed queue.
    Created,
    /// The citizen wrote again (an e-mail, the web form, a voicemail, a fax on the ticket).
    CustomerUpdate,
    /// A pending reminder came due.
    Reminder,
    /// An operator added a note.
    Note,
    /// The ticket was moved into a followed queue.
    QueueMove,
}

impl NoticeKind {
    /// Every kind, in this order on the wire and in the preferences.
    pub const ALL: [NoticeKind; 5] = [
        NoticeKind::Created,
        NoticeKind::CustomerUpdate,
        NoticeKind::Reminder,
        NoticeKind::Note,
        NoticeKind::QueueMove,
    ];

    /// The wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            NoticeKind::Created => "created",
            NoticeKind::CustomerUpdate => "customer_update",
            NoticeKind::Reminder => "reminder",
            NoticeKind::Note => "note",
            NoticeKind::QueueMove => "queue_move",
        }
    }

    /// The kind of a wire name; `None` for a name this vocabulary does not know.
    pub fn parse(name: &str) -> Option<NoticeKind> {
        NoticeKind::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

/// Which escalation clock of a Service Request (R-SLA): take in charge, update, resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
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

/// What a change to a Service Request touched (`ticket.updated`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TicketField {
    State,
    /// Locked or unlocked (`old`/`new`: `true`/`false`).
    Lock,
    Owner,
    Responsible,
    Queue,
    Priority,
    Type,
    /// The reminder time of a pending ticket.
    PendingUntil,
    /// The parent ticket (link).
    Parent,
    /// Merged into another ticket.
    MergedInto,
    /// An article was added (`new`: its kind).
    Article,
}

/// One change of a `ticket.updated`: the field, and its value before and after (by name:
/// logins, queue names, ticket numbers; `null` when empty).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
pub struct TicketChange {
    pub field: TicketField,
    pub old: Option<String>,
    pub new: Option<String>,
}

/// What `call.dtmf` carries instead of a key that may be part of a PIN: not a DTMF key
/// (`0-9`, `*`, `#`, `A-D`), so a masked key is never mistaken for a pressed one.
pub const MASKED_DIGIT: char = 'x';

/// The caller as agent-facing events show a caller whose trusted trunk asked that the
/// identity be withheld (RFC 3323 `Privacy: id`), and a caller with no number at all: the
/// user part of RFC 3323's anonymous URI.
pub const ANONYMOUS_CALLER: &str = "anonymous";

/// The call card's step written at the start of a call whose caller withheld the number: the
/// card keeps the number for the administration, and the API shows it only to those who may
/// read every call (agents read [`ANONYMOUS_CALLER`] on their own calls' cards).
pub const WITHHELD_STEP: &str = "privacy: the caller's number is withheld";

/// An event on the bus. Serialised with a `type` field as CONTRACT.md's event stream says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(tag = "type")]
pub enum Event {
    #[serde(rename = "call.started")]
    CallStarted {
        call_id: String,
        sip_call_id: String,
        /// The caller's number; [`ANONYMOUS_CALLER`] when a trusted trunk asked that it be
        /// withheld (the call card keeps it for the administration).
        caller: Option<String>,
        dialled: Option<String>,
    },
    #[serde(rename = "call.answered")]
    CallAnswered { call_id: String, codec: String },
    /// A key the caller pressed. `digit` is the key in menus and [`MASKED_DIGIT`] for every
    /// key that may be part of a PIN (the identify node, keys typed ahead into it), so the
    /// stream never carries a citizen's PIN.
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
    /// A call refused at the trunk before it became a call (no `call_id`, no `call.started`):
    /// over `sip.max_calls` (`reason` `capacity`), or while shutting down (`shutdown`). A
    /// contact that found no free line, for SLA.C.1. Calls from outside `sip.allow_from` are
    /// not contacts and never appear.
    #[serde(rename = "call.refused")]
    CallRefused {
        /// What the caller claims (the From user), as in `call.started`.
        caller: Option<String>,
        /// The dialled number.
        called: Option<String>,
        reason: String,
        at: DateTime<Utc>,
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
        /// The caller's number; [`ANONYMOUS_CALLER`] when a trusted trunk asked that it be
        /// withheld (the customer is still identified by it).
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
    /// A Service Request was opened (by a call, a voicemail, the API). `by`: the operator
    /// who opened it through the API (absent for calls, voicemail, e-mail and the web form,
    /// and in events logged before it existed).
    #[serde(rename = "ticket.created")]
    TicketCreated {
        number: String,
        queue: String,
        channel: TicketChannel,
        call_id: Option<String>,
        owner: Option<String>,
        #[serde(default)]
        by: Option<String>,
    },
    /// A Service Request changed (through the API): what changed, by whom; `queue` and
    /// `owner` are the ticket's after the change.
    #[serde(rename = "ticket.updated")]
    TicketUpdated {
        number: String,
        queue: String,
        owner: Option<String>,
        by: Option<String>,
        changes: Vec<TicketChange>,
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
    /// A Service Request's pending-reminder time came (announced once per pending time by
    /// the e-mail desk's sweep, `mail::desk`): the owner's desktop reminds them.
    #[serde(rename = "ticket.reminder")]
    TicketReminder {
        number: String,
        queue: String,
        owner: Option<String>,
        due: chrono::DateTime<chrono::Utc>,
    },
    /// A notification for one agent (R-SR-9), made from a ticket event by the notifier
    /// (`console::notify`) for an agent who opted in to its kind and follows its queue or
    /// owns the ticket; `link` opens the ticket on the desktop.
    #[serde(rename = "agent.notification")]
    AgentNotification {
        login: String,
        kind: NoticeKind,
        number: String,
        title: String,
        queue: String,
        by: Option<String>,
        link: String,
    },
    /// The caller entered a queue of the ACD at `position` (1 = next in line).
    #[serde(rename = "queue.entered")]
    QueueEntered {
        call_id: String,
        queue: String,
        position: usize,
        at: DateTime<Utc>,
    },
    /// The ACD offers the call to (rings) an agent.
    #[serde(rename = "queue.offered")]
    QueueOffered {
        call_id: String,
        queue: String,
        agent: String,
        at: DateTime<Utc>,
    },
    /// The agent answered after the caller waited `wait_ms` in the queue; `within_service_level`
    /// when that wait is within the queue's service-level threshold.
    #[serde(rename = "queue.connected")]
    QueueConnected {
        call_id: String,
        queue: String,
        agent: String,
        wait_ms: u64,
        within_service_level: bool,
        at: DateTime<Utc>,
    },
    /// The agent let the phone ring until the ring timeout; the call went back to its place.
    #[serde(rename = "queue.ring_no_answer")]
    QueueRingNoAnswer {
        call_id: String,
        queue: String,
        agent: String,
        rang_ms: u64,
        at: DateTime<Utc>,
    },
    /// The offer failed for another reason (busy, declined, unreachable, withdrawn); the call
    /// went back to its place.
    #[serde(rename = "queue.rejected")]
    QueueRejected {
        call_id: String,
        queue: String,
        agent: String,
        reason: String,
        at: DateTime<Utc>,
    },
    /// The caller hung up while waiting or ringing, at `position`, after `wait_ms`.
    #[serde(rename = "queue.abandoned")]
    QueueAbandoned {
        call_id: String,
        queue: String,
        position: usize,
        wait_ms: u64,
        within_service_level: bool,
        at: DateTime<Utc>,
    },
    /// The call left the queue while waiting or ringing, at `position`, after `wait_ms`, for
    /// a reason that is neither the caller's nor the queue's: `reason` `interrupted` (the
    /// service stopped under it). Not an abandon: live counters and the queue log do not
    /// count it as one.
    #[serde(rename = "queue.left")]
    QueueLeft {
        call_id: String,
        queue: String,
        position: usize,
        wait_ms: u64,
        within_service_level: bool,
        reason: String,
        at: DateTime<Utc>,
    },
    /// The conversation ended after `talk_ms`.
    #[serde(rename = "queue.completed")]
    QueueCompleted {
        call_id: String,
        queue: String,
        agent: String,
        talk_ms: u64,
        at: DateTime<Utc>,
    },
    /// The agent transferred the call to queue `to` (R-ACD-6).
    #[serde(rename = "queue.transferred")]
    QueueTransferred {
        call_id: String,
        queue: String,
        agent: String,
        to: String,
        at: DateTime<Utc>,
    },
    /// The call waited the queue's maximum and left for `to` (a queue name or
    /// `voicemail:<box>`).
    #[serde(rename = "queue.overflowed")]
    QueueOverflowed {
        call_id: String,
        queue: String,
        wait_ms: u64,
        within_service_level: bool,
        to: String,
        at: DateTime<Utc>,
    },
    /// An agent's mode changed (R-ACD-5): on-line, off-line or blended.
    #[serde(rename = "agent.mode")]
    AgentModeChanged {
        login: String,
        mode: AgentMode,
        at: DateTime<Utc>,
    },
    /// A written-channel Service Request (e-mail, web, voicemail, fax) became an item
    /// waiting in `queue` for an agent (blended routing, R-ACD-5).
    #[serde(rename = "item.queued")]
    ItemQueued {
        number: String,
        queue: String,
        channel: TicketChannel,
        at: DateTime<Utc>,
    },
    /// The ACD offers the item to `agent`: what the desktop pops (subject and customer as
    /// the ticket has them).
    #[serde(rename = "item.offered")]
    ItemOffered {
        number: String,
        queue: String,
        channel: TicketChannel,
        agent: String,
        subject: Option<String>,
        customer: Option<String>,
        at: DateTime<Utc>,
    },
    /// The agent accepted the offered item (and took the ticket).
    #[serde(rename = "item.accepted")]
    ItemAccepted {
        number: String,
        queue: String,
        agent: String,
        at: DateTime<Utc>,
    },
    /// The offer ended without an accept: `reason` `declined` (the agent said no),
    /// `no_answer` (the offer timed out) or `withdrawn` (the item left the ACD). The item
    /// waits again in its place unless it was withdrawn.
    #[serde(rename = "item.declined")]
    ItemDeclined {
        number: String,
        queue: String,
        agent: String,
        reason: String,
        at: DateTime<Utc>,
    },
    /// The item left the ACD: `reason` `done` (its agent finished it), `taken` (someone
    /// took the ticket), `closed` (closed, pending or merged), `moved` (to another queue,
    /// where it is queued again) or `queue_removed` (its queue no longer takes calls; the
    /// ticket stays in the CRM). `agent`: who held it, if anyone.
    #[serde(rename = "item.done")]
    ItemDone {
        number: String,
        queue: String,
        agent: Option<String>,
        reason: String,
        at: DateTime<Utc>,
    },
    /// The process started (after its event log was read back).
    #[serde(rename = "system.started")]
    SystemStarted { version: String, at: DateTime<Utc> },
    /// The process was asked to stop; calls in progress are being ended.
    #[serde(rename = "system.stopping")]
    SystemStopping { at: DateTime<Utc> },
    /// The process is alive (every `[availability] heartbeat_s`): a run that ends without
    /// `system.stopping` (a crash) was up until its last heartbeat.
    #[serde(rename = "system.heartbeat")]
    SystemHeartbeat { at: DateTime<Utc> },
    /// A component's health probe changed its answer: `up` false from `at` until the next
    /// `up` true (or the process's stop), with why.
    #[serde(rename = "component.state")]
    ComponentState {
        component: Component,
        up: bool,
        reason: String,
        at: DateTime<Utc>,
    },
    /// An administrator changed the site's people or queues (a user, a queue, a membership,
    /// a phone, a permission): the running service applies the database's new state.
    #[serde(rename = "site.changed")]
    SiteChanged {
        /// What changed, e.g. `queue:tecnica`, `user:1001`.
        subject: String,
        /// Who changed it (a login).
        by: String,
        at: DateTime<Utc>,
    },
}

impl Event {
    /// Every wire name, in declaration order.
    pub const KINDS: [&'static str; 38] = [
        "call.started",
        "call.answered",
        "call.dtmf",
        "call.media_changed",
        "call.ended",
        "call.refused",
        "call.ivr",
        "call.queued",
        "call.offered",
        "call.connected",
        "queue.changed",
        "agent.state",
        "ticket.created",
        "ticket.updated",
        "ticket.escalation",
        "ticket.reminder",
        "agent.notification",
        "queue.entered",
        "queue.offered",
        "queue.connected",
        "queue.ring_no_answer",
        "queue.rejected",
        "queue.abandoned",
        "queue.left",
        "queue.completed",
        "queue.transferred",
        "queue.overflowed",
        "agent.mode",
        "item.queued",
        "item.offered",
        "item.accepted",
        "item.declined",
        "item.done",
        "system.started",
        "system.stopping",
        "system.heartbeat",
        "component.state",
        "site.changed",
    ];

    /// The wire name of the event (its `type` field).
    pub const fn kind(&self) -> &'static str {
        match self {
            Event::CallStarted { .. } => "call.started",
            Event::CallAnswered { .. } => "call.answered",
            Event::Dtmf { .. } => "call.dtmf",
            Event::MediaChanged { .. } => "call.media_changed",
            Event::CallEnded { .. } => "call.ended",
            Event::CallRefused { .. } => "call.refused",
            Event::IvrStep { .. } => "call.ivr",
            Event::CallQueued { .. } => "call.queued",
            Event::CallOffered { .. } => "call.offered",
            Event::CallConnected { .. } => "call.connected",
            Event::QueueChanged { .. } => "queue.changed",
            Event::AgentState { .. } => "agent.state",
            Event::TicketCreated { .. } => "ticket.created",
            Event::TicketUpdated { .. } => "ticket.updated",
            Event::TicketEscalation { .. } => "ticket.escalation",
            Event::TicketReminder { .. } => "ticket.reminder",
            Event::AgentNotification { .. } => "agent.notification",
            Event::QueueEntered { .. } => "queue.entered",
            Event::QueueOffered { .. } => "queue.offered",
            Event::QueueConnected { .. } => "queue.connected",
            Event::QueueRingNoAnswer { .. } => "queue.ring_no_answer",
            Event::QueueRejected { .. } => "queue.rejected",
            Event::QueueAbandoned { .. } => "queue.abandoned",
            Event::QueueLeft { .. } => "queue.left",
            Event::QueueCompleted { .. } => "queue.completed",
            Event::QueueTransferred { .. } => "queue.transferred",
            Event::QueueOverflowed { .. } => "queue.overflowed",
            Event::AgentModeChanged { .. } => "agent.mode",
            Event::ItemQueued { .. } => "item.queued",
            Event::ItemOffered { .. } => "item.offered",
            Event::ItemAccepted { .. } => "item.accepted",
            Event::ItemDeclined { .. } => "item.declined",
            Event::ItemDone { .. } => "item.done",
            Event::SystemStarted { .. } => "system.started",
            Event::SystemStopping { .. } => "system.stopping",
            Event::SystemHeartbeat { .. } => "system.heartbeat",
            Event::ComponentState { .. } => "component.state",
            Event::SiteChanged { .. } => "site.changed",
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
            | Event::CallConnected { call_id, .. }
            | Event::QueueEntered { call_id, .. }
            | Event::QueueOffered { call_id, .. }
            | Event::QueueConnected { call_id, .. }
            | Event::QueueRingNoAnswer { call_id, .. }
            | Event::QueueRejected { call_id, .. }
            | Event::QueueAbandoned { call_id, .. }
            | Event::QueueLeft { call_id, .. }
            | Event::QueueCompleted { call_id, .. }
            | Event::QueueTransferred { call_id, .. }
            | Event::QueueOverflowed { call_id, .. } => Some(call_id),
            Event::TicketCreated { call_id, .. } => call_id.as_deref(),
            Event::QueueChanged { .. }
            | Event::CallRefused { .. }
            | Event::AgentState { .. }
            | Event::TicketUpdated { .. }
            | Event::TicketEscalation { .. }
            | Event::TicketReminder { .. }
            | Event::AgentNotification { .. }
            | Event::SystemStarted { .. }
            | Event::SystemStopping { .. }
            | Event::SystemHeartbeat { .. }
            | Event::ComponentState { .. }
            | Event::SiteChanged { .. }
            | Event::AgentModeChanged { .. }
            | Event::ItemQueued { .. }
            | Event::ItemOffered { .. }
            | Event::ItemAccepted { .. }
            | Event::ItemDeclined { .. }
            | Event::ItemDone { .. } => None,
        }
    }

    /// When it happened, for the events that say so (queue and system events, an agent's
    /// state change); the others happen when they are published.
    pub fn at(&self) -> Option<DateTime<Utc>> {
        match self {
            Event::CallRefused { at, .. }
            | Event::QueueEntered { at, .. }
            | Event::QueueOffered { at, .. }
            | Event::QueueConnected { at, .. }
            | Event::QueueRingNoAnswer { at, .. }
            | Event::QueueRejected { at, .. }
            | Event::QueueAbandoned { at, .. }
            | Event::QueueLeft { at, .. }
            | Event::QueueCompleted { at, .. }
            | Event::QueueTransferred { at, .. }
            | Event::QueueOverflowed { at, .. }
            | Event::AgentModeChanged { at, .. }
            | Event::ItemQueued { at, .. }
            | Event::ItemOffered { at, .. }
            | Event::ItemAccepted { at, .. }
            | Event::ItemDeclined { at, .. }
            | Event::ItemDone { at, .. }
            | Event::SystemStarted { at, .. }
            | Event::SystemStopping { at }
            | Event::SystemHeartbeat { at }
            | Event::ComponentState { at, .. }
            | Event::SiteChanged { at, .. } => Some(*at),
            _ => None,
        }
    }

    /// One event of every kind, in [`Event::KINDS`] order: for tests and documentation
    /// checks that must cover the whole vocabulary.
    pub fn examples() -> Vec<Event> {
        let at = DateTime::<Utc>::UNIX_EPOCH;
        let (c, q, a) = (|| "c1".to_string(), || "q".to_string(), || "a1".to_string());
        vec![
            Event::CallStarted {
                call_id: c(),
                sip_call_id: "s".into(),
                caller: None,
                dialled: None,
            },
            Event::CallAnswered {
                call_id: c(),
                codec: "PCMA".into(),
            },
            Event::Dtmf {
                call_id: c(),
                digit: '1',
            },
            Event::MediaChanged {
                call_id: c(),
                direction: MediaDirection::SendOnly,
            },
            Event::CallEnded {
                call_id: c(),
                outcome: Outcome::CallerHangup,
                duration_ms: 1,
            },
            Event::CallRefused {
                caller: Some("0600000001".into()),
                called: Some("800100200".into()),
                reason: "capacity".into(),
                at,
            },
            Event::IvrStep {
                call_id: c(),
                step: "menu:1".into(),
            },
            Event::CallQueued {
                call_id: c(),
                queue: q(),
                area: None,
            },
            Event::CallOffered {
                call_id: c(),
                agent: a(),
                queue: q(),
                channel: TicketChannel::Phone,
                caller: None,
                customer_id: None,
                customer_name: None,
                identified_by: IdentifiedBy::None,
                area: None,
                sr_type: None,
                ivr_path: vec![],
                journey: vec![
                    JourneyStep::Menu {
                        digit: '1',
                        label: Some("Servizi al cittadino".into()),
                    },
                    JourneyStep::Queued { queue: q() },
                ],
                waited_ms: 1,
            },
            Event::CallConnected {
                call_id: c(),
                agent: a(),
                queue: q(),
                waited_ms: 1,
                ticket: None,
            },
            Event::QueueChanged {
                queue: q(),
                waiting: 1,
                oldest_wait_s: 1.5,
            },
            Event::AgentState {
                login: a(),
                state: AgentStatus::Ready,
                reason: None,
                registered: true,
                since: at,
            },
            Event::TicketCreated {
                number: "1".into(),
                queue: q(),
                channel: TicketChannel::Web,
                call_id: None,
                owner: None,
                by: None,
            },
            Event::TicketUpdated {
                number: "1".into(),
                queue: q(),
                owner: Some(a()),
                by: Some(a()),
                changes: vec![TicketChange {
                    field: TicketField::State,
                    old: Some("new".into()),
                    new: Some("open".into()),
                }],
            },
            Event::TicketEscalation {
                number: "1".into(),
                queue: q(),
                clock: EscalationClock::Update,
                stage: EscalationStage::Overdue,
                due: at,
            },
            Event::TicketReminder {
                number: "1".into(),
                queue: q(),
                owner: Some(a()),
                due: at,
            },
            Event::AgentNotification {
                login: a(),
                kind: NoticeKind::Created,
                number: "1".into(),
                title: "Buca in via Roma".into(),
                queue: q(),
                by: None,
                link: "/desktop#ticket=1".into(),
            },
            Event::QueueEntered {
                call_id: c(),
                queue: q(),
                position: 1,
                at,
            },
            Event::QueueOffered {
                call_id: c(),
                queue: q(),
                agent: a(),
                at,
            },
            Event::QueueConnected {
                call_id: c(),
                queue: q(),
                agent: a(),
                wait_ms: 1,
                within_service_level: true,
                at,
            },
            Event::QueueRingNoAnswer {
                call_id: c(),
                queue: q(),
                agent: a(),
                rang_ms: 1,
                at,
            },
            Event::QueueRejected {
                call_id: c(),
                queue: q(),
                agent: a(),
                reason: "busy".into(),
                at,
            },
            Event::QueueAbandoned {
                call_id: c(),
                queue: q(),
                position: 1,
                wait_ms: 1,
                within_service_level: true,
                at,
            },
            Event::QueueLeft {
                call_id: c(),
                queue: q(),
                position: 1,
                wait_ms: 1,
                within_service_level: true,
                reason: "interrupted".into(),
                at,
            },
            Event::QueueCompleted {
                call_id: c(),
                queue: q(),
                agent: a(),
                talk_ms: 1,
                at,
            },
            Event::QueueTransferred {
                call_id: c(),
                queue: q(),
                agent: a(),
                to: "q2".into(),
                at,
            },
            Event::QueueOverflowed {
                call_id: c(),
                queue: q(),
                wait_ms: 1,
                within_service_level: false,
                to: "voicemail:1".into(),
                at,
            },
            Event::AgentModeChanged {
                login: a(),
                mode: AgentMode::Blended,
                at,
            },
            Event::ItemQueued {
                number: "1".into(),
                queue: q(),
                channel: TicketChannel::Email,
                at,
            },
            Event::ItemOffered {
                number: "1".into(),
                queue: q(),
                channel: TicketChannel::Email,
                agent: a(),
                subject: Some("Certificato di residenza".into()),
                customer: Some("Maria Rossi".into()),
                at,
            },
            Event::ItemAccepted {
                number: "1".into(),
                queue: q(),
                agent: a(),
                at,
            },
            Event::ItemDeclined {
                number: "1".into(),
                queue: q(),
                agent: a(),
                reason: "declined".into(),
                at,
            },
            Event::ItemDone {
                number: "1".into(),
                queue: q(),
                agent: Some(a()),
                reason: "done".into(),
                at,
            },
            Event::SystemStarted {
                version: "0".into(),
                at,
            },
            Event::SystemStopping { at },
            Event::SystemHeartbeat { at },
            Event::ComponentState {
                component: Component::Acd,
                up: false,
                reason: "no answer in 2 s".into(),
                at,
            },
            Event::SiteChanged {
                subject: "queue:tecnica".into(),
                by: "admin".into(),
                at,
            },
        ]
    }

    /// The queue an event is about, when it names one.
    pub fn queue(&self) -> Option<&str> {
        match self {
            Event::CallQueued { queue, .. }
            | Event::CallOffered { queue, .. }
            | Event::CallConnected { queue, .. }
            | Event::QueueChanged { queue, .. }
            | Event::TicketCreated { queue, .. }
            | Event::TicketUpdated { queue, .. }
            | Event::TicketEscalation { queue, .. }
            | Event::TicketReminder { queue, .. }
            | Event::AgentNotification { queue, .. }
            | Event::QueueEntered { queue, .. }
            | Event::QueueOffered { queue, .. }
            | Event::QueueConnected { queue, .. }
            | Event::QueueRingNoAnswer { queue, .. }
            | Event::QueueRejected { queue, .. }
            | Event::QueueAbandoned { queue, .. }
            | Event::QueueLeft { queue, .. }
            | Event::QueueCompleted { queue, .. }
            | Event::QueueTransferred { queue, .. }
            | Event::QueueOverflowed { queue, .. }
            | Event::ItemQueued { queue, .. }
            | Event::ItemOffered { queue, .. }
            | Event::ItemAccepted { queue, .. }
            | Event::ItemDeclined { queue, .. }
            | Event::ItemDone { queue, .. } => Some(queue),
            _ => None,
        }
    }
}

/// Where the bus reads the time it stamps on recorded events: the system clock in
/// production, a settable one in tests.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// An event as the recorder hands it on: its place in this process's publication order
/// (from 1) and when it was published.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recorded {
    pub seq: u64,
    pub at: DateTime<Utc>,
    pub event: Event,
}

/// The lossless side of a recorded bus.
struct Recorder {
    clock: Clock,
    /// The last sequence number given; held while both channels are sent to, so the log and
    /// the live stream see the same order.
    seq: Mutex<u64>,
    /// Bounded: past it, events go to `spill` (see the `spill` module).
    log: mpsc::Sender<Recorded>,
    spill: Arc<spill::Spill>,
}

/// The bus. Two ways out:
/// - the **live** side, a broadcast channel: WebSocket streams and other best-effort readers
///   subscribe; a reader too slow loses the oldest events and is told so by
///   `RecvError::Lagged` (the event stream then resyncs from a snapshot). The publisher never
///   waits.
/// - the **recorded** side ([`EventBus::recorded_with`]): one channel to the one writer of
///   the event log, which misses nothing; everything derived from events that must be exact
///   (event log, queue log, counters, metrics) reads it (docs/DECISIONS.md, 2026-12-02). It
///   holds [`RecordLimits::memory`] events; past that publishers append to a spill file the
///   writer reads first ([`RecordedLog`]): bounded memory, no wait, no loss.
#[derive(Clone)]
pub struct EventBus {
    sender: broadcast::Sender<Event>,
    recorder: Option<Arc<Recorder>>,
}

impl EventBus {
    /// A bus with a live side only (tests, tools): nothing is recorded.
    pub fn new(capacity: usize) -> Self {
        EventBus {
            sender: broadcast::channel(capacity).0,
            recorder: None,
        }
    }

    /// A bus whose every event is also handed, stamped by `clock` and numbered, to the
    /// returned log (the event log's writer), in publication order: [`DEFAULT_MEMORY_LIMIT`]
    /// events in memory, the rest in a spill file of the temporary directory (tests, tools;
    /// the service names its own with [`EventBus::recorded_with`]).
    pub fn recorded(capacity: usize, clock: Clock) -> (EventBus, RecordedLog) {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let spill = std::env::temp_dir().join(format!(
            "centralino-events-{}-{n}.spill",
            std::process::id()
        ));
        let limits = RecordLimits {
            memory: DEFAULT_MEMORY_LIMIT,
            spill,
        };
        Self::recorded_with(capacity, clock, limits).expect("the temporary directory is writable")
    }

    /// [`EventBus::recorded`] with the recorded side bounded by `limits`: at most
    /// `limits.memory` events wait in memory, later ones in the file `limits.spill` until the
    /// writer has read it. A spill file a previous run left non-empty is kept beside it.
    pub fn recorded_with(
        capacity: usize,
        clock: Clock,
        limits: RecordLimits,
    ) -> Result<(EventBus, RecordedLog), SpillError> {
        if limits.memory == 0 {
            return Err(SpillError::ZeroLimit);
        }
        let spill = Arc::new(spill::Spill::new(limits.spill)?);
        let (log, rx) = mpsc::channel(limits.memory);
        let bus = EventBus {
            sender: broadcast::channel(capacity).0,
            recorder: Some(Arc::new(Recorder {
                clock,
                seq: Mutex::new(0),
                log,
                spill: spill.clone(),
            })),
        };
        Ok((bus, RecordedLog::new(rx, spill)))
    }

    /// Events ever written to the spill file because the writer was behind by the memory
    /// limit (`centralino_events_spilled_total`); 0 when not recorded.
    pub fn spilled_total(&self) -> u64 {
        self.recorder
            .as_ref()
            .map_or(0, |r| r.spill.spilled_total())
    }

    /// Events published and not yet taken by the event log's writer, in memory and spilled
    /// (`centralino_events_backlog`); 0 when not recorded.
    pub fn record_backlog(&self) -> u64 {
        self.recorder.as_ref().map_or(0, |r| {
            let in_memory = r.log.max_capacity() - r.log.capacity();
            in_memory as u64 + r.spill.pending()
        })
    }

    pub fn publish(&self, event: Event) {
        let Some(recorder) = &self.recorder else {
            // No subscriber is not an error: events are also in the logs.
            let _ = self.sender.send(event);
            return;
        };
        let mut seq = recorder.seq.lock().unwrap_or_else(|p| p.into_inner());
        *seq += 1;
        let recorded = Recorded {
            seq: *seq,
            at: (recorder.clock)(),
            event: event.clone(),
        };
        // Memory or spill, in order, never waiting (a closed log means the process is
        // stopping; the live side still gets it).
        recorder.spill.send(&recorder.log, recorded);
        let _ = self.sender.send(event);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.sender.subscribe()
    }

    /// The sequence number of the last event recorded (0: none yet, or not recorded).
    pub fn last_seq(&self) -> u64 {
        self.recorder
            .as_ref()
            .map_or(0, |r| *r.seq.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Whether this bus records its events.
    pub fn is_recorded(&self) -> bool {
        self.recorder.is_some()
    }
}

impl std::fmt::Debug for EventBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventBus")
            .field("recorded", &self.is_recorded())
            .field("subscribers", &self.sender.receiver_count())
            .finish()
    }
}

impl Default for EventBus {
    fn default() -> Self {
        EventBus::new(DEFAULT_CAPACITY)
    }
}

/// Events the live side holds for its slowest reader.
pub const DEFAULT_CAPACITY: usize = 4096;

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

    #[test]
    fn every_kind_round_trips_through_json() {
        let examples = Event::examples();
        let kinds: Vec<&str> = examples.iter().map(Event::kind).collect();
        assert_eq!(kinds, Event::KINDS);
        for e in examples {
            let json = serde_json::to_value(&e).unwrap();
            assert_eq!(json["type"], e.kind());
            let back: Event = serde_json::from_value(json).unwrap();
            assert_eq!(back, e);
        }
    }

    #[tokio::test]
    async fn a_recorded_bus_hands_every_event_on_in_order() {
        let at = DateTime::<Utc>::UNIX_EPOCH;
        let (bus, mut log) = EventBus::recorded(1, Arc::new(move || at));
        let mut live = bus.subscribe();
        for e in Event::examples() {
            bus.publish(e);
        }
        // The live side kept one event (capacity 1) and says how many it lost …
        let lost = Event::KINDS.len() as u64 - 1;
        assert!(matches!(
            live.recv().await,
            Err(broadcast::error::RecvError::Lagged(n)) if n == lost
        ));
        // … the recorded side lost none.
        for (i, e) in Event::examples().into_iter().enumerate() {
            let r = log.recv().await.unwrap();
            assert_eq!((r.seq, r.at, r.event), (i as u64 + 1, at, e));
        }
        assert!(log.try_recv().is_none());
    }
}
