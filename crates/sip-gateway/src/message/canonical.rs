//! Rewrites a received message into the canonical form `rsip` reads: CRLF lines, single-line
//! headers with full names, one value per Via/Contact/Route/Record-Route header, canonical
//! whitespace in the headers we rely on, and a Content-Length that matches the body. Validates
//! the RFC 3261 §8.1.1 mandatory headers on the way.

use super::error::ParseError;
use super::lines::{Mode, split};
use super::names::{self, known_method};
use super::syntax::{
    excerpt, has_scheme, has_top_level_comma, is_token, normalize_name_addr, parse_name_addr,
    split_list, starts_with_ci,
};
use super::via::ViaHop;

/// The first line, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StartLine {
    Request { method: String, uri: String },
    Response { code: u16, reason: String },
}

/// Parses the Request-Line (RFC 3261 §7.1, §25.1) or Status-Line (§7.2).
pub(crate) fn parse_start_line(line: &[u8]) -> Result<StartLine, ParseError> {
    let text = String::from_utf8_lossy(line);
    if starts_with_ci(&text, "SIP/") {
        return parse_status_line(&text);
    }
    let looks_like_sip = text.to_ascii_uppercase().contains("SIP/");
    let parts: Vec<&str> = text.split(' ').collect();
    let [method, uri, version] = parts[..] else {
        return Err(if looks_like_sip {
            ParseError::MalformedRequestLine(excerpt(&text))
        } else {
            ParseError::NotSip(excerpt(&text))
        });
    };
    if !starts_with_ci(version, "SIP/") {
        return Err(if looks_like_sip {
            ParseError::MalformedRequestLine(excerpt(&text))
        } else {
            ParseError::NotSip(excerpt(&text))
        });
    }
    if !version.eq_ignore_ascii_case("SIP/2.0") {
        return Err(ParseError::UnsupportedVersion(excerpt(version)));
    }
    if !is_token(method) {
        return Err(ParseError::MalformedRequestLine(excerpt(&text)));
    }
    check_request_uri(uri)?;
    Ok(StartLine::Request {
        method: method.to_owned(),
        uri: uri.to_owned(),
    })
}

fn parse_status_line(text: &str) -> Result<StartLine, ParseError> {
    let malformed = || ParseError::MalformedStatusLine(excerpt(text));
    let (version, rest) = text.split_once(' ').ok_or_else(malformed)?;
    if !version.eq_ignore_ascii_case("SIP/2.0") {
        return Err(ParseError::UnsupportedVersion(excerpt(version)));
    }
    // Some peers omit the SP before an empty Reason-Phrase: accept "SIP/2.0 200".
    let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
    if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed());
    }
    let code: u16 = code.parse().map_err(|_| malformed())?;
    if !(100..=699).contains(&code) {
        return Err(malformed());
    }
    if reason.chars().any(|c| c.is_control() && c != '\t') {
        return Err(malformed());
    }
    Ok(StartLine::Response {
        code,
        reason: reason.to_owned(),
    })
}

/// The Request-URI must be an absolute URI without whitespace, brackets or non-ASCII
/// (RFC 4475 §3.1.2.7, §3.1.2.8), and a SIP URI must not carry headers (RFC 3261 §19.1.1 table,
/// RFC 4475 §3.1.2.11).
fn check_request_uri(uri: &str) -> Result<(), ParseError> {
    let malformed =
        |why: &str| ParseError::MalformedRequestUri(format!("{why}: '{}'", excerpt(uri)));
    if !uri.bytes().all(|b| b.is_ascii_graphic()) || uri.contains(['<', '>', '"']) {
        return Err(malformed("invalid characters"));
    }
    if !has_scheme(uri) {
        return Err(malformed("no scheme"));
    }
    let scheme = uri.split(':').next().unwrap_or_default();
    if scheme.eq_ignore_ascii_case("sip") || scheme.eq_ignore_ascii_case("sips") {
        let hostport = uri.rsplit('@').next().unwrap_or(uri);
        if hostport.contains('?') {
            return Err(malformed("headers in Request-URI"));
        }
    }
    Ok(())
}

