//! The outbox's sender: SMTP through the relay with `lettre` (STARTTLS or TLS, AUTH).
//!
//! [`Sender::run_once`] recovers nothing and claims the mail due now, sends each one, and
//! records the relay's answer through the retry rule of [`crate::outbox`]; [`Sender::run`]
//! recovers `sending` rows at start and then loops, waking at the next due time or when
//! told that mail was queued.
//!
//! A mail with attachments goes as `multipart/mixed`: the plain text, then each file.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use crm::{OutboxMail, Store};
use lettre::message::header::ContentType;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Attachment, Mailbox, Message, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use tokio::sync::Notify;

use crate::outbox::{Attempt, Next, RetryPolicy};

/// How to talk to the relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// Plain SMTP (loopback relays only).
    None,
    /// STARTTLS (RFC 3207), required.
    StartTls,
    /// TLS from the first byte (RFC 8314).
    Tls,
}

/// The relay.
#[derive(Debug, Clone)]
pub struct Relay {
    /// Host name (also the TLS server name).
    pub host: String,
    /// Port.
    pub port: u16,
    /// Security.
    pub security: Security,
    /// AUTH user and password.
    pub credentials: Option<(String, String)>,
    /// Extra trusted CA (PEM), e.g. a relay with a private certificate.
    pub ca_pem: Option<Vec<u8>>,
    /// Give up on one attempt after this long.
    pub timeout: Duration,
}

/// A relay configuration that cannot work.
#[derive(Debug, thiserror::Error)]
#[error("SMTP relay {0}")]
pub struct RelayError(String);

/// Sends the outbox.
pub struct Sender {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    store: Store,
    policy: RetryPolicy,
    /// Notified when mail is queued (wakes the loop early).
    pub wake: Arc<Notify>,
}

fn message(m: &OutboxMail) -> Result<Message, String> {
    let from: Mailbox = m
        .mail
        .sender
        .parse()
        .map_err(|e| format!("sender {:?}: {e}", m.mail.sender))?;
    let to: Mailbox = m
        .mail
        .recipient
        .parse()
        .map_err(|e| format!("recipient {:?}: {e}", m.mail.recipient))?;
    let mut b = Message::builder()
        .from(from)
        .to(to)
        .subject(m.mail.subject.clone())
        .message_id(Some(format!("<{}>", m.mail.message_id)));
    if let Some(r) = &m.mail.in_reply_to {
        b = b.in_reply_to(format!("<{r}>")).references(format!("<{r}>"));
    }
    let mut msg = if m.mail.attachments.is_empty() {
        b.body(m.mail.body.clone())
    } else {
        // multipart/mixed: the text first, then each file (base64) in order.
        let mut parts = MultiPart::mixed().singlepart(SinglePart::plain(m.mail.body.clone()));
        for a in &m.mail.attachments {
            let ct = ContentType::parse(&a.content_type)
                .map_err(|e| format!("attachment {:?}: content type: {e}", a.filename))?;
            parts =
                parts.singlepart(Attachment::new(a.filename.clone()).body(a.content.clone(), ct));
        }
        b.multipart(parts)
    }
    .map_err(|e| format!("building the message: {e}"))?;
    // RFC 3834 §5: what we send on our own is auto-generated, so responders stay quiet;
    // an operator's reply (`reply:` key) is written by a person and says nothing.
    if !m.mail.dedup_key.starts_with("reply:") {
        msg.headers_mut().insert_raw(HeaderValue::new(
            HeaderName::new_from_ascii_str("Auto-Submitted"),
            "auto-generated".into(),
        ));
    }
    Ok(msg)
}

