//! Matching keys (RFC 3261 §17.1.3, §17.2.3, §9.2, RFC 6026 §8.9) and the two messages the layer
//! writes itself: `100 Trying` (RFC 3261 §8.2.6) and the ACK for a non-2xx final (§17.1.1.3).

use std::mem::Discriminant;

use rsip::headers::{self, Header, UntypedHeader};

use crate::message::ViaHop;
use rsip::prelude::ToTypedHeader;
use rsip::{Method, Request, Response};

/// The magic cookie that marks an RFC 3261 branch (RFC 3261 §8.1.1.7).
pub(super) const MAGIC_COOKIE: &str = "z9hG4bK";

/// A method, hashable (`rsip::Method` is not).
pub(super) type MethodKey = Discriminant<Method>;

pub(super) fn method_key(method: Method) -> MethodKey {
    std::mem::discriminant(&method)
}

/// What finds a server transaction for an incoming request (RFC 3261 §17.2.3).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) enum ServerKey {
    /// The branch carries the magic cookie: branch, sent-by and method (ACK counts as INVITE).
    Rfc3261 {
        branch: String,
        sent_by: String,
        method: MethodKey,
    },
    /// RFC 2543 fallback: Request-URI, From tag, Call-ID, CSeq number, top Via and method. The
    /// To tag is left out so that the ACK (which carries the response's tag) matches its INVITE.
    Rfc2543 {
        request_uri: String,
        from_tag: String,
        call_id: String,
        cseq: u32,
        top_via: String,
        method: MethodKey,
    },
}

impl ServerKey {
    /// The same key for another method: CANCEL and ACK look up their INVITE this way
    /// (RFC 3261 §9.2, §17.2.3).
    pub(super) fn with_method(&self, m: Method) -> Self {
        let mut key = self.clone();
        match &mut key {
            Self::Rfc3261 { method, .. } | Self::Rfc2543 { method, .. } => *method = method_key(m),
        }
        key
    }
}

/// What finds a client transaction for an incoming response (RFC 3261 §17.1.3).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct ClientKey {
    pub(super) branch: String,
    pub(super) method: MethodKey,
}

/// What ties an ACK for a 2xx to the INVITE server transaction in Accepted that sent the 2xx:
/// the ACK has a branch of its own, so Call-ID, CSeq number and the 2xx's To tag (RFC 6026 §8.9,
/// RFC 3261 §13.3.1.4).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct AckKey {
    pub(super) call_id: String,
    pub(super) cseq: u32,
    pub(super) to_tag: String,
}

/// Why a message cannot be matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Unmatchable(pub(super) String);

/// The top Via value: the first header, and within it the first comma-separated value.
fn top_via_value(headers: &rsip::Headers) -> Option<&str> {
    headers.iter().find_map(|h| match h {
        Header::Via(via) => via.value().split(',').next().map(str::trim),
        _ => None,
    })
}

/// The top Via, read by the message facade's lenient parser (rsip's typed Via cannot read an
/// IPv6 sent-by).
pub(super) fn top_via(headers: &rsip::Headers) -> Result<ViaHop, Unmatchable> {
    let value = top_via_value(headers).ok_or_else(|| Unmatchable("no Via".into()))?;
    ViaHop::parse(value).map_err(|e| Unmatchable(format!("top Via {value:?}: {e}")))
}

fn branch_of(via: &ViaHop) -> Option<String> {
    via.branch().map(str::to_owned)
}

/// sent-by as compared by RFC 3261 §17.2.3: host (case-insensitive) and port as written.
fn sent_by(via: &ViaHop) -> String {
    let host = via.host.to_ascii_lowercase();
    match via.port {
        Some(port) => format!("{host}:{port}"),
        None => host,
    }
}

pub(super) fn cseq(headers: &rsip::Headers) -> Result<rsip::typed::CSeq, Unmatchable> {
    headers
        .iter()
        .find_map(|h| match h {
            Header::CSeq(c) => Some(c),
            _ => None,
        })
        .ok_or_else(|| Unmatchable("no CSeq".into()))?
        .typed()
        .map_err(|e| Unmatchable(format!("CSeq: {e}")))
}

pub(super) fn call_id(headers: &rsip::Headers) -> Result<String, Unmatchable> {
    headers
        .iter()
        .find_map(|h| match h {
            Header::CallId(c) => Some(c.value().trim().to_owned()),
            _ => None,
        })
        .ok_or_else(|| Unmatchable("no Call-ID".into()))
}

pub(super) fn to_tag(headers: &rsip::Headers) -> Option<String> {
    headers.iter().find_map(|h| match h {
        Header::To(to) => to.tag().ok().flatten().map(|t| t.to_string()),
        _ => None,
    })
}

fn from_tag(headers: &rsip::Headers) -> Option<String> {
    headers.iter().find_map(|h| match h {
        Header::From(from) => from.tag().ok().flatten().map(|t| t.to_string()),
        _ => None,
    })
}

