//! Agents' notifications (issue 16, R-SR-9): each operator chooses what to be told of, for
//! which queues, on the desktop and/or by e-mail (their own choices; admins anyone's); the
//! notifier tells them from the event log: a new ticket, a note, the citizen's e-mail, a move
//! into a followed queue, each once, never to the one who did it, never about a queue they
//! may not read.

use std::time::Duration as StdDuration;

use axum::http::StatusCode;
use chrono::Utc;
use console::notify::{Notifier, NotifyMail, Told};
use crm::{Channel, InboundMail, MailContent};
use events::{Event, NoticeKind, Recorded};
use serde_json::json;
use tokio::sync::broadcast;

use crate::common::{Fixture, both};

async fn operators_choose_their_own_notifications(f: Fixture) {
    let a1 = f.login("a1").await;
    let path = "/api/v1/users/a1/notifications";
    let r = f.get(path, &a1).await.expect(StatusCode::OK);
    assert_eq!(
        r.json,
        json!({"kinds": [], "queues": [], "desktop": true, "email": false, "address": null}),
        "nothing chosen yet"
    );
    let r = f
        .put(
            path,
            &a1,
            json!({"kinds": ["note", "created"], "queues": ["imprese", "cittadini"],
                   "desktop": true, "email": true, "address": "a1@example.org"}),
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        r.json,
        json!({"kinds": ["created", "note"], "queues": ["cittadini", "imprese"],
               "desktop": true, "email": true, "address": "a1@example.org"})
    );
    assert_eq!(f.get(path, &a1).await.expect(StatusCode::OK).json, r.json);

    // Refused, naming the field; nothing changes.
    for (body, field) in [
        (
            json!({"kinds": ["created"], "queues": ["secondo-livello"], "desktop": true, "email": false}),
            "queues",
        ),
        (
            json!({"kinds": ["created"], "queues": ["nessuna"], "desktop": true, "email": false}),
            "queues",
        ),
        (
            json!({"kinds": ["created"], "queues": [], "desktop": true, "email": true}),
            "address",
        ),
        (
            json!({"kinds": ["created"], "queues": [], "desktop": true, "email": true, "address": "a1@example.org\r\nBcc: x@example.org"}),
            "address",
        ),
        (
            json!({"kinds": ["everything"], "queues": [], "desktop": true, "email": false}),
            "kinds",
        ),
    ] {
        let detail = f
            .put(path, &a1, body.clone())
            .await
            .problem(StatusCode::UNPROCESSABLE_ENTITY);
        assert!(detail.contains(field), "{body}: {detail}");
    }
    assert_eq!(f.get(path, &a1).await.expect(StatusCode::OK).json, r.json);

    // Another operator's choices: 403 for agents and supervisors, admins may.
    f.get("/api/v1/users/a3/notifications", &a1)
        .await
        .problem(StatusCode::FORBIDDEN);
    let sup = f.login("sup").await;
    f.put(
        "/api/v1/users/a3/notifications",
        &sup,
        json!({"kinds": [], "queues": [], "desktop": true, "email": false}),
    )
    .await
    .problem(StatusCode::FORBIDDEN);
    let adm = f.login("adm").await;
    f.put(
        "/api/v1/users/a3/notifications",
        &adm,
        json!({"kinds": ["reminder"], "queues": ["cittadini"], "desktop": true, "email": false}),
    )
    .await
    .expect(StatusCode::OK);
    let r = f
        .get("/api/v1/users/a3/notifications", &adm)
        .await
        .expect(StatusCode::OK);
    assert_eq!(r.json["kinds"], json!(["reminder"]));
    f.get("/api/v1/users/nessuno/notifications", &adm)
        .await
        .problem(StatusCode::NOT_FOUND);
    f.get(path, "").await.problem(StatusCode::UNAUTHORIZED);
}
both!(operators_choose_their_own_notifications);

/// Writes what the bus carried into the event log, as the service's event log writer does.
async fn log(f: &Fixture, rx: &mut broadcast::Receiver<Event>, seq: &mut u64) {
    while let Ok(event) = rx.try_recv() {
        *seq += 1;
        let recorded = Recorded {
            seq: *seq,
            at: f.now(),
            event,
        };
        f.store
            .append_event(&console::record::logged_event("test", &recorded))
            .await
            .unwrap();
    }
}

fn notices(rx: &mut broadcast::Receiver<Event>) -> Vec<(String, NoticeKind, String)> {
    let mut out = Vec::new();
    while let Ok(e) = rx.try_recv() {
        if let Event::AgentNotification {
            login,
            kind,
            number,
            link,
            ..
        } = e
        {
            assert_eq!(link, format!("/desktop#ticket={number}"));
            out.push((login, kind, number));
        }
    }
    out
}

