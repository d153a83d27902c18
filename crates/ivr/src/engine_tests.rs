use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};

use super::*;
use crate::config::IvrConfig;

pub(crate) const PROMPTS: &[&str] = &[
    "welcome",
    "menu_main",
    "menu_area2",
    "invalid_choice",
    "no_input",
    "goodbye",
    "out_of_hours",
    "voicemail_offer",
    "voicemail_greeting",
    "pin_request",
    "pin_invalid",
    "identified",
    "not_identified",
    "transfer",
    "beep",
];

pub(crate) fn known(p: &str) -> bool {
    PROMPTS.contains(&p)
}

#[derive(serde::Deserialize)]
struct File {
    ivr: IvrConfig,
}

pub(crate) fn config(toml: &str) -> IvrConfig {
    toml::from_str::<File>(toml).unwrap().ivr
}

pub(crate) fn tree(toml: &str) -> Arc<Tree> {
    match Tree::build(&config(toml), &known) {
        Ok((t, _)) => t,
        Err(p) => panic!("{p:#?}"),
    }
}

const DEMO: &str = include_str!("../tests/fixtures/demo.toml");

pub(crate) fn demo() -> Arc<Tree> {
    tree(DEMO)
}

pub(crate) fn wall() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 6, 9, 10, 0, 0).unwrap()
}

pub(crate) fn maria() -> Customer {
    Customer {
        id: 1,
        name: "Maria Rossi".into(),
    }
}

pub(crate) struct Call {
    pub(crate) e: Engine,
    pub(crate) t0: Instant,
    pub(crate) now: Instant,
}

impl Call {
    pub(crate) fn start(tree: Arc<Tree>, caller: Option<&str>, dialled: Option<&str>) -> Call {
        Call::at(tree, caller, dialled, wall(), "it")
    }

    pub(crate) fn at(
        tree: Arc<Tree>,
        caller: Option<&str>,
        dialled: Option<&str>,
        wall: DateTime<Utc>,
        language: &str,
    ) -> Call {
        let t0 = Instant::now();
        let call = CallInfo {
            caller: caller.map(Into::into),
            dialled: dialled.map(Into::into),
            language: language.into(),
        };
        Call {
            e: Engine::new(tree, call, t0, wall),
            t0,
            now: t0,
        }
    }

    pub(crate) fn take(&mut self) -> Vec<Action> {
        std::iter::from_fn(|| self.e.poll_action()).collect()
    }

    pub(crate) fn input(&mut self, i: Input) -> Vec<Action> {
        self.e.handle_input(i, self.now);
        self.take()
    }

    pub(crate) fn digits(&mut self, keys: &str) -> Vec<Action> {
        let mut out = Vec::new();
        for k in keys.chars() {
            out.extend(self.input(Input::Digit(k)));
        }
        out
    }

    pub(crate) fn done(&mut self) -> Vec<Action> {
        self.input(Input::PlaybackDone { interrupted: false })
    }

    pub(crate) fn interrupted(&mut self) -> Vec<Action> {
        self.input(Input::PlaybackDone { interrupted: true })
    }

    pub(crate) fn lookup(&mut self, c: Option<Customer>) -> Vec<Action> {
        self.input(Input::LookupResult(c))
    }

    pub(crate) fn advance(&mut self, d: Duration) -> Vec<Action> {
        self.now += d;
        self.e.handle_timeout(self.now);
        self.take()
    }

    /// Jumps to the pending deadline and fires it.
    pub(crate) fn fire(&mut self) -> Vec<Action> {
        self.now = self.e.poll_timeout().expect("a timer is pending");
        self.e.handle_timeout(self.now);
        self.take()
    }

    pub(crate) fn timer_in(&self) -> Option<Duration> {
        self.e.poll_timeout().map(|t| t - self.now)
    }

    pub(crate) fn steps(&mut self) -> Vec<String> {
        std::iter::from_fn(|| self.e.poll_step())
            .map(|s| s.kind.to_string())
            .collect()
    }
}

