//! A webrtc-rs peer plays the browser, a plain UDP socket plays the media engine: audio and
//! RFC 4733 events cross the leg both ways, decrypted on one side and encrypted on the other.

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use common::browser::{Browser, PCMU, TELEPHONE_EVENT, dominant, scan, ulaw_tone};
use tokio::net::UdpSocket;
use tokio::time::timeout;
use webrtc_leg::{G711, LegConfig, LegState, WebRtcLeg};

const CONNECT: Duration = Duration::from_secs(10);
const MEDIA: Duration = Duration::from_secs(10);

fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

/// An RTP packet as the engine would send it (RFC 3550 §5.1, no CSRC, no extension).
fn rtp(
    payload_type: u8,
    marker: bool,
    seq: u16,
    timestamp: u32,
    ssrc: u32,
    payload: &[u8],
) -> Vec<u8> {
    let mut p = Vec::with_capacity(12 + payload.len());
    p.push(0x80);
    p.push(payload_type | if marker { 0x80 } else { 0 });
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&timestamp.to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

/// Header fields and payload of a plain RTP datagram (no CSRC/extension expected).
fn parse(datagram: &[u8]) -> (u8, &[u8]) {
    assert!(
        datagram.len() >= 12 && datagram[0] >> 6 == 2,
        "not RTP: {datagram:?}"
    );
    let csrc = (datagram[0] & 0x0f) as usize * 4;
    let mut start = 12 + csrc;
    if datagram[0] & 0x10 != 0 {
        let words = u16::from_be_bytes([datagram[start + 2], datagram[start + 3]]) as usize;
        start += 4 + words * 4;
    }
    (datagram[1] & 0x7f, &datagram[start..])
}

async fn connected_pair() -> (Browser, WebRtcLeg, UdpSocket) {
    init_tracing();
    let engine = UdpSocket::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .await
        .unwrap();
    let mut browser = Browser::new().await;
    let offer = browser.offer().await;
    let config = LegConfig {
        plain_peer: Some(engine.local_addr().unwrap()),
        ..LegConfig::default()
    };
    let (leg, answer) = WebRtcLeg::answer(&offer, &config).await.unwrap();
    assert!(answer.contains("a=ice-lite"), "ICE-lite answer:\n{answer}");
    assert!(answer.contains("a=rtcp-mux"), "rtcp-mux answer:\n{answer}");
    assert!(
        answer.contains("a=setup:passive"),
        "passive DTLS answer:\n{answer}"
    );
    assert!(
        answer.contains("a=fingerprint:"),
        "fingerprint in answer:\n{answer}"
    );
    assert!(
        answer.contains(&format!(" {} typ host", leg.ice_addr().port())),
        "host candidate on the bound port {}:\n{answer}",
        leg.ice_addr()
    );
    assert_eq!(leg.negotiated().codec, G711::Pcmu);
    assert_eq!(leg.negotiated().telephone_event, Some(TELEPHONE_EVENT));
    browser.accept(answer).await;
    timeout(CONNECT, leg.connected())
        .await
        .expect("the leg connects in time")
        .expect("the leg connects");
    browser.connected(CONNECT).await;
    (browser, leg, engine)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_tone_reaches_the_engine_decrypted_and_engine_tone_reaches_the_browser() {
    let (browser, leg, engine) = connected_pair().await;
    exchange_tones(browser, leg, engine).await;
}

/// The server offers (the ACD ringing a browser phone), the browser answers: the same relay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_server_offers_and_the_browser_answers_tones_cross_both_ways() {
    init_tracing();
    let engine = UdpSocket::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .await
        .unwrap();
    let config = LegConfig {
        plain_peer: Some(engine.local_addr().unwrap()),
        ..LegConfig::default()
    };
    let (offered, offer) = WebRtcLeg::offer(&config).await.unwrap();
    for wanted in [
        "a=ice-lite",
        "a=rtcp-mux",
        "a=setup:actpass",
        "a=fingerprint:",
        "UDP/TLS/RTP/SAVPF 0 8 101",
        "a=rtpmap:101 telephone-event/8000",
        "a=candidate:",
    ] {
        assert!(offer.contains(wanted), "{wanted} in the offer:\n{offer}");
    }
    let plain = offered.plain_rtp_addr();
    let mut browser = Browser::new().await;
    let answer = browser.answer(&offer).await;
    let leg = offered.accept(&answer).unwrap();
    assert_eq!(
        leg.plain_rtp_addr(),
        plain,
        "the address given before the answer"
    );
    assert_eq!(leg.negotiated().codec, G711::Pcmu);
    assert_eq!(leg.negotiated().telephone_event, Some(TELEPHONE_EVENT));
    timeout(CONNECT, leg.connected())
        .await
        .expect("the leg connects in time")
        .expect("the leg connects");
    browser.connected(CONNECT).await;
    exchange_tones(browser, leg, engine).await;
}

/// An answer that is not DTLS-SRTP is refused, and the offered leg's sockets go with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_rtp_answer_to_our_offer_is_refused() {
    let (offered, offer) = WebRtcLeg::offer(&LegConfig::default()).await.unwrap();
    let mut browser = Browser::new().await;
    let answer = browser
        .answer(&offer)
        .await
        .replace("UDP/TLS/RTP/SAVPF", "RTP/AVP");
    let before = webrtc_leg::live_legs();
    let error = offered.accept(&answer).unwrap_err();
    assert!(error.to_string().contains("RTP/AVP"), "{error}");
    assert_eq!(webrtc_leg::live_legs(), before, "no leg started");
    browser.close().await;
}

