//! Reports over scripted event logs, and the SLA formulas at their edges.

use calendar::{BusinessCalendar, CalendarConfig};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Europe::Rome;
use events::{AgentStatus, Event, Outcome, TicketChange, TicketChannel, TicketField};

use crate::agents::agent_report;
use crate::ledger::Folded;
use crate::period::{Bucket, Period, Sampling};
use crate::queues::{CallsOptions, calls_overview, queue_report};
use crate::sla::{
    Component, Direction, Downtime, SlaInputs, SlaSettings, TicketFacts, line, overflow_points,
    sla_report,
};

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

/// A script of events with their publication times.
#[derive(Default)]
struct Log(Vec<(DateTime<Utc>, Event)>);

impl Log {
    fn push(&mut self, at: DateTime<Utc>, e: Event) {
        self.0.push((at, e));
    }

    /// A call that starts at `at`, is welcomed, queues in `queue` and ends as `end` says.
    fn call(&mut self, id: &str, at: DateTime<Utc>, queue: &str, end: End) {
        let s = |n: i64| at + Duration::seconds(n);
        self.push(
            at,
            Event::CallStarted {
                call_id: id.into(),
                sip_call_id: format!("sip-{id}"),
                caller: Some("+390000000001".into()),
                dialled: Some("800000000".into()),
            },
        );
        self.push(
            s(0),
            Event::CallAnswered {
                call_id: id.into(),
                codec: "PCMA".into(),
            },
        );
        let entered = s(10);
        self.push(
            entered,
            Event::QueueEntered {
                call_id: id.into(),
                queue: queue.into(),
                position: 1,
                at: entered,
            },
        );
        let ms = |secs: f64| (secs * 1000.0) as u64;
        match end {
            End::Answered {
                agent,
                wait_s,
                talk_s,
            } => {
                let c = entered + Duration::milliseconds(ms(wait_s) as i64);
                let rung = (c - Duration::seconds(2)).max(entered);
                self.push(
                    rung,
                    Event::QueueOffered {
                        call_id: id.into(),
                        queue: queue.into(),
                        agent: agent.into(),
                        at: rung,
                    },
                );
                self.push(
                    c,
                    Event::QueueConnected {
                        call_id: id.into(),
                        queue: queue.into(),
                        agent: agent.into(),
                        wait_ms: ms(wait_s),
                        within_service_level: wait_s <= 20.0,
                        at: c,
                    },
                );
                let done = c + Duration::seconds(talk_s);
                self.push(
                    done,
                    Event::QueueCompleted {
                        call_id: id.into(),
                        queue: queue.into(),
                        agent: agent.into(),
                        talk_ms: ms(talk_s as f64),
                        at: done,
                    },
                );
                self.end(id, done, Outcome::CallerHangup);
            }
            End::Abandoned { wait_s } => {
                let left = entered + Duration::milliseconds(ms(wait_s) as i64);
                self.push(
                    left,
                    Event::QueueAbandoned {
                        call_id: id.into(),
                        queue: queue.into(),
                        position: 1,
                        wait_ms: ms(wait_s),
                        within_service_level: wait_s <= 20.0,
                        at: left,
                    },
                );
                self.end(id, left, Outcome::Abandoned);
            }
            End::Voicemail { wait_s } => {
                let left = entered + Duration::seconds(wait_s);
                self.push(
                    left,
                    Event::QueueOverflowed {
                        call_id: id.into(),
                        queue: queue.into(),
                        wait_ms: ms(wait_s as f64),
                        within_service_level: false,
                        to: "voicemail:general".into(),
                        at: left,
                    },
                );
                self.end(id, left + Duration::seconds(40), Outcome::CallerHangup);
            }
        }
    }

    fn end(&mut self, id: &str, at: DateTime<Utc>, outcome: Outcome) {
        self.push(
            at,
            Event::CallEnded {
                call_id: id.into(),
                outcome,
                duration_ms: 0,
            },
        );
    }

    fn agent(&mut self, login: &str, at: DateTime<Utc>, state: AgentStatus, reason: Option<&str>) {
        self.push(
            at,
            Event::AgentState {
                login: login.into(),
                state,
                reason: reason.map(Into::into),
                registered: true,
                since: at,
            },
        );
    }

    fn fold(&self, until: DateTime<Utc>) -> Folded {
        // Log order: by time, and in the order published for the same instant.
        let mut sorted: Vec<&(DateTime<Utc>, Event)> = self.0.iter().collect();
        sorted.sort_by_key(|(at, _)| *at);
        Folded::from_events(sorted.into_iter().map(|(at, e)| (*at, e)), until)
    }
}

