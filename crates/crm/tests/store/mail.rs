//! E-mail on tickets: filing inbound messages (new, reply by tag or reference, reopen, auto
//! mail, unreadable, oversized attachment, idempotent), and the outbox's life cycle.

use std::time::Duration as StdDuration;

use chrono::Duration;
use crm::{
    Action, Actor, ArticleKind, Channel, InboundMail, MailContent, NewAttachment, NewCustomer,
    OutgoingMail, State, Store,
};

use crate::common::{both, t0};

const WEEK: StdDuration = StdDuration::from_secs(7 * 24 * 3600);

fn content(from: &str, subject: &str) -> MailContent {
    MailContent {
        message_id: Some(format!("{subject}@{from}").replace(' ', "-")),
        from_address: Some(from.to_string()),
        from_name: Some("Mario Rossi".into()),
        subject: subject.to_string(),
        body: "C'è una buca in via Verdi.".into(),
        attachments: Vec::new(),
        channel: Channel::Email,
        class: "personal".into(),
        answerable: true,
        note: None,
        tagged_numbers: Vec::new(),
        references: Vec::new(),
    }
}

fn inbound(key: &str, c: Result<MailContent, String>) -> InboundMail {
    InboundMail {
        source_key: key.to_string(),
        mailbox: "urp".into(),
        queue: "urp".into(),
        raw: format!("raw bytes of {key}").into_bytes(),
        received: t0(),
        content: c,
    }
}

fn confirmation(ticket: crm::TicketId, n: &str) -> OutgoingMail {
    OutgoingMail {
        dedup_key: format!("confirmation:{}", ticket.0),
        ticket: Some(ticket),
        message_id: format!("confirm-{n}@centralino.test"),
        in_reply_to: None,
        sender: "urp@comune.test".into(),
        recipient: "mario@example.org".into(),
        subject: format!("[Ticket#{n}] Richiesta ricevuta"),
        body: format!("numero {n}"),
        attachments: Vec::new(),
    }
}

async fn new_mail_opens_a_ticket_and_replies_join_it(store: Store) {
    let q = store.create_queue("urp", false, t0()).await.unwrap();
    let known = store
        .create_customer(
            NewCustomer {
                full_name: "Anna Bianchi".into(),
                email: Some("Anna@Example.org".into()),
                ..NewCustomer::default()
            },
            Actor::System,
            t0(),
        )
        .await
        .unwrap();

    // A stranger: a guest with the address.
    let f = store
        .file_mail(
            &inbound("urp/1/1", Ok(content("mario@example.org", "Buca"))),
            WEEK,
        )
        .await
        .unwrap();
    assert!(f.opened && f.answerable && !f.duplicate);
    let t = store.ticket(f.ticket).await.unwrap();
    assert_eq!(
        (t.channel, t.queue, t.title.as_str()),
        (Channel::Email, q.id, "Buca")
    );
    let guest = store
        .customer(t.customer.unwrap(), Actor::System, t0())
        .await
        .unwrap();
    assert!(guest.guest);
    assert_eq!(guest.email.as_deref(), Some("mario@example.org"));
    let a = store.articles(t.id).await.unwrap();
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].kind, ArticleKind::EmailIn);
    assert_eq!(a[0].sender, "Mario Rossi <mario@example.org>");
    assert!(a[0].customer_visible);

    // Fetched again (a crash before the \Seen flag): nothing written twice.
    let again = store
        .file_mail(
            &inbound("urp/1/1", Ok(content("mario@example.org", "Buca"))),
            WEEK,
        )
        .await
        .unwrap();
    assert!(again.duplicate && again.opened);
    assert_eq!(again.ticket, f.ticket);
    assert_eq!(store.articles(t.id).await.unwrap().len(), 1);
    assert_eq!(store.mail_count().await.unwrap(), 1);
    let kept = store.stored_mail("urp/1/1").await.unwrap().unwrap();
    assert_eq!(kept.raw, b"raw bytes of urp/1/1");

    // A known customer, by address, case-insensitively.
    let k = store
        .file_mail(
            &inbound("urp/1/2", Ok(content("anna@example.ORG", "Lampione"))),
            WEEK,
        )
        .await
        .unwrap();
    assert_eq!(
        store.ticket(k.ticket).await.unwrap().customer,
        Some(known.id)
    );

    // The confirmation, once; replies find the ticket by tag and by reference.
    assert!(
        store
            .queue_mail(&confirmation(f.ticket, &f.number), t0())
            .await
            .unwrap()
    );
    assert!(
        !store
            .queue_mail(&confirmation(f.ticket, &f.number), t0())
            .await
            .unwrap(),
        "never twice"
    );
    let arts = store.articles(t.id).await.unwrap();
    assert_eq!(arts.len(), 2);
    assert_eq!(arts[1].kind, ArticleKind::EmailOut);

    let mut tagged = content("mario@example.org", "Re: [Ticket#x] Richiesta");
    tagged.tagged_numbers = vec![f.number.clone()];
    let r = store
        .file_mail(&inbound("urp/1/3", Ok(tagged)), WEEK)
        .await
        .unwrap();
    assert_eq!((r.ticket, r.opened), (f.ticket, false));

    let mut by_ref = content("other@example.org", "Re: senza tag");
    by_ref.references = vec![
        "unknown@x".into(),
        format!("confirm-{}@centralino.test", f.number),
    ];
    let r = store
        .file_mail(&inbound("urp/1/4", Ok(by_ref)), WEEK)
        .await
        .unwrap();
    assert_eq!((r.ticket, r.opened), (f.ticket, false));
    assert_eq!(store.articles(t.id).await.unwrap().len(), 4);
}
both!(new_mail_opens_a_ticket_and_replies_join_it);

