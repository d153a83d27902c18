//! The PostgreSQL ticket writer: one thread, one connection, group commit.
//!
//! [`Store::create_ticket`](crate::Store::create_ticket) on PostgreSQL hands its ticket to
//! this writer instead of running a transaction of its own (five round trips, one commit
//! each: measured, about 1,200 creates/s with 8 creators on two cores, most of it spent
//! parsing and executing small statements). The writer takes every create waiting (at most
//! [`MAX_GROUP`]), runs them in one transaction with
//! [`TicketInsert::run_group_pg`] — the counter once per day, one multi-row insert for the
//! tickets, one for their `created` rows — commits once, and answers each caller with its
//! ticket. What a create writes is not this module's: the statements and values are
//! [`TicketInsert`]'s, the same as every other path, so numbers stay unique and in order
//! whichever path a create takes (the counter row, locked until commit, serialises this
//! writer with the store's other transactions and with other processes).
//!
//! One refused create (a queue that does not exist, say) refuses the group's statement: the
//! writer rolls back and runs the group again in one transaction, each create alone in its
//! own savepoint (as a group of one), so only the refused one fails and the others commit
//! together. A failure of the connection itself (I/O, the server going away) fails the
//! whole group, with the error copied for each caller so that each sees it as the journal
//! must (unavailable), and the next group opens a fresh connection; a connection found gone
//! at BEGIN (closed by the server while idle) ran nothing, so the group goes again, once, on
//! a fresh one. The connection shows as `crm-ticket-writer` in `pg_stat_activity`.
//!
//! A caller's create is durable (committed with the server's `synchronous_commit`) before
//! its answer arrives. The writer runs on a thread of its own with a one-thread tokio
//! runtime, so it does not depend on the runtime of whoever opened the store; its
//! connection opens on the first create (a store may be opened while the database is away)
//! and counts beyond the store's pool. The thread ends when the last
//! [`Store`](crate::Store) clone holding it is dropped, or at [`Store::close`](crate::Store::close).

use std::borrow::Cow;
use std::str::FromStr;
use std::time::Duration;

use sqlx::error::{DatabaseError, ErrorKind};
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection};
use tokio::sync::{mpsc, oneshot};

use crate::error::{Error, Result};
use crate::settings::Settings;
use crate::ticket::Ticket;
use crate::ticket_insert::TicketInsert;

/// The writer's connection as `pg_stat_activity` shows it.
pub(crate) const APPLICATION_NAME: &str = "crm-ticket-writer";

/// Most creates committed in one transaction.
const MAX_GROUP: usize = 512;

/// How long a group waits, at most, for as many creates as the last group had: the
/// callers just answered send their next creates within microseconds on an idle machine,
/// and without the wait the first of them would go alone, the others in the next group
/// (groups of 1 and 7 in turn with 8 creators, measured). A lone caller (last group: 1)
/// never waits.
const GATHER: Duration = Duration::from_millis(1);

/// One create for the writer.
struct CreateJob {
    insert: TicketInsert,
    reply: oneshot::Sender<Result<Ticket>>,
}

// Nearly every message is a create: boxing it would only add an allocation to each.
#[allow(clippy::large_enum_variant)]
enum Message {
    Create(CreateJob),
    /// Close the connection, answer, and end.
    Close(oneshot::Sender<()>),
}

/// The handle the store keeps; sending fails once the writer has ended.
#[derive(Debug, Clone)]
pub(crate) struct PgWriter {
    jobs: mpsc::UnboundedSender<Message>,
}

/// What the writer needs to connect.
struct Context {
    options: PgConnectOptions,
    /// How long connecting may take (the pool's acquire timeout).
    timeout: Duration,
}

