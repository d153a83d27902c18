//! When a report set is e-mailed (issue 15): every week, month or two months, the period
//! just ended is sent once, at a local time on a chosen day after it.
//!
//! - `Week { weekday }`: the ISO week (Monday to Sunday), sent on `weekday` of the week
//!   after, at `at`;
//! - `Month { day }`: the calendar month, sent on day `day` (1-28) of the month after;
//! - `TwoMonths { day }`: January-February, March-April, … (the tender's report every two
//!   months), sent on day `day` of the month after (1 March for January-February).
//!
//! [`Schedule::due`] names the period whose send time is the latest one not after `now`:
//! the set's task asks it at every tick and queues that period unless it was queued before
//! (the outbox's `dedup_key` holds the period), so a restart never sends a period twice, and
//! a server that was down when a period fell due sends it when it comes back. Only the
//! latest period is caught up: after a stop longer than a whole period the older ones stay
//! unsent (they can be sent by hand). Sans-IO: `now` is given.

use std::fmt;

use chrono::{DateTime, Datelike, Days, Months, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;

use crate::period::Period;

/// How often a set is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Every {
    /// Each ISO week, sent on `weekday` of the week after.
    Week { weekday: Weekday },
    /// Each calendar month, sent on `day` (1-28) of the month after.
    Month { day: u32 },
    /// Each pair of months from January, sent on `day` (1-28) of the month after.
    TwoMonths { day: u32 },
}

/// A set's schedule in the site's time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    pub every: Every,
    /// Local time of day it is sent.
    pub at: NaiveTime,
    pub tz: Tz,
}

/// A schedule that cannot work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleError(pub String);

impl fmt::Display for ScheduleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ScheduleError {}

/// A period that falls due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Due {
    pub period: Period,
    /// When it fell due.
    pub send_at: DateTime<Utc>,
}

impl Due {
    /// The period as written in keys and subjects: `2026-11-01..2026-11-30`.
    pub fn label(&self) -> String {
        format!("{}..{}", self.period.from, self.period.to)
    }
}

/// The instant of a local date and time; a time skipped by a daylight-saving change is
/// taken an hour later, an ambiguous one at its first occurrence.
pub fn local_instant(tz: Tz, day: NaiveDate, at: NaiveTime) -> DateTime<Utc> {
    let naive = day.and_time(at);
    match tz.from_local_datetime(&naive) {
        chrono::LocalResult::Single(t) | chrono::LocalResult::Ambiguous(t, _) => {
            t.with_timezone(&Utc)
        }
        chrono::LocalResult::None => tz
            .from_local_datetime(&(naive + chrono::Duration::hours(1)))
            .earliest()
            .map_or_else(|| Utc.from_utc_datetime(&naive), |t| t.with_timezone(&Utc)),
    }
}

fn month_start(d: NaiveDate) -> NaiveDate {
    d.with_day(1).unwrap_or(d)
}

impl Schedule {
    /// Checks the day of the month (1-28, so every month has it).
    pub fn new(every: Every, at: NaiveTime, tz: Tz) -> Result<Schedule, ScheduleError> {
        if let Every::Month { day } | Every::TwoMonths { day } = every
            && !(1..=28).contains(&day)
        {
            return Err(ScheduleError(format!(
                "day {day}: expected 1 to 28 (a day every month has)"
            )));
        }
        Ok(Schedule { every, at, tz })
    }

    /// The period that contains local day `d`.
    fn containing(&self, d: NaiveDate) -> Option<Period> {
        let (from, to) = match self.every {
            Every::Week { .. } => {
                let monday = d - Days::new(u64::from(d.weekday().num_days_from_monday()));
                (monday, monday + Days::new(6))
            }
            Every::Month { .. } => {
                let from = month_start(d);
                (from, from.checked_add_months(Months::new(1))?.pred_opt()?)
            }
            Every::TwoMonths { .. } => {
                let first = month_start(d);
                // January, March, May, …: months 1, 3, 5 start a pair.
                let from = if first.month() % 2 == 1 {
                    first
                } else {
                    first.checked_sub_months(Months::new(1))?
                };
                (from, from.checked_add_months(Months::new(2))?.pred_opt()?)
            }
        };
        Period::new(from, to, self.tz).ok()
    }

