//! The bounded pool where password hashes are checked (issue 13): argon2id is built to cost
//! tens of milliseconds of CPU and 19 MiB; on the async workers a burst of logins would hold
//! them all and delay everything else they run (the event stream, the API; on one runtime
//! with the SIP side, calls). Here at most `threads` checks run at once, each on Tokio's
//! blocking threads, and at most `queue` more wait; beyond that a login is turned away at
//! once ([`PoolBusy`], HTTP 503) instead of queueing without end.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::Semaphore;

/// The pool is full and so is its queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many logins being checked at once")]
pub struct PoolBusy;

/// A bounded pool for CPU-heavy work. Cheap to clone.
#[derive(Debug, Clone)]
pub struct HashPool {
    permits: Arc<Semaphore>,
    waiting: Arc<AtomicUsize>,
    queue: usize,
    threads: usize,
}

/// Threads by default: one fewer than the cores (at least one), so a login flood leaves a
/// core to the rest of the process.
pub fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .saturating_sub(1)
        .max(1)
}

impl HashPool {
    /// `threads` checks at once (at least one), `queue` waiting.
    pub fn new(threads: usize, queue: usize) -> Self {
        let threads = threads.max(1);
        HashPool {
            permits: Arc::new(Semaphore::new(threads)),
            waiting: Arc::new(AtomicUsize::new(0)),
            queue,
            threads,
        }
    }

    /// Checks at once.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Runs `work` on a blocking thread once a permit is free. The permit goes with the
    /// work: a client that hangs up does not free it before the work ends.
    pub async fn run<R: Send + 'static>(
        &self,
        work: impl FnOnce() -> R + Send + 'static,
    ) -> Result<R, PoolBusy> {
        let permit = match self.permits.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.queue {
                    self.waiting.fetch_sub(1, Ordering::AcqRel);
                    return Err(PoolBusy);
                }
                let _leave = Leave(&self.waiting);
                self.permits
                    .clone()
                    .acquire_owned()
                    .await
                    .map_err(|_| PoolBusy)?
            }
        };
        tokio::task::spawn_blocking(move || {
            let out = work();
            drop(permit);
            out
        })
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "a password check failed");
            PoolBusy
        })
    }
}

/// Leaves the queue when dropped (also when the waiting request is cancelled).
struct Leave<'a>(&'a AtomicUsize);

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn at_most_threads_run_at_once_and_the_queue_is_bounded() {
        let pool = HashPool::new(2, 3);
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let (release, gate) = std::sync::mpsc::channel::<()>();
        let gate = Arc::new(std::sync::Mutex::new(gate));
        let mut tasks = Vec::new();
        for _ in 0..5 {
            let (pool, running, peak, gate) =
                (pool.clone(), running.clone(), peak.clone(), gate.clone());
            tasks.push(tokio::spawn(async move {
                pool.run(move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    gate.lock().unwrap().recv().unwrap();
                    running.fetch_sub(1, Ordering::SeqCst);
                })
                .await
            }));
        }
        // Two run, three wait: wait until the queue is full, then a sixth is turned away.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while pool.waiting.load(Ordering::SeqCst) < 3 || running.load(Ordering::SeqCst) < 2 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the pool never filled"
            );
            tokio::task::yield_now().await;
        }
        assert_eq!(pool.run(|| ()).await, Err(PoolBusy));
        for _ in 0..5 {
            release.send(()).unwrap();
        }
        for t in tasks {
            assert_eq!(t.await.unwrap(), Ok(()));
        }
        assert_eq!(peak.load(Ordering::SeqCst), 2);
        assert_eq!(pool.waiting.load(Ordering::SeqCst), 0);
    }
}