impl Sender {
    /// A sender through `relay`.
    pub fn new(relay: &Relay, store: Store, policy: RetryPolicy) -> Result<Sender, RelayError> {
        let tls = || -> Result<TlsParameters, RelayError> {
            let mut b = TlsParameters::builder(relay.host.clone());
            if let Some(pem) = &relay.ca_pem {
                let cert =
                    Certificate::from_pem(pem).map_err(|e| RelayError(format!("CA: {e}")))?;
                b = b.add_root_certificate(cert);
            }
            b.build_rustls()
                .map_err(|e| RelayError(format!("TLS: {e}")))
        };
        let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&relay.host)
            .port(relay.port)
            .timeout(Some(relay.timeout));
        b = match relay.security {
            Security::None => b.tls(Tls::None),
            Security::StartTls => b.tls(Tls::Required(tls()?)),
            Security::Tls => b.tls(Tls::Wrapper(tls()?)),
        };
        if let Some((u, p)) = &relay.credentials {
            b = b.credentials(Credentials::new(u.clone(), p.clone()));
        }
        Ok(Sender {
            transport: b.build(),
            store,
            policy,
            wake: Arc::new(Notify::new()),
        })
    }

    async fn attempt(&self, m: &OutboxMail) -> Attempt {
        let msg = match message(m) {
            Ok(msg) => msg,
            Err(e) => return Attempt::Permanent(e),
        };
        match self.transport.send(msg).await {
            Ok(_) => Attempt::Accepted,
            Err(e) if e.is_permanent() => Attempt::Permanent(e.to_string()),
            Err(e) => Attempt::Transient(e.to_string()),
        }
    }

    /// Sends what is due now; returns how many were sent.
    pub async fn run_once(&self) -> Result<usize, crm::Error> {
        let mut sent = 0;
        for m in self.store.claim_mail(Utc::now(), 50).await? {
            let attempt = self.attempt(&m).await;
            let now = Utc::now();
            match self.policy.after(attempt, m.queued, m.failures + 1, now) {
                Next::Sent => {
                    self.store.mail_sent(m.id, now).await?;
                    sent += 1;
                }
                Next::RetryAt(at, why) => {
                    tracing::warn!(mail = m.id, %why, %at, "relay did not take the mail; retrying");
                    self.store.mail_retry(m.id, at, &why).await?;
                }
                Next::Failed(why) => {
                    tracing::error!(mail = m.id, %why, "mail failed");
                    self.store.mail_failed(m.id, &why).await?;
                }
            }
        }
        Ok(sent)
    }

    /// Recovers, then sends forever (until the task is dropped).
    pub async fn run(self) {
        if let Err(e) = self.store.recover_outbox().await {
            tracing::error!(error = %e, "outbox recovery failed");
        }
        loop {
            if let Err(e) = self.run_once().await {
                tracing::error!(error = %e, "outbox: store error");
            }
            let wait = match self.store.next_mail_due().await {
                Ok(Some(t)) => (t - Utc::now()).to_std().unwrap_or(Duration::ZERO),
                _ => Duration::from_secs(60),
            }
            .clamp(Duration::from_millis(50), Duration::from_secs(60));
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = self.wake.notified() => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crm::{NewAttachment, OutgoingMail};
    use mail_parser::MimeHeaders;

    fn outbox(attachments: Vec<NewAttachment>) -> OutboxMail {
        OutboxMail {
            id: 1,
            mail: OutgoingMail {
                dedup_key: "reports:monthly:2026-11:a".into(),
                ticket: None,
                message_id: "r1@centralino.test".into(),
                in_reply_to: None,
                sender: "URP <urp@comune.test>".into(),
                recipient: "direzione@example.org".into(),
                subject: "Rapporti di novembre 2026".into(),
                body: "SLA.C.2: 93,4 % (soglia 90 %)".into(),
                attachments,
            },
            state: "sending".into(),
            failures: 0,
            next_attempt: Utc::now(),
            last_error: None,
            queued: Utc::now(),
            sent: None,
        }
    }

    #[test]
    fn attachments_go_as_multipart_mixed_and_come_back_whole() {
        let bytes: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
        let m = outbox(vec![NewAttachment {
            filename: "centralino-2026-11.xlsx".into(),
            content_type: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
                .into(),
            content: bytes.clone(),
        }]);
        let raw = message(&m).unwrap().formatted();
        let parsed = mail_parser::MessageParser::default().parse(&raw).unwrap();
        assert!(
            parsed
                .content_type()
                .is_some_and(|c| c.c_type == "multipart" && c.subtype() == Some("mixed"))
        );
        assert_eq!(
            parsed.body_text(0).unwrap().trim(),
            "SLA.C.2: 93,4 % (soglia 90 %)"
        );
        assert_eq!(parsed.attachment_count(), 1);
        let a = parsed.attachment(0).unwrap();
        assert_eq!(a.attachment_name(), Some("centralino-2026-11.xlsx"));
        assert_eq!(a.contents(), bytes.as_slice());
    }

    #[test]
    fn without_attachments_the_mail_stays_plain_text() {
        let raw = message(&outbox(Vec::new())).unwrap().formatted();
        let text = String::from_utf8_lossy(&raw);
        assert!(!text.contains("multipart"), "{text}");
        assert!(text.contains("Auto-Submitted: auto-generated"));
    }

    #[test]
    fn a_bad_content_type_is_a_clear_error() {
        let m = outbox(vec![NewAttachment {
            filename: "x.bin".into(),
            content_type: "not a type".into(),
            content: vec![1],
        }]);
        let err = message(&m).unwrap_err();
        assert!(
            err.contains("x.bin") && err.contains("content type"),
            "{err}"
        );
    }
}
