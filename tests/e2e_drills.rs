//! Fault drills, end to end (issue 14): the real `centralino serve` killed or cut off from
//! its database while calls are in progress, with SIPp callers and agents' phones on
//! loopback. Each drill is bounded (a handful of calls, well under 90 s) and synchronises on
//! the server's log, its API and its database, read from outside with the `sqlite3` shell.
//! Needs `sipp` (Debian `sip-tester`) and `sqlite3`.

mod common;

use std::time::Duration;

use common::agents::*;
use common::drills::*;
use common::*;

const WAIT: Duration = Duration::from_secs(15);

/// One call's card as the database holds it: (ended, outcome), empty strings for NULL.
fn card(db: &std::path::Path, sip_call_id: &str) -> Option<(String, String, String)> {
    let row = sqlite(
        db,
        &format!(
            "SELECT call_id, IFNULL(ended, ''), IFNULL(outcome, '') FROM calls \
             WHERE sip_call_id = '{sip_call_id}'"
        ),
    );
    let mut cols = row.split('|').map(str::to_string);
    Some((cols.next()?, cols.next()?, cols.next()?)).filter(|(id, ..)| !id.is_empty())
}

/// `kill -9` with a call in the IVR, one in queue, one talking to an agent and one leaving a
/// voicemail; then a restart on the same data directory. Every call record left open is
/// closed `interrupted`, the partial message becomes one voicemail ticket, the agent is
/// logged out (in the ACD and in the event log), and a second restart duplicates nothing.
#[test]
fn kill_9_with_calls_in_every_phase_then_restart_closes_everything_once() {
    let mut server = Server::start_demo("");
    let db = server.dir().join("data/centralino.db");
    let api = Api::supervisor(&server);

    // Agent 1001 answers the first queued call and talks until the server hangs up; its
    // phone echoes the caller's audio (an agent's phone silent for the media time-out, 30 s,
    // would be hung up, and the voicemail below takes about that long).
    let phone = Phone::register(&server, "1001");
    let agent = phone.start(
        &server,
        "agent_answer_wait_bye.xml",
        &["-m", "1", "-timeout", "120s", "-rtp_echo"],
    );
    api.wait("agent 1001 registered", WAIT, |api| {
        let a = api.agent("1001");
        if a["registered"] == true {
            Ok(())
        } else {
            Err(a.to_string())
        }
    });
    api.set_state("1001", "ready");
    api.wait_agent("1001", "ready", None);

    // Talking: citizen services (direct dial) routes to the queue `cittadini`.
    let talking = HeldCall::dial(&server, "800100201", "+390611111111", 120);
    api.wait_agent("1001", "talking", None);
    // Queued: the only agent talks.
    let queued = HeldCall::dial(&server, "800100201", "+390622222222", 120);
    api.wait("a caller waiting", WAIT, |api| {
        let q = api.queue(QUEUE);
        if q["waiting"] == 1 {
            Ok(())
        } else {
            Err(q.to_string())
        }
    });
    // In the IVR: the main menu waits for a digit.
    let ivr = HeldCall::dial(&server, "800100200", "+390633333333", 120);
    ivr.wait_log(&server, "main_menu", WAIT);
    // Voicemail: the after-hours line takes a message; the caller's audio is on disk once
    // the recorder's buffer (32 KiB, about 2 s) has been written out.
    let voicemail = HeldCall::dial(&server, "800100299", "+390600000002", 120);
    voicemail.wait_log(&server, "recording a message", Duration::from_secs(40));
    let mailbox = server.dir().join("data/voicemail/general");
    let partial = poll("2 s of the message on disk", WAIT, || {
        std::fs::read_dir(&mailbox).ok()?.flatten().find_map(|e| {
            let p = e.path();
            (p.to_string_lossy().ends_with(".wav.tmp") && e.metadata().ok()?.len() >= 32 * 1024)
                .then_some(p)
        })
    });

    // Every call's card is in the database, open.
    let calls = [&talking, &queued, &ivr, &voicemail];
    let ids: Vec<String> = calls
        .iter()
        .map(|c| {
            poll("the call card written", WAIT, || {
                card(&db, &c.sip_call_id).filter(|(_, ended, _)| ended.is_empty())
            })
            .0
        })
        .collect();

    let calls_sip: Vec<String> = calls.iter().map(|c| c.sip_call_id.clone()).collect();
    server.kill9();
    // The peers vanish with it (their dialogs are gone with the process).
    for c in [talking, queued, ivr, voicemail] {
        c.run.kill();
    }
    agent.kill();
    assert!(partial.exists(), "the crash leaves the partial message");

    server.start_again();
    let api = Api::supervisor(&server);
    // The message the crash cut is repaired, renamed and filed.
    assert!(
        server.wait_log(
            |log| log.contains("message interrupted by a crash recovered"),
            WAIT
        ),
        "{}",
        tail(&server.log(), 60)
    );
    // Recovery runs before the server answers its health check: every card is closed.
    for (c, id) in calls_sip.iter().zip(&ids) {
        let (_, ended, outcome) = card(&db, c).expect("the card");
        assert_eq!(outcome, "interrupted", "call {id} (ended {ended})");
        assert!(!ended.is_empty(), "call {id} has an end");
    }
    let vm_id = &ids[3];
    let vm_tickets = || {
        sqlite(
            &db,
            &format!(
                "SELECT COUNT(*) FROM tickets WHERE call_id = '{vm_id}' AND channel = 'voicemail'"
            ),
        )
    };
    poll("the voicemail ticket", WAIT, || {
        (vm_tickets() == "1").then_some(())
    });
    assert!(
        server
            .dir()
            .join(format!("data/voicemail/general/{vm_id}.wav"))
            .exists(),
        "the message is kept in place"
    );
    // The agent: logged out in the ACD of this run and in the event log.
    assert_eq!(
        api.agent("1001")["state"],
        "logged_out",
        "{}",
        api.agent("1001")
    );
    let last_state = poll("the agent's logout logged", WAIT, || {
        let body = sqlite(
            &db,
            "SELECT body FROM event_log WHERE kind = 'agent.state' \
             AND body LIKE '%\"1001\"%' ORDER BY id DESC LIMIT 1",
        );
        body.contains("logged_out").then_some(body)
    });
    assert!(last_state.contains("restart"), "{last_state}");

    // A second crash and start: nothing is filed or closed twice.
    server.kill9();
    server.start_again();
    let duplicated = sqlite(
        &db,
        "SELECT call_id, channel, COUNT(*) FROM tickets WHERE call_id IS NOT NULL \
         GROUP BY call_id, channel HAVING COUNT(*) > 1",
    );
    assert_eq!(duplicated, "", "tickets duplicated per call");
    assert_eq!(vm_tickets(), "1");
    let still = sqlite(
        &db,
        &format!(
            "SELECT COUNT(*) FROM calls WHERE outcome = 'interrupted' AND call_id IN ({})",
            ids.iter()
                .map(|i| format!("'{i}'"))
                .collect::<Vec<_>>()
                .join(",")
        ),
    );
    assert_eq!(still, "4");
    assert_eq!(
        sqlite(&db, "SELECT COUNT(*) FROM calls WHERE ended IS NULL"),
        "0",
        "no call left open"
    );
}

