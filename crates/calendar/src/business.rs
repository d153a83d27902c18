//! [`BusinessCalendar`]: opening windows turned into UTC intervals, and working-time arithmetic.

use std::collections::VecDeque;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

use crate::config::{
    CalendarConfig, Closure, ConfigErrors, DAY_MINUTES, FieldError, check_closures, check_windows,
};
use crate::holidays::italian_holiday;

/// How many consecutive days without any open time end a search (`next_open`,
/// `add_working_time`): about three years.
pub const HORIZON_DAYS: i64 = 3 * 366;

/// Whether the calendar is open at an instant, and if not, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Inside an opening window.
    Open,
    /// Closed.
    Closed(ClosedReason),
}

/// Why a calendar is closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClosedReason {
    /// Outside the weekly windows (evening, weekend, `always_closed`).
    OutsideHours,
    /// An Italian national holiday, by name.
    Holiday(&'static str),
    /// A configured closure, with its label if it has one.
    Closure(Option<String>),
}

/// A checked business calendar. Cheap to share (`Arc`) and immutable.
///
/// Windows are wall-clock times in the calendar's time zone, so `08:00-19:00` means 08:00 local
/// time on both sides of a daylight-saving change. On change days:
/// - **Spring forward** (Europe/Rome, last Sunday of March, 02:00 → 03:00): a wall-clock time
///   that does not exist is moved to the first instant that does (03:00). A window
///   `02:00-03:00` is therefore empty that day, and `02:30-04:00` opens at 03:00 (one hour).
/// - **Fall back** (last Sunday of October, 03:00 → 02:00): a window starts at the *first*
///   occurrence of its start time and ends at the *last* occurrence of its end time, so it
///   covers every instant whose wall clock reads inside it; `00:00-24:00` lasts 25 hours.
///   Two windows of that day that would then overlap in UTC (`01:00-02:15` and `02:45-04:00`)
///   are joined rather than counted twice.
///
/// Searches (`next_open`, `next_close`, `add_working_time`) give up, returning `None`, after
/// [`HORIZON_DAYS`] consecutive days without open time (or without a close, for `next_close`).
#[derive(Debug, Clone)]
pub struct BusinessCalendar {
    tz: Tz,
    label: Option<String>,
    /// Merged, sorted windows per weekday (index: days from Monday), in minutes.
    week: [Vec<(u16, u16)>; 7],
    italian_holidays: bool,
    closures: Vec<Closure>,
}

impl BusinessCalendar {
    /// Checks `cfg`; every problem is reported, each naming its field.
    pub fn new(cfg: &CalendarConfig) -> Result<BusinessCalendar, ConfigErrors> {
        let mut errors = Vec::new();
        let tz = match cfg.timezone.parse::<Tz>() {
            Ok(tz) => tz,
            Err(_) => {
                errors.push(FieldError {
                    field: "timezone".into(),
                    message: format!(
                        "expected an IANA time zone name such as \"Europe/Rome\", got {:?}",
                        cfg.timezone
                    ),
                });
                Tz::UTC
            }
        };
        let week = check_windows(cfg, &mut errors);
        let closures = check_closures(cfg, &mut errors);
        if !errors.is_empty() {
            return Err(ConfigErrors(errors));
        }
        Ok(BusinessCalendar {
            tz,
            label: cfg.label.clone(),
            week,
            italian_holidays: cfg.italian_holidays,
            closures,
        })
    }

    /// The time zone windows are read in.
    pub fn timezone(&self) -> Tz {
        self.tz
    }

    /// The configured label.
    pub fn label(&self) -> Option<&str> {
        self.label.as_deref()
    }

    /// Why the whole local `date` is closed (holiday or closure), if it is.
    pub fn closed_day(&self, date: NaiveDate) -> Option<ClosedReason> {
        if self.italian_holidays
            && let Some(name) = italian_holiday(date)
        {
            return Some(ClosedReason::Holiday(name));
        }
        self.closures
            .iter()
            .find(|c| c.from <= date && date <= c.to)
            .map(|c| ClosedReason::Closure(c.label.clone()))
    }

    /// Whether the calendar is open at `at`.
    pub fn is_open(&self, at: DateTime<Utc>) -> bool {
        self.status(at) == Status::Open
    }

    /// Open, or closed and why.
    pub fn status(&self, at: DateTime<Utc>) -> Status {
        if let Some((start, _)) = self.intervals_from(at).next()
            && start <= at
        {
            return Status::Open;
        }
        let date = at.with_timezone(&self.tz).date_naive();
        Status::Closed(self.closed_day(date).unwrap_or(ClosedReason::OutsideHours))
    }

    /// The first instant at or after `at` when the calendar is open (`at` itself when open).
    pub fn next_open(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.intervals_from(at)
            .next()
            .map(|(start, _)| start.max(at))
    }

