//! Receiving side of the session: DTMF, latching, timeout, RTCP, close.

use super::tests::{Harness, Sent, params, prompt, remote, telephone_event};
use super::*;
use crate::rtcp::parse_compound;

#[test]
fn sipp_play_dtmf_on_pt_96_with_filler_97_and_new_ssrc_per_digit() {
    let mut h = Harness::new();
    h.s.configure(
        StreamParams {
            dtmf_payload_type: Some(96),
            ..params()
        },
        h.now,
    );
    let from: SocketAddr = "192.0.2.10:4000".parse().unwrap();
    // Audio on PT 0 keeps flowing from the main SSRC.
    h.receive(from, 0, 1, 100, 0, &[0xFF; 160]);
    let mut seq = 0u16;
    for (i, digit) in [1u8, 2, 2, 10].iter().enumerate() {
        let ssrc = 0xD0 + i as u32;
        let ts = 8000;
        for _ in 0..2 {
            h.receive(from, 97, ssrc, seq, ts, &[0u8; 4]);
            seq = seq.wrapping_add(1);
        }
        for d in [160u16, 480, 800] {
            h.receive(from, 96, ssrc, seq, ts, &telephone_event(*digit, false, d));
            seq = seq.wrapping_add(1);
        }
        for _ in 0..3 {
            // Repeated end packets: same sequence number and timestamp.
            h.receive(from, 96, ssrc, seq, ts, &telephone_event(*digit, true, 960));
        }
        seq = seq.wrapping_add(1);
    }
    let digits: Vec<(char, Duration)> = h
        .events()
        .into_iter()
        .filter_map(|e| match e {
            MediaEvent::Dtmf { digit, duration } => Some((digit, duration)),
            _ => None,
        })
        .collect();
    let ms120 = Duration::from_millis(120);
    assert_eq!(
        digits,
        vec![('1', ms120), ('2', ms120), ('2', ms120), ('*', ms120)]
    );
}

#[test]
fn dtmf_on_an_unnegotiated_payload_type_is_not_a_digit() {
    let mut h = Harness::started();
    let from = remote();
    for _ in 0..3 {
        h.receive(from, 96, 5, 1, 0, &telephone_event(3, true, 800));
    }
    assert!(
        !h.events()
            .iter()
            .any(|e| matches!(e, MediaEvent::Dtmf { .. }))
    );
}

#[test]
fn barge_in_stops_playback_on_the_first_dtmf_packet_only_when_allowed() {
    let mut h = Harness::started();
    let from = remote();
    h.s.play(
        PlaybackId(1),
        vec![prompt(100, 0)],
        PlayOptions {
            looped: true,
            barge_in: false,
        },
    );
    h.ticks(2);
    h.receive(from, 101, 5, 1, 0, &telephone_event(5, false, 160));
    assert!(
        h.events()
            .iter()
            .all(|e| !matches!(e, MediaEvent::PlaybackFinished { .. }))
    );
    h.s.play(PlaybackId(2), vec![prompt(100, 0)], PlayOptions::default());
    h.events();
    h.receive(from, 101, 5, 2, 1600, &telephone_event(6, false, 160));
    assert_eq!(
        h.events(),
        vec![
            // The first digit's end was never seen: reported when the next one starts.
            MediaEvent::Dtmf {
                digit: '5',
                duration: Duration::from_millis(20)
            },
            MediaEvent::PlaybackFinished {
                id: PlaybackId(2),
                interrupted: true
            },
        ]
    );
}

#[test]
fn latches_to_the_rtp_source_once_and_again_after_a_new_sdp_address() {
    let mut h = Harness::started();
    assert_eq!(h.drain()[0].dest, remote());
    // A symmetric-RTP NAT: the SDP's address, another port.
    let nat: SocketAddr = "192.0.2.10:31000".parse().unwrap();
    h.receive(nat, 0, 9, 1, 0, &[0xFF; 160]);
    h.receive("192.0.2.10:1".parse().unwrap(), 0, 9, 2, 160, &[0xFF; 160]);
    assert_eq!(h.events(), vec![MediaEvent::RemoteLatched { addr: nat }]);
    assert_eq!(
        h.s.foreign_packets(),
        1,
        "the second port is not the latched one"
    );
    assert!(h.ticks(2).iter().all(|p| p.dest == nat));
    let moved: SocketAddr = "192.0.2.77:5000".parse().unwrap();
    h.s.configure(
        StreamParams {
            remote: moved,
            ..params()
        },
        h.now,
    );
    assert!(h.ticks(1).iter().all(|p| p.dest == moved));
    // The old source is no longer the peer; the new SDP address latches again.
    h.receive(nat, 0, 9, 3, 320, &[0xFF; 160]);
    assert!(h.events().is_empty());
    let nat2: SocketAddr = "192.0.2.77:31002".parse().unwrap();
    h.receive(nat2, 0, 9, 4, 480, &[0xFF; 160]);
    assert_eq!(h.events(), vec![MediaEvent::RemoteLatched { addr: nat2 }]);
}

