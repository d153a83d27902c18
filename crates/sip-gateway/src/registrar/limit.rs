//! Failed-authentication rate limits: password guessing (svcrack and its kin) gets a few tries,
//! then a cool-down during which its REGISTERs are refused.
//!
//! Two limiters share this code. One counts failures per (user, source address): a phone with
//! a wrong password locks out only itself, not the other agents' phones behind the same NAT.
//! The other counts every failure from an address, whatever the user, with a higher limit: a
//! scanner that tries many user names from one address (svwar, svcrack over a range) is still
//! stopped.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Keys remembered at most; beyond it those with nothing left to enforce are forgotten.
const MAX_KEYS: usize = 100_000;

/// Longest user name kept as a key: longer claims are cut, so an attacker cannot make the
/// table hold arbitrarily large strings.
const MAX_USER_LEN: usize = 64;

/// What the per-user limiter counts: the user name claimed and the source address.
pub(super) type UserAtAddress = (String, IpAddr);

/// The per-user key for `user` (cut to a bounded length) at `ip`.
pub(super) fn user_at(user: &str, ip: IpAddr) -> UserAtAddress {
    let mut end = user.len().min(MAX_USER_LEN);
    while !user.is_char_boundary(end) {
        end -= 1;
    }
    (user[..end].to_string(), ip)
}

#[derive(Debug, Clone, Copy)]
struct KeyState {
    window_start: Instant,
    failures: u32,
    blocked_until: Option<Instant>,
}

/// Counts failures per key in a fixed window; `max_failures` within `window` blocks the key
/// for `lockout`.
#[derive(Debug)]
pub(super) struct FailureLimiter<K> {
    max_failures: u32,
    window: Duration,
    lockout: Duration,
    keys: HashMap<K, KeyState>,
}

impl<K: Hash + Eq + Clone> FailureLimiter<K> {
    pub(super) fn new(max_failures: u32, window: Duration, lockout: Duration) -> Self {
        FailureLimiter {
            max_failures: max_failures.max(1),
            window,
            lockout,
            keys: HashMap::new(),
        }
    }

    /// Whether `key` is in its cool-down at `now`.
    pub(super) fn is_blocked(&self, key: &K, now: Instant) -> bool {
        self.keys
            .get(key)
            .and_then(|s| s.blocked_until)
            .is_some_and(|until| now < until)
    }

    /// Records one failure; returns the end of the cool-down when this failure starts one.
    pub(super) fn record_failure(&mut self, key: K, now: Instant) -> Option<Instant> {
        if self.keys.len() >= MAX_KEYS && !self.keys.contains_key(&key) {
            self.handle_timeout(now);
        }
        let state = self.keys.entry(key).or_insert(KeyState {
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

    /// Forgets keys whose window and cool-down are both over.
    pub(super) fn handle_timeout(&mut self, now: Instant) {
        let window = self.window;
        self.keys.retain(|_, s| {
            s.blocked_until.is_some_and(|u| u > now)
                || now.saturating_duration_since(s.window_start) < window
        });
    }

    /// Keys currently in their cool-down.
    pub(super) fn blocked(&self, now: Instant) -> usize {
        self.keys
            .values()
            .filter(|s| s.blocked_until.is_some_and(|u| u > now))
            .count()
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.keys.len()
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
        assert!(!l.is_blocked(&ip, t0 + Duration::from_secs(4)));
        let until = l.record_failure(ip, t0 + Duration::from_secs(5));
        assert_eq!(until, Some(t0 + Duration::from_secs(305)));
        assert!(l.is_blocked(&ip, t0 + Duration::from_secs(304)));
        assert!(!l.is_blocked(&other, t0 + Duration::from_secs(10)));
        assert_eq!(l.blocked(t0 + Duration::from_secs(10)), 1);
        assert!(!l.is_blocked(&ip, t0 + Duration::from_secs(305)));
        l.handle_timeout(t0 + Duration::from_secs(400));
        assert_eq!(l.len(), 0);
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

    #[test]
    fn users_at_one_address_are_counted_apart() {
        let mut l = FailureLimiter::new(2, Duration::from_secs(60), Duration::from_secs(300));
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        let t0 = Instant::now();
        assert_eq!(l.record_failure(user_at("1001", ip), t0), None);
        assert!(l.record_failure(user_at("1001", ip), t0).is_some());
        assert!(l.is_blocked(&user_at("1001", ip), t0));
        assert!(!l.is_blocked(&user_at("1002", ip), t0));
        // Long claimed names are cut, so they cannot grow the table's keys without bound.
        let long = "x".repeat(10_000);
        assert_eq!(user_at(&long, ip).0.len(), MAX_USER_LEN);
        assert_eq!(user_at(&"è".repeat(100), ip).0.len(), MAX_USER_LEN);
    }
}