enum End {
    Answered {
        agent: &'static str,
        wait_s: f64,
        talk_s: i64,
    },
    Abandoned {
        wait_s: f64,
    },
    Voicemail {
        wait_s: i64,
    },
}

fn always_open() -> BusinessCalendar {
    let cfg: CalendarConfig = toml_cfg(
        r#"timezone = "Europe/Rome"
italian_holidays = false
always_open = true"#,
    );
    BusinessCalendar::new(&cfg).unwrap()
}

fn office_hours() -> BusinessCalendar {
    let cfg: CalendarConfig = toml_cfg(
        r#"timezone = "Europe/Rome"
italian_holidays = true
mon = ["08:00-18:00"]
tue = ["08:00-18:00"]
wed = ["08:00-18:00"]
thu = ["08:00-18:00"]
fri = ["08:00-18:00"]"#,
    );
    BusinessCalendar::new(&cfg).unwrap()
}

fn toml_cfg(s: &str) -> CalendarConfig {
    toml::from_str(s).unwrap()
}

/// A scripted morning in queue `tecnica`: four answered calls (waits 5, 20, 30, 95 s), one
/// abandoned after 3 s (short), one after 40 s, one to voicemail after 120 s.
fn morning() -> Log {
    let mut log = Log::default();
    log.agent("anna", t("2026-03-02T07:00:00Z"), AgentStatus::Ready, None);
    log.call(
        "c1",
        t("2026-03-02T07:05:00Z"),
        "tecnica",
        End::Answered {
            agent: "anna",
            wait_s: 5.0,
            talk_s: 100,
        },
    );
    log.call(
        "c2",
        t("2026-03-02T07:15:00Z"),
        "tecnica",
        End::Answered {
            agent: "anna",
            wait_s: 20.0,
            talk_s: 200,
        },
    );
    log.call(
        "c3",
        t("2026-03-02T07:30:00Z"),
        "tecnica",
        End::Answered {
            agent: "anna",
            wait_s: 30.0,
            talk_s: 60,
        },
    );
    log.call(
        "c4",
        t("2026-03-02T08:10:00Z"),
        "tecnica",
        End::Answered {
            agent: "anna",
            wait_s: 95.0,
            talk_s: 60,
        },
    );
    log.call(
        "c5",
        t("2026-03-02T08:20:00Z"),
        "tecnica",
        End::Abandoned { wait_s: 3.0 },
    );
    log.call(
        "c6",
        t("2026-03-02T08:30:00Z"),
        "tecnica",
        End::Abandoned { wait_s: 40.0 },
    );
    log.call(
        "c7",
        t("2026-03-02T08:40:00Z"),
        "tecnica",
        End::Voicemail { wait_s: 120 },
    );
    log
}

#[test]
fn queue_report_counts_a_scripted_morning() {
    let log = morning();
    let period = Period::new(d("2026-03-02"), d("2026-03-02"), Rome).unwrap();
    let folded = log.fold(period.end());
    let options = CallsOptions {
        sampling: Sampling::HourBand,
        ..CallsOptions::default()
    };
    let report = queue_report(&period, &folded, &options);
    let total = &report.totals[0];
    assert_eq!(total.queue, "tecnica");
    assert_eq!(total.offered, 7);
    assert_eq!(total.answered, 4);
    assert_eq!(total.abandoned, 1, "the 3 s hang-up is short");
    assert_eq!(total.abandoned_short, 1);
    assert_eq!(total.overflowed, 1);
    assert_eq!(total.answer_time.mean_s, Some(37.5));
    assert_eq!(total.answer_time.p90_s, Some(95.0));
    assert_eq!(total.talk_time.mean_s, Some(105.0));
    // Console's service level: answered within 20 s (c1, c2) ÷ (4 answered + c6 late +
    // c7 late) = 2/6.
    assert_eq!(total.service_level_pct, Some(33.33));
    // Hour bands in Rome time: 08:00 (c1–c3), 09:00 (c4–c7).
    let band = |h: u8| {
        report
            .rows
            .iter()
            .find(|r| r.bucket == Bucket::HourBand(h))
            .unwrap()
    };
    assert_eq!(band(8).offered, 3);
    assert_eq!(band(9).offered, 4);
    assert_eq!(band(10).offered, 0);
    assert_eq!(report.rows.len(), 24);

    let overview = calls_overview(&period, &folded, &CallsOptions::default());
    assert_eq!(overview.len(), 1);
    let o = &overview[0];
    assert_eq!(
        (
            o.contacts,
            o.welcomed,
            o.queued,
            o.answered,
            o.abandoned,
            o.to_voicemail
        ),
        (7, 7, 7, 4, 1, 1)
    );
}

