//! The outbox's sender: SMTP through the relay with `lettre` (STARTTLS or TLS, AUTH).
//!
//! [`Sender::run_once`] recovers nothing and claims the mail due now, sends each one, and
//! records the relay's answer through the retry rule of [`crate::outbox`]; [`Sender::run`]
//! recovers `sending` rows at start and then loops, waking at the next due time or when
//! told that mail was queued.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use crm::{OutboxMail, Store};
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, Message};
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
    let mut msg = b
        .body(m.mail.body.clone())
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
