use std::collections::HashSet;
use std::future::Future;
use std::task::Poll;

use chrono::Duration;
use crm::{
    Action, Actor, Channel, Error, ImportedTicket, NewTicket, Priority, QueueId, Role, State,
    Store, TicketType, UserId,
};
use sqlx::Connection;

use crate::common::{both, t0, users};

async fn creates_with_otrs_numbers_in_raw(store: Store) {
    let raw = store.raw_queue().await.unwrap();
    let a = store
        .create_ticket(NewTicket::new("first", Channel::Phone), Actor::System, t0())
        .await
        .unwrap();
    let b = store
        .create_ticket(
            NewTicket::new("second", Channel::Email),
            Actor::System,
            t0(),
        )
        .await
        .unwrap();
    assert_eq!(a.number, "2026030242000015");
    assert_eq!(&b.number[..15], "202603024200002");
    assert!(crm::number::is_valid_number(&b.number));
    assert_eq!(a.queue, raw);
    assert_eq!(a.state, State::New);
    assert_eq!(a.priority, Priority::NORMAL);
    // The counter resets the next day.
    let c = store
        .create_ticket(
            NewTicket::new("tomorrow", Channel::Web),
            Actor::System,
            t0() + Duration::days(1),
        )
        .await
        .unwrap();
    assert_eq!(&c.number[..15], "202603034200001");
    assert_eq!(store.ticket_by_number(&b.number).await.unwrap(), b);
    let h = store.history(a.id).await.unwrap();
    assert_eq!(h.len(), 1);
    assert_eq!(h[0].kind, "created");
}
both!(creates_with_otrs_numbers_in_raw);

async fn numbers_unique_under_concurrency(store: Store) {
    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut numbers = Vec::new();
            for j in 0..10 {
                let t = store
                    .create_ticket(
                        NewTicket::new(format!("task {i} ticket {j}"), Channel::Phone),
                        Actor::System,
                        t0(),
                    )
                    .await
                    .unwrap();
                numbers.push(t.number);
            }
            numbers
        }));
    }
    let mut all = HashSet::new();
    for t in tasks {
        for n in t.await.unwrap() {
            assert!(all.insert(n.clone()), "duplicate number {n}");
        }
    }
    assert_eq!(all.len(), 80);
    let counters: HashSet<String> = all.iter().map(|n| n[10..15].to_string()).collect();
    let expected: HashSet<String> = (1..=80).map(|c| format!("{c:05}")).collect();
    assert_eq!(counters, expected, "counters are 1..=80 with no gaps");
}
both!(numbers_unique_under_concurrency);

/// Eight independent pools, as eight processes would have.
async fn numbers_unique_across_pools(store: Store) {
    let mut tasks = Vec::new();
    for i in 0..8 {
        let other = store.open_another().await.unwrap();
        tasks.push(tokio::spawn(async move {
            let mut numbers = Vec::new();
            for j in 0..5 {
                let t = other
                    .create_ticket(
                        NewTicket::new(format!("pool {i} ticket {j}"), Channel::Web),
                        Actor::System,
                        t0(),
                    )
                    .await
                    .unwrap();
                numbers.push(t.number);
            }
            other.close().await;
            numbers
        }));
    }
    let mut all = HashSet::new();
    for t in tasks {
        for n in t.await.unwrap() {
            assert!(all.insert(n.clone()), "duplicate number {n}");
        }
    }
    assert_eq!(all.len(), 40);
}
both!(numbers_unique_across_pools);

/// The number's day is the local (Europe/Rome) day: 23:30 UTC on 2 March is 3 March in Rome.
async fn number_day_is_local(store: Store) {
    let late = t0() + Duration::minutes(14 * 60 + 30);
    let t = store
        .create_ticket(NewTicket::new("late", Channel::Phone), Actor::System, late)
        .await
        .unwrap();
    assert_eq!(&t.number[..8], "20260303");
}
both!(number_day_is_local);

