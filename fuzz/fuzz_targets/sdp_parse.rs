//! The SDP reader and offer/answer: `sdp::parse`, `Display` re-parsed to the same value,
//! `negotiate`, and the answer we would build read back by `negotiate_answer` to the same
//! choice.

#![no_main]

use std::net::SocketAddr;

use libfuzzer_sys::fuzz_target;
use media::Codec;
use sip_gateway::sdp;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(offer) = sdp::parse(text) else {
        return;
    };
    let again = sdp::parse(&offer.to_string()).expect("Display re-parses");
    assert_eq!(again, offer, "parse(display(s)) == s");

    let Ok(negotiated) = sdp::negotiate(&offer, &[Codec::Pcmu, Codec::Pcma]) else {
        return;
    };
    let local: SocketAddr = "192.0.2.100:40000".parse().unwrap();
    let origin = sdp::Origin {
        username: "centralino".into(),
        session_id: 1,
        session_version: 1,
        address: local.ip(),
    };
    let answer = sdp::build_answer(&offer, &negotiated, local, &origin);
    assert_eq!(answer.media.len(), offer.media.len());
    let answer = sdp::parse(&answer.to_string()).expect("our answer parses");
    let back = sdp::negotiate_answer(&offer, &answer).expect("our answer negotiates");
    assert_eq!(
        (
            back.codec,
            back.payload_type,
            back.dtmf_payload_type,
            back.media_index
        ),
        (
            negotiated.codec,
            negotiated.payload_type,
            negotiated.dtmf_payload_type,
            negotiated.media_index
        )
    );
});
