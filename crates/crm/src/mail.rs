//! E-mail on tickets (issue 16; R-SR-9, R-SR-10): inbound messages filed, the outbox.
//!
//! [`Store::file_mail`] files one fetched message in one transaction, idempotent by where it
//! came from ([`InboundMail::source_key`]: mailbox, UIDVALIDITY, UID):
//! - the raw bytes are kept (`mail_in`), with the message's class and the note saying why it
//!   is not answered;
//! - a message tagged `[Ticket#N]`, or answering a Message-ID we sent or received, is added to
//!   that ticket as an article; a closed ticket is reopened when it was closed within
//!   `reopen_within`, otherwise a new ticket opens and says which one it follows;
//! - any other message opens a ticket (channel e-mail or fax) in the mailbox's queue, for the
//!   customer with that address (known before guests) or a new guest with it;
//! - an attachment over the store's size limit is left out of the article (it stays in the
//!   raw message) and the article says so; a message that could not be parsed at all opens a
//!   ticket whose note says why, with the raw message attached when it fits.
//!
//! The outbox: [`Store::queue_mail`] adds a mail (and its customer-visible `email_out`
//! article) once per `dedup_key`; the sender claims due mail ([`Store::claim_mail`]), and
//! records the relay's answer ([`Store::mail_sent`], [`Store::mail_retry`],
//! [`Store::mail_failed`]); [`Store::recover_outbox`] runs at start (see `mail::outbox`
//! for why this sends at most one duplicate and loses nothing).

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use crate::access::audit_in_tx;
use crate::articles::{NewArticle, NewAttachment};
use crate::error::Result;
use crate::lifecycle::{Action, State};
use crate::store::Store;
use crate::tickets::NewTicket;
use crate::types::{Actor, ArticleKind, Channel, CustomerId, QueueId, TicketId, from_ms, to_ms};

/// One message fetched from a mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundMail {
    /// Where it came from, unique: `mailbox/uidvalidity/uid`.
    pub source_key: String,
    /// The mailbox's configured name.
    pub mailbox: String,
    /// The queue a new ticket opens in (`raw` when no such queue).
    pub queue: String,
    /// The bytes as fetched.
    pub raw: Vec<u8>,
    /// When it was fetched.
    pub received: DateTime<Utc>,
    /// What it says; `Err(why)` when it could not be read as a message.
    pub content: std::result::Result<MailContent, String>,
}

/// A parsed message, as the ticket shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailContent {
    /// Message-ID.
    pub message_id: Option<String>,
    /// Sender address.
    pub from_address: Option<String>,
    /// Sender's display name.
    pub from_name: Option<String>,
    /// Subject.
    pub subject: String,
    /// Text body.
    pub body: String,
    /// Attachments.
    pub attachments: Vec<NewAttachment>,
    /// E-mail or fax.
    pub channel: Channel,
    /// The class's name (`personal`, `fax`, `bounce`, `auto_reply`, `list`, `no_sender`).
    pub class: String,
    /// May it be answered? When not, `note` says why.
    pub answerable: bool,
    /// Why it is not answered, or what else to know (a PEC envelope).
    pub note: Option<String>,
    /// Ticket numbers tagged in the subject.
    pub tagged_numbers: Vec<String>,
    /// Message-IDs it answers, In-Reply-To first.
    pub references: Vec<String>,
}

/// What filing did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailFiled {
    /// The ticket it opened or joined.
    pub ticket: TicketId,
    /// Its number.
    pub number: String,
    /// Its title.
    pub title: String,
    /// A new ticket was opened.
    pub opened: bool,
    /// A closed ticket was reopened.
    pub reopened: bool,
    /// The sender may be written to (a confirmation, a reply).
    pub answerable: bool,
    /// The sender's address.
    pub reply_to: Option<String>,
    /// The sender's name, else the address.
    pub reply_name: String,
    /// The message's own Message-ID (for In-Reply-To).
    pub message_id: Option<String>,
    /// It had been filed before (the same source key): nothing written.
    pub duplicate: bool,
}