/// Counts of the headers that RFC 3261 §8.1.1 requires or allows once.
#[derive(Default)]
struct Seen {
    via: usize,
    from: bool,
    to: bool,
    call_id: bool,
    cseq: Option<(u32, String)>,
    max_forwards: bool,
    content_length: Option<(usize, usize)>,
}

fn once(flag: &mut bool, name: &'static str) -> Result<(), ParseError> {
    if std::mem::replace(flag, true) {
        return Err(ParseError::DuplicateHeader(name));
    }
    Ok(())
}

fn malformed(name: &'static str, detail: impl Into<String>) -> ParseError {
    ParseError::MalformedHeader {
        name,
        detail: detail.into(),
    }
}

/// A name-addr header value (From, To, Contact, Route, Record-Route) in canonical form.
fn name_addr(name: &'static str, value: &str) -> Result<String, ParseError> {
    let normalized = normalize_name_addr(value)
        .map_err(|why| malformed(name, format!("{why}: '{}'", excerpt(value))))?;
    parse_name_addr(&normalized)
        .map_err(|why| malformed(name, format!("{why}: '{}'", excerpt(value))))?;
    Ok(normalized)
}

fn list_elements<'v>(name: &'static str, value: &'v str) -> Result<Vec<&'v str>, ParseError> {
    let elements =
        split_list(value).map_err(|why| malformed(name, format!("{why}: '{}'", excerpt(value))))?;
    if elements.iter().any(|e| e.is_empty()) {
        return Err(malformed(
            name,
            format!("empty list element in '{}'", excerpt(value)),
        ));
    }
    Ok(elements)
}

fn digits<T: std::str::FromStr>(name: &'static str, value: &str) -> Result<T, ParseError> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed(
            name,
            format!("'{}' is not a number", excerpt(value)),
        ));
    }
    value
        .parse()
        .map_err(|_| malformed(name, format!("'{}' is out of range", excerpt(value))))
}

