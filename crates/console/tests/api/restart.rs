//! Issue 12: the supervisor console's today figures, its calls-per-hour chart, the event
//! metrics and the queue log are all derived from the one event log, so a restart (a fresh
//! process reading the stored log back) shows exactly what was shown before it.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeDelta, Utc};
use console::api::{Api, ApiConfig, Clock};
use console::{EventLogWriter, Figures, Metrics};
use crm::{JournaledStore, QueueEventKind, Store};
use events::{Event, EventBus, Outcome, TicketChannel};
use serde_json::Value;

use crate::common::{Fixture, both, t0};

/// One run of the process: a recorded bus, the event log's writer, the figures it derives,
/// and an API reading them (with an idle ACD for the live half of the queue figures).
struct Process {
    bus: EventBus,
    writer: EventLogWriter,
    figures: Figures,
    metrics: Arc<Metrics>,
    api: Api,
}

async fn start(
    store: &Store,
    journal: &std::path::Path,
    clock: &Arc<Mutex<DateTime<Utc>>>,
) -> Process {
    let now = *clock.lock().unwrap();
    let c = clock.clone();
    let (bus, log) = EventBus::recorded(16, Arc::new(move || *c.lock().unwrap()));
    let metrics = Arc::new(Metrics::new());
    // Days end at midnight in Rome, as the demo's server would cut them.
    let figures = Figures::new(
        metrics.clone(),
        Arc::new(|at: DateTime<Utc>| at.with_timezone(&chrono_tz::Europe::Rome).date_naive()),
    );
    let journaled = Arc::new(JournaledStore::new(store.clone(), journal));
    let writer = EventLogWriter::start(bus.clone(), log, journaled, figures.clone(), now).await;
    let acd = acd::Acd::new(
        acd::AcdConfig {
            queues: vec![
                acd::QueueConfig::new("cittadini"),
                acd::QueueConfig::new("imprese"),
            ],
            ..acd::AcdConfig::default()
        },
        std::time::Instant::now(),
    )
    .unwrap();
    let acd = switchboard::AcdHandle::spawn(acd, EventBus::default());
    let c = clock.clone();
    let config = ApiConfig {
        clock: Clock::from_fn(move || *c.lock().unwrap()),
        figures: figures.clone(),
        ..ApiConfig::default()
    };
    let api = Api::with_acd(store.clone(), config, Some(Arc::new(acd)));
    Process {
        bus,
        writer,
        figures,
        metrics,
        api,
    }
}

/// What the supervisor and the reports see.
#[derive(Debug, PartialEq)]
struct Seen {
    queues: Value,
    hourly: Value,
    today: console::figures::Today,
    metrics: String,
    queue_log: Vec<crm::QueueEvent>,
}

async fn seen(p: &Process, store: &Store) -> Seen {
    p.writer.flush().await;
    let now = p.api.now();
    let sup = store.user_by_login("sup").await.unwrap().unwrap();
    let queues = console::api::agents::queues_for(&p.api, &sup)
        .await
        .unwrap();
    Seen {
        queues: serde_json::to_value(queues).unwrap(),
        hourly: serde_json::to_value(p.figures.hourly(now)).unwrap(),
        today: p.figures.today(now),
        metrics: p.metrics.render_event_counters(),
        queue_log: store
            .queue_log_between(now - TimeDelta::days(2), now + TimeDelta::days(1))
            .await
            .unwrap(),
    }
}

fn started(call: &str) -> Event {
    Event::CallStarted {
        call_id: call.into(),
        sip_call_id: format!("{call}@test"),
        caller: Some("+390600000001".into()),
        dialled: Some("800100200".into()),
    }
}

fn ended(call: &str, outcome: Outcome) -> Event {
    Event::CallEnded {
        call_id: call.into(),
        outcome,
        duration_ms: 1000,
    }
}

