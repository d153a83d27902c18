//! Stateless error responses to requests that could not be parsed (RFC 3261 §8.2, §8.2.6).

use super::ext::reason_phrase;
use super::lines::{Mode, split};
use super::names;
use super::syntax::{ascii_phrase, header_param, sanitize_header_text, split_list, starts_with_ci};
use crate::rng::SipRng;

/// Builds `SIP/2.0 400 <reason>` for a request that [`parse`](super::parse) refused; see
/// [`error_response`].
pub fn bad_request(datagram: &[u8], reason: &str) -> Option<Vec<u8>> {
    error_response(datagram, 400, reason)
}

/// Builds an error response textually from whatever a malformed *request* still offers
/// (RFC 3261 §8.2.6.2): every Via value in order, From, To (with a To tag added if it has
/// none), Call-ID and CSeq copied as received (unfolded, compact names expanded), and
/// `Content-Length: 0`. `reason` is reduced to at most 100 printable ASCII characters (the
/// standard phrase of `status` if nothing remains).
///
/// `None` when there is nothing to answer: the input is a response, an ACK (never answered,
/// RFC 3261 §17.2.1), not SIP at all, has no Via to route the response by, or `status` is not
/// 300..=699.
///
/// The To tag comes from the operating system's entropy; a core that owns a generator uses
/// [`error_response_with_rng`].
pub fn error_response(datagram: &[u8], status: u16, reason: &str) -> Option<Vec<u8>> {
    error_response_with_rng(datagram, status, reason, &mut SipRng::from_entropy())
}

/// [`error_response`] with the To tag, when one is added, drawn from `rng`.
pub fn error_response_with_rng(
    datagram: &[u8],
    status: u16,
    reason: &str,
    rng: &mut SipRng,
) -> Option<Vec<u8>> {
    if !(300..=699).contains(&status) {
        return None;
    }
    let raw = split(datagram, Mode::Lenient).ok()?;
    let start = String::from_utf8_lossy(raw.start_line);
    let mut words = start.split_whitespace();
    let method = words.next()?;
    if starts_with_ci(method, "SIP/") {
        return None;
    }
    let version = words.last()?;
    if !starts_with_ci(version, "SIP/") || method == "ACK" {
        return None;
    }

    let mut vias = Vec::new();
    let (mut from, mut to, mut call_id, mut cseq) = (None, None, None, None);
    for header in &raw.headers {
        let value = sanitize_header_text(&header.value);
        if value.is_empty() {
            continue;
        }
        match names::canonical(&header.name) {
            Some("Via") => vias.push(value),
            Some("From") => {
                from.get_or_insert(value);
            }
            Some("To") => {
                to.get_or_insert(value);
            }
            Some("Call-ID") => {
                call_id.get_or_insert(value);
            }
            Some("CSeq") => {
                cseq.get_or_insert(value);
            }
            _ => {}
        }
    }
    if vias.is_empty() {
        return None;
    }

    let mut reason = ascii_phrase(reason, 100);
    if reason.is_empty() {
        reason = reason_phrase(status).to_owned();
    }
    let mut out = format!("SIP/2.0 {status} {reason}\r\n");
    for via in &vias {
        out.push_str(&format!("Via: {via}\r\n"));
    }
    if let Some(from) = from {
        out.push_str(&format!("From: {from}\r\n"));
    }
    if let Some(mut to) = to {
        // RFC 3261 §8.2.6.2: add a To tag if the request had none. A To whose quotes do not
        // balance is copied as is (a tag appended there would land inside the quotes).
        let has_tag = header_param(&to, "tag").is_some()
            || to
                .to_ascii_lowercase()
                .replace([' ', '\t'], "")
                .contains(";tag=");
        if split_list(&to).is_ok() && !has_tag {
            to.push_str(&format!(";tag={:016x}", rng.next_u64()));
        }
        out.push_str(&format!("To: {to}\r\n"));
    }
    if let Some(call_id) = call_id {
        out.push_str(&format!("Call-ID: {call_id}\r\n"));
    }
    if let Some(cseq) = cseq {
        out.push_str(&format!("CSeq: {cseq}\r\n"));
    }
    out.push_str("Content-Length: 0\r\n\r\n");
    Some(out.into_bytes())
}
