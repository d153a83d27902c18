//! The agent's e-mail desk end to end (issue 16), every part real: postfix and dovecot
//! started by the mail harness (`crates/mail/tests/common/mod.rs`), the real `centralino
//! serve` (demo configuration plus `[mail]` pointing at them, mailbox `urp` → queue
//! `cittadini`), a headless Chromium as the agent.
//!
//! 1. A citizen's message goes over SMTP to postfix, is delivered to dovecot, fetched by
//!    centralino and opens a ticket; the confirmation with its number reaches the citizen.
//! 2. The agent opens the ticket on the desktop and replies from its reply box; the reply
//!    arrives in the citizen's mailbox (read over IMAP) tagged `[Ticket#N]`, threaded on the
//!    citizen's message and quoting it.
//! 3. The citizen answers the reply; the answer lands on the same ticket.
//! 4. The relay is stopped and the agent replies again: the outbox shows the mail waiting to
//!    be retried with the error; the relay returns and the mail arrives.
//! 5. A pending reminder comes due on the server: the agent's desktop is told
//!    (`ticket.reminder`) and the citizen gets the reminder mail.
//! 6. The ticket is closed: the closure mail arrives, once.
//! 7. The administrator sees the outbox (the delayed reply, sent) and the templates on the
//!    site page; an edit with an unknown placeholder is refused with the server's reason.
//!
//! Agents' notifications (R-SR-9) run through it: before the citizen writes, the agent opts
//! in on the desktop's "Notifications" tab (new requests and the citizen's updates in
//! `cittadini`, on the desktop and by e-mail to their own mailbox). The new ticket and the
//! citizen's answer each show up in the desktop's notices (a click opens the ticket) and
//! arrive in the agent's mailbox, linked to the desktop, once.
//!
//! Every wait polls a condition with a deadline. Needs root (postfix, dovecot), the Debian
//! packages of the mail harness, `chromium` and `chromium-driver`.

mod common;

#[path = "../crates/mail/tests/common/mod.rs"]
mod mail_system;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::web::Browser;
use common::*;
use futures_util::TryStreamExt;
use mail_system::{MailSystem, PASSWORD};

const TEST: &str = "e2e_mail_desk";
const WAIT: Duration = Duration::from_secs(20);
/// The outbox retries 30 s after a first failure (mail::outbox::RetryPolicy::default).
const RETRY_WAIT: Duration = Duration::from_secs(75);

/// Sends `raw` over plain SMTP to the relay on loopback (what a citizen's provider does).
fn smtp_send(port: u16, from: &str, to: &str, raw: &str) {
    let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to postfix");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut w = stream.try_clone().unwrap();
    let mut r = BufReader::new(stream);
    let mut expect = |code: &str| loop {
        let mut line = String::new();
        r.read_line(&mut line).expect("SMTP answer");
        assert!(line.starts_with(code), "expected {code}, got {line:?}");
        if line.as_bytes().get(3) == Some(&b' ') {
            break;
        }
    };
    expect("220");
    for (cmd, code) in [
        ("EHLO citizen.example.test".to_string(), "250"),
        (format!("MAIL FROM:<{from}>"), "250"),
        (format!("RCPT TO:<{to}>"), "250"),
        ("DATA".to_string(), "354"),
    ] {
        write!(w, "{cmd}\r\n").unwrap();
        expect(code);
    }
    let body = raw.replace("\r\n.", "\r\n..");
    write!(w, "{body}\r\n.\r\n").unwrap();
    expect("250");
    write!(w, "QUIT\r\n").unwrap();
}

