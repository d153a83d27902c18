//! Nothing lost (R-SR-12): writes coming from calls go through a [`JournaledStore`]. While
//! the database is unreachable they are appended to an on-disk journal (JSON lines, fsynced);
//! when it is back they are replayed in order, before any newer write.
//!
//! Delivery is at least once: a crash between applying an entry and rewriting the journal can
//! apply that entry again. Starting a call, setting identity or end, opening the ticket of
//! an answered call, filing a voicemail message and appending to the event log are idempotent;
//! an IVR step may then appear twice.
//! An entry the database refuses for a reason other than being unreachable (e.g. an unknown
//! call id) is moved to `<journal>.rejected` so it cannot block the ones behind it.
//!
//! The file is read leniently ([`parse_journal`]): a crash between a record and its newline,
//! or in the middle of a record, leaves a last line that is whole (kept) or torn (moved to
//! the rejected file with a warning: its writer was never told it was journaled); a line
//! in the middle that is not a call write (a disk's corruption, a hand edit) is moved there
//! too, with an error in the log, and every other record is replayed. Before anything is
//! appended the file is made to end with a newline, so a record is never glued onto a torn
//! one.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use crate::calls::{AnsweredCall, CallOutcome, IdentityResult, NewCall, QueueEvent};
use crate::error::{Error, Result};
use crate::event_log::LoggedEvent;
use crate::store::Store;
use crate::tickets::Ticket;
use crate::types::CustomerId;

/// A write that a call makes and that must not be lost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum CallWrite {
    /// [`Store::start_call`].
    StartCall(NewCall),
    /// [`Store::record_ivr_step`].
    IvrStep {
        /// Call id.
        call_id: String,
        /// The step.
        step: String,
    },
    /// [`Store::set_call_identity`].
    Identity {
        /// Call id.
        call_id: String,
        /// The customer found.
        customer: Option<CustomerId>,
        /// How.
        result: IdentityResult,
    },
    /// [`Store::queue_event`].
    QueueEvent(QueueEvent),
    /// [`Store::end_call`].
    EndCall {
        /// Call id.
        call_id: String,
        /// End time.
        ended: DateTime<Utc>,
        /// Outcome.
        outcome: CallOutcome,
    },
    /// [`Store::append_event`]: one event of the event log (and its queue log row).
    Event(LoggedEvent),
    /// [`Store::append_events`]: events of the log in one transaction (the writer's batch).
    Events(Vec<LoggedEvent>),
    /// [`Store::open_ticket_for_answered_call`].
    OpenTicket {
        /// Call id.
        call_id: String,
        /// What the ACD knows.
        answered: AnsweredCall,
        /// When.
        now: DateTime<Utc>,
    },
    /// [`Store::open_ticket_for_answered_call`] with the queue and the agent named, resolved
    /// to their ids when applied: what a call writes when the database could not be asked
    /// for them at answer (it was away). `answered.queue` and `answered.agent` are ignored.
    OpenTicketNamed {
        /// Call id.
        call_id: String,
        /// The queue's name.
        queue: String,
        /// What the ACD knows (the agent by `agent_login`).
        answered: AnsweredCall,
        /// When.
        now: DateTime<Utc>,
    },
    /// [`Store::file_voicemail`]: a recorded message becomes (or joins) a Service Request.
    /// The WAV is named by its path, read when applied; filing is idempotent by call id.
    Voicemail(crate::voicemail::VoicemailMessage),
}

/// What became of a write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    /// In the database; the ticket when the write opened one.
    Applied(Option<Box<Ticket>>),
    /// In the journal, to be replayed.
    Journaled,
}

/// The result of a replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Replay {
    /// Entries written to the database.
    pub applied: usize,
    /// Entries moved to the rejected file.
    pub rejected: usize,
    /// Entries still waiting (the database went away again).
    pub pending: usize,
}