impl PgWriter {
    /// Starts the writer's thread for the database at `url`; it connects on its first job.
    pub(crate) fn start(url: &str, settings: &Settings) -> Result<PgWriter> {
        let ctx = Context {
            options: {
                let options = PgConnectOptions::from_str(url)?.application_name(APPLICATION_NAME);
                if settings.postgres_synchronous_commit {
                    options
                } else {
                    options.options([("synchronous_commit", "off")])
                }
            },
            timeout: settings.acquire_timeout,
        };
        let (jobs, rx) = mpsc::unbounded_channel();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::Database(sqlx::Error::Io(e)))?;
        std::thread::Builder::new()
            .name("crm-pg-writer".into())
            .spawn(move || runtime.block_on(run(ctx, rx)))
            .map_err(|e| Error::Database(sqlx::Error::Io(e)))?;
        Ok(PgWriter { jobs })
    }

    /// Queues `insert` and waits for its commit.
    pub(crate) async fn create(&self, insert: TicketInsert) -> Result<Ticket> {
        let (reply, answer) = oneshot::channel();
        let job = CreateJob { insert, reply };
        self.jobs
            .send(Message::Create(job))
            .map_err(|_| Error::Database(sqlx::Error::PoolClosed))?;
        answer
            .await
            .map_err(|_| Error::Database(sqlx::Error::WorkerCrashed))?
    }

    /// Closes the writer's connection after the creates already queued; later creates fail
    /// as on a closed pool.
    pub(crate) async fn close(&self) {
        let (done, closed) = oneshot::channel();
        if self.jobs.send(Message::Close(done)).is_ok() {
            let _ = closed.await;
        }
    }
}

async fn run(ctx: Context, mut rx: mpsc::UnboundedReceiver<Message>) {
    let mut conn: Option<PgConnection> = None;
    // The size of the last group: as many creators are likely waiting to send again.
    let mut expected = 1;
    while let Some(first) = rx.recv().await {
        let mut group = Vec::new();
        let mut close = None;
        let mut take = |m: Message, group: &mut Vec<CreateJob>| match m {
            Message::Create(job) => group.push(job),
            Message::Close(done) => close = Some(done),
        };
        take(first, &mut group);
        let deadline = tokio::time::Instant::now() + GATHER;
        while group.len() < MAX_GROUP {
            let next = match rx.try_recv() {
                Ok(m) => Some(m),
                Err(_) if group.len() < expected => tokio::time::timeout_at(deadline, rx.recv())
                    .await
                    .ok()
                    .flatten(),
                Err(_) => None,
            };
            let Some(m) = next else { break };
            take(m, &mut group);
        }
        expected = group.len().max(1);
        if !group.is_empty() {
            commit(&ctx, &mut conn, group).await;
        }
        if let Some(done) = close {
            if let Some(c) = conn.take() {
                let _ = c.close().await;
            }
            let _ = done.send(());
            return;
        }
    }
}

/// Commits `group` on `conn` (opened first if need be) and answers each job. A connection
/// that fails at BEGIN (closed by the server while idle: a restart, an administrator, an idle
/// timeout) ran nothing of the group: the group goes again, once, on a fresh connection.
async fn commit(ctx: &Context, conn: &mut Option<PgConnection>, group: Vec<CreateJob>) {
    let inserts: Vec<&TicketInsert> = group.iter().map(|j| &j.insert).collect();
    let mut retried = false;
    loop {
        let c = match conn {
            Some(c) => c,
            None => match connect(ctx).await {
                Ok(c) => conn.insert(c),
                Err(e) => return fail_all(group, &e),
            },
        };
        match commit_group(c, &inserts).await {
            Ok(answers) => {
                for (job, answer) in group.into_iter().zip(answers) {
                    let _ = job.reply.send(answer);
                }
                return;
            }
            Err(Failed::Begin(e)) if !retried => {
                tracing::info!(error = %e, "ticket writer: connection lost while idle; reconnecting");
                *conn = None;
                retried = true;
            }
            Err(Failed::Begin(e) | Failed::Later(e)) => {
                // The connection may be broken or inside a transaction: a fresh one next time.
                *conn = None;
                return fail_all(group, &e);
            }
        }
    }
}

/// How a group's transaction failed on the connection's side.
#[derive(Debug)]
enum Failed {
    /// At BEGIN: nothing of the group ran.
    Begin(sqlx::Error),
    /// Later: the outcome is the connection's to tell, and it is gone.
    Later(sqlx::Error),
}

impl From<sqlx::Error> for Failed {
    fn from(e: sqlx::Error) -> Self {
        Failed::Later(e)
    }
}

async fn connect(ctx: &Context) -> sqlx::Result<PgConnection> {
    tokio::time::timeout(ctx.timeout, PgConnection::connect_with(&ctx.options))
        .await
        .unwrap_or(Err(sqlx::Error::PoolTimedOut))
}

