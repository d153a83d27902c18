//! # directory
//!
//! Operators' sign-in against the administration's directory (LDAP, Active Directory):
//! [`config`] (the `[directory]` section and its checks), [`mapping`] (which credentials may
//! be sent, and which role and queues the operator's groups give) and [`Directory`], the
//! IO edge that binds and searches with `ldap3`.
//!
//! # Run loop
//! The configuration and the mapping are pure and unit-tested. [`Directory::authenticate`]
//! opens one connection per sign-in (sign-ins are rare; no pool to go stale), under one
//! time-out for the whole exchange: StartTLS if asked, the service bind and user search (or
//! the DN template), the operator's own bind with their password, their name and groups read
//! on that same connection (bound as them), then unbind. Its answer is a [`Outcome`] (signed
//! in with a [`Grant`], or refused with the reason for the log) or a [`DirectoryError`] when
//! the directory could not answer (unreachable, time-out, service bind refused): the caller
//! tells operators apart from an outage. Nothing is cached: a removed group takes effect at
//! the next sign-in.

pub mod config;
pub mod mapping;

use std::time::Duration;

use ldap3::{LdapConnAsync, LdapConnSettings, Scope, SearchEntry, dn_escape, ldap_escape};

pub use config::{ConfigProblem, DirectoryConfig, DirectorySettings, GroupLookup, UserLookup};
pub use mapping::{
    Grant, GroupMapping, QueueAccess, Unsendable, decide, fill, normalise_dn, sendable,
};

/// LDAP result code invalidCredentials (RFC 4511 §4.1.9, Appendix A).
const INVALID_CREDENTIALS: u32 = 49;

/// An operator the directory vouched for, with what their groups give.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryUser {
    /// Their entry's DN.
    pub dn: String,
    /// Their display name (the login when the entry has none).
    pub full_name: String,
    /// Role and queues.
    pub grant: Grant,
}

/// Why the directory did not sign someone in (for the log; the operator sees one message).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Not sent: empty password or unusable login.
    Unsendable(Unsendable),
    /// No entry for this login (search mode).
    UnknownUser,
    /// Several entries for this login (search mode): the filter is too wide.
    Ambiguous,
    /// The bind with their password failed (or, with a DN template, no such entry).
    BadPassword,
    /// Bound, but in no mapped group.
    NotInMappedGroup,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Refusal::Unsendable(Unsendable::EmptyPassword) => "empty password",
            Refusal::Unsendable(Unsendable::BadLogin) => "unusable login",
            Refusal::UnknownUser => "no such directory user",
            Refusal::Ambiguous => "several directory entries match the login",
            Refusal::BadPassword => "wrong password",
            Refusal::NotInMappedGroup => "in no mapped group",
        })
    }
}

/// The directory's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Signed in.
    SignedIn(DirectoryUser),
    /// Refused.
    Refused(Refusal),
}

/// The directory could not answer.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    /// No answer within the time-out.
    #[error("the directory did not answer within {0:?}")]
    TimedOut(Duration),
    /// Connection, TLS or protocol failure.
    #[error("directory: {0}")]
    Ldap(#[from] ldap3::LdapError),
    /// The service account's bind was refused (its DN or password is wrong).
    #[error("the directory refused the service account {dn}: result code {rc} {text}")]
    ServiceBind {
        /// Its DN.
        dn: String,
        /// LDAP result code.
        rc: u32,
        /// The server's text.
        text: String,
    },
}

/// The directory sign-in: [`Directory::authenticate`].
#[derive(Debug, Clone)]
pub struct Directory {
    settings: DirectorySettings,
}

impl Directory {
    /// A directory over valid settings.
    pub fn new(settings: DirectorySettings) -> Self {
        Directory { settings }
    }

    /// The settings.
    pub fn settings(&self) -> &DirectorySettings {
        &self.settings
    }

