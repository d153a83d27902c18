//! The shipped demo tree (CONTRACT.md, "The demo"): it validates clean against the prompts
//! shipped in `prompts/it`, and a whole call walks it as the contract says.

use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use ivr::{Action, CallInfo, Customer, Engine, IdentifiedBy, Input, IvrConfig, Tree};

#[derive(serde::Deserialize)]
struct File {
    ivr: IvrConfig,
}

fn shipped_prompt(name: &str) -> bool {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../prompts/it")
        .join(format!("{name}.wav"))
        .is_file()
}

fn demo() -> IvrConfig {
    let text = include_str!("fixtures/demo.toml");
    toml::from_str::<File>(text).expect("demo.toml parses").ivr
}

#[test]
fn demo_fixture_validates_clean() {
    let (tree, problems) = Tree::build(&demo(), &shipped_prompt).expect("demo builds");
    assert_eq!(problems, vec![], "no errors and no warnings");
    assert_eq!(tree.entry_name(Some("800100200")), "main_hours");
    assert_eq!(tree.entry_name(Some("800100201")), "area1_identify");
    assert_eq!(tree.entry_name(Some("800100202")), "area2_pin");
    assert_eq!(tree.entry_name(Some("800100299")), "after_hours");
    assert_eq!(tree.entry_name(Some("800100999")), "main_hours");
}

#[test]
fn giulio_types_his_pin_and_asks_an_administrative_question() {
    let (tree, _) = Tree::build(&demo(), &shipped_prompt).unwrap();
    let t0 = Instant::now();
    let wall = Utc.with_ymd_and_hms(2025, 12, 25, 3, 0, 0).unwrap(); // always open, even at Christmas
    let call = CallInfo {
        caller: Some("+390600000099".into()),
        dialled: Some("800100200".into()),
        language: "it".into(),
    };
    let mut e = Engine::new(tree, call, t0, wall);
    let mut now = t0;
    let mut actions = Vec::new();
    let mut feed = |e: &mut Engine, i: Input, at: Instant| {
        e.handle_input(i, at);
        while let Some(a) = e.poll_action() {
            actions.push(a);
        }
    };
    let done = Input::PlaybackDone { interrupted: false };
    feed(&mut e, done.clone(), now); // welcome
    // Barge into the main menu with 2, then the PIN over the PIN request.
    feed(&mut e, Input::Digit('2'), now);
    feed(&mut e, Input::PlaybackDone { interrupted: true }, now);
    now += Duration::from_secs(2);
    for d in "54321#".chars() {
        feed(&mut e, Input::Digit(d), now);
    }
    feed(&mut e, Input::PlaybackDone { interrupted: true }, now);
    let giulio = Customer {
        id: 2,
        name: "Giulio Bianchi".into(),
    };
    feed(&mut e, Input::LookupResult(Some(giulio.clone())), now);
    feed(&mut e, done.clone(), now); // identified
    feed(&mut e, done.clone(), now); // menu_area2
    feed(&mut e, Input::Digit('1'), now);
    feed(&mut e, done, now); // transfer
    assert_eq!(
        actions.last(),
        Some(&Action::RouteToQueue {
            queue: "tecnica".into(),
            area: Some("tecnica".into()),
            sr_type: Some("administrative_problem".into()),
            customer: Some(giulio),
            identified_by: IdentifiedBy::Pin,
        })
    );
    assert!(actions.contains(&Action::LookupPin {
        pin: "54321".into()
    }));
    assert_eq!(actions.iter().filter(|a| a.is_terminal()).count(), 1);
    let path: Vec<String> = std::iter::from_fn(|| e.poll_step())
        .map(|s| s.kind.to_string())
        .collect();
    assert_eq!(
        path,
        [
            "enter main_hours",
            "main_hours: schedule main open",
            "enter welcome",
            "enter main_menu",
            "main_menu: chose 2",
            "enter area2_pin",
            "area2_pin: pin hit, customer 2 (attempt 1)",
            "enter area2_menu",
            "area2_menu: chose 1",
            "enter area2_administrative",
            "route tecnica",
        ]
    );
}
