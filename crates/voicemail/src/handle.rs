//! The [`Voicemail`] handle the call code uses, and its filer task.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use crm::{CallWrite, JournaledStore, VoicemailMessage, Written};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, error, info, warn};

use crate::VoicemailSettings;
use crate::mailbox::{self, sanitize};
use crate::recovery;

/// How often pending hand-offs are retried while some wait.
const RETRY_EVERY: Duration = Duration::from_secs(5);
/// How often the retention sweep runs.
const SWEEP_EVERY: Duration = Duration::from_secs(3600);

/// The time messages are stamped with (injected in tests).
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// Why a message cannot be taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The mailbox folder cannot be created.
    Unavailable(String),
    /// The quota or the disk has no room for one more message of the maximum length.
    Full(String),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Unavailable(why) | Refusal::Full(why) => f.write_str(why),
        }
    }
}

/// A recorded message to hand to the CRM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub call_id: String,
    /// The caller's number as received (`None`: unknown).
    pub caller: Option<String>,
    pub mailbox: String,
    /// The WAV, as [`Voicemail::admit`] placed it.
    pub path: PathBuf,
    pub duration: Duration,
}

/// What became of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filing {
    /// It opened this Service Request.
    Opened { number: String },
    /// It joined the caller's voicemail Service Request still `new`.
    Joined { number: String },
    /// The database is away: the hand-off is journaled and becomes its ticket, once, when
    /// the database is back (or the CRM refused it: logged, kept, filed again at start).
    Pending,
}

/// What [`Voicemail::recover`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovery {
    /// `.wav.tmp` files repaired and renamed into place.
    pub recovered: usize,
    /// `.wav.tmp` files removed: no audio, or shorter than the minimum.
    pub discarded: usize,
    /// Messages without a marker handed to the CRM (the recovered ones included).
    pub filed: usize,
    /// Of those, the ones left pending.
    pub pending: usize,
}

/// What one retention sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sweep {
    /// Filed messages past their retention, deleted.
    pub deleted: usize,
    /// Messages past their retention kept because they are not (known to be) filed.
    pub kept_unfiled: usize,
}

enum Job {
    File(VoicemailMessage, oneshot::Sender<Filing>),
    Retry(oneshot::Sender<usize>),
}

struct Inner {
    settings: VoicemailSettings,
    journal: Arc<JournaledStore>,
    clock: Clock,
    jobs: mpsc::UnboundedSender<Job>,
    /// Hand-offs journaled or refused, by call id, until their ticket is seen.
    pending: Mutex<BTreeMap<String, PathBuf>>,
}

/// Mailboxes, quota, retention and the hand-off of messages to the CRM. Cheap to clone; its
/// methods never block the calling task on file IO (the blocking pool does it) and filings
/// are applied one at a time by the handle's filer task, through the CRM's journal.
#[derive(Clone)]
pub struct Voicemail {
    inner: Arc<Inner>,
}

impl fmt::Debug for Voicemail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Voicemail")
            .field("dir", &self.inner.settings.dir)
            .finish_non_exhaustive()
    }
}

/// Runs blocking file IO on the blocking pool.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    match tokio::task::spawn_blocking(f).await {
        Ok(t) => t,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

impl Voicemail {
    /// A handle over `settings`, filing through `journal` (share the call card writer's, so
    /// one journal keeps every call write in order); starts the filer task.
    pub fn new(settings: VoicemailSettings, journal: Arc<JournaledStore>) -> Voicemail {
        Voicemail::with_clock(settings, journal, Arc::new(Utc::now))
    }

    /// As [`Voicemail::new`], messages stamped by `clock`.
    pub fn with_clock(
        settings: VoicemailSettings,
        journal: Arc<JournaledStore>,
        clock: Clock,
    ) -> Voicemail {
        let (jobs, rx) = mpsc::unbounded_channel();
        let vm = Voicemail {
            inner: Arc::new(Inner {
                settings,
                journal,
                clock,
                jobs,
                pending: Mutex::new(BTreeMap::new()),
            }),
        };
        tokio::spawn(filer(Arc::downgrade(&vm.inner), rx));
        vm
    }

    /// The settings in force.
    pub fn settings(&self) -> &VoicemailSettings {
        &self.inner.settings
    }

    /// The journaled store the messages are filed through.
    pub fn journal(&self) -> &Arc<JournaledStore> {
        &self.inner.journal
    }

