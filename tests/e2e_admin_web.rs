//! End to end in a real headless Chromium: the site's people and queues administered from the
//! admin page `/admin/site` of the real `centralino serve` (demo data), never by hand through
//! the API. The demo admin creates a queue and an agent with a registering phone, edits them,
//! generates the phone's secret and reads it off the page, once; then a SIPp phone registers
//! with that secret, goes ready and takes a call the IVR routes to the new queue, whose
//! Service Request opens there. The queue, now in use, cannot be deleted (the page says why);
//! the agent is disabled and enabled again. A supervisor is refused the page. Every wait is
//! for a DOM condition or the API's live state, never a sleep. Screenshots (1366×768 PNG)
//! are kept in `target/test-artifacts/e2e_admin_web/` (or `$CENTRALINO_ARTIFACTS/…`).
//! Needs `sipp` and `chromium`/`chromium-driver` (scripts/install-test-deps.sh).

mod common;

use std::time::Duration;

use common::agents::*;
use common::web::Browser;
use common::*;

const WAIT: Duration = Duration::from_secs(15);
const TEST: &str = "e2e_admin_web";
/// The queue made on the page (a dedicated queue for a public call for tenders, R-ACD-7).
const NEW_QUEUE: &str = "bandi";
/// The agent made on the page.
const AGENT: &str = "5101";

/// Demo data (for the admin and the supervisor), an MD5 registrar, and an IVR that routes
/// every call to [`NEW_QUEUE`], which does not exist when the server starts.
fn config() -> String {
    format!(
        "[database]\ndemo_data = true\n\n\
         [registrar]\nenabled = true\nrealm = \"centralino\"\nalgorithms = [\"MD5\"]\n\n\
         [call]\nanswer_delay_ms = 0\nmax_duration_s = 120\n\n\
         [acd]\nring_timeout_s = 10\nwrap_up_s = 1\n\n\
         [ivr]\ndefault_entry = \"to_queue\"\n\n\
         [ivr.nodes.to_queue]\nkind = \"route\"\nqueue = \"{NEW_QUEUE}\"\narea = \"{NEW_QUEUE}\"\n"
    )
}

/// A JS expression: the text of cell `.cell` in the row `data-kind="name"`, or null.
fn cell(kind: &str, name: &str, cell: &str) -> String {
    format!(
        "(() => {{ const r = document.querySelector('tr[data-{kind}=\"{name}\"]'); \
         const c = r && r.querySelector('td.{cell}'); return c ? c.textContent : null; }})()"
    )
}

/// Clicks `css` (a real pointer click) once it is scrolled to the middle of the window, as
/// an operator scrolls to a button: the page's status line stays at the top of the window
/// (sticky) and would take a click on a button half under it.
fn press(b: &Browser, css: &str) {
    let js = serde_json::to_string(css).expect("a selector as JSON");
    b.eval(&format!(
        "document.querySelector({js}).scrollIntoView({{block: 'center'}}); return true"
    ));
    b.click(css);
}

/// Picks `value` in the `<select>` `css` the way an operator does (a click on its option).
fn choose(b: &Browser, css: &str, value: &str) {
    press(b, &format!("{css} option[value=\"{value}\"]"));
}

