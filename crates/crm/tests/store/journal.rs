//! R-SR-12: with the database away, call writes go to the journal; when it is back they are
//! replayed in order before newer writes. "Away" is a database that does not exist yet: a
//! SQLite file not created (`mode=rw`), a PostgreSQL database not created; "back" creates it.

use std::future::Future;
use std::path::PathBuf;

use chrono::Duration;
use crm::{
    AnsweredCall, CallWrite, JournaledStore, NewCall, QueueEvent, QueueEventKind, Store,
    TicketType, Written,
};
use sqlx::Connection;

use crate::common::{settings, t0};

async fn outage_then_replay<F, Fut>(lazy: Store, journal: PathBuf, bring_up: F)
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = ()>,
{
    let js = JournaledStore::new(lazy, &journal);
    let call = NewCall {
        call_id: "c-j1".into(),
        sip_call_id: None,
        caller: "+390600000001".into(),
        dialled: "800100200".into(),
        started: t0(),
    };
    let w = js.write(CallWrite::StartCall(call)).await.unwrap();
    assert_eq!(w, Written::Journaled);
    let step = CallWrite::IvrStep {
        call_id: "c-j1".into(),
        step: "menu:1".into(),
    };
    assert_eq!(js.write(step).await.unwrap(), Written::Journaled);
    assert_eq!(js.pending().unwrap(), 2);
    assert!(journal.exists());
    let r = js.replay().await.unwrap();
    assert_eq!((r.applied, r.pending), (0, 2), "still away");

    bring_up().await;

    // The next write replays the journal first, then applies itself.
    let enter = QueueEvent {
        call_id: "c-j1".into(),
        queue: "raw".into(),
        at: t0() + Duration::seconds(5),
        kind: QueueEventKind::Enter,
        agent: None,
        detail: None,
    };
    let w = js.write(CallWrite::QueueEvent(enter)).await.unwrap();
    assert_eq!(w, Written::Applied(None));
    assert_eq!(js.pending().unwrap(), 0);
    assert!(!journal.exists());
    let raw = js.store().raw_queue().await.unwrap();
    let answered = AnsweredCall {
        queue: raw,
        agent: None,
        agent_login: None,
        answered: t0() + Duration::seconds(9),
        wait_ms: 4_000,
        title: "call".into(),
        ticket_type: TicketType::InformationRequest,
        service_area: Some("1".into()),
    };
    let w = js
        .write(CallWrite::OpenTicket {
            call_id: "c-j1".into(),
            answered,
            now: t0() + Duration::seconds(9),
        })
        .await
        .unwrap();
    let Written::Applied(Some(ticket)) = w else {
        panic!("expected a ticket, got {w:?}")
    };
    let card = js.store().call("c-j1").await.unwrap();
    assert_eq!(card.ivr_path, ["menu:1"]);
    assert_eq!(card.ticket, Some(ticket.id));
    // The enter row; the connect row comes from the event log's queue.connected.
    let events = js.store().queue_events("c-j1").await.unwrap();
    assert_eq!(events.len(), 1);
    // A refusal is an error, not a journal entry.
    let unknown = CallWrite::IvrStep {
        call_id: "nope".into(),
        step: "x".into(),
    };
    assert!(js.write(unknown).await.is_err());
    assert_eq!(js.pending().unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("crm.db");
    let lazy = Store::connect_lazy_with(&format!("sqlite://{}?mode=rw", db.display()), settings())
        .unwrap();
    let create = format!("sqlite://{}?mode=rwc", db.display());
    outage_then_replay(lazy, dir.path().join("journal.jsonl"), || async move {
        Store::connect_with(&create, settings())
            .await
            .unwrap()
            .close()
            .await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    sqlx::any::install_default_drivers();
    let admin_url = std::env::var("CENTRALINO_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string());
    let name = format!("crm_test_{:016x}", rand::random::<u64>());
    let base = admin_url.rsplit_once('/').map(|(b, _)| b).unwrap();
    let lazy = Store::connect_lazy_with(&format!("{base}/{name}"), settings()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (admin, db) = (admin_url.clone(), name.clone());
    let run = tokio::spawn(async move {
        outage_then_replay(lazy, dir.path().join("journal.jsonl"), || async move {
            let mut c = sqlx::AnyConnection::connect(&admin).await.unwrap();
            sqlx::query(&format!("CREATE DATABASE {db}"))
                .execute(&mut c)
                .await
                .unwrap();
        })
        .await
    })
    .await;
    let mut c = sqlx::AnyConnection::connect(&admin_url).await.unwrap();
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut c)
        .await
        .unwrap();
    if let Err(e) = run {
        std::panic::resume_unwind(e.into_panic());
    }
}

/// PostgreSQL stops taking connections mid-run (and drops the open ones): writes are
/// journaled; when it takes connections again they are replayed in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_mid_run() {
    crate::common::run_postgres_with_admin(|store, admin, name| async move {
        let js = JournaledStore::new(store, std::env::temp_dir().join(format!("{name}.jsonl")));
        let call = |id: &str| NewCall {
            call_id: id.into(),
            sip_call_id: None,
            caller: "+390600000002".into(),
            dialled: "800100200".into(),
            started: t0(),
        };
        let w = js.write(CallWrite::StartCall(call("c-m1"))).await.unwrap();
        assert_eq!(w, Written::Applied(None));
        let mut c = sqlx::AnyConnection::connect(&admin).await.unwrap();
        let stop = [
            format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false"),
            format!(
                "SELECT pg_terminate_backend(pid)::text FROM pg_stat_activity WHERE datname = '{name}'"
            ),
        ];
        for sql in &stop {
            sqlx::query(sql).execute(&mut c).await.unwrap();
        }
        for step in ["menu:2", "pin:ok", "sub:1"] {
            let w = js
                .write(CallWrite::IvrStep {
                    call_id: "c-m1".into(),
                    step: step.into(),
                })
                .await
                .unwrap();
            assert_eq!(w, Written::Journaled, "{step}");
        }
        assert_eq!(js.pending().unwrap(), 3);
        sqlx::query(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true"))
            .execute(&mut c)
            .await
            .unwrap();
        let r = js.replay().await.unwrap();
        assert_eq!((r.applied, r.rejected, r.pending), (3, 0, 0));
        let card = js.store().call("c-m1").await.unwrap();
        assert_eq!(card.ivr_path, ["menu:2", "pin:ok", "sub:1"]);
    })
    .await;
}

/// A journal a crash and a bad disk left behind: a corrupt line in the middle and a record
/// cut in half at the end. Before, the whole journal was unreadable and every later call
/// write failed; now the good records are replayed in order, the bad lines are kept in the
/// rejected file, and the next write is applied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_and_a_torn_line_never_block_the_rest() {
    crate::common::run_sqlite(|store| async move {
        let dir = tempfile::tempdir().unwrap();
        let journal = dir.path().join("calls.jsonl");
        let call = |id: &str| {
            CallWrite::StartCall(NewCall {
                call_id: id.into(),
                sip_call_id: None,
                caller: "+390600000003".into(),
                dialled: "800100200".into(),
                started: t0(),
            })
        };
        let step = |id: &str, s: &str| CallWrite::IvrStep {
            call_id: id.into(),
            step: s.into(),
        };
        let json = |w: &CallWrite| serde_json::to_string(w).unwrap();
        let torn = json(&step("c-t2", "menu:9"));
        let torn = &torn[..torn.len() - 7];
        std::fs::write(
            &journal,
            format!(
                "{}\n{{\"op\":\"ivr_st\n{}\n{}\n{torn}",
                json(&call("c-t1")),
                json(&step("c-t1", "menu:1")),
                json(&call("c-t2")),
            ),
        )
        .unwrap();
        let js = JournaledStore::new(store, &journal);
        assert_eq!(js.pending().unwrap(), 3);
        let w = js.write(step("c-t2", "menu:4")).await.unwrap();
        assert_eq!(w, Written::Applied(None));
        assert_eq!(js.pending().unwrap(), 0);
        assert_eq!(js.store().call("c-t1").await.unwrap().ivr_path, ["menu:1"]);
        assert_eq!(js.store().call("c-t2").await.unwrap().ivr_path, ["menu:4"]);
        let rejected = std::fs::read_to_string(journal.with_extension("rejected")).unwrap();
        let kept: Vec<&str> = rejected.lines().collect();
        assert_eq!(kept.len(), 2, "{rejected}");
        assert!(kept.contains(&"{\"op\":\"ivr_st") && kept.contains(&torn));
    })
    .await;
}

/// The database is away (another connection holds SQLite's write lock) while calls keep
/// writing: each write waits out the database's timeout, so writes pile up. The queue in
/// front of the journal keeps at most its limit in memory and spills the rest to disk; when
/// the lock is released every write is in the database, once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn during_an_outage_the_write_queue_stays_bounded_and_loses_nothing() {
    use crm::{Queued, write_queue::spill_path};
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("crm.db").display());
    let mut s = settings();
    s.acquire_timeout = std::time::Duration::from_millis(100);
    let store = Store::connect_with(&url, s).await.unwrap();
    let journal = dir.path().join("calls.jsonl");
    let js = Arc::new(JournaledStore::new(store.clone(), &journal).with_queue_limit(4));
    let (queue, mut reader) = js.write_queue().unwrap();
    // The one task applying writes, as the call-card writer does.
    let applier = tokio::spawn({
        let js = js.clone();
        async move {
            while let Some(item) = reader.pop().await {
                match item {
                    Queued::Write(w) => {
                        js.write(w).await.unwrap();
                    }
                    Queued::Awaited(w, reply) => {
                        let _ = reply.send(js.write(w).await);
                    }
                    Queued::Flush(done) => {
                        let _ = done.send(());
                    }
                }
            }
        }
    });
    let mut lock = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query("BEGIN EXCLUSIVE")
        .execute(&mut lock)
        .await
        .unwrap();
    let calls: Vec<String> = (0..10).map(|i| format!("c-q{i}")).collect();
    let mut most = 0;
    for id in &calls {
        queue.push(Queued::Write(CallWrite::StartCall(NewCall {
            call_id: id.clone(),
            sip_call_id: None,
            caller: "+390600000004".into(),
            dialled: "800100200".into(),
            started: t0(),
        })));
        queue.push(Queued::Write(CallWrite::IvrStep {
            call_id: id.clone(),
            step: "menu:1".into(),
        }));
        most = most.max(queue.in_memory());
    }
    assert!(most <= 4, "at most the limit in memory, saw {most}");
    assert!(queue.spilled_total() >= 10, "{}", queue.spilled_total());
    assert!(spill_path(&journal).exists());
    sqlx::query("ROLLBACK").execute(&mut lock).await.unwrap();
    drop(lock);
    // Wait until the queue is empty: a flush queued in memory is answered after every
    // write before it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let (tx, rx) = tokio::sync::oneshot::channel();
        queue.push(Queued::Flush(tx));
        rx.await.unwrap();
        if queue.spilled() == 0 && queue.in_memory() == 0 {
            let (tx, rx) = tokio::sync::oneshot::channel();
            queue.push(Queued::Flush(tx));
            rx.await.unwrap();
            break;
        }
        assert!(std::time::Instant::now() < deadline, "queue never drained");
    }
    while js.pending().unwrap() > 0 {
        js.replay().await.unwrap();
        assert!(
            std::time::Instant::now() < deadline,
            "journal never replayed"
        );
    }
    for id in &calls {
        assert_eq!(store.call(id).await.unwrap().ivr_path, ["menu:1"], "{id}");
    }
    assert!(!spill_path(&journal).exists());
    assert!(!journal.with_extension("rejected").exists());
    drop(queue);
    applier.await.unwrap();
}

