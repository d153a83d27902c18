//! SDP parsing, offer/answer against offers shaped like real peers', and properties.

use std::net::{IpAddr, SocketAddr};

use media::Codec;

use super::*;

mod props;

pub(super) const G711: &[Codec] = &[Codec::Pcmu, Codec::Pcma];

pub(super) fn origin() -> Origin {
    Origin {
        username: "centralino".into(),
        session_id: 4242,
        session_version: 1,
        address: "192.0.2.100".parse().unwrap(),
    }
}

fn local() -> SocketAddr {
    "192.0.2.100:40000".parse().unwrap()
}

fn crlf(text: &str) -> String {
    text.lines().map(|l| format!("{}\r\n", l.trim())).collect()
}

/// What `sipp -sd uac` sends (PT 0 only).
const SIPP_UAC: &str = "v=0
o=user1 53655765 2353687637 IN IP4 127.0.0.1
s=-
c=IN IP4 127.0.0.1
t=0 0
m=audio 6000 RTP/AVP 0
a=rtpmap:0 PCMU/8000";

/// baresip-like: opus first, telephone-event on 101, no ptime.
const BARESIP: &str = "v=0
o=- 1283468823 3150392591 IN IP4 192.168.1.10
s=-
c=IN IP4 192.168.1.10
t=0 0
m=audio 10000 RTP/AVP 111 9 8 0 101
b=AS:96
a=rtpmap:111 opus/48000/2
a=fmtp:111 stereo=1;sprop-stereo=1
a=rtpmap:9 G722/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-15
a=sendrecv
a=rtcp-rsize";

/// pjsip-like: session-level b= and attribute, media-level c=, telephone-event on 96.
const PJSIP: &str = "v=0
o=- 3899178345 3899178345 IN IP4 10.0.0.5
s=pjmedia
b=AS:84
t=0 0
a=X-nat:0
m=audio 4000 RTP/AVP 98 97 0 8 96
c=IN IP4 10.0.0.5
b=TIAS:64000
a=rtcp:4001 IN IP4 10.0.0.5
a=sendrecv
a=rtpmap:98 speex/16000
a=rtpmap:97 speex/8000
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:96 telephone-event/8000
a=fmtp:96 0-16
a=ssrc:1093018279 cname:5f3b2d2c";

/// Asterisk-like: PCMA first, GSM, ptime 30.
const ASTERISK: &str = "v=0
o=- 1234 1234 IN IP4 203.0.113.5
s=Asterisk
c=IN IP4 203.0.113.5
t=0 0
m=audio 18000 RTP/AVP 8 0 3 101
a=rtpmap:8 PCMA/8000
a=rtpmap:0 PCMU/8000
a=rtpmap:3 GSM/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-16
a=ptime:30
a=maxptime:150
a=sendrecv";

fn offer(text: &str) -> SessionDescription {
    parse(&crlf(text)).unwrap()
}

#[test]
fn sipp_offer_pcmu_only() {
    let sdp = offer(SIPP_UAC);
    assert_eq!(sdp.origin.username, "user1");
    assert_eq!(sdp.media.len(), 1);
    let n = negotiate(&sdp, G711).unwrap();
    assert_eq!(n.codec, Codec::Pcmu);
    assert_eq!(n.payload_type, 0);
    assert_eq!(n.dtmf_payload_type, None);
    assert_eq!(n.ptime_ms, 20);
    assert_eq!(n.remote_rtp, "127.0.0.1:6000".parse().unwrap());
    assert_eq!(
        (n.remote_direction, n.local_direction),
        (Direction::SendRecv, Direction::SendRecv)
    );
    assert_eq!(
        negotiate(&sdp, &[Codec::Pcma]),
        Err(NegotiationError::NoCommonCodec {
            offered: vec!["PCMU/8000".into()]
        })
    );
}

#[test]
fn pcma_only_even_without_rtpmap() {
    let sdp = offer(
        &SIPP_UAC
            .replace("RTP/AVP 0", "RTP/AVP 8")
            .replace("a=rtpmap:0 PCMU/8000", ""),
    );
    let n = negotiate(&sdp, G711).unwrap();
    assert_eq!((n.codec, n.payload_type), (Codec::Pcma, 8));
}

