//! Engine flows on small trees: schedules, collect, ANI fallback, languages; and the
//! random-sequence property.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use proptest::prelude::*;

use super::tests::{Call, at_main_menu, demo, maria, play, tree, wall};
use crate::types::{Action, IdentifiedBy, Input};

const OFFICE: &str = r#"
[ivr]
default_entry = "hello"
[ivr.schedules.office]
out_of_hours = "out_of_hours"
[ivr.schedules.office.calendar]
mon = ["08:00-19:00"]
italian_holidays = true
closures = [{ from = "2025-06-10", label = "Inventory" }]
[ivr.nodes.hello]
kind = "announcement"
prompts = "beep"
next = "hours"
[ivr.nodes.hours]
kind = "schedule"
schedule = "office"
open = "open"
closed = "closed"
open_prompts = "welcome"
holiday_prompts = "goodbye"
[ivr.nodes.open]
kind = "route"
queue = "q"
[ivr.nodes.closed]
kind = "hangup"
"#;

/// Schedule decision for a call that starts at `start` and hears `hello` for `played`.
fn office_decision(start: DateTime<Utc>, played: Duration) -> (Vec<Action>, String) {
    let mut c = Call::at(tree(OFFICE), None, None, start, "it");
    c.take();
    c.now += played;
    let actions = c.done();
    let step = c
        .steps()
        .into_iter()
        .find(|s| s.contains("schedule"))
        .unwrap();
    (actions, step)
}

#[test]
fn schedule_edges_use_start_wall_plus_elapsed() {
    // Monday 2025-06-09; Rome is UTC+2: 19:00 local = 17:00 UTC.
    let monday = |h, m, s| Utc.with_ymd_and_hms(2025, 6, 9, h, m, s).unwrap();
    let (a, s) = office_decision(monday(16, 59, 0), Duration::from_millis(59_999));
    assert_eq!(a, play(&["welcome"], false));
    assert_eq!(s, "hours: schedule office open");
    let (a, s) = office_decision(monday(16, 59, 0), Duration::from_secs(60));
    assert_eq!(a, play(&["out_of_hours"], false));
    assert_eq!(s, "hours: schedule office closed (outside hours)");
    let (a, _) = office_decision(monday(5, 59, 59), Duration::from_secs(1));
    assert_eq!(a, play(&["welcome"], false));
    // Easter Monday 2025 and a labelled closure: holiday prompts.
    let (a, s) = office_decision(
        Utc.with_ymd_and_hms(2025, 4, 21, 9, 0, 0).unwrap(),
        Duration::ZERO,
    );
    assert_eq!(a, play(&["goodbye"], false));
    assert_eq!(
        s,
        "hours: schedule office closed (holiday: Lunedì dell'Angelo)"
    );
    let (_, s) = office_decision(
        Utc.with_ymd_and_hms(2025, 6, 10, 9, 0, 0).unwrap(),
        Duration::ZERO,
    );
    assert_eq!(s, "hours: schedule office closed (closure: Inventory)");
}

const MISC: &str = r#"
[ivr]
default_entry = "who"
[ivr.entries]
"200" = "case"
"300" = "lang"
[ivr.nodes.who]
kind = "identify"
method = "ani"
fallback_to_pin = true
max_digits = 4
terminator = ""
on_success = "case"
on_failure = "case"
[ivr.nodes.case]
kind = "collect"
prompts = "beep"
store = "case_number"
max_digits = 6
next = "q"
[ivr.nodes.lang]
kind = "announcement"
prompts = { default = ["welcome"], en = ["beep", "welcome"] }
next = "q"
[ivr.nodes.q]
kind = "route"
queue = "q"
"#;

#[test]
fn ani_miss_falls_back_to_pin_when_configured() {
    let mut c = Call::start(tree(MISC), Some("+39061"), None);
    assert_eq!(
        c.take(),
        vec![Action::LookupAni {
            caller: "+39061".into()
        }]
    );
    assert_eq!(c.lookup(None), play(&["pin_request"], true));
    c.done();
    assert_eq!(
        c.digits("4321"),
        vec![Action::LookupPin { pin: "4321".into() }]
    );
    assert_eq!(c.lookup(Some(maria())), play(&["identified"], false));
    assert_eq!(c.done(), play(&["beep"], true));
    let steps = c.steps();
    assert!(steps.contains(&"who: ani miss (attempt 1)".to_string()));
    assert!(steps.contains(&"who: pin hit, customer 1 (attempt 1)".to_string()));
    assert_eq!(c.e.identified_by(), IdentifiedBy::Pin);
}