#[test]
fn agent_report_splits_time_at_bucket_edges() {
    let mut log = morning();
    log.agent(
        "anna",
        t("2026-03-02T08:45:00Z"),
        AgentStatus::NotReady,
        Some("break"),
    );
    log.agent("anna", t("2026-03-02T09:15:00Z"), AgentStatus::Ready, None);
    log.agent(
        "anna",
        t("2026-03-02T09:30:00Z"),
        AgentStatus::LoggedOut,
        None,
    );
    log.push(
        t("2026-03-02T08:00:00Z"),
        Event::TicketUpdated {
            number: "2026030210000001".into(),
            queue: "tecnica".into(),
            owner: Some("anna".into()),
            by: Some("anna".into()),
            changes: vec![TicketChange {
                field: TicketField::State,
                old: Some("open".into()),
                new: Some("closed_successful".into()),
            }],
        },
    );
    let period = Period::new(d("2026-03-02"), d("2026-03-02"), Rome).unwrap();
    let folded = log.fold(period.end());
    let rows = agent_report(&period, &folded, Sampling::HourBand);
    let band = |h: u8| {
        rows.iter()
            .find(|r| r.bucket == Bucket::HourBand(h))
            .unwrap()
    };
    // Ready from 08:00 local (07:00Z) to 09:45, not ready to 10:15, ready to 10:30.
    assert_eq!(band(8).logged_in_s, 3600.0);
    assert_eq!(band(9).ready_s, 2700.0);
    assert_eq!(band(9).not_ready_s, 900.0);
    assert_eq!(band(10).not_ready_by_reason_s.get("break"), Some(&900.0));
    assert_eq!(band(10).logged_in_s, 1800.0);
    assert_eq!(band(11).logged_in_s, 0.0);
    assert_eq!(band(8).answered, 3);
    assert_eq!(band(8).average_handling_s, Some(120.0));
    assert_eq!(band(9).tickets_closed, 1);
}

#[test]
fn a_wrap_up_belongs_to_the_queue_of_the_call_it_follows() {
    let mut log = Log::default();
    log.agent("bruno", t("2026-03-02T07:00:00Z"), AgentStatus::Ready, None);
    log.call(
        "w1",
        t("2026-03-02T07:00:00Z"),
        "anagrafe",
        End::Answered {
            agent: "bruno",
            wait_s: 10.0,
            talk_s: 50,
        },
    );
    log.agent(
        "bruno",
        t("2026-03-02T07:01:10Z"),
        AgentStatus::WrapUp,
        None,
    );
    log.agent("bruno", t("2026-03-02T07:01:40Z"), AgentStatus::Ready, None);
    let period = Period::new(d("2026-03-02"), d("2026-03-02"), Rome).unwrap();
    let report = queue_report(&period, &log.fold(period.end()), &CallsOptions::default());
    assert_eq!(report.totals[0].wrap_ups, 1);
    assert_eq!(report.totals[0].average_wrap_up_s, Some(30.0));
}

fn ticket(
    channel: TicketChannel,
    created: &str,
    taken: Option<&str>,
    resolved: Option<&str>,
) -> TicketFacts {
    TicketFacts {
        number: "1".into(),
        channel,
        ticket_type: "incident".into(),
        queue: "tecnica".into(),
        created_at: t(created),
        taken_at: taken.map(t),
        resolved_at: resolved.map(t),
        from_answered_call: channel == TicketChannel::Phone,
        first_contact: false,
    }
}

/// The SLA report of `period` over `folded` and `tickets`, as of `as_of`.
fn sla(
    period: &Period,
    folded: &Folded,
    tickets: &[TicketFacts],
    downtimes: Option<&[Downtime]>,
    calendar: &BusinessCalendar,
    as_of: DateTime<Utc>,
    settings: &SlaSettings,
) -> crate::sla::SlaReport {
    sla_report(
        period,
        SlaInputs {
            folded,
            tickets,
            downtimes,
            calendar,
            as_of,
        },
        settings,
    )
}

fn find<'a>(r: &'a crate::sla::SlaReport, id: &str) -> &'a crate::sla::SlaLine {
    r.lines.iter().find(|l| l.id == id).unwrap()
}