    /// The period before `p`.
    fn before(&self, p: &Period) -> Option<Period> {
        self.containing(p.from.pred_opt()?)
    }

    /// When period `p` (one of this schedule's) is sent.
    pub fn send_at(&self, p: &Period) -> Option<DateTime<Utc>> {
        let after = p.to.succ_opt()?;
        let day = match self.every {
            Every::Week { weekday } => after + Days::new(u64::from(weekday.num_days_from_monday())),
            Every::Month { day } | Every::TwoMonths { day } => after.with_day(day)?,
        };
        Some(local_instant(self.tz, day, self.at))
    }

    /// The period whose send time is the latest not after `now` (see the module).
    pub fn due(&self, now: DateTime<Utc>) -> Option<Due> {
        let today = now.with_timezone(&self.tz).date_naive();
        let mut p = self.containing(today)?;
        // The current period is not over; its predecessor is sent after it ends, so at
        // most the two before it need looking at.
        for _ in 0..3 {
            p = self.before(&p)?;
            let send_at = self.send_at(&p)?;
            if send_at <= now {
                return Some(Due { period: p, send_at });
            }
        }
        None
    }

    /// The latest period that has ended by `now`, due or not (what "send now" sends).
    pub fn last_ended(&self, now: DateTime<Utc>) -> Option<Period> {
        let today = now.with_timezone(&self.tz).date_naive();
        let p = self.containing(today)?;
        self.before(&p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROME: Tz = chrono_tz::Europe::Rome;

    fn six() -> NaiveTime {
        NaiveTime::from_hms_opt(6, 0, 0).unwrap()
    }

    fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        local_instant(
            ROME,
            NaiveDate::from_ymd_opt(y, m, d).unwrap(),
            NaiveTime::from_hms_opt(h, min, 0).unwrap(),
        )
    }

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn due(s: &Schedule, now: DateTime<Utc>) -> (NaiveDate, NaiveDate) {
        let d = s.due(now).unwrap();
        assert!(d.send_at <= now);
        (d.period.from, d.period.to)
    }

    #[test]
    fn monthly_on_day_three_at_six() {
        let s = Schedule::new(Every::Month { day: 3 }, six(), ROME).unwrap();
        // One second before 3 December 06:00 local: October is still the latest due.
        let edge = at(2026, 12, 3, 6, 0);
        assert_eq!(
            due(&s, edge - chrono::Duration::seconds(1)),
            (day(2026, 10, 1), day(2026, 10, 31))
        );
        // At the instant, and after: November.
        assert_eq!(due(&s, edge), (day(2026, 11, 1), day(2026, 11, 30)));
        assert_eq!(s.due(edge).unwrap().send_at, edge);
        assert_eq!(
            due(&s, at(2026, 12, 31, 23, 59)),
            (day(2026, 11, 1), day(2026, 11, 30))
        );
        // January's report of December crosses the year.
        assert_eq!(
            due(&s, at(2027, 1, 3, 6, 0)),
            (day(2026, 12, 1), day(2026, 12, 31))
        );
        // February (28 days) and a leap year's.
        assert_eq!(
            due(&s, at(2028, 3, 10, 0, 0)),
            (day(2028, 2, 1), day(2028, 2, 29))
        );
        assert_eq!(
            s.due(edge).unwrap().label(),
            "2026-11-01..2026-11-30",
            "the key's period"
        );
    }

    #[test]
    fn every_two_months_in_the_tenders_pairs() {
        let s = Schedule::new(Every::TwoMonths { day: 1 }, six(), ROME).unwrap();
        // 1 March 06:00 sends January-February.
        assert_eq!(
            due(&s, at(2027, 3, 1, 6, 0)),
            (day(2027, 1, 1), day(2027, 2, 28))
        );
        // Just before: November-December of the year before.
        assert_eq!(
            due(&s, at(2027, 3, 1, 5, 59)),
            (day(2026, 11, 1), day(2026, 12, 31))
        );
        // All of April (an even month) still has January-February as the latest.
        assert_eq!(
            due(&s, at(2027, 4, 30, 23, 0)),
            (day(2027, 1, 1), day(2027, 2, 28))
        );
        assert_eq!(
            due(&s, at(2027, 5, 1, 6, 0)),
            (day(2027, 3, 1), day(2027, 4, 30))
        );
        assert_eq!(
            due(&s, at(2027, 1, 15, 12, 0)),
            (day(2026, 11, 1), day(2026, 12, 31))
        );
    }

    #[test]
    fn weekly_on_monday_morning() {
        let s = Schedule::new(
            Every::Week {
                weekday: Weekday::Mon,
            },
            NaiveTime::from_hms_opt(7, 30, 0).unwrap(),
            ROME,
        )
        .unwrap();
        // Monday 30 November 2026, 07:30: the week of 23-29 November.
        assert_eq!(
            due(&s, at(2026, 11, 30, 7, 30)),
            (day(2026, 11, 23), day(2026, 11, 29))
        );
        assert_eq!(
            due(&s, at(2026, 11, 30, 7, 29)),
            (day(2026, 11, 16), day(2026, 11, 22))
        );
        // Sunday night: still the week before.
        assert_eq!(
            due(&s, at(2026, 12, 6, 23, 59)),
            (day(2026, 11, 23), day(2026, 11, 29))
        );
        // Sent on Wednesday instead.
        let wed = Schedule::new(
            Every::Week {
                weekday: Weekday::Wed,
            },
            six(),
            ROME,
        )
        .unwrap();
        assert_eq!(
            due(&wed, at(2026, 12, 1, 12, 0)),
            (day(2026, 11, 16), day(2026, 11, 22)),
            "Tuesday: last week's is not due before Wednesday"
        );
        assert_eq!(
            due(&wed, at(2026, 12, 2, 6, 0)),
            (day(2026, 11, 23), day(2026, 11, 29))
        );
    }

    #[test]
    fn a_restart_asks_again_and_gets_the_same_period() {
        // The task queues the due period under a key holding its label; asking again at
        // any later instant before the next send time names the same period, so the key
        // is the same and nothing more is queued.
        let s = Schedule::new(Every::Month { day: 1 }, six(), ROME).unwrap();
        let first = s.due(at(2026, 12, 1, 6, 0)).unwrap();
        for now in [
            at(2026, 12, 1, 6, 1),
            at(2026, 12, 15, 0, 0),
            at(2027, 1, 1, 5, 59),
        ] {
            assert_eq!(s.due(now).unwrap(), first, "{now}");
        }
        assert_ne!(s.due(at(2027, 1, 1, 6, 0)).unwrap(), first);
        // Down over the send time: sent late when the server comes back.
        assert_eq!(s.due(at(2026, 12, 4, 9, 0)).unwrap(), first);
    }

    #[test]
    fn daylight_saving_days_and_bad_days() {
        // 02:30 does not exist on 29 March 2026 in Rome: taken at 03:30 local.
        let s = Schedule::new(
            Every::Week {
                weekday: Weekday::Sun,
            },
            NaiveTime::from_hms_opt(2, 30, 0).unwrap(),
            ROME,
        )
        .unwrap();
        let p = s.last_ended(at(2026, 3, 25, 12, 0)).unwrap();
        assert_eq!((p.from, p.to), (day(2026, 3, 16), day(2026, 3, 22)));
        assert_eq!(
            s.send_at(&p).unwrap(),
            Utc.with_ymd_and_hms(2026, 3, 29, 1, 30, 0).unwrap()
        );
        for bad in [0, 29, 31] {
            assert!(
                Schedule::new(Every::Month { day: bad }, six(), ROME).is_err(),
                "{bad}"
            );
        }
        assert!(Schedule::new(Every::TwoMonths { day: 28 }, six(), ROME).is_ok());
    }
}
