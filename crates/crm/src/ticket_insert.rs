//! The one way a ticket row comes to be (R-SR-1, R-SR-4): the day's number from the
//! counter, the row with its queue (`raw` when none is asked), escalation clocks and call
//! link, and the `created` history row, in the caller's transaction.
//!
//! [`TicketInsert`] is decided once, outside any transaction, by
//! [`Store::create_ticket`](crate::Store::create_ticket) and by every create inside a larger
//! transaction (the ticket of an answered call, bulk imports), and runs the same three
//! statements with the same values on either driver:
//! - [`TicketInsert::run`] through sqlx, inside a write transaction of the store (PostgreSQL,
//!   in-memory SQLite, and every create that is part of a larger unit of work);
//! - [`TicketInsert::run_sqlite`] through rusqlite, on the SQLite ticket writer's thread
//!   (`crate::writer`: API creates on SQLite files, group-committed; see DECISIONS.md).
//!
//! The statements are written once, with `$1`, `$2`, … parameters, which PostgreSQL, sqlx's
//! SQLite driver and SQLite itself (through rusqlite) all read; each parameter appears first
//! in its numeric order, so binding by position is binding by number on every driver.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{Any, Row, Transaction};

use crate::clocks::TicketSla;
use crate::error::Result;
use crate::lifecycle::State;
use crate::number::{SystemId, day_key, format_number};
use crate::settings::Settings;
use crate::ticket::{NewTicket, Ticket};
use crate::types::{Actor, QueueId, TicketId, from_ms, to_ms};

/// The next number of the day: the counter row is written first, so it serialises creators
/// on both databases (and across processes).
const NEXT_COUNTER: &str = "INSERT INTO ticket_counter (day, counter) VALUES ($1, 1) \
     ON CONFLICT (day) DO UPDATE SET counter = ticket_counter.counter + 1 \
     RETURNING counter";

/// The row; a ticket asked with no queue goes to `raw`.
const INSERT_TICKET: &str = "INSERT INTO tickets (number, title, queue_id, state, locked, \
     owner_id, responsible_id, priority, ticket_type, channel, customer_id, call_id, \
     service_area, created, changed, first_response_due, update_due, update_from, \
     solution_due, sla_next_due) \
     VALUES ($1, $2, COALESCE($3, (SELECT id FROM queues WHERE name = 'raw')), $4, FALSE, $5, \
     $6, $7, $8, $9, $10, $11, $12, $13, $13, $14, $15, $16, $17, $18) \
     RETURNING id, queue_id";

/// Its first history row: `created`, with the number.
const INSERT_CREATED: &str = "INSERT INTO ticket_history (ticket_id, at, actor_id, kind, \
     old_value, new_value, note) VALUES ($1, $2, $3, 'created', NULL, $4, NULL)";

/// One bound value, the same on both drivers.
#[derive(Debug, Clone)]
enum Param {
    Int(Option<i64>),
    Text(Option<String>),
}

impl rusqlite::ToSql for Param {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        match self {
            Param::Int(v) => v.to_sql(),
            Param::Text(v) => v.to_sql(),
        }
    }
}

fn text(s: impl Into<String>) -> Param {
    Param::Text(Some(s.into()))
}

fn int(i: i64) -> Param {
    Param::Int(Some(i))
}

fn time(t: Option<DateTime<Utc>>) -> Param {
    Param::Int(t.map(to_ms))
}

/// A ticket to insert: everything decided but the number and the ids the database gives.
#[derive(Debug, Clone)]
pub(crate) struct TicketInsert {
    new: NewTicket,
    /// `None`: `raw`, looked up by the insert itself.
    queue: Option<QueueId>,
    clocks: TicketSla,
    actor: Actor,
    /// Creation time, at the database's precision (milliseconds).
    now: DateTime<Utc>,
    /// The day the number is dated on, in the settings' time zone.
    day: NaiveDate,
    system: SystemId,
}

impl TicketInsert {
    /// `new` by `actor` at `now` in `queue` (`None`: `raw`) with the escalation `clocks` its
    /// queue starts (see [`crate::clocks::QueueTargets`]).
    pub(crate) fn new(
        new: NewTicket,
        queue: Option<QueueId>,
        clocks: TicketSla,
        actor: Actor,
        now: DateTime<Utc>,
        settings: &Settings,
    ) -> Self {
        let ms = |t: Option<DateTime<Utc>>| t.map(|t| from_ms(to_ms(t)));
        TicketInsert {
            new,
            queue,
            clocks: TicketSla {
                first_response_due: ms(clocks.first_response_due),
                first_response_at: ms(clocks.first_response_at),
                update_due: ms(clocks.update_due),
                update_from: ms(clocks.update_from),
                solution_due: ms(clocks.solution_due),
            },
            actor,
            now: from_ms(to_ms(now)),
            day: now.with_timezone(&settings.time_zone).date_naive(),
            system: settings.system_id,
        }
    }

    fn counter_params(&self) -> Vec<Param> {
        vec![text(day_key(self.day))]
    }