/// The disk fills up while a caller leaves a voicemail (a real ENOSPC: a small tmpfs over the
/// mailboxes, filled by another file mid-recording). What was recorded is kept as a valid
/// WAV and filed as one voicemail ticket, the caller is told the message was saved and hung
/// up on politely, and the process goes on answering calls. Needs root (mount).
#[test]
fn disk_full_during_a_recording_keeps_the_message_and_the_service() {
    if !require_root("disk_full_during_a_recording_keeps_the_message_and_the_service") {
        return;
    }
    let server = Server::start_demo("");
    let db = server.dir().join("data/centralino.db");
    let disk = SmallDisk::mount(&server.dir().join("data/voicemail"), "8m");
    let call = HeldCall::dial_with(
        "uac_keypad_server_bye.xml",
        &server,
        "800100299",
        "+390600000002",
        60,
    );
    call.wait_log(&server, "recording a message", Duration::from_secs(40));
    let mailbox = server.dir().join("data/voicemail/general");
    poll("the first audio of the message on disk", WAIT, || {
        std::fs::read_dir(&mailbox).ok()?.flatten().find_map(|e| {
            (e.path().to_string_lossy().ends_with(".wav.tmp")
                && e.metadata().ok()?.len() >= 32 * 1024)
                .then_some(())
        })
    });
    assert!(disk.fill() > 0);
    // The recorder's next write meets ENOSPC: the message is kept and filed.
    call.wait_log(&server, "voicemail: opened Service Request", WAIT);
    call.wait_log(&server, "s recorded", WAIT);
    let result = call.run.wait();
    result.assert_ok(&server);
    let call_id = poll("the call card closed", WAIT, || {
        card(&db, &call.sip_call_id).filter(|(_, ended, _)| !ended.is_empty())
    });
    assert_eq!(call_id.2, "voicemail", "{call_id:?}");
    let id = call_id.0;
    assert_eq!(
        sqlite(
            &db,
            &format!(
                "SELECT COUNT(*) FROM tickets WHERE call_id = '{id}' AND channel = 'voicemail'"
            )
        ),
        "1"
    );
    let wav = std::fs::read(mailbox.join(format!("{id}.wav"))).expect("the message is kept");
    let data = u32::from_le_bytes([wav[40], wav[41], wav[42], wav[43]]) as usize;
    assert_eq!(&wav[36..40], b"data");
    assert_eq!(data, wav.len() - 44, "the header says what the file holds");
    assert!(
        data >= 32 * 1024 - 44,
        "at least the audio first written: {data} bytes"
    );
    assert!(
        !std::fs::read_dir(&mailbox)
            .unwrap()
            .flatten()
            .any(|e| e.path().to_string_lossy().ends_with(".tmp")),
        "no temporary file left"
    );
    // The service goes on: the next caller is answered (prompt audio) by the menu.
    let next = HeldCall::dial(&server, "800100200", "+390644444444", 30);
    next.wait_log(&server, "main_menu", WAIT);
    next.run.kill();
    drop(call.keypad);
    drop(disk);
}