impl Error {
    /// True when the error means "the database cannot be reached now" rather than "the
    /// database refuses this": connection and pool errors, PostgreSQL classes 08 and 57P,
    /// missing database (3D000), too many connections, database closed to connections;
    /// SQLite busy, locked, I/O, full, can't open.
    pub fn is_unavailable(&self) -> bool {
        let e = match self {
            Error::Database(e) => e,
            Error::Migrate(sqlx::migrate::MigrateError::Execute(e)) => e,
            _ => return false,
        };
        match e {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => true,
            sqlx::Error::Database(db) => {
                if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                    let code = db.code().and_then(|c| c.parse::<i32>().ok()).unwrap_or(0);
                    matches!(code & 0xff, 5 | 6 | 10 | 13 | 14)
                } else {
                    let code = db.code().unwrap_or_default();
                    code.starts_with("08")
                        || code.starts_with("57P")
                        || matches!(&*code, "3D000" | "53300")
                        // ALTER DATABASE … ALLOW_CONNECTIONS false (maintenance, restore)
                        || (code == "55000" && db.message().contains("accepting connections"))
                }
            }
            _ => false,
        }
    }
}

/// A [`Store`] in front of an on-disk journal (R-SR-12).
#[derive(Debug)]
pub struct JournaledStore {
    store: Store,
    pub(crate) path: PathBuf,
    lock: Mutex<()>,
    /// A write is finding out whether the database is back (one at a time: the others go
    /// straight to the journal meanwhile, instead of each waiting out the database's timeout).
    probing: std::sync::atomic::AtomicBool,
    /// Writes a [`crate::WriteQueue`] in front of this journal keeps in memory.
    pub(crate) queue_limit: usize,
}

/// Writes a [`crate::WriteQueue`] keeps in memory by default before it spills
/// (`database.queued_writes_max`).
pub const DEFAULT_QUEUE_LIMIT: usize = 10_000;

/// What a journal file holds, read leniently: one bad line never hides the others.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JournalText {
    /// The complete records, in order.
    pub entries: Vec<CallWrite>,
    /// Whole lines (ended by a newline) that are not a call write: corruption in the middle
    /// of the file. [`JournaledStore`] moves them to `<journal>.rejected`, never drops them.
    pub corrupt: Vec<String>,
    /// The last line when it has no newline and is not a whole record: a write a crash cut
    /// in half (its writer was never told it was journaled). Left out of the replay.
    pub torn: Option<String>,
}

/// Reads a journal's bytes: every line that is a call write, in order; the others set aside
/// as corrupt (a whole line) or torn (an unterminated last line that does not parse). An
/// unterminated last line that parses is a whole record (the crash came between the record
/// and its newline) and is kept. Never fails and never panics, whatever the bytes.
#[must_use]
pub fn parse_journal(bytes: &[u8]) -> JournalText {
    let mut text = JournalText::default();
    let mut lines = bytes.split(|b| *b == b'\n').peekable();
    while let Some(line) = lines.next() {
        let last = lines.peek().is_none();
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        // Bytes that are not UTF-8 are not a record (never "repaired" into another one).
        match serde_json::from_slice::<CallWrite>(line) {
            Ok(w) => text.entries.push(w),
            // The piece after the last newline: cut by a crash.
            Err(_) if last => text.torn = Some(String::from_utf8_lossy(line).into_owned()),
            Err(_) => text
                .corrupt
                .push(String::from_utf8_lossy(line).into_owned()),
        }
    }
    text
}

fn read_journal(path: &Path) -> Result<JournalText> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(parse_journal(&bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(JournalText::default()),
        Err(e) => Err(Error::Journal(format!("{}: {e}", path.display()))),
    }
}

/// Where refused entries and corrupt or torn lines go: `<journal>.rejected`.
fn rejected_path(path: &Path) -> PathBuf {
    path.with_extension("rejected")
}

/// Appends raw `lines` to the rejected file (kept for a person to read, never replayed).
fn quarantine_lines(path: &Path, lines: &[String]) -> Result<()> {
    let rejected = rejected_path(path);
    let io = |e: std::io::Error| Error::Journal(format!("{}: {e}", rejected.display()));
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&rejected)
        .map_err(io)?;
    for line in lines {
        writeln!(f, "{line}").map_err(io)?;
    }
    f.sync_data().map_err(io)
}