pub(crate) fn play(names: &[&str], barge_in: bool) -> Vec<Action> {
    vec![Action::Play {
        prompts: names.iter().map(|s| s.to_string()).collect(),
        barge_in,
    }]
}

fn route(queue: &str, sr_type: Option<&str>, c: Option<Customer>, by: IdentifiedBy) -> Vec<Action> {
    vec![Action::RouteToQueue {
        queue: queue.into(),
        area: Some(queue.into()),
        sr_type: sr_type.map(Into::into),
        customer: c,
        identified_by: by,
    }]
}

/// Main number up to the main menu waiting for a choice.
pub(crate) fn at_main_menu(caller: Option<&str>) -> Call {
    let mut c = Call::start(demo(), caller, Some("800100200"));
    assert_eq!(c.take(), play(&["welcome"], true));
    assert_eq!(c.done(), play(&["menu_main"], true));
    assert_eq!(c.done(), vec![]);
    c
}

#[test]
fn main_menu_1_identifies_by_ani() {
    let mut c = at_main_menu(Some("+390600000001"));
    assert_eq!(c.timer_in(), Some(Duration::from_secs(5)));
    assert_eq!(
        c.digits("1"),
        vec![Action::LookupAni {
            caller: "+390600000001".into()
        }]
    );
    assert_eq!(c.e.poll_timeout(), None);
    assert_eq!(c.lookup(Some(maria())), play(&["identified"], false));
    assert_eq!(c.done(), play(&["transfer"], false));
    assert_eq!(
        c.done(),
        route("cittadini", None, Some(maria()), IdentifiedBy::Ani)
    );
    assert!(c.e.is_finished());
    assert_eq!(
        c.steps(),
        [
            "enter main_hours",
            "main_hours: schedule main open",
            "enter welcome",
            "enter main_menu",
            "main_menu: chose 1",
            "enter area1_identify",
            "area1_identify: ani hit, customer 1 (attempt 1)",
            "enter area1_route",
            "route cittadini",
        ]
    );
}

#[test]
fn ani_miss_goes_on_unidentified_and_no_caller_skips_the_lookup() {
    let mut c = at_main_menu(Some("+390699999999"));
    c.digits("1");
    assert_eq!(c.lookup(None), play(&["transfer"], false));
    assert_eq!(c.done(), route("cittadini", None, None, IdentifiedBy::None));

    let mut c = Call::start(demo(), None, Some("800100201"));
    assert_eq!(c.take(), play(&["transfer"], false));
    assert!(
        c.steps()
            .contains(&"area1_identify: ani no input (attempt 1)".to_string())
    );
}

#[test]
fn pin_succeeds_on_the_second_attempt() {
    let mut c = Call::start(demo(), Some("+390611111111"), Some("800100202"));
    assert_eq!(c.take(), play(&["pin_request"], true));
    c.done();
    assert_eq!(c.digits("5432"), vec![]);
    assert_eq!(c.timer_in(), Some(Duration::from_secs(3)));
    assert_eq!(
        c.digits("9"),
        vec![Action::LookupPin {
            pin: "54329".into()
        }]
    );
    assert_eq!(c.lookup(None), play(&["pin_invalid", "pin_request"], true));
    c.done();
    // `#` is optional: with it, the lookup happens at the fifth digit anyway.
    assert_eq!(
        c.digits("12345"),
        vec![Action::LookupPin {
            pin: "12345".into()
        }]
    );
    assert_eq!(c.digits("#"), vec![]);
    assert_eq!(c.lookup(Some(maria())), play(&["identified"], false));
    assert_eq!(c.done(), play(&["menu_area2"], true));
    c.done();
    assert_eq!(c.digits("2"), play(&["transfer"], false));
    assert_eq!(
        c.done(),
        route(
            "tecnica",
            Some("technical_problem"),
            Some(maria()),
            IdentifiedBy::Pin
        )
    );
    let steps = c.steps();
    assert!(steps.contains(&"area2_pin: pin miss (attempt 1)".to_string()));
    assert!(steps.contains(&"area2_pin: pin hit, customer 1 (attempt 2)".to_string()));
    assert_eq!(c.e.customer(), Some(&maria()));
}

