//! End to end in a real headless Chromium (Debian `chromium` + `chromium-driver`, over
//! WebDriver): the agent desktop and the supervisor console of the real `centralino serve`,
//! with the demo data, an agent phone played by SIPp (digest REGISTER, then UAS) and a caller
//! from SIPp. Every wait is for a DOM condition or the API's live state, never a sleep.
//! Screenshots of the key moments (PNG, the 1366×768 window) are kept in
//! `target/test-artifacts/e2e_web/`, or `$CENTRALINO_ARTIFACTS/e2e_web/`, to be looked at.
//! Needs `sipp` and `chromium`/`chromium-driver` (scripts/install-test-deps.sh).

mod common;

use std::net::{Ipv4Addr, UdpSocket};
use std::time::Duration;

use common::agents::*;
use common::web::Browser;
use common::*;

const WAIT: Duration = Duration::from_secs(15);

/// The agent logs in, goes ready, is refused the supervisor console and a call without the
/// CSRF token; a caller arrives: the screen pop shows channel, wait, caller and how they were
/// identified, then the Service Request opened at answer; the supervisor's console, open all
/// along, shows the queue's figures change without a reload.
#[test]
fn agent_desktop_screen_pop_and_live_supervisor_console() {
    let server = Server::start(&acd_config(15, &["1001"]));
    let api = Api::supervisor(&server);
    let phone = Phone::register(&server, "1001");
    let agent_phone = phone.start(&server, "agent_answer_bye.xml", &["-d", "3000"]);
    api.wait("1001 registered", WAIT, |api| {
        let a = api.agent("1001");
        if a["registered"] == true {
            Ok(())
        } else {
            Err(a.to_string())
        }
    });

    // The supervisor's console first, so it sees everything live.
    let boss = Browser::start();
    boss.login(
        &server,
        "/supervisor",
        SUPERVISOR.0,
        SUPERVISOR.1,
        "/supervisor",
    );
    boss.eval("window.__noReload = true; return true");
    let row = "document.querySelector('#queues tr[data-queue=\"cittadini\"]')";
    boss.wait_js(
        "the cittadini row with nothing answered yet",
        &format!("const r = {row}; return r && r.querySelector('.answered').textContent === '0'"),
        WAIT,
    );

    // The agent, through the login form; /desktop without a session sends to the login page.
    let desk = Browser::start();
    desk.login(&server, "/desktop", "1001", "demo1001", "/desktop");
    desk.wait_js(
        "the agent logged out with a registered phone",
        "const s = document.getElementById('agent-state'); \
         return s.dataset.state === 'logged_out' \
         && document.getElementById('phone-state').dataset.registered === 'true'",
        WAIT,
    );

    // Not a supervisor: the console is refused by the server (403 page).
    desk.goto(&server, "/supervisor");
    desk.wait_js(
        "the 403 page",
        "return document.getElementById('forbidden') && document.title.startsWith('403')",
        WAIT,
    );
    desk.goto(&server, "/desktop");
    desk.wait_js(
        "the desktop again",
        "return document.body.dataset.live === 'true' \
         && document.getElementById('agent-state').dataset.state === 'logged_out'",
        WAIT,
    );

    // The cookie alone does not change anything: the CSRF token is required.
    let status = desk.eval_async(
        "const done = arguments[arguments.length - 1]; \
         fetch('/api/v1/agents/1001/state', {method: 'PUT', credentials: 'same-origin', \
           headers: {'Content-Type': 'application/json'}, body: JSON.stringify({state: 'ready'})}) \
           .then(r => done(r.status), e => done(String(e)));",
    );
    assert_eq!(status, 403, "a cookie call without X-CSRF-Token");
    assert_eq!(api.agent("1001")["state"], "logged_out");

    // Italian and back: the buttons follow the language picker.
    desk.eval(
        "const l = document.getElementById('lang'); l.value = 'it'; \
         l.dispatchEvent(new Event('change')); return true",
    );
    // Everything drawn before the switch too: the live mark and the (empty) ticket list.
    desk.wait_js(
        "Italian labels",
        "return document.getElementById('btn-ready').textContent === 'Disponibile' \
         && document.getElementById('live').textContent === 'in diretta' \
         && document.getElementById('ticket-list').textContent === 'Nessun risultato.'",
        WAIT,
    );
    desk.screenshot("e2e_web", "0-desktop-italian");
    desk.eval(
        "const l = document.getElementById('lang'); l.value = 'en'; \
         l.dispatchEvent(new Event('change')); return true",
    );

    // Ready from the desktop (keyboard-reachable button, real click).
    desk.click("#btn-ready");
    desk.wait_js(
        "the state ready",
        "return document.getElementById('agent-state').dataset.state === 'ready'",
        WAIT,
    );
    api.wait_agent("1001", "ready", None);
    boss.wait_js(
        "1001 ready on the supervisor console",
        "const r = document.querySelector('#agents tr[data-agent=\"1001\"]'); \
         return r && r.querySelector('.state').textContent === 'Ready'",
        WAIT,
    );

    // A caller (unknown number) reaches cittadini and is offered to 1001.
    let caller = sipp_start("uac_server_bye.xml", &server, &[]);
    let pop = desk.wait_js(
        "the screen pop",
        "const p = document.getElementById('pop'); if (p.hidden) return null; \
         const f = id => document.getElementById(id).textContent; \
         return {channel: f('pop-channel'), wait: f('pop-wait'), caller: f('pop-caller'), \
                 by: document.getElementById('pop-identified').dataset.by, \
                 identified: f('pop-identified'), queue: f('pop-queue'), area: f('pop-area')}",
        WAIT,
    );
    assert_eq!(pop["channel"], "phone", "{pop}");
    assert_eq!(pop["queue"], QUEUE, "{pop}");
    assert_eq!(pop["area"], QUEUE, "{pop}");
    assert_eq!(pop["by"], "none", "{pop}");
    assert_eq!(pop["identified"], "not identified", "{pop}");
    let who = pop["caller"].as_str().unwrap_or_default();
    assert!(who.starts_with("Unknown caller"), "{pop}");
    let wait = pop["wait"].as_str().unwrap_or_default();
    assert!(
        wait.len() >= 4 && wait.contains(':'),
        "time waited as m:ss: {pop}"
    );
    // On answer: the Service Request opened for the call.
    let number = desk.wait_js(
        "the auto-opened Service Request",
        "const n = document.getElementById('ticket-number'); \
         return n && /^\\d{10,}/.test(n.textContent) ? n.textContent.split(' ')[0] : null",
        WAIT,
    );
    // Working it: an internal note, typed and sent from the ticket's form.
    desk.type_into(".note-form textarea", "Caller asks about the certificate");
    desk.click(".note-form button[type=submit]");
    desk.wait_js(
        "the note among the articles",
        "return [...document.querySelectorAll('.articles article')] \
         .some(a => a.textContent.includes('Caller asks about the certificate'))",
        WAIT,
    );
    let number = number.as_str().expect("a ticket number").to_string();
    let ticket = api.get(&format!("/api/v1/tickets/{number}"));
    assert_eq!(ticket["owner"], "1001", "{ticket}");
    assert_eq!(ticket["channel"], "phone", "{ticket}");
    assert!(ticket["call_id"].is_string(), "{ticket}");

    // The supervisor's console, never reloaded, counts the answered call.
    boss.wait_js(
        "one call answered in cittadini",
        &format!("const r = {row}; return r && r.querySelector('.answered').textContent === '1'"),
        WAIT,
    );
    assert_eq!(boss.eval("return window.__noReload === true"), true);
    let bars = boss.eval(
        "return [...document.querySelectorAll('#chart rect')] \
         .reduce((n, r) => n + Number(r.dataset.calls), 0)",
    );
    assert!(bars.as_u64() >= Some(1), "calls per hour drawn: {bars}");

    let caller = caller.wait();
    caller.assert_ok(&server);
    let card = api.ended_call(&caller.call_id());
    assert_eq!(
        card["ticket"],
        number.as_str(),
        "the desktop showed the call's ticket"
    );
    agent_phone.wait().assert_ok(&server);
    desk.wait_js(
        "the call ended on the pop",
        "return document.getElementById('pop-status').textContent.includes('Call ended')",
        WAIT,
    );
}

