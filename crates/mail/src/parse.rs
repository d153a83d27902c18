//! One inbound message, parsed (RFC 5322, MIME RFC 2045–2049) into what a ticket shows.
//!
//! [`parse`] reads raw bytes with `mail-parser` (charsets decoded, encoded words, HTML turned
//! into text when there is no text part) and keeps, owned: sender, recipients, subject,
//! Message-ID, In-Reply-To, References, the text body, the attachments, and the header signals
//! the classifier needs. A certified-mail (PEC) envelope is unwrapped here (see [`crate::pec`]):
//! [`Parsed`] is the original message and [`Parsed::pec`] says what the envelope was.
//!
//! Malformed input never panics: bytes that hold no header at all are a [`ParseError`]; a
//! message without a sender parses (with `from: None`) and is never answered.

use chrono::{DateTime, Utc};
use mail_parser::{Address, HeaderValue, Message, MessageParser, MimeHeaders};

/// Why bytes are not a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Nothing at all.
    #[error("empty message: expected RFC 5322 headers, got 0 bytes")]
    Empty,
    /// No header field could be read.
    #[error("not an e-mail message: expected RFC 5322 header fields, got {0} bytes without any")]
    NoHeaders(usize),
    /// The MIME parser gave up (it panicked) on these bytes.
    #[error("the MIME structure of these {0} bytes could not be read (the parser gave up)")]
    Unreadable(usize),
}

/// A mailbox: address and display name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    /// `local@domain`, lower-cased domain kept as written.
    pub address: String,
    /// Display name, if any.
    pub name: Option<String>,
}

/// An attachment as it came.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// File name (`attachment-N` when the part names none).
    pub name: String,
    /// MIME type, `type/subtype` lower-case.
    pub content_type: String,
    /// Decoded bytes.
    pub content: Vec<u8>,
}

/// The header signals of automatic mail (RFC 3834, RFC 2919, RFC 3464).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Signals {
    /// `Auto-Submitted` value, lower-case.
    pub auto_submitted: Option<String>,
    /// `Precedence` value, lower-case.
    pub precedence: Option<String>,
    /// `List-Id` present.
    pub list_id: bool,
    /// `X-Autoreply` / `X-Autorespond` present.
    pub x_autoreply: bool,
    /// `Return-Path: <>` (the null reverse path of a DSN, RFC 5321 §4.5.5).
    pub null_return_path: bool,
    /// The top-level type is `multipart/report` (RFC 6522), the DSN's.
    pub report: bool,
}

/// What a PEC envelope said (the original is the [`Parsed`] it belongs to).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PecEnvelope {
    /// `X-Trasporto` (e.g. `posta-certificata`) or `X-Ricevuta` (a receipt).
    pub kind: String,
    /// The envelope's subject (`POSTA CERTIFICATA: …`).
    pub subject: String,
    /// The envelope's sender (the PEC provider's address on behalf of the writer).
    pub from: Option<String>,
    /// `daticert.xml`, as text, when present.
    pub daticert: Option<String>,
}

/// A parsed message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    /// Sender (`From`, else `Sender`); `None`: no usable address.
    pub from: Option<Mailbox>,
    /// `To` and `Cc` addresses.
    pub to: Vec<String>,
    /// Subject, decoded; empty when missing.
    pub subject: String,
    /// Message-ID without angle brackets.
    pub message_id: Option<String>,
    /// In-Reply-To ids.
    pub in_reply_to: Vec<String>,
    /// References ids.
    pub references: Vec<String>,
    /// `Date`.
    pub date: Option<DateTime<Utc>>,
    /// Text body: the text parts, or the HTML parts rendered as text.
    pub text: String,
    /// Attachments (not inline text bodies).
    pub attachments: Vec<Attachment>,
    /// Header signals for [`crate::classify`].
    pub signals: Signals,
    /// Sender address of the envelope `Return-Path`, when not null.
    pub return_path: Option<String>,
    /// Set when the message came wrapped in a certified-mail envelope.
    pub pec: Option<PecEnvelope>,
}

/// Parses raw bytes; unwraps a PEC envelope (the original becomes the message). A panic of
/// the MIME parser on hostile bytes (the `mail_parse` fuzz target found one in
/// `mail-parser` 0.11.9, a debug assertion on a part it cannot place) is
/// [`ParseError::Unreadable`]: the message is then filed as unreadable, raw kept, and the
/// mailbox's fetcher goes on instead of dying on it at every start.
pub fn parse(raw: &[u8]) -> Result<Parsed, ParseError> {
    std::panic::catch_unwind(|| parse_unguarded(raw))
        .unwrap_or(Err(ParseError::Unreadable(raw.len())))
}

