//! The header values the gateway reads beyond the message grammar: Contact (the registrar's
//! contact and To readers), Refer-To (`parse_refer_to`) and the route set (`record_routes` over
//! the Record-Route headers of a message built around the input).

#![no_main]

use libfuzzer_sys::fuzz_target;
use sip_gateway::message;
use sip_gateway::registrar::fuzz_contact_value;
use sip_gateway::ua::dialog::record_routes;
use sip_gateway::ua::parse_refer_to;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = std::str::from_utf8(data) else {
        return;
    };
    fuzz_contact_value(value);
    let _ = parse_refer_to(value);
    // The same value as Record-Route (one or several lines: the input's newlines split it).
    let mut text = String::from(
        "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\n\
         From: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:b@127.0.0.1>;tag=2\r\nCall-ID: f@fuzz\r\n\
         CSeq: 1 INVITE\r\n",
    );
    for line in value.split('\n') {
        let line = line.trim_end_matches('\r');
        text.push_str("Record-Route: ");
        text.push_str(line);
        text.push_str("\r\nContact: ");
        text.push_str(line);
        text.push_str("\r\n");
    }
    text.push_str("Content-Length: 0\r\n\r\n");
    if let Ok(msg) = message::parse(text.as_bytes()) {
        let headers = match &msg {
            rsip::SipMessage::Request(r) => &r.headers,
            rsip::SipMessage::Response(r) => &r.headers,
        };
        for route in record_routes(headers) {
            fuzz_contact_value(&route);
        }
    }
});
