//! Login rate limiting (issue 13), sans-IO: failed logins counted per login and per client
//! address in fixed windows, the time handed in by the caller.
//!
//! A login or an address with `limit` failures in its current window is refused until that
//! window ends (HTTP 429 with `Retry-After`). A successful login clears its login's count
//! but not its address's: one good account does not launder an address's failures against
//! others. IPv6 addresses count per /64 (one host usually holds a whole /64). Memory is
//! bounded: at `max_tracked` entries per table, ended windows are dropped, then the oldest.
//!
//! The per-login limit lets anyone hold an account's sign-in for one window by failing on
//! purpose; that is the price of stopping password guessing against it, and the per-address
//! limit bounds how many accounts one address can hold so.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

/// The limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitSettings {
    /// Failures of one login per window before it is refused.
    pub per_login: u32,
    /// Failures from one address per window before it is refused.
    pub per_address: u32,
    /// The window.
    pub window: Duration,
    /// Entries kept per table at most.
    pub max_tracked: usize,
}

impl Default for LimitSettings {
    fn default() -> Self {
        LimitSettings {
            per_login: 5,
            per_address: 20,
            window: Duration::from_secs(15 * 60),
            max_tracked: 10_000,
        }
    }
}

/// The answer to "may this login be tried now?".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Go on.
    Allow,
    /// Refuse; the client may try again after this long (whole seconds, at least one).
    Deny {
        /// `Retry-After`.
        retry_after: Duration,
    },
}

#[derive(Debug, Clone, Copy)]
struct Window {
    start: DateTime<Utc>,
    failures: u32,
}

#[derive(Debug)]
struct Table<K> {
    windows: HashMap<K, Window>,
}

impl<K: Hash + Eq + Clone> Table<K> {
    fn new() -> Self {
        Table {
            windows: HashMap::new(),
        }
    }

    fn live(&mut self, key: &K, now: DateTime<Utc>, window: TimeDelta) -> Option<Window> {
        match self.windows.get(key) {
            Some(w) if now < w.start + window => Some(*w),
            Some(_) => {
                self.windows.remove(key);
                None
            }
            None => None,
        }
    }

    fn retry_after(
        &mut self,
        key: &K,
        limit: u32,
        now: DateTime<Utc>,
        window: TimeDelta,
    ) -> Option<Duration> {
        let w = self.live(key, now, window)?;
        (w.failures >= limit).then(|| {
            let left = (w.start + window - now).to_std().unwrap_or_default();
            // Whole seconds, rounded up, at least one (RFC 9110 §10.2.3: delay-seconds).
            let secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
            Duration::from_secs(secs.max(1))
        })
    }

    fn fail(&mut self, key: K, now: DateTime<Utc>, window: TimeDelta, max: usize) {
        if let Some(w) = self.live(&key, now, window) {
            self.windows.insert(
                key,
                Window {
                    failures: w.failures.saturating_add(1),
                    ..w
                },
            );
            return;
        }
        if self.windows.len() >= max {
            self.windows.retain(|_, w| now < w.start + window);
        }
        while self.windows.len() >= max.max(1) {
            let Some(oldest) = self
                .windows
                .iter()
                .min_by_key(|(_, w)| w.start)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            self.windows.remove(&oldest);
        }
        self.windows.insert(
            key,
            Window {
                start: now,
                failures: 1,
            },
        );
    }
}

/// What an address counts as: itself (IPv4), its /64 (IPv6; IPv4-mapped ones as IPv4).
fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let bits = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(bits.into())
            }
        },
    }
}

/// What a login counts as: case-folded (directories compare logins without case), at most
/// 256 bytes.
fn login_key(login: &str) -> String {
    let mut key = login.to_lowercase();
    if key.len() > 256 {
        let mut end = 256;
        while !key.is_char_boundary(end) {
            end -= 1;
        }
        key.truncate(end);
    }
    key
}

/// The failure counts.
#[derive(Debug)]
pub struct Limiter {
    settings: LimitSettings,
    logins: Table<String>,
    addresses: Table<IpAddr>,
}

impl Limiter {
    /// An empty limiter.
    pub fn new(settings: LimitSettings) -> Self {
        Limiter {
            settings,
            logins: Table::new(),
            addresses: Table::new(),
        }
    }

    fn window(&self) -> TimeDelta {
        TimeDelta::from_std(self.settings.window).unwrap_or(TimeDelta::MAX)
    }

    /// Whether `login` from `address` (`None`: unknown) may be tried at `now`.
    pub fn check(&mut self, login: &str, address: Option<IpAddr>, now: DateTime<Utc>) -> Verdict {
        let window = self.window();
        let by_login =
            self.logins
                .retry_after(&login_key(login), self.settings.per_login, now, window);
        let by_address = address.and_then(|a| {
            self.addresses
                .retry_after(&address_key(a), self.settings.per_address, now, window)
        });
        match by_login.max(by_address) {
            Some(retry_after) => Verdict::Deny { retry_after },
            None => Verdict::Allow,
        }
    }

