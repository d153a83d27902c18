//! The inbound e-mail path without I/O: `mail::Ingest::inbound` on any bytes (what an IMAP
//! server hands over): MIME parsing with charsets and encoded words, the certified-mail (PEC)
//! envelope unwrapped, classification (auto-replies, bounces, lists, faxes), the thread keys.
//! A refusal is recorded (`content: Err`), never a panic; what parses keeps the raw bytes,
//! decodes attachments to at most three times the bytes that came (charset conversion), and tags only check-digit-valid numbers
//! that the subject tagger finds again.

#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use mail::ingest::Ingest;
use mail::template::Lang;
use mail::thread::{tagged_numbers, tagged_subject};
use mail::FaxRule;

fuzz_target!(|data: &[u8]| {
    let ingest = Ingest {
        mailbox: "urp".into(),
        queue: "urp".into(),
        from: "urp@comune.example.org".into(),
        lang: Lang::It,
        fax: FaxRule {
            gateways: vec!["@fax.example.org".into()],
            subject_contains: Some("Fax da".into()),
        },
        reopen_within: Duration::from_secs(7 * 24 * 3600),
        message_id_domain: "comune.example.org".into(),
        outbox: None,
        on_filed: None,
    };
    let m = ingest.inbound("urp/1/1".into(), data.to_vec(), chrono::DateTime::UNIX_EPOCH);
    assert_eq!(m.raw, data, "the raw message is kept as it came");
    let Ok(c) = m.content else {
        return;
    };
    // Transfer decoding only shrinks; a text part turned from a one-byte charset into UTF-8
    // grows at most threefold (found by this target: windows-1252 "Ï" is two bytes in UTF-8).
    let attached: usize = c.attachments.iter().map(|a| a.content.len()).sum();
    assert!(
        attached <= 3 * data.len(),
        "{attached} bytes of attachments from {} bytes",
        data.len()
    );
    for n in &c.tagged_numbers {
        assert!(n.bytes().all(|b| b.is_ascii_digit()), "{n:?}");
        assert!(tagged_numbers(&tagged_subject(n, "Re: x")).contains(n));
    }
    // Only personal mail with a sender is ever answered (no mail loops).
    assert_eq!(c.answerable, c.class == "personal");
    assert!(!c.answerable || c.from_address.is_some());
});
