//! The recorded side of the bus, bounded in memory and never lossy: up to
//! [`RecordLimits::memory`] events wait in a channel for the event log's writer; past that,
//! publishers append to an on-disk spill file (JSON lines of [`Recorded`]) that the writer
//! reads before going back to the channel. Publishing never waits for the writer and never
//! drops an event.
//!
//! Order: once one event went to the spill, every later one goes there too until the writer
//! has read the spill to its end (checked under the same lock the publishers take); so the
//! channel only ever holds events older than any spilled one, and the writer reads the channel
//! first, then the spill, then the channel again: publication order, always.
//!
//! The spill is a memory bound, not a journal: it is emptied (truncated) each time the writer
//! catches up. A file left by a process that died while spilling is kept as
//! `<spill>.orphan-<n>` at the next start (logged), for the administration.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use crate::Recorded;

/// How the recorded side is bounded.
#[derive(Debug, Clone)]
pub struct RecordLimits {
    /// Events held in memory for the writer; more go to the spill file.
    pub memory: usize,
    /// The spill file (created when first needed, truncated when read to its end).
    pub spill: PathBuf,
}

/// Events held in memory for the event log's writer by default (`events.memory_limit`).
pub const DEFAULT_MEMORY_LIMIT: usize = 65_536;

/// Why the spill could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SpillError {
    #[error("events.memory_limit: expected at least 1 event, got 0")]
    ZeroLimit,
    #[error("event spill file {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// What publishers and the reader share.
pub(crate) struct Spill {
    path: PathBuf,
    state: Mutex<SpillState>,
    /// Events ever written to the spill file (`centralino_events_spilled_total`).
    spilled_total: AtomicU64,
    /// Events in the spill file not yet read.
    pending: AtomicU64,
}

#[derive(Default)]
struct SpillState {
    /// Events go to the file, not the channel, until the reader catches up.
    spilling: bool,
    writer: Option<File>,
    reader: Option<BufReader<File>>,
    /// Set when the file cannot be written: events are then kept in memory past the limit
    /// (logged once) rather than lost.
    broken: bool,
    overflow: Vec<Recorded>,
}

