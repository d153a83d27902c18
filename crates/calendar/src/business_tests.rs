use chrono::{Duration, TimeZone, Utc};
use proptest::prelude::*;

use super::*;

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
}

fn cal(toml: &str) -> BusinessCalendar {
    let cfg: CalendarConfig = toml::from_str(toml).unwrap();
    BusinessCalendar::new(&cfg).unwrap()
}

const OFFICE: &str = r#"
    mon = ["08:00-19:00"]
    tue = ["08:00-19:00"]
    wed = ["08:00-19:00"]
    thu = ["08:00-19:00"]
    fri = ["08:00-19:00"]
    sat = ["08:00-14:00"]
    italian_holidays = true
"#;

#[test]
fn opens_and_closes_on_the_minute() {
    let c = cal(OFFICE);
    // Monday 2025-06-09, Rome is UTC+2 (CEST).
    assert!(!c.is_open(utc(2025, 6, 9, 5, 59)));
    assert!(c.is_open(utc(2025, 6, 9, 6, 0)));
    assert!(c.is_open(utc(2025, 6, 9, 16, 59)));
    assert!(!c.is_open(utc(2025, 6, 9, 17, 0)));
    assert_eq!(
        c.status(utc(2025, 6, 9, 17, 0)),
        Status::Closed(ClosedReason::OutsideHours)
    );
    // Winter: UTC+1.
    assert!(!c.is_open(utc(2025, 1, 13, 6, 59)));
    assert!(c.is_open(utc(2025, 1, 13, 7, 0)));
    // Saturday closes at 14:00.
    assert!(c.is_open(utc(2025, 6, 14, 11, 59)));
    assert!(!c.is_open(utc(2025, 6, 14, 12, 0)));
    // Sunday closed.
    assert!(!c.is_open(utc(2025, 6, 15, 10, 0)));
}

#[test]
fn next_open_and_close() {
    let c = cal(OFFICE);
    let sat_evening = utc(2025, 6, 14, 18, 0);
    assert_eq!(c.next_open(sat_evening), Some(utc(2025, 6, 16, 6, 0)));
    assert_eq!(c.next_close(sat_evening), Some(sat_evening));
    let mon_noon = utc(2025, 6, 16, 10, 0);
    assert_eq!(c.next_open(mon_noon), Some(mon_noon));
    assert_eq!(c.next_close(mon_noon), Some(utc(2025, 6, 16, 17, 0)));
}

#[test]
fn holidays_close_whole_days() {
    let c = cal(OFFICE);
    // Easter Monday 2025-04-21, 10:00 Rome.
    assert_eq!(
        c.status(utc(2025, 4, 21, 8, 0)),
        Status::Closed(ClosedReason::Holiday("Lunedì dell'Angelo"))
    );
    assert_eq!(
        c.next_open(utc(2025, 4, 21, 8, 0)),
        Some(utc(2025, 4, 22, 6, 0))
    );
    // 2 June 2025 is a Monday.
    assert!(!c.is_open(utc(2025, 6, 2, 8, 0)));
    let plain = cal("mon = [\"08:00-19:00\"]");
    assert!(plain.is_open(utc(2025, 6, 2, 8, 0)));
}

