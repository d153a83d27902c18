use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use rtp_rs::RtpReader;

use super::super::tests::{Harness, Sent, params};
use super::*;
use crate::event::{MediaEvent, PlaybackId};
use crate::playout::PlayOptions;
use crate::prompt::Prompt;
use crate::session::MAX_PACKET;
use crate::{Codec, Direction};

const SRC_SSRC: u32 = 0xA11C_E000;

/// A packet as the relay put it on the wire.
#[derive(Debug, Clone, PartialEq)]
struct Relayed {
    pt: u8,
    marker: bool,
    seq: u16,
    ts: u32,
    ssrc: u32,
    payload: Vec<u8>,
}

fn relay(h: &mut Harness, p: &ReceivedRtp<'_>) -> Option<Relayed> {
    let mut buf = vec![0u8; MAX_PACKET];
    let t = h.s.relay(p, h.now, &mut buf)?;
    assert_eq!(t.channel, Channel::Rtp);
    let r = RtpReader::new(&buf[..t.len]).unwrap();
    Some(Relayed {
        pt: r.payload_type(),
        marker: r.mark(),
        seq: r.sequence_number().into(),
        ts: r.timestamp(),
        ssrc: r.ssrc(),
        payload: r.payload().to_vec(),
    })
}

fn audio(codec: Codec, seq: u16, ts: u32, payload: &[u8]) -> ReceivedRtp<'_> {
    ReceivedRtp {
        kind: RtpKind::Audio(codec),
        ssrc: SRC_SSRC,
        sequence: seq,
        timestamp: ts,
        marker: false,
        payload,
    }
}

fn prompt(frames: usize) -> Arc<Prompt> {
    Arc::new(Prompt::from_samples_8k(&vec![3000; frames * 160], "p"))
}

fn rtp_only(sent: Vec<Sent>) -> Vec<Sent> {
    sent.into_iter()
        .filter(|p| p.channel == Channel::Rtp)
        .collect()
}

#[test]
fn prompt_then_bridge_then_prompt_is_one_continuous_stream() {
    let mut b = Harness::started();
    b.s.play(PlaybackId(1), vec![prompt(50)], PlayOptions::default());
    let before = b.ticks(3);
    assert!(before.len() >= 3);
    b.s.bridge_start(b.now);
    assert_eq!(
        b.events(),
        vec![MediaEvent::PlaybackFinished {
            id: PlaybackId(1),
            interrupted: true
        }],
        "the bridge stops the prompt"
    );
    let frame = [g711::alaw_encode(1000); 160];
    let mut relayed = Vec::new();
    for k in 0..10u16 {
        // Own stream stays quiet while relayed audio flows.
        assert!(rtp_only(b.advance(20)).is_empty(), "no own packets at {k}");
        let p = audio(Codec::Pcma, 40_000 + k, 7_000_000 + 160 * k as u32, &frame);
        relayed.push(relay(&mut b, &p).expect("relayed"));
    }
    b.s.bridge_end();
    b.s.play(PlaybackId(2), vec![prompt(50)], PlayOptions::default());
    let after = b.ticks(3);
    assert_eq!(after.len(), 3);

    let last = before.last().unwrap();
    for (k, r) in relayed.iter().enumerate() {
        assert_eq!(r.ssrc, b.s.ssrc(), "our SSRC on relayed packet {k}");
        assert_eq!(r.pt, 0, "B's payload type");
        assert_eq!(r.seq, last.seq.wrapping_add(1 + k as u16), "seq {k}");
        assert_eq!(r.marker, k == 0, "marker {k}");
        assert_eq!(r.ts, relayed[0].ts.wrapping_add(160 * k as u32), "ts {k}");
        assert!(r.payload.iter().all(|&c| c == g711::ulaw_encode(1000)));
    }
    assert!(relayed[0].ts.wrapping_sub(last.ts) as i32 >= 160);
    let end = relayed.last().unwrap();
    assert_eq!(after[0].seq, end.seq.wrapping_add(1));
    assert!(after[0].marker, "a new talkspurt after the bridge");
    let gap = after[0].ts.wrapping_sub(end.ts) as i32;
    assert!((160..=480).contains(&gap), "timestamp gap {gap}");
    assert_eq!(after[1].ts, after[0].ts.wrapping_add(160));
}

