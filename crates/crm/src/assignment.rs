//! Second-level assignment (R-SR-11): the first level passes a request to a second-level
//! queue; the second level may reject it with a reason and a suggested queue, and a wrong
//! assignment is re-routed (third level). Every hop is a `queue` history row plus an
//! `assignment` or `assignment_rejected` row carrying the reason.

use chrono::{DateTime, Utc};

use crate::articles::NewArticle;
use crate::error::{Error, Result};
use crate::lifecycle::Action;
use crate::store::Store;
use crate::tickets::{HistoryEntry, Ticket, record};
use crate::types::{Actor, ArticleKind, QueueId, TicketId};

impl Store {
    /// Assigns `ticket` to the second-level queue `queue`: the acting operator's lock is
    /// released so the back office can take it; `note` explains why.
    pub async fn assign_second_level(
        &self,
        ticket: TicketId,
        queue: QueueId,
        actor: Actor,
        note: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Ticket> {
        let q = self.queue(queue).await?;
        if !q.second_level {
            return Err(Error::invalid("queue", "a second-level queue", q.name));
        }
        let mut tx = self.begin_write().await?;
        let before = self.ticket_in_tx(&mut tx, ticket).await?;
        self.act_in_tx(&mut tx, ticket, actor, &Action::Move(queue), now, note)
            .await?;
        if before.locked {
            self.act_in_tx(&mut tx, ticket, actor, &Action::Unlock, now, note)
                .await?;
        }
        record(
            &mut tx,
            ticket,
            now,
            actor,
            "assignment",
            Some(before.queue.to_string()),
            Some(queue.to_string()),
            note.map(str::to_string),
        )
        .await?;
        let t = self.ticket_in_tx(&mut tx, ticket).await?;
        tx.commit().await?;
        Ok(t)
    }

    /// Rejects the assignment of `ticket` with `reason`: it moves to `suggested`, or back to
    /// the queue it was assigned from; an internal note records the reason.
    pub async fn reject_assignment(
        &self,
        ticket: TicketId,
        actor: Actor,
        reason: &str,
        suggested: Option<QueueId>,
        now: DateTime<Utc>,
    ) -> Result<Ticket> {
        if reason.trim().is_empty() {
            return Err(Error::invalid(
                "rejection reason",
                "a non-empty text",
                reason,
            ));
        }
        let back = match suggested {
            Some(q) => Some(q),
            None => self
                .assignment_hops(ticket)
                .await?
                .iter()
                .rev()
                .find(|h| h.kind == "assignment")
                .and_then(|h| h.old.as_deref()?.parse().ok())
                .map(QueueId),
        };
        let Some(target) = back else {
            return Err(Error::invalid(
                "rejection",
                "a suggested queue or an earlier assignment to return to",
                ticket,
            ));
        };
        self.queue(target).await?;
        let mut tx = self.begin_write().await?;
        let before = self.ticket_in_tx(&mut tx, ticket).await?;
        let body = format!("assignment rejected: {reason}");
        let mut article =
            NewArticle::new(ArticleKind::Note, "system", "assignment rejected", &body);
        article.customer_visible = false;
        self.add_article_in_tx(&mut tx, ticket, actor, &article, now)
            .await?;
        self.act_in_tx(
            &mut tx,
            ticket,
            actor,
            &Action::Move(target),
            now,
            Some(reason),
        )
        .await?;
        if before.locked {
            self.act_in_tx(&mut tx, ticket, actor, &Action::Unlock, now, Some(reason))
                .await?;
        }
        record(
            &mut tx,
            ticket,
            now,
            actor,
            "assignment_rejected",
            Some(before.queue.to_string()),
            Some(target.to_string()),
            Some(reason.to_string()),
        )
        .await?;
        let t = self.ticket_in_tx(&mut tx, ticket).await?;
        tx.commit().await?;
        Ok(t)
    }

    /// Every queue hop and assignment decision of `ticket`, oldest first.
    pub async fn assignment_hops(&self, ticket: TicketId) -> Result<Vec<HistoryEntry>> {
        Ok(self
            .history(ticket)
            .await?
            .into_iter()
            .filter(|h| {
                matches!(
                    h.kind.as_str(),
                    "queue" | "assignment" | "assignment_rejected"
                )
            })
            .collect())
    }
}
