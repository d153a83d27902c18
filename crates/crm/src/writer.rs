//! The SQLite ticket writer: one thread, one connection, group commit.
//!
//! [`Store::create_ticket`](crate::Store::create_ticket) on SQLite hands its ticket to this
//! thread instead of running its statements through sqlx's connection worker (each a
//! round trip between threads: measured, the wake-ups cost more than SQLite's work). The
//! thread takes every create waiting, runs them in one `BEGIN IMMEDIATE` transaction — each
//! inside its own savepoint, so one create's failure (a queue that does not exist, say)
//! rolls back that create alone and is answered to its caller alone — commits once, and
//! answers each caller with its ticket. What a create writes is not this module's: each is
//! a [`TicketInsert`], run here with [`TicketInsert::run_sqlite`] — the same statements and
//! values as through sqlx — so numbers stay unique and in order whichever path a create
//! takes: each increments the day's counter in the database, inside the transaction, so
//! other processes and the store's sqlx transactions interleave safely (SQLite's write lock,
//! waited for up to the busy timeout).
//!
//! A caller's create is durable (committed, with the pool's `synchronous` in WAL mode)
//! before its answer arrives. The thread ends when the last [`Store`](crate::Store) clone
//! holding it is dropped.
//!
//! # Checkpoints
//! Beside it, a second thread copies the write-ahead log into the database file
//! (`PRAGMA wal_checkpoint(PASSIVE)`, which waits for no reader or writer) every
//! [`CHECKPOINT_EVERY`]. The store's connections turn SQLite's automatic checkpoint off
//! (`wal_autocheckpoint = 0`): otherwise the commit that happens to fill the log past 1,000
//! pages runs the checkpoint itself, with its fsyncs, and the caller waiting for that commit
//! (a ticket opened for an answered call, say) waits tens of milliseconds for them.

use std::sync::mpsc;
use std::time::Duration;

use tokio::sync::oneshot;

use crate::error::{Error, Result};
use crate::settings::Settings;
use crate::ticket::Ticket;
use crate::ticket_insert::TicketInsert;

/// Most creates committed in one transaction.
const MAX_GROUP: usize = 512;

/// How often the checkpoint thread folds the write-ahead log into the database file.
pub(crate) const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

/// One create for the writer thread.
struct CreateJob {
    insert: TicketInsert,
    reply: oneshot::Sender<Result<Ticket>>,
}

/// The handle the store keeps; sending fails once the thread is gone.
#[derive(Debug, Clone)]
pub(crate) struct Writer {
    jobs: mpsc::Sender<CreateJob>,
    /// Never sent on: its last clone dropped ends the checkpoint thread.
    _checkpoints: mpsc::Sender<()>,
}

/// The path of an SQLite URL (`sqlite://path?…`, `sqlite:path`); `None` for in-memory
/// databases, which another connection could not see.
pub(crate) fn sqlite_path(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" || url.contains("mode=memory") {
        return None;
    }
    Some(path.to_string())
}

impl Writer {
    /// Starts the thread; it opens `path` on its first job.
    pub(crate) fn start(path: String, settings: &Settings) -> Result<Writer> {
        let (jobs, rx) = mpsc::channel::<CreateJob>();
        let ctx = Context {
            path,
            busy: settings.acquire_timeout,
            synchronous: settings.sqlite_synchronous.as_pragma(),
        };
        let (checkpoints, stop) = mpsc::channel::<()>();
        let (path, busy) = (ctx.path.clone(), ctx.busy);
        std::thread::Builder::new()
            .name("crm-sqlite-writer".into())
            .spawn(move || run(ctx, rx))
            .map_err(|e| Error::Database(sqlx::Error::Io(e)))?;
        std::thread::Builder::new()
            .name("crm-sqlite-checkpoint".into())
            .spawn(move || checkpoint(&path, busy, &stop))
            .map_err(|e| Error::Database(sqlx::Error::Io(e)))?;
        Ok(Writer {
            jobs,
            _checkpoints: checkpoints,
        })
    }

