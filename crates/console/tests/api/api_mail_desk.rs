//! The agent's e-mail desk (issue 16): operators' replies from the ticket (write access to its
//! queue, tagged, threaded, quoted as asked, a clear refusal without an address), the
//! administrators' templates (unknown placeholders refused) and outbox (retry of a failed
//! mail), and the server's own mails (confirmation to phone requesters with an e-mail,
//! pending reminder when due, closure) sent once however often the sweep runs.

use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use axum::http::StatusCode;
use chrono::TimeDelta;
use crm::{Channel, InboundMail, MailContent, OutgoingMail, Store};
use serde_json::json;

use crate::common::{Fixture, both, mail_desk};

const WEEK: StdDuration = StdDuration::from_secs(7 * 24 * 3600);

fn inbound(f: &Fixture, key: &str, class: &str, subject: &str) -> InboundMail {
    InboundMail {
        source_key: key.into(),
        mailbox: "urp".into(),
        queue: "cittadini".into(),
        raw: format!("raw {key}").into_bytes(),
        received: f.now(),
        content: Ok(MailContent {
            message_id: Some(format!("{key}@example.org")),
            from_address: Some("mario.rossi@example.org".into()),
            from_name: Some("Mario Rossi".into()),
            subject: subject.into(),
            body: "C'è una buca in via Verdi.\nGrazie".into(),
            attachments: Vec::new(),
            channel: Channel::Email,
            class: class.into(),
            answerable: class == "personal",
            note: None,
            tagged_numbers: Vec::new(),
            references: Vec::new(),
        }),
    }
}

async fn replies_are_tagged_threaded_quoted_and_need_write_access(f: Fixture) {
    let filed = f
        .store
        .file_mail(&inbound(&f, "m1", "personal", "Buca in via Verdi"), WEEK)
        .await
        .unwrap();
    let n = filed.number.clone();
    let a1 = f.login("a1").await;
    let path = format!("/api/v1/tickets/{n}/replies");

    let r = f
        .post(&path, &a1, json!({"body": "La buca sarà chiusa domani."}))
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(r.json["recipient"], "mario.rossi@example.org");
    assert_eq!(
        r.json["subject"],
        format!("[Ticket#{n}] Re: Buca in via Verdi")
    );
    assert_eq!(r.json["in_reply_to"], "m1@example.org");
    let body = r.json["body"].as_str().unwrap();
    assert!(body.starts_with("La buca sarà chiusa domani.\n"), "{body}");
    assert!(
        body.contains("mario.rossi@example.org wrote:\n> C'è una buca in via Verdi.\n> Grazie"),
        "{body}"
    );

    // Not quoted when asked.
    let r = f
        .post(
            &path,
            &a1,
            json!({"body": "Seconda risposta.", "quote": false}),
        )
        .await
        .expect(StatusCode::CREATED);
    assert_eq!(r.json["body"], "Seconda risposta.\n");

    // Both are customer-visible email_out articles written by a1, and outbox mails.
    let t = f
        .get(&format!("/api/v1/tickets/{n}"), &a1)
        .await
        .expect(StatusCode::OK);
    let outs: Vec<_> = t.json["articles"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["kind"] == "email_out")
        .collect();
    assert_eq!(outs.len(), 2, "{}", t.json);
    assert!(
        outs.iter().all(|a| a["customer_visible"] == true),
        "{}",
        t.json
    );
    assert!(
        outs[0]["body"]
            .as_str()
            .unwrap()
            .contains("La buca sarà chiusa domani.")
    );
    let outbox = f.store.outbox(Some("queued"), 10).await.unwrap();
    assert_eq!(outbox.len(), 2);
    assert!(outbox.iter().all(|m| m.mail.dedup_key.starts_with("reply:")
        && m.mail.in_reply_to.as_deref() == Some("m1@example.org")));

    // Read access is not enough; no access neither; unknown ticket 404.
    for who in ["a2", "ro"] {
        let token = f.login(who).await;
        let d = f
            .post(&path, &token, json!({"body": "x"}))
            .await
            .problem(StatusCode::FORBIDDEN);
        assert!(!d.is_empty());
    }
    f.post(
        "/api/v1/tickets/2026030242999999/replies",
        &a1,
        json!({"body": "x"}),
    )
    .await
    .problem(StatusCode::NOT_FOUND);
    // An empty body, an unknown field: 422.
    f.post(&path, &a1, json!({"body": "  "}))
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY);
    f.post(&path, &a1, json!({"body": "x", "cc": "y@example.org"}))
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        f.store.outbox(None, 10).await.unwrap().len(),
        2,
        "refusals queue nothing"
    );

    // A phone ticket without a customer has no address: 409 saying so.
    let phone = f.ticket(&a1, "cittadini", "Telefonata").await;
    let d = f
        .post(
            &format!("/api/v1/tickets/{phone}/replies"),
            &a1,
            json!({"body": "x"}),
        )
        .await
        .problem(StatusCode::CONFLICT);
    assert!(d.contains("no e-mail address"), "{d}");
}
both!(replies_are_tagged_threaded_quoted_and_need_write_access);

