//! The call card writer (R-TEL-2, R-SR-12): every write a call makes to the CRM goes through
//! one task, in order, via the [`crm::JournaledStore`], so a database outage journals the
//! writes to disk instead of losing them, and a slow database never stalls a call's audio or
//! signalling. The call task only enqueues; the writer applies.
//!
//! The writes wait in a [`crm::WriteQueue`]: at most `database.queued_writes_max` in
//! memory, the rest spilled to disk beside the journal, so a long outage does not grow the
//! process's memory and loses nothing.
//!
//! Only the ticket of an answered call is awaited (the agent's screen pop needs its number);
//! when that write is journaled the screen pop says so and the ticket appears on replay.

use std::sync::Arc;
use std::time::Duration;

use crm::{CallWrite, JournaledStore, Queued, Ticket, WriteQueue, WriteQueueReader, Written};
use tokio::sync::oneshot;
use tracing::{debug, error, info, warn};

/// How often the writer retries the journal while writes wait in it.
const REPLAY_EVERY: Duration = Duration::from_secs(5);

/// Enqueues call writes; cheap to clone.
#[derive(Clone)]
pub struct CardWriter {
    jobs: WriteQueue,
}

impl CardWriter {
    /// Starts the writer task over `store`.
    pub fn spawn(store: Arc<JournaledStore>) -> Result<CardWriter, crm::Error> {
        let (jobs, rx) = store.write_queue()?;
        tokio::spawn(run(store, rx));
        Ok(CardWriter { jobs })
    }

    /// Enqueues a write; it is applied after every write enqueued before it.
    pub fn write(&self, w: CallWrite) {
        self.jobs.push(Queued::Write(w));
    }

    /// Enqueues a write and waits for it: `Applied(ticket)` or `Journaled`.
    pub async fn write_awaited(&self, w: CallWrite) -> Result<Written, crm::Error> {
        let (tx, rx) = oneshot::channel();
        self.jobs.push(Queued::Awaited(w, tx));
        rx.await
            .map_err(|_| crm::Error::Journal("call card writer stopped".into()))?
    }

    /// Opens the Service Request of an answered call; `None` when it was journaled (the
    /// database is away) or refused (logged).
    pub async fn open_ticket(&self, w: CallWrite) -> Option<Ticket> {
        match self.write_awaited(w).await {
            Ok(Written::Applied(t)) => t.map(|t| *t),
            Ok(Written::Journaled) => {
                warn!("database away: the Service Request opens when it is back");
                None
            }
            Err(e) => {
                error!(error = %e, "the Service Request could not be opened");
                None
            }
        }
    }

    /// Waits until every write enqueued before has been applied or journaled.
    pub async fn flush(&self) {
        let (tx, rx) = oneshot::channel();
        self.jobs.push(Queued::Flush(tx));
        let _ = rx.await;
    }
}

async fn run(store: Arc<JournaledStore>, mut jobs: WriteQueueReader) {
    let mut replay = tokio::time::interval(REPLAY_EVERY);
    replay.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            job = jobs.pop() => match job {
                Some(Queued::Write(w)) => {
                    if let Err(e) = store.write(w.clone()).await {
                        error!(error = %e, write = ?w, "call write refused");
                    }
                }
                Some(Queued::Awaited(w, reply)) => {
                    let _ = reply.send(store.write(w).await);
                }
                Some(Queued::Flush(done)) => {
                    let _ = done.send(());
                }
                None => return,
            },
            _ = replay.tick() => {
                match store.pending() {
                    Ok(0) => {}
                    Ok(n) => match store.replay().await {
                        Ok(r) if r.applied > 0 || r.rejected > 0 => info!(
                            applied = r.applied, rejected = r.rejected, pending = r.pending,
                            "call journal replayed"
                        ),
                        Ok(r) => debug!(pending = r.pending, waiting = n, "database still away"),
                        Err(e) => error!(error = %e, "call journal replay failed"),
                    },
                    Err(e) => error!(error = %e, "call journal unreadable"),
                }
            }
        }
    }
}
