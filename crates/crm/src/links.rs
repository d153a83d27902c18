//! Links between tickets (R-SR-8): parent/child and merge.
//!
//! - A new request about an already reported fault is attached as a *child* of the open
//!   parent. Closing the parent closes every child still open (recursively), by the system,
//!   each with an internal note naming the parent; a locked child is closed too (the lock is
//!   released, rule 3 does not stop the system).
//! - *Merge* (OTRS "unisci ticket", seed 001): the source becomes `merged`, its articles move
//!   to the target, its children are re-attached to the target, and both histories say so.

use chrono::{DateTime, Utc};
use sqlx::{Any, Transaction};

use crate::articles::NewArticle;
use crate::error::{Error, Result};
use crate::lifecycle::{Action, State};
use crate::store::Store;
use crate::ticket::{TICKET_COLUMNS, Ticket, ticket_from_row};
use crate::tickets::record;
use crate::types::{Actor, ArticleKind, TicketId};

impl Store {
    /// Attaches `child` under `parent`. Refused for merged tickets, a ticket to itself, and
    /// links that would make a cycle.
    pub async fn link_child(
        &self,
        parent: TicketId,
        child: TicketId,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<()> {
        if parent == child {
            return Err(Error::invalid("link", "two different tickets", parent));
        }
        let mut tx = self.begin_write().await?;
        self.act_in_tx(&mut tx, child, actor, &Action::Touch, now, None)
            .await?;
        let p = self.ticket_in_tx(&mut tx, parent).await?;
        if p.state == State::Merged {
            return Err(Error::invalid(
                "parent",
                "a ticket that is not merged",
                p.number,
            ));
        }
        // Walk up from the parent: meeting the child would close a cycle.
        let mut up = p.parent;
        while let Some(a) = up {
            if a == child {
                return Err(Error::invalid("link", "no cycle of parents", child));
            }
            up = self.ticket_in_tx(&mut tx, a).await?.parent;
        }
        let c = self.ticket_in_tx(&mut tx, child).await?;
        sqlx::query("UPDATE tickets SET parent_id = $1, changed = $2 WHERE id = $3")
            .bind(parent.0)
            .bind(crate::types::to_ms(now))
            .bind(child.0)
            .execute(&mut *tx)
            .await?;
        let old = c.parent.map(|x| x.to_string());
        record(
            &mut tx,
            child,
            now,
            actor,
            "parent",
            old,
            Some(p.number.clone()),
            None,
        )
        .await?;
        record(
            &mut tx,
            parent,
            now,
            actor,
            "child",
            None,
            Some(c.number),
            None,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The direct children of `parent`.
    pub async fn children(&self, parent: TicketId) -> Result<Vec<Ticket>> {
        let sql = format!("SELECT {TICKET_COLUMNS} FROM tickets WHERE parent_id = $1 ORDER BY id");
        let rows = sqlx::query(&sql)
            .bind(parent.0)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(ticket_from_row).collect()
    }

    /// Closes the open descendants of `parent` (R-SR-8) inside `tx`.
    pub(crate) async fn close_children_in_tx(
        &self,
        tx: &mut Transaction<'static, Any>,
        parent: TicketId,
        successful: bool,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let mut todo = vec![parent];
        while let Some(p) = todo.pop() {
            let number = self.ticket_in_tx(tx, p).await?.number;
            let ids: Vec<i64> =
                sqlx::query_scalar("SELECT id FROM tickets WHERE parent_id = $1 ORDER BY id")
                    .bind(p.0)
                    .fetch_all(&mut **tx)
                    .await?;
            for id in ids.into_iter().map(TicketId) {
                todo.push(id);
                let child = self.ticket_in_tx(tx, id).await?;
                if child.state.is_closed() || child.state == State::Merged {
                    continue;
                }
                let note = format!("closed together with parent ticket {number}");
                let mut article =
                    NewArticle::new(ArticleKind::Note, "system", "parent closed", &note);
                article.customer_visible = false;
                self.add_article_in_tx(tx, id, Actor::System, &article, now)
                    .await?;
                self.act_in_tx(
                    tx,
                    id,
                    Actor::System,
                    &Action::Close { successful },
                    now,
                    Some(&note),
                )
                .await?;
            }
        }
        Ok(())
    }

    /// Merges `source` into `target` (OTRS merge): `source` becomes `merged`.
    pub async fn merge(
        &self,
        source: TicketId,
        target: TicketId,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<Ticket> {
        if source == target {
            return Err(Error::invalid("merge", "two different tickets", source));
        }
        let mut tx = self.begin_write().await?;
        let t = self.ticket_in_tx(&mut tx, target).await?;
        if t.state == State::Merged {
            return Err(Error::invalid(
                "merge target",
                "a ticket that is not merged",
                t.number,
            ));
        }
        self.act_in_tx(&mut tx, target, actor, &Action::Touch, now, None)
            .await?;
        let s = self.ticket_in_tx(&mut tx, source).await?;
        let note = format!("merged into {}", t.number);
        self.act_in_tx(&mut tx, source, actor, &Action::Merge, now, Some(&note))
            .await?;
        sqlx::query("UPDATE articles SET ticket_id = $1 WHERE ticket_id = $2")
            .bind(target.0)
            .bind(source.0)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE tickets SET parent_id = $1 WHERE parent_id = $2")
            .bind(target.0)
            .bind(source.0)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE tickets SET merged_into = $1 WHERE id = $2")
            .bind(target.0)
            .bind(source.0)
            .execute(&mut *tx)
            .await?;
        record(
            &mut tx,
            source,
            now,
            actor,
            "merged_into",
            None,
            Some(t.number.clone()),
            None,
        )
        .await?;
        record(
            &mut tx,
            target,
            now,
            actor,
            "merged_from",
            None,
            Some(s.number),
            None,
        )
        .await?;
        let merged = self.ticket_in_tx(&mut tx, target).await?;
        tx.commit().await?;
        Ok(merged)
    }
}