async fn admins_edit_templates_and_bad_placeholders_are_refused(f: Fixture) {
    let adm = f.login("adm").await;
    let all = f
        .get("/api/v1/admin/mail/templates", &adm)
        .await
        .expect(StatusCode::OK);
    let list = all.json["templates"].as_array().unwrap();
    assert_eq!(list.len(), 6);
    assert!(list.iter().all(|t| t["edited"] == false));
    let path = "/api/v1/admin/mail/templates/closure/it";
    let t = f.get(path, &adm).await.expect(StatusCode::OK);
    assert_eq!(t.json["subject"], "Richiesta chiusa: {{title}}");
    assert!(
        t.json["placeholders"]
            .as_array()
            .unwrap()
            .contains(&json!("{{number}}"))
    );

    // Unknown and unclosed placeholders: 400 naming them; nothing stored.
    let d = f
        .put(
            path,
            &adm,
            json!({"subject": "Chiusa {{title}}", "body": "n. {{nmber}}"}),
        )
        .await
        .problem(StatusCode::BAD_REQUEST);
    assert!(d.contains("body") && d.contains("{{nmber}}"), "{d}");
    let d = f
        .put(
            path,
            &adm,
            json!({"subject": "Chiusa {{title", "body": "ok"}),
        )
        .await
        .problem(StatusCode::BAD_REQUEST);
    assert!(d.contains("subject") && d.contains("unclosed"), "{d}");
    f.put(
        path,
        &adm,
        json!({"subject": "a\nBcc: x@example.org", "body": "ok"}),
    )
    .await
    .problem(StatusCode::BAD_REQUEST);
    f.put(path, &adm, json!({"subject": "Chiusa", "body": " "}))
        .await
        .problem(StatusCode::BAD_REQUEST);
    assert_eq!(f.store.mail_template("closure", "it").await.unwrap(), None);

    let body = "Gentile {{name}}, la richiesta {{number}} è chiusa. Valuti il servizio: {{link}}";
    let r = f
        .put(
            path,
            &adm,
            json!({"subject": "Chiusa: {{title}}", "body": body}),
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(r.json["edited"], true);
    assert_eq!(r.json["body"], body);
    let r = f.get(path, &adm).await.expect(StatusCode::OK);
    assert_eq!(r.json["subject"], "Chiusa: {{title}}");
    assert_eq!(
        f.store
            .audit_log("mail_template:closure:it")
            .await
            .unwrap()
            .len(),
        1
    );

    // Unknown purpose or language: 404.
    f.get("/api/v1/admin/mail/templates/welcome/it", &adm)
        .await
        .problem(StatusCode::NOT_FOUND);
    f.put(
        "/api/v1/admin/mail/templates/closure/de",
        &adm,
        json!({"subject": "x", "body": "y"}),
    )
    .await
    .problem(StatusCode::NOT_FOUND);

    // Others: 403.
    for who in ["sup", "a1"] {
        let token = f.login(who).await;
        f.get("/api/v1/admin/mail/templates", &token)
            .await
            .problem(StatusCode::FORBIDDEN);
        f.get(path, &token).await.problem(StatusCode::FORBIDDEN);
        f.put(path, &token, json!({"subject": "x", "body": "y"}))
            .await
            .problem(StatusCode::FORBIDDEN);
    }
}
both!(admins_edit_templates_and_bad_placeholders_are_refused);

fn outgoing(key: &str) -> OutgoingMail {
    OutgoingMail {
        dedup_key: key.into(),
        ticket: None,
        message_id: format!("{key}@comune.example.org").replace(':', "-"),
        in_reply_to: None,
        sender: "urp@comune.example.org".into(),
        recipient: "mario.rossi@example.org".into(),
        subject: format!("subject {key}"),
        body: "text".into(),
        attachments: Vec::new(),
    }
}

async fn admins_see_the_outbox_and_retry_a_failed_mail(f: Fixture) {
    let s = &f.store;
    let now = f.now();
    for k in ["reply:1", "confirmation:2", "closure:3:1", "reminder:4:1"] {
        assert!(s.queue_mail(&outgoing(k), now).await.unwrap());
    }
    let claimed = s.claim_mail(now, 10).await.unwrap();
    assert_eq!(claimed.len(), 4);
    let id = |k: &str| claimed.iter().find(|m| m.mail.dedup_key == k).unwrap().id;
    s.mail_sent(id("reply:1"), now).await.unwrap();
    let at = now + TimeDelta::seconds(30);
    s.mail_retry(id("confirmation:2"), at, "connection refused")
        .await
        .unwrap();
    s.mail_failed(id("closure:3:1"), "refused by the relay: 550 no such user")
        .await
        .unwrap();

    let adm = f.login("adm").await;
    let all = f
        .get("/api/v1/admin/mail/outbox", &adm)
        .await
        .expect(StatusCode::OK);
    let states: Vec<&str> = all.json["mails"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["state"].as_str().unwrap())
        .collect();
    assert_eq!(
        states,
        ["sending", "failed", "retry", "sent"],
        "newest first"
    );

    let retry = f
        .get("/api/v1/admin/mail/outbox?state=retry", &adm)
        .await
        .expect(StatusCode::OK);
    let m = &retry.json["mails"][0];
    assert_eq!(retry.json["mails"].as_array().unwrap().len(), 1);
    assert_eq!(m["kind"], "confirmation");
    assert_eq!(m["failures"], 1);
    assert_eq!(m["last_error"], "connection refused");
    assert_eq!(
        chrono::DateTime::parse_from_rfc3339(m["next_attempt"].as_str().unwrap()).unwrap(),
        at
    );
    let failed = f
        .get("/api/v1/admin/mail/outbox?state=failed", &adm)
        .await
        .expect(StatusCode::OK);
    let fid = failed.json["mails"][0]["id"].as_i64().unwrap();
    assert!(
        failed.json["mails"][0]["last_error"]
            .as_str()
            .unwrap()
            .contains("550")
    );
    assert!(failed.json["mails"][0]["next_attempt"].is_null());
    f.get("/api/v1/admin/mail/outbox?state=lost", &adm)
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY);
    f.get("/api/v1/admin/mail/outbox?limit=0", &adm)
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY);

    // Retry: the failed one is queued again, due now; others are 409, unknown 404.
    let at = now + TimeDelta::seconds(10); // before the other retry is due
    *f.clock.lock().unwrap() = at;
    let r = f
        .post(
            &format!("/api/v1/admin/mail/outbox/{fid}/retry"),
            &adm,
            json!({}),
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(r.json["state"], "retry", "queued again, its failures kept");
    assert_eq!(r.json["failures"], 1);
    let again = s.claim_mail(f.now(), 10).await.unwrap();
    assert_eq!(again.len(), 1, "due now");
    assert_eq!(again[0].id, fid);
    let d = f
        .post(
            &format!("/api/v1/admin/mail/outbox/{fid}/retry"),
            &adm,
            json!({}),
        )
        .await
        .problem(StatusCode::CONFLICT);
    assert!(d.contains("only a failed mail"), "{d}");
    f.post("/api/v1/admin/mail/outbox/999999/retry", &adm, json!({}))
        .await
        .problem(StatusCode::NOT_FOUND);
    f.post("/api/v1/admin/mail/outbox/abc/retry", &adm, json!({}))
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        s.audit_log(&format!("mail_outbox:{fid}"))
            .await
            .unwrap()
            .len(),
        1
    );

    for who in ["sup", "a1"] {
        let token = f.login(who).await;
        f.get("/api/v1/admin/mail/outbox", &token)
            .await
            .problem(StatusCode::FORBIDDEN);
        f.post(
            &format!("/api/v1/admin/mail/outbox/{fid}/retry"),
            &token,
            json!({}),
        )
        .await
        .problem(StatusCode::FORBIDDEN);
    }
}
both!(admins_see_the_outbox_and_retry_a_failed_mail);

