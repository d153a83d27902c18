//! Everything that reads SIP from the network: `message::parse` (and, on success, the helpers,
//! `serialize` and a re-parse that must give the same message), the error responses, and the
//! TCP `StreamFramer` fed in chunks whose size comes from the input.

#![no_main]

use libfuzzer_sys::fuzz_target;
use sip_gateway::message::{self, SipMessageExt, StreamFramer};

fuzz_target!(|data: &[u8]| {
    match message::parse(data) {
        Ok(msg) => {
            let bytes = message::serialize(&msg);
            let again = message::parse(&bytes).expect("a serialised message parses");
            assert_eq!(again, msg, "parse(serialize(m)) == m");
            let _ = (
                msg.top_via(),
                msg.via_hops(),
                msg.via_branch(),
                msg.call_id(),
            );
            let _ = (msg.cseq(), msg.from_tag(), msg.to_tag(), msg.max_forwards());
            match msg {
                rsip::SipMessage::Response(response) => {
                    let _ = message::response_destination(&response, false);
                    let _ = message::response_destination(&response, true);
                }
                rsip::SipMessage::Request(mut request) => {
                    message::add_received_rport(&mut request, "203.0.113.9:40000".parse().unwrap());
                    let bytes = message::serialize(&request.into());
                    message::parse(&bytes).expect("still parses after received/rport");
                }
            }
        }
        Err(error) => {
            let reason = error.reason();
            assert!(!reason.is_empty() && reason.len() <= 100 && reason.is_ascii());
            assert!(!reason.contains(['\r', '\n']));
            if let Some(reply) = message::error_response(data, error.status_code(), &reason) {
                assert!(reply.starts_with(b"SIP/2.0 "));
                assert!(reply.ends_with(b"\r\nContent-Length: 0\r\n\r\n"));
            }
        }
    }
    let _ = message::bad_request(data, "Bad Request");

    let chunk = usize::from(data.first().copied().unwrap_or(1)).max(1);
    let mut framer = StreamFramer::with_limits(8 * 1024, 8 * 1024);
    for piece in data.chunks(chunk) {
        framer.push(piece);
        while let Some(frame) = framer.next_message() {
            if let Ok(frame) = frame {
                let _ = message::parse(&frame);
            }
        }
        let _ = framer.take_pings();
    }
});
