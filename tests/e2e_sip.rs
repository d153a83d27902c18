//! End-to-end SIP tests: the real `centralino serve` on loopback, driven by SIPp scenarios
//! from `tests/sipp/` (see tests/common/mod.rs). Each test starts its own server on free ports
//! with its own RTP range, so they run in parallel; each is bounded well under 30 s.
//!
//! Needs `sipp` (Debian `sip-tester`) on PATH; tests that play RTP from pcap files need root
//! and are skipped with a loud message otherwise.

mod common;

use std::collections::BTreeSet;
use std::net::UdpSocket;
use std::time::{Duration, Instant};

use common::*;

/// Config for the common case: no ringing, the server does not hang up by itself in a test.
fn quiet() -> String {
    listening(0, "welcome", 30)
}

fn count_lines(text: &str, pattern: &str) -> usize {
    text.lines().filter(|l| l.contains(pattern)).count()
}

/// The RTP port of the server's SDP answer (first 200 for an INVITE in SIPp's message log).
fn answered_rtp_port(run: &SippResult) -> u16 {
    run.sip_messages()
        .iter()
        .filter(|(dir, m)| {
            *dir == "received" && m.starts_with("SIP/2.0 200") && m.contains("INVITE")
        })
        .find_map(|(_, m)| {
            m.lines()
                .find_map(|l| l.strip_prefix("m=audio "))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|p| p.parse().ok())
        })
        .unwrap_or_else(|| panic!("no SDP answer with m=audio\n{}", run.report()))
}

/// Waits until the server has logged `expected.len()` digits for the call (or 3 s), then
/// asserts that exactly those digits, each once, in order, were reported.
fn assert_digits(server: &Server, call_id: &str, expected: &[&str]) {
    server.wait_log(
        |_| server.dtmf_digits(call_id).len() >= expected.len(),
        Duration::from_secs(3),
    );
    // A late duplicate (e.g. from an end-packet retransmission) would show up just after.
    std::thread::sleep(Duration::from_millis(300));
    let digits = server.dtmf_digits(call_id);
    assert_eq!(
        digits,
        expected,
        "digits reported for Call-ID {call_id} (each must be logged exactly once as \
         `dtmf received digit=D` with sip_call_id in the span)\n--- call log ---\n{}\n--- server log ---\n{}",
        server.call_log(call_id).join("\n"),
        tail(&server.log(), 100)
    );
}

#[test]
fn answered_call_pcmu() {
    let server = Server::start(&quiet());
    sipp("uac_answer_bye.xml", &server, &["-d", "500"]);
}

#[test]
fn answered_call_pcma_only() {
    let server = Server::start(&quiet());
    sipp("uac_pcma_only.xml", &server, &["-d", "500"]);
}

