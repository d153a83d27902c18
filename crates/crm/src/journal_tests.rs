//! The journal's file read leniently: torn last lines, corrupt middle lines, and a property
//! over every prefix of a valid journal.

use chrono::{TimeZone, Utc};
use proptest::prelude::*;

use super::*;
use crate::calls::NewCall;

fn start(n: u32) -> CallWrite {
    CallWrite::StartCall(NewCall {
        call_id: format!("c-{n}"),
        sip_call_id: Some(format!("sip-{n}@host")),
        caller: "+390612345678".into(),
        dialled: "800100200".into(),
        started: Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap(),
    })
}

fn step(n: u32, step: &str) -> CallWrite {
    CallWrite::IvrStep {
        call_id: format!("c-{n}"),
        step: step.into(),
    }
}

fn line(w: &CallWrite) -> String {
    serde_json::to_string(w).unwrap()
}

#[test]
fn a_torn_last_line_is_left_out_and_the_records_before_it_are_read() {
    let (a, b, c) = (start(1), step(1, "menu:1"), start(2));
    let whole = line(&c);
    let text = format!("{}\n{}\n{}", line(&a), line(&b), &whole[..whole.len() / 2]);
    let read = parse_journal(text.as_bytes());
    assert_eq!(read.entries, [a, b]);
    assert!(read.corrupt.is_empty());
    assert_eq!(read.torn.as_deref(), Some(&whole[..whole.len() / 2]));
}

#[test]
fn a_whole_record_without_its_newline_is_kept() {
    let (a, b) = (start(1), step(1, "menu:2"));
    let text = format!("{}\n{}", line(&a), line(&b));
    let read = parse_journal(text.as_bytes());
    assert_eq!(read.entries, [a, b]);
    assert_eq!(read.torn, None);
}

#[test]
fn a_corrupt_line_in_the_middle_is_set_aside_and_the_rest_read() {
    let (a, b) = (start(1), start(2));
    let text = format!("{}\n{{\"op\":\"start_ca\u{0}\n\n{}\n", line(&a), line(&b));
    let mut bytes = text.into_bytes();
    bytes.extend_from_slice(b"\xff\xfe not json\n");
    let read = parse_journal(&bytes);
    assert_eq!(read.entries, [a, b]);
    assert_eq!(read.corrupt.len(), 2);
    assert_eq!(read.torn, None);
}

#[test]
fn a_record_appended_after_a_torn_line_is_not_glued_onto_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("calls.jsonl");
    let (a, b) = (start(1), start(2));
    let torn = &line(&b)[..20];
    std::fs::write(&path, format!("{}\n{torn}", line(&a))).unwrap();
    let c = step(1, "menu:3");
    append_entries(&path, std::slice::from_ref(&c)).unwrap();
    let read = read_journal(&path).unwrap();
    assert_eq!(read.entries, [a, c]);
    assert!(read.corrupt.is_empty() && read.torn.is_none());
    // The torn piece is kept for a person to read, not lost.
    let rejected = std::fs::read_to_string(rejected_path(&path)).unwrap();
    assert_eq!(rejected, format!("{torn}\n"));
}

#[test]
fn a_whole_last_record_gets_its_newline_before_the_next_append() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("calls.jsonl");
    let (a, b, c) = (start(1), start(2), step(2, "pin:ok"));
    std::fs::write(&path, format!("{}\n{}", line(&a), line(&b))).unwrap();
    append_entries(&path, std::slice::from_ref(&c)).unwrap();
    assert_eq!(read_journal(&path).unwrap().entries, [a, b, c]);
    assert!(!rejected_path(&path).exists());
}

fn arb_write() -> impl Strategy<Value = CallWrite> {
    prop_oneof![
        (0u32..1000).prop_map(start),
        (0u32..1000, "[a-z:0-9 \"\\\\{}\u{e0}-\u{ff}]{0,24}").prop_map(|(n, s)| step(n, &s)),
        (0u32..1000).prop_map(|n| CallWrite::EndCall {
            call_id: format!("c-{n}"),
            ended: Utc.timestamp_millis_opt(1_772_000_000_000).unwrap(),
            outcome: crate::calls::CallOutcome::Answered,
        }),
    ]
}

proptest! {
    /// Any prefix of a valid journal (a crash may cut it anywhere) reads back as exactly the
    /// records whole in it, nothing corrupt; and a record appended after it is read too.
    #[test]
    fn any_prefix_replays_the_complete_records_it_contains(
        writes in proptest::collection::vec(arb_write(), 0..8),
        cut in 0.0f64..=1.0,
        next in arb_write(),
    ) {
        let mut text = Vec::new();
        let mut ends = Vec::new();
        for w in &writes {
            text.extend_from_slice(line(w).as_bytes());
            ends.push(text.len());
            text.push(b'\n');
        }
        let k = ((text.len() as f64) * cut) as usize;
        let prefix = &text[..k.min(text.len())];
        let whole: Vec<CallWrite> = writes
            .iter()
            .zip(&ends)
            .filter(|(_, end)| **end <= prefix.len())
            .map(|(w, _)| w.clone())
            .collect();
        let read = parse_journal(prefix);
        prop_assert_eq!(&read.entries, &whole);
        prop_assert!(read.corrupt.is_empty());

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("calls.jsonl");
        std::fs::write(&path, prefix).unwrap();
        append_entries(&path, std::slice::from_ref(&next)).unwrap();
        let read = read_journal(&path).unwrap();
        let mut expected = whole;
        expected.push(next);
        prop_assert_eq!(read.entries, expected);
        prop_assert!(read.corrupt.is_empty() && read.torn.is_none());
    }
}