fn fail_all(group: Vec<CreateJob>, e: &sqlx::Error) {
    tracing::warn!(error = %e, creates = group.len(), "ticket writer: group failed");
    for job in group {
        let _ = job.reply.send(Err(Error::Database(copy_error(e))));
    }
}

/// One transaction for the whole group: an answer per create, or the connection's own
/// failure, which fails them all (nothing committed, as far as this connection knows).
async fn commit_group(
    conn: &mut PgConnection,
    group: &[&TicketInsert],
) -> std::result::Result<Vec<Result<Ticket>>, Failed> {
    let mut tx = conn.begin().await.map_err(Failed::Begin)?;
    match TicketInsert::run_group_pg(group, &mut tx).await {
        Ok(tickets) => {
            tx.commit().await?;
            return Ok(tickets.into_iter().map(Ok).collect());
        }
        Err(e) => {
            let refused = refusal(e)?;
            tx.rollback().await?;
            if group.len() == 1 {
                return Ok(vec![Err(refused)]);
            }
        }
    }
    // Some create was refused: each alone in a savepoint, to fail only that one.
    let mut tx = conn.begin().await?;
    let mut answers = Vec::with_capacity(group.len());
    for insert in group {
        let mut savepoint = tx.begin().await?;
        match TicketInsert::run_group_pg(&[insert], &mut savepoint).await {
            Ok(mut ticket) => {
                savepoint.commit().await?;
                answers.push(
                    ticket
                        .pop()
                        .ok_or(sqlx::Error::RowNotFound)
                        .map_err(Error::from),
                );
            }
            Err(e) => {
                let refused = refusal(e)?;
                savepoint.rollback().await?;
                answers.push(Err(refused));
            }
        }
    }
    tx.commit().await?;
    Ok(answers)
}

/// `e` as the database's refusal of a statement (a constraint, a value refused before any
/// statement: the create's own answer), or, as `Err`, the connection's own failure.
fn refusal(e: Error) -> sqlx::Result<Error> {
    match e {
        Error::Database(sqlx::Error::Database(db)) => {
            Ok(Error::Database(sqlx::Error::Database(db)))
        }
        Error::Database(other) => Err(other),
        other => Ok(other),
    }
}

/// A copy of `e` for each caller of a failed group, of the same kind (I/O, pool, the
/// server's SQLSTATE), so [`Error::is_unavailable`] answers alike for every one.
fn copy_error(e: &sqlx::Error) -> sqlx::Error {
    match e {
        sqlx::Error::Io(io) => sqlx::Error::Io(std::io::Error::new(io.kind(), io.to_string())),
        sqlx::Error::Tls(tls) => sqlx::Error::Tls(tls.to_string().into()),
        sqlx::Error::PoolTimedOut => sqlx::Error::PoolTimedOut,
        sqlx::Error::PoolClosed => sqlx::Error::PoolClosed,
        sqlx::Error::WorkerCrashed => sqlx::Error::WorkerCrashed,
        sqlx::Error::Database(db) => sqlx::Error::Database(Box::new(CopiedDbError {
            message: db.message().to_string(),
            code: db.code().map(Cow::into_owned),
            kind: db.kind(),
        })),
        other => sqlx::Error::Protocol(other.to_string()),
    }
}

/// The server's error as each caller of a failed group gets it: its message and SQLSTATE.
#[derive(Debug)]
struct CopiedDbError {
    message: String,
    code: Option<String>,
    kind: ErrorKind,
}

impl std::fmt::Display for CopiedDbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CopiedDbError {}

impl DatabaseError for CopiedDbError {
    fn message(&self) -> &str {
        &self.message
    }

