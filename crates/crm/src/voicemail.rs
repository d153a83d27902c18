//! A recorded message becomes a Service Request (R-VM-1), exactly once.
//!
//! [`Store::file_voicemail`] files one message in one transaction: the customer whose number
//! called (known customers before guests; a guest is created for an unknown number; none for
//! an anonymous caller); if that customer has a voicemail ticket still `new`, the message
//! joins it as another article; otherwise a ticket opens in the voicemail queue (the `raw`
//! queue when that queue does not exist) with the call linked, the WAV attached and the
//! take-in-charge and resolution clocks started from the message (R-VM-2).
//!
//! The same transaction writes a `voicemail_messages` row keyed by the call id. Filing a
//! message whose row exists returns its ticket and writes nothing, so a hand-off replayed
//! from the journal (R-SR-12) after a crash between the commit and the journal's rewrite, or
//! filed again at start, never opens a second ticket or adds a second article.
//!
//! The journal entry ([`crate::CallWrite::Voicemail`]) names the WAV by its path: the audio
//! is read when the entry is applied, not copied into the journal.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{Any, Row, Transaction};

use crate::access::audit_in_tx;
use crate::articles::{NewArticle, NewAttachment};
use crate::error::{Error, Result};
use crate::lifecycle::State;
use crate::sla::TicketSla;
use crate::store::Store;
use crate::tickets::{NewTicket, Ticket};
use crate::types::{Actor, ArticleKind, Channel, CustomerId, QueueId, TicketId, to_ms};

/// One recorded message to file (the journal's [`crate::CallWrite::Voicemail`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoicemailMessage {
    /// The call that left it: the message's identity (one message per call).
    pub call_id: String,
    /// The caller's number as received; `None` when unknown (a message recovered after a
    /// crash): the call card's caller is used then, if there is one.
    pub caller: Option<String>,
    /// The CRM queue of the ticket it opens.
    pub queue: String,
    /// The WAV file, read when the message is filed.
    pub wav: PathBuf,
    /// Its length, milliseconds.
    pub duration_ms: u64,
    /// When the message was left: the ticket's creation and the clocks' start.
    pub left_at: DateTime<Utc>,
    /// Due times of the voicemail clocks from `left_at` (R-VM-2); `None`: the queue's own.
    pub clocks: Option<MessageClocks>,
}

/// The voicemail clocks of a message, computed from its time on the business calendar when
/// it was left (so a replay sets the same due times whenever it runs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageClocks {
    /// Take in charge by.
    pub first_response_due: Option<DateTime<Utc>>,
    /// Resolve by.
    pub solution_due: Option<DateTime<Utc>>,
}

impl From<TicketSla> for MessageClocks {
    fn from(sla: TicketSla) -> Self {
        MessageClocks {
            first_response_due: sla.first_response_due,
            solution_due: sla.solution_due,
        }
    }
}

/// Where a message was filed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoicemailFiled {
    /// The ticket it opened or joined.
    pub ticket: TicketId,
    /// That ticket's number.
    pub number: String,
    /// It joined an existing ticket rather than opening one.
    pub joined: bool,
}

