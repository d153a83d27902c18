//! Building responses and in-dialog requests (RFC 3261 §8.2.6, §12.2.1.1).

use rsip::headers::UntypedHeader;
use rsip::{Header, Headers};

use crate::rng::SipRng;

/// A status code carrying our reason phrase.
/// (rsip would otherwise write its variant names, e.g. "RequestTerminated", as the phrase.)
pub fn status(code: u16) -> rsip::StatusCode {
    rsip::StatusCode::Other(code, crate::message::reason_phrase(code).to_string())
}

/// The methods we accept, for `Allow` headers (RFC 3261 §20.5).
pub const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, REFER";

/// [`ALLOW`] when the registrar is on.
pub const ALLOW_WITH_REGISTER: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, REFER, REGISTER";

/// A response to `request` per RFC 3261 §8.2.6.2: Via (all, in order), From, Call-ID, CSeq
/// copied; To copied with `to_tag` added when it has none and the response is not a 100.
pub fn response(
    request: &rsip::Request,
    code: u16,
    to_tag: Option<&str>,
    server: &str,
) -> rsip::Response {
    let mut resp = crate::transaction::response_to(request, status(code));
    if let Some(tag) = to_tag.filter(|_| code != 100) {
        for header in resp.headers.iter_mut() {
            if let Header::To(to) = header
                && !has_tag(to.value())
            {
                *header = rsip::headers::To::new(format!("{};tag={tag}", to.value())).into();
            }
        }
    }
    resp.headers.push(rsip::headers::Server::new(server).into());
    resp
}

/// Sets the body and its Content-Type/Content-Length headers.
pub fn set_body(headers: &mut Headers, body: &[u8], content_type: Option<&str>) {
    headers.retain(|h| !matches!(h, Header::ContentLength(_) | Header::ContentType(_)));
    if let Some(ct) = content_type {
        headers.push(rsip::headers::ContentType::new(ct).into());
    }
    headers.push(rsip::headers::ContentLength::new(body.len().to_string()).into());
}

/// Whether a From/To header value carries a `tag` parameter (outside its `<uri>`).
pub fn has_tag(value: &str) -> bool {
    tag_of(value).is_some()
}

/// The `tag` parameter of a From/To header value, looking only at header parameters (after
/// the closing `>` when there is one), case-insensitively (RFC 3261 §7.3.1).
pub fn tag_of(value: &str) -> Option<&str> {
    let params = match value.rfind('>') {
        Some(i) => &value[i + 1..],
        None => value.split_once(';').map(|(_, p)| p).unwrap_or(""),
    };
    params
        .split(';')
        .filter_map(|p| p.trim().split_once('='))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("tag"))
        .map(|(_, v)| v.trim())
}

/// A random token for tags and Call-IDs (RFC 3261 §19.3: at least 32 bits of randomness; this
/// is 64, in 16 hex digits), drawn from the core's generator.
pub fn random_token(rng: &mut SipRng) -> String {
    format!("{:016x}", rng.next_u64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_is_read_after_the_uri_only() {
        assert_eq!(tag_of("<sip:a@b;tag=no>;tag=yes"), Some("yes"));
        assert_eq!(tag_of("<sip:a@b;tag=no>"), None);
        assert_eq!(tag_of("sip:a@b;TAG=x"), Some("x"));
        assert_eq!(tag_of("\"A;tag\" <sip:a@b>;foo=1"), None);
    }

    #[test]
    fn response_copies_dialog_headers_and_adds_to_tag() {
        let raw = "INVITE sip:800100200@127.0.0.1 SIP/2.0\r\n\
            Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK1\r\n\
            Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK0\r\n\
            From: <sip:a@127.0.0.1>;tag=abc\r\n\
            To: <sip:800100200@127.0.0.1>\r\n\
            Call-ID: x@y\r\n\
            CSeq: 1 INVITE\r\n\
            Max-Forwards: 70\r\n\
            Content-Length: 0\r\n\r\n";
        let request = rsip::Request::try_from(raw.as_bytes()).unwrap();
        let response = response(&request, 180, Some("tt"), "centralino");
        let text = response.to_string();
        assert!(text.starts_with("SIP/2.0 180 Ringing\r\n"), "{text}");
        let via_lines: Vec<_> = text.lines().filter(|l| l.starts_with("Via")).collect();
        assert_eq!(via_lines.len(), 2);
        assert!(via_lines[0].contains("z9hG4bK1"));
        assert!(
            text.contains("To: <sip:800100200@127.0.0.1>;tag=tt"),
            "{text}"
        );
        let trying = super::response(&request, 100, Some("tt"), "centralino").to_string();
        assert!(!trying.contains("tag=tt"));
    }
}
