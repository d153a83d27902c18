//! Which bus events a subscriber may see (R-PLT-2: access by role and queue).
//!
//! # Run loop
//! A plain struct, no I/O: build one per subscriber with the [`Scope`] read at connection
//! time, then ask [`EventFilter::admit`] for every event **in bus order**. The filter
//! remembers which calls it admitted (a call becomes visible when it enters one of the
//! subscriber's queues or rings the subscriber) so later events of that call (`call.dtmf`,
//! `call.ended`, …), which name no queue, follow; `call.ended` forgets the call. When the
//! subscriber's rights change, [`EventFilter::set_scope`] takes the new scope at once and
//! stops following the calls it admitted only through a queue no longer in it.

use std::collections::{HashMap, HashSet};

use ::events::Event;

/// What a subscriber may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Supervisors and admins: every event.
    Everything,
    /// An agent: their own calls, their own state, and what happens in their queues.
    Agent {
        /// The agent's login.
        login: String,
        /// Names of the queues they serve in the ACD or may read in the CRM.
        queues: HashSet<String>,
    },
}

/// A subscriber's filter; see the module docs.
#[derive(Debug)]
pub struct EventFilter {
    scope: Scope,
    /// Calls admitted so far and not yet ended, with the queue that admitted them (`None`:
    /// the subscriber's own call, offered to or connected with them).
    calls: HashMap<String, Option<String>>,
}

impl EventFilter {
    /// A filter for `scope`.
    pub fn new(scope: Scope) -> Self {
        EventFilter {
            scope,
            calls: HashMap::new(),
        }
    }

    /// Takes `scope` from now on (the subscriber's rights changed); the calls followed only
    /// through a queue the new scope lacks are no longer followed.
    pub fn set_scope(&mut self, scope: Scope) {
        if let Scope::Agent { queues, .. } = &scope {
            self.calls
                .retain(|_, via| via.as_ref().is_none_or(|q| queues.contains(q)));
        }
        self.scope = scope;
    }

