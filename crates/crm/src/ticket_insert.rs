//! The one way a ticket row comes to be (R-SR-1, R-SR-4): the day's number from the
//! counter, the row with its queue (`raw` when none is asked), escalation clocks and call
//! link, and the `created` history row, in the caller's transaction.
//!
//! [`TicketInsert`] is decided once, outside any transaction, by
//! [`Store::create_ticket`](crate::Store::create_ticket) and by every create inside a larger
//! transaction (the ticket of an answered call, bulk imports), and runs the same three
//! statements with the same values on every driver:
//! - [`TicketInsert::run`] through sqlx, inside a write transaction of the store (in-memory
//!   SQLite, and every create that is part of a larger unit of work);
//! - [`TicketInsert::run_sqlite`] through rusqlite, on the SQLite ticket writer's thread
//!   (`crate::writer`: API creates on SQLite files, group-committed; see DECISIONS.md);
//! - [`TicketInsert::run_group_pg`] through sqlx's PostgreSQL driver, on the PostgreSQL
//!   ticket writer (`crate::pg_writer`: API creates on PostgreSQL, group-committed), for many
//!   creates at once: the counter statement once per day with the group's count, and each
//!   row statement once for the whole group, its `$k` read from the k-th of as many arrays
//!   (`INSERT … SELECT … FROM UNNEST(…)`, built from the one-row statement by
//!   [`RowInsert::unnest`], so the values' expressions are written once).
//!
//! The statements are written once, with `$1`, `$2`, … parameters, which PostgreSQL, sqlx's
//! SQLite driver and SQLite itself (through rusqlite) all read; each parameter appears first
//! in its numeric order, so binding by position is binding by number on every driver.

use std::collections::{BTreeMap, HashMap};
use std::sync::LazyLock;

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{Any, PgConnection, Postgres, Row, Transaction};

use crate::clocks::TicketSla;
use crate::error::{Error, Result};
use crate::lifecycle::State;
use crate::number::{SystemId, day_key, format_number};
use crate::settings::Settings;
use crate::ticket::{NewTicket, Ticket};
use crate::types::{Actor, QueueId, TicketId, from_ms, to_ms};

/// The day's next `$2` numbers (1 for one create, N for a group of N dated that day); it
/// returns the last of them. The counter row is written first, so it serialises creators
/// on both databases (and across processes) until they commit.
const NEXT_COUNTER: &str = "INSERT INTO ticket_counter (day, counter) VALUES ($1, $2) \
     ON CONFLICT (day) DO UPDATE SET counter = ticket_counter.counter + excluded.counter \
     RETURNING counter";

/// An insert of one row, in parts: the table and its columns, the row's values over
/// `$1`…`$n` (expressions allowed, a parameter used more than once), what it returns.
struct RowInsert {
    into: &'static str,
    values: &'static str,
    returning: &'static str,
}

impl RowInsert {
    /// The statement for one row, on every driver.
    fn one(&self) -> String {
        format!("{} VALUES ({}){}", self.into, self.values, self.returning)
    }

    /// The same values for many rows on PostgreSQL: `$k` becomes the k-th of as many arrays
    /// of type `kinds[k - 1]`, unnested in step; rows go in in the arrays' order.
    fn unnest(&self, kinds: &[&str]) -> String {
        let values = rename_params(self.values, |k| format!("r.p{k}"));
        let arrays: Vec<String> = (1..=kinds.len())
            .zip(kinds)
            .map(|(k, kind)| format!("${k}::{kind}[]"))
            .collect();
        let names: Vec<String> = (1..=kinds.len()).map(|k| format!("p{k}")).collect();
        format!(
            "{} SELECT {values} FROM UNNEST({}) WITH ORDINALITY AS r({}, ord) ORDER BY r.ord{}",
            self.into,
            arrays.join(", "),
            names.join(", "),
            self.returning
        )
    }
}

/// `sql` with every `$k` replaced by `name(k)`.
fn rename_params(sql: &str, name: impl Fn(&str) -> String) -> String {
    let mut parts = sql.split('$');
    let mut out = parts.next().unwrap_or_default().to_string();
    for part in parts {
        let digits = part.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            out.push('$');
            out.push_str(part);
        } else {
            out.push_str(&name(&part[..digits]));
            out.push_str(&part[digits..]);
        }
    }
    out
}

/// The row; a ticket asked with no queue goes to `raw`. It returns its number too, by which
/// a group's rows are told apart.
const INSERT_TICKET: RowInsert = RowInsert {
    into: "INSERT INTO tickets (number, title, queue_id, state, locked, owner_id, \
         responsible_id, priority, ticket_type, channel, customer_id, call_id, service_area, \
         created, changed, first_response_due, update_due, update_from, solution_due, \
         sla_next_due)",
    values: "$1, $2, COALESCE($3, (SELECT id FROM queues WHERE name = 'raw')), $4, FALSE, \
         $5, $6, $7, $8, $9, $10, $11, $12, $13, $13, $14, $15, $16, $17, $18",
    returning: " RETURNING id, queue_id, number",
};