/// Seconds of an "m:ss" (or "h:mm:ss") duration as the consoles show it.
fn seconds_of(text: &str) -> u64 {
    text.split(':')
        .try_fold(0u64, |acc, part| {
            part.trim().parse::<u64>().map(|n| acc * 60 + n)
        })
        .unwrap_or_else(|e| panic!("not a duration {text:?}: {e}"))
}

/// The demo as shipped: Maria Rossi calls the citizen-services line from her own number and
/// is identified by it (ANI). She waits in `cittadini` while the supervisor watches; agent
/// 1001 goes ready, the screen pop names her with her wait; on answer the Service Request
/// opens, the agent writes a note and closes it successful from the page. The supervisor's
/// console, in a second browser with its own session, follows it live: one caller waiting,
/// then none, the agent talking, then in wrap-up. Screenshots of each moment are kept under
/// `target/test-artifacts/e2e_web/` (or `$CENTRALINO_ARTIFACTS`), and the API confirms the
/// Service Request's final state and note.
#[test]
fn identified_caller_pop_note_close_and_supervisor_follows_live() {
    const TEST: &str = "e2e_web";
    const NOTE: &str = "Certificate of residence requested; sent by post";
    let server = Server::start_demo("");
    let api = Api::supervisor(&server);
    let maria = api.get("/api/v1/customers?phone=%2B390600000001");
    let maria_id = maria[0]["id"].as_i64().unwrap_or_else(|| panic!("{maria}"));
    let phone = Phone::register(&server, "1001");
    // The agent hangs up 6 s after the answer: long enough to see the call live, then wrap-up
    // (5 s in the demo) follows.
    // Its SIPp runs from now through the browsers' logins and the caller's IVR: a minute.
    let agent_phone = phone.start(
        &server,
        "agent_answer_bye.xml",
        &["-d", "6000", "-timeout", "60s"],
    );
    api.wait("1001 registered", WAIT, |api| {
        let a = api.agent("1001");
        if a["registered"] == true {
            Ok(())
        } else {
            Err(a.to_string())
        }
    });

    let boss = Browser::start();
    boss.login(
        &server,
        "/supervisor",
        SUPERVISOR.0,
        SUPERVISOR.1,
        "/supervisor",
    );
    boss.eval("window.__noReload = true; return true");
    let queue_cell = |cell: &str| {
        format!(
            "(() => {{ const r = document.querySelector('#queues tr[data-queue=\"cittadini\"]'); \
             return r ? r.querySelector('.{cell}').textContent : null; }})()"
        )
    };
    let agent_state = "(() => { const r = document.querySelector('#agents tr[data-agent=\"1001\"]'); \
                       return r ? r.querySelector('.state').textContent : null; })()";
    boss.wait_js(
        "cittadini with nobody waiting and 1001 logged out",
        &format!(
            "return {} === '0' && {agent_state} === 'Logged out'",
            queue_cell("waiting")
        ),
        WAIT,
    );

    let desk = Browser::start();
    desk.login(&server, "/desktop", "1001", "demo1001", "/desktop");
    desk.wait_js(
        "the desktop with a registered phone",
        "return document.getElementById('phone-state').dataset.registered === 'true'",
        WAIT,
    );

    // Maria calls the direct citizen-services line; her number identifies her.
    let media = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind the caller's RTP port");
    let rtp_port = media.local_addr().expect("local addr").port().to_string();
    let caller = sipp_start(
        "uac_keypad_server_bye.xml",
        &server,
        &[
            "-s",
            "800100201",
            "-key",
            "caller",
            "+390600000001",
            "-key",
            "rtp_port",
            &rtp_port,
            "-timeout",
            "60s",
        ],
    );

    // Live on the supervisor's console: one caller waiting, for at least a second.
    boss.wait_js(
        "one caller waiting in cittadini for a second or more",
        &format!(
            "return {} === '1' && {} !== '0:00'",
            queue_cell("waiting"),
            queue_cell("oldest")
        ),
        Duration::from_secs(30),
    );
    boss.screenshot(TEST, "1-supervisor-caller-waiting");

    // The agent goes ready: the call is offered and the pop names the caller.
    desk.click("#btn-ready");
    let pop = desk.wait_js(
        "the screen pop with the caller's card",
        "const p = document.getElementById('pop'); const c = document.getElementById('customer-name'); \
         if (p.hidden || !c) return null; \
         const f = id => document.getElementById(id).textContent; \
         return {caller: f('pop-caller'), wait: f('pop-wait'), channel: f('pop-channel'), \
                 by: document.getElementById('pop-identified').dataset.by, \
                 identified: f('pop-identified'), queue: f('pop-queue'), area: f('pop-area'), \
                 ivr: f('pop-ivr'), card: c.textContent}",
        WAIT,
    );
    desk.screenshot(TEST, "2-desktop-screen-pop");
    assert_eq!(pop["caller"], "Maria Rossi · +390600000001", "{pop}");
    assert_eq!(pop["card"], "Maria Rossi", "{pop}");
    assert_eq!(pop["by"], "ani", "{pop}");
    assert_eq!(pop["identified"], "caller number", "{pop}");
    assert_eq!(pop["channel"], "phone", "{pop}");
    assert_eq!(pop["queue"], "cittadini", "{pop}");
    assert_eq!(pop["area"], "cittadini", "{pop}");
    // Her way here, typed and said in the agent's language (direct dial to area 1).
    assert_eq!(
        pop["ivr"], "caller number recognised (Maria Rossi) → queued in cittadini",
        "the IVR path: {pop}"
    );
    let waited = seconds_of(pop["wait"].as_str().unwrap_or_default());
    assert!(
        waited >= 1,
        "she waited at least the second seen live: {pop}"
    );

    // Answered: the Service Request opened for the call, for her.
    let number = desk.wait_js(
        "the auto-opened Service Request",
        "const n = document.getElementById('ticket-number'); \
         return n && /^\\d{10,}/.test(n.textContent) ? n.textContent.split(' ')[0] : null",
        WAIT,
    );
    let number = number.as_str().expect("a ticket number").to_string();

    // The supervisor sees the queue empty and the agent talking on that call.
    let live = boss.wait_js(
        "1001 talking and nobody waiting",
        &format!(
            "const r = document.querySelector('#agents tr[data-agent=\"1001\"]'); \
             return {agent_state} === 'Talking' && {} === '0' && {} === '1' \
             && r.querySelector('.call').textContent",
            queue_cell("waiting"),
            queue_cell("talking")
        ),
        WAIT,
    );
    boss.screenshot(TEST, "3-supervisor-agent-talking");
    assert!(live.as_str().is_some_and(|c| !c.is_empty()), "{live}");

    // The note, typed into the ticket's form while talking.
    desk.type_into(".note-form textarea", NOTE);
    desk.click(".note-form button[type=submit]");
    desk.wait_js(
        "the note among the articles",
        &format!(
            "return [...document.querySelectorAll('.articles article')] \
             .some(a => a.textContent.includes('{NOTE}'))"
        ),
        WAIT,
    );

    // The agent's phone hangs up: wrap-up, on both consoles.
    boss.wait_js(
        "1001 in wrap-up",
        &format!(
            "return {agent_state} === 'Wrap-up' && {} === '1'",
            queue_cell("wrap-up")
        ),
        WAIT,
    );
    boss.screenshot(TEST, "4-supervisor-agent-wrap-up");
    desk.wait_js(
        "the desktop in wrap-up with its countdown",
        "return document.getElementById('agent-state').dataset.state === 'wrap_up' \
         && document.getElementById('wrap-up-countdown').textContent.startsWith('wrap-up:')",
        WAIT,
    );

    // Closed successful from the page; until then it is among the queues' open tickets.
    desk.wait_js(
        "the new ticket listed in My queues",
        &format!("return !!document.querySelector('#ticket-list [data-number=\"{number}\"]')"),
        WAIT,
    );
    desk.click_button("Close: successful");
    desk.wait_js(
        "the ticket closed",
        "const s = document.getElementById('ticket-state'); \
         return s && s.textContent === 'closed (successful)'",
        WAIT,
    );
    // Closed by the agent who took the call, in its wrap-up: resolved at first contact,
    // shown checked with who set it; the agent unchecks it and the API reads the correction.
    desk.wait_js(
        "the first-contact box checked, set at closing by 1001",
        "const b = document.getElementById('first-contact'); \
         const by = document.getElementById('first-contact-by'); \
         return b && b.checked && by.dataset.corrected === 'false' \
           && by.textContent.startsWith('set at closing by 1001')",
        WAIT,
    );
    let judged = api.get(&format!("/api/v1/tickets/{number}"));
    assert_eq!(judged["first_contact"]["first_contact"], true, "{judged}");
    assert_eq!(judged["first_contact"]["by"], "1001", "{judged}");
    desk.click("#first-contact");
    desk.wait_js(
        "the first-contact box unchecked, corrected by 1001",
        "const b = document.getElementById('first-contact'); \
         const by = document.getElementById('first-contact-by'); \
         return b && !b.checked && by.dataset.corrected === 'true' \
           && by.textContent.startsWith('corrected by 1001')",
        WAIT,
    );
    let flag = api.get(&format!("/api/v1/tickets/{number}/first-contact"));
    assert_eq!(flag["first_contact"], false, "{flag}");
    assert_eq!(flag["corrected"], true, "{flag}");
    assert_eq!(flag["by"], "1001", "{flag}");
    let history = api.get(&format!("/api/v1/tickets/{number}"))["history"].clone();
    let marks: Vec<_> = history
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["kind"] == "first_contact")
        .map(|h| (h["old"].clone(), h["new"].clone()))
        .collect();
    assert_eq!(
        marks,
        vec![
            (serde_json::Value::Null, "true".into()),
            ("true".into(), "false".into())
        ],
        "{history}"
    );
    // The list of the queues' new and open tickets follows: the closed one leaves it.
    desk.wait_js(
        "the closed ticket gone from My queues",
        &format!("return !document.querySelector('#ticket-list [data-number=\"{number}\"]')"),
        WAIT,
    );
    // From the top, as the agent left it: the pop (call ended) above the closed ticket.
    desk.eval("window.scrollTo(0, 0); return true");
    desk.screenshot(TEST, "5-desktop-sr-closed");

    // The API agrees: closed successful, her ticket, the agent's note.
    let ticket = api.get(&format!("/api/v1/tickets/{number}"));
    assert_eq!(ticket["state"], "closed_successful", "{ticket}");
    assert_eq!(ticket["customer_id"].as_i64(), Some(maria_id), "{ticket}");
    assert_eq!(ticket["owner"], "1001", "{ticket}");
    assert_eq!(ticket["channel"], "phone", "{ticket}");
    let note = ticket["articles"]
        .as_array()
        .and_then(|a| a.iter().find(|x| x["body"] == NOTE))
        .unwrap_or_else(|| panic!("no article with the note: {ticket}"));
    assert_eq!(note["kind"], "note", "{note}");
    assert_eq!(note["created_by"], "1001", "{note}");

    let caller = caller.wait();
    caller.assert_ok(&server);
    agent_phone.wait().assert_ok(&server);
    let card = api.ended_call(&caller.call_id());
    assert_eq!(card["ticket"], number.as_str(), "{card}");
    assert_eq!(card["identity"], "ani", "{card}");
    assert_eq!(card["customer_id"].as_i64(), Some(maria_id), "{card}");
    assert_eq!(card["agent"], "1001", "{card}");
    let card_wait = card["wait_ms"].as_u64().unwrap_or_else(|| panic!("{card}")) / 1000;
    assert!(
        card_wait.abs_diff(waited) <= 1,
        "the pop's wait ({waited} s) is the call's ({card_wait} s)"
    );

    // Wrap-up over: ready again, the answered call counted, all without a reload.
    boss.wait_js(
        "1001 ready again, one call answered",
        &format!(
            "return {agent_state} === 'Ready' && {} === '1'",
            queue_cell("answered")
        ),
        WAIT,
    );
    assert_eq!(boss.eval("return window.__noReload === true"), true);

    // The same console in Italian, whose labels are longer.
    boss.eval(
        "const l = document.getElementById('lang'); l.value = 'it'; \
         l.dispatchEvent(new Event('change')); return true",
    );
    boss.wait_js(
        "Italian labels on the console",
        &format!("return {agent_state} === 'Disponibile'"),
        WAIT,
    );
    boss.screenshot(TEST, "6-supervisor-italian");
    drop(media);
}
