//! The call journal's reader (`crm::parse_journal`) and what the store does with a journal a
//! crash or a bad disk left: whatever the bytes, reading never panics, every record read
//! serialises back to a line that reads as the same record, and appending after the bytes
//! (the tail sealed first: a torn last line set aside, a whole one given its newline) reads
//! back as the same records followed by the new one.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let read = crm::parse_journal(data);
    for w in &read.entries {
        let line = serde_json::to_string(w).expect("a record serialises");
        let again = crm::parse_journal(line.as_bytes());
        assert_eq!(again.entries.as_slice(), std::slice::from_ref(w));
    }
    let dir = tempfile::tempdir().expect("a temporary folder");
    let journal = dir.path().join("calls.jsonl");
    std::fs::write(&journal, data).expect("write the journal");
    let next = crm::CallWrite::IvrStep {
        call_id: "c-fuzz".into(),
        step: "menu:1".into(),
    };
    // A spill left by a crash is appended to the journal when the queue is made.
    std::fs::write(
        crm::write_queue::spill_path(&journal),
        format!("{}\n", serde_json::to_string(&next).unwrap()),
    )
    .expect("write the spill");
    let made = crm::write_queue::write_queue(&journal, 1);
    assert!(made.is_ok(), "{:?}", made.err());
    let after = crm::parse_journal(&std::fs::read(&journal).expect("read the journal"));
    let mut expected = read.entries.clone();
    expected.push(next);
    assert_eq!(after.entries, expected);
    assert!(after.torn.is_none());
});