#[test]
fn sla_queue_time_edges_exactly_30_and_90_seconds() {
    let mut log = Log::default();
    for (i, wait) in [29.999, 30.0, 90.0, 90.001].into_iter().enumerate() {
        log.call(
            &format!("e{i}"),
            t("2026-03-02T09:00:00Z") + Duration::minutes(i as i64),
            "tecnica",
            End::Answered {
                agent: "anna",
                wait_s: wait,
                talk_s: 10,
            },
        );
    }
    let period = Period::month(2026, 3, Rome).unwrap();
    let folded = log.fold(period.end());
    let cal = always_open();
    let r = sla(
        &period,
        &folded,
        &[],
        Some(&[]),
        &cal,
        period.end(),
        &SlaSettings::default(),
    );
    let c2 = find(&r, "SLA.C.2");
    assert_eq!(
        (c2.numerator, c2.denominator),
        (1, 4),
        "only 29.999 s is below 30 s"
    );
    let max = find(&r, "SLA.C.2.max");
    assert_eq!(
        (max.numerator, max.denominator),
        (3, 4),
        "90.000 s is not above 90 s; 90.001 s is"
    );
    assert_eq!(max.points_below, 25.0);
    assert_eq!(max.penalty_points, 25);
    assert_eq!(find(&r, "SLA.C.1").measured_pct, Some(100.0));
    assert_eq!(find(&r, "SLA.C.3").measured_pct, Some(0.0));
    assert_eq!(find(&r, "SLA.C.3").met, Some(true));
    assert_eq!(
        find(&r, "SLA.C.4").met,
        None,
        "no tickets: nothing measured"
    );
}

#[test]
fn overflow_rule_at_9_10_and_25_percent() {
    assert_eq!(overflow_points(1090, Some(1000)), 0);
    assert_eq!(overflow_points(1099, Some(1000)), 0);
    assert_eq!(overflow_points(1100, Some(1000)), 1);
    assert_eq!(overflow_points(1250, Some(1000)), 2);
    assert_eq!(overflow_points(900, Some(1000)), 0);
    assert_eq!(overflow_points(5000, None), 0);
    assert_eq!(overflow_points(5000, Some(0)), 0);
    // An "at least 90 %" level with two points of overflow is met at 88 %.
    let l = line("SLA.C.1", 88, 100, Direction::AtLeast, 90.0, 2);
    assert_eq!(l.applied_threshold_pct, 88.0);
    assert_eq!(l.met, Some(true));
    // An "at most 5 %" level with one point allows 6 %; 7.2 % is 1.2 points over: 2
    // penalty points (every point or fraction).
    let l = line("SLA.C.3", 72, 1000, Direction::AtMost, 5.0, 1);
    assert_eq!(l.applied_threshold_pct, 6.0);
    assert_eq!(l.points_below, 1.2);
    assert_eq!(l.penalty_points, 2);
    assert_eq!(l.met, Some(false));
}

#[test]
fn overflow_lowers_the_call_thresholds_of_the_month() {
    let mut log = Log::default();
    for i in 0..11 {
        log.call(
            &format!("o{i}"),
            t("2026-03-03T09:00:00Z") + Duration::minutes(i),
            "tecnica",
            End::Answered {
                agent: "anna",
                wait_s: 10.0,
                talk_s: 10,
            },
        );
    }
    let period = Period::month(2026, 3, Rome).unwrap();
    let folded = log.fold(period.end());
    let cal = always_open();
    let settings = SlaSettings {
        sized_calls: Some(10),
        ..SlaSettings::default()
    };
    let r = sla(
        &period,
        &folded,
        &[],
        Some(&[]),
        &cal,
        period.end(),
        &settings,
    );
    assert_eq!(r.calls.points, 1, "11 calls on 10 sized: +10 %");
    assert_eq!(find(&r, "SLA.C.2").applied_threshold_pct, 89.0);
    assert_eq!(find(&r, "SLA.C.3").applied_threshold_pct, 6.0);
    assert_eq!(
        find(&r, "SLA.O.1").applied_threshold_pct,
        80.0,
        "off-line: no overflow"
    );
}

#[test]
fn offline_clocks_run_on_the_business_calendar() {
    let cal = office_hours();
    // Friday 2026-03-06 17:30 local (16:30Z): half an hour left on Friday, so 4 working
    // hours end Monday 11:30 local (10:30Z).
    let tickets = vec![
        // Taken Monday 11:00 local: in time.
        ticket(
            TicketChannel::Voicemail,
            "2026-03-06T16:30:00Z",
            Some("2026-03-09T10:00:00Z"),
            Some("2026-03-10T10:00:00Z"),
        ),
        // Taken Monday 12:00 local: late.
        ticket(
            TicketChannel::Email,
            "2026-03-06T16:30:00Z",
            Some("2026-03-09T11:00:00Z"),
            None,
        ),
        // Not taken, created Monday 17:00 local, report computed Tuesday 09:00 local: one
        // working hour on Monday and one on Tuesday: still pending.
        ticket(TicketChannel::Web, "2026-03-09T16:00:00Z", None, None),
        // A phone ticket does not count for the off-line levels.
        ticket(TicketChannel::Phone, "2026-03-06T16:30:00Z", None, None),
    ];
    let period = Period::month(2026, 3, Rome).unwrap();
    let folded = Folded::default();
    let r = sla(
        &period,
        &folded,
        &tickets,
        Some(&[]),
        &cal,
        t("2026-03-10T08:00:00Z"),
        &SlaSettings::default(),
    );
    let o1 = find(&r, "SLA.O.1");
    assert_eq!((o1.numerator, o1.denominator), (1, 2));
    // O.2: the first was resolved Tuesday 11:00 local, 13.5 working hours after it came in
    // (0.5 + 10 + 3): in time; the second is unresolved with 11.5 working hours gone by
    // Tuesday 09:00 local: pending, like the third.
    let o2 = find(&r, "SLA.O.2");
    assert_eq!((o2.numerator, o2.denominator), (1, 1));
    assert_eq!(r.offline_pending, 2);
    assert_eq!(r.offline.volume, 3);
}

