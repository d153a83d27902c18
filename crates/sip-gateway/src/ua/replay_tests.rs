//! The core's randomness comes from its seed alone: one scripted exchange, run twice with one
//! seed, sends the same bytes; with another seed only the random values differ.
//!
//! The script covers every value the core draws: the registrar's nonce (and, through its MAC,
//! the nonce secret) and its To tags, the To tag of an inbound call and of stateless answers,
//! the To tag of a 400 to a malformed request, an outbound call's Call-ID, From tag and Via
//! branches (INVITE, ACK, BYE), and the SDP session ids of both offer and answer.

use std::time::{Duration, Instant};

use super::outbound_tests::{ANSWER, outgoing, respond};
use super::register_tests::{answer, nat_peer, register};
use super::tests::{OFFER, header, in_dialog, invite, peer, status_line};
use super::*;
use crate::auth::parse_digest;

/// What one run sent, and the random values it saw there, by name.
#[derive(Debug, PartialEq, Eq)]
struct Run {
    /// Every datagram sent, with its destination, and every event, in order.
    wire: Vec<String>,
    draws: Vec<(&'static str, String)>,
}

impl Run {
    /// Sends what the core queued to the wire; returns the messages.
    fn drain(&mut self, ua: &mut UserAgent) -> Vec<String> {
        let mut out = Vec::new();
        while let Some((to, bytes)) = ua.poll_transmit() {
            let text = String::from_utf8(bytes).expect("SIP is text");
            self.wire.push(format!("to {to:?}\n{text}"));
            out.push(text);
        }
        while let Some(event) = ua.poll_registration() {
            // Its bindings' expiries are instants, which differ from run to run.
            let contacts: Vec<&str> = event
                .bindings
                .iter()
                .map(|b| b.contact_uri.as_str())
                .collect();
            self.wire.push(format!(
                "registration of {}: {} {contacts:?}",
                event.user, event.registered
            ));
        }
        out
    }

    fn events(&mut self, ua: &mut UserAgent) -> Vec<UaEvent> {
        let events: Vec<UaEvent> = std::iter::from_fn(|| ua.poll_event()).collect();
        self.wire.extend(events.iter().map(|e| format!("{e:?}")));
        events
    }

    fn draw(&mut self, name: &'static str, value: &str) {
        assert!(!value.is_empty(), "{name} is empty");
        self.draws.push((name, value.to_string()));
    }

