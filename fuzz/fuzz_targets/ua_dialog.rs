//! In-dialog request sequences through the user agent's sans-IO core. One call is offered and
//! answered with fixed messages; then the input is cut at each `\0` into messages (the text
//! `TAG` becomes the call's To tag, so they land in the dialog) fed as datagrams from the
//! caller, with the first byte of each piece choosing a command or a time step. Whatever the
//! order (BYE, re-INVITE, REFER, CANCEL, ACK, responses to our BYE/NOTIFY), nothing panics and
//! the call's end is reported at most once.

#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use sip_gateway::transaction::{Peer, TransportKind};
use sip_gateway::ua::{UaEvent, UserAgent, UserAgentConfig};

const OFFER: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
    m=audio 40000 RTP/AVP 8 0 101\r\na=rtpmap:101 telephone-event/8000\r\n";

fn invite() -> Vec<u8> {
    format!(
        "INVITE sip:800100200@127.0.0.1:5060 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKfuzz\r\n\
         From: <sip:0600000001@127.0.0.1:5070>;tag=caller1\r\n\
         To: <sip:800100200@127.0.0.1:5060>\r\nCall-ID: fuzz@test\r\nCSeq: 1 INVITE\r\n\
         Contact: <sip:0600000001@127.0.0.1:5070>\r\nMax-Forwards: 70\r\n\
         Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{OFFER}",
        OFFER.len()
    )
    .into_bytes()
}

fuzz_target!(|data: &[u8]| {
    let peer = Peer {
        addr: "127.0.0.1:5070".parse().unwrap(),
        transport: TransportKind::Udp,
    };
    let mut ua = UserAgent::new(UserAgentConfig {
        rng_seed: Some(1),
        ..UserAgentConfig::default()
    });
    let mut now = Instant::now();
    ua.handle_datagram(&invite(), peer.clone(), now);
    let Some(UaEvent::IncomingCall(incoming)) = ua.poll_event() else {
        panic!("the fixed INVITE is offered");
    };
    let call = incoming.call;
    ua.answer(call, "127.0.0.1:20000".parse().unwrap(), now)
        .expect("answer an offered call");
    let mut tag = String::new();
    while let Some((_, bytes)) = ua.poll_transmit() {
        let text = String::from_utf8_lossy(&bytes);
        if let Some(to) = text.lines().find(|l| l.starts_with("To:"))
            && let Some(t) = to.split(";tag=").nth(1)
        {
            tag = t.trim().to_string();
        }
    }
    let mut ended = 0;
    for piece in data.split(|b| *b == 0) {
        let Some((&op, rest)) = piece.split_first() else {
            continue;
        };
        match op % 8 {
            0 => now += Duration::from_millis(u64::from(op) * 40),
            1 => {
                if let Some(deadline) = ua.poll_timeout() {
                    now = now.max(deadline);
                    ua.handle_timeout(now);
                }
            }
            2 => {
                let _ = ua.hangup(call, now);
            }
            3 => {
                let _ = ua.notify_transfer(call, 200 + u16::from(op), now);
            }
            _ => {
                let text = String::from_utf8_lossy(rest).replace("TAG", &tag);
                ua.handle_datagram(text.as_bytes(), peer.clone(), now);
            }
        }
        while ua.poll_transmit().is_some() {}
        while let Some(event) = ua.poll_event() {
            if matches!(event, UaEvent::CallEnded { call: c, .. } if c == call) {
                ended += 1;
            }
        }
        assert!(ended <= 1, "a call ends once");
    }
    // Time runs out: every transaction finishes.
    for _ in 0..64 {
        let Some(deadline) = ua.poll_timeout() else {
            break;
        };
        now = now.max(deadline) + Duration::from_secs(1);
        ua.handle_timeout(now);
        while ua.poll_transmit().is_some() {}
        while let Some(event) = ua.poll_event() {
            if matches!(event, UaEvent::CallEnded { call: c, .. } if c == call) {
                ended += 1;
            }
        }
    }
    assert!(ended <= 1, "a call ends once");
});