async fn sweep(store: &Store, f: &Fixture, seen: &Arc<Mutex<Vec<String>>>) -> mail::desk::Swept {
    let seen = seen.clone();
    mail_desk()
        .sweep(store, f.now(), &move |due: mail::desk::ReminderDue| {
            seen.lock().unwrap().push(due.context.number.clone());
        })
        .await
        .unwrap()
}

async fn the_server_confirms_reminds_and_closes_once(f: Fixture) {
    let s = &f.store;
    let seen = Arc::new(Mutex::new(Vec::new()));
    // The first sweep sets the marks (a ticket without a customer is never confirmed).
    let a1 = f.login("a1").await;
    let _old = f.ticket(&a1, "cittadini", "Prima dell'attivazione").await;
    assert_eq!(sweep(s, &f, &seen).await, Default::default());
    let at = f.now() + TimeDelta::seconds(1);
    *f.clock.lock().unwrap() = at;

    // A phone request of a citizen with an e-mail: confirmed once, with its number.
    let c = f
        .post(
            "/api/v1/customers",
            &a1,
            json!({"full_name": "Mario Rossi", "email": "mario.rossi@example.org"}),
        )
        .await
        .expect(StatusCode::CREATED);
    let cid = c.json["id"].as_i64().unwrap();
    let t = f
        .post(
            "/api/v1/tickets",
            &a1,
            json!({"title": "Certificato di residenza", "queue": "cittadini",
                   "channel": "voicemail", "customer_id": cid}),
        )
        .await
        .expect(StatusCode::CREATED);
    let n = t.json["number"].as_str().unwrap().to_string();
    let no_mail = f.ticket(&a1, "cittadini", "Senza cliente").await;
    let swept = sweep(s, &f, &seen).await;
    assert_eq!(swept.confirmations, 1);
    let out = s.outbox(None, 10).await.unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].mail.recipient, "mario.rossi@example.org");
    assert!(
        out[0]
            .mail
            .subject
            .starts_with(&format!("[Ticket#{n}] Request received"))
    );
    assert!(out[0].mail.body.contains(&n) && out[0].mail.body.contains("Dear Mario Rossi"));
    assert_eq!(sweep(s, &f, &seen).await, Default::default(), "once");

    // Pending reminder: nothing before its time, one mail and one notification at it, never
    // again for that time, even from a new desk (a restart).
    let until = f.now() + TimeDelta::hours(2);
    f.put(
        &format!("/api/v1/tickets/{n}/state"),
        &a1,
        json!({"state": "pending_reminder", "pending_until": until}),
    )
    .await
    .expect(StatusCode::OK);
    assert_eq!(s.next_pending_reminder().await.unwrap(), Some(until));
    let at = until - TimeDelta::seconds(1);
    *f.clock.lock().unwrap() = at;
    assert_eq!(sweep(s, &f, &seen).await.reminders, 0);
    let at = until + TimeDelta::seconds(1);
    *f.clock.lock().unwrap() = at;
    assert_eq!(sweep(s, &f, &seen).await.reminders, 1);
    assert_eq!(seen.lock().unwrap().as_slice(), std::slice::from_ref(&n));
    let reminders: Vec<_> = s
        .outbox(None, 10)
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.mail.dedup_key.starts_with("reminder:"))
        .collect();
    assert_eq!(reminders.len(), 1);
    assert!(
        reminders[0]
            .mail
            .subject
            .contains("Waiting for your answer")
    );
    assert_eq!(
        sweep(s, &f, &seen).await,
        Default::default(),
        "once per pending time"
    );
    assert_eq!(s.next_pending_reminder().await.unwrap(), None);
    let history = f
        .get(&format!("/api/v1/tickets/{n}"), &a1)
        .await
        .expect(StatusCode::OK);
    assert!(history.json.to_string().contains("reminder"));

    // Closed: one closure mail with the survey link; again after a reopen and a new closing.
    f.put(
        &format!("/api/v1/tickets/{n}/state"),
        &a1,
        json!({"state": "closed_successful"}),
    )
    .await
    .expect(StatusCode::OK);
    f.put(
        &format!("/api/v1/tickets/{no_mail}/state"),
        &a1,
        json!({"state": "closed_successful"}),
    )
    .await
    .expect(StatusCode::OK);
    assert_eq!(sweep(s, &f, &seen).await.closures, 1);
    assert_eq!(sweep(s, &f, &seen).await, Default::default());
    let closure = s
        .outbox(None, 10)
        .await
        .unwrap()
        .into_iter()
        .find(|m| m.mail.dedup_key.starts_with("closure:"))
        .unwrap();
    assert!(
        closure
            .mail
            .body
            .contains("https://comune.example.org/survey")
    );
    assert!(closure.mail.subject.contains("Request closed"));

    // A ticket opened by an auto-reply is never written to on our own.
    let auto = s
        .file_mail(&inbound(&f, "auto1", "auto_reply", "Out of office"), WEEK)
        .await
        .unwrap();
    f.put(
        &format!("/api/v1/tickets/{}/state", auto.number),
        &f.login("adm").await,
        json!({"state": "closed_unsuccessful"}),
    )
    .await
    .expect(StatusCode::OK);
    assert_eq!(sweep(s, &f, &seen).await, Default::default());
    let to_auto = s
        .outbox(None, 20)
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.mail.ticket == Some(auto.ticket))
        .count();
    assert_eq!(to_auto, 0);
}
both!(the_server_confirms_reminds_and_closes_once);
