//! The availability fold at its edges, and through the SLA report.

use calendar::{BusinessCalendar, CalendarConfig};
use chrono::{DateTime, Duration, Utc};
use chrono_tz::Europe::Rome;
use events::{Component, Event};

use super::downtimes;
use crate::ledger::Folded;
use crate::period::Period;
use crate::sla::{Downtime, SlaInputs, SlaReport, SlaSettings, sla_report};

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn started(at: DateTime<Utc>) -> (DateTime<Utc>, Event) {
    (
        at,
        Event::SystemStarted {
            version: "1".into(),
            at,
        },
    )
}

fn stopping(at: DateTime<Utc>) -> (DateTime<Utc>, Event) {
    (at, Event::SystemStopping { at })
}

fn beat(at: DateTime<Utc>) -> (DateTime<Utc>, Event) {
    (at, Event::SystemHeartbeat { at })
}

fn component(at: DateTime<Utc>, component: Component, up: bool) -> (DateTime<Utc>, Event) {
    (
        at,
        Event::ComponentState {
            component,
            up,
            reason: if up { "answers" } else { "no answer" }.into(),
            at,
        },
    )
}

fn fold(records: &[(DateTime<Utc>, Event)], period: &Period) -> Option<Vec<Downtime>> {
    downtimes(
        records.iter().map(|(at, e)| (*at, e)),
        period.start(),
        period.end(),
    )
}

fn all(from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<Downtime> {
    Component::ALL
        .into_iter()
        .map(|component| Downtime {
            component,
            from,
            to,
        })
        .collect()
}

fn office_hours() -> BusinessCalendar {
    let cfg: CalendarConfig = toml::from_str(
        r#"timezone = "Europe/Rome"
italian_holidays = true
mon = ["08:00-18:00"]
tue = ["08:00-18:00"]
wed = ["08:00-18:00"]
thu = ["08:00-18:00"]
fri = ["08:00-18:00"]"#,
    )
    .unwrap();
    BusinessCalendar::new(&cfg).unwrap()
}

fn report(period: &Period, downtimes: Option<&[Downtime]>) -> SlaReport {
    let folded = Folded::default();
    sla_report(
        period,
        SlaInputs {
            folded: &folded,
            tickets: &[],
            downtimes,
            calendar: &office_hours(),
            as_of: period.end(),
        },
        &SlaSettings::default(),
    )
}

fn line(r: &SlaReport, id: &str) -> (u64, u64, Option<f64>) {
    let l = r.lines.iter().find(|l| l.id == id).unwrap();
    (l.numerator, l.denominator, l.measured_pct)
}

#[test]
fn a_month_with_no_records_is_not_measured_and_one_always_up_is_100_percent() {
    let period = Period::month(2026, 3, Rome).unwrap();
    assert_eq!(fold(&[], &period), None);
    let r = report(&period, None);
    assert_eq!(line(&r, "ACD.service_time"), (0, 0, None));
    // Started before the month, heartbeats through it, never stopped: up all month.
    let before = period.start() - Duration::days(3);
    let mut records = vec![started(before)];
    let mut at = period.start() - Duration::minutes(1);
    while at < period.end() {
        records.push(beat(at));
        at += Duration::hours(6);
    }
    let downs = fold(&records, &period).unwrap();
    assert_eq!(downs, []);
    let r = report(&period, Some(&downs));
    for id in [
        "ACD.service_time",
        "ACD.other_hours",
        "CTI.service_time",
        "CTI.other_hours",
        "IVR.around_the_clock",
    ] {
        assert_eq!(line(&r, id).2, Some(100.0), "{id}");
    }
}

#[test]
fn a_crash_without_a_stop_is_down_from_the_last_heartbeat_to_the_next_start() {
    let period = Period::month(2026, 3, Rome).unwrap();
    let records = [
        started(t("2026-02-20T08:00:00Z")),
        beat(t("2026-03-02T08:00:00Z")),
        beat(t("2026-03-02T08:01:00Z")),
        // kill -9 at 08:01:30: nothing more from that run.
        started(t("2026-03-02T08:05:00Z")),
        beat(t("2026-03-02T08:06:00Z")),
    ];
    let downs = fold(&records, &period).unwrap();
    assert_eq!(
        downs,
        all(t("2026-03-02T08:01:00Z"), t("2026-03-02T08:05:00Z"))
    );
}

#[test]
fn an_orderly_stop_is_down_until_the_next_start_and_a_component_alone_goes_down() {
    let period = Period::month(2026, 3, Rome).unwrap();
    let records = [
        started(period.start()),
        component(t("2026-03-03T10:00:00Z"), Component::Acd, false),
        component(t("2026-03-03T10:30:00Z"), Component::Acd, true),
        // The IVR down, then the process stops before it recovers: down until the stop,
        // then down with everything until the start.
        component(t("2026-03-04T10:00:00Z"), Component::Ivr, false),
        stopping(t("2026-03-04T11:00:00Z")),
        beat(t("2026-03-04T11:00:01Z")),
        started(t("2026-03-04T12:00:00Z")),
    ];
    let downs = fold(&records, &period).unwrap();
    let mut expected = vec![
        Downtime {
            component: Component::Acd,
            from: t("2026-03-03T10:00:00Z"),
            to: t("2026-03-03T10:30:00Z"),
        },
        Downtime {
            component: Component::Ivr,
            from: t("2026-03-04T10:00:00Z"),
            to: t("2026-03-04T11:00:00Z"),
        },
    ];
    expected.extend(all(t("2026-03-04T11:00:00Z"), t("2026-03-04T12:00:00Z")));
    expected.sort_by_key(|d| (d.from, d.component));
    assert_eq!(downs, expected);
}

#[test]
fn before_the_first_start_the_service_was_down_and_a_stop_at_the_end_stays_down() {
    let period = Period::month(2026, 3, Rome).unwrap();
    let records = [
        started(t("2026-03-10T00:00:00Z")),
        stopping(t("2026-03-30T00:00:00Z")),
    ];
    let downs = fold(&records, &period).unwrap();
    let mut expected = all(period.start(), t("2026-03-10T00:00:00Z"));
    expected.extend(all(t("2026-03-30T00:00:00Z"), period.end()));
    expected.sort_by_key(|d| (d.from, d.component));
    assert_eq!(downs, expected);
}

#[test]
fn a_downtime_across_the_service_hours_boundary_is_split_between_the_two_lines() {
    let period = Period::month(2026, 3, Rome).unwrap();
    // Monday 2 March: service time ends 18:00 local = 17:00Z. Crash at 16:30Z (last
    // heartbeat), start again at 18:00Z: 30 min in service time, 60 min in other hours.
    let records = [
        started(t("2026-02-28T00:00:00Z")),
        beat(t("2026-03-02T16:30:00Z")),
        started(t("2026-03-02T18:00:00Z")),
    ];
    let downs = fold(&records, &period).unwrap();
    let r = report(&period, Some(&downs));
    // March 2026: 220 h of service time, 523 h of other hours, 743 h in all.
    assert_eq!(
        line(&r, "ACD.service_time").0,
        220 * 3600 - 30 * 60,
        "30 min of service time lost"
    );
    assert_eq!(line(&r, "ACD.other_hours").0, 523 * 3600 - 60 * 60);
    assert_eq!(line(&r, "CTI.service_time").0, 220 * 3600 - 30 * 60);
    assert_eq!(line(&r, "IVR.around_the_clock").0, 743 * 3600 - 90 * 60);
}
