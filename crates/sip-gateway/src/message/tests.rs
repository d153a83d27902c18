//! Tests of the message facade: normalisation, RFC 4475 torture messages, error responses,
//! helpers, serialisation, stream framing, and properties (no input panics).

use rsip::Header;
use rsip::prelude::*;

use super::*;

mod framing;
mod props;
mod rfc4475;
mod via;

use via::response_with_via;

/// A valid INVITE with CRLF line ends and the given extra header lines.
pub(super) fn invite(extra: &str, body: &str) -> Vec<u8> {
    format!(
        "INVITE sip:bob@192.0.2.10 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 198.51.100.7:5062;branch=z9hG4bK776asdhds;rport\r\n\
         Max-Forwards: 70\r\n\
         To: Bob <sip:bob@example.com>\r\n\
         From: \"Alice\" <sip:alice@example.com>;tag=1928301774\r\n\
         Call-ID: a84b4c76e66710@pc33.example.com\r\n\
         CSeq: 314159 INVITE\r\n\
         Contact: <sip:alice@198.51.100.7:5062>\r\n\
         {extra}\
         Content-Type: application/sdp\r\n\
         Content-Length: {}\r\n\
         \r\n\
         {body}",
        body.len()
    )
    .into_bytes()
}

pub(super) fn request(data: &[u8]) -> rsip::Request {
    match parse(data) {
        Ok(rsip::SipMessage::Request(request)) => request,
        other => panic!("expected a request, got {other:?}"),
    }
}

pub(super) fn values(msg: &impl HasHeaders, name: &str) -> Vec<String> {
    msg.headers()
        .iter()
        .filter_map(|h| {
            let line = h.to_string();
            let (n, v) = line.split_once(": ")?;
            n.eq_ignore_ascii_case(name).then(|| v.to_owned())
        })
        .collect()
}

#[test]
fn plain_invite_parses_and_helpers_read_it() {
    let req = request(&invite("", "v=0\r\n"));
    assert_eq!(req.method, rsip::Method::Invite);
    assert_eq!(req.body, b"v=0\r\n");
    let hop = req.top_via().unwrap();
    assert_eq!(hop.host, "198.51.100.7");
    assert_eq!(hop.port, Some(5062));
    assert_eq!(hop.rport(), Some(None));
    assert_eq!(req.via_branch().as_deref(), Some("z9hG4bK776asdhds"));
    assert_eq!(req.call_id(), Some("a84b4c76e66710@pc33.example.com"));
    let cseq = req.cseq().unwrap();
    assert_eq!((cseq.seq, cseq.method), (314159, rsip::Method::Invite));
    assert_eq!(req.from_tag().as_deref(), Some("1928301774"));
    assert_eq!(req.to_tag(), None);
    assert_eq!(req.max_forwards(), Some(70));
    // rsip's own typed headers read the canonical form.
    assert_eq!(
        req.via_header()
            .unwrap()
            .typed()
            .unwrap()
            .branch()
            .unwrap()
            .to_string(),
        "z9hG4bK776asdhds"
    );
    assert_eq!(req.cseq_header().unwrap().typed().unwrap().seq, 314159);
    assert_eq!(
        req.from_header()
            .unwrap()
            .tag()
            .unwrap()
            .unwrap()
            .to_string(),
        "1928301774"
    );
}