#[test]
fn availability_splits_service_time_and_other_hours() {
    let cal = office_hours();
    let period = Period::month(2026, 3, Rome).unwrap();
    // The ACD down for one hour in office hours (Monday 2 March 10:00–11:00 local) and
    // two hours at night; the IVR down for the same night hours.
    let downtimes = [
        Downtime {
            component: Component::Acd,
            from: t("2026-03-02T09:00:00Z"),
            to: t("2026-03-02T10:00:00Z"),
        },
        Downtime {
            component: Component::Acd,
            from: t("2026-03-03T01:00:00Z"),
            to: t("2026-03-03T03:00:00Z"),
        },
        Downtime {
            component: Component::Ivr,
            from: t("2026-03-03T01:00:00Z"),
            to: t("2026-03-03T03:00:00Z"),
        },
    ];
    let folded = Folded::default();
    let r = sla(
        &period,
        &folded,
        &[],
        Some(&downtimes),
        &cal,
        period.end(),
        &SlaSettings::default(),
    );
    // March 2026: 22 working days of 10 h = 220 h of service time; 743 h in all (spring
    // forward), so 523 h of other hours.
    let acd = find(&r, "ACD.service_time");
    assert_eq!(acd.denominator, 220 * 3600);
    assert_eq!(acd.numerator, 219 * 3600);
    let other = find(&r, "ACD.other_hours");
    assert_eq!(other.denominator, 523 * 3600);
    assert_eq!(other.numerator, 521 * 3600);
    assert_eq!(find(&r, "CTI.service_time").measured_pct, Some(100.0));
    let ivr = find(&r, "IVR.around_the_clock");
    assert_eq!(ivr.denominator, 743 * 3600);
    assert_eq!(ivr.numerator, 741 * 3600);
}

#[test]
fn a_call_overflowed_between_queues_keeps_its_queue_time() {
    let mut log = Log::default();
    let at = t("2026-03-02T09:00:00Z");
    log.call("x", at, "tecnica", End::Voicemail { wait_s: 20 });
    // Replace the voicemail overflow by an overflow to a second queue answered 15 s later.
    log.0.retain(|(_, e)| !matches!(e, Event::CallEnded { .. }));
    let left = at + Duration::seconds(30);
    if let Some((_, Event::QueueOverflowed { to, .. })) = log
        .0
        .iter_mut()
        .find(|(_, e)| matches!(e, Event::QueueOverflowed { .. }))
    {
        *to = "anagrafe".into();
    }
    log.push(
        left,
        Event::QueueEntered {
            call_id: "x".into(),
            queue: "anagrafe".into(),
            position: 1,
            at: left,
        },
    );
    log.push(
        left + Duration::seconds(15),
        Event::QueueConnected {
            call_id: "x".into(),
            queue: "anagrafe".into(),
            agent: "anna".into(),
            wait_ms: 15_000,
            within_service_level: true,
            at: left + Duration::seconds(15),
        },
    );
    let period = Period::month(2026, 3, Rome).unwrap();
    let folded = log.fold(period.end());
    let cal = always_open();
    let r = sla(
        &period,
        &folded,
        &[],
        Some(&[]),
        &cal,
        period.end(),
        &SlaSettings::default(),
    );
    let c2 = find(&r, "SLA.C.2");
    assert_eq!(
        (c2.numerator, c2.denominator),
        (0, 1),
        "20 s + 15 s = 35 s in queues"
    );
    // Each queue still counts its own offer.
    let q = queue_report(&period, &folded, &CallsOptions::default());
    assert_eq!(q.totals.len(), 2);
    assert!(q.totals.iter().all(|r| r.offered == 1));
}

mod recount {
    use super::*;
    use proptest::prelude::*;

