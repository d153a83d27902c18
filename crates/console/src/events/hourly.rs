//! Calls per hour, for the supervisor console's chart (R-SUP-1).
//!
//! # Run loop
//! A plain struct, no clock: [`Hourly::record`] each `call.started` with the time it was
//! seen, [`Hourly::series`] for the last 24 hours at `now`. Hours are UTC hour buckets; the
//! browser draws them in the operator's local time, so a time zone with a half-hour offset
//! would see its buckets shifted (none in the service area). The counts are derived from the
//! event log ([`crate::figures::Figures`]), so a restart rebuilds them.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};

/// Hours kept (the chart shows 24; one more day for the time-zone shift).
const KEEP_HOURS: i64 = 48;

pub use crate::api::schema::HourCount;

/// Calls started per UTC hour.
#[derive(Debug, Default)]
pub struct Hourly {
    /// Hour number since the epoch → calls.
    counts: BTreeMap<i64, u64>,
}

fn hour_of(at: DateTime<Utc>) -> i64 {
    at.timestamp().div_euclid(3600)
}

impl Hourly {
    /// An empty counter.
    pub fn new() -> Self {
        Hourly::default()
    }

    /// Counts a call started at `at`, and forgets hours older than two days.
    pub fn record(&mut self, at: DateTime<Utc>) {
        let hour = hour_of(at);
        *self.counts.entry(hour).or_default() += 1;
        self.counts = self.counts.split_off(&(hour - KEEP_HOURS));
    }

    /// The 24 hours ending with the current one, oldest first, empty hours included.
    pub fn series(&self, now: DateTime<Utc>) -> Vec<HourCount> {
        let current = hour_of(now);
        (current - 23..=current)
            .map(|h| HourCount {
                hour: DateTime::<Utc>::UNIX_EPOCH + TimeDelta::hours(h),
                calls: self.counts.get(&h).copied().unwrap_or(0),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 2, h, m, 0).unwrap()
    }

    #[test]
    fn calls_fall_in_their_hour_and_the_series_covers_a_day() {
        let mut h = Hourly::new();
        h.record(at(9, 0));
        h.record(at(9, 59));
        h.record(at(10, 1));
        let s = h.series(at(10, 30));
        assert_eq!(s.len(), 24);
        assert_eq!(
            s[23],
            HourCount {
                hour: at(10, 0),
                calls: 1
            }
        );
        assert_eq!(
            s[22],
            HourCount {
                hour: at(9, 0),
                calls: 2
            }
        );
        assert_eq!(s[0].hour, at(10, 0) - TimeDelta::hours(23));
        assert_eq!(s.iter().map(|c| c.calls).sum::<u64>(), 3);
    }

    #[test]
    fn old_hours_are_forgotten() {
        let mut h = Hourly::new();
        h.record(at(0, 0));
        h.record(at(0, 0) + TimeDelta::days(3));
        assert_eq!(h.counts.len(), 1);
        assert!(
            h.series(at(0, 0) + TimeDelta::days(3))
                .iter()
                .all(|c| c.calls <= 1)
        );
    }
}
