//! End to end in a real headless Chromium (Debian `chromium` + `chromium-driver`, over
//! WebDriver): the agent desktop and the supervisor console of the real `centralino serve`,
//! with the demo data, an agent phone played by SIPp (digest REGISTER, then UAS) and a caller
//! from SIPp. Every wait is for a DOM condition or the API's live state, never a sleep.
//! Needs `sipp` and `chromium`/`chromium-driver` (scripts/install-test-deps.sh).

mod common;

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
    desk.wait_js(
        "Italian labels",
        "return document.getElementById('btn-ready').textContent === 'Disponibile'",
        WAIT,
    );
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
