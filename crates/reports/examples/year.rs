//! How long the reports take over a synthetic year of a 200,000-contact center, from the
//! events as the event log stores them (JSON), without the database: parse, fold, report.
//!
//!     cargo run --release -p reports --example year [calls]

use std::time::Instant;

use chrono::NaiveDate;
use chrono_tz::Europe::Rome;
use events::Event;
use reports::period::{Period, Sampling};
use reports::queues::{CallsOptions, queue_report};
use reports::sla::{SlaInputs, SlaSettings, sla_report};
use reports::synth::{SynthSpec, synthesize};
use reports::{Folded, agents::agent_report};

fn main() {
    let calls: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(200_000);
    let spec = SynthSpec {
        first_day: NaiveDate::from_ymd_opt(2025, 1, 1).unwrap(),
        days: 365,
        calls,
        queues: vec!["anagrafe".into(), "tributi".into(), "tecnica".into()],
        agents: 12,
        tz: Rome,
        seed: 7,
    };
    let t = Instant::now();
    let events = synthesize(&spec);
    let stored: Vec<(chrono::DateTime<chrono::Utc>, String)> = events
        .iter()
        .map(|(at, e)| (*at, serde_json::to_string(e).unwrap()))
        .collect();
    println!(
        "synthesized {} events for {calls} calls in {:.2?} ({} MB of JSON)",
        stored.len(),
        t.elapsed(),
        stored.iter().map(|(_, s)| s.len()).sum::<usize>() / 1_000_000
    );
    let cal = calendar::BusinessCalendar::new(
        &toml::from_str(
            "timezone = \"Europe/Rome\"\nmon = [\"08:00-18:00\"]\ntue = [\"08:00-18:00\"]\n\
             wed = [\"08:00-18:00\"]\nthu = [\"08:00-18:00\"]\nfri = [\"08:00-18:00\"]\n",
        )
        .unwrap(),
    )
    .unwrap();

    let month = Period::month(2025, 6, Rome).unwrap();
    let year = Period::new(
        NaiveDate::from_ymd_opt(2025, 1, 1).unwrap(),
        NaiveDate::from_ymd_opt(2025, 12, 31).unwrap(),
        Rome,
    )
    .unwrap();
    for (name, period) in [("month", month), ("year", year)] {
        let t = Instant::now();
        let parsed: Vec<(chrono::DateTime<chrono::Utc>, Event)> = stored
            .iter()
            .filter(|(at, _)| period.contains(*at))
            .map(|(at, s)| (*at, serde_json::from_str(s).unwrap()))
            .collect();
        let parse = t.elapsed();
        let folded = Folded::from_events(parsed.iter().map(|(at, e)| (*at, e)), period.end());
        let fold = t.elapsed() - parse;
        let sla = sla_report(
            &period,
            SlaInputs {
                folded: &folded,
                tickets: &[],
                downtimes: None,
                calendar: &cal,
                as_of: period.end(),
            },
            &SlaSettings::default(),
        );
        let q = queue_report(
            &period,
            &folded,
            &CallsOptions {
                sampling: Sampling::Month,
                ..CallsOptions::default()
            },
        );
        let a = agent_report(&period, &folded, Sampling::Month);
        let all = t.elapsed();
        println!(
            "{name}: {} events, {} calls: parse {parse:.2?}, fold {fold:.2?}, reports {:.2?}, \
             total {all:.2?}; SLA.C.2 {:?} %, {} queue rows, {} agent rows",
            parsed.len(),
            folded.calls.len(),
            all - parse - fold,
            sla.lines[1].measured_pct,
            q.rows.len(),
            a.len()
        );
    }
}