    /// Call ids whose hand-off waits for the database.
    pub fn pending(&self) -> Vec<String> {
        self.lock_pending().keys().cloned().collect()
    }

    fn lock_pending(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, PathBuf>> {
        self.inner.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Makes room for the message of `call_id` in `mailbox`: creates the mailbox folder,
    /// checks that a message of the maximum length fits in the quota and on the disk, and
    /// returns where to record it (`<dir>/<mailbox>/<call id>.wav`).
    pub async fn admit(&self, mailbox: &str, call_id: &str) -> Result<PathBuf, Refusal> {
        let settings = self.inner.settings.clone();
        let dir = settings.dir.join(sanitize(mailbox));
        let path = dir.join(format!("{}.{}", sanitize(call_id), mailbox::WAV));
        blocking(move || {
            if let Err(error) = std::fs::create_dir_all(&dir) {
                warn!(%error, dir = %dir.display(), "cannot create the mailbox folder");
                return Err(Refusal::Unavailable(error.to_string()));
            }
            mailbox::storage_allows(&settings).map_err(Refusal::Full)
        })
        .await?;
        Ok(path)
    }

    /// Removes a message not worth keeping (too short).
    pub async fn discard(&self, path: &Path) {
        if let Err(error) = tokio::fs::remove_file(path).await
            && error.kind() != std::io::ErrorKind::NotFound
        {
            warn!(%error, path = %path.display(), "cannot remove a discarded message");
        }
    }

    /// Hands a recorded message to the CRM: a Service Request opened or joined, or pending
    /// while the database is away (journaled; filed once when it is back).
    pub async fn file(&self, message: Message) -> Filing {
        let left_at = (self.inner.clock)();
        self.file_at(message, left_at).await
    }

    async fn file_at(&self, m: Message, left_at: DateTime<Utc>) -> Filing {
        let entry = VoicemailMessage {
            call_id: m.call_id,
            caller: m.caller,
            queue: self.inner.settings.queue.clone(),
            wav: m.path,
            duration_ms: m.duration.as_millis() as u64,
            left_at,
            clocks: self
                .inner
                .settings
                .sla
                .as_ref()
                .map(|sla| sla.due_from(left_at).into()),
        };
        let (tx, rx) = oneshot::channel();
        if self.inner.jobs.send(Job::File(entry, tx)).is_err() {
            error!("voicemail filer stopped: message kept on disk");
            return Filing::Pending;
        }
        rx.await.unwrap_or(Filing::Pending)
    }

    /// Replays the journal and looks up the pending hand-offs; returns how many are now
    /// filed (their markers written). The filer does this every few seconds while some wait.
    pub async fn retry_pending(&self) -> usize {
        let (tx, rx) = oneshot::channel();
        if self.inner.jobs.send(Job::Retry(tx)).is_err() {
            return 0;
        }
        rx.await.unwrap_or(0)
    }

    /// At start, before calls: repairs every `.wav.tmp` a crash left (keeping the audio as
    /// far as it was written) and renames it into place, then hands every message without
    /// a marker to the CRM (a replay of a message already filed changes nothing).
    pub async fn recover(&self) -> Recovery {
        let settings = &self.inner.settings;
        let (dir, min) = (settings.dir.clone(), settings.min_length);
        let temp = blocking(move || recovery::recover_temp_files(&dir, min)).await;
        let dir = settings.dir.clone();
        let unfiled = blocking(move || {
            mailbox::unfiled(&dir)
                .into_iter()
                .map(|(wav, meta)| {
                    let duration = recovery::duration_of(&wav).unwrap_or_default();
                    let left_at = meta.modified().map(DateTime::<Utc>::from).ok();
                    (wav, duration, left_at)
                })
                .collect::<Vec<_>>()
        })
        .await;
        let mut report = Recovery {
            recovered: temp.recovered.len(),
            discarded: temp.discarded,
            ..Recovery::default()
        };
        for (wav, duration, left_at) in unfiled {
            let Some(call_id) = mailbox::call_id_of(&wav) else {
                continue;
            };
            let message = Message {
                call_id,
                caller: None,
                mailbox: mailbox::mailbox_of(&wav),
                path: wav,
                duration,
            };
            let left_at = left_at.unwrap_or_else(|| (self.inner.clock)());
            report.filed += 1;
            if self.file_at(message, left_at).await == Filing::Pending {
                report.pending += 1;
            }
        }
        if report != Recovery::default() {
            info!(?report, "voicemail: messages on disk recovered");
        }
        report
    }

    /// One retention pass at `now`: deletes the messages past the retention that are filed
    /// (marker beside them, or the CRM says so: the marker is then written); never an
    /// unfiled one.
    pub async fn sweep(&self, now: SystemTime) -> Sweep {
        let mut report = Sweep::default();
        let Some(retention) = self.inner.settings.retention else {
            return report;
        };
        let dir = self.inner.settings.dir.clone();
        let old = blocking(move || mailbox::past_retention(&dir, retention, now)).await;
        let mut filed = Vec::new();
        for (wav, marked) in old {
            if marked {
                filed.push(wav);
                continue;
            }
            let store = self.inner.journal.store();
            let known = match mailbox::call_id_of(&wav) {
                Some(id) => store.voicemail_filing(&id).await.ok().flatten(),
                None => None,
            };
            match known {
                Some(f) => {
                    write_marker(&wav, &f.number).await;
                    filed.push(wav);
                }
                None => {
                    warn!(path = %wav.display(), "voicemail: message past its retention not filed yet: kept");
                    report.kept_unfiled += 1;
                }
            }
        }
        report.deleted =
            blocking(move || filed.iter().filter(|w| mailbox::delete_filed(w)).count()).await;
        if report.deleted > 0 {
            info!(
                removed = report.deleted,
                "voicemail files past their retention deleted"
            );
        }
        report
    }

    /// Starts the background work: the retention sweep now and every hour, and the retry of
    /// pending hand-offs every few seconds while some wait. Stops when every handle is gone.
    pub fn spawn_maintenance(&self) {
        let weak = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            let mut every = tokio::time::interval(SWEEP_EVERY);
            loop {
                every.tick().await;
                let Some(inner) = weak.upgrade() else { return };
                Voicemail { inner }.sweep(SystemTime::now()).await;
            }
        });
        let weak = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            let mut every = tokio::time::interval(RETRY_EVERY);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                let Some(inner) = weak.upgrade() else { return };
                let vm = Voicemail { inner };
                if !vm.lock_pending().is_empty() {
                    vm.retry_pending().await;
                }
            }
        });
    }
}

