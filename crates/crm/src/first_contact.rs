//! Resolved at first contact (SLA.C.4) and the facts the reports read about Service
//! Requests (issue 15).
//!
//! A ticket carries the flag once it has been judged: when it is closed, the caller of
//! [`Store::judge_first_contact`] says whether the closing operator is the one who took the
//! call and closed it during the call or its wrap-up (the console knows the agent's state);
//! an operator or supervisor can correct it later ([`Store::correct_first_contact`]). Each
//! judgement and correction is a history row of the ticket (`first_contact`).

use chrono::{DateTime, Utc};
use sqlx::Row;

use crate::error::Result;
use crate::store::Store;
use crate::tickets::record;
use crate::types::{Actor, TicketId, UserId, flag, from_ms, to_ms};

/// A ticket's first-contact flag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirstContact {
    /// Resolved at first contact.
    pub first_contact: bool,
    /// Set by an operator's correction rather than at closing.
    pub corrected: bool,
    /// Who closed or corrected it.
    pub by: Option<UserId>,
    /// When.
    pub at: DateTime<Utc>,
}

/// One Service Request as the reports read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketFacts {
    /// Its number.
    pub number: String,
    /// Wire name (`phone`, `email`, …).
    pub channel: String,
    /// Its queue now.
    pub queue: String,
    /// Wire name of its type.
    pub ticket_type: String,
    /// When it was created.
    pub created: DateTime<Utc>,
    /// Taken in charge: the first operator action.
    pub first_response_at: Option<DateTime<Utc>>,
    /// Closed (cleared on reopen).
    pub closed: Option<DateTime<Utc>>,
    /// The call that opened it.
    pub call_id: Option<String>,
    /// `None` until judged.
    pub first_contact: Option<bool>,
}

impl Store {
    async fn set_first_contact(
        &self,
        ticket: TicketId,
        value: bool,
        corrected: bool,
        actor: Actor,
        at: DateTime<Utc>,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        Self::set_first_contact_in_tx(&mut tx, ticket, value, corrected, actor, at).await?;
        tx.commit().await?;
        Ok(())
    }

    /// [`Store::judge_first_contact`] of a ticket created in `tx` (bulk import): it has no
    /// correction to keep.
    pub(crate) async fn set_first_contact_in_tx(
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        ticket: TicketId,
        value: bool,
        corrected: bool,
        actor: Actor,
        at: DateTime<Utc>,
    ) -> Result<()> {
        let old =
            sqlx::query("SELECT first_contact FROM ticket_first_contact WHERE ticket_id = $1")
                .bind(ticket.0)
                .fetch_optional(&mut **tx)
                .await?
                .map(|r| flag(&r, "first_contact"))
                .transpose()?;
        sqlx::query(
            "INSERT INTO ticket_first_contact (ticket_id, first_contact, corrected, by_id, at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (ticket_id) DO UPDATE SET \
             first_contact = excluded.first_contact, corrected = excluded.corrected, \
             by_id = excluded.by_id, at = excluded.at",
        )
        .bind(ticket.0)
        .bind(value)
        .bind(corrected)
        .bind(actor.user_id())
        .bind(to_ms(at))
        .execute(&mut **tx)
        .await?;
        record(
            tx,
            ticket,
            at,
            actor,
            "first_contact",
            old.map(|b| b.to_string()),
            Some(value.to_string()),
            corrected.then(|| "corrected".to_owned()),
        )
        .await
    }

    /// Whether a Service Request was opened by the call `call_id` (any channel).
    pub async fn has_ticket_for_call(&self, call_id: &str) -> Result<bool> {
        let found: Option<i64> = sqlx::query_scalar("SELECT id FROM tickets WHERE call_id = $1")
            .bind(call_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(found.is_some())
    }

    /// Records, at closing, whether the ticket was resolved at first contact. A ticket
    /// already corrected by an operator keeps the correction (a reopen and a second close do
    /// not undo a person's judgement).
    pub async fn judge_first_contact(
        &self,
        ticket: TicketId,
        value: bool,
        actor: Actor,
        at: DateTime<Utc>,
    ) -> Result<()> {
        if self
            .first_contact(ticket)
            .await?
            .is_some_and(|f| f.corrected)
        {
            return Ok(());
        }
        self.set_first_contact(ticket, value, false, actor, at)
            .await
    }

    /// An operator's correction of the flag.
    pub async fn correct_first_contact(
        &self,
        ticket: TicketId,
        value: bool,
        by: UserId,
        at: DateTime<Utc>,
    ) -> Result<()> {
        self.set_first_contact(ticket, value, true, Actor::User(by), at)
            .await
    }

    /// The ticket's flag, `None` until judged.
    pub async fn first_contact(&self, ticket: TicketId) -> Result<Option<FirstContact>> {
        let row = sqlx::query(
            "SELECT first_contact, corrected, by_id, at FROM ticket_first_contact \
             WHERE ticket_id = $1",
        )
        .bind(ticket.0)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(FirstContact {
                first_contact: flag(&r, "first_contact")?,
                corrected: flag(&r, "corrected")?,
                by: r.try_get::<Option<i64>, _>("by_id")?.map(UserId),
                at: from_ms(r.try_get("at")?),
            })
        })
        .transpose()
    }

    /// The Service Requests created from `from` (included) to `to` (excluded), oldest first.
    pub async fn ticket_facts(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<TicketFacts>> {
        let rows = sqlx::query(
            "SELECT t.number, t.channel, q.name AS queue, t.ticket_type, t.created, \
             t.first_response_at, t.closed, t.call_id, f.first_contact \
             FROM tickets t JOIN queues q ON q.id = t.queue_id \
             LEFT JOIN ticket_first_contact f ON f.ticket_id = t.id \
             WHERE t.created >= $1 AND t.created < $2 ORDER BY t.created, t.id",
        )
        .bind(to_ms(from))
        .bind(to_ms(to))
        .fetch_all(&self.pool)
        .await?;
        let ms = |r: &sqlx::any::AnyRow, c: &str| -> Result<Option<DateTime<Utc>>> {
            Ok(r.try_get::<Option<i64>, _>(c)?.map(from_ms))
        };
        rows.iter()
            .map(|r| {
                // A nullable flag: PostgreSQL BOOLEAN or SQLite INTEGER.
                let first_contact = match r.try_get::<Option<bool>, _>("first_contact") {
                    Ok(b) => b,
                    Err(_) => r
                        .try_get::<Option<i64>, _>("first_contact")?
                        .map(|v| v != 0),
                };
                Ok(TicketFacts {
                    number: r.try_get("number")?,
                    channel: r.try_get("channel")?,
                    queue: r.try_get("queue")?,
                    ticket_type: r.try_get("ticket_type")?,
                    created: from_ms(r.try_get("created")?),
                    first_response_at: ms(r, "first_response_at")?,
                    closed: ms(r, "closed")?,
                    call_id: r.try_get("call_id")?,
                    first_contact,
                })
            })
            .collect()
    }
}
