//! A report's period (whole local days, from–to) and its sampling: the buckets its rows
//! are grouped in (hour band, day, ISO week, month, or the whole period), in the site's time
//! zone.

use std::fmt;

use chrono::{DateTime, Datelike, Days, Months, NaiveDate, NaiveTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// How a report's rows are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sampling {
    /// One row for the whole period.
    Total,
    /// By hour of the day (08:00-09:00, …), every day of the period together: the
    /// "calls per hour band" of the tender.
    HourBand,
    Day,
    /// ISO weeks, from Monday.
    Week,
    Month,
}

impl Sampling {
    pub const ALL: [Sampling; 5] = [
        Sampling::Total,
        Sampling::HourBand,
        Sampling::Day,
        Sampling::Week,
        Sampling::Month,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Sampling::Total => "total",
            Sampling::HourBand => "hour_band",
            Sampling::Day => "day",
            Sampling::Week => "week",
            Sampling::Month => "month",
        }
    }

    /// The sampling of a wire name.
    pub fn parse(name: &str) -> Option<Sampling> {
        Sampling::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

/// One group of rows: its key sorts in time order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(tag = "kind", content = "start", rename_all = "snake_case")]
pub enum Bucket {
    Total,
    /// The hour of the day, 0–23, local time.
    HourBand(u8),
    Day(NaiveDate),
    /// The Monday the ISO week starts on.
    Week(NaiveDate),
    /// The first day of the month.
    Month(NaiveDate),
}

impl fmt::Display for Bucket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Bucket::Total => f.write_str("total"),
            Bucket::HourBand(h) => write!(f, "{h:02}:00-{:02}:00", h + 1),
            Bucket::Day(d) => write!(f, "{d}"),
            Bucket::Week(d) => write!(f, "{}-W{:02}", d.iso_week().year(), d.iso_week().week()),
            Bucket::Month(d) => write!(f, "{}-{:02}", d.year(), d.month()),
        }
    }
}

/// Why a period cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeriodError {
    /// `to` is before `from`.
    Reversed,
    /// Longer than [`Period::MAX_DAYS`].
    TooLong,
}

impl fmt::Display for PeriodError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeriodError::Reversed => f.write_str("the period ends before it starts"),
            PeriodError::TooLong => write!(f, "a period spans at most {} days", Period::MAX_DAYS),
        }
    }
}

impl std::error::Error for PeriodError {}

/// Whole local days `from..=to` in a time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub from: NaiveDate,
    /// The last day, included.
    pub to: NaiveDate,
    pub tz: Tz,
    /// Its first instant and the first after it, computed once: reports ask
    /// [`Period::contains`] for every call, offer and hour of a year (a time-zone lookup
    /// each, twice, was a measurable part of the yearly report; docs/PERFORMANCE.md).
    start: DateTime<Utc>,
    end: DateTime<Utc>,
}

impl Period {
    /// Longer periods are refused (a report of many years is a request to split it).
    pub const MAX_DAYS: u64 = 5 * 366;

    pub fn new(from: NaiveDate, to: NaiveDate, tz: Tz) -> Result<Period, PeriodError> {
        if to < from {
            return Err(PeriodError::Reversed);
        }
        if to.signed_duration_since(from).num_days() >= Self::MAX_DAYS as i64 {
            return Err(PeriodError::TooLong);
        }
        Ok(Period::whole_days(from, to, tz))
    }

    /// The calendar month that contains `day`.
    pub fn month(year: i32, month: u32, tz: Tz) -> Option<Period> {
        let from = NaiveDate::from_ymd_opt(year, month, 1)?;
        let to = from.checked_add_months(Months::new(1))?.pred_opt()?;
        Some(Period::whole_days(from, to, tz))
    }

    fn whole_days(from: NaiveDate, to: NaiveDate, tz: Tz) -> Period {
        Period {
            from,
            to,
            tz,
            start: local_midnight(tz, from),
            end: local_midnight(tz, to.succ_opt().unwrap_or(to)),
        }
    }

    /// The first instant of the period (local midnight of `from`).
    pub fn start(&self) -> DateTime<Utc> {
        self.start
    }

    /// The first instant after the period (local midnight after `to`).
    pub fn end(&self) -> DateTime<Utc> {
        self.end
    }

