//! One fetched message into the store, and its confirmation into the outbox.
//!
//! [`Ingest::file`] parses, classifies and files the message (`crm::Store::file_mail_with`,
//! idempotent by source key) and, for a new ticket opened by a message that may be
//! answered, queues the confirmation with the request number in the same transaction
//! (keyed `confirmation:<ticket>` besides), so it is queued once however often the message
//! is fetched. Automatic mail, faxes,
//! mail without a sender and unreadable mail are filed and never answered.

use std::time::Duration;

use chrono::{DateTime, Utc};
use crm::{Channel, InboundMail, MailContent, MailFiled, NewAttachment, OutgoingMail, Store};

use crate::classify::{Class, FaxRule, classify};
use crate::parse::parse;
use crate::template::{Lang, Purpose, Template, Values, default_template};

/// What filing needs to know about the mailbox and the service.
#[derive(Debug, Clone)]
pub struct Ingest {
    /// The mailbox's name.
    pub mailbox: String,
    /// The queue new tickets open in.
    pub queue: String,
    /// Our From address for confirmations.
    pub from: String,
    /// The language of confirmations.
    pub lang: Lang,
    /// Fax gateways.
    pub fax: FaxRule,
    /// A closed ticket is reopened by a reply within this time.
    pub reopen_within: Duration,
    /// The domain of the Message-IDs we make.
    pub message_id_domain: String,
    /// Told when a mail is queued (the outbox sender's [`crate::smtp::Sender::wake`]).
    pub outbox: Option<std::sync::Arc<tokio::sync::Notify>>,
    /// Told of every message filed now (not of one filed before).
    pub on_filed: Option<OnFiled>,
}

/// Told of every message filed (not of one filed before), after its commit: the service
/// publishes `ticket.created` or `ticket.updated` with it, so blended routing offers an
/// e-mail at once and the agents who follow the queue are notified.
#[derive(Clone)]
pub struct OnFiled(pub std::sync::Arc<dyn Fn(&MailFiled) + Send + Sync>);

impl std::fmt::Debug for OnFiled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OnFiled")
    }
}

/// A store failure while filing (the message stays unseen and is fetched again).
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The store refused or is away.
    #[error(transparent)]
    Store(#[from] crm::Error),
}

fn class_name(c: Class) -> &'static str {
    match c {
        Class::Personal => "personal",
        Class::Fax => "fax",
        Class::Bounce(_) => "bounce",
        Class::AutoReply(_) => "auto_reply",
        Class::List(_) => "list",
        Class::NoSender => "no_sender",
    }
}

impl Ingest {
    /// The store's view of raw bytes (parsed and classified; sans-IO).
    pub fn inbound(&self, source_key: String, raw: Vec<u8>, now: DateTime<Utc>) -> InboundMail {
        let content = parse(&raw).map_err(|e| e.to_string()).map(|p| {
            let class = classify(&p, &self.fax);
            let keys = crate::thread::keys(&p);
            let mut note = class.reason().map(str::to_string);
            if let Some(env) = &p.pec {
                let pec = format!(
                    "Certified mail (PEC, {}): envelope \"{}\" from {}; the envelope is kept in \
                     the raw message.",
                    env.kind,
                    env.subject,
                    env.from.as_deref().unwrap_or("?")
                );
                note = Some(match note {
                    Some(n) => format!("{pec}\n{n}"),
                    None => pec,
                });
            }
            MailContent {
                message_id: p.message_id.clone(),
                from_address: p.from.as_ref().map(|f| f.address.clone()),
                from_name: p.from.as_ref().and_then(|f| f.name.clone()),
                subject: p.subject.clone(),
                body: p.text.clone(),
                attachments: p
                    .attachments
                    .into_iter()
                    .map(|a| NewAttachment {
                        filename: a.name,
                        content_type: a.content_type,
                        content: a.content,
                    })
                    .collect(),
                channel: if class == Class::Fax {
                    Channel::Fax
                } else {
                    Channel::Email
                },
                class: class_name(class).to_string(),
                answerable: class.answerable(),
                note,
                tagged_numbers: keys.numbers,
                references: keys.references,
            }
        });
        InboundMail {
            source_key,
            mailbox: self.mailbox.clone(),
            queue: self.queue.clone(),
            raw,
            received: now,
            content,
        }
    }