async fn ticket_events_reach_who_opted_in_once_on_the_desktop_and_by_mail(f: Fixture) {
    let notifier = Notifier {
        store: f.store.clone(),
        bus: f.bus.clone(),
        mail: Some(NotifyMail {
            from: "urp@comune.example.org".into(),
            message_id_domain: "comune.example.org".into(),
            lang: "en".into(),
            desktop_url: Some("https://centralino.example.org/desktop".into()),
            wake: None,
        }),
    };
    let mut bus = f.bus.subscribe();
    let mut desk = f.bus.subscribe();
    let mut seq = 0;
    // The first run starts at the end of the log: the past is not told.
    let a3 = f.login("a3").await;
    f.ticket(&a3, "cittadini", "Prima delle scelte").await;
    log(&f, &mut bus, &mut seq).await;
    assert_eq!(
        notifier.run_once(Utc::now()).await.unwrap(),
        Told::default()
    );

    let (a1, a2, adm) = (
        f.login("a1").await,
        f.login("a2").await,
        f.login("adm").await,
    );
    f.put(
        "/api/v1/users/a1/notifications",
        &a1,
        json!({"kinds": ["created", "customer_update", "reminder", "note", "queue_move"],
               "queues": ["cittadini"], "desktop": true, "email": true,
               "address": "a1@example.org"}),
    )
    .await
    .expect(StatusCode::OK);
    f.put(
        "/api/v1/users/a3/notifications",
        &a3,
        json!({"kinds": ["created"], "queues": ["cittadini"], "desktop": true, "email": false}),
    )
    .await
    .expect(StatusCode::OK);
    // a2 follows the second level, by e-mail only.
    f.put(
        "/api/v1/users/a2/notifications",
        &a2,
        json!({"kinds": ["queue_move", "note"], "queues": ["secondo-livello"],
               "desktop": false, "email": true, "address": "a2@example.org"}),
    )
    .await
    .expect(StatusCode::OK);
    // `ro` chose everything but may read no queue: never told.
    let ro = f.login("ro").await;
    f.put(
        "/api/v1/users/ro/notifications",
        &ro,
        json!({"kinds": ["created", "note", "customer_update"], "queues": [], "desktop": true, "email": false}),
    )
    .await
    .expect(StatusCode::OK);

    // a3 opens a ticket: a1 is told (a3 opened it: not told).
    let n = f.ticket(&a3, "cittadini", "Buca in via Verdi").await;
    // a3 writes a note: a1 is told; a2 follows another queue.
    f.post(
        &format!("/api/v1/tickets/{n}/articles"),
        &a3,
        json!({"kind": "note", "subject": "Sopralluogo", "body": "Domani."}),
    )
    .await
    .expect(StatusCode::CREATED);
    // The citizen writes on it by e-mail: a1 is told of the customer's update.
    let filed = f
        .store
        .file_mail(
            &InboundMail {
                source_key: "urp/1/7".into(),
                mailbox: "urp".into(),
                queue: "cittadini".into(),
                raw: b"raw".to_vec(),
                received: f.now(),
                content: Ok(MailContent {
                    message_id: Some("m7@example.org".into()),
                    from_address: Some("mario.rossi@example.org".into()),
                    from_name: Some("Mario Rossi".into()),
                    subject: format!("Re: [Ticket#{n}] Buca in via Verdi"),
                    body: "La buca è ancora lì.".into(),
                    attachments: Vec::new(),
                    channel: Channel::Email,
                    class: "personal".into(),
                    answerable: true,
                    note: None,
                    tagged_numbers: vec![n.clone()],
                    references: Vec::new(),
                }),
            },
            StdDuration::from_secs(3600),
        )
        .await
        .unwrap();
    assert!(!filed.opened);
    console::api::ticket_events::mail_filed(&f.store, &f.bus, &filed)
        .await
        .unwrap();
    // The admin moves it to the second level: a2, who follows it, is told by e-mail; a1
    // neither owns the ticket nor follows (or may read) secondo-livello.
    f.put(
        &format!("/api/v1/tickets/{n}/queue"),
        &adm,
        json!({"queue": "secondo-livello"}),
    )
    .await
    .expect(StatusCode::OK);
    log(&f, &mut bus, &mut seq).await;

    let told = notifier.run_once(Utc::now()).await.unwrap();
    assert_eq!((told.desktop, told.mails), (3, 4), "{told:?}");
    assert_eq!(
        notices(&mut desk)
            .into_iter()
            .filter(|(_, _, number)| *number == n)
            .collect::<Vec<_>>(),
        [
            ("a1".to_string(), NoticeKind::Created, n.clone()),
            ("a1".to_string(), NoticeKind::Note, n.clone()),
            ("a1".to_string(), NoticeKind::CustomerUpdate, n.clone()),
        ]
    );
    let mails: Vec<_> = f
        .store
        .outbox(None, 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.mail.dedup_key.starts_with("notify:"))
        .map(|m| m.mail)
        .collect();
    let mut to: Vec<_> = mails
        .iter()
        .map(|m| {
            (
                m.recipient.as_str(),
                m.dedup_key.rsplit(':').nth(1).unwrap(),
            )
        })
        .collect();
    to.sort();
    assert_eq!(
        to,
        [
            ("a1@example.org", "created"),
            ("a1@example.org", "customer_update"),
            ("a1@example.org", "note"),
            ("a2@example.org", "queue_move"),
        ]
    );
    for m in &mails {
        assert!(m.ticket.is_none(), "not an article of the citizen's ticket");
        assert!(m.subject.contains(&n) && !m.subject.contains("[Ticket#"));
        assert!(
            m.body.contains(&format!(
                "https://centralino.example.org/desktop#ticket={n}"
            )),
            "{}",
            m.body
        );
    }
    // Nothing is told twice: the agents' notices went to the log too, the cursor moved.
    log(&f, &mut bus, &mut seq).await;
    assert_eq!(
        notifier.run_once(Utc::now()).await.unwrap(),
        Told::default()
    );
    // A notifier started again (a restart) resumes at the cursor.
    let again = Notifier {
        mail: notifier.mail.clone(),
        ..notifier.clone()
    };
    assert_eq!(again.run_once(Utc::now()).await.unwrap(), Told::default());
}
both!(ticket_events_reach_who_opted_in_once_on_the_desktop_and_by_mail);