/// The CRM's database as the drills read it from outside.
enum Db<'a> {
    Sqlite(std::path::PathBuf),
    Postgres(&'a PrivatePostgres),
}

impl Db<'_> {
    fn query(&self, sql: &str) -> String {
        match self {
            Db::Sqlite(path) => sqlite(path, sql),
            Db::Postgres(pg) => pg.query(sql),
        }
    }

    fn card(&self, sip_call_id: &str) -> Option<(String, String, String)> {
        let row = self.query(&format!(
            "SELECT call_id, COALESCE(CAST(ended AS TEXT), ''), COALESCE(outcome, '') FROM calls \
             WHERE sip_call_id = '{sip_call_id}'"
        ));
        let mut cols = row.split('|').map(str::to_string);
        Some((cols.next()?, cols.next()?, cols.next()?)).filter(|(id, ..)| !id.is_empty())
    }
}

/// The outage drill's length: `CENTRALINO_DRILL_OUTAGE_S` seconds (default 20;
/// scripts/drill-faults.sh runs it with 60).
fn outage_length() -> Duration {
    Duration::from_secs(
        std::env::var("CENTRALINO_DRILL_OUTAGE_S")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(20),
    )
}

/// The database goes away (`begin`) while an agent answers a call and a caller leaves a
/// voicemail, for [`outage_length`]; when it is back (`end`), every call record, the answered
/// call's ticket and the voicemail ticket are there, each once, and the journal is empty.
fn outage_drill(server: &Server, db: &Db, begin: impl FnOnce(), end: impl FnOnce()) {
    let outage = outage_length();
    let api = Api::supervisor(server);
    let phone = Phone::register(server, "1001");
    let agent = phone.start(
        server,
        "agent_answer_bye.xml",
        &["-m", "1", "-d", "2000", "-timeout", "60s"],
    );
    api.wait("agent 1001 registered", WAIT, |api| {
        let a = api.agent("1001");
        if a["registered"] == true {
            Ok(())
        } else {
            Err(a.to_string())
        }
    });
    api.set_state("1001", "ready");
    api.wait_agent("1001", "ready", None);

    begin();
    let began = std::time::Instant::now();
    // Answered by the agent, who hangs up after 2 s.
    let answered = HeldCall::dial_with(
        "uac_keypad_server_bye.xml",
        server,
        "800100201",
        "+390655555555",
        60,
    );
    // A message of about 2 s, ended with #.
    let mut message = HeldCall::dial_with(
        "uac_keypad_server_bye.xml",
        server,
        "800100299",
        "+390600000002",
        90,
    );
    message.wait_log(server, "recording a message", Duration::from_secs(60));
    let mailbox = server.dir().join("data/voicemail/general");
    poll("2 s of the message on disk", WAIT, || {
        std::fs::read_dir(&mailbox).ok()?.flatten().find_map(|e| {
            (e.path().to_string_lossy().ends_with(".wav.tmp")
                && e.metadata().ok()?.len() >= 32 * 1024)
                .then_some(())
        })
    });
    message.keypad.press("#");
    message.wait_log(
        server,
        "voicemail: Service Request pending (message kept)",
        Duration::from_secs(60),
    );
    answered.run.wait().assert_ok(server);
    message.run.wait().assert_ok(server);
    agent.wait().assert_ok(server);
    // The writes wait in the journal.
    let journal = server.dir().join("data/journal/calls.jsonl");
    assert!(
        std::fs::metadata(&journal).is_ok_and(|m| m.len() > 0),
        "nothing journaled during the outage"
    );
    if let Some(left) = outage.checked_sub(began.elapsed()) {
        std::thread::sleep(left); // the outage's length is the drill's parameter
    }
    end();

    // Back: the journal is replayed in order.
    let limit = Duration::from_secs(60);
    let (answered_id, _, outcome) = poll("the answered call's card", limit, || {
        db.card(&answered.sip_call_id)
            .filter(|(_, ended, _)| !ended.is_empty())
    });
    assert_eq!(outcome, "answered");
    let (message_id, _, outcome) = poll("the voicemail's card", limit, || {
        db.card(&message.sip_call_id)
            .filter(|(_, ended, _)| !ended.is_empty())
    });
    assert_eq!(outcome, "voicemail");
    let tickets = |id: &str, channel: &str| {
        db.query(&format!(
            "SELECT COUNT(*) FROM tickets WHERE call_id = '{id}' AND channel = '{channel}'"
        ))
    };
    poll("the answered call's ticket", limit, || {
        (tickets(&answered_id, "phone") == "1").then_some(())
    });
    poll("the voicemail ticket", limit, || {
        (tickets(&message_id, "voicemail") == "1").then_some(())
    });
    // Everything once: the journal emptied, nothing duplicated.
    poll("the journal emptied", limit, || {
        (!journal.exists() || std::fs::metadata(&journal).ok()?.len() == 0).then_some(())
    });
    assert_eq!(
        db.query(
            "SELECT call_id, channel, COUNT(*) FROM tickets WHERE call_id IS NOT NULL \
             GROUP BY call_id, channel HAVING COUNT(*) > 1"
        ),
        ""
    );
    assert_eq!(
        db.query("SELECT event_id FROM event_log GROUP BY event_id HAVING COUNT(*) > 1"),
        ""
    );
    assert!(!server.dir().join("data/journal/calls.rejected").exists());
}

