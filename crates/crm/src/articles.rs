//! Articles and attachments (R-SR-5; OTRS "communications", seed 000 §4.4.2.4).
//!
//! An article is one communication on a ticket: internal note (optionally visible to the
//! customer), phone call received or made, e-mail in or out, voicemail, web form, fax.
//! Attachments are stored once per content (SHA-256), up to the configured size limit, and
//! referenced from each article that carries them. Adding an article is a life-cycle `Touch`:
//! refused on merged tickets and on tickets locked by someone else; it is written to history.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use crate::error::{Error, Result};
use crate::lifecycle::Action;
use crate::store::Store;
use crate::tickets::record;
use crate::types::{Actor, ArticleId, ArticleKind, TicketId, UserId, flag, from_ms, to_ms};

/// A file to attach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAttachment {
    /// File name as shown.
    pub filename: String,
    /// MIME type, e.g. `audio/wav`.
    pub content_type: String,
    /// The bytes.
    pub content: Vec<u8>,
}

/// An attachment as listed on an article (content fetched with [`Store::attachment`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// Hex SHA-256 of the content: its storage key.
    pub sha256: String,
    /// File name.
    pub filename: String,
    /// MIME type.
    pub content_type: String,
    /// Size in bytes.
    pub size: u64,
}

/// An article to add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewArticle {
    /// Kind.
    pub kind: ArticleKind,
    /// Visible to the customer (notes are internal unless set).
    pub customer_visible: bool,
    /// Sender (e-mail address, phone number, operator name).
    pub sender: String,
    /// Subject.
    pub subject: String,
    /// Body text.
    pub body: String,
    /// Attachments.
    pub attachments: Vec<NewAttachment>,
}

impl NewArticle {
    /// An article; notes start internal, every other kind customer-visible.
    pub fn new(
        kind: ArticleKind,
        sender: impl Into<String>,
        subject: impl Into<String>,
        body: impl Into<String>,
    ) -> Self {
        NewArticle {
            kind,
            customer_visible: kind != ArticleKind::Note,
            sender: sender.into(),
            subject: subject.into(),
            body: body.into(),
            attachments: Vec::new(),
        }
    }
}

/// A stored article.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Article {
    /// Id.
    pub id: ArticleId,
    /// Its ticket.
    pub ticket: TicketId,
    /// Kind.
    pub kind: ArticleKind,
    /// Visible to the customer.
    pub customer_visible: bool,
    /// Sender.
    pub sender: String,
    /// Subject.
    pub subject: String,
    /// Body.
    pub body: String,
    /// When.
    pub created: DateTime<Utc>,
    /// By whom (`None`: the system).
    pub created_by: Option<UserId>,
    /// Attachments, in the order given.
    pub attachments: Vec<Attachment>,
}

fn article_from_row(row: &AnyRow) -> Result<Article> {
    Ok(Article {
        id: ArticleId(row.try_get("id")?),
        ticket: TicketId(row.try_get("ticket_id")?),
        kind: row.try_get::<String, _>("kind")?.parse()?,
        customer_visible: flag(row, "customer_visible")?,
        sender: row.try_get("sender")?,
        subject: row.try_get("subject")?,
        body: row.try_get("body")?,
        created: from_ms(row.try_get("created")?),
        created_by: row.try_get::<Option<i64>, _>("created_by")?.map(UserId),
        attachments: Vec::new(),
    })
}

impl Store {
    /// Adds an article to a ticket (history: `article`).
    pub async fn add_article(
        &self,
        ticket: TicketId,
        actor: Actor,
        article: NewArticle,
        now: DateTime<Utc>,
    ) -> Result<ArticleId> {
        let mut tx = self.begin_write().await?;
        let id = self
            .add_article_in_tx(&mut tx, ticket, actor, &article, now)
            .await?;
        tx.commit().await?;
        Ok(id)
    }

