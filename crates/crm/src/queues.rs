//! Queues (R-SR-3, R-ACD-1): named collections of tickets; `raw` exists from the start.

use chrono::{DateTime, Utc};
use sqlx::Row;

use crate::error::{Error, Result};
use crate::store::Store;
use crate::types::{QueueId, to_ms};

/// A queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queue {
    /// Id.
    pub id: QueueId,
    /// Unique name, e.g. `cittadini`, `secondo-livello`.
    pub name: String,
    /// Whether it is a second-level (back-office) queue (R-SR-11).
    pub second_level: bool,
}

impl Store {
    /// Creates a queue; a duplicate name is refused.
    pub async fn create_queue(
        &self,
        name: &str,
        second_level: bool,
        now: DateTime<Utc>,
    ) -> Result<Queue> {
        if self.queue_by_name(name).await?.is_some() {
            return Err(Error::Duplicate {
                what: "queue",
                key: name.to_string(),
            });
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO queues (name, second_level, created) VALUES ($1, $2, $3) RETURNING id",
        )
        .bind(name)
        .bind(second_level)
        .bind(to_ms(now))
        .fetch_one(&self.pool)
        .await?;
        Ok(Queue {
            id: QueueId(id),
            name: name.to_string(),
            second_level,
        })
    }

    /// The id of the queue called `name`, if any.
    pub async fn queue_by_name(&self, name: &str) -> Result<Option<QueueId>> {
        let id: Option<i64> = sqlx::query_scalar("SELECT id FROM queues WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        Ok(id.map(QueueId))
    }

    /// A queue by id.
    pub async fn queue(&self, id: QueueId) -> Result<Queue> {
        let row = sqlx::query("SELECT id, name, second_level FROM queues WHERE id = $1")
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| Error::not_found("queue", id))?;
        Ok(Queue {
            id: QueueId(row.try_get("id")?),
            name: row.try_get("name")?,
            second_level: crate::types::flag(&row, "second_level")?,
        })
    }

    /// All queues by name.
    pub async fn queues(&self) -> Result<Vec<Queue>> {
        let rows = sqlx::query("SELECT id, name, second_level FROM queues ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                Ok(Queue {
                    id: QueueId(row.try_get("id")?),
                    name: row.try_get("name")?,
                    second_level: crate::types::flag(row, "second_level")?,
                })
            })
            .collect()
    }
}

/// A queue's name, inside `tx`.
pub(crate) async fn queue_name_in_tx(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    id: QueueId,
) -> Result<String> {
    sqlx::query_scalar("SELECT name FROM queues WHERE id = $1")
        .bind(id.0)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or_else(|| Error::not_found("queue", id))
}
