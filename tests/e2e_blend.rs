//! End to end, blended routing (R-ACD-5, issue 16) on the real `centralino serve`: written
//! requests opened through the real routes (the citizen's public web form, the tickets API
//! for an e-mail) become items of the ACD, offered to agents by their mode; calls come from
//! SIPp and reach an agent's phone played by SIPp. Every wait is for the API's live state.
//!
//! - A blended agent talking on a call is offered the web request only once the call and its
//!   wrap-up have ended; they accept it (the ticket becomes theirs) and finish it.
//! - An off-line agent is never offered a call: with them the only agent of the queue, a
//!   caller waits with no agent available, and goes to the on-line colleague once ready.
//! - Items are offered in per-channel priority order (`[acd.blend.priorities]`: e-mail
//!   before web), whatever their arrival order.
//! - Items are rebuilt from the CRM after a graceful restart and after a crash (SIGKILL);
//!   a ticket accepted before is its agent's, not an item.
//! - In headless Chromium, the desktop pops the item (channel, number, subject, customer)
//!   and Accept (Enter on the focused button) opens the ticket; the supervisor's table shows
//!   the agent's mode and item; a reload keeps the item in hand; Finished frees the agent.
//!
//! Needs `sipp` and `chromium`/`chromium-driver`.

mod common;

use std::time::Duration;

use common::agents::*;
use common::web::Browser;
use common::*;

const WAIT: Duration = Duration::from_secs(15);

/// The ACD test configuration with the web form on `cittadini` and e-mail ahead of web.
fn config(agents: &[&str]) -> String {
    format!(
        "{}\n[web_form]\nenabled = true\nqueue = \"{QUEUE}\"\n\n\
         [acd.blend]\noffer_timeout_s = 60\n\n[acd.blend.priorities]\nemail = 1\nweb = 2\n",
        acd_config(10, agents)
    )
}

/// A citizen's request through the public web form; its number.
fn web_request(server: &Server, subject: &str) -> String {
    let body = serde_json::json!({
        "name": "Giulia Bianchi",
        "email": "giulia.bianchi@example.org",
        "subject": subject,
        "body": "Buongiorno, vorrei sapere a che punto è la mia pratica.",
    });
    let (status, text) = server
        .http(
            "POST",
            "/api/v1/public/requests",
            None,
            Some(&body.to_string()),
        )
        .expect("POST the web form");
    assert_eq!(status, 201, "web form: {text}");
    let json: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    json["number"].as_str().expect("number").to_string()
}

/// An e-mail ticket opened through the tickets API as `token`'s user; its number.
fn email_ticket(server: &Server, token: &str, title: &str) -> String {
    let body = serde_json::json!({"title": title, "queue": QUEUE, "channel": "email"});
    let (status, text) = server
        .http(
            "POST",
            "/api/v1/tickets",
            Some(token),
            Some(&body.to_string()),
        )
        .expect("POST a ticket");
    assert_eq!(status, 201, "ticket: {text}");
    let json: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    json["number"].as_str().expect("number").to_string()
}

/// `method path` as `token`'s user with an optional JSON body; fails unless `want`.
fn call(server: &Server, token: &str, method: &str, path: &str, body: Option<&str>, want: u16) {
    let (status, text) = server
        .http(method, path, Some(token), body)
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    assert_eq!(status, want, "{method} {path}: {text}");
}

fn set_mode(server: &Server, token: &str, login: &str, mode: &str) {
    let body = format!("{{\"mode\":\"{mode}\"}}");
    call(
        server,
        token,
        "PUT",
        &format!("/api/v1/agents/{login}/mode"),
        Some(&body),
        204,
    );
}

/// Waits until agent `login` has item `number` in `phase`.
fn wait_item(api: &Api, login: &str, number: &str, phase: &str) -> serde_json::Value {
    api.wait(
        &format!("{login} with item {number} {phase}"),
        WAIT,
        |api| {
            let a = api.agent(login);
            if a["item"]["number"] == number && a["item"]["phase"] == phase {
                Ok(a)
            } else {
                Err(a.to_string())
            }
        },
    )
}

