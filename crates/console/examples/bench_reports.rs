//! How long the reports take from a database holding a synthetic year (issue 15: a month's
//! SLA report under 300 ms, the year's queue report under 2 s), through the functions the
//! reports API calls (`console::report_facts::{materialize, folded}`, the CRM's ticket
//! facts, `reports::sla::sla_report`, `reports::queues::queue_report`), cold (first request
//! after opening the database) and warm. For comparison, the month folded from the raw
//! events as before the facts.
//!
//! Run with scripts/bench-reports.sh (generates the year with `centralino reports synth`),
//! or: `cargo run --release -p console --example bench_reports -- <database-url> [year]`.

use std::time::Instant;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use console::report_facts::{folded, materialize};
use events::{Event, TicketChannel};
use reports::Folded;
use reports::period::{Period, Sampling};
use reports::queues::{CallsOptions, queue_report};
use reports::sla::{SlaInputs, SlaSettings, TicketFacts, sla_report};

async fn tickets(store: &crm::Store, period: &Period) -> Vec<TicketFacts> {
    store
        .ticket_facts(period.start(), period.end())
        .await
        .unwrap()
        .into_iter()
        .filter_map(|t| {
            let channel = TicketChannel::parse(&t.channel)?;
            Some(TicketFacts {
                from_answered_call: channel == TicketChannel::Phone && t.call_id.is_some(),
                number: t.number,
                channel,
                ticket_type: t.ticket_type,
                queue: t.queue,
                created_at: t.created,
                taken_at: t.first_response_at,
                resolved_at: t.closed,
                first_contact: t.first_contact.unwrap_or(false),
            })
        })
        .collect()
}

fn ms(t: Instant) -> String {
    format!("{:.0} ms", t.elapsed().as_secs_f64() * 1000.0)
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .expect("usage: bench_reports <database-url> [year]");
    let year: i32 = args.next().map_or(2025, |y| y.parse().expect("a year"));
    let store = crm::Store::connect(&url).await.expect("the database");
    let tz = store.settings().time_zone;
    let now: DateTime<Utc> = Utc::now();
    let cal = calendar::BusinessCalendar::new(
        &toml::from_str(
            "timezone = \"Europe/Rome\"\nmon = [\"08:00-18:00\"]\ntue = [\"08:00-18:00\"]\n\
             wed = [\"08:00-18:00\"]\nthu = [\"08:00-18:00\"]\nfri = [\"08:00-18:00\"]\n",
        )
        .unwrap(),
    )
    .unwrap();

    let t = Instant::now();
    let n = materialize(&store).await.unwrap();
    println!("facts brought up to date: {n} events folded in {}", ms(t));

    let month = Period::month(year, 6, tz).unwrap();
    let whole_year = Period::new(
        NaiveDate::from_ymd_opt(year, 1, 1).unwrap(),
        NaiveDate::from_ymd_opt(year, 12, 31).unwrap(),
        tz,
    )
    .unwrap();
    for round in ["cold", "warm", "warm"] {
        let t = Instant::now();
        materialize(&store).await.unwrap();
        let f = folded(&store, month.start(), month.end(), now)
            .await
            .unwrap();
        let tk = tickets(&store, &month).await;
        let sla = sla_report(
            &month,
            SlaInputs {
                folded: &f,
                tickets: &tk,
                downtimes: None,
                calendar: &cal,
                as_of: now,
            },
            &SlaSettings::default(),
        );
        let sla_ms = ms(t);
        let t = Instant::now();
        materialize(&store).await.unwrap();
        let f = folded(&store, whole_year.start(), whole_year.end(), now)
            .await
            .unwrap();
        let q = queue_report(
            &whole_year,
            &f,
            &CallsOptions {
                sampling: Sampling::Month,
                ..CallsOptions::default()
            },
        );
        let offered: u64 = q.totals.iter().map(|r| r.offered).sum();
        println!(
            "{round}: monthly SLA report (June) {sla_ms} ({} contacts, SLA.C.2 {:?} %); \
             yearly queue report {} ({} calls read, {offered} offered)",
            sla.lines[0].denominator,
            sla.lines[1].measured_pct,
            ms(t),
            f.calls.len(),
        );
    }

    // Before the facts: the month's events read (24 h before it too), parsed and folded.
    let t = Instant::now();
    let rows = store
        .events_between(month.start() - TimeDelta::hours(24), month.end())
        .await
        .unwrap();
    let parsed: Vec<(DateTime<Utc>, Event)> = rows
        .iter()
        .filter_map(|e| Some((e.at, serde_json::from_str(&e.body).ok()?)))
        .collect();
    let f = Folded::from_events(parsed.iter().map(|(at, e)| (*at, e)), month.end());
    println!(
        "before the facts: the month folded from {} raw events in {} ({} calls)",
        rows.len(),
        ms(t),
        f.calls.len()
    );
    store.close().await;
}