#[test]
fn many_codecs_offer_order_wins() {
    let n = negotiate(&offer(BARESIP), G711).unwrap();
    assert_eq!(
        (n.codec, n.payload_type, n.dtmf_payload_type),
        (Codec::Pcma, 8, Some(101))
    );
    let n = negotiate(&offer(PJSIP), G711).unwrap();
    assert_eq!(
        (n.codec, n.payload_type, n.dtmf_payload_type),
        (Codec::Pcmu, 0, Some(96))
    );
    assert_eq!(n.remote_rtp, "10.0.0.5:4000".parse().unwrap());
    let n = negotiate(&offer(ASTERISK), &[Codec::Pcmu]).unwrap();
    assert_eq!((n.codec, n.payload_type, n.ptime_ms), (Codec::Pcmu, 0, 30));
}

#[test]
fn dynamic_payload_type_for_g711() {
    let sdp = offer(
        "v=0
         o=carrier 1 1 IN IP4 198.51.100.20
         s=call
         c=IN IP4 198.51.100.20
         t=0 0
         m=audio 30000 RTP/AVP 18 100 96
         a=rtpmap:18 G729/8000
         a=rtpmap:100 pcma/8000
         a=rtpmap:96 telephone-event/8000",
    );
    let n = negotiate(&sdp, G711).unwrap();
    assert_eq!(
        (n.codec, n.payload_type, n.dtmf_payload_type),
        (Codec::Pcma, 100, Some(96))
    );
    // An rtpmap overrides the static meaning; wideband G.711 is not G.711 at 8000.
    let sdp = offer(&SIPP_UAC.replace("a=rtpmap:0 PCMU/8000", "a=rtpmap:0 PCMU/16000"));
    assert!(matches!(
        negotiate(&sdp, G711),
        Err(NegotiationError::NoCommonCodec { .. })
    ));
}

#[test]
fn no_common_codec_lists_the_offer() {
    let sdp = offer(
        "v=0
         o=- 1 1 IN IP4 192.0.2.1
         s=-
         c=IN IP4 192.0.2.1
         t=0 0
         m=audio 5000 RTP/AVP 18 111 9 101
         a=rtpmap:111 opus/48000/2
         a=rtpmap:101 telephone-event/8000",
    );
    let err = negotiate(&sdp, G711).unwrap_err();
    assert_eq!(
        err,
        NegotiationError::NoCommonCodec {
            offered: vec![
                "G729/8000".into(),
                "opus/48000/2".into(),
                "G722/8000".into()
            ]
        }
    );
    assert_eq!(
        err.to_string(),
        "no common codec: offered G729/8000, opus/48000/2, G722/8000"
    );
}

#[test]
fn session_level_connection_and_ipv6() {
    let n = negotiate(&offer(SIPP_UAC), G711).unwrap();
    assert_eq!(n.remote_rtp.ip(), "127.0.0.1".parse::<IpAddr>().unwrap());
    let v6 = offer(&SIPP_UAC.replace("c=IN IP4 127.0.0.1", "c=IN IP6 ::1"));
    assert_eq!(
        negotiate(&v6, G711).unwrap().remote_rtp,
        "[::1]:6000".parse().unwrap()
    );
    // Media-level c= wins over session level.
    let both = offer(&format!("{SIPP_UAC}\nc=IN IP4 192.0.2.9"));
    assert_eq!(
        negotiate(&both, G711).unwrap().remote_rtp,
        "192.0.2.9:6000".parse().unwrap()
    );
    let none = offer(&SIPP_UAC.replace("c=IN IP4 127.0.0.1", ""));
    assert_eq!(
        negotiate(&none, G711),
        Err(NegotiationError::NoConnectionAddress)
    );
    let named = offer(&SIPP_UAC.replace("c=IN IP4 127.0.0.1", "c=IN IP4 media.example.com"));
    assert_eq!(
        negotiate(&named, G711),
        Err(NegotiationError::UnsupportedAddress(
            "media.example.com".into()
        ))
    );
}

