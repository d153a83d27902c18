//! The one writer of the event log (issue 12): every event published on a recorded
//! [`EventBus`] is persisted, in publication order, through the [`crm::JournaledStore`]
//! (a database outage journals events instead of losing them), as one row of the
//! append-only `event_log`; a queue event also writes its queue log row in the same
//! transaction ([`queue_log_row`]: the only place queue log rows are made).
//!
//! # Run loop
//! One task reads the bus's lossless side (a channel bounded in memory that spills to a file
//! past `events.memory_limit`, see `events::RecordedLog` and docs/DECISIONS.md) until every
//! publisher is gone: for each event it writes, then hands the event
//! to the [`Figures`] derived from the log, then tells [`EventLogWriter::flush`] waiters how
//! far it got. It never drops an event: a refused write (a bug, not an outage) is logged as
//! an error and counted in `centralino_event_log_refused_total`; a backlog is logged as it
//! grows.

use std::sync::Arc;

use ::events::{Event, EventBus, Recorded, RecordedLog};
use chrono::{DateTime, Utc};
use crm::{CallWrite, JournaledStore, LoggedEvent, QueueEvent, QueueEventKind};
use tokio::sync::watch;

use crate::figures::Figures;

/// A backlog of this many events waiting for the database is logged (then every doubling).
const BACKLOG_WARN: usize = 1_000;

/// The most events one transaction of the writer carries.
const BATCH: usize = 256;

/// The running writer; cheap to clone.
#[derive(Clone)]
pub struct EventLogWriter {
    bus: EventBus,
    written: watch::Receiver<u64>,
}

impl EventLogWriter {
    /// Rebuilds `figures` from the stored log (as of `now`), then starts the writer over the
    /// lossless side `log` of `bus` (from [`EventBus::recorded`]), persisting through `store`
    /// and updating `figures`. In that order, so no event is counted twice: events published
    /// meanwhile wait in `log`. A database away at start leaves the figures empty (logged).
    pub async fn start(
        bus: EventBus,
        log: RecordedLog,
        store: Arc<JournaledStore>,
        figures: Figures,
        now: DateTime<Utc>,
    ) -> EventLogWriter {
        figures.metrics().watch_recorder(bus.clone());
        match figures.rebuild(store.store(), now).await {
            Ok(read) => tracing::info!(events = read, "figures rebuilt from the event log"),
            Err(error) => {
                tracing::error!(%error, "event log unreadable: today's figures start from zero")
            }
        }
        let (tx, written) = watch::channel(0);
        // Events of two runs of the process never share an id (the sequence restarts at 1).
        let boot = format!("{:016x}", rand::random::<u64>());
        tokio::spawn(run(log, store, figures, boot, tx));
        EventLogWriter { bus, written }
    }

    /// Waits until every event published before the call is written (or journaled).
    pub async fn flush(&self) {
        let target = self.bus.last_seq();
        let mut written = self.written.clone();
        let _ = written.wait_for(|&seq| seq >= target).await;
    }
}

async fn run(
    mut log: RecordedLog,
    store: Arc<JournaledStore>,
    figures: Figures,
    boot: String,
    written: watch::Sender<u64>,
) {
    let mut warn_at = BACKLOG_WARN;
    let mut batch: Vec<Recorded> = Vec::with_capacity(BATCH);
    while log.recv_many(&mut batch, BATCH).await > 0 {
        let backlog = log.len();
        if backlog >= warn_at {
            tracing::warn!(
                backlog,
                "event log writer behind: events wait for the database"
            );
            warn_at *= 2;
        } else if backlog < BACKLOG_WARN / 2 {
            warn_at = BACKLOG_WARN;
        }
        // What waits is written in one transaction: under load one commit carries many
        // events, and an idle writer still writes each event as soon as it comes.
        let rows: Vec<_> = batch.iter().map(|r| logged_event(&boot, r)).collect();
        if store.write(CallWrite::Events(rows.clone())).await.is_err() {
            // Refused (a bug, not an outage: that is journaled): one by one, so only the
            // event at fault is missing (appending is idempotent by event id).
            for (row, recorded) in rows.into_iter().zip(&batch) {
                if let Err(error) = store.write(CallWrite::Event(row)).await {
                    figures.metrics().event_log_refused();
                    tracing::error!(%error, seq = recorded.seq, kind = recorded.event.kind(),
                        "event log write refused: the event is not in the log");
                }
            }
        }
        for recorded in &batch {
            figures.observe(recorded.at, &recorded.event);
        }
        if let Some(last) = batch.last() {
            let _ = written.send(last.seq);
        }
        batch.clear();
    }
}