    /// Queues `insert` and waits for its commit.
    pub(crate) async fn create(&self, insert: TicketInsert) -> Result<Ticket> {
        let (reply, answer) = oneshot::channel();
        let job = CreateJob { insert, reply };
        self.jobs.send(job).map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

fn stopped() -> Error {
    Error::Database(sqlx::Error::WorkerCrashed)
}

/// A rusqlite error as the store's: "cannot reach the database now" (busy, locked, I/O,
/// full, cannot open) as I/O errors, which the journal treats as unavailable; the others
/// (constraint violations, …) as driver errors.
fn db_error(e: rusqlite::Error) -> Error {
    let unavailable = matches!(
        e.sqlite_error_code(),
        Some(
            rusqlite::ErrorCode::DatabaseBusy
                | rusqlite::ErrorCode::DatabaseLocked
                | rusqlite::ErrorCode::SystemIoFailure
                | rusqlite::ErrorCode::DiskFull
                | rusqlite::ErrorCode::CannotOpen
        )
    );
    if unavailable {
        Error::Database(sqlx::Error::Io(std::io::Error::other(e)))
    } else {
        Error::Database(sqlx::Error::Protocol(format!("sqlite: {e}")))
    }
}

struct Context {
    path: String,
    busy: Duration,
    /// `PRAGMA synchronous`, as the pool's connections.
    synchronous: &'static str,
}

fn open(ctx: &Context) -> rusqlite::Result<rusqlite::Connection> {
    let conn = rusqlite::Connection::open(&ctx.path)?;
    conn.busy_timeout(ctx.busy)?;
    // The pool's settings (see `store::pool_options`); WAL is the file's, set by migrate.
    conn.execute_batch(&format!(
        "PRAGMA foreign_keys = ON; PRAGMA synchronous = {}; PRAGMA cache_size = -16384; \
         PRAGMA wal_autocheckpoint = 0;",
        ctx.synchronous
    ))?;
    conn.set_prepared_statement_cache_capacity(16);
    Ok(conn)
}

/// The checkpoint thread (see the module docs): a PASSIVE checkpoint every
/// [`CHECKPOINT_EVERY`] on a connection of its own, until `stop`'s sender is dropped. A
/// failure is logged and tried again at the next tick with a fresh connection.
fn checkpoint(path: &str, busy: Duration, stop: &mpsc::Receiver<()>) {
    let mut conn: Option<rusqlite::Connection> = None;
    while let Err(mpsc::RecvTimeoutError::Timeout) = stop.recv_timeout(CHECKPOINT_EVERY) {
        if conn.is_none() {
            conn = rusqlite::Connection::open(path)
                .and_then(|c| c.busy_timeout(busy).map(|()| c))
                .map_err(|e| tracing::warn!(error = %e, "checkpoint: cannot open the database"))
                .ok();
        }
        let Some(c) = &conn else { continue };
        // (busy, log frames, frames checkpointed): only failures are worth a line.
        let done = c.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(0));
        if let Err(e) = done {
            tracing::warn!(error = %e, "checkpoint failed; trying again");
            conn = None;
        }
    }
}

fn run(ctx: Context, rx: mpsc::Receiver<CreateJob>) {
    let mut conn: Option<rusqlite::Connection> = None;
    while let Ok(first) = rx.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        if conn.is_none() {
            match open(&ctx) {
                Ok(c) => conn = Some(c),
                Err(e) => {
                    let msg = e.to_string();
                    for job in group {
                        let err = db_error(rusqlite::Error::SqliteFailure(
                            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CANTOPEN),
                            Some(msg.clone()),
                        ));
                        let _ = job.reply.send(Err(err));
                    }
                    continue;
                }
            }
        }
        let Some(c) = conn.as_mut() else { continue };
        let answers = commit_group(c, &group);
        if answers.is_err() {
            // The connection may be in a bad state (I/O error): open a fresh one next time.
            let _ = c.execute_batch("ROLLBACK");
            conn = None;
        }
        match answers {
            Ok(answers) => {
                for (job, answer) in group.into_iter().zip(answers) {
                    let _ = job.reply.send(answer);
                }
            }
            Err(e) => {
                let msg = e.to_string();
                let code = e.sqlite_error_code();
                for job in group {
                    let err = match code {
                        Some(code) => rusqlite::Error::SqliteFailure(
                            rusqlite::ffi::Error {
                                code,
                                extended_code: 0,
                            },
                            Some(msg.clone()),
                        ),
                        None => rusqlite::Error::InvalidQuery,
                    };
                    let _ = job.reply.send(Err(db_error(err)));
                }
            }
        }
    }
}

/// One transaction for the whole group; the outer error fails them all (nothing committed).
fn commit_group(
    conn: &mut rusqlite::Connection,
    group: &[CreateJob],
) -> rusqlite::Result<Vec<Result<Ticket>>> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let mut answers = Vec::with_capacity(group.len());
    for job in group {
        tx.execute_batch("SAVEPOINT create_ticket")?;
        match job.insert.run_sqlite(&tx) {
            Ok(created) => {
                tx.execute_batch("RELEASE create_ticket")?;
                answers.push(Ok(created));
            }
            Err(e) => {
                tx.execute_batch("ROLLBACK TO create_ticket; RELEASE create_ticket")?;
                answers.push(Err(db_error(e)));
            }
        }
    }
    tx.commit()?;
    Ok(answers)
}

#[cfg(test)]
mod tests {
    use super::sqlite_path;

    #[test]
    fn file_urls_have_a_path_and_memory_ones_none() {
        assert_eq!(
            sqlite_path("sqlite:///tmp/x/crm.db?mode=rwc").as_deref(),
            Some("/tmp/x/crm.db")
        );
        assert_eq!(
            sqlite_path("sqlite:data/crm.db").as_deref(),
            Some("data/crm.db")
        );
        assert_eq!(sqlite_path("sqlite::memory:"), None);
        assert_eq!(sqlite_path("sqlite://file.db?mode=memory"), None);
        assert_eq!(sqlite_path("postgres://x/y"), None);
    }
}