/// Its first history row: `created`, with the number.
const INSERT_CREATED: RowInsert = RowInsert {
    into: "INSERT INTO ticket_history (ticket_id, at, actor_id, kind, old_value, new_value, \
         note)",
    values: "$1, $2, $3, 'created', NULL, $4, NULL",
    returning: "",
};

static ONE_TICKET: LazyLock<String> = LazyLock::new(|| INSERT_TICKET.one());
static ONE_CREATED: LazyLock<String> = LazyLock::new(|| INSERT_CREATED.one());

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

    /// The counter statement's values: `count` numbers on `day`.
    fn counter_params(day: NaiveDate, count: i64) -> Vec<Param> {
        vec![text(day_key(day)), int(count)]
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
        let counter: i64 = bind(NEXT_COUNTER, Self::counter_params(self.day, 1))
            .fetch_one(&mut **tx)
            .await?
            .try_get(0)?;
        let number = self.number(counter);
        let row = bind(&ONE_TICKET, self.row_params(&number))
            .fetch_one(&mut **tx)
            .await?;
        let (id, queue): (i64, i64) = (row.try_get(0)?, row.try_get(1)?);
        bind(&ONE_CREATED, self.created_params(id, &number))
            .execute(&mut **tx)
            .await?;
        Ok(self.ticket(id, number, queue))
    }

    /// Inserts through rusqlite inside `tx` (the SQLite ticket writer's transaction).
    pub(crate) fn run_sqlite(&self, tx: &rusqlite::Transaction<'_>) -> rusqlite::Result<Ticket> {
        let params = rusqlite::params_from_iter;
        let counter: i64 = tx
            .prepare_cached(NEXT_COUNTER)?
            .query_row(params(Self::counter_params(self.day, 1)), |r| r.get(0))?;
        let number = self.number(counter);
        let (id, queue): (i64, i64) = tx
            .prepare_cached(&ONE_TICKET)?
            .query_row(params(self.row_params(&number)), |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?;
        tx.prepare_cached(&ONE_CREATED)?
            .execute(params(self.created_params(id, &number)))?;
        Ok(self.ticket(id, number, queue))
    }

    /// Inserts `group` through sqlx's PostgreSQL driver on `conn`, inside its transaction,
    /// with the statements of [`Self::run`] and the same values, each statement once for the
    /// whole group: the counter once per day (days in ascending order, so concurrent groups
    /// lock the counter rows in one order) by the number of creates dated on it, numbering
    /// them in `group`'s order; then the rows, then their `created` rows, in that order too.
    /// One row refused refuses the statement, and the transaction: the caller then runs each
    /// create alone, as a group of one, to tell which (see `crate::pg_writer`).
    pub(crate) async fn run_group_pg(
        group: &[&TicketInsert],
        conn: &mut PgConnection,
    ) -> Result<Vec<Ticket>> {
        if group.is_empty() {
            // Nothing to number, and `UNNEST()` of no arrays is no statement.
            return Ok(Vec::new());
        }
        let mut days: BTreeMap<NaiveDate, i64> = BTreeMap::new();
        for insert in group {
            *days.entry(insert.day).or_default() += 1;
        }
        for (day, count) in days.iter_mut() {
            let last: i64 = bind(NEXT_COUNTER, Self::counter_params(*day, *count))
                .fetch_one(&mut *conn)
                .await?
                .try_get(0)?;
            // From now on the day's next counter to give.
            *count = last - *count + 1;
        }
        let mut numbers = Vec::with_capacity(group.len());
        for insert in group {
            let next = days.entry(insert.day).or_default();
            numbers.push(insert.number(*next));
            *next += 1;
        }
        let rows = group.iter().zip(&numbers);
        let (sql, values) = columns(rows.map(|(i, n)| i.row_params(n)), &INSERT_TICKET)?;
        let mut inserted = HashMap::with_capacity(group.len());
        for row in bind_columns(&sql, values).fetch_all(&mut *conn).await? {
            let (id, queue, number): (i64, i64, String) =
                (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
            inserted.insert(number, (id, queue));
        }
        let mut tickets = Vec::with_capacity(group.len());
        for (insert, number) in group.iter().zip(numbers) {
            let (id, queue) = inserted
                .get(&number)
                .copied()
                .ok_or_else(|| Error::not_found("inserted ticket", &number))?;
            tickets.push(insert.ticket(id, number, queue));
        }
        let created = group.iter().zip(&tickets);
        let created = created.map(|(i, t)| i.created_params(t.id.0, &t.number));
        let (sql, values) = columns(created, &INSERT_CREATED)?;
        bind_columns(&sql, values).execute(&mut *conn).await?;
        Ok(tickets)
    }
}

/// One column of a group's values, as the array bound for its parameter.
enum Column {
    Int(Vec<Option<i64>>),
    Text(Vec<Option<String>>),
}

/// The group's `rows` (each the values of one row of `insert`) as columns, with the
/// statement that unnests them.
fn columns(
    rows: impl ExactSizeIterator<Item = Vec<Param>>,
    insert: &RowInsert,
) -> Result<(String, Vec<Column>)> {
    let n = rows.len();
    let mut columns: Vec<Column> = Vec::new();
    for (i, row) in rows.enumerate() {
        if i == 0 {
            columns = row
                .iter()
                .map(|p| match p {
                    Param::Int(_) => Column::Int(Vec::with_capacity(n)),
                    Param::Text(_) => Column::Text(Vec::with_capacity(n)),
                })
                .collect();
        }
        if row.len() != columns.len() {
            return Err(Error::invalid(
                "ticket group",
                "rows of one width",
                row.len(),
            ));
        }
        for (column, p) in columns.iter_mut().zip(row) {
            match (column, p) {
                (Column::Int(c), Param::Int(v)) => c.push(v),
                (Column::Text(c), Param::Text(v)) => c.push(v),
                (_, p) => {
                    return Err(Error::invalid(
                        "ticket group",
                        "one type per column",
                        format!("{p:?}"),
                    ));
                }
            }
        }
    }
    let kinds: Vec<&str> = columns
        .iter()
        .map(|c| match c {
            Column::Int(_) => "int8",
            Column::Text(_) => "text",
        })
        .collect();
    Ok((insert.unnest(&kinds), columns))
}

fn bind_columns(
    sql: &str,
    columns: Vec<Column>,
) -> sqlx::query::Query<'_, Postgres, sqlx::postgres::PgArguments> {
    columns.into_iter().fold(sqlx::query(sql), |q, c| match c {
        Column::Int(v) => q.bind(v),
        Column::Text(v) => q.bind(v),
    })
}