/// Every path that numbers a ticket at once — the API's creates from eight tasks, creates
/// from another pool (another process), bulk imports inside their own transactions — takes
/// the day's numbers 1, 2, 3, … with no gap, and in the order the rows were inserted.
async fn numbers_in_order_across_every_path(store: Store) {
    let mut tasks = tokio::task::JoinSet::new();
    let other = store.open_another().await.unwrap();
    for i in 0..10 {
        let store = if i < 8 { store.clone() } else { other.clone() };
        tasks.spawn(async move {
            let mut made = Vec::new();
            for j in 0..25 {
                let new = NewTicket::new(format!("writer {i} ticket {j}"), Channel::Phone);
                let t = store.create_ticket(new, Actor::System, t0()).await.unwrap();
                made.push((t.id, t.number));
            }
            made
        });
    }
    let importer = store.clone();
    tasks.spawn(async move {
        let mut made = Vec::new();
        for b in 0..10 {
            let batch: Vec<ImportedTicket> = (0..5)
                .map(|k| ImportedTicket {
                    ticket: NewTicket::new(format!("import {b}.{k}"), Channel::Email),
                    created: t0(),
                    articles: Vec::new(),
                    actions: Vec::new(),
                    first_contact: None,
                })
                .collect();
            for id in importer.import_tickets(&batch).await.unwrap() {
                made.push((id, importer.ticket(id).await.unwrap().number));
            }
        }
        made
    });
    let mut all = Vec::new();
    while let Some(made) = tasks.join_next().await {
        all.extend(made.unwrap());
    }
    other.close().await;
    all.sort();
    let counters: Vec<u64> = all
        .iter()
        .map(|(_, n)| n[10..15].parse().unwrap())
        .collect();
    let expected: Vec<u64> = (1..=300).collect();
    assert_eq!(
        counters, expected,
        "by id, the counters run 1..=300 with no gap"
    );
    for (id, number) in &all {
        let t = store.ticket(*id).await.unwrap();
        assert_eq!(&t.number, number);
        assert!(crm::number::is_valid_number(number));
        assert_eq!(store.history(*id).await.unwrap()[0].kind, "created");
    }
}
both!(numbers_in_order_across_every_path);

/// On PostgreSQL the API's creates are group-committed (crate::pg_writer): a create the
/// database refuses (a queue that does not exist) fails alone, and the others of its group
/// commit, numbered with no gap (that they commit in one transaction is the writer's own
/// test, `pg_writer::tests`).
///
/// Deterministic: the test holds the day's counter row, so the writer's first group (one
/// create, A) waits on it, which the test sees in `pg_stat_activity`; meanwhile B (refused),
/// C and D are queued (a create is queued by the first poll of its future); releasing the
/// row lets A commit, then B, C and D go as one group.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_create_fails_alone_in_its_group_postgres() {
    crate::common::run_postgres_with_admin(|store, admin_url, name| async move {
        let first = store
            .create_ticket(NewTicket::new("first", Channel::Phone), Actor::System, t0())
            .await
            .unwrap();
        let base = admin_url.rsplit_once('/').map(|(b, _)| b).unwrap();
        let mut holder = sqlx::PgConnection::connect(&format!("{base}/{name}"))
            .await
            .unwrap();
        let mut watcher = sqlx::PgConnection::connect(&admin_url).await.unwrap();
        sqlx::query("BEGIN").execute(&mut holder).await.unwrap();
        sqlx::query("SELECT counter FROM ticket_counter FOR UPDATE")
            .execute(&mut holder)
            .await
            .unwrap();

        let create = |title: &str, queue: Option<QueueId>| {
            let store = store.clone();
            let mut new = NewTicket::new(title, Channel::Phone);
            new.queue = queue;
            Box::pin(async move { store.create_ticket(new, Actor::System, t0()).await })
        };
        let a = tokio::spawn(create("A", None));
        // Wait for the writer's group of one to wait on the counter row.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let waiting: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM pg_stat_activity \
                 WHERE datname = $1 AND wait_event_type = 'Lock'",
            )
            .bind(&name)
            .fetch_one(&mut watcher)
            .await
            .unwrap();
            if waiting == 1 {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the writer never waited"
            );
            tokio::task::yield_now().await;
        }
        let mut queued = Vec::new();
        for (title, queue) in [("B", Some(QueueId(999_999))), ("C", None), ("D", None)] {
            let mut f = create(title, queue);
            let polled = std::future::poll_fn(|cx| Poll::Ready(f.as_mut().poll(cx))).await;
            assert!(polled.is_pending(), "{title} waits for the writer");
            queued.push(f);
        }
        sqlx::query("ROLLBACK").execute(&mut holder).await.unwrap();

        let a = a.await.unwrap().unwrap();
        let mut answers = Vec::new();
        for f in queued {
            answers.push(f.await);
        }
        let err = answers.remove(0).unwrap_err();
        assert!(matches!(err, Error::Database(_)), "{err}");
        assert!(!err.is_unavailable(), "refused, not unavailable: {err}");
        let c = answers.remove(0).unwrap();
        let d = answers.remove(0).unwrap();
        let counter = |t: &crm::Ticket| t.number[10..15].to_string();
        let counters = [&first, &a, &c, &d].map(counter);
        assert_eq!(
            counters,
            ["00001", "00002", "00003", "00004"],
            "no gap for B"
        );
        assert_eq!(store.ticket_count().await.unwrap(), 4);
        assert_eq!(store.ticket(c.id).await.unwrap(), c);
        assert_eq!(store.history(d.id).await.unwrap()[0].kind, "created");
    })
    .await
}

