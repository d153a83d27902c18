//! The crate's one error type. Every variant says what was expected and what came.
//!
//! The value types below it ([`crate::types`], [`crate::lifecycle`]) know nothing of this
//! error: their fallible constructors that fail with it (`FromStr` of the stored names,
//! [`Priority::new`]) are written here, so no module below imports this one back.

use crate::lifecycle::{LifecycleError, State};
use crate::types::{ArticleKind, Channel, Priority, TicketType};

/// Everything the CRM store can refuse or fail at.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The database driver failed (connection lost, constraint violated, …).
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Applying the schema migrations failed.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The database URL names no backend this crate supports.
    #[error("unsupported database URL: expected `sqlite:…` or `postgres://…`, got `{0}`")]
    UnsupportedUrl(String),
    /// The OTRS life cycle forbids the requested change (R-SR-3).
    #[error(transparent)]
    Lifecycle(#[from] LifecycleError),
    /// No row with that key.
    #[error("{what} not found: {key}")]
    NotFound {
        /// What was looked up (`ticket`, `queue`, …).
        what: &'static str,
        /// The key that matched nothing.
        key: String,
    },
    /// A value read from the caller or the database does not parse.
    #[error("invalid {what}: expected {expected}, got `{got}`")]
    Invalid {
        /// Which field.
        what: &'static str,
        /// What a valid value looks like.
        expected: &'static str,
        /// The value that came.
        got: String,
    },
    /// An attachment is larger than the configured limit.
    #[error("attachment too large: expected at most {limit} bytes, got {size}")]
    AttachmentTooLarge {
        /// The configured limit in bytes.
        limit: usize,
        /// The attachment's size in bytes.
        size: usize,
    },
    /// Hashing a password failed (argon2).
    #[error("password hashing failed: {0}")]
    PasswordHash(String),
    /// The on-disk journal could not be read or written (R-SR-12).
    #[error("journal I/O failed: {0}")]
    Journal(String),
    /// The thing cannot go: something still uses it.
    #[error("{what} {key} is in use by {by}")]
    InUse {
        /// What kind of thing.
        what: &'static str,
        /// Which one.
        key: String,
        /// What uses it.
        by: String,
    },
    /// A value that must be unique already exists.
    #[error("{what} already exists: {key}")]
    Duplicate {
        /// What kind of value.
        what: &'static str,
        /// The duplicate key.
        key: String,
    },
}

/// Shorthand for this crate's results.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn not_found(what: &'static str, key: impl ToString) -> Self {
        Error::NotFound {
            what,
            key: key.to_string(),
        }
    }

    pub(crate) fn invalid(what: &'static str, expected: &'static str, got: impl ToString) -> Self {
        Error::Invalid {
            what,
            expected,
            got: got.to_string(),
        }
    }
}

/// `FromStr` for enums made by `types::name_enum!`: an unknown name is [`Error::Invalid`]
/// saying which names are expected.
macro_rules! parse_by_name {
    ($($name:ty),+ $(,)?) => {
        $(impl std::str::FromStr for $name {
            type Err = $crate::error::Error;
            fn from_str(s: &str) -> $crate::error::Result<Self> {
                <$name>::from_name(s).ok_or_else(|| {
                    $crate::error::Error::invalid(<$name>::WHAT, <$name>::EXPECTED, s)
                })
            }
        })+
    };
}
pub(crate) use parse_by_name;

parse_by_name!(TicketType, Channel, ArticleKind, State);

impl Priority {
    /// A priority from 1 to 5.
    pub fn new(p: u8) -> Result<Self> {
        Priority::checked(p).ok_or_else(|| Error::invalid("priority", "1..=5", p))
    }
}