fn parse_unguarded(raw: &[u8]) -> Result<Parsed, ParseError> {
    if raw.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(ParseError::Empty);
    }
    let message = MessageParser::default()
        .parse(raw)
        .filter(|m| !m.headers().is_empty())
        .ok_or(ParseError::NoHeaders(raw.len()))?;
    let outer = from_message(&message);
    match crate::pec::envelope(&message) {
        Some((envelope, Some(original))) => {
            let mut inner = from_message(original);
            inner.pec = Some(envelope);
            Ok(inner)
        }
        // An envelope without its original (a receipt): the envelope is the message.
        Some((envelope, None)) => Ok(Parsed {
            pec: Some(envelope),
            ..outer
        }),
        None => Ok(outer),
    }
}

pub(crate) fn first_mailbox(a: Option<&Address<'_>>) -> Option<Mailbox> {
    let addr = a?.first()?;
    let address = addr.address()?.trim();
    if address.is_empty() || !address.contains('@') {
        return None;
    }
    Some(Mailbox {
        address: address.to_string(),
        name: addr
            .name()
            .map(|n| n.trim().to_string())
            .filter(|n| !n.is_empty()),
    })
}

fn ids(v: &HeaderValue<'_>) -> Vec<String> {
    match v {
        HeaderValue::Text(t) => vec![t.trim_matches(['<', '>', ' ']).to_string()],
        HeaderValue::TextList(l) => l
            .iter()
            .map(|t| t.trim_matches(['<', '>', ' ']).to_string())
            .collect(),
        _ => Vec::new(),
    }
    .into_iter()
    .filter(|s| !s.is_empty())
    .collect()
}

fn header_lower(m: &Message<'_>, name: &str) -> Option<String> {
    m.header_raw(name).map(|v| v.trim().to_ascii_lowercase())
}

