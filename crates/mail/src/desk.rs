//! The agent's e-mail desk: operators' replies from the ticket, and the mails the server
//! sends on its own (confirmation to phone, voicemail and web requesters, pending reminder,
//! closure).
//!
//! **Replies** ([`Desk::reply`]): to the customer's address (else the last sender), subject
//! `[Ticket#N] Re: title`, `In-Reply-To`/`References` the last inbound message, the body
//! optionally followed by the quoted last message (`[mail] quote_replies`, overridable per
//! reply). The reply is the ticket's customer-visible `email_out` article, written by the
//! operator, and an outbox row (`reply:<uuid>`) in one transaction.
//!
//! **On its own** ([`Desk::sweep`], every `sweep_every` by [`Desk::run`]): each kind is
//! found in the store by what the outbox lacks (`confirmation:<id>`, `closure:<id>:<closed>`)
//! or, for reminders, by the ticket's own `reminded_for` (taken with its mail in one
//! transaction). So a sweep is idempotent: a restart, two sweeps at once or a crash between
//! finding and queueing never send a mail twice, and nothing due is skipped — the marks
//! ([`crm::Store::mail_desk_mark`]) only bound how far back each query looks
//! ([`window`]). Mail is never written on our own to a ticket opened by an auto-reply, a
//! bounce, a list or a fax ([`crm::MailContext::answerable`]).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use crm::{Actor, MailContext, OutgoingMail, Store, Ticket, TicketId};
use tokio::sync::Notify;

use crate::template::{Lang, Purpose, Template, Values, default_template};

/// How far back the confirmation and closure sweeps look behind their mark: a phone
/// ticket whose customer is identified (and so gets an address) within this time of its
/// opening still gets its confirmation.
pub const LOOK_BACK: chrono::TimeDelta = chrono::TimeDelta::hours(1);

/// At most this many mails of one kind per sweep (the rest the next sweep).
pub const BATCH: u32 = 200;

/// The desk's settings (from `[mail]`).
#[derive(Debug, Clone)]
pub struct Desk {
    /// Our From.
    pub from: String,
    /// Right side of our Message-IDs.
    pub message_id_domain: String,
    /// The templates' language.
    pub lang: Lang,
    /// Quote the last inbound message under a reply unless the reply says otherwise.
    pub quote_replies: bool,
    /// The `{{link}}` of the closure mail (the satisfaction survey), may be empty.
    pub closure_link: String,
    /// How often the server looks for mail to send on its own.
    pub sweep_every: Duration,
    /// Told when a mail is queued (the outbox sender's wake).
    pub wake: Option<Arc<Notify>>,
}

/// A reply that cannot be sent.
#[derive(Debug, thiserror::Error)]
pub enum ReplyError {
    /// Nothing to send.
    #[error("the reply's body is empty")]
    Empty,
    /// No address on the ticket.
    #[error(
        "ticket {0} has no e-mail address to answer: the customer has none and no message came by e-mail"
    )]
    NoAddress(String),
    /// The store.
    #[error(transparent)]
    Store(#[from] crm::Error),
}

/// A pending reminder that came due (for the desktop's notification).
#[derive(Debug, Clone)]
pub struct ReminderDue {
    /// The ticket.
    pub ticket: Ticket,
    /// Its mail context (number, queue).
    pub context: MailContext,
    /// A reminder mail to the citizen was queued.
    pub mailed: bool,
}

/// What one sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Swept {
    /// Confirmations queued.
    pub confirmations: usize,
    /// Closure mails queued.
    pub closures: usize,
    /// Reminders that came due (mailed or not).
    pub reminders: usize,
}

/// The time a confirmation or closure sweep looks from: its mark less [`LOOK_BACK`].
pub fn window(mark: DateTime<Utc>) -> DateTime<Utc> {
    mark - LOOK_BACK
}

/// The mark after a sweep at `now` that found `found` candidates with a batch of `batch`:
/// `now` when the batch was not full (everything before `now` was seen), else the old mark
/// (the next sweep looks again from there).
pub fn next_mark(
    mark: DateTime<Utc>,
    now: DateTime<Utc>,
    found: usize,
    batch: u32,
) -> DateTime<Utc> {
    if found >= batch as usize {
        mark
    } else {
        now.max(mark)
    }
}

