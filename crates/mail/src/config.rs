//! The `[mail]` section of the configuration, validated, and the tasks it starts.
//!
//! ```toml
//! [mail]
//! from = "URP Comune <urp@comune.example>"   # our From (confirmations, replies)
//! message_id_domain = "comune.example"         # right side of our Message-IDs
//! language = "it"                              # it | en: confirmation templates
//! reopen_days = 7                              # a reply reopens a ticket closed this recently
//! fax_gateways = ["@fax.comune.example"]       # senders (or @domains) of faxes as mail
//! fax_subject = "Fax da"                       # or a subject containing this
//! quote_replies = true                         # operators' replies quote the last message
//! closure_link = "https://comune.example/survey"  # {{link}} of the closure mail, optional
//! desktop_url = "https://centralino.comune.example/desktop"  # agents' notification links
//! sweep_seconds = 30                           # confirmations, reminders, closures: how often
//!
//! [mail.smtp]
//! host = "smtp.comune.example"
//! port = 587
//! tls = "starttls"                             # starttls | tls | none (loopback only)
//! user = "centralino"                          # AUTH, optional
//! password_file = "/etc/centralino/smtp.pw"
//! ca_file = "/etc/centralino/ca.pem"           # extra trusted CA, optional
//!
//! [[mail.mailbox]]
//! name = "urp"
//! host = "imap.comune.example"
//! port = 993
//! tls = "tls"                                  # tls | starttls | none (loopback only)
//! user = "urp"
//! password_file = "/etc/centralino/urp.pw"
//! folder = "INBOX"
//! queue = "urp"                                # CRM queue of new tickets
//! poll_seconds = 60                            # without IDLE; the longest IDLE too
//! ```

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use crate::classify::FaxRule;
use crate::desk::Desk;
use crate::imap::{Account, Fetcher};
use crate::ingest::Ingest;
use crate::outbox::RetryPolicy;
use crate::smtp::{Relay, Sender};
use crate::template::Lang;

/// The tasks mail runs (fetchers, the outbox sender, the desk's sweep).
pub type Tasks = Vec<tokio::task::JoinHandle<()>>;

/// `tls = …` of a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    /// TLS from the first byte.
    Tls,
    /// STARTTLS, required.
    Starttls,
    /// None: refused unless the host is loopback.
    None,
}

/// `[mail]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailSection {
    /// Our From address.
    pub from: Option<String>,
    /// Domain of our Message-IDs (default: the From address's).
    pub message_id_domain: Option<String>,
    /// `it` (default) or `en`.
    pub language: Option<String>,
    /// Reopen window, days (default 7).
    pub reopen_days: Option<u32>,
    /// Fax gateways.
    #[serde(default)]
    pub fax_gateways: Vec<String>,
    /// Fax subject text.
    pub fax_subject: Option<String>,
    /// Operators' replies quote the last inbound message (default true; each reply may
    /// say otherwise).
    pub quote_replies: Option<bool>,
    /// The closure mail's `{{link}}` (the satisfaction survey), default none.
    pub closure_link: Option<String>,
    /// The agents' desktop as the agents reach it: agents' notification mails link to
    /// `<desktop_url>#ticket=<number>` (without it they name the number only).
    pub desktop_url: Option<String>,
    /// How often the server looks for confirmations, closures and pending reminders to
    /// send, seconds (default 30).
    pub sweep_seconds: Option<u64>,
    /// The relay.
    pub smtp: Option<SmtpSection>,
    /// The mailboxes.
    #[serde(default)]
    pub mailbox: Vec<MailboxSection>,
}

/// `[mail.smtp]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpSection {
    /// Host.
    pub host: String,
    /// Port (default 587).
    pub port: Option<u16>,
    /// Security (default `starttls`).
    pub tls: Option<TlsMode>,
    /// AUTH user.
    pub user: Option<String>,
    /// AUTH password, read from this file.
    pub password_file: Option<PathBuf>,
    /// Extra CA (PEM).
    pub ca_file: Option<PathBuf>,
}

