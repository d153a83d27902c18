//! RFC 3581 `received`/`rport` and where responses go (RFC 3261 §18.2.2).

use std::net::SocketAddr;

use super::super::*;
use super::{invite, request, values};

#[test]
fn received_and_rport_per_rfc3581() {
    let mut req = request(&invite("", ""));
    add_received_rport(&mut req, "203.0.113.9:40000".parse().unwrap());
    assert_eq!(
        values(&req, "Via")[0],
        "SIP/2.0/UDP 198.51.100.7:5062;branch=z9hG4bK776asdhds;rport=40000;received=203.0.113.9"
    );

    // Same address, rport present: received is still added (RFC 3581 §4).
    let mut req = request(&invite("", ""));
    add_received_rport(&mut req, "198.51.100.7:5062".parse().unwrap());
    assert_eq!(
        req.top_via().unwrap().received(),
        Some("198.51.100.7".parse().unwrap())
    );
    assert_eq!(req.top_via().unwrap().rport(), Some(Some(5062)));

    // No rport, same address: nothing added. Different address: received only.
    let plain = String::from_utf8(invite("", ""))
        .unwrap()
        .replace(";rport", "");
    let mut req = request(plain.as_bytes());
    add_received_rport(&mut req, "198.51.100.7:9999".parse().unwrap());
    assert_eq!(
        values(&req, "Via")[0],
        "SIP/2.0/UDP 198.51.100.7:5062;branch=z9hG4bK776asdhds"
    );
    add_received_rport(&mut req, "[::ffff:203.0.113.9]:9999".parse().unwrap());
    assert_eq!(
        values(&req, "Via")[0],
        "SIP/2.0/UDP 198.51.100.7:5062;branch=z9hG4bK776asdhds;received=203.0.113.9"
    );

    // A host name sent-by always differs; IPv6 sources are written without brackets.
    let named = plain.replace("198.51.100.7:5062;branch", "pc33.example.com;branch");
    let mut req = request(named.as_bytes());
    add_received_rport(&mut req, "[2001:db8::7]:5060".parse().unwrap());
    assert_eq!(
        req.top_via().unwrap().received(),
        Some("2001:db8::7".parse().unwrap())
    );
    assert!(values(&req, "Via")[0].ends_with(";received=2001:db8::7"));
    // Only the top Via is touched.
    let two = plain.replace(
        "Max-Forwards",
        "Via: SIP/2.0/UDP 192.0.2.99;branch=z9hG4bKlower;rport\r\nMax-Forwards",
    );
    let mut req = request(two.as_bytes());
    add_received_rport(&mut req, "203.0.113.9:1".parse().unwrap());
    assert_eq!(
        values(&req, "Via")[1],
        "SIP/2.0/UDP 192.0.2.99;branch=z9hG4bKlower;rport"
    );
}

pub(super) fn response_with_via(via: &str) -> rsip::Response {
    let text = format!(
        "SIP/2.0 200 OK\r\nVia: {via}\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\n\
         Call-ID: x@y\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    );
    match parse(text.as_bytes()).unwrap() {
        rsip::SipMessage::Response(response) => response,
        _ => unreachable!(),
    }
}

#[test]
fn response_destination_per_rfc3261_18_2_2() {
    let dest = |via: &str, reliable: bool| response_destination(&response_with_via(via), reliable);
    let addr = |s: &str| Some(s.parse::<SocketAddr>().unwrap());
    assert_eq!(
        dest("SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1", false),
        addr("192.0.2.1:5060")
    );
    assert_eq!(
        dest("SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bK1", false),
        addr("192.0.2.1:5070")
    );
    assert_eq!(
        dest(
            "SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bK1;received=203.0.113.9",
            false
        ),
        addr("203.0.113.9:5070")
    );
    assert_eq!(
        dest(
            "SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bK1;received=203.0.113.9;rport=40000",
            false
        ),
        addr("203.0.113.9:40000")
    );
    assert_eq!(
        dest(
            "SIP/2.0/TCP 192.0.2.1:5070;branch=z9hG4bK1;received=203.0.113.9;rport=40000",
            true
        ),
        addr("203.0.113.9:5070")
    );
    assert_eq!(
        dest(
            "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1;maddr=239.255.255.1;received=203.0.113.9",
            false
        ),
        // maddr is not honoured: the response goes to the request's source (reflection).
        addr("203.0.113.9:5060")
    );
    assert_eq!(
        dest("SIP/2.0/TLS 192.0.2.1;branch=z9hG4bK1", true),
        addr("192.0.2.1:5061")
    );
    assert_eq!(
        dest("SIP/2.0/UDP [2001:db8::1];branch=z9hG4bK1", false),
        addr("[2001:db8::1]:5060")
    );
    assert_eq!(
        dest("SIP/2.0/UDP pbx.example.com;branch=z9hG4bK1", false),
        None
    );
    assert_eq!(
        dest(
            "SIP/2.0/UDP pbx.example.com;branch=z9hG4bK1;received=192.0.2.5",
            false
        ),
        addr("192.0.2.5:5060")
    );
}
