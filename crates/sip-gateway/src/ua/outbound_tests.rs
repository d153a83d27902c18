//! Calls we place, against hand-written callee responses on fake time.

use std::time::{Duration, Instant};

use super::tests::{events, header, peer, sent, ua};
use super::*;

pub(super) const ANSWER: &str = "v=0\r\no=- 7 7 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
    m=audio 42000 RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n";

pub(super) fn outgoing() -> OutgoingCall {
    OutgoingCall {
        target: rsip::Uri::try_from("sip:1001@127.0.0.1:5070").unwrap(),
        peer: peer(),
        to: "<sip:1001@127.0.0.1>".into(),
        from_user: "0600000001".into(),
        from_display: Some("Maria \"R\"".into()),
        local_rtp: "127.0.0.1:20010".parse().unwrap(),
        dtmf_payload_type: 101,
        external_offer: None,
    }
}

/// A response to `request` as a callee would send it.
pub(super) fn respond(request: &str, code: u16, to_tag: Option<&str>, sdp: &str) -> Vec<u8> {
    let to = header(request, "To").unwrap();
    let to = match to_tag {
        Some(tag) => format!("{to};tag={tag}"),
        None => to.to_string(),
    };
    let ct = if sdp.is_empty() {
        ""
    } else {
        "Content-Type: application/sdp\r\n"
    };
    format!(
        "SIP/2.0 {code} {}\r\nVia: {}\r\nFrom: {}\r\nTo: {to}\r\nCall-ID: {}\r\nCSeq: {}\r\n\
         Contact: <sip:1001@127.0.0.1:5071>\r\nRecord-Route: <sip:127.0.0.9:5090;lr>\r\n{ct}Content-Length: {}\r\n\r\n{sdp}",
        crate::message::reason_phrase(code),
        header(request, "Via").unwrap(),
        header(request, "From").unwrap(),
        header(request, "Call-ID").unwrap(),
        header(request, "CSeq").unwrap(),
        sdp.len()
    )
    .into_bytes()
}

fn placed() -> (UserAgent, CallRef, String, Instant) {
    let mut ua = ua();
    let t0 = Instant::now();
    let call = ua.call(outgoing(), t0).unwrap();
    let out = sent(&mut ua);
    assert_eq!(out.len(), 1);
    (ua, call, out[0].clone(), t0)
}

#[test]
fn the_invite_carries_our_offer_and_identity() {
    let (_ua, _call, invite, _) = placed();
    assert!(
        invite.starts_with("INVITE sip:1001@127.0.0.1:5070 SIP/2.0\r\n"),
        "{invite}"
    );
    assert!(header(&invite, "Via").unwrap().contains(";branch=z9hG4bK"));
    let from = header(&invite, "From").unwrap();
    assert!(
        from.starts_with("\"Maria R\" <sip:0600000001@127.0.0.1:5060>;tag="),
        "{from}"
    );
    assert_eq!(header(&invite, "To"), Some("<sip:1001@127.0.0.1>"));
    assert_eq!(header(&invite, "CSeq"), Some("1 INVITE"));
    assert!(
        header(&invite, "Contact")
            .unwrap()
            .contains("sip:centralino@127.0.0.1:5060")
    );
    assert!(invite.contains("m=audio 20010 RTP/AVP 0 8 101"), "{invite}");
    assert!(invite.contains("a=rtpmap:101 telephone-event/8000"));
}

#[test]
fn ringing_then_answer_gives_progress_ack_and_answered() {
    let (mut ua, call, invite, t0) = placed();
    ua.handle_datagram(&respond(&invite, 180, Some("callee"), ""), peer(), t0);
    assert!(matches!(
        events(&mut ua).as_slice(),
        [UaEvent::Progress { call: c, status: 180 }] if *c == call
    ));
    ua.handle_datagram(&respond(&invite, 200, Some("callee"), ANSWER), peer(), t0);
    let out = sent(&mut ua);
    let ack = out
        .iter()
        .find(|m| m.starts_with("ACK "))
        .expect("ACK sent");
    // RFC 3261 §13.2.2.4: Request-URI = Contact of the 2xx, same CSeq number, new branch,
    // route set from the reversed Record-Route.
    assert!(
        ack.starts_with("ACK sip:1001@127.0.0.1:5071 SIP/2.0"),
        "{ack}"
    );
    assert_eq!(header(ack, "CSeq"), Some("1 ACK"));
    assert_ne!(header(ack, "Via"), header(&invite, "Via"));
    assert!(header(ack, "To").unwrap().ends_with(";tag=callee"));
    assert_eq!(header(ack, "Route"), Some("<sip:127.0.0.9:5090;lr>"));
    let evs = events(&mut ua);
    let [UaEvent::Answered { call: c, media }] = evs.as_slice() else {
        panic!("{evs:?}")
    };
    assert_eq!(*c, call);
    assert_eq!(media.codec, media::Codec::Pcma);
    assert_eq!(media.dtmf_payload_type, Some(101));
    assert_eq!(media.remote_rtp, "127.0.0.1:42000".parse().unwrap());

    // A retransmitted 2xx is ACKed again, and reported no more.
    ua.handle_datagram(
        &respond(&invite, 200, Some("callee"), ANSWER),
        peer(),
        t0 + Duration::from_millis(500),
    );
    assert!(sent(&mut ua).iter().any(|m| m.starts_with("ACK ")));
    assert!(events(&mut ua).is_empty());

    // Our BYE goes through the route set with the next CSeq.
    ua.hangup(call, t0 + Duration::from_secs(1)).unwrap();
    let out = sent(&mut ua);
    let bye = out
        .iter()
        .find(|m| m.starts_with("BYE "))
        .expect("BYE sent");
    assert_eq!(header(bye, "CSeq"), Some("2 BYE"));
    ua.handle_datagram(
        &respond(bye, 200, None, ""),
        peer(),
        t0 + Duration::from_secs(1),
    );
    assert!(matches!(
        events(&mut ua).as_slice(),
        [UaEvent::CallEnded {
            reason: EndReason::LocalHangup,
            ..
        }]
    ));
}

