//! Fetching a mailbox over IMAP (RFC 9051 / 3501) with `async-imap` on tokio and rustls.
//!
//! One task per mailbox ([`Fetcher::run`]): connect (TLS from the first byte, STARTTLS, or
//! plain on loopback), log in, select the folder, then repeat: search the unseen messages,
//! fetch them by UID with `BODY.PEEK[]` (which does not set `\Seen`), 100 per command, file
//! each command's messages as one batch ([`crate::ingest::Ingest::file_batch`]: one
//! transaction on PostgreSQL, idempotent by `mailbox/UIDVALIDITY/UID`), and only then flag
//! them `\Seen`. A crash between filing and flagging fetches the message again and files
//! nothing twice; a crash before filing loses nothing (it is still unseen). Between rounds it
//! waits in IDLE (RFC 2177) when the server offers it, else polls.

use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use async_imap::Session;
use chrono::Utc;
use crm::Store;
use futures_util::TryStreamExt;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::{ClientConfig, RootCertStore};

use crate::ingest::Ingest;

/// How to reach the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// Plain (loopback only).
    None,
    /// STARTTLS (RFC 2595), required.
    StartTls,
    /// TLS from the first byte (port 993).
    Tls,
}

/// One mailbox's server and account.
#[derive(Debug, Clone)]
pub struct Account {
    /// Host (also the TLS server name).
    pub host: String,
    /// Port.
    pub port: u16,
    /// Security.
    pub security: Security,
    /// User.
    pub user: String,
    /// Password.
    pub password: String,
    /// Folder, `INBOX` by default.
    pub folder: String,
    /// Extra trusted CA (PEM).
    pub ca_pem: Option<Vec<u8>>,
    /// Poll interval when the server has no IDLE; the longest IDLE too.
    pub poll: Duration,
}

/// What stopped a fetch round.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// Network or protocol.
    #[error("IMAP {0}")]
    Imap(String),
    /// Filing failed (the message stays unseen and is fetched again).
    #[error(transparent)]
    Ingest(#[from] crate::ingest::IngestError),
}

fn imap<E: std::fmt::Display>(what: &'static str) -> impl Fn(E) -> FetchError {
    move |e| FetchError::Imap(format!("{what}: {e}"))
}

/// A stream IMAP runs over, plain or TLS.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send + Debug {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + Debug> Stream for T {}

fn tls_connector(ca_pem: Option<&[u8]>) -> Result<TlsConnector, FetchError> {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(pem) = ca_pem {
        for cert in rustls_pemfile::certs(&mut &pem[..]) {
            let cert = cert.map_err(imap("CA file"))?;
            roots.add(cert).map_err(imap("CA file"))?;
        }
    }
    let config = ClientConfig::builder_with_provider(Arc::new(
        tokio_rustls::rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(imap("TLS"))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)))
}

/// Connects and logs in; returns the session and whether the server offers IDLE.
pub async fn connect(a: &Account) -> Result<(Session<Box<dyn Stream>>, bool), FetchError> {
    let tcp = TcpStream::connect((a.host.as_str(), a.port))
        .await
        .map_err(imap("connect"))?;
    let name = || ServerName::try_from(a.host.clone()).map_err(imap("server name"));
    let stream: Box<dyn Stream> = match a.security {
        Security::None => Box::new(tcp),
        Security::Tls => {
            let tls = tls_connector(a.ca_pem.as_deref())?
                .connect(name()?, tcp)
                .await
                .map_err(imap("TLS"))?;
            Box::new(tls)
        }
        Security::StartTls => {
            let mut client = async_imap::Client::new(tcp);
            client.read_response().await.map_err(imap("greeting"))?;
            client
                .run_command_and_check_ok("STARTTLS", None)
                .await
                .map_err(imap("STARTTLS"))?;
            let tcp = client.into_inner();
            let tls = tls_connector(a.ca_pem.as_deref())?
                .connect(name()?, tcp)
                .await
                .map_err(imap("TLS"))?;
            Box::new(tls)
        }
    };
    let mut client = async_imap::Client::new(stream);
    if a.security != Security::StartTls {
        client.read_response().await.map_err(imap("greeting"))?;
    }
    let mut session = client
        .login(&a.user, &a.password)
        .await
        .map_err(|(e, _)| FetchError::Imap(format!("login as {}: {e}", a.user)))?;
    let idle = session
        .capabilities()
        .await
        .map_err(imap("CAPABILITY"))?
        .has_str("IDLE");
    Ok((session, idle))
}

