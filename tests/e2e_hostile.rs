//! Issue 14, hostile networks against the real `centralino serve` on loopback: Debian's
//! SIPVicious (svmap, svwar, svcrack) against the trunk and the registrar, and floods from a
//! disallowed address and of REGISTERs beside legitimate calls. Every tool is bounded (a few
//! extensions, a short dictionary, a fixed rate and count) and aimed at 127.0.0.1 only.
//!
//! Needs `sipp` and `sipvicious` (scripts/install-test-deps.sh).

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;

/// Runs a SIPVicious tool, killed after `bound_s` seconds; its stdout and stderr together.
/// (svcrack, once locked out, gets only 403s and waits for an answer it understands until
/// killed: the bound is the end of its run, not a failure.)
fn sipvicious(tool: &str, bound_s: u32, args: &[&str]) -> String {
    let mut child = Command::new("timeout")
        .arg(bound_s.to_string())
        .arg(tool)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {tool} ({e}): scripts/install-test-deps.sh"));
    let _ = child.stdin.take();
    let out = child.wait_with_output().expect("tool finishes");
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The rows of svwar's result table: (extension, authentication column).
fn svwar_rows(output: &str) -> Vec<(String, String)> {
    output
        .lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l
                .split('|')
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .collect();
            match cells.as_slice() {
                [ext, auth] if ext.chars().all(|c| c.is_ascii_digit()) => {
                    Some((ext.to_string(), auth.to_string()))
                }
                _ => None,
            }
        })
        .collect()
}

#[test]
fn sipvicious_learns_nothing_cracks_nothing_and_breaks_nothing() {
    let server = Server::start_demo("");
    let port = server.sip_port.to_string();
    let target = "127.0.0.1";

    // svmap finds a SIP server (we are on its allow-list: loopback), and nothing else.
    let map = sipvicious("svmap", 30, &["-p", &port, target]);
    assert!(
        !map.contains("Traceback"),
        "svmap failed:\n{map}\n{}",
        tail(&server.log(), 40)
    );

    // svwar over existing (1001-1003, 2001) and missing extensions: every one looks alike
    // (svwar 0.3.3 then reports that it found nothing).
    let war = sipvicious(
        "svwar",
        30,
        &[
            "--force",
            "-e",
            "1000-1004,2001,2002,9999",
            "-p",
            &port,
            target,
        ],
    );
    eprintln!("--- svwar ---\n{war}");
    let rows = svwar_rows(&war);
    let statuses: std::collections::BTreeSet<&str> = rows.iter().map(|(_, s)| s.as_str()).collect();
    let listed: Vec<&str> = rows.iter().map(|(e, _)| e.as_str()).collect();
    let existing = ["1001", "1002", "1003", "2001"];
    let missing = ["1000", "1004", "2002", "9999"];
    let listed_existing = existing.iter().filter(|e| listed.contains(e)).count();
    let listed_missing = missing.iter().filter(|e| listed.contains(e)).count();
    assert!(
        (listed_existing == 0 && listed_missing == 0)
            || (listed_existing == existing.len()
                && listed_missing == missing.len()
                && statuses.len() == 1),
        "svwar told extensions apart: {rows:?}\n{war}"
    );

    // svcrack on 1001 with the right password last in its dictionary, after ten wrong ones:
    // the fifth wrong answer locks 1001 out from this address, so the right one is refused.
    let dir = TempDir::new("svcrack");
    let dictionary = dir.path().join("dictionary.txt");
    let mut words: Vec<String> = (0..10).map(|i| format!("wrong{i}")).collect();
    words.push("demo1001".into());
    std::fs::write(&dictionary, words.join("\n") + "\n").unwrap();
    let crack = sipvicious(
        "svcrack",
        15,
        &[
            "-u",
            "1001",
            "-d",
            dictionary.to_str().unwrap(),
            "-p",
            &port,
            target,
        ],
    );
    eprintln!("--- svcrack ---\n{crack}");
    assert!(
        !crack.contains("demo1001"),
        "svcrack found the password:\n{crack}"
    );
    assert!(
        server.wait_log(
            |log| log.contains("too many failed authentications"),
            Duration::from_secs(5)
        ),
        "no lockout logged\n{crack}\n{}",
        tail(&server.log(), 40)
    );

    // Still standing: OPTIONS and a call are served, and another agent registers from the
    // very address svcrack locked 1001 out of.
    sipp("uac_options.xml", &server, &[]);
    sipp("uac_answer_bye.xml", &server, &["-d", "200"]);
    sipp(
        "register_digest.xml",
        &server,
        &[
            "-s",
            "1002",
            "-au",
            "1002",
            "-ap",
            "demo1002",
            "-key",
            "contact_host",
            "127.0.0.1",
        ],
    );
}