#[test]
fn hangup_while_ringing_cancels_and_ends_on_487() {
    let (mut ua, call, invite, t0) = placed();
    // Before any provisional: CANCEL must wait (RFC 3261 §9.1).
    ua.hangup(call, t0).unwrap();
    assert!(sent(&mut ua).is_empty());
    ua.handle_datagram(&respond(&invite, 180, Some("callee"), ""), peer(), t0);
    let out = sent(&mut ua);
    let cancel = out
        .iter()
        .find(|m| m.starts_with("CANCEL "))
        .expect("CANCEL sent");
    assert_eq!(
        header(cancel, "Via"),
        header(&invite, "Via"),
        "same branch as the INVITE"
    );
    assert_eq!(header(cancel, "CSeq"), Some("1 CANCEL"));
    assert_eq!(header(cancel, "To"), header(&invite, "To"));
    ua.handle_datagram(&respond(cancel, 200, Some("callee"), ""), peer(), t0);
    ua.handle_datagram(&respond(&invite, 487, Some("callee"), ""), peer(), t0);
    let out = sent(&mut ua);
    assert!(
        out.iter()
            .any(|m| m.starts_with("ACK ") && header(m, "CSeq") == Some("1 ACK")),
        "487 ACKed: {out:?}"
    );
    assert!(matches!(
        events(&mut ua).as_slice(),
        [UaEvent::CallEnded {
            reason: EndReason::LocalHangup,
            ..
        }]
    ));
    assert_eq!(ua.calls(), 0);
}

#[test]
fn busy_and_silence_end_the_call_declined() {
    let (mut ua, _call, invite, t0) = placed();
    ua.handle_datagram(&respond(&invite, 486, Some("callee"), ""), peer(), t0);
    assert!(matches!(
        events(&mut ua).as_slice(),
        [UaEvent::CallEnded {
            reason: EndReason::Declined(486),
            ..
        }]
    ));

    let (mut ua, _call, _invite, t0) = placed();
    while let Some(deadline) = ua.poll_timeout() {
        ua.handle_timeout(deadline);
        if deadline > t0 + Duration::from_secs(40) {
            break;
        }
    }
    let evs = events(&mut ua);
    assert!(
        matches!(
            evs.as_slice(),
            [UaEvent::CallEnded {
                reason: EndReason::Declined(408),
                ..
            }]
        ),
        "{evs:?}"
    );
}

#[test]
fn an_answer_without_a_common_codec_is_acked_then_ended() {
    let (mut ua, _call, invite, t0) = placed();
    let g729 = ANSWER
        .replace("RTP/AVP 8 101", "RTP/AVP 18")
        .replace("a=rtpmap:8 PCMA/8000", "a=rtpmap:18 G729/8000");
    ua.handle_datagram(&respond(&invite, 200, Some("callee"), &g729), peer(), t0);
    let out = sent(&mut ua);
    assert!(out.iter().any(|m| m.starts_with("ACK ")));
    assert!(out.iter().any(|m| m.starts_with("BYE ")));
    assert!(events(&mut ua).is_empty(), "ends when the BYE is answered");
}