    /// The confirmation template: an administrator's edit, else the built-in one (read
    /// before the filing's transaction, rendered inside it once the number is known).
    async fn confirmation(&self, store: &Store) -> Result<Template, IngestError> {
        let template = match store
            .mail_template(Purpose::Confirmation.as_str(), self.lang.as_str())
            .await?
        {
            Some((subject, body)) => Template { subject, body },
            None => default_template(Purpose::Confirmation, self.lang),
        };
        // An edit that does not render never stops the mail: the built-in text goes instead.
        Ok(match template.check() {
            Ok(()) => template,
            Err(e) => {
                tracing::warn!(error = %e, "confirmation template: using the built-in one");
                default_template(Purpose::Confirmation, self.lang)
            }
        })
    }

    /// The confirmation of a new ticket, when its sender may be answered.
    fn confirm(&self, template: &Template, filed: &MailFiled) -> Option<OutgoingMail> {
        let to = filed.reply_to.clone()?;
        let mail = template
            .render(&Values {
                number: filed.number.clone(),
                title: filed.title.clone(),
                name: filed.reply_name.clone(),
                queue: self.queue.clone(),
                link: String::new(),
            })
            .ok()?;
        Some(OutgoingMail {
            dedup_key: format!("confirmation:{}", filed.ticket.0),
            ticket: Some(filed.ticket),
            message_id: format!("{}@{}", uuid::Uuid::now_v7(), self.message_id_domain),
            in_reply_to: filed.message_id.clone(),
            sender: self.from.clone(),
            recipient: to,
            subject: mail.subject,
            body: mail.body,
            attachments: Vec::new(),
        })
    }

    /// After a commit: the outbox is woken for a confirmation, the hook told.
    fn filed(&self, filed: &MailFiled) {
        if filed.opened
            && filed.answerable
            && !filed.duplicate
            && let Some(wake) = &self.outbox
        {
            wake.notify_one();
        }
        if !filed.duplicate
            && let Some(hook) = &self.on_filed
        {
            (hook.0)(filed);
        }
    }

    /// Files one message and queues its confirmation (see the module documentation).
    pub async fn file(
        &self,
        store: &Store,
        source_key: String,
        raw: Vec<u8>,
        now: DateTime<Utc>,
    ) -> Result<MailFiled, IngestError> {
        let m = self.inbound(source_key, raw, now);
        let template = self.confirmation(store).await?;
        let filed = store
            .file_mail_with(&m, self.reopen_within, |f| self.confirm(&template, f))
            .await?;
        self.filed(&filed);
        Ok(filed)
    }

    /// Files a batch of fetched messages (`(source key, raw)`), each with its confirmation,
    /// in one transaction on PostgreSQL (`crm::Store::file_mails_with`); how each went, in
    /// order. `Err` when nothing of the batch was kept.
    pub async fn file_batch(
        &self,
        store: &Store,
        messages: Vec<(String, Vec<u8>)>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Result<MailFiled, IngestError>>, IngestError> {
        let ms: Vec<InboundMail> = messages
            .into_iter()
            .map(|(key, raw)| self.inbound(key, raw, now))
            .collect();
        let template = self.confirmation(store).await?;
        let results = store
            .file_mails_with(&ms, self.reopen_within, |f| self.confirm(&template, f))
            .await?;
        Ok(results
            .into_iter()
            .map(|r| r.inspect(|f| self.filed(f)).map_err(IngestError::from))
            .collect())
    }
}