    /// Whether `at` falls inside.
    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        at >= self.start() && at < self.end()
    }

    /// The bucket `at` belongs to.
    pub fn bucket(&self, sampling: Sampling, at: DateTime<Utc>) -> Bucket {
        if sampling == Sampling::Total {
            return Bucket::Total;
        }
        let local = at.with_timezone(&self.tz);
        let day = local.date_naive();
        match sampling {
            Sampling::Total => Bucket::Total,
            Sampling::HourBand => Bucket::HourBand(u8::try_from(local.hour()).unwrap_or(0)),
            Sampling::Day => Bucket::Day(day),
            Sampling::Week => {
                Bucket::Week(day - Days::new(u64::from(day.weekday().num_days_from_monday())))
            }
            Sampling::Month => Bucket::Month(day.with_day(1).unwrap_or(day)),
        }
    }

    /// Every bucket of the period, in order (so days without calls still get their row).
    pub fn buckets(&self, sampling: Sampling) -> Vec<Bucket> {
        match sampling {
            Sampling::Total => vec![Bucket::Total],
            Sampling::HourBand => (0..24).map(Bucket::HourBand).collect(),
            _ => {
                let mut out: Vec<Bucket> = Vec::new();
                let mut day = self.from;
                while day <= self.to {
                    let b = self.bucket(sampling, local_midnight(self.tz, day));
                    if out.last() != Some(&b) {
                        out.push(b);
                    }
                    match day.succ_opt() {
                        Some(next) => day = next,
                        None => break,
                    }
                }
                out
            }
        }
    }

    /// `[a, b)` clipped to the period and cut at the buckets' edges: how much of it falls in
    /// each bucket.
    pub fn split(
        &self,
        sampling: Sampling,
        a: DateTime<Utc>,
        b: DateTime<Utc>,
    ) -> Vec<(Bucket, chrono::Duration)> {
        let (a, b) = (a.max(self.start()), b.min(self.end()));
        let mut out = Vec::new();
        let mut at = a;
        while at < b {
            let edge = self.next_edge(sampling, at).min(b);
            out.push((self.bucket(sampling, at), edge - at));
            at = edge;
        }
        out
    }

    /// The first instant after `at` where the bucket changes (the period's end at most).
    fn next_edge(&self, sampling: Sampling, at: DateTime<Utc>) -> DateTime<Utc> {
        let local = at.with_timezone(&self.tz);
        let day = local.date_naive();
        let next = match sampling {
            Sampling::Total => return self.end(),
            // The next whole hour in UTC is the next whole local hour in every zone whose
            // offset is whole hours; half-hour zones cut at their own half hours.
            Sampling::HourBand => {
                let floor = local
                    .with_minute(0)
                    .and_then(|t| t.with_second(0))
                    .and_then(|t| t.with_nanosecond(0))
                    .map_or(at, |t| t.with_timezone(&Utc));
                return (floor + chrono::Duration::hours(1)).min(self.end());
            }
            Sampling::Day => day.succ_opt(),
            Sampling::Week => day.checked_add_days(Days::new(
                7 - u64::from(day.weekday().num_days_from_monday()),
            )),
            Sampling::Month => day
                .with_day(1)
                .and_then(|d| d.checked_add_months(Months::new(1))),
        };
        next.map_or(self.end(), |d| local_midnight(self.tz, d).min(self.end()))
    }
}

