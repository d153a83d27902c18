//! The queue in front of the journal (R-SR-12): call writes wait here for the one task that
//! applies them through the [`JournaledStore`](crate::JournaledStore). While the database is
//! away each write may wait out the database's timeout, so writes arrive faster than they
//! leave; the queue keeps at most `limit` of them in memory and **spills** the rest to a file
//! beside the journal (`<journal>.spill`, JSON lines, fsynced, the journal's format), in
//! order, instead of growing. Nothing is dropped: the reader takes the writes in memory
//! first, then the spilled ones, then new ones (which go to memory again once the spill is
//! empty), so the order of writes is kept end to end.
//!
//! A write whose caller waits for its outcome ([`Queued::Awaited`]) and that arrives while
//! the queue spills is answered [`Written::Journaled`] at once: it is on disk and will be
//! replayed. A [`Queued::Flush`] arriving then is answered once the writes in memory (all
//! older than the spilled ones) have been handled. A spill that cannot be written (the disk
//! is full too) keeps the write in memory, with an error in the log: memory grows rather
//! than a write be lost.
//!
//! A spill file left by a crash is appended to the journal when the queue is made again, and
//! so replayed; writes the reader had already taken from it are then replayed again (the
//! journal's delivery is at least once; see [`crate::journal`]).