/// A telephone-event for `digit` (RFC 4733), its start and three end packets, from `from`.
fn press(h: &mut Harness, from: SocketAddr, ssrc: u32, seq: u16, ts: u32, digit: u8) {
    h.receive(
        from,
        101,
        ssrc,
        seq,
        ts,
        &telephone_event(digit, false, 160),
    );
    for _ in 0..3 {
        h.receive(
            from,
            101,
            ssrc,
            seq + 1,
            ts,
            &telephone_event(digit, true, 800),
        );
    }
}

fn digits(events: &[MediaEvent]) -> Vec<char> {
    events
        .iter()
        .filter_map(|e| match e {
            MediaEvent::Dtmf { digit, .. } => Some(*digit),
            _ => None,
        })
        .collect()
}

#[test]
fn before_the_latch_only_the_sdp_address_is_heard() {
    let mut h = Harness::started();
    let attacker: SocketAddr = "198.51.100.66:4000".parse().unwrap();
    // Off-path: audio, a digit and the `#` that would end a voicemail; none is heard, none
    // latches, none keeps the leg alive.
    h.receive(attacker, 0, 7, 1, 0, &[0xFF; 160]);
    press(&mut h, attacker, 7, 2, 160, 11);
    assert!(h.events().is_empty());
    assert_eq!(h.s.foreign_packets(), 5);
    assert!(h.ticks(2).iter().all(|p| p.dest == remote()), "no hijack");
    h.advance(2000);
    assert_eq!(h.events(), vec![MediaEvent::RtpTimeout]);
    // The peer, from its SDP address, is heard.
    press(&mut h, remote(), 9, 1, 0, 5);
    let events = h.events();
    assert_eq!(events[0], MediaEvent::RemoteLatched { addr: remote() });
    assert_eq!(digits(&events), ['5']);
}

#[test]
fn after_the_latch_another_source_is_dropped_and_counted() {
    let mut h = Harness::started();
    press(&mut h, remote(), 9, 1, 0, 1);
    assert_eq!(digits(&h.events()), ['1']);
    // Same address, another port (a second phone behind the same NAT), then off-path.
    for from in ["192.0.2.10:4002", "198.51.100.66:4000"] {
        let from: SocketAddr = from.parse().unwrap();
        press(&mut h, from, 9, 10, 800, 11);
        h.receive(from, 0, 9, 12, 960, &[0xFF; 160]);
    }
    assert!(h.events().is_empty(), "no digit, no re-latch");
    assert_eq!(h.s.foreign_packets(), 10);
    assert!(h.ticks(2).iter().all(|p| p.dest == remote()));
    // The peer goes on being heard.
    press(&mut h, remote(), 9, 20, 1600, 2);
    assert_eq!(digits(&h.events()), ['2']);
}

#[test]
fn latch_any_address_takes_the_first_source_and_then_only_it() {
    let mut h = Harness::with_latch(true);
    h.s.configure(params(), h.now);
    let nat: SocketAddr = "203.0.113.5:31000".parse().unwrap();
    press(&mut h, nat, 9, 1, 0, 3);
    let events = h.events();
    assert_eq!(events[0], MediaEvent::RemoteLatched { addr: nat });
    assert_eq!(digits(&events), ['3']);
    press(&mut h, "203.0.113.6:1".parse().unwrap(), 9, 10, 800, 11);
    assert!(h.events().is_empty());
    assert_eq!(h.s.foreign_packets(), 4);
    assert!(h.ticks(2).iter().all(|p| p.dest == nat));
}

#[test]
fn rtp_timeout_fires_once_and_rearms_when_rtp_returns() {
    let mut h = Harness::started();
    h.advance(1900);
    assert!(h.events().is_empty());
    assert!(h.s.poll_timeout().is_some());
    h.advance(100);
    assert_eq!(h.events(), vec![MediaEvent::RtpTimeout]);
    h.advance(5000);
    assert!(h.events().is_empty(), "reported once");
    h.receive(remote(), 0, 1, 1, 0, &[0xFF; 160]);
    h.events();
    h.advance(2000);
    assert_eq!(h.events(), vec![MediaEvent::RtpTimeout]);
    // On hold (we only send), silence from the peer is expected.
    h.s.configure(
        StreamParams {
            direction: Direction::SendOnly,
            ..params()
        },
        h.now,
    );
    h.advance(10_000);
    assert!(h.events().is_empty());
    // The peer put us on hold (its sendonly, our recvonly): many phones then send nothing.
    h.s.configure(
        StreamParams {
            direction: Direction::RecvOnly,
            ..params()
        },
        h.now,
    );
    h.advance(10_000);
    assert!(h.events().is_empty(), "no time-out while the peer holds");
    // Resumed: the time-out counts again from the resume.
    h.s.configure(params(), h.now);
    h.advance(1900);
    assert!(h.events().is_empty());
    h.advance(100);
    assert_eq!(h.events(), vec![MediaEvent::RtpTimeout]);
}

