//! `centralino reports synth`: a synthetic year of a contact center written into the
//! configured database (SQLite file or PostgreSQL URL) as event-log rows — what the
//! switchboard and the ACD would have published — for the reports' benchmark
//! (`scripts/bench-reports.sh`) and a lived-in demo. Invented people: agents are numbers,
//! callers fictional `+39 06 0000 …` numbers, tickets `T…`/`V…`.
//!
//! Generated a month at a time (`reports::synth::synthesize_from`), written in chunks of
//! `--chunk` events per transaction; event ids are derived from the seed and the year, so
//! running it again writes nothing twice. Then the report facts are brought up to date
//! (`console::report_facts::materialize`), unless `--no-facts`.

use std::time::Instant;

use anyhow::Context;
use chrono::{Datelike, NaiveDate, Weekday};
use crm::LoggedEvent;
use reports::synth::{SynthSpec, synthesize_from};
use tracing::info;

use crate::maintenance::SiteArgs;

/// `centralino reports …`
#[derive(clap::Subcommand, Debug)]
pub enum ReportsCommand {
    /// Write a synthetic year of calls into the database's event log, then the report facts.
    Synth(SynthArgs),
}

/// `centralino reports synth`
#[derive(clap::Args, Debug)]
pub struct SynthArgs {
    /// The calendar year to fill.
    #[arg(long, default_value_t = 2025)]
    pub year: i32,
    /// Calls over the year (200,000: the contract's contact center).
    #[arg(long, default_value_t = 200_000)]
    pub calls: u64,
    /// Agents working every open day.
    #[arg(long, default_value_t = 12)]
    pub agents: u32,
    /// The queues, comma-separated.
    #[arg(long, default_value = "anagrafe,tributi,tecnica")]
    pub queues: String,
    /// Seed of the invented traffic.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Events per transaction.
    #[arg(long, default_value_t = 5_000)]
    pub chunk: usize,
    /// Do not bring the report facts up to date afterwards.
    #[arg(long)]
    pub no_facts: bool,
    #[command(flatten)]
    pub site: SiteArgs,
}

fn open_days(from: NaiveDate, to: NaiveDate) -> u64 {
    from.iter_days()
        .take_while(|d| *d < to)
        .filter(|d| !matches!(d.weekday(), Weekday::Sat | Weekday::Sun))
        .count() as u64
}

/// Runs `reports …`.
pub async fn run(command: ReportsCommand) -> anyhow::Result<()> {
    let ReportsCommand::Synth(args) = command;
    let queues: Vec<String> = args
        .queues
        .split(',')
        .map(str::trim)
        .filter(|q| !q.is_empty())
        .map(str::to_owned)
        .collect();
    if queues.is_empty() {
        anyhow::bail!("--queues: at least one queue name");
    }
    if args.agents == 0 {
        anyhow::bail!("--agents: at least one agent");
    }
    let first = NaiveDate::from_ymd_opt(args.year, 1, 1)
        .with_context(|| format!("--year: {} is not a year we can fill", args.year))?;
    let next_year = NaiveDate::from_ymd_opt(args.year + 1, 1, 1)
        .with_context(|| format!("--year: {} is not a year we can fill", args.year))?;
    let config = args.site.config()?;
    let store = crate::open_store(&config, &args.site.data).await?;
    let tz = store.settings().time_zone;
    let year_days = open_days(first, next_year);
    let started = Instant::now();
    let (mut written, mut total, mut seq, mut calls_left) = (0usize, 0usize, 0u64, args.calls);
    for month in 1..=12u32 {
        let from = NaiveDate::from_ymd_opt(args.year, month, 1).unwrap_or(first);
        let to = if month == 12 {
            next_year
        } else {
            NaiveDate::from_ymd_opt(args.year, month + 1, 1).unwrap_or(next_year)
        };
        let calls = if month == 12 {
            calls_left
        } else {
            (args.calls * open_days(from, to) / year_days.max(1)).min(calls_left)
        };
        calls_left -= calls;
        let spec = SynthSpec {
            first_day: from,
            days: u32::try_from((to - from).num_days()).unwrap_or(31),
            calls,
            queues: queues.clone(),
            agents: args.agents,
            tz,
            seed: args.seed.wrapping_mul(100).wrapping_add(u64::from(month)),
        };
        let events = synthesize_from(&spec, seq);
        seq += calls;
        let rows: Vec<LoggedEvent> = events
            .iter()
            .map(|(at, event)| {
                total += 1;
                LoggedEvent {
                    event_id: format!("synth-{}-{}-{total}", args.seed, args.year),
                    at: *at,
                    kind: event.kind().to_string(),
                    call_id: event.call_id().map(str::to_string),
                    body: serde_json::to_string(event).unwrap_or_default(),
                    queue_row: console::record::queue_log_row(event),
                }
            })
            .collect();
        for chunk in rows.chunks(args.chunk.max(1)) {
            written += store
                .append_events(chunk)
                .await
                .context("cannot write the event log")?;
        }
        info!(
            month = format!("{}-{month:02}", args.year),
            calls,
            events = rows.len(),
            "synthetic month written"
        );
    }
    let secs = started.elapsed().as_secs_f64();
    info!(
        events = total,
        new = written,
        calls = args.calls,
        seconds = format!("{secs:.1}"),
        per_second = format!("{:.0}", total as f64 / secs.max(1e-9)),
        "synthetic year written"
    );
    if !args.no_facts {
        let started = Instant::now();
        let folded = console::report_facts::materialize(&store)
            .await
            .map_err(|e| anyhow::anyhow!("cannot store the report facts: {e}"))?;
        info!(
            events = folded,
            seconds = format!("{:.1}", started.elapsed().as_secs_f64()),
            "report facts up to date"
        );
    }
    store.refresh_statistics().await.ok();
    store.close().await;
    Ok(())
}
