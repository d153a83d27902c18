use super::*;
use proptest::prelude::*;

fn ev(event: u8, end: bool, duration: u16) -> [u8; 4] {
    payload(event, end, duration)
}

fn t0() -> Instant {
    Instant::now()
}

fn digits(rx: &mut DtmfReceiver) -> Vec<(char, u32)> {
    std::iter::from_fn(|| rx.poll_digit())
        .map(|d| (d.digit, d.duration_units))
        .collect()
}

#[test]
fn payload_round_trips_and_short_payload_is_refused() {
    let e = TelephoneEvent {
        event: 11,
        end: true,
        volume: 10,
        duration: 1600,
    };
    let mut b = [0u8; 4];
    e.write(&mut b);
    assert_eq!(b, [11, 0x8A, 0x06, 0x40]);
    assert_eq!(TelephoneEvent::parse(&b), Some(e));
    assert_eq!(TelephoneEvent::parse(&b[..3]), None);
}

#[test]
fn digit_codes_follow_rfc4733_table() {
    let all = "0123456789*#ABCD";
    for (code, c) in all.chars().enumerate() {
        assert_eq!(event_to_digit(code as u8), Some(c));
        assert_eq!(digit_to_event(c), Some(code as u8));
    }
    assert_eq!(event_to_digit(16), None);
    assert_eq!(digit_to_event('x'), None);
    assert_eq!(digit_to_event('b'), Some(13));
}

#[test]
fn full_event_with_triple_end_is_reported_once() {
    let now = t0();
    let mut rx = DtmfReceiver::new();
    assert_eq!(
        rx.handle_packet(1, 800, &ev(5, false, 160), now),
        DtmfPacket::NewEvent
    );
    assert_eq!(
        rx.handle_packet(1, 800, &ev(5, false, 560), now),
        DtmfPacket::Known
    );
    assert!(digits(&mut rx).is_empty(), "reported before the end");
    for _ in 0..3 {
        rx.handle_packet(1, 800, &ev(5, true, 800), now);
    }
    assert_eq!(digits(&mut rx), vec![('5', 800)]);
    // A late update after the end changes nothing.
    assert_eq!(
        rx.handle_packet(1, 800, &ev(5, false, 560), now),
        DtmfPacket::Known
    );
    rx.handle_timeout(now + EVENT_TIMEOUT * 2);
    assert!(digits(&mut rx).is_empty());
}

#[test]
fn lost_start_is_reported_on_end() {
    let now = t0();
    let mut rx = DtmfReceiver::new();
    assert_eq!(
        rx.handle_packet(7, 16000, &ev(11, true, 960), now),
        DtmfPacket::NewEvent
    );
    rx.handle_packet(7, 16000, &ev(11, true, 960), now);
    rx.handle_packet(7, 16000, &ev(11, true, 960), now);
    assert_eq!(digits(&mut rx), vec![('#', 960)]);
}

#[test]
fn lost_end_is_reported_when_next_event_starts_or_after_timeout() {
    let now = t0();
    let mut rx = DtmfReceiver::new();
    rx.handle_packet(1, 0, &ev(1, false, 400), now);
    rx.handle_packet(1, 0, &ev(1, false, 800), now);
    rx.handle_packet(1, 4000, &ev(2, false, 160), now);
    assert_eq!(digits(&mut rx), vec![('1', 800)]);
    assert_eq!(rx.poll_timeout(), Some(now + EVENT_TIMEOUT));
    rx.handle_timeout(now + EVENT_TIMEOUT - Duration::from_millis(1));
    assert!(digits(&mut rx).is_empty());
    rx.handle_timeout(now + EVENT_TIMEOUT);
    assert_eq!(digits(&mut rx), vec![('2', 160)]);
    assert_eq!(rx.poll_timeout(), None);
    // Its end arriving later does not report it again.
    rx.handle_packet(1, 4000, &ev(2, true, 800), now + EVENT_TIMEOUT * 2);
    assert!(digits(&mut rx).is_empty());
}

#[test]
fn reordered_end_before_updates_reports_once_with_longest_duration() {
    let now = t0();
    let mut rx = DtmfReceiver::new();
    rx.handle_packet(1, 100, &ev(9, false, 160), now);
    rx.handle_packet(1, 100, &ev(9, true, 1200), now);
    rx.handle_packet(1, 100, &ev(9, false, 800), now);
    rx.handle_packet(1, 100, &ev(9, true, 1200), now);
    assert_eq!(digits(&mut rx), vec![('9', 1200)]);
}

#[test]
fn same_timestamp_new_ssrc_is_a_new_digit() {
    // SIPp's play_dtmf uses a new SSRC for each digit.
    let now = t0();
    let mut rx = DtmfReceiver::new();
    for ssrc in [10u32, 11] {
        rx.handle_packet(ssrc, 0, &ev(3, false, 160), now);
        for _ in 0..3 {
            rx.handle_packet(ssrc, 0, &ev(3, true, 640), now);
        }
    }
    assert_eq!(digits(&mut rx), vec![('3', 640), ('3', 640)]);
}

#[test]
fn non_dtmf_events_and_garbage_are_ignored() {
    let now = t0();
    let mut rx = DtmfReceiver::new();
    assert_eq!(
        rx.handle_packet(1, 0, &ev(16, true, 800), now),
        DtmfPacket::Known
    );
    assert_eq!(rx.handle_packet(1, 0, &[1, 2], now), DtmfPacket::Malformed);
    assert!(digits(&mut rx).is_empty());
}

