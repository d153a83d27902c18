//! The event vocabulary lives in the `events` crate (the bottom floor every crate can speak);
//! the switchboard publishes it.

pub use events::{
    AgentStatus, EscalationClock, EscalationStage, Event, EventBus, IdentifiedBy, MediaDirection,
    Outcome, TicketChannel,
};

/// The event stream's name of an ACD agent state.
pub fn status(s: acd::AgentState) -> AgentStatus {
    match s {
        acd::AgentState::LoggedOut => AgentStatus::LoggedOut,
        acd::AgentState::Ready => AgentStatus::Ready,
        acd::AgentState::Ringing => AgentStatus::Ringing,
        acd::AgentState::Talking => AgentStatus::Talking,
        acd::AgentState::WrapUp => AgentStatus::WrapUp,
        acd::AgentState::NotReady => AgentStatus::NotReady,
    }
}
