//! End to end in a real headless Chromium against the real `centralino serve` (demo
//! configuration, `[web_form]` on, queue `cittadini`): a citizen opens `/request`, switches
//! to Italian, fills the form with the keyboard only (Tab from field to field, Enter to
//! send), first with a wrong address (the error is shown beside the field, tied to it by
//! `aria-describedby`, and the focus moves there), then right; the confirmation shows the
//! request number and takes the focus. An agent finds the ticket through the API: channel
//! `web`, queue `cittadini`, the text as written, the SLA.O clocks running, the demo's known
//! customer matched by the address. Every wait is for
//! a DOM condition, never a sleep. Needs `chromium` and `chromium-driver`.

mod common;

use std::time::Duration;

use common::web::Browser;
use common::*;

const WAIT: Duration = Duration::from_secs(15);
const TEST: &str = "e2e_web_form";
const TAB: &str = "\u{E004}";
const ENTER: &str = "\u{E007}";

#[test]
fn a_citizen_opens_a_request_from_the_web_form_in_italian() {
    let server = Server::start_demo("");
    let browser = Browser::start();

    browser.goto(&server, "/request");
    browser.wait_js(
        "the form, focus on the name",
        "return document.activeElement && document.activeElement.id === 'name'",
        WAIT,
    );
    // Italian, as a citizen picks it (the choice is remembered), then the page again.
    browser.eval("localStorage.setItem('centralino.lang', 'it'); return true");
    browser.goto(&server, "/request");
    let heading = browser.wait_js(
        "the Italian form",
        "return document.documentElement.lang === 'it' \
         && document.activeElement && document.activeElement.id === 'name' \
         && document.getElementById('title').textContent",
        WAIT,
    );
    assert_eq!(heading, "Richiesta di assistenza");
    // Every visible field has a label; the honeypot is out of reach.
    let labels = browser.eval(
        "return ['name','email','subject','body','attachment'].every((id) => \
           document.querySelector(`label[for=\"${id}\"]`)?.textContent.trim().length > 0) \
         && document.getElementById('website').tabIndex === -1 \
         && document.getElementById('website').closest('[aria-hidden=\"true\"]') !== null",
    );
    assert_eq!(labels, true);

    // Keyboard only: a wrong address first.
    browser.press_keys(&format!(
        "Maria Rossi{TAB}maria.rossi{TAB}Certificato di residenza{TAB}\
         Buongiorno, vorrei il certificato di residenza.{TAB}{TAB}"
    ));
    let on_send = browser.eval("return document.activeElement.id");
    assert_eq!(on_send, "send", "Tab reaches the button past the honeypot");
    browser.press_keys(ENTER);
    let error = browser.wait_js(
        "the address error beside its field, with the focus",
        "const e = document.getElementById('email'); \
         return document.activeElement === e && e.getAttribute('aria-invalid') === 'true' \
           && e.getAttribute('aria-describedby').split(' ').includes('email-error') \
           && document.getElementById('email-error').textContent",
        WAIT,
    );
    assert!(
        error.as_str().unwrap().starts_with("Indirizzo non valido"),
        "{error}"
    );
    browser.screenshot(TEST, "0-wrong-address");

    // Corrected in place (WebDriver's clear leaves the field, typing comes back to it), then
    // Enter from the field sends the form.
    browser.clear("#email");
    browser.type_into("#email", &format!("maria.rossi@example.org{ENTER}"));
    let number = browser.wait_js(
        "the confirmation with the number, focused",
        "const done = document.getElementById('done'); \
         return !done.hidden && document.getElementById('request-form').hidden \
           && document.activeElement.id === 'done-title' \
           && document.getElementById('number').textContent",
        WAIT,
    );
    let number = number.as_str().unwrap().to_string();
    assert!(
        number.len() >= 16 && number.bytes().all(|b| b.is_ascii_digit()),
        "{number}"
    );
    let said = browser.eval("return document.getElementById('done').innerText");
    assert!(
        said.as_str()
            .unwrap()
            .contains("Il numero della vostra richiesta è"),
        "{said}"
    );
    browser.screenshot(TEST, "1-confirmation");

    // The agents' side: the ticket, as the citizen wrote it.
    let token = server.login("1001", "demo1001");
    let t = server.api_get(&format!("/api/v1/tickets/{number}"), &token);
    assert_eq!(t["channel"], "web", "{t}");
    assert_eq!(t["queue"], "cittadini", "{t}");
    assert_eq!(t["title"], "Certificato di residenza", "{t}");
    assert_eq!(t["articles"][0]["kind"], "web", "{t}");
    assert_eq!(
        t["articles"][0]["body"], "Buongiorno, vorrei il certificato di residenza.",
        "{t}"
    );
    assert!(
        t["sla"]["first_response_due"].is_string(),
        "SLA.O running: {t}"
    );
    let found = server.api_get(&format!("/api/v1/tickets?number={number}"), &token);
    assert_eq!(found["total"], 1, "{found}");
    let customer = server.api_get(&format!("/api/v1/customers/{}", t["customer_id"]), &token);
    // The demo's Maria Rossi has this address: the request is hers, not a new guest's.
    assert_eq!(customer["email"], "maria.rossi@example.org", "{customer}");
    assert_eq!(customer["full_name"], "Maria Rossi", "{customer}");
    assert_eq!(customer["guest"], false, "the known customer: {customer}");
}