#[test]
fn an_admin_makes_a_queue_and_an_agent_on_the_page_and_the_phone_takes_a_call() {
    let server = Server::start(&config());
    let api = Api::supervisor(&server);

    // A supervisor: no link to the page, and the server refuses it (403 page).
    let boss = Browser::start();
    boss.login(
        &server,
        "/supervisor",
        SUPERVISOR.0,
        SUPERVISOR.1,
        "/supervisor",
    );
    assert_eq!(
        boss.eval("return document.getElementById('site-link').hidden"),
        true,
        "a supervisor sees no link to the people and queues"
    );
    boss.goto(&server, "/admin/site");
    boss.wait_js(
        "the 403 page for the supervisor",
        "return document.getElementById('forbidden') && document.title.startsWith('403')",
        WAIT,
    );
    boss.screenshot(TEST, "0-supervisor-forbidden");
    let (status, _) = server
        .http("GET", "/api/v1/users", Some(&api.token), None)
        .expect("GET /api/v1/users");
    assert_eq!(status, 403, "the API behind the page is admins' only too");

    // The admin, from the announcements page's header to the new page.
    let admin = Browser::start();
    admin.login(&server, "/admin", "admin", "demo-admin", "/admin");
    admin.wait_js(
        "the link to the people and queues",
        "const a = document.getElementById('site-link'); return a && !a.hidden",
        WAIT,
    );
    press(&admin, "#site-link");
    admin.wait_js(
        "the people and queues with the demo's users",
        "return location.pathname === '/admin/site' && document.body.dataset.ready === 'true' \
         && document.querySelector('tr[data-user=\"1001\"]') !== null",
        WAIT,
    );
    admin.screenshot(TEST, "1-site-demo");

    // A queue: announcements every 30 s, answered within 20 s counts as on time.
    press(&admin, "#new-queue");
    admin.type_into("#queue-form input[name=queue_name]", NEW_QUEUE);
    admin.type_into("#queue-form input[name=announce_every_s]", "30");
    admin.clear("#queue-form input[name=service_level_s]");
    admin.type_into("#queue-form input[name=service_level_s]", "20");
    press(&admin, "#queue-save");
    admin.wait_js(
        "the new queue in the table",
        &format!(
            "return {} === 'every 30 s' && {} === 'within 20 s' && {} === 'yes'",
            cell("queue", NEW_QUEUE, "announce"),
            cell("queue", NEW_QUEUE, "service-level"),
            cell("queue", NEW_QUEUE, "takes-calls"),
        ),
        WAIT,
    );
    assert!(
        admin
            .eval("return document.getElementById('status').textContent")
            .as_str()
            .is_some_and(|s| s.contains("Queue bandi created")),
        "the status line says so"
    );
    // Edited: weight 3.
    press(
        &admin,
        &format!("tr[data-queue=\"{NEW_QUEUE}\"] button.edit"),
    );
    admin.wait_js(
        "the queue's form",
        "const f = document.getElementById('queue-form'); \
         return !f.hidden && f.queue_name.readOnly && f.announce_every_s.value === '30'",
        WAIT,
    );
    admin.clear("#queue-form input[name=weight]");
    admin.type_into("#queue-form input[name=weight]", "3");
    press(&admin, "#queue-save");
    admin.wait_js(
        "weight 3",
        &format!("return {} === '3'", cell("queue", NEW_QUEUE, "weight")),
        WAIT,
    );
    let settings = server.api_get(
        &format!("/api/v1/queues/{NEW_QUEUE}"),
        &server.login("admin", "demo-admin"),
    );
    assert_eq!(settings["weight"], 3, "{settings}");
    assert_eq!(settings["announce_every_s"], 30, "{settings}");
    assert_eq!(settings["service_level_s"], 20, "{settings}");

    // An agent serving it with weight 2, writing its tickets, with a registering phone.
    press(&admin, "#new-user");
    admin.type_into("#user-form input[name=login]", AGENT);
    admin.type_into("#user-form input[name=full_name]", "Ada Verdi");
    choose(&admin, "#user-form select[name=role]", "agent_first_level");
    admin.type_into("#user-form input[name=password]", "password-di-ada");
    press(&admin, "#add-membership");
    admin.type_into("#user-queues .row:last-child input.queue", NEW_QUEUE);
    admin.clear("#user-queues .row:last-child input.weight");
    admin.type_into("#user-queues .row:last-child input.weight", "2");
    press(&admin, "#add-permission");
    admin.type_into("#user-permissions .row:last-child input.queue", NEW_QUEUE);
    choose(
        &admin,
        "#user-permissions .row:last-child select.access",
        "write",
    );
    choose(&admin, "#user-form select[name=phone_kind]", "registering");
    admin.screenshot(TEST, "2-new-agent-form");
    press(&admin, "#user-save");
    admin.wait_js(
        "the new agent in the table, no secret yet",
        &format!(
            "const r = document.querySelector('tr[data-user=\"{AGENT}\"]'); \
             return r && {} === 'bandi (2)' && {} === 'bandi: write' \
             && r.querySelector('td.phone').dataset.kind === 'registering' \
             && r.querySelector('td.secret').dataset.has === 'false'",
            cell("user", AGENT, "queues"),
            cell("user", AGENT, "permissions"),
        ),
        WAIT,
    );
    admin.wait_js(
        "the agent among the queue's members",
        &format!(
            "return {} === '{AGENT} (2)'",
            cell("queue", NEW_QUEUE, "members")
        ),
        WAIT,
    );

    // A mistake: a queue that does not exist. The server's reason is on the status line;
    // the account it made anyway is then edited, not created twice.
    press(&admin, "#new-user");
    admin.type_into("#user-form input[name=login]", "5102");
    admin.type_into("#user-form input[name=full_name]", "Ugo Neri");
    admin.type_into("#user-form input[name=password]", "password-di-ugo");
    press(&admin, "#add-membership");
    admin.type_into("#user-queues .row:last-child input.queue", "inesistente");
    press(&admin, "#user-save");
    let said = admin.wait_js(
        "the refusal on the status line, the form now editing 5102",
        "const s = document.getElementById('status'); \
         return s.classList.contains('error') && s.textContent.includes('inesistente') \
         && document.getElementById('user-form-title').textContent === 'User 5102' \
         && document.querySelector('tr[data-user=\"5102\"]') !== null ? s.textContent : null",
        WAIT,
    );
    assert!(
        said.as_str().is_some_and(|s| s.starts_with("Error: ")
            && s.ends_with("5102 exists: correct the form and save again.")),
        "{said}"
    );
    admin.screenshot(TEST, "2b-user-refused");
    press(&admin, "#user-queues .row:last-child button.remove");
    press(&admin, "#user-save");
    admin.wait_js(
        "the form closed with nothing left to change",
        "return document.getElementById('user-form').hidden \
         && document.getElementById('status').textContent === 'Nothing changed.'",
        WAIT,
    );

    // The phone's secret, generated on the page and shown once.
    press(&admin, &format!("tr[data-user=\"{AGENT}\"] button.secret"));
    admin.wait_js(
        "the secret panel",
        "return !document.getElementById('secret-panel').hidden",
        WAIT,
    );
    press(&admin, "#secret-set");
    let secret = admin.wait_js(
        "the generated secret on the page",
        "const v = document.getElementById('secret-value').textContent; \
         return !document.getElementById('secret-shown').hidden && v.length >= 8 ? v : null",
        WAIT,
    );
    let secret = secret.as_str().expect("the secret as text").to_string();
    let note = admin.eval("return document.getElementById('secret-once').textContent");
    assert!(
        note.as_str().is_some_and(|n| n.starts_with("Shown once")),
        "{note}"
    );
    admin.screenshot(TEST, "3-secret-shown-once");
    admin.wait_js(
        "the agent's row says a secret is set",
        &format!(
            "const r = document.querySelector('tr[data-user=\"{AGENT}\"]'); \
             return r && r.querySelector('td.secret').dataset.has === 'true'"
        ),
        WAIT,
    );
    press(&admin, "#secret-close");
    let left = admin.wait_js(
        "the panel closed",
        "return document.getElementById('secret-panel').hidden \
         ? document.documentElement.outerHTML : null",
        WAIT,
    );
    assert!(
        !left.as_str().unwrap_or_default().contains(&secret),
        "the secret is gone from the page once the panel is closed"
    );

    // Italian: the same page in the other language.
    admin.eval(
        "const l = document.getElementById('lang'); l.value = 'it'; \
         l.dispatchEvent(new Event('change')); return true",
    );
    admin.wait_js(
        "Italian labels",
        &format!(
            "return document.getElementById('new-queue').textContent === 'Nuova coda' \
             && {} === 'ogni 30 s' && {} === 'bandi: scrittura' \
             && document.getElementById('status').textContent \
                .startsWith('Segreto del telefono di 5101 impostato')",
            cell("queue", NEW_QUEUE, "announce"),
            cell("user", AGENT, "permissions"),
        ),
        WAIT,
    );
    admin.screenshot(TEST, "4-site-italian");
    admin.eval(
        "const l = document.getElementById('lang'); l.value = 'en'; \
         l.dispatchEvent(new Event('change')); return true",
    );

    // The web password reset from the page: the new one signs in.
    press(&admin, &format!("tr[data-user=\"{AGENT}\"] button.edit"));
    admin.wait_js(
        "the agent's form",
        "const f = document.getElementById('user-form'); \
         return !f.hidden && f.login.readOnly && f.full_name.value === 'Ada Verdi'",
        WAIT,
    );
    admin.type_into("#user-form input[name=password]", "nuova-password-di-ada");
    press(&admin, "#user-save");
    admin.wait_js(
        "the password saved",
        "return document.getElementById('user-form').hidden \
         && document.getElementById('status').textContent.includes('new web password')",
        WAIT,
    );
    server.login(AGENT, "nuova-password-di-ada");

    // The proof: the phone registers with the secret read off the page and takes a call
    // the IVR routes to the new queue.
    api.wait("the new agent in the ACD", WAIT, |api| {
        let agents = api.get("/api/v1/agents");
        if agents
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x["login"] == AGENT))
        {
            Ok(())
        } else {
            Err(agents.to_string())
        }
    });
    let phone = Phone::register_with(&server, AGENT, &secret);
    let run = phone.start(&server, "agent_answer_bye.xml", &["-m", "1", "-d", "1000"]);
    api.wait("the agent's phone registered", WAIT, |api| {
        let a = api.agent(AGENT);
        if a["registered"] == true {
            Ok(())
        } else {
            Err(a.to_string())
        }
    });
    api.set_state(AGENT, "ready");
    api.wait_agent(AGENT, "ready", None);
    let caller = sipp_start("uac_server_bye.xml", &server, &[]).wait();
    caller.assert_ok(&server);
    run.wait().assert_ok(&server);
    let card = api.ended_call(&caller.call_id());
    assert_eq!(card["outcome"], "answered", "{card}");
    assert_eq!(card["agent"], AGENT, "{card}");
    assert_eq!(card["queue"], NEW_QUEUE, "{card}");
    let call_id = card["call_id"].as_str().expect("call id");
    let tickets = api.tickets_of(call_id);
    assert_eq!(tickets.len(), 1, "{tickets:?}");
    assert_eq!(tickets[0]["queue"], NEW_QUEUE, "{}", tickets[0]);
    assert_eq!(tickets[0]["owner"], AGENT, "{}", tickets[0]);

    // Its ticket keeps the queue: deleting it is refused, and the page says why.
    admin.eval("window.confirm = () => true; return true");
    press(
        &admin,
        &format!("tr[data-queue=\"{NEW_QUEUE}\"] button.delete"),
    );
    let said = admin.wait_js(
        "the server's reason on the status line",
        "const s = document.getElementById('status'); \
         return s.classList.contains('error') && s.textContent.includes('cannot be deleted') \
         ? s.textContent : null",
        WAIT,
    );
    admin.screenshot(TEST, "5-queue-in-use");
    assert!(
        said.as_str()
            .is_some_and(|s| s.len() > "Queue bandi cannot be deleted: ".len()),
        "the server's reason follows: {said}"
    );
    assert_eq!(
        admin.eval(&format!(
            "return document.querySelector('tr[data-queue=\"{NEW_QUEUE}\"]') !== null"
        )),
        true
    );

    // Disabled from the page: out of the ACD at once; enabled again, back in it.
    press(&admin, &format!("tr[data-user=\"{AGENT}\"] button.toggle"));
    admin.wait_js(
        "the agent disabled",
        &format!(
            "return {} === 'no' && document.getElementById('status').textContent \
             .includes('disabled')",
            cell("user", AGENT, "active")
        ),
        WAIT,
    );
    let in_acd = |api: &Api| {
        api.get("/api/v1/agents")
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x["login"] == AGENT))
    };
    api.wait("the disabled agent gone from the ACD", WAIT, |api| {
        if in_acd(api) {
            Err("still there".to_string())
        } else {
            Ok(())
        }
    });
    press(&admin, &format!("tr[data-user=\"{AGENT}\"] button.toggle"));
    admin.wait_js(
        "the agent enabled",
        &format!("return {} === 'yes'", cell("user", AGENT, "active")),
        WAIT,
    );
    api.wait("the enabled agent back in the ACD", WAIT, |api| {
        if in_acd(api) {
            Ok(())
        } else {
            Err("not there".to_string())
        }
    });
}
