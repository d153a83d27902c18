//! Reports from persisted facts equal reports from folding the whole event log: a fact
//! store simulated in memory (the same steps as the CRM tables: encoded calls keyed by id,
//! hours summed, closures, the open state beside the watermark) filled at random watermarks.

use std::collections::BTreeMap;

use calendar::{BusinessCalendar, CalendarConfig};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Europe::Rome;
use events::{AgentStatus, Event, Outcome, TicketChange, TicketField};
use proptest::prelude::*;

use crate::agents::agent_report;
use crate::facts::{
    assemble, decode_call, decode_open, encode_call, encode_open, meets, merge_hours, to_reopen,
};
use crate::ledger::{AgentHour, CallRecord, Closure, Folded, Ledger};
use crate::period::{Period, Sampling};
use crate::queues::{CallsOptions, calls_overview, queue_report};
use crate::sla::{SlaInputs, SlaSettings, sla_report};
use crate::synth::{SynthSpec, synthesize};

type Log = Vec<(DateTime<Utc>, Event)>;

/// The tables of the CRM, in memory.
#[derive(Default)]
struct FactStore {
    calls: BTreeMap<String, String>,
    hours: Vec<AgentHour>,
    closures: Vec<Closure>,
    open: String,
    /// Events folded: the watermark.
    last: usize,
}

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

impl FactStore {
    /// Folds the events after the watermark up to `upto` and stores the checkpoint.
    fn materialize(&mut self, log: &Log, upto: usize) {
        let batch = &log[self.last..upto];
        if batch.is_empty() {
            return;
        }
        let open = decode_open(&self.open).unwrap();
        let reopen = to_reopen(&open, batch.iter().map(|(_, e)| e));
        let mut ledger = Ledger::resume(open);
        for id in reopen {
            if let Some(body) = self.calls.get(&id) {
                ledger.reopen(decode_call(&id, body).unwrap());
            }
        }
        for (at, e) in batch {
            ledger.observe(*at, e);
        }
        let stale = batch.last().unwrap().0 - Duration::hours(24);
        let cp = ledger.checkpoint(stale);
        for c in &cp.calls {
            self.calls.insert(c.call_id.clone(), encode_call(c));
        }
        for c in &cp.open.calls {
            // A final record taken back and still open.
            self.calls.remove(&c.call_id);
        }
        let mut hours = std::mem::take(&mut self.hours);
        hours.extend(cp.agent_hours);
        self.hours = merge_hours(hours);
        self.closures.extend(cp.closures);
        self.open = encode_open(&cp.open);
        self.last = upto;
    }

    /// What a report of `period` reads: the facts of the period, plus the events after the
    /// watermark up to `upto` folded on the open state, closed at `until`.
    fn folded(&self, log: &Log, upto: usize, period: &Period, until: DateTime<Utc>) -> Folded {
        let tail = &log[self.last..upto];
        let open = decode_open(&self.open).unwrap();
        let reopen = to_reopen(&open, tail.iter().map(|(_, e)| e));
        let mut ledger = Ledger::resume(open);
        for id in reopen {
            if let Some(body) = self.calls.get(&id) {
                ledger.reopen(decode_call(&id, body).unwrap());
            }
        }
        for (at, e) in tail {
            ledger.observe(*at, e);
        }
        let calls = self
            .calls
            .iter()
            .map(|(id, body)| decode_call(id, body).unwrap())
            .filter(|c| meets(c, period.start(), period.end()))
            .collect();
        let hours = self
            .hours
            .iter()
            .filter(|h| period.contains(h.hour))
            .cloned()
            .collect();
        let closures = self
            .closures
            .iter()
            .filter(|c| period.contains(c.at))
            .cloned()
            .collect();
        assemble(calls, hours, closures, ledger.finish(until))
    }
}

fn calendar() -> BusinessCalendar {
    let cfg: CalendarConfig = toml::from_str(
        "timezone = \"Europe/Rome\"\nmon = [\"08:00-18:00\"]\ntue = [\"08:00-18:00\"]\n\
         wed = [\"08:00-18:00\"]\nthu = [\"08:00-18:00\"]\nfri = [\"08:00-18:00\"]\n",
    )
    .unwrap();
    BusinessCalendar::new(&cfg).unwrap()
}

/// Every report of `period` as JSON.
fn reports(period: &Period, folded: &Folded, until: DateTime<Utc>) -> serde_json::Value {
    let mut out = serde_json::Map::new();
    for sampling in [Sampling::Total, Sampling::HourBand, Sampling::Day] {
        let options = CallsOptions {
            sampling,
            ..CallsOptions::default()
        };
        out.insert(
            format!("queues-{sampling:?}"),
            serde_json::to_value(queue_report(period, folded, &options)).unwrap(),
        );
        out.insert(
            format!("calls-{sampling:?}"),
            serde_json::to_value(calls_overview(period, folded, &options)).unwrap(),
        );
        out.insert(
            format!("agents-{sampling:?}"),
            serde_json::to_value(agent_report(period, folded, sampling)).unwrap(),
        );
    }
    let cal = calendar();
    let sla = sla_report(
        period,
        SlaInputs {
            folded,
            tickets: &[],
            downtimes: None,
            calendar: &cal,
            as_of: until,
        },
        &SlaSettings::default(),
    );
    out.insert("sla".into(), serde_json::to_value(sla).unwrap());
    serde_json::Value::Object(out)
}

