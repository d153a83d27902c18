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
//!
//! Unless `--no-tickets`, each month's Service Requests go to the CRM too
//! (`reports::synth_tickets`): phone requests of answered calls, those closed in the
//! wrap-up resolved at first contact, and off-line voicemail, e-mail and web requests taken
//! in charge and resolved on the SLA calendar (`[sla.calendar]`, around the clock without
//! one), written through the CRM's bulk import (`Store::import_tickets`: the insertion,
//! articles and life-cycle actions of tickets made one by one), a month per transaction. The
//! invented agents (`2001`…, no usable password) and the queues are created when missing. A
//! month whose first phone request exists is skipped, so a rerun writes nothing twice.

use std::collections::HashMap;
use std::time::Instant;

use anyhow::Context;
use calendar::{BusinessCalendar, CalendarConfig};
use chrono::{Datelike, NaiveDate, Utc, Weekday};
use crm::{
    Action, Actor, ArticleKind, Channel, ImportedTicket, LoggedEvent, NewArticle, NewTicket,
    QueueId, Role, Store, UserId,
};
use events::TicketChannel;
use reports::synth::{SynthSpec, synthesize_from};
use reports::synth_tickets::{SynthTicket, synthesize_tickets};
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
    /// Write only the event log, no Service Requests.
    #[arg(long)]
    pub no_tickets: bool,
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
    let calendar = sla_calendar(&config)?;
    let people = if args.no_tickets {
        None
    } else {
        Some(People::ensure(&store, &queues, args.agents).await?)
    };
    let mut tickets = 0usize;
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
        let requests = match &people {
            Some(people) => write_tickets(&store, people, &spec, &events, &calendar).await?,
            None => 0,
        };
        tickets += requests;
        info!(
            month = format!("{}-{month:02}", args.year),
            calls,
            events = rows.len(),
            requests,
            "synthetic month written"
        );
    }
    let secs = started.elapsed().as_secs_f64();
    info!(
        events = total,
        new = written,
        calls = args.calls,
        requests = tickets,
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

/// The calendar the SLA report counts working time on: `[sla.calendar]`, else around the clock.
fn sla_calendar(config: &crate::config::Config) -> anyhow::Result<BusinessCalendar> {
    let always = CalendarConfig {
        always_open: true,
        ..CalendarConfig::default()
    };
    let cfg = config.sla.calendar.as_ref().unwrap_or(&always);
    BusinessCalendar::new(cfg).map_err(|e| anyhow::anyhow!("sla.calendar: {e}"))
}

/// The queues and invented agents the requests are written to, by name and login.
struct People {
    queues: HashMap<String, QueueId>,
    agents: HashMap<String, UserId>,
}

impl People {
    /// Creates the queues and agents (`2001`…) the database lacks.
    async fn ensure(store: &Store, queues: &[String], agents: u32) -> anyhow::Result<People> {
        let now = Utc::now();
        let mut people = People {
            queues: HashMap::new(),
            agents: HashMap::new(),
        };
        for name in queues {
            let id = match store.queue_by_name(name).await? {
                Some(id) => id,
                None => store.create_queue(name, false, now).await?.id,
            };
            people.queues.insert(name.clone(), id);
        }
        for i in 0..agents {
            let login = format!("{}", 2001 + i);
            let id = match store.user_by_login(&login).await? {
                Some(user) => user.id,
                None => {
                    // Nobody signs in as an invented agent: a password no one knows.
                    let password: String = (0..32)
                        .map(|_| char::from(b'a' + rand::random_range(0..26u8)))
                        .collect();
                    let name = format!("Agente sintetico {login}");
                    store
                        .add_user(
                            &login,
                            &name,
                            Role::AgentFirstLevel,
                            &password,
                            Actor::System,
                            now,
                        )
                        .await
                        .with_context(|| format!("cannot create the invented agent {login}"))?
                        .id
                }
            };
            people.agents.insert(login, id);
        }
        Ok(people)
    }
}

/// Writes the month's Service Requests (one transaction); 0 when its first phone request is
/// there already (a rerun).
async fn write_tickets(
    store: &Store,
    people: &People,
    spec: &SynthSpec,
    events: &[(chrono::DateTime<Utc>, events::Event)],
    calendar: &BusinessCalendar,
) -> anyhow::Result<usize> {
    let planned = synthesize_tickets(spec, events, calendar);
    let marker = planned
        .iter()
        .find(|t| t.channel == TicketChannel::Phone)
        .and_then(|t| t.call_id.as_deref());
    match marker {
        None => return Ok(0),
        Some(call) if store.has_ticket_for_call(call).await? => return Ok(0),
        Some(_) => {}
    }
    let batch: Vec<ImportedTicket> = planned
        .iter()
        .map(|t| imported(t, people))
        .collect::<anyhow::Result<_>>()?;
    store
        .import_tickets(&batch)
        .await
        .context("cannot write the synthetic Service Requests")?;
    Ok(batch.len())
}

fn imported(t: &SynthTicket, people: &People) -> anyhow::Result<ImportedTicket> {
    let queue = *people
        .queues
        .get(&t.queue)
        .with_context(|| format!("queue {} not created", t.queue))?;
    let agent = *people
        .agents
        .get(&t.agent)
        .with_context(|| format!("agent {} not created", t.agent))?;
    let (channel, kind, title) = match t.channel {
        TicketChannel::Phone => (
            Channel::Phone,
            ArticleKind::PhoneReceived,
            "Richiesta telefonica",
        ),
        TicketChannel::Voicemail => (
            Channel::Voicemail,
            ArticleKind::Voicemail,
            "Messaggio in segreteria",
        ),
        TicketChannel::Email => (Channel::Email, ArticleKind::EmailIn, "Richiesta via e-mail"),
        TicketChannel::Web => (Channel::Web, ArticleKind::Web, "Richiesta dal sito"),
        TicketChannel::Fax => (Channel::Fax, ArticleKind::Fax, "Richiesta via fax"),
    };
    let mut ticket = NewTicket::new(title, channel);
    ticket.queue = Some(queue);
    ticket.call_id = t.call_id.clone();
    if t.channel == TicketChannel::Phone {
        ticket.owner = Some(agent);
    }
    let body = format!(
        "Richiesta sintetica per i report (dati inventati) da {}.",
        t.sender
    );
    let mut actions = Vec::new();
    if let Some(at) = t.taken {
        actions.push((Actor::User(agent), Action::Lock, at));
    }
    if let Some(at) = t.resolved {
        actions.push((Actor::User(agent), Action::Close { successful: true }, at));
    }
    Ok(ImportedTicket {
        ticket,
        created: t.created,
        articles: vec![NewArticle::new(kind, &t.sender, title, body)],
        actions,
        first_contact: t.first_contact,
    })
}