/// The row of the event log of `recorded`.
pub fn logged_event(boot: &str, recorded: &Recorded) -> LoggedEvent {
    let event = &recorded.event;
    LoggedEvent {
        event_id: format!("{boot}-{}", recorded.seq),
        at: recorded.at,
        kind: event.kind().to_string(),
        call_id: event.call_id().map(str::to_string),
        body: serde_json::to_string(event).unwrap_or_else(|e| {
            // Every field serialises (strings, numbers, enums); kept as a marker if not.
            format!(r#"{{"type":"{}","unserialisable":"{e}"}}"#, event.kind())
        }),
        queue_row: queue_log_row(event),
    }
}

/// The queue log row a queue event makes (reports read the queue log); `None` for the others.
pub fn queue_log_row(event: &Event) -> Option<QueueEvent> {
    let row = |call_id: &str, queue: &str, at, kind, agent: Option<&str>, detail| {
        Some(QueueEvent {
            call_id: call_id.to_string(),
            queue: queue.to_string(),
            at,
            kind,
            agent: agent.map(str::to_string),
            detail,
        })
    };
    let secs = |ms: &u64| ms / 1000;
    match event {
        Event::QueueEntered {
            call_id,
            queue,
            position,
            at,
        } => row(
            call_id,
            queue,
            *at,
            QueueEventKind::Enter,
            None,
            Some(format!("position {position}")),
        ),
        Event::QueueOffered {
            call_id,
            queue,
            agent,
            at,
        } => row(
            call_id,
            queue,
            *at,
            QueueEventKind::Offer,
            Some(agent),
            None,
        ),
        Event::QueueConnected {
            call_id,
            queue,
            agent,
            wait_ms,
            at,
            ..
        } => row(
            call_id,
            queue,
            *at,
            QueueEventKind::Connect,
            Some(agent),
            Some(format!("waited {} s", secs(wait_ms))),
        ),
        Event::QueueRingNoAnswer {
            call_id,
            queue,
            agent,
            rang_ms,
            at,
        } => row(
            call_id,
            queue,
            *at,
            QueueEventKind::RingNoAnswer,
            Some(agent),
            Some(format!("rang {} s", secs(rang_ms))),
        ),
        Event::QueueRejected {
            call_id,
            queue,
            agent,
            reason,
            at,
        } => row(
            call_id,
            queue,
            *at,
            QueueEventKind::Reject,
            Some(agent),
            Some(reason.clone()),
        ),
        Event::QueueAbandoned {
            call_id,
            queue,
            position,
            wait_ms,
            at,
            ..
        } => row(
            call_id,
            queue,
            *at,
            QueueEventKind::Abandon,
            None,
            Some(format!("position {position}, waited {} s", secs(wait_ms))),
        ),
        Event::QueueLeft {
            call_id,
            queue,
            position,
            wait_ms,
            reason,
            at,
            ..
        } => row(
            call_id,
            queue,
            *at,
            QueueEventKind::Left,
            None,
            Some(format!(
                "{reason}, position {position}, waited {} s",
                secs(wait_ms)
            )),
        ),
        Event::QueueCompleted {
            call_id,
            queue,
            agent,
            talk_ms,
            at,
        } => row(
            call_id,
            queue,
            *at,
            QueueEventKind::Complete,
            Some(agent),
            Some(format!("talked {} s", secs(talk_ms))),
        ),
        Event::QueueTransferred {
            call_id,
            queue,
            agent,
            to,
            at,
        } => row(
            call_id,
            queue,
            *at,
            QueueEventKind::Transfer,
            Some(agent),
            Some(to.clone()),
        ),
        Event::QueueOverflowed {
            call_id,
            queue,
            to,
            at,
            ..
        } => row(
            call_id,
            queue,
            *at,
            QueueEventKind::Timeout,
            None,
            Some(format!("overflow to {to}")),
        ),
        _ => None,
    }
}
