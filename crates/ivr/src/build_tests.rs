use super::*;
use crate::engine::tests::{config, known};

const BASE: &str = r#"
[ivr]
default_entry = "main"
[ivr.schedules.office.calendar]
mon = ["08:00-19:00"]
[ivr.nodes.hours]
kind = "schedule"
schedule = "office"
open = "main"
closed = "bye"
[ivr.nodes.main]
kind = "menu"
prompts = "menu_main"
options = { "1" = "bye" }
on_failure = "bye"
[ivr.nodes.bye]
kind = "hangup"
prompts = "goodbye"
"#;

/// BASE plus `extra`, built; every problem.
fn problems(extra: &str) -> Vec<Problem> {
    let cfg = config(&format!("{BASE}{extra}"));
    match Tree::build(&cfg, &known) {
        Ok((_, warnings)) => warnings,
        Err(all) => all,
    }
}

fn has(problems: &[Problem], path: &str, severity: Severity, needle: &str) -> bool {
    problems
        .iter()
        .any(|p| p.path == path && p.severity == severity && p.message.contains(needle))
}

#[test]
fn base_builds_with_only_reachability_warnings() {
    let p = problems("[ivr.entries]\n\"1\" = \"hours\"\n");
    assert_eq!(p, vec![]);
    let p = problems("");
    assert!(
        has(&p, "ivr.nodes.hours", Severity::Warning, "unreachable"),
        "{p:#?}"
    );
    let p = problems("[ivr.schedules.spare.calendar]\nalways_open = true\n");
    assert!(
        has(&p, "ivr.schedules.spare", Severity::Warning, "unused"),
        "{p:#?}"
    );
}

#[test]
fn unknown_node_targets() {
    let p = problems(
        r#"
[ivr.entries]
"800" = "nowhere"
[ivr.nodes.sub]
kind = "menu"
prompts = "menu_area2"
options = { "1" = "bye", "2" = "missing" }
on_failure = "bye"
"#,
    );
    assert!(
        has(
            &p,
            "ivr.nodes.sub.options.2",
            Severity::Error,
            "unknown node \"missing\""
        ),
        "{p:#?}"
    );
    assert!(
        has(&p, "ivr.entries.800", Severity::Error, "unknown node"),
        "{p:#?}"
    );
    let cfg = config(&BASE.replace("default_entry = \"main\"", "default_entry = \"x\""));
    let p = Tree::build(&cfg, &known).unwrap_err();
    assert!(
        has(&p, "ivr.default_entry", Severity::Error, "unknown node"),
        "{p:#?}"
    );
}

