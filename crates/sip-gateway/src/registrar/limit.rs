//! Failed-authentication rate limit per source address: password guessing (svcrack and its
//! kin) gets a few tries, then a cool-down during which the source's REGISTERs are refused.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Sources remembered at most; beyond it those with nothing left to enforce are forgotten.
const MAX_SOURCES: usize = 100_000;

#[derive(Debug, Clone, Copy)]
struct SourceState {
    window_start: Instant,
    failures: u32,
    blocked_until: Option<Instant>,
}

/// Counts failures per source IP in a fixed window; `max_failures` within `window` blocks the
/// source for `lockout`.
#[derive(Debug)]
pub(super) struct FailureLimiter {
    max_failures: u32,
    window: Duration,
    lockout: Duration,
    sources: HashMap<IpAddr, SourceState>,
}

impl FailureLimiter {
    pub(super) fn new(max_failures: u32, window: Duration, lockout: Duration) -> Self {
        FailureLimiter {
            max_failures: max_failures.max(1),
            window,
            lockout,
            sources: HashMap::new(),
        }
    }

    /// Whether `ip` is in its cool-down at `now`.
    pub(super) fn is_blocked(&self, ip: IpAddr, now: Instant) -> bool {
        self.sources
            .get(&ip)
            .and_then(|s| s.blocked_until)
            .is_some_and(|until| now < until)
    }

    /// Records one failure; returns the end of the cool-down when this failure starts one.
    pub(super) fn record_failure(&mut self, ip: IpAddr, now: Instant) -> Option<Instant> {
        if self.sources.len() >= MAX_SOURCES && !self.sources.contains_key(&ip) {
            self.handle_timeout(now);
        }
        let state = self.sources.entry(ip).or_insert(SourceState {
            window_start: now,
            failures: 0,
            blocked_until: None,
        });
        if now.saturating_duration_since(state.window_start) >= self.window {
            state.window_start = now;
            state.failures = 0;
        }
        state.failures += 1;
        if state.failures >= self.max_failures && state.blocked_until.is_none_or(|u| u <= now) {
            let until = now + self.lockout;
            state.blocked_until = Some(until);
            state.failures = 0;
            state.window_start = now;
            return Some(until);
        }
        None
    }

    /// Forgets sources whose window and cool-down are both over.
    pub(super) fn handle_timeout(&mut self, now: Instant) {
        let window = self.window;
        self.sources.retain(|_, s| {
            s.blocked_until.is_some_and(|u| u > now)
                || now.saturating_duration_since(s.window_start) < window
        });
    }

    /// Sources currently in their cool-down.
    pub(super) fn blocked(&self, now: Instant) -> usize {
        self.sources
            .values()
            .filter(|s| s.blocked_until.is_some_and(|u| u > now))
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_failures_in_a_minute_block_for_the_lockout() {
        let mut l = FailureLimiter::new(5, Duration::from_secs(60), Duration::from_secs(300));
        let ip: IpAddr = "127.0.0.9".parse().unwrap();
        let other: IpAddr = "127.0.0.10".parse().unwrap();
        let t0 = Instant::now();
        for i in 0..4 {
            assert_eq!(l.record_failure(ip, t0 + Duration::from_secs(i)), None);
        }
        assert!(!l.is_blocked(ip, t0 + Duration::from_secs(4)));
        let until = l.record_failure(ip, t0 + Duration::from_secs(5));
        assert_eq!(until, Some(t0 + Duration::from_secs(305)));
        assert!(l.is_blocked(ip, t0 + Duration::from_secs(304)));
        assert!(!l.is_blocked(other, t0 + Duration::from_secs(10)));
        assert_eq!(l.blocked(t0 + Duration::from_secs(10)), 1);
        assert!(!l.is_blocked(ip, t0 + Duration::from_secs(305)));
        l.handle_timeout(t0 + Duration::from_secs(400));
        assert!(l.sources.is_empty());
    }

    #[test]
    fn failures_spread_over_windows_do_not_block() {
        let mut l = FailureLimiter::new(5, Duration::from_secs(60), Duration::from_secs(300));
        let ip: IpAddr = "::1".parse().unwrap();
        let t0 = Instant::now();
        for i in 0..20 {
            // Four failures per minute, never five in one window.
            let at = t0 + Duration::from_secs(61 * (i / 4) + i % 4);
            assert_eq!(l.record_failure(ip, at), None, "failure {i}");
        }
    }
}
