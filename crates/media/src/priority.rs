//! Scheduling priority for the threads that run the media shards.
//!
//! The 20 ms send tick is the one deadline in the product that a caller hears when it is
//! missed: a tick scheduled late sends that tick's packets late, and the phone's jitter buffer
//! plays silence. On a loaded machine the shard threads compete with signalling, HTTP, the
//! database and whatever else runs there; a higher priority lets them run first. Media servers
//! do the same (Asterisk `-p`, FreeSWITCH `-rp`). Measured in docs/PERFORMANCE.md.
//!
//! On Linux a nice value belongs to one thread: `setpriority(PRIO_PROCESS, tid)` changes
//! only the calling thread. Lowering it needs `CAP_SYS_NICE` or a `RLIMIT_NICE` that allows
//! it (systemd: `LimitNICE=-10`); without either the call fails with `PermissionDenied` and
//! the thread keeps its priority. (A real-time policy would need `sched_setscheduler`,
//! which no safe, well-kept crate offers here, and the workspace forbids `unsafe`.)

use std::fmt;
use std::io;
use std::str::FromStr;

/// How the media threads are scheduled.
/// In the configuration file: `normal` or `high` (`media.priority`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ThreadPriority {
    /// As every other thread.
    Normal,
    /// Nice value [`HIGH_NICE`]: favoured by the normal scheduler, never starving others.
    #[default]
    High,
}

/// The nice value of [`ThreadPriority::High`].
pub const HIGH_NICE: i32 = -10;

impl ThreadPriority {
    /// The configuration word: `normal` or `high`.
    pub fn as_str(self) -> &'static str {
        match self {
            ThreadPriority::Normal => "normal",
            ThreadPriority::High => "high",
        }
    }

    /// Gives the calling thread this priority. [`ThreadPriority::Normal`] changes nothing.
    pub fn apply_to_current_thread(self) -> io::Result<()> {
        match self {
            ThreadPriority::Normal => Ok(()),
            ThreadPriority::High => set_nice(HIGH_NICE),
        }
    }
}

impl fmt::Display for ThreadPriority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ThreadPriority {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "normal" => Ok(ThreadPriority::Normal),
            "high" => Ok(ThreadPriority::High),
            other => Err(format!(
                "unknown priority \"{other}\": expected normal or high"
            )),
        }
    }
}

#[cfg(target_os = "linux")]
fn set_nice(nice: i32) -> io::Result<()> {
    let tid = rustix::thread::gettid();
    rustix::process::setpriority_process(Some(tid), nice).map_err(io::Error::from)
}

#[cfg(not(target_os = "linux"))]
fn set_nice(_nice: i32) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "per-thread priority is implemented for Linux only",
    ))
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    fn current_nice() -> i32 {
        rustix::process::getpriority_process(Some(rustix::thread::gettid())).unwrap()
    }

    #[test]
    fn words_round_trip_and_unknown_ones_are_named() {
        for p in [ThreadPriority::Normal, ThreadPriority::High] {
            assert_eq!(p.as_str().parse::<ThreadPriority>(), Ok(p));
            assert_eq!(p.to_string(), p.as_str());
        }
        let err = "urgent".parse::<ThreadPriority>().unwrap_err();
        assert!(
            err.contains("\"urgent\"") && err.contains("normal or high"),
            "{err}"
        );
    }

    #[test]
    fn high_changes_only_the_calling_thread_or_says_why_not() {
        let main_nice = current_nice();
        let (result, nice) = std::thread::spawn(|| {
            let result = ThreadPriority::High.apply_to_current_thread();
            (result, current_nice())
        })
        .join()
        .unwrap();
        match result {
            Ok(()) => assert_eq!(nice, HIGH_NICE),
            Err(e) => {
                assert_eq!(e.kind(), io::ErrorKind::PermissionDenied, "{e}");
                assert_eq!(nice, main_nice);
            }
        }
        assert_eq!(
            current_nice(),
            main_nice,
            "other threads keep their nice value"
        );
    }

    #[test]
    fn normal_changes_nothing() {
        let before = current_nice();
        ThreadPriority::Normal.apply_to_current_thread().unwrap();
        assert_eq!(current_nice(), before);
    }
}
