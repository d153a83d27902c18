//! The store: one connection pool on SQLite or PostgreSQL, migrations applied at start.
//!
//! Both databases run the same SQL through sqlx's `Any` driver: parameters are written `$1`,
//! `$2`, … (SQLite accepts them), times are stored as milliseconds since the epoch, flags as
//! booleans. The schema exists once per dialect under `migrations/` with identical tables.
//!
//! Writes run in transactions that take their write lock up front (`BEGIN IMMEDIATE` on SQLite,
//! a row lock through `UPDATE … RETURNING` or `SELECT … FOR UPDATE` on PostgreSQL), so
//! concurrent writers wait instead of failing a lock upgrade. On SQLite the write transactions
//! of one store share a one-connection pool, so they queue in order inside the process and
//! only other processes meet the busy timeout.

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{Any, AnyPool, Transaction};

use crate::error::Result;
pub use crate::settings::{Backend, Settings};

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Pool options; on SQLite every connection waits up to `acquire_timeout` for the write lock
/// (`PRAGMA busy_timeout`) instead of failing at once when another writer holds it, commits
/// with `settings.sqlite_synchronous` (default `NORMAL`: in WAL mode durable across a crash
/// of the process, a power cut may lose the last commits but never corrupts, no fsync per
/// commit; `FULL`: an fsync per commit, nothing answered is lost) and reads pages
/// through a memory map. `max` caps the pool below `settings.max_connections`.
fn pool_options(backend: Backend, settings: &Settings, max: u32) -> AnyPoolOptions {
    let options = AnyPoolOptions::new()
        .max_connections(settings.max_connections.min(max).max(1))
        .acquire_timeout(settings.acquire_timeout);
    if backend != Backend::Sqlite {
        if settings.postgres_synchronous_commit {
            return options;
        }
        // Commits return before their WAL is flushed (Settings::postgres_synchronous_commit).
        return options.after_connect(|conn, _meta| {
            Box::pin(async move {
                sqlx::Executor::execute(conn, "SET synchronous_commit = off").await?;
                Ok(())
            })
        });
    }
    let busy_ms = settings.acquire_timeout.as_millis().min(i32::MAX as u128);
    let synchronous = settings.sqlite_synchronous.as_pragma();
    options.after_connect(move |conn, _meta| {
        Box::pin(async move {
            for pragma in [
                format!("PRAGMA busy_timeout = {busy_ms}"),
                format!("PRAGMA synchronous = {synchronous}"),
                // The checkpoint thread of `crate::writer` folds the log in, off the
                // commits' path (file databases; in memory there is no log).
                "PRAGMA wal_autocheckpoint = 0".to_string(),
                // 256 MiB of the file mapped (shared by every connection), 16 MiB page cache.
                "PRAGMA mmap_size = 268435456".to_string(),
                "PRAGMA cache_size = -16384".to_string(),
            ] {
                sqlx::query(&pragma).execute(&mut *conn).await?;
            }
            Ok(())
        })
    })
}

/// The pools a store uses: `pool` for reads and single statements; `writer` for write
/// transactions. On SQLite, which admits one writer at a time, `writer` holds one connection,
/// so concurrent writers of this process queue in order on the pool instead of polling the
/// database lock (SQLite's busy handler sleeps 1, 2, 5, 10… ms between tries: measured, 8
/// writers went slower than 1); other processes still meet the busy timeout. On PostgreSQL
/// both are the same pool.
fn pools(backend: Backend, settings: &Settings, url: &str) -> Result<Pools> {
    let open = |max: u32| -> Result<AnyPool> {
        Ok(pool_options(backend, settings, max).connect_lazy(url)?)
    };
    let pool = open(u32::MAX)?;
    let writer = match backend {
        Backend::Sqlite => open(1)?,
        Backend::Postgres => pool.clone(),
    };
    Ok(Pools { pool, writer })
}

/// Where [`Store::create_ticket`] sends its creates to be group-committed: the SQLite
/// writer thread for a database file, the PostgreSQL writer for PostgreSQL; none for
/// in-memory SQLite (one sqlx transaction per create).
#[derive(Debug, Clone)]
pub(crate) enum TicketWriter {
    /// See [`crate::writer`].
    Sqlite(crate::writer::Writer),
    /// See [`crate::pg_writer`].
    Postgres(crate::pg_writer::PgWriter),
}

impl TicketWriter {
    fn start(backend: Backend, url: &str, settings: &Settings) -> Result<Option<TicketWriter>> {
        Ok(match backend {
            Backend::Sqlite => match crate::writer::sqlite_path(url) {
                Some(path) => Some(TicketWriter::Sqlite(crate::writer::Writer::start(
                    path, settings,
                )?)),
                None => None,
            },
            Backend::Postgres => Some(TicketWriter::Postgres(crate::pg_writer::PgWriter::start(
                url, settings,
            )?)),
        })
    }

    /// Queues `insert` and waits for its commit.
    pub(crate) async fn create(
        &self,
        insert: crate::ticket_insert::TicketInsert,
    ) -> Result<crate::ticket::Ticket> {
        match self {
            TicketWriter::Sqlite(w) => w.create(insert).await,
            TicketWriter::Postgres(w) => w.create(insert).await,
        }
    }
}

struct Pools {
    pool: AnyPool,
    writer: AnyPool,
}

