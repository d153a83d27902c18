//! Runs each test body once on SQLite (a file in a tempdir) and once on PostgreSQL (a fresh
//! database `crm_test_<random>` on `CENTRALINO_TEST_PG`, default
//! `postgres://postgres@127.0.0.1:5432/postgres`, dropped afterwards even if the body panics).

use std::future::Future;

use chrono::{DateTime, TimeZone, Utc};
use crm::{Role, Settings, Store, SystemId, UserId};
use sqlx::Connection;

/// Runs `$name` (an `async fn(Store)` in the parent module) on both databases.
macro_rules! both {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                crate::common::run_sqlite(super::$name).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                crate::common::run_postgres(super::$name).await
            }
        }
    };
}
pub(crate) use both;

pub fn settings() -> Settings {
    Settings {
        system_id: SystemId::new(42).unwrap(),
        default_country_code: Some("39".to_string()),
        pin_secret: b"test-secret-not-for-production".to_vec(),
        attachment_max_bytes: 1024,
        max_connections: 10,
        acquire_timeout: std::time::Duration::from_secs(30),
        password_cost: crm::PasswordCost {
            memory_kib: 64,
            iterations: 1,
        },
        time_zone: chrono_tz::Europe::Rome,
        sip_realm: "centralino".to_string(),
        postgres_synchronous_commit: true,
        sqlite_synchronous: crm::SqliteSynchronous::Normal,
    }
}

/// A fixed wall time: Monday 2 March 2026, 09:00 UTC.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap()
}

pub async fn run_sqlite<F, Fut>(body: F)
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("crm.db").display());
    let store = Store::connect_with(&url, settings()).await.unwrap();
    let result = tokio::spawn(body(store.clone())).await;
    store.close().await;
    if let Err(e) = result {
        std::panic::resume_unwind(e.into_panic());
    }
}

pub async fn run_postgres<F, Fut>(body: F)
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    run_postgres_with_admin(|store, _, _| body(store)).await
}

/// As [`run_postgres`], also handing the body the admin URL and the database name.
pub async fn run_postgres_with_admin<F, Fut>(body: F)
where
    F: FnOnce(Store, String, String) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    sqlx::any::install_default_drivers();
    let admin_url = std::env::var("CENTRALINO_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string());
    let name = format!("crm_test_{:016x}", rand::random::<u64>());
    let mut admin = sqlx::AnyConnection::connect(&admin_url)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at {admin_url} must be reachable: {e}"));
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    let base = admin_url.rsplit_once('/').map(|(b, _)| b).unwrap();
    let url = format!("{base}/{name}");
    let store = Store::connect_with(&url, settings()).await.unwrap();
    let result = tokio::spawn(body(store.clone(), admin_url.clone(), name.clone())).await;
    store.close().await;
    sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await
        .unwrap();
    if let Err(e) = result {
        std::panic::resume_unwind(e.into_panic());
    }
}

/// Creates operators `a1`, `a2`, … with the given roles; returns their ids in order.
pub async fn users(store: &Store, roles: &[Role]) -> Vec<UserId> {
    let mut out = Vec::new();
    for (i, role) in roles.iter().enumerate() {
        let login = format!("a{}", i + 1);
        let u = store
            .create_user(&login, &format!("Agent {}", i + 1), *role, "pw", t0())
            .await
            .unwrap();
        out.push(u.id);
    }
    out
}