    /// Checks `login` and `password` against the directory and maps the groups.
    pub async fn authenticate(
        &self,
        login: &str,
        password: &str,
    ) -> Result<Outcome, DirectoryError> {
        if let Err(why) = sendable(login, password) {
            return Ok(Outcome::Refused(Refusal::Unsendable(why)));
        }
        let timeout = self.settings.timeout;
        match tokio::time::timeout(timeout, self.exchange(login, password)).await {
            Ok(answer) => answer,
            Err(_) => Err(DirectoryError::TimedOut(timeout)),
        }
    }

    async fn exchange(&self, login: &str, password: &str) -> Result<Outcome, DirectoryError> {
        let s = &self.settings;
        let conn_settings = LdapConnSettings::new()
            .set_conn_timeout(s.timeout)
            .set_starttls(s.starttls);
        let (conn, mut ldap) = LdapConnAsync::with_settings(conn_settings, &s.url).await?;
        ldap3::drive!(conn);
        let mut attributes = vec![s.name_attribute.as_str()];
        if let GroupLookup::Attribute(a) = &s.groups {
            attributes.push(a.as_str());
        }
        // Find the entry: by template, or by a search (as the service account).
        let (dn, mut entry) = match &s.user {
            UserLookup::Template(template) => {
                (fill(template, &[("login", &dn_escape(login))]), None)
            }
            UserLookup::Search {
                base_dn,
                filter,
                bind,
            } => {
                if let Some((bind_dn, bind_pw)) = bind {
                    let r = ldap.simple_bind(bind_dn, bind_pw).await?;
                    if r.rc != 0 {
                        return Err(DirectoryError::ServiceBind {
                            dn: bind_dn.clone(),
                            rc: r.rc,
                            text: r.text,
                        });
                    }
                }
                let filter = fill(filter, &[("login", &ldap_escape(login))]);
                let (entries, _) = ldap
                    .search(base_dn, Scope::Subtree, &filter, &attributes)
                    .await?
                    .success()?;
                let mut found: Vec<SearchEntry> = entries
                    .into_iter()
                    .filter(|e| !e.is_ref() && !e.is_intermediate())
                    .map(SearchEntry::construct)
                    .collect();
                match found.len() {
                    0 => return Ok(Outcome::Refused(Refusal::UnknownUser)),
                    1 => {}
                    _ => return Ok(Outcome::Refused(Refusal::Ambiguous)),
                }
                let entry = found.remove(0);
                (entry.dn.clone(), Some(entry))
            }
        };
        // The operator's own bind.
        let r = ldap.simple_bind(&dn, password).await?;
        if r.rc == INVALID_CREDENTIALS {
            let _ = ldap.unbind().await;
            return Ok(Outcome::Refused(Refusal::BadPassword));
        }
        r.success()?;
        // Their entry (template mode), read as them.
        if entry.is_none() {
            let (entries, _) = ldap
                .search(&dn, Scope::Base, "(objectClass=*)", &attributes)
                .await?
                .success()?;
            entry = entries.into_iter().next().map(SearchEntry::construct);
        }
        let first = |e: &SearchEntry, attribute: &str| -> Vec<String> {
            e.attrs
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(attribute))
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        let full_name = entry
            .as_ref()
            .and_then(|e| first(e, &s.name_attribute).into_iter().next())
            .unwrap_or_else(|| login.to_string());
        let member_of = match &s.groups {
            GroupLookup::Attribute(a) => entry.as_ref().map(|e| first(e, a)).unwrap_or_default(),
            GroupLookup::Search { base_dn, filter } => {
                let filter = fill(
                    filter,
                    &[("dn", &ldap_escape(&dn)), ("login", &ldap_escape(login))],
                );
                let (entries, _) = ldap
                    .search(base_dn, Scope::Subtree, &filter, vec!["1.1"])
                    .await?
                    .success()?;
                entries
                    .into_iter()
                    .filter(|e| !e.is_ref() && !e.is_intermediate())
                    .map(|e| SearchEntry::construct(e).dn)
                    .collect()
            }
        };
        let _ = ldap.unbind().await;
        Ok(match decide(&member_of, &s.mapping) {
            Some(grant) => Outcome::SignedIn(DirectoryUser {
                dn,
                full_name,
                grant,
            }),
            None => Outcome::Refused(Refusal::NotInMappedGroup),
        })
    }
}