/// A morning: a call yesterday afternoon, then today one answered after a refused and an
/// unanswered offer, one abandoned late, one overflowed, one transferred, a ticket from the
/// web. Each event at its own minute.
fn morning(at: impl Fn(i64) -> DateTime<Utc>) -> Vec<(DateTime<Utc>, Event)> {
    let mut v: Vec<(i64, Event)> = Vec::new();
    let (c, cit) = ("c1".to_string(), "cittadini".to_string());
    let e = &at;
    v.push((0, started("c1")));
    v.push((
        0,
        Event::Dtmf {
            call_id: c.clone(),
            digit: '1',
        },
    ));
    v.push((
        1,
        Event::QueueEntered {
            call_id: c.clone(),
            queue: cit.clone(),
            position: 1,
            at: e(1),
        },
    ));
    v.push((
        1,
        Event::QueueOffered {
            call_id: c.clone(),
            queue: cit.clone(),
            agent: "a1".into(),
            at: e(1),
        },
    ));
    v.push((
        1,
        Event::QueueRejected {
            call_id: c.clone(),
            queue: cit.clone(),
            agent: "a1".into(),
            reason: "busy".into(),
            at: e(1),
        },
    ));
    v.push((
        2,
        Event::QueueOffered {
            call_id: c.clone(),
            queue: cit.clone(),
            agent: "a3".into(),
            at: e(2),
        },
    ));
    v.push((
        2,
        Event::QueueRingNoAnswer {
            call_id: c.clone(),
            queue: cit.clone(),
            agent: "a3".into(),
            rang_ms: 20_000,
            at: e(2),
        },
    ));
    v.push((
        3,
        Event::QueueOffered {
            call_id: c.clone(),
            queue: cit.clone(),
            agent: "a1".into(),
            at: e(3),
        },
    ));
    v.push((
        3,
        Event::QueueConnected {
            call_id: c.clone(),
            queue: cit.clone(),
            agent: "a1".into(),
            wait_ms: 12_000,
            within_service_level: true,
            at: e(3),
        },
    ));
    v.push((
        3,
        Event::TicketCreated {
            number: "2026030210000011".into(),
            queue: cit.clone(),
            channel: TicketChannel::Phone,
            call_id: Some(c.clone()),
            owner: Some("a1".into()),
            by: None,
        },
    ));
    v.push((
        5,
        Event::QueueCompleted {
            call_id: c.clone(),
            queue: cit.clone(),
            agent: "a1".into(),
            talk_ms: 120_000,
            at: e(5),
        },
    ));
    v.push((5, ended("c1", Outcome::CallerHangup)));
    v.push((6, started("c2")));
    v.push((
        6,
        Event::QueueEntered {
            call_id: "c2".into(),
            queue: cit.clone(),
            position: 1,
            at: e(6),
        },
    ));
    v.push((
        7,
        Event::QueueAbandoned {
            call_id: "c2".into(),
            queue: cit.clone(),
            position: 1,
            wait_ms: 45_000,
            within_service_level: false,
            at: e(7),
        },
    ));
    v.push((7, ended("c2", Outcome::Abandoned)));
    v.push((8, started("c3")));
    v.push((
        8,
        Event::QueueEntered {
            call_id: "c3".into(),
            queue: "imprese".into(),
            position: 1,
            at: e(8),
        },
    ));
    v.push((
        10,
        Event::QueueOverflowed {
            call_id: "c3".into(),
            queue: "imprese".into(),
            wait_ms: 120_000,
            within_service_level: false,
            to: "voicemail:100".into(),
            at: e(10),
        },
    ));
    v.push((11, ended("c3", Outcome::ServerHangup)));
    v.push((70, started("c4")));
    v.push((
        70,
        Event::QueueEntered {
            call_id: "c4".into(),
            queue: cit.clone(),
            position: 1,
            at: e(70),
        },
    ));
    v.push((
        71,
        Event::QueueConnected {
            call_id: "c4".into(),
            queue: cit.clone(),
            agent: "a3".into(),
            wait_ms: 40_000,
            within_service_level: false,
            at: e(71),
        },
    ));
    v.push((
        72,
        Event::QueueTransferred {
            call_id: "c4".into(),
            queue: cit.clone(),
            agent: "a3".into(),
            to: "imprese".into(),
            at: e(72),
        },
    ));
    v.push((
        72,
        Event::QueueEntered {
            call_id: "c4".into(),
            queue: "imprese".into(),
            position: 1,
            at: e(72),
        },
    ));
    v.push((
        80,
        Event::TicketCreated {
            number: "2026030210000022".into(),
            queue: "imprese".into(),
            channel: TicketChannel::Web,
            call_id: None,
            owner: None,
            by: None,
        },
    ));
    v.into_iter().map(|(m, ev)| (at(m), ev)).collect()
}