/// After a crash (reproduced: `kill -9` with a caller in queue), the call's record had no
/// end and no outcome forever. At start every record left open is closed `interrupted` at
/// the last time known of the call; a second start closes nothing more.
async fn calls_left_open_by_a_crash_are_closed_interrupted(store: Store) {
    let call = |id: &str, started| NewCall {
        call_id: id.into(),
        sip_call_id: None,
        caller: "+390600000005".into(),
        dialled: "800100200".into(),
        started,
    };
    for id in ["c-done", "c-queued", "c-ivr"] {
        store.start_call(&call(id, t0())).await.unwrap();
    }
    store
        .end_call(
            "c-done",
            t0() + Duration::seconds(40),
            crm::CallOutcome::Answered,
        )
        .await
        .unwrap();
    store
        .queue_event(&QueueEvent {
            call_id: "c-queued".into(),
            queue: "raw".into(),
            at: t0() + Duration::seconds(30),
            kind: QueueEventKind::Enter,
            agent: None,
            detail: None,
        })
        .await
        .unwrap();
    let closed = store.close_interrupted_calls().await.unwrap();
    let ids: Vec<_> = closed.iter().map(|c| c.call_id.as_str()).collect();
    assert_eq!(ids, ["c-ivr", "c-queued"]);
    let queued = store.call("c-queued").await.unwrap();
    assert_eq!(queued.outcome, Some(crm::CallOutcome::Interrupted));
    assert_eq!(queued.ended, Some(t0() + Duration::seconds(30)));
    let ivr = store.call("c-ivr").await.unwrap();
    assert_eq!(
        (ivr.outcome, ivr.ended),
        (Some(crm::CallOutcome::Interrupted), Some(t0()))
    );
    let done = store.call("c-done").await.unwrap();
    assert_eq!(done.outcome, Some(crm::CallOutcome::Answered));
    assert!(store.close_interrupted_calls().await.unwrap().is_empty());
}
crate::common::both!(calls_left_open_by_a_crash_are_closed_interrupted);