#[test]
fn pin_terminator_and_inter_digit_timeout() {
    let mut c = Call::start(demo(), None, Some("800100202"));
    c.take();
    c.done();
    // Too short with `#`: a miss without a lookup.
    assert_eq!(
        c.digits("123#"),
        play(&["pin_invalid", "pin_request"], true)
    );
    c.done();
    // Three digits then silence: the inter-digit timer (3 s) ends the input.
    c.digits("123");
    assert_eq!(c.timer_in(), Some(Duration::from_secs(3)));
    assert_eq!(c.advance(Duration::from_millis(2999)), vec![]);
    assert_eq!(
        c.advance(Duration::from_millis(1)),
        play(&["not_identified"], false)
    );
    assert_eq!(c.done(), play(&["menu_area2"], true));
    c.done();
    c.digits("1");
    assert_eq!(
        c.done(),
        route(
            "tecnica",
            Some("administrative_problem"),
            None,
            IdentifiedBy::None
        )
    );
}

#[test]
fn two_wrong_pins_go_on_unidentified() {
    let mut c = Call::start(demo(), None, Some("800100202"));
    c.take();
    c.done();
    // No input at all: explained with no_input.
    assert_eq!(c.fire(), play(&["no_input", "pin_request"], true));
    c.done();
    c.digits("00000");
    assert_eq!(c.lookup(None), play(&["not_identified"], false));
    assert_eq!(c.done(), play(&["menu_area2"], true));
    let steps = c.steps();
    assert!(steps.contains(&"area2_pin: pin no input (attempt 1)".to_string()));
    assert!(steps.contains(&"area2_pin: pin miss (attempt 2)".to_string()));
}

#[test]
fn top_menu_two_invalid_choices_say_goodbye_and_hang_up() {
    let mut c = at_main_menu(None);
    assert_eq!(c.digits("9"), play(&["invalid_choice", "menu_main"], true));
    c.done();
    assert_eq!(c.digits("7"), play(&["goodbye"], false));
    assert_eq!(c.digits("1"), vec![], "goodbye cannot be interrupted");
    assert_eq!(c.done(), vec![Action::Hangup]);
    let steps = c.steps();
    assert!(steps.contains(&"main_menu: invalid 9 (attempt 1 of 2)".to_string()));
    assert!(steps.contains(&"main_menu: invalid 7 (attempt 2 of 2)".to_string()));
    assert_eq!(steps.last().unwrap(), "hangup");
}

#[test]
fn top_menu_two_missing_choices_time_out_at_five_seconds() {
    let mut c = at_main_menu(None);
    assert_eq!(c.advance(Duration::from_millis(4999)), vec![]);
    assert_eq!(
        c.advance(Duration::from_millis(1)),
        play(&["no_input", "menu_main"], true)
    );
    assert_eq!(
        c.e.poll_timeout(),
        None,
        "no digit timer while the prompt plays"
    );
    c.done();
    assert_eq!(c.fire(), play(&["goodbye"], false));
    assert_eq!(c.done(), vec![Action::Hangup]);
}

#[test]
fn sub_menu_two_failures_route_to_the_area_queue() {
    let mut c = at_main_menu(None);
    c.digits("2");
    c.done();
    c.digits("12345");
    c.lookup(Some(maria()));
    c.done();
    c.done();
    assert_eq!(c.digits("8"), play(&["invalid_choice", "menu_area2"], true));
    c.done();
    assert_eq!(c.fire(), play(&["transfer"], false));
    assert_eq!(
        c.done(),
        route("tecnica", None, Some(maria()), IdentifiedBy::Pin)
    );
}

#[test]
fn barge_in_digit_then_playback_done() {
    let mut c = Call::start(demo(), None, Some("800100200"));
    c.take();
    // A digit during the welcome: stop it, keep the key for the menu (type-ahead).
    assert_eq!(c.digits("3"), vec![Action::StopPlayback]);
    assert_eq!(c.digits("3"), vec![], "one stop is enough");
    assert_eq!(c.interrupted(), play(&["transfer"], false));
    assert_eq!(c.done(), route("altro", None, None, IdentifiedBy::None));
    assert!(c.steps().contains(&"main_menu: chose 3".to_string()));
}

