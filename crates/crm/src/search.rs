//! Ticket search (R-SR-4): number with `*` wildcards, full text over titles, article bodies
//! and senders (SQLite FTS5; PostgreSQL tsvector with the Italian and simple
//! configurations), filters by state, queue, priority, type, owner, customer, channel, call id
//! and creation dates; sorted and paged, with the total count.

use chrono::{DateTime, Utc};

use crate::error::{Error, Result};
use crate::lifecycle::State;
use crate::store::{Backend, Store};
use crate::ticket::{TICKET_COLUMNS, Ticket, ticket_from_row};
use crate::types::{Channel, CustomerId, Priority, QueueId, TicketType, UserId, to_ms};

/// Sort order of results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortBy {
    /// Creation time (default). A free-text search on SQLite orders by ticket id, which is
    /// creation order for tickets the product creates (numbered and stored as they are
    /// made); a ticket replayed from the call journal after an outage counts from its replay.
    #[default]
    Created,
    /// Last change.
    Changed,
    /// Priority.
    Priority,
    /// Ticket number.
    Number,
}

/// A search; empty fields do not filter. Lists match any of their values.
#[derive(Debug, Clone, Default)]
pub struct TicketQuery {
    /// Ticket number, digits with `*` wildcards (`2026030242*`).
    pub number: Option<String>,
    /// Free text: every word must occur (a trailing `*` makes a word a prefix on SQLite).
    pub text: Option<String>,
    /// States.
    pub states: Vec<State>,
    /// Queues.
    pub queues: Vec<QueueId>,
    /// Priorities.
    pub priorities: Vec<Priority>,
    /// Types.
    pub types: Vec<TicketType>,
    /// Owner.
    pub owner: Option<UserId>,
    /// Customer.
    pub customer: Option<CustomerId>,
    /// Channel.
    pub channel: Option<Channel>,
    /// Call id.
    pub call_id: Option<String>,
    /// Created at or after.
    pub created_from: Option<DateTime<Utc>>,
    /// Created before.
    pub created_to: Option<DateTime<Utc>>,
    /// Sort key.
    pub sort: SortBy,
    /// Newest / highest first.
    pub descending: bool,
    /// Page size (0 means 50; at most 1000).
    pub limit: u32,
    /// Rows to skip.
    pub offset: u32,
}

/// Counting stops here: past it a search says "[`COUNT_CAP`] or more" (`total_exact` false)
/// rather than walk every match of a common word among a million tickets (OTRS stops at its
/// `SearchLimit` likewise). Paging goes on past it.
pub const COUNT_CAP: u64 = 1000;

/// One page of results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchPage {
    /// How many tickets match in all, at most [`COUNT_CAP`].
    pub total: u64,
    /// False when the count stopped at [`COUNT_CAP`]: more tickets match ("1000+").
    pub total_exact: bool,
    /// This page.
    pub tickets: Vec<Ticket>,
}

enum Bind {
    Int(i64),
    Text(String),
}

struct Where {
    clauses: Vec<String>,
    binds: Vec<Bind>,
}

impl Where {
    fn param(&mut self, b: Bind) -> String {
        self.binds.push(b);
        format!("${}", self.binds.len())
    }

    fn any_of(&mut self, column: &str, values: Vec<Bind>) {
        if values.is_empty() {
            return;
        }
        let ps: Vec<String> = values.into_iter().map(|v| self.param(v)).collect();
        self.clauses
            .push(format!("{column} IN ({})", ps.join(", ")));
    }
}

/// FTS5 query from free text: each word quoted (so operators are literal), all required.
fn fts5_query(text: &str) -> String {
    text.split_whitespace()
        .map(|w| {
            let (word, prefix) = match w.strip_suffix('*') {
                Some(stem) => (stem, "*"),
                None => (w, ""),
            };
            format!("\"{}\"{prefix}", word.replace('"', ""))
        })
        .filter(|w| !w.starts_with("\"\""))
        .collect::<Vec<_>>()
        .join(" ")
}

