//! Failed PIN identifications counted across calls, sans-IO (time is given).
//!
//! A call allows two PIN attempts; without a memory across calls, a caller could dial again
//! and again and try the whole PIN space. [`PinGuard`] counts failed PIN lookups per caller
//! number (ANI; a withheld number counts as one caller) in a sliding window, and all failed
//! lookups in the last minute as a backstop against an attacker who changes numbers. When a
//! limit is reached, the PIN is not looked up at all: the call goes on unidentified (to an
//! agent, who can identify the caller by other means), and nothing tells the caller whether
//! the PIN was right.
//!
//! One guard serves every call (the switchboard's `Services`); each lookup asks
//! [`PinGuard::check`] first and reports a miss with [`PinGuard::failed`].

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// The limits; `0` turns a limit off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PinLimits {
    /// Failed PINs one caller number may make within `window`.
    pub per_caller: u32,
    /// The sliding window of `per_caller`.
    pub window: Duration,
    /// Failed PINs from all callers together within a minute.
    pub per_minute: u32,
    /// Caller numbers remembered at most (the oldest are forgotten first).
    pub max_tracked: usize,
}

impl Default for PinLimits {
    fn default() -> Self {
        PinLimits {
            per_caller: 5,
            window: Duration::from_secs(900),
            per_minute: 30,
            max_tracked: 10_000,
        }
    }
}

/// Whether a PIN may be looked up now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinVerdict {
    Allowed,
    /// This caller number made `failures` failed attempts within the window.
    CallerLimited {
        failures: u32,
    },
    /// All callers together made `failures` failed attempts within the last minute.
    GlobalLimited {
        failures: u32,
    },
}

impl PinVerdict {
    /// What the log and the call card say (no digits).
    pub fn reason(&self) -> Option<String> {
        match self {
            PinVerdict::Allowed => None,
            PinVerdict::CallerLimited { failures } => {
                Some(format!("{failures} failed PINs from this number recently"))
            }
            PinVerdict::GlobalLimited { failures } => {
                Some(format!("{failures} failed PINs in the last minute"))
            }
        }
    }
}

const MINUTE: Duration = Duration::from_secs(60);
const ANONYMOUS: &str = "anonymous";

/// See the module documentation.
#[derive(Debug, Default)]
pub struct PinGuard {
    limits: PinLimits,
    /// Per caller number: the times of its failures within the window, oldest first.
    callers: HashMap<String, VecDeque<Instant>>,
    /// Every failure within the last minute, oldest first.
    recent: VecDeque<Instant>,
}

impl PinGuard {
    pub fn new(limits: PinLimits) -> PinGuard {
        PinGuard {
            limits,
            callers: HashMap::new(),
            recent: VecDeque::new(),
        }
    }

    pub fn limits(&self) -> PinLimits {
        self.limits
    }

    /// May `caller` have a PIN looked up at `now`?
    pub fn check(&mut self, caller: Option<&str>, now: Instant) -> PinVerdict {
        self.expire(now);
        let per_minute = self.limits.per_minute;
        if per_minute > 0 && self.recent.len() >= per_minute as usize {
            return PinVerdict::GlobalLimited {
                failures: self.recent.len() as u32,
            };
        }
        let per_caller = self.limits.per_caller;
        let failures = self.callers.get(key(caller)).map_or(0, VecDeque::len);
        if per_caller > 0 && failures >= per_caller as usize {
            return PinVerdict::CallerLimited {
                failures: failures as u32,
            };
        }
        PinVerdict::Allowed
    }

    /// A PIN from `caller` found nobody at `now`.
    pub fn failed(&mut self, caller: Option<&str>, now: Instant) {
        self.expire(now);
        if self.limits.per_minute > 0 {
            self.recent.push_back(now);
            while self.recent.len() > self.limits.per_minute as usize {
                self.recent.pop_front();
            }
        }
        if self.limits.per_caller == 0 {
            return;
        }
        let key = key(caller);
        if !self.callers.contains_key(key) && self.callers.len() >= self.limits.max_tracked {
            // Forget the caller whose last failure is oldest.
            if let Some(oldest) = self
                .callers
                .iter()
                .min_by_key(|(_, times)| times.back().copied())
                .map(|(k, _)| k.clone())
            {
                self.callers.remove(&oldest);
            }
        }
        let times = self.callers.entry(key.to_string()).or_default();
        times.push_back(now);
        while times.len() > self.limits.per_caller as usize {
            times.pop_front();
        }
    }