#[test]
fn matching_codecs_relay_untouched_and_different_ones_transcode() {
    let mut b = Harness::started();
    b.s.bridge_start(b.now);
    let payload: Vec<u8> = (0..160).map(|i| i as u8).collect();
    let r = relay(&mut b, &audio(Codec::Pcmu, 1, 0, &payload)).unwrap();
    assert_eq!(r.payload, payload, "µ-law to µ-law: untouched");
    let mut p = params();
    p.codec = Codec::Pcma;
    p.payload_type = 8;
    b.s.configure(p, b.now);
    let samples: Vec<i16> = (0..160).map(|i| (i as i16 - 80) * 300).collect();
    let ulaw: Vec<u8> = samples.iter().map(|&s| g711::ulaw_encode(s)).collect();
    let r = relay(&mut b, &audio(Codec::Pcmu, 2, 160, &ulaw)).unwrap();
    assert_eq!(r.pt, 8);
    for (i, (&c, &s)) in r.payload.iter().zip(&samples).enumerate() {
        let got = g711::alaw_decode(c) as i32;
        let err = (got - s as i32).abs();
        assert!(err <= (s as i32).abs() / 8 + 32, "sample {i}: {s} -> {got}");
    }
}

#[test]
fn telephone_events_take_our_payload_type_and_keep_their_timestamp() {
    let mut b = Harness::started();
    b.s.bridge_start(b.now);
    let mut out = Vec::new();
    for (dur, end) in [(160u16, false), (480, false), (800, true), (800, true)] {
        let mut payload = [0u8; 4];
        TelephoneEvent {
            event: 5,
            end,
            volume: 10,
            duration: dur,
        }
        .write(&mut payload);
        let p = ReceivedRtp {
            kind: RtpKind::TelephoneEvent,
            ssrc: SRC_SSRC,
            sequence: 9 + out.len() as u16,
            timestamp: 32_000,
            marker: dur == 160,
            payload: &payload,
        };
        b.now += Duration::from_millis(20);
        out.push(relay(&mut b, &p).unwrap());
    }
    assert!(out.iter().all(|r| r.pt == 101 && r.ts == out[0].ts));
    assert_eq!(
        out.iter().map(|r| r.marker).collect::<Vec<_>>(),
        [true, false, false, false]
    );
    assert_eq!(
        TelephoneEvent::parse(&out[3].payload).unwrap().duration,
        800
    );

    // No telephone-event negotiated on this leg: events are not sent.
    let mut p = params();
    p.dtmf_payload_type = None;
    b.s.configure(p, b.now);
    let ev = ReceivedRtp {
        kind: RtpKind::TelephoneEvent,
        ssrc: SRC_SSRC,
        sequence: 20,
        timestamp: 40_000,
        marker: true,
        payload: &[1, 0, 0, 160],
    };
    assert_eq!(relay(&mut b, &ev), None);
}

#[test]
fn a_leg_on_hold_is_not_sent_to_and_a_leg_not_receiving_hands_nothing_over() {
    let mut b = Harness::started();
    b.s.bridge_start(b.now);
    let frame = [0xFFu8; 160];
    for direction in [Direction::RecvOnly, Direction::Inactive] {
        let mut p = params();
        p.direction = direction;
        b.s.configure(p, b.now);
        assert_eq!(relay(&mut b, &audio(Codec::Pcmu, 1, 0, &frame)), None);
    }
    b.s.configure(params(), b.now);
    assert!(relay(&mut b, &audio(Codec::Pcmu, 2, 160, &frame)).is_some());

    // The other side: a leg whose peer went inactive accepts nothing to relay.
    let mut a = Harness::started();
    let mut p = params();
    p.direction = Direction::Inactive;
    a.s.configure(p, a.now);
    let mut packet = vec![0u8; 172];
    RtpHeader {
        payload_type: 0,
        marker: false,
        sequence: 1,
        timestamp: 0,
        ssrc: 5,
    }
    .write(&mut packet);
    let from: SocketAddr = "192.0.2.10:4000".parse().unwrap();
    assert_eq!(a.s.handle_rtp_packet(&packet, from, a.now), None);
    a.s.configure(params(), a.now);
    let got = a.s.handle_rtp_packet(&packet, from, a.now).unwrap();
    assert_eq!(
        (got.kind, got.sequence, got.payload.len()),
        (RtpKind::Audio(Codec::Pcmu), 1, 160)
    );
}