#[test]
fn hold_offers() {
    let cases = [
        (
            format!("{SIPP_UAC}\na=sendonly"),
            Direction::SendOnly,
            Direction::RecvOnly,
        ),
        (
            format!("{SIPP_UAC}\na=inactive"),
            Direction::Inactive,
            Direction::Inactive,
        ),
        (
            format!("{SIPP_UAC}\na=recvonly"),
            Direction::RecvOnly,
            Direction::SendOnly,
        ),
        (
            SIPP_UAC.replace("t=0 0", "t=0 0\na=sendonly"),
            Direction::SendOnly,
            Direction::RecvOnly,
        ),
        // Media level wins over session level.
        (
            SIPP_UAC.replace("t=0 0", "t=0 0\na=inactive") + "\na=sendrecv",
            Direction::SendRecv,
            Direction::SendRecv,
        ),
        // RFC 2543 hold.
        (
            SIPP_UAC.replace("c=IN IP4 127.0.0.1", "c=IN IP4 0.0.0.0"),
            Direction::SendOnly,
            Direction::RecvOnly,
        ),
        (
            SIPP_UAC.replace("c=IN IP4 127.0.0.1", "c=IN IP4 0.0.0.0") + "\na=recvonly",
            Direction::Inactive,
            Direction::Inactive,
        ),
    ];
    for (text, remote, ours) in cases {
        let n = negotiate(&offer(&text), G711).unwrap();
        assert_eq!(
            (n.remote_direction, n.local_direction),
            (remote, ours),
            "{text}"
        );
        let answer = build_answer(&offer(&text), &n, local(), &origin());
        assert_eq!(answer.media[0].direction(), Some(ours));
    }
}

#[test]
fn non_audio_and_unsupported_streams() {
    let mixed = offer(
        "v=0
         o=- 1 1 IN IP4 192.0.2.1
         s=-
         c=IN IP4 192.0.2.1
         t=0 0
         m=video 5002 RTP/AVP 96
         a=rtpmap:96 H264/90000
         m=audio 0 RTP/AVP 0
         m=audio 5004 RTP/SAVP 0
         m=audio 5000 RTP/AVPF 8
         m=application 5006 UDP/BFCP *",
    );
    let n = negotiate(&mixed, G711).unwrap();
    assert_eq!((n.media_index, n.codec), (3, Codec::Pcma));
    let answer = build_answer(&mixed, &n, local(), &origin());
    assert_eq!(answer.media.len(), 5);
    let lines: Vec<String> = answer
        .to_string()
        .lines()
        .filter(|l| l.starts_with("m="))
        .map(str::to_owned)
        .collect();
    assert_eq!(
        lines,
        vec![
            "m=video 0 RTP/AVP 96",
            "m=audio 0 RTP/AVP 0",
            "m=audio 0 RTP/SAVP 0",
            "m=audio 40000 RTP/AVPF 8",
            "m=application 0 UDP/BFCP *",
        ]
    );

    let t38 = offer(
        "v=0\no=- 1 1 IN IP4 192.0.2.1\ns=-\nc=IN IP4 192.0.2.1\nt=0 0\nm=image 5000 udptl t38",
    );
    assert_eq!(negotiate(&t38, G711), Err(NegotiationError::NoAudio));
    let srtp = offer(&SIPP_UAC.replace("RTP/AVP", "RTP/SAVP"));
    assert_eq!(
        negotiate(&srtp, G711),
        Err(NegotiationError::UnsupportedTransport {
            proto: "RTP/SAVP".into()
        })
    );
    let none = offer("v=0\no=- 1 1 IN IP4 192.0.2.1\ns=-\nt=0 0");
    assert_eq!(negotiate(&none, G711), Err(NegotiationError::NoAudio));
}