#[test]
fn collect_stores_digits_on_terminator_or_timeout() {
    let mut c = Call::start(tree(MISC), None, Some("200"));
    c.take();
    c.done();
    c.digits("42#");
    assert_eq!(c.e.collected()["case_number"], "42");
    assert!(c.steps().contains(&"case: case_number=42".to_string()));
    let mut c = Call::start(tree(MISC), None, Some("200"));
    c.take();
    c.done();
    assert_eq!(c.fire(), route_q());
    assert_eq!(c.e.collected()["case_number"], "");
}

fn route_q() -> Vec<Action> {
    vec![Action::RouteToQueue {
        queue: "q".into(),
        area: None,
        sr_type: None,
        customer: None,
        identified_by: IdentifiedBy::None,
    }]
}

#[test]
fn prompts_per_language_with_default() {
    let mut c = Call::at(tree(MISC), None, Some("300"), wall(), "en");
    assert_eq!(c.take(), play(&["beep", "welcome"], false));
    let mut c = Call::at(tree(MISC), None, Some("300"), wall(), "de");
    assert_eq!(c.take(), play(&["welcome"], false));
    let mut c = Call::at(tree(MISC), None, Some("300"), wall(), "");
    assert_eq!(c.take(), play(&["welcome"], false));
}

#[test]
fn a_call_keeps_the_tree_it_started_with() {
    let old = demo();
    let c = Call::start(Arc::clone(&old), None, None);
    let new = tree(MISC);
    assert!(Arc::ptr_eq(c.e.tree(), &old));
    assert!(!Arc::ptr_eq(c.e.tree(), &new));
    assert_eq!(c.e.current_node(), "welcome");
}

#[test]
fn steps_carry_offsets() {
    let mut c = at_main_menu(None);
    c.steps();
    c.now += Duration::from_millis(1500);
    c.digits("3");
    let s = c.e.poll_step().unwrap();
    assert_eq!(s.offset, Duration::from_millis(1500));
    assert_eq!(s.to_string(), "+1.500s main_menu: chose 3");
}

#[derive(Debug, Clone)]
enum Ev {
    Digit(char),
    Done(bool),
    Lookup(bool),
    Fire,
    Advance(u64),
}

fn ev() -> impl Strategy<Value = Ev> {
    prop_oneof![
        4 => proptest::sample::select("0123456789*#A".chars().collect::<Vec<_>>()).prop_map(Ev::Digit),
        3 => any::<bool>().prop_map(Ev::Done),
        1 => any::<bool>().prop_map(Ev::Lookup),
        2 => Just(Ev::Fire),
        1 => (0u64..8000).prop_map(Ev::Advance),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn random_calls_end_in_exactly_one_terminal_action(
        which in 0usize..2,
        dialled in proptest::sample::select(vec!["800100200", "800100201", "800100202", "800100299", "1", "200", "300"]),
        caller in proptest::option::of(Just("+390600000001")),
        events in proptest::collection::vec(ev(), 0..60),
    ) {
        let t = if which == 0 { demo() } else { tree(MISC) };
        let mut c = Call::start(t, caller, Some(dialled));
        let mut all = c.take();
        let check = |c: &Call| {
            if let Some(t) = c.e.poll_timeout() {
                prop_assert!(t >= c.now, "timer in the past");
            }
            Ok(())
        };
        for e in events {
            match e {
                Ev::Digit(d) => all.extend(c.input(Input::Digit(d))),
                Ev::Done(i) => all.extend(c.input(Input::PlaybackDone { interrupted: i })),
                Ev::Lookup(hit) => all.extend(c.lookup(hit.then(maria))),
                Ev::Fire => {
                    if c.e.poll_timeout().is_some() {
                        all.extend(c.fire());
                    }
                }
                Ev::Advance(ms) => all.extend(c.advance(Duration::from_millis(ms))),
            }
            check(&c)?;
        }
        // Drive to the end: media finishes prompts, lookups miss, timers fire.
        for _ in 0..100 {
            if c.e.is_finished() {
                break;
            }
            all.extend(c.done());
            all.extend(c.lookup(None));
            if c.e.poll_timeout().is_some() {
                all.extend(c.fire());
            }
            check(&c)?;
        }
        prop_assert!(c.e.is_finished());
        let terminal: Vec<_> = all.iter().filter(|a| a.is_terminal()).collect();
        prop_assert_eq!(terminal.len(), 1, "{:?}", all);
        prop_assert!(all.last().unwrap().is_terminal());
        let steps = c.steps();
        prop_assert!(steps.first().unwrap().starts_with("enter "));
        prop_assert!(["route", "voicemail", "hangup"].iter().any(|p| steps.last().unwrap().starts_with(p)));
    }
}