#[test]
fn comfort_silence_fills_in_when_relayed_audio_stops_and_gives_way_when_it_resumes() {
    let mut b = Harness::started();
    b.s.bridge_start(b.now);
    let quiet = rtp_only(b.advance(180));
    assert!(quiet.is_empty(), "relay grace: {quiet:?}");
    let filled = b.ticks(5);
    assert!(filled.len() >= 4, "comfort silence after {FILL_AFTER:?}");
    assert!(filled.iter().all(|p| p.payload.iter().all(|&c| c == 0xFF)));
    let frame = [0x10u8; 160];
    let r = relay(&mut b, &audio(Codec::Pcmu, 77, 123, &frame)).unwrap();
    let last = filled.last().unwrap();
    assert_eq!(r.seq, last.seq.wrapping_add(1));
    assert!(r.marker);
    assert!(r.ts.wrapping_sub(last.ts) as i32 >= 160);
    assert!(rtp_only(b.advance(20)).is_empty(), "silence stops again");
}

#[test]
fn our_own_digit_holds_the_stream_while_it_is_sent() {
    let mut b = Harness::started();
    b.s.bridge_start(b.now);
    assert!(b.s.send_dtmf('7', Duration::from_millis(60)));
    let frame = [0x10u8; 160];
    assert_eq!(relay(&mut b, &audio(Codec::Pcmu, 1, 0, &frame)), None);
    let digit = b.ticks(8);
    assert!(digit.iter().any(|p| p.pt == 101));
    assert!(relay(&mut b, &audio(Codec::Pcmu, 9, 1280, &frame)).is_some());
}

#[derive(Debug, Clone)]
enum Step {
    /// 10 ms pass; the packets arrived by then are relayed; the own stream is drained.
    Wait,
    Unbridge,
    Bridge,
    Prompt,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        20 => Just(Step::Wait),
        1 => Just(Step::Unbridge),
        1 => Just(Step::Bridge),
        1 => Just(Step::Prompt),
    ]
}

proptest! {
    /// Whatever mix of relayed packets (with arrival jitter), prompts, comfort silence and
    /// bridge changes: the packets the leg sends carry consecutive sequence numbers and
    /// timestamps that move forward by at least one packet each time.
    #[test]
    fn sent_stream_stays_continuous(
        steps in proptest::collection::vec(step(), 1..300),
        jitter in proptest::collection::vec(0u64..60, 200),
        src_seq in any::<u16>(),
        src_ts in any::<u32>(),
    ) {
        let mut b = Harness::started();
        b.s.bridge_start(b.now);
        let start = b.now;
        let frame = [0x22u8; 160];
        let mut next_src = 0usize;
        let mut arrival_floor = Duration::ZERO;
        let mut sent: Vec<(u16, u32)> = Vec::new();
        for (i, s) in steps.iter().enumerate() {
            match s {
                Step::Wait => {
                    b.now += Duration::from_millis(10);
                    while next_src < jitter.len() {
                        let arrival = (Duration::from_millis(20 * next_src as u64 + jitter[next_src]))
                            .max(arrival_floor);
                        if start + arrival > b.now {
                            break;
                        }
                        arrival_floor = arrival;
                        let p = audio(
                            Codec::Pcmu,
                            src_seq.wrapping_add(next_src as u16),
                            src_ts.wrapping_add(160 * next_src as u32),
                            &frame,
                        );
                        if let Some(r) = relay(&mut b, &p) {
                            sent.push((r.seq, r.ts));
                        }
                        next_src += 1;
                    }
                    if i % 2 == 0 {
                        sent.extend(rtp_only(b.drain()).iter().map(|p| (p.seq, p.ts)));
                    }
                }
                Step::Unbridge => b.s.bridge_end(),
                Step::Bridge => b.s.bridge_start(b.now),
                Step::Prompt => {
                    b.s.play(PlaybackId(i as u64), vec![prompt(3)], PlayOptions::default());
                }
            }
        }
        for w in sent.windows(2) {
            prop_assert_eq!(w[1].0, w[0].0.wrapping_add(1), "seq {:?}", w);
            let step = w[1].1.wrapping_sub(w[0].1) as i32;
            prop_assert!(step >= 160, "timestamp step {} in {:?}", step, w);
        }
    }
}

#[test]
fn bridging_is_reported_by_the_session_state() {
    let mut b = Harness::started();
    assert!(!b.s.is_bridged());
    let t: Instant = b.now;
    b.s.bridge_start(t);
    assert!(b.s.is_bridged());
    b.s.bridge_end();
    assert!(!b.s.is_bridged());
    // Not bridged: nothing is relayed.
    assert_eq!(relay(&mut b, &audio(Codec::Pcmu, 1, 0, &[0xFF; 160])), None);
}
