//! The outbox's life cycle, sans-IO: what happens to a queued mail after each attempt.
//!
//! ```text
//! queued ──claim──► sending ──250──► sent
//!   ▲                  │
//!   └── retry at ◄─────┤ 4xx, connection refused, timeout (exponential back-off, capped)
//!                      └──► failed   5xx (permanent), or still failing `give_up_after`
//!                                    after it was queued (visible to administrators)
//! ```
//!
//! **At most one duplicate, never a loss.** A mail is marked `sent` only after the relay's
//! `250` to the end of DATA (RFC 5321 §4.1.1.4). Before an attempt its row is `sending`;
//! a crash after the relay's `250` and before the row says `sent` leaves it `sending`, and
//! the sender, at start, puts every `sending` row back to `queued` ([`State::recover`]):
//! that mail goes out once more, with the same Message-ID (fixed when it was queued), so
//! the recipient's client can tell the copy. A crash before the `250` loses nothing: the
//! relay did not take it. No other path sends a row twice: claiming is one statement that
//! moves `queued` rows due now to `sending`.
//!
//! Time is injected: every function takes `now`.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// Where a mail is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Waiting for its time (`next_attempt`).
    Queued,
    /// Handed to the relay, answer not yet recorded.
    Sending,
    /// The relay said 250.
    Sent,
    /// Given up; an administrator sees why.
    Failed,
}

impl State {
    /// Name in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Queued => "queued",
            State::Sending => "sending",
            State::Sent => "sent",
            State::Failed => "failed",
        }
    }

    /// From the database's name.
    pub fn parse(s: &str) -> Option<State> {
        [State::Queued, State::Sending, State::Sent, State::Failed]
            .into_iter()
            .find(|st| st.as_str() == s)
    }

    /// The state a row is put in at start: `sending` (a crash mid-attempt) is queued again.
    pub fn recover(self) -> State {
        match self {
            State::Sending => State::Queued,
            s => s,
        }
    }
}

/// What the relay made of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// `250` to the end of DATA.
    Accepted,
    /// Try again later: a 4xx, the relay unreachable, a timeout, TLS failing.
    Transient(String),
    /// A 5xx: this mail will never be accepted.
    Permanent(String),
}

/// How long to wait between attempts and when to give up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Wait after the first failure; doubled after each further one.
    pub first: Duration,
    /// The longest wait.
    pub cap: Duration,
    /// Failed when still not sent this long after it was queued.
    pub give_up_after: Duration,
}

impl Default for RetryPolicy {
    /// 30 s, doubling, at most 1 h apart, failed after 5 days (RFC 5321 §4.5.4.1 suggests
    /// giving up after 4–5 days).
    fn default() -> Self {
        RetryPolicy {
            first: Duration::from_secs(30),
            cap: Duration::from_secs(3600),
            give_up_after: Duration::from_secs(5 * 24 * 3600),
        }
    }
}

/// The row's next state after an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Mark sent.
    Sent,
    /// Back to queued, due at this time, with the reason kept.
    RetryAt(DateTime<Utc>, String),
    /// Failed, with the reason.
    Failed(String),
}

impl RetryPolicy {
    /// The wait after `failures` failed attempts (1 = the first failure).
    pub fn backoff(&self, failures: u32) -> Duration {
        let shift = failures.saturating_sub(1).min(31);
        self.first
            .checked_mul(1u32 << shift)
            .map_or(self.cap, |d| d.min(self.cap))
    }

    /// Decides after an attempt of a mail queued at `queued_at` that has now failed
    /// `failures` times in all (counting this one when it failed).
    pub fn after(
        &self,
        attempt: Attempt,
        queued_at: DateTime<Utc>,
        failures: u32,
        now: DateTime<Utc>,
    ) -> Next {
        match attempt {
            Attempt::Accepted => Next::Sent,
            Attempt::Permanent(why) => Next::Failed(format!("refused by the relay: {why}")),
            Attempt::Transient(why) => {
                let at = now + self.backoff(failures);
                let limit = queued_at + self.give_up_after;
                if now >= limit {
                    Next::Failed(format!(
                        "not accepted within {} h of being queued; last error: {why}",
                        self.give_up_after.as_secs() / 3600
                    ))
                } else {
                    Next::RetryAt(at.min(limit), why)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap()
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let p = RetryPolicy::default();
        let waits: Vec<u64> = (1..=10).map(|n| p.backoff(n).as_secs()).collect();
        assert_eq!(waits, [30, 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]);
        assert_eq!(p.backoff(u32::MAX), p.cap, "no overflow");
        assert_eq!(p.backoff(0).as_secs(), 30);
    }

    #[test]
    fn a_relay_down_for_hours_delays_then_fails_after_days() {
        let p = RetryPolicy::default();
        let mut now = t0();
        let mut failures = 0;
        let mut attempts = 0;
        loop {
            failures += 1;
            attempts += 1;
            match p.after(
                Attempt::Transient("connection refused".into()),
                t0(),
                failures,
                now,
            ) {
                Next::RetryAt(at, why) => {
                    assert!(at > now);
                    assert_eq!(why, "connection refused");
                    now = at;
                }
                Next::Failed(why) => {
                    assert!(
                        why.contains("120 h") && why.contains("connection refused"),
                        "{why}"
                    );
                    break;
                }
                Next::Sent => unreachable!(),
            }
        }
        assert_eq!(
            now,
            t0() + p.give_up_after,
            "the last retry is at the limit"
        );
        assert!(
            (120..=140).contains(&attempts),
            "{attempts} attempts in 5 days"
        );
        // The relay back before the limit: sent.
        assert_eq!(p.after(Attempt::Accepted, t0(), 3, t0()), Next::Sent);
    }

    #[test]
    fn a_permanent_refusal_fails_at_once() {
        let p = RetryPolicy::default();
        let n = p.after(Attempt::Permanent("550 no such user".into()), t0(), 1, t0());
        assert!(matches!(n, Next::Failed(w) if w.contains("550 no such user")));
    }

    #[test]
    fn states_round_trip_and_recover() {
        for s in [State::Queued, State::Sending, State::Sent, State::Failed] {
            assert_eq!(State::parse(s.as_str()), Some(s));
        }
        assert_eq!(State::parse("lost"), None);
        assert_eq!(
            State::Sending.recover(),
            State::Queued,
            "resent at most once"
        );
        assert_eq!(State::Sent.recover(), State::Sent, "never twice");
        assert_eq!(State::Failed.recover(), State::Failed);
        assert_eq!(State::Queued.recover(), State::Queued);
    }
}