/// `[[mail.mailbox]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailboxSection {
    /// Name (source keys, logs).
    pub name: String,
    /// IMAP host.
    pub host: String,
    /// Port (default 993 with `tls`, else 143).
    pub port: Option<u16>,
    /// Security (default `tls`).
    pub tls: Option<TlsMode>,
    /// User.
    pub user: String,
    /// Password file.
    pub password_file: PathBuf,
    /// Folder (default `INBOX`).
    pub folder: Option<String>,
    /// CRM queue of new tickets.
    pub queue: String,
    /// Poll interval, seconds (default 60).
    pub poll_seconds: Option<u64>,
    /// Extra CA (PEM).
    pub ca_file: Option<PathBuf>,
}

fn loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|a| a.is_loopback())
}

fn lang(s: Option<&str>) -> Option<Lang> {
    match s.unwrap_or("it") {
        "it" => Some(Lang::It),
        "en" => Some(Lang::En),
        _ => None,
    }
}

impl MailSection {
    /// Every problem as (dotted path, message); empty: valid.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut p = |path: String, m: &str| out.push((path, m.to_string()));
        let configured = self.smtp.is_some() || !self.mailbox.is_empty();
        match &self.from {
            Some(f) if f.parse::<lettre::message::Mailbox>().is_err() => p(
                "mail.from".into(),
                "expected an address such as \"URP <urp@comune.example>\"",
            ),
            None if configured => p("mail.from".into(), "required when mail is configured"),
            _ => {}
        }
        if self.sweep_seconds == Some(0) {
            p("mail.sweep_seconds".into(), "expected at least 1 second");
        }
        if let Some(l) = &self.closure_link
            && !(l.starts_with("https://") || l.starts_with("http://"))
        {
            p("mail.closure_link".into(), "expected an http(s):// address");
        }
        if let Some(l) = &self.desktop_url
            && !(l.starts_with("https://") || l.starts_with("http://"))
        {
            p("mail.desktop_url".into(), "expected an http(s):// address");
        }
        if lang(self.language.as_deref()).is_none() {
            p("mail.language".into(), "expected \"it\" or \"en\"");
        }
        if let Some(s) = &self.smtp {
            if s.host.trim().is_empty() {
                p("mail.smtp.host".into(), "expected a host name");
            }
            if s.port == Some(0) {
                p("mail.smtp.port".into(), "expected a port from 1 to 65535");
            }
            if s.tls == Some(TlsMode::None) && !loopback(&s.host) {
                p(
                    "mail.smtp.tls".into(),
                    "\"none\" is allowed only for a loopback relay",
                );
            }
            if s.user.is_some() != s.password_file.is_some() {
                p(
                    "mail.smtp.user".into(),
                    "user and password_file go together",
                );
            }
        }
        let mut names = std::collections::HashSet::new();
        for (i, m) in self.mailbox.iter().enumerate() {
            let at = |f: &str| format!("mail.mailbox[{i}].{f}");
            if m.name.trim().is_empty() || m.name.contains('/') {
                p(at("name"), "expected a non-empty name without '/'");
            } else if !names.insert(m.name.clone()) {
                p(at("name"), "another mailbox has this name");
            }
            if m.host.trim().is_empty() {
                p(at("host"), "expected a host name");
            }
            if m.port == Some(0) {
                p(at("port"), "expected a port from 1 to 65535");
            }
            if m.tls == Some(TlsMode::None) && !loopback(&m.host) {
                p(at("tls"), "\"none\" is allowed only for a loopback server");
            }
            if m.queue.trim().is_empty() {
                p(at("queue"), "expected a CRM queue name");
            }
            if m.poll_seconds == Some(0) {
                p(at("poll_seconds"), "expected at least 1 second");
            }
        }
        if !self.mailbox.is_empty() && self.smtp.is_none() {
            p(
                "mail.smtp".into(),
                "mailboxes need a relay to send confirmations ([mail.smtp])",
            );
        }
        out
    }

    /// Starts one fetcher per mailbox and the outbox sender (reads the password files now,
    /// so a missing one stops the start with its field). Nothing when not configured.
    pub fn spawn(&self, store: crm::Store) -> Result<Vec<tokio::task::JoinHandle<()>>, String> {
        self.spawn_desk(store, Arc::new(|_| {}), None)
            .map(|(tasks, _)| tasks)
    }

    /// As [`Self::spawn`], and the desk's sweep (confirmations, closures, pending
    /// reminders, each due reminder handed to `on_reminder`; each message filed handed to
    /// `on_filed`); returns the desk for the operators' replies. `None` when mail is not
    /// configured.
    pub fn spawn_desk(
        &self,
        store: crm::Store,
        on_reminder: Arc<dyn Fn(crate::desk::ReminderDue) + Send + Sync>,
        on_filed: Option<crate::ingest::OnFiled>,
    ) -> Result<(Tasks, Option<Arc<Desk>>), String> {
        let Some(smtp) = &self.smtp else {
            return Ok((Vec::new(), None));
        };
        let read = |path: &PathBuf, field: &str| {
            std::fs::read_to_string(path)
                .map(|s| s.trim_end_matches(['\r', '\n']).to_string())
                .map_err(|e| format!("{field}: {}: {e}", path.display()))
        };
        let ca = |path: &Option<PathBuf>, field: &str| {
            path.as_ref()
                .map(|p| std::fs::read(p).map_err(|e| format!("{field}: {}: {e}", p.display())))
                .transpose()
        };
        let from = self.from.clone().unwrap_or_default();
        let credentials = match (&smtp.user, &smtp.password_file) {
            (Some(u), Some(f)) => Some((u.clone(), read(f, "mail.smtp.password_file")?)),
            _ => None,
        };
        let relay = Relay {
            host: smtp.host.clone(),
            port: smtp.port.unwrap_or(587),
            security: match smtp.tls.unwrap_or(TlsMode::Starttls) {
                TlsMode::Tls => crate::smtp::Security::Tls,
                TlsMode::Starttls => crate::smtp::Security::StartTls,
                TlsMode::None => crate::smtp::Security::None,
            },
            credentials,
            ca_pem: ca(&smtp.ca_file, "mail.smtp.ca_file")?,
            timeout: Duration::from_secs(30),
        };
        let sender = Sender::new(&relay, store.clone(), RetryPolicy::default())
            .map_err(|e| e.to_string())?;
        let wake: Arc<tokio::sync::Notify> = sender.wake.clone();
        let domain = self.message_id_domain.clone().unwrap_or_else(|| {
            from.rsplit('@')
                .next()
                .map(|d| d.trim_end_matches('>').to_string())
                .unwrap_or_else(|| "centralino.invalid".into())
        });
        let mut tasks = vec![tokio::spawn(sender.run())];
        let desk = Arc::new(Desk {
            from: from.clone(),
            message_id_domain: domain.clone(),
            lang: lang(self.language.as_deref()).unwrap_or(Lang::It),
            quote_replies: self.quote_replies.unwrap_or(true),
            closure_link: self.closure_link.clone().unwrap_or_default(),
            sweep_every: Duration::from_secs(self.sweep_seconds.unwrap_or(30)),
            wake: Some(wake.clone()),
        });
        tasks.push(tokio::spawn(desk.clone().run(store.clone(), on_reminder)));
        for (i, m) in self.mailbox.iter().enumerate() {
            let tls = m.tls.unwrap_or(TlsMode::Tls);
            let account = Account {
                host: m.host.clone(),
                port: m
                    .port
                    .unwrap_or(if tls == TlsMode::Tls { 993 } else { 143 }),
                security: match tls {
                    TlsMode::Tls => crate::imap::Security::Tls,
                    TlsMode::Starttls => crate::imap::Security::StartTls,
                    TlsMode::None => crate::imap::Security::None,
                },
                user: m.user.clone(),
                password: read(
                    &m.password_file,
                    &format!("mail.mailbox[{i}].password_file"),
                )?,
                folder: m.folder.clone().unwrap_or_else(|| "INBOX".into()),
                ca_pem: ca(&m.ca_file, &format!("mail.mailbox[{i}].ca_file"))?,
                poll: Duration::from_secs(m.poll_seconds.unwrap_or(60)),
            };
            let ingest = Ingest {
                mailbox: m.name.clone(),
                queue: m.queue.clone(),
                from: from.clone(),
                lang: lang(self.language.as_deref()).unwrap_or(Lang::It),
                fax: FaxRule {
                    gateways: self.fax_gateways.clone(),
                    subject_contains: self.fax_subject.clone(),
                },
                reopen_within: Duration::from_secs(
                    u64::from(self.reopen_days.unwrap_or(7)) * 24 * 3600,
                ),
                message_id_domain: domain.clone(),
                outbox: Some(wake.clone()),
                on_filed: on_filed.clone(),
            };
            let fetcher = Fetcher {
                account,
                ingest,
                store: store.clone(),
            };
            tracing::info!(mailbox = %m.name, host = %m.host, "mailbox fetcher");
            tasks.push(tokio::spawn(fetcher.run()));
        }
        Ok((tasks, Some(desk)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> MailSection {
        #[derive(Deserialize)]
        struct W {
            mail: MailSection,
        }
        toml::from_str::<W>(s).unwrap().mail
    }

    #[test]
    fn a_full_section_is_valid() {
        let m = parse(
            "[mail]\nfrom = \"URP <urp@comune.example>\"\nlanguage = \"en\"\n\
             [mail.smtp]\nhost = \"smtp.comune.example\"\nuser = \"c\"\npassword_file = \"/x\"\n\
             [[mail.mailbox]]\nname = \"urp\"\nhost = \"imap.comune.example\"\nuser = \"urp\"\n\
             password_file = \"/y\"\nqueue = \"urp\"\n",
        );
        assert!(m.problems().is_empty(), "{:?}", m.problems());
        assert!(
            MailSection::default().problems().is_empty(),
            "absent: nothing to check"
        );
    }

    #[test]
    fn problems_name_their_field() {
        let m = parse(
            "[mail]\nfrom = \"not an address\"\nlanguage = \"de\"\n\
             [mail.smtp]\nhost = \"smtp.example\"\ntls = \"none\"\nuser = \"c\"\n\
             [[mail.mailbox]]\nname = \"a\"\nhost = \"imap.example\"\ntls = \"none\"\nuser = \"u\"\n\
             password_file = \"/y\"\nqueue = \"\"\npoll_seconds = 0\n\
             [[mail.mailbox]]\nname = \"a\"\nhost = \"127.0.0.1\"\ntls = \"none\"\nuser = \"u\"\n\
             password_file = \"/y\"\nqueue = \"q\"\n",
        );
        let fields: Vec<String> = m.problems().into_iter().map(|(f, _)| f).collect();
        assert_eq!(
            fields,
            [
                "mail.from",
                "mail.language",
                "mail.smtp.tls",
                "mail.smtp.user",
                "mail.mailbox[0].tls",
                "mail.mailbox[0].queue",
                "mail.mailbox[0].poll_seconds",
                "mail.mailbox[1].name",
            ]
        );
    }

    #[test]
    fn a_missing_password_file_is_named() {
        let m = parse(
            "[mail]\nfrom = \"urp@comune.example\"\n[mail.smtp]\nhost = \"127.0.0.1\"\n\
             user = \"c\"\npassword_file = \"/nonexistent/smtp.pw\"\n",
        );
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let err = rt.block_on(async {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}?mode=rwc", dir.path().join("c.db").display());
            let store = crm::Store::connect(&url).await.unwrap();
            m.spawn(store).map(|_| ()).unwrap_err()
        });
        assert!(
            err.starts_with("mail.smtp.password_file: /nonexistent/smtp.pw"),
            "{err}"
        );
    }
}