async fn closed_tickets_reopen_within_the_window(store: Store) {
    let f = store
        .file_mail(
            &inbound("b/1/1", Ok(content("mario@example.org", "Buca"))),
            WEEK,
        )
        .await
        .unwrap();
    store
        .act(
            f.ticket,
            Actor::System,
            Action::Close { successful: true },
            t0(),
        )
        .await
        .unwrap();
    let mut reply = content("mario@example.org", "Re: Buca");
    reply.tagged_numbers = vec![f.number.clone()];
    let mut m = inbound("b/1/2", Ok(reply.clone()));
    m.received = t0() + Duration::days(2);
    let r = store.file_mail(&m, WEEK).await.unwrap();
    assert!(r.reopened && !r.opened);
    assert_eq!(store.ticket(f.ticket).await.unwrap().state, State::Open);

    // Closed too long ago: a new ticket that says which one it follows.
    store
        .act(
            f.ticket,
            Actor::System,
            Action::Close { successful: true },
            t0() + Duration::days(3),
        )
        .await
        .unwrap();
    let mut late = inbound("b/1/3", Ok(reply));
    late.received = t0() + Duration::days(30);
    let r = store.file_mail(&late, WEEK).await.unwrap();
    assert!(r.opened);
    assert_ne!(r.ticket, f.ticket);
    let notes = store.articles(r.ticket).await.unwrap();
    assert!(
        notes
            .iter()
            .any(|a| a.kind == ArticleKind::Note && a.body.contains(&f.number))
    );
    assert!(store.ticket(f.ticket).await.unwrap().state.is_closed());
}
both!(closed_tickets_reopen_within_the_window);

async fn automatic_unreadable_and_oversized_mail_is_recorded(store: Store) {
    // An auto-reply: filed with a note, not answerable.
    let mut auto = content("mario@example.org", "Risposta automatica: fuori ufficio");
    auto.class = "auto_reply".into();
    auto.answerable = false;
    auto.note = Some("Auto-Submitted: never answered".into());
    let f = store
        .file_mail(&inbound("c/1/1", Ok(auto)), WEEK)
        .await
        .unwrap();
    assert!(!f.answerable);
    let arts = store.articles(f.ticket).await.unwrap();
    assert!(arts.iter().any(|a| a.body.contains("never answered")));
    assert_eq!(
        store.stored_mail("c/1/1").await.unwrap().unwrap().class,
        "auto_reply"
    );

    // Unreadable: a ticket whose note says why, the raw message attached.
    let u = store
        .file_mail(&inbound("c/1/2", Err("not an e-mail message".into())), WEEK)
        .await
        .unwrap();
    assert!(u.opened && !u.answerable);
    let arts = store.articles(u.ticket).await.unwrap();
    assert!(arts[0].body.contains("not an e-mail message"));
    assert_eq!(arts[0].attachments[0].filename, "message.eml");
    let kept = store.stored_mail("c/1/2").await.unwrap().unwrap();
    assert_eq!(
        (kept.class.as_str(), kept.ticket),
        ("malformed", Some(u.ticket))
    );

    // A fax whose scan is over the limit (1024 bytes in the test settings): the article says
    // so, the small attachment is stored, the raw message keeps all.
    let mut fax = content("gw@fax.test", "Fax from 06123");
    fax.channel = Channel::Fax;
    fax.class = "fax".into();
    fax.answerable = false;
    fax.attachments = vec![
        NewAttachment {
            filename: "big.pdf".into(),
            content_type: "application/pdf".into(),
            content: vec![1; 5000],
        },
        NewAttachment {
            filename: "cover.pdf".into(),
            content_type: "application/pdf".into(),
            content: vec![2; 100],
        },
    ];
    let x = store
        .file_mail(&inbound("c/1/3", Ok(fax)), WEEK)
        .await
        .unwrap();
    assert_eq!(store.ticket(x.ticket).await.unwrap().channel, Channel::Fax);
    let arts = store.articles(x.ticket).await.unwrap();
    assert_eq!(arts[0].kind, ArticleKind::Fax);
    assert!(arts[0].body.contains("\"big.pdf\"") && arts[0].body.contains("over the limit"));
    assert_eq!(arts[0].attachments.len(), 1);
    assert_eq!(arts[0].attachments[0].filename, "cover.pdf");
}
both!(automatic_unreadable_and_oversized_mail_is_recorded);

