//! Take-in-charge and resolution clocks (R-VM-2, escalation): a ticket whose queue has service
//! targets gets due times counted in working time on a [`calendar::BusinessCalendar`] — a
//! message left on Friday evening is due Monday morning plus the working hours of the target.
//! The first clock stops when an operator takes the ticket in charge (a lock or any action of
//! theirs); [`Store::escalations`] lists what is due soon or overdue, cheaply (indexed).

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use sqlx::Row;

use crate::error::Result;
use crate::store::Store;
use crate::types::{Actor, TicketId, from_ms, to_ms};

/// A queue's service targets, in working time on its calendar.
#[derive(Debug, Clone)]
pub struct QueueSla {
    /// The calendar the working time is counted on.
    pub calendar: Arc<calendar::BusinessCalendar>,
    /// Taking in charge (SLA.O.1: 4 working hours for off-line requests).
    pub first_response: Option<Duration>,
    /// Resolution (SLA.O.2/3: 24 or 48 working hours).
    pub solution: Option<Duration>,
}

/// A ticket's clocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct TicketSla {
    /// Due time of taking in charge.
    pub first_response_due: Option<DateTime<Utc>>,
    /// Due time of the resolution.
    pub solution_due: Option<DateTime<Utc>>,
    /// When an operator took it in charge (stops the first clock).
    pub first_response_at: Option<DateTime<Utc>>,
}

/// Which clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Clock {
    /// Taking in charge.
    FirstResponse,
    /// Resolution.
    Solution,
}

/// A clock due within the window asked for, or overdue.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Escalation {
    /// The ticket.
    pub ticket: TicketId,
    /// Its number.
    pub number: String,
    /// Which clock.
    pub clock: Clock,
    /// When it is (was) due.
    pub due: DateTime<Utc>,
    /// True when `due` has passed.
    pub overdue: bool,
}

impl QueueSla {
    /// The due times of a ticket whose clock starts at `from` (counted from the next opening
    /// when `from` is out of hours).
    pub fn due_from(&self, from: DateTime<Utc>) -> TicketSla {
        TicketSla {
            first_response_due: self
                .first_response
                .and_then(|d| self.calendar.add_working_time(from, d)),
            solution_due: self
                .solution
                .and_then(|d| self.calendar.add_working_time(from, d)),
            first_response_at: None,
        }
    }
}

impl Store {
    /// Starts (or restarts) a ticket's clocks at `now` under `sla`.
    pub async fn start_sla(
        &self,
        ticket: TicketId,
        sla: &QueueSla,
        now: DateTime<Utc>,
    ) -> Result<TicketSla> {
        let due = sla.due_from(now);
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM ticket_sla WHERE ticket_id = $1")
            .bind(ticket.0)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO ticket_sla (ticket_id, first_response_due, solution_due) \
             VALUES ($1, $2, $3)",
        )
        .bind(ticket.0)
        .bind(due.first_response_due.map(to_ms))
        .bind(due.solution_due.map(to_ms))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(due)
    }

    /// A ticket's clocks; `None` when its queue has no targets.
    pub async fn sla_of(&self, ticket: TicketId) -> Result<Option<TicketSla>> {
        let row = sqlx::query(
            "SELECT first_response_due, solution_due, first_response_at FROM ticket_sla \
             WHERE ticket_id = $1",
        )
        .bind(ticket.0)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(TicketSla {
                first_response_due: r.try_get::<Option<i64>, _>(0)?.map(from_ms),
                solution_due: r.try_get::<Option<i64>, _>(1)?.map(from_ms),
                first_response_at: r.try_get::<Option<i64>, _>(2)?.map(from_ms),
            })
        })
        .transpose()
    }

    /// Stops the first clock: an operator took the ticket in charge. Called inside the
    /// writing transaction of every operator action (no-op for the system or when stopped).
    pub(crate) async fn taken_in_charge_in_tx(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        ticket: TicketId,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<()> {
        if actor.user_id().is_none() {
            return Ok(());
        }
        sqlx::query(
            "UPDATE ticket_sla SET first_response_at = $1 \
             WHERE ticket_id = $2 AND first_response_at IS NULL",
        )
        .bind(to_ms(now))
        .bind(ticket.0)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Clocks of open tickets due before `now + within` (overdue ones included): the
    /// take-in-charge clock until it stops, the resolution clock until the ticket closes.
    pub async fn escalations(
        &self,
        now: DateTime<Utc>,
        within: Duration,
    ) -> Result<Vec<Escalation>> {
        let horizon = to_ms(now + within);
        let rows = sqlx::query(
            "SELECT t.id, t.number, s.first_response_due, s.solution_due, s.first_response_at \
             FROM ticket_sla s JOIN tickets t ON t.id = s.ticket_id \
             WHERE t.state NOT IN ('closed_successful', 'closed_unsuccessful', 'merged') \
             AND ((s.first_response_at IS NULL AND s.first_response_due <= $1) \
                  OR s.solution_due <= $1) \
             ORDER BY t.id",
        )
        .bind(horizon)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::new();
        for r in rows {
            let ticket = TicketId(r.try_get(0)?);
            let number: String = r.try_get(1)?;
            let first: Option<i64> = r.try_get(2)?;
            let solution: Option<i64> = r.try_get(3)?;
            let taken: Option<i64> = r.try_get(4)?;
            let mut push = |clock, due: i64| {
                out.push(Escalation {
                    ticket,
                    number: number.clone(),
                    clock,
                    due: from_ms(due),
                    overdue: due <= to_ms(now),
                })
            };
            if let Some(due) = first.filter(|d| taken.is_none() && *d <= horizon) {
                push(Clock::FirstResponse, due);
            }
            if let Some(due) = solution.filter(|d| *d <= horizon) {
                push(Clock::Solution, due);
            }
        }
        out.sort_by_key(|e| e.due);
        Ok(out)
    }
}