    fn end_strategy() -> impl Strategy<Value = u8> {
        0u8..3
    }

    proptest! {
        /// Whatever the calls, the report's totals are the raw events counted one by one,
        /// and every sampling spreads the same totals over its buckets.
        #[test]
        fn totals_are_the_events_recounted(
            calls in proptest::collection::vec(
                (0i64..(3 * 24 * 60), end_strategy(), 0u32..200_000, 1i64..600, 0usize..3),
                0..60,
            ),
        ) {
            let queues = ["tecnica", "anagrafe", "tributi"];
            let mut log = Log::default();
            for (i, (minute, end, wait_ms, talk_s, q)) in calls.iter().enumerate() {
                let at = t("2026-03-01T23:00:00Z") + Duration::minutes(*minute);
                let wait_s = f64::from(*wait_ms) / 1000.0;
                let end = match end {
                    0 => End::Answered { agent: "anna", wait_s, talk_s: *talk_s },
                    1 => End::Abandoned { wait_s },
                    _ => End::Voicemail { wait_s: i64::from(*wait_ms / 1000) },
                };
                log.call(&format!("p{i}"), at, queues[*q], end);
            }
            let period = Period::new(d("2026-03-02"), d("2026-03-04"), Rome).unwrap();
            let folded = log.fold(period.end());
            let count = |f: fn(&Event) -> bool| {
                log.0.iter().filter(|(_, e)| f(e)).count() as u64
            };
            let entered = count(|e| matches!(e, Event::QueueEntered { .. }));
            let connected = count(|e| matches!(e, Event::QueueConnected { .. }));
            let abandoned = count(|e| matches!(e, Event::QueueAbandoned { .. }));
            let overflowed = count(|e| matches!(e, Event::QueueOverflowed { .. }));
            for sampling in Sampling::ALL {
                let options = CallsOptions { sampling, ..CallsOptions::default() };
                let r = queue_report(&period, &folded, &options);
                let sum = |f: fn(&crate::queues::QueueRow) -> u64| -> u64 {
                    r.rows.iter().map(f).sum()
                };
                prop_assert_eq!(sum(|r| r.offered), entered);
                prop_assert_eq!(sum(|r| r.answered), connected);
                prop_assert_eq!(sum(|r| r.abandoned + r.abandoned_short), abandoned);
                prop_assert_eq!(sum(|r| r.overflowed), overflowed);
                let totals: u64 = r.totals.iter().map(|r| r.offered).sum();
                prop_assert_eq!(totals, entered);
                let overview = calls_overview(&period, &folded, &options);
                let contacts: u64 = overview.iter().map(|r| r.contacts).sum();
                prop_assert_eq!(contacts, calls.len() as u64);
            }
        }
    }
}

mod exports {
    use super::*;
    use crate::export::{Cell, Lang, calls_table, queue_table, sla_table, to_csv, to_xlsx};
    use calamine::{Data, Reader, Xlsx};

    fn sheet(bytes: &[u8], name: &str) -> Vec<Vec<Data>> {
        let mut book = Xlsx::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
        let range = book.worksheet_range(name).unwrap();
        range.rows().map(<[Data]>::to_vec).collect()
    }

    #[test]
    fn the_workbook_holds_the_numbers_of_the_report() {
        let log = morning();
        let period = Period::new(d("2026-03-02"), d("2026-03-02"), Rome).unwrap();
        let folded = log.fold(period.end());
        let options = CallsOptions {
            sampling: Sampling::Day,
            ..CallsOptions::default()
        };
        let report = queue_report(&period, &folded, &options);
        let tables = [
            queue_table(&report, Lang::It),
            calls_table(&calls_overview(&period, &folded, &options), Lang::It),
        ];
        let bytes = to_xlsx(&tables).unwrap();
        let rows = sheet(&bytes, "Code");
        assert_eq!(rows[0][0], Data::String("Periodo".into()));
        assert_eq!(rows[0][2], Data::String("Offerte".into()));
        // One day row and one total row for `tecnica`.
        assert_eq!(rows.len(), 3);
        let json = serde_json::to_value(&report.rows[0]).unwrap();
        assert_eq!(rows[1][0], Data::String("2026-03-02".into()));
        assert_eq!(rows[1][2], Data::Float(json["offered"].as_f64().unwrap()));
        assert_eq!(rows[1][3], Data::Float(json["answered"].as_f64().unwrap()));
        assert_eq!(
            rows[1][10],
            Data::Float(json["answer_time"]["mean_s"].as_f64().unwrap())
        );
        assert_eq!(
            rows[1][15],
            Data::Float(json["service_level_pct"].as_f64().unwrap())
        );
        assert_eq!(rows[2][0], Data::String("Totale".into()));
        let calls = sheet(&bytes, "Chiamate");
        assert_eq!(calls[1][1], Data::Float(7.0));
    }