async fn the_outbox_retries_and_never_sends_twice(store: Store) {
    let f = store
        .file_mail(
            &inbound("d/1/1", Ok(content("mario@example.org", "Buca"))),
            WEEK,
        )
        .await
        .unwrap();
    store
        .queue_mail(&confirmation(f.ticket, &f.number), t0())
        .await
        .unwrap();
    assert_eq!(store.next_mail_due().await.unwrap(), Some(t0()));
    let claimed = store.claim_mail(t0(), 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].state, "sending");
    assert!(
        store.claim_mail(t0(), 10).await.unwrap().is_empty(),
        "claimed once"
    );

    // Relay down: queued again for later.
    let id = claimed[0].id;
    store
        .mail_retry(id, t0() + Duration::seconds(30), "connection refused")
        .await
        .unwrap();
    assert!(
        store
            .claim_mail(t0() + Duration::seconds(29), 10)
            .await
            .unwrap()
            .is_empty()
    );
    let c = store
        .claim_mail(t0() + Duration::seconds(30), 10)
        .await
        .unwrap();
    assert_eq!((c.len(), c[0].failures), (1, 1));
    assert_eq!(c[0].last_error.as_deref(), Some("connection refused"));

    // A crash mid-send: recovered to queued, sent once, then never again.
    assert_eq!(store.recover_outbox().await.unwrap(), 1);
    let c = store
        .claim_mail(t0() + Duration::seconds(31), 10)
        .await
        .unwrap();
    store
        .mail_sent(c[0].id, t0() + Duration::seconds(31))
        .await
        .unwrap();
    assert_eq!(store.recover_outbox().await.unwrap(), 0);
    assert!(
        store
            .claim_mail(t0() + Duration::days(9), 10)
            .await
            .unwrap()
            .is_empty()
    );
    let sent = store.outbox(Some("sent"), 10).await.unwrap();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].sent, Some(t0() + Duration::seconds(31)));

    // A permanent failure stays visible.
    let mut other = confirmation(f.ticket, &f.number);
    other.dedup_key = "reply:1".into();
    other.message_id = "reply-1@centralino.test".into();
    store.queue_mail(&other, t0()).await.unwrap();
    let c = store.claim_mail(t0(), 10).await.unwrap();
    store
        .mail_failed(c[0].id, "550 no such user")
        .await
        .unwrap();
    let failed = store.outbox(Some("failed"), 10).await.unwrap();
    assert_eq!(failed[0].last_error.as_deref(), Some("550 no such user"));
    assert_eq!(store.outbox(None, 10).await.unwrap().len(), 2);

    // Templates: none until an administrator edits one.
    assert_eq!(
        store.mail_template("confirmation", "it").await.unwrap(),
        None
    );
    store
        .set_mail_template(
            "confirmation",
            "it",
            "Ricevuta {{number}}",
            "n. {{number}}",
            Actor::System,
            t0(),
        )
        .await
        .unwrap();
    store
        .set_mail_template(
            "confirmation",
            "it",
            "Presa in carico",
            "n. {{number}}",
            Actor::System,
            t0(),
        )
        .await
        .unwrap();
    assert_eq!(
        store.mail_template("confirmation", "it").await.unwrap(),
        Some(("Presa in carico".into(), "n. {{number}}".into()))
    );
}
both!(the_outbox_retries_and_never_sends_twice);

