//! Properties: no input makes the facade (or rsip behind it) panic; what parses round-trips.

use proptest::prelude::*;

use super::super::*;
use super::invite;

/// Valid messages to mutate: ours plus some RFC 4475 ones.
fn seeds() -> Vec<Vec<u8>> {
    vec![
        invite(
            "Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>\r\n",
            "v=0\r\n",
        ),
        include_bytes!("../testdata/wsinv.dat").to_vec(),
        include_bytes!("../testdata/longreq.dat").to_vec(),
        include_bytes!("../testdata/esc01.dat").to_vec(),
        include_bytes!("../testdata/mpart01.dat").to_vec(),
        include_bytes!("../testdata/unreason.dat").to_vec(),
        include_bytes!("../testdata/intmeth.dat").to_vec(),
    ]
}

/// Bytes that matter to SIP syntax, to make mutations bite.
const INTERESTING: &[u8] = b"\r\n \t:;,=<>\"\\/@?[]%0123456789SIPabc\x00\xff";

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Insert(usize, u8),
    Delete(usize, usize),
    Duplicate(usize, usize),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let byte = prop_oneof![any::<u8>(), proptest::sample::select(INTERESTING)];
    prop_oneof![
        (any::<usize>(), byte.clone()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (any::<usize>(), byte).prop_map(|(i, b)| Mutation::Insert(i, b)),
        (any::<usize>(), 1..40usize).prop_map(|(i, n)| Mutation::Delete(i, n)),
        (any::<usize>(), 1..80usize).prop_map(|(i, n)| Mutation::Duplicate(i, n)),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn apply(mut data: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        if data.is_empty() {
            break;
        }
        let len = data.len();
        match *m {
            Mutation::Flip(i, b) => data[i % len] = b,
            Mutation::Insert(i, b) => data.insert(i % (len + 1), b),
            Mutation::Delete(i, n) => {
                let start = i % len;
                data.drain(start..(start + n).min(len));
            }
            Mutation::Duplicate(i, n) => {
                let start = i % len;
                let piece = data[start..(start + n).min(len)].to_vec();
                data.splice(start..start, piece);
            }
            Mutation::Truncate(i) => data.truncate(i % len),
        }
    }
    data
}

fn mutated() -> impl Strategy<Value = Vec<u8>> {
    (
        proptest::sample::select(seeds()),
        proptest::collection::vec(mutation(), 1..6),
    )
        .prop_map(|(seed, mutations)| apply(seed, &mutations))
}

/// Everything that reads the network, on one input.
fn exercise(data: &[u8]) {
    let parsed = parse(data);
    if let Err(err) = &parsed {
        let reason = err.reason();
        assert!(reason.len() <= 100 && reason.is_ascii());
        assert!(!reason.contains(['\r', '\n']) && !reason.is_empty());
        if let Some(response) = error_response(data, err.status_code(), &reason) {
            // Our own error responses must always be readable by a SIP parser (except that the
            // copied CSeq/From/To may be as broken as the request was).
            assert!(response.starts_with(b"SIP/2.0 "));
            assert!(response.ends_with(b"\r\nContent-Length: 0\r\n\r\n"));
        }
    }
    let _ = bad_request(data, "Bad Request");
    if let Ok(message) = &parsed {
        let _ = message.top_via();
        let _ = message.cseq();
        let _ = message.from_tag();
        let _ = message.to_tag();
        // What parses re-serialises into something that parses to the same message.
        let again = parse(&serialize(message)).expect("serialised message parses");
        assert_eq!(&again, message);
        if let rsip::SipMessage::Response(response) = message {
            let _ = response_destination(response, false);
            let _ = response_destination(response, true);
        }
        if let rsip::SipMessage::Request(request) = message {
            let mut request = request.clone();
            add_received_rport(&mut request, "192.0.2.1:5060".parse().unwrap());
            let _ = parse(&serialize(&request.into())).expect("still parses after rport");
        }
    }
    let mut framer = StreamFramer::with_limits(4096, 4096);
    for chunk in data.chunks(7) {
        framer.push(chunk);
        while let Some(frame) = framer.next_message() {
            if let Ok(frame) = frame {
                let _ = parse(&frame);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..600)) {
        exercise(&data);
    }

    #[test]
    fn sip_shaped_text_never_panics(text in "(INVITE|SIP/2\\.0|[A-Za-z]{1,6})[ :;,<>\"@/=\\r\\n\\ta-z0-9.]{0,200}") {
        exercise(text.as_bytes());
    }

    #[test]
    fn mutated_valid_messages_never_panic(data in mutated()) {
        exercise(&data);
    }

    /// `rsip` itself, fed what we hand it but without `catch_unwind`: if it ever panics on
    /// our canonical form, this fails (and `parse` would have returned `ParserPanicked`).
    #[test]
    fn rsip_does_not_panic_on_canonical_input(data in mutated()) {
        if let Ok(canonical) = super::super::canonical::canonicalize(&data) {
            let _ = rsip::SipMessage::try_from(canonical.as_slice());
        }
    }

    #[test]
    fn valid_messages_survive_any_chunking(chunk in 1usize..64, copies in 1usize..4) {
        let mut stream = Vec::new();
        for seed in seeds().iter().take(copies) {
            let msg = serialize(&parse(seed).unwrap_or_else(|_| parse(&seeds()[0]).unwrap()));
            stream.extend_from_slice(&msg);
        }
        let mut framer = StreamFramer::new();
        let mut count = 0;
        for piece in stream.chunks(chunk) {
            framer.push(piece);
            while let Some(frame) = framer.next_message() {
                prop_assert!(parse(&frame.unwrap()).is_ok());
                count += 1;
            }
        }
        prop_assert_eq!(count, copies);
    }
}