#[test]
fn a_blended_agent_gets_an_item_after_the_call_and_wrap_up_and_an_offline_one_no_call() {
    let server = Server::start(&config(&["1001", "1002"]));
    let api = Api::supervisor(&server);
    let t1001 = server.login("1001", "demo1001");
    let t1002 = server.login("1002", "demo1002");
    // 1001's phone answers two calls, 2 s each; 1002's phone is registered but nothing
    // answers there (an offer to it would ring out and make it not ready "no answer").
    let phone_1001 = Phone::register(&server, "1001");
    let run_1001 = phone_1001.start(&server, "agent_answer_bye.xml", &["-m", "2", "-d", "2000"]);
    let _phone_1002 = Phone::register(&server, "1002");
    for login in ["1001", "1002"] {
        api.wait(&format!("{login} registered"), WAIT, |api| {
            let a = api.agent(login);
            if a["registered"] == true {
                Ok(())
            } else {
                Err(a.to_string())
            }
        });
    }

    // 1001 blended and ready; 1002 off-line (its "ready" is ready for items only).
    set_mode(&server, &t1001, "1001", "blended");
    api.set_state("1001", "ready");
    api.wait_agent("1001", "ready", None);
    set_mode(&server, &api.token, "1002", "offline");
    let off = api.agent("1002");
    assert_eq!(off["mode"], "offline", "{off}");

    // A caller: 1001 talks. A web request arrives meanwhile: not offered during the call.
    let caller = sipp_start("uac_server_bye.xml", &server, &[]);
    api.wait_agent("1001", "talking", None);
    let web = web_request(&server, "Stato della pratica");
    // Observe 1001 until the item comes: never during the call or its wrap-up, and only
    // after both were seen.
    let mut seen_wrap_up = false;
    let offered = api.wait("the web request offered to 1001", WAIT, |api| {
        let a = api.agent("1001");
        let state = a["state"].as_str().unwrap_or_default().to_string();
        if state == "wrap_up" {
            seen_wrap_up = true;
        }
        if a["item"].is_null() {
            return Err(a.to_string());
        }
        assert!(
            !["ringing", "talking", "wrap_up"].contains(&state.as_str()),
            "an item during a call or its wrap-up: {a}"
        );
        Ok(a)
    });
    assert!(seen_wrap_up, "the item came after the wrap-up: {offered}");
    assert_eq!(offered["item"]["number"], web.as_str(), "{offered}");
    assert_eq!(offered["item"]["phase"], "offered");
    // Held off calls while the item is offered.
    assert_eq!(offered["state"], "not_ready", "{offered}");
    assert_eq!(offered["reason"], "off-line item", "{offered}");
    caller.wait().assert_ok(&server);

    // Accepted: the ticket is 1001's; finished: 1001 ready for calls again.
    call(
        &server,
        &t1001,
        "POST",
        &format!("/api/v1/items/{web}/accept"),
        None,
        204,
    );
    wait_item(&api, "1001", &web, "accepted");
    let ticket = server.api_get(&format!("/api/v1/tickets/{web}"), &t1001);
    assert_eq!(ticket["owner"], "1001", "{ticket}");
    assert_eq!(ticket["channel"], "web", "{ticket}");
    call(
        &server,
        &t1001,
        "POST",
        &format!("/api/v1/items/{web}/done"),
        None,
        204,
    );
    let free = api.wait_agent("1001", "ready", None);
    assert!(free["item"].is_null(), "{free}");

    // 1001 on-line only and not ready; two written requests arrive, a web one first, then
    // an e-mail; nobody takes items yet (1002 is signed out).
    set_mode(&server, &t1001, "1001", "online");
    api.set_state("1001", "not_ready");
    api.wait_agent("1001", "not_ready", None);
    let web2 = web_request(&server, "Richiesta di certificato");
    let email = email_ticket(&server, &t1001, "Cambio di residenza (e-mail)");
    // A caller waits: no agent takes calls.
    let waiting_caller = sipp_start("uac_server_bye.xml", &server, &[]);
    api.wait("the caller waiting", WAIT, |api| {
        let q = api.queue(QUEUE);
        if q["waiting"] == 1 {
            Ok(())
        } else {
            Err(q.to_string())
        }
    });

    // 1002 (off-line) signs in: offered the e-mail first (priority 1, though it came
    // second), never the waiting call: no agent is available for calls.
    api.set_state("1002", "ready");
    let b = wait_item(&api, "1002", &email, "offered");
    assert!(b["current_call"].is_null(), "{b}");
    let q = api.queue(QUEUE);
    assert_eq!(q["waiting"], 1, "{q}");
    assert_eq!(q["agents"]["available"], 0, "{q}");

    // The waiting call goes to 1001 as soon as they are ready.
    api.set_state("1001", "ready");
    api.wait_agent("1001", "talking", None);
    call(
        &server,
        &t1002,
        "POST",
        &format!("/api/v1/items/{email}/accept"),
        None,
        204,
    );
    call(
        &server,
        &t1002,
        "POST",
        &format!("/api/v1/items/{email}/done"),
        None,
        204,
    );
    // Then the web request.
    wait_item(&api, "1002", &web2, "offered");
    // Declined, it waits for someone else; 1002 is still off calls.
    call(
        &server,
        &t1002,
        "POST",
        &format!("/api/v1/items/{web2}/decline"),
        None,
        204,
    );
    let b = api.wait_agent("1002", "not_ready", Some("off-line work"));
    assert!(b["item"].is_null(), "{b}");

    let waiting = waiting_caller.wait();
    waiting.assert_ok(&server);
    run_1001.wait().assert_ok(&server);
    let card = api.ended_call(&waiting.call_id());
    assert_eq!(
        card["agent"], "1001",
        "the waiting call went to 1001: {card}"
    );
    let b = api.agent("1002");
    assert_ne!(b["reason"], "no answer", "1002 never rang: {b}");
}

