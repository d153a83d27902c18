//! Report facts on SQLite and PostgreSQL: the facts stored at watermarks falling anywhere
//! (calls open at the watermark, a talk time published after the call's end, a call whose
//! end was lost and that a late event reopens, calls across midnight and the month's end)
//! give the reports of folding the whole event log; rebuilt in one go they give the same; a
//! chunk stored from a watermark that moved meanwhile is refused whole.

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Europe::Rome;
use console::report_facts::{folded, materialize_in_chunks};
use crm::{FactBatch, FactCall, LoggedEvent, Store, Watermark};
use events::{AgentStatus, Event, Outcome};
use reports::Folded;
use reports::agents::agent_report;
use reports::period::{Period, Sampling};
use reports::queues::{CallsOptions, calls_overview, queue_report};
use reports::sla::{SlaInputs, SlaSettings, sla_report};
use reports::synth::{SynthSpec, synthesize};

use crate::common::{Fixture, both};

fn logged(n: usize, at: DateTime<Utc>, event: &Event) -> LoggedEvent {
    LoggedEvent {
        event_id: format!("facts-{n}"),
        at,
        kind: event.kind().to_string(),
        call_id: event.call_id().map(str::to_string),
        body: serde_json::to_string(event).unwrap(),
        queue_row: console::record::queue_log_row(event),
    }
}

fn state(login: &str, state: AgentStatus, at: DateTime<Utc>) -> Event {
    Event::AgentState {
        login: login.into(),
        state,
        reason: None,
        registered: true,
        since: at,
    }
}

/// A synthetic fortnight across the end of January, and the edges.
fn log() -> Vec<(DateTime<Utc>, Event)> {
    let mut log = synthesize(&SynthSpec {
        first_day: NaiveDate::from_ymd_opt(2025, 1, 27).unwrap(),
        days: 10,
        calls: 300,
        queues: vec!["anagrafe".into(), "tributi".into()],
        agents: 3,
        tz: Rome,
        seed: 5,
    });
    // Midnight between 31 January and 1 February in Rome.
    let midnight = Utc.with_ymd_and_hms(2025, 1, 31, 23, 0, 0).unwrap();
    let s = |n: i64| midnight + Duration::seconds(n);
    let call = |id: &str| id.to_string();
    log.extend([
        (
            s(-40),
            Event::CallStarted {
                call_id: call("edge"),
                sip_call_id: "edge@edge.example.org".into(),
                caller: Some("+390600000099".into()),
                dialled: Some("800000000".into()),
            },
        ),
        (
            s(-30),
            Event::QueueEntered {
                call_id: call("edge"),
                queue: "anagrafe".into(),
                position: 1,
                at: s(-30),
            },
        ),
        (s(-31), state("notte", AgentStatus::Ready, s(-31))),
        (
            s(2),
            Event::QueueConnected {
                call_id: call("edge"),
                queue: "anagrafe".into(),
                agent: "notte".into(),
                wait_ms: 32_000,
                within_service_level: false,
                at: s(2),
            },
        ),
        (s(2), state("notte", AgentStatus::Talking, s(2))),
        (
            s(90),
            Event::CallEnded {
                call_id: call("edge"),
                outcome: Outcome::CallerHangup,
                duration_ms: 130_000,
            },
        ),
        (
            s(91),
            Event::QueueCompleted {
                call_id: call("edge"),
                queue: "anagrafe".into(),
                agent: "notte".into(),
                talk_ms: 88_000,
                at: s(91),
            },
        ),
        (s(91), state("notte", AgentStatus::LoggedOut, s(91))),
        (
            s(-3600),
            Event::CallStarted {
                call_id: call("lost"),
                sip_call_id: "lost@edge.example.org".into(),
                caller: None,
                dialled: None,
            },
        ),
        (
            s(-3590),
            Event::QueueEntered {
                call_id: call("lost"),
                queue: "tributi".into(),
                position: 1,
                at: s(-3590),
            },
        ),
        (
            s(4 * 86_400),
            Event::QueueAbandoned {
                call_id: call("lost"),
                queue: "tributi".into(),
                position: 1,
                wait_ms: 349_000_000,
                within_service_level: false,
                at: s(4 * 86_400),
            },
        ),
    ]);
    log.sort_by_key(|(at, _)| *at);
    log
}

fn periods() -> Vec<Period> {
    let day = |s: &str| s.parse::<NaiveDate>().unwrap();
    vec![
        Period::month(2025, 1, Rome).unwrap(),
        Period::month(2025, 2, Rome).unwrap(),
        Period::new(day("2025-01-31"), day("2025-02-01"), Rome).unwrap(),
        Period::new(day("2025-01-01"), day("2025-12-31"), Rome).unwrap(),
    ]
}

