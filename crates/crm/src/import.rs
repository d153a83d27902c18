//! Bulk import: tickets written with their past (first articles, then life-cycle actions at
//! their own times), many per transaction, through the same code as one by one
//! ([`Store::create_ticket`]'s insertion, [`Store::add_article`], [`Store::act`]; closing
//! also closes children). For loaders of existing or synthetic data; no SQL of its own.

use chrono::{DateTime, Utc};

use crate::articles::NewArticle;
use crate::error::Result;
use crate::lifecycle::Action;
use crate::store::Store;
use crate::ticket::NewTicket;
use crate::types::{Actor, TicketId};

/// One ticket to import.
#[derive(Debug, Clone)]
pub struct ImportedTicket {
    /// The ticket, created by the system at `created`.
    pub ticket: NewTicket,
    /// When it was created.
    pub created: DateTime<Utc>,
    /// Its articles, added by the system at `created`, in order.
    pub articles: Vec<NewArticle>,
    /// Then its life-cycle actions: who, what, when (checked as any other action).
    pub actions: Vec<(Actor, Action, DateTime<Utc>)>,
    /// Resolved at first contact, as judged when it was closed: recorded after the actions,
    /// by the actor and at the time of its last `Close` (by the system at `created` when
    /// there is none).
    pub first_contact: Option<bool>,
}

impl Store {
    /// Writes `batch` in one transaction (all or nothing) and returns the new ids in order.
    pub async fn import_tickets(&self, batch: &[ImportedTicket]) -> Result<Vec<TicketId>> {
        let mut tx = self.begin_write().await?;
        let mut ids = Vec::with_capacity(batch.len());
        for t in batch {
            let id = self
                .create_in_tx(&mut tx, &t.ticket, Actor::System, t.created)
                .await?
                .id;
            for article in &t.articles {
                self.add_article_in_tx(&mut tx, id, Actor::System, article, t.created)
                    .await?;
            }
            for (who, action, at) in &t.actions {
                let changes = self.act_in_tx(&mut tx, id, *who, action, *at, None).await?;
                if let Action::Close { successful } = action
                    && !changes.is_empty()
                {
                    self.close_children_in_tx(&mut tx, id, *successful, *at)
                        .await?;
                }
            }
            if let Some(value) = t.first_contact {
                let (who, at) = t
                    .actions
                    .iter()
                    .rev()
                    .find(|(_, a, _)| matches!(a, Action::Close { .. }))
                    .map_or((Actor::System, t.created), |(who, _, at)| (*who, *at));
                Self::set_first_contact_in_tx(&mut tx, id, value, false, who, at).await?;
            }
            ids.push(id);
        }
        tx.commit().await?;
        Ok(ids)
    }
}