    pub(crate) async fn add_article_in_tx(
        &self,
        tx: &mut Transaction<'static, Any>,
        ticket: TicketId,
        actor: Actor,
        article: &NewArticle,
        now: DateTime<Utc>,
    ) -> Result<ArticleId> {
        let limit = self.settings.attachment_max_bytes;
        if let Some(a) = article.attachments.iter().find(|a| a.content.len() > limit) {
            return Err(Error::AttachmentTooLarge {
                limit,
                size: a.content.len(),
            });
        }
        let visible = article.customer_visible;
        self.act_in_tx_with(tx, ticket, actor, &Action::Touch, now, None, visible)
            .await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO articles (ticket_id, kind, customer_visible, sender, subject, body, \
             created, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(ticket.0)
        .bind(article.kind.as_str())
        .bind(article.customer_visible)
        .bind(&article.sender)
        .bind(&article.subject)
        .bind(&article.body)
        .bind(to_ms(now))
        .bind(actor.user_id())
        .fetch_one(&mut **tx)
        .await?;
        for a in &article.attachments {
            let sha = hex::encode(Sha256::digest(&a.content));
            sqlx::query(
                "INSERT INTO attachment_blobs (sha256, size, content) VALUES ($1, $2, $3) \
                 ON CONFLICT (sha256) DO NOTHING",
            )
            .bind(&sha)
            .bind(a.content.len() as i64)
            .bind(a.content.clone())
            .execute(&mut **tx)
            .await?;
            sqlx::query(
                "INSERT INTO article_attachments (article_id, sha256, filename, content_type) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(id)
            .bind(&sha)
            .bind(&a.filename)
            .bind(&a.content_type)
            .execute(&mut **tx)
            .await?;
        }
        sqlx::query("UPDATE tickets SET changed = $1 WHERE id = $2")
            .bind(to_ms(now))
            .bind(ticket.0)
            .execute(&mut **tx)
            .await?;
        record(
            tx,
            ticket,
            now,
            actor,
            "article",
            None,
            Some(id.to_string()),
            Some(article.kind.as_str().to_string()),
        )
        .await?;
        Ok(ArticleId(id))
    }

    /// A ticket's articles, oldest first, with their attachments listed.
    pub async fn articles(&self, ticket: TicketId) -> Result<Vec<Article>> {
        let rows = sqlx::query(
            "SELECT id, ticket_id, kind, customer_visible, sender, subject, body, created, \
             created_by FROM articles WHERE ticket_id = $1 ORDER BY id",
        )
        .bind(ticket.0)
        .fetch_all(&self.pool)
        .await?;
        let mut out = rows
            .iter()
            .map(article_from_row)
            .collect::<Result<Vec<_>>>()?;
        for a in &mut out {
            let rows = sqlx::query(
                "SELECT aa.sha256, aa.filename, aa.content_type, b.size \
                 FROM article_attachments aa JOIN attachment_blobs b ON b.sha256 = aa.sha256 \
                 WHERE aa.article_id = $1 ORDER BY aa.id",
            )
            .bind(a.id.0)
            .fetch_all(&self.pool)
            .await?;
            a.attachments = rows
                .iter()
                .map(|r| {
                    Ok(Attachment {
                        sha256: r.try_get("sha256")?,
                        filename: r.try_get("filename")?,
                        content_type: r.try_get("content_type")?,
                        size: r.try_get::<i64, _>("size")? as u64,
                    })
                })
                .collect::<Result<_>>()?;
        }
        Ok(out)
    }

    /// An attachment's bytes by content hash.
    pub async fn attachment(&self, sha256: &str) -> Result<Vec<u8>> {
        sqlx::query_scalar("SELECT content FROM attachment_blobs WHERE sha256 = $1")
            .bind(sha256)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| Error::not_found("attachment", sha256))
    }

    /// An attachment of `ticket`, with its bytes: found only when an article of this ticket
    /// carries it (the same content on another ticket is not reachable through this one).
    pub async fn ticket_attachment(
        &self,
        ticket: TicketId,
        sha256: &str,
    ) -> Result<(Attachment, Vec<u8>)> {
        let row = sqlx::query(
            "SELECT aa.filename, aa.content_type, b.size, b.content \
             FROM article_attachments aa JOIN articles a ON a.id = aa.article_id \
             JOIN attachment_blobs b ON b.sha256 = aa.sha256 \
             WHERE a.ticket_id = $1 AND aa.sha256 = $2 ORDER BY aa.id LIMIT 1",
        )
        .bind(ticket.0)
        .bind(sha256)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| Error::not_found("attachment", sha256))?;
        Ok((
            Attachment {
                sha256: sha256.to_string(),
                filename: row.try_get("filename")?,
                content_type: row.try_get("content_type")?,
                size: row.try_get::<i64, _>("size")? as u64,
            },
            row.try_get("content")?,
        ))
    }

    /// Writes to `ticket`'s history that `actor` listened to (or opened) `filename`
    /// (`listened`, R-VM-1: who heard a citizen's message, and when).
    pub async fn record_listened(
        &self,
        ticket: TicketId,
        actor: Actor,
        filename: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        record(
            &mut tx,
            ticket,
            now,
            actor,
            "listened",
            None,
            Some(filename.to_string()),
            None,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// How many distinct attachment contents are stored.
    pub async fn attachment_blob_count(&self) -> Result<u64> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM attachment_blobs")
            .fetch_one(&self.pool)
            .await?;
        Ok(n as u64)
    }
}