#[test]
fn every_compact_form_is_expanded() {
    let msg = "MESSAGE sip:bob@example.com SIP/2.0\r\n\
               v: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n\
               i: compact@192.0.2.1\r\n\
               f: <sip:alice@example.com>;tag=a\r\n\
               t: <sip:bob@example.com>\r\n\
               m: <sip:alice@192.0.2.1>\r\n\
               c: text/plain\r\n\
               k: timer\r\n\
               s: hello\r\n\
               e: gzip\r\n\
               o: presence\r\n\
               r: <sip:carol@example.com>\r\n\
               b: <sip:alice@example.com>\r\n\
               x: 1800\r\n\
               u: talk\r\n\
               a: *;audio\r\n\
               j: *;video\r\n\
               d: proxy\r\n\
               y: abc\r\n\
               n: <https://example.com/cert>\r\n\
               CSeq: 1 MESSAGE\r\n\
               L: 2\r\n\
               \r\n\
               hi";
    let parsed = parse(msg.as_bytes()).unwrap();
    let expected = [
        ("Via", "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1"),
        ("Call-ID", "compact@192.0.2.1"),
        ("From", "<sip:alice@example.com>;tag=a"),
        ("To", "<sip:bob@example.com>"),
        ("Contact", "<sip:alice@192.0.2.1>"),
        ("Content-Type", "text/plain"),
        ("Supported", "timer"),
        ("Subject", "hello"),
        ("Content-Encoding", "gzip"),
        ("Event", "presence"),
        ("Refer-To", "<sip:carol@example.com>"),
        ("Referred-By", "<sip:alice@example.com>"),
        ("Session-Expires", "1800"),
        ("Allow-Events", "talk"),
        ("Accept-Contact", "*;audio"),
        ("Reject-Contact", "*;video"),
        ("Request-Disposition", "proxy"),
        ("Identity", "abc"),
        ("Identity-Info", "<https://example.com/cert>"),
        ("Content-Length", "2"),
    ];
    for (name, value) in expected {
        assert_eq!(values(&parsed, name), vec![value.to_owned()], "{name}");
    }
    assert!(matches!(
        parsed.headers().iter().next(),
        Some(Header::Via(_))
    ));
    assert!(
        parsed
            .headers()
            .iter()
            .any(|h| matches!(h, Header::CallId(_)))
    );
    assert!(
        parsed
            .headers()
            .iter()
            .any(|h| matches!(h, Header::Event(_)))
    );
    assert_eq!(parsed.body(), b"hi");
}

#[test]
fn folding_case_and_bare_lf() {
    let msg = "OPTIONS sip:bob@example.com SIP/2.0\n\
               VIA :  SIP / 2.0 / UDP\n   192.0.2.1 ; branch = z9hG4bK1\n\
               from:\t<sip:alice@example.com>\n ;tag=a\n\
               TO: <sip:bob@example.com>\n\
               call-id: lf@192.0.2.1\n\
               cseq: 0007\n\tOPTIONS\n\
               max-forwards: 0070\n\
               Subject: folded\n\t over\n  lines\n\
               \n";
    let parsed = parse(msg.as_bytes()).unwrap();
    assert_eq!(
        values(&parsed, "Via"),
        vec!["SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1"]
    );
    assert_eq!(
        values(&parsed, "From"),
        vec!["<sip:alice@example.com>;tag=a"]
    );
    assert_eq!(values(&parsed, "CSeq"), vec!["7 OPTIONS"]);
    assert_eq!(values(&parsed, "Max-Forwards"), vec!["70"]);
    assert_eq!(values(&parsed, "Subject"), vec!["folded over lines"]);
    assert_eq!(values(&parsed, "Content-Length"), vec!["0"]);
}

#[test]
fn multi_value_headers_are_split_respecting_quotes_and_brackets() {
    let extra = "Via: SIP/2.0/UDP proxy1.example.com;branch=z9hG4bKp1, SIP/2.0/TCP [2001:db8::5]:5070;branch=z9hG4bKp2\r\n\
                 m: \"Rossi, Mario\" <sip:mario@192.0.2.3;x=\"a,b\">;q=0.7, <sip:m2@192.0.2.4>\r\n\
                 Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>\r\n\
                 Record-Route: <sip:rr1.example.com;lr>,<sip:rr2.example.com;lr;tag=\"x,y\">\r\n";
    let req = request(&invite(extra, ""));
    assert_eq!(
        values(&req, "Via"),
        vec![
            "SIP/2.0/UDP 198.51.100.7:5062;branch=z9hG4bK776asdhds;rport",
            "SIP/2.0/UDP proxy1.example.com;branch=z9hG4bKp1",
            "SIP/2.0/TCP [2001:db8::5]:5070;branch=z9hG4bKp2",
        ]
    );
    assert_eq!(
        values(&req, "Contact"),
        vec![
            "<sip:alice@198.51.100.7:5062>",
            "\"Rossi, Mario\" <sip:mario@192.0.2.3;x=\"a,b\">;q=0.7",
            "<sip:m2@192.0.2.4>",
        ]
    );
    assert_eq!(values(&req, "Route").len(), 2);
    assert_eq!(
        values(&req, "Record-Route"),
        vec![
            "<sip:rr1.example.com;lr>",
            "<sip:rr2.example.com;lr;tag=\"x,y\">"
        ]
    );
    assert_eq!(req.via_hops().len(), 3);
    assert_eq!(req.via_hops()[2].host, "2001:db8::5");
}