/// A mailbox's fetcher.
pub struct Fetcher {
    /// The account.
    pub account: Account,
    /// Filing.
    pub ingest: Ingest,
    /// The store.
    pub store: Store,
}

impl Fetcher {
    /// One round: files every unseen message; returns how many were filed.
    pub async fn round(&self, session: &mut Session<Box<dyn Stream>>) -> Result<usize, FetchError> {
        let mailbox = session
            .select(&self.account.folder)
            .await
            .map_err(imap("SELECT"))?;
        let validity = mailbox.uid_validity.unwrap_or(0);
        let mut uids: Vec<u32> = session
            .uid_search("UNSEEN")
            .await
            .map_err(imap("SEARCH"))?
            .into_iter()
            .collect();
        uids.sort_unstable();
        let mut filed = 0;
        for chunk in uids.chunks(100) {
            let set = chunk
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(",");
            let fetched: Vec<_> = session
                .uid_fetch(&set, "(UID BODY.PEEK[])")
                .await
                .map_err(imap("FETCH"))?
                .try_collect()
                .await
                .map_err(imap("FETCH"))?;
            // The chunk is filed as one batch (one transaction on PostgreSQL, a savepoint
            // per message): a message the store refuses stays unseen and is fetched again,
            // the others are flagged.
            let mut uids = Vec::new();
            let mut batch = Vec::new();
            for f in &fetched {
                let (Some(uid), Some(body)) = (f.uid, f.body()) else {
                    continue;
                };
                uids.push(uid);
                batch.push((
                    format!("{}/{validity}/{uid}", self.ingest.mailbox),
                    body.to_vec(),
                ));
            }
            let results = self
                .ingest
                .file_batch(&self.store, batch, Utc::now())
                .await?;
            let mut done = Vec::new();
            let mut refused = None;
            for (uid, r) in uids.into_iter().zip(results) {
                match r {
                    Ok(_) => {
                        done.push(uid.to_string());
                        filed += 1;
                    }
                    Err(e) => {
                        tracing::warn!(mailbox = %self.ingest.mailbox, uid, error = %e, "message not filed; it stays unseen");
                        refused.get_or_insert(e);
                    }
                }
            }
            if !done.is_empty() {
                // Flagged only once stored (never before).
                let _: Vec<_> = session
                    .uid_store(done.join(","), "+FLAGS.SILENT (\\Seen)")
                    .await
                    .map_err(imap("STORE"))?
                    .try_collect()
                    .await
                    .map_err(imap("STORE"))?;
            }
            if let Some(e) = refused {
                return Err(e.into());
            }
        }
        Ok(filed)
    }

    /// Fetches forever: rounds, IDLE or polling between them, reconnecting after errors.
    pub async fn run(self) {
        let mut backoff = Duration::from_secs(1);
        loop {
            match self.session_loop().await {
                Ok(()) => backoff = Duration::from_secs(1),
                Err(e) => {
                    tracing::warn!(mailbox = %self.ingest.mailbox, error = %e, "mailbox fetch failed; reconnecting");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(60));
                }
            }
        }
    }

    async fn session_loop(&self) -> Result<(), FetchError> {
        let (mut session, idle) = connect(&self.account).await?;
        loop {
            let n = self.round(&mut session).await?;
            if n > 0 {
                tracing::info!(mailbox = %self.ingest.mailbox, filed = n, "mail filed");
            }
            if idle {
                let mut handle = session.idle();
                handle.init().await.map_err(imap("IDLE"))?;
                let (wait, _stop) = handle.wait_with_timeout(self.account.poll);
                wait.await.map_err(imap("IDLE"))?;
                session = handle.done().await.map_err(imap("DONE"))?;
            } else {
                tokio::time::sleep(self.account.poll).await;
            }
        }
    }
}