fn from_message(m: &Message<'_>) -> Parsed {
    let from = first_mailbox(m.from()).or_else(|| first_mailbox(m.sender()));
    let to = m
        .all_to()
        .chain(m.all_cc())
        .flat_map(|a| a.iter())
        .filter_map(|a| a.address().map(str::to_string))
        .collect();
    let text = match m.text_body_count() {
        0 => (0..m.html_body_count())
            .filter_map(|i| m.body_html(i))
            .map(|h| mail_parser::decoders::html::html_to_text(&h))
            .collect::<Vec<_>>()
            .join("\n"),
        n => (0..n)
            .filter_map(|i| m.body_text(i))
            .collect::<Vec<_>>()
            .join("\n"),
    };
    let attachments = m
        .attachments()
        .enumerate()
        .map(|(i, p)| {
            let content_type = p
                .content_type()
                .map(|c| match c.subtype() {
                    Some(s) => format!("{}/{}", c.ctype(), s),
                    None => c.ctype().to_string(),
                })
                .unwrap_or_else(|| "application/octet-stream".into())
                .to_ascii_lowercase();
            let name = p
                .attachment_name()
                .map(str::to_string)
                .unwrap_or_else(|| format!("attachment-{}", i + 1));
            // A message/rfc822 part's bytes are the whole message as it was attached.
            let content = match p.message() {
                Some(inner) => inner.raw_message().to_vec(),
                None => p.contents().to_vec(),
            };
            Attachment {
                name,
                content_type,
                content,
            }
        })
        .collect();
    let return_path = m.header_raw("Return-Path").map(str::trim);
    let signals = Signals {
        auto_submitted: header_lower(m, "Auto-Submitted"),
        precedence: header_lower(m, "Precedence"),
        list_id: m.header_raw("List-Id").is_some(),
        x_autoreply: m.header_raw("X-Autoreply").is_some()
            || m.header_raw("X-Autorespond").is_some(),
        null_return_path: return_path.is_some_and(|r| r.trim_matches(['<', '>', ' ']).is_empty()),
        report: m.root_part().content_type().is_some_and(|c| {
            c.ctype().eq_ignore_ascii_case("multipart")
                && c.subtype()
                    .is_some_and(|s| s.eq_ignore_ascii_case("report"))
        }),
    };
    Parsed {
        from,
        to,
        subject: m.subject().unwrap_or_default().trim().to_string(),
        message_id: m
            .message_id()
            .map(|s| s.trim_matches(['<', '>']).to_string()),
        in_reply_to: ids(m.in_reply_to()),
        references: ids(m.references()),
        date: m
            .date()
            .and_then(|d| DateTime::from_timestamp(d.to_timestamp(), 0)),
        text,
        attachments,
        signals,
        return_path: return_path
            .map(|r| r.trim_matches(['<', '>', ' ']).to_string())
            .filter(|r| !r.is_empty()),
        pec: None,
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn bytes_the_mime_parser_gives_up_on_are_an_error_not_a_panic() {
        let raw = include_bytes!("../testdata/fuzz-mail-parser-panic.eml");
        // In builds with debug assertions mail-parser 0.11.9 panics on these bytes; without
        // them it parses something. Either way: a result, never an unwinding fetcher.
        match parse(raw) {
            Ok(_) | Err(ParseError::Unreadable(_)) | Err(ParseError::NoHeaders(_)) => {}
            Err(e) => panic!("{e}"),
        }
        if cfg!(debug_assertions) {
            assert_eq!(parse(raw), Err(ParseError::Unreadable(raw.len())));
        }
    }

    use super::*;

    #[test]
    fn plain_message() {
        let raw = b"From: Mario Rossi <mario.rossi@example.org>\r\n\
To: urp@comune.example\r\n\
Subject: =?ISO-8859-1?Q?Buca_in_via_Verdi_=E8_pericolosa?=\r\n\
Message-ID: <abc@example.org>\r\n\
In-Reply-To: <q1@centralino>\r\n\
References: <q0@centralino> <q1@centralino>\r\n\
Date: Mon, 2 Mar 2026 10:00:00 +0100\r\n\
Content-Type: text/plain; charset=iso-8859-1\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\
\r\n\
C'=E8 una buca.\r\n";
        let p = parse(raw).unwrap();
        let from = p.from.unwrap();
        assert_eq!(from.address, "mario.rossi@example.org");
        assert_eq!(from.name.as_deref(), Some("Mario Rossi"));
        assert_eq!(p.to, vec!["urp@comune.example"]);
        assert_eq!(p.subject, "Buca in via Verdi è pericolosa");
        assert_eq!(p.message_id.as_deref(), Some("abc@example.org"));
        assert_eq!(p.in_reply_to, vec!["q1@centralino"]);
        assert_eq!(p.references, vec!["q0@centralino", "q1@centralino"]);
        assert_eq!(p.text.trim(), "C'è una buca.");
        assert_eq!(p.date.unwrap().to_rfc3339(), "2026-03-02T09:00:00+00:00");
        assert!(p.pec.is_none());
    }

    #[test]
    fn html_only_becomes_text_and_attachments_are_kept() {
        let raw = b"From: a@example.org\r\n\
Subject: foto\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=XX\r\n\
\r\n\
--XX\r\n\
Content-Type: text/html; charset=utf-8\r\n\
\r\n\
<html><body><p>Ecco la <b>foto</b></p></body></html>\r\n\
--XX\r\n\
Content-Type: image/png; name=\"buca.png\"\r\n\
Content-Disposition: attachment; filename=\"buca.png\"\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
iVBORw0KGgo=\r\n\
--XX--\r\n";
        let p = parse(raw).unwrap();
        assert!(p.text.contains("Ecco la foto"), "{:?}", p.text);
        assert!(!p.text.contains('<'));
        assert_eq!(p.attachments.len(), 1);
        assert_eq!(p.attachments[0].name, "buca.png");
        assert_eq!(p.attachments[0].content_type, "image/png");
        assert_eq!(p.attachments[0].content, b"\x89PNG\r\n\x1a\n");
    }

    #[test]
    fn unknown_charset_and_no_sender_still_parse() {
        let raw = b"Subject: x\r\nContent-Type: text/plain; charset=x-klingon\r\n\r\nhello\r\n";
        let p = parse(raw).unwrap();
        assert!(p.from.is_none());
        assert_eq!(p.text.trim(), "hello");
    }

    #[test]
    fn garbage_is_a_clear_error() {
        assert_eq!(parse(b""), Err(ParseError::Empty));
        assert_eq!(parse(b" \r\n"), Err(ParseError::Empty));
        let e = parse(b"\r\n\r\n\x00\x01").map(|_| ()).unwrap_err();
        assert!(e.to_string().contains("expected RFC 5322"), "{e}");
    }

    proptest::proptest! {
        #[test]
        fn random_bytes_never_panic(raw in proptest::collection::vec(proptest::num::u8::ANY, 0..2048)) {
            let _ = parse(&raw);
        }

        #[test]
        fn random_headers_never_panic(s in "([A-Za-z-]{1,12}: [ -~]{0,40}\r\n){0,8}\r\n[ -~\r\n]{0,200}") {
            let _ = parse(s.as_bytes());
        }
    }
}