#[test]
fn barge_in_playback_done_then_digit() {
    let mut c = Call::start(demo(), None, Some("800100200"));
    c.take();
    assert_eq!(c.done(), play(&["menu_main"], true));
    // Media stopped on the digit itself and reported it after the stop.
    assert_eq!(c.interrupted(), vec![]);
    assert_eq!(c.digits("2"), play(&["pin_request"], true));
}

#[test]
fn barge_in_without_playback_done_goes_on_after_the_grace() {
    let mut c = at_main_menu(None);
    assert_eq!(c.digits("2"), play(&["pin_request"], true));
    // PIN typed over the prompt, media never confirms the stop.
    assert_eq!(c.digits("1"), vec![Action::StopPlayback]);
    assert_eq!(c.digits("2345"), vec![]);
    assert_eq!(c.timer_in(), Some(STOP_GRACE));
    assert_eq!(
        c.fire(),
        vec![Action::LookupPin {
            pin: "12345".into()
        }]
    );
}

#[test]
fn digit_timer_starts_when_the_prompt_ends() {
    let mut c = Call::start(demo(), None, Some("800100200"));
    c.take();
    c.done();
    c.now += Duration::from_secs(20); // a long menu prompt
    c.done();
    assert_eq!(c.timer_in(), Some(Duration::from_secs(5)));
    assert_eq!(c.now - c.t0, Duration::from_secs(20));
}

#[test]
fn after_hours_line_offers_voicemail() {
    let mut c = Call::start(demo(), Some("+390600000002"), Some("800100299"));
    assert_eq!(c.take(), play(&["out_of_hours"], false));
    assert_eq!(c.done(), play(&["voicemail_offer"], false));
    assert_eq!(
        c.done(),
        vec![Action::Voicemail {
            mailbox: "general".into(),
            customer: None,
            identified_by: IdentifiedBy::None,
        }]
    );
    let steps = c.steps();
    assert_eq!(
        steps[1],
        "after_hours: schedule after_hours closed (outside hours)"
    );
}

#[test]
fn direct_dial_and_default_entries() {
    let c = Call::start(demo(), None, Some("800100202"));
    assert_eq!(c.e.current_node(), "area2_pin");
    let c = Call::start(demo(), None, Some("0612345"));
    assert_eq!(c.e.current_node(), "welcome");
    let c = Call::start(demo(), None, None);
    assert_eq!(c.e.current_node(), "welcome");
    assert_eq!(demo().entry_name(Some("800100201")), "area1_identify");
}

#[test]
fn inputs_after_the_end_are_ignored() {
    let mut c = at_main_menu(None);
    c.digits("3");
    c.done();
    assert!(c.e.is_finished());
    assert_eq!(c.digits("1"), vec![]);
    assert_eq!(c.done(), vec![]);
    assert_eq!(c.lookup(Some(maria())), vec![]);
    assert_eq!(c.e.poll_timeout(), None);
    assert_eq!(c.digits("x"), vec![]);
}

#[test]
fn optional_terminator_after_a_complete_pin_belongs_to_that_pin() {
    // "11111#": the fifth digit completes the PIN; the lookup answers (a miss) before the
    // `#` arrives. The `#` must not count as an empty second attempt.
    let mut c = Call::start(demo(), None, Some("800100202"));
    c.take();
    c.done();
    assert_eq!(
        c.digits("11111"),
        vec![Action::LookupPin {
            pin: "11111".into()
        }]
    );
    assert_eq!(c.lookup(None), play(&["pin_invalid", "pin_request"], true));
    assert_eq!(c.digits("#"), vec![]);
    c.done();
    assert_eq!(
        c.digits("54321"),
        vec![Action::LookupPin {
            pin: "54321".into()
        }]
    );
    let steps = c.steps();
    assert!(
        !steps.iter().any(|s| s.contains("no input")),
        "the # was taken as an empty attempt: {steps:?}"
    );
}