impl Spill {
    pub(crate) fn new(path: PathBuf) -> Result<Spill, SpillError> {
        let io = |source| SpillError::Io {
            path: path.clone(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        if path.exists() && std::fs::metadata(&path).map_err(io)?.len() > 0 {
            let orphan = orphan_name(&path);
            std::fs::rename(&path, &orphan).map_err(io)?;
            tracing::warn!(
                kept = %orphan.display(),
                "an event spill file from a previous run (events it held are not in the event log)"
            );
        }
        Ok(Spill {
            path,
            state: Mutex::new(SpillState::default()),
            spilled_total: AtomicU64::new(0),
            pending: AtomicU64::new(0),
        })
    }

    pub(crate) fn spilled_total(&self) -> u64 {
        self.spilled_total.load(Ordering::Relaxed)
    }

    pub(crate) fn pending(&self) -> u64 {
        self.pending.load(Ordering::Relaxed)
    }

    /// Hands `recorded` on: to `channel` while it has room and nothing is spilled, else to
    /// the file. Called with the recorder's sequence lock held (publication order).
    pub(crate) fn send(&self, channel: &mpsc::Sender<Recorded>, recorded: Recorded) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if !state.spilling {
            match channel.try_send(recorded) {
                Ok(()) => {}
                // The writer is gone: the process is stopping (as the unbounded side did).
                Err(mpsc::error::TrySendError::Closed(_)) => {}
                Err(mpsc::error::TrySendError::Full(recorded)) => {
                    state.spilling = true;
                    self.append(&mut state, recorded);
                }
            }
        } else {
            self.append(&mut state, recorded);
        }
    }

    fn append(&self, state: &mut SpillState, recorded: Recorded) {
        if !state.broken {
            match self.write_line(state, &recorded) {
                Ok(()) => {
                    self.spilled_total.fetch_add(1, Ordering::Relaxed);
                    self.pending.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                Err(error) => {
                    tracing::error!(
                        path = %self.path.display(),
                        %error,
                        "event spill file unwritable: events wait in memory"
                    );
                    state.broken = true;
                }
            }
        }
        self.pending.fetch_add(1, Ordering::Relaxed);
        state.overflow.push(recorded);
    }

    fn write_line(&self, state: &mut SpillState, recorded: &Recorded) -> std::io::Result<()> {
        if state.writer.is_none() {
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)?;
            state.reader = Some(BufReader::new(File::open(&self.path)?));
            state.writer = Some(file);
        }
        let mut line = serde_json::to_vec(recorded).map_err(std::io::Error::other)?;
        line.push(b'\n');
        state
            .writer
            .as_mut()
            .expect("opened above")
            .write_all(&line)
    }

    /// Up to `limit` spilled events, oldest first, into `out`; when the spill is read to its
    /// end, it is emptied and publishers go back to the channel. Returns how many were read.
    pub(crate) fn read(&self, out: &mut Vec<Recorded>, limit: usize) -> usize {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if !state.spilling {
            return 0;
        }
        let mut read = 0;
        if let Some(reader) = state.reader.as_mut() {
            let mut line = String::new();
            while read < limit {
                line.clear();
                match reader.read_line(&mut line) {
                    Ok(0) => break,
                    // Every line was written whole under the lock before it could be read.
                    Ok(_) => match serde_json::from_str::<Recorded>(line.trim_end()) {
                        Ok(recorded) => {
                            out.push(recorded);
                            read += 1;
                        }
                        Err(error) => {
                            tracing::error!(%error, "unreadable event spill line skipped");
                            self.pending.fetch_sub(1, Ordering::Relaxed);
                        }
                    },
                    Err(error) => {
                        tracing::error!(%error, "event spill file unreadable");
                        break;
                    }
                }
            }
        }
        self.pending.fetch_sub(read as u64, Ordering::Relaxed);
        if read < limit && !state.overflow.is_empty() {
            // The file broke after these: they follow what it held.
            let n = (limit - read).min(state.overflow.len());
            out.extend(state.overflow.drain(..n));
            self.pending.fetch_sub(n as u64, Ordering::Relaxed);
            read += n;
        }
        if read < limit {
            // Read to the end: empty the file; later events go to the channel again.
            state.spilling = false;
            if let Some(writer) = state.writer.as_mut() {
                let emptied = writer
                    .set_len(0)
                    .and_then(|()| writer.seek(SeekFrom::Start(0)));
                if emptied.is_err() {
                    state.writer = None;
                }
            }
            if let Some(reader) = state.reader.as_mut()
                && reader.seek(SeekFrom::Start(0)).is_err()
            {
                state.reader = None;
                state.writer = None;
            }
        }
        read
    }
}

impl Drop for Spill {
    fn drop(&mut self) {
        // Read to its end or never used: nothing in it is owed to the log.
        if self.pending() == 0 {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

fn orphan_name(path: &Path) -> PathBuf {
    (1..)
        .map(|n| {
            let mut name = path.as_os_str().to_owned();
            name.push(format!(".orphan-{n}"));
            PathBuf::from(name)
        })
        .find(|p| !p.exists())
        .expect("some name is free")
}

/// The event log writer's side of a recorded bus: [`Recorded`] events in publication order,
/// from memory or from the spill.
pub struct RecordedLog {
    channel: mpsc::Receiver<Recorded>,
    spill: Arc<Spill>,
}

impl RecordedLog {
    pub(crate) fn new(channel: mpsc::Receiver<Recorded>, spill: Arc<Spill>) -> RecordedLog {
        RecordedLog { channel, spill }
    }

    /// Waits for events and appends up to `limit` of them to `out`, in publication order.
    /// Returns 0 only when every publisher is gone and everything was read.
    pub async fn recv_many(&mut self, out: &mut Vec<Recorded>, limit: usize) -> usize {
        let limit = limit.max(1);
        // What is in memory is older than anything spilled.
        let mut n = 0;
        while n < limit {
            match self.channel.try_recv() {
                Ok(recorded) => {
                    out.push(recorded);
                    n += 1;
                }
                Err(_) => break,
            }
        }
        if n > 0 {
            return n;
        }
        let n = self.spill.read(out, limit);
        if n > 0 {
            return n;
        }
        // Nothing spilled is left (the spill switched back to the channel): wait.
        self.channel.recv_many(out, limit).await
    }

    /// The next event, waiting for one; `None` once every publisher is gone and all was read.
    pub async fn recv(&mut self) -> Option<Recorded> {
        let mut one = Vec::with_capacity(1);
        self.recv_many(&mut one, 1).await;
        one.pop()
    }

    /// The next event if one waits (in memory or spilled), without waiting.
    pub fn try_recv(&mut self) -> Option<Recorded> {
        if let Ok(recorded) = self.channel.try_recv() {
            return Some(recorded);
        }
        let mut one = Vec::with_capacity(1);
        self.spill.read(&mut one, 1);
        one.pop()
    }

    /// Events waiting for the writer: in memory and in the spill.
    pub fn len(&self) -> usize {
        self.channel.len() + self.spill.pending() as usize
    }

    /// Whether no event waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

    use crate::{Event, EventBus, RecordLimits};

    fn dtmf(i: usize) -> Event {
        Event::CallStarted {
            call_id: format!("c{i}"),
            sip_call_id: format!("s{i}"),
            caller: None,
            dialled: None,
        }
    }

    fn bus(memory: usize, dir: &tempfile::TempDir) -> (EventBus, super::RecordedLog) {
        let at = DateTime::<Utc>::UNIX_EPOCH;
        EventBus::recorded_with(
            8,
            std::sync::Arc::new(move || at),
            RecordLimits {
                memory,
                spill: dir.path().join("events.spill"),
            },
        )
        .unwrap()
    }

    async fn read_all(log: &mut super::RecordedLog, n: usize) -> Vec<u64> {
        let mut got = Vec::new();
        let mut batch = Vec::new();
        while got.len() < n {
            batch.clear();
            assert!(log.recv_many(&mut batch, 100).await > 0);
            got.extend(batch.iter().map(|r| r.seq));
        }
        got
    }

    #[tokio::test]
    async fn a_stalled_writer_keeps_memory_bounded_and_gets_every_event_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let (bus, mut log) = bus(64, &dir);
        const N: usize = 10_000;
        // The writer reads nothing while N events are published: none waits, none is lost.
        for i in 0..N {
            bus.publish(dtmf(i));
        }
        assert_eq!(bus.record_backlog(), N as u64);
        assert_eq!(log.len(), N);
        assert_eq!(bus.spilled_total(), (N - 64) as u64, "all but 64 spilled");
        let spill = dir.path().join("events.spill");
        assert!(std::fs::metadata(&spill).unwrap().len() > 0);
        // Read back: every event, in publication order.
        let got = read_all(&mut log, N).await;
        assert_eq!(got, (1..=N as u64).collect::<Vec<_>>());
        assert_eq!(bus.record_backlog(), 0);
        // The next read finds the spill at its end: emptied, and events go to memory again.
        bus.publish(dtmf(N));
        let got = read_all(&mut log, 1).await;
        assert_eq!(got, [N as u64 + 1]);
        assert_eq!(std::fs::metadata(&spill).unwrap().len(), 0);
        assert_eq!(bus.spilled_total(), (N - 64) as u64, "nothing more spilled");
    }

    #[tokio::test]
    async fn reading_while_publishing_keeps_the_order_across_memory_and_spill() {
        let dir = tempfile::tempdir().unwrap();
        let (bus, mut log) = bus(8, &dir);
        let mut published = 0u64;
        let mut got = Vec::new();
        let mut batch = Vec::new();
        // Bursts larger and smaller than the memory limit, reads of varying sizes between.
        for round in 0..200u64 {
            for _ in 0..(round * 7 % 23) {
                bus.publish(dtmf(published as usize));
                published += 1;
            }
            let want = (round * 5 % 17 + 1) as usize;
            if !log.is_empty() {
                batch.clear();
                log.recv_many(&mut batch, want).await;
                assert!(batch.len() <= want);
                got.extend(batch.iter().map(|r| r.seq));
            }
        }
        while got.len() < published as usize {
            batch.clear();
            log.recv_many(&mut batch, 5).await;
            got.extend(batch.iter().map(|r| r.seq));
        }
        assert_eq!(got, (1..=published).collect::<Vec<_>>());
        assert!(bus.spilled_total() > 0, "the test went through the spill");
    }

    #[tokio::test]
    async fn the_log_ends_after_the_last_publisher_and_the_spill() {
        let dir = tempfile::tempdir().unwrap();
        let (bus, mut log) = bus(2, &dir);
        for i in 0..5 {
            bus.publish(dtmf(i));
        }
        drop(bus);
        let got = read_all(&mut log, 5).await;
        assert_eq!(got, [1, 2, 3, 4, 5]);
        let mut batch = Vec::new();
        assert_eq!(log.recv_many(&mut batch, 10).await, 0);
    }

    #[test]
    fn a_zero_limit_is_refused_and_a_left_spill_is_kept_aside() {
        let dir = tempfile::tempdir().unwrap();
        let at = DateTime::<Utc>::UNIX_EPOCH;
        let limits = |memory| RecordLimits {
            memory,
            spill: dir.path().join("events.spill"),
        };
        assert!(matches!(
            EventBus::recorded_with(8, std::sync::Arc::new(move || at), limits(0)),
            Err(super::SpillError::ZeroLimit)
        ));
        std::fs::write(dir.path().join("events.spill"), "{}\n").unwrap();
        let (_bus, _log) =
            EventBus::recorded_with(8, std::sync::Arc::new(move || at), limits(4)).unwrap();
        assert!(dir.path().join("events.spill.orphan-1").exists());
        assert!(!dir.path().join("events.spill").exists());
    }
}