#[test]
fn prompt_audio_is_sent_as_paced_rtp() {
    let server = Server::start(&quiet());
    let probe = UdpSocket::bind("127.0.0.1:0").expect("bind RTP probe");
    let port = probe.local_addr().expect("probe addr").port().to_string();
    let mut run = sipp_start(
        "uac_media_probe.xml",
        &server,
        &["-key", "rtp_port", &port, "-d", "4000"],
    );
    let packets = collect_rtp(&probe, Duration::from_secs(8), |p| p.len() >= 120);
    let still_running = run.running();
    let result = run.wait();
    result.assert_ok(&server);
    assert!(
        still_running,
        "the call ended before 120 RTP packets arrived"
    );
    let summary = || {
        packets
            .iter()
            .take(12)
            .map(|p| format!("{p:?}"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(
        packets.len() >= 120,
        "expected >= 120 RTP packets (2.4 s of prompt), got {}\n{}\n--- server log ---\n{}",
        packets.len(),
        summary(),
        tail(&server.log(), 60)
    );
    let first = &packets[0];
    assert!(
        first.marker,
        "marker bit must be set on the first packet: {first:?}"
    );
    assert_eq!(
        first.from.port(),
        answered_rtp_port(&result),
        "RTP must come from the port of the SDP answer (symmetric RTP)"
    );
    for (i, pair) in packets.windows(2).enumerate() {
        let (a, b) = (&pair[0], &pair[1]);
        assert_eq!(b.payload_type, 0, "packet {} is not PCMU: {b:?}", i + 1);
        assert_eq!(b.ssrc, a.ssrc, "SSRC changed at packet {}", i + 1);
        assert_eq!(
            b.seq,
            a.seq.wrapping_add(1),
            "sequence gap at packet {}\n{}",
            i + 1,
            summary()
        );
        assert_eq!(
            b.timestamp.wrapping_sub(a.timestamp),
            160,
            "timestamp must advance by 160 per 20 ms packet (packet {})",
            i + 1
        );
        assert_eq!(b.payload_len, 160, "20 ms of G.711 is 160 bytes: {b:?}");
        assert_eq!(b.from, first.from, "source address changed");
    }
    let span = packets[119].at - packets[0].at; // 119 intervals of 20 ms = 2.38 s
    assert!(
        span >= Duration::from_millis(2000) && span <= Duration::from_millis(3200),
        "120 packets took {span:?}, expected about 2.38 s (20 ms pacing)"
    );
    let audible = packets.iter().filter(|p| p.audible).count();
    assert!(
        audible >= 20,
        "the prompt sounds like silence: only {audible} of {} packets carry audio",
        packets.len()
    );
}

#[test]
fn dtmf_pt101_each_digit_reported_once() {
    if !require_root("dtmf_pt101_each_digit_reported_once") {
        return;
    }
    let server = Server::start(&quiet());
    let run = sipp("uac_dtmf_pt101.xml", &server, &[]);
    assert_digits(&server, &run.call_id(), &["1", "2", "3"]);
}

#[test]
fn dtmf_pt96_play_dtmf_reported_once() {
    if !require_root("dtmf_pt96_play_dtmf_reported_once") {
        return;
    }
    let server = Server::start(&quiet());
    let run = sipp("uac_dtmf_play96.xml", &server, &[]);
    assert_digits(&server, &run.call_id(), &["5"]);
}

#[test]
fn cancel_while_ringing() {
    let server = Server::start(&listening(3000, "welcome", 30));
    let run = sipp("uac_cancel.xml", &server, &[]);
    assert!(
        run.elapsed < Duration::from_secs(3) + Duration::from_millis(1500),
        "the CANCEL was not acted on before the answer delay: {:?}",
        run.elapsed
    );
    let answered = run
        .sip_messages()
        .iter()
        .any(|(dir, m)| *dir == "received" && m.starts_with("SIP/2.0 200") && m.contains("INVITE"));
    assert!(
        !answered,
        "the INVITE was answered 200 after CANCEL\n{}",
        run.report()
    );
}

#[test]
fn bye_from_caller_ends_the_call_and_its_media() {
    let server = Server::start(&quiet());
    let probe = UdpSocket::bind("127.0.0.1:0").expect("bind RTP probe");
    let port = probe.local_addr().expect("probe addr").port().to_string();
    let run = sipp_start(
        "uac_media_probe.xml",
        &server,
        &["-key", "rtp_port", &port, "-d", "1500"],
    );
    let during = collect_rtp(&probe, Duration::from_secs(6), |p| p.len() >= 25);
    let result = run.wait();
    result.assert_ok(&server);
    assert!(
        during.len() >= 25,
        "no prompt audio before the BYE ({} packets)",
        during.len()
    );
    // Let packets in flight drain, then nothing more may arrive: the media leg is gone.
    let _ = collect_rtp(&probe, Duration::from_millis(200), |_| false);
    let after = collect_rtp(&probe, Duration::from_millis(800), |_| false);
    assert!(
        after.is_empty(),
        "{} RTP packets still arrived 200-1000 ms after the BYE was answered",
        after.len()
    );
}

#[test]
fn bye_from_server_after_idle_timeout() {
    let server = Server::start(&listening(0, "beep", 2));
    let run = sipp("uac_server_bye.xml", &server, &[]);
    assert!(
        run.elapsed >= Duration::from_millis(1900) && run.elapsed < Duration::from_secs(8),
        "the server hung up after {:?}, expected about the beep plus 2 s of silence",
        run.elapsed
    );
}

/// A caller that sends no RTP at all (a spoofed INVITE aiming our audio at someone else, or a
/// phone that died) is hung up at the media time-out, not when the IVR gives up.
#[test]
fn a_caller_that_sends_no_rtp_is_hung_up_at_the_media_timeout() {
    let server = Server::start(&format!("rtp_timeout_s = 2\n{}", listening(0, "beep", 30)));
    let run = sipp("uac_server_bye.xml", &server, &[]);
    assert!(
        run.elapsed >= Duration::from_millis(1900) && run.elapsed < Duration::from_secs(10),
        "the server hung up after {:?}, expected the 2 s media time-out",
        run.elapsed
    );
    let log = server.call_log(&run.call_id()).join("\n");
    assert!(
        log.contains("media_timeout: no RTP from the caller"),
        "the call card's step\n{log}"
    );
    assert!(log.contains("outcome=\"failed\""), "{log}");
}

#[test]
fn reinvite_hold_and_resume() {
    let server = Server::start(&quiet());
    sipp("uac_hold.xml", &server, &[]);
}

#[test]
fn options_answered_200() {
    let server = Server::start(&quiet());
    sipp("uac_options.xml", &server, &[]);
}

#[test]
fn unknown_method_answered_405_or_501() {
    let server = Server::start(&quiet());
    sipp("uac_unknown_method.xml", &server, &[]);
}

#[test]
fn call_over_tcp() {
    let server = Server::start(&quiet());
    sipp("uac_answer_bye.xml", &server, &["-t", "t1", "-d", "500"]);
}

#[test]
fn malformed_requests_get_400_while_a_call_continues() {
    let server = Server::start(&quiet());
    let call = sipp_start("uac_answer_bye.xml", &server, &["-d", "3000"]);
    // Wait until the call is up (SIPp has sent its ACK).
    let deadline = Instant::now() + Duration::from_secs(5);
    while !call.messages_so_far().contains("ACK sip:") {
        assert!(
            Instant::now() < deadline,
            "the call was not established within 5 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    let (socket, port) = raw_sip_socket();
    let sip = server.sip_port;
    let request = |branch: &str, drop: &str, cseq: &str| {
        let lines = [
            format!("INVITE sip:800100200@127.0.0.1:{sip} SIP/2.0"),
            format!("Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK-e2e-{branch}"),
            "Max-Forwards: 70".to_string(),
            "From: <sip:e2e@127.0.0.1>;tag=e2e1".to_string(),
            format!("To: <sip:800100200@127.0.0.1:{sip}>"),
            format!("Call-ID: e2e-malformed-{branch}@127.0.0.1"),
            format!("CSeq: {cseq}"),
            format!("Contact: <sip:e2e@127.0.0.1:{port}>"),
            "Content-Length: 0".to_string(),
        ];
        let kept: Vec<&str> = lines
            .iter()
            .map(String::as_str)
            .filter(|l| drop.is_empty() || !l.starts_with(drop))
            .collect();
        format!("{}\r\n\r\n", kept.join("\r\n"))
    };
    let wait = Duration::from_millis(1500);
    let check_400 = |what: &str, answers: &[String]| {
        let status = answers.first().and_then(|a| a.lines().next()).unwrap_or("");
        let reason = status.strip_prefix("SIP/2.0 400").map(str::trim);
        assert!(
            matches!(reason, Some(r) if !r.is_empty()),
            "{what}: expected `SIP/2.0 400 <reason>`, got {answers:#?}"
        );
    };
    let answers = raw_exchange(
        &socket,
        &server,
        request("nocallid", "Call-ID:", "1 INVITE").as_bytes(),
        wait,
    );
    check_400("INVITE without Call-ID", &answers);
    let answers = raw_exchange(
        &socket,
        &server,
        request("badcseq", "", "abc INVITE").as_bytes(),
        wait,
    );
    check_400("INVITE with CSeq `abc INVITE`", &answers);
    let answers = raw_exchange(
        &socket,
        &server,
        request("nocseq", "CSeq:", "").as_bytes(),
        wait,
    );
    check_400("INVITE without CSeq", &answers);
    // Garbage: nothing to answer to, but nothing may break either.
    for junk in [
        &b"\x00\x01\x02garbage\xff\xfe"[..],
        b"NOT SIP AT ALL\r\n\r\n",
        b"INVITE\r\n\r\n",
        b"SIP/2.0 200\r\n\r\n",
        &[b'A'; 3000][..],
    ] {
        let answers = raw_exchange(&socket, &server, junk, Duration::from_millis(200));
        for a in &answers {
            assert!(
                a.starts_with("SIP/2.0 400"),
                "junk answered with something else than 400: {a}"
            );
        }
    }

    let result = call.wait();
    result.assert_ok(&server);
    sipp("uac_options.xml", &server, &[]);
}

#[test]
fn retransmitted_invite_is_absorbed() {
    let server = Server::start(&listening(1000, "welcome", 30));
    let run = sipp("uac_retransmit_invite.xml", &server, &[]);
    let messages = run.sip_messages();
    let invites_sent = messages
        .iter()
        .filter(|(dir, m)| *dir == "sent" && m.starts_with("INVITE "))
        .count();
    assert_eq!(
        invites_sent,
        2,
        "the scenario must send the INVITE twice (SIPp retransmission)\n{}",
        run.report()
    );
    // Every response to the INVITE that carries a To tag (180, 200, ...) must carry the same:
    // another tag means the retransmission created a second (early) dialog.
    let to_tags: BTreeSet<String> = messages
        .iter()
        .filter(|(dir, m)| *dir == "received" && m.starts_with("SIP/2.0 ") && m.contains(" INVITE"))
        .filter_map(|(_, m)| {
            let to = m.lines().find(|l| {
                let l = l.to_ascii_lowercase();
                l.starts_with("to:") || l.starts_with("t:")
            })?;
            field(&to.replace(';', " "), "tag")
        })
        .collect();
    assert_eq!(
        to_tags.len(),
        1,
        "responses with different To tags: the retransmission created a second dialog {to_tags:?}\n{}",
        run.report()
    );
    let finals = messages
        .iter()
        .filter(|(dir, m)| {
            *dir == "received" && m.starts_with("SIP/2.0") && !m.starts_with("SIP/2.0 1")
        })
        .filter(|(_, m)| m.contains(" INVITE"))
        .filter(|(_, m)| !m.starts_with("SIP/2.0 200"))
        .count();
    assert_eq!(
        finals,
        0,
        "a non-2xx final answer to the retransmission\n{}",
        run.report()
    );
}

#[test]
fn no_common_codec_is_488() {
    let server = Server::start(&quiet());
    sipp("uac_no_common_codec.xml", &server, &[]);
}

#[test]
fn sigterm_ends_calls_with_bye_and_exits_0() {
    let mut server = Server::start(&quiet());
    let call = sipp_start("uac_server_bye.xml", &server, &[]);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !call.messages_so_far().contains("ACK sip:") {
        assert!(
            Instant::now() < deadline,
            "the call was not established within 5 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    let signalled = Instant::now();
    server.sigterm();
    let status = server.wait_exit(Duration::from_secs(15));
    let result = call.wait();
    result.assert_ok(&server);
    let status = status.unwrap_or_else(|| {
        panic!(
            "the server did not exit within 15 s of SIGTERM\n{}",
            tail(&server.log(), 80)
        )
    });
    assert!(
        status.success(),
        "the server exited with {status} after SIGTERM (expected 0)\n{}",
        tail(&server.log(), 80)
    );
    assert!(
        result.elapsed < Duration::from_secs(15),
        "the call did not end promptly"
    );
    assert!(
        count_lines(&result.messages, "BYE sip:") >= 1,
        "no BYE from the server\n{}",
        result.report()
    );
    eprintln!("shutdown took {:?}", signalled.elapsed());
}
