//! The agent's e-mail desk on the store side (issue 16): what a mail about a ticket needs to
//! know, and the mails the server sends on its own.
//!
//! - [`Store::mail_context`]: the ticket's number, title, queue, the citizen's name and
//!   address (the customer's e-mail, else the sender of the last message), the last inbound
//!   message (its Message-ID for `In-Reply-To`, its text for quoting) and whether the ticket
//!   may be written to on our own (not when an auto-reply, a bounce, a list or a fax opened it).
//! - [`Store::confirmations_due`] and [`Store::closures_due`]: tickets that should have had a
//!   confirmation (phone, voicemail, web requesters with an e-mail) or a closure mail and
//!   have none in the outbox yet (`confirmation:<id>`, `closure:<id>:<closed ms>`); the caller
//!   queues them with those dedup keys, so a crash between the query and the queueing only
//!   makes the next sweep find them again.
//! - [`Store::take_due_reminders_mailed`]: the pending reminders due now, each taken once per
//!   pending time, its mail queued in the same transaction that marks it reminded.
//! - [`Store::mail_desk_mark`]: from when each kind is looked for (set at the first start so
//!   the past is not written to; moved forward by the sweep).

use chrono::{DateTime, Utc};
use sqlx::{AnyConnection, Row};

use crate::error::Result;
use crate::lifecycle::State;
use crate::mail::OutgoingMail;
use crate::store::Store;
use crate::ticket::{TICKET_COLUMNS, Ticket, ticket_from_row};
use crate::types::{Actor, TicketId, from_ms, to_ms};

/// The last message the citizen sent on a ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastInbound {
    /// Its Message-ID (without brackets).
    pub message_id: Option<String>,
    /// Its sender's address.
    pub sender: Option<String>,
    /// When it was fetched.
    pub received: DateTime<Utc>,
    /// Its text, as the ticket's article shows it.
    pub body: String,
}

/// What a mail about a ticket needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailContext {
    /// The ticket.
    pub ticket: TicketId,
    /// Its number.
    pub number: String,
    /// Its title.
    pub title: String,
    /// Its queue's name.
    pub queue: String,
    /// Its owner's login.
    pub owner: Option<String>,
    /// Its state.
    pub state: State,
    /// When it was closed.
    pub closed: Option<DateTime<Utc>>,
    /// Its pending reminder time.
    pub pending_until: Option<DateTime<Utc>>,
    /// The citizen's name (the customer's, else the address).
    pub name: String,
    /// Where to write: the customer's e-mail, else the sender of the last message.
    pub address: Option<String>,
    /// May the server write on its own (confirmation, reminder, closure)? Not when the
    /// message that opened the ticket was automatic (bounce, auto-reply, list) or a fax.
    pub answerable: bool,
    /// The last inbound message (a personal one before automatic ones).
    pub last_in: Option<LastInbound>,
}