fn bind<'q, DB: sqlx::Database>(
    sql: &'q str,
    params: Vec<Param>,
) -> sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments<'q>>
where
    Option<i64>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<String>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    params.into_iter().fold(sqlx::query(sql), |q, p| match p {
        Param::Int(v) => q.bind(v),
        Param::Text(v) => q.bind(v),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one_insert() -> TicketInsert {
        TicketInsert::new(
            NewTicket::new("t", crate::types::Channel::Phone),
            None,
            TicketSla::default(),
            Actor::System,
            DateTime::<Utc>::UNIX_EPOCH,
            &Settings::default(),
        )
    }

    /// Binding by position is binding by number only if `$n` first appears after `$n-1`.
    #[test]
    fn parameters_first_appear_in_their_order() {
        for sql in [NEXT_COUNTER, &ONE_TICKET, &ONE_CREATED] {
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
        let insert = one_insert();
        let count = |sql: &str| (1..40).filter(|n| sql.contains(&format!("${n}"))).count();
        let counter = TicketInsert::counter_params(insert.day, 1);
        assert_eq!(counter.len(), count(NEXT_COUNTER));
        assert_eq!(insert.row_params("n").len(), count(&ONE_TICKET));
        assert_eq!(insert.created_params(1, "n").len(), count(&ONE_CREATED));
    }

    /// The group statement is the one-row statement with each `$k` read from the k-th array.
    #[test]
    fn a_group_unnests_the_values_of_one_row() {
        let insert = one_insert();
        let (sql, columns) =
            columns([insert.created_params(7, "n")].into_iter(), &INSERT_CREATED).unwrap();
        assert_eq!(
            sql,
            "INSERT INTO ticket_history (ticket_id, at, actor_id, kind, old_value, new_value, \
             note) SELECT r.p1, r.p2, r.p3, 'created', NULL, r.p4, NULL \
             FROM UNNEST($1::int8[], $2::int8[], $3::int8[], $4::text[]) \
             WITH ORDINALITY AS r(p1, p2, p3, p4, ord) ORDER BY r.ord"
        );
        assert_eq!(columns.len(), 4);
        let (sql, columns) = columns_of_tickets(&[&insert, &insert]).unwrap();
        assert!(sql.contains("COALESCE(r.p3, (SELECT id FROM queues WHERE name = 'raw'))"));
        assert!(sql.contains("r.p13, r.p13, r.p14"), "{sql}");
        assert!(
            sql.ends_with("ORDER BY r.ord RETURNING id, queue_id, number"),
            "{sql}"
        );
        assert_eq!(columns.len(), 18);
        assert!(matches!(&columns[0], Column::Text(v) if v.len() == 2));
    }

    fn columns_of_tickets(group: &[&TicketInsert]) -> Result<(String, Vec<Column>)> {
        columns(group.iter().map(|i| i.row_params("n")), &INSERT_TICKET)
    }

    #[test]
    fn rows_of_another_shape_are_refused_not_bound() {
        let rows = vec![vec![int(1), text("a")], vec![text("b"), int(2)]];
        assert!(columns(rows.into_iter(), &INSERT_CREATED).is_err());
        let rows = vec![vec![int(1)], vec![int(1), int(2)]];
        assert!(columns(rows.into_iter(), &INSERT_CREATED).is_err());
    }

    #[test]
    fn only_numbered_dollars_are_renamed() {
        assert_eq!(
            rename_params("$1 + $12 || '$'", |k| format!("p{k}")),
            "p1 + p12 || '$'"
        );
    }
}