#[test]
fn content_length_is_honoured() {
    let mut short = invite("", "");
    let text = String::from_utf8(short.clone())
        .unwrap()
        .replace("Content-Length: 0", "Content-Length: 120");
    short = text.into_bytes();
    short.extend_from_slice(&[b'x'; 80]);
    let err = parse(&short).unwrap_err();
    assert_eq!(err.reason(), "Content-Length 120 exceeds body of 80 bytes");
    assert_eq!(
        err.to_string(),
        "Content-Length 120 exceeds body of 80 bytes"
    );

    let mut long = invite("", "v=0\r\n");
    long.extend_from_slice(b"trailing garbage");
    assert_eq!(request(&long).body, b"v=0\r\n");

    let without = String::from_utf8(invite("", "abc"))
        .unwrap()
        .replace("Content-Length: 3\r\n", "");
    let req = request(without.as_bytes());
    assert_eq!(req.body, b"abc");
    assert_eq!(values(&req, "Content-Length"), vec!["3"]);
}

#[test]
fn mandatory_headers_are_required_with_precise_reasons() {
    let base = String::from_utf8(invite("", "")).unwrap();
    for (line, reason) in [
        (
            "Via: SIP/2.0/UDP 198.51.100.7:5062;branch=z9hG4bK776asdhds;rport\r\n",
            "Missing Via header",
        ),
        (
            "From: \"Alice\" <sip:alice@example.com>;tag=1928301774\r\n",
            "Missing From header",
        ),
        ("To: Bob <sip:bob@example.com>\r\n", "Missing To header"),
        (
            "Call-ID: a84b4c76e66710@pc33.example.com\r\n",
            "Missing Call-ID header",
        ),
        ("CSeq: 314159 INVITE\r\n", "Missing CSeq header"),
    ] {
        let msg = base.replace(line, "");
        assert_eq!(parse(msg.as_bytes()).unwrap_err().reason(), reason);
    }
    let no_max_forwards = base.replace("Max-Forwards: 70\r\n", "");
    assert_eq!(request(no_max_forwards.as_bytes()).max_forwards(), None);

    for (from, to, reason) in [
        (
            "CSeq: 314159 INVITE",
            "CSeq: 314159 BYE",
            "CSeq method does not match Request-Line",
        ),
        ("CSeq: 314159 INVITE", "CSeq: x INVITE", "Malformed CSeq"),
        ("CSeq: 314159 INVITE", "CSeq: 314159", "Malformed CSeq"),
        (
            "Max-Forwards: 70",
            "Max-Forwards: 256",
            "Malformed Max-Forwards",
        ),
        (
            "Call-ID: a84b4c76e66710@pc33.example.com",
            "Call-ID: a b",
            "Malformed Call-ID",
        ),
        (
            "Content-Length: 0",
            "Content-Length: 0x10",
            "Malformed Content-Length",
        ),
        (
            "To: Bob <sip:bob@example.com>",
            "To: Bob <sip:bob@example.com>, <sip:x@y>",
            "Malformed To",
        ),
        (
            "Call-ID: a84b4c76e66710@pc33.example.com",
            "Call-ID: a\r\ni: b",
            "Multiple Call-ID headers",
        ),
        (
            "INVITE sip:bob@192.0.2.10 SIP/2.0",
            "invite sip:bob@192.0.2.10 SIP/2.0",
            "CSeq method does not match Request-Line",
        ),
    ] {
        let msg = base.replace(from, to);
        let err = parse(msg.as_bytes()).unwrap_err();
        assert_eq!(err.reason(), reason, "{to}");
        assert_eq!(err.status_code(), 400);
    }
}

