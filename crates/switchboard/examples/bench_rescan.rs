//! How long the item feeder's rescan takes (blended routing, `[acd.blend] rescan_s`): N open
//! written tickets (web and e-mail, half of them owned) in a fresh SQLite database or in
//! `$CENTRALINO_BENCH_PG` (a PostgreSQL URL), one rescan into a running ACD, then a second
//! one (the steady state: every item already known). Prints the times.
//!
//! `cargo run --release -p switchboard --example bench_rescan -- 5000`

use std::time::Instant;

use crm::{Channel, Role, Store, WrittenRequest};

#[tokio::main]
async fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(5000);
    let dir = tempfile::tempdir().expect("temp dir");
    let url = std::env::var("CENTRALINO_BENCH_PG").unwrap_or_else(|_| {
        format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("bench.db").display()
        )
    });
    let store = Store::connect(&url).await.expect("store");
    let now = chrono::Utc::now();
    let queue = store
        .create_queue("cittadini", false, now)
        .await
        .expect("queue")
        .id;
    let agent = store
        .create_user(
            "1001",
            "Operatore 1001",
            Role::AgentFirstLevel,
            "demo1001",
            now,
        )
        .await
        .expect("user");
    let started = Instant::now();
    for i in 0..n {
        let opened = store
            .open_written_request(
                WrittenRequest {
                    channel: if i % 2 == 0 {
                        Channel::Web
                    } else {
                        Channel::Email
                    },
                    queue,
                    name: format!("Cittadino {i}"),
                    email: format!("cittadino{i}@example.org"),
                    subject: format!("Richiesta {i}"),
                    body: "Buongiorno.".into(),
                    attachments: Vec::new(),
                    sla: None,
                },
                now,
            )
            .await
            .expect("request");
        if i % 4 == 0 {
            store
                .act(
                    opened.ticket.id,
                    crm::Actor::System,
                    crm::Action::SetOwner(Some(agent.id)),
                    now,
                )
                .await
                .expect("owner");
        }
    }
    eprintln!("{n} tickets written in {:?}", started.elapsed());

    let config = acd::AcdConfig {
        queues: vec![acd::QueueConfig::new("cittadini")],
        agents: vec![acd::AgentConfig::new("1001", &["cittadini"])],
        ..acd::AcdConfig::default()
    };
    let acd = switchboard::AcdHandle::spawn(
        acd::Acd::new(config, Instant::now()).expect("ACD"),
        events::EventBus::default(),
    );
    for round in [
        "first rescan (items queued)",
        "second rescan (steady state)",
    ] {
        let started = Instant::now();
        let read = switchboard::items::rescan_once(&store, &acd).await;
        acd.snapshot().await.expect("ACD runs");
        let took = started.elapsed();
        println!(
            "{round}: {read} open written tickets in {took:?} ({:.1} µs per ticket)",
            took.as_secs_f64() * 1e6 / read.max(1) as f64
        );
    }
}