/// Issue 14: only `allow_from` and the addresses we called may talk to us, and that is
/// decided before parsing. A forged answer from elsewhere (which matched our transaction by
/// its branch before) is dropped; the callee's own answer is taken, even from outside
/// `allow_from`, and once the call is over its address is refused again.
#[test]
fn only_the_called_address_and_allow_from_are_heard() {
    let mut ua = UserAgent::new(UserAgentConfig {
        allow_from: vec!["192.0.2.0/24".parse().unwrap()],
        ..UserAgentConfig::default()
    });
    let t0 = Instant::now();
    let call = ua.call(outgoing(), t0).unwrap();
    let invite = sent(&mut ua).remove(0);
    let forger = Peer {
        addr: "127.0.0.9:5070".parse().unwrap(),
        transport: TransportKind::Udp,
    };
    ua.handle_datagram(&respond(&invite, 200, Some("forged"), ANSWER), forger, t0);
    assert!(events(&mut ua).is_empty(), "a forged answer is not heard");
    assert_eq!(ua.stats().denied, 1);
    assert_eq!(ua.stats().responses_received, 0, "dropped before parsing");
    ua.handle_datagram(&respond(&invite, 200, Some("callee"), ANSWER), peer(), t0);
    assert!(matches!(
        events(&mut ua).as_slice(),
        [UaEvent::Answered { .. }]
    ));
    ua.hangup(call, t0).unwrap();
    let bye = sent(&mut ua)
        .into_iter()
        .find(|m| m.starts_with("BYE"))
        .expect("BYE sent");
    ua.handle_datagram(&respond(&bye, 200, Some("callee"), ""), peer(), t0);
    assert!(matches!(
        events(&mut ua).as_slice(),
        [UaEvent::CallEnded { .. }]
    ));
    assert!(!ua.admits(peer().addr), "the call is over");
}

/// A browser phone's call: the offer (a WebRTC leg's) goes out as made, the answer comes back
/// whole, and a re-INVITE cannot renegotiate what the UA did not negotiate.
#[test]
fn an_external_offer_is_sent_as_is_and_its_answer_handed_back_whole() {
    const WEBRTC_OFFER: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
        a=ice-lite\r\na=fingerprint:sha-256 AA:BB\r\na=group:BUNDLE 0\r\n\
        m=audio 9 UDP/TLS/RTP/SAVPF 0 8 101\r\nc=IN IP4 0.0.0.0\r\na=setup:actpass\r\n\
        a=mid:0\r\na=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\na=rtcp-mux\r\n\
        a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n\
        a=candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host\r\n";
    const WEBRTC_ANSWER: &str = "v=0\r\no=- 9 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
        a=fingerprint:sha-256 CC:DD\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0 101\r\nc=IN IP4 0.0.0.0\r\n\
        a=setup:active\r\na=mid:0\r\na=ice-ufrag:efgh\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\n\
        a=rtcp-mux\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n";
    let mut ua = ua();
    let t0 = Instant::now();
    let call = ua
        .call(
            OutgoingCall {
                external_offer: Some(WEBRTC_OFFER.into()),
                ..outgoing()
            },
            t0,
        )
        .unwrap();
    let invite = sent(&mut ua).remove(0);
    assert!(
        invite.ends_with(WEBRTC_OFFER),
        "the offer verbatim:\n{invite}"
    );
    assert!(!invite.contains("RTP/AVP"), "{invite}");

    ua.handle_datagram(
        &respond(&invite, 200, Some("callee"), WEBRTC_ANSWER),
        peer(),
        t0,
    );
    assert!(sent(&mut ua).iter().any(|m| m.starts_with("ACK ")));
    let evs = events(&mut ua);
    let [UaEvent::AnsweredSdp { call: c, sdp }] = evs.as_slice() else {
        panic!("{evs:?}")
    };
    assert_eq!((*c, sdp.as_str()), (call, WEBRTC_ANSWER));

    // The browser's hold by re-INVITE: 488, and the call goes on.
    let our_tag = header(&invite, "From")
        .unwrap()
        .split(";tag=")
        .nth(1)
        .unwrap()
        .to_string();
    let call_id = header(&invite, "Call-ID").unwrap().to_string();
    let hold = WEBRTC_ANSWER.replace("a=rtcp-mux", "a=sendonly\r\na=rtcp-mux");
    ua.handle_datagram(
        &super::tests::in_dialog("INVITE", "z9hG4bKh1", &call_id, &our_tag, 2, &hold),
        peer(),
        t0,
    );
    let out = sent(&mut ua);
    assert!(out.iter().any(|m| m.starts_with("SIP/2.0 488")), "{out:?}");
    assert!(events(&mut ua).is_empty(), "{out:?}");
}

#[test]
fn an_external_offer_that_does_not_parse_places_no_call() {
    let mut ua = ua();
    let error = ua
        .call(
            OutgoingCall {
                external_offer: Some("not sdp".into()),
                ..outgoing()
            },
            Instant::now(),
        )
        .unwrap_err();
    assert!(matches!(error, UaError::NotPlaced(ref m) if m.contains("does not parse")));
    assert!(sent(&mut ua).is_empty());
}