async fn the_confirmation_is_queued_with_the_filing_once(store: Store) {
    let confirm = |f: &crm::MailFiled| Some(confirmation(f.ticket, &f.number));
    let m = inbound("e/1/1", Ok(content("mario@example.org", "Buca")));
    let f = store.file_mail_with(&m, WEEK, confirm).await.unwrap();
    let out = store.outbox(None, 10).await.unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].mail.ticket, Some(f.ticket));
    // Fetched again: no second confirmation (the filing is found, nothing runs).
    let again = store
        .file_mail_with(&m, WEEK, |_| panic!("not asked for a duplicate"))
        .await
        .unwrap();
    assert!(again.duplicate);
    // A reply and an auto-reply are never confirmed.
    let mut reply = content("mario@example.org", "Re: Buca");
    reply.tagged_numbers = vec![f.number.clone()];
    store
        .file_mail_with(&inbound("e/1/2", Ok(reply)), WEEK, |_| panic!("a reply"))
        .await
        .unwrap();
    let mut auto = content("bot@example.org", "Fuori ufficio");
    auto.answerable = false;
    auto.class = "auto_reply".into();
    store
        .file_mail_with(&inbound("e/1/3", Ok(auto)), WEEK, |_| {
            panic!("an auto-reply")
        })
        .await
        .unwrap();
    assert_eq!(store.outbox(None, 10).await.unwrap().len(), 1);
}
both!(the_confirmation_is_queued_with_the_filing_once);

/// A FETCH batch filed at once (one transaction on PostgreSQL, a savepoint per message):
/// a reply joins the ticket its batch-mate opened, a message the store refuses (here its
/// confirmation is over the attachment limit) is rolled back alone, each confirmation is
/// queued with its filing, and filing the batch again changes nothing.
async fn a_batch_keeps_what_it_can_and_rolls_back_one_refusal(store: Store) {
    store.create_queue("urp", false, t0()).await.unwrap();
    let mut reply = content("mario@example.org", "Re: Buca");
    reply.references = vec!["Buca@mario@example.org".into()];
    let batch = vec![
        inbound("urp/9/1", Ok(content("mario@example.org", "Buca"))),
        inbound("urp/9/2", Ok(content("anna@example.org", "Rifiutata"))),
        inbound("urp/9/3", Ok(reply)),
        inbound("urp/9/4", Ok(content("luca@example.org", "Lampione"))),
    ];
    let confirm = |f: &crm::MailFiled| {
        let mut m = confirmation(f.ticket, &f.number);
        if f.title == "Rifiutata" {
            m.attachments = vec![NewAttachment {
                filename: "big.bin".into(),
                content_type: "application/octet-stream".into(),
                content: vec![0; crm::OUTGOING_ATTACHMENTS_MAX_BYTES + 1],
            }];
        }
        Some(m)
    };
    let results = store.file_mails_with(&batch, WEEK, confirm).await.unwrap();
    assert_eq!(results.len(), 4);
    let first = results[0].as_ref().unwrap();
    assert!(first.opened);
    assert!(matches!(
        results[1],
        Err(crm::Error::Invalid {
            what: "attachments",
            ..
        })
    ));
    let joined = results[2].as_ref().unwrap();
    assert!(!joined.opened, "the reply joins its batch-mate's ticket");
    assert_eq!(joined.ticket, first.ticket);
    assert!(results[3].as_ref().unwrap().opened);
    // The refused message left nothing: no filing, no ticket, no mail.
    assert!(store.mail_filing("urp/9/2").await.unwrap().is_none());
    assert!(store.mail_filing("urp/9/1").await.unwrap().is_some());
    let outbox = store.outbox(None, 50).await.unwrap();
    assert_eq!(outbox.len(), 2, "two confirmations: {outbox:?}");
    let titles: Vec<String> = store
        .stored_mail_list()
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.source_key)
        .collect();
    assert_eq!(titles.len(), 3, "{titles:?}");

    // Filed again (a crash before `\Seen`): the same answers, nothing new.
    let again = store
        .file_mails_with(&batch[..1], WEEK, confirm)
        .await
        .unwrap();
    assert_eq!(again[0].as_ref().unwrap().ticket, first.ticket);
    let again = store
        .file_mails_with(&[batch[0].clone(), batch[3].clone()], WEEK, confirm)
        .await
        .unwrap();
    assert!(again.iter().all(|r| r.is_ok()));
    assert_eq!(store.outbox(None, 50).await.unwrap().len(), 2);
    assert_eq!(store.mail_count().await.unwrap(), 3);
}
both!(a_batch_keeps_what_it_can_and_rolls_back_one_refusal);