#[test]
fn closures_and_labels() {
    let c = cal(r#"
        mon = ["08:00-19:00"]
        tue = ["08:00-19:00"]
        closures = ["2025-06-09", { from = "2025-06-16", to = "2025-06-17", label = "Trasloco" }]
    "#);
    assert_eq!(
        c.status(utc(2025, 6, 9, 8, 0)),
        Status::Closed(ClosedReason::Closure(None))
    );
    assert_eq!(
        c.status(utc(2025, 6, 17, 8, 0)),
        Status::Closed(ClosedReason::Closure(Some("Trasloco".into())))
    );
    assert!(c.is_open(utc(2025, 6, 10, 8, 0)));
    assert_eq!(
        c.next_open(utc(2025, 6, 16, 0, 0)),
        Some(utc(2025, 6, 23, 6, 0))
    );
}

#[test]
fn several_windows_per_day() {
    let c = cal(r#"wed = ["14:00-19:00", "08:00-13:00"]"#);
    let day = |h| utc(2025, 6, 11, h, 0);
    assert!(c.is_open(day(10)));
    assert!(!c.is_open(day(11)));
    assert_eq!(c.next_open(day(11)), Some(day(12)));
    assert_eq!(c.working_time_between(day(0), day(23)), Duration::hours(10));
}

#[test]
fn office_hours_follow_the_wall_clock_across_dst() {
    let c = cal(OFFICE);
    // Friday before spring forward (CET, UTC+1) and Monday after (CEST, UTC+2).
    assert_eq!(
        c.next_open(utc(2025, 3, 28, 0, 0)),
        Some(utc(2025, 3, 28, 7, 0))
    );
    assert_eq!(
        c.next_open(utc(2025, 3, 30, 0, 0)),
        Some(utc(2025, 3, 31, 6, 0))
    );
    // Saturday before fall back (CEST) and Monday after (CET).
    assert_eq!(
        c.next_close(utc(2025, 10, 25, 7, 0)),
        Some(utc(2025, 10, 25, 12, 0))
    );
    assert_eq!(
        c.next_open(utc(2025, 10, 26, 0, 0)),
        Some(utc(2025, 10, 27, 7, 0))
    );
}

#[test]
fn dst_change_days_whole_day_and_the_skipped_hour() {
    let full = cal(r#"sun = ["00:00-24:00"]"#);
    let spring = (utc(2025, 3, 29, 12, 0), utc(2025, 3, 31, 12, 0));
    let autumn = (utc(2025, 10, 25, 12, 0), utc(2025, 10, 27, 12, 0));
    assert_eq!(
        full.working_time_between(spring.0, spring.1),
        Duration::hours(23)
    );
    assert_eq!(
        full.working_time_between(autumn.0, autumn.1),
        Duration::hours(25)
    );

    // 02:00-03:00 does not exist on the spring-forward day: empty that day.
    let skipped = cal(r#"sun = ["02:00-03:00"]"#);
    assert_eq!(
        skipped.working_time_between(spring.0, spring.1),
        Duration::zero()
    );
    assert_eq!(skipped.next_open(spring.0), Some(utc(2025, 4, 6, 0, 0)));
    // On the fall-back day the wall clock reads 02:xx for two hours.
    assert_eq!(
        skipped.working_time_between(autumn.0, autumn.1),
        Duration::hours(2)
    );
    assert_eq!(skipped.next_open(autumn.0), Some(utc(2025, 10, 26, 0, 0)));

    // A window reaching into the gap opens when the gap ends (03:00 CEST = 01:00 UTC).
    let partial = cal(r#"sun = ["02:30-04:00"]"#);
    assert_eq!(partial.next_open(spring.0), Some(utc(2025, 3, 30, 1, 0)));
    assert_eq!(
        partial.next_close(utc(2025, 3, 30, 1, 0)),
        Some(utc(2025, 3, 30, 2, 0))
    );

    // Two windows that overlap in UTC on the fall-back day are not counted twice: the first
    // runs to the last 02:15 (01:15 UTC), the second from then to 04:00 CET (03:00 UTC).
    let twice = cal(r#"sun = ["01:00-02:15", "02:45-04:00"]"#);
    assert_eq!(
        twice.working_time_between(autumn.0, autumn.1),
        Duration::hours(4)
    );
}

#[test]
fn add_working_time_across_a_weekend_and_a_holiday() {
    let c = cal(OFFICE);
    // Friday 2025-06-06 17:00 Rome + 4 h: 2 h on Friday, 2 h on... Saturday 08:00-10:00.
    assert_eq!(
        c.add_working_time(utc(2025, 6, 6, 15, 0), Duration::hours(4)),
        Some(utc(2025, 6, 7, 8, 0))
    );
    // Saturday 13:00 + 4 h: 1 h on Saturday, then Monday 08:00 + 3 h = 11:00 Rome.
    assert_eq!(
        c.add_working_time(utc(2025, 6, 7, 11, 0), Duration::hours(4)),
        Some(utc(2025, 6, 9, 9, 0))
    );
    // A message left on Friday evening is due Monday morning + 4 working hours.
    let weekdays = cal(r#"
        mon = ["08:00-19:00"]
        tue = ["08:00-19:00"]
        fri = ["08:00-19:00"]
        italian_holidays = true
    "#);
    assert_eq!(
        weekdays.add_working_time(utc(2025, 6, 6, 18, 0), Duration::hours(4)),
        Some(utc(2025, 6, 9, 10, 0))
    );
    // Good Friday evening 2025-04-18: Saturday counts in OFFICE, Easter Monday does not.
    assert_eq!(
        c.add_working_time(utc(2025, 4, 18, 18, 0), Duration::hours(8)),
        Some(utc(2025, 4, 22, 8, 0))
    );
    assert_eq!(
        weekdays.add_working_time(utc(2025, 4, 18, 18, 0), Duration::hours(4)),
        Some(utc(2025, 4, 22, 10, 0))
    );
    // Landing exactly on closing time stays there; zero means "next opening".
    assert_eq!(
        c.add_working_time(utc(2025, 6, 9, 15, 0), Duration::hours(2)),
        Some(utc(2025, 6, 9, 17, 0))
    );
    assert_eq!(
        c.add_working_time(utc(2025, 6, 8, 15, 0), Duration::zero()),
        Some(utc(2025, 6, 9, 6, 0))
    );
}

#[test]
fn always_open_and_always_closed() {
    let open = BusinessCalendar::new(&CalendarConfig::always_open()).unwrap();
    let at = utc(2025, 12, 24, 11, 0);
    assert!(open.is_open(at));
    assert_eq!(open.next_close(at), None);
    assert_eq!(
        open.add_working_time(at, Duration::hours(30)),
        Some(at + Duration::hours(30))
    );

    let open_but_holidays = cal("always_open = true\nitalian_holidays = true");
    assert_eq!(
        open_but_holidays.next_close(at),
        Some(utc(2025, 12, 24, 23, 0))
    );

    let closed = BusinessCalendar::new(&CalendarConfig::always_closed()).unwrap();
    assert!(!closed.is_open(at));
    assert_eq!(closed.next_open(at), None);
    assert_eq!(closed.add_working_time(at, Duration::hours(1)), None);
    assert_eq!(
        closed.working_time_between(at, at + Duration::days(30)),
        Duration::zero()
    );
}

#[test]
fn touching_windows_across_midnight_close_once() {
    let c = cal(r#"
        mon = ["20:00-24:00"]
        tue = ["00:00-06:00"]
    "#);
    // Monday 2025-06-09 21:00 Rome.
    assert_eq!(
        c.next_close(utc(2025, 6, 9, 19, 0)),
        Some(utc(2025, 6, 10, 4, 0))
    );
}

#[test]
fn errors_name_their_fields() {
    let cfg: CalendarConfig = toml::from_str(
        r#"
        timezone = "Europe/Roma"
        mon = ["19:00-08:00"]
        closures = ["25-12-2025"]
    "#,
    )
    .unwrap();
    let errs = BusinessCalendar::new(&cfg).unwrap_err().0;
    let fields: Vec<_> = errs.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["timezone", "mon[0]", "closures[0]"]);
    assert!(errs[0].message.contains("\"Europe/Roma\""));
}

fn office_or_odd() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        Just(OFFICE),
        Just(
            r#"
            timezone = "Europe/Rome"
            sun = ["02:00-03:00", "23:30-24:00"]
            mon = ["00:00-01:00", "02:30-02:45"]
            sat = ["00:00-24:00"]
            closures = ["2025-01-01..2025-01-20"]
        "#
        ),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn add_then_measure_round_trips(
        toml in office_or_odd(),
        from_s in 1_704_067_200i64..1_830_297_600, // 2024-01-01 .. 2028-01-01
        minutes in 0i64..(300 * 60),
        secs in 0i64..60,
    ) {
        let c = cal(toml);
        let from = DateTime::from_timestamp(from_s, 0).unwrap();
        let d = Duration::minutes(minutes) + Duration::seconds(secs);
        let due = c.add_working_time(from, d).unwrap();
        prop_assert!(due >= from);
        prop_assert_eq!(c.working_time_between(from, due), d);
        // Open at the due instant, or exactly at a closing time (or zero duration).
        if d > Duration::zero() {
            prop_assert!(c.is_open(due - Duration::seconds(1)));
        }
    }
}
