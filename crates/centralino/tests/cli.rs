//! The command line's tools against a fresh data directory: check-config, demo-data (twice:
//! idempotent), gen-tickets, migrate.

use std::process::Command;

fn centralino(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_centralino"))
        .args(args)
        .env_remove("DATABASE_URL")
        .env("NO_COLOR", "1")
        .output()
        .expect("run centralino");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn check_config_accepts_the_demo_and_names_the_line_of_an_ivr_error() {
    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/../../config/demo.toml");
    let (ok, text) = centralino(&["check-config", demo]);
    assert!(ok, "{text}");
    assert!(text.contains("valid"), "{text}");

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    let broken = std::fs::read_to_string(demo)
        .unwrap()
        .replace("\"3\" = \"area3_route\"", "\"3\" = \"area9_route\"");
    std::fs::write(&bad, &broken).unwrap();
    let line = broken
        .lines()
        .position(|l| l.contains("area9_route"))
        .unwrap()
        + 1;
    let (ok, text) = centralino(&["check-config", bad.to_str().unwrap()]);
    assert!(!ok, "{text}");
    assert!(
        text.contains(&format!("line {line}: ivr.nodes.main_menu.options.3")),
        "{text}"
    );
}

#[test]
fn check_config_names_the_line_of_a_bad_blend_setting() {
    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/../../config/demo.toml");
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    let broken = std::fs::read_to_string(demo)
        .unwrap()
        .replace("offer_timeout_s = 30", "offer_timeout_s = 0")
        .replace("fax = 3", "pigeon = 3");
    std::fs::write(&bad, &broken).unwrap();
    let line = |needle: &str| broken.lines().position(|l| l == needle).unwrap() + 1;
    let (ok, text) = centralino(&["check-config", bad.to_str().unwrap()]);
    assert!(!ok, "{text}");
    assert!(
        text.contains(&format!(
            "line {}: acd.blend.offer_timeout_s: expected at least 1 second, got 0",
            line("offer_timeout_s = 0")
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "line {}: acd.blend.priorities.pigeon: expected a channel",
            line("pigeon = 3")
        )),
        "{text}"
    );
}

#[test]
fn demo_data_is_idempotent_and_tickets_can_be_generated() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let (ok, first) = centralino(&["demo-data", "--data", data]);
    assert!(ok, "{first}");
    assert!(
        first.contains("\"1001\""),
        "the first run creates the agents: {first}"
    );
    let (ok, second) = centralino(&["demo-data", "--data", data]);
    assert!(ok, "{second}");
    assert!(
        second.contains("users: []"),
        "the second run creates nothing: {second}"
    );
    let (ok, text) = centralino(&["gen-tickets", "40", "--seed", "7", "--data", data]);
    assert!(ok, "{text}");
    assert!(text.contains("tickets=40"), "{text}");
    let (ok, text) = centralino(&["migrate", "--data", data]);
    assert!(ok, "{text}");
}
