//! The session table: which bearer tokens are live, for whom, until when.
//!
//! # Run loop
//! A plain struct, no clock and no I/O: [`Sessions::open`] at login, [`Sessions::touch`] on
//! every request (it slides the idle expiry), [`Sessions::close`] at logout, and
//! [`Sessions::expire`] whenever convenient (the API calls it at each login) to drop the
//! dead; [`Sessions::poll_timeout`] says when the next one dies. Every method takes `now`.
//!
//! A session dies when unused for the idle time, and in any case at its absolute lifetime
//! after login (a working shift and a half by default), however busy it is: a stolen token
//! or a desktop left signed in does not live on for ever.
//!
//! Tokens are 256 random bits, shown once to the client as hex; the table keeps only their
//! SHA-256, so a memory dump or a log of the table does not yield usable tokens. Each
//! session also carries a CSRF token (128 random bits) that cookie-authenticated requests
//! must echo in `X-CSRF-Token`.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use crm::UserId;
use sha2::{Digest, Sha256};

/// A live session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Whose.
    pub user: UserId,
    /// The CSRF token cookie-authenticated requests must echo.
    pub csrf_token: String,
    /// Login time.
    pub created: DateTime<Utc>,
    /// Last use.
    pub last_seen: DateTime<Utc>,
    /// When it dies unless used again (never after `ends_at`).
    pub expires_at: DateTime<Utc>,
    /// When it dies even if used: login time plus the absolute lifetime.
    pub ends_at: DateTime<Utc>,
}

/// What login hands the client (the token is not kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issued {
    /// The bearer token, 64 hex digits.
    pub token: String,
    /// The CSRF token, 32 hex digits.
    pub csrf_token: String,
    /// Expiry if unused.
    pub expires_at: DateTime<Utc>,
}

/// The live sessions, keyed by the SHA-256 of their token.
#[derive(Debug)]
pub struct Sessions {
    idle: TimeDelta,
    max_age: TimeDelta,
    live: HashMap<[u8; 32], Session>,
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl Sessions {
    /// An empty table whose sessions die after `idle` without use, and `max_age` after
    /// login in any case.
    pub fn new(idle: Duration, max_age: Duration) -> Self {
        Sessions {
            idle: TimeDelta::from_std(idle).unwrap_or(TimeDelta::MAX),
            max_age: TimeDelta::from_std(max_age).unwrap_or(TimeDelta::MAX),
            live: HashMap::new(),
        }
    }

    /// The idle expiry of a session used at `now` that ends at `ends_at`.
    fn expiry(&self, now: DateTime<Utc>, ends_at: DateTime<Utc>) -> DateTime<Utc> {
        now.checked_add_signed(self.idle)
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
            .min(ends_at)
    }

    /// Opens a session for `user` at `now`.
    pub fn open(&mut self, user: UserId, now: DateTime<Utc>) -> Issued {
        let token = hex::encode(rand::random::<[u8; 32]>());
        let csrf_token = hex::encode(rand::random::<[u8; 16]>());
        let ends_at = now
            .checked_add_signed(self.max_age)
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        let expires_at = self.expiry(now, ends_at);
        self.live.insert(
            digest(&token),
            Session {
                user,
                csrf_token: csrf_token.clone(),
                created: now,
                last_seen: now,
                expires_at,
                ends_at,
            },
        );
        Issued {
            token,
            csrf_token,
            expires_at,
        }
    }

    /// The session of `token` if it is live at `now`, its idle expiry pushed forward (up to
    /// its absolute end); an expired one is removed.
    pub fn touch(&mut self, token: &str, now: DateTime<Utc>) -> Option<Session> {
        let key = digest(token);
        let (idle, live) = (self.idle, &mut self.live);
        let session = live.get_mut(&key)?;
        if now >= session.expires_at {
            live.remove(&key);
            return None;
        }
        session.last_seen = now;
        session.expires_at = now
            .checked_add_signed(idle)
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
            .min(session.ends_at);
        Some(session.clone())
    }

    /// The session of `token` if it is live at `now`, without sliding its expiry (a
    /// long-lived event stream checks its session this way, so watching alone does not keep
    /// a session alive forever).
    #[must_use]
    pub fn peek(&self, token: &str, now: DateTime<Utc>) -> Option<Session> {
        self.live
            .get(&digest(token))
            .filter(|s| now < s.expires_at)
            .cloned()
    }

    /// Ends the session of `token`; whether there was one.
    pub fn close(&mut self, token: &str) -> bool {
        self.live.remove(&digest(token)).is_some()
    }

    /// Ends every session of `user` (account disabled); how many.
    pub fn close_user(&mut self, user: UserId) -> usize {
        let before = self.live.len();
        self.live.retain(|_, s| s.user != user);
        before - self.live.len()
    }

    /// Drops the sessions dead at `now`; how many.
    pub fn expire(&mut self, now: DateTime<Utc>) -> usize {
        let before = self.live.len();
        self.live.retain(|_, s| now < s.expires_at);
        before - self.live.len()
    }

    /// When the next session dies, if any is live.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<DateTime<Utc>> {
        self.live.values().map(|s| s.expires_at).min()
    }