async fn life_cycle_is_enforced_and_recorded(store: Store) {
    let q2 = store.create_queue("tecnica", false, t0()).await.unwrap();
    let t = store
        .create_ticket(
            NewTicket::new("printer", Channel::Phone),
            Actor::System,
            t0(),
        )
        .await
        .unwrap();
    let ids = users(&store, &[Role::AgentFirstLevel, Role::AgentFirstLevel]).await;
    let (alice, bob) = (Actor::User(ids[0]), Actor::User(ids[1]));
    let raw = store.raw_queue().await.unwrap();
    let t1 = t0() + Duration::minutes(1);
    let t = store.act(t.id, alice, Action::Lock, t1).await.unwrap();
    assert_eq!(
        (t.state, t.locked, t.owner),
        (State::Open, true, Some(ids[0]))
    );
    let err = store
        .act(t.id, bob, Action::Move(q2.id), t1)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Lifecycle(_)), "{err}");
    let t = store
        .act(t.id, alice, Action::Move(q2.id), t1)
        .await
        .unwrap();
    assert_eq!(t.queue, q2.id);
    let t = store
        .act(
            t.id,
            alice,
            Action::SetType(TicketType::TechnicalProblem),
            t1,
        )
        .await
        .unwrap();
    assert_eq!(t.ticket_type, TicketType::TechnicalProblem);
    let until = t1 + Duration::hours(2);
    let t = store
        .act(t.id, alice, Action::Pending { until }, t1)
        .await
        .unwrap();
    assert_eq!(t.pending_until, Some(until));
    assert!(store.due_reminders(t1).await.unwrap().is_empty());
    let due = store.due_reminders(until).await.unwrap();
    assert_eq!(due.len(), 1);
    assert!(store.take_due_reminders(t1).await.unwrap().is_empty());
    let sent = store.take_due_reminders(until).await.unwrap();
    assert_eq!(sent.len(), 1);
    assert!(
        store.take_due_reminders(until).await.unwrap().is_empty(),
        "once"
    );
    let reminder = store.history(t.id).await.unwrap().pop().unwrap();
    assert_eq!(reminder.kind, "reminder");
    assert_eq!(reminder.new, Some(ids[0].to_string()));
    let t = store
        .act(t.id, alice, Action::Close { successful: true }, until)
        .await
        .unwrap();
    assert_eq!(t.state, State::ClosedSuccessful);
    assert_eq!(t.closed, Some(until));
    assert!(!t.locked);
    assert_eq!(t.pending_until, None);
    let err = store
        .act(
            t.id,
            alice,
            Action::Pending {
                until: until + Duration::hours(1),
            },
            until,
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("reopen it first"), "{err}");
    let t = store.act(t.id, bob, Action::Open, until).await.unwrap();
    assert_eq!((t.state, t.closed), (State::Open, None));

    type Row = (String, Option<String>, Option<String>, Option<UserId>);
    let kinds: Vec<Row> = store
        .history(t.id)
        .await
        .unwrap()
        .into_iter()
        .map(|h| (h.kind, h.old, h.new, h.actor))
        .collect();
    let s = |v: &str| Some(v.to_string());
    let a = Some(ids[0]);
    assert!(kinds.contains(&("lock".into(), s("unlock"), s("lock"), a)));
    assert!(kinds.contains(&("state".into(), s("new"), s("open"), a)));
    let (rq, q2q) = (raw.0.to_string(), q2.id.0.to_string());
    assert!(kinds.contains(&("queue".into(), s(&rq), s(&q2q), a)));
    let reopened = (
        "state".into(),
        s("closed_successful"),
        s("open"),
        Some(ids[1]),
    );
    assert!(kinds.contains(&reopened));
}
both!(life_cycle_is_enforced_and_recorded);

