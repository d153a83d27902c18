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