#[test]
fn the_desktop_pops_an_item_and_accept_opens_the_ticket() {
    let server = Server::start(&config(&["1001"]));
    let api = Api::supervisor(&server);
    let desk = Browser::start();
    desk.login(&server, "/desktop", "1001", "demo1001", "/desktop");
    desk.wait_js(
        "the desktop live",
        "return document.body.dataset.live === 'true' \
         && document.getElementById('agent-state').dataset.state === 'logged_out'",
        WAIT,
    );
    // Off-line mode from the selector (keyboard: focus, choose, change), then ready.
    desk.eval(
        "const m = document.getElementById('agent-mode'); m.focus(); m.value = 'offline'; \
         m.dispatchEvent(new Event('change')); return true",
    );
    api.wait("1001 off-line", WAIT, |api| {
        let a = api.agent("1001");
        if a["mode"] == "offline" {
            Ok(())
        } else {
            Err(a.to_string())
        }
    });
    desk.click("#btn-ready");
    api.wait_agent("1001", "not_ready", Some("off-line work"));

    let number = web_request(&server, "Rinnovo carta d'identità");
    let shown = desk.wait_js(
        "the item pop",
        "const p = document.getElementById('item-pop'); \
         return !p.hidden && p.dataset.phase === 'offered' \
         && document.activeElement.id === 'item-accept' \
         && [document.getElementById('item-number').textContent, \
             document.getElementById('item-channel').textContent, \
             document.getElementById('item-subject').textContent, \
             document.getElementById('item-customer').textContent]",
        WAIT,
    );
    assert_eq!(shown[0], number.as_str());
    assert!(
        ["web form", "modulo web"].contains(&shown[1].as_str().unwrap_or_default()),
        "{shown}"
    );
    assert_eq!(shown[2], "Rinnovo carta d'identità");
    assert!(shown[3].as_str().is_some_and(|c| !c.is_empty()), "{shown}");
    desk.screenshot("e2e_blend", "item-offered");

    // Accept with the keyboard (the focus is on Accept): the ticket opens.
    desk.press_keys("\u{E007}");
    desk.wait_js(
        "the ticket open and the item in hand",
        &format!(
            "const p = document.getElementById('item-pop'); \
             return p.dataset.phase === 'accepted' && !document.getElementById('item-done').hidden \
             && document.getElementById('ticket').textContent.includes('{number}')"
        ),
        WAIT,
    );
    wait_item(&api, "1001", &number, "accepted");
    desk.screenshot("e2e_blend", "item-accepted");

    // The supervisor's agent table shows the mode and the item in hand.
    let boss = Browser::start();
    boss.login(
        &server,
        "/supervisor",
        SUPERVISOR.0,
        SUPERVISOR.1,
        "/supervisor",
    );
    let row = boss.wait_js(
        "1001's mode and item in the supervisor's table",
        &format!(
            "const r = document.querySelector('#agents tr[data-agent=\"1001\"]');              return r && r.querySelector('.item').textContent.startsWith('{number}')              && [r.querySelector('.mode').textContent, r.querySelector('.item').textContent]"
        ),
        WAIT,
    );
    assert!(
        row[0]
            .as_str()
            .is_some_and(|m| m.starts_with("Off-line") || m.starts_with("Fuori linea")),
        "{row}"
    );
    // A reload of the desktop keeps the item in hand.
    desk.goto(&server, "/desktop");
    desk.wait_js(
        "the item in hand after a reload",
        &format!(
            "const p = document.getElementById('item-pop');              return !p.hidden && p.dataset.phase === 'accepted' && p.dataset.number === '{number}'              && document.getElementById('item-subject').textContent === \"Rinnovo carta d'identità\""
        ),
        WAIT,
    );

    desk.click("#item-done");
    desk.wait_js(
        "the pop gone",
        "return document.getElementById('item-pop').hidden",
        WAIT,
    );
    api.wait("1001 free", WAIT, |api| {
        let a = api.agent("1001");
        if a["item"].is_null() {
            Ok(())
        } else {
            Err(a.to_string())
        }
    });
}

