//! End to end in a real headless Chromium: the reports page and the supervisor console's SLA
//! gauges and Erlang-C forecast of the real `centralino serve` (demo data), after a real call:
//! a SIPp caller queued in `cittadini` and answered by agent 1001's SIPp phone. The supervisor
//! console shows the gauges (today, month to date) and the forecast with the values of
//! `GET /api/v1/reports/live`; the reports page, opened from the console's header at 1366×768,
//! draws its chart as SVG bars carrying the data and a table whose numbers are the JSON API's
//! for the same period, switches to Italian, shows the month's SLA, links CSV and XLSX, and in
//! print media hides the navigation and shows its print header. Every wait is for a DOM
//! condition, never a sleep. Screenshots are kept in `target/test-artifacts/e2e_reports_web/`
//! (or `$CENTRALINO_ARTIFACTS/…`). Needs `sipp` and `chromium`/`chromium-driver`.

mod common;

use std::time::Duration;

use common::agents::*;
use common::web::Browser;
use common::*;

const WAIT: Duration = Duration::from_secs(20);
const TEST: &str = "e2e_reports_web";

#[test]
fn reports_page_and_live_gauges_after_a_real_call() {
    let server = Server::start(&acd_config(15, &["1001"]));
    let api = Api::supervisor(&server);

    // One real call: queued in cittadini, answered by 1001 at once, 3 s of talk.
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
    api.set_state("1001", "ready");
    api.wait_agent("1001", "ready", None);
    let caller = sipp_start("uac_server_bye.xml", &server, &[]);
    caller.wait().assert_ok(&server);
    agent_phone.wait().assert_ok(&server);
    // The talk and the wrap-up are logged: the agent is back to ready.
    api.wait_agent("1001", "ready", None);

    let live = api.get("/api/v1/reports/live");
    let today = live["sla"][0]["to"].as_str().expect("today").to_string();
    let c2 = &live["sla"][0]["gauges"][0];
    assert_eq!(c2["id"], "SLA.C.2", "{live}");
    assert_eq!(c2["denominator"], 1, "the one queued call: {live}");
    assert_eq!(c2["measured_pct"], 100.0, "answered at once: {live}");
    let forecast = live["forecast"]["queues"]
        .as_array()
        .expect("forecast")
        .iter()
        .find(|q| q["queue"] == QUEUE)
        .expect("cittadini forecast")
        .clone();
    assert_eq!(forecast["arrivals"], 1, "{forecast}");
    assert_eq!(forecast["agents"], 1, "{forecast}");
    assert_eq!(forecast["handling_measured"], true, "{forecast}");

    // The supervisor console: gauges and forecast as the API says.
    let boss = Browser::start();
    boss.login(
        &server,
        "/supervisor",
        SUPERVISOR.0,
        SUPERVISOR.1,
        "/supervisor",
    );
    let shown = boss.wait_js(
        "the gauges and the forecast",
        &format!(
            "const g = document.querySelector('[data-scope=\"today\"] [data-sla=\"SLA.C.2\"]'); \
             const m = document.querySelector('[data-scope=\"month_to_date\"] [data-sla=\"SLA.C.3\"]'); \
             const f = document.querySelector('#forecast tr[data-queue=\"{QUEUE}\"]'); \
             if (!g || !m || !f) return null; \
             return {{c2: g.querySelector('.value').dataset.value, c2class: g.className, \
                     c3: m.querySelector('.value').textContent, \
                     duty: f.querySelector('.on-duty').textContent, \
                     expected: f.querySelector('.expected').textContent, \
                     needed: f.querySelector('.needed').textContent}}"
        ),
        WAIT,
    );
    assert_eq!(shown["c2"], "100", "{shown}");
    assert!(
        shown["c2class"].as_str().is_some_and(|c| c.contains("ok")),
        "met: green {shown}"
    );
    let c3 = live["sla"][1]["gauges"][2]["measured_pct"]
        .as_f64()
        .expect("month's C.3 measured");
    assert_eq!(shown["c3"], format!("{c3:.1} %"), "{shown}");
    assert_eq!(shown["duty"], "1", "{shown}");
    assert_eq!(
        shown["needed"],
        forecast["agents_needed"].to_string(),
        "{shown}"
    );
    let expected = forecast["expected_service_level_pct"]
        .as_f64()
        .unwrap_or(-1.0);
    assert_eq!(shown["expected"], format!("{expected:.1} %"), "{shown}");
    boss.eval("document.getElementById('sla-panel').scrollIntoView(); return true");
    boss.screenshot(TEST, "0-supervisor-gauges-forecast");

    // The reports page, from the console's header: today's queues by hour band.
    boss.click("#reports-link");
    boss.wait_js(
        "the reports page with today's report",
        &format!(
            "return location.pathname === '/reports' && document.body.dataset.ready === 'true' \
             && document.getElementById('date').value === '{today}' \
             && document.querySelector('#report-table tr[data-queue=\"{QUEUE}\"]') !== null"
        ),
        WAIT,
    );
    let report = api.get(&format!(
        "/api/v1/reports/queues?from={today}&to={today}&sampling=hour_band"
    ));
    let band = report["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .find(|r| r["queue"] == QUEUE && r["offered"].as_u64() > Some(0))
        .expect("the call's hour band")
        .clone();
    let label = band["label"].as_str().unwrap_or_default();
    let row = boss.eval(&format!(
        "const r = document.querySelector('#report-table tr[data-bucket=\"{label}\"][data-queue=\"{QUEUE}\"]'); \
         const c = (k) => r.querySelector('td.' + k).textContent; \
         return {{offered: c('offered'), answered: c('answered'), abandoned: c('abandoned'), \
                 sl: Number(r.querySelector('td.service-level').dataset.value)}}"
    ));
    assert_eq!(row["offered"], band["offered"].to_string(), "{row} {band}");
    assert_eq!(
        row["answered"],
        band["answered"].to_string(),
        "{row} {band}"
    );
    assert_eq!(
        row["abandoned"],
        band["abandoned"].to_string(),
        "{row} {band}"
    );
    assert_eq!(
        row["sl"].as_f64(),
        band["service_level_pct"].as_f64(),
        "{row} {band}"
    );
    // The chart: SVG bars with the data, the offered bar of the call's band as tall as its
    // number says.
    let bars = boss.eval(&format!(
        "const bars = [...document.querySelectorAll('#report-chart rect.bar')]; \
         const b = bars.find(r => r.dataset.series === 'offered' && r.dataset.category === '{label}'); \
         return {{count: bars.length, value: b && b.dataset.value, height: b && Number(b.getAttribute('height')), \
                 box: document.getElementById('report-chart').getBoundingClientRect().height}}"
    ));
    assert!(bars["count"].as_u64() >= Some(3), "{bars}");
    assert_eq!(bars["value"], band["offered"].to_string(), "{bars}");
    assert!(bars["height"].as_f64() > Some(0.0), "{bars}");
    assert!(
        bars["box"].as_f64() > Some(100.0),
        "the chart is on screen: {bars}"
    );
    // Downloads of what is shown.
    let csv = boss
        .eval("return document.getElementById('csv').getAttribute('href')")
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(
        csv,
        format!(
            "/api/v1/reports/queues?from={today}&to={today}&sampling=hour_band&format=csv&lang=en"
        )
    );
    let fetched = boss.eval_async(
        "const done = arguments[arguments.length - 1]; \
         fetch(document.getElementById('xlsx').href, {credentials: 'same-origin'}) \
           .then(r => r.arrayBuffer().then(b => done({status: r.status, type: r.headers.get('content-type'), \
             pk: new Uint8Array(b)[0] === 0x50 && new Uint8Array(b)[1] === 0x4b})))",
    );
    assert_eq!(fetched["status"], 200, "{fetched}");
    assert_eq!(fetched["pk"], true, "an XLSX (ZIP) file: {fetched}");
    boss.screenshot(TEST, "1-reports-queues");

    // Italian.
    boss.eval(
        "const l = document.getElementById('lang'); l.value = 'it'; \
         l.dispatchEvent(new Event('change')); return true",
    );
    boss.wait_js(
        "Italian labels and Italian columns in the downloads",
        "return document.getElementById('tab-queues').textContent === 'Code' \
         && [...document.querySelectorAll('#report-table th')].some(th => th.textContent === 'Offerte') \
         && document.getElementById('csv').getAttribute('href').endsWith('lang=it') \
         && document.getElementById('report-title').textContent === 'Chiamate per coda'",
        WAIT,
    );
    boss.screenshot(TEST, "2-reports-italian");

    // Agents: time in each state drawn as stacked bars, the answered call counted.
    boss.click("#tab-agents");
    boss.wait_js(
        "the agents' report",
        "return document.body.dataset.ready === 'true' \
         && document.querySelector('#report-chart rect.bar[data-series=\"talking_s\"][data-category=\"1001\"]') !== null",
        WAIT,
    );
    let agents = api.get(&format!(
        "/api/v1/reports/agents?from={today}&to={today}&sampling=hour_band"
    ));
    let answered: u64 = agents["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .filter(|r| r["agent"] == "1001")
        .filter_map(|r| r["answered"].as_u64())
        .sum();
    assert_eq!(answered, 1, "{agents}");
    assert_eq!(
        boss.eval(
            "return [...document.querySelectorAll('#report-table tr[data-agent=\"1001\"] td.answered')] \
             .reduce((n, c) => n + Number(c.dataset.value), 0)"
        ),
        answered,
    );
    boss.screenshot(TEST, "3-reports-agents-italian");

    // The month's SLA: the same lines as the API's.
    boss.click("#tab-sla");
    boss.wait_js(
        "the SLA table",
        "return document.body.dataset.ready === 'true' \
         && document.querySelector('#report-table tr[data-sla=\"SLA.C.2\"]') !== null",
        WAIT,
    );
    let month = &today[..7];
    let sla = api.get(&format!("/api/v1/reports/sla?month={month}"));
    for id in ["SLA.C.1", "SLA.C.2", "SLA.C.3"] {
        let line = sla["lines"]
            .as_array()
            .expect("lines")
            .iter()
            .find(|l| l["id"] == id)
            .expect("line")
            .clone();
        let shown = boss.eval(&format!(
            "const r = document.querySelector('#report-table tr[data-sla=\"{id}\"]'); \
             return {{measured: Number(r.querySelector('td.measured').dataset.value), \
                     applied: Number(r.querySelector('td.applied').dataset.value), \
                     penalty: r.querySelector('td.penalty').textContent}}"
        ));
        assert_eq!(
            shown["measured"].as_f64(),
            line["measured_pct"].as_f64(),
            "{id}"
        );
        assert_eq!(
            shown["applied"].as_f64(),
            line["applied_threshold_pct"].as_f64(),
            "{id}"
        );
        assert_eq!(shown["penalty"], line["penalty_points"].to_string(), "{id}");
    }
    assert_eq!(
        boss.eval(
            "return document.querySelectorAll('#report-chart rect.bar[data-series=\"measured\"]').length"
        ),
        sla["lines"].as_array().map_or(0, Vec::len),
        "one bar per service level"
    );
    assert_eq!(
        boss.eval("return document.getElementById('overflow').hidden"),
        false,
        "the overflow rule's effect is said"
    );
    boss.screenshot(TEST, "4-reports-sla-italian");

    // Print: no navigation, no controls, the print header with the period; the chart kept.
    boss.cdp(
        "Emulation.setEmulatedMedia",
        serde_json::json!({"media": "print"}),
    );
    let print = boss.eval(
        "const shown = (s) => getComputedStyle(document.querySelector(s)).display !== 'none'; \
         return {nav: shown('header.top'), controls: shown('#controls'), tabs: shown('.tabs'), \
                 head: shown('.print-head'), period: document.getElementById('print-period').textContent, \
                 chart: document.getElementById('report-chart').getBoundingClientRect().height, \
                 rows: getComputedStyle(document.querySelector('#report-table tbody tr')).breakInside}",
    );
    assert_eq!(print["nav"], false, "{print}");
    assert_eq!(print["controls"], false, "{print}");
    assert_eq!(print["tabs"], false, "{print}");
    assert_eq!(print["head"], true, "{print}");
    assert!(
        print["period"]
            .as_str()
            .is_some_and(|p| p.contains(month) && p.contains("generato")),
        "{print}"
    );
    assert!(print["chart"].as_f64() > Some(50.0), "{print}");
    assert_eq!(print["rows"], "avoid", "rows are not cut: {print}");
    boss.screenshot(TEST, "5-reports-print");
    boss.cdp(
        "Emulation.setEmulatedMedia",
        serde_json::json!({"media": ""}),
    );
}
