//! A scripted day (issue 15, "Tests and figures"), compressed to seconds: SIPp callers in a
//! known order to queue `cittadini` served by agent 1001's SIPp phone, with `sip.max_calls = 2`
//! (the caller's leg and the agent's each take one):
//!
//! 1. a call answered at once; while it is up another caller finds no free line (503); the
//!    agent closes the call's Service Request while talking (resolved at first contact);
//! 2. a call answered at once; its request stays open;
//! 3. the agent not ready: a caller waits 4 s in queue and hangs up (abandoned, over the 2 s
//!    short-abandon threshold);
//! 4. still nobody ready: a caller waits out the queue's 6 s, overflows to the `general`
//!    mailbox and leaves a 3 s message (the test's keypad is the caller's voice), which opens
//!    a voicemail Service Request.
//!
//! Then the reports API (`queues`, `agents`, `tickets`, `sla`), the live gauges
//! (`/api/v1/reports/live`), the supervisor console's queue counters (`/api/v1/queues`) and a
//! recount written here from the raw event log (read from the database with `sqlite3`) agree
//! number for number; `serve` has folded the day into report facts in the background before any
//! report was asked, and stops cleanly. Needs `sipp` and `sqlite3`.

mod common;

use std::time::Duration;

use common::agents::*;
use common::drills::{poll, sqlite};
use common::*;
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(20);

/// What the event log says, counted here without the reports crate.
#[derive(Debug, Default, PartialEq, Eq)]
struct Recount {
    /// `call.started` plus `call.refused`.
    contacts: u64,
    refused: u64,
    /// Calls the server answered (reached the welcome).
    welcomed: u64,
    queued: u64,
    overflowed: u64,
    answered: u64,
    answered_within_30s: u64,
    abandoned: u64,
    phone_requests: u64,
    voicemail_requests: u64,
    /// Requests closed by their owner (the agent of the call) while the call was up.
    closed_by_owner_in_call: u64,
    /// Waits of the answered calls (ms), in order.
    answer_waits_ms: Vec<u64>,
}

fn recount(db: &std::path::Path) -> (Recount, Vec<u64>) {
    let rows = sqlite(db, "SELECT body FROM event_log ORDER BY id");
    let mut r = Recount::default();
    let mut abandoned_waits = Vec::new();
    let mut talking: std::collections::HashSet<String> = Default::default();
    for line in rows.lines() {
        let e: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}"));
        let call = e["call_id"].as_str().unwrap_or_default().to_string();
        match e["type"].as_str().unwrap_or_default() {
            "call.started" => r.contacts += 1,
            "call.refused" => {
                r.contacts += 1;
                r.refused += 1;
            }
            "call.answered" => r.welcomed += 1,
            "queue.entered" => r.queued += 1,
            "queue.overflowed" => r.overflowed += 1,
            "queue.connected" => {
                r.answered += 1;
                let wait = e["wait_ms"].as_u64().unwrap();
                r.answered_within_30s += u64::from(wait < 30_000);
                r.answer_waits_ms.push(wait);
                talking.insert(e["agent"].as_str().unwrap().to_string());
            }
            "queue.completed" => {
                talking.remove(e["agent"].as_str().unwrap());
            }
            "queue.abandoned" => {
                let wait = e["wait_ms"].as_u64().unwrap();
                abandoned_waits.push(wait);
                r.abandoned += u64::from(wait >= 2_000);
            }
            "ticket.created" if e["channel"] == "phone" && !call.is_empty() => {
                r.phone_requests += 1;
            }
            "ticket.created" if e["channel"] == "voicemail" => r.voicemail_requests += 1,
            "ticket.updated" => {
                let closing = e["changes"].as_array().is_some_and(|c| {
                    c.iter().any(|c| {
                        c["field"] == "state"
                            && c["new"].as_str().is_some_and(|s| s.starts_with("closed"))
                    })
                });
                let by = e["by"].as_str().unwrap_or_default();
                if closing && e["owner"].as_str() == Some(by) && talking.contains(by) {
                    r.closed_by_owner_in_call += 1;
                }
            }
            _ => {}
        }
    }
    (r, abandoned_waits)
}

fn line(report: &Value, id: &str) -> (u64, u64) {
    let l = report["lines"]
        .as_array()
        .or_else(|| report["gauges"].as_array())
        .and_then(|l| l.iter().find(|l| l["id"] == id))
        .unwrap_or_else(|| panic!("no {id} in {report}"));
    (
        l["numerator"].as_u64().unwrap(),
        l["denominator"].as_u64().unwrap(),
    )
}