    fn number(&self, counter: i64) -> String {
        format_number(self.day, self.system, counter as u64)
    }

    fn row_params(&self, number: &str) -> Vec<Param> {
        let n = &self.new;
        let c = &self.clocks;
        vec![
            text(number),
            text(n.title.clone()),
            Param::Int(self.queue.map(|q| q.0)),
            text(State::New.as_str()),
            Param::Int(n.owner.map(|u| u.0)),
            Param::Int(n.responsible.map(|u| u.0)),
            int(i64::from(n.priority.get())),
            text(n.ticket_type.as_str()),
            text(n.channel.as_str()),
            Param::Int(n.customer.map(|c| c.0)),
            Param::Text(n.call_id.clone()),
            Param::Text(n.service_area.clone()),
            int(to_ms(self.now)),
            time(c.first_response_due),
            time(c.update_due),
            time(c.update_from),
            time(c.solution_due),
            time(c.next_due(State::New)),
        ]
    }

    fn created_params(&self, id: i64, number: &str) -> Vec<Param> {
        vec![
            int(id),
            int(to_ms(self.now)),
            Param::Int(self.actor.user_id()),
            text(number),
        ]
    }

    /// The ticket as inserted, from what was asked and what the database gave.
    fn ticket(&self, id: i64, number: String, queue: i64) -> Ticket {
        let n = self.new.clone();
        Ticket {
            id: TicketId(id),
            number,
            title: n.title,
            queue: QueueId(queue),
            state: State::New,
            locked: false,
            owner: n.owner,
            responsible: n.responsible,
            priority: n.priority,
            ticket_type: n.ticket_type,
            channel: n.channel,
            customer: n.customer,
            call_id: n.call_id,
            service_area: n.service_area,
            parent: None,
            merged_into: None,
            created: self.now,
            changed: self.now,
            closed: None,
            pending_until: None,
            sla: self.clocks,
        }
    }

    /// Inserts through sqlx inside `tx` (which holds the write lock on SQLite).
    pub(crate) async fn run(&self, tx: &mut Transaction<'static, Any>) -> Result<Ticket> {
        let counter: i64 = bind(NEXT_COUNTER, self.counter_params())
            .fetch_one(&mut **tx)
            .await?
            .try_get(0)?;
        let number = self.number(counter);
        let row = bind(INSERT_TICKET, self.row_params(&number))
            .fetch_one(&mut **tx)
            .await?;
        let (id, queue): (i64, i64) = (row.try_get(0)?, row.try_get(1)?);
        bind(INSERT_CREATED, self.created_params(id, &number))
            .execute(&mut **tx)
            .await?;
        Ok(self.ticket(id, number, queue))
    }

    /// Inserts through rusqlite inside `tx` (the SQLite ticket writer's transaction).
    pub(crate) fn run_sqlite(&self, tx: &rusqlite::Transaction<'_>) -> rusqlite::Result<Ticket> {
        let params = rusqlite::params_from_iter;
        let counter: i64 = tx
            .prepare_cached(NEXT_COUNTER)?
            .query_row(params(self.counter_params()), |r| r.get(0))?;
        let number = self.number(counter);
        let (id, queue): (i64, i64) = tx
            .prepare_cached(INSERT_TICKET)?
            .query_row(params(self.row_params(&number)), |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?;
        tx.prepare_cached(INSERT_CREATED)?
            .execute(params(self.created_params(id, &number)))?;
        Ok(self.ticket(id, number, queue))
    }
}

fn bind(sql: &str, params: Vec<Param>) -> sqlx::query::Query<'_, Any, sqlx::any::AnyArguments<'_>> {
    params.into_iter().fold(sqlx::query(sql), |q, p| match p {
        Param::Int(v) => q.bind(v),
        Param::Text(v) => q.bind(v),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Binding by position is binding by number only if `$n` first appears after `$n-1`.
    #[test]
    fn parameters_first_appear_in_their_order() {
        for sql in [NEXT_COUNTER, INSERT_TICKET, INSERT_CREATED] {
            let mut seen = Vec::new();
            for part in sql.split('$').skip(1) {
                let digits: String = part.chars().take_while(char::is_ascii_digit).collect();
                let n: usize = digits.parse().unwrap();
                if !seen.contains(&n) {
                    assert_eq!(n, seen.len() + 1, "{sql}");
                    seen.push(n);
                }
            }
        }
    }

    #[test]
    fn the_values_match_the_parameters() {
        let settings = Settings::default();
        let insert = TicketInsert::new(
            NewTicket::new("t", crate::types::Channel::Phone),
            None,
            TicketSla::default(),
            Actor::System,
            DateTime::<Utc>::UNIX_EPOCH,
            &settings,
        );
        let count = |sql: &str| (1..40).filter(|n| sql.contains(&format!("${n}"))).count();
        assert_eq!(insert.counter_params().len(), count(NEXT_COUNTER));
        assert_eq!(insert.row_params("n").len(), count(INSERT_TICKET));
        assert_eq!(insert.created_params(1, "n").len(), count(INSERT_CREATED));
    }
}