#[test]
fn answer_has_what_the_peer_needs() {
    let sdp = offer(BARESIP);
    let n = negotiate(&sdp, G711).unwrap();
    let answer = build_answer(&sdp, &n, local(), &origin());
    let text = answer.to_string();
    assert_eq!(
        text,
        "v=0\r\n\
         o=centralino 4242 1 IN IP4 192.0.2.100\r\n\
         s=-\r\n\
         c=IN IP4 192.0.2.100\r\n\
         t=0 0\r\n\
         m=audio 40000 RTP/AVP 8 101\r\n\
         a=rtpmap:8 PCMA/8000\r\n\
         a=rtpmap:101 telephone-event/8000\r\n\
         a=fmtp:101 0-16\r\n\
         a=ptime:20\r\n\
         a=sendrecv\r\n"
    );
    assert_eq!(parse(&text).unwrap(), answer);
    // The offerer reads our answer back to the same choice.
    let back = negotiate_answer(&sdp, &answer).unwrap();
    assert_eq!(
        (back.codec, back.payload_type, back.dtmf_payload_type),
        (Codec::Pcma, 8, Some(101))
    );
    assert_eq!(back.remote_rtp, local());

    let v6 = build_answer(
        &sdp,
        &n,
        "[2001:db8::1]:40000".parse().unwrap(),
        &Origin {
            address: "2001:db8::1".parse().unwrap(),
            ..origin()
        },
    );
    assert!(
        v6.to_string()
            .contains("o=centralino 4242 1 IN IP6 2001:db8::1\r\ns=-\r\nc=IN IP6 2001:db8::1\r\n")
    );
}

#[test]
fn offer_and_answer_from_the_other_side() {
    let ours = build_offer(
        local(),
        &[Codec::Pcma, Codec::Pcmu, Codec::Pcma],
        101,
        Direction::SendRecv,
        &origin(),
    );
    let text = ours.to_string();
    assert!(text.contains("m=audio 40000 RTP/AVP 8 0 101\r\n"), "{text}");
    assert!(text.contains("a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n"));
    assert_eq!(parse(&text).unwrap(), ours);

    // A phone answers with PCMU on its own telephone-event PT, and holds.
    let answer = offer(
        "v=0
         o=phone 9 9 IN IP4 192.0.2.50
         s=-
         c=IN IP4 192.0.2.50
         t=0 0
         m=audio 7078 RTP/AVP 0 100
         a=rtpmap:100 telephone-event/8000
         a=ptime:40
         a=sendonly",
    );
    let n = negotiate_answer(&ours, &answer).unwrap();
    assert_eq!(
        (n.codec, n.payload_type, n.dtmf_payload_type, n.ptime_ms),
        (Codec::Pcmu, 0, Some(100), 40)
    );
    assert_eq!(
        (n.remote_direction, n.local_direction),
        (Direction::SendOnly, Direction::RecvOnly)
    );
    assert_eq!(n.remote_rtp, "192.0.2.50:7078".parse().unwrap());

    let rejected = offer(&SIPP_UAC.replace("m=audio 6000", "m=audio 0"));
    assert_eq!(
        negotiate_answer(&ours, &rejected),
        Err(NegotiationError::AudioRejected)
    );
    let extra = offer(&format!("{SIPP_UAC}\nm=video 0 RTP/AVP 96"));
    assert_eq!(
        negotiate_answer(&ours, &extra),
        Err(NegotiationError::MediaCountMismatch {
            offer: 1,
            answer: 2
        })
    );
    let g729 = offer(
        &SIPP_UAC
            .replace("RTP/AVP 0", "RTP/AVP 18")
            .replace("a=rtpmap:0 PCMU/8000", ""),
    );
    assert!(matches!(
        negotiate_answer(&ours, &g729),
        Err(NegotiationError::NoCommonCodec { .. })
    ));
}

#[test]
fn parse_is_tolerant_where_it_can_be() {
    let lf_only = SIPP_UAC.to_owned();
    let parsed = parse(&lf_only).unwrap();
    assert_eq!(parsed, offer(SIPP_UAC));
    let odd = parse(&crlf(
        "v=0
         o=- 1 1 IN IP4 pbx.example.com
         s=
         x=unknown line type
         c=IN IP4 192.0.2.1
         b=AS:notanumber
         m=audio 5000/2 RTP/AVP 0
         a=weird-attribute
         a=rtpmap:broken",
    ))
    .unwrap();
    assert_eq!(odd.origin.address, "pbx.example.com");
    assert_eq!(odd.session_name, "");
    assert!(odd.bandwidths.is_empty());
    assert_eq!(
        odd.times,
        vec![Timing {
            start: 0,
            stop: 0,
            repeats: vec![]
        }]
    );
    assert_eq!(odd.media[0].port_count, Some(2));
    assert_eq!(odd.media[0].attributes.len(), 2);
    assert_eq!(negotiate(&odd, G711).unwrap().codec, Codec::Pcmu);
}