/// Runs the sender for `slots` 20 ms slots starting at timestamp `ts0`.
fn send_slots(tx: &mut DtmfSender, ts0: u32, slots: usize) -> Vec<(u32, DtmfSlot)> {
    (0..slots)
        .map(|i| {
            let ts = ts0.wrapping_add(i as u32 * 160);
            (ts, tx.poll_slot(ts, 160))
        })
        .collect()
}

#[test]
fn sender_emits_start_updates_and_three_ends_with_one_timestamp() {
    let mut tx = DtmfSender::new();
    assert!(tx.queue('7', Duration::from_millis(200)));
    assert!(!tx.queue('x', Duration::from_millis(200)));
    let out = send_slots(&mut tx, 0xFFFF_FF00, 20);
    let packets: Vec<_> = out
        .iter()
        .filter_map(|(slot_ts, s)| match s {
            DtmfSlot::Packet {
                timestamp,
                marker,
                payload,
            } => Some((
                *slot_ts,
                *timestamp,
                *marker,
                TelephoneEvent::parse(payload).unwrap(),
            )),
            _ => None,
        })
        .collect();
    // Start, updates at >= 50 ms spacing (on the 20 ms grid: 60, 100, 160 ms), 3 ends.
    assert!(packets[0].2, "start has the marker");
    assert!(
        packets[1..].iter().all(|p| !p.2),
        "only the start has the marker"
    );
    assert!(packets.iter().all(|p| p.1 == 0xFFFF_FF00), "one timestamp");
    let durations: Vec<(bool, u16)> = packets.iter().map(|p| (p.3.end, p.3.duration)).collect();
    assert_eq!(
        durations,
        vec![
            (false, 160),
            (false, 480),
            (false, 800),
            (false, 1280),
            (true, 1600),
            (true, 1600),
            (true, 1600)
        ]
    );
    // Muted slots between updates, audio after the ends.
    assert_eq!(out[1].1, DtmfSlot::Muted);
    assert_eq!(out.last().unwrap().1, DtmfSlot::Audio);
    assert!(!tx.is_busy());
}

#[test]
fn queued_digits_are_separated_by_audio() {
    let mut tx = DtmfSender::new();
    tx.queue('1', Duration::from_millis(40));
    tx.queue('2', Duration::from_millis(40));
    let out = send_slots(&mut tx, 0, 12);
    let kinds: Vec<char> = out
        .iter()
        .map(|(_, s)| match s {
            DtmfSlot::Audio => 'a',
            DtmfSlot::Muted => 'm',
            DtmfSlot::Packet { payload, .. } if payload[1] & 0x80 != 0 => 'E',
            DtmfSlot::Packet { .. } => 'S',
        })
        .collect();
    assert_eq!(kinds.iter().collect::<String>(), "SEEEaaSEEEaa");
}

proptest! {
    /// Digits sent by `DtmfSender`, then duplicated, reordered within a digit and thinned by
    /// loss (at least one packet per digit survives), come out exactly once and in order.
    #[test]
    fn sender_to_receiver_survives_loss_duplication_reordering(
        seq in proptest::collection::vec(0u8..16, 1..6),
        ms in 40u64..400,
        faults in proptest::collection::vec((0u8..4, any::<bool>()), 200),
    ) {
        let mut tx = DtmfSender::new();
        for &e in &seq {
            tx.queue(event_to_digit(e).unwrap(), Duration::from_millis(ms));
        }
        // Group packets per event timestamp.
        let mut groups: Vec<Vec<(u32, [u8; 4])>> = Vec::new();
        let mut last_ts = None;
        let mut i = 0u32;
        while tx.is_busy() {
            if let DtmfSlot::Packet { timestamp, payload, .. } = tx.poll_slot(i * 160, 160) {
                if last_ts != Some(timestamp) {
                    groups.push(Vec::new());
                    last_ts = Some(timestamp);
                }
                groups.last_mut().unwrap().push((timestamp, payload));
            }
            i += 1;
        }
        prop_assert_eq!(groups.len(), seq.len());
        let mut f = faults.iter().cycle();
        let mut wire = Vec::new();
        for g in &groups {
            let mut kept: Vec<(u32, [u8; 4])> = Vec::new();
            for &p in g {
                let (fault, flag) = *f.next().unwrap();
                match fault {
                    0 => {}                            // lost
                    1 => { kept.push(p); kept.push(p) } // duplicated
                    _ => kept.push(p),
                }
                if flag && kept.len() >= 2 {
                    let n = kept.len();
                    kept.swap(n - 1, n - 2);            // reordered
                }
            }
            if kept.is_empty() {
                kept.push(g[g.len() / 2]);
            }
            wire.extend(kept);
        }
        let now = Instant::now();
        let mut rx = DtmfReceiver::new();
        for (ts, p) in wire {
            rx.handle_packet(42, ts, &p, now);
        }
        rx.handle_timeout(now + EVENT_TIMEOUT);
        let got: Vec<char> = digits(&mut rx).into_iter().map(|d| d.0).collect();
        let want: Vec<char> = seq.iter().map(|&e| event_to_digit(e).unwrap()).collect();
        prop_assert_eq!(got, want);
    }
}
