//! Report facts (issue 15): the tables `report_calls`, `report_agent_hours`,
//! `report_closures` and `report_watermark` (migration 0014). The store does not know the
//! fold (crate `reports`): it keeps encoded call records with the span they mention, hour
//! sums and closures, and moves the watermark in the same transaction as the facts it covers
//! ([`Store::store_report_facts`]), compare-and-set, so two materializers never store a
//! chunk twice and a crash leaves the last committed chunk.
//!
//! Reads for a report ([`Store::report_read`]) run in one transaction that sees one state
//! (SQLite's read transaction; `REPEATABLE READ` on PostgreSQL): the watermark, the events
//! after it, the stored records of the calls they mention, and the facts of the period.

use chrono::{DateTime, Utc};
use sqlx::Row;

use crate::error::Result;
use crate::event_log::LoggedEvent;
use crate::store::{Backend, Store};
use crate::types::{from_ms, to_ms};

/// One stored call record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FactCall {
    /// The call.
    pub call_id: String,
    /// The earliest instant the record mentions.
    pub first_at: DateTime<Utc>,
    /// The latest instant the record mentions.
    pub last_at: DateTime<Utc>,
    /// The encoded record (`reports::facts::encode_call`).
    pub body: String,
}

/// An agent's time in one state within one hour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FactHour {
    /// The hour's first instant.
    pub hour: DateTime<Utc>,
    /// The agent's login.
    pub agent: String,
    /// Wire name of the state.
    pub state: String,
    /// The not-ready reason.
    pub reason: Option<String>,
    /// For wrap-ups: the queue of the call they follow.
    pub queue: Option<String>,
    /// Time in the state within the hour, milliseconds.
    pub ms: i64,
    /// Spans of the state that started in the hour.
    pub started: i64,
    /// Their whole lengths, milliseconds.
    pub started_ms: i64,
}

/// A Service Request closed by an operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FactClosure {
    /// When it was closed.
    pub at: DateTime<Utc>,
    /// The ticket's number.
    pub number: String,
    /// Its queue.
    pub queue: String,
    /// The operator who closed it.
    pub by: Option<String>,
}

/// Where materialization stands.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Watermark {
    /// `event_log.id` of the last event folded (0: none).
    pub last_event: i64,
    /// The longest span of a stored record, milliseconds.
    pub max_span_ms: i64,
    /// What the fold held open (`reports::facts::encode_open`).
    pub open: String,
}

/// The facts of one chunk of events, stored with the watermark after it.
#[derive(Debug, Clone, Default)]
pub struct FactBatch {
    /// The watermark the chunk was folded from: stored only if it is still the current one.
    pub from_event: i64,
    /// The new watermark.
    pub watermark: Watermark,
    /// Final records (inserted or replacing a reopened one).
    pub calls: Vec<FactCall>,
    /// Calls whose stored record was reopened and is open again: removed from the facts.
    pub reopened: Vec<String>,
    /// Added to the sums of their (hour, agent, state, reason, queue).
    pub hours: Vec<FactHour>,
    /// Closures in the chunk.
    pub closures: Vec<FactClosure>,
}

/// What a report reads, as of one state of the database.
#[derive(Debug, Clone, Default)]
pub struct ReportRead {
    /// The watermark read.
    pub watermark: Watermark,
    /// The events after the watermark, in log order, with their `event_log.id`.
    pub tail: Vec<(i64, LoggedEvent)>,
    /// The stored records of the calls the tail mentions (to be reopened).
    pub mentioned: Vec<FactCall>,
    /// The records that may count in the period.
    pub calls: Vec<FactCall>,
    /// The agents' hours of the period.
    pub hours: Vec<FactHour>,
    /// The closures of the period.
    pub closures: Vec<FactClosure>,
}

fn opt_key(s: Option<&str>) -> String {
    s.map_or_else(String::new, |s| format!("={s}"))
}

fn key_opt(s: String) -> Option<String> {
    s.strip_prefix('=').map(str::to_owned)
}