/// The part of a fold a report of `period` can see, in a canonical order.
fn canonical(folded: &Folded, period: &Period) -> (Vec<CallRecord>, Vec<AgentHour>, Vec<Closure>) {
    let mut calls: Vec<CallRecord> = folded
        .calls
        .iter()
        .filter(|c| meets(c, period.start(), period.end()))
        .cloned()
        .collect();
    calls.sort_by(|a, b| a.call_id.cmp(&b.call_id));
    let hours = merge_hours(
        folded
            .agent_hours
            .iter()
            .filter(|h| period.contains(h.hour))
            .cloned(),
    );
    let mut closures: Vec<Closure> = folded
        .closures
        .iter()
        .filter(|c| period.contains(c.at))
        .cloned()
        .collect();
    closures.sort_by(|a, b| (a.at, &a.number).cmp(&(b.at, &b.number)));
    (calls, hours, closures)
}

fn started(id: &str) -> Event {
    Event::CallStarted {
        call_id: id.into(),
        sip_call_id: format!("{id}@edge.example.org"),
        caller: Some("+39 06 0000 0042|%".into()),
        dialled: Some("800000000".into()),
    }
}

fn state(login: &str, state: AgentStatus, reason: Option<&str>, at: DateTime<Utc>) -> Event {
    Event::AgentState {
        login: login.into(),
        state,
        reason: reason.map(str::to_owned),
        registered: true,
        since: at,
    }
}

/// A synthetic week across the end of January, plus the edges: a call across midnight and
/// the month's end whose talk time is published after its end, an agent not ready across
/// midnight, a call whose end was lost (reopened four days later by a late event), a ticket
/// closed at midnight, odd characters in names, sub-millisecond times.
fn log(seed: u64) -> Log {
    let mut log = synthesize(&SynthSpec {
        first_day: NaiveDate::from_ymd_opt(2025, 1, 27).unwrap(),
        days: 10,
        calls: 600,
        queues: vec!["anagrafe".into(), "tributi|urp".into()],
        agents: 4,
        tz: Rome,
        seed,
    });
    let midnight = t("2025-01-31T23:00:00Z");
    let s = |n: i64| midnight + Duration::milliseconds(n);
    let edge: Log = vec![
        (s(-40_000), started("edge-1")),
        (
            s(-39_000),
            Event::CallAnswered {
                call_id: "edge-1".into(),
                codec: "PCMA".into(),
            },
        ),
        (
            s(-30_000),
            Event::QueueEntered {
                call_id: "edge-1".into(),
                queue: "anagrafe".into(),
                position: 1,
                at: s(-30_000) + Duration::nanoseconds(123_456),
            },
        ),
        (
            s(-5_000),
            Event::QueueOffered {
                call_id: "edge-1".into(),
                queue: "anagrafe".into(),
                agent: "9 notte".into(),
                at: s(-5_000),
            },
        ),
        (
            s(-20_000),
            state("9 notte", AgentStatus::Ready, None, s(-20_000)),
        ),
        (
            s(-5_000),
            state("9 notte", AgentStatus::Ringing, None, s(-5_000)),
        ),
        (
            s(2_000),
            Event::QueueConnected {
                call_id: "edge-1".into(),
                queue: "anagrafe".into(),
                agent: "9 notte".into(),
                wait_ms: 32_000,
                within_service_level: false,
                at: s(2_000),
            },
        ),
        (
            s(2_000),
            state("9 notte", AgentStatus::Talking, None, s(2_000)),
        ),
        (
            s(90_000),
            Event::CallEnded {
                call_id: "edge-1".into(),
                outcome: Outcome::CallerHangup,
                duration_ms: 130_000,
            },
        ),
        (
            s(90_001),
            Event::QueueCompleted {
                call_id: "edge-1".into(),
                queue: "anagrafe".into(),
                agent: "9 notte".into(),
                talk_ms: 88_000,
                at: s(90_001),
            },
        ),
        (
            s(90_001),
            state("9 notte", AgentStatus::WrapUp, None, s(90_001)),
        ),
        (
            s(3_700_000),
            state(
                "9 notte",
                AgentStatus::NotReady,
                Some("pausa\nlunga"),
                s(3_700_000),
            ),
        ),
        (
            s(0),
            Event::TicketUpdated {
                number: "E1".into(),
                queue: "anagrafe".into(),
                owner: None,
                by: Some("9 notte".into()),
                changes: vec![TicketChange {
                    field: TicketField::State,
                    old: Some("open".into()),
                    new: Some("closed_successful".into()),
                }],
            },
        ),
        // A call whose end was lost: no event for four days, then one about it.
        (s(-3_600_000), started("lost-1")),
        (
            s(-3_590_000),
            Event::QueueEntered {
                call_id: "lost-1".into(),
                queue: "tributi|urp".into(),
                position: 1,
                at: s(-3_590_000),
            },
        ),
        (
            s(4 * 86_400_000),
            Event::QueueAbandoned {
                call_id: "lost-1".into(),
                queue: "tributi|urp".into(),
                position: 1,
                wait_ms: 349_000_000,
                within_service_level: false,
                at: s(4 * 86_400_000),
            },
        ),
        (
            s(5 * 86_400_000),
            state("9 notte", AgentStatus::LoggedOut, None, s(5 * 86_400_000)),
        ),
    ];
    log.extend(edge);
    // Log order: by publication time, in the order published within an instant.
    log.sort_by_key(|(at, _)| *at);
    log
}

