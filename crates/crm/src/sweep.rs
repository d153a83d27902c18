//! The escalation sweep: the task that announces, on the event bus, each clock that just
//! became due soon or overdue (`ticket.escalation`).

use std::collections::HashMap;
use std::time::Duration;

use tracing::{info, warn};

use crate::sla::{Clock, Stage};
use crate::{EscalationWatch, QueueId, Store};

impl From<Clock> for events::EscalationClock {
    fn from(clock: Clock) -> Self {
        match clock {
            Clock::FirstResponse => events::EscalationClock::FirstResponse,
            Clock::Update => events::EscalationClock::Update,
            Clock::Solution => events::EscalationClock::Solution,
        }
    }
}

impl From<Stage> for events::EscalationStage {
    fn from(stage: Stage) -> Self {
        match stage {
            Stage::DueSoon => events::EscalationStage::DueSoon,
            Stage::Overdue => events::EscalationStage::Overdue,
        }
    }
}

/// Every `period`, asks the store for the clocks due within `warn` and announces on the bus
/// each one that just became due soon or overdue ([`EscalationWatch`]: once per stage,
/// nothing at start).
pub fn spawn_escalation_sweep(
    store: Store,
    bus: events::EventBus,
    warn: chrono::Duration,
    period: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut watch = EscalationWatch::new();
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tick.tick().await;
            let found = match store.escalations(chrono::Utc::now(), warn).await {
                Ok(found) => found,
                Err(e) => {
                    warn!("escalation sweep: cannot read the clocks: {e}");
                    continue;
                }
            };
            let notices = watch.sweep(&found);
            if notices.is_empty() {
                continue;
            }
            let names: HashMap<QueueId, String> = match store.queues().await {
                Ok(queues) => queues.into_iter().map(|q| (q.id, q.name)).collect(),
                Err(e) => {
                    warn!("escalation sweep: cannot read the queues: {e}");
                    continue;
                }
            };
            for (stage, e) in notices {
                info!(
                    ticket = %e.number,
                    clock = e.kind.as_str(),
                    stage = stage.as_str(),
                    due = %e.due,
                    "escalation"
                );
                bus.publish(events::Event::TicketEscalation {
                    number: e.number,
                    queue: names.get(&e.queue).cloned().unwrap_or_default(),
                    clock: e.kind.into(),
                    stage: stage.into(),
                    due: e.due,
                });
            }
        }
    })
}
