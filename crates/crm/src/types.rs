//! Value types shared by the store: ids, priorities, ticket types, channels, article kinds.
//!
//! Each enum has one stable lower-case name used in the database and the API (`as_str` /
//! `FromStr`); unknown names are refused with what was expected.

use std::fmt;

use chrono::{DateTime, TimeZone, Utc};

macro_rules! id_type {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[derive(serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }
    };
}

id_type!(
    /// A ticket's internal id (not its number).
    TicketId
);
id_type!(
    /// A queue's id.
    QueueId
);
id_type!(
    /// An operator's (user's) id.
    UserId
);
id_type!(
    /// A customer's id.
    CustomerId
);
id_type!(
    /// An article's id.
    ArticleId
);

macro_rules! name_enum {
    ($(#[$m:meta])* $name:ident, $what:literal, $expected:literal { $($(#[$vm:meta])* $v:ident = $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($(#[$vm])* $v),+ }
        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$v),+];
            /// What a value is called in messages.
            #[allow(dead_code)]
            pub(crate) const WHAT: &'static str = $what;
            /// The names accepted, for messages.
            #[allow(dead_code)]
            pub(crate) const EXPECTED: &'static str = $expected;
            /// The stable name stored in the database.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$v => $s),+ }
            }
            /// The value a stored name stands for (`FromStr`, which fails with the crate's
            /// error, is derived from it in [`crate::error`]).
            pub(crate) fn from_name(s: &str) -> Option<Self> {
                match s {
                    $($s => Some($name::$v),)+
                    _ => None,
                }
            }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> ::core::result::Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
        /// A string schema listing the names (the console's OpenAPI document).
        #[cfg(feature = "utoipa")]
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::schema::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .enum_values(Some([$($s),+]))
                    .description(Some(concat!("A ", $what, ": ", $expected, ".")))
                    .into()
            }
        }
        #[cfg(feature = "utoipa")]
        impl utoipa::ToSchema for $name {}
        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> ::core::result::Result<Self, D::Error> {
                let s = <String as serde::Deserialize>::deserialize(d)?;
                $name::from_name(&s).ok_or_else(|| {
                    serde::de::Error::custom(format!("invalid {}: expected {}, got `{s}`", $what, $expected))
                })
            }
        }
    };
}
pub(crate) use name_enum;

name_enum!(
    /// The ticket type (R-SR-6).
    TicketType, "ticket type",
    "information_request, administrative_problem, payment_problem, technical_problem or other" {
        /// A request for information.
        InformationRequest = "information_request",
        /// An administrative problem.
        AdministrativeProblem = "administrative_problem",
        /// A payment problem.
        PaymentProblem = "payment_problem",
        /// A technical or application problem.
        TechnicalProblem = "technical_problem",
        /// Anything else.
        Other = "other",
    }
);

name_enum!(
    /// The channel a request came in on (R-SR-1, R-ACD-5).
    Channel, "channel", "phone, email, voicemail, web or fax" {
        /// A phone call.
        Phone = "phone",
        /// An e-mail.
        Email = "email",
        /// A voicemail message.
        Voicemail = "voicemail",
        /// A web form.
        Web = "web",
        /// A fax.
        Fax = "fax",
    }
);

name_enum!(
    /// The kind of an article (R-SR-5; OTRS "communication" types, seed 000 §4.4.2.4).
    ArticleKind, "article kind",
    "note, phone_received, phone_made, email_in, email_out, voicemail, web or fax" {
        /// Internal note; may be made visible to the customer.
        Note = "note",
        /// Phone call received from the customer.
        PhoneReceived = "phone_received",
        /// Phone call made toward the customer.
        PhoneMade = "phone_made",
        /// Inbound e-mail.
        EmailIn = "email_in",
        /// Outbound e-mail.
        EmailOut = "email_out",
        /// Voicemail message.
        Voicemail = "voicemail",
        /// Web form.
        Web = "web",
        /// Fax.
        Fax = "fax",
    }
);

/// Priority 1 (very low) to 5 (very high); 3 "normal" is the default (R-SR-6, seed 001).
/// Made by [`Priority::new`] (in [`crate::error`], as it fails with the crate's error).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Priority(u8);

impl Priority {
    /// 3, "normal".
    pub const NORMAL: Priority = Priority(3);

    /// A priority from 1 to 5; `None` otherwise.
    pub(crate) fn checked(p: u8) -> Option<Self> {
        (1..=5).contains(&p).then_some(Priority(p))
    }

    /// The numeric value, 1 to 5.
    pub fn get(self) -> u8 {
        self.0
    }
}

impl Default for Priority {
    fn default() -> Self {
        Priority::NORMAL
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Who makes a change: an operator, or the system itself (IVR, ACD, cascades, timers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Actor {
    /// The platform (switch, cascade, scheduled job).
    System,
    /// An operator.
    User(UserId),
}

impl Actor {
    pub(crate) fn user_id(self) -> Option<i64> {
        match self {
            Actor::System => None,
            Actor::User(u) => Some(u.0),
        }
    }
}

/// Milliseconds since the epoch, as stored.
pub(crate) fn to_ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// Back from stored milliseconds.
pub(crate) fn from_ms(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms)
        .single()
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

/// Reads a flag column: PostgreSQL `BOOLEAN`, SQLite `INTEGER` 0/1 (the `Any` driver decodes
/// the latter only as an integer).
pub(crate) fn flag(row: &sqlx::any::AnyRow, column: &str) -> Result<bool, sqlx::Error> {
    use sqlx::Row;
    match row.try_get::<bool, _>(column) {
        Ok(b) => Ok(b),
        Err(_) => Ok(row.try_get::<i64, _>(column)? != 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for t in TicketType::ALL {
            assert_eq!(t.as_str().parse::<TicketType>().unwrap(), *t);
        }
        for c in Channel::ALL {
            assert_eq!(c.as_str().parse::<Channel>().unwrap(), *c);
        }
        for k in ArticleKind::ALL {
            assert_eq!(k.as_str().parse::<ArticleKind>().unwrap(), *k);
        }
        let err = "pigeon".parse::<Channel>().unwrap_err().to_string();
        assert!(err.contains("expected phone, email"), "{err}");
    }

    #[test]
    fn priority_bounds() {
        assert_eq!(Priority::default().get(), 3);
        assert!(Priority::new(0).is_err());
        assert!(Priority::new(6).is_err());
        assert_eq!(Priority::new(5).unwrap().get(), 5);
    }
}