/// The CRM store. Cheap to clone (shares the pool).
#[derive(Debug, Clone)]
pub struct Store {
    pub(crate) pool: AnyPool,
    /// Write transactions (see [`pools`]).
    writer: AnyPool,
    pub(crate) backend: Backend,
    url: std::sync::Arc<str>,
    pub(crate) settings: std::sync::Arc<Settings>,
    /// Per-queue escalation targets (see [`crate::sla`]).
    pub(crate) queue_slas: crate::clocks::QueueSlas,
    /// The ticket writer (group commit, see [`TicketWriter`]).
    pub(crate) ticket_writer: Option<TicketWriter>,
}

impl Store {
    /// Connects with default [`Settings`] and applies the migrations.
    ///
    /// `url` is `sqlite://path?mode=rwc` or `postgres://user@host/db`.
    pub async fn connect(url: &str) -> Result<Self> {
        Self::connect_with(url, Settings::default()).await
    }

    /// Connects with `settings` and applies the migrations.
    pub async fn connect_with(url: &str, settings: Settings) -> Result<Self> {
        let backend = Backend::from_url(url)?;
        install_default_drivers();
        // Connections open on first use: the migrations below are that first use.
        let Pools { pool, writer } = pools(backend, &settings, url)?;
        let store = Store {
            pool,
            writer,
            backend,
            url: url.into(),
            ticket_writer: TicketWriter::start(backend, url, &settings)?,
            settings: std::sync::Arc::new(settings),
            queue_slas: Default::default(),
        };
        store.migrate().await?;
        Ok(store)
    }

    /// Opens a second, independent pool on the same database with the same settings, as
    /// another process or node would (used to test uniqueness across processes).
    pub async fn open_another(&self) -> Result<Store> {
        Self::connect_with(&self.url, (*self.settings).clone()).await
    }

    /// Opens a second, independent pool on the same database with other `settings` (a
    /// restart with a changed configuration: another SIP realm, PIN secret, …).
    pub async fn open_another_with(&self, settings: Settings) -> Result<Store> {
        Self::connect_with(&self.url, settings).await
    }

    /// A store whose connections open on first use and that applies no migrations yet: a
    /// node can start while the database is away and journal what calls write (R-SR-12);
    /// [`crate::JournaledStore::replay`] migrates before replaying.
    pub fn connect_lazy_with(url: &str, settings: Settings) -> Result<Self> {
        let backend = Backend::from_url(url)?;
        install_default_drivers();
        let Pools { pool, writer } = pools(backend, &settings, url)?;
        Ok(Store {
            pool,
            writer,
            backend,
            url: url.into(),
            ticket_writer: TicketWriter::start(backend, url, &settings)?,
            settings: std::sync::Arc::new(settings),
            queue_slas: Default::default(),
        })
    }

    /// Applies pending migrations (idempotent).
    pub async fn migrate(&self) -> Result<()> {
        if self.backend == Backend::Sqlite {
            // WAL lets readers proceed while one writer commits; persistent per file.
            sqlx::query("PRAGMA journal_mode = WAL")
                .execute(&self.pool)
                .await?;
        }
        match self.backend {
            Backend::Sqlite => SQLITE_MIGRATIONS.run(&self.pool).await?,
            Backend::Postgres => POSTGRES_MIGRATIONS.run(&self.pool).await?,
        }
        Ok(())
    }

    /// The backend in use.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The settings in force.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Checks the database answers (for health checks): one trivial query.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Refreshes the query planner's statistics (after a bulk load, rather than waiting
    /// for autovacuum or SQLite's next `PRAGMA optimize`).
    pub async fn refresh_statistics(&self) -> Result<()> {
        let sql = match self.backend {
            Backend::Sqlite => "PRAGMA optimize",
            Backend::Postgres => "ANALYZE",
        };
        sqlx::query(sql).execute(&self.pool).await?;
        Ok(())
    }

    /// Closes the pool and the PostgreSQL ticket writer's connection.
    pub async fn close(&self) {
        if let Some(TicketWriter::Postgres(w)) = &self.ticket_writer {
            w.close().await;
        }
        self.pool.close().await;
        self.writer.close().await;
    }

    /// How commits reach the disk, as the database says it (for the start's log): on
    /// PostgreSQL `synchronous_commit` (`on`, `off`, …), on SQLite `synchronous` (`1` is
    /// NORMAL, `2` FULL).
    pub async fn commit_mode(&self) -> Result<String> {
        let sql = match self.backend {
            Backend::Sqlite => "SELECT CAST(synchronous AS TEXT) FROM pragma_synchronous",
            Backend::Postgres => "SELECT current_setting('synchronous_commit')",
        };
        Ok(sqlx::query_scalar(sql).fetch_one(&self.pool).await?)
    }

    /// A write transaction that holds the write lock from its first statement on SQLite.
    pub(crate) async fn begin_write(&self) -> Result<Transaction<'static, Any>> {
        Ok(match self.backend {
            Backend::Sqlite => self.writer.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.writer.begin().await?,
        })
    }

    /// The SQL literal for a true flag (`TRUE` / `1`).
    pub(crate) fn true_literal(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite => "1",
            Backend::Postgres => "TRUE",
        }
    }

    /// `FOR UPDATE` on PostgreSQL; SQLite already holds the database write lock.
    pub(crate) fn for_update(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR UPDATE",
        }
    }
}
