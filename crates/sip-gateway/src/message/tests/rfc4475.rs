//! RFC 4475 torture messages, byte for byte as extracted from the RFC's archive (§4,
//! `testdata/*.dat`).

use super::super::*;
use super::values;

macro_rules! torture {
    ($name:literal) => {
        include_bytes!(concat!("../testdata/", $name, ".dat")).as_slice()
    };
}

/// RFC 4475 §3.1.1.1 "wsinv": whitespace everywhere, folding, compact forms, odd case.
#[test]
fn wsinv_short_tortuous_invite() {
    let msg = parse(torture!("wsinv")).unwrap();
    let rsip::SipMessage::Request(req) = &msg else {
        panic!()
    };
    assert_eq!(req.method, rsip::Method::Invite);
    assert_eq!(req.to_tag().as_deref(), Some("1918181833n"));
    assert_eq!(req.from_tag().as_deref(), Some("98asjd8"));
    assert_eq!(
        values(req, "From"),
        vec![r#""J Rosenberg \\\"" <sip:jdrosen@example.com>;tag=98asjd8"#]
    );
    assert_eq!(req.max_forwards(), Some(68));
    let cseq = req.cseq().unwrap();
    assert_eq!((cseq.seq, cseq.method), (9, rsip::Method::Invite));
    assert_eq!(req.call_id(), Some("wsinv.ndaksdj@192.0.2.1"));
    let hops = req.via_hops();
    assert_eq!(hops.len(), 3);
    assert_eq!(
        hops[0].to_string(),
        "SIP/2.0/UDP 192.0.2.2;branch=390skdjuw"
    );
    assert_eq!(
        hops[1].to_string(),
        "SIP/2.0/TCP spindle.example.com;branch=z9hG4bK9ikj8"
    );
    assert_eq!(
        hops[2].to_string(),
        "SIP/2.0/UDP 192.168.255.111;branch=z9hG4bK30239"
    );
    assert_eq!(values(req, "Subject"), vec![""]);
    assert_eq!(
        values(req, "NewFangledHeader"),
        vec!["newfangled value continued newfangled value"]
    );
    assert_eq!(
        values(req, "UnknownHeaderWithUnusualValue"),
        vec![";;,,;;,;"]
    );
    assert_eq!(
        values(req, "Route"),
        vec!["<sip:services.example.com;lr;unknownwith=value;unknown-no-value>"]
    );
    assert_eq!(
        values(req, "Contact"),
        vec![
            r#""Quoted string \"\"" <sip:jdrosen@example.com>;newparam=newvalue;secondparam;q=0.33"#
        ]
    );
    assert_eq!(req.body.len(), 150);
    assert!(req.body.starts_with(b"v=0\r\n"));
}

/// RFC 4475 §3.1.1.2 "intmeth": a valid request whose method `rsip` cannot represent: refused
/// with 501 (RFC 3261 §8.2.1), and the error response salvages the routing headers.
#[test]
fn intmeth_is_not_implemented_but_answerable() {
    let data = torture!("intmeth");
    let err = parse(data).unwrap_err();
    assert_eq!(err.status_code(), 501);
    assert_eq!(err.reason(), "Not Implemented");
    let response = error_response(data, err.status_code(), &err.reason()).unwrap();
    let text = String::from_utf8_lossy(&response);
    assert!(text.starts_with("SIP/2.0 501 Not Implemented\r\n"));
    assert!(text.contains("\r\nVia: SIP/2.0/TCP host1.example.com;branch=z9hG4bK-.!%66*_+`'~\r\n"));
    assert!(text.contains("\r\nCall-ID: intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{\r\n"));
    assert!(text.contains("\r\nCSeq: 139122385 !interesting-Method0123456789_*+`.%indeed'~\r\n"));
    assert!(text.contains(";tag="));
}

/// RFC 4475 §3.1.1: the other valid messages parse (or, for an unknown method, get a 501).
#[test]
fn valid_messages_parse() {
    for (name, data) in [
        ("esc01", torture!("esc01")),
        ("escnull", torture!("escnull")),
        ("lwsdisp", torture!("lwsdisp")),
        ("longreq", torture!("longreq")),
        ("dblreq", torture!("dblreq")),
        ("transports", torture!("transports")),
        ("mpart01", torture!("mpart01")),
        ("unreason", torture!("unreason")),
        ("noreason", torture!("noreason")),
    ] {
        assert!(parse(data).is_ok(), "{name}: {:?}", parse(data));
    }
    assert_eq!(parse(torture!("esc02")).unwrap_err().status_code(), 501);

    let longreq = parse(torture!("longreq")).unwrap();
    assert_eq!(longreq.via_hops().len(), 34);
    assert_eq!(longreq.body().len(), 150);
    // §3.1.1.8: a second request after Content-Length in the same datagram is discarded.
    let dblreq = parse(torture!("dblreq")).unwrap();
    assert!(dblreq.body().is_empty());
    // §3.1.1.11: a binary multipart body survives, exactly Content-Length bytes.
    let mpart = parse(torture!("mpart01")).unwrap();
    assert_eq!(
        values(&mpart, "Content-Length"),
        vec![mpart.body().len().to_string()]
    );
    assert_eq!(parse(&serialize(&mpart)).unwrap(), mpart);
}

/// RFC 4475 §3.1.1.9 "semiuri": valid, but `rsip` 0.4 cannot read a user part holding both
/// `;` and `.`; refused cleanly rather than misparsed.
#[test]
fn semiuri_is_a_known_rsip_limit() {
    let err = parse(torture!("semiuri")).unwrap_err();
    assert!(matches!(err, ParseError::Rejected(_)), "{err:?}");
    assert_eq!(err.reason(), "Malformed message");
}

/// RFC 4475 §3.1.2: every invalid message is refused with a specific reason.
#[test]
fn invalid_messages_are_rejected_with_a_reason() {
    let cases: [(&str, &[u8], u16, &str); 19] = [
        ("badinv01", torture!("badinv01"), 400, "Malformed Via"),
        (
            "clerr",
            torture!("clerr"),
            400,
            "Content-Length 9999 exceeds body of 154 bytes",
        ),
        ("ncl", torture!("ncl"), 400, "Malformed Content-Length"),
        ("scalar02", torture!("scalar02"), 400, "Malformed CSeq"),
        ("scalarlg", torture!("scalarlg"), 400, "Malformed CSeq"),
        ("quotbal", torture!("quotbal"), 400, "Malformed To"),
        (
            "ltgtruri",
            torture!("ltgtruri"),
            400,
            "Malformed Request-URI",
        ),
        (
            "lwsruri",
            torture!("lwsruri"),
            400,
            "Malformed Request-Line",
        ),
        (
            "lwsstart",
            torture!("lwsstart"),
            400,
            "Malformed Request-Line",
        ),
        ("trws", torture!("trws"), 400, "Malformed Request-Line"),
        ("escruri", torture!("escruri"), 400, "Malformed Request-URI"),
        ("baddate", torture!("baddate"), 400, "Malformed Date"),
        ("regbadct", torture!("regbadct"), 400, "Malformed Contact"),
        ("badaspec", torture!("badaspec"), 400, "Malformed To"),
        ("baddn", torture!("baddn"), 400, "Malformed From"),
        ("badvers", torture!("badvers"), 505, "Version Not Supported"),
        (
            "mismatch01",
            torture!("mismatch01"),
            400,
            "CSeq method does not match Request-Line",
        ),
        (
            "mismatch02",
            torture!("mismatch02"),
            400,
            "CSeq method does not match Request-Line",
        ),
        ("bigcode", torture!("bigcode"), 400, "Malformed Status-Line"),
    ];
    for (name, data, status, reason) in cases {
        let err = parse(data).unwrap_err();
        assert_eq!(
            (err.status_code(), err.reason().as_str()),
            (status, reason),
            "{name}: {err}"
        );
        let answer = error_response(data, err.status_code(), &err.reason());
        if name == "scalarlg" || name == "bigcode" {
            assert_eq!(answer, None, "{name} is a response");
        } else {
            let answer = answer.unwrap_or_else(|| panic!("{name}: no error response"));
            let expected = format!("SIP/2.0 {status} {reason}\r\n");
            assert!(answer.starts_with(expected.as_bytes()), "{name}");
            assert!(answer.ends_with(b"Content-Length: 0\r\n\r\n"), "{name}");
        }
    }
}

/// RFC 4475 §3.3 and §3.4: application-level cases reach the application (parse fine) or are
/// refused where the parser is the right place.
#[test]
fn application_level_messages() {
    for (name, data) in [
        ("badbranch", torture!("badbranch")),
        ("bcast", torture!("bcast")),
        ("bext01", torture!("bext01")),
        ("cparam01", torture!("cparam01")),
        ("cparam02", torture!("cparam02")),
        ("inv2543", torture!("inv2543")),
        ("invut", torture!("invut")),
        ("regaut01", torture!("regaut01")),
        ("regescrt", torture!("regescrt")),
        ("sdp01", torture!("sdp01")),
        ("unksm2", torture!("unksm2")),
        ("zeromf", torture!("zeromf")),
    ] {
        assert!(parse(data).is_ok(), "{name}: {:?}", parse(data));
    }
    assert_eq!(parse(torture!("zeromf")).unwrap().max_forwards(), Some(0));
    // RFC 2543 request: no branch, no From tag, no Content-Length (body to the end).
    let inv2543 = parse(torture!("inv2543")).unwrap();
    assert_eq!(inv2543.via_branch(), None);
    assert_eq!(inv2543.from_tag(), None);
    assert!(inv2543.body().ends_with(b"m=audio 49217 RTP/AVP 0\r\n"));

    assert_eq!(
        parse(torture!("insuf")).unwrap_err().reason(),
        "Missing From header"
    );
    assert_eq!(
        parse(torture!("multi01")).unwrap_err().reason(),
        "Multiple CSeq headers"
    );
    assert_eq!(
        parse(torture!("mcl01")).unwrap_err().reason(),
        "Multiple Content-Length headers"
    );
    assert_eq!(parse(torture!("unkscm")).unwrap_err().status_code(), 416);
    assert_eq!(parse(torture!("novelsc")).unwrap_err().status_code(), 416);
}