/// Makes the journal end with a newline before anything is appended, so a new record is
/// never glued onto a line a crash cut: a last line that is a whole record gets its newline;
/// a torn one is moved to the rejected file (with a warning) and cut off.
fn seal_tail(path: &Path) -> Result<()> {
    use std::io::{Read, Seek, SeekFrom};
    let io = |e: std::io::Error| Error::Journal(format!("{}: {e}", path.display()));
    let mut f = match std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io(e)),
    };
    let len = f.metadata().map_err(io)?.len();
    if len == 0 {
        return Ok(());
    }
    let mut last = [0u8; 1];
    f.seek(SeekFrom::Start(len - 1)).map_err(io)?;
    f.read_exact(&mut last).map_err(io)?;
    if last[0] == b'\n' {
        return Ok(());
    }
    // Rare (only after a crash): read the whole file to find the last line.
    let mut bytes = Vec::new();
    f.seek(SeekFrom::Start(0)).map_err(io)?;
    f.read_to_end(&mut bytes).map_err(io)?;
    let start = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let tail = &bytes[start..];
    if serde_json::from_slice::<CallWrite>(tail).is_ok() {
        f.seek(SeekFrom::End(0)).map_err(io)?;
        f.write_all(b"\n").map_err(io)?;
    } else if tail.iter().all(u8::is_ascii_whitespace) {
        f.set_len(start as u64).map_err(io)?;
    } else {
        let torn = String::from_utf8_lossy(tail).into_owned();
        tracing::warn!(
            journal = %path.display(), bytes = tail.len(),
            "journal: a record cut by a crash moved to the rejected file"
        );
        quarantine_lines(path, &[torn])?;
        f.set_len(start as u64).map_err(io)?;
    }
    f.sync_data().map_err(io)
}

/// Whether writes wait in the journal (it is emptied, not removed, when replayed).
fn has_entries(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.len() > 0)
}

pub(crate) fn append_entries(path: &Path, entries: &[CallWrite]) -> Result<()> {
    let io = |e: std::io::Error| Error::Journal(format!("{}: {e}", path.display()));
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    seal_tail(path)?;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(io)?;
    for e in entries {
        let line = serde_json::to_string(e).map_err(|e| Error::Journal(e.to_string()))?;
        writeln!(f, "{line}").map_err(io)?;
    }
    f.sync_data().map_err(io)
}

/// Replaces the journal with `entries` atomically (write aside, fsync, rename).
fn rewrite_entries(path: &Path, entries: &[CallWrite]) -> Result<()> {
    if entries.is_empty() {
        return match std::fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(Error::Journal(format!("{}: {e}", path.display())))
            }
            _ => Ok(()),
        };
    }
    let aside = path.with_extension("tmp");
    let _ = std::fs::remove_file(&aside);
    append_entries(&aside, entries)?;
    std::fs::rename(&aside, path).map_err(|e| Error::Journal(format!("{}: {e}", path.display())))
}

impl JournaledStore {
    /// Journals into the file at `path` (created when first needed).
    ///
    /// A last line a crash cut in half is set aside now (see [`parse_journal`]); failing
    /// that (a read-only disk, say) it is set aside before the first append.
    pub fn new(store: Store, path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        if let Err(e) = seal_tail(&path) {
            tracing::warn!(error = %e, "journal: cannot check its last line now");
        }
        JournaledStore {
            store,
            path,
            lock: Mutex::new(()),
            probing: std::sync::atomic::AtomicBool::new(false),
            queue_limit: DEFAULT_QUEUE_LIMIT,
        }
    }

    /// The store behind the journal.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// How many writes wait in the journal.
    pub fn pending(&self) -> Result<usize> {
        Ok(read_journal(&self.path)?.entries.len())
    }

