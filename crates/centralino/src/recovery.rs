//! Start-up recovery: what a previous run that stopped without its orderly shutdown (a
//! crash, `kill -9`, a power cut) left half done. Run by `serve` after the database opens and
//! before any call of this run:
//!
//! 1. the call journal is replayed, so writes journaled before the crash land first (a call's
//!    journaled end wins over step 2);
//! 2. every call record still open is closed with the outcome `interrupted`, its end the last
//!    time anything is known of the call (its latest event or queue log row, else its start;
//!    [`crm::Store::close_interrupted_calls`]);
//! 3. agents whose last `agent.state` in the event log is not `logged_out` (the ACD of this
//!    run starts with every agent logged out) are logged out in the log, so the event stream
//!    and the figures read from the log agree with the ACD.
//!
//! Steps 2 and 3 are announced on the bus once the event log's writer runs ([`announce`]):
//! `call.ended` (outcome `interrupted`, as the call record says) for each call closed and
//! `agent.state` `logged_out` (reason `restart`) for each agent. The voicemail recording a
//! crash cut is the voicemail crate's (`Voicemail::recover`: repaired, filed once).
//!
//! When the database is away at start nothing is closed (it cannot be read); the calls stay
//! open until a start that finds it, and the log says so.

use chrono::{DateTime, Utc};
use crm::{InterruptedCall, JournaledStore};
use events::{AgentStatus, Event, EventBus, Outcome};
use tracing::{info, warn};

/// How many of the latest `agent.state` events are read to find each agent's last state.
const AGENT_EVENTS_READ: u32 = 20_000;

/// What a previous run left and start-up closed.
#[derive(Debug, Default)]
pub struct Recovered {
    /// Call records closed `interrupted`.
    pub calls: Vec<InterruptedCall>,
    /// Agents the log still showed signed in.
    pub agents: Vec<String>,
}

/// Steps 1–3 of the module docs. Never fails the start: what cannot be done is logged.
pub async fn recover(journal: &JournaledStore) -> Recovered {
    let mut done = Recovered::default();
    match journal.replay().await {
        Ok(r) if r.pending > 0 => {
            warn!(
                pending = r.pending,
                "database away at start: calls a crash left open are closed at a later start"
            );
            return done;
        }
        Ok(r) if r.applied > 0 || r.rejected > 0 => {
            info!(
                applied = r.applied,
                rejected = r.rejected,
                "call journal replayed at start"
            );
        }
        Ok(_) => {}
        Err(e) => {
            warn!(error = %e, "call journal not replayed at start");
            return done;
        }
    }
    let store = journal.store();
    match store.close_interrupted_calls().await {
        Ok(calls) => {
            for c in &calls {
                warn!(call_id = %c.call_id, ended = %c.ended,
                    "call interrupted by the previous run's stop: closed");
            }
            done.calls = calls;
        }
        Err(e) => warn!(error = %e, "cannot close the calls the previous run left open"),
    }
    match store
        .latest_events_of_kind("agent.state", AGENT_EVENTS_READ)
        .await
    {
        Ok(bodies) => done.agents = signed_in(&bodies),
        Err(e) => warn!(error = %e, "cannot read the agents' last states"),
    }
    if !done.agents.is_empty() {
        warn!(agents = ?done.agents, "agents signed in when the previous run stopped: logged out");
    }
    done
}

/// The logins whose latest `agent.state` (bodies newest first) is not `logged_out`.
fn signed_in(bodies_newest_first: &[String]) -> Vec<String> {
    let mut seen = std::collections::BTreeMap::new();
    for body in bodies_newest_first {
        if let Ok(Event::AgentState { login, state, .. }) = serde_json::from_str::<Event>(body) {
            seen.entry(login).or_insert(state);
        }
    }
    seen.into_iter()
        .filter(|(_, state)| *state != AgentStatus::LoggedOut)
        .map(|(login, _)| login)
        .collect()
}

/// Announces what [`recover`] closed (see the module docs).
pub fn announce(bus: &EventBus, recovered: &Recovered, now: DateTime<Utc>) {
    for c in &recovered.calls {
        bus.publish(Event::CallEnded {
            call_id: c.call_id.clone(),
            outcome: Outcome::Interrupted,
            duration_ms: u64::try_from((c.ended - c.started).num_milliseconds()).unwrap_or(0),
        });
    }
    for login in &recovered.agents {
        bus.publish(Event::AgentState {
            login: login.clone(),
            state: AgentStatus::LoggedOut,
            reason: Some("restart".into()),
            registered: false,
            since: now,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(login: &str, state: AgentStatus) -> String {
        serde_json::to_string(&Event::AgentState {
            login: login.into(),
            state,
            reason: None,
            registered: true,
            since: Utc::now(),
        })
        .unwrap()
    }

    #[test]
    fn agents_whose_last_state_is_not_logged_out_are_signed_in() {
        let newest_first = [
            state("mario", AgentStatus::Talking),
            state("anna", AgentStatus::LoggedOut),
            "not json".to_string(),
            state("anna", AgentStatus::Ready),
            state("luca", AgentStatus::NotReady),
            state("mario", AgentStatus::LoggedOut),
        ];
        assert_eq!(signed_in(&newest_first), ["luca", "mario"]);
    }
}