    #[test]
    fn the_sla_sheet_and_csv() {
        let period = Period::month(2026, 3, Rome).unwrap();
        let folded = morning().fold(period.end());
        let cal = always_open();
        let r = sla(
            &period,
            &folded,
            &[],
            Some(&[]),
            &cal,
            period.end(),
            &SlaSettings::default(),
        );
        let table = sla_table(&r, Lang::En);
        let bytes = to_xlsx(std::slice::from_ref(&table)).unwrap();
        let rows = sheet(&bytes, "SLA 2026-03");
        let c2 = rows
            .iter()
            .find(|row| row[0] == Data::String("SLA.C.2".into()))
            .unwrap();
        let line = r.lines.iter().find(|l| l.id == "SLA.C.2").unwrap();
        assert_eq!(c2[1], Data::Float(line.measured_pct.unwrap()));
        assert_eq!(c2[9], Data::Float(f64::from(line.penalty_points)));

        let csv = String::from_utf8(to_csv(&[table]).unwrap()).unwrap();
        assert!(csv.starts_with("Service level,Measured (%),"), "{csv}");
        assert!(csv.contains("SLA.C.2,"), "{csv}");
    }

    #[test]
    fn text_cannot_become_a_formula_and_sheet_names_are_valid() {
        let table = crate::export::Table {
            name: "a/b:c*d?e[f]g\\h that is much longer than allowed".into(),
            headers: vec!["queue".into()],
            rows: vec![vec![Cell::Text(
                "=HYPERLINK(\"http://example.org\")".into(),
            )]],
        };
        let csv = String::from_utf8(to_csv(std::slice::from_ref(&table)).unwrap()).unwrap();
        assert!(csv.contains("'=HYPERLINK"), "{csv}");
        let bytes = to_xlsx(&[table]).unwrap();
        let book = Xlsx::new(std::io::Cursor::new(bytes)).unwrap();
        assert_eq!(book.sheet_names(), vec!["a-b-c-d-e-f-g-h that is much lo"]);
    }
}

#[test]
fn the_synthetic_log_is_deterministic_and_counts_every_call() {
    use crate::synth::{SynthSpec, synthesize};
    let spec = SynthSpec {
        first_day: d("2026-03-02"),
        days: 7,
        calls: 500,
        queues: vec!["anagrafe".into(), "tecnica".into()],
        agents: 4,
        tz: Rome,
        seed: 1,
    };
    let events = synthesize(&spec);
    assert_eq!(events, synthesize(&spec));
    assert!(events.windows(2).all(|w| w[0].0 <= w[1].0), "in time order");
    let period = Period::new(d("2026-03-02"), d("2026-03-08"), Rome).unwrap();
    let folded = Folded::from_events(events.iter().map(|(at, e)| (*at, e)), period.end());
    let overview = calls_overview(&period, &folded, &CallsOptions::default());
    assert_eq!(overview[0].contacts, 500);
    assert!(overview[0].answered > 0 && overview[0].refused < 50);
    let agents = agent_report(&period, &folded, Sampling::Total);
    assert_eq!(agents.len(), 4);
    assert!(agents.iter().all(|a| a.logged_in_s >= 5.0 * 10.0 * 3600.0));
}

#[test]
fn agent_time_is_cut_at_hours_and_a_span_starts_once() {
    use crate::ledger::{StateSpan, agent_hours};
    let span = StateSpan {
        agent: "anna".into(),
        state: AgentStatus::WrapUp,
        reason: None,
        from: t("2026-03-02T07:45:00Z"),
        to: t("2026-03-02T09:30:00Z"),
        queue: Some("tecnica".into()),
    };
    let hours = agent_hours(&[span]);
    let got: Vec<_> = hours
        .iter()
        .map(|h| (h.hour, h.ms / 60_000, h.started, h.started_ms / 60_000))
        .collect();
    assert_eq!(
        got,
        vec![
            (t("2026-03-02T07:00:00Z"), 15, 1, 105),
            (t("2026-03-02T08:00:00Z"), 60, 0, 0),
            (t("2026-03-02T09:00:00Z"), 30, 0, 0),
        ]
    );
    assert!(hours.iter().all(|h| h.queue.as_deref() == Some("tecnica")));
}

