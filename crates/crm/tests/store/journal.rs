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
