//! The one event vocabulary (DESIGN.md): every call change is a typed event on one bus,
//! streamed to consoles and counted by metrics.

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
    MediaChanged { call_id: String, direction: String },
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
        channel: String,
        caller: Option<String>,
        customer_id: Option<i64>,
        customer_name: Option<String>,
        /// `pin`, `ani` or `none`.
        identified_by: String,
        area: Option<String>,
        sr_type: Option<String>,
        ivr_path: Vec<String>,
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
        state: String,
        reason: Option<String>,
        registered: bool,
        since: chrono::DateTime<chrono::Utc>,
    },
    /// A Service Request was opened (by a call, a voicemail, the API).
    #[serde(rename = "ticket.created")]
    TicketCreated {
        number: String,
        queue: String,
        channel: String,
        call_id: Option<String>,
        owner: Option<String>,
    },
    /// A Service Request's escalation clock became due soon or overdue (announced once per
    /// stage by the escalation sweep; see `crm::EscalationWatch`).
    #[serde(rename = "ticket.escalation")]
    TicketEscalation {
        number: String,
        queue: String,
        /// `first_response`, `update` or `solution`.
        clock: String,
        /// `due_soon` or `overdue`.
        stage: String,
        due: chrono::DateTime<chrono::Utc>,
    },
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
}