#[test]
fn parse_errors_say_what_and_where() {
    let cases = [
        ("", "empty session description"),
        ("\r\n\r\n", "empty session description"),
        (
            "o=- 1 1 IN IP4 x\r\nv=0\r\n",
            "line 1: expected 'v=0' first, found 'o=- 1 1 IN IP4 x'",
        ),
        ("v=1\r\n", "line 1: expected 'v=0' first, found 'v=1'"),
        ("v=0\r\ns=-\r\n", "missing o= line"),
        (
            "v=0\r\no=- 1 IN IP4 x\r\n",
            "o= line 2: expected 6 fields, found 5 in '- 1 IN IP4 x'",
        ),
        (
            "v=0\r\no=- 1 1 IN IP4 x\r\ngarbage\r\n",
            "line 3: expected '<letter>=<value>', found 'garbage'",
        ),
        (
            "v=0\r\no=- 1 1 IN IP4 x\r\nc=IN IP4\r\n",
            "c= line 3: expected '<nettype> <addrtype> <address>', found 'IN IP4'",
        ),
        (
            "v=0\r\no=- 1 1 IN IP4 x\r\nt=now later\r\n",
            "t= line 3: expected '<start> <stop>' numbers, found 'now later'",
        ),
        (
            "v=0\r\no=- 1 1 IN IP4 x\r\nm=audio 5000 RTP/AVP 0\r\nm=audio abc RTP/AVP 0\r\n",
            "m= line 2: port 'abc' is not a number",
        ),
        (
            "v=0\r\no=- 1 1 IN IP4 x\r\nm=audio 70000 RTP/AVP 0\r\n",
            "m= line 1: port '70000' is not a number",
        ),
        (
            "v=0\r\no=- 1 1 IN IP4 x\r\nm=audio 5000 RTP/AVP\r\n",
            "m= line 1: no formats",
        ),
        (
            "v=0\r\no=- 1 1 IN IP4 x\r\nm=audio\r\n",
            "m= line 1: expected '<media> <port> <proto> <fmt> ...', found 'audio'",
        ),
    ];
    for (text, message) in cases {
        assert_eq!(parse(text).unwrap_err().to_string(), message, "{text:?}");
    }
}

#[test]
fn directions_read_back_from_the_attribute_names_they_write() {
    for d in DIRECTIONS {
        assert_eq!(direction_named(d.attribute()), Some(d));
        let attributes = [Attribute::flag("rtcp-mux"), Attribute::flag(d.attribute())];
        assert_eq!(direction_in(&attributes), Some(d));
    }
    assert_eq!(direction_named("rtcp-mux"), None);
    assert_eq!(
        direction_named("SENDONLY"),
        None,
        "names are matched exactly, as they are written"
    );
    // The last direction attribute wins.
    let both = [Attribute::flag("sendonly"), Attribute::flag("inactive")];
    assert_eq!(direction_in(&both), Some(Direction::Inactive));
}

#[test]
fn attribute_helpers() {
    let sdp = offer(PJSIP);
    let m = &sdp.media[0];
    assert_eq!(m.rtpmap(98).unwrap().encoding, "speex");
    assert_eq!(m.rtpmap(98).unwrap().clock_rate, 16000);
    assert_eq!(m.fmtp(96), Some("0-16"));
    assert_eq!(m.fmtp(0), None);
    assert_eq!(m.direction(), Some(Direction::SendRecv));
    assert_eq!(m.ptime(), None);
    assert_eq!(
        m.payload_types().collect::<Vec<_>>(),
        vec![98, 97, 0, 8, 96]
    );
    assert_eq!(sdp.attribute("X-nat"), Some("0"));
    let opus = offer(BARESIP).media[0].rtpmap(111).unwrap();
    assert_eq!(opus.channels, Some(2));
}
