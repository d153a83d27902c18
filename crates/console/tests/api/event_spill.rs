//! Issue 14: the event log's in-memory side is bounded. A writer that is stalled while many
//! events are published leaves them in a spill file; none is lost, none reordered, and the
//! real SQLite event log has every one once the writer runs.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use console::{EventLogWriter, Figures, Metrics};
use crm::JournaledStore;
use events::{Event, EventBus, RecordLimits};

use crate::common::{run_sqlite, t0};

const N: usize = 3_000;
const MEMORY: usize = 100;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_writer_spills_and_the_event_log_gets_every_event_in_order() {
    run_sqlite(|f| async move {
        let dir = tempfile::tempdir().unwrap();
        let now: DateTime<Utc> = t0();
        let (bus, log) = EventBus::recorded_with(
            16,
            Arc::new(move || now),
            RecordLimits {
                memory: MEMORY,
                spill: dir.path().join("events.spill"),
            },
        )
        .unwrap();
        // The writer is not running yet (stalled): N events are published meanwhile.
        for i in 0..N {
            bus.publish(Event::CallStarted {
                call_id: format!("spill-{i:05}"),
                sip_call_id: format!("s{i}"),
                caller: None,
                dialled: None,
            });
        }
        assert_eq!(bus.record_backlog(), N as u64);
        assert_eq!(bus.spilled_total(), (N - MEMORY) as u64);
        let metrics = Arc::new(Metrics::new());
        let figures = Figures::new(
            metrics.clone(),
            Arc::new(|at: DateTime<Utc>| at.date_naive()),
        );
        let journaled = Arc::new(JournaledStore::new(
            f.store.clone(),
            dir.path().join("journal"),
        ));
        // The scrape before the writer runs shows the spill and the backlog.
        let writer = EventLogWriter::start(bus.clone(), log, journaled, figures.clone(), now).await;
        writer.flush().await;
        let text = metrics.render(&events::telemetry::Telemetry::default());
        assert!(
            text.contains(&format!("centralino_events_spilled_total {}", N - MEMORY)),
            "{text}"
        );
        assert!(text.contains("centralino_events_backlog 0"), "{text}");
        // Every event in the log, in publication order.
        let logged = f
            .store
            .events_between(now - TimeDelta::hours(1), now + TimeDelta::hours(1))
            .await
            .unwrap();
        let ids: Vec<String> = logged
            .iter()
            .filter_map(|e| e.call_id.clone())
            .filter(|c| c.starts_with("spill-"))
            .collect();
        let expected: Vec<String> = (0..N).map(|i| format!("spill-{i:05}")).collect();
        assert_eq!(ids.len(), N);
        assert_eq!(ids, expected);
        // Caught up: the spill file is empty, new events go through memory again.
        assert_eq!(
            std::fs::metadata(dir.path().join("events.spill"))
                .unwrap()
                .len(),
            0
        );
        bus.publish(Event::SystemStopping { at: now });
        writer.flush().await;
        assert_eq!(bus.spilled_total(), (N - MEMORY) as u64);
    })
    .await;
}