/// A mail to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMail {
    /// Sent once per key, e.g. `confirmation:<ticket id>`.
    pub dedup_key: String,
    /// The ticket it belongs to (its `email_out` article is written with it).
    pub ticket: Option<TicketId>,
    /// Message-ID, fixed now.
    pub message_id: String,
    /// The message it answers.
    pub in_reply_to: Option<String>,
    /// From.
    pub sender: String,
    /// To.
    pub recipient: String,
    /// Subject (with the tag).
    pub subject: String,
    /// Plain-text body.
    pub body: String,
    /// Files attached (a report set's XLSX), in order; at most
    /// [`OUTGOING_ATTACHMENTS_MAX_BYTES`] in all.
    pub attachments: Vec<NewAttachment>,
}

/// The most bytes of attachments one outgoing mail may carry (relays commonly refuse
/// messages over 10-25 MB, and base64 adds a third).
pub const OUTGOING_ATTACHMENTS_MAX_BYTES: usize = 10 * 1024 * 1024;

/// A mail in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxMail {
    /// Row id.
    pub id: i64,
    /// The mail.
    pub mail: OutgoingMail,
    /// `queued`, `sending`, `sent` or `failed`.
    pub state: String,
    /// Failed attempts so far.
    pub failures: u32,
    /// Due at.
    pub next_attempt: DateTime<Utc>,
    /// The last failure's reason.
    pub last_error: Option<String>,
    /// When it was queued.
    pub queued: DateTime<Utc>,
    /// When the relay took it.
    pub sent: Option<DateTime<Utc>>,
}

/// One kept inbound message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMail {
    /// Source key.
    pub source_key: String,
    /// Class.
    pub class: String,
    /// Note.
    pub note: Option<String>,
    /// Its ticket.
    pub ticket: Option<TicketId>,
    /// The raw bytes.
    pub raw: Vec<u8>,
}

const OUTBOX_COLUMNS: &str = "id, dedup_key, ticket_id, message_id, in_reply_to, sender, \
     recipient, subject, body, state, failures, next_attempt, last_error, queued, sent";

fn outbox_from_row(row: &AnyRow) -> Result<OutboxMail> {
    Ok(OutboxMail {
        id: row.try_get("id")?,
        mail: OutgoingMail {
            dedup_key: row.try_get("dedup_key")?,
            ticket: row.try_get::<Option<i64>, _>("ticket_id")?.map(TicketId),
            message_id: row.try_get("message_id")?,
            in_reply_to: row.try_get("in_reply_to")?,
            sender: row.try_get("sender")?,
            recipient: row.try_get("recipient")?,
            subject: row.try_get("subject")?,
            body: row.try_get("body")?,
            attachments: Vec::new(),
        },
        state: row.try_get("state")?,
        failures: row.try_get::<i32, _>("failures")? as u32,
        next_attempt: from_ms(row.try_get("next_attempt")?),
        last_error: row.try_get("last_error")?,
        queued: from_ms(row.try_get("queued")?),
        sent: row.try_get::<Option<i64>, _>("sent")?.map(from_ms),
    })
}

impl Store {
    /// Files one fetched message (see the module documentation).
    pub async fn file_mail(&self, m: &InboundMail, reopen_within: Duration) -> Result<MailFiled> {
        self.file_mail_with(m, reopen_within, |_| None).await
    }

    /// As [`Self::file_mail`]; when the message opened a ticket and may be answered,
    /// `confirm` makes the confirmation, queued in the same transaction (one commit per
    /// message, and the confirmation exists exactly when the filing does).
    pub async fn file_mail_with(
        &self,
        m: &InboundMail,
        reopen_within: Duration,
        confirm: impl Fn(&MailFiled) -> Option<OutgoingMail> + Sync,
    ) -> Result<MailFiled> {
        if let Some(f) = self.mail_filing(&m.source_key).await? {
            return Ok(f);
        }
        let mut tx = self.begin_write().await?;
        let filed = self
            .file_mail_in_tx(&mut tx, m, reopen_within, &confirm)
            .await?;
        tx.commit().await?;
        Ok(filed)
    }

