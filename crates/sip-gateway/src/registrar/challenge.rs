//! The per-address rate of REGISTERs that carry no valid credentials (issue 14, REGISTER
//! floods).
//!
//! Every such REGISTER costs a challenge: a nonce (HMAC-SHA-256), a 401 built and sent, on the
//! gateway's one task that also carries the calls. A flood of them from an allowed address
//! delayed legitimate calls' setup by seconds. Each source address gets a token bucket
//! (`rate` per second, up to `burst` at once); above it the REGISTER is dropped unanswered
//! (nothing to amplify, nothing for a scanner) and counted.
//!
//! The bucket is a GCRA (generic cell rate algorithm): per address one instant, the
//! theoretical arrival time `tat`, advanced by `1/rate` for each admitted REGISTER; one is
//! admitted while `tat - now` stays within `(burst - 1) / rate`. An address whose `tat` is in
//! the past has its whole burst back and is the same as one never seen, so it can be
//! forgotten: the table holds only addresses that sent within the last `burst / rate`
//! seconds.
//!
//! The table is capped ([`MAX_ADDRESSES`]). When it is full (a flood from many spoofed
//! sources inside `allow_from`), idle entries are swept first (at most once per
//! [`SWEEP_INTERVAL`], so a flood of new addresses does not make every datagram walk the
//! table); addresses still without a place share one overflow bucket with the same rate and
//! burst. Evicting a live entry instead would hand its address a fresh burst, which is what a
//! spoofer wants.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Addresses remembered at most (about 48 bytes each with the map's overhead: ~3 MB).
pub(super) const MAX_ADDRESSES: usize = 65_536;

/// Shortest time between two sweeps of a full table.
pub(super) const SWEEP_INTERVAL: Duration = Duration::from_secs(1);

/// Token buckets of challenges per source address. See the module documentation.
#[derive(Debug)]
pub(super) struct ChallengeLimiter {
    /// Time one challenge earns back: `1 / rate`.
    interval: Duration,
    /// How far ahead of `now` a bucket's `tat` may be and still admit: `(burst - 1) / rate`.
    tolerance: Duration,
    capacity: usize,
    tat: HashMap<IpAddr, Instant>,
    /// Shared by the addresses that find the table full.
    overflow: Option<Instant>,
    last_sweep: Option<Instant>,
}

impl ChallengeLimiter {
    /// `rate` challenges per second and `burst` at once per address (both at least 1).
    pub(super) fn new(rate: u32, burst: u32) -> ChallengeLimiter {
        ChallengeLimiter::with_capacity(rate, burst, MAX_ADDRESSES)
    }

    pub(super) fn with_capacity(rate: u32, burst: u32, capacity: usize) -> ChallengeLimiter {
        let interval = Duration::from_secs(1) / rate.max(1);
        ChallengeLimiter {
            interval,
            tolerance: interval * (burst.max(1) - 1),
            capacity: capacity.max(1),
            tat: HashMap::new(),
            overflow: None,
            last_sweep: None,
        }
    }

    /// Takes one challenge for `ip` at `now`: `false` when its bucket is empty (drop).
    pub(super) fn admit(&mut self, ip: IpAddr, now: Instant) -> bool {
        if !self.tat.contains_key(&ip) && self.tat.len() >= self.capacity {
            self.sweep(now);
            if self.tat.len() >= self.capacity {
                let (interval, tolerance) = (self.interval, self.tolerance);
                return take(&mut self.overflow, now, interval, tolerance);
            }
        }
        let (interval, tolerance) = (self.interval, self.tolerance);
        let mut slot = self.tat.get(&ip).copied();
        let admitted = take(&mut slot, now, interval, tolerance);
        if let Some(tat) = slot {
            self.tat.insert(ip, tat);
        }
        admitted
    }

    /// Forgets the addresses whose bucket is full again (at most once per
    /// [`SWEEP_INTERVAL`]).
    pub(super) fn sweep(&mut self, now: Instant) {
        if self
            .last_sweep
            .is_some_and(|last| now.saturating_duration_since(last) < SWEEP_INTERVAL)
        {
            return;
        }
        self.last_sweep = Some(now);
        self.tat.retain(|_, tat| *tat > now);
        if self.overflow.is_some_and(|tat| tat <= now) {
            self.overflow = None;
        }
    }

