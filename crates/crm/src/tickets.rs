//! Service Requests: creation with an OTRS number, reading, life-cycle actions and history
//! (R-SR-3, R-SR-4, R-SR-5 "full history of every change", R-SR-6).

use chrono::{DateTime, Utc};
use sqlx::{Any, Row, Transaction};

use crate::error::{Error, Result};
use crate::lifecycle::{self, Action, Change, State};
use crate::store::Store;
pub use crate::ticket::{HistoryEntry, NewTicket, Ticket};
use crate::ticket::{TICKET_COLUMNS, ticket_from_row};
use crate::ticket_insert::TicketInsert;
use crate::types::{Actor, CustomerId, QueueId, TicketId, UserId, from_ms, to_ms};

/// Appends one history row.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn record(
    tx: &mut Transaction<'static, Any>,
    ticket: TicketId,
    at: DateTime<Utc>,
    actor: Actor,
    kind: &str,
    old: Option<String>,
    new: Option<String>,
    note: Option<String>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO ticket_history (ticket_id, at, actor_id, kind, old_value, new_value, note) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(ticket.0)
    .bind(to_ms(at))
    .bind(actor.user_id())
    .bind(kind)
    .bind(old)
    .bind(new)
    .bind(note)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Appends one history row per change in a single statement (a lock, say, changes state,
/// lock and owner at once), in the order of `changes`.
async fn record_changes(
    tx: &mut Transaction<'static, Any>,
    ticket: TicketId,
    at: DateTime<Utc>,
    actor: Actor,
    changes: &[Change],
    note: Option<&str>,
) -> Result<()> {
    if changes.is_empty() {
        return Ok(());
    }
    // $1 ticket, $2 time, $3 actor, $4 note, then kind, old and new value of each change.
    let rows: Vec<String> = (0..changes.len())
        .map(|i| {
            let p = 5 + 3 * i;
            format!("($1, $2, $3, ${p}, ${}, ${}, $4)", p + 1, p + 2)
        })
        .collect();
    let sql = format!(
        "INSERT INTO ticket_history (ticket_id, at, actor_id, kind, old_value, new_value, note) \
         VALUES {}",
        rows.join(", ")
    );
    let mut q = sqlx::query(&sql)
        .bind(ticket.0)
        .bind(to_ms(at))
        .bind(actor.user_id())
        .bind(note.map(str::to_string));
    for c in changes {
        let (old, new) = c.values();
        q = q.bind(c.kind()).bind(old).bind(new);
    }
    q.execute(&mut **tx).await?;
    Ok(())
}

impl Store {
    /// The id of the `raw` queue (created by the first migration).
    pub async fn raw_queue(&self) -> Result<QueueId> {
        self.queue_by_name("raw")
            .await?
            .ok_or_else(|| Error::not_found("queue", "raw"))
    }

    /// Creates a Service Request numbered for `now`'s day in [`crate::Settings::time_zone`];
    /// history gets `created`. On an SQLite file or PostgreSQL the create goes to the store's
    /// ticket writer, committed with whatever other creates wait (group commit, see
    /// `crate::writer` and `crate::pg_writer`), and answered once committed; on in-memory
    /// SQLite it is a write transaction of its own. Either way the same statements write it
    /// (`crate::ticket_insert`).
    pub async fn create_ticket(
        &self,
        new: NewTicket,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<Ticket> {
        let insert = self.ticket_insert(new, actor, now).await?;
        if let Some(writer) = &self.ticket_writer {
            return writer.create(insert).await;
        }
        let mut tx = self.begin_write().await?;
        let t = insert.run(&mut tx).await?;
        tx.commit().await?;
        Ok(t)
    }

    /// Creates a ticket inside `tx`, part of a larger unit of work (the ticket of an answered
    /// call, a bulk import): the same [`TicketInsert`] as [`Self::create_ticket`].
    pub(crate) async fn create_in_tx(
        &self,
        tx: &mut Transaction<'static, Any>,
        new: &NewTicket,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<Ticket> {
        self.ticket_insert(new.clone(), actor, now)
            .await?
            .run(tx)
            .await
    }

    /// Decides a create: its queue (`raw` when none is asked, looked up here only when some
    /// queue has escalation targets, else by the insert) and the clocks the queue starts.
    async fn ticket_insert(
        &self,
        new: NewTicket,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<TicketInsert> {
        let queue = match new.queue {
            Some(q) => Some(q),
            None if self.has_queue_slas() => Some(self.raw_queue().await?),
            None => None,
        };
        let clocks = queue
            .map(|q| self.clocks_at_creation(q, now))
            .unwrap_or_default();
        Ok(TicketInsert::new(
            new,
            queue,
            clocks,
            actor,
            now,
            &self.settings,
        ))
    }

    pub(crate) async fn ticket_in_tx(
        &self,
        tx: &mut Transaction<'static, Any>,
        id: TicketId,
    ) -> Result<Ticket> {
        let sql = format!(
            "SELECT {TICKET_COLUMNS} FROM tickets WHERE id = $1{}",
            self.for_update()
        );
        let row = sqlx::query(&sql)
            .bind(id.0)
            .fetch_optional(&mut **tx)
            .await?
            .ok_or_else(|| Error::not_found("ticket", id))?;
        ticket_from_row(&row)
    }

    /// How many tickets the store holds.
    pub async fn ticket_count(&self) -> Result<u64> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tickets")
            .fetch_one(&self.pool)
            .await?;
        Ok(n as u64)
    }

    /// A ticket by id.
    pub async fn ticket(&self, id: TicketId) -> Result<Ticket> {
        let sql = format!("SELECT {TICKET_COLUMNS} FROM tickets WHERE id = $1");
        let row = sqlx::query(&sql)
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| Error::not_found("ticket", id))?;
        ticket_from_row(&row)
    }

    /// A ticket by its number.
    pub async fn ticket_by_number(&self, number: &str) -> Result<Ticket> {
        let sql = format!("SELECT {TICKET_COLUMNS} FROM tickets WHERE number = $1");
        let row = sqlx::query(&sql)
            .bind(number)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| Error::not_found("ticket", number))?;
        ticket_from_row(&row)
    }

    /// Applies a life-cycle [`Action`] (R-SR-3); every change goes to history. Closing a
    /// ticket also closes its open children (R-SR-8, see [`crate::links`]).
    pub async fn act(
        &self,
        id: TicketId,
        actor: Actor,
        action: Action,
        now: DateTime<Utc>,
    ) -> Result<Ticket> {
        let mut tx = self.begin_write().await?;
        let changes = self
            .act_in_tx(&mut tx, id, actor, &action, now, None)
            .await?;
        if let Action::Close { successful } = action
            && changes.iter().any(|c| matches!(c, Change::State { .. }))
        {
            // R-SR-8: closing the parent closes the children.
            self.close_children_in_tx(&mut tx, id, successful, now)
                .await?;
        }
        let t = self.ticket_in_tx(&mut tx, id).await?;
        tx.commit().await?;
        Ok(t)
    }

    /// Checks and writes `action` inside `tx`; `note` goes on every history row it writes.
    pub(crate) async fn act_in_tx(
        &self,
        tx: &mut Transaction<'static, Any>,
        id: TicketId,
        actor: Actor,
        action: &Action,
        now: DateTime<Utc>,
        note: Option<&str>,
    ) -> Result<Vec<Change>> {
        self.act_in_tx_with(tx, id, actor, action, now, note, false)
            .await
    }

    /// As [`Self::act_in_tx`]; `customer_visible`: the action goes with a customer-visible
    /// article (it restarts the update clock when an operator writes it).
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn act_in_tx_with(
        &self,
        tx: &mut Transaction<'static, Any>,
        id: TicketId,
        actor: Actor,
        action: &Action,
        now: DateTime<Utc>,
        note: Option<&str>,
        customer_visible: bool,
    ) -> Result<Vec<Change>> {
        let before = self.ticket_in_tx(tx, id).await?;
        let snap = before.snapshot();
        let changes = lifecycle::apply(&snap, actor, action, now)?;
        let mut after = snap;
        after.apply_changes(&changes);
        // The escalation clocks (crate::sla): a move recomputes them; an operator's action
        // takes the ticket in charge; a customer-visible article or an explicit state change
        // by an operator is an update.
        let mut clocks = before.sla;
        if after.queue != before.queue {
            clocks.requeued(before.created, self.queue_sla(after.queue).as_ref());
        }
        if actor.user_id().is_some() {
            let state_set = matches!(action, Action::Open | Action::Pending { .. })
                && changes.iter().any(|c| matches!(c, Change::State { .. }));
            let targets = self.queue_sla(after.queue);
            clocks.operator_acted(now, customer_visible || state_set, targets.as_ref());
        }
        if changes.is_empty() {
            if clocks != before.sla {
                self.write_clocks_in_tx(tx, id, &clocks, after.state)
                    .await?;
            }
            return Ok(changes);
        }
        let closed = if after.state.is_closed() {
            before.closed.or(Some(now))
        } else {
            None
        };
        sqlx::query(
            "UPDATE tickets SET state = $1, locked = $2, owner_id = $3, responsible_id = $4, \
             queue_id = $5, priority = $6, ticket_type = $7, pending_until = $8, closed = $9, \
             changed = $10, first_response_due = $12, first_response_at = $13, \
             update_due = $14, update_from = $15, solution_due = $16, sla_next_due = $17 \
             WHERE id = $11",
        )
        .bind(after.state.as_str())
        .bind(after.locked)
        .bind(after.owner.map(|u| u.0))
        .bind(after.responsible.map(|u| u.0))
        .bind(after.queue.0)
        .bind(i64::from(after.priority.get()))
        .bind(after.ticket_type.as_str())
        .bind(after.pending_until.map(to_ms))
        .bind(closed.map(to_ms))
        .bind(to_ms(now))
        .bind(id.0)
        .bind(clocks.first_response_due.map(to_ms))
        .bind(clocks.first_response_at.map(to_ms))
        .bind(clocks.update_due.map(to_ms))
        .bind(clocks.update_from.map(to_ms))
        .bind(clocks.solution_due.map(to_ms))
        .bind(clocks.next_due(after.state).map(to_ms))
        .execute(&mut **tx)
        .await?;
        record_changes(tx, id, now, actor, &changes, note).await?;
        Ok(changes)
    }

    /// Sets the ticket's customer (seed 000 §4.4.2.2, "Persone → Cliente"); refused on
    /// merged tickets and tickets locked by someone else; history `customer`.
    pub async fn set_ticket_customer(
        &self,
        id: TicketId,
        customer: Option<CustomerId>,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<Ticket> {
        let mut tx = self.begin_write().await?;
        self.act_in_tx(&mut tx, id, actor, &Action::Touch, now, None)
            .await?;
        let before = self.ticket_in_tx(&mut tx, id).await?;
        if before.customer != customer {
            sqlx::query("UPDATE tickets SET customer_id = $1, changed = $2 WHERE id = $3")
                .bind(customer.map(|c| c.0))
                .bind(to_ms(now))
                .bind(id.0)
                .execute(&mut *tx)
                .await?;
            let old = before.customer.map(|c| c.to_string());
            let new = customer.map(|c| c.to_string());
            record(&mut tx, id, now, actor, "customer", old, new, None).await?;
        }
        let t = self.ticket_in_tx(&mut tx, id).await?;
        tx.commit().await?;
        Ok(t)
    }

    /// The ticket's history, oldest first.
    pub async fn history(&self, id: TicketId) -> Result<Vec<HistoryEntry>> {
        let rows = sqlx::query(
            "SELECT at, actor_id, kind, old_value, new_value, note FROM ticket_history \
             WHERE ticket_id = $1 ORDER BY id",
        )
        .bind(id.0)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(HistoryEntry {
                    at: from_ms(r.try_get("at")?),
                    actor: r.try_get::<Option<i64>, _>("actor_id")?.map(UserId),
                    kind: r.try_get("kind")?,
                    old: r.try_get("old_value")?,
                    new: r.try_get("new_value")?,
                    note: r.try_get("note")?,
                })
            })
            .collect()
    }

    /// Pending-reminder tickets whose time has come (OTRS "reminder reached"): the caller
    /// notifies each owner (R-SR-9); the tickets stay pending until someone acts.
    pub async fn due_reminders(&self, now: DateTime<Utc>) -> Result<Vec<Ticket>> {
        let sql = format!(
            "SELECT {TICKET_COLUMNS} FROM tickets WHERE state = $1 AND pending_until <= $2 \
             ORDER BY pending_until, id"
        );
        let rows = sqlx::query(&sql)
            .bind(State::PendingReminder.as_str())
            .bind(to_ms(now))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(ticket_from_row).collect()
    }

    /// The reminders to send now, each once per pending time: returns the due tickets not yet
    /// reminded for their current `pending_until`, marks them, and writes a `reminder` history
    /// row naming the owner (seed 001: "l'operatore che lo ha messo in attesa riceverà
    /// un'e-mail di promemoria"). Safe to call from several nodes: each ticket is returned once.
    pub async fn take_due_reminders(&self, now: DateTime<Utc>) -> Result<Vec<Ticket>> {
        let mut tx = self.begin_write().await?;
        let sql = format!(
            "SELECT {TICKET_COLUMNS} FROM tickets WHERE state = $1 AND pending_until <= $2 \
             AND (reminded_for IS NULL OR reminded_for <> pending_until) \
             ORDER BY pending_until, id{}",
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
        for t in &due {
            sqlx::query("UPDATE tickets SET reminded_for = pending_until WHERE id = $1")
                .bind(t.id.0)
                .execute(&mut *tx)
                .await?;
            let owner = t.owner.map(|o| o.to_string());
            let until = t.pending_until.map(|u| u.to_rfc3339());
            record(
                &mut tx,
                t.id,
                now,
                Actor::System,
                "reminder",
                until,
                owner,
                None,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(due)
    }
}