/// The first instant of a local day (midnight, or the first instant after a gap).
pub fn local_midnight(tz: Tz, day: NaiveDate) -> DateTime<Utc> {
    let naive = day.and_time(NaiveTime::MIN);
    match tz.from_local_datetime(&naive) {
        chrono::LocalResult::Single(t) | chrono::LocalResult::Ambiguous(t, _) => {
            t.with_timezone(&Utc)
        }
        // Midnight skipped by a daylight-saving change: the first instant after it.
        chrono::LocalResult::None => {
            let later = naive + chrono::Duration::hours(1);
            tz.from_local_datetime(&later)
                .earliest()
                .map_or_else(|| Utc.from_utc_datetime(&naive), |t| t.with_timezone(&Utc))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::Europe::Rome;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn a_period_is_whole_local_days() {
        let p = Period::new(d("2026-03-02"), d("2026-03-03"), Rome).unwrap();
        assert_eq!(p.start(), t("2026-03-01T23:00:00Z"));
        assert_eq!(p.end(), t("2026-03-03T23:00:00Z"));
        assert!(p.contains(t("2026-03-03T22:59:59Z")));
        assert!(!p.contains(t("2026-03-03T23:00:00Z")));
        assert_eq!(
            Period::new(d("2026-03-03"), d("2026-03-02"), Rome),
            Err(PeriodError::Reversed)
        );
        assert_eq!(
            Period::new(d("2020-01-01"), d("2026-01-01"), Rome),
            Err(PeriodError::TooLong)
        );
    }

    #[test]
    fn months_include_their_last_day_and_daylight_saving() {
        let march = Period::month(2026, 3, Rome).unwrap();
        assert_eq!(march.to, d("2026-03-31"));
        // March 2026 in Rome has 31 days less one hour (spring forward on the 29th).
        assert_eq!(
            (march.end() - march.start()).num_hours(),
            31 * 24 - 1,
            "{march:?}"
        );
        assert_eq!(Period::month(2026, 2, Rome).unwrap().to, d("2026-02-28"));
        assert_eq!(Period::month(2026, 13, Rome), None);
    }

    #[test]
    fn buckets_of_a_period_cover_every_day_once() {
        let p = Period::new(d("2026-01-28"), d("2026-02-10"), Rome).unwrap();
        assert_eq!(p.buckets(Sampling::Day).len(), 14);
        assert_eq!(
            p.buckets(Sampling::Week),
            vec![
                Bucket::Week(d("2026-01-26")),
                Bucket::Week(d("2026-02-02")),
                Bucket::Week(d("2026-02-09")),
            ]
        );
        assert_eq!(
            p.buckets(Sampling::Month),
            vec![
                Bucket::Month(d("2026-01-01")),
                Bucket::Month(d("2026-02-01"))
            ]
        );
        assert_eq!(p.buckets(Sampling::HourBand).len(), 24);
        assert_eq!(Bucket::Week(d("2026-01-26")).to_string(), "2026-W05");
        assert_eq!(Bucket::HourBand(8).to_string(), "08:00-09:00");
    }

    #[test]
    fn bucket_uses_local_time() {
        let p = Period::new(d("2026-07-01"), d("2026-07-31"), Rome).unwrap();
        // 22:30 UTC is 00:30 the next day in Rome (summer time).
        assert_eq!(
            p.bucket(Sampling::Day, t("2026-07-01T22:30:00Z")),
            Bucket::Day(d("2026-07-02"))
        );
        assert_eq!(
            p.bucket(Sampling::HourBand, t("2026-07-01T22:30:00Z")),
            Bucket::HourBand(0)
        );
    }

    #[test]
    fn split_cuts_at_bucket_edges_and_the_period() {
        let p = Period::new(d("2026-07-01"), d("2026-07-02"), Rome).unwrap();
        // 21:30–23:30 UTC = 23:30–01:30 local: half an hour on the 1st, 1.5 h on the 2nd.
        let parts = p.split(
            Sampling::Day,
            t("2026-07-01T21:30:00Z"),
            t("2026-07-01T23:30:00Z"),
        );
        assert_eq!(
            parts,
            vec![
                (Bucket::Day(d("2026-07-01")), chrono::Duration::minutes(30)),
                (Bucket::Day(d("2026-07-02")), chrono::Duration::minutes(90)),
            ]
        );
        let bands = p.split(
            Sampling::HourBand,
            t("2026-07-01T06:45:00Z"),
            t("2026-07-01T08:10:00Z"),
        );
        assert_eq!(
            bands,
            vec![
                (Bucket::HourBand(8), chrono::Duration::minutes(15)),
                (Bucket::HourBand(9), chrono::Duration::minutes(60)),
                (Bucket::HourBand(10), chrono::Duration::minutes(10)),
            ]
        );
        // Clipped to the period.
        let total = p.split(
            Sampling::Total,
            t("2026-06-01T00:00:00Z"),
            t("2026-08-01T00:00:00Z"),
        );
        assert_eq!(total, vec![(Bucket::Total, chrono::Duration::hours(48))]);
    }
}
