//! A citizen's PIN never leaves the call core except to the CRM's lookup: not in an event,
//! not in the call card, not in a log line at any level.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use events::{Event, MASKED_DIGIT};

use super::*;

/// Every log line written while `f` runs, at every level (TRACE up), as plain text.
fn logged<T>(f: impl FnOnce() -> T) -> (T, String) {
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);
    impl Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let out = tracing::subscriber::with_default(subscriber, f);
    let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    (out, text)
}

fn key(w: &mut World, digit: char) {
    w.input(Input::Dtmf {
        digit,
        duration: Duration::from_millis(80),
    });
}

/// The keys `call.dtmf` showed, in order.
fn shown(w: &World) -> String {
    w.out
        .iter()
        .filter_map(|c| match c {
            Command::Publish(Event::Dtmf { digit, .. }) => Some(*digit),
            _ => None,
        })
        .collect()
}

/// What leaves the call for the bus, the card and the ACD, as text (the CRM's lookup, which
/// must carry the PIN, is left out).
fn published(w: &World) -> String {
    w.out
        .iter()
        .filter(|c| !matches!(c, Command::Crm(CrmCommand::LookupPin { .. })))
        .map(|c| match c {
            Command::Publish(e) => serde_json::to_string(e).unwrap(),
            other => format!("{other:?}"),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn a_pin_entered_twice_is_in_no_event_card_or_log_line() {
    let auto = Auto {
        lookup: None,
        ..Auto::default()
    };
    let (w, log) = logged(|| {
        let mut w = World::with("600", settings(), auto);
        assert_eq!(w.last_play().1, ["pin_request"]);
        // Typed over the prompt (barge-in), then the lookup misses.
        for d in "13579#".chars() {
            key(&mut w, d);
        }
        let (token, _) = w.last_play();
        w.input(Input::PlaybackFinished {
            token,
            interrupted: true,
        });
        assert_eq!(w.held_lookups, [1], "{:#?}", w.out);
        assert!(w.out.iter().any(|c| matches!(c,
            Command::Crm(CrmCommand::LookupPin { pin, .. }) if pin == "13579")));
        // Keys typed during the lookup, then the second attempt.
        key(&mut w, '2');
        key(&mut w, '4');
        w.input(Input::LookupResult { id: 1, found: None });
        for d in "680#".chars() {
            key(&mut w, d);
        }
        let (token, prompts) = w.last_play();
        assert_eq!(prompts, ["pin_invalid", "pin_request"]);
        w.input(Input::PlaybackFinished {
            token,
            interrupted: true,
        });
        assert_eq!(w.held_lookups, [1, 2], "{:#?}", w.out);
        assert!(w.out.iter().any(|c| matches!(c,
            Command::Crm(CrmCommand::LookupPin { pin, .. }) if pin == "24680")));
        w.input(Input::LookupResult { id: 2, found: None });
        w
    });
    // Every key was shown, each masked.
    assert_eq!(shown(&w), MASKED_DIGIT.to_string().repeat(12));
    let out = published(&w);
    let lines: Vec<&str> = log.lines().collect();
    assert!(
        lines.iter().filter(|l| l.contains("dtmf received")).count() == 12,
        "{log}"
    );
    for pin in ["13579", "24680"] {
        assert!(!out.contains(pin), "{pin} in the call's output:\n{out}");
        assert!(!log.contains(pin), "{pin} in the log:\n{log}");
    }
    for line in &lines {
        assert!(
            !line.contains("digit=") || line.contains(&format!("digit={MASKED_DIGIT}")),
            "a key's value in the log: {line}"
        );
    }
    assert!(!w.steps().is_empty(), "the card has the identification");
}

#[test]
fn keys_typed_ahead_of_a_menu_into_a_pin_are_masked_and_the_choice_is_not() {
    let auto = Auto {
        lookup: None,
        ..Auto::default()
    };
    let (w, log) = logged(|| {
        let mut w = World::with("500", settings(), auto);
        assert_eq!(w.last_play().1, ["menu_main"]);
        // "3" (the PIN node) and the PIN, all over the menu's prompt.
        for d in "312345".chars() {
            key(&mut w, d);
        }
        let (token, _) = w.last_play();
        w.input(Input::PlaybackFinished {
            token,
            interrupted: true,
        });
        assert!(w.out.iter().any(|c| matches!(c,
            Command::Crm(CrmCommand::LookupPin { pin, .. }) if pin == "12345")));
        w
    });
    let masked = MASKED_DIGIT.to_string().repeat(5);
    assert_eq!(shown(&w), format!("3{masked}"));
    assert!(!published(&w).contains("12345"));
    assert!(!log.contains("12345"), "{log}");
    assert!(
        log.contains("digit=3"),
        "the menu's key is in the debug log: {log}"
    );
}

#[test]
fn no_key_is_logged_at_info() {
    let (_, log) = logged(|| {
        let mut w = World::start("500");
        key(&mut w, '1');
        let (token, _) = w.last_play();
        w.input(Input::PlaybackFinished {
            token,
            interrupted: true,
        });
        assert_eq!(w.call.phase(), Phase::Queued);
        key(&mut w, '7');
        w
    });
    for line in log.lines().filter(|l| l.contains("dtmf")) {
        assert!(line.contains("DEBUG"), "{line}");
    }
    assert_eq!(log.matches("dtmf received").count(), 2, "{log}");
}
