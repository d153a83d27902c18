//! What a deployment decides about its store: which database, the ticket numbers' system id
//! and time zone, the PIN secret, limits, password cost, SIP realm. Plain values: nothing
//! here touches the database.

use std::time::Duration;

use crate::error::{Error, Result};
use crate::number::SystemId;

/// Which database the store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite file (the default, R-PLT).
    Sqlite,
    /// PostgreSQL (production, scale-out).
    Postgres,
}

impl Backend {
    /// The backend a URL names.
    pub fn from_url(url: &str) -> Result<Self> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            Err(Error::UnsupportedUrl(url.to_string()))
        }
    }
}

/// Settings that are the deployment's, not the code's.
#[derive(Clone)]
pub struct Settings {
    /// The two-digit OTRS system id inside every ticket number.
    pub system_id: SystemId,
    /// Country calling code used to normalise national phone numbers to E.164 (e.g. "39"
    /// in the demo). `None`: only international numbers (`+…` or `00…`) are accepted.
    pub default_country_code: Option<String>,
    /// The server secret keying the PIN HMAC (kept in the data directory; see
    /// [`crate::customers::load_or_create_secret`]).
    pub pin_secret: Vec<u8>,
    /// Largest attachment accepted, in bytes.
    pub attachment_max_bytes: usize,
    /// Most connections in the pool; the ticket writer holds one more of its own (a thread
    /// with one connection, SQLite file or PostgreSQL).
    pub max_connections: u32,
    /// How long to wait for a database connection, or on SQLite for the write lock, before
    /// giving up (a write from a call is then journaled, R-SR-12).
    pub acquire_timeout: Duration,
    /// Argon2 cost for new password hashes.
    pub password_cost: PasswordCost,
    /// The time zone whose calendar day dates ticket numbers and resets their counter
    /// (OTRS uses the server's local day; DESIGN: Europe/Rome by default).
    pub time_zone: chrono_tz::Tz,
    /// The SIP digest realm of the agents' phones (RFC 3261 §22.1): setting a password also
    /// stores its HA1 values for this realm (see [`Store::sip_credentials`](crate::Store::sip_credentials)).
    pub sip_realm: String,
    /// PostgreSQL only: whether a commit returns after its WAL is flushed (`true`, the
    /// server's default) or before (`false`: `synchronous_commit = off`, the same class of
    /// durability as SQLite's `synchronous = NORMAL`: a crash of the server or the machine
    /// may lose the last commits, about a third of a second of them, never corrupts). See
    /// README `database.postgres_synchronous_commit`.
    pub postgres_synchronous_commit: bool,
    /// SQLite only: how a commit reaches the disk (`PRAGMA synchronous` on every
    /// connection, the ticket writer's included). See [`SqliteSynchronous`] and README
    /// `database.sqlite_synchronous`.
    pub sqlite_synchronous: SqliteSynchronous,
}

/// SQLite's `synchronous` in WAL mode: the trade between a commit's cost and what a power
/// cut may take (docs/SECURITY.md, "Crashes, outages and a full disk").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SqliteSynchronous {
    /// `NORMAL`: no fsync per commit (the log is synced at checkpoints). A crash of the
    /// process loses nothing; a power cut or a crash of the machine may lose the last
    /// commits, never corrupts. The default.
    #[default]
    Normal,
    /// `FULL`: every commit waits for the log's fsync; a power cut loses no commit that was
    /// answered. Each commit costs a disk flush.
    Full,
}

impl SqliteSynchronous {
    /// The pragma's value.
    #[must_use]
    pub const fn as_pragma(self) -> &'static str {
        match self {
            SqliteSynchronous::Normal => "NORMAL",
            SqliteSynchronous::Full => "FULL",
        }
    }
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("system_id", &self.system_id)
            .field("default_country_code", &self.default_country_code)
            .field("pin_secret", &"<redacted>")
            .field("attachment_max_bytes", &self.attachment_max_bytes)
            .field("max_connections", &self.max_connections)
            .field("acquire_timeout", &self.acquire_timeout)
            .field("password_cost", &self.password_cost)
            .field("time_zone", &self.time_zone)
            .field("sip_realm", &self.sip_realm)
            .field(
                "postgres_synchronous_commit",
                &self.postgres_synchronous_commit,
            )
            .field("sqlite_synchronous", &self.sqlite_synchronous)
            .finish()
    }
}

impl Default for Settings {
    /// System id 10, Europe/Rome, SIP realm `centralino`, no default country, a random PIN secret for this process only (PINs set
    /// with it cannot be looked up after a restart: production passes the stored secret),
    /// 20 MiB attachments, 16 connections.
    fn default() -> Self {
        Settings {
            system_id: SystemId::default(),
            default_country_code: None,
            pin_secret: rand::random::<[u8; 32]>().to_vec(),
            attachment_max_bytes: 20 * 1024 * 1024,
            max_connections: 16,
            acquire_timeout: Duration::from_secs(5),
            password_cost: PasswordCost::default(),
            time_zone: chrono_tz::Europe::Rome,
            sip_realm: "centralino".to_string(),
            postgres_synchronous_commit: true,
            sqlite_synchronous: SqliteSynchronous::Normal,
        }
    }
}

/// Argon2id cost; the default is OWASP's minimum (19 MiB, 2 passes, 1 lane).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordCost {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Passes.
    pub iterations: u32,
}

impl Default for PasswordCost {
    fn default() -> Self {
        PasswordCost {
            memory_kib: 19 * 1024,
            iterations: 2,
        }
    }
}
