//! The event log: appended once per event id, read back in order, with the queue log rows
//! it carries written in the same transaction.

use chrono::Duration;
use crm::{CallWrite, JournaledStore, LoggedEvent, NewCall, QueueEvent, QueueEventKind, Store};

use crate::common::{both, t0};

fn entered(n: u32) -> LoggedEvent {
    let at = t0() + Duration::seconds(n.into());
    LoggedEvent {
        event_id: format!("boot-{n}"),
        at,
        kind: "queue.entered".into(),
        call_id: Some("c-e1".into()),
        body: format!(r#"{{"type":"queue.entered","n":{n}}}"#),
        queue_row: Some(QueueEvent {
            call_id: "c-e1".into(),
            queue: "tecnica".into(),
            at,
            kind: QueueEventKind::Enter,
            agent: None,
            detail: Some("position 1".into()),
        }),
    }
}

async fn events_append_once_in_order_with_their_queue_rows(store: Store) {
    store
        .start_call(&NewCall {
            call_id: "c-e1".into(),
            sip_call_id: None,
            caller: "+390600000001".into(),
            dialled: "800100200".into(),
            started: t0(),
        })
        .await
        .unwrap();
    let started = LoggedEvent {
        event_id: "boot-0".into(),
        at: t0(),
        kind: "call.started".into(),
        call_id: Some("c-e1".into()),
        body: r#"{"type":"call.started"}"#.into(),
        queue_row: None,
    };
    assert!(store.append_event(&started).await.unwrap());
    assert!(store.append_event(&entered(1)).await.unwrap());
    // A replayed journal entry writes nothing again.
    assert!(!store.append_event(&entered(1)).await.unwrap());
    let dir = tempfile::tempdir().unwrap();
    let journaled = JournaledStore::new(store.clone(), dir.path().join("calls.jsonl"));
    journaled.write(CallWrite::Event(entered(2))).await.unwrap();

    let end = t0() + Duration::hours(1);
    let log = store.events_between(t0(), end).await.unwrap();
    let ids: Vec<&str> = log.iter().map(|e| e.event_id.as_str()).collect();
    assert_eq!(ids, ["boot-0", "boot-1", "boot-2"]);
    assert_eq!(log[1].body, entered(1).body);
    assert_eq!(log[1].at, entered(1).at);
    let rows = store.queue_log_between(t0(), end).await.unwrap();
    assert_eq!(
        rows,
        [entered(1).queue_row.unwrap(), entered(2).queue_row.unwrap()]
    );
    assert_eq!(store.queue_events("c-e1").await.unwrap(), rows);
    assert_eq!(
        store.call("c-e1").await.unwrap().queue.as_deref(),
        Some("tecnica")
    );
    // The window is half open.
    let later = store
        .events_between(t0() + Duration::seconds(1), end)
        .await
        .unwrap();
    assert_eq!(later.len(), 2);
}
both!(events_append_once_in_order_with_their_queue_rows);

fn record(n: u32, kind: &str, at: chrono::DateTime<chrono::Utc>) -> LoggedEvent {
    LoggedEvent {
        event_id: format!("av-{n}"),
        at,
        kind: kind.into(),
        call_id: None,
        body: format!(r#"{{"type":"{kind}"}}"#),
        queue_row: None,
    }
}

async fn availability_records_start_from_the_last_start_or_stop_before_the_period(store: Store) {
    let h = |n: i64| t0() + Duration::hours(n);
    let log = [
        record(0, "system.started", h(-50)),
        record(1, "system.heartbeat", h(-49)),
        record(2, "system.stopping", h(-48)),
        record(3, "system.started", h(-30)),
        record(4, "system.heartbeat", h(-29)),
        record(5, "component.state", h(-20)),
        record(6, "system.heartbeat", h(-2)),
        record(7, "queue.changed", h(1)),
        record(8, "system.heartbeat", h(2)),
        record(9, "system.started", h(3)),
        record(10, "system.heartbeat", h(30)),
    ];
    for e in &log {
        assert!(store.append_event(e).await.unwrap());
    }
    let got = store.availability_records(t0(), h(24)).await.unwrap();
    let ids: Vec<&str> = got.iter().map(|e| e.event_id.as_str()).collect();
    // From the last start before the period (av-3): its component change, the last
    // heartbeat before the period, the period's records; not other kinds, not after it.
    assert_eq!(ids, ["av-3", "av-5", "av-6", "av-8", "av-9"]);
    // Nothing before, nothing in: empty.
    assert!(
        store
            .availability_records(h(-100), h(-60))
            .await
            .unwrap()
            .is_empty()
    );
}

both!(availability_records_start_from_the_last_start_or_stop_before_the_period);