#[test]
fn cycles_without_input() {
    let p = problems(
        r#"
[ivr.entries]
"1" = "a"
[ivr.nodes.a]
kind = "announcement"
prompts = "welcome"
next = "b"
[ivr.nodes.b]
kind = "announcement"
prompts = "beep"
next = "a"
"#,
    );
    assert!(
        has(
            &p,
            "ivr.nodes.a",
            Severity::Error,
            "cycle without caller input: a → b → a"
        ),
        "{p:#?}"
    );
    // A menu whose failure leads back to itself loops forever with a silent caller.
    let p = problems(
        r#"
[ivr.entries]
"1" = "m"
[ivr.nodes.m]
kind = "menu"
prompts = "menu_area2"
options = { "1" = "m" }
on_failure = "sorry"
[ivr.nodes.sorry]
kind = "announcement"
prompts = "invalid_choice"
next = "m"
"#,
    );
    assert!(
        has(&p, "ivr.nodes.m", Severity::Error, "m → sorry → m"),
        "{p:#?}"
    );
    // "Press 1 to hear the menu again" is a loop with input: fine.
    let cfg = config(&BASE.replace(r#"{ "1" = "bye" }"#, r#"{ "1" = "bye", "9" = "main" }"#));
    let p = Tree::build(&cfg, &known).unwrap().1;
    assert!(p.iter().all(|p| p.severity == Severity::Warning), "{p:#?}");
}

#[test]
fn missing_prompts() {
    let p = problems(
        r#"
[ivr.entries]
"1" = "a"
[ivr.nodes.a]
kind = "announcement"
prompts = ["welcome", "welcom"]
next = "lang"
[ivr.nodes.lang]
kind = "announcement"
prompts = { en = ["nope"] }
next = "bye"
"#,
    );
    assert!(
        has(
            &p,
            "ivr.nodes.a.prompts[1]",
            Severity::Error,
            "missing prompt \"welcom\""
        ),
        "{p:#?}"
    );
    assert!(
        has(
            &p,
            "ivr.nodes.lang.prompts.en[0]",
            Severity::Error,
            "missing prompt"
        ),
        "{p:#?}"
    );
    assert!(
        has(
            &p,
            "ivr.nodes.lang.prompts",
            Severity::Error,
            "`default` list"
        ),
        "{p:#?}"
    );
}

#[test]
fn bad_digits_and_counts() {
    let p = problems(
        r#"
[ivr.entries]
"1" = "m"
"12a" = "main"
[ivr.nodes.m]
kind = "menu"
prompts = "menu_area2"
options = { "12" = "bye", "x" = "bye" }
attempts = 0
on_failure = "bye"
[ivr.nodes.pin]
kind = "identify"
method = "pin"
terminator = "x"
max_digits = 0
on_success = "bye"
on_failure = "bye"
"#,
    );
    assert!(
        has(
            &p,
            "ivr.nodes.m.options.12",
            Severity::Error,
            "expected one key"
        ),
        "{p:#?}"
    );
    assert!(
        has(
            &p,
            "ivr.nodes.m.options.x",
            Severity::Error,
            "expected one key"
        ),
        "{p:#?}"
    );
    assert!(
        has(&p, "ivr.nodes.m.attempts", Severity::Error, "at least 1"),
        "{p:#?}"
    );
    assert!(
        has(&p, "ivr.nodes.pin.terminator", Severity::Error, "got \"x\""),
        "{p:#?}"
    );
    assert!(
        has(
            &p,
            "ivr.nodes.pin.max_digits",
            Severity::Error,
            "at least 1"
        ),
        "{p:#?}"
    );
    assert!(
        has(&p, "ivr.entries.12a", Severity::Warning, "dialled number"),
        "{p:#?}"
    );
}

#[test]
fn missing_and_invalid_schedules() {
    let p = problems(
        r#"
[ivr.entries]
"1" = "h"
[ivr.schedules.broken.calendar]
tue = ["19:00-08:00"]
[ivr.nodes.h]
kind = "schedule"
schedule = "nope"
open = "main"
closed = "bye"
"#,
    );
    assert!(
        has(
            &p,
            "ivr.nodes.h.schedule",
            Severity::Error,
            "unknown schedule \"nope\""
        ),
        "{p:#?}"
    );
    assert!(
        has(
            &p,
            "ivr.schedules.broken.calendar.tue[0]",
            Severity::Error,
            "expected HH:MM-HH:MM"
        ),
        "{p:#?}"
    );
}

#[test]
fn unknown_keys_and_kinds_are_refused() {
    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct File {
        ivr: IvrConfig,
    }
    let bad = BASE.replace("on_failure = \"bye\"", "on_failure = \"bye\"\nretries = 3");
    let e = toml::from_str::<File>(&bad).unwrap_err().to_string();
    assert!(e.contains("unknown field `retries`"), "{e}");
    let bad = BASE.replace("kind = \"hangup\"", "kind = \"hang_up\"");
    let e = toml::from_str::<File>(&bad).unwrap_err().to_string();
    assert!(e.contains("unknown variant `hang_up`"), "{e}");
}

#[test]
fn problems_display_with_severity_and_path() {
    let p = Problem {
        path: "ivr.nodes.main.options.1".into(),
        message: "unknown node \"x\"".into(),
        severity: Severity::Error,
    };
    assert_eq!(
        p.to_string(),
        "error: ivr.nodes.main.options.1: unknown node \"x\""
    );
}