    /// Counts a failed login.
    pub fn failed(&mut self, login: &str, address: Option<IpAddr>, now: DateTime<Utc>) {
        let (window, max) = (self.window(), self.settings.max_tracked);
        self.logins.fail(login_key(login), now, window, max);
        if let Some(a) = address {
            self.addresses.fail(address_key(a), now, window, max);
        }
    }

    /// A successful login clears its login's count (not its address's).
    pub fn succeeded(&mut self, login: &str) {
        self.logins.windows.remove(&login_key(login));
    }

    /// How many logins and addresses are tracked.
    pub fn tracked(&self) -> (usize, usize) {
        (self.logins.windows.len(), self.addresses.windows.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(s: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap() + TimeDelta::seconds(s)
    }

    fn limiter() -> Limiter {
        Limiter::new(LimitSettings {
            per_login: 3,
            per_address: 5,
            window: Duration::from_secs(60),
            max_tracked: 100,
        })
    }

    const A: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1)));
    const B: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 2)));

    #[test]
    fn a_login_is_refused_after_its_limit_until_the_window_ends() {
        let mut l = limiter();
        for s in 0..3 {
            assert_eq!(l.check("anna", A, t(s)), Verdict::Allow);
            l.failed("anna", A, t(s));
        }
        assert_eq!(
            l.check("anna", B, t(10)),
            Verdict::Deny {
                retry_after: Duration::from_secs(50)
            },
            "whatever the address"
        );
        assert_eq!(
            l.check("ANNA", B, t(59)),
            Verdict::Deny {
                retry_after: Duration::from_secs(1)
            },
            "whatever the case"
        );
        assert_eq!(l.check("anna", A, t(60)), Verdict::Allow);
        assert_eq!(l.check("bruno", A, t(10)), Verdict::Allow);
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        let mut l = limiter();
        for _ in 0..3 {
            l.failed("anna", None, t(0));
        }
        let now = t(10) + TimeDelta::milliseconds(300);
        assert_eq!(
            l.check("anna", None, now),
            Verdict::Deny {
                retry_after: Duration::from_secs(50)
            }
        );
    }

    #[test]
    fn an_address_is_refused_after_failing_on_many_logins() {
        let mut l = limiter();
        for (i, login) in ["a", "b", "c", "d", "e"].iter().enumerate() {
            assert_eq!(l.check(login, A, t(i as i64)), Verdict::Allow);
            l.failed(login, A, t(i as i64));
        }
        assert!(matches!(l.check("f", A, t(5)), Verdict::Deny { .. }));
        assert_eq!(l.check("f", B, t(5)), Verdict::Allow);
    }

    #[test]
    fn success_clears_the_login_but_not_the_address() {
        let mut l = limiter();
        for login in ["a", "a", "b", "c"] {
            l.failed(login, A, t(0));
        }
        l.succeeded("a");
        assert_eq!(l.tracked(), (2, 1));
        l.failed("d", A, t(1));
        assert!(
            matches!(l.check("mine", A, t(2)), Verdict::Deny { .. }),
            "a good login does not reset the address's failures against others"
        );
    }

    #[test]
    fn ipv6_counts_per_64_and_mapped_ipv4_as_ipv4() {
        let mut l = limiter();
        for i in 0..5u16 {
            let ip: IpAddr = format!("2001:db8:1:2::{i:x}").parse().unwrap();
            l.failed(&format!("u{i}"), Some(ip), t(0));
        }
        let same_64: IpAddr = "2001:db8:1:2:ffff::1".parse().unwrap();
        let other_64: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert!(matches!(
            l.check("x", Some(same_64), t(1)),
            Verdict::Deny { .. }
        ));
        assert_eq!(l.check("x", Some(other_64), t(1)), Verdict::Allow);
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(address_key(mapped), A.unwrap());
    }

    #[test]
    fn memory_is_bounded_dropping_ended_windows_then_the_oldest() {
        let mut l = Limiter::new(LimitSettings {
            max_tracked: 10,
            ..limiter().settings
        });
        for i in 0..1000 {
            l.failed(&format!("user{i}"), None, t(i));
        }
        assert_eq!(l.tracked().0, 10);
        // The newest are kept: user999 has its failure counted.
        l.failed("user999", None, t(1000));
        l.failed("user999", None, t(1000));
        assert!(matches!(
            l.check("user999", None, t(1000)),
            Verdict::Deny { .. }
        ));
        let long = "é".repeat(300);
        l.failed(&long, None, t(1001));
        assert!(l.logins.windows.keys().all(|k| k.len() <= 256));
    }
}