#[test]
fn a_scripted_day_reports_console_and_recount_agree() {
    let queue = format!("[[acd.queues]]\nname = \"{QUEUE}\"\n");
    let acd = acd_config(15, &["1001"]);
    assert!(acd.contains(&queue), "{acd}");
    let acd = acd.replacen(
        &queue,
        &format!("{queue}max_wait_s = 6\noverflow = \"voicemail:general\"\n"),
        1,
    );
    let mut server = Server::start(&format!(
        "[sip]\nmax_calls = 2\n\n[reports]\nshort_abandon_s = 2\nmaterialize_every_s = 1\n\n{acd}"
    ));
    let api = Api::supervisor(&server);
    let agent = server.login("1001", "demo1001");
    let phone = Phone::register(&server, "1001");
    api.set_state("1001", "ready");
    api.wait_agent("1001", "ready", None);

    // 1. Answered; no free line for another meanwhile; the agent closes the request while
    // talking.
    let answering = phone.start(&server, "agent_answer_bye.xml", &["-d", "4000"]);
    let caller = sipp_start("uac_server_bye.xml", &server, &[]);
    api.wait_agent("1001", "talking", None);
    let number = api.wait("the call's request", WAIT, |api| {
        let page = api.get("/api/v1/tickets?owner=1001&state=new,open");
        page["tickets"][0]["number"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| page.to_string())
    });
    let answers = invite_over_capacity(&server, "refused-day", "0600000077");
    assert!(
        answers.iter().any(|a| a.starts_with("SIP/2.0 503 ")),
        "{answers:#?}"
    );
    let (status, body) = server
        .http(
            "PUT",
            &format!("/api/v1/tickets/{number}/state"),
            Some(&agent),
            Some(r#"{"state":"closed_successful"}"#),
        )
        .expect("close");
    assert_eq!(status, 200, "{body}");
    caller.wait().assert_ok(&server);
    answering.wait().assert_ok(&server);
    let flag = api.get(&format!("/api/v1/tickets/{number}/first-contact"));
    assert_eq!(flag["first_contact"], true, "{flag}");
    api.wait_agent("1001", "ready", None);

    // 2. Answered; the request stays open.
    let answering = phone.start(&server, "agent_answer_bye.xml", &["-d", "1000"]);
    let caller = sipp_start("uac_server_bye.xml", &server, &[]);
    caller.wait().assert_ok(&server);
    answering.wait().assert_ok(&server);
    api.wait_agent("1001", "ready", None);

    // 3. Nobody ready: the caller waits 4 s and hangs up.
    api.set_state("1001", "not_ready");
    api.wait_agent("1001", "not_ready", None);
    let waiting = sipp_start("uac_answer_bye.xml", &server, &["-d", "4000"]);
    waiting.wait().assert_ok(&server);

    // 4. Still nobody: the caller overflows to the mailbox after 6 s and leaves a message.
    let mut voice = keypad::Keypad::new();
    let port = voice.port();
    let leaving = sipp_start(
        "uac_keypad_server_bye.xml",
        &server,
        &[
            "-s",
            "800100200",
            "-key",
            "rtp_port",
            &port,
            "-key",
            "caller",
            "0600000088",
            "-d",
            "60000",
            "-timeout",
            "60s",
        ],
    );
    assert!(voice.wait_for_audio(WAIT), "the caller hears the queue");
    assert!(
        server.wait_log(
            |log| log.contains("recording a message"),
            Duration::from_secs(40)
        ),
        "no recording started:\n{}",
        tail(&server.log(), 40)
    );
    std::thread::sleep(Duration::from_secs(3)); // the caller speaks for 3 s
    voice.press("#");
    leaving.wait().assert_ok(&server);

    // The recount, once the log holds the abandonment and the refusal.
    let db = server.dir().join("data/centralino.db");
    let (counted, waits) = poll("the day in the event log", WAIT, || {
        let (r, waits) = recount(&db);
        (r.abandoned == 1 && r.refused == 1 && r.voicemail_requests == 1).then_some((r, waits))
    });
    assert_eq!(
        counted,
        Recount {
            contacts: 5,
            refused: 1,
            welcomed: 4,
            queued: 4,
            overflowed: 1,
            answered: 2,
            answered_within_30s: 2,
            abandoned: 1,
            phone_requests: 2,
            voicemail_requests: 1,
            closed_by_owner_in_call: 1,
            answer_waits_ms: counted.answer_waits_ms.clone(),
        }
    );
    // The agent's phone rings 200 ms before it answers (agent_answer_bye.xml).
    assert!(
        counted
            .answer_waits_ms
            .iter()
            .all(|w| (200..3_000).contains(w)),
        "answered after the phone's 200 ms ring: {:?}",
        counted.answer_waits_ms
    );
    assert!(
        waits.len() == 1 && (3_500..6_000).contains(&waits[0]),
        "abandoned after the caller's 4 s: {waits:?}"
    );

    // Before any report is asked, serve's background task has folded the day into facts.
    poll("the day's calls folded in the background", WAIT, || {
        let folded: u64 = sqlite(&db, "SELECT COUNT(*) FROM report_calls")
            .parse()
            .ok()?;
        (folded >= counted.queued).then_some(())
    });

    // The live view first: its `to` is today.
    let live = api.get("/api/v1/reports/live");
    let today = live["sla"][0]["to"].as_str().expect("today").to_string();
    let month = &today[..7];
    let range = format!("from={today}&to={today}&sampling=total");

    // Reports: queues.
    let queues = api.get(&format!("/api/v1/reports/queues?{range}"));
    let row = queues["rows"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["queue"] == QUEUE))
        .unwrap_or_else(|| panic!("{queues}"))
        .clone();
    assert_eq!(row["offered"], counted.queued, "{row}");
    assert_eq!(row["answered"], counted.answered, "{row}");
    assert_eq!(
        row["answered_within_target"], counted.answered_within_30s,
        "{row}"
    );
    assert_eq!(row["abandoned"], counted.abandoned, "{row}");
    assert_eq!(row["overflowed"], counted.overflowed, "{row}");
    assert_eq!(row["abandoned_short"], 0, "{row}");
    let waits = &counted.answer_waits_ms;
    let mean_s = waits.iter().sum::<u64>() as f64 / waits.len() as f64 / 1000.0;
    assert_eq!(row["answer_time"]["count"], waits.len(), "{row}");
    assert_eq!(
        row["answer_time"]["mean_s"].as_f64(),
        Some((mean_s * 100.0).round() / 100.0),
        "{row}"
    );

    // Agents.
    let agents = api.get(&format!("/api/v1/reports/agents?{range}"));
    let a = agents["rows"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["agent"] == "1001"))
        .unwrap_or_else(|| panic!("{agents}"))
        .clone();
    assert_eq!(a["answered"], counted.answered, "{a}");
    assert_eq!(a["tickets_closed"], counted.closed_by_owner_in_call, "{a}");

    // Service Requests.
    let tickets = api.get(&format!("/api/v1/reports/tickets?{range}"));
    let phone_rows: Vec<&Value> = tickets["rows"]
        .as_array()
        .unwrap_or_else(|| panic!("{tickets}"))
        .iter()
        .filter(|r| r["channel"] == "phone")
        .collect();
    let sum = |k: &str| {
        phone_rows
            .iter()
            .map(|r| r[k].as_u64().unwrap())
            .sum::<u64>()
    };
    assert_eq!(sum("created"), counted.phone_requests, "{tickets}");
    assert_eq!(
        sum("resolved"),
        counted.closed_by_owner_in_call,
        "{tickets}"
    );
    assert_eq!(
        sum("first_contact"),
        counted.closed_by_owner_in_call,
        "{tickets}"
    );

    // The month's SLA (the server started today: the month is this day).
    let sla = api.get(&format!("/api/v1/reports/sla?month={month}"));
    assert_eq!(line(&sla, "SLA.C.1"), (counted.welcomed, counted.contacts));
    // Answered, abandoned over the threshold, and overflowed (waited, not abandoned).
    let queued_counted = counted.answered + counted.abandoned + counted.overflowed;
    assert_eq!(
        line(&sla, "SLA.C.2"),
        (queued_counted, queued_counted),
        "every wait under 30 s"
    );
    assert_eq!(line(&sla, "SLA.C.3"), (counted.abandoned, queued_counted));
    assert_eq!(
        line(&sla, "SLA.C.4"),
        (counted.closed_by_owner_in_call, counted.phone_requests)
    );

    // The message's request waits to be taken in charge: pending, not yet late.
    assert_eq!(sla["offline_pending"], counted.voicemail_requests, "{sla}");

    // Live gauges, today and month to date: the same lines.
    for scope in live["sla"].as_array().expect("scopes") {
        for id in ["SLA.C.2", "SLA.C.3"] {
            assert_eq!(line(scope, id), line(&sla, id), "{scope}");
        }
    }

    // The supervisor console's counters.
    let q = api.queue(QUEUE);
    assert_eq!(q["answered"], counted.answered, "{q}");
    assert_eq!(q["abandoned"], counted.abandoned, "{q}");

    // A graceful stop ends the background task with the rest.
    server.sigterm();
    let status = server
        .wait_exit(Duration::from_secs(20))
        .expect("stopped within 20 s of SIGTERM");
    assert!(status.success(), "{status}");
    let log = server.log();
    assert!(
        !log.contains("report facts not brought up to date"),
        "{}",
        tail(&log, 40)
    );
}