/// The server key of an incoming request, with its own method.
pub(super) fn server_key(request: &Request) -> Result<ServerKey, Unmatchable> {
    let via = top_via(&request.headers)?;
    match branch_of(&via) {
        Some(branch) if branch.starts_with(MAGIC_COOKIE) => Ok(ServerKey::Rfc3261 {
            branch,
            sent_by: sent_by(&via),
            method: method_key(request.method),
        }),
        _ => Ok(ServerKey::Rfc2543 {
            request_uri: request.uri.to_string(),
            from_tag: from_tag(&request.headers).unwrap_or_default(),
            call_id: call_id(&request.headers)?,
            cseq: cseq(&request.headers)?.seq,
            top_via: top_via_value(&request.headers)
                .unwrap_or_default()
                .to_owned(),
            method: method_key(request.method),
        }),
    }
}

/// The client key of a request we send, or of a response we receive (its CSeq method).
pub(super) fn client_key(
    headers: &rsip::Headers,
    method: Method,
) -> Result<ClientKey, Unmatchable> {
    let via = top_via(headers)?;
    let branch = branch_of(&via).ok_or_else(|| Unmatchable("top Via has no branch".into()))?;
    Ok(ClientKey {
        branch,
        method: method_key(method),
    })
}

/// The [`AckKey`] of a 2xx to an INVITE, or of the ACK for it.
pub(super) fn ack_key(headers: &rsip::Headers) -> Result<AckKey, Unmatchable> {
    Ok(AckKey {
        call_id: call_id(headers)?,
        cseq: cseq(headers)?.seq,
        to_tag: to_tag(headers).unwrap_or_default(),
    })
}

/// Whether a response copies this header of its request (RFC 3261 §8.2.6.2: Via, From, To,
/// Call-ID, CSeq; Timestamp per §8.2.6.1).
pub fn copied_into_responses(header: &Header) -> bool {
    matches!(
        header,
        Header::Via(_)
            | Header::From(_)
            | Header::To(_)
            | Header::CallId(_)
            | Header::CSeq(_)
            | Header::Timestamp(_)
    )
}

/// A response to `request` with the headers RFC 3261 §8.2.6.2 copies: every Via in order,
/// From, To, Call-ID, CSeq, and Timestamp (§8.2.6.1); an empty body.
pub fn response_to(request: &Request, status: rsip::StatusCode) -> Response {
    let mut headers: Vec<Header> = request
        .headers
        .iter()
        .filter(|h| copied_into_responses(h))
        .cloned()
        .collect();
    headers.push(headers::ContentLength::from(0u32).into());
    Response {
        status_code: status,
        version: request.version.clone(),
        headers: headers.into(),
        body: Vec::new(),
    }
}