    fn code(&self) -> Option<Cow<'_, str>> {
        self.code.as_deref().map(Cow::Borrowed)
    }

    fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
        self
    }

    fn kind(&self) -> ErrorKind {
        match self.kind {
            ErrorKind::UniqueViolation => ErrorKind::UniqueViolation,
            ErrorKind::ForeignKeyViolation => ErrorKind::ForeignKeyViolation,
            ErrorKind::NotNullViolation => ErrorKind::NotNullViolation,
            ErrorKind::CheckViolation => ErrorKind::CheckViolation,
            _ => ErrorKind::Other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ticket::NewTicket;
    use crate::types::{Actor, Channel, QueueId};

    /// A fresh database with the schema on `CENTRALINO_TEST_PG` (as the store suite), its
    /// URL, and the admin connection that drops it.
    async fn fresh_database() -> (String, sqlx::AnyConnection, String) {
        sqlx::any::install_default_drivers();
        let admin_url = std::env::var("CENTRALINO_TEST_PG")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string());
        let mut admin = sqlx::AnyConnection::connect(&admin_url).await.unwrap();
        let name = format!("crm_unit_{:016x}", rand::random::<u64>());
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .unwrap();
        let base = admin_url.rsplit_once('/').map(|(b, _)| b).unwrap();
        let url = format!("{base}/{name}");
        let store = crate::Store::connect(&url).await.unwrap();
        store.close().await;
        (url, admin, name)
    }

    /// The group's own transaction: a refused create (a queue that does not exist) between
    /// two good ones fails alone and is the database's refusal (not "unavailable"); the
    /// good ones commit, numbered 1 and 2 with their `created` rows. A group with nothing
    /// refused is one transaction (its rows share their `xmin`).
    #[tokio::test]
    async fn a_refused_create_fails_alone_and_the_group_commits() {
        let (url, mut admin, name) = fresh_database().await;
        let body = tokio::spawn(async move {
            let settings = Settings::default();
            let now = chrono::Utc::now();
            let insert = |queue: Option<QueueId>| {
                let mut new = NewTicket::new("t", Channel::Phone);
                new.queue = queue;
                TicketInsert::new(
                    new,
                    queue,
                    Default::default(),
                    Actor::System,
                    now,
                    &settings,
                )
            };
            let (good, bad) = (insert(None), insert(Some(QueueId(999_999))));
            let mut conn = PgConnection::connect(&url).await.unwrap();
            let answers = commit_group(&mut conn, &[&good, &bad, &good])
                .await
                .unwrap();
            let [Ok(a), Err(refused), Ok(b)] = &answers[..] else {
                panic!("expected ok, refused, ok: {answers:?}");
            };
            assert!(!refused.is_unavailable(), "{refused}");
            assert_eq!((&a.number[10..15], &b.number[10..15]), ("00001", "00002"));
            let count = |sql: &'static str| sqlx::query_scalar::<_, i64>(sql);
            let tickets = count("SELECT COUNT(*) FROM tickets");
            assert_eq!(tickets.fetch_one(&mut conn).await.unwrap(), 2);
            let created = count(
                "SELECT COUNT(*) FROM ticket_history h JOIN tickets t ON t.id = h.ticket_id \
                 WHERE h.kind = 'created' AND h.new_value = t.number",
            );
            assert_eq!(created.fetch_one(&mut conn).await.unwrap(), 2);

            let answers = commit_group(&mut conn, &[&good, &good]).await.unwrap();
            let mut xmins = Vec::new();
            for answer in &answers {
                let id = answer.as_ref().unwrap().id.0;
                let xmin = "SELECT xmin::text FROM tickets WHERE id = $1";
                let q = sqlx::query_scalar::<_, String>(xmin).bind(id);
                xmins.push(q.fetch_one(&mut conn).await.unwrap());
            }
            assert_eq!(xmins[0], xmins[1], "one transaction");
            conn.close().await.unwrap();
        })
        .await;
        sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
            .execute(&mut admin)
            .await
            .unwrap();
        if let Err(e) = body {
            std::panic::resume_unwind(e.into_panic());
        }
    }

    #[test]
    fn copies_keep_what_makes_an_error_unavailable() {
        let io = sqlx::Error::Io(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "reset",
        ));
        let copy = Error::Database(copy_error(&io));
        assert!(copy.is_unavailable());
        let shutting_down = sqlx::Error::Database(Box::new(CopiedDbError {
            message: "terminating connection due to administrator command".into(),
            code: Some("57P01".into()),
            kind: ErrorKind::Other,
        }));
        let copy = Error::Database(copy_error(&shutting_down));
        assert!(copy.is_unavailable());
        assert!(copy.to_string().contains("administrator command"), "{copy}");
        let refused = sqlx::Error::Database(Box::new(CopiedDbError {
            message: "violates foreign key constraint".into(),
            code: Some("23503".into()),
            kind: ErrorKind::ForeignKeyViolation,
        }));
        let copy = copy_error(&refused);
        assert!(!Error::Database(copy).is_unavailable());
    }
}