async fn context(conn: &mut AnyConnection, id: TicketId) -> Result<Option<MailContext>> {
    let Some(row) = sqlx::query(
        "SELECT t.id, t.number, t.title, t.state, t.closed, t.pending_until, q.name AS queue, \
         c.full_name, c.email, u.login AS owner_login FROM tickets t \
         JOIN queues q ON q.id = t.queue_id LEFT JOIN customers c ON c.id = t.customer_id \
         LEFT JOIN users u ON u.id = t.owner_id WHERE t.id = $1",
    )
    .bind(id.0)
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Ok(None);
    };
    let last = sqlx::query(
        "SELECT m.message_id, m.sender, m.received, a.body FROM mail_in m \
         LEFT JOIN articles a ON a.id = m.article_id WHERE m.ticket_id = $1 \
         ORDER BY CASE WHEN m.class = 'personal' THEN 0 ELSE 1 END, m.id DESC LIMIT 1",
    )
    .bind(id.0)
    .fetch_optional(&mut *conn)
    .await?;
    let last_in = last
        .map(|r| -> Result<LastInbound> {
            Ok(LastInbound {
                message_id: r.try_get("message_id")?,
                sender: r.try_get("sender")?,
                received: from_ms(r.try_get("received")?),
                body: r.try_get::<Option<String>, _>("body")?.unwrap_or_default(),
            })
        })
        .transpose()?;
    // The message that opened the ticket, when mail did.
    let opener: Option<String> = sqlx::query_scalar(
        "SELECT class FROM mail_in WHERE ticket_id = $1 AND opened = $2 ORDER BY id LIMIT 1",
    )
    .bind(id.0)
    .bind(true)
    .fetch_optional(&mut *conn)
    .await?;
    let email: Option<String> = row
        .try_get::<Option<String>, _>("email")?
        .filter(|e| !e.trim().is_empty());
    let address = email.or_else(|| last_in.as_ref().and_then(|l| l.sender.clone()));
    let full_name: Option<String> = row.try_get("full_name")?;
    let name = match full_name {
        Some(n) if !n.starts_with("guest ") && !n.trim().is_empty() => n,
        _ => address.clone().unwrap_or_default(),
    };
    Ok(Some(MailContext {
        ticket: TicketId(row.try_get("id")?),
        number: row.try_get("number")?,
        title: row.try_get("title")?,
        queue: row.try_get("queue")?,
        owner: row.try_get("owner_login")?,
        state: row.try_get::<String, _>("state")?.parse()?,
        closed: row.try_get::<Option<i64>, _>("closed")?.map(from_ms),
        pending_until: row.try_get::<Option<i64>, _>("pending_until")?.map(from_ms),
        name,
        address,
        answerable: opener.is_none_or(|c| c == "personal"),
        last_in,
    }))
}

/// The dedup key of a ticket's confirmation (the same one inbound mail uses).
pub fn confirmation_key(ticket: TicketId) -> String {
    format!("confirmation:{}", ticket.0)
}

/// The dedup key of a ticket's closure mail, one per closing.
pub fn closure_key(ticket: TicketId, closed: DateTime<Utc>) -> String {
    format!("closure:{}:{}", ticket.0, to_ms(closed))
}

/// The dedup key of a reminder, one per pending time.
pub fn reminder_key(ticket: TicketId, until: DateTime<Utc>) -> String {
    format!("reminder:{}:{}", ticket.0, to_ms(until))
}

impl Store {
    /// What a mail about `ticket` needs; [`crate::Error::NotFound`] for an unknown ticket.
    pub async fn mail_context(&self, ticket: TicketId) -> Result<MailContext> {
        let mut conn = self.pool.acquire().await?;
        context(&mut conn, ticket)
            .await?
            .ok_or_else(|| crate::Error::NotFound {
                what: "ticket",
                key: ticket.0.to_string(),
            })
    }