fn periods() -> Vec<Period> {
    let day = |s: &str| s.parse::<NaiveDate>().unwrap();
    vec![
        Period::month(2025, 1, Rome).unwrap(),
        Period::month(2025, 2, Rome).unwrap(),
        Period::new(day("2025-01-31"), day("2025-01-31"), Rome).unwrap(),
        Period::new(day("2025-02-01"), day("2025-02-02"), Rome).unwrap(),
        Period::new(day("2025-01-01"), day("2025-12-31"), Rome).unwrap(),
    ]
}

#[expect(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_precision_loss,
    reason = "fractions of a small length"
)]
fn at(f: f64, n: usize) -> usize {
    ((f * n as f64) as usize).min(n)
}

/// Materializes after each of the first `cuts` events, then reads every period after the
/// first `read` events and after all of them, and compares with the whole log folded.
fn check(log: &Log, cuts: &[usize], read: usize) -> Result<(), TestCaseError> {
    let n = log.len();
    let mut store = FactStore::default();
    let mut cuts = cuts.to_vec();
    cuts.sort_unstable();
    for upto in [read, n] {
        for &c in &cuts {
            if c <= upto && c >= store.last {
                store.materialize(log, c);
            }
        }
        let until = log[..upto]
            .last()
            .map_or(t("2025-01-27T00:00:00Z"), |(at, _)| {
                *at + Duration::minutes(1)
            });
        let whole = Folded::from_events(log[..upto].iter().map(|(at, e)| (*at, e)), until);
        for period in periods() {
            let facts = store.folded(log, upto, &period, until);
            prop_assert_eq!(canonical(&facts, &period), canonical(&whole, &period));
            prop_assert_eq!(
                reports(&period, &facts, until),
                reports(&period, &whole, until)
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 8, ..ProptestConfig::default() })]

    /// Whatever the seed and wherever the watermarks fall, a report from the facts is the
    /// report from folding every event.
    #[test]
    fn reports_from_facts_equal_reports_from_events(
        seed in 0u64..1_000,
        cuts in proptest::collection::vec(0.0f64..1.0, 0..6),
        read_at in 0.0f64..1.0,
    ) {
        let log = log(seed);
        let n = log.len();
        let cuts: Vec<usize> = cuts.iter().map(|f| at(*f, n)).collect();
        check(&log, &cuts, at(read_at, n))?;
    }
}

#[test]
fn watermarks_at_the_edges() {
    let log = log(3);
    // Watermarks just before, at and after the midnight call's end and its late talk time,
    // and after the lost call's first events.
    let n = log.len();
    let find = |f: &dyn Fn(&Event) -> bool| log.iter().position(|(_, e)| f(e)).unwrap();
    let ended = find(&|e| matches!(e, Event::CallEnded { call_id, .. } if call_id == "edge-1"));
    let lost = find(&|e| matches!(e, Event::QueueEntered { call_id, .. } if call_id == "lost-1"));
    let late = find(&|e| matches!(e, Event::QueueAbandoned { call_id, .. } if call_id == "lost-1"));
    // Cut between the end of the call across midnight and its talk time, after the lost
    // call's entry, and (a day after it) before the event that reopens it.
    check(&log, &[lost + 1, ended + 1, late - 1], n - 1).unwrap();
    check(&log, &[ended + 1, late - 1], late + 1).unwrap();
    check(&log, &[], n).unwrap();
    check(&log, &[n - 1, n], n).unwrap();
}

#[test]
fn the_encoding_round_trips() {
    let log = log(11);
    let mut ledger = Ledger::new();
    for (at, e) in &log[..log.len() * 2 / 3] {
        ledger.observe(*at, e);
    }
    let cp = ledger.checkpoint(DateTime::<Utc>::MIN_UTC);
    assert!(!cp.open.calls.is_empty() && !cp.open.agents.is_empty());
    for c in cp.calls.iter().chain(&cp.open.calls) {
        assert_eq!(&decode_call(&c.call_id, &encode_call(c)).unwrap(), c);
    }
    assert_eq!(decode_open(&encode_open(&cp.open)).unwrap(), cp.open);
    // Damaged rows are errors, not panics.
    for bad in [
        "",
        "x",
        "1.0|2",
        "1.0|0|~|~|0|~|~|1|=q|0|0|Z",
        "1.0|0|~|~|0|~|~|0|extra",
    ] {
        assert!(decode_call("c", bad).is_err(), "{bad:?}");
    }
    assert!(decode_open("Q|x").is_err());
}