    /// Caller numbers remembered now.
    pub fn tracked(&self) -> usize {
        self.callers.len()
    }

    fn expire(&mut self, now: Instant) {
        while self
            .recent
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= MINUTE)
        {
            self.recent.pop_front();
        }
        let window = self.limits.window;
        self.callers.retain(|_, times| {
            while times
                .front()
                .is_some_and(|t| now.saturating_duration_since(*t) >= window)
            {
                times.pop_front();
            }
            !times.is_empty()
        });
    }
}

fn key(caller: Option<&str>) -> &str {
    match caller.map(str::trim) {
        Some(c) if !c.is_empty() => c,
        _ => ANONYMOUS,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANI: Option<&str> = Some("+390600000001");

    #[test]
    fn a_caller_is_limited_after_five_failures_in_fifteen_minutes_then_let_in_again() {
        let t0 = Instant::now();
        let mut g = PinGuard::new(PinLimits::default());
        for i in 0..5 {
            let now = t0 + Duration::from_secs(60 * i);
            assert_eq!(g.check(ANI, now), PinVerdict::Allowed, "attempt {i}");
            g.failed(ANI, now);
        }
        let later = t0 + Duration::from_secs(300);
        assert_eq!(
            g.check(ANI, later),
            PinVerdict::CallerLimited { failures: 5 }
        );
        // Other callers are not affected.
        assert_eq!(g.check(Some("+390600000002"), later), PinVerdict::Allowed);
        // 15 minutes after the first failure, one slot is free again.
        let freed = t0 + Duration::from_secs(900);
        assert_eq!(g.check(ANI, freed), PinVerdict::Allowed);
        g.failed(ANI, freed);
        assert_eq!(
            g.check(ANI, freed),
            PinVerdict::CallerLimited { failures: 5 }
        );
        // Long after, forgotten altogether.
        assert_eq!(
            g.check(ANI, t0 + Duration::from_secs(7200)),
            PinVerdict::Allowed
        );
        assert_eq!(g.tracked(), 0);
    }

    #[test]
    fn withheld_numbers_count_as_one_caller() {
        let t0 = Instant::now();
        let mut g = PinGuard::new(PinLimits::default());
        for caller in [None, Some(""), Some(" "), None, None] {
            g.failed(caller, t0);
        }
        assert_eq!(g.check(None, t0), PinVerdict::CallerLimited { failures: 5 });
    }

    #[test]
    fn many_numbers_trip_the_global_limit_for_a_minute() {
        let t0 = Instant::now();
        let mut g = PinGuard::new(PinLimits::default());
        for i in 0..30u64 {
            let caller = format!("+39060000{i:04}");
            let now = t0 + Duration::from_millis(1000 * i);
            assert_eq!(g.check(Some(&caller), now), PinVerdict::Allowed);
            g.failed(Some(&caller), now);
        }
        let now = t0 + Duration::from_secs(30);
        assert_eq!(
            g.check(Some("+390699999999"), now),
            PinVerdict::GlobalLimited { failures: 30 }
        );
        // A minute after the first failure the oldest drops out.
        assert_eq!(
            g.check(Some("+390699999999"), t0 + Duration::from_secs(60)),
            PinVerdict::Allowed
        );
    }

    #[test]
    fn memory_is_bounded_and_limits_can_be_turned_off() {
        let t0 = Instant::now();
        let mut g = PinGuard::new(PinLimits {
            max_tracked: 100,
            per_minute: 0,
            ..PinLimits::default()
        });
        for i in 0..1000u64 {
            g.failed(Some(&format!("n{i}")), t0 + Duration::from_millis(i));
        }
        assert_eq!(g.tracked(), 100);
        assert_eq!(g.check(Some("n999"), t0), PinVerdict::Allowed);
        let mut off = PinGuard::new(PinLimits {
            per_caller: 0,
            per_minute: 0,
            ..PinLimits::default()
        });
        for _ in 0..100 {
            off.failed(ANI, t0);
        }
        assert_eq!(off.check(ANI, t0), PinVerdict::Allowed);
        assert_eq!(off.tracked(), 0);
    }
}