    /// How many sessions are held (live or not yet expired away).
    pub fn len(&self) -> usize {
        self.live.len()
    }

    /// Whether none is held.
    pub fn is_empty(&self) -> bool {
        self.live.is_empty()
    }
}

/// Compares two strings in time that depends only on their lengths (CSRF tokens).
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap()
    }

    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn tokens_are_256_bit_hex_and_only_their_hash_is_kept() {
        let mut s = Sessions::new(8 * HOUR, 12 * HOUR);
        let issued = s.open(UserId(1), t0());
        assert_eq!(issued.token.len(), 64);
        assert!(issued.token.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(issued.csrf_token.len(), 32);
        assert_eq!(issued.expires_at, t0() + TimeDelta::hours(8));
        let dump = format!("{s:?}");
        assert!(!dump.contains(&issued.token), "raw token kept: {dump}");
        assert_ne!(s.open(UserId(1), t0()).token, issued.token);
    }

    #[test]
    fn peek_sees_a_live_session_without_sliding_it() {
        let mut s = Sessions::new(8 * HOUR, 12 * HOUR);
        let issued = s.open(UserId(3), t0());
        let later = t0() + TimeDelta::hours(7);
        assert_eq!(s.peek(&issued.token, later).unwrap().user, UserId(3));
        // Peeking did not push the expiry: at 8 h the session is dead.
        assert!(s.peek(&issued.token, t0() + TimeDelta::hours(8)).is_none());
        assert!(s.peek("not a token", later).is_none());
    }

    #[test]
    fn idle_expiry_slides_with_use() {
        let mut s = Sessions::new(8 * HOUR, 24 * HOUR);
        let issued = s.open(UserId(7), t0());
        let later = t0() + TimeDelta::hours(7);
        let session = s.touch(&issued.token, later).unwrap();
        assert_eq!(session.user, UserId(7));
        assert_eq!(session.expires_at, later + TimeDelta::hours(8));
        assert_eq!(s.poll_timeout(), Some(later + TimeDelta::hours(8)));
        // Unused for exactly the idle time: dead, and removed.
        assert!(
            s.touch(&issued.token, later + TimeDelta::hours(8))
                .is_none()
        );
        assert!(s.is_empty());
    }

    #[test]
    fn a_session_ends_at_its_absolute_lifetime_however_busy() {
        let mut s = Sessions::new(8 * HOUR, 12 * HOUR);
        let issued = s.open(UserId(4), t0());
        // Used every hour: each use slides the idle expiry, but never past login + 12 h.
        for h in 1..12 {
            let at = t0() + TimeDelta::hours(h);
            let session = s.touch(&issued.token, at).expect("live while busy");
            assert_eq!(
                session.expires_at,
                (at + TimeDelta::hours(8)).min(t0() + TimeDelta::hours(12))
            );
            assert_eq!(session.ends_at, t0() + TimeDelta::hours(12));
        }
        let last = t0() + TimeDelta::hours(12) - TimeDelta::seconds(1);
        assert!(s.peek(&issued.token, last).is_some());
        assert!(
            s.touch(&issued.token, t0() + TimeDelta::hours(12))
                .is_none()
        );
        assert!(s.is_empty(), "removed at its end");
    }

    #[test]
    fn unknown_tokens_close_and_expire() {
        let mut s = Sessions::new(HOUR, 12 * HOUR);
        assert!(s.touch("nope", t0()).is_none());
        let a = s.open(UserId(1), t0());
        let b = s.open(UserId(2), t0() + TimeDelta::minutes(30));
        let _c = s.open(UserId(2), t0() + TimeDelta::minutes(30));
        assert_eq!(s.expire(t0() + TimeDelta::minutes(61)), 1);
        assert!(s.touch(&a.token, t0() + TimeDelta::minutes(61)).is_none());
        assert!(s.close(&b.token));
        assert!(!s.close(&b.token));
        assert_eq!(s.close_user(UserId(2)), 1);
        assert!(s.is_empty());
        assert_eq!(s.poll_timeout(), None);
    }

    #[test]
    fn constant_time_eq_compares_contents() {
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "ab"));
    }
}