async fn a_restart_shows_what_was_shown_before(f: Fixture) {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("calls.jsonl");
    let clock = Arc::new(Mutex::new(t0() - TimeDelta::hours(20)));
    let first = start(&f.store, &journal, &clock).await;
    // Yesterday afternoon (Rome): in the chart's 24 hours, not in today's counters.
    first.bus.publish(started("c0"));
    first.bus.publish(Event::QueueEntered {
        call_id: "c0".into(),
        queue: "cittadini".into(),
        position: 1,
        at: t0() - TimeDelta::hours(20),
    });
    for (at, event) in morning(|m| t0() + TimeDelta::minutes(m)) {
        *clock.lock().unwrap() = at;
        first.bus.publish(event);
    }
    *clock.lock().unwrap() = t0() + TimeDelta::minutes(90);
    let before = seen(&first, &f.store).await;

    // What the figures say, checked once by hand.
    let cit = before.today.queue("cittadini");
    assert_eq!((cit.entered, cit.answered, cit.abandoned), (3, 2, 1));
    assert_eq!(before.today.queue("imprese").overflowed, 1);
    let q = before.queues.as_array().unwrap();
    assert_eq!(q[0]["name"], "cittadini");
    assert_eq!(q[0]["answered"], 2);
    assert_eq!(q[0]["abandoned"], 1);
    // 1 answered on time ÷ (2 answered + 1 abandoned late).
    assert_eq!(q[0]["service_level"], 1.0 / 3.0);
    assert_eq!(q[0]["avg_answer_time_s"], 26.0);
    assert_eq!(q[1]["service_level"], 0.0);
    let calls: u64 = before
        .hourly
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["calls"].as_u64().unwrap())
        .sum();
    assert_eq!(calls, 5, "c0 yesterday and c1..c4 today: {}", before.hourly);
    assert!(
        before
            .metrics
            .contains("centralino_tickets_created_total{channel=\"web\"} 1"),
        "{}",
        before.metrics
    );
    assert!(
        before
            .metrics
            .contains("centralino_calls_total{outcome=\"abandoned\"} 1"),
        "{}",
        before.metrics
    );
    // The queue log, from the same events: the connect is there, the refusal is a reject.
    let c1: Vec<QueueEventKind> = before
        .queue_log
        .iter()
        .filter(|r| r.call_id == "c1")
        .map(|r| r.kind)
        .collect();
    use QueueEventKind::*;
    assert_eq!(
        c1,
        [
            Enter,
            Offer,
            Reject,
            Offer,
            RingNoAnswer,
            Offer,
            Connect,
            Complete
        ]
    );
    assert_eq!(before.queue_log.len(), 17);

    // The restart: the first process's bus, writer and figures are gone.
    drop(first);
    let second = start(&f.store, &journal, &clock).await;
    let after = seen(&second, &f.store).await;
    assert_eq!(after, before);

    // And it counts on from there.
    *clock.lock().unwrap() = t0() + TimeDelta::minutes(100);
    second.bus.publish(started("c5"));
    second.bus.publish(Event::QueueEntered {
        call_id: "c5".into(),
        queue: "cittadini".into(),
        position: 1,
        at: t0() + TimeDelta::minutes(100),
    });
    second.bus.publish(Event::QueueAbandoned {
        call_id: "c5".into(),
        queue: "cittadini".into(),
        position: 1,
        wait_ms: 5_000,
        within_service_level: true,
        at: t0() + TimeDelta::minutes(100),
    });
    let later = seen(&second, &f.store).await;
    assert_eq!(later.today.queue("cittadini").abandoned, 2);
    assert_eq!(later.queue_log.len(), 19);
}
both!(a_restart_shows_what_was_shown_before);