    /// The scope it filters for.
    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    /// Whether the subscriber may see `event`; call in bus order.
    pub fn admit(&mut self, event: &Event) -> bool {
        let Scope::Agent { login, queues } = &self.scope else {
            return true;
        };
        let mine = |queue: &str| queues.contains(queue);
        match event {
            Event::CallQueued { call_id, queue, .. } => {
                let admitted = mine(queue);
                self.follow(call_id, admitted, false, queue)
            }
            Event::CallOffered {
                call_id,
                agent,
                queue,
                ..
            }
            | Event::CallConnected {
                call_id,
                agent,
                queue,
                ..
            } => {
                let own = agent == login;
                let admitted = own || mine(queue);
                self.follow(call_id, admitted, own, queue)
            }
            Event::CallEnded { call_id, .. } => self.calls.remove(call_id).is_some(),
            Event::CallStarted { call_id, .. }
            | Event::CallAnswered { call_id, .. }
            | Event::Dtmf { call_id, .. }
            | Event::MediaChanged { call_id, .. }
            | Event::IvrStep { call_id, .. } => self.calls.contains_key(call_id),
            Event::QueueChanged { queue, .. } => mine(queue),
            Event::AgentState { login: who, .. } => who == login,
            Event::TicketCreated { queue, owner, .. } => {
                mine(queue) || owner.as_deref() == Some(login.as_str())
            }
            // A ticket moved out of one of the agent's queues is news there too.
            Event::TicketUpdated {
                queue,
                owner,
                changes,
                ..
            } => {
                mine(queue)
                    || owner.as_deref() == Some(login.as_str())
                    || changes.iter().any(|c| {
                        matches!(
                            c.field,
                            ::events::TicketField::Queue | ::events::TicketField::Owner
                        ) && (c.old.as_deref().is_some_and(mine)
                            || c.old.as_deref() == Some(login.as_str()))
                    })
            }
            Event::TicketEscalation { queue, .. } => mine(queue),
            Event::TicketReminder { queue, owner, .. } => {
                mine(queue) || owner.as_deref() == Some(login.as_str())
            }
            // A notification is for the one agent it names.
            Event::AgentNotification { login: to, .. } => to == login,
            // The queue log: what the agent's queues do, and the agent's own offers.
            Event::QueueEntered { call_id, queue, .. } => {
                let admitted = mine(queue);
                self.follow(call_id, admitted, false, queue)
            }
            Event::QueueOffered {
                call_id,
                queue,
                agent,
                ..
            }
            | Event::QueueConnected {
                call_id,
                queue,
                agent,
                ..
            } => {
                let own = agent == login;
                let admitted = own || mine(queue);
                self.follow(call_id, admitted, own, queue)
            }
            Event::QueueRingNoAnswer {
                call_id,
                queue,
                agent,
                ..
            }
            | Event::QueueRejected {
                call_id,
                queue,
                agent,
                ..
            }
            | Event::QueueCompleted {
                call_id,
                queue,
                agent,
                ..
            }
            | Event::QueueTransferred {
                call_id,
                queue,
                agent,
                ..
            } => agent == login || mine(queue) || self.calls.contains_key(call_id),
            Event::QueueAbandoned { call_id, queue, .. }
            | Event::QueueLeft { call_id, queue, .. }
            | Event::QueueOverflowed { call_id, queue, .. } => {
                mine(queue) || self.calls.contains_key(call_id)
            }
            // Blended routing (R-ACD-5): the agent's own mode and offers, and the items of
            // their queues (tickets they may read).
            Event::AgentModeChanged { login: who, .. } => who == login,
            Event::ItemQueued { queue, .. } => mine(queue),
            Event::ItemOffered { queue, agent, .. }
            | Event::ItemAccepted { queue, agent, .. }
            | Event::ItemDeclined { queue, agent, .. } => agent == login || mine(queue),
            Event::ItemDone { queue, agent, .. } => {
                agent.as_deref() == Some(login.as_str()) || mine(queue)
            }
            Event::SystemStarted { .. } | Event::SystemStopping { .. } => true,
            // The administration's changes are for those who oversee (agents see their own
            // effect: a queue, a state); so are calls refused at the trunk (no queue, no
            // agent: a capacity matter). Heartbeats and the components' health are for the
            // supervisors' console (and the reports): an agent's desktop has nothing to do
            // with them.
            Event::SiteChanged { .. }
            | Event::CallRefused { .. }
            | Event::SystemHeartbeat { .. }
            | Event::ComponentState { .. } => false,
        }
    }

    /// Starts following `call_id` when `admitted` (as the subscriber's `own` call, or through
    /// `queue`); whether the event is admitted (a call already followed stays visible, e.g.
    /// offered to a colleague in another queue).
    fn follow(&mut self, call_id: &str, admitted: bool, own: bool, queue: &str) -> bool {
        if admitted {
            let via = (!own).then(|| queue.to_string());
            match self.calls.get_mut(call_id) {
                // Once the subscriber's own call, it stays theirs.
                Some(None) => {}
                Some(slot) => *slot = via,
                None => {
                    self.calls.insert(call_id.to_string(), via);
                }
            }
            true
        } else {
            self.calls.contains_key(call_id)
        }
    }