#[test]
fn responses_are_validated_too() {
    let ok = "SIP/2.0 180 Ringing\r\n\
              Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1;received=203.0.113.9;rport=40000\r\n\
              From: <sip:a@example.com>;tag=a\r\n\
              To: <sip:b@example.com>;tag=b\r\n\
              Call-ID: r@1\r\n\
              CSeq: 1 INVITE\r\n\
              \r\n";
    let parsed = parse(ok.as_bytes()).unwrap();
    let rsip::SipMessage::Response(response) = &parsed else {
        panic!()
    };
    assert_eq!(response.status_code.code(), 180);
    assert_eq!(parsed.to_tag().as_deref(), Some("b"));
    assert_eq!(
        parse(ok.replace("Call-ID: r@1\r\n", "").as_bytes())
            .unwrap_err()
            .reason(),
        "Missing Call-ID header"
    );
    assert_eq!(
        parse(ok.replace("180 Ringing", "18 Ringing").as_bytes())
            .unwrap_err()
            .reason(),
        "Malformed Status-Line"
    );
    assert!(parse(ok.replace("180 Ringing", "180").as_bytes()).is_ok());
}

#[test]
fn unknown_methods_and_schemes_get_their_own_status() {
    let base = String::from_utf8(invite("", "")).unwrap();
    let foo = base.replace("INVITE", "FOO");
    let err = parse(foo.as_bytes()).unwrap_err();
    assert_eq!(
        (err.status_code(), err.reason().as_str()),
        (501, "Not Implemented")
    );
    let tel = base.replace("INVITE sip:bob@192.0.2.10", "INVITE mailto:bob@example.com");
    let err = parse(tel.as_bytes()).unwrap_err();
    assert_eq!(
        (err.status_code(), err.reason().as_str()),
        (416, "Unsupported URI Scheme")
    );
    let tel = base.replace("INVITE sip:bob@192.0.2.10", "INVITE tel:+390612345678");
    assert_eq!(parse(tel.as_bytes()).unwrap_err().status_code(), 416);
    // rsip 0.4 cannot read an IPv6 Request-URI: refused cleanly.
    let v6 = base.replace("sip:bob@192.0.2.10", "sip:bob@[2001:db8::1]");
    assert!(matches!(parse(v6.as_bytes()), Err(ParseError::Rejected(_))));
    let v3 = base.replace("SIP/2.0\r\nVia", "SIP/3.0\r\nVia");
    assert_eq!(parse(v3.as_bytes()).unwrap_err().status_code(), 505);
}

