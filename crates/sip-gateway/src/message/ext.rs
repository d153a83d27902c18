//! Accessors the transaction, dialog and transport layers need, and serialisation.

use rsip::Header;
use rsip::message::HasHeaders;
use rsip::prelude::UntypedHeader;

use super::names::known_method;
use super::syntax::header_param;
use super::via::{self, ViaHop};

/// The accessors other layers need on `rsip::Request`, `rsip::Response` and
/// `rsip::SipMessage`. They read header values leniently (our own parsers, not `rsip`'s typed
/// headers), so they also work on IPv6 sent-by and on messages built in code.
pub trait SipMessageExt: HasHeaders {
    /// The top Via value (first value of the first Via header; RFC 3261 §8.1.1.7).
    fn top_via(&self) -> Option<ViaHop> {
        via::top_hop(self.headers())
    }

    /// Every Via value, top first (values that do not parse are skipped).
    fn via_hops(&self) -> Vec<ViaHop> {
        via::hops(self.headers())
    }

    /// The top Via's `branch` (the transaction id, RFC 3261 §17.1.3, §17.2.3).
    fn via_branch(&self) -> Option<String> {
        self.top_via()?.branch().map(str::to_owned)
    }

    /// The Call-ID value (RFC 3261 §8.1.1.4).
    fn call_id(&self) -> Option<&str> {
        self.headers().iter().find_map(|h| match h {
            Header::CallId(call_id) => Some(call_id.value().trim()),
            _ => None,
        })
    }

    /// CSeq number and method (RFC 3261 §8.1.1.5).
    fn cseq(&self) -> Option<rsip::typed::CSeq> {
        let value = self.headers().iter().find_map(|h| match h {
            Header::CSeq(cseq) => Some(cseq.value()),
            _ => None,
        })?;
        let mut parts = value.split_whitespace();
        let seq = parts.next()?.parse().ok()?;
        let method = known_method(parts.next()?)?;
        parts
            .next()
            .is_none()
            .then_some(rsip::typed::CSeq { seq, method })
    }

    /// The From tag (RFC 3261 §8.1.1.3); absent in RFC 2543 requests.
    #[allow(clippy::wrong_self_convention)] // "from" is the header, not a conversion.
    fn from_tag(&self) -> Option<String> {
        let value = self.headers().iter().find_map(|h| match h {
            Header::From(from) => Some(from.value()),
            _ => None,
        })?;
        header_param(value, "tag").flatten()
    }

    /// The To tag (RFC 3261 §8.1.1.2); absent outside a dialog.
    fn to_tag(&self) -> Option<String> {
        let value = self.headers().iter().find_map(|h| match h {
            Header::To(to) => Some(to.value()),
            _ => None,
        })?;
        header_param(value, "tag").flatten()
    }

    /// Max-Forwards (RFC 3261 §8.1.1.6), if present and valid.
    fn max_forwards(&self) -> Option<u8> {
        self.headers().iter().find_map(|h| match h {
            Header::MaxForwards(mf) => mf.value().trim().parse().ok(),
            _ => None,
        })
    }
}

impl<T: HasHeaders + ?Sized> SipMessageExt for T {}

/// Serialises a message for the wire (RFC 3261 §7): CRLF line ends, the body copied byte for
/// byte, and a Content-Length that always equals the body length (replaced in place, or added
/// last if missing, RFC 3261 §20.14). Unlike `rsip`'s `to_string()` this does not pass the body
/// through UTF-8 (which corrupts binary bodies), and it writes the standard Reason-Phrase
/// (`486 Busy Here`; `rsip` prints `486 BusyHere` and drops the received phrase of known
/// codes). Any CR or LF inside a header value is replaced by a space (no header injection).
pub fn serialize(msg: &rsip::SipMessage) -> Vec<u8> {
    let (start_line, headers, body) = match msg {
        rsip::SipMessage::Request(request) => (
            format!("{} {} SIP/2.0", request.method, request.uri),
            &request.headers,
            &request.body,
        ),
        rsip::SipMessage::Response(response) => {
            let code = response.status_code.code();
            let reason = match &response.status_code {
                rsip::StatusCode::Other(_, reason) => reason.clone(),
                _ => reason_phrase(code).to_owned(),
            };
            (
                format!("SIP/2.0 {code} {reason}"),
                &response.headers,
                &response.body,
            )
        }
    };
    let mut out = Vec::with_capacity(512 + body.len());
    push_line(&mut out, &start_line);
    let mut wrote_length = false;
    for header in headers.iter() {
        if let Header::ContentLength(_) = header {
            if !wrote_length {
                push_line(&mut out, &format!("Content-Length: {}", body.len()));
                wrote_length = true;
            }
            continue;
        }
        push_line(&mut out, &header.to_string());
    }
    if !wrote_length {
        push_line(&mut out, &format!("Content-Length: {}", body.len()));
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}

fn push_line(out: &mut Vec<u8>, line: &str) {
    out.extend(
        line.bytes()
            .map(|b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
    );
    out.extend_from_slice(b"\r\n");
}

/// The Reason-Phrase registered for a status code (RFC 3261 §21 and later RFCs), or a generic
/// one for its class.
pub fn reason_phrase(code: u16) -> &'static str {
    registered_phrase(code).unwrap_or(match code {
        100..=199 => "Provisional",
        200..=299 => "Success",
        300..=399 => "Redirection",
        400..=499 => "Request Failure",
        500..=599 => "Server Failure",
        _ => "Global Failure",
    })
}

fn registered_phrase(code: u16) -> Option<&'static str> {
    Some(match code {
        100 => "Trying",
        180 => "Ringing",
        181 => "Call Is Being Forwarded",
        182 => "Queued",
        183 => "Session Progress",
        199 => "Early Dialog Terminated",
        200 => "OK",
        202 => "Accepted",
        204 => "No Notification",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Moved Temporarily",
        305 => "Use Proxy",
        380 => "Alternative Service",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        410 => "Gone",
        412 => "Conditional Request Failed",
        413 => "Request Entity Too Large",
        414 => "Request-URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Unsupported URI Scheme",
        417 => "Unknown Resource-Priority",
        420 => "Bad Extension",
        421 => "Extension Required",
        422 => "Session Interval Too Small",
        423 => "Interval Too Brief",
        428 => "Use Identity Header",
        429 => "Provide Referrer Identity",
        433 => "Anonymity Disallowed",
        436 => "Bad Identity-Info",
        437 => "Unsupported Certificate",
        438 => "Invalid Identity Header",
        439 => "First Hop Lacks Outbound Support",
        440 => "Max-Breadth Exceeded",
        469 => "Bad Info Package",
        470 => "Consent Needed",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        482 => "Loop Detected",
        483 => "Too Many Hops",
        484 => "Address Incomplete",
        485 => "Ambiguous",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        489 => "Bad Event",
        491 => "Request Pending",
        493 => "Undecipherable",
        494 => "Security Agreement Required",
        500 => "Server Internal Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Server Time-out",
        505 => "Version Not Supported",
        513 => "Message Too Large",
        580 => "Precondition Failure",
        600 => "Busy Everywhere",
        603 => "Decline",
        604 => "Does Not Exist Anywhere",
        606 => "Not Acceptable",
        607 => "Unwanted",
        _ => return None,
    })
}