/// The drill on SQLite, made unwritable for the server by another process holding its write
/// lock (`BEGIN EXCLUSIVE`; the tests run as root, so file modes would not stop the server).
#[test]
fn database_outage_while_calls_are_answered_and_voicemail_is_left_loses_nothing() {
    let server = Server::start_demo("");
    let path = server.dir().join("data/centralino.db");
    let lock = std::cell::RefCell::new(None);
    outage_drill(
        &server,
        &Db::Sqlite(path.clone()),
        || *lock.borrow_mut() = Some(DatabaseLock::hold(&path)),
        || lock.borrow_mut().take().expect("locked").release(),
    );
}

/// The drill on PostgreSQL: a private cluster of the test's own, stopped (`pg_ctl stop -m
/// fast`) and started again; the machine's shared server is never touched.
#[test]
fn postgres_stopped_while_calls_are_answered_and_voicemail_is_left_loses_nothing() {
    let pg = PrivatePostgres::start();
    let url = pg.url();
    let server = Server::start_demo_edited(
        |demo| demo.replacen("url = \"\"", &format!("url = \"{url}\""), 1),
        "",
    );
    outage_drill(
        &server,
        &Db::Postgres(&pg),
        || pg.stop(),
        || pg.start_again(),
    );
}

/// Availability (issue 15): the real server stopped in order (SIGTERM) and once with
/// `kill -9`, each time started again after a pause; the SLA report of the month counts
/// both outages as down time of the ACD, the CTI and the IVR (the crash from the last
/// heartbeat to the next start).
#[test]
fn an_orderly_stop_and_a_crash_are_down_time_in_the_sla_report() {
    let mut server =
        Server::start_demo("[availability]\nheartbeat_s = 1\nprobe_timeout_ms = 500\n");
    let db = server.dir().join("data/centralino.db");
    let beats = || {
        sqlite(
            &db,
            "SELECT COUNT(*) FROM event_log WHERE kind = 'system.heartbeat'",
        )
        .parse::<u32>()
        .unwrap_or(0)
    };
    poll("a heartbeat logged", WAIT, || (beats() > 0).then_some(()));
    let month = chrono::Utc::now().format("%Y-%m").to_string();
    // The IVR's (up, measured) seconds of the month.
    let ivr = |server: &Server| {
        let report = Api::supervisor(server).get(&format!("/api/v1/reports/sla?month={month}"));
        let lines = report["lines"].as_array().expect("lines").clone();
        let line = |id: &str| {
            lines
                .iter()
                .find(|l| l["id"] == id)
                .unwrap_or_else(|| panic!("no line {id} in {report}"))
                .clone()
        };
        for id in [
            "ACD.service_time",
            "ACD.other_hours",
            "CTI.service_time",
            "CTI.other_hours",
        ] {
            assert!(
                line(id)["measured_pct"].is_number(),
                "{id} measured: {report}"
            );
        }
        let l = line("IVR.around_the_clock");
        (
            l["numerator"].as_u64().unwrap(),
            l["denominator"].as_u64().unwrap(),
        )
    };
    // Before this server's first start nothing ran: down, and measured from there.
    let (up_before, all) = ivr(&server);
    assert!(all >= 28 * 24 * 3600, "the whole month is measured");
    // The outages are the drill itself: each lasts at least this long.
    let outage = Duration::from_secs(2);
    server.sigterm();
    assert!(
        server.wait_exit(Duration::from_secs(20)).is_some(),
        "stopped"
    );
    std::thread::sleep(outage);
    server.start_again();
    let before = beats();
    poll("a heartbeat of the new run", WAIT, || {
        (beats() > before).then_some(())
    });
    server.kill9();
    std::thread::sleep(outage);
    server.start_again();

    let (up_after, _) = ivr(&server);
    let down = up_before - up_after;
    // Two outages of at least 2 s each (the crash counts from the last heartbeat, at most
    // 1 s before it) and the restarts' own seconds; well under a minute.
    assert!(
        (4..60).contains(&down),
        "down {down} s more than before the outages"
    );
    let kinds = sqlite(
        &db,
        "SELECT kind FROM event_log WHERE kind IN ('system.started', 'system.stopping') ORDER BY id",
    );
    assert_eq!(
        kinds.lines().collect::<Vec<_>>(),
        [
            "system.started",
            "system.stopping",
            "system.started",
            "system.started"
        ],
        "the crash left no stop"
    );
}

