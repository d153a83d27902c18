//! REGISTER through the user agent and its transaction layer, and calls to registered phones
//! behind NAT, on fake time.

use std::time::{Duration, Instant};

use super::tests::{events, header, status_line};
use super::*;
use crate::auth::{Algorithm, ha1, parse_digest, response_digest};

/// Where the phone's packets come from (its NAT's public side).
const PUBLIC: &str = "127.0.0.1:40000";
/// What the phone believes its address is.
const PRIVATE: &str = "10.0.0.5:5062";

pub(super) fn nat_peer() -> Peer {
    Peer {
        addr: PUBLIC.parse().unwrap(),
        transport: TransportKind::Udp,
    }
}

fn registrar_ua() -> UserAgent {
    UserAgent::new(UserAgentConfig {
        registrar: Some(RegistrarConfig::default()),
        credentials: Credentials::from_passwords("centralino", [("1001", "demo1001")]),
        ..UserAgentConfig::default()
    })
}

pub(super) fn register(cseq: u32, authorization: Option<&str>, expires: u32) -> Vec<u8> {
    let auth = authorization
        .map(|a| format!("Authorization: {a}\r\n"))
        .unwrap_or_default();
    format!(
        "REGISTER sip:127.0.0.1:5060 SIP/2.0\r\n\
         Via: SIP/2.0/UDP {PRIVATE};branch=z9hG4bKreg{cseq};rport\r\n\
         From: <sip:1001@127.0.0.1>;tag=phone\r\n\
         To: <sip:1001@127.0.0.1>\r\n\
         Call-ID: phone-reg-1\r\n\
         CSeq: {cseq} REGISTER\r\n\
         Contact: <sip:1001@{PRIVATE}>\r\n\
         Expires: {expires}\r\n\
         {auth}Max-Forwards: 70\r\n\
         Content-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

pub(super) fn answer(challenge: &str) -> String {
    let nonce = parse_digest(challenge)
        .unwrap()
        .get("nonce")
        .unwrap()
        .to_string();
    let ha1 = ha1(Algorithm::Sha256, "1001", "centralino", "demo1001");
    let uri = "sip:127.0.0.1:5060";
    let response = response_digest(
        Algorithm::Sha256,
        &ha1,
        &nonce,
        "00000001",
        "cn",
        "auth",
        "REGISTER",
        uri,
    );
    format!(
        "Digest username=\"1001\", realm=\"centralino\", nonce=\"{nonce}\", uri=\"{uri}\", \
         response=\"{response}\", algorithm=SHA-256, cnonce=\"cn\", qop=auth, nc=00000001"
    )
}

fn sent_to(ua: &mut UserAgent) -> Vec<(Peer, String)> {
    std::iter::from_fn(|| ua.poll_transmit())
        .map(|(peer, bytes)| (peer, String::from_utf8(bytes).unwrap()))
        .collect()
}

/// Registers 1001 from behind NAT; returns the instant.
fn registered(ua: &mut UserAgent) -> Instant {
    let t0 = Instant::now();
    ua.handle_datagram(&register(1, None, 600), nat_peer(), t0);
    let out = sent_to(ua);
    assert_eq!(out.len(), 1);
    let (to, challenge) = &out[0];
    assert_eq!(status_line(challenge), "SIP/2.0 401 Unauthorized");
    assert_eq!(to.addr, nat_peer().addr, "the response follows rport");
    let www = header(challenge, "WWW-Authenticate").unwrap();
    ua.handle_datagram(
        &register(2, Some(&answer(www)), 600),
        nat_peer(),
        t0 + Duration::from_millis(20),
    );
    let out = sent_to(ua);
    assert_eq!(out.len(), 1);
    assert_eq!(status_line(&out[0].1), "SIP/2.0 200 OK");
    assert_eq!(
        header(&out[0].1, "Contact"),
        Some("<sip:1001@10.0.0.5:5062>;expires=600")
    );
    assert!(header(&out[0].1, "Server").is_some());
    t0
}

#[test]
fn register_goes_through_the_transaction_layer_to_the_registrar() {
    let mut ua = registrar_ua();
    let t0 = registered(&mut ua);
    let ev = ua.poll_registration().expect("registration event");
    assert_eq!(ev.user, "1001");
    assert!(ev.registered);
    assert_eq!(ev.bindings[0].source, nat_peer().addr);
    assert!(ua.poll_registration().is_none());
    assert!(events(&mut ua).is_empty(), "no call events");
    let bindings = ua.bindings("1001", t0);
    assert_eq!(bindings.len(), 1);
    // A retransmitted REGISTER is absorbed by its transaction: the same 200 again, no
    // second authentication (which would be a replayed nc).
    ua.handle_datagram(
        &register(2, Some("Digest junk=1"), 600),
        nat_peer(),
        t0 + Duration::from_millis(500),
    );
    let out = sent_to(&mut ua);
    assert_eq!(out.len(), 1);
    assert_eq!(status_line(&out[0].1), "SIP/2.0 200 OK");
    assert_eq!(ua.stats().auth_failures, 0);
    // Expiry is one of the core's deadlines.
    let expiry = t0 + Duration::from_millis(20) + Duration::from_secs(600);
    let mut now = t0 + Duration::from_secs(1);
    while let Some(deadline) = ua.poll_timeout() {
        if deadline > expiry + Duration::from_secs(1) {
            break;
        }
        now = deadline.max(now);
        ua.handle_timeout(now);
        let _ = sent_to(&mut ua);
    }
    assert!(now >= expiry);
    let ev = ua.poll_registration().expect("expiry event");
    assert!(!ev.registered);
    assert!(ua.bindings("1001", now).is_empty());
}

#[test]
fn without_registrar_register_is_405_and_allow_omits_it() {
    let mut ua = super::tests::ua();
    ua.handle_datagram(&register(1, None, 600), nat_peer(), Instant::now());
    let out = sent_to(&mut ua);
    assert_eq!(status_line(&out[0].1), "SIP/2.0 405 Method Not Allowed");
    assert!(!header(&out[0].1, "Allow").unwrap().contains("REGISTER"));
    assert!(ua.poll_registration().is_none());
    assert!(!ua.set_credentials(Credentials::default()));
    let mut with = registrar_ua();
    let options = String::from_utf8(register(1, None, 600))
        .unwrap()
        .replace("REGISTER", "OPTIONS");
    with.handle_datagram(options.as_bytes(), nat_peer(), Instant::now());
    let out = sent_to(&mut with);
    assert!(header(&out[0].1, "Allow").unwrap().contains("REGISTER"));
}

#[test]
fn wrong_password_counts_in_ua_stats() {
    let mut ua = registrar_ua();
    let t0 = Instant::now();
    ua.handle_datagram(&register(1, None, 600), nat_peer(), t0);
    let challenge = sent_to(&mut ua).remove(0).1;
    let www = header(&challenge, "WWW-Authenticate").unwrap();
    let wrong = answer(www).replace("response=\"", "response=\"0");
    ua.handle_datagram(&register(2, Some(&wrong), 600), nat_peer(), t0);
    let out = sent_to(&mut ua);
    assert_eq!(status_line(&out[0].1), "SIP/2.0 401 Unauthorized");
    assert_eq!(ua.stats().auth_failures, 1);
    assert!(ua.bindings("1001", t0).is_empty());
}

#[test]
fn a_call_to_a_registered_contact_uses_the_registered_flow_for_the_whole_dialog() {
    let mut ua = registrar_ua();
    let t0 = registered(&mut ua);
    let out = OutgoingCall {
        target: rsip::Uri::try_from(format!("sip:1001@{PRIVATE}").as_str()).unwrap(),
        // What a naive caller would compute from the Contact: unreachable behind NAT.
        peer: Peer {
            addr: PRIVATE.parse().unwrap(),
            transport: TransportKind::Udp,
        },
        to: "<sip:1001@127.0.0.1>".into(),
        from_user: "0600000001".into(),
        from_display: None,
        local_rtp: "127.0.0.1:20010".parse().unwrap(),
        dtmf_payload_type: 101,
        external_offer: None,
    };
    let call = ua.call(out, t0).unwrap();
    let sent = sent_to(&mut ua);
    let (to, invite) = &sent[0];
    assert_eq!(
        to.addr,
        nat_peer().addr,
        "INVITE goes to the NAT's public side"
    );
    assert!(invite.starts_with(&format!("INVITE sip:1001@{PRIVATE} SIP/2.0")));
    let ok = format!(
        "SIP/2.0 200 OK\r\nVia: {}\r\nFrom: {}\r\nTo: {};tag=ph\r\nCall-ID: {}\r\n\
         CSeq: 1 INVITE\r\nContact: <sip:1001@{PRIVATE}>\r\nContent-Type: application/sdp\r\n\
         Content-Length: {}\r\n\r\n{}",
        header(invite, "Via").unwrap(),
        header(invite, "From").unwrap(),
        header(invite, "To").unwrap(),
        header(invite, "Call-ID").unwrap(),
        ANSWER.len(),
        ANSWER
    );
    ua.handle_datagram(ok.as_bytes(), nat_peer(), t0);
    let sent = sent_to(&mut ua);
    let (to, ack) = sent.iter().find(|(_, m)| m.starts_with("ACK ")).unwrap();
    assert_eq!(to.addr, nat_peer().addr, "ACK too");
    assert!(ack.starts_with(&format!("ACK sip:1001@{PRIVATE} ")));
    ua.hangup(call, t0).unwrap();
    let sent = sent_to(&mut ua);
    let (to, _) = sent.iter().find(|(_, m)| m.starts_with("BYE ")).unwrap();
    assert_eq!(to.addr, nat_peer().addr, "and BYE");
}

#[test]
fn a_call_to_an_unregistered_target_uses_the_given_peer() {
    let mut ua = registrar_ua();
    let t0 = registered(&mut ua);
    let out = OutgoingCall {
        target: rsip::Uri::try_from("sip:1002@127.0.0.1:5099").unwrap(),
        peer: Peer {
            addr: "127.0.0.1:5099".parse().unwrap(),
            transport: TransportKind::Udp,
        },
        to: "<sip:1002@127.0.0.1>".into(),
        from_user: "0600000001".into(),
        from_display: None,
        local_rtp: "127.0.0.1:20010".parse().unwrap(),
        dtmf_payload_type: 101,
        external_offer: None,
    };
    ua.call(out, t0).unwrap();
    let sent = sent_to(&mut ua);
    assert_eq!(sent[0].0.addr, "127.0.0.1:5099".parse().unwrap());
}

const ANSWER: &str = "v=0\r\no=- 7 7 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
    m=audio 42000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n";

/// Issue 14: a REGISTER flood without credentials from one address gets its burst of 401s,
/// then one per `1 / challenge_rate`; the rest is dropped before parsing, costs no
/// transaction, and is counted. Meanwhile a call from the same address is offered and a
/// phone at that address that already holds a nonce registers.
#[test]
fn a_register_flood_gets_challenges_at_the_rate_and_leaves_calls_and_phones_alone() {
    let mut ua = registrar_ua();
    let t0 = Instant::now();
    // The phone got its challenge before the flood.
    ua.handle_datagram(&register(1, None, 600), nat_peer(), t0);
    let challenge = sent_to(&mut ua).remove(0).1;
    let www = header(&challenge, "WWW-Authenticate").unwrap().to_string();
    let before = ua.transactions();

    // 1,000 REGISTERs without credentials at 1,000/s from the phone's NAT address.
    let mut answered = 0;
    for i in 0..1000u32 {
        let at = t0 + Duration::from_millis(u64::from(i));
        ua.handle_datagram(&register(100 + i, None, 600), nat_peer(), at);
        for (_, message) in sent_to(&mut ua) {
            assert_eq!(status_line(&message), "SIP/2.0 401 Unauthorized");
            answered += 1;
        }
    }
    // The default burst (100, with the phone's first REGISTER) and 10/s over the second.
    assert!((108..=110).contains(&answered), "{answered} challenged");
    let stats = ua.registrar_stats(t0).unwrap();
    assert_eq!(stats.challenges_dropped, 1000 - answered);
    assert_eq!(
        ua.transactions(),
        before + answered as usize,
        "a dropped REGISTER leaves no transaction"
    );
    assert_eq!(
        ua.stats().requests_received,
        1 + answered,
        "nor was it parsed"
    );

    // Still flooded (the bucket is empty): a call from that address is offered ...
    let during = t0 + Duration::from_millis(1000);
    let caller = Peer {
        addr: "127.0.0.1:40002".parse().unwrap(),
        transport: TransportKind::Udp,
    };
    ua.handle_datagram(
        &super::tests::invite("z9hG4bKflood-call", "flood-call", super::tests::OFFER),
        caller,
        during,
    );
    assert!(
        events(&mut ua)
            .iter()
            .any(|e| matches!(e, UaEvent::IncomingCall(_))),
        "the INVITE reached the switchboard"
    );
    // ... and the phone's authenticated REGISTER is answered 200.
    ua.handle_datagram(&register(2, Some(&answer(&www)), 600), nat_peer(), during);
    let out = sent_to(&mut ua);
    assert!(
        out.iter()
            .any(|(_, m)| status_line(m) == "SIP/2.0 200 OK" && m.contains("CSeq: 2 REGISTER")),
        "{out:?}"
    );
    assert_eq!(ua.bindings("1001", during).len(), 1);
}

/// Issue 14: a REGISTER whose credentials fail, over the challenge rate, is dropped and its
/// server transaction ended (a non-INVITE server transaction waiting for its TU has no timer:
/// it would otherwise stay for ever).
#[test]
fn failed_credentials_over_the_rate_leave_no_transaction_behind() {
    let mut ua = UserAgent::new(UserAgentConfig {
        registrar: Some(RegistrarConfig {
            challenge_rate: 1,
            challenge_burst: 1,
            ..RegistrarConfig::default()
        }),
        credentials: Credentials::from_passwords("centralino", [("1001", "demo1001")]),
        ..UserAgentConfig::default()
    });
    let t0 = Instant::now();
    ua.handle_datagram(&register(1, None, 600), nat_peer(), t0);
    let challenge = sent_to(&mut ua).remove(0).1;
    let www = header(&challenge, "WWW-Authenticate").unwrap().to_string();
    let wrong = answer(&www).replace("response=\"", "response=\"0");
    let before = ua.transactions();
    ua.handle_datagram(&register(2, Some(&wrong), 600), nat_peer(), t0);
    assert!(sent_to(&mut ua).is_empty(), "no answer over the rate");
    assert_eq!(ua.transactions(), before);
    assert_eq!(ua.stats().auth_failures, 1);
    assert_eq!(ua.registrar_stats(t0).unwrap().challenges_dropped, 1);
    // A second later a token is back: the same kind of failure is challenged again.
    ua.handle_datagram(
        &register(3, Some(&wrong), 600),
        nat_peer(),
        t0 + Duration::from_secs(1),
    );
    let out = sent_to(&mut ua);
    assert_eq!(status_line(&out[0].1), "SIP/2.0 401 Unauthorized");
}