/// The ACK for a non-2xx final response to `invite` (RFC 3261 §17.1.1.3): same Request-URI,
/// Call-ID, From and CSeq number as the INVITE; the To of the response; one Via, the INVITE's
/// top Via; the INVITE's Route headers; no body.
pub(super) fn ack_for(invite: &Request, response: &Response) -> Request {
    let mut headers: Vec<Header> = Vec::with_capacity(8);
    if let Some(via) = top_via_value(&invite.headers) {
        headers.push(headers::Via::new(via).into());
    }
    headers.extend(
        invite
            .headers
            .iter()
            .filter(|h| matches!(h, Header::Route(_)))
            .cloned(),
    );
    let max_forwards = invite
        .headers
        .iter()
        .find(|h| matches!(h, Header::MaxForwards(_)))
        .cloned()
        .unwrap_or_else(|| headers::MaxForwards::new("70").into());
    headers.push(max_forwards);
    for h in invite.headers.iter() {
        if matches!(h, Header::From(_) | Header::CallId(_)) {
            headers.push(h.clone());
        }
    }
    if let Some(to) = response.headers.iter().find(|h| matches!(h, Header::To(_))) {
        headers.push(to.clone());
    }
    let seq = cseq(&invite.headers).map(|c| c.seq).unwrap_or_default();
    headers.push(headers::CSeq::new(format!("{seq} ACK")).into());
    headers.push(headers::ContentLength::from(0u32).into());
    Request {
        method: Method::Ack,
        uri: invite.uri.clone(),
        version: invite.version.clone(),
        headers: headers.into(),
        body: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Request {
        Request::try_from(s.replace('\n', "\r\n").as_str()).expect("valid request")
    }

    const INVITE: &str = "INVITE sip:bob@b.example SIP/2.0
Via: SIP/2.0/UDP a.example:5060;branch=z9hG4bKabc, SIP/2.0/UDP p.example;branch=z9hG4bKp
Via: SIP/2.0/UDP q.example;branch=z9hG4bKq
Route: <sip:p1.example;lr>
Max-Forwards: 69
From: <sip:alice@a.example>;tag=f1
To: <sip:bob@b.example>
Call-ID: c1@a.example
CSeq: 7 INVITE
Content-Length: 0

";

    #[test]
    fn server_keys_follow_rfc3261_17_2_3() {
        let invite = parse(INVITE);
        let key = server_key(&invite).expect("matchable");
        assert_eq!(
            key,
            ServerKey::Rfc3261 {
                branch: "z9hG4bKabc".into(),
                sent_by: "a.example:5060".into(),
                method: method_key(Method::Invite),
            }
        );
        let mut ack = invite.clone();
        ack.method = Method::Ack;
        assert_eq!(
            server_key(&ack)
                .expect("matchable")
                .with_method(Method::Invite),
            key
        );
    }

    #[test]
    fn rfc2543_key_without_magic_cookie_ignores_the_to_tag() {
        let old = parse(&INVITE.replace("z9hG4bKabc", "1234"));
        let key = server_key(&old).expect("matchable");
        assert!(matches!(key, ServerKey::Rfc2543 { cseq: 7, .. }));
        let mut ack = old.clone();
        ack.method = Method::Ack;
        for h in ack.headers.iter_mut() {
            if let Header::To(to) = h {
                *to = headers::To::new("<sip:bob@b.example>;tag=t9");
            }
        }
        assert_eq!(
            server_key(&ack).expect("ok").with_method(Method::Invite),
            key
        );
    }

    #[test]
    fn ack_for_non_2xx_copies_what_17_1_1_3_requires() {
        let invite = parse(INVITE);
        let mut response = response_to(&invite, rsip::StatusCode::BusyHere);
        for h in response.headers.iter_mut() {
            if let Header::To(to) = h {
                *to = headers::To::new("<sip:bob@b.example>;tag=t9");
            }
        }
        let ack = ack_for(&invite, &response);
        let text = ack.to_string();
        let reparsed = Request::try_from(text.as_str()).expect("the ACK parses");
        assert_eq!(reparsed.method, Method::Ack);
        assert_eq!(reparsed.uri, invite.uri);
        let vias: Vec<_> = reparsed
            .headers
            .iter()
            .filter(|h| matches!(h, Header::Via(_)))
            .collect();
        assert_eq!(vias.len(), 1, "one Via: {text}");
        assert_eq!(
            top_via(&reparsed.headers)
                .expect("via")
                .branch()
                .map(ToString::to_string),
            Some("z9hG4bKabc".to_owned())
        );
        assert!(text.contains("Route: <sip:p1.example;lr>"), "{text}");
        assert!(text.contains("Max-Forwards: 69"), "{text}");
        assert_eq!(to_tag(&reparsed.headers).as_deref(), Some("t9"));
        assert_eq!(cseq(&reparsed.headers).expect("cseq").to_string(), "7 ACK");
        assert_eq!(call_id(&reparsed.headers).expect("call-id"), "c1@a.example");
    }

    #[test]
    fn response_copies_all_vias_in_order() {
        let invite = parse(INVITE);
        let trying = response_to(&invite, rsip::StatusCode::Trying);
        let text = trying.to_string();
        let reparsed = Response::try_from(text.as_str()).expect("parses");
        let vias: Vec<String> = reparsed
            .headers
            .iter()
            .filter_map(|h| match h {
                Header::Via(v) => Some(v.value().to_owned()),
                _ => None,
            })
            .collect();
        assert_eq!(vias.len(), 2, "{text}");
        assert!(vias[0].contains("z9hG4bKabc") && vias[1].contains("z9hG4bKq"));
        assert!(!text.contains("Route"), "{text}");
        assert_eq!(to_tag(&reparsed.headers), None);
    }

    #[test]
    fn missing_headers_are_unmatchable() {
        let no_via = parse(
            "OPTIONS sip:b.example SIP/2.0\nCall-ID: x\nCSeq: 1 OPTIONS\nContent-Length: 0\n\n",
        );
        assert!(server_key(&no_via).is_err());
        assert!(client_key(&no_via.headers, Method::Options).is_err());
        assert!(ack_key(&no_via.headers).is_ok());
    }

    #[test]
    fn an_ipv6_sent_by_still_keys_the_transaction() {
        let raw = "OPTIONS sip:x@example.org SIP/2.0\r\n\
            Via: SIP/2.0/UDP [2001:DB8::1]:5070;branch=z9hG4bKv6\r\n\
            From: <sip:a@example.org>;tag=1\r\nTo: <sip:x@example.org>\r\n\
            Call-ID: v6@test\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
        let request = Request::try_from(raw.as_bytes()).expect("rsip reads it");
        match server_key(&request).expect("keyed") {
            ServerKey::Rfc3261 {
                branch, sent_by, ..
            } => {
                assert_eq!(branch, "z9hG4bKv6");
                assert_eq!(sent_by, "2001:db8::1:5070");
            }
            other => panic!("expected an RFC 3261 key, got {other:?}"),
        }
    }
}
