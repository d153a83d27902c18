//! E-mail end to end against a real mail system (dovecot + postfix, `common`): a citizen's
//! message goes over SMTP to the relay, is delivered by LMTP to the service's mailbox,
//! fetched over IMAPS (IDLE) and opens a ticket; the confirmation leaves through the outbox
//! over SMTP with STARTTLS and is read from the citizen's mailbox over IMAP; the answer lands
//! on the same ticket; with the relay stopped a reply waits and leaves when it returns; a PEC
//! envelope is unwrapped; an auto-reply is not answered.

mod common;

use std::time::Duration;

use chrono::Utc;
use common::{MailSystem, PASSWORD};
use crm::{Channel, OutgoingMail, Store};
use futures_util::TryStreamExt;
use mail::imap::{Account, Fetcher, Security, connect};
use mail::ingest::Ingest;
use mail::outbox::RetryPolicy;
use mail::smtp::{Relay, Sender};

const LIMIT: Duration = Duration::from_secs(30);

/// Sends raw bytes over SMTP (plain, from loopback) as a citizen's client would.
async fn send(port: u16, from: &str, to: &str, raw: &str) {
    use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor, address::Envelope};
    let t = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
        .port(port)
        .build();
    let env = Envelope::new(Some(from.parse().unwrap()), vec![to.parse().unwrap()]).unwrap();
    t.send_raw(&env, raw.as_bytes()).await.unwrap();
}

fn account(sys: &MailSystem, user: &str) -> Account {
    Account {
        host: "localhost".into(),
        port: sys.imaps_port,
        security: Security::Tls,
        user: user.into(),
        password: PASSWORD.into(),
        folder: "INBOX".into(),
        ca_pem: Some(sys.ca_pem.clone()),
        poll: Duration::from_secs(5),
    }
}

/// The subjects in a user's INBOX (read over IMAP with STARTTLS).
async fn subjects(sys: &MailSystem, user: &str) -> Vec<String> {
    let mut a = account(sys, user);
    a.port = sys.imap_port;
    a.security = Security::StartTls;
    let (mut s, _) = connect(&a).await.unwrap();
    s.select("INBOX").await.unwrap();
    let fetched: Vec<_> = s
        .fetch("1:*", "BODY.PEEK[HEADER.FIELDS (SUBJECT)]")
        .await
        .map(|st| st.try_collect::<Vec<_>>())
        .unwrap()
        .await
        .unwrap_or_default();
    let out = fetched
        .iter()
        .filter_map(|f| f.header())
        .map(|h| {
            mail_parser::MessageParser::default()
                .parse_headers(h)
                .and_then(|m| m.subject().map(str::to_string))
                .unwrap_or_default()
        })
        .collect();
    let _ = s.logout().await;
    out
}

