//! CRM store benchmark: ticket creation rate and search latency, on SQLite and PostgreSQL.
//!
//! ```text
//! cargo run --release -p crm --example bench_crm -- [--pg URL | --no-pg] [--tickets N]
//!     [--creates N] [--pg-search] [--queries N] [--skip-creates] [--skip-search]
//!     [--pg-async-commit]   (PostgreSQL creates also with synchronous_commit = off)
//! ```
//!
//! 1. Creates per second through the public path ([`crm::Store::create_ticket`], each
//!    caller waiting for its commit; the store's ticket writer group-commits what waits),
//!    one writer and 8 concurrent writers: SQLite (a WAL file in a temporary directory) and
//!    PostgreSQL (a fresh database on `--pg`, default
//!    `postgres://postgres@127.0.0.1:5432/postgres`, dropped afterwards).
//! 2. Search latency, p50/p95 over `--queries` runs of each kind (default 200), on `--tickets`
//!    synthetic tickets (default 1,000,000, made with [`crm_fixtures::generate_tickets`]): ticket number
//!    with wildcards and full text; SQLite always, PostgreSQL with `--pg-search`.
//!
//! Targets (issue "CRM performance"): ≥ 5,000 creates/s on SQLite, full-text p95 < 50 ms;
//! issue 13: ≥ 5,000 creates/s with 8 writers on PostgreSQL too.

use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use crm::{Channel, NewTicket, Priority, QueueId, Settings, Store, TicketQuery, TicketType};
use crm_fixtures::{DemoOptions, generate_tickets, load_demo_data};
use sqlx::Connection;

struct Args {
    pg: Option<String>,
    tickets: u64,
    creates: u64,
    pg_search: bool,
    queries: usize,
    skip_creates: bool,
    skip_search: bool,
    pg_async_commit: bool,
}

fn parse_args() -> Args {
    let mut args = Args {
        pg: Some("postgres://postgres@127.0.0.1:5432/postgres".to_string()),
        tickets: 1_000_000,
        creates: 20_000,
        pg_search: false,
        queries: 200,
        skip_creates: false,
        skip_search: false,
        pg_async_commit: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = |name: &str| it.next().unwrap_or_else(|| panic!("{name} needs a value"));
        match a.as_str() {
            "--pg" => args.pg = Some(value("--pg")),
            "--no-pg" => args.pg = None,
            "--tickets" => args.tickets = value("--tickets").parse().expect("--tickets N"),
            "--creates" => args.creates = value("--creates").parse().expect("--creates N"),
            "--queries" => args.queries = value("--queries").parse().expect("--queries N"),
            "--pg-search" => args.pg_search = true,
            "--skip-creates" => args.skip_creates = true,
            "--skip-search" => args.skip_search = true,
            "--pg-async-commit" => args.pg_async_commit = true,
            other => panic!(
                "unknown argument {other}; expected --pg URL, --no-pg, --tickets N, --creates N, \
                 --queries N, --pg-search, --skip-creates, --skip-search"
            ),
        }
    }
    args
}

/// A fixed "now": the benchmark writes the same data every run.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap()
}

fn settings() -> Settings {
    Settings {
        default_country_code: Some("39".into()),
        pin_secret: b"bench-secret".to_vec(),
        max_connections: 16,
        acquire_timeout: Duration::from_secs(60),
        password_cost: crm::PasswordCost {
            memory_kib: 1024,
            iterations: 1,
        },
        ..Settings::default()
    }
}

/// A database made for one run, dropped when done.
struct Db {
    store: Store,
    drop: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

impl Db {
    async fn sqlite() -> Db {
        let dir = tempfile::tempdir().unwrap();
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("bench.db").display()
        );
        let store = Store::connect_with(&url, settings()).await.unwrap();
        Db {
            store,
            drop: None,
            _dir: Some(dir),
        }
    }

    async fn postgres(admin_url: &str) -> Option<Db> {
        Db::postgres_with(admin_url, settings()).await
    }