    /// Addresses remembered now.
    pub(super) fn len(&self) -> usize {
        self.tat.len()
    }
}

/// The GCRA step on one bucket (`None`: full).
fn take(slot: &mut Option<Instant>, now: Instant, interval: Duration, tolerance: Duration) -> bool {
    let tat = slot.map_or(now, |tat| tat.max(now));
    if tat.saturating_duration_since(now) > tolerance {
        return false;
    }
    *slot = Some(tat + interval);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([192, 0, 2, last])
    }

    /// How many of `n` REGISTERs sent `spacing` apart from `t0` are admitted.
    fn admitted(
        l: &mut ChallengeLimiter,
        from: IpAddr,
        t0: Instant,
        n: u32,
        spacing: Duration,
    ) -> u32 {
        (0..n).filter(|&i| l.admit(from, t0 + spacing * i)).count() as u32
    }

    #[test]
    fn a_burst_then_the_rate() {
        let mut l = ChallengeLimiter::new(10, 100);
        let t0 = Instant::now();
        // 1,000 at once: the burst passes, the rest is dropped.
        assert_eq!(admitted(&mut l, ip(1), t0, 1000, Duration::ZERO), 100);
        // Then 1,000/s for 10 s: 10 per second get through (one every 100 ms).
        let flood = admitted(&mut l, ip(1), t0, 10_000, Duration::from_millis(1));
        assert!((99..=101).contains(&flood), "{flood} admitted over 10 s");
        // Another address is not affected.
        assert_eq!(admitted(&mut l, ip(2), t0, 100, Duration::ZERO), 100);
    }

    #[test]
    fn refresh_bursts_of_an_office_behind_nat_pass() {
        // 60 phones behind one NAT re-register together (power back, NAT reset) and again at
        // every refresh; a phone or two retransmits. None is dropped.
        let mut l = ChallengeLimiter::new(10, 100);
        let t0 = Instant::now();
        for round in 0..5u32 {
            let at = t0 + Duration::from_secs(1800) * round;
            assert_eq!(
                admitted(&mut l, ip(7), at, 64, Duration::from_millis(2)),
                64,
                "round {round}"
            );
        }
        // Refill: after an exhausted burst, 10 s give the whole burst back.
        assert_eq!(admitted(&mut l, ip(8), t0, 150, Duration::ZERO), 100);
        let later = t0 + Duration::from_secs(10);
        assert_eq!(admitted(&mut l, ip(8), later, 150, Duration::ZERO), 100);
    }

    #[test]
    fn the_table_is_bounded_under_spoofed_sources() {
        let mut l = ChallengeLimiter::with_capacity(10, 5, 100);
        let t0 = Instant::now();
        // 10,000 spoofed sources in one instant: the table stops at its capacity, and those
        // beyond share one bucket (its burst, then nothing).
        let spoofed = (0..10_000u32)
            .filter(|i| l.admit(IpAddr::from(i.to_be_bytes()), t0))
            .count();
        assert_eq!(l.len(), 100);
        assert_eq!(spoofed, 100 + 5);
        // A minute later the idle entries are swept to make room: new addresses get their own
        // bucket again.
        let later = t0 + Duration::from_secs(60);
        assert!(l.admit(ip(200), later));
        assert_eq!(l.len(), 1);
    }

    #[test]
    fn a_full_table_is_swept_at_most_once_per_interval() {
        let mut l = ChallengeLimiter::with_capacity(1, 1, 2);
        let t0 = Instant::now();
        assert!(l.admit(ip(1), t0));
        assert!(l.admit(ip(2), t0));
        // Full, and both entries live for another second: the newcomer uses the overflow.
        assert!(l.admit(ip(3), t0));
        assert!(!l.admit(ip(4), t0));
        // Half a second later the table is still full and the last sweep too recent.
        assert!(!l.admit(ip(5), t0 + Duration::from_millis(500)));
        // After the entries went idle and the interval passed, the sweep makes room.
        assert!(l.admit(ip(6), t0 + Duration::from_millis(1500)));
        assert_eq!(l.len(), 1);
    }
}