    /// Files a batch of fetched messages, as [`Self::file_mail_with`] each, and says how each
    /// went, in order. On PostgreSQL the batch is one transaction (one commit, one WAL flush)
    /// with a savepoint per message, so a message the store refuses is rolled back alone and
    /// the others are kept; SQLite, whose commits are cheap and whose write lock would be held
    /// for the whole batch, files each message in its own transaction. `Err` (nothing of the
    /// batch kept on PostgreSQL) only when the transaction itself fails.
    pub async fn file_mails_with(
        &self,
        ms: &[InboundMail],
        reopen_within: Duration,
        confirm: impl Fn(&MailFiled) -> Option<OutgoingMail> + Sync,
    ) -> Result<Vec<Result<MailFiled>>> {
        if self.backend == crate::store::Backend::Sqlite || ms.len() < 2 {
            let mut out = Vec::with_capacity(ms.len());
            for m in ms {
                out.push(self.file_mail_with(m, reopen_within, &confirm).await);
            }
            return Ok(out);
        }
        let mut tx = self.begin_write().await?;
        let mut out = Vec::with_capacity(ms.len());
        for m in ms {
            sqlx::query("SAVEPOINT filing").execute(&mut *tx).await?;
            match self
                .file_mail_in_tx(&mut tx, m, reopen_within, &confirm)
                .await
            {
                Ok(f) => {
                    sqlx::query("RELEASE SAVEPOINT filing")
                        .execute(&mut *tx)
                        .await?;
                    out.push(Ok(f));
                }
                Err(e) => {
                    sqlx::query("ROLLBACK TO SAVEPOINT filing")
                        .execute(&mut *tx)
                        .await?;
                    out.push(Err(e));
                }
            }
        }
        tx.commit().await?;
        Ok(out)
    }