/// An INVITE flood from an address outside `allow_from` (127.0.0.2), then a REGISTER flood
/// from an allowed one: legitimate calls placed during each still succeed, and the REGISTER
/// flood gets its source's burst of challenges, then is dropped (counted on /metrics). (The
/// calls' setup times are measured by scripts/drill-sip-flood.sh, not asserted here.)
#[test]
fn legitimate_calls_succeed_during_floods() {
    let server = Server::start_demo_edited(
        |demo| {
            demo.replacen(
                "allow_from = [\"127.0.0.0/8\", \"::1/128\"]",
                "allow_from = [\"127.0.0.1/32\", \"::1/128\"]",
                1,
            )
        },
        "",
    );
    let mut flood = sipp_start(
        "uac_invite_flood.xml",
        &server,
        &["-i", "127.0.0.2", "-nr", "-r", "300", "-m", "1500"],
    );
    for _ in 0..3 {
        sipp("uac_answer_bye.xml", &server, &["-d", "100"]);
    }
    let _ = flood.running();
    let flood = flood.wait();
    assert!(
        flood.success(),
        "the INVITE flood did not run:\n{}",
        flood.report()
    );

    let api = common::agents::Api::supervisor(&server);
    let sent_before = api.metric("centralino_sip_messages_sent_total");
    let flood = sipp_start(
        "register_flood.xml",
        &server,
        &["-s", "1001", "-r", "200", "-m", "1000"],
    );
    for _ in 0..3 {
        sipp("uac_answer_bye.xml", &server, &["-d", "100"]);
    }
    let flood = flood.wait();
    assert!(
        flood.success(),
        "the REGISTER flood did not run:\n{}",
        flood.report()
    );
    // The source's burst of challenges (registrar.challenge_burst_per_address, 100) was
    // answered; beyond its rate (10/s) the flood was dropped unanswered and counted. (1,000
    // REGISTERs at 200/s: however slowly SIPp sends them, fewer than 100 + 10/s × its time
    // are answered.)
    let dropped = api.metric("centralino_sip_registers_dropped_total");
    assert!(
        (1.0..=900.0).contains(&dropped),
        "{dropped} REGISTERs dropped\n{}",
        tail(&server.log(), 40)
    );
    let sent = api.metric("centralino_sip_messages_sent_total") - sent_before;
    assert!(
        sent >= 100.0 && sent <= 1000.0 - dropped + 100.0,
        "{sent} messages sent for the flood's {} answered REGISTERs and 3 calls",
        1000.0 - dropped
    );
    // The flood's REGISTERs carry no credentials: challenged or dropped, not failed, so nobody
    // is locked out by it.
    assert!(!server.log().contains("too many failed authentications"));
}

/// Issue 14: with `sip.max_calls` calls in progress the next INVITE gets 503 and is written to
/// the event log as `call.refused` (a contact that found no free line, for SLA.C.1).
#[test]
fn a_call_over_max_calls_is_refused_and_logged() {
    let server = Server::start(&format!(
        "[sip]\nmax_calls = 1\n\n{}",
        listening(0, "welcome", 30)
    ));
    let held = sipp_start("uac_answer_bye.xml", &server, &["-d", "5000"]);
    common::drills::poll("the first call answered", Duration::from_secs(10), || {
        held.messages_so_far().contains("SIP/2.0 200").then_some(())
    });
    let answers = invite_over_capacity(&server, "refused-e2e", "0600000042");
    assert!(
        answers.iter().any(|a| a.starts_with("SIP/2.0 503 ")),
        "{answers:#?}"
    );
    let db = server.dir().join("data/centralino.db");
    let body = common::drills::poll(
        "call.refused in the event log",
        Duration::from_secs(10),
        || {
            let body = common::drills::sqlite(
                &db,
                "SELECT body FROM event_log WHERE kind = 'call.refused'",
            );
            (!body.is_empty()).then_some(body)
        },
    );
    assert!(body.contains("\"caller\":\"0600000042\""), "{body}");
    assert!(body.contains("\"called\":\"800100200\""), "{body}");
    assert!(body.contains("\"reason\":\"capacity\""), "{body}");
    held.wait().assert_ok(&server);
}