    /// The journal's file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    async fn apply(&self, w: &CallWrite) -> Result<Option<Box<Ticket>>> {
        let s = &self.store;
        match w {
            CallWrite::StartCall(c) => s.start_call(c).await?,
            CallWrite::IvrStep { call_id, step } => s.record_ivr_step(call_id, step).await?,
            CallWrite::Identity {
                call_id,
                customer,
                result,
            } => s.set_call_identity(call_id, *customer, *result).await?,
            CallWrite::QueueEvent(e) => s.queue_event(e).await?,
            CallWrite::Event(e) => {
                s.append_event(e).await?;
            }
            CallWrite::Events(events) => {
                s.append_events(events).await?;
            }
            CallWrite::EndCall {
                call_id,
                ended,
                outcome,
            } => s.end_call(call_id, *ended, *outcome).await?,
            CallWrite::OpenTicket {
                call_id,
                answered,
                now,
            } => {
                let t = s
                    .open_ticket_for_answered_call(call_id, answered.clone(), *now)
                    .await?;
                return Ok(Some(Box::new(t)));
            }
            CallWrite::OpenTicketNamed {
                call_id,
                queue,
                answered,
                now,
            } => {
                let mut answered = answered.clone();
                answered.queue = s
                    .queue_by_name(queue)
                    .await?
                    .ok_or_else(|| Error::not_found("queue", queue))?;
                if let Some(login) = &answered.agent_login {
                    answered.agent = s.user_by_login(login).await?.map(|u| u.id);
                }
                let t = s
                    .open_ticket_for_answered_call(call_id, answered, *now)
                    .await?;
                return Ok(Some(Box::new(t)));
            }
            CallWrite::Voicemail(m) => return Ok(Some(Box::new(s.file_voicemail(m).await?))),
        }
        Ok(None)
    }

    /// Writes `w` to the database, or to the journal when the database is unreachable or
    /// older writes still wait there (order is kept). Refusals (e.g. unknown call) are errors.
    pub async fn write(&self, w: CallWrite) -> Result<Written> {
        use std::sync::atomic::Ordering;
        // Older writes wait in the journal: one write at a time tries to bring them back
        // first (the probe waits out the database's timeout while it is away, outside the
        // lock); every other write meanwhile goes after them into the journal at once.
        if has_entries(&self.path)
            && self
                .probing
                .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            let replayed = self.replay().await;
            self.probing.store(false, Ordering::Release);
            replayed?;
        }
        let _guard = self.lock.lock().await;
        if has_entries(&self.path) {
            append_entries(&self.path, std::slice::from_ref(&w))?;
            return Ok(Written::Journaled);
        }
        match self.apply(&w).await {
            Ok(t) => Ok(Written::Applied(t)),
            Err(e) if e.is_unavailable() => {
                tracing::warn!(error = %e, "database unreachable, journaling call write");
                append_entries(&self.path, std::slice::from_ref(&w))?;
                Ok(Written::Journaled)
            }
            Err(e) => Err(e),
        }
    }

    /// Replays the journal in order; stops (keeping the rest) if the database goes away.
    pub async fn replay(&self) -> Result<Replay> {
        if !has_entries(&self.path) {
            return Ok(Replay::default());
        }
        // Probe the database before taking the lock: while it is away the probe waits out
        // its timeout, and writes must not wait behind it (they go to the journal at once).
        if let Err(e) = self.store.migrate().await {
            if e.is_unavailable() {
                return Ok(Replay {
                    pending: self.pending()?,
                    ..Replay::default()
                });
            }
            return Err(e);
        }
        let _guard = self.lock.lock().await;
        self.replay_locked().await
    }

    async fn replay_locked(&self) -> Result<Replay> {
        let JournalText {
            entries,
            corrupt,
            torn,
        } = read_journal(&self.path)?;
        if !corrupt.is_empty() || torn.is_some() {
            // One bad line never blocks the rest: set aside (kept), then the journal holds
            // only the records.
            let bad: Vec<String> = corrupt.into_iter().chain(torn).collect();
            tracing::error!(
                journal = %self.path.display(), lines = bad.len(),
                rejected = %rejected_path(&self.path).display(),
                "journal: lines that are not call writes moved to the rejected file"
            );
            quarantine_lines(&self.path, &bad)?;
            rewrite_entries(&self.path, &entries)?;
        }
        let mut report = Replay::default();
        if entries.is_empty() {
            return Ok(report);
        }
        // The database may have come back empty (first start, restore): schema first.
        if let Err(e) = self.store.migrate().await {
            if e.is_unavailable() {
                report.pending = entries.len();
                return Ok(report);
            }
            return Err(e);
        }
        for (i, w) in entries.iter().enumerate() {
            match self.apply(w).await {
                Ok(_) => report.applied += 1,
                Err(e) if e.is_unavailable() => {
                    report.pending = entries.len() - i;
                    rewrite_entries(&self.path, &entries[i..])?;
                    return Ok(report);
                }
                Err(e) => {
                    tracing::error!(error = %e, ?w, "journal entry refused, moved aside");
                    append_entries(&rejected_path(&self.path), std::slice::from_ref(w))?;
                    report.rejected += 1;
                }
            }
        }
        rewrite_entries(&self.path, &[])?;
        Ok(report)
    }
}

#[cfg(test)]
#[path = "journal_tests.rs"]
mod tests;
