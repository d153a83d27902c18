//! The append-only event log (issue 12): every event of the bus, stored by its one writer
//! through the [`crate::JournaledStore`] ([`crate::CallWrite::Event`]), so a database outage
//! journals events instead of losing them. The store does not know the event vocabulary: a
//! [`LoggedEvent`] is its wire name and its JSON, plus the queue log row derived from it when
//! it is a queue event — written in the same transaction, so the queue log is exactly the
//! queue events of the log.
//!
//! Appending is idempotent by [`LoggedEvent::event_id`]: a journal replayed again after a
//! crash writes neither the event nor its queue row twice. Rows are never updated or deleted.

use chrono::{DateTime, Utc};
use sqlx::Row;

use crate::calls::{QueueEvent, insert_queue_event_in_tx};
use crate::error::Result;
use crate::store::Store;
use crate::types::{from_ms, to_ms};

/// One event as the log keeps it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LoggedEvent {
    /// Unique per event (the writer's boot id and the event's sequence number).
    pub event_id: String,
    /// When it was published.
    pub at: DateTime<Utc>,
    /// Its wire name (`call.started`, `queue.entered`, …).
    pub kind: String,
    /// The call it is about, if any.
    pub call_id: Option<String>,
    /// The event as JSON, `type` included.
    pub body: String,
    /// The queue log row it makes, for queue events.
    pub queue_row: Option<QueueEvent>,
}

fn queue_row(r: &sqlx::any::AnyRow) -> Result<QueueEvent> {
    Ok(QueueEvent {
        call_id: r.try_get("call_id")?,
        queue: r.try_get("queue")?,
        at: from_ms(r.try_get("at")?),
        kind: r.try_get::<String, _>("kind")?.parse()?,
        agent: r.try_get("agent")?,
        detail: r.try_get("detail")?,
    })
}

impl Store {
    /// The bodies of the latest `limit` events of `kind`, newest first (start-up recovery
    /// reads the last `agent.state` of each agent with it).
    pub async fn latest_events_of_kind(&self, kind: &str, limit: u32) -> Result<Vec<String>> {
        let rows =
            sqlx::query("SELECT body FROM event_log WHERE kind = $1 ORDER BY id DESC LIMIT $2")
                .bind(kind)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(|r| Ok(r.try_get("body")?)).collect()
    }

    /// Appends `e` and its queue log row (setting the call card's queue on `enter`), in one
    /// transaction. `false` when an event with this id is already there (nothing written).
    pub async fn append_event(&self, e: &LoggedEvent) -> Result<bool> {
        Ok(self.append_events(std::slice::from_ref(e)).await? == 1)
    }

    /// Appends `events` in order, each with its queue log row, in one transaction (a busy
    /// writer commits many at once instead of paying a commit per event). Returns how many
    /// were new: an event whose id is already there writes nothing.
    pub async fn append_events(&self, events: &[LoggedEvent]) -> Result<usize> {
        let mut tx = self.begin_write().await?;
        let mut written = 0;
        for e in events {
            let done = sqlx::query(
                "INSERT INTO event_log (event_id, at, kind, call_id, body) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (event_id) DO NOTHING",
            )
            .bind(&e.event_id)
            .bind(to_ms(e.at))
            .bind(&e.kind)
            .bind(e.call_id.clone())
            .bind(&e.body)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                continue;
            }
            written += 1;
            if let Some(q) = &e.queue_row {
                insert_queue_event_in_tx(&mut tx, q).await?;
            }
        }
        tx.commit().await?;
        Ok(written)
    }

    /// The events published from `from` (included) to `to` (excluded), in log order, without
    /// their queue rows (read those with [`Store::queue_log_between`]).
    pub async fn events_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<LoggedEvent>> {
        let rows = sqlx::query(
            "SELECT event_id, at, kind, call_id, body FROM event_log \
             WHERE at >= $1 AND at < $2 ORDER BY id",
        )
        .bind(to_ms(from))
        .bind(to_ms(to))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(LoggedEvent {
                    event_id: r.try_get("event_id")?,
                    at: from_ms(r.try_get("at")?),
                    kind: r.try_get("kind")?,
                    call_id: r.try_get("call_id")?,
                    body: r.try_get("body")?,
                    queue_row: None,
                })
            })
            .collect()
    }

    /// The availability records (`system.started`, `system.stopping`, `system.heartbeat`,
    /// `component.state`) the reports need for `from` .. `to`, in time order: those of the
    /// period, and before it from the last start or stop (so the state at `from` is known),
    /// heartbeats only from the last one before `from` (the sign of life a crash at the
    /// period's start needs).
    pub async fn availability_records(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<LoggedEvent>> {
        let before = |kinds: &'static str| {
            let sql =
                format!("SELECT MAX(at) AS at FROM event_log WHERE kind IN ({kinds}) AND at < $1");
            async move {
                let row = sqlx::query(&sql)
                    .bind(to_ms(from))
                    .fetch_one(&self.pool)
                    .await?;
                Ok::<_, crate::error::Error>(row.try_get::<Option<i64>, _>("at")?)
            }
        };
        let anchor = before("'system.started', 'system.stopping'").await?;
        let beat = before("'system.heartbeat'").await?;
        let lo = anchor.unwrap_or(to_ms(from));
        let beats_from = beat.unwrap_or(to_ms(from)).max(lo);
        let rows = sqlx::query(
            "SELECT event_id, at, kind, call_id, body FROM event_log \
             WHERE at >= $1 AND at < $2 AND kind IN ('system.started', 'system.stopping', \
             'component.state', 'system.heartbeat') \
             AND (kind <> 'system.heartbeat' OR at >= $3) ORDER BY at, id",
        )
        .bind(lo)
        .bind(to_ms(to))
        .bind(beats_from)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(LoggedEvent {
                    event_id: r.try_get("event_id")?,
                    at: from_ms(r.try_get("at")?),
                    kind: r.try_get("kind")?,
                    call_id: r.try_get("call_id")?,
                    body: r.try_get("body")?,
                    queue_row: None,
                })
            })
            .collect()
    }

    /// The queue log rows of every call, from `from` (included) to `to` (excluded), in log
    /// order.
    pub async fn queue_log_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<QueueEvent>> {
        let rows = sqlx::query(
            "SELECT call_id, queue, at, kind, agent, detail FROM queue_events \
             WHERE at >= $1 AND at < $2 ORDER BY id",
        )
        .bind(to_ms(from))
        .bind(to_ms(to))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(queue_row).collect()
    }
}
