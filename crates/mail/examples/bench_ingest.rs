//! Ingest benchmark: messages per second from an IMAP mailbox into tickets (issue 16 target:
//! ≥ 200/s). Starts the test mail system (dovecot + postfix, `tests/common`; needs root and
//! the Debian packages), appends N messages to the service's INBOX over IMAP, then times the
//! fetcher filing them all (FETCH by UID, parse, classify, one transaction each that opens
//! the ticket with its guest customer and queues the confirmation, then STORE \Seen), on
//! SQLite in a temp dir or on PostgreSQL (`--pg URL`, a database that exists and is empty).
//!
//! `cargo run --release -p mail --example bench_ingest -- [N] [--pg postgres://…] [--pg-async-commit]`
//!
//! `--pg-async-commit`: PostgreSQL with `database.postgres_synchronous_commit = false` (commits
//! return before the WAL flush, the durability class of SQLite's default).

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use chrono::Utc;
use mail::imap::{Account, Fetcher, Security, connect};
use mail::ingest::Ingest;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(2000);
    let pg = args
        .iter()
        .position(|a| a == "--pg")
        .and_then(|i| args.get(i + 1))
        .cloned();
    let sys = common::MailSystem::start(&["urp"]);
    let db = tempfile::tempdir().unwrap();
    let url = pg
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}?mode=rwc", db.path().join("crm.db").display()));
    let settings = crm::Settings {
        postgres_synchronous_commit: !args.iter().any(|a| a == "--pg-async-commit"),
        ..crm::Settings::default()
    };
    let store = crm::Store::connect_with(&url, settings).await.unwrap();
    store.create_queue("urp", false, Utc::now()).await.unwrap();
    let account = Account {
        host: "localhost".into(),
        port: sys.imaps_port,
        security: Security::Tls,
        user: "urp".into(),
        password: common::PASSWORD.into(),
        folder: "INBOX".into(),
        ca_pem: Some(sys.ca_pem.clone()),
        poll: Duration::from_secs(5),
    };
    let (mut session, _) = connect(&account).await.unwrap();
    let t = Instant::now();
    for i in 0..n {
        let raw = format!(
            "From: Cittadino {i} <c{i}@example.test>\r\nTo: urp@comune.test\r\n\
             Subject: Segnalazione {i}\r\nMessage-ID: <bench-{i}@example.test>\r\n\
             Content-Type: text/plain; charset=utf-8\r\n\r\n\
             Buongiorno, segnalo un lampione spento in via {i}. Grazie.\r\n"
        );
        session
            .append("INBOX", None, None, raw.as_bytes())
            .await
            .unwrap();
    }
    println!(
        "appended {n} messages in {:.2} s",
        t.elapsed().as_secs_f64()
    );
    let fetcher = Fetcher {
        account: account.clone(),
        ingest: Ingest {
            mailbox: "urp".into(),
            queue: "urp".into(),
            from: "urp@comune.test".into(),
            lang: mail::template::Lang::It,
            fax: mail::FaxRule::default(),
            reopen_within: Duration::from_secs(7 * 24 * 3600),
            message_id_domain: "centralino.test".into(),
            outbox: None,
            on_filed: None,
        },
        store: store.clone(),
    };
    let t = Instant::now();
    let filed = fetcher.round(&mut session).await.unwrap();
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(filed, n);
    assert_eq!(store.ticket_count().await.unwrap(), n as u64);
    assert_eq!(
        store.outbox(Some("queued"), u32::MAX).await.unwrap().len(),
        n
    );
    println!(
        "ingest: {n} messages → {n} tickets + {n} queued confirmations in {secs:.2} s = {:.0} messages/s ({})",
        n as f64 / secs,
        if pg.is_some() { "PostgreSQL" } else { "SQLite" }
    );
    let _ = session.logout().await;
    store.close().await;
}