/// Rewrites `data` into canonical bytes for `rsip` (see the module doc).
pub(crate) fn canonicalize(data: &[u8]) -> Result<Vec<u8>, ParseError> {
    let raw = split(data, Mode::Strict)?;
    let start = parse_start_line(raw.start_line)?;
    let mut seen = Seen::default();
    let mut headers: Vec<(String, String)> = Vec::with_capacity(raw.headers.len() + 1);

    for header in raw.headers {
        let canonical = names::canonical(&header.name);
        let value = header.value;
        match canonical {
            Some(name @ "Via") => {
                for element in list_elements(name, &value)? {
                    headers.push((name.into(), ViaHop::parse(element)?.to_string()));
                    seen.via += 1;
                }
            }
            Some(name @ ("Contact" | "Route" | "Record-Route")) => {
                for element in list_elements(name, &value)? {
                    let element = if name == "Contact" && element == "*" {
                        element.to_owned()
                    } else {
                        name_addr(name, element)?
                    };
                    headers.push((name.into(), element));
                }
            }
            Some(name @ ("From" | "To")) => {
                once(
                    if name == "From" {
                        &mut seen.from
                    } else {
                        &mut seen.to
                    },
                    name,
                )?;
                if has_top_level_comma(&value) {
                    return Err(malformed(
                        name,
                        format!("more than one value in '{}'", excerpt(&value)),
                    ));
                }
                headers.push((name.into(), name_addr(name, &value)?));
            }
            Some(name @ "Call-ID") => {
                once(&mut seen.call_id, name)?;
                if value.is_empty() || !value.bytes().all(|b| b.is_ascii_graphic()) {
                    return Err(malformed(name, format!("'{}'", excerpt(&value))));
                }
                headers.push((name.into(), value));
            }
            Some(name @ "CSeq") => {
                if seen.cseq.is_some() {
                    return Err(ParseError::DuplicateHeader(name));
                }
                let parts: Vec<&str> = value.split_whitespace().collect();
                let [number, method] = parts[..] else {
                    return Err(malformed(name, format!("'{}'", excerpt(&value))));
                };
                let number: u32 = digits(name, number)?;
                if !is_token(method) {
                    return Err(malformed(
                        name,
                        format!("bad method in '{}'", excerpt(&value)),
                    ));
                }
                headers.push((name.into(), format!("{number} {method}")));
                seen.cseq = Some((number, method.to_owned()));
            }
            Some(name @ "Max-Forwards") => {
                once(&mut seen.max_forwards, name)?;
                let hops: u32 = digits(name, &value)?;
                if hops > 255 {
                    return Err(malformed(name, format!("{hops} exceeds 255")));
                }
                headers.push((name.into(), hops.to_string()));
            }
            Some(name @ "Content-Length") => {
                if seen.content_length.is_some() {
                    return Err(ParseError::DuplicateHeader(name));
                }
                let length: usize = digits(name, &value)?;
                seen.content_length = Some((length, headers.len()));
                headers.push((name.into(), String::new()));
            }
            Some(name @ "Date") => {
                // RFC 3261 §20.17: rfc1123-date, always GMT (RFC 4475 §3.1.2.12).
                if !value.ends_with(" GMT") {
                    return Err(malformed(
                        name,
                        format!("'{}' is not in GMT", excerpt(&value)),
                    ));
                }
                headers.push((name.into(), value));
            }
            Some(name) => headers.push((name.into(), value)),
            None => headers.push((header.name, value)),
        }
    }

    if seen.via == 0 {
        return Err(ParseError::MissingHeader("Via"));
    }
    if !seen.from {
        return Err(ParseError::MissingHeader("From"));
    }
    if !seen.to {
        return Err(ParseError::MissingHeader("To"));
    }
    if !seen.call_id {
        return Err(ParseError::MissingHeader("Call-ID"));
    }
    let Some((_, cseq_method)) = &seen.cseq else {
        return Err(ParseError::MissingHeader("CSeq"));
    };

    let body = match seen.content_length {
        Some((length, _)) if length > raw.body.len() => {
            return Err(ParseError::BodyTooShort {
                content_length: length,
                body: raw.body.len(),
            });
        }
        // RFC 3261 §18.3: octets beyond Content-Length in a datagram are discarded
        // (RFC 4475 §3.1.1.8).
        Some((length, _)) => &raw.body[..length],
        // Datagram without Content-Length: the body runs to the end.
        None => raw.body,
    };
    match seen.content_length {
        Some((_, index)) => headers[index].1 = body.len().to_string(),
        None => headers.push(("Content-Length".into(), body.len().to_string())),
    }

    let mut out = Vec::with_capacity(data.len() + 64);
    match &start {
        StartLine::Request { method, uri } => {
            if method != cseq_method {
                return Err(ParseError::CSeqMethodMismatch {
                    method: excerpt(method),
                    cseq: excerpt(cseq_method),
                });
            }
            if known_method(method).is_none() {
                return Err(ParseError::UnknownMethod(excerpt(method)));
            }
            // `rsip` 0.4 reads SIP and SIPS URIs only (a `tel:` URI fails in it): RFC 3261
            // §8.2.2.1 says 416 for schemes we do not handle.
            let scheme = uri.split(':').next().unwrap_or_default();
            if !["sip", "sips"]
                .iter()
                .any(|s| s.eq_ignore_ascii_case(scheme))
            {
                return Err(ParseError::UnsupportedUriScheme(excerpt(scheme)));
            }
            out.extend_from_slice(format!("{method} {uri} SIP/2.0\r\n").as_bytes());
        }
        StartLine::Response { code, reason } => {
            out.extend_from_slice(format!("SIP/2.0 {code} {reason}\r\n").as_bytes());
        }
    }
    for (name, value) in &headers {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    Ok(out)
}