async fn write_marker(wav: &Path, number: &str) {
    if let Err(error) = tokio::fs::write(mailbox::marker(wav), number).await {
        warn!(%error, path = %wav.display(), "cannot mark a message filed (it stays on disk)");
    }
}

/// Applies filings one at a time through the journal.
async fn filer(inner: std::sync::Weak<Inner>, mut jobs: mpsc::UnboundedReceiver<Job>) {
    while let Some(job) = jobs.recv().await {
        let Some(inner) = inner.upgrade() else { return };
        let vm = Voicemail { inner };
        match job {
            Job::File(m, reply) => {
                let _ = reply.send(vm.hand_off(m).await);
            }
            Job::Retry(reply) => {
                let _ = reply.send(vm.look_up_pending().await);
            }
        }
    }
}

impl Voicemail {
    async fn hand_off(&self, m: VoicemailMessage) -> Filing {
        let (call_id, wav) = (m.call_id.clone(), m.wav.clone());
        match self.inner.journal.write(CallWrite::Voicemail(m)).await {
            Ok(Written::Applied(Some(t))) => {
                write_marker(&wav, &t.number).await;
                self.lock_pending().remove(&call_id);
                if t.call_id.as_deref() == Some(call_id.as_str()) {
                    info!(ticket = %t.number, take_in_charge_by = ?t.sla.first_response_due,
                        resolve_by = ?t.sla.solution_due, "voicemail ticket opened");
                    Filing::Opened { number: t.number }
                } else {
                    info!(ticket = %t.number, "voicemail joined the customer's new voicemail ticket");
                    Filing::Joined { number: t.number }
                }
            }
            Ok(Written::Applied(None)) => Filing::Pending,
            Ok(Written::Journaled) => {
                warn!(path = %wav.display(), "voicemail ticket pending: the message is kept on disk");
                self.lock_pending().insert(call_id, wav);
                Filing::Pending
            }
            Err(e) => {
                error!(error = %e, path = %wav.display(),
                    "voicemail ticket refused: the message is kept on disk and filed again at the next start");
                Filing::Pending
            }
        }
    }