use std::collections::VecDeque;
use std::io::{BufRead, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::{Notify, oneshot};

use crate::error::Result;
use crate::journal::{CallWrite, JournaledStore, Written, append_entries, parse_journal};

/// Writes kept in memory by default before the queue spills (`database.queued_writes_max`).
pub const DEFAULT_LIMIT: usize = crate::journal::DEFAULT_QUEUE_LIMIT;

impl JournaledStore {
    /// Keeps at most `limit` writes in the memory of the queues made by
    /// [`JournaledStore::write_queue`] (`database.queued_writes_max`).
    #[must_use]
    pub fn with_queue_limit(mut self, limit: usize) -> Self {
        self.queue_limit = limit;
        self
    }

    /// A queue in front of this journal, bounded in memory, spilling beside it.
    pub fn write_queue(&self) -> Result<(WriteQueue, WriteQueueReader)> {
        write_queue(&self.path, self.queue_limit)
    }
}

/// One item of the queue.
#[derive(Debug)]
pub enum Queued {
    /// A write; nobody waits for it.
    Write(CallWrite),
    /// A write whose caller waits for what became of it.
    Awaited(CallWrite, oneshot::Sender<Result<Written>>),
    /// Answered once every item queued before it has been handled (or is on disk).
    Flush(oneshot::Sender<()>),
}

#[derive(Debug, Default)]
struct State {
    memory: VecDeque<Queued>,
    /// Writes in the spill file not yet taken, and where the next one starts.
    spilled: usize,
    read_at: u64,
    /// Flushes that arrived while spilling: answered when the memory is empty.
    flushers: Vec<oneshot::Sender<()>>,
    closed: bool,
    /// Writes ever spilled (for the log and tests).
    spilled_total: u64,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    notify: Notify,
    limit: usize,
    spill: PathBuf,
    /// Where a spilled line that cannot be read goes (the journal's rejected file).
    rejected: PathBuf,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Ends the queue when the last producer is dropped.
#[derive(Debug)]
struct Producers(Arc<Shared>);

impl Drop for Producers {
    fn drop(&mut self) {
        self.0.lock().closed = true;
        self.0.notify.notify_one();
    }
}

/// The producers' side; cheap to clone. The queue ends when the last clone is dropped.
#[derive(Debug, Clone)]
pub struct WriteQueue {
    shared: Arc<Shared>,
    _producers: Arc<Producers>,
}

/// The one reader's side.
#[derive(Debug)]
pub struct WriteQueueReader {
    shared: Arc<Shared>,
}

/// The spill file of the journal at `journal`.
#[must_use]
pub fn spill_path(journal: &Path) -> PathBuf {
    journal.with_extension("spill")
}

/// A queue keeping at most `limit` items in memory (at least 1) before it spills beside the
/// journal at `journal`. A spill file a crash left is first appended to the journal.
pub fn write_queue(journal: &Path, limit: usize) -> Result<(WriteQueue, WriteQueueReader)> {
    let spill = spill_path(journal);
    if let Ok(bytes) = std::fs::read(&spill) {
        let left = parse_journal(&bytes);
        if !left.entries.is_empty() {
            tracing::warn!(
                writes = left.entries.len(),
                "write queue: writes spilled before a crash go to the journal"
            );
            append_entries(journal, &left.entries)?;
        }
        std::fs::remove_file(&spill)
            .map_err(|e| crate::Error::Journal(format!("{}: {e}", spill.display())))?;
    }
    let shared = Arc::new(Shared {
        state: Mutex::new(State::default()),
        notify: Notify::new(),
        limit: limit.max(1),
        spill,
        rejected: journal.with_extension("rejected"),
    });
    Ok((
        WriteQueue {
            shared: shared.clone(),
            _producers: Arc::new(Producers(shared.clone())),
        },
        WriteQueueReader { shared },
    ))
}

impl WriteQueue {
    /// Queues `item` without waiting: in memory, or on disk when `limit` items wait already
    /// (or earlier ones are on disk). Never drops it.
    pub fn push(&self, item: Queued) {
        let s = &self.shared;
        let mut st = s.lock();
        if st.spilled == 0 && st.memory.len() < s.limit {
            st.memory.push_back(item);
            drop(st);
            s.notify.notify_one();
            return;
        }
        let (write, reply) = match item {
            Queued::Flush(done) => {
                st.flushers.push(done);
                return;
            }
            Queued::Write(w) => (w, None),
            Queued::Awaited(w, reply) => (w, Some(reply)),
        };
        match append_entries(&s.spill, std::slice::from_ref(&write)) {
            Ok(()) => {
                if st.spilled_total == 0 || st.spilled == 0 {
                    tracing::warn!(
                        in_memory = st.memory.len(),
                        "write queue full: writes spill to disk"
                    );
                }
                st.spilled += 1;
                st.spilled_total += 1;
                if let Some(reply) = reply {
                    let _ = reply.send(Ok(Written::Journaled));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "write queue: cannot spill; keeping the write in memory");
                st.memory.push_back(match reply {
                    Some(reply) => Queued::Awaited(write, reply),
                    None => Queued::Write(write),
                });
            }
        }
        drop(st);
        s.notify.notify_one();
    }

    /// Items held in memory now.
    #[must_use]
    pub fn in_memory(&self) -> usize {
        self.shared.lock().memory.len()
    }

    /// Writes on disk now, waiting to be taken.
    #[must_use]
    pub fn spilled(&self) -> usize {
        self.shared.lock().spilled
    }

    /// Writes ever spilled.
    #[must_use]
    pub fn spilled_total(&self) -> u64 {
        self.shared.lock().spilled_total
    }
}

impl WriteQueueReader {
    /// The next item, in the order queued; `None` once every producer is gone and nothing
    /// is left.
    pub async fn pop(&mut self) -> Option<Queued> {
        let s = &self.shared;
        loop {
            let unreadable = {
                let mut st = s.lock();
                if let Some(item) = st.memory.pop_front() {
                    return Some(item);
                }
                // Everything older than the spilled writes is handled.
                for done in st.flushers.drain(..) {
                    let _ = done.send(());
                }
                let mut unreadable = false;
                while st.spilled > 0 && !unreadable {
                    match take_spilled(s, &mut st) {
                        Taken::Write(w) => return Some(Queued::Write(*w)),
                        Taken::SetAside => {}
                        Taken::Unreadable => unreadable = true,
                    }
                }
                if !unreadable && st.closed {
                    return None;
                }
                unreadable
            };
            if unreadable {
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                continue;
            }
            s.notify.notified().await;
        }
    }
}

enum Taken {
    Write(Box<CallWrite>),
    /// Its line was not a call write: set aside in the rejected file.
    SetAside,
    /// The file cannot be read now: try again later.
    Unreadable,
}

/// The next spilled write.
fn take_spilled(s: &Shared, st: &mut State) -> Taken {
    let mut line = Vec::new();
    let read = std::fs::File::open(&s.spill).and_then(|f| {
        let mut f = std::io::BufReader::new(f);
        f.seek(SeekFrom::Start(st.read_at))?;
        f.read_until(b'\n', &mut line)
    });
    st.spilled -= 1;
    let write = match read {
        Ok(n) if n > 0 => {
            st.read_at += n as u64;
            match serde_json::from_slice::<CallWrite>(&line) {
                Ok(w) => Taken::Write(Box::new(w)),
                Err(e) => {
                    tracing::error!(error = %e, "write queue: a spilled line is not a call write; set aside");
                    set_aside(&s.rejected, &line);
                    Taken::SetAside
                }
            }
        }
        Ok(_) => {
            tracing::error!(
                missing = st.spilled + 1,
                "write queue: the spill file ended early"
            );
            st.spilled = 0;
            Taken::SetAside
        }
        Err(e) => {
            // Keep the count: tried again a moment later.
            tracing::error!(error = %e, "write queue: cannot read the spill file");
            st.spilled += 1;
            return Taken::Unreadable;
        }
    };
    if st.spilled == 0 {
        st.read_at = 0;
        if let Err(e) = std::fs::remove_file(&s.spill) {
            tracing::warn!(error = %e, "write queue: cannot remove the emptied spill file");
        }
    }
    write
}

fn set_aside(rejected: &Path, line: &[u8]) {
    use std::io::Write;
    let done = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(rejected)
        .and_then(|mut f| f.write_all(line).and_then(|()| f.write_all(b"\n")));
    if let Err(e) = done {
        tracing::error!(error = %e, "write queue: cannot set a line aside");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(n: usize) -> CallWrite {
        CallWrite::IvrStep {
            call_id: "c-1".into(),
            step: format!("menu:{n}"),
        }
    }

    fn as_write(q: Queued) -> CallWrite {
        match q {
            Queued::Write(w) => w,
            other => panic!("expected a write, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn beyond_the_limit_writes_spill_to_disk_and_come_back_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let journal = dir.path().join("calls.jsonl");
        let (queue, mut reader) = write_queue(&journal, 3).unwrap();
        for n in 0..10 {
            queue.push(Queued::Write(step(n)));
            assert!(queue.in_memory() <= 3);
        }
        assert_eq!((queue.in_memory(), queue.spilled()), (3, 7));
        assert_eq!(
            parse_journal(&std::fs::read(spill_path(&journal)).unwrap())
                .entries
                .len(),
            7
        );
        // A caller waiting for its write is told at once that it is on disk.
        let (tx, rx) = oneshot::channel();
        queue.push(Queued::Awaited(step(10), tx));
        assert_eq!(rx.await.unwrap().unwrap(), Written::Journaled);
        // A flush is answered once the writes in memory (older than the spill) are taken.
        let (tx, mut flushed) = oneshot::channel();
        queue.push(Queued::Flush(tx));
        let mut got = Vec::new();
        for _ in 0..3 {
            assert!(flushed.try_recv().is_err());
            got.push(as_write(reader.pop().await.unwrap()));
        }
        got.push(as_write(reader.pop().await.unwrap()));
        flushed.try_recv().unwrap();
        for _ in 4..11 {
            got.push(as_write(reader.pop().await.unwrap()));
        }
        assert_eq!(got, (0..11).map(step).collect::<Vec<_>>());
        assert!(!spill_path(&journal).exists(), "emptied spill removed");
        // Below the limit again: memory.
        queue.push(Queued::Write(step(11)));
        assert_eq!((queue.in_memory(), queue.spilled()), (1, 0));
        assert_eq!(as_write(reader.pop().await.unwrap()), step(11));
        drop(queue);
        assert!(reader.pop().await.is_none());
    }

    #[tokio::test]
    async fn a_spill_left_by_a_crash_goes_to_the_journal() {
        let dir = tempfile::tempdir().unwrap();
        let journal = dir.path().join("calls.jsonl");
        append_entries(&journal, &[step(0)]).unwrap();
        append_entries(&spill_path(&journal), &[step(1), step(2)]).unwrap();
        let (_queue, _reader) = write_queue(&journal, 3).unwrap();
        assert!(!spill_path(&journal).exists());
        let read = parse_journal(&std::fs::read(&journal).unwrap());
        assert_eq!(read.entries, [step(0), step(1), step(2)]);
    }
}