#[test]
fn rtcp_sender_and_receiver_reports() {
    let mut h = Harness::started();
    let peer_ssrc = 0xCAFE;
    let mut rtcp = Vec::new();
    // 10 s: receive audio with every 10th packet lost, send our own.
    for k in 0..500u32 {
        if k % 10 != 3 {
            h.receive(remote(), 0, peer_ssrc, k as u16, k * 160, &[0xFF; 160]);
        }
        rtcp.extend(
            h.advance(20)
                .into_iter()
                .filter(|p| p.channel == Channel::Rtcp),
        );
    }
    assert!(
        (2..=6).contains(&rtcp.len()),
        "{} reports in 10 s",
        rtcp.len()
    );
    let first = &rtcp[0];
    assert_eq!(
        first.dest,
        "192.0.2.10:4001".parse().unwrap(),
        "RTCP to RTP port + 1"
    );
    assert_eq!(first.pt, 200, "SR since we are sending");
    let parsed = parse_compound(&first.payload, peer_ssrc).unwrap();
    let (ssrc, info) = parsed.sender_report.unwrap();
    assert_eq!(ssrc, 0x1234_5678);
    assert!(info.packet_count > 0);
    assert_eq!(info.octet_count, info.packet_count * 160);
    let block = parsed.report_about_us.unwrap();
    assert!(
        (20..=30).contains(&block.fraction_lost),
        "~10% lost: {}",
        block.fraction_lost
    );
    assert!(block.cumulative_lost > 0);
    // RTCP from the peer latches the RTCP destination and its SR feeds LSR/DLSR.
    let mut sr = [0u8; rtcp::MAX_COMPOUND_LEN];
    let n = rtcp::write_compound(
        &OutgoingReport {
            ssrc: peer_ssrc,
            sender: Some(SenderInfo {
                ntp: NtpTime(0x0000_1234_5678_0000),
                rtp_timestamp: 0,
                packet_count: 1,
                octet_count: 160,
            }),
            block: None,
            bye: false,
        },
        &mut sr,
    );
    // Another address is not the peer: ignored, nothing latched.
    let off_path: SocketAddr = "198.51.100.66:4001".parse().unwrap();
    assert!(!h.s.handle_rtcp(&sr[..n], off_path, h.now));
    let rtcp_src: SocketAddr = "192.0.2.10:31001".parse().unwrap();
    assert!(h.s.handle_rtcp(&sr[..n], rtcp_src, h.now));
    assert!(!h.s.handle_rtcp(b"\x00garbage", rtcp_src, h.now));
    // Latched once: a report from another port of the same address does not move it.
    let other_port: SocketAddr = "192.0.2.10:31005".parse().unwrap();
    assert!(!h.s.handle_rtcp(&sr[..n], other_port, h.now));
    assert_eq!(h.s.foreign_packets(), 2);
    let later: Vec<Sent> = (0..400)
        .flat_map(|_| h.advance(20))
        .filter(|p| p.channel == Channel::Rtcp)
        .collect();
    let last = later.last().unwrap();
    assert_eq!(last.dest, rtcp_src);
    let block = parse_compound(&last.payload, peer_ssrc)
        .unwrap()
        .report_about_us
        .unwrap();
    assert_eq!(block.last_sr, 0x1234_5678);
    assert!(block.delay_since_last_sr > 0);
}

#[test]
fn close_sends_bye_and_interrupts_playback() {
    let mut h = Harness::started();
    h.s.play(PlaybackId(3), vec![prompt(10, 0)], PlayOptions::default());
    let _ = h.drain();
    let mut buf = vec![0u8; MAX_PACKET];
    let t = h.s.close(h.now, &mut buf).unwrap();
    assert_eq!(t.channel, Channel::Rtcp);
    assert!(parse_compound(&buf[..t.len], 0).unwrap().bye);
    assert_eq!(
        h.events(),
        vec![MediaEvent::PlaybackFinished {
            id: PlaybackId(3),
            interrupted: true
        }]
    );
    assert!(h.advance(100).is_empty());
}

#[test]
fn nothing_is_sent_or_accepted_before_configure() {
    let mut h = Harness::new();
    assert!(h.advance(100).is_empty());
    h.receive(remote(), 0, 1, 1, 0, &[0xFF; 160]);
    assert!(h.events().is_empty());
    assert_eq!(h.s.poll_timeout(), None);
    let _ = h.t0;
}
