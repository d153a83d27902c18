//! Reading what a REGISTER asks for (RFC 3261 §10.2, §10.3 steps 5–7): the address-of-record
//! in To, and each Contact with its expiry.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::transaction::{Peer, TransportKind};

/// One contact of a user: where their phone can be reached, and until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// The Contact URI as registered (without `<>` or header parameters): the Request-URI of
    /// requests to this phone.
    pub contact_uri: String,
    /// Where the REGISTER came from: requests to this phone are sent here, whatever the
    /// Contact's host says (the phone may be behind NAT; RFC 5626 §5, in its simplest form).
    pub source: SocketAddr,
    pub transport: TransportKind,
    pub expires_at: Instant,
}

impl Binding {
    /// The transport-level destination of requests to this phone.
    #[must_use]
    pub fn peer(&self) -> Peer {
        Peer {
            addr: self.source,
            transport: self.transport,
        }
    }

    /// Time left at `now`, rounded up to whole seconds as a 200 lists it (RFC 3261 §10.3
    /// step 8); zero once expired.
    #[must_use]
    pub fn remaining_secs(&self, now: Instant) -> u64 {
        let left = self.expires_at.saturating_duration_since(now);
        left.as_secs() + u64::from(left.subsec_nanos() > 0)
    }
}

/// A Contact of a REGISTER, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum ContactSpec {
    /// `Contact: *` (only valid alone, with `Expires: 0`).
    Wildcard,
    Uri {
        uri: String,
        /// The `expires` parameter; `Some(None)` when present but malformed.
        expires: Option<Option<u64>>,
    },
}

/// The URI inside a name-addr (`"A" <sip:x@y>;p=1`) or an addr-spec (`sip:x@y;p=1`, whose
/// `;` parameters are header parameters, RFC 3261 §20.10).
pub(super) fn uri_of(value: &str) -> Option<&str> {
    let value = value.trim();
    match angle_brackets(value) {
        Some(Some((a, b))) => Some(value[a + 1..b].trim()),
        Some(None) => None,
        None => value.split(';').next().map(str::trim),
    }
}

/// Where the `<…>` of a name-addr is: the first `<` outside a quoted display name, and the
/// first `>` after it (a URI holds no bare `>`; RFC 3261 §25.1). `None`: an addr-spec (no
/// brackets); `Some(None)`: brackets that do not close. Header parameters may hold `<` and
/// `>` in quotes, as the `+sip.instance="<urn:uuid:…>"` every WebRTC client sends does
/// (RFC 5626 §4.1), so the last `>` of the value is not the URI's.
fn angle_brackets(value: &str) -> Option<Option<(usize, usize)>> {
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in value.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '<' if !quoted => return Some(value[i..].find('>').map(|j| (i, i + j))),
            '>' if !quoted => return Some(None),
            _ => {}
        }
    }
    None
}

/// The header parameters of a name-addr or addr-spec value: those after the URI's `>`, or
/// after the first `;` when there are no angle brackets.
fn header_params(value: &str) -> &str {
    match angle_brackets(value) {
        Some(Some((_, b))) => &value[b + 1..],
        Some(None) => "",
        None => value.split_once(';').map(|(_, p)| p).unwrap_or(""),
    }
}

/// Reads one Contact value. `None` when it is not a SIP URI we can use.
pub(super) fn parse_contact(value: &str) -> Option<ContactSpec> {
    if value.trim() == "*" {
        return Some(ContactSpec::Wildcard);
    }
    let uri = uri_of(value)?;
    let scheme = uri.split_once(':')?.0;
    if !(scheme.eq_ignore_ascii_case("sip") || scheme.eq_ignore_ascii_case("sips")) {
        return None;
    }
    rsip::Uri::try_from(uri).ok()?;
    let expires = header_params(value)
        .split(';')
        .filter_map(|p| p.trim().split_once('='))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("expires"))
        .map(|(_, v)| parse_delta(v));
    Some(ContactSpec::Uri {
        uri: uri.to_string(),
        expires,
    })
}

/// A delta-seconds value (RFC 3261 §25.1); values past u32 saturate, anything else is
/// malformed.
pub(super) fn parse_delta(value: &str) -> Option<u64> {
    let value = value.trim().trim_matches('"');
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(value.parse::<u64>().unwrap_or(u64::MAX))
}

