//! What backup, restore and init ask of the store: schema version, table count, the
//! administrators, an SQLite snapshot taken while the store is open, emptying PostgreSQL.

use crm::{Actor, Backend, Role, Store};

use crate::common::{both, settings, t0, users};

async fn maintenance_reads_and_copies(store: Store) {
    assert!(store.schema_version().await.unwrap() >= 9);
    assert!(store.table_count().await.unwrap() > 10);
    assert!(store.admin_logins().await.unwrap().is_empty());
    users(&store, &[Role::Admin, Role::AgentFirstLevel, Role::Admin]).await;
    assert_eq!(store.admin_logins().await.unwrap(), ["a1", "a3"]);
    let a = Actor::System;
    store
        .create_ticket(crm::NewTicket::new("kept", crm::Channel::Phone), a, t0())
        .await
        .unwrap();
    match store.backend() {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let copy = dir.path().join("copy.db");
            store.snapshot_sqlite(&copy).await.unwrap();
            // The copy is a whole database on its own.
            let url = format!("sqlite://{}?mode=rw", copy.display());
            let other = Store::connect_with(&url, settings()).await.unwrap();
            assert_eq!(other.ticket_count().await.unwrap(), 1);
            assert_eq!(other.admin_logins().await.unwrap(), ["a1", "a3"]);
            other.close().await;
            // It never overwrites.
            assert!(store.snapshot_sqlite(&copy).await.is_err());
            assert!(store.drop_all_tables().await.is_err());
        }
        Backend::Postgres => {
            assert!(
                store
                    .snapshot_sqlite(std::path::Path::new("/nowhere"))
                    .await
                    .is_err()
            );
            store.drop_all_tables().await.unwrap();
            assert_eq!(store.table_count().await.unwrap(), 0);
        }
    }
}
both!(maintenance_reads_and_copies);