    async fn postgres_with(admin_url: &str, settings: Settings) -> Option<Db> {
        sqlx::any::install_default_drivers();
        let mut admin = match sqlx::AnyConnection::connect(admin_url).await {
            Ok(c) => c,
            Err(e) => {
                println!("PostgreSQL at {admin_url} unreachable ({e}): skipped");
                return None;
            }
        };
        let name = format!("crm_bench_{:08x}", rand::random::<u32>());
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .unwrap();
        let base = admin_url.rsplit_once('/').map(|(b, _)| b).unwrap();
        let store = Store::connect_with(&format!("{base}/{name}"), settings)
            .await
            .unwrap();
        Some(Db {
            store,
            drop: Some((admin_url.to_string(), name)),
            _dir: None,
        })
    }

    async fn finish(self) {
        self.store.close().await;
        if let Some((admin_url, name)) = self.drop {
            let mut admin = sqlx::AnyConnection::connect(&admin_url).await.unwrap();
            sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
                .execute(&mut admin)
                .await
                .unwrap();
        }
    }
}

async fn queues(store: &Store) -> Vec<QueueId> {
    load_demo_data(store, &DemoOptions::new(now()))
        .await
        .unwrap();
    store
        .queues()
        .await
        .unwrap()
        .into_iter()
        .map(|q| q.id)
        .collect()
}