fn reports(period: &Period, folded: &Folded, until: DateTime<Utc>) -> serde_json::Value {
    let options = CallsOptions {
        sampling: Sampling::Day,
        ..CallsOptions::default()
    };
    let cal = calendar::BusinessCalendar::new(&calendar::CalendarConfig {
        always_open: true,
        ..calendar::CalendarConfig::default()
    })
    .unwrap();
    serde_json::json!({
        "queues": queue_report(period, folded, &options),
        "calls": calls_overview(period, folded, &options),
        "agents": agent_report(period, folded, Sampling::HourBand),
        "sla": sla_report(period, SlaInputs {
            folded,
            tickets: &[],
            downtimes: None,
            calendar: &cal,
            as_of: until,
        }, &SlaSettings::default()),
    })
}

/// Every period's reports from the facts equal those of the whole log folded.
async fn compare(store: &Store, until: DateTime<Utc>) {
    let all = store
        .events_between(
            Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(2100, 1, 1, 0, 0, 0).unwrap(),
        )
        .await
        .unwrap();
    let parsed: Vec<(DateTime<Utc>, Event)> = all
        .iter()
        .map(|e| (e.at, serde_json::from_str(&e.body).unwrap()))
        .collect();
    let whole = Folded::from_events(parsed.iter().map(|(at, e)| (*at, e)), until);
    for period in periods() {
        let facts = folded(store, period.start(), period.end(), until)
            .await
            .unwrap();
        assert_eq!(
            reports(&period, &facts, until),
            reports(&period, &whole, until),
            "{period:?} at {} events",
            all.len()
        );
    }
}

async fn reports_from_facts_equal_the_whole_log_folded(f: Fixture) {
    let store = &f.store;
    let log = log();
    let until = log.last().unwrap().0 + Duration::minutes(1);
    let rows: Vec<LoggedEvent> = log
        .iter()
        .enumerate()
        .map(|(n, (at, e))| logged(n, *at, e))
        .collect();
    let n = rows.len();
    let mut done = 0;
    for (i, cut) in [n / 7, n / 3, n / 2, n * 4 / 5, n].into_iter().enumerate() {
        store.append_events(&rows[done..cut]).await.unwrap();
        done = cut;
        if i % 2 == 0 {
            // Small chunks: watermarks fall inside calls.
            let folded = materialize_in_chunks(store, 97).await.unwrap();
            assert!(folded > 0);
            assert_eq!(
                store.report_watermark().await.unwrap().last_event,
                cut as i64
            );
        }
        compare(store, until).await;
    }
    assert_eq!(
        materialize_in_chunks(store, 97).await.unwrap(),
        0,
        "nothing left"
    );
    let year = &periods()[3];
    let incremental = store.report_read(year.start(), year.end()).await.unwrap();
    compare(store, until).await;

    // Rebuilt from the log in one chunk: the same calls and hours.
    store.reset_report_facts().await.unwrap();
    materialize_in_chunks(store, 1_000_000).await.unwrap();
    let rebuilt = store.report_read(year.start(), year.end()).await.unwrap();
    let sorted = |mut v: Vec<FactCall>| {
        v.sort_by(|a, b| a.call_id.cmp(&b.call_id));
        v
    };
    assert_eq!(
        sorted(rebuilt.calls.clone()),
        sorted(incremental.calls.clone())
    );
    assert_eq!(rebuilt.watermark.open, incremental.watermark.open);
    let hours = |r: &crm::ReportRead| {
        let mut h: Vec<_> = r
            .hours
            .iter()
            .map(|h| (h.hour, h.agent.clone(), h.state.clone(), h.ms, h.started_ms))
            .collect();
        h.sort();
        h
    };
    assert_eq!(hours(&rebuilt), hours(&incremental));
    compare(store, until).await;

    // A chunk folded from a watermark that has moved since is refused, nothing written.
    let stale = FactBatch {
        from_event: 3,
        watermark: Watermark {
            last_event: 7,
            max_span_ms: 0,
            open: String::new(),
        },
        calls: vec![FactCall {
            call_id: "ghost".into(),
            first_at: until,
            last_at: until,
            body: "broken".into(),
        }],
        ..FactBatch::default()
    };
    assert!(!store.store_report_facts(&stale).await.unwrap());
    assert_eq!(store.report_watermark().await.unwrap().last_event, n as i64);
    compare(store, until).await;
}
both!(reports_from_facts_equal_the_whole_log_folded);