#[test]
fn not_sip_and_empty() {
    assert_eq!(parse(b"").unwrap_err(), ParseError::Empty);
    assert_eq!(parse(b"\r\n\r\n").unwrap_err(), ParseError::Empty);
    assert!(matches!(
        parse(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
        Err(ParseError::NotSip(_))
    ));
    assert!(matches!(
        parse(b"\x16\x03\x01\x02\x00\x01\x00"),
        Err(ParseError::NotSip(_))
    ));
}

#[test]
fn reasons_are_short_ascii_phrases() {
    let long_method = "X".repeat(500);
    let msg = format!("{long_method} sip:a@b SIP/2.0\r\n\r\n");
    for data in [
        msg.as_bytes(),
        b"INVITE sip:a\xff@b SIP/2.0\r\nVia: \xff\r\n\r\n".as_slice(),
    ] {
        let reason = parse(data).unwrap_err().reason();
        assert!(reason.len() <= 100 && reason.is_ascii() && !reason.contains(['\r', '\n']));
    }
}

#[test]
fn bad_request_salvages_the_routing_headers() {
    let msg = "INVITE sip:bob@example.com SIP/2.0\r\n\
               v: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKa\r\n\
               Via: SIP/2.0/UDP 192.0.2.2;branch=z9hG4bKb,\r\n SIP/2.0/TCP 192.0.2.3;branch=z9hG4bKc\r\n\
               f: <sip:alice@example.com>;tag=88\r\n\
               t: Bob <sip:bob@example.com>\r\n\
               i: broken@192.0.2.1\r\n\
               CSeq: banana INVITE\r\n\
               Content-Length: 0\r\n\r\n";
    let err = parse(msg.as_bytes()).unwrap_err();
    assert_eq!(err.reason(), "Malformed CSeq");
    let response = String::from_utf8(bad_request(msg.as_bytes(), &err.reason()).unwrap()).unwrap();
    let lines: Vec<&str> = response.split("\r\n").collect();
    assert_eq!(lines[0], "SIP/2.0 400 Malformed CSeq");
    assert_eq!(lines[1], "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKa");
    assert_eq!(
        lines[2],
        "Via: SIP/2.0/UDP 192.0.2.2;branch=z9hG4bKb, SIP/2.0/TCP 192.0.2.3;branch=z9hG4bKc"
    );
    assert_eq!(lines[3], "From: <sip:alice@example.com>;tag=88");
    assert!(
        lines[4].starts_with("To: Bob <sip:bob@example.com>;tag="),
        "{}",
        lines[4]
    );
    assert_eq!(lines[5], "Call-ID: broken@192.0.2.1");
    assert_eq!(lines[6], "CSeq: banana INVITE");
    assert_eq!(lines[7], "Content-Length: 0");
    assert!(response.ends_with("\r\n\r\n"));
    // The response is itself a valid SIP response (apart from the CSeq we copied).
    let fixed = response.replace("banana", "1");
    assert!(parse(fixed.as_bytes()).unwrap().is_response());

    let tagged = msg.replace(
        "t: Bob <sip:bob@example.com>",
        "t: <sip:bob@example.com>;tag=abc",
    );
    let response = String::from_utf8(bad_request(tagged.as_bytes(), "x").unwrap()).unwrap();
    assert!(response.contains("\r\nTo: <sip:bob@example.com>;tag=abc\r\n"));

    let sanitized =
        String::from_utf8(bad_request(msg.as_bytes(), "Bad\r\nInjected: yes").unwrap()).unwrap();
    assert!(sanitized.starts_with("SIP/2.0 400 Bad Injected: yes\r\nVia:"));
}

#[test]
fn bad_request_refuses_what_cannot_be_answered() {
    let response = b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKa\r\n\r\n";
    assert_eq!(bad_request(response, "x"), None);
    let no_via = b"INVITE sip:bob@example.com SIP/2.0\r\nCall-ID: x\r\n\r\n";
    assert_eq!(bad_request(no_via, "x"), None);
    let empty_via = b"INVITE sip:bob@example.com SIP/2.0\r\nVia:   \r\n\r\n";
    assert_eq!(bad_request(empty_via, "x"), None);
    assert_eq!(
        bad_request(b"GET / HTTP/1.1\r\nVia: 1.1 proxy\r\n\r\n", "x"),
        None
    );
    assert_eq!(bad_request(b"\x00\x01\x02", "x"), None);
    assert_eq!(bad_request(b"", "x"), None);
    let ack =
        b"ACK sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKa\r\n\r\n";
    assert_eq!(bad_request(ack, "x"), None);
    let reply = error_response(&ack[..], 400, "x");
    assert_eq!(reply, None);
    let unknown =
        b"FOO sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKa\r\n\r\n";
    let reply = String::from_utf8(error_response(unknown, 501, "").unwrap()).unwrap();
    assert!(reply.starts_with("SIP/2.0 501 Not Implemented\r\n"));
}

#[test]
fn serialize_writes_a_correct_content_length_and_raw_body() {
    let body = b"\x00\xff binary \r\n\r\n body";
    let mut req = request(&invite("", ""));
    req.body = body.to_vec();
    let bytes = serialize(&rsip::SipMessage::Request(req.clone()));
    assert!(bytes.ends_with(body));
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.contains(&format!("\r\nContent-Length: {}\r\n", body.len())));
    assert_eq!(text.matches("Content-Length").count(), 1);
    let again = request(&bytes);
    assert_eq!(again.body, body);

    // Missing Content-Length is added; CR/LF in values cannot inject headers.
    req.headers
        .retain(|h| !matches!(h, Header::ContentLength(_)));
    req.headers
        .push(Header::Subject(rsip::headers::Subject::new(
            "a\r\nInjected: 1",
        )));
    let text = String::from_utf8(
        serialize(&req.clone().into())
            .into_iter()
            .filter(|b| b.is_ascii())
            .collect(),
    )
    .unwrap();
    assert!(text.contains("Subject: a  Injected: 1\r\n"));
    assert!(text.contains(&format!("Content-Length: {}\r\n\r\n", body.len())));

    let response = response_with_via("SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1");
    let mut busy = response.clone();
    busy.status_code = 486.into();
    let text = String::from_utf8(serialize(&busy.into())).unwrap();
    assert!(text.starts_with("SIP/2.0 486 Busy Here\r\n"));
    let mut custom = response;
    custom.status_code = rsip::StatusCode::Other(299, "Custom Thing".into());
    assert!(
        String::from_utf8(serialize(&custom.into()))
            .unwrap()
            .starts_with("SIP/2.0 299 Custom Thing\r\n")
    );
}