/// When the reminder loop wakes next: at the sweep interval, or earlier at the next pending
/// time when it comes sooner (never in the past, never sooner than 50 ms).
pub fn next_wake(
    now: DateTime<Utc>,
    next_pending: Option<DateTime<Utc>>,
    every: Duration,
) -> Duration {
    let by_interval = every;
    let by_pending = next_pending
        .map(|t| (t - now).to_std().unwrap_or(Duration::ZERO))
        .unwrap_or(every);
    by_interval.min(by_pending).max(Duration::from_millis(50))
}

fn quote(text: &str) -> String {
    text.trim_end()
        .lines()
        .map(|l| {
            if l.is_empty() {
                ">".to_string()
            } else {
                format!("> {l}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

impl Desk {
    /// A new Message-ID (without brackets).
    pub fn message_id(&self) -> String {
        format!("{}@{}", uuid::Uuid::now_v7(), self.message_id_domain)
    }

    /// The administrator's template for `purpose` in our language, else the built-in one
    /// (also when a stored edit does not render: a mail is never stopped by a template).
    pub async fn template(&self, store: &Store, purpose: Purpose) -> Result<Template, crm::Error> {
        let t = match store
            .mail_template(purpose.as_str(), self.lang.as_str())
            .await?
        {
            Some((subject, body)) => Template { subject, body },
            None => default_template(purpose, self.lang),
        };
        Ok(match t.check() {
            Ok(()) => t,
            Err(e) => {
                tracing::warn!(purpose = purpose.as_str(), error = %e, "mail template: using the built-in one");
                default_template(purpose, self.lang)
            }
        })
    }

    /// The reply mail (sans-IO): `body` from the operator, `quote` the last inbound message
    /// under it.
    pub fn reply_mail(
        &self,
        ctx: &MailContext,
        body: &str,
        quote_last: bool,
    ) -> Result<OutgoingMail, ReplyError> {
        if body.trim().is_empty() {
            return Err(ReplyError::Empty);
        }
        let to = ctx
            .address
            .clone()
            .ok_or_else(|| ReplyError::NoAddress(ctx.number.clone()))?;
        let mut text = body.trim_end().replace("\r\n", "\n");
        text.push('\n');
        if quote_last
            && let Some(last) = &ctx.last_in
            && !last.body.trim().is_empty()
        {
            let when = last.received.format("%Y-%m-%d %H:%M UTC");
            let who = last.sender.as_deref().unwrap_or("?");
            let intro = match self.lang {
                Lang::It => format!("Il {when}, {who} ha scritto:"),
                Lang::En => format!("On {when}, {who} wrote:"),
            };
            text.push_str(&format!("\n{intro}\n{}\n", quote(&last.body)));
        }
        let title = ctx.title.replace(['\r', '\n'], " ");
        Ok(OutgoingMail {
            dedup_key: format!("reply:{}", uuid::Uuid::now_v7()),
            ticket: Some(ctx.ticket),
            message_id: self.message_id(),
            in_reply_to: ctx.last_in.as_ref().and_then(|l| l.message_id.clone()),
            sender: self.from.clone(),
            recipient: to,
            subject: crate::thread::tagged_subject(&ctx.number, &format!("Re: {}", title.trim())),
            body: text,
            attachments: Vec::new(),
        })
    }

    /// An operator's reply on `ticket`: queued with its article (by `actor`), the sender woken.
    pub async fn reply(
        &self,
        store: &Store,
        ticket: TicketId,
        actor: Actor,
        body: &str,
        quote: Option<bool>,
        now: DateTime<Utc>,
    ) -> Result<OutgoingMail, ReplyError> {
        let ctx = store.mail_context(ticket).await?;
        let mail = self.reply_mail(&ctx, body, quote.unwrap_or(self.quote_replies))?;
        store.queue_mail_as(&mail, actor, now).await?;
        self.wake();
        Ok(mail)
    }

    fn wake(&self) {
        if let Some(w) = &self.wake {
            w.notify_one();
        }
    }

    /// A mail of ours (confirmation, reminder, closure) for `ctx` with `template`, keyed
    /// `key`; `None` when the ticket has no address or may not be written to.
    pub fn own_mail(
        &self,
        template: &Template,
        ctx: &MailContext,
        key: String,
    ) -> Option<OutgoingMail> {
        if !ctx.answerable {
            return None;
        }
        let to = ctx.address.clone()?;
        let r = template
            .render(&Values {
                number: ctx.number.clone(),
                title: ctx.title.clone(),
                name: ctx.name.clone(),
                queue: ctx.queue.clone(),
                link: self.closure_link.clone(),
            })
            .ok()?;
        Some(OutgoingMail {
            dedup_key: key,
            ticket: Some(ctx.ticket),
            message_id: self.message_id(),
            in_reply_to: ctx.last_in.as_ref().and_then(|l| l.message_id.clone()),
            sender: self.from.clone(),
            recipient: to,
            subject: r.subject,
            body: r.body,
            attachments: Vec::new(),
        })
    }

    /// One sweep at `now`: confirmations, closures, the reminders due (each handed to
    /// `on_reminder`, e.g. to notify the desktop).
    pub async fn sweep(
        &self,
        store: &Store,
        now: DateTime<Utc>,
        on_reminder: &(dyn Fn(ReminderDue) + Send + Sync),
    ) -> Result<Swept, crm::Error> {
        let mut swept = Swept::default();

        let mark = store.mail_desk_mark("confirmation", now).await?;
        let template = self.template(store, Purpose::Confirmation).await?;
        let due = store.confirmations_due(window(mark), BATCH).await?;
        for ctx in &due {
            let key = crm::mail_desk::confirmation_key(ctx.ticket);
            if let Some(m) = self.own_mail(&template, ctx, key)
                && store.queue_mail(&m, now).await?
            {
                swept.confirmations += 1;
            }
        }
        store
            .set_mail_desk_mark("confirmation", next_mark(mark, now, due.len(), BATCH))
            .await?;

        let mark = store.mail_desk_mark("closure", now).await?;
        let template = self.template(store, Purpose::Closure).await?;
        let due = store.closures_due(window(mark), BATCH).await?;
        for ctx in &due {
            let Some(closed) = ctx.closed else { continue };
            let key = crm::mail_desk::closure_key(ctx.ticket, closed);
            if let Some(m) = self.own_mail(&template, ctx, key)
                && store.queue_mail(&m, now).await?
            {
                swept.closures += 1;
            }
        }
        store
            .set_mail_desk_mark("closure", next_mark(mark, now, due.len(), BATCH))
            .await?;

        let template = self.template(store, Purpose::PendingReminder).await?;
        let reminders = store
            .take_due_reminders_mailed(now, |ctx| {
                let until = ctx.pending_until?;
                self.own_mail(
                    &template,
                    ctx,
                    crm::mail_desk::reminder_key(ctx.ticket, until),
                )
            })
            .await?;
        swept.reminders = reminders.len();
        for (ticket, context, mailed) in reminders {
            on_reminder(ReminderDue {
                ticket,
                context,
                mailed,
            });
        }
        if swept.confirmations + swept.closures + swept.reminders > 0 {
            self.wake();
        }
        Ok(swept)
    }

    /// Sweeps forever (until the task is dropped): every `sweep_every`, sooner when a pending
    /// reminder comes due before.
    pub async fn run(
        self: Arc<Self>,
        store: Store,
        on_reminder: Arc<dyn Fn(ReminderDue) + Send + Sync>,
    ) {
        loop {
            let now = Utc::now();
            match self.sweep(&store, now, on_reminder.as_ref()).await {
                Ok(s) if s != Swept::default() => tracing::info!(?s, "mail desk sweep"),
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "mail desk sweep: store error"),
            }
            let next = store.next_pending_reminder().await.unwrap_or(None);
            tokio::time::sleep(next_wake(Utc::now(), next, self.sweep_every)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use crm::{LastInbound, State};

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap()
    }

    fn desk() -> Desk {
        Desk {
            from: "URP <urp@comune.example.org>".into(),
            message_id_domain: "comune.example.org".into(),
            lang: Lang::En,
            quote_replies: true,
            closure_link: "https://comune.example.org/survey".into(),
            sweep_every: Duration::from_secs(30),
            wake: None,
        }
    }

    fn ctx() -> MailContext {
        MailContext {
            ticket: TicketId(7),
            number: "2026030242000015".into(),
            title: "Buca in via Verdi".into(),
            queue: "urp".into(),
            owner: Some("1001".into()),
            state: State::Open,
            closed: None,
            pending_until: None,
            name: "Mario Rossi".into(),
            address: Some("mario.rossi@example.org".into()),
            answerable: true,
            last_in: Some(LastInbound {
                message_id: Some("m1@example.org".into()),
                sender: Some("mario.rossi@example.org".into()),
                received: t0(),
                body: "C'è una buca.\n\nGrazie".into(),
            }),
        }
    }

    #[test]
    fn a_reply_is_tagged_threaded_and_quoted_when_asked() {
        let m = desk().reply_mail(&ctx(), "We will fix it.", true).unwrap();
        assert_eq!(m.subject, "[Ticket#2026030242000015] Re: Buca in via Verdi");
        assert_eq!(m.recipient, "mario.rossi@example.org");
        assert_eq!(m.in_reply_to.as_deref(), Some("m1@example.org"));
        assert!(m.dedup_key.starts_with("reply:"));
        assert!(m.message_id.ends_with("@comune.example.org"));
        assert_eq!(
            m.body,
            "We will fix it.\n\nOn 2026-03-02 09:00 UTC, mario.rossi@example.org wrote:\n\
             > C'è una buca.\n>\n> Grazie\n"
        );
        let plain = desk().reply_mail(&ctx(), "We will fix it.", false).unwrap();
        assert_eq!(plain.body, "We will fix it.\n");
        assert_ne!(plain.dedup_key, m.dedup_key, "each reply is its own mail");
    }

    #[test]
    fn a_reply_without_address_or_body_is_refused() {
        let mut c = ctx();
        c.address = None;
        assert!(matches!(
            desk().reply_mail(&c, "x", false),
            Err(ReplyError::NoAddress(n)) if n == "2026030242000015"
        ));
        assert!(matches!(
            desk().reply_mail(&ctx(), " \n ", false),
            Err(ReplyError::Empty)
        ));
    }

    #[test]
    fn our_own_mail_skips_automatic_openers_and_missing_addresses() {
        let d = desk();
        let t = default_template(Purpose::Closure, Lang::En);
        let m = d.own_mail(&t, &ctx(), "closure:7:1".into()).unwrap();
        assert!(m.subject.starts_with("[Ticket#2026030242000015] "));
        assert!(m.body.contains("https://comune.example.org/survey"));
        assert_eq!(m.dedup_key, "closure:7:1");
        let mut auto = ctx();
        auto.answerable = false;
        assert!(d.own_mail(&t, &auto, "k".into()).is_none());
        let mut none = ctx();
        none.address = None;
        assert!(d.own_mail(&t, &none, "k".into()).is_none());
    }

    #[test]
    fn marks_move_only_when_the_batch_was_not_full() {
        let mark = t0();
        let now = t0() + chrono::TimeDelta::minutes(5);
        assert_eq!(next_mark(mark, now, 3, 200), now);
        assert_eq!(
            next_mark(mark, now, 200, 200),
            mark,
            "full batch: look again"
        );
        assert_eq!(next_mark(now, mark, 0, 200), now, "never back");
        assert_eq!(window(mark), mark - LOOK_BACK);
    }

    #[test]
    fn the_loop_wakes_at_the_next_reminder_or_the_interval() {
        let every = Duration::from_secs(30);
        assert_eq!(next_wake(t0(), None, every), every);
        let soon = t0() + chrono::TimeDelta::seconds(4);
        assert_eq!(next_wake(t0(), Some(soon), every), Duration::from_secs(4));
        let late = t0() + chrono::TimeDelta::hours(4);
        assert_eq!(next_wake(t0(), Some(late), every), every);
        let past = t0() - chrono::TimeDelta::hours(1);
        assert_eq!(
            next_wake(t0(), Some(past), every),
            Duration::from_millis(50),
            "an overdue one (already taken) does not spin the loop"
        );
    }
}