#[test]
fn ticket_report_counts_channels_types_and_clocks() {
    use crate::tickets::ticket_report;
    let cal = office_hours();
    let mut phone = ticket(
        TicketChannel::Phone,
        "2026-03-02T09:00:00Z",
        Some("2026-03-02T09:01:00Z"),
        Some("2026-03-02T09:05:00Z"),
    );
    phone.first_contact = true;
    let tickets = vec![
        phone,
        ticket(
            TicketChannel::Voicemail,
            "2026-03-02T10:00:00Z",
            Some("2026-03-02T16:00:00Z"),
            None,
        ),
    ];
    let period = Period::new(d("2026-03-02"), d("2026-03-02"), Rome).unwrap();
    let rows = ticket_report(
        &period,
        &tickets,
        Sampling::Total,
        &cal,
        &SlaSettings::default(),
        t("2026-03-02T17:00:00Z"),
    );
    assert_eq!(rows.len(), 2);
    let p = rows.iter().find(|r| r.channel == "phone").unwrap();
    assert_eq!((p.created, p.resolved, p.first_contact), (1, 1, 1));
    assert_eq!(p.first_contact_pct, Some(100.0));
    let v = rows.iter().find(|r| r.channel == "voicemail").unwrap();
    // Taken 6 working hours after: late; unresolved, 7 working hours gone: pending.
    assert_eq!((v.taken_in_time, v.taken_counted), (0, 1));
    assert_eq!(v.resolved_counted, 0);
}

#[test]
fn availability_without_records_is_not_measured() {
    let period = Period::month(2026, 3, Rome).unwrap();
    let folded = Folded::default();
    let cal = office_hours();
    let r = sla(
        &period,
        &folded,
        &[],
        None,
        &cal,
        period.end(),
        &SlaSettings::default(),
    );
    for id in [
        "ACD.service_time",
        "CTI.other_hours",
        "IVR.around_the_clock",
    ] {
        let l = find(&r, id);
        assert_eq!((l.measured_pct, l.met), (None, None), "{id}");
    }
}

/// Issue 14: a call refused at the trunk (`call.refused`: no free line) is a contact that
/// did not reach the welcome message (SLA.C.1) and a refused call in the calls overview.
#[test]
fn calls_refused_at_the_trunk_count_against_sla_c1() {
    let mut log = Log::default();
    let at = t("2026-03-02T09:00:00Z");
    for i in 0..3 {
        log.call(
            &format!("ok{i}"),
            at + Duration::minutes(i),
            "tecnica",
            End::Answered {
                agent: "anna",
                wait_s: 5.0,
                talk_s: 10,
            },
        );
    }
    let refused = at + Duration::minutes(5);
    log.push(
        refused,
        Event::CallRefused {
            caller: Some("+390000000009".into()),
            called: Some("800000000".into()),
            reason: "capacity".into(),
            at: refused,
        },
    );
    let period = Period::month(2026, 3, Rome).unwrap();
    let folded = log.fold(period.end());
    let r = sla(
        &period,
        &folded,
        &[],
        Some(&[]),
        &always_open(),
        period.end(),
        &SlaSettings::default(),
    );
    let c1 = find(&r, "SLA.C.1");
    assert_eq!((c1.numerator, c1.denominator), (3, 4));
    let overview = calls_overview(&period, &folded, &CallsOptions::default());
    let total: (u64, u64, u64) = overview.iter().fold((0, 0, 0), |(c, r, w), row| {
        (c + row.contacts, r + row.refused, w + row.welcomed)
    });
    assert_eq!(total, (4, 1, 3), "(contacts, refused, welcomed)");
}

#[test]
fn a_wait_cut_by_the_services_stop_is_not_an_abandonment() {
    let mut log = Log::default();
    let at = t("2026-03-02T09:00:00Z");
    log.call("gave-up", at, "tecnica", End::Abandoned { wait_s: 40.0 });
    log.call(
        "stopped",
        at + Duration::minutes(5),
        "tecnica",
        End::Abandoned { wait_s: 20.0 },
    );
    // The second was ended by a graceful stop: its call.ended says `interrupted`.
    for (_, e) in &mut log.0 {
        if let Event::CallEnded {
            call_id, outcome, ..
        } = e
            && call_id == "stopped"
        {
            *outcome = Outcome::Interrupted;
        }
    }
    let period = Period::month(2026, 3, Rome).unwrap();
    let folded = log.fold(period.end());
    let r = sla(
        &period,
        &folded,
        &[],
        Some(&[]),
        &always_open(),
        period.end(),
        &SlaSettings::default(),
    );
    let c3 = find(&r, "SLA.C.3");
    assert_eq!(
        (c3.numerator, c3.denominator),
        (1, 2),
        "only the caller gave up"
    );
    let c2 = find(&r, "SLA.C.2");
    assert_eq!(
        (c2.numerator, c2.denominator),
        (1, 2),
        "20 s of waiting counts"
    );
}