/// A graceful stop (SIGTERM) with a caller waiting in queue (issue 14): the caller gets our
/// BYE, the call record is closed `interrupted` and the event log's `call.ended` says so,
/// before the process exits.
#[test]
fn sigterm_with_a_call_in_queue_ends_it_interrupted_with_a_bye() {
    let mut server = Server::start_demo("");
    let db = server.dir().join("data/centralino.db");
    let api = Api::supervisor(&server);
    // Agent 1001 is signed in but not ready: nobody takes calls in the queue `cittadini`,
    // the caller waits there.
    api.set_state("1001", "not_ready");
    api.wait_agent("1001", "not_ready", None);
    let queued = HeldCall::dial_with(
        "uac_keypad_server_bye.xml",
        &server,
        "800100201",
        "+390644444444",
        60,
    );
    api.wait("a caller waiting", WAIT, |api| {
        let q = api.queue(QUEUE);
        if q["waiting"] == 1 {
            Ok(())
        } else {
            Err(q.to_string())
        }
    });
    let sip_call_id = queued.sip_call_id.clone();
    server.sigterm();
    let status = server
        .wait_exit(Duration::from_secs(20))
        .expect("stopped within 20 s");
    assert!(status.success(), "{status}");
    // The scenario passes only when the server's BYE came (and was answered).
    let result = queued.run.wait();
    assert!(result.success(), "{}", result.report());
    let (call_id, ended, outcome) = card(&db, &sip_call_id).expect("the card");
    assert_eq!(outcome, "interrupted");
    assert!(!ended.is_empty());
    let ended_event = sqlite(
        &db,
        &format!("SELECT body FROM event_log WHERE kind = 'call.ended' AND call_id = '{call_id}'"),
    );
    assert!(
        ended_event.contains(r#""outcome":"interrupted""#),
        "{ended_event}"
    );
    // The ACD let the call go as interrupted: `queue.left`, never `queue.abandoned`, in
    // the event log and in the queue log.
    let queue_events = sqlite(
        &db,
        &format!(
            "SELECT kind FROM event_log WHERE kind LIKE 'queue.%' AND call_id = '{call_id}' ORDER BY id"
        ),
    );
    assert!(
        queue_events.lines().any(|k| k == "queue.left"),
        "{queue_events}"
    );
    assert!(
        !queue_events.lines().any(|k| k == "queue.abandoned"),
        "{queue_events}"
    );
    let left = sqlite(
        &db,
        &format!("SELECT body FROM event_log WHERE kind = 'queue.left' AND call_id = '{call_id}'"),
    );
    assert!(left.contains(r#""reason":"interrupted""#), "{left}");
    let queue_log = sqlite(
        &db,
        &format!("SELECT kind FROM queue_events WHERE call_id = '{call_id}' ORDER BY id"),
    );
    assert_eq!(
        queue_log.lines().collect::<Vec<_>>(),
        ["enter", "left"],
        "the queue log counts no abandon"
    );
    // Every signed-in agent was logged out by the stop itself, in this run's event log.
    let last_state = sqlite(
        &db,
        "SELECT body FROM event_log WHERE kind = 'agent.state' \
         AND body LIKE '%\"1001\"%' ORDER BY id DESC LIMIT 1",
    );
    assert!(
        last_state.contains(r#""state":"logged_out""#)
            && last_state.contains(r#""reason":"shutdown""#),
        "{last_state}"
    );
    // So the next start has nobody to log out.
    server.start_again();
    let log = server.log();
    assert!(
        !log.contains("agents signed in when the previous run stopped"),
        "recovery logged agents out again"
    );
    let restarts = sqlite(
        &db,
        "SELECT count(*) FROM event_log WHERE kind = 'agent.state' AND body LIKE '%\"restart\"%'",
    );
    assert_eq!(restarts.trim(), "0");
}