/// Rows per multi-row INSERT (SQLite allows 32,766 parameters; 8 per hour row).
const ROWS_PER_INSERT: usize = 500;

fn fact_call(r: &sqlx::any::AnyRow) -> Result<FactCall> {
    Ok(FactCall {
        call_id: r.try_get("call_id")?,
        first_at: from_ms(r.try_get("first_at")?),
        last_at: from_ms(r.try_get("last_at")?),
        body: r.try_get("body")?,
    })
}

fn logged(r: &sqlx::any::AnyRow) -> Result<(i64, LoggedEvent)> {
    Ok((
        r.try_get("id")?,
        LoggedEvent {
            event_id: r.try_get("event_id")?,
            at: from_ms(r.try_get("at")?),
            kind: r.try_get("kind")?,
            call_id: r.try_get("call_id")?,
            body: r.try_get("body")?,
            queue_row: None,
        },
    ))
}

const CALL_COLUMNS: &str = "call_id, first_at, last_at, body";
const EVENT_COLUMNS: &str = "id, event_id, at, kind, call_id, body";

/// SQLite reads a report's facts packed: a row per day holding that day's records joined by
/// newlines, fields by `|`, text escaped as `reports::facts` escapes it (`%25`, `%7C`,
/// `%0A`). sqlx hands SQLite rows over one at a time from its worker thread, with a
/// conversion per row and column, which for a year's ~500,000 fact rows was most of the
/// report's time (docs/PERFORMANCE.md, issue 15); a few hundred packed rows carry the same
/// bytes. PostgreSQL reads rows as they are.
fn esc(column: &str) -> String {
    format!("replace(replace(replace({column}, '%', '%25'), '|', '%7C'), char(10), '%0A')")
}

