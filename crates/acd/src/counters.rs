//! The "today" tally of a queue: what happened to its calls, and how fast, since the last
//! [`Acd::reset_counters`](crate::Acd::reset_counters). The engine records into it; the
//! statistics (`stats`) read it.

use std::time::Duration;

/// Per-queue counters since the last [`Acd::reset_counters`](crate::Acd::reset_counters).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Counters {
    pub(crate) answered: u64,
    pub(crate) answered_in_time: u64,
    pub(crate) abandoned: u64,
    pub(crate) abandoned_late: u64,
    pub(crate) overflowed: u64,
    pub(crate) overflowed_late: u64,
    pub(crate) answer_wait_total: Duration,
}

impl Counters {
    pub(crate) fn answer(&mut self, wait: Duration, threshold: Duration) {
        self.answered += 1;
        self.answered_in_time += u64::from(wait <= threshold);
        self.answer_wait_total += wait;
    }

    pub(crate) fn abandon(&mut self, wait: Duration, threshold: Duration) {
        self.abandoned += 1;
        self.abandoned_late += u64::from(wait > threshold);
    }

    pub(crate) fn overflow(&mut self, wait: Duration, threshold: Duration) {
        self.overflowed += 1;
        self.overflowed_late += u64::from(wait > threshold);
    }
}
