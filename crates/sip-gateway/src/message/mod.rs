//! # SIP message facade over `rsip` 0.4
//!
//! `rsip` reads one canonical dialect of SIP: CRLF lines, full header names, no folding, no
//! whitespace before the colon, one Via per header. Real peers (and RFC 4475) send much more.
//! [`parse`] rewrites a received message into that dialect first, validating what the rest of
//! the gateway relies on, then hands it to `rsip`:
//!
//! - leading CRLFs skipped (RFC 3261 §7.5), bare LF line ends accepted;
//! - header folding undone, the line break and its whitespace becoming one SP (§7.3.1);
//! - names case-insensitive, whitespace before the colon allowed (§7.3.1, RFC 4475 §3.1.1.1);
//! - compact forms expanded (§7.3.3 and the IANA registry: `v i f t m l c k s e o r b x u a j
//!   d y n`);
//! - Via, Contact, Route and Record-Route values split to one header each (§7.3.1), commas in
//!   quoted strings and `<...>` respected;
//! - Via, From, To, Contact, Route, Record-Route, CSeq, Max-Forwards rewritten with canonical
//!   whitespace (`SIP / 2.0 / UDP host ; branch = x` → `SIP/2.0/UDP host;branch=x`,
//!   `0009 INVITE` → `9 INVITE`);
//! - RFC 3261 §8.1.1 mandatory headers checked (Via, From, To, Call-ID, CSeq; CSeq method
//!   equal to the request method; Max-Forwards optional), single-valued ones not repeated;
//! - Content-Length honoured as on a datagram (§18.3): a shorter body is an error, extra bytes
//!   are dropped, no Content-Length means the body runs to the end; the parsed message always
//!   carries a Content-Length equal to its body.
//!
//! Anything refused comes back as a [`ParseError`] whose [`reason`](ParseError::reason) and
//! [`status_code`](ParseError::status_code) feed [`error_response`] / [`bad_request`]. `rsip`
//! runs behind `catch_unwind`: no input makes [`parse`] panic.
//!
//! Known limits of `rsip` 0.4 that remain: methods outside its fixed set (answered 501),
//! Request-URI schemes other than `sip`/`sips` (answered 416), IPv6 literals in the
//! Request-URI and user parts holding both `;` and `.` (refused as [`ParseError::Rejected`]),
//! and `rsip`'s typed Via not reading IPv6 sent-by (use [`SipMessageExt`] and [`ViaHop`]).
//!
//! For streams, [`StreamFramer`] cuts whole messages by Content-Length (RFC 3261 §18.3) before
//! they reach [`parse`]. [`serialize`] writes messages back (`rsip`'s `to_string()` mangles
//! binary bodies and reason phrases).

mod canonical;
mod error;
mod error_response;
mod ext;
mod framer;
mod lines;
pub(crate) mod names;
mod syntax;
mod via;

#[cfg(test)]
mod tests;

pub use error::ParseError;
pub use error_response::{bad_request, error_response, error_response_with_rng};
pub use ext::{SipMessageExt, reason_phrase, serialize};
pub use framer::{FrameError, StreamFramer};
pub use via::{ViaHop, add_received_rport, response_destination};

use std::panic::{AssertUnwindSafe, catch_unwind};

use syntax::excerpt;

/// Whether `bytes` look like a REGISTER without an `Authorization` header, judged without
/// parsing: the first word of the first non-empty line, and the names of the header lines
/// (up to the blank line). It is how a REGISTER flood is dropped before the parser's work
/// (issue 14); the user agent checks the parsed request too, so a message this misjudges
/// is still limited, only later.
#[must_use]
pub fn is_unauthenticated_register(bytes: &[u8]) -> bool {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    let mut lines = bytes[start..].split(|&b| b == b'\n');
    let Some(first) = lines.next() else {
        return false;
    };
    let is_register = first.get(..9).is_some_and(|m| {
        m[..8].eq_ignore_ascii_case(b"REGISTER") && (m[8] == b' ' || m[8] == b'\t')
    });
    if !is_register {
        return false;
    }
    for line in lines {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        if let Some(colon) = line.iter().position(|&b| b == b':')
            && line[..colon]
                .trim_ascii_end()
                .eq_ignore_ascii_case(b"Authorization")
        {
            return false;
        }
    }
    true
}

/// Parses one whole message: a UDP datagram, or one message cut from a stream by
/// [`StreamFramer`]. See the module documentation for what is normalised and checked.
pub fn parse(datagram: &[u8]) -> Result<rsip::SipMessage, ParseError> {
    let canonical = canonical::canonicalize(datagram)?;
    let parsed = catch_unwind(AssertUnwindSafe(|| {
        rsip::SipMessage::try_from(canonical.as_slice())
    }));
    match parsed {
        Ok(Ok(message)) => Ok(message),
        Ok(Err(error)) => Err(ParseError::Rejected(excerpt(&error.to_string()))),
        Err(_) => Err(ParseError::ParserPanicked),
    }
}