#[test]
fn parse_serialize_round_trip_on_a_busy_message() {
    let extra =
        "Route: <sip:p1.example.com;lr>\r\nSupported: timer, 100rel\r\nAllow: INVITE, ACK, BYE\r\n";
    let first = parse(&invite(extra, "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\n")).unwrap();
    let second = parse(&serialize(&first)).unwrap();
    assert_eq!(first, second);
}

/// Issue 14: the quick look that drops a REGISTER flood before parsing.
#[test]
fn unauthenticated_registers_are_recognised_without_parsing() {
    let register = |headers: &str| {
        format!(
            "REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.5;branch=z9hG4bKr\r\n\
             {headers}Content-Length: 0\r\n\r\n"
        )
        .into_bytes()
    };
    assert!(is_unauthenticated_register(&register("")));
    assert!(is_unauthenticated_register(&register(
        "Proxy-Authorization: Digest x=1\r\n"
    )));
    assert!(!is_unauthenticated_register(&register(
        "Authorization: Digest username=\"1001\"\r\n"
    )));
    assert!(!is_unauthenticated_register(&register(
        "authorization : Digest username=\"1001\"\r\n"
    )));
    // Leading CRLFs (RFC 3261 §7.5) and bare LF line ends.
    let mut lf = b"\r\n\r\n".to_vec();
    lf.extend(b"REGISTER sip:127.0.0.1 SIP/2.0\nAuthorization: Digest x=1\n\n");
    assert!(!is_unauthenticated_register(&lf));
    // Authorization in the body is not a header.
    let mut body = register("");
    body.extend(b"Authorization: Digest x=1\r\n");
    assert!(is_unauthenticated_register(&body));
    // Other requests and responses are not REGISTERs.
    assert!(!is_unauthenticated_register(&invite("", "")));
    assert!(!is_unauthenticated_register(
        b"REGISTERX sip:a SIP/2.0\r\n\r\n"
    ));
    assert!(!is_unauthenticated_register(
        b"SIP/2.0 200 OK\r\nCSeq: 1 REGISTER\r\n\r\n"
    ));
    assert!(!is_unauthenticated_register(b"REGIS"));
    assert!(!is_unauthenticated_register(b""));
}
