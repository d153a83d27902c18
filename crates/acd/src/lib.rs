//! Automatic call distribution for centralino: queues, agents and their states, FIFO to the
//! longest-idle agent (R-ACD-1..4).
//!
//! # Run loop
//!
//! [`Acd`] is a sans-IO state machine: it has no networking code, spawns nothing and never reads
//! the clock. The driver (the switchboard) owns it and keeps one invariant: **after every
//! [`Acd::handle`] or [`Acd::handle_timeout`], drain [`Acd::poll_action`] and
//! [`Acd::poll_event`] and re-arm its timer from [`Acd::poll_timeout`].**
//!
//! ```
//! # use std::time::{Duration, Instant};
//! # use acd::{Acd, AcdConfig, AgentConfig, QueueConfig, Input, RequestedState, Action};
//! let start = Instant::now();
//! let config = AcdConfig {
//!     queues: vec![QueueConfig::new("cittadini")],
//!     agents: vec![AgentConfig { static_contact: true, ..AgentConfig::new("1001", &["cittadini"]) }],
//!     ..AcdConfig::default()
//! };
//! let mut acd = Acd::new(config, start)?;
//! acd.handle(Input::SetAgentState { login: "1001".into(), state: RequestedState::Ready }, start)?;
//! acd.handle(Input::CallArrived { call: "c1".into(), queue: "cittadini".into(), at_head: false }, start)?;
//! loop {
//!     while let Some(action) = acd.poll_action() {
//!         // Offer → ring the agent's phone, Announce → play position and wait, …
//!         # assert!(matches!(action, Action::Offer { .. } | Action::CancelOffer { .. }));
//!     }
//!     while let Some(_event) = acd.poll_event() { /* publish on the bus, write the queue log */ }
//!     // Wait for the next input or for the deadline, whichever comes first:
//!     let Some(deadline) = acd.poll_timeout() else { break };
//!     acd.handle_timeout(deadline); // here: nobody answers within the ring timeout
//! }
//! # Ok::<(), acd::AcdError>(())
//! ```
//!
//! # Distribution
//!
//! - Each queue is FIFO by arrival (a per-queue ordered map keyed by an arrival sequence number).
//!   A call whose offer fails (no answer, busy, rejected, agent changed state, caller still there)
//!   goes back under its original key: to the head, ahead of everyone who arrived after it.
//!   Calls arriving `at_head` (and transfers into a queue with `transfers_at_head`) go ahead of
//!   every ordinary caller, FIFO among themselves.
//! - A call that finds available agents (ready *and* registered) goes to the one idle the
//!   longest: idle since the end of their last wrap-up, or since becoming ready.
//! - An agent who frees up takes, among the head calls of the queues they serve, the one with the
//!   largest wait × queue weight.
//! - Ring timeout: the offer is cancelled, the agent goes not ready ("no answer") and the call is
//!   offered to the next agent. A busy, rejecting or unreachable phone does the same with that
//!   reason. After a call the agent is in wrap-up, then ready again.
//! - Between inputs no queue holds both a waiting call and an available agent, so every decision
//!   looks only at one queue's longest-idle agent or one agent's queue heads: O(log n).
//!
//! Waiting callers hear hold music from the driver from the moment they enter until they are
//! connected, leave or overflow; [`Action::Announce`] interrupts it with their position and
//! expected wait: `position × mean gap between the queue's last 20 answers` (or the time since
//! the last answer if longer; the queue's default per position before there are two answers).
//! Service level: answered within the threshold ÷ (answered + abandoned or overflowed after the
//! threshold). See [`QueueStats`].
//!
//! # Blended routing
//!
//! [`Blend`] wraps the engine with off-line work items (e-mail, web, voicemail, fax) and each
//! agent's [`Mode`] (on-line, off-line, blended): calls take precedence, an item goes to a
//! blended agent only when idle with no call waiting for them, never during a call or its
//! wrap-up (R-ACD-5). Its module documentation has the rules and their cost.
//!
//! # Cost
//!
//! Dispatch decisions are O(log n) in calls and agents (measured by `examples/bench_dispatch.rs`).
//! Computing a caller's position (announcements, abandons, head arrivals) walks the callers ahead
//! of them, O(position); live figures walk the queue's agents.

mod blend;
mod blend_types;
mod config;
mod counters;
mod dispatch;
mod engine;
mod reconfigure;
mod stats;
mod stop;
mod timers;
mod types;

pub use blend::{
    Blend, BlendConfig, BlendError, BlendInput, ITEM_REASON, ItemAction, ItemChannel, ItemKey,
    ItemView, Mode, NO_ANSWER_REASON, OFFLINE_REASON,
};
pub use config::{
    AcdConfig, AgentConfig, BlendSection, ConfigProblem, OverflowTarget, QueueConfig,
};
pub use engine::Acd;
pub use stats::{AgentCounts, AgentView, QueueStats};
pub use types::{
    AcdError, AcdEvent, Action, AgentState, CallKey, Input, OfferFailure, RequestedState,
};

#[cfg(test)]
mod blend_tests;
#[cfg(test)]
mod tests;