    /// One message filed inside `tx` (see [`Self::file_mail_with`]); a message filed before
    /// is answered from its record.
    async fn file_mail_in_tx(
        &self,
        tx: &mut Transaction<'static, Any>,
        m: &InboundMail,
        reopen_within: Duration,
        confirm: &(dyn Fn(&MailFiled) -> Option<OutgoingMail> + Sync),
    ) -> Result<MailFiled> {
        let now = m.received;
        if let Some(f) = filing_in_tx(tx, &m.source_key).await? {
            return Ok(f);
        }
        let queue: Option<i64> = sqlx::query_scalar("SELECT id FROM queues WHERE name = $1")
            .bind(&m.queue)
            .fetch_optional(&mut **tx)
            .await?;
        let limit = self.settings.attachment_max_bytes;
        let (article, c, class, note) = match &m.content {
            Ok(c) => {
                let mut body = c.body.clone();
                let mut attachments = Vec::new();
                for a in &c.attachments {
                    if a.content.len() > limit {
                        body.push_str(&format!(
                            "\n\n[attachment {:?} ({}, {} bytes) is over the limit of {limit} \
                             bytes: kept in the raw message only]",
                            a.filename,
                            a.content_type,
                            a.content.len()
                        ));
                    } else {
                        attachments.push(a.clone());
                    }
                }
                let kind = match c.channel {
                    Channel::Fax => ArticleKind::Fax,
                    _ => ArticleKind::EmailIn,
                };
                let sender = match (&c.from_name, &c.from_address) {
                    (Some(n), Some(a)) => format!("{n} <{a}>"),
                    (None, Some(a)) => a.clone(),
                    _ => "(no sender)".to_string(),
                };
                let mut a = NewArticle::new(kind, sender, c.subject.clone(), body);
                a.attachments = attachments;
                (a, Some(c), c.class.clone(), c.note.clone())
            }
            Err(why) => {
                let note = format!("unreadable message from mailbox {}: {why}", m.mailbox);
                let mut a = NewArticle::new(
                    ArticleKind::Note,
                    "mail",
                    "Unreadable message",
                    format!("{note}. The raw message is kept ({} bytes).", m.raw.len()),
                );
                if m.raw.len() <= limit {
                    a.attachments.push(NewAttachment {
                        filename: "message.eml".into(),
                        content_type: "message/rfc822".into(),
                        content: m.raw.clone(),
                    });
                }
                (a, None, "malformed".to_string(), Some(note))
            }
        };

        // The ticket it answers.
        let mut target: Option<(TicketId, State, Option<DateTime<Utc>>, String)> = None;
        if let Some(c) = c {
            for n in &c.tagged_numbers {
                target = ticket_by(tx, "number = $1", n).await?;
                if target.is_some() {
                    break;
                }
            }
            if target.is_none() {
                for r in &c.references {
                    let id: Option<i64> = sqlx::query_scalar(
                        "SELECT ticket_id FROM mail_outbox WHERE message_id = $1 \
                         AND ticket_id IS NOT NULL UNION ALL \
                         SELECT ticket_id FROM mail_in WHERE message_id = $1 \
                         AND ticket_id IS NOT NULL LIMIT 1",
                    )
                    .bind(r)
                    .fetch_optional(&mut **tx)
                    .await?;
                    if let Some(id) = id {
                        target = ticket_by(tx, "id = $1", &id.to_string()).await?;
                        break;
                    }
                }
            }
        }
        // A merged ticket's mail goes where it was merged.
        if let Some((id, State::Merged, _, _)) = &target {
            let into: Option<i64> =
                sqlx::query_scalar("SELECT merged_into FROM tickets WHERE id = $1")
                    .bind(id.0)
                    .fetch_one(&mut **tx)
                    .await?;
            target = match into {
                Some(i) => ticket_by(tx, "id = $1", &i.to_string()).await?,
                None => None,
            };
        }
        let mut follows = None;
        if let Some((id, state, closed, number)) = &target
            && state.is_closed()
        {
            let recent = closed.is_some_and(|c| {
                now - c
                    <= chrono::Duration::from_std(reopen_within).unwrap_or(chrono::Duration::MAX)
            });
            if !recent {
                follows = Some(number.clone());
                target = None;
            } else {
                self.act_in_tx(
                    tx,
                    *id,
                    Actor::System,
                    &Action::Open,
                    now,
                    Some("reopened by the customer's e-mail"),
                )
                .await?;
            }
        }
        let reopened = target.as_ref().is_some_and(|t| t.1.is_closed());

        let (ticket, number, title, opened) = match target {
            Some((id, _, _, number)) => {
                let title: String = sqlx::query_scalar("SELECT title FROM tickets WHERE id = $1")
                    .bind(id.0)
                    .fetch_one(&mut **tx)
                    .await?;
                (id, number, title, false)
            }
            None => {
                let customer = match c.and_then(|c| c.from_address.as_deref()) {
                    Some(addr) => Some(
                        self.mail_customer_in_tx(
                            tx,
                            addr,
                            c.and_then(|c| c.from_name.as_deref()),
                            now,
                        )
                        .await?,
                    ),
                    None => None,
                };
                let title = match c {
                    Some(c) if !c.subject.trim().is_empty() => c.subject.trim().to_string(),
                    Some(_) => "(no subject)".to_string(),
                    None => format!("Unreadable message in mailbox {}", m.mailbox),
                };
                let channel = c.map(|c| c.channel).unwrap_or(Channel::Email);
                let new = NewTicket {
                    queue: queue.map(QueueId),
                    customer,
                    ..NewTicket::new(title.clone(), channel)
                };
                let t = self.create_in_tx(tx, &new, Actor::System, now).await?;
                (t.id, t.number, title, true)
            }
        };
        let article_id = self
            .add_article_in_tx(tx, ticket, Actor::System, &article, now)
            .await?;
        let mut notes = Vec::new();
        if let Some(n) = follows {
            notes.push(format!(
                "This message answers ticket {n}, closed too long ago to reopen."
            ));
        }
        if let (Some(n), Some(_)) = (&note, c) {
            notes.push(n.clone());
        }
        if !notes.is_empty() {
            let n = NewArticle::new(
                ArticleKind::Note,
                "mail",
                "About this message",
                notes.join("\n"),
            );
            self.add_article_in_tx(tx, ticket, Actor::System, &n, now)
                .await?;
        }
        sqlx::query(
            "INSERT INTO mail_in (source_key, mailbox, message_id, sender, subject, class, note, \
             raw, ticket_id, article_id, opened, received) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(&m.source_key)
        .bind(&m.mailbox)
        .bind(c.and_then(|c| c.message_id.clone()))
        .bind(c.and_then(|c| c.from_address.clone()))
        .bind(c.map(|c| c.subject.clone()).unwrap_or_default())
        .bind(&class)
        .bind(note.clone())
        .bind(m.raw.clone())
        .bind(ticket.0)
        .bind(article_id.0)
        .bind(opened)
        .bind(to_ms(now))
        .execute(&mut **tx)
        .await?;
        let reply_to = c.and_then(|c| c.from_address.clone());
        let filed = MailFiled {
            ticket,
            number,
            title,
            opened,
            reopened,
            answerable: c.is_some_and(|c| c.answerable),
            reply_name: c
                .and_then(|c| c.from_name.clone())
                .or_else(|| reply_to.clone())
                .unwrap_or_default(),
            reply_to,
            message_id: c.and_then(|c| c.message_id.clone()),
            duplicate: false,
        };
        if filed.opened
            && filed.answerable
            && let Some(mail) = confirm(&filed)
        {
            self.queue_mail_in_tx(tx, &mail, Actor::System, now).await?;
        }
        Ok(filed)
    }

    /// How a message was filed, if it was.
    pub async fn mail_filing(&self, source_key: &str) -> Result<Option<MailFiled>> {
        let mut conn = self.pool.acquire().await?;
        filing(&mut conn, source_key).await
    }

    /// The kept message with this source key.
    pub async fn stored_mail(&self, source_key: &str) -> Result<Option<StoredMail>> {
        let row = sqlx::query(
            "SELECT source_key, class, note, ticket_id, raw FROM mail_in WHERE source_key = $1",
        )
        .bind(source_key)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(StoredMail {
                source_key: r.try_get("source_key")?,
                class: r.try_get("class")?,
                note: r.try_get("note")?,
                ticket: r.try_get::<Option<i64>, _>("ticket_id")?.map(TicketId),
                raw: r.try_get("raw")?,
            })
        })
        .transpose()
    }

    /// Every kept inbound message, oldest first.
    pub async fn stored_mail_list(&self) -> Result<Vec<StoredMail>> {
        let rows =
            sqlx::query("SELECT source_key, class, note, ticket_id, raw FROM mail_in ORDER BY id")
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|r| {
                Ok(StoredMail {
                    source_key: r.try_get("source_key")?,
                    class: r.try_get("class")?,
                    note: r.try_get("note")?,
                    ticket: r.try_get::<Option<i64>, _>("ticket_id")?.map(TicketId),
                    raw: r.try_get("raw")?,
                })
            })
            .collect()
    }

    /// How many inbound messages are kept.
    pub async fn mail_count(&self) -> Result<u64> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM mail_in")
            .fetch_one(&self.pool)
            .await?;
        Ok(n as u64)
    }

    /// The customer with e-mail `address` (known before guests, oldest first), else a new
    /// guest with it.
    async fn mail_customer_in_tx(
        &self,
        tx: &mut Transaction<'static, Any>,
        address: &str,
        name: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<CustomerId> {
        let found: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM customers WHERE lower(email) = lower($1) ORDER BY guest, id LIMIT 1",
        )
        .bind(address)
        .fetch_optional(&mut **tx)
        .await?;
        if let Some(id) = found {
            audit_in_tx(
                tx,
                Actor::System,
                "read",
                &format!("customer:{id}"),
                Some("by e-mail"),
                now,
            )
            .await?;
            return Ok(CustomerId(id));
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO customers (full_name, email, guest, created, changed) \
             VALUES ($1, $2, $3, $4, $4) RETURNING id",
        )
        .bind(
            name.map(str::to_string)
                .unwrap_or_else(|| format!("guest {address}")),
        )
        .bind(address)
        .bind(true)
        .bind(to_ms(now))
        .fetch_one(&mut **tx)
        .await?;
        audit_in_tx(
            tx,
            Actor::System,
            "create",
            &format!("customer:{id}"),
            Some("guest for e-mail"),
            now,
        )
        .await?;
        Ok(CustomerId(id))
    }

    /// Queues a mail once per `dedup_key`, with its customer-visible `email_out` article on
    /// its ticket; `false` when that key was queued before (nothing written).
    pub async fn queue_mail(&self, mail: &OutgoingMail, now: DateTime<Utc>) -> Result<bool> {
        self.queue_mail_as(mail, Actor::System, now).await
    }

    /// As [`Self::queue_mail`], the `email_out` article written by `actor` (an operator's
    /// reply is theirs in the ticket's history).
    pub async fn queue_mail_as(
        &self,
        mail: &OutgoingMail,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let queued = self.queue_mail_in_tx(&mut tx, mail, actor, now).await?;
        tx.commit().await?;
        Ok(queued)
    }

    pub(crate) async fn queue_mail_in_tx(
        &self,
        tx: &mut Transaction<'static, Any>,
        mail: &OutgoingMail,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let taken: Option<i64> =
            sqlx::query_scalar("SELECT id FROM mail_outbox WHERE dedup_key = $1")
                .bind(&mail.dedup_key)
                .fetch_optional(&mut **tx)
                .await?;
        if taken.is_some() {
            return Ok(false);
        }
        let attached: usize = mail.attachments.iter().map(|a| a.content.len()).sum();
        if attached > OUTGOING_ATTACHMENTS_MAX_BYTES {
            return Err(crate::Error::Invalid {
                what: "attachments",
                expected: "at most 10 MiB in all",
                got: format!("{attached} bytes"),
            });
        }
        let article = match mail.ticket {
            Some(t) => {
                let a = NewArticle::new(
                    ArticleKind::EmailOut,
                    mail.sender.clone(),
                    mail.subject.clone(),
                    format!("To: {}\n\n{}", mail.recipient, mail.body),
                );
                Some(self.add_article_in_tx(tx, t, actor, &a, now).await?.0)
            }
            None => None,
        };
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO mail_outbox (dedup_key, ticket_id, article_id, message_id, in_reply_to, \
             sender, recipient, subject, body, state, failures, next_attempt, queued) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'queued', 0, $10, $10) RETURNING id",
        )
        .bind(&mail.dedup_key)
        .bind(mail.ticket.map(|t| t.0))
        .bind(article)
        .bind(&mail.message_id)
        .bind(mail.in_reply_to.clone())
        .bind(&mail.sender)
        .bind(&mail.recipient)
        .bind(&mail.subject)
        .bind(&mail.body)
        .bind(to_ms(now))
        .fetch_one(&mut **tx)
        .await?;
        for (position, a) in mail.attachments.iter().enumerate() {
            sqlx::query(
                "INSERT INTO mail_outbox_attachments \
                 (outbox_id, position, filename, content_type, content) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(id)
            .bind(position as i32)
            .bind(&a.filename)
            .bind(&a.content_type)
            .bind(a.content.clone())
            .execute(&mut **tx)
            .await?;
        }
        Ok(true)
    }

    /// Has a mail with this `dedup_key` been queued (whatever became of it)?
    pub async fn mail_queued(&self, dedup_key: &str) -> Result<bool> {
        let id: Option<i64> = sqlx::query_scalar("SELECT id FROM mail_outbox WHERE dedup_key = $1")
            .bind(dedup_key)
            .fetch_optional(&self.pool)
            .await?;
        Ok(id.is_some())
    }

    /// Fills in the attachments of outbox rows read without them.
    async fn outbox_attachments(&self, mails: &mut [OutboxMail]) -> Result<()> {
        for m in mails {
            let rows = sqlx::query(
                "SELECT filename, content_type, content FROM mail_outbox_attachments \
                 WHERE outbox_id = $1 ORDER BY position",
            )
            .bind(m.id)
            .fetch_all(&self.pool)
            .await?;
            m.mail.attachments = rows
                .iter()
                .map(|r| {
                    Ok(NewAttachment {
                        filename: r.try_get("filename")?,
                        content_type: r.try_get("content_type")?,
                        content: r.try_get("content")?,
                    })
                })
                .collect::<Result<_>>()?;
        }
        Ok(())
    }

    /// Moves up to `limit` queued mails due at `now` to `sending` and returns them.
    pub async fn claim_mail(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<OutboxMail>> {
        let mut tx = self.begin_write().await?;
        let ids: Vec<i64> = sqlx::query_scalar(
            "SELECT id FROM mail_outbox WHERE state = 'queued' AND next_attempt <= $1 \
             ORDER BY next_attempt, id LIMIT $2",
        )
        .bind(to_ms(now))
        .bind(limit as i64)
        .fetch_all(&mut *tx)
        .await?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let row = sqlx::query(&format!(
                "UPDATE mail_outbox SET state = 'sending' WHERE id = $1 AND state = 'queued' \
                 RETURNING {OUTBOX_COLUMNS}"
            ))
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(row) = row {
                out.push(outbox_from_row(&row)?);
            }
        }
        tx.commit().await?;
        self.outbox_attachments(&mut out).await?;
        Ok(out)
    }

    /// The relay took it (its 250).
    pub async fn mail_sent(&self, id: i64, now: DateTime<Utc>) -> Result<()> {
        self.outbox_update(
            "UPDATE mail_outbox SET state = 'sent', sent = $2 WHERE id = $1",
            id,
            |q| q.bind(to_ms(now)),
        )
        .await
    }

    /// It failed for now: queued again, due `at`.
    pub async fn mail_retry(&self, id: i64, at: DateTime<Utc>, error: &str) -> Result<()> {
        self.outbox_update(
            "UPDATE mail_outbox SET state = 'queued', failures = failures + 1, \
             next_attempt = $2, last_error = $3 WHERE id = $1",
            id,
            |q| q.bind(to_ms(at)).bind(error.to_string()),
        )
        .await
    }

    /// Given up; the reason stays for administrators.
    pub async fn mail_failed(&self, id: i64, error: &str) -> Result<()> {
        self.outbox_update(
            "UPDATE mail_outbox SET state = 'failed', failures = failures + 1, \
             last_error = $2 WHERE id = $1",
            id,
            |q| q.bind(error.to_string()),
        )
        .await
    }

    async fn outbox_update<'q>(
        &self,
        sql: &'q str,
        id: i64,
        bind: impl FnOnce(
            sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>>,
        ) -> sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>>,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        bind(sqlx::query(sql).bind(id)).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// At start: mail left `sending` by a crash is queued again (sent at most once more).
    pub async fn recover_outbox(&self) -> Result<u64> {
        let mut tx = self.begin_write().await?;
        let n = sqlx::query("UPDATE mail_outbox SET state = 'queued' WHERE state = 'sending'")
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(n)
    }

    /// The outbox, newest first, optionally only one state (administrators' view): `queued`
    /// (never tried yet), `retry` (queued again after a failed attempt), `sending`, `sent`,
    /// `failed`.
    pub async fn outbox(&self, state: Option<&str>, limit: u32) -> Result<Vec<OutboxMail>> {
        let condition = match state {
            None => "1 = 1",
            Some("queued") => "state = 'queued' AND failures = 0",
            Some("retry") => "state = 'queued' AND failures > 0",
            Some("sending") => "state = 'sending'",
            Some("sent") => "state = 'sent'",
            Some("failed") => "state = 'failed'",
            Some(other) => {
                return Err(crate::Error::Invalid {
                    what: "outbox state",
                    expected: "queued, retry, sending, sent or failed",
                    got: other.to_string(),
                });
            }
        };
        let rows = sqlx::query(&format!(
            "SELECT {OUTBOX_COLUMNS} FROM mail_outbox WHERE {condition} ORDER BY id DESC LIMIT $1"
        ))
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?;
        let mut out = rows
            .iter()
            .map(outbox_from_row)
            .collect::<Result<Vec<_>>>()?;
        self.outbox_attachments(&mut out).await?;
        Ok(out)
    }

    /// One outbox mail.
    pub async fn outbox_mail(&self, id: i64) -> Result<Option<OutboxMail>> {
        let row = sqlx::query(&format!(
            "SELECT {OUTBOX_COLUMNS} FROM mail_outbox WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(outbox_from_row).transpose()
    }

    /// An administrator sends a failed mail again: queued, due now, its give-up time counted
    /// from now (`queued` is reset; the failures and the last error stay for the record);
    /// audited. `Ok(Err(state))` when the mail is not failed (nothing changed); a missing
    /// mail is [`crate::Error::NotFound`].
    pub async fn retry_failed_mail(
        &self,
        id: i64,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<std::result::Result<OutboxMail, String>> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(&format!(
            "UPDATE mail_outbox SET state = 'queued', next_attempt = $2, queued = $2 \
             WHERE id = $1 AND state = 'failed' RETURNING {OUTBOX_COLUMNS}"
        ))
        .bind(id)
        .bind(to_ms(now))
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            let state: Option<String> =
                sqlx::query_scalar("SELECT state FROM mail_outbox WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?;
            tx.commit().await?;
            return match state {
                Some(s) => Ok(Err(s)),
                None => Err(crate::Error::NotFound {
                    what: "outbox mail",
                    key: id.to_string(),
                }),
            };
        };
        audit_in_tx(
            &mut tx,
            actor,
            "retry",
            &format!("mail_outbox:{id}"),
            None,
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(Ok(outbox_from_row(&row)?))
    }

    /// The earliest time a queued mail is due, if any.
    pub async fn next_mail_due(&self) -> Result<Option<DateTime<Utc>>> {
        let t: Option<i64> =
            sqlx::query_scalar("SELECT MIN(next_attempt) FROM mail_outbox WHERE state = 'queued'")
                .fetch_one(&self.pool)
                .await?;
        Ok(t.map(from_ms))
    }

    /// An administrator's template for `purpose` in `lang`, if edited: (subject, body).
    pub async fn mail_template(
        &self,
        purpose: &str,
        lang: &str,
    ) -> Result<Option<(String, String)>> {
        let row = sqlx::query(
            "SELECT subject, body FROM mail_templates WHERE purpose = $1 AND lang = $2",
        )
        .bind(purpose)
        .bind(lang)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| Ok((r.try_get("subject")?, r.try_get("body")?)))
            .transpose()
    }

    /// Stores an administrator's template (checked by the caller); audited.
    pub async fn set_mail_template(
        &self,
        purpose: &str,
        lang: &str,
        subject: &str,
        body: &str,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO mail_templates (purpose, lang, subject, body, changed) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (purpose, lang) DO UPDATE SET \
             subject = excluded.subject, body = excluded.body, changed = excluded.changed",
        )
        .bind(purpose)
        .bind(lang)
        .bind(subject)
        .bind(body)
        .bind(to_ms(now))
        .execute(&mut *tx)
        .await?;
        audit_in_tx(
            &mut tx,
            actor,
            "change",
            &format!("mail_template:{purpose}:{lang}"),
            None,
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

async fn ticket_by(
    tx: &mut Transaction<'static, Any>,
    condition: &str,
    key: &str,
) -> Result<Option<(TicketId, State, Option<DateTime<Utc>>, String)>> {
    let sql = format!("SELECT id, state, closed, number FROM tickets WHERE {condition}");
    let q = sqlx::query(&sql);
    let q = if condition.starts_with("id") {
        q.bind(key.parse::<i64>().unwrap_or(-1))
    } else {
        q.bind(key)
    };
    let row = q.fetch_optional(&mut **tx).await?;
    row.map(|r| {
        Ok((
            TicketId(r.try_get("id")?),
            r.try_get::<String, _>("state")?.parse()?,
            r.try_get::<Option<i64>, _>("closed")?.map(from_ms),
            r.try_get("number")?,
        ))
    })
    .transpose()
}

async fn filing_in_tx(tx: &mut Transaction<'static, Any>, key: &str) -> Result<Option<MailFiled>> {
    filing(tx, key).await
}

async fn filing(conn: &mut sqlx::AnyConnection, key: &str) -> Result<Option<MailFiled>> {
    let row = sqlx::query(
        "SELECT m.ticket_id, t.number, t.title, m.opened, m.class, m.sender, m.message_id \
         FROM mail_in m JOIN tickets t ON t.id = m.ticket_id WHERE m.source_key = $1",
    )
    .bind(key)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| {
        let class: String = r.try_get("class")?;
        let sender: Option<String> = r.try_get("sender")?;
        Ok(MailFiled {
            ticket: TicketId(r.try_get("ticket_id")?),
            number: r.try_get("number")?,
            title: r.try_get("title")?,
            opened: crate::types::flag(&r, "opened")?,
            reopened: false,
            answerable: class == "personal",
            reply_name: sender.clone().unwrap_or_default(),
            reply_to: sender,
            message_id: r.try_get("message_id")?,
            duplicate: true,
        })
    })
    .transpose()
}