/// Every message in `user`'s INBOX, read over IMAP (STARTTLS) and parsed.
fn inbox(sys: &MailSystem, user: &str) -> Vec<mail::Parsed> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let a = mail::imap::Account {
            host: "localhost".into(),
            port: sys.imap_port,
            security: mail::imap::Security::StartTls,
            user: user.into(),
            password: PASSWORD.into(),
            folder: "INBOX".into(),
            ca_pem: Some(sys.ca_pem.clone()),
            poll: Duration::from_secs(5),
        };
        let (mut s, _) = mail::imap::connect(&a).await.expect("IMAP login");
        let exists = s.select("INBOX").await.unwrap().exists;
        let mut out = Vec::new();
        if exists > 0 {
            let fetched: Vec<_> = s
                .fetch("1:*", "BODY.PEEK[]")
                .await
                .unwrap()
                .try_collect()
                .await
                .unwrap();
            for f in &fetched {
                if let Some(body) = f.body() {
                    out.push(mail::parse(body).expect("a readable message"));
                }
            }
        }
        let _ = s.logout().await;
        out
    })
}

/// Polls `check` until it gives a value, or fails with `what` and the mail logs.
fn until<T>(
    what: &str,
    limit: Duration,
    sys: &MailSystem,
    mut check: impl FnMut() -> Option<T>,
) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out: {what}\n{}",
            tail(&sys.logs(), 40)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn articles(server: &Server, token: &str, number: &str) -> Vec<serde_json::Value> {
    server.api_get(&format!("/api/v1/tickets/{number}"), token)["articles"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// The agent opens `number` on the desktop, writes `text` in the reply box and sends it.
fn reply_from_desktop(desk: &Browser, number: &str, text: &str) {
    desk.click("button[data-list=search]");
    desk.clear("#search-form [name=number]");
    desk.type_into("#search-form [name=number]", &format!("{number}\u{E007}"));
    desk.wait_js(
        "the ticket in the search results",
        &format!(
            "return !!document.querySelector('#ticket-list button[data-number=\"{number}\"]')"
        ),
        WAIT,
    );
    // A ticket already shown is marked, so the wait below sees the view drawn anew.
    desk.eval("const n = document.getElementById('ticket-number'); if (n) n.dataset.old = '1'; return true");
    desk.click(&format!("#ticket-list button[data-number=\"{number}\"]"));
    desk.wait_js(
        "the ticket with its labelled reply box",
        &format!(
            "const b = document.getElementById('reply-body'); \
             const n = document.getElementById('ticket-number'); \
             return !!n && !n.dataset.old && n.textContent.startsWith('{number}') \
               && !!b && document.querySelector('label[for=\"reply-body\"]')?.textContent.length > 0 \
               && document.getElementById('reply-quote').checked"
        ),
        WAIT,
    );
    // Keyboard only: the text typed in the focused box, then Tab past the quote box to the
    // Send button and Enter.
    let focused = desk.eval(
        "const b = document.getElementById('reply-body'); b.focus(); \
         return document.activeElement === b",
    );
    assert_eq!(focused, true);
    desk.press_keys(text);
    desk.wait_js(
        "the reply typed in its box",
        &format!("return document.getElementById('reply-body').value === {text:?}"),
        WAIT,
    );
    desk.press_keys("\u{E004}\u{E004}");
    let on_send = desk.eval("return document.activeElement.id");
    assert_eq!(on_send, "reply-send", "Tab reaches the Send button");
    desk.press_keys("\u{E007}");
    desk.wait_js(
        "the reply shown on the ticket as an e-mail sent",
        &format!(
            "return [...document.querySelectorAll('.articles article')].some((a) => \
               a.textContent.includes('email_out') && a.textContent.includes({text:?}))"
        ),
        WAIT,
    );
}

/// The agent chooses, on the desktop's Notifications tab: new requests and the citizen's
/// updates, in `cittadini`, on the desktop and by e-mail.
fn opt_in_on_the_desktop(desk: &Browser) {
    // The queues offered come with the event stream's first snapshot.
    desk.wait_js(
        "the desktop live",
        "return document.body.dataset.live === 'true'",
        WAIT,
    );
    desk.click("button[data-list=notifications]");
    desk.wait_js(
        "the notification choices",
        "return !!document.querySelector('#notify-form input[name=queue][value=cittadini]')",
        WAIT,
    );
    for css in [
        "#notify-form input[name=kind][value=created]",
        "#notify-form input[name=kind][value=customer_update]",
        "#notify-form input[name=queue][value=cittadini]",
        "#notify-form input[name=email]",
    ] {
        desk.click(css);
    }
    desk.type_into("#notify-form input[name=address]", "operatore@example.test");
    desk.click("#notify-form button[type=submit]");
    desk.wait_js(
        "the choices saved",
        "return document.getElementById('status').textContent.includes('notifiche') \
           || document.getElementById('status').textContent.includes('Notification')",
        WAIT,
    );
    desk.click("button[data-list=queues]");
}

/// A notice of `kind` about `number` is listed on the desktop; clicking it opens the ticket.
fn notice_on_the_desktop(desk: &Browser, number: &str, kind: &str) {
    let css = format!("#notices button[data-number=\"{number}\"][data-kind=\"{kind}\"]");
    desk.wait_js(
        &format!("the desktop's {kind} notice"),
        &format!("return !!document.querySelector('{css}')"),
        WAIT,
    );
    desk.click(&css);
    desk.wait_js(
        "the ticket opened from the notice",
        &format!(
            "const n = document.getElementById('ticket-number'); \
             return !!n && n.textContent.startsWith('{number}')"
        ),
        WAIT,
    );
}

#[test]
fn citizen_mail_agent_reply_from_the_desktop_answer_and_a_relay_outage() {
    if !require_root(TEST) {
        return;
    }
    let mut sys = MailSystem::start(&["urp", "mario", "operatore"]);
    let pw = sys.path().join("urp.pw");
    std::fs::write(&pw, PASSWORD).unwrap();
    let ca = sys.path().join("ca.pem");
    std::fs::write(&ca, &sys.ca_pem).unwrap();
    let server = Server::start_demo(&format!(
        "\n[mail]\nfrom = \"URP Comune <urp@comune.test>\"\nlanguage = \"it\"\n\
         quote_replies = true\nsweep_seconds = 1\n\
         desktop_url = \"http://127.0.0.1/desktop\"\n\
         [mail.smtp]\nhost = \"localhost\"\nport = {smtp}\ntls = \"starttls\"\nca_file = \"{ca}\"\n\
         [[mail.mailbox]]\nname = \"urp\"\nhost = \"localhost\"\nport = {imap}\ntls = \"starttls\"\n\
         user = \"urp\"\npassword_file = \"{pw}\"\nca_file = \"{ca}\"\nqueue = \"cittadini\"\n\
         poll_seconds = 1\n",
        smtp = sys.smtp_port,
        imap = sys.imap_port,
        ca = ca.display(),
        pw = pw.display(),
    ));
    let agent = server.login("1001", "demo1001");
    let admin = server.login("admin", "demo-admin");

    // 0. The agent opts in to notifications on the desktop (keyboard-reachable checkboxes).
    let desk = Browser::start();
    desk.login(&server, "/desktop", "1001", "demo1001", "/desktop");
    opt_in_on_the_desktop(&desk);
    let prefs = server.api_get("/api/v1/users/1001/notifications", &agent);
    assert_eq!(
        prefs,
        serde_json::json!({"kinds": ["created", "customer_update"], "queues": ["cittadini"],
                           "desktop": true, "email": true, "address": "operatore@example.test"})
    );

    // 1. The citizen writes; a ticket opens; the confirmation with the number comes back.
    smtp_send(
        sys.smtp_port,
        "mario@example.test",
        "urp@comune.test",
        "From: Mario Rossi <mario@example.test>\r\nTo: urp@comune.test\r\n\
         Subject: Buca in via Verdi\r\nMessage-ID: <citizen-1@example.test>\r\n\
         Date: Thu, 03 Dec 2026 09:00:00 +0000\r\n\r\n\
         Buongiorno, in via Verdi 12 c'e' una buca pericolosa.\r\nMario Rossi\r\n",
    );
    let number = until("the e-mail's ticket", WAIT, &sys, || {
        let found = server.api_get("/api/v1/tickets?channel=email&queue=cittadini", &agent);
        found["tickets"]
            .as_array()?
            .iter()
            .find(|t| t["title"] == "Buca in via Verdi")
            .and_then(|t| t["number"].as_str().map(str::to_string))
    });
    let tag = format!("[Ticket#{number}]");
    until("the confirmation in mario's mailbox", WAIT, &sys, || {
        inbox(&sys, "mario")
            .into_iter()
            .find(|m| m.subject.starts_with(&tag) && m.text.contains(&number))
    });

    // The agent was told of the new request: on the desktop and in their mailbox.
    notice_on_the_desktop(&desk, &number, "created");
    let told = until("the agent's notification mail", WAIT, &sys, || {
        inbox(&sys, "operatore")
            .into_iter()
            .find(|m| m.subject.contains(&number) && m.subject.contains("Nuova richiesta"))
    });
    assert!(
        !told.subject.contains("[Ticket#"),
        "an agent's answer must not land on the citizen's ticket: {}",
        told.subject
    );
    assert!(
        told.text
            .contains(&format!("http://127.0.0.1/desktop#ticket={number}")),
        "{}",
        told.text
    );

    // 2. The agent replies from the desktop; the reply reaches the citizen tagged, threaded
    //    on their message and quoting it.
    reply_from_desktop(
        &desk,
        &number,
        "Gentile Mario, la buca sarà chiusa entro domani.",
    );
    desk.screenshot(TEST, "0-replied");
    let reply = until("the reply in mario's mailbox", WAIT, &sys, || {
        inbox(&sys, "mario")
            .into_iter()
            .find(|m| m.text.contains("la buca sarà chiusa entro domani"))
    });
    assert_eq!(reply.subject, format!("{tag} Re: Buca in via Verdi"));
    assert_eq!(reply.in_reply_to, ["citizen-1@example.test"]);
    assert!(
        reply
            .text
            .contains("> Buongiorno, in via Verdi 12 c'e' una buca pericolosa."),
        "quoted: {}",
        reply.text
    );
    let reply_id = reply.message_id.clone().expect("the reply's Message-ID");

    // 3. The citizen answers; the answer lands on the same ticket.
    smtp_send(
        sys.smtp_port,
        "mario@example.test",
        "urp@comune.test",
        &format!(
            "From: Mario Rossi <mario@example.test>\r\nTo: urp@comune.test\r\n\
             Subject: Re: {tag} Re: Buca in via Verdi\r\nMessage-ID: <citizen-2@example.test>\r\n\
             In-Reply-To: <{reply_id}>\r\nReferences: <citizen-1@example.test> <{reply_id}>\r\n\
             Date: Thu, 03 Dec 2026 09:30:00 +0000\r\n\r\nGrazie, attendo notizie.\r\n"
        ),
    );
    until("the answer on the same ticket", WAIT, &sys, || {
        articles(&server, &agent, &number)
            .iter()
            .any(|a| {
                a["kind"] == "email_in"
                    && a["body"].as_str().unwrap_or("").contains("attendo notizie")
            })
            .then_some(())
    });
    // The agent is told the citizen wrote again (desktop and mail).
    notice_on_the_desktop(&desk, &number, "customer_update");
    until("the customer-update notification mail", WAIT, &sys, || {
        inbox(&sys, "operatore")
            .into_iter()
            .find(|m| m.subject.contains(&number) && m.subject.contains("Il cittadino ha scritto"))
    });
    let email_tickets = server.api_get("/api/v1/tickets?channel=email&queue=cittadini", &agent);
    assert_eq!(
        email_tickets["total"], 1,
        "no second ticket: {email_tickets}"
    );

    // 4. The relay stops during a reply: the outbox shows it waiting; it leaves on return.
    sys.stop_relay();
    reply_from_desktop(&desk, &number, "Intervento programmato per domattina.");
    let waiting = until("the reply waiting for a retry", WAIT, &sys, || {
        let out = server.api_get("/api/v1/admin/mail/outbox?state=retry", &admin);
        out["mails"]
            .as_array()?
            .iter()
            .find(|m| m["kind"] == "reply" && m["ticket"] == number.as_str())
            .cloned()
    });
    assert!(waiting["failures"].as_u64().unwrap() >= 1, "{waiting}");
    assert!(waiting["last_error"].is_string(), "{waiting}");
    assert!(waiting["next_attempt"].is_string(), "{waiting}");
    sys.start_relay();
    until(
        "the delayed reply in mario's mailbox",
        RETRY_WAIT,
        &sys,
        || {
            inbox(&sys, "mario")
                .into_iter()
                .find(|m| m.text.contains("Intervento programmato per domattina."))
        },
    );
    let out = server.api_get("/api/v1/admin/mail/outbox?state=sent", &admin);
    assert!(
        out["mails"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["id"] == waiting["id"]),
        "{out}"
    );

    // 5. A pending reminder comes due on the server: the agent's desktop says so, the
    //    citizen gets the reminder.
    let until = chrono::Utc::now() + chrono::TimeDelta::seconds(3);
    let (status, body) = server
        .http(
            "PUT",
            &format!("/api/v1/tickets/{number}/state"),
            Some(&agent),
            Some(&format!(
                r#"{{"state":"pending_reminder","pending_until":"{}"}}"#,
                until.to_rfc3339()
            )),
        )
        .unwrap();
    assert_eq!(status, 200, "{body}");
    desk.wait_js(
        "the reminder on the agent's status line",
        &format!("return document.getElementById('status').textContent.includes('{number}')"),
        WAIT,
    );
    until_mail(&sys, &tag, "In attesa di sua risposta");

    // 6. Closed: the closure mail, once.
    let (status, body) = server
        .http(
            "PUT",
            &format!("/api/v1/tickets/{number}/state"),
            Some(&agent),
            Some(r#"{"state":"closed_successful"}"#),
        )
        .unwrap();
    assert_eq!(status, 200, "{body}");
    until_mail(&sys, &tag, "Richiesta chiusa");

    // 7. The administrator's page: the outbox with the reply that waited, now sent; a template
    //    edit with an unknown placeholder refused with the server's reason.
    let boss = Browser::start();
    boss.login(&server, "/admin/site", "admin", "demo-admin", "/admin/site");
    boss.wait_js(
        "the delayed reply in the outbox section, sent",
        &format!(
            "return !!document.querySelector('#outbox tr[data-mail=\"{}\"][data-state=\"sent\"]')",
            waiting["id"]
        ),
        WAIT,
    );
    boss.wait_js(
        "the closure template's editor, labelled",
        "return !!document.querySelector('form[data-template=\"closure/it\"] textarea') \
           && !!document.querySelector('label[for=\"tpl-closure-it-body\"]')",
        WAIT,
    );
    boss.eval(
        "const f = document.querySelector('form[data-template=\"closure/it\"]'); \
         f.body.value = 'Richiesta {{nmber}} chiusa.'; f.requestSubmit(); return true",
    );
    let said = boss.wait_js(
        "the refusal on the status line",
        "const s = document.getElementById('status').textContent; \
         return s.includes('nmber') && s",
        WAIT,
    );
    assert!(
        said.as_str().unwrap().contains("unknown placeholder"),
        "{said}"
    );
    boss.screenshot(TEST, "1-admin-mail");
    let stored = server.api_get("/api/v1/admin/mail/templates/closure/it", &admin);
    assert_eq!(stored["edited"], false, "nothing stored: {stored}");
}

/// Waits for one mail tagged `tag` whose subject contains `subject` in mario's mailbox, and
/// checks there is only one.
fn until_mail(sys: &MailSystem, tag: &str, subject: &str) {
    until(&format!("{subject} in mario's mailbox"), WAIT, sys, || {
        inbox(sys, "mario")
            .into_iter()
            .find(|m| m.subject.starts_with(tag) && m.subject.contains(subject))
    });
    let n = inbox(sys, "mario")
        .iter()
        .filter(|m| m.subject.starts_with(tag) && m.subject.contains(subject))
        .count();
    assert_eq!(n, 1, "{subject}: once");
}