#[tokio::test]
async fn connect_with_defaults_and_refuse_unknown_urls() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("d.db").display());
    let store = Store::connect(&url).await.unwrap();
    assert_eq!(store.backend(), crm::Backend::Sqlite);
    store.migrate().await.unwrap(); // idempotent
    let t = store
        .create_ticket(NewTicket::new("x", Channel::Fax), Actor::System, t0())
        .await
        .unwrap();
    assert_eq!(&t.number[8..10], "10", "OTRS default system id");
    store.close().await;
    let err = Store::connect("mysql://localhost/x").await.unwrap_err();
    assert!(
        err.to_string()
            .contains("expected `sqlite:…` or `postgres://…`"),
        "{err}"
    );
}

/// SQLite's automatic checkpoint is off (it would run inside whichever commit fills the log,
/// making that caller wait for its fsyncs); the store's own checkpoint thread folds the log
/// into the database file instead, within a second or two and with no help from the test.
#[tokio::test]
async fn the_write_ahead_log_is_folded_in_by_the_checkpoint_thread() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("d.db");
    let store = Store::connect(&format!("sqlite://{}?mode=rwc", db.display()))
        .await
        .unwrap();
    let before = std::fs::metadata(&db).unwrap().len();
    for n in 0..200 {
        let new = NewTicket::new(format!("ticket {n}"), Channel::Phone);
        store.create_ticket(new, Actor::System, t0()).await.unwrap();
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let after = std::fs::metadata(&db).unwrap().len();
        if after > before {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the database file stayed at {before} bytes: nothing checkpointed in 10 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    store.close().await;
}

/// The PostgreSQL ticket writer's connection, closed by the server while idle (a restart,
/// an administrator), costs no create: the next group finds it gone at BEGIN and goes
/// again on a fresh connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_survives_the_writer_connection_closed_while_idle_postgres() {
    crate::common::run_postgres_with_admin(|store, admin_url, name| async move {
        let new = || NewTicket::new("t", Channel::Phone);
        let first = store
            .create_ticket(new(), Actor::System, t0())
            .await
            .unwrap();
        let mut admin = sqlx::PgConnection::connect(&admin_url).await.unwrap();
        // Waits (up to 10 s) for the backend to be gone.
        let ended: Vec<bool> = sqlx::query_scalar(
            "SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity \
             WHERE datname = $1 AND application_name = 'crm-ticket-writer'",
        )
        .bind(&name)
        .fetch_all(&mut admin)
        .await
        .unwrap();
        assert_eq!(ended, [true], "one writer connection, ended");
        let second = store
            .create_ticket(new(), Actor::System, t0())
            .await
            .unwrap();
        assert_eq!(&first.number[10..15], "00001");
        assert_eq!(&second.number[10..15], "00002");
    })
    .await
}
