//! Web passwords, and the SIP digest credentials of agents' phones.
//!
//! An operator's web password is an argon2id hash only ([`crate::access`]). A phone has its
//! own secret ([`crate::site`]; SIP user = the operator's login): the registrar authenticates
//! with HTTP digest (RFC 3261 §22.4), which needs `HA1 = H(user ":" realm ":" secret)`
//! (RFC 2617 §3.2.2.2 for MD5, RFC 7616 §3.4.2 for SHA-256), so the store keeps both HA1
//! values, lower-case hex, with the realm they were made for ([`crate::Settings::sip_realm`]).
//! The SIP layer reads them through [`Store::sip_credentials`] and never sees a secret. An
//! HA1 is password-equivalent for its realm: it is not logged and [`SipCredential`]'s `Debug`
//! hides it.

use chrono::{DateTime, Utc};
use md5::{Digest as _, Md5};
use sha2::Sha256;
use sqlx::Row;

use crate::access::hash_password;
use crate::error::{Error, Result};
use crate::store::Store;
use crate::types::{Actor, UserId};

/// `HA1` under MD5: `MD5(login ":" realm ":" password)`, lower-case hex (RFC 2617 §3.2.2.2).
pub fn ha1_md5(login: &str, realm: &str, password: &str) -> String {
    hex::encode(Md5::digest(
        format!("{login}:{realm}:{password}").as_bytes(),
    ))
}

/// `HA1` under SHA-256: `SHA-256(login ":" realm ":" password)`, lower-case hex
/// (RFC 7616 §3.4.2).
pub fn ha1_sha256(login: &str, realm: &str, password: &str) -> String {
    hex::encode(Sha256::digest(
        format!("{login}:{realm}:{password}").as_bytes(),
    ))
}

/// One phone's digest credentials for the configured realm, as the registrar needs them.
#[derive(Clone, PartialEq, Eq)]
pub struct SipCredential {
    /// SIP user name (the operator's login).
    pub login: String,
    /// `MD5(login:realm:password)`, lower-case hex.
    pub ha1_md5: String,
    /// `SHA-256(login:realm:password)`, lower-case hex.
    pub ha1_sha256: String,
}

impl std::fmt::Debug for SipCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SipCredential")
            .field("login", &self.login)
            .field("ha1_md5", &"<redacted>")
            .field("ha1_sha256", &"<redacted>")
            .finish()
    }
}

impl Store {
    /// Sets an operator's web password (a new argon2id hash); audited as a change (the
    /// password is not logged). The phone's secret is apart ([`Store::set_sip_secret`]).
    pub async fn set_password(
        &self,
        user: UserId,
        password: &str,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<()> {
        if password.is_empty() {
            return Err(Error::invalid("password", "a non-empty password", ""));
        }
        self.user(user).await?;
        let phc = hash_password(password, self.settings.password_cost)?;
        sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(phc)
            .bind(user.0)
            .execute(&self.pool)
            .await?;
        self.audit(
            actor,
            "change",
            &format!("user:{user}"),
            Some("password"),
            now,
        )
        .await
    }

    /// The digest credentials of every active operator's phone whose secret was set for the
    /// configured realm, by login: the registrar's user table. Phones whose secret predates
    /// the realm in force are left out until it is set again.
    pub async fn sip_credentials(&self) -> Result<Vec<SipCredential>> {
        let sql = format!(
            "SELECT u.login, p.sip_ha1_md5, p.sip_ha1_sha256 FROM phones p JOIN users u \
             ON u.id = p.user_id WHERE u.active = {} AND p.sip_realm = $1 \
             AND p.sip_ha1_md5 IS NOT NULL AND p.sip_ha1_sha256 IS NOT NULL ORDER BY u.login",
            self.true_literal()
        );
        let rows = sqlx::query(&sql)
            .bind(self.settings.sip_realm.as_str())
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(SipCredential {
                    login: r.try_get("login")?,
                    ha1_md5: r.try_get("sip_ha1_md5")?,
                    ha1_sha256: r.try_get("sip_ha1_sha256")?,
                })
            })
            .collect()
    }

    /// One active operator's credentials, as [`Store::sip_credentials`] has them, if their
    /// phone registers (no static contact) and its secret was set for the realm in force:
    /// what a browser phone signs in with (`GET /api/v1/me/phone`). One indexed row, not the
    /// whole table.
    pub async fn registering_phone_credential(
        &self,
        user: UserId,
    ) -> Result<Option<SipCredential>> {
        let sql = format!(
            "SELECT u.login, p.sip_ha1_md5, p.sip_ha1_sha256 FROM phones p JOIN users u \
             ON u.id = p.user_id WHERE u.id = $1 AND u.active = {} AND p.sip_realm = $2 \
             AND p.static_contact IS NULL \
             AND p.sip_ha1_md5 IS NOT NULL AND p.sip_ha1_sha256 IS NOT NULL",
            self.true_literal()
        );
        let row = sqlx::query(&sql)
            .bind(user.0)
            .bind(self.settings.sip_realm.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            Ok(SipCredential {
                login: r.try_get("login")?,
                ha1_md5: r.try_get("sip_ha1_md5")?,
                ha1_sha256: r.try_get("sip_ha1_sha256")?,
            })
        })
        .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ha1_matches_rfc_examples() {
        // RFC 2617 §3.5: Mufasa / testrealm@host.com / Circle Of Life.
        assert_eq!(
            ha1_md5("Mufasa", "testrealm@host.com", "Circle Of Life"),
            "939e7578ed9e3c518a452acee763bce9"
        );
        // The inputs of RFC 7616 §3.9.1 (SHA-256); value checked with Python's hashlib.
        assert_eq!(
            ha1_sha256("Mufasa", "http-auth@example.org", "Circle of Life"),
            "7987c64c30e25f1b74be53f966b49b90f2808aa92faf9a00262392d7b4794232"
        );
    }

    #[test]
    fn debug_hides_the_hashes() {
        let c = SipCredential {
            login: "1001".into(),
            ha1_md5: ha1_md5("1001", "centralino", "demo1001"),
            ha1_sha256: ha1_sha256("1001", "centralino", "demo1001"),
        };
        let shown = format!("{c:?}");
        assert!(
            shown.contains("1001") && shown.contains("redacted"),
            "{shown}"
        );
        assert!(!shown.contains(&c.ha1_md5), "{shown}");
    }
}