impl Store {
    /// Runs a ticket search.
    pub async fn search_tickets(&self, q: &TicketQuery) -> Result<SearchPage> {
        let mut w = Where {
            clauses: Vec::new(),
            binds: Vec::new(),
        };
        if let Some(n) = q.number.as_deref().filter(|n| !n.is_empty()) {
            if !n.bytes().all(|b| b.is_ascii_digit() || b == b'*') {
                return Err(Error::invalid("ticket number pattern", "digits and `*`", n));
            }
            // SQLite's LIKE ignores case and so cannot use the number's (binary) index; GLOB
            // can, for a literal prefix. PostgreSQL: LIKE with `tickets_number_pattern`.
            match self.backend {
                Backend::Sqlite => {
                    let p = w.param(Bind::Text(n.to_string()));
                    w.clauses.push(format!("t.number GLOB {p}"));
                }
                Backend::Postgres => {
                    let p = w.param(Bind::Text(n.replace('*', "%")));
                    w.clauses.push(format!("t.number LIKE {p}"));
                }
            }
        }
        // SQLite, free text, creation order: the full-text index drives the query (below).
        let mut fts_driven = false;
        if let Some(text) = q.text.as_deref().filter(|t| !t.trim().is_empty()) {
            match self.backend {
                Backend::Sqlite if q.sort == SortBy::Created => {
                    let p = w.param(Bind::Text(fts5_query(text)));
                    w.clauses.push(format!("search_fts MATCH {p}"));
                    fts_driven = true;
                }
                Backend::Sqlite => {
                    let p = w.param(Bind::Text(fts5_query(text)));
                    // Ticket ids come from the documents' rowids (migration 0007).
                    w.clauses.push(format!(
                        "t.id IN (SELECT rowid >> 32 FROM search_fts WHERE search_fts MATCH {p})"
                    ));
                }
                Backend::Postgres => {
                    let p = w.param(Bind::Text(text.to_string()));
                    let tsq = format!(
                        "(plainto_tsquery('italian', {p}) || plainto_tsquery('simple', {p}))"
                    );
                    // Two GIN index scans, unioned: an OR across the tables would scan.
                    w.clauses.push(format!(
                        "t.id IN (SELECT id FROM tickets WHERE title_search @@ {tsq} \
                         UNION SELECT ticket_id FROM articles WHERE search @@ {tsq})"
                    ));
                }
            }
        }
        let states = q
            .states
            .iter()
            .map(|s| Bind::Text(s.as_str().into()))
            .collect();
        w.any_of("t.state", states);
        w.any_of(
            "t.queue_id",
            q.queues.iter().map(|x| Bind::Int(x.0)).collect(),
        );
        let prios = q
            .priorities
            .iter()
            .map(|p| Bind::Int(p.get().into()))
            .collect();
        w.any_of("t.priority", prios);
        let types = q
            .types
            .iter()
            .map(|t| Bind::Text(t.as_str().into()))
            .collect();
        w.any_of("t.ticket_type", types);
        if let Some(o) = q.owner {
            w.any_of("t.owner_id", vec![Bind::Int(o.0)]);
        }
        if let Some(c) = q.customer {
            w.any_of("t.customer_id", vec![Bind::Int(c.0)]);
        }
        if let Some(c) = q.channel {
            w.any_of("t.channel", vec![Bind::Text(c.as_str().into())]);
        }
        if let Some(c) = &q.call_id {
            w.any_of("t.call_id", vec![Bind::Text(c.clone())]);
        }
        if let Some(from) = q.created_from {
            let p = w.param(Bind::Int(to_ms(from)));
            w.clauses.push(format!("t.created >= {p}"));
        }
        if let Some(to) = q.created_to {
            let p = w.param(Bind::Int(to_ms(to)));
            w.clauses.push(format!("t.created < {p}"));
        }
        let where_sql = if w.clauses.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", w.clauses.join(" AND "))
        };
        let order = match q.sort {
            SortBy::Created => "t.created",
            SortBy::Changed => "t.changed",
            SortBy::Priority => "t.priority",
            SortBy::Number => "t.number",
        };
        let dir = if q.descending { "DESC" } else { "ASC" };
        let limit = if q.limit == 0 { 50 } else { q.limit.min(1000) };

        // With the index driving, documents come in rowid order (`ticket id << 32 | k`, see
        // migration 0007): a ticket's documents are adjacent, and both the capped count and
        // the page stop reading once they have enough tickets, however common the words are
        // (a page over a million tickets reads about a page of documents).
        const FTS_JOIN: &str = "search_fts JOIN tickets t ON t.id = search_fts.rowid >> 32";
        let count_sql = if fts_driven {
            format!(
                "SELECT COUNT(*) FROM (SELECT DISTINCT search_fts.rowid >> 32 FROM {FTS_JOIN}\
                 {where_sql} LIMIT {}) AS capped",
                COUNT_CAP + 1
            )
        } else {
            format!(
                "SELECT COUNT(*) FROM (SELECT 1 FROM tickets t{where_sql} LIMIT {}) AS capped",
                COUNT_CAP + 1
            )
        };
        let mut count = sqlx::query_scalar::<_, i64>(&count_sql);
        for b in &w.binds {
            count = match b {
                Bind::Int(i) => count.bind(*i),
                Bind::Text(s) => count.bind(s.clone()),
            };
        }
        let counted = count.fetch_one(&self.pool).await? as u64;
        let (total, total_exact) = (counted.min(COUNT_CAP), counted <= COUNT_CAP);

        let columns = TICKET_COLUMNS
            .split(", ")
            .map(|c| format!("t.{}", c.trim()))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = if fts_driven {
            format!(
                "SELECT {columns} FROM tickets t JOIN (SELECT DISTINCT search_fts.rowid >> 32 \
                 AS tid FROM {FTS_JOIN}{where_sql} ORDER BY search_fts.rowid {dir} \
                 LIMIT {limit} OFFSET {}) AS page ON t.id = page.tid ORDER BY t.id {dir}",
                q.offset
            )
        } else {
            format!(
                "SELECT {columns} FROM tickets t{where_sql} ORDER BY {order} {dir}, t.id {dir} \
                 LIMIT {limit} OFFSET {}",
                q.offset
            )
        };
        // Built per search (filters, limit and offset in the text): not kept prepared, or every
        // page an operator ever turned would stay in each connection's statement cache.
        let mut query = sqlx::query(&sql).persistent(false);
        for b in &w.binds {
            query = match b {
                Bind::Int(i) => query.bind(*i),
                Bind::Text(s) => query.bind(s.clone()),
            };
        }
        let rows = query.fetch_all(&self.pool).await?;
        let tickets = rows.iter().map(ticket_from_row).collect::<Result<_>>()?;
        Ok(SearchPage {
            total,
            total_exact,
            tickets,
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn fts5_words_are_quoted() {
        assert_eq!(
            super::fts5_query("stampante rotta"),
            "\"stampante\" \"rotta\""
        );
        assert_eq!(
            super::fts5_query("stamp* OR \"x"),
            "\"stamp\"* \"OR\" \"x\""
        );
        assert_eq!(super::fts5_query("\"\" a"), "\"a\"");
    }
}