    /// The wire with every drawn value replaced by its name, and the Content-Lengths (which
    /// follow the session ids' number of digits; the bodies themselves are compared) by a mark.
    fn without_draws(&self) -> Vec<String> {
        self.wire
            .iter()
            .map(|entry| {
                let named = self
                    .draws
                    .iter()
                    .fold(entry.clone(), |text, (name, value)| {
                        text.replace(value.as_str(), &format!("<{name}>"))
                    });
                named
                    .split("\r\n")
                    .map(|line| {
                        if line.starts_with("Content-Length: ") {
                            "Content-Length: <of the body>"
                        } else {
                            line
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("\r\n")
            })
            .collect()
    }
}

fn to_tag(message: &str) -> String {
    build::tag_of(header(message, "To").expect("To"))
        .expect("To tag")
        .to_string()
}

fn from_tag(message: &str) -> String {
    build::tag_of(header(message, "From").expect("From"))
        .expect("From tag")
        .to_string()
}

fn branch(message: &str) -> String {
    let via = header(message, "Via").expect("Via");
    let branch = via
        .split(';')
        .find_map(|p| p.strip_prefix("branch="))
        .expect("branch");
    assert!(branch.starts_with("z9hG4bK"), "RFC 3261 §8.1.1.7: {via}");
    branch.to_string()
}

/// The session id of the SDP body's `o=` line (which is also its first version).
fn session_id(message: &str) -> String {
    let origin = message
        .lines()
        .find_map(|l| l.strip_prefix("o=centralino "))
        .expect("o= line");
    origin.split(' ').next().expect("session id").to_string()
}

fn only(messages: Vec<String>, status: &str) -> String {
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(status_line(&messages[0]), status, "{}", messages[0]);
    messages.into_iter().next().expect("one message")
}

/// A registration, an inbound call, stateless answers, an outbound call, and both hung up,
/// on fake time, the peers answering what the core sent.
fn run(seed: u64) -> Run {
    let mut ua = UserAgent::new(UserAgentConfig {
        registrar: Some(RegistrarConfig::default()),
        credentials: Credentials::from_passwords("centralino", [("1001", "demo1001")]),
        rng_seed: Some(seed),
        ..UserAgentConfig::default()
    });
    let mut run = Run {
        wire: Vec::new(),
        draws: Vec::new(),
    };
    let t0 = Instant::now();
    let at = |ms: u64| t0 + Duration::from_millis(ms);

    // A phone registers: 401 with a nonce, then 200.
    ua.handle_datagram(&register(1, None, 600), nat_peer(), at(0));
    let challenge = only(run.drain(&mut ua), "SIP/2.0 401 Unauthorized");
    let www = header(&challenge, "WWW-Authenticate").expect("challenge");
    let nonce = parse_digest(www)
        .expect("digest")
        .get("nonce")
        .expect("nonce")
        .to_string();
    run.draw("nonce", &nonce);
    run.draw("401 To tag", &to_tag(&challenge));
    ua.handle_datagram(&register(2, Some(&answer(www)), 600), nat_peer(), at(10));
    let ok = only(run.drain(&mut ua), "SIP/2.0 200 OK");
    run.draw("REGISTER 200 To tag", &to_tag(&ok));

    // An inbound call, rung and answered.
    ua.handle_datagram(&invite("z9hG4bKin", "in@test", OFFER), peer(), at(20));
    let Some(UaEvent::IncomingCall(incoming)) = run.events(&mut ua).pop() else {
        panic!("no incoming call")
    };
    run.drain(&mut ua);
    ua.ring(incoming.call, at(30)).expect("ring");
    let ringing = only(run.drain(&mut ua), "SIP/2.0 180 Ringing");
    let local_tag = to_tag(&ringing);
    run.draw("inbound To tag", &local_tag);
    ua.answer(
        incoming.call,
        "127.0.0.1:20000".parse().expect("addr"),
        at(40),
    )
    .expect("answer");
    let ok = only(run.drain(&mut ua), "SIP/2.0 200 OK");
    run.draw("answer session id", &session_id(&ok));
    let ack = in_dialog("ACK", "z9hG4bKack", "in@test", &local_tag, 1, "");
    ua.handle_datagram(&ack, peer(), at(50));

    // Answers the core gives alone: 200 to OPTIONS, 400 to a request it cannot parse.
    let options = "OPTIONS sip:127.0.0.1:5060 SIP/2.0\r\n\
        Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKo\r\n\
        From: <sip:ping@127.0.0.1>;tag=p\r\nTo: <sip:127.0.0.1:5060>\r\nCall-ID: o@test\r\n\
        CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n";
    ua.handle_datagram(options.as_bytes(), peer(), at(60));
    let ok = only(run.drain(&mut ua), "SIP/2.0 200 OK");
    run.draw("OPTIONS To tag", &to_tag(&ok));
    let no_call_id = String::from_utf8(invite("z9hG4bKbad", "bad@test", OFFER))
        .expect("text")
        .replace("Call-ID: bad@test\r\n", "");
    ua.handle_datagram(no_call_id.as_bytes(), peer(), at(70));
    let bad = run.drain(&mut ua).pop().expect("400");
    assert!(status_line(&bad).starts_with("SIP/2.0 400 "), "{bad}");
    run.draw("400 To tag", &to_tag(&bad));

    // An outbound call, answered and acknowledged.
    let call = ua.call(outgoing(), at(100)).expect("placed");
    let offer = only(run.drain(&mut ua), "INVITE sip:1001@127.0.0.1:5070 SIP/2.0");
    run.draw("Call-ID", header(&offer, "Call-ID").expect("Call-ID"));
    run.draw("From tag", &from_tag(&offer));
    run.draw("INVITE branch", &branch(&offer));
    run.draw("offer session id", &session_id(&offer));
    ua.handle_datagram(
        &respond(&offer, 200, Some("callee"), ANSWER),
        peer(),
        at(110),
    );
    let ack = only(run.drain(&mut ua), "ACK sip:1001@127.0.0.1:5071 SIP/2.0");
    run.draw("ACK branch", &branch(&ack));
    run.events(&mut ua);

    // Both hung up from our side; the peers answer the BYEs.
    for (name, call) in [
        ("inbound BYE branch", incoming.call),
        ("outbound BYE branch", call),
    ] {
        ua.hangup(call, at(200)).expect("hangup");
        let bye = run.drain(&mut ua).pop().expect("BYE");
        assert!(bye.starts_with("BYE "), "{bye}");
        run.draw(name, &branch(&bye));
        ua.handle_datagram(&respond(&bye, 200, None, ""), peer(), at(210));
        run.drain(&mut ua);
        run.events(&mut ua);
    }
    ua.handle_timeout(at(60_000));
    run.drain(&mut ua);
    run.events(&mut ua);
    assert_eq!(ua.calls(), 0);
    run
}

#[test]
fn one_seed_replays_the_exchange_byte_for_byte() {
    let first = run(42);
    let second = run(42);
    assert_eq!(first.draws, second.draws);
    assert_eq!(first.wire.len(), second.wire.len());
    for (a, b) in first.wire.iter().zip(&second.wire) {
        assert_eq!(a, b);
    }
}

#[test]
fn another_seed_changes_the_random_values_and_nothing_else() {
    let a = run(42);
    let b = run(43);
    assert_ne!(a.wire, b.wire);
    for ((name, x), (_, y)) in a.draws.iter().zip(&b.draws) {
        assert_ne!(x, y, "{name} does not follow the seed");
    }
    // Once the drawn values are named, the runs are identical: nothing else in the output
    // varies, so nothing else draws from anywhere but the seed.
    assert_eq!(a.without_draws(), b.without_draws());
}

#[test]
fn drawn_values_keep_their_rfc_3261_shape() {
    let run = run(7);
    for (name, value) in &run.draws {
        if name.ends_with("tag") || *name == "nonce" {
            // §19.3: tags need at least 32 bits of randomness (these have 64); nonces are
            // 32 bytes in hex.
            assert!(value.len() >= 16, "{name}: {value}");
            assert!(
                value.bytes().all(|b| b.is_ascii_hexdigit()),
                "{name}: {value}"
            );
        }
        if name.ends_with("branch") {
            assert!(
                value.starts_with("z9hG4bK") && value.len() == 7 + 22,
                "{value}"
            );
        }
    }
    let distinct: std::collections::HashSet<&String> = run.draws.iter().map(|(_, v)| v).collect();
    assert_eq!(distinct.len(), run.draws.len(), "no value drawn twice");
}
