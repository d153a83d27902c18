//! Operators' notification choices (issue 16, R-SR-9) and the notifier's reading of the
//! event log: choices are validated (address, queues that exist and may be read), stored
//! in order, listed per subscriber with what they may read; the cursor starts at the end of
//! the log and moves only forward; only ticket events are read after it.

use chrono::Duration;
use crm::notifications::TICKET_EVENT_KINDS;
use crm::{Access, Actor, LoggedEvent, NotificationPrefs, Role, Store};
use events::NoticeKind;

use crate::common::{both, t0, users};

fn logged(n: u32, kind: &str) -> LoggedEvent {
    LoggedEvent {
        event_id: format!("boot:{n}"),
        at: t0() + Duration::seconds(i64::from(n)),
        kind: kind.to_string(),
        call_id: None,
        body: format!(r#"{{"type":"{kind}","n":{n}}}"#),
        queue_row: None,
    }
}

async fn choices_are_checked_and_stored_in_order(store: Store) {
    let ids = users(
        &store,
        &[
            Role::AgentFirstLevel,
            Role::Supervisor,
            Role::AgentFirstLevel,
        ],
    )
    .await;
    let (agent, supervisor, idle) = (ids[0], ids[1], ids[2]);
    let urp = store.create_queue("urp", false, t0()).await.unwrap();
    let tributi = store.create_queue("tributi", false, t0()).await.unwrap();
    store
        .grant_queue(agent, urp.id, Access::Write)
        .await
        .unwrap();
    store
        .grant_queue(agent, tributi.id, Access::Read)
        .await
        .unwrap();

    // Nothing chosen yet: the default, and no subscriber.
    assert_eq!(
        store.notification_prefs(agent).await.unwrap(),
        NotificationPrefs::default()
    );
    assert!(store.notification_subscribers().await.unwrap().is_empty());

    let chosen = NotificationPrefs {
        kinds: vec![NoticeKind::Note, NoticeKind::Created, NoticeKind::Note],
        queues: vec!["urp".into(), "tributi".into()],
        address: Some(" a1@example.org ".into()),
        by_email: true,
        on_desktop: true,
    };
    let stored = store
        .set_notification_prefs(agent, &chosen, Actor::User(agent), t0())
        .await
        .unwrap();
    assert_eq!(stored.kinds, vec![NoticeKind::Created, NoticeKind::Note]);
    assert_eq!(
        stored.queues,
        vec!["tributi".to_string(), "urp".to_string()]
    );
    assert_eq!(stored.address.as_deref(), Some("a1@example.org"));
    assert_eq!(store.notification_prefs(agent).await.unwrap(), stored);

    // Refusals name the field and change nothing.
    for (bad, field) in [
        (
            NotificationPrefs {
                queues: vec!["nessuna".into()],
                ..chosen.clone()
            },
            "queues",
        ),
        (
            NotificationPrefs {
                address: Some("a1@example.org\r\nBcc: x@example.org".into()),
                ..chosen.clone()
            },
            "address",
        ),
        (
            NotificationPrefs {
                address: None,
                ..chosen.clone()
            },
            "address",
        ),
    ] {
        match store
            .set_notification_prefs(agent, &bad, Actor::User(agent), t0())
            .await
        {
            Err(crm::Error::Invalid { what, .. }) => assert_eq!(what, field),
            other => panic!("{bad:?}: {other:?}"),
        }
    }
    assert_eq!(store.notification_prefs(agent).await.unwrap(), stored);
    // A queue the operator may not read cannot be followed.
    let err = store
        .set_notification_prefs(
            idle,
            &NotificationPrefs {
                kinds: vec![NoticeKind::Created],
                queues: vec!["urp".into()],
                ..NotificationPrefs::default()
            },
            Actor::User(idle),
            t0(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, crm::Error::Invalid { what: "queues", .. }),
        "{err}"
    );

    // Supervisors read every queue; an operator with no kind is not a subscriber.
    store
        .set_notification_prefs(
            supervisor,
            &NotificationPrefs {
                kinds: vec![NoticeKind::QueueMove],
                queues: vec!["tributi".into()],
                ..NotificationPrefs::default()
            },
            Actor::User(supervisor),
            t0(),
        )
        .await
        .unwrap();
    store
        .set_notification_prefs(idle, &NotificationPrefs::default(), Actor::User(idle), t0())
        .await
        .unwrap();
    let subs = store.notification_subscribers().await.unwrap();
    assert_eq!(
        subs.iter().map(|s| s.login.as_str()).collect::<Vec<_>>(),
        ["a1", "a2"]
    );
    assert_eq!(subs[0].prefs, stored);
    assert!(subs[0].may_read("urp") && subs[0].may_read("tributi"));
    assert!(!subs[0].may_read("altro"));
    assert_eq!(subs[1].readable, None);
    assert!(subs[1].may_read("altro"));

    // A disabled operator is no longer notified.
    store
        .update_user(
            "a1",
            &crm::UserChange {
                active: Some(false),
                ..Default::default()
            },
            Actor::System,
            t0(),
        )
        .await
        .unwrap();
    let subs = store.notification_subscribers().await.unwrap();
    assert_eq!(subs.len(), 1);
}
both!(choices_are_checked_and_stored_in_order);

async fn the_cursor_starts_at_the_end_and_reads_ticket_events_only(store: Store) {
    // The past is not notified.
    store
        .append_event(&logged(1, "ticket.created"))
        .await
        .unwrap();
    let start = store.notify_cursor("notify").await.unwrap();
    assert!(
        store
            .ticket_events_after(start, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.notify_cursor("notify").await.unwrap(), start);

    let kinds = [
        "call.started",
        "ticket.created",
        "agent.notification",
        "ticket.updated",
        "queue.changed",
        "ticket.reminder",
        "ticket.escalation",
    ];
    for (n, kind) in kinds.iter().enumerate() {
        store
            .append_event(&logged(10 + n as u32, kind))
            .await
            .unwrap();
    }
    let read = store.ticket_events_after(start, 2).await.unwrap();
    assert_eq!(
        read.iter()
            .map(|(_, e)| e.kind.as_str())
            .collect::<Vec<_>>(),
        ["ticket.created", "ticket.updated"]
    );
    store.set_notify_cursor("notify", read[1].0).await.unwrap();
    let cursor = store.notify_cursor("notify").await.unwrap();
    assert_eq!(cursor, read[1].0);
    let rest = store.ticket_events_after(cursor, 10).await.unwrap();
    assert_eq!(
        rest.iter()
            .map(|(_, e)| e.kind.as_str())
            .collect::<Vec<_>>(),
        ["ticket.reminder"]
    );
    assert!(
        rest.iter()
            .all(|(_, e)| TICKET_EVENT_KINDS.contains(&e.kind.as_str()))
    );
    // Never back.
    store.set_notify_cursor("notify", start).await.unwrap();
    assert_eq!(store.notify_cursor("notify").await.unwrap(), cursor);
}
both!(the_cursor_starts_at_the_end_and_reads_ticket_events_only);