/// The key contacts are compared by (RFC 3261 §19.1.4, simplified): scheme, host and
/// parameters case-insensitive, the user part as sent.
pub(super) fn contact_key(uri: &str) -> String {
    let (scheme, rest) = uri.split_once(':').unwrap_or(("sip", uri));
    let (user, host) = match rest.split_once('@') {
        Some((user, host)) => (format!("{user}@"), host),
        None => (String::new(), rest),
    };
    format!(
        "{}:{user}{}",
        scheme.to_ascii_lowercase(),
        host.to_ascii_lowercase()
    )
}

/// The user part of the To URI: the address-of-record's user (RFC 3261 §10.3 step 5).
pub(super) fn aor_user(to: &str) -> Option<String> {
    let uri = rsip::Uri::try_from(uri_of(to)?).ok()?;
    uri.user().map(str::to_string)
}

/// An expiry as a duration.
pub(super) fn secs(value: u64) -> Duration {
    Duration::from_secs(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contacts_are_read_with_their_expires() {
        assert_eq!(parse_contact(" * "), Some(ContactSpec::Wildcard));
        assert_eq!(
            parse_contact("\"Desk\" <sip:1001@10.0.0.5:5062;transport=udp>;expires=120;q=0.5"),
            Some(ContactSpec::Uri {
                uri: "sip:1001@10.0.0.5:5062;transport=udp".into(),
                expires: Some(Some(120)),
            })
        );
        assert_eq!(
            parse_contact("sip:1001@10.0.0.5;expires=x"),
            Some(ContactSpec::Uri {
                uri: "sip:1001@10.0.0.5".into(),
                expires: Some(None),
            })
        );
        assert_eq!(
            parse_contact("<sip:1001@10.0.0.5>"),
            Some(ContactSpec::Uri {
                uri: "sip:1001@10.0.0.5".into(),
                expires: None,
            })
        );
        // JsSIP and SIP.js over WebSocket (RFC 7118 §5.2, RFC 5626 §4.1): a `.invalid` host
        // and a quoted instance id holding `<` and `>` after the URI.
        assert_eq!(
            parse_contact(
                "<sip:lcrkf7u1@1i8ld7hcb1pl.invalid;transport=ws>;+sip.ice;reg-id=1;\
                 +sip.instance=\"<urn:uuid:be2b3b59-0af1-4a0a-8f46-8a7c4a6b2ec9>\";expires=600"
            ),
            Some(ContactSpec::Uri {
                uri: "sip:lcrkf7u1@1i8ld7hcb1pl.invalid;transport=ws".into(),
                expires: Some(Some(600)),
            })
        );
        assert_eq!(
            parse_contact("\"Desk <3>\" <sip:1001@10.0.0.5>;expires=60"),
            Some(ContactSpec::Uri {
                uri: "sip:1001@10.0.0.5".into(),
                expires: Some(Some(60)),
            })
        );
        assert_eq!(parse_contact("sip:1001@10.0.0.5>"), None);
        assert_eq!(parse_contact("<mailto:x@y>"), None);
        assert_eq!(parse_contact("<sip:broken"), None);
    }

    #[test]
    fn delta_seconds_saturate_and_refuse_junk() {
        assert_eq!(parse_delta("0"), Some(0));
        assert_eq!(parse_delta(" 3600 "), Some(3600));
        assert_eq!(parse_delta("99999999999999999999999"), Some(u64::MAX));
        assert_eq!(parse_delta("-1"), None);
        assert_eq!(parse_delta(""), None);
    }

    #[test]
    fn keys_ignore_case_of_scheme_and_host_only() {
        assert_eq!(
            contact_key("SIP:Bob@Host.Example;Transport=UDP"),
            contact_key("sip:Bob@host.example;transport=udp")
        );
        assert_ne!(contact_key("sip:bob@h"), contact_key("sip:Bob@h"));
    }

    #[test]
    fn aor_user_comes_from_to() {
        assert_eq!(
            aor_user("\"Agent\" <sip:1001@127.0.0.1>").as_deref(),
            Some("1001")
        );
        assert_eq!(
            aor_user("sip:1002@example.org;tag=x").as_deref(),
            Some("1002")
        );
        assert_eq!(aor_user("<sip:example.org>"), None);
    }
}