/// Waits (bounded) until `check` holds; the servers and tasks run meanwhile.
async fn until<F, Fut>(what: &str, sys: &MailSystem, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + LIMIT;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out: {what}\n{}",
            sys.logs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_in_and_out_through_a_real_mail_system() {
    let mut sys = MailSystem::start(&["urp", "mario"]);
    let db = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", db.path().join("crm.db").display());
    let store = Store::connect(&url).await.unwrap();
    store.create_queue("urp", false, Utc::now()).await.unwrap();

    let ingest = Ingest {
        mailbox: "urp".into(),
        queue: "urp".into(),
        from: "URP <urp@comune.test>".into(),
        lang: mail::template::Lang::It,
        fax: mail::FaxRule::default(),
        reopen_within: Duration::from_secs(7 * 24 * 3600),
        message_id_domain: "centralino.test".into(),
        outbox: None,
        on_filed: None,
    };
    let relay = Relay {
        host: "localhost".into(),
        port: sys.smtp_port,
        security: mail::smtp::Security::StartTls,
        credentials: None,
        ca_pem: Some(sys.ca_pem.clone()),
        timeout: Duration::from_secs(5),
    };
    let policy = RetryPolicy {
        first: Duration::from_millis(200),
        cap: Duration::from_secs(1),
        give_up_after: Duration::from_secs(3600),
    };
    let sender = Sender::new(&relay, store.clone(), policy).unwrap();
    let wake = sender.wake.clone();
    let send_task = tokio::spawn(sender.run());
    let fetcher = Fetcher {
        account: account(&sys, "urp"),
        ingest: Ingest {
            outbox: Some(wake.clone()),
            on_filed: None,
            ..ingest
        },
        store: store.clone(),
    };
    let fetch_task = tokio::spawn(fetcher.run());

    // 1. A citizen writes: a ticket opens, channel e-mail, a guest with the address.
    send(
        sys.smtp_port,
        "mario@example.test",
        "urp@comune.test",
        "From: Mario Rossi <mario@example.test>\r\nTo: urp@comune.test\r\n\
         Subject: Buca in via Verdi\r\nMessage-ID: <m1@example.test>\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\nC'è una buca pericolosa.\r\n",
    )
    .await;
    until("the message is filed", &sys, || async {
        store.mail_count().await.unwrap() >= 1
    })
    .await;
    let first = store.stored_mail_list().await.unwrap();
    let t = store.ticket(first[0].ticket.unwrap()).await.unwrap();
    assert_eq!(t.channel, Channel::Email);
    assert_eq!(t.title, "Buca in via Verdi");
    let c = store
        .customer(t.customer.unwrap(), crm::Actor::System, Utc::now())
        .await
        .unwrap();
    assert_eq!(c.email.as_deref(), Some("mario@example.test"));

    // 2. The confirmation reaches the citizen with the tag.
    let tag = format!("[Ticket#{}]", t.number);
    until("the confirmation is in mario's INBOX", &sys, || async {
        subjects(&sys, "mario")
            .await
            .iter()
            .any(|s| s.contains(&tag))
    })
    .await;

    // 3. The citizen answers: the same ticket, no second confirmation.
    send(
        sys.smtp_port,
        "mario@example.test",
        "urp@comune.test",
        &format!(
            "From: mario@example.test\r\nTo: urp@comune.test\r\nSubject: R: {tag} Richiesta ricevuta\r\n\
             Message-ID: <m2@example.test>\r\n\r\nAggiungo una foto.\r\n"
        ),
    )
    .await;
    until("the answer is filed", &sys, || async {
        store.mail_count().await.unwrap() >= 2
    })
    .await;
    assert_eq!(
        store.ticket_count().await.unwrap(),
        1,
        "the answer joined the ticket"
    );
    let arts = store.articles(t.id).await.unwrap();
    assert!(arts.iter().any(|a| a.body.contains("Aggiungo una foto")));
    assert_eq!(
        store.outbox(None, 100).await.unwrap().len(),
        1,
        "one confirmation only"
    );

    // 4. The relay stops while a reply is queued: it waits, then leaves when the relay returns.
    sys.stop_relay();
    store
        .queue_mail(
            &OutgoingMail {
                dedup_key: "reply:test".into(),
                ticket: Some(t.id),
                message_id: "reply-1@centralino.test".into(),
                in_reply_to: Some("m2@example.test".into()),
                sender: "urp@comune.test".into(),
                recipient: "mario@example.test".into(),
                subject: format!("{tag} Risposta dell'ufficio"),
                body: "La buca sarà chiusa domani.".into(),
                attachments: Vec::new(),
            },
            Utc::now(),
        )
        .await
        .unwrap();
    wake.notify_one();
    until("the relay's refusal is recorded", &sys, || async {
        store
            .outbox(Some("retry"), 10)
            .await
            .unwrap()
            .iter()
            .any(|m| m.failures >= 1 && m.last_error.is_some())
    })
    .await;
    sys.start_relay();
    until("the reply reaches mario", &sys, || async {
        subjects(&sys, "mario")
            .await
            .iter()
            .any(|s| s.contains("Risposta dell'ufficio"))
    })
    .await;
    assert_eq!(store.outbox(Some("sent"), 10).await.unwrap().len(), 2);

    // 5. A PEC envelope: the ticket shows the original.
    let original = "From: Anna Bianchi <anna@example.test>\r\nTo: urp@comune.test\r\n\
        Subject: Richiesta accesso atti\r\nMessage-ID: <orig-1@example.test>\r\n\r\n\
        Chiedo copia della delibera 12/2026.\r\n";
    let envelope = format!(
        "From: \"Per conto di: anna@example.test\" <posta-certificata@example.test>\r\n\
         To: urp@comune.test\r\nSubject: POSTA CERTIFICATA: Richiesta accesso atti\r\n\
         Message-ID: <opec-1@example.test>\r\nX-Trasporto: posta-certificata\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"PEC\"\r\n\r\n\
         --PEC\r\nContent-Type: text/plain\r\n\r\nMessaggio di posta certificata.\r\n\
         --PEC\r\nContent-Type: application/xml; name=\"daticert.xml\"\r\n\
         Content-Disposition: inline; filename=\"daticert.xml\"\r\n\r\n\
         <postacert tipo=\"posta-certificata\"/>\r\n\
         --PEC\r\nContent-Type: message/rfc822; name=\"postacert.eml\"\r\n\
         Content-Disposition: inline; filename=\"postacert.eml\"\r\n\r\n{original}\r\n--PEC--\r\n"
    );
    send(
        sys.smtp_port,
        "posta-certificata@example.test",
        "urp@comune.test",
        &envelope,
    )
    .await;
    until("the PEC is filed", &sys, || async {
        store.mail_count().await.unwrap() >= 3
    })
    .await;
    let pec = store.ticket_count().await.unwrap();
    assert_eq!(pec, 2);
    let list = store.stored_mail_list().await.unwrap();
    let pec_mail = list
        .iter()
        .find(|m| m.raw.windows(11).any(|w| w == b"X-Trasporto"))
        .unwrap();
    let pt = store.ticket(pec_mail.ticket.unwrap()).await.unwrap();
    assert_eq!(pt.title, "Richiesta accesso atti");
    let pa = store.articles(pt.id).await.unwrap();
    assert!(pa[0].sender.contains("anna@example.test") && pa[0].body.contains("delibera 12/2026"));

    // 6. An auto-reply: filed, never answered.
    send(
        sys.smtp_port,
        "bot@example.test",
        "urp@comune.test",
        "From: bot@example.test\r\nTo: urp@comune.test\r\nSubject: Fuori ufficio\r\n\
         Auto-Submitted: auto-replied\r\nMessage-ID: <auto-1@example.test>\r\n\r\nSono in ferie.\r\n",
    )
    .await;
    // Waited for by what it is, not by a count: another message of the test (a bounce, a
    // confirmation coming back) can be the fourth filed before the auto-reply is.
    until("the auto-reply is filed", &sys, || async {
        store
            .stored_mail_list()
            .await
            .unwrap()
            .iter()
            .any(|m| m.class == "auto_reply")
    })
    .await;
    let auto = store.stored_mail_list().await.unwrap();
    let auto = auto
        .iter()
        .find(|m| m.class == "auto_reply")
        .expect("classified");
    assert!(auto.note.as_deref().unwrap().contains("never answered"));
    // Wait for the PEC's confirmation (answerable) to leave, then check nothing went to the bot.
    until("the PEC's confirmation leaves", &sys, || async {
        store.outbox(Some("sent"), 10).await.unwrap().len() == 3
    })
    .await;
    let outbox = store.outbox(None, 100).await.unwrap();
    assert!(
        outbox
            .iter()
            .all(|m| m.mail.recipient != "bot@example.test"),
        "{outbox:?}"
    );

    fetch_task.abort();
    send_task.abort();
    store.close().await;
}
