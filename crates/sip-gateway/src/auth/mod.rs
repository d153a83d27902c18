//! # HTTP Digest authentication for SIP (RFC 3261 §22, RFC 2617, RFC 7616, RFC 8760)
//!
//! What agents' phones prove when they REGISTER: that they know the password of the user they
//! claim to be, without sending it. We never keep passwords either: [`Credentials`] holds, per
//! user, the `HA1` values (`H(user:realm:password)`) for MD5 and SHA-256, made once with [`ha1`].
//!
//! ## Run loop
//! [`DigestAuth`] is sans-IO and keeps almost no state: nonces are *stateless* (the issue time
//! and a random part, signed with an HMAC-SHA-256 under a server secret, see [`nonce`]), so any
//! node holding the same secret can verify them. The only state is the highest `nc` seen per
//! nonce, for replay detection (RFC 7616 §3.4 / RFC 2617 §3.2.2), kept until the nonce expires.
//! The caller passes `now` to every method; nothing reads the clock.
//!
//! ```text
//!   request without Authorization ──► challenge(stale=false, now) ──► 401 + WWW-Authenticate ×2
//!   request with Authorization ─────► verify(method, uri, header, credentials, now)
//!        Ok(user)                       authenticated
//!        Err(AuthFailure::Stale)        401 with stale=true, not a failure (RFC 7616 §3.3)
//!        Err(other)                     401, counted and logged as a failure
//! ```

mod nonce;
mod params;

#[cfg(test)]
mod tests;

pub use nonce::{DigestAuth, MAX_TRACKED_NONCES};
pub use params::{DigestParams, parse_digest};

use std::collections::HashMap;
use std::fmt;

use md5::Md5;
use sha2::{Digest, Sha256};

/// A digest algorithm (RFC 7616 §3.2; RFC 8760 registers SHA-256 for SIP).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    Md5,
    Sha256,
}

impl Algorithm {
    /// The token in the `algorithm` parameter.
    #[must_use]
    pub fn token(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Sha256 => "SHA-256",
        }
    }

    /// Reads an `algorithm` token, case-insensitively. The `-sess` variants are not offered and
    /// not accepted.
    #[must_use]
    pub fn from_token(token: &str) -> Option<Algorithm> {
        if token.eq_ignore_ascii_case("MD5") {
            Some(Algorithm::Md5)
        } else if token.eq_ignore_ascii_case("SHA-256") {
            Some(Algorithm::Sha256)
        } else {
            None
        }
    }

    /// `H(data)` in lower-case hex (RFC 7616 §3.4.1).
    #[must_use]
    pub fn hash_hex(self, data: &[u8]) -> String {
        match self {
            Algorithm::Md5 => hex::encode(Md5::digest(data)),
            Algorithm::Sha256 => hex::encode(Sha256::digest(data)),
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.token())
    }
}

/// `HA1 = H(username ":" realm ":" password)` (RFC 2617 §3.2.2.2, RFC 7616 §3.4.2), in
/// lower-case hex: what [`Credentials`] stores instead of the password.
#[must_use]
pub fn ha1(algorithm: Algorithm, user: &str, realm: &str, password: &str) -> String {
    algorithm.hash_hex(format!("{user}:{realm}:{password}").as_bytes())
}

/// The expected `response` for `qop=auth` (RFC 7616 §3.4.1, RFC 2617 §3.2.2.1):
/// `H(HA1 ":" nonce ":" nc ":" cnonce ":" qop ":" H(method ":" uri))`.
#[must_use]
#[allow(clippy::too_many_arguments)] // The digest's inputs, named as in the RFC.
pub fn response_digest(
    algorithm: Algorithm,
    ha1: &str,
    nonce: &str,
    nc: &str,
    cnonce: &str,
    qop: &str,
    method: &str,
    uri: &str,
) -> String {
    let ha2 = algorithm.hash_hex(format!("{method}:{uri}").as_bytes());
    algorithm.hash_hex(format!("{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}").as_bytes())
}

/// One user's secrets for the realm: `HA1` under each algorithm, lower-case hex.
#[derive(Clone, PartialEq, Eq)]
pub struct UserHa1 {
    pub ha1_md5: String,
    pub ha1_sha256: String,
}

impl UserHa1 {
    /// Both `HA1`s from a password (e.g. read from configuration, then dropped).
    #[must_use]
    pub fn from_password(user: &str, realm: &str, password: &str) -> UserHa1 {
        UserHa1 {
            ha1_md5: ha1(Algorithm::Md5, user, realm, password),
            ha1_sha256: ha1(Algorithm::Sha256, user, realm, password),
        }
    }

    /// The `HA1` for `algorithm`.
    #[must_use]
    pub fn get(&self, algorithm: Algorithm) -> &str {
        match algorithm {
            Algorithm::Md5 => &self.ha1_md5,
            Algorithm::Sha256 => &self.ha1_sha256,
        }
    }
}

/// Who may register: user → [`UserHa1`] for one realm. Its `Debug` shows user names only.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    users: HashMap<String, UserHa1>,
}

impl Credentials {
    #[must_use]
    pub fn new() -> Credentials {
        Credentials::default()
    }

    /// Credentials from `(user, password)` pairs: each password is turned into its `HA1`s.
    pub fn from_passwords<'a>(
        realm: &str,
        users: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Credentials {
        let mut credentials = Credentials::new();
        for (user, password) in users {
            credentials.insert(user, UserHa1::from_password(user, realm, password));
        }
        credentials
    }

    /// Adds or replaces a user.
    pub fn insert(&mut self, user: impl Into<String>, secrets: UserHa1) {
        self.users.insert(user.into(), secrets);
    }

    /// Removes a user; their existing bindings stay until they expire or are refreshed.
    pub fn remove(&mut self, user: &str) -> Option<UserHa1> {
        self.users.remove(user)
    }

    #[must_use]
    pub fn get(&self, user: &str) -> Option<&UserHa1> {
        self.users.get(user)
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.users.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut users: Vec<_> = self.users.keys().collect();
        users.sort();
        f.debug_struct("Credentials")
            .field("users", &users)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for UserHa1 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("UserHa1 { .. }")
    }
}

/// Why an `Authorization` was refused. Everything but [`AuthFailure::Stale`] counts as a failed
/// attempt (and toward the per-source rate limit).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthFailure {
    #[error("malformed Authorization: {0}")]
    Malformed(String),
    #[error("scheme {0:?} is not Digest")]
    NotDigest(String),
    #[error("realm {got:?} is not ours ({expected:?})")]
    WrongRealm { expected: String, got: String },
    #[error("algorithm {0:?} not supported (expected MD5 or SHA-256)")]
    UnsupportedAlgorithm(String),
    #[error("qop {0:?} not supported (expected auth)")]
    UnsupportedQop(String),
    #[error("uri {got:?} does not match the Request-URI {expected:?}")]
    UriMismatch { expected: String, got: String },
    #[error("unknown user")]
    UnknownUser,
    #[error("wrong response (wrong password or tampered request)")]
    WrongResponse,
    #[error("nc {nc} not above {last} already seen for this nonce (replay)")]
    Replay { nc: u32, last: u32 },
    /// The response is right but the nonce expired or came from another server secret: the
    /// client knows the password and only needs a fresh nonce (RFC 7616 §3.3 `stale`).
    #[error("nonce stale")]
    Stale,
}