    /// From when the sweep of `name` looks; the first call stores `now` (the past is not
    /// written to when the feature is switched on).
    pub async fn mail_desk_mark(&self, name: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>> {
        let at: Option<i64> = sqlx::query_scalar("SELECT at FROM mail_desk_marks WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        if let Some(at) = at {
            return Ok(from_ms(at));
        }
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO mail_desk_marks (name, at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(to_ms(now))
        .execute(&mut *tx)
        .await?;
        let at: i64 = sqlx::query_scalar("SELECT at FROM mail_desk_marks WHERE name = $1")
            .bind(name)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(from_ms(at))
    }

    /// Moves the mark of `name` forward to `at` (never back).
    pub async fn set_mail_desk_mark(&self, name: &str, at: DateTime<Utc>) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE mail_desk_marks SET at = $2 WHERE name = $1 AND at < $2")
            .bind(name)
            .bind(to_ms(at))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn contexts(&self, ids: Vec<i64>) -> Result<Vec<MailContext>> {
        let mut conn = self.pool.acquire().await?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(c) = context(&mut conn, TicketId(id)).await? {
                out.push(c);
            }
        }
        Ok(out)
    }

    /// Phone, voicemail and web tickets opened since `since` whose customer has an e-mail
    /// address and that have no confirmation in the outbox, oldest first, at most `limit`.
    pub async fn confirmations_due(
        &self,
        since: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<MailContext>> {
        let ids: Vec<i64> = sqlx::query_scalar(
            "SELECT t.id FROM tickets t JOIN customers c ON c.id = t.customer_id \
             WHERE t.created >= $1 AND t.channel IN ('phone', 'voicemail', 'web') \
             AND t.state <> 'merged' AND c.email IS NOT NULL AND c.email <> '' \
             AND NOT EXISTS (SELECT 1 FROM mail_outbox o \
                 WHERE o.dedup_key = 'confirmation:' || CAST(t.id AS TEXT)) \
             ORDER BY t.id LIMIT $2",
        )
        .bind(to_ms(since))
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?;
        self.contexts(ids).await
    }

    /// Tickets closed since `since` (and still closed) without a closure mail for that
    /// closing in the outbox, oldest closing first, at most `limit`.
    pub async fn closures_due(&self, since: DateTime<Utc>, limit: u32) -> Result<Vec<MailContext>> {
        let ids: Vec<i64> = sqlx::query_scalar(
            "SELECT t.id FROM tickets t WHERE t.closed IS NOT NULL AND t.closed >= $1 \
             AND t.state IN ('closed_successful', 'closed_unsuccessful') \
             AND NOT EXISTS (SELECT 1 FROM mail_outbox o WHERE o.dedup_key = \
                 'closure:' || CAST(t.id AS TEXT) || ':' || CAST(t.closed AS TEXT)) \
             ORDER BY t.closed, t.id LIMIT $2",
        )
        .bind(to_ms(since))
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?;
        self.contexts(ids).await
    }

    /// The pending reminders due at `now`, each once per pending time (as
    /// [`Store::take_due_reminders`]: marked reminded, a `reminder` history row naming the
    /// owner), with the mail `make` builds for each queued in the same transaction, so a
    /// crash leaves either both or neither. Returns the tickets and whether a mail was queued.
    pub async fn take_due_reminders_mailed(
        &self,
        now: DateTime<Utc>,
        make: impl Fn(&MailContext) -> Option<OutgoingMail>,
    ) -> Result<Vec<(Ticket, MailContext, bool)>> {
        let mut tx = self.begin_write().await?;
        let sql = format!(
            "SELECT {TICKET_COLUMNS} FROM tickets WHERE state = $1 AND pending_until <= $2 \
             AND (reminded_for IS NULL OR reminded_for <> pending_until) \
             ORDER BY pending_until, id LIMIT 200{}",
            self.for_update()
        );
        let rows = sqlx::query(&sql)
            .bind(State::PendingReminder.as_str())
            .bind(to_ms(now))
            .fetch_all(&mut *tx)
            .await?;
        let due = rows
            .iter()
            .map(ticket_from_row)
            .collect::<Result<Vec<_>>>()?;
        let mut out = Vec::with_capacity(due.len());
        for t in due {
            sqlx::query("UPDATE tickets SET reminded_for = pending_until WHERE id = $1")
                .bind(t.id.0)
                .execute(&mut *tx)
                .await?;
            crate::tickets::record(
                &mut tx,
                t.id,
                now,
                Actor::System,
                "reminder",
                t.pending_until.map(|u| u.to_rfc3339()),
                t.owner.map(|o| o.to_string()),
                None,
            )
            .await?;
            let Some(ctx) = context(&mut tx, t.id).await? else {
                continue;
            };
            let mut queued = false;
            if let Some(mail) = make(&ctx) {
                queued = self
                    .queue_mail_in_tx(&mut tx, &mail, Actor::System, now)
                    .await?;
            }
            out.push((t, ctx, queued));
        }
        tx.commit().await?;
        Ok(out)
    }
}

impl Store {
    /// The earliest pending time not reminded yet (the reminder loop wakes for it).
    pub async fn next_pending_reminder(&self) -> Result<Option<DateTime<Utc>>> {
        let t: Option<i64> = sqlx::query_scalar(
            "SELECT MIN(pending_until) FROM tickets WHERE state = $1 \
             AND (reminded_for IS NULL OR reminded_for <> pending_until)",
        )
        .bind(State::PendingReminder.as_str())
        .fetch_one(&self.pool)
        .await?;
        Ok(t.map(from_ms))
    }
}