/// One second of 440 Hz from the browser to the engine, then 1 kHz back, and the stats.
async fn exchange_tones(mut browser: Browser, leg: WebRtcLeg, engine: UdpSocket) {
    assert_eq!(leg.state(), LegState::Connected);

    // Browser → engine: one second of 440 Hz. The sender is paced like a microphone; the
    // receiver waits on packets with a deadline.
    let sender = async {
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        for i in 0..50 {
            tick.tick().await;
            browser
                .send(PCMU, i == 0, &ulaw_tone(440.0, i * 160), true)
                .await;
        }
        browser
    };
    let receiver = async {
        let mut samples = Vec::new();
        let mut buf = [0u8; 1500];
        while samples.len() < 40 * 160 {
            let (n, from) = timeout(MEDIA, engine.recv_from(&mut buf))
                .await
                .expect("decrypted RTP reaches the engine in time")
                .unwrap();
            assert_eq!(
                from,
                leg.plain_rtp_addr(),
                "sent from the leg's plain address"
            );
            let (pt, payload) = parse(&buf[..n]);
            assert_eq!(pt, PCMU);
            samples.extend(payload.iter().map(|&b| media::g711::ulaw_decode(b)));
        }
        samples
    };
    let (browser_back, samples) = tokio::join!(sender, receiver);
    browser = browser_back;
    assert_eq!(dominant(&samples, &scan()), 440.0);

    // Engine → browser: 1 kHz, from the address the leg was told is the engine.
    let ssrc = 0x1234_5678;
    let engine_sender = async {
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        for i in 0..50u16 {
            tick.tick().await;
            let datagram = rtp(
                PCMU,
                i == 0,
                1000 + i,
                160 * u32::from(i),
                ssrc,
                &ulaw_tone(1000.0, usize::from(i) * 160),
            );
            engine
                .send_to(&datagram, leg.plain_rtp_addr())
                .await
                .unwrap();
        }
    };
    let browser_receiver = async {
        let mut samples = Vec::new();
        while samples.len() < 40 * 160 {
            let packet = timeout(MEDIA, browser.received.recv())
                .await
                .expect("RTP reaches the browser in time")
                .expect("the browser's track is open");
            assert_eq!(packet.header.payload_type, PCMU);
            samples.extend(packet.payload.iter().map(|&b| media::g711::ulaw_decode(b)));
        }
        samples
    };
    let ((), samples) = tokio::join!(engine_sender, browser_receiver);
    assert_eq!(dominant(&samples, &scan()), 1000.0);

    let stats = leg.stats().await;
    assert!(stats.to_plain.packets >= 40, "{stats:?}");
    assert!(stats.to_browser.packets >= 40, "{stats:?}");
    assert_eq!(stats.dropped_foreign, 0, "{stats:?}");
    // Loss and jitter of the browser's stream come from the leg's own receiver reports.
    assert_eq!(stats.browser_packets_lost, Some(0), "{stats:?}");
    let jitter = stats.browser_jitter.expect("a receiver report was made");
    assert!(jitter < Duration::from_millis(20), "{stats:?}");

    browser.close().await;
    leg.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_telephone_event_from_the_browser_reaches_the_engine_unchanged() {
    let (mut browser, leg, engine) = connected_pair().await;
    // RFC 4733 §2.3: digit 5, end bit clear, volume 10, duration 160 — then the same with E.
    let start = [5u8, 10, 0, 160];
    let end = [5u8, 0x80 | 10, 1, 64];
    browser.send(TELEPHONE_EVENT, true, &start, false).await;
    browser.send(TELEPHONE_EVENT, false, &end, false).await;

    let mut seen = Vec::new();
    let mut buf = [0u8; 1500];
    while seen.len() < 2 {
        let (n, _) = timeout(MEDIA, engine.recv_from(&mut buf))
            .await
            .expect("the event reaches the engine in time")
            .unwrap();
        let (pt, payload) = parse(&buf[..n]);
        if pt == TELEPHONE_EVENT {
            seen.push(payload.to_vec());
        }
    }
    assert_eq!(seen, vec![start.to_vec(), end.to_vec()]);

    // And the other way: an event from the engine reaches the browser with its payload type.
    let datagram = rtp(TELEPHONE_EVENT, true, 7, 8000, 42, &start);
    engine
        .send_to(&datagram, leg.plain_rtp_addr())
        .await
        .unwrap();
    let packet = timeout(MEDIA, browser.received.recv())
        .await
        .expect("the event reaches the browser in time")
        .unwrap();
    assert_eq!(packet.header.payload_type, TELEPHONE_EVENT);
    assert_eq!(&packet.payload[..], &start);

    browser.close().await;
    leg.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_nat_the_public_address_is_the_advertised_candidate() {
    init_tracing();
    let mut browser = Browser::new().await;
    let offer = browser.offer().await;
    // TEST-NET-1 (RFC 5737): only written into the SDP; the browser never applies this answer,
    // so nothing is sent to it.
    let public = std::net::IpAddr::from([192, 0, 2, 7]);
    let config = LegConfig {
        public_addr: Some(public),
        ..LegConfig::default()
    };
    let (leg, answer) = WebRtcLeg::answer(&offer, &config).await.unwrap();
    let candidates: Vec<&str> = answer
        .lines()
        .filter(|l| l.starts_with("a=candidate:"))
        .collect();
    assert!(!candidates.is_empty(), "{answer}");
    for candidate in &candidates {
        assert!(
            candidate.contains(&format!("192.0.2.7 {} typ host", leg.ice_addr().port())),
            "every candidate advertises the public address on the bound port: {candidate}"
        );
    }
    assert!(
        leg.ice_addr().ip().is_loopback(),
        "bound on the configured address"
    );
    leg.close().await;
    browser.close().await;
}
