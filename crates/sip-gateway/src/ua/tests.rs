//! The user-agent core driven with fake time and hand-written peers' messages.

use std::time::{Duration, Instant};

use super::*;

const CALLER: &str = "127.0.0.1:5070";

pub(super) fn peer() -> Peer {
    Peer {
        addr: CALLER.parse().unwrap(),
        transport: TransportKind::Udp,
    }
}

pub(super) fn ua() -> UserAgent {
    UserAgent::new(UserAgentConfig::default())
}

pub(super) const OFFER: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
    m=audio 40000 RTP/AVP 8 0 101\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n";

pub(super) fn invite(branch: &str, call_id: &str, sdp: &str) -> Vec<u8> {
    format!(
        "INVITE sip:800100200@127.0.0.1:5060 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:5070;branch={branch}\r\n\
         From: \"Maria\" <sip:0600000001@127.0.0.1:5070>;tag=caller1\r\n\
         To: <sip:800100200@127.0.0.1:5060>\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: 1 INVITE\r\n\
         Contact: <sip:0600000001@127.0.0.1:5070>\r\n\
         Max-Forwards: 70\r\n\
         Content-Type: application/sdp\r\n\
         Content-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    )
    .into_bytes()
}

pub(super) fn in_dialog(
    method: &str,
    branch: &str,
    call_id: &str,
    to_tag: &str,
    cseq: u32,
    body: &str,
) -> Vec<u8> {
    let ct = if body.is_empty() {
        String::new()
    } else {
        "Content-Type: application/sdp\r\n".to_string()
    };
    format!(
        "{method} sip:centralino@127.0.0.1:5060 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:5070;branch={branch}\r\n\
         From: \"Maria\" <sip:0600000001@127.0.0.1:5070>;tag=caller1\r\n\
         To: <sip:800100200@127.0.0.1:5060>;tag={to_tag}\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: {cseq} {method}\r\n\
         Max-Forwards: 70\r\n\
         {ct}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Everything sent so far, as text.
pub(super) fn sent(ua: &mut UserAgent) -> Vec<String> {
    std::iter::from_fn(|| ua.poll_transmit())
        .map(|(_, bytes)| String::from_utf8(bytes).unwrap())
        .collect()
}

pub(super) fn events(ua: &mut UserAgent) -> Vec<UaEvent> {
    std::iter::from_fn(|| ua.poll_event()).collect()
}

pub(super) fn status_line(msg: &str) -> &str {
    msg.lines().next().unwrap()
}

pub(super) fn header<'a>(msg: &'a str, name: &str) -> Option<&'a str> {
    msg.lines()
        .find(|l| {
            l.to_ascii_lowercase()
                .starts_with(&format!("{}:", name.to_ascii_lowercase()))
        })
        .map(|l| l[name.len() + 1..].trim())
}

/// Offers a call and answers it; returns the call, its To tag, and the instant.
fn answered_call(ua: &mut UserAgent, call_id: &str) -> (CallRef, String, Instant) {
    let t0 = Instant::now();
    ua.handle_datagram(&invite("z9hG4bKinv", call_id, OFFER), peer(), t0);
    let Some(UaEvent::IncomingCall(incoming)) = ua.poll_event() else {
        panic!("no incoming call")
    };
    ua.answer(incoming.call, "127.0.0.1:20000".parse().unwrap(), t0)
        .unwrap();
    let out = sent(ua);
    let ok = out
        .iter()
        .find(|m| m.starts_with("SIP/2.0 200"))
        .expect("200 sent");
    let tag = build::tag_of(header(ok, "To").unwrap())
        .unwrap()
        .to_string();
    (incoming.call, tag, t0)
}

#[test]
fn invite_is_offered_with_caller_and_dialled_number() {
    let mut ua = ua();
    ua.handle_datagram(
        &invite("z9hG4bK1", "c1@test", OFFER),
        peer(),
        Instant::now(),
    );
    let evs = events(&mut ua);
    let [UaEvent::IncomingCall(incoming)] = evs.as_slice() else {
        panic!("expected one incoming call, got {evs:?}")
    };
    assert_eq!(incoming.sip_call_id, "c1@test");
    assert_eq!(incoming.from_user.as_deref(), Some("0600000001"));
    assert_eq!(incoming.from_display.as_deref(), Some("Maria"));
    assert_eq!(incoming.dialled.as_deref(), Some("800100200"));
    // The offer lists PCMA first: the offerer's preference wins.
    assert_eq!(incoming.media.codec, Codec::Pcma);
    assert_eq!(incoming.media.dtmf_payload_type, Some(101));
    assert_eq!(
        incoming.media.remote_rtp,
        "127.0.0.1:40000".parse().unwrap()
    );
}

#[test]
fn answer_sends_200_with_sdp_contact_and_tag() {
    let mut ua = ua();
    let t0 = Instant::now();
    ua.handle_datagram(&invite("z9hG4bK1", "c2@test", OFFER), peer(), t0);
    let Some(UaEvent::IncomingCall(incoming)) = ua.poll_event() else {
        panic!()
    };
    ua.ring(incoming.call, t0).unwrap();
    ua.answer(incoming.call, "127.0.0.1:20002".parse().unwrap(), t0)
        .unwrap();
    let out = sent(&mut ua);
    let ringing = out
        .iter()
        .find(|m| m.starts_with("SIP/2.0 180"))
        .expect("180");
    let ok = out
        .iter()
        .find(|m| m.starts_with("SIP/2.0 200"))
        .expect("200");
    assert_eq!(status_line(ok), "SIP/2.0 200 OK");
    // Same To tag on the provisional and the final response (one dialog).
    assert_eq!(
        build::tag_of(header(ringing, "To").unwrap()),
        build::tag_of(header(ok, "To").unwrap())
    );
    assert!(
        header(ok, "Contact")
            .unwrap()
            .contains("sip:centralino@127.0.0.1:5060")
    );
    assert_eq!(header(ok, "Content-Type"), Some("application/sdp"));
    assert!(ok.contains("m=audio 20002 RTP/AVP 8 101"), "{ok}");
    assert!(ok.contains("a=rtpmap:101 telephone-event/8000"), "{ok}");
    let body = ok.split("\r\n\r\n").nth(1).unwrap();
    assert_eq!(
        header(ok, "Content-Length").unwrap(),
        body.len().to_string()
    );
}

#[test]
fn the_200_is_retransmitted_until_the_ack_then_bye_ends_the_call() {
    let mut ua = ua();
    let (call, tag, t0) = answered_call(&mut ua, "c3@test");
    // No ACK yet: Timer G-like 2xx retransmission at T1 (RFC 3261 §13.3.1.4).
    ua.handle_timeout(t0 + Duration::from_millis(500));
    assert!(sent(&mut ua).iter().any(|m| m.starts_with("SIP/2.0 200")));
    let ack = in_dialog("ACK", "z9hG4bKack", "c3@test", &tag, 1, "");
    ua.handle_datagram(&ack, peer(), t0 + Duration::from_millis(600));
    ua.handle_timeout(t0 + Duration::from_millis(1600));
    assert!(
        !sent(&mut ua).iter().any(|m| m.starts_with("SIP/2.0 200")),
        "ACK stops 2xx retransmission"
    );

    let bye = in_dialog("BYE", "z9hG4bKbye", "c3@test", &tag, 2, "");
    ua.handle_datagram(&bye, peer(), t0 + Duration::from_secs(2));
    let out = sent(&mut ua);
    assert_eq!(status_line(&out[0]), "SIP/2.0 200 OK");
    assert!(header(&out[0], "CSeq").unwrap().contains("BYE"));
    let evs = events(&mut ua);
    assert!(
        matches!(
            evs.as_slice(),
            [UaEvent::CallEnded { call: c, reason: EndReason::RemoteBye }] if *c == call
        ),
        "{evs:?}"
    );
    assert_eq!(ua.calls(), 0);
}

#[test]
fn cancel_before_answer_gives_200_and_487() {
    let mut ua = ua();
    let t0 = Instant::now();
    ua.handle_datagram(&invite("z9hG4bKc", "c4@test", OFFER), peer(), t0);
    let Some(UaEvent::IncomingCall(incoming)) = ua.poll_event() else {
        panic!()
    };
    ua.ring(incoming.call, t0).unwrap();
    let _ = sent(&mut ua);
    let cancel = "CANCEL sip:800100200@127.0.0.1:5060 SIP/2.0\r\n\
        Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKc\r\n\
        From: \"Maria\" <sip:0600000001@127.0.0.1:5070>;tag=caller1\r\n\
        To: <sip:800100200@127.0.0.1:5060>\r\n\
        Call-ID: c4@test\r\nCSeq: 1 CANCEL\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n";
    ua.handle_datagram(cancel.as_bytes(), peer(), t0 + Duration::from_secs(1));
    let out = sent(&mut ua);
    let codes: Vec<_> = out.iter().map(|m| status_line(m).to_string()).collect();
    assert!(codes.contains(&"SIP/2.0 200 OK".to_string()), "{codes:?}");
    assert!(
        codes.contains(&"SIP/2.0 487 Request Terminated".to_string()),
        "{codes:?}"
    );
    let ok = out.iter().find(|m| m.starts_with("SIP/2.0 200")).unwrap();
    assert!(header(ok, "CSeq").unwrap().ends_with("CANCEL"));
    assert!(matches!(
        events(&mut ua).as_slice(),
        [UaEvent::CallEnded {
            reason: EndReason::Cancelled,
            ..
        }]
    ));
    // A late answer command is refused cleanly.
    assert_eq!(
        ua.answer(incoming.call, "127.0.0.1:20000".parse().unwrap(), t0),
        Err(UaError::UnknownCall(incoming.call))
    );
}

#[test]
fn hangup_sends_bye_within_the_dialog_and_ends_on_its_answer() {
    let mut ua = ua();
    let (call, tag, t0) = answered_call(&mut ua, "c5@test");
    ua.handle_datagram(
        &in_dialog("ACK", "z9hG4bKa", "c5@test", &tag, 1, ""),
        peer(),
        t0,
    );
    ua.hangup(call, t0 + Duration::from_secs(1)).unwrap();
    let out = sent(&mut ua);
    let bye = out
        .iter()
        .find(|m| m.starts_with("BYE "))
        .expect("BYE sent");
    assert!(
        bye.starts_with("BYE sip:0600000001@127.0.0.1:5070 SIP/2.0"),
        "{bye}"
    );
    assert!(header(bye, "From").unwrap().contains(&format!("tag={tag}")));
    assert!(header(bye, "To").unwrap().contains("tag=caller1"));
    assert!(
        events(&mut ua).is_empty(),
        "ends only when the BYE is answered"
    );
    let via = header(bye, "Via").unwrap();
    let cseq = header(bye, "CSeq").unwrap();
    let ok = format!(
        "SIP/2.0 200 OK\r\nVia: {via}\r\nFrom: {}\r\nTo: {}\r\nCall-ID: c5@test\r\nCSeq: {cseq}\r\nContent-Length: 0\r\n\r\n",
        header(bye, "From").unwrap(),
        header(bye, "To").unwrap()
    );
    ua.handle_datagram(ok.as_bytes(), peer(), t0 + Duration::from_secs(1));
    assert!(matches!(
        events(&mut ua).as_slice(),
        [UaEvent::CallEnded {
            reason: EndReason::LocalHangup,
            ..
        }]
    ));
}

#[test]
fn a_bye_that_gets_no_answer_still_ends_the_dialog_at_timer_f() {
    // The caller's phone vanished (the media time-out hangs up on it): the BYE is
    // retransmitted until Timer F (64*T1, RFC 3261 §17.1.2.2), then the dialog ends anyway.
    // It used to stay for ever, one dialog per vanished caller.
    let mut ua = ua();
    let (call, tag, t0) = answered_call(&mut ua, "nb@test");
    ua.handle_datagram(
        &in_dialog("ACK", "z9hG4bKa", "nb@test", &tag, 1, ""),
        peer(),
        t0,
    );
    ua.hangup(call, t0 + Duration::from_secs(1)).unwrap();
    assert!(sent(&mut ua).iter().any(|m| m.starts_with("BYE ")));
    let mut now = t0 + Duration::from_secs(1);
    let mut byes = 1;
    let mut ended = Vec::new();
    while let Some(deadline) = ua.poll_timeout() {
        assert!(
            deadline <= t0 + Duration::from_secs(60),
            "nothing left past Timer F"
        );
        now = deadline;
        ua.handle_timeout(now);
        byes += sent(&mut ua)
            .iter()
            .filter(|m| m.starts_with("BYE "))
            .count();
        ended.extend(events(&mut ua));
        if ua.calls() == 0 {
            break;
        }
    }
    assert_eq!(ua.calls(), 0, "the dialog is gone");
    assert!(byes > 1, "the BYE was retransmitted first ({byes})");
    assert!(
        now >= t0 + Duration::from_secs(33),
        "not before Timer F: {:?}",
        now - t0
    );
    assert!(
        matches!(
            ended.as_slice(),
            [UaEvent::CallEnded {
                reason: EndReason::LocalHangup,
                ..
            }]
        ),
        "{ended:?}"
    );
    assert_eq!(ua.poll_timeout(), None, "no transaction or timer left");
}

#[test]
fn reinvite_hold_and_unhold_are_answered_and_reported() {
    let mut ua = ua();
    let (call, tag, t0) = answered_call(&mut ua, "c6@test");
    ua.handle_datagram(
        &in_dialog("ACK", "z9hG4bKa", "c6@test", &tag, 1, ""),
        peer(),
        t0,
    );
    let hold = format!("{OFFER}a=sendonly\r\n");
    ua.handle_datagram(
        &in_dialog("INVITE", "z9hG4bKh", "c6@test", &tag, 2, &hold),
        peer(),
        t0,
    );
    let out = sent(&mut ua);
    let ok = out
        .iter()
        .find(|m| m.starts_with("SIP/2.0 200"))
        .expect("200 to re-INVITE");
    assert!(ok.contains("a=recvonly"), "{ok}");
    assert!(ok.contains("m=audio 20000 "), "same local port: {ok}");
    let evs = events(&mut ua);
    let [UaEvent::MediaChanged { call: c, media }] = evs.as_slice() else {
        panic!("{evs:?}")
    };
    assert_eq!(*c, call);
    assert_eq!(media.local_direction, media::Direction::RecvOnly);

    ua.handle_datagram(
        &in_dialog("ACK", "z9hG4bKa2", "c6@test", &tag, 2, ""),
        peer(),
        t0,
    );
    let resume = format!("{OFFER}a=sendrecv\r\n");
    ua.handle_datagram(
        &in_dialog("INVITE", "z9hG4bKu", "c6@test", &tag, 3, &resume),
        peer(),
        t0,
    );
    let out = sent(&mut ua);
    let ok = out
        .iter()
        .find(|m| m.starts_with("SIP/2.0 200"))
        .expect("200 to unhold");
    assert!(ok.contains("a=sendrecv"), "{ok}");
    assert!(matches!(
        events(&mut ua).as_slice(),
        [UaEvent::MediaChanged { media, .. }] if media.local_direction == media::Direction::SendRecv
    ));
}

#[test]
fn protocol_answers_without_the_switchboard() {
    let mut ua = ua();
    let t0 = Instant::now();
    let options = "OPTIONS sip:127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKo\r\n\
        From: <sip:ping@127.0.0.1>;tag=p\r\nTo: <sip:127.0.0.1:5060>\r\nCall-ID: o@test\r\nCSeq: 1 OPTIONS\r\n\
        Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n";
    ua.handle_datagram(options.as_bytes(), peer(), t0);
    let out = sent(&mut ua);
    assert_eq!(status_line(&out[0]), "SIP/2.0 200 OK");
    assert!(header(&out[0], "Allow").unwrap().contains("INVITE"));

    let no_codec = OFFER.replace("8 0 101", "18").replace(
        "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n",
        "a=rtpmap:18 G729/8000\r\n",
    );
    ua.handle_datagram(&invite("z9hG4bKg", "g@test", &no_codec), peer(), t0);
    assert_eq!(
        status_line(&sent(&mut ua)[0]),
        "SIP/2.0 488 Not Acceptable Here"
    );

    let bye = in_dialog("BYE", "z9hG4bKx", "none@test", "nosuchtag", 2, "");
    ua.handle_datagram(&bye, peer(), t0);
    assert_eq!(
        status_line(&sent(&mut ua)[0]),
        "SIP/2.0 481 Call/Transaction Does Not Exist"
    );

    let mut mf0 = String::from_utf8(invite("z9hG4bKm", "m@test", OFFER)).unwrap();
    mf0 = mf0.replace("Max-Forwards: 70", "Max-Forwards: 0");
    ua.handle_datagram(mf0.as_bytes(), peer(), t0);
    assert_eq!(status_line(&sent(&mut ua)[0]), "SIP/2.0 483 Too Many Hops");

    let mut req = String::from_utf8(invite("z9hG4bKr", "r@test", OFFER)).unwrap();
    req = req.replace(
        "Max-Forwards: 70\r\n",
        "Max-Forwards: 70\r\nRequire: 100rel\r\n",
    );
    ua.handle_datagram(req.as_bytes(), peer(), t0);
    let out = sent(&mut ua);
    assert_eq!(status_line(&out[0]), "SIP/2.0 420 Bad Extension");
    assert_eq!(header(&out[0], "Unsupported"), Some("100rel"));

    let subscribe = options
        .replace("OPTIONS", "SUBSCRIBE")
        .replace("z9hG4bKo", "z9hG4bKs");
    ua.handle_datagram(subscribe.as_bytes(), peer(), t0);
    let out = sent(&mut ua);
    assert_eq!(status_line(&out[0]), "SIP/2.0 405 Method Not Allowed");
    assert!(header(&out[0], "Allow").is_some());
    assert!(events(&mut ua).is_empty(), "no call was offered");
}

#[test]
fn malformed_and_unknown_requests_get_400_and_501() {
    let mut ua = ua();
    let t0 = Instant::now();
    let no_call_id = String::from_utf8(invite("z9hG4bKb", "b@test", OFFER))
        .unwrap()
        .replace("Call-ID: b@test\r\n", "");
    ua.handle_datagram(no_call_id.as_bytes(), peer(), t0);
    let out = sent(&mut ua);
    assert!(
        status_line(&out[0]).starts_with("SIP/2.0 400 "),
        "{}",
        out[0]
    );
    assert!(header(&out[0], "Via").unwrap().contains("z9hG4bKb"));

    let foo = "FOO sip:127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKf\r\n\
        From: <sip:x@127.0.0.1>;tag=f\r\nTo: <sip:127.0.0.1:5060>\r\nCall-ID: f@test\r\nCSeq: 1 FOO\r\n\
        Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n";
    ua.handle_datagram(foo.as_bytes(), peer(), t0);
    let out = sent(&mut ua);
    assert_eq!(status_line(&out[0]), "SIP/2.0 501 Not Implemented");

    for garbage in [
        &b"\x00\x01\x02garbage"[..],
        b"INVITE\r\n\r\n",
        b"SIP/2.0 200\r\n\r\n",
    ] {
        ua.handle_datagram(garbage, peer(), t0);
    }
    assert!(sent(&mut ua).is_empty(), "nothing routable to answer");
    assert_eq!(ua.stats().malformed, 5, "FOO counts as malformed too");
    assert!(events(&mut ua).is_empty());
}

#[test]
fn retransmitted_invite_is_absorbed() {
    let mut ua = ua();
    let t0 = Instant::now();
    let msg = invite("z9hG4bKrt", "rt@test", OFFER);
    ua.handle_datagram(&msg, peer(), t0);
    ua.handle_datagram(&msg, peer(), t0 + Duration::from_millis(500));
    let offered = events(&mut ua)
        .iter()
        .filter(|e| matches!(e, UaEvent::IncomingCall(_)))
        .count();
    assert_eq!(offered, 1);
    assert_eq!(ua.calls(), 1);
}

#[test]
fn a_missing_ack_ends_the_call_with_bye() {
    let mut ua = ua();
    let (call, _tag, t0) = answered_call(&mut ua, "na@test");
    // Timer L / 64*T1 without an ACK (RFC 3261 §13.3.1.4).
    let mut now = t0;
    while let Some(deadline) = ua.poll_timeout() {
        if deadline > t0 + Duration::from_secs(40) {
            break;
        }
        now = deadline;
        ua.handle_timeout(now);
        if sent(&mut ua).iter().any(|m| m.starts_with("BYE ")) {
            break;
        }
    }
    assert!(now >= t0 + Duration::from_secs(32), "BYE only after 64*T1");
    assert_eq!(ua.calls(), 1, "still ending: waiting for the BYE's answer");
    let _ = call;
}

#[test]
fn cancel_after_the_answer_gets_200_and_changes_nothing() {
    let mut ua = ua();
    let (call, _tag, t0) = answered_call(&mut ua, "ca@test");
    let cancel = "CANCEL sip:800100200@127.0.0.1:5060 SIP/2.0\r\n\
        Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKinv\r\n\
        From: \"Maria\" <sip:0600000001@127.0.0.1:5070>;tag=caller1\r\n\
        To: <sip:800100200@127.0.0.1:5060>\r\n\
        Call-ID: ca@test\r\nCSeq: 1 CANCEL\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n";
    ua.handle_datagram(cancel.as_bytes(), peer(), t0 + Duration::from_millis(10));
    let out = sent(&mut ua);
    let ok = out
        .iter()
        .find(|m| header(m, "CSeq").is_some_and(|c| c.ends_with("CANCEL")));
    assert_eq!(status_line(ok.expect("CANCEL answered")), "SIP/2.0 200 OK");
    assert!(!out.iter().any(|m| m.starts_with("SIP/2.0 487")));
    assert!(events(&mut ua).is_empty());
    assert_eq!(ua.calls(), 1);
    let _ = call;
}

#[test]
fn responses_are_routed_per_via() {
    let mut ua = ua();
    let t0 = Instant::now();
    let options = |branch: &str, via_tail: &str| {
        format!(
            "OPTIONS sip:127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5080;branch={branch}{via_tail}\r\n\
             From: <sip:ping@127.0.0.1>;tag=p\r\nTo: <sip:127.0.0.1:5060>\r\nCall-ID: {branch}@test\r\n\
             CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
        )
    };
    // Without rport: to the sent-by port (RFC 3261 §18.2.2), not the source port.
    ua.handle_datagram(options("z9hG4bKv1", "").as_bytes(), peer(), t0);
    let (to, _) = ua.poll_transmit().unwrap();
    assert_eq!(to.addr, "127.0.0.1:5080".parse().unwrap());
    // With rport: back to the source address and port (RFC 3581 §4).
    ua.handle_datagram(options("z9hG4bKv2", ";rport").as_bytes(), peer(), t0);
    let (to, bytes) = ua.poll_transmit().unwrap();
    assert_eq!(to.addr, CALLER.parse().unwrap());
    let text = String::from_utf8(bytes).unwrap();
    assert!(
        header(&text, "Via").unwrap().contains("rport=5070"),
        "{text}"
    );
}

/// Issue 14: an OPTIONS whose Via names another `maddr` got its response there, so a spoofed
/// request could aim responses at a third party. It goes to the source now.
#[test]
fn a_via_maddr_does_not_redirect_the_response() {
    let mut ua = ua();
    let t0 = Instant::now();
    for (branch, params) in [
        ("z9hG4bKm1", ";maddr=192.0.2.99"),
        ("z9hG4bKm2", ";maddr=192.0.2.99;rport"),
        ("z9hG4bKm3", ";maddr=239.255.255.1;ttl=1"),
    ] {
        let options = format!(
            "OPTIONS sip:127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch={branch}{params}\r\n\
             From: <sip:ping@127.0.0.1>;tag=p\r\nTo: <sip:127.0.0.1:5060>\r\nCall-ID: {branch}@test\r\n\
             CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
        );
        ua.handle_datagram(options.as_bytes(), peer(), t0);
        let (to, bytes) = ua.poll_transmit().expect("answered");
        assert!(String::from_utf8(bytes).unwrap().starts_with("SIP/2.0 200"));
        assert_eq!(to.addr, CALLER.parse().unwrap(), "{params}");
    }
}

#[test]
fn requests_from_outside_allow_from_are_dropped_unanswered() {
    let mut ua = UserAgent::new(UserAgentConfig {
        allow_from: vec!["192.0.2.0/24".parse().unwrap()],
        ..UserAgentConfig::default()
    });
    let t0 = Instant::now();
    ua.handle_datagram(&invite("z9hG4bKacl", "acl@test", OFFER), peer(), t0);
    ua.handle_datagram(b"garbage", peer(), t0);
    assert!(sent(&mut ua).is_empty());
    assert!(events(&mut ua).is_empty());
    assert_eq!(ua.stats().denied, 2);
    assert_eq!(ua.stats().malformed, 0);

    let pbx = Peer {
        addr: "192.0.2.7:5060".parse().unwrap(),
        transport: TransportKind::Udp,
    };
    // (Its media on its own network: loopback media from a remote peer is refused.)
    let offer = offer_at("192.0.2.7");
    ua.handle_datagram(&invite("z9hG4bKacl2", "acl2@test", &offer), pbx, t0);
    assert!(matches!(
        events(&mut ua).as_slice(),
        [UaEvent::IncomingCall(_)]
    ));
}

/// A REFER in the dialog of an answered call, with `extra` header lines.
fn refer(branch: &str, call_id: &str, to_tag: &str, cseq: u32, extra: &str) -> Vec<u8> {
    format!(
        "REFER sip:centralino@127.0.0.1:5060 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:5070;branch={branch}\r\n\
         From: \"Maria\" <sip:0600000001@127.0.0.1:5070>;tag=caller1\r\n\
         To: <sip:800100200@127.0.0.1:5060>;tag={to_tag}\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: {cseq} REFER\r\n\
         Contact: <sip:0600000001@127.0.0.1:5070>\r\n\
         Max-Forwards: 70\r\n\
         {extra}Content-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

/// The 200 a phone sends to our in-dialog `request`.
fn ok_to(request: &str) -> Vec<u8> {
    format!(
        "SIP/2.0 200 OK\r\nVia: {}\r\nFrom: {}\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: {}\r\nContent-Length: 0\r\n\r\n",
        header(request, "Via").unwrap(),
        header(request, "From").unwrap(),
        header(request, "To").unwrap(),
        header(request, "Call-ID").unwrap(),
        header(request, "CSeq").unwrap(),
    )
    .into_bytes()
}

#[test]
fn refer_is_accepted_reported_and_notified_until_the_final_status() {
    let mut ua = ua();
    let (call, tag, t0) = answered_call(&mut ua, "r1@test");
    ua.handle_datagram(
        &in_dialog("ACK", "z9hG4bKa", "r1@test", &tag, 1, ""),
        peer(),
        t0,
    );
    ua.handle_datagram(
        &refer(
            "z9hG4bKr1",
            "r1@test",
            &tag,
            2,
            "Refer-To: <sip:secondo-livello@127.0.0.1:5060>\r\nReferred-By: <sip:1001@127.0.0.1>\r\n",
        ),
        peer(),
        t0,
    );
    let out = sent(&mut ua);
    let accepted = out
        .iter()
        .find(|m| m.starts_with("SIP/2.0 202"))
        .expect("202");
    assert!(
        header(accepted, "To")
            .unwrap()
            .contains(&format!("tag={tag}"))
    );
    assert!(header(accepted, "Contact").is_some(), "{accepted}");
    let trying = out
        .iter()
        .find(|m| m.starts_with("NOTIFY "))
        .expect("NOTIFY");
    assert!(
        trying.starts_with("NOTIFY sip:0600000001@127.0.0.1:5070 SIP/2.0"),
        "{trying}"
    );
    assert_eq!(header(trying, "Event"), Some("refer"));
    assert_eq!(
        header(trying, "Subscription-State"),
        Some("active;expires=60")
    );
    assert_eq!(
        header(trying, "Content-Type"),
        Some("message/sipfrag;version=2.0")
    );
    assert!(
        trying.ends_with("\r\n\r\nSIP/2.0 100 Trying\r\n"),
        "{trying}"
    );
    match events(&mut ua).as_slice() {
        [
            UaEvent::TransferRequested {
                call: c,
                target,
                referred_by,
            },
        ] => {
            assert_eq!(*c, call);
            assert_eq!(target.user.as_deref(), Some("secondo-livello"));
            assert_eq!(referred_by.as_deref(), Some("<sip:1001@127.0.0.1>"));
        }
        other => panic!("{other:?}"),
    }
    let t1 = t0 + Duration::from_millis(50);
    ua.handle_datagram(&ok_to(trying), peer(), t1);

    // A second REFER while the first is pending waits its turn.
    ua.handle_datagram(
        &refer(
            "z9hG4bKr2",
            "r1@test",
            &tag,
            3,
            "Refer-To: <sip:tecnica@127.0.0.1>\r\n",
        ),
        peer(),
        t1,
    );
    assert!(sent(&mut ua).iter().any(|m| m.starts_with("SIP/2.0 491")));
    assert!(events(&mut ua).is_empty());

    // The caller is taken over: the last NOTIFY ends the subscription.
    ua.notify_transfer(call, 200, t1).unwrap();
    let out = sent(&mut ua);
    let done = out
        .iter()
        .find(|m| m.starts_with("NOTIFY "))
        .expect("final NOTIFY");
    assert_eq!(
        header(done, "Subscription-State"),
        Some("terminated;reason=noresource")
    );
    assert!(done.ends_with("\r\n\r\nSIP/2.0 200 OK\r\n"), "{done}");
    let cseqs: Vec<u32> = [trying, done]
        .iter()
        .map(|m| {
            header(m, "CSeq")
                .unwrap()
                .split(' ')
                .next()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    assert!(cseqs[1] > cseqs[0], "{cseqs:?}");
    // Nothing more to say once it ended.
    ua.notify_transfer(call, 200, t1).unwrap();
    assert!(sent(&mut ua).is_empty());
}

#[test]
fn refer_without_a_usable_target_is_refused_with_the_reason() {
    let mut ua = ua();
    let (_, tag, t0) = answered_call(&mut ua, "r2@test");
    ua.handle_datagram(
        &in_dialog("ACK", "z9hG4bKa", "r2@test", &tag, 1, ""),
        peer(),
        t0,
    );
    ua.handle_datagram(&refer("z9hG4bKr1", "r2@test", &tag, 2, ""), peer(), t0);
    let out = sent(&mut ua);
    assert_eq!(status_line(&out[0]), "SIP/2.0 400 missing Refer-To");
    // The compact form `r` is understood, and what it names must be a SIP URI.
    ua.handle_datagram(
        &refer(
            "z9hG4bKr2",
            "r2@test",
            &tag,
            3,
            "r: <mailto:x@example.org>\r\n",
        ),
        peer(),
        t0,
    );
    let out = sent(&mut ua);
    assert!(
        status_line(&out[0]).starts_with("SIP/2.0 400 Refer-To: not a sip:"),
        "{}",
        out[0]
    );
    assert!(events(&mut ua).is_empty());
}

#[test]
fn refer_sub_false_gets_no_notify_and_a_lost_notify_keeps_the_call() {
    let mut ua = ua();
    let (call, tag, t0) = answered_call(&mut ua, "r3@test");
    ua.handle_datagram(
        &in_dialog("ACK", "z9hG4bKa", "r3@test", &tag, 1, ""),
        peer(),
        t0,
    );
    ua.handle_datagram(
        &refer(
            "z9hG4bKr1",
            "r3@test",
            &tag,
            2,
            "Refer-To: <sip:tecnica@127.0.0.1>\r\nRefer-Sub: false\r\n",
        ),
        peer(),
        t0,
    );
    let out = sent(&mut ua);
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(header(&out[0], "Refer-Sub"), Some("false"));
    assert_eq!(events(&mut ua).len(), 1);
    ua.notify_transfer(call, 200, t0).unwrap();
    assert!(sent(&mut ua).is_empty());

    // With a subscription, a NOTIFY nobody answers times out without ending the call.
    ua.handle_datagram(
        &refer(
            "z9hG4bKr2",
            "r3@test",
            &tag,
            3,
            "Refer-To: <sip:tecnica@127.0.0.1>\r\n",
        ),
        peer(),
        t0,
    );
    let _ = sent(&mut ua);
    let _ = events(&mut ua);
    let mut now = t0;
    for _ in 0..80 {
        now += Duration::from_secs(1);
        ua.handle_timeout(now);
        let _ = sent(&mut ua);
    }
    assert!(
        !events(&mut ua)
            .iter()
            .any(|e| matches!(e, UaEvent::CallEnded { .. })),
        "the call goes on"
    );
    assert_eq!(ua.calls(), 1);
}

#[test]
fn refer_before_the_answer_is_forbidden() {
    let mut ua = ua();
    let t0 = Instant::now();
    ua.handle_datagram(&invite("z9hG4bKinv", "r4@test", OFFER), peer(), t0);
    let Some(UaEvent::IncomingCall(incoming)) = ua.poll_event() else {
        panic!("no incoming call")
    };
    ua.ring(incoming.call, t0).unwrap();
    let ringing = sent(&mut ua)
        .into_iter()
        .find(|m| m.starts_with("SIP/2.0 180"))
        .unwrap();
    let tag = build::tag_of(header(&ringing, "To").unwrap())
        .unwrap()
        .to_string();
    ua.handle_datagram(
        &refer(
            "z9hG4bKr1",
            "r4@test",
            &tag,
            2,
            "Refer-To: <sip:tecnica@h>\r\n",
        ),
        peer(),
        t0,
    );
    assert!(sent(&mut ua).iter().any(|m| m.starts_with("SIP/2.0 403")));
}

/// An INVITE from the caller's address with extra header lines before Content-Type.
fn invite_with(extra: &str) -> Vec<u8> {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let text = String::from_utf8(invite(
        &format!("z9hG4bKpai{n}"),
        &format!("pai{n}@test"),
        OFFER,
    ))
    .unwrap();
    text.replacen("Content-Type:", &format!("{extra}Content-Type:"), 1)
        .into_bytes()
}

fn offered(ua: &mut UserAgent, bytes: &[u8]) -> IncomingCall {
    ua.handle_datagram(bytes, peer(), Instant::now());
    match events(ua).as_slice() {
        [UaEvent::IncomingCall(incoming)] => (**incoming).clone(),
        other => panic!("expected one incoming call, got {other:?}"),
    }
}

/// Issue 14: the caller's number came from From, which any caller writes. From a trusted
/// trunk it now comes from P-Asserted-Identity (sip: user part or tel: number), and the
/// trunk's `Privacy: id` is passed on.
#[test]
fn asserted_identity_from_a_trusted_trunk_is_the_caller() {
    let mut ua = UserAgent::new(UserAgentConfig {
        trust_asserted_identity_from: vec!["127.0.0.1/32".parse().unwrap()],
        ..UserAgentConfig::default()
    });
    let call = offered(
        &mut ua,
        &invite_with("P-Asserted-Identity: \"Rossi\" <sip:+390612345678@carrier.example>\r\n"),
    );
    assert_eq!(call.caller(), Some("+390612345678"));
    assert_eq!(call.from_user.as_deref(), Some("0600000001"));
    assert!(!call.privacy_id);
    let call = offered(
        &mut ua,
        &invite_with(
            "P-Asserted-Identity: <tel:+39-06-1234-5679>\r\n\
             p-asserted-identity: <sip:other@carrier.example>\r\nPrivacy: id\r\n",
        ),
    );
    assert_eq!(call.caller(), Some("+390612345679"));
    assert!(call.privacy_id, "the trunk asked for privacy");
    // A value that is no number is not taken: the From user stays the caller.
    let call = offered(
        &mut ua,
        &invite_with("P-Asserted-Identity: <sip:a%0Ab@carrier.example>\r\n"),
    );
    assert_eq!(call.caller(), Some("0600000001"));
}

/// From a source not trusted, P-Asserted-Identity (and Privacy) is ignored.
#[test]
fn asserted_identity_from_anyone_else_is_ignored() {
    let mut ua = UserAgent::new(UserAgentConfig {
        trust_asserted_identity_from: vec!["192.0.2.0/24".parse().unwrap()],
        ..UserAgentConfig::default()
    });
    let call = offered(
        &mut ua,
        &invite_with("P-Asserted-Identity: <sip:+390699999999@forged.example>\r\nPrivacy: id\r\n"),
    );
    assert_eq!(call.asserted_user, None);
    assert_eq!(call.caller(), Some("0600000001"));
    assert!(!call.privacy_id);
    // And with the default (trust no one) too.
    let call = offered(
        &mut UserAgent::new(UserAgentConfig::default()),
        &invite_with("P-Asserted-Identity: <sip:+390699999999@forged.example>\r\n"),
    );
    assert_eq!(call.caller(), Some("0600000001"));
}

/// The test offer with its connection address replaced.
fn offer_at(ip: &str) -> String {
    OFFER.replace("c=IN IP4 127.0.0.1", &format!("c=IN IP4 {ip}"))
}

/// What an INVITE from `source` with its media at `ip` gets: the status of our final
/// response (200 stands for "offered to the switchboard", answered here).
fn invite_media(ua: &mut UserAgent, source: &str, ip: &str, n: u32) -> u16 {
    let from = Peer {
        addr: source.parse().unwrap(),
        transport: TransportKind::Udp,
    };
    let t0 = Instant::now();
    ua.handle_datagram(
        &invite(
            &format!("z9hG4bKc{n}"),
            &format!("c{n}@media"),
            &offer_at(ip),
        ),
        from,
        t0,
    );
    if let [UaEvent::IncomingCall(incoming)] = events(ua).as_slice() {
        ua.answer(incoming.call, "127.0.0.1:20000".parse().unwrap(), t0)
            .unwrap();
    }
    let out = sent(ua);
    let last = out.last().expect("an answer");
    status_line(last)
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap()
}

/// Issue 14, reflection: an offer may not aim our RTP at multicast, broadcast, or loopback
/// (unless the signalling came from loopback), nor outside `media_networks` when set; the
/// unspecified address is hold and stays accepted.
#[test]
fn offers_aiming_media_elsewhere_get_488() {
    let mut ua = UserAgent::new(UserAgentConfig {
        allow_from: vec!["0.0.0.0/0".parse().unwrap()],
        ..UserAgentConfig::default()
    });
    let lo = "127.0.0.1:5070";
    let remote = "192.0.2.7:5060";
    assert_eq!(invite_media(&mut ua, lo, "224.0.0.1", 1), 488);
    assert_eq!(invite_media(&mut ua, lo, "239.255.255.250", 2), 488);
    assert_eq!(invite_media(&mut ua, lo, "255.255.255.255", 3), 488);
    assert_eq!(invite_media(&mut ua, remote, "127.0.0.1", 4), 488);
    assert_eq!(invite_media(&mut ua, lo, "127.0.0.1", 5), 200);
    assert_eq!(invite_media(&mut ua, remote, "192.0.2.8", 6), 200);
    assert_eq!(invite_media(&mut ua, remote, "0.0.0.0", 7), 200, "hold");

    let mut ua = UserAgent::new(UserAgentConfig {
        allow_from: vec!["0.0.0.0/0".parse().unwrap()],
        media_networks: vec!["10.0.0.0/8".parse().unwrap()],
        ..UserAgentConfig::default()
    });
    assert_eq!(invite_media(&mut ua, remote, "192.0.2.8", 8), 488);
    assert_eq!(invite_media(&mut ua, remote, "10.1.2.3", 9), 200);
}

/// A re-INVITE moving the media to a refused address gets 488 and the call keeps its media.
#[test]
fn a_reinvite_aiming_media_elsewhere_is_refused_and_the_call_keeps_its_media() {
    let mut ua = ua();
    let (_call, tag, t0) = answered_call(&mut ua, "c7@test");
    ua.handle_datagram(
        &in_dialog("ACK", "z9hG4bKa", "c7@test", &tag, 1, ""),
        peer(),
        t0,
    );
    ua.handle_datagram(
        &in_dialog(
            "INVITE",
            "z9hG4bKr1",
            "c7@test",
            &tag,
            2,
            &offer_at("224.0.1.1"),
        ),
        peer(),
        t0,
    );
    let out = sent(&mut ua);
    assert!(out.iter().any(|m| m.starts_with("SIP/2.0 488")), "{out:?}");
    assert!(events(&mut ua).is_empty(), "no media change");
    // The call is still there and a sound re-INVITE is taken.
    let hold = format!("{OFFER}a=sendonly\r\n");
    ua.handle_datagram(
        &in_dialog("INVITE", "z9hG4bKr2", "c7@test", &tag, 3, &hold),
        peer(),
        t0,
    );
    assert!(sent(&mut ua).iter().any(|m| m.starts_with("SIP/2.0 200")));
    assert!(matches!(
        events(&mut ua).as_slice(),
        [UaEvent::MediaChanged { .. }]
    ));
}

/// Issue 14: an INVITE over `max_calls` gets 503 and is reported as
/// [`UaEvent::CallRefused`] (the event log's `call.refused`, SLA.C.1), once even when the
/// INVITE is retransmitted; an INVITE from outside `allow_from` is not a contact and is not.
#[test]
fn an_invite_over_max_calls_is_refused_with_503_and_reported_once() {
    let mut ua = UserAgent::new(UserAgentConfig {
        max_calls: 1,
        ..UserAgentConfig::default()
    });
    let now = Instant::now();
    ua.handle_datagram(&invite("z9hG4bKfirst", "first", OFFER), peer(), now);
    assert!(matches!(
        events(&mut ua).as_slice(),
        [UaEvent::IncomingCall(_)]
    ));
    let _ = sent(&mut ua);
    let second = invite("z9hG4bKsecond", "second", OFFER);
    ua.handle_datagram(&second, peer(), now);
    let out = sent(&mut ua);
    assert_eq!(status_line(&out[0]), "SIP/2.0 503 Service Unavailable");
    match events(&mut ua).as_slice() {
        [
            UaEvent::CallRefused {
                sip_call_id,
                caller,
                called,
                reason,
            },
        ] => {
            assert_eq!(sip_call_id, "second");
            assert_eq!(caller.as_deref(), Some("0600000001"));
            assert_eq!(called.as_deref(), Some("800100200"));
            assert_eq!(*reason, "capacity");
        }
        other => panic!("{other:?}"),
    }
    // The retransmission is absorbed by its transaction: the 503 again, no second event.
    ua.handle_datagram(&second, peer(), now + Duration::from_millis(500));
    assert_eq!(
        status_line(&sent(&mut ua)[0]),
        "SIP/2.0 503 Service Unavailable"
    );
    assert!(events(&mut ua).is_empty());
    // From outside allow_from: dropped, not a contact.
    let outside = Peer {
        addr: "192.0.2.50:5060".parse().unwrap(),
        transport: TransportKind::Udp,
    };
    ua.handle_datagram(&invite("z9hG4bKthird", "third", OFFER), outside, now);
    assert!(sent(&mut ua).is_empty());
    assert!(events(&mut ua).is_empty());
}