    async fn look_up_pending(&self) -> usize {
        match self.inner.journal.replay().await {
            Ok(r) if r.applied > 0 || r.rejected > 0 => info!(
                applied = r.applied,
                rejected = r.rejected,
                pending = r.pending,
                "call journal replayed"
            ),
            Ok(_) => {}
            Err(e) => warn!(error = %e, "call journal replay failed"),
        }
        let waiting: Vec<(String, PathBuf)> = self
            .lock_pending()
            .iter()
            .map(|(c, p)| (c.clone(), p.clone()))
            .collect();
        let mut filed = 0;
        for (call_id, wav) in waiting {
            match self.inner.journal.store().voicemail_filing(&call_id).await {
                Ok(Some(f)) => {
                    write_marker(&wav, &f.number).await;
                    self.lock_pending().remove(&call_id);
                    info!(ticket = %f.number, joined = f.joined, call_id = %call_id,
                        "voicemail: pending message filed");
                    filed += 1;
                }
                Ok(None) => debug!(call_id = %call_id, "voicemail hand-off still pending"),
                Err(e) => {
                    debug!(error = %e, "database still away");
                    break;
                }
            }
        }
        filed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A handle whose database does not exist (SQLite `mode=rw` on a missing file): every
    /// CRM question fails as "unavailable".
    fn offline(dir: &Path, retention: Option<Duration>) -> Voicemail {
        let url = format!("sqlite://{}?mode=rw", dir.join("absent.db").display());
        let store = crm::Store::connect_lazy_with(&url, crm::Settings::default()).unwrap();
        let journal = Arc::new(JournaledStore::new(store, dir.join("journal.jsonl")));
        let mut settings = crate::mailbox::tests::settings(&dir.join("voicemail"), u64::MAX);
        settings.retention = retention;
        Voicemail::new(settings, journal)
    }

    fn aged(path: &Path, now: SystemTime, age: Duration) {
        std::fs::write(path, b"RIFF").unwrap();
        std::fs::File::options()
            .write(true)
            .open(path)
            .unwrap()
            .set_modified(now - age)
            .unwrap();
    }

    #[tokio::test]
    async fn retention_deletes_only_old_filed_messages() {
        let dir = tempfile::tempdir().unwrap();
        let vm = offline(dir.path(), Some(Duration::from_secs(86_400)));
        let general = dir.path().join("voicemail/general");
        std::fs::create_dir_all(&general).unwrap();
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(2_000_000_000);
        let day = Duration::from_secs(86_400);
        let old_filed = general.join("a.wav");
        aged(&old_filed, now, 2 * day);
        std::fs::write(general.join("a.filed"), "2025010110000011").unwrap();
        let old_unfiled = general.join("b.wav");
        aged(&old_unfiled, now, 30 * day);
        let new_filed = general.join("c.wav");
        aged(&new_filed, now, Duration::from_secs(60));
        std::fs::write(general.join("c.filed"), "2025010110000012").unwrap();

        let report = vm.sweep(now).await;
        assert_eq!(
            report,
            Sweep {
                deleted: 1,
                kept_unfiled: 1
            }
        );
        assert!(!old_filed.exists() && !general.join("a.filed").exists());
        assert!(old_unfiled.exists(), "an unfiled message is never deleted");
        assert!(new_filed.exists());
        // No retention configured: nothing is deleted.
        let keep = offline(dir.path(), None);
        aged(&old_filed, now, 2 * day);
        std::fs::write(general.join("a.filed"), "n").unwrap();
        assert_eq!(keep.sweep(now).await, Sweep::default());
        assert!(old_filed.exists());
    }

    #[tokio::test]
    async fn admit_makes_the_mailbox_and_applies_the_quota() {
        let dir = tempfile::tempdir().unwrap();
        let vm = offline(dir.path(), None);
        let path = vm.admit("sales/../x", "0190abcd-1").await.unwrap();
        assert_eq!(path, dir.path().join("voicemail/sales____x/0190abcd-1.wav"));
        assert!(path.parent().unwrap().is_dir());
        let mut settings = vm.settings().clone();
        settings.max_total_bytes = 1000;
        let full = Voicemail::new(settings, vm.journal().clone());
        match full.admit("sales", "c2").await {
            Err(Refusal::Full(why)) => assert!(why.contains("of the 1000 allowed"), "{why}"),
            other => panic!("expected a refusal, got {other:?}"),
        }
        std::fs::write(&path, b"x").unwrap();
        vm.discard(&path).await;
        assert!(!path.exists());
    }
}