/// Items are the CRM's open written tickets: after a restart (and a crash) they are offered
/// again, those already taken are not.
#[test]
fn items_are_rebuilt_from_the_crm_after_a_restart_and_a_crash() {
    let mut server = Server::start(&config(&["1001"]));
    let taken = {
        let t1001 = server.login("1001", "demo1001");
        set_mode(&server, &t1001, "1001", "offline");
        let api = Api::supervisor(&server);
        api.set_state("1001", "ready");
        let taken = web_request(&server, "Già presa in carico");
        wait_item(&api, "1001", &taken, "offered");
        call(
            &server,
            &t1001,
            "POST",
            &format!("/api/v1/items/{taken}/accept"),
            None,
            204,
        );
        wait_item(&api, "1001", &taken, "accepted");
        taken
    };
    // Two more wait while 1001 holds the first.
    let email = email_ticket(
        &server,
        &server.login("1001", "demo1001"),
        "Richiesta per e-mail",
    );
    let web = web_request(&server, "In attesa");

    // A graceful restart: everyone is logged out, the waiting items come back from the CRM,
    // e-mail first (priority 1); the accepted one is 1001's ticket, not an item any more.
    server.restart();
    let t1001 = server.login("1001", "demo1001");
    let api = Api::supervisor(&server);
    let a = api.agent("1001");
    assert!(a["item"].is_null(), "{a}");
    set_mode(&server, &t1001, "1001", "offline");
    api.set_state("1001", "ready");
    wait_item(&api, "1001", &email, "offered");
    call(
        &server,
        &t1001,
        "POST",
        &format!("/api/v1/items/{email}/decline"),
        None,
        204,
    );
    wait_item(&api, "1001", &web, "offered");
    assert_ne!(taken, web);

    // A crash: the same again from the database.
    server.kill9();
    server.start_again();
    let t1001 = server.login("1001", "demo1001");
    let api = Api::supervisor(&server);
    set_mode(&server, &t1001, "1001", "offline");
    api.set_state("1001", "ready");
    wait_item(&api, "1001", &email, "offered");
}