fn unesc(s: &str) -> Result<String> {
    if !s.contains('%') {
        return Ok(s.to_owned());
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('%') {
        out.push_str(&rest[..i]);
        out.push(match rest.get(i + 1..i + 3) {
            Some("25") => '%',
            Some("7C") => '|',
            Some("0A") => '\n',
            _ => return Err(bad_packed(s)),
        });
        rest = &rest[i + 3..];
    }
    out.push_str(rest);
    Ok(out)
}

fn bad_packed(got: &str) -> crate::Error {
    crate::Error::Invalid {
        what: "report fact",
        expected: "a packed fact row",
        got: got.chars().take(80).collect(),
    }
}

fn packed_int(s: Option<&str>, line: &str) -> Result<i64> {
    s.and_then(|s| s.parse().ok())
        .ok_or_else(|| bad_packed(line))
}

/// The lines of packed rows (column `recs`).
fn packed_lines(rows: &[sqlx::any::AnyRow]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for r in rows {
        let recs: String = r.try_get("recs")?;
        out.extend(recs.split('\n').map(str::to_owned));
    }
    Ok(out)
}

/// Milliseconds in a day: packed rows group a day's facts.
const DAY_MS: i64 = 86_400_000;

impl Store {
    async fn packed_calls(
        tx: &mut sqlx::AnyConnection,
        from: i64,
        to: i64,
        last_from: i64,
    ) -> Result<Vec<FactCall>> {
        let rows = sqlx::query(&format!(
            "SELECT group_concat(rec, char(10)) AS recs FROM (SELECT first_at / {DAY_MS} AS day, \
             first_at || '|' || last_at || '|' || {} || '|' || body AS rec FROM report_calls \
             WHERE first_at >= $1 AND first_at < $2 AND last_at >= $3) GROUP BY day",
            esc("call_id")
        ))
        .bind(from)
        .bind(to)
        .bind(last_from)
        .fetch_all(&mut *tx)
        .await?;
        packed_lines(&rows)?
            .iter()
            .map(|line| {
                let mut f = line.splitn(4, '|');
                Ok(FactCall {
                    first_at: from_ms(packed_int(f.next(), line)?),
                    last_at: from_ms(packed_int(f.next(), line)?),
                    call_id: unesc(f.next().ok_or_else(|| bad_packed(line))?)?,
                    body: f.next().ok_or_else(|| bad_packed(line))?.to_owned(),
                })
            })
            .collect()
    }

    async fn packed_hours(
        tx: &mut sqlx::AnyConnection,
        from: i64,
        to: i64,
    ) -> Result<Vec<FactHour>> {
        let rows = sqlx::query(&format!(
            "SELECT group_concat(hour || '|' || {} || '|' || {} || '|' || {} || '|' || {} \
             || '|' || ms || '|' || started || '|' || started_ms, char(10)) AS recs \
             FROM report_agent_hours WHERE hour >= $1 AND hour < $2 GROUP BY hour / {DAY_MS}",
            esc("agent"),
            esc("state"),
            esc("reason"),
            esc("queue")
        ))
        .bind(from)
        .bind(to)
        .fetch_all(&mut *tx)
        .await?;
        packed_lines(&rows)?
            .iter()
            .map(|line| {
                let f: Vec<&str> = line.split('|').collect();
                if f.len() != 8 {
                    return Err(bad_packed(line));
                }
                Ok(FactHour {
                    hour: from_ms(packed_int(Some(f[0]), line)?),
                    agent: unesc(f[1])?,
                    state: unesc(f[2])?,
                    reason: key_opt(unesc(f[3])?),
                    queue: key_opt(unesc(f[4])?),
                    ms: packed_int(Some(f[5]), line)?,
                    started: packed_int(Some(f[6]), line)?,
                    started_ms: packed_int(Some(f[7]), line)?,
                })
            })
            .collect()
    }

    async fn packed_closures(
        tx: &mut sqlx::AnyConnection,
        from: i64,
        to: i64,
    ) -> Result<Vec<FactClosure>> {
        let rows = sqlx::query(&format!(
            "SELECT group_concat(at || '|' || {} || '|' || {} || '|' || \
             coalesce('=' || {}, '~'), char(10)) AS recs \
             FROM report_closures WHERE at >= $1 AND at < $2 GROUP BY at / {DAY_MS}",
            esc("number"),
            esc("queue"),
            esc("by_login")
        ))
        .bind(from)
        .bind(to)
        .fetch_all(&mut *tx)
        .await?;
        packed_lines(&rows)?
            .iter()
            .map(|line| {
                let f: Vec<&str> = line.split('|').collect();
                if f.len() != 4 {
                    return Err(bad_packed(line));
                }
                Ok(FactClosure {
                    at: from_ms(packed_int(Some(f[0]), line)?),
                    number: unesc(f[1])?,
                    queue: unesc(f[2])?,
                    by: match f[3] {
                        "~" => None,
                        s => Some(unesc(s.strip_prefix('=').ok_or_else(|| bad_packed(line))?)?),
                    },
                })
            })
            .collect()
    }
}

impl Store {
    /// The current watermark.
    pub async fn report_watermark(&self) -> Result<Watermark> {
        let r = sqlx::query(
            "SELECT last_event, max_span_ms, open_state FROM report_watermark WHERE id = 1",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(Watermark {
            last_event: r.try_get("last_event")?,
            max_span_ms: r.try_get("max_span_ms")?,
            open: r.try_get("open_state")?,
        })
    }

    /// Up to `limit` events after `after` (an `event_log.id`), in log order, with their ids.
    pub async fn events_after(&self, after: i64, limit: u32) -> Result<Vec<(i64, LoggedEvent)>> {
        let rows = sqlx::query(&format!(
            "SELECT {EVENT_COLUMNS} FROM event_log WHERE id > $1 ORDER BY id LIMIT $2"
        ))
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(logged).collect()
    }

    /// The stored records of the calls the events `after < id <= upto` mention.
    pub async fn report_calls_mentioned(&self, after: i64, upto: i64) -> Result<Vec<FactCall>> {
        let rows = sqlx::query(&format!(
            "SELECT {CALL_COLUMNS} FROM report_calls WHERE call_id IN \
             (SELECT call_id FROM event_log WHERE id > $1 AND id <= $2 \
              AND call_id IS NOT NULL)"
        ))
        .bind(after)
        .bind(upto)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(fact_call).collect()
    }

    /// Stores a chunk's facts and moves the watermark, in one transaction; `false` (nothing
    /// stored) when the watermark is no longer `batch.from_event` (another materializer
    /// stored this chunk first).
    pub async fn store_report_facts(&self, batch: &FactBatch) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let moved = sqlx::query(
            "UPDATE report_watermark SET last_event = $1, max_span_ms = $2, open_state = $3 \
             WHERE id = 1 AND last_event = $4",
        )
        .bind(batch.watermark.last_event)
        .bind(batch.watermark.max_span_ms)
        .bind(&batch.watermark.open)
        .bind(batch.from_event)
        .execute(&mut *tx)
        .await?;
        if moved.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        for id in &batch.reopened {
            sqlx::query("DELETE FROM report_calls WHERE call_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        for chunk in batch.calls.chunks(ROWS_PER_INSERT) {
            let mut sql = format!("INSERT INTO report_calls ({CALL_COLUMNS}) VALUES ");
            for i in 0..chunk.len() {
                let p = i * 4;
                if i > 0 {
                    sql.push(',');
                }
                sql.push_str(&format!("(${},${},${},${})", p + 1, p + 2, p + 3, p + 4));
            }
            sql.push_str(
                " ON CONFLICT (call_id) DO UPDATE SET first_at = excluded.first_at, \
                 last_at = excluded.last_at, body = excluded.body",
            );
            // Not kept prepared: the statement's text changes with the chunk's length, and
            // the connection's statement cache would keep a large program for every length
            // it ever saw (the memory a soak saw grow; docs/PERFORMANCE.md "Issue 14: soak").
            let mut q = sqlx::query(&sql).persistent(false);
            for c in chunk {
                q = q
                    .bind(&c.call_id)
                    .bind(to_ms(c.first_at))
                    .bind(to_ms(c.last_at))
                    .bind(&c.body);
            }
            q.execute(&mut *tx).await?;
        }
        for chunk in batch.hours.chunks(ROWS_PER_INSERT) {
            let mut sql = String::from(
                "INSERT INTO report_agent_hours \
                 (hour, agent, state, reason, queue, ms, started, started_ms) VALUES ",
            );
            for i in 0..chunk.len() {
                let p = i * 8;
                if i > 0 {
                    sql.push(',');
                }
                sql.push('(');
                for k in 1..=8 {
                    if k > 1 {
                        sql.push(',');
                    }
                    sql.push_str(&format!("${}", p + k));
                }
                sql.push(')');
            }
            sql.push_str(
                " ON CONFLICT (hour, agent, state, reason, queue) DO UPDATE SET \
                 ms = report_agent_hours.ms + excluded.ms, \
                 started = report_agent_hours.started + excluded.started, \
                 started_ms = report_agent_hours.started_ms + excluded.started_ms",
            );
            // Its text changes with the chunk's length: not kept prepared (see above).
            let mut q = sqlx::query(&sql).persistent(false);
            for h in chunk {
                q = q
                    .bind(to_ms(h.hour))
                    .bind(&h.agent)
                    .bind(&h.state)
                    .bind(opt_key(h.reason.as_deref()))
                    .bind(opt_key(h.queue.as_deref()))
                    .bind(h.ms)
                    .bind(h.started)
                    .bind(h.started_ms);
            }
            q.execute(&mut *tx).await?;
        }
        for c in &batch.closures {
            sqlx::query(
                "INSERT INTO report_closures (at, number, queue, by_login) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(to_ms(c.at))
            .bind(&c.number)
            .bind(&c.queue)
            .bind(c.by.clone())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Everything a report of `[from, to)` reads, from one state of the database.
    pub async fn report_read(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<ReportRead> {
        let mut tx = self.pool.begin().await?;
        if self.backend == Backend::Postgres {
            sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                .execute(&mut *tx)
                .await?;
        }
        let r = sqlx::query(
            "SELECT last_event, max_span_ms, open_state FROM report_watermark WHERE id = 1",
        )
        .fetch_one(&mut *tx)
        .await?;
        let watermark = Watermark {
            last_event: r.try_get("last_event")?,
            max_span_ms: r.try_get("max_span_ms")?,
            open: r.try_get("open_state")?,
        };
        let tail = sqlx::query(&format!(
            "SELECT {EVENT_COLUMNS} FROM event_log WHERE id > $1 ORDER BY id"
        ))
        .bind(watermark.last_event)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(logged)
        .collect::<Result<Vec<_>>>()?;
        let mentioned = sqlx::query(&format!(
            "SELECT {CALL_COLUMNS} FROM report_calls WHERE call_id IN \
             (SELECT call_id FROM event_log WHERE id > $1 AND call_id IS NOT NULL)"
        ))
        .bind(watermark.last_event)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(fact_call)
        .collect::<Result<Vec<_>>>()?;
        let (from_ms_, to_ms_) = (to_ms(from), to_ms(to));
        let last_from = from_ms_.saturating_sub(watermark.max_span_ms);
        if self.backend == Backend::Sqlite {
            let calls = Self::packed_calls(&mut tx, last_from, to_ms_, from_ms_).await?;
            let hours = Self::packed_hours(&mut tx, from_ms_, to_ms_).await?;
            let closures = Self::packed_closures(&mut tx, from_ms_, to_ms_).await?;
            tx.commit().await?;
            return Ok(ReportRead {
                watermark,
                tail,
                mentioned,
                calls,
                hours,
                closures,
            });
        }
        let calls = sqlx::query(&format!(
            "SELECT {CALL_COLUMNS} FROM report_calls \
             WHERE first_at >= $1 AND first_at < $2 AND last_at >= $3"
        ))
        .bind(last_from)
        .bind(to_ms_)
        .bind(from_ms_)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(fact_call)
        .collect::<Result<Vec<_>>>()?;
        let hours = sqlx::query(
            "SELECT hour, agent, state, reason, queue, ms, started, started_ms \
             FROM report_agent_hours WHERE hour >= $1 AND hour < $2",
        )
        .bind(from_ms_)
        .bind(to_ms_)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| {
            Ok(FactHour {
                hour: from_ms(r.try_get("hour")?),
                agent: r.try_get("agent")?,
                state: r.try_get("state")?,
                reason: key_opt(r.try_get("reason")?),
                queue: key_opt(r.try_get("queue")?),
                ms: r.try_get("ms")?,
                started: r.try_get("started")?,
                started_ms: r.try_get("started_ms")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
        let closures = sqlx::query(
            "SELECT at, number, queue, by_login FROM report_closures \
             WHERE at >= $1 AND at < $2",
        )
        .bind(from_ms_)
        .bind(to_ms_)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| {
            Ok(FactClosure {
                at: from_ms(r.try_get("at")?),
                number: r.try_get("number")?,
                queue: r.try_get("queue")?,
                by: r.try_get("by_login")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
        tx.commit().await?;
        Ok(ReportRead {
            watermark,
            tail,
            mentioned,
            calls,
            hours,
            closures,
        })
    }

    /// Empties the facts and resets the watermark (they are rebuilt from the event log).
    pub async fn reset_report_facts(&self) -> Result<()> {
        let mut tx = self.begin_write().await?;
        for sql in [
            "DELETE FROM report_calls",
            "DELETE FROM report_agent_hours",
            "DELETE FROM report_closures",
            "UPDATE report_watermark SET last_event = 0, max_span_ms = 0, open_state = ''",
        ] {
            sqlx::query(sql).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
