//! SDP properties: no text panics the reader, Display round-trips, answers read back.

use std::net::SocketAddr;

use proptest::prelude::*;

use super::super::*;
use super::{G711, origin};

fn arb_token() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9+./-]{1,12}"
}

prop_compose! {
    fn arb_media()(
        media in prop_oneof![Just("audio".to_owned()), Just("video".to_owned()), arb_token()],
        port in any::<u16>(),
        port_count in proptest::option::of(1u16..8),
        proto in prop_oneof![Just("RTP/AVP".to_owned()), Just("RTP/AVPF".to_owned()), Just("RTP/SAVP".to_owned()), arb_token()],
        formats in proptest::collection::vec(prop_oneof![(0u8..128).prop_map(|p| p.to_string()), arb_token()], 1..6),
        connection in proptest::option::of(prop_oneof![Just("0.0.0.0"), Just("192.0.2.7"), Just("::1"), Just("host.example")]),
        attributes in proptest::collection::vec((
            prop_oneof![Just("rtpmap"), Just("fmtp"), Just("ptime"), Just("sendonly"), Just("inactive"), Just("x-y")],
            proptest::option::of(prop_oneof![
                (0u8..128, prop_oneof![Just("PCMU/8000"), Just("PCMA/8000"), Just("telephone-event/8000"), Just("opus/48000/2")])
                    .prop_map(|(pt, e)| format!("{pt} {e}")),
                "[ -~]{0,20}",
            ]),
        ), 0..8),
    ) -> MediaDescription {
        MediaDescription {
            media,
            port,
            port_count,
            proto,
            formats,
            title: None,
            connection: connection.map(|a| Connection { net_type: "IN".into(), addr_type: "IP4".into(), address: a.into() }),
            bandwidths: vec![],
            encryption_key: None,
            attributes: attributes.into_iter().map(|(n, v)| Attribute { name: n.into(), value: v }).collect(),
        }
    }
}

prop_compose! {
    fn arb_sdp()(
        session_name in "[ -~]{0,20}",
        connection in proptest::option::of(Just(Connection::new("198.51.100.1".parse().unwrap()))),
        attributes in proptest::collection::vec((arb_token(), proptest::option::of("[ -~]{0,10}")), 0..3),
        media in proptest::collection::vec(arb_media(), 0..4),
        bandwidth in proptest::option::of(any::<u32>()),
    ) -> SessionDescription {
        let mut sdp = parse("v=0\r\no=- 1 2 IN IP4 192.0.2.1\r\n").unwrap();
        sdp.session_name = session_name;
        sdp.connection = connection;
        sdp.attributes = attributes.into_iter().map(|(name, value)| Attribute { name, value }).collect();
        sdp.bandwidths = bandwidth.map(|b| Bandwidth { bwtype: "AS".into(), bandwidth: b.into() }).into_iter().collect();
        sdp.media = media;
        sdp
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,400}") {
        if let Ok(sdp) = parse(&text) {
            let _ = negotiate(&sdp, G711);
            prop_assert_eq!(parse(&sdp.to_string()).unwrap(), sdp);
        }
    }

    #[test]
    fn sdp_shaped_text_never_panics(text in "v=0\r?\no=[ -~]{0,30}\r?\n([a-z]=[ -~]{0,30}\r?\n){0,12}") {
        if let Ok(sdp) = parse(&text) {
            let _ = negotiate(&sdp, G711);
            prop_assert_eq!(parse(&sdp.to_string()).unwrap(), sdp);
        }
    }

    #[test]
    fn display_round_trips(sdp in arb_sdp()) {
        let text = sdp.to_string();
        prop_assert_eq!(parse(&text).unwrap(), sdp);
    }

    /// Whatever we agree to, the answer we build reads back to the same choice.
    #[test]
    fn answers_read_back_to_the_same_choice(sdp in arb_sdp(), port in 1u16..) {
        if let Ok(n) = negotiate(&sdp, G711) {
            let local_rtp = SocketAddr::new("192.0.2.100".parse().unwrap(), port);
            let answer = build_answer(&sdp, &n, local_rtp, &origin());
            prop_assert_eq!(answer.media.len(), sdp.media.len());
            let answer = parse(&answer.to_string()).unwrap();
            let back = negotiate_answer(&sdp, &answer).unwrap();
            prop_assert_eq!(back.codec, n.codec);
            prop_assert_eq!(back.payload_type, n.payload_type);
            prop_assert_eq!(back.dtmf_payload_type, n.dtmf_payload_type);
            prop_assert_eq!(back.media_index, n.media_index);
            prop_assert_eq!(back.remote_rtp, local_rtp);
            if !n.remote_rtp.ip().is_unspecified() {
                prop_assert_eq!(back.local_direction, n.remote_direction);
            }
        }
    }
}