    /// The first instant at or after `at` when the calendar is closed (`at` itself when
    /// closed). Windows that touch (Monday `…-24:00`, Tuesday `00:00-…`) count as one.
    pub fn next_close(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut it = self.intervals_from(at);
        let (start, mut end) = it.next()?;
        if start > at {
            return Some(at);
        }
        let limit = at + Duration::days(HORIZON_DAYS);
        for (s, e) in it {
            if s > end {
                break;
            }
            end = e;
            if end > limit {
                return None;
            }
        }
        Some(end)
    }

    /// `from` plus `d` of open time: time outside the windows does not count, and a closed
    /// `from` starts counting at the next opening ("a message left on Friday evening is due
    /// Monday morning + 4 working hours"). A result that lands exactly on a closing time is
    /// that closing time. A negative `d` counts as zero. `None` when the calendar does not
    /// open again within the search horizon.
    pub fn add_working_time(&self, from: DateTime<Utc>, d: Duration) -> Option<DateTime<Utc>> {
        let mut remaining = d.max(Duration::zero());
        for (start, end) in self.intervals_from(from) {
            let start = start.max(from);
            let available = end - start;
            if remaining <= available {
                return Some(start + remaining);
            }
            remaining -= available;
        }
        None
    }

    /// Open time between `a` and `b` (zero when `b <= a`).
    pub fn working_time_between(&self, a: DateTime<Utc>, b: DateTime<Utc>) -> Duration {
        let mut total = Duration::zero();
        if b <= a {
            return total;
        }
        for (start, end) in self.intervals_from(a) {
            if start >= b {
                break;
            }
            total += end.min(b) - start.max(a);
        }
        total
    }

    /// Open intervals `[start, end)` in UTC, ascending and disjoint, the first one ending after
    /// `at`; intervals of consecutive windows may touch.
    fn intervals_from(&self, at: DateTime<Utc>) -> Intervals<'_> {
        let local = at.with_timezone(&self.tz).date_naive();
        Intervals {
            cal: self,
            date: local.pred_opt(),
            after: at,
            last_end: None,
            buf: VecDeque::new(),
            empty_days: 0,
        }
    }

    /// The open intervals of one local date, in UTC.
    fn day_intervals(&self, date: NaiveDate, out: &mut VecDeque<(DateTime<Utc>, DateTime<Utc>)>) {
        if self.closed_day(date).is_some() {
            return;
        }
        let windows = &self.week[date.weekday().num_days_from_monday() as usize];
        for &(s, e) in windows {
            let (Some(start), Some(end)) = (
                self.wall_to_utc(date, s, true),
                self.wall_to_utc(date, e, false),
            ) else {
                continue;
            };
            if start < end {
                out.push_back((start, end));
            }
        }
    }

    /// Maps a wall-clock minute of `date` to UTC: the earliest occurrence for a window start,
    /// the latest for an end, and the first existing instant for a time inside a gap.
    fn wall_to_utc(&self, date: NaiveDate, minute: u16, start: bool) -> Option<DateTime<Utc>> {
        let naive: NaiveDateTime = if minute >= DAY_MINUTES {
            date.succ_opt()?.and_hms_opt(0, 0, 0)?
        } else {
            date.and_hms_opt(u32::from(minute / 60), u32::from(minute % 60), 0)?
        };
        // A gap is at most a few hours; walk forward to its end, minute by minute.
        for k in 0..=24 * 60 {
            let probe = naive + Duration::minutes(k);
            match self.tz.from_local_datetime(&probe) {
                chrono::LocalResult::Single(t) => return Some(t.with_timezone(&Utc)),
                chrono::LocalResult::Ambiguous(early, late) => {
                    let t = if start { early } else { late };
                    return Some(t.with_timezone(&Utc));
                }
                chrono::LocalResult::None => {}
            }
        }
        None
    }
}

/// The iterator behind every query: day by day from the local date before `after`.
struct Intervals<'a> {
    cal: &'a BusinessCalendar,
    date: Option<NaiveDate>,
    after: DateTime<Utc>,
    last_end: Option<DateTime<Utc>>,
    buf: VecDeque<(DateTime<Utc>, DateTime<Utc>)>,
    empty_days: i64,
}

impl Iterator for Intervals<'_> {
    type Item = (DateTime<Utc>, DateTime<Utc>);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            while let Some((mut start, end)) = self.buf.pop_front() {
                // Fall-back days can make windows of one date overlap in UTC: keep disjoint.
                if let Some(last) = self.last_end {
                    start = start.max(last);
                }
                if end <= start || end <= self.after {
                    continue;
                }
                self.last_end = Some(end);
                return Some((start, end));
            }
            if self.empty_days > HORIZON_DAYS {
                return None;
            }
            let date = self.date?;
            self.cal.day_intervals(date, &mut self.buf);
            if self.buf.is_empty() {
                self.empty_days += 1;
            } else {
                self.empty_days = 0;
            }
            self.date = date.succ_opt();
        }
    }
}

#[cfg(test)]
#[path = "business_tests.rs"]
mod tests;
