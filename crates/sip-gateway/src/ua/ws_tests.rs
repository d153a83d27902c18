//! A browser's phone over a WebSocket (RFC 7118), on fake time: registered with a digest like
//! any phone, rung on its flow whatever its `.invalid` Contact says, and forgotten when the
//! flow closes.

use std::time::Instant;

use super::register_tests::answer;
use super::tests::{header, status_line};
use super::*;

/// The browser's WebSocket, as the web server saw it connect.
fn ws_peer() -> Peer {
    Peer {
        addr: "127.0.0.1:41000".parse().unwrap(),
        transport: TransportKind::Ws,
    }
}

const CONTACT_URI: &str = "sip:lcrkf7u1@1i8ld7hcb1pl.invalid;transport=ws";

/// A REGISTER as JsSIP 3 writes it.
fn jssip_register(cseq: u32, authorization: Option<&str>) -> Vec<u8> {
    let auth = authorization
        .map(|a| format!("Authorization: {a}\r\n"))
        .unwrap_or_default();
    format!(
        "REGISTER sip:127.0.0.1:5060 SIP/2.0\r\n\
         Via: SIP/2.0/WSS 1i8ld7hcb1pl.invalid;branch=z9hG4bK844137{cseq}\r\n\
         Max-Forwards: 69\r\n\
         To: <sip:1001@127.0.0.1>\r\n\
         From: <sip:1001@127.0.0.1>;tag=p2u2n2an2n\r\n\
         Call-ID: 5hvbnf0frlaoo4ggq3gqg5\r\n\
         CSeq: {cseq} REGISTER\r\n\
         Contact: <{CONTACT_URI}>;+sip.ice;reg-id=1;\
         +sip.instance=\"<urn:uuid:be2b3b59-0af1-4a0a-8f46-8a7c4a6b2ec9>\";expires=600\r\n\
         Expires: 600\r\n\
         Allow: INVITE,ACK,CANCEL,BYE,UPDATE,MESSAGE,OPTIONS,REFER,INFO,NOTIFY\r\n\
         Supported: path,gruu,outbound\r\n\
         User-Agent: JsSIP 3.10.0\r\n\
         {auth}Content-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

/// The ACD ringing the browser's registered Contact (`peer` is only the fallback: a
/// registered contact's flow wins).
fn ring(peer: Peer) -> OutgoingCall {
    OutgoingCall {
        target: rsip::Uri::try_from(CONTACT_URI).unwrap(),
        peer,
        to: "<sip:1001@127.0.0.1>".into(),
        from_user: "0600000001".into(),
        from_display: None,
        local_rtp: "127.0.0.1:20010".parse().unwrap(),
        dtmf_payload_type: 101,
        external_offer: None,
    }
}

fn sent(ua: &mut UserAgent) -> Vec<(Peer, String)> {
    std::iter::from_fn(|| ua.poll_transmit())
        .map(|(peer, bytes)| (peer, String::from_utf8(bytes).unwrap()))
        .collect()
}

#[test]
fn a_browser_registers_over_its_websocket_is_rung_there_and_goes_with_it() {
    let mut ua = UserAgent::new(UserAgentConfig {
        registrar: Some(RegistrarConfig::default()),
        credentials: Credentials::from_passwords("centralino", [("1001", "demo1001")]),
        ..UserAgentConfig::default()
    });
    let t0 = Instant::now();
    ua.handle_datagram(&jssip_register(1, None), ws_peer(), t0);
    let out = sent(&mut ua);
    assert_eq!(out.len(), 1);
    let (to, challenge) = &out[0];
    assert_eq!(status_line(challenge), "SIP/2.0 401 Unauthorized");
    assert_eq!(*to, ws_peer(), "the 401 goes back on the WebSocket");
    let www = header(challenge, "WWW-Authenticate").unwrap();
    ua.handle_datagram(&jssip_register(2, Some(&answer(www))), ws_peer(), t0);
    let out = sent(&mut ua);
    assert_eq!((out.len(), &out[0].0), (1, &ws_peer()));
    assert_eq!(status_line(&out[0].1), "SIP/2.0 200 OK");
    assert_eq!(
        header(&out[0].1, "Contact"),
        Some(format!("<{CONTACT_URI}>;expires=600").as_str())
    );
    let ev = ua.poll_registration().unwrap();
    assert!(ev.registered);
    assert_eq!(ev.bindings[0].peer(), ws_peer());

    // The ACD rings the contact: the INVITE goes out on the WebSocket, not to the
    // `.invalid` host, and says WS in its Via and Contact.
    let out = OutgoingCall {
        target: rsip::Uri::try_from(CONTACT_URI).unwrap(),
        peer: Peer {
            addr: "127.0.0.1:5060".parse().unwrap(),
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
    let out = sent(&mut ua);
    let (to, invite) = &out[0];
    assert_eq!(*to, ws_peer());
    // (rsip writes the transport parameter's value in capitals: equal, RFC 3261 §19.1.4.)
    assert!(
        status_line(invite).eq_ignore_ascii_case(&format!("INVITE {CONTACT_URI} SIP/2.0")),
        "{invite}"
    );
    assert!(header(invite, "Via").unwrap().starts_with("SIP/2.0/WS "));
    assert!(
        header(invite, "Contact")
            .unwrap()
            .ends_with(";transport=ws>")
    );

    // The tab is closed: the binding goes at once, and the user is unreachable.
    ua.handle_flow_closed(&ws_peer(), t0);
    let ev = ua.poll_registration().unwrap();
    assert!(!ev.registered);
    assert!(ua.bindings("1001", t0).is_empty());
    assert_eq!(ua.registrar_stats(t0).unwrap().bindings, 0);
    // The call placed on it is still the switchboard's to end (its timers run as on TCP).
    ua.hangup(call, t0).unwrap();
}

/// A network blip in a call: the browser's WebSocket drops, it reconnects on a new one and
/// registers the same Contact again; our BYE goes to the new WebSocket, not the closed one.
#[test]
fn after_a_blip_the_dialog_follows_the_browser_to_its_new_websocket() {
    let mut ua = UserAgent::new(UserAgentConfig {
        registrar: Some(RegistrarConfig::default()),
        credentials: Credentials::from_passwords("centralino", [("1001", "demo1001")]),
        ..UserAgentConfig::default()
    });
    let t0 = Instant::now();
    let register = |ua: &mut UserAgent, peer: Peer, cseq: u32| {
        ua.handle_datagram(&jssip_register(cseq, None), peer.clone(), t0);
        let out = sent(ua);
        let www = header(&out[0].1, "WWW-Authenticate").unwrap().to_string();
        ua.handle_datagram(&jssip_register(cseq + 1, Some(&answer(&www))), peer, t0);
        let out = sent(ua);
        assert_eq!(status_line(&out[0].1), "SIP/2.0 200 OK");
    };
    register(&mut ua, ws_peer(), 1);
    let call = ua.call(ring(ws_peer()), t0).unwrap();
    let invite = sent(&mut ua).remove(0).1;
    let ok = super::outbound_tests::respond(
        &invite,
        200,
        Some("browser"),
        super::outbound_tests::ANSWER,
    );
    // JsSIP answers with the Contact it registered, and no proxy records a route.
    let ok = String::from_utf8(ok)
        .unwrap()
        .replace("<sip:1001@127.0.0.1:5071>", &format!("<{CONTACT_URI}>"))
        .replace("Record-Route: <sip:127.0.0.9:5090;lr>\r\n", "");
    ua.handle_datagram(ok.as_bytes(), ws_peer(), t0);
    let _ack = sent(&mut ua);

    // The blip: the old WebSocket closes, a new one registers the same Contact.
    ua.handle_flow_closed(&ws_peer(), t0);
    let again = Peer {
        addr: "127.0.0.1:41999".parse().unwrap(),
        transport: TransportKind::Ws,
    };
    register(&mut ua, again.clone(), 3);
    ua.hangup(call, t0).unwrap();
    let out = sent(&mut ua);
    let (to, bye) = out
        .iter()
        .find(|(_, m)| m.starts_with("BYE "))
        .expect("a BYE");
    assert_eq!(*to, again, "the BYE goes on the new WebSocket: {bye}");
}

/// Behind HTTPS the browser's WebSocket is `wss`: our Via and Contact say so (RFC 7118 §5.2),
/// and the binding, the challenge order and the call go as over `ws`.
#[test]
fn over_a_secure_websocket_our_via_says_wss() {
    let mut ua = UserAgent::new(UserAgentConfig {
        registrar: Some(RegistrarConfig::default()),
        credentials: Credentials::from_passwords("centralino", [("1001", "demo1001")]),
        ..UserAgentConfig::default()
    });
    let t0 = Instant::now();
    let wss = Peer {
        addr: "127.0.0.1:41500".parse().unwrap(),
        transport: TransportKind::Wss,
    };
    ua.handle_datagram(&jssip_register(1, None), wss.clone(), t0);
    let out = sent(&mut ua);
    let www = header(&out[0].1, "WWW-Authenticate").unwrap().to_string();
    let last = out[0]
        .1
        .lines()
        .rfind(|l| l.starts_with("WWW-Authenticate:"))
        .unwrap();
    assert!(
        last.contains("MD5"),
        "MD5 last over a WebSocket, secure or not: {last}"
    );
    ua.handle_datagram(&jssip_register(2, Some(&answer(&www))), wss.clone(), t0);
    assert_eq!(status_line(&sent(&mut ua)[0].1), "SIP/2.0 200 OK");
    let call = ua.call(ring(wss.clone()), t0).unwrap();
    let out = sent(&mut ua);
    let (to, invite) = &out[0];
    assert_eq!(*to, wss);
    assert!(
        header(invite, "Via").unwrap().starts_with("SIP/2.0/WSS "),
        "{invite}"
    );
    assert!(
        header(invite, "Contact")
            .unwrap()
            .ends_with(";transport=wss>"),
        "{invite}"
    );
    ua.hangup(call, t0).unwrap();
}
