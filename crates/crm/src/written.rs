//! Written requests (issue 16, R-SR-10): a citizen's request that arrives in writing (the
//! public web form; the same shape serves e-mail and fax) opens a ticket in one transaction:
//! the customer matched by e-mail address (known customers before guests) or created as a
//! guest with the name and address given, the ticket on its channel, the request as its first
//! customer-visible article (with its attachments), and the escalation clocks started at
//! arrival, on the business calendar of the targets given (SLA.O.1-3) or else the queue's.

use chrono::{DateTime, Utc};

use crate::access::audit_in_tx;
use crate::articles::{NewArticle, NewAttachment};
use crate::clocks::QueueSla;
use crate::error::Result;
use crate::store::Store;
use crate::tickets::{NewTicket, Ticket};
use crate::types::{Actor, ArticleKind, Channel, CustomerId, QueueId};

/// A request as written by a citizen.
#[derive(Debug, Clone)]
pub struct WrittenRequest {
    /// The channel it came by (`web`, `email`, `fax`).
    pub channel: Channel,
    /// The queue it opens its ticket in.
    pub queue: QueueId,
    /// The writer's name as given.
    pub name: String,
    /// The writer's e-mail address as given (matched case-insensitively).
    pub email: String,
    /// Subject: the ticket's title and the article's subject.
    pub subject: String,
    /// The text.
    pub body: String,
    /// Attachments.
    pub attachments: Vec<NewAttachment>,
    /// Targets that override the queue's (clocks started at arrival); `None`: the queue's.
    pub sla: Option<QueueSla>,
}

/// What [`Store::open_written_request`] did.
#[derive(Debug, Clone)]
pub struct OpenedRequest {
    /// The ticket.
    pub ticket: Ticket,
    /// The customer it belongs to.
    pub customer: CustomerId,
    /// Whether that customer was created now as a guest.
    pub new_guest: bool,
}

impl Store {
    /// The customer with this e-mail address (case-insensitive): a known one before a guest,
    /// the oldest first; `None` when nobody has it.
    pub async fn customer_by_email(&self, email: &str) -> Result<Option<CustomerId>> {
        let id: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM customers WHERE LOWER(email) = LOWER($1) ORDER BY guest, id LIMIT 1",
        )
        .bind(email.trim())
        .fetch_optional(&self.pool)
        .await?;
        Ok(id.map(CustomerId))
    }

    /// Opens the ticket of a written request at `now` (its arrival), all in one transaction:
    /// nothing is written unless everything is.
    pub async fn open_written_request(
        &self,
        request: WrittenRequest,
        now: DateTime<Utc>,
    ) -> Result<OpenedRequest> {
        let limit = self.settings.attachment_max_bytes;
        if let Some(a) = request.attachments.iter().find(|a| a.content.len() > limit) {
            return Err(crate::Error::AttachmentTooLarge {
                limit,
                size: a.content.len(),
            });
        }
        let email = request.email.trim().to_string();
        let mut tx = self.begin_write().await?;
        let found: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM customers WHERE LOWER(email) = LOWER($1) ORDER BY guest, id LIMIT 1",
        )
        .bind(&email)
        .fetch_optional(&mut *tx)
        .await?;
        let (customer, new_guest) = match found {
            Some(id) => (id, false),
            None => {
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO customers (full_name, email, guest, created, changed) \
                     VALUES ($1, $2, $3, $4, $4) RETURNING id",
                )
                .bind(request.name.trim())
                .bind(&email)
                .bind(true)
                .bind(crate::types::to_ms(now))
                .fetch_one(&mut *tx)
                .await?;
                let why = format!("guest for a {} request", request.channel.as_str());
                audit_in_tx(
                    &mut tx,
                    Actor::System,
                    "create",
                    &format!("customer:{id}"),
                    Some(&why),
                    now,
                )
                .await?;
                (id, true)
            }
        };
        let mut new = NewTicket::new(request.subject.trim(), request.channel);
        new.queue = Some(request.queue);
        new.customer = Some(CustomerId(customer));
        let mut ticket = self.create_in_tx(&mut tx, &new, Actor::System, now).await?;
        let kind = match request.channel {
            Channel::Email => ArticleKind::EmailIn,
            Channel::Fax => ArticleKind::Fax,
            Channel::Voicemail => ArticleKind::Voicemail,
            Channel::Phone => ArticleKind::PhoneReceived,
            Channel::Web => ArticleKind::Web,
        };
        let sender = format!("{} <{}>", request.name.trim(), email);
        let mut article = NewArticle::new(kind, sender, request.subject.trim(), request.body);
        article.attachments = request.attachments;
        self.add_article_in_tx(&mut tx, ticket.id, Actor::System, &article, now)
            .await?;
        if let Some(sla) = &request.sla {
            let mut clocks = sla.due_from(now);
            clocks.update_due = ticket.sla.update_due;
            clocks.update_from = ticket.sla.update_from;
            self.write_clocks_in_tx(&mut tx, ticket.id, &clocks, ticket.state)
                .await?;
        }
        ticket = self.ticket_in_tx(&mut tx, ticket.id).await?;
        tx.commit().await?;
        Ok(OpenedRequest {
            ticket,
            customer: CustomerId(customer),
            new_guest,
        })
    }
}