    /// How many calls it follows (bounded by calls in progress).
    pub fn followed_calls(&self) -> usize {
        self.calls.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ::events::Outcome;
    use chrono::{TimeZone, Utc};
    use proptest::prelude::*;

    fn agent(login: &str, queues: &[&str]) -> EventFilter {
        EventFilter::new(Scope::Agent {
            login: login.into(),
            queues: queues.iter().map(|q| q.to_string()).collect(),
        })
    }

    fn queued(call: &str, queue: &str) -> Event {
        Event::CallQueued {
            call_id: call.into(),
            queue: queue.into(),
            area: None,
        }
    }

    fn offered(call: &str, agent: &str, queue: &str) -> Event {
        Event::CallOffered {
            call_id: call.into(),
            agent: agent.into(),
            queue: queue.into(),
            channel: ::events::TicketChannel::Phone,
            caller: Some("+390600000009".into()),
            customer_id: None,
            customer_name: None,
            identified_by: ::events::IdentifiedBy::None,
            area: None,
            sr_type: None,
            ivr_path: vec![],
            journey: vec![],
            waited_ms: 1200,
        }
    }

    fn dtmf(call: &str) -> Event {
        Event::Dtmf {
            call_id: call.into(),
            digit: '1',
        }
    }

    fn ended(call: &str) -> Event {
        Event::CallEnded {
            call_id: call.into(),
            outcome: Outcome::CallerHangup,
            duration_ms: 10,
        }
    }

    fn agent_state(login: &str) -> Event {
        Event::AgentState {
            login: login.into(),
            state: ::events::AgentStatus::Ready,
            reason: None,
            registered: true,
            since: Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap(),
        }
    }

    fn queue_changed(queue: &str) -> Event {
        Event::QueueChanged {
            queue: queue.into(),
            waiting: 1,
            oldest_wait_s: 2.0,
        }
    }

    #[test]
    fn an_agent_follows_calls_of_their_queues_until_they_end() {
        let mut f = agent("1001", &["cittadini"]);
        // Still in the IVR: not yet anyone's.
        assert!(!f.admit(&Event::CallStarted {
            call_id: "c1".into(),
            sip_call_id: "s1".into(),
            caller: None,
            dialled: None,
        }));
        assert!(f.admit(&queued("c1", "cittadini")));
        assert!(f.admit(&dtmf("c1")));
        assert!(f.admit(&offered("c1", "1002", "cittadini")));
        assert!(f.admit(&ended("c1")));
        assert_eq!(f.followed_calls(), 0);
        // After the end the call id is forgotten.
        assert!(!f.admit(&dtmf("c1")));
    }

    #[test]
    fn a_narrowed_scope_stops_the_queues_calls_but_not_the_agents_own() {
        let mut f = agent("1001", &["cittadini", "tecnica"]);
        assert!(f.admit(&queued("c1", "tecnica")));
        assert!(f.admit(&offered("c2", "1001", "tecnica")));
        assert!(f.admit(&queued("c3", "cittadini")));
        f.set_scope(Scope::Agent {
            login: "1001".into(),
            queues: ["cittadini".to_string()].into(),
        });
        assert!(
            !f.admit(&dtmf("c1")),
            "tecnica's call is no longer followed"
        );
        assert!(!f.admit(&queued("c4", "tecnica")), "nor is tecnica");
        assert!(f.admit(&dtmf("c2")), "the agent's own call goes on");
        assert!(f.admit(&dtmf("c3")));
        assert_eq!(f.followed_calls(), 2);
    }

    #[test]
    fn an_agent_sees_calls_offered_to_them_from_any_queue_but_not_others() {
        let mut f = agent("1001", &["cittadini"]);
        assert!(!f.admit(&queued("c2", "tecnica")));
        assert!(!f.admit(&offered("c2", "1003", "tecnica")));
        assert!(!f.admit(&dtmf("c2")));
        assert!(!f.admit(&ended("c2")));
        assert!(f.admit(&offered("c3", "1001", "tecnica")));
        assert!(f.admit(&dtmf("c3")));
    }

    #[test]
    fn an_agent_sees_only_their_own_state_and_their_queues() {
        let mut f = agent("1001", &["cittadini"]);
        assert!(f.admit(&agent_state("1001")));
        assert!(!f.admit(&agent_state("1002")));
        assert!(f.admit(&queue_changed("cittadini")));
        assert!(!f.admit(&queue_changed("tecnica")));
        let ticket = |queue: &str, owner: Option<&str>| Event::TicketCreated {
            number: "1".into(),
            queue: queue.into(),
            channel: ::events::TicketChannel::Phone,
            call_id: None,
            owner: owner.map(str::to_string),
            by: None,
        };
        let escalation = |queue: &str| Event::TicketEscalation {
            number: "1".into(),
            queue: queue.into(),
            clock: ::events::EscalationClock::FirstResponse,
            stage: ::events::EscalationStage::Overdue,
            due: chrono::Utc::now(),
        };
        assert!(f.admit(&escalation("cittadini")));
        assert!(!f.admit(&escalation("tecnica")));
        assert!(f.admit(&ticket("cittadini", None)));
        assert!(f.admit(&ticket("tecnica", Some("1001"))));
        assert!(!f.admit(&ticket("tecnica", Some("1003"))));
    }

    fn any_event() -> impl Strategy<Value = Event> {
        let call = prop::sample::select(vec!["c1", "c2", "c3"]);
        let who = prop::sample::select(vec!["1001", "1002", "1003"]);
        let queue = prop::sample::select(vec!["cittadini", "tecnica", "altro"]);
        prop_oneof![
            (call.clone(), queue.clone()).prop_map(|(c, q)| queued(c, q)),
            (call.clone(), who.clone(), queue.clone()).prop_map(|(c, a, q)| offered(c, a, q)),
            call.clone().prop_map(dtmf),
            call.prop_map(ended),
            who.prop_map(agent_state),
            queue.prop_map(queue_changed),
        ]
    }

    proptest! {
        /// Supervisors see everything; an agent never sees another agent's state, another
        /// queue's figures, nor any event of a call that never touched them or their queues.
        #[test]
        fn filters_never_leak(events in prop::collection::vec(any_event(), 0..60)) {
            let mut all = EventFilter::new(Scope::Everything);
            let mut f = agent("1001", &["cittadini"]);
            let mut touched: HashSet<String> = HashSet::new();
            for e in &events {
                prop_assert!(all.admit(e));
                match e {
                    Event::CallQueued { call_id, queue, .. } if queue == "cittadini" => {
                        touched.insert(call_id.clone());
                    }
                    Event::CallOffered { call_id, agent, queue, .. }
                        if agent == "1001" || queue == "cittadini" => {
                        touched.insert(call_id.clone());
                    }
                    _ => {}
                }
                let admitted = f.admit(e);
                match e {
                    Event::AgentState { login, .. } => prop_assert_eq!(admitted, login == "1001"),
                    Event::QueueChanged { queue, .. } => {
                        prop_assert_eq!(admitted, queue == "cittadini")
                    }
                    Event::Dtmf { call_id, .. } | Event::CallEnded { call_id, .. }
                        if !touched.contains(call_id) =>
                    {
                        prop_assert!(!admitted, "leaked {:?}", e);
                    }
                    _ => {}
                }
                if let Event::CallEnded { call_id, .. } = e {
                    touched.remove(call_id);
                }
            }
        }
    }

    #[test]
    fn an_agent_sees_the_queue_log_of_their_queues_and_their_own_offers() {
        let at = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
        let mut f = agent("a1", &["tecnica"]);
        let entered = |call: &str, queue: &str| Event::QueueEntered {
            call_id: call.into(),
            queue: queue.into(),
            position: 1,
            at,
        };
        let rejected = |call: &str, agent: &str, queue: &str| Event::QueueRejected {
            call_id: call.into(),
            queue: queue.into(),
            agent: agent.into(),
            reason: "busy".into(),
            at,
        };
        let abandoned = |call: &str, queue: &str| Event::QueueAbandoned {
            call_id: call.into(),
            queue: queue.into(),
            position: 1,
            wait_ms: 1,
            within_service_level: true,
            at,
        };
        assert!(f.admit(&entered("c1", "tecnica")));
        assert!(!f.admit(&entered("c2", "vendite")));
        assert!(!f.admit(&rejected("c2", "a2", "vendite")));
        assert!(f.admit(&rejected("c2", "a1", "vendite")));
        assert!(f.admit(&abandoned("c1", "tecnica")));
        assert!(!f.admit(&abandoned("c3", "vendite")));
        assert!(f.admit(&Event::SystemStopping { at }));
    }
}
