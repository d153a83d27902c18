//! Escalation clocks (R-VM-2, issue "escalation"): per queue, first-response (taking in
//! charge), update and solution targets counted in working time on a
//! [`calendar::BusinessCalendar`] — a request left on Friday evening is due Monday morning
//! plus the working hours of the target, holidays skipped, in the calendar's time zone.
//!
//! The clocks live on the ticket ([`Ticket::sla`](crate::Ticket::sla)) and follow it:
//! - created in a queue with targets ([`Store::set_queue_sla`]): every clock starts;
//! - an operator's lock, article or other action stops the first clock (`first_response_at`);
//! - a customer-visible article or a state change by an operator restarts the update clock;
//! - a move to another queue recomputes every due time from the new queue's targets (from the
//!   creation for first response and solution, from the last update for the update clock);
//! - closing or merging stops them all (a reopened ticket is due again, late if it was).
//!
//! Each ticket also stores the earliest running due time (`sla_next_due`, indexed), so
//! [`Store::escalations`] and [`Store::due_tickets`] read an index range, whatever the number
//! of tickets.

use chrono::{DateTime, Duration, Utc};
use sqlx::Row;

pub use crate::clocks::{
    Clock, Escalation, EscalationWatch, QueueSla, QueueTargets, Stage, TicketSla,
};
use crate::error::Result;
use crate::lifecycle::State;
use crate::store::Store;
use crate::ticket::{TICKET_COLUMNS, Ticket, ticket_from_row};
use crate::types::{QueueId, TicketId, from_ms, to_ms};

impl Store {
    /// Sets (or with `None` removes) the targets of `queue`: tickets created in or moved to it
    /// from now on get clocks; tickets already there keep theirs. Configuration, not data:
    /// every node sets the same at start (and on reload).
    pub fn set_queue_sla(&self, queue: QueueId, targets: Option<QueueTargets>) {
        let mut map = self.queue_slas.write().unwrap_or_else(|e| e.into_inner());
        match targets {
            Some(t) => map.insert(queue, t),
            None => map.remove(&queue),
        };
    }

    /// The targets of `queue`, if any.
    pub fn queue_sla(&self, queue: QueueId) -> Option<QueueTargets> {
        self.queue_slas
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&queue)
            .cloned()
    }

    /// True when some queue has targets.
    pub(crate) fn has_queue_slas(&self) -> bool {
        !self
            .queue_slas
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty()
    }

    /// The clocks a ticket created now in `queue` starts with.
    pub(crate) fn clocks_at_creation(&self, queue: QueueId, now: DateTime<Utc>) -> TicketSla {
        self.queue_sla(queue)
            .map(|t| t.sla.start(t.update, now))
            .unwrap_or_default()
    }

    /// Starts (or restarts) a ticket's first-response and solution clocks at `now` under
    /// `sla`, whatever its queue's targets (voicemail tickets, R-VM-2).
    pub async fn start_sla(
        &self,
        ticket: TicketId,
        sla: &QueueSla,
        now: DateTime<Utc>,
    ) -> Result<TicketSla> {
        let mut tx = self.begin_write().await?;
        let t = self.ticket_in_tx(&mut tx, ticket).await?;
        let mut clocks = sla.due_from(now);
        clocks.update_due = t.sla.update_due;
        clocks.update_from = t.sla.update_from;
        self.write_clocks_in_tx(&mut tx, ticket, &clocks, t.state)
            .await?;
        tx.commit().await?;
        Ok(clocks)
    }

    /// A ticket's clocks; `None` when it has none.
    pub async fn sla_of(&self, ticket: TicketId) -> Result<Option<TicketSla>> {
        let t = self.ticket(ticket).await?;
        Ok((!t.sla.is_empty()).then_some(t.sla))
    }

    /// Writes a ticket's clocks and their earliest running due time.
    pub(crate) async fn write_clocks_in_tx(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        ticket: TicketId,
        sla: &TicketSla,
        state: State,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE tickets SET first_response_due = $1, first_response_at = $2, \
             update_due = $3, update_from = $4, solution_due = $5, sla_next_due = $6 \
             WHERE id = $7",
        )
        .bind(sla.first_response_due.map(to_ms))
        .bind(sla.first_response_at.map(to_ms))
        .bind(sla.update_due.map(to_ms))
        .bind(sla.update_from.map(to_ms))
        .bind(sla.solution_due.map(to_ms))
        .bind(sla.next_due(state).map(to_ms))
        .bind(ticket.0)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Clocks of open tickets due before `now + within`, overdue ones included, earliest
    /// first: the first clock until taken in charge, the update and solution clocks until
    /// the ticket closes. Reads the `sla_next_due` index range only.
    pub async fn escalations(
        &self,
        now: DateTime<Utc>,
        within: Duration,
    ) -> Result<Vec<Escalation>> {
        let horizon = now + within;
        let rows = sqlx::query(
            "SELECT id, number, queue_id, first_response_due, first_response_at, update_due, \
             solution_due FROM tickets \
             WHERE sla_next_due IS NOT NULL AND sla_next_due <= $1 ORDER BY sla_next_due, id",
        )
        .bind(to_ms(horizon))
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::new();
        for r in rows {
            let ms = |i: usize| -> Result<Option<DateTime<Utc>>> {
                Ok(r.try_get::<Option<i64>, _>(i)?.map(from_ms))
            };
            let sla = TicketSla {
                first_response_due: ms(3)?,
                first_response_at: ms(4)?,
                update_due: ms(5)?,
                update_from: None,
                solution_due: ms(6)?,
            };
            let ticket = TicketId(r.try_get(0)?);
            let number: String = r.try_get(1)?;
            let queue = QueueId(r.try_get(2)?);
            for (kind, due) in sla.running().filter(|(_, d)| *d <= horizon) {
                out.push(Escalation {
                    ticket,
                    number: number.clone(),
                    queue,
                    kind,
                    due,
                    overdue_by: (due <= now).then(|| now - due),
                });
            }
        }
        out.sort_by_key(|e| (e.due, e.ticket, e.kind));
        Ok(out)
    }

    /// Open tickets of `queues` (all when empty) whose earliest running clock falls before
    /// `now + within`, earliest first, at most `limit` (0 means 50): the desktop's "due"
    /// list. Each ticket carries its clocks in [`Ticket::sla`].
    pub async fn due_tickets(
        &self,
        queues: &[QueueId],
        now: DateTime<Utc>,
        within: Duration,
        limit: u32,
    ) -> Result<Vec<Ticket>> {
        let limit = if limit == 0 { 50 } else { limit.min(1000) };
        let filter = if queues.is_empty() {
            String::new()
        } else {
            let ps: Vec<String> = (0..queues.len()).map(|i| format!("${}", i + 2)).collect();
            format!(" AND queue_id IN ({})", ps.join(", "))
        };
        let sql = format!(
            "SELECT {TICKET_COLUMNS} FROM tickets \
             WHERE sla_next_due IS NOT NULL AND sla_next_due <= $1{filter} \
             ORDER BY sla_next_due, id LIMIT {limit}"
        );
        let mut q = sqlx::query(&sql).bind(to_ms(now + within));
        for queue in queues {
            q = q.bind(queue.0);
        }
        let rows = q.fetch_all(&self.pool).await?;
        rows.iter().map(ticket_from_row).collect()
    }
}
