//! The per-packet path allocates nothing: sending a looping prompt, receiving audio and DTMF,
//! recording, RTCP. Measured with a counting global allocator (this test binary only).

use std::alloc::System;
use std::io::Cursor;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use media::{
    Codec, Direction, MAX_PACKET, PlayOptions, PlaybackId, Prompt, Recorder, RtpHeader, RtpSession,
    SessionConfig, StreamParams,
};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// The allocator's counters are process-wide and the test harness allocates on its own
/// threads when a test ends: one test runs every measurement, in turn.
#[test]
fn per_packet_paths_do_not_allocate() {
    steady_state_packets_do_not_allocate();
    bridged_relay_does_not_allocate();
}

fn steady_state_packets_do_not_allocate() {
    let start = Instant::now();
    let peer: SocketAddr = "127.0.0.1:40000".parse().unwrap();
    let mut s = RtpSession::new(SessionConfig {
        ssrc: 9,
        initial_seq: 0,
        initial_timestamp: 0,
        rtp_timeout: Some(Duration::from_secs(1)),
        latch_any_address: false,
        clock_origin: (start, SystemTime::now()),
    });
    s.configure(
        StreamParams {
            remote: peer,
            codec: Codec::Pcma,
            payload_type: 8,
            dtmf_payload_type: Some(101),
            ptime_ms: 20,
            direction: Direction::SendRecv,
        },
        start,
    );
    let prompt = Arc::new(Prompt::from_samples_8k(&vec![1000; 8000], "one second"));
    s.play(
        PlaybackId(1),
        vec![prompt],
        PlayOptions {
            looped: true,
            barge_in: false,
        },
    );
    let mut out = vec![0u8; MAX_PACKET];
    let mut inbound = vec![0u8; 172];
    let mut dtmf = [0u8; 16];
    let mut wav = Cursor::new(Vec::with_capacity(2 << 20));
    let mut recorder = Recorder::new(&mut wav, Duration::from_secs(120), start).unwrap();
    let mut now = start;
    let mut step = |s: &mut RtpSession, recorder: &mut Recorder<_>, k: u32| {
        now += Duration::from_millis(20);
        RtpHeader {
            payload_type: 8,
            marker: false,
            sequence: k as u16,
            timestamp: k * 160,
            ssrc: 77,
        }
        .write(&mut inbound);
        if let Some(audio) = s.handle_rtp(&inbound, peer, now) {
            recorder.handle_audio(audio, now).unwrap();
        }
        // A digit every 50 packets, its end repeated three times.
        if k.is_multiple_of(50) {
            RtpHeader {
                payload_type: 101,
                marker: false,
                sequence: k as u16,
                timestamp: k * 160,
                ssrc: 77,
            }
            .write(&mut dtmf);
            dtmf[12..].copy_from_slice(&[5, 0x8A, 0x03, 0x20]);
            for _ in 0..3 {
                let _ = s.handle_rtp(&dtmf, peer, now);
            }
        }
        s.handle_timeout(now);
        let mut n = 0;
        while let Some(t) = s.poll_transmit(now, &mut out) {
            n += t.len;
        }
        while s.poll_event().is_some() {}
        n
    };
    // Warm up: first packets, first RTCP report, buffers reaching their size.
    for k in 0..500 {
        step(&mut s, &mut recorder, k);
    }
    let region = Region::new(GLOBAL);
    let mut bytes = 0;
    for k in 500..3500 {
        bytes += step(&mut s, &mut recorder, k);
    }
    let stats = region.change();
    assert!(bytes > 3000 * 160, "packets were sent: {bytes} bytes");
    assert_eq!(recorder.samples(), 3500 * 160, "every packet was recorded");
    assert_eq!(
        stats.allocations + stats.reallocations,
        0,
        "3000 packets each way allocated: {stats:?}"
    );
    // The instrument itself works.
    let region = Region::new(GLOBAL);
    let v = std::hint::black_box(vec![1u8; 10]);
    assert_eq!(region.change().allocations, 1);
    drop(v);
}

/// The relay path: a packet accepted by one leg, transcoded (µ-law → A-law) and re-sent on
/// its bridged partner, telephone-events included, with both legs' own timers and RTCP.
fn bridged_relay_does_not_allocate() {
    let start = Instant::now();
    let peer: SocketAddr = "127.0.0.1:40000".parse().unwrap();
    let session = |ssrc, codec: Codec| {
        let mut s = RtpSession::new(SessionConfig {
            ssrc,
            initial_seq: 0,
            initial_timestamp: 0,
            rtp_timeout: Some(Duration::from_secs(1)),
            latch_any_address: false,
            clock_origin: (start, SystemTime::now()),
        });
        s.configure(
            StreamParams {
                remote: peer,
                codec,
                payload_type: codec.static_payload_type(),
                dtmf_payload_type: Some(101),
                ptime_ms: 20,
                direction: Direction::SendRecv,
            },
            start,
        );
        s
    };
    let mut a = session(1, Codec::Pcmu);
    let mut b = session(2, Codec::Pcma);
    b.bridge_start(start);
    let mut inbound = vec![0u8; 172];
    let mut dtmf = [0u8; 16];
    let mut out = vec![0u8; MAX_PACKET];
    let mut now = start;
    let mut step = |k: u32| {
        now += Duration::from_millis(20);
        let mut relayed = 0;
        RtpHeader {
            payload_type: 0,
            marker: false,
            sequence: k as u16,
            timestamp: k * 160,
            ssrc: 77,
        }
        .write(&mut inbound);
        if let Some(p) = a.handle_rtp_packet(&inbound, peer, now) {
            relayed += b.relay(&p, now, &mut out).map_or(0, |t| t.len);
        }
        if k.is_multiple_of(50) {
            RtpHeader {
                payload_type: 101,
                marker: false,
                sequence: k as u16,
                timestamp: k * 160,
                ssrc: 77,
            }
            .write(&mut dtmf);
            dtmf[12..].copy_from_slice(&[5, 0x8A, 0x03, 0x20]);
            if let Some(p) = a.handle_rtp_packet(&dtmf, peer, now) {
                relayed += b.relay(&p, now, &mut out).map_or(0, |t| t.len);
            }
        }
        for s in [&mut a, &mut b] {
            s.handle_timeout(now);
            while s.poll_transmit(now, &mut out).is_some() {}
            while s.poll_event().is_some() {}
        }
        relayed
    };
    for k in 0..500 {
        step(k);
    }
    let region = Region::new(GLOBAL);
    let mut bytes = 0;
    for k in 500..3500 {
        bytes += step(k);
    }
    let stats = region.change();
    assert!(bytes >= 3000 * 172, "packets were relayed: {bytes} bytes");
    assert_eq!(
        stats.allocations + stats.reallocations,
        0,
        "3000 relayed packets allocated: {stats:?}"
    );
}