/// Creates `n` tickets with `writers` tasks through `create_ticket`; returns tickets/s.
async fn create_rate(store: &Store, n: u64, writers: u64) -> f64 {
    let qs = queues(store).await;
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..writers {
        let store = store.clone();
        let qs = qs.clone();
        tasks.spawn(async move {
            for i in (w..n).step_by(writers as usize) {
                let mut t = NewTicket::new(format!("Richiesta di prova {i}"), Channel::Phone);
                t.queue = Some(qs[i as usize % qs.len()]);
                t.priority = Priority::new((i % 5 + 1) as u8).unwrap();
                t.ticket_type = TicketType::ALL[i as usize % TicketType::ALL.len()];
                t.call_id = Some(format!("bench-{i}"));
                store
                    .create_ticket(t, crm::Actor::System, now())
                    .await
                    .unwrap();
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
    }
    n as f64 / start.elapsed().as_secs_f64()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

async fn latency(store: &Store, label: &str, queries: &[TicketQuery], runs: usize) {
    // One warm-up pass, then `runs` timed queries cycling through the set.
    let mut hits = 0;
    for q in queries {
        hits += store.search_tickets(q).await.unwrap().total;
    }
    let mut times = Vec::with_capacity(runs);
    for i in 0..runs {
        let q = &queries[i % queries.len()];
        let start = Instant::now();
        let page = store.search_tickets(q).await.unwrap();
        times.push(start.elapsed());
        assert!(page.tickets.len() as u64 <= page.total);
    }
    times.sort();
    println!(
        "  {label:<28} p50 {:>8.2} ms   p95 {:>8.2} ms   max {:>8.2} ms   (avg hits {})",
        percentile(&times, 0.50).as_secs_f64() * 1e3,
        percentile(&times, 0.95).as_secs_f64() * 1e3,
        times.last().unwrap().as_secs_f64() * 1e3,
        hits / queries.len() as u64,
    );
}

async fn search_bench(db: &Db, name: &str, n: u64, runs: usize) {
    let store = &db.store;
    load_demo_data(store, &DemoOptions::new(now()))
        .await
        .unwrap();
    let start = Instant::now();
    let report = generate_tickets(store, n, 42, 1, now()).await.unwrap();
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{name}: generated {} tickets (+{} customers, one article each) in {secs:.1} s = {:.0} tickets/s (batched)",
        report.tickets,
        report.customers,
        report.tickets as f64 / secs
    );
    // Patterns from real numbers: a day prefix, a day + system id prefix, a counter suffix.
    let sample = store
        .search_tickets(&TicketQuery {
            limit: 20,
            offset: (n / 2) as u32,
            sort: crm::SortBy::Number,
            ..TicketQuery::default()
        })
        .await
        .unwrap();
    let numbers: Vec<String> = sample.tickets.iter().map(|t| t.number.clone()).collect();
    let page = |q: TicketQuery| TicketQuery {
        descending: true,
        ..q
    };
    let by_number = |pattern: String| {
        page(TicketQuery {
            number: Some(pattern),
            ..TicketQuery::default()
        })
    };
    let prefix: Vec<_> = numbers
        .iter()
        .map(|n| by_number(format!("{}*", &n[..8])))
        .collect();
    let exactish: Vec<_> = numbers
        .iter()
        .map(|n| by_number(format!("{}*", &n[..n.len() - 1])))
        .collect();
    let inner: Vec<_> = numbers
        .iter()
        .map(|n| by_number(format!("*{}*", &n[n.len() - 5..n.len() - 1])))
        .collect();
    let words = [
        "stampante",
        "rimborso",
        "pagamento online",
        "portale credenziali",
        "asilo nido",
        "contravvenzione",
        "SPID",
        "protocollo 12345",
        "bollettino ricevuta",
        "wifi",
    ];
    let text: Vec<_> = words
        .iter()
        .map(|w| {
            page(TicketQuery {
                text: Some(w.to_string()),
                ..TicketQuery::default()
            })
        })
        .collect();
    let text_filtered: Vec<_> = words
        .iter()
        .map(|w| {
            page(TicketQuery {
                text: Some(w.to_string()),
                states: vec![crm::State::Open, crm::State::New],
                ..TicketQuery::default()
            })
        })
        .collect();
    println!("{name}: search over {n} tickets, {runs} runs each, newest first, page of 50:");
    latency(store, "number YYYYMMDD*", &prefix, runs).await;
    latency(store, "number (all but check)*", &exactish, runs).await;
    latency(store, "number *NNNN*", &inner, runs).await;
    latency(store, "full text", &text, runs).await;
    latency(store, "full text + state filter", &text_filtered, runs).await;
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let args = parse_args();
    println!(
        "command: cargo run --release -p crm --example bench_crm -- {}",
        std::env::args().skip(1).collect::<Vec<_>>().join(" ")
    );
    println!(
        "cpus: {}",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );

    for writers in [1, 8].into_iter().filter(|_| !args.skip_creates) {
        let db = Db::sqlite().await;
        let rate = create_rate(&db.store, args.creates, writers).await;
        println!(
            "SQLite: {} creates, {writers} writer(s): {rate:.0} tickets/s",
            args.creates
        );
        db.finish().await;
    }
    if let Some(pg) = args.pg.as_ref().filter(|_| !args.skip_creates) {
        for writers in [1, 8] {
            let Some(db) = Db::postgres(pg).await else {
                break;
            };
            let rate = create_rate(&db.store, args.creates, writers).await;
            println!(
                "PostgreSQL: {} creates, {writers} writer(s): {rate:.0} tickets/s",
                args.creates
            );
            db.finish().await;
        }
        for writers in [1, 8].into_iter().filter(|_| args.pg_async_commit) {
            let async_commit = Settings {
                postgres_synchronous_commit: false,
                ..settings()
            };
            let Some(db) = Db::postgres_with(pg, async_commit).await else {
                break;
            };
            let rate = create_rate(&db.store, args.creates, writers).await;
            println!(
                "PostgreSQL, synchronous_commit = off: {} creates, {writers} writer(s): {rate:.0} tickets/s",
                args.creates
            );
            db.finish().await;
        }
    }

    if args.skip_search {
        return;
    }
    let db = Db::sqlite().await;
    search_bench(&db, "SQLite", args.tickets, args.queries).await;
    db.finish().await;
    if args.pg_search
        && let Some(pg) = &args.pg
        && let Some(db) = Db::postgres(pg).await
    {
        search_bench(&db, "PostgreSQL", args.tickets, args.queries).await;
        db.finish().await;
    }
}