impl Store {
    /// Files a recorded message (see the module documentation); idempotent by call id.
    /// Returns the ticket it opened or joined (a joined ticket's `call_id` is another call's).
    pub async fn file_voicemail(&self, m: &VoicemailMessage) -> Result<Ticket> {
        // Already filed: nothing to read, nothing to write.
        if let Some(filed) = self.voicemail_filing(&m.call_id).await? {
            return self.ticket(filed.ticket).await;
        }
        let content = tokio::fs::read(&m.wav).await.map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::not_found("voicemail message", m.wav.display()),
            _ => Error::Journal(format!("{}: {e}", m.wav.display())),
        })?;
        // The call card: the caller when the message does not say (recovered after a crash),
        // and whether the caller withheld the number (`events::WITHHELD_STEP`): then the
        // number still finds the customer, but the ticket agents read does not show it.
        let card = self.call(&m.call_id).await.ok();
        let withheld = card
            .as_ref()
            .is_some_and(|c| c.ivr_path.iter().any(|s| s == events::WITHHELD_STEP));
        let caller = match &m.caller {
            Some(c) => Some(c.clone()),
            None => card.map(|c| c.caller),
        };
        let mut tx = self.begin_write().await?;
        // Checked again under the write lock: another node may have filed it meanwhile
        // (PostgreSQL: the primary key refuses the second insert and this rolls back).
        if let Some(id) = filed_in_tx(&mut tx, &m.call_id).await? {
            let t = self.ticket_in_tx(&mut tx, id).await?;
            tx.commit().await?;
            return Ok(t);
        }
        let now = m.left_at;
        let queue: Option<i64> = sqlx::query_scalar("SELECT id FROM queues WHERE name = $1")
            .bind(&m.queue)
            .fetch_optional(&mut *tx)
            .await?;
        let caller = caller.filter(|c| !c.is_empty() && c != "anonymous");
        let customer = match &caller {
            Some(number) => self.caller_customer_in_tx(&mut tx, number, now).await?,
            None => None,
        };
        let from = if withheld {
            "a caller who withheld the number"
        } else {
            caller.as_deref().unwrap_or("anonymous caller")
        };
        let name = m
            .wav
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "message.wav".into());
        let mut article = NewArticle::new(
            ArticleKind::Voicemail,
            from,
            format!("Voicemail from {from}"),
            format!(
                "Message of {:.1} s left by {from} (call {}).",
                m.duration_ms as f64 / 1000.0,
                m.call_id
            ),
        );
        article.attachments.push(NewAttachment {
            filename: name,
            content_type: "audio/wav".into(),
            content,
        });

        // A voicemail ticket of this customer still new: the message joins it.
        let open = match customer {
            Some((c, _)) => {
                sqlx::query_scalar::<_, i64>(
                    "SELECT id FROM tickets WHERE customer_id = $1 AND channel = $2 \
                     AND state = $3 ORDER BY id DESC LIMIT 1",
                )
                .bind(c.0)
                .bind(Channel::Voicemail.as_str())
                .bind(State::New.as_str())
                .fetch_optional(&mut *tx)
                .await?
            }
            None => None,
        };
        let (ticket, article, joined) = match open {
            Some(t) => {
                let t = TicketId(t);
                let a = self
                    .add_article_in_tx(&mut tx, t, Actor::System, &article, now)
                    .await?;
                (t, a, true)
            }
            None => {
                let title = match &customer {
                    Some((_, Some(full_name))) => format!("Voicemail from {full_name}"),
                    _ => format!("Voicemail from {from}"),
                };
                let new = NewTicket {
                    queue: queue.map(QueueId),
                    customer: customer.as_ref().map(|(c, _)| *c),
                    call_id: Some(m.call_id.clone()),
                    ..NewTicket::new(title, Channel::Voicemail)
                };
                let t = self.create_in_tx(&mut tx, &new, Actor::System, now).await?;
                let a = self
                    .add_article_in_tx(&mut tx, t.id, Actor::System, &article, now)
                    .await?;
                if let Some(clocks) = m.clocks {
                    // Left out of hours, the clocks start at the next opening (R-VM-2).
                    let sla = TicketSla {
                        first_response_due: clocks.first_response_due,
                        solution_due: clocks.solution_due,
                        first_response_at: None,
                        update_due: t.sla.update_due,
                        update_from: t.sla.update_from,
                    };
                    self.write_clocks_in_tx(&mut tx, t.id, &sla, t.state)
                        .await?;
                }
                (t.id, a, false)
            }
        };
        sqlx::query(
            "INSERT INTO voicemail_messages (call_id, ticket_id, article_id, joined, left_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&m.call_id)
        .bind(ticket.0)
        .bind(article.0)
        .bind(joined)
        .bind(to_ms(m.left_at))
        .execute(&mut *tx)
        .await?;
        let t = self.ticket_in_tx(&mut tx, ticket).await?;
        tx.commit().await?;
        Ok(t)
    }

    /// Where the message of `call_id` was filed; `None` when it was not (yet).
    pub async fn voicemail_filing(&self, call_id: &str) -> Result<Option<VoicemailFiled>> {
        let row = sqlx::query(
            "SELECT v.ticket_id, t.number, v.joined FROM voicemail_messages v \
             JOIN tickets t ON t.id = v.ticket_id WHERE v.call_id = $1",
        )
        .bind(call_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(VoicemailFiled {
                ticket: TicketId(r.try_get("ticket_id")?),
                number: r.try_get("number")?,
                joined: crate::types::flag(&r, "joined")?,
            })
        })
        .transpose()
    }

    /// How many messages were filed (each call's message counts once).
    pub async fn voicemail_count(&self) -> Result<u64> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM voicemail_messages")
            .fetch_one(&self.pool)
            .await?;
        Ok(n as u64)
    }

    /// The customer a message from `number` belongs to: the one with that phone (known
    /// customers before guests, oldest first; the read is audited), else a new guest. `None`
    /// when `number` is not a phone number (a SIP URI): the message is filed without one.
    /// Returns the customer and, for a known (non-guest) one, the full name.
    async fn caller_customer_in_tx(
        &self,
        tx: &mut Transaction<'static, Any>,
        number: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<(CustomerId, Option<String>)>> {
        let Ok(e164) = self.normalize_phone(number) else {
            return Ok(None);
        };
        let row = sqlx::query(
            "SELECT c.id, c.full_name, c.guest FROM customers c \
             JOIN customer_phones p ON p.customer_id = c.id \
             WHERE p.e164 = $1 ORDER BY c.guest, c.id LIMIT 1",
        )
        .bind(&e164)
        .fetch_optional(&mut **tx)
        .await?;
        if let Some(row) = row {
            let id: i64 = row.try_get("id")?;
            let guest = crate::types::flag(&row, "guest")?;
            let name: String = row.try_get("full_name")?;
            audit_in_tx(
                tx,
                Actor::System,
                "read",
                &format!("customer:{id}"),
                Some("by phone"),
                now,
            )
            .await?;
            return Ok(Some((CustomerId(id), (!guest).then_some(name))));
        }
        let id = self
            .insert_guest_in_tx(tx, &e164, "guest for voicemail", now)
            .await?;
        Ok(Some((CustomerId(id), None)))
    }
}

async fn filed_in_tx(
    tx: &mut Transaction<'static, Any>,
    call_id: &str,
) -> Result<Option<TicketId>> {
    let id: Option<i64> =
        sqlx::query_scalar("SELECT ticket_id FROM voicemail_messages WHERE call_id = $1")
            .bind(call_id)
            .fetch_optional(&mut **tx)
            .await?;
    Ok(id.map(TicketId))
}
