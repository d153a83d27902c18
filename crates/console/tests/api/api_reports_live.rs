//! The supervisor console's live SLA gauges and Erlang-C forecast (`GET /api/v1/reports/live`):
//! who may read them, and their values for a known event sequence, against the monthly SLA
//! report over the same events and against Erlang C worked by hand.

use axum::http::StatusCode;
use chrono::{DateTime, Duration, Utc};
use crm::LoggedEvent;
use events::{Event, Outcome};
use serde_json::{Value, json};

use crate::api_reports::{logged, morning};
use crate::common::{Fixture, both, t0};

/// Sunday 1 March: a call answered after 40 s (talk 60 s). Monday 2 March: the scripted
/// morning of the reports test (answered after 12 s with 90 s of talk, abandoned after 40 s,
/// abandoned after 2 s) and a call entering `cittadini` at 10:29 UTC, still waiting.
fn month_so_far() -> Vec<(DateTime<Utc>, Event)> {
    let sunday = t0() - Duration::days(1);
    let id = "sunday".to_string();
    let left = sunday + Duration::seconds(40);
    let mut out = vec![
        (
            sunday,
            Event::CallStarted {
                call_id: id.clone(),
                sip_call_id: "sunday@example.org".into(),
                caller: Some("+390600000002".into()),
                dialled: Some("800000000".into()),
            },
        ),
        (
            sunday,
            Event::QueueEntered {
                call_id: id.clone(),
                queue: "cittadini".into(),
                position: 1,
                at: sunday,
            },
        ),
        (
            left,
            Event::QueueConnected {
                call_id: id.clone(),
                queue: "cittadini".into(),
                agent: "a1".into(),
                wait_ms: 40_000,
                within_service_level: false,
                at: left,
            },
        ),
        (
            left + Duration::seconds(60),
            Event::QueueCompleted {
                call_id: id.clone(),
                queue: "cittadini".into(),
                agent: "a1".into(),
                talk_ms: 60_000,
                at: left + Duration::seconds(60),
            },
        ),
        (
            left + Duration::seconds(60),
            Event::CallEnded {
                call_id: id,
                outcome: Outcome::CallerHangup,
                duration_ms: 100_000,
            },
        ),
    ];
    out.extend(morning());
    let waiting = t0() + Duration::minutes(89);
    out.push((
        waiting,
        Event::CallStarted {
            call_id: "waiting".into(),
            sip_call_id: "waiting@example.org".into(),
            caller: None,
            dialled: Some("800000000".into()),
        },
    ));
    out.push((
        waiting,
        Event::QueueEntered {
            call_id: "waiting".into(),
            queue: "cittadini".into(),
            position: 1,
            at: waiting,
        },
    ));
    out
}

fn gauge<'a>(live: &'a Value, scope: &str, id: &str) -> &'a Value {
    live["sla"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["scope"] == scope)
        .and_then(|s| {
            s["gauges"]
                .as_array()
                .unwrap()
                .iter()
                .find(|g| g["id"] == id)
        })
        .unwrap_or_else(|| panic!("no {scope} {id} in {live}"))
}

async fn gauges_and_forecast_of_a_known_morning(f: Fixture) {
    let rows: Vec<LoggedEvent> = month_so_far()
        .iter()
        .enumerate()
        .map(|(n, (at, e))| logged(n, *at, e))
        .collect();
    f.store.append_events(&rows).await.unwrap();
    // 10:30 UTC, 11:30 in Rome: the morning's calls ended, one call waits.
    f.advance(Duration::minutes(90));

    let a1 = f.login("a1").await;
    f.get("/api/v1/reports/live", &a1)
        .await
        .problem(StatusCode::FORBIDDEN);
    f.put("/api/v1/agents/a1/state", &a1, json!({"state": "ready"}))
        .await
        .expect(StatusCode::NO_CONTENT);
    let sup = f.login("sup").await;
    let live = f
        .get("/api/v1/reports/live", &sup)
        .await
        .expect(StatusCode::OK)
        .json;
    assert_eq!(live["timezone"], "Europe/Rome");

    // Today: the 12 s answer and the 40 s abandon are counted (the 2 s one is short, the
    // waiting call not yet): C.2 1 of 2, nobody above 90 s, C.3 1 of 2.
    let c2 = gauge(&live, "today", "SLA.C.2");
    assert_eq!(
        (c2["numerator"].clone(), c2["denominator"].clone()),
        (json!(1), json!(2))
    );
    assert_eq!(c2["measured_pct"], 50.0);
    assert_eq!(c2["threshold_pct"], 90.0);
    assert_eq!(c2["met"], false);
    let max = gauge(&live, "today", "SLA.C.2.max");
    assert_eq!(max["measured_pct"], 100.0);
    assert_eq!(max["met"], true);
    let c3 = gauge(&live, "today", "SLA.C.3");
    assert_eq!(c3["measured_pct"], 50.0);
    assert_eq!(c3["direction"], "at_most");
    assert_eq!(c3["threshold_pct"], 5.0);
    // The month so far adds Sunday's call answered after 40 s: C.2 1 of 3, C.3 1 of 3.
    let c2 = gauge(&live, "month_to_date", "SLA.C.2");
    assert_eq!(
        (c2["numerator"].clone(), c2["denominator"].clone()),
        (json!(1), json!(3))
    );
    assert_eq!(
        gauge(&live, "month_to_date", "SLA.C.3")["measured_pct"],
        33.33
    );
    let mtd = live["sla"][1].clone();
    assert_eq!(
        (mtd["from"].as_str(), mtd["to"].as_str()),
        (Some("2026-03-01"), Some("2026-03-02"))
    );

    // The same lines as the monthly SLA report over the same events.
    let sla = f
        .get("/api/v1/reports/sla?month=2026-03", &sup)
        .await
        .expect(StatusCode::OK)
        .json;
    for id in ["SLA.C.2", "SLA.C.2.max", "SLA.C.3"] {
        let line = sla["lines"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["id"] == id)
            .unwrap();
        let g = gauge(&live, "month_to_date", id);
        for field in ["numerator", "denominator", "measured_pct", "met"] {
            assert_eq!(g[field], line[field], "{id} {field}");
        }
        assert_eq!(g["threshold_pct"], line["applied_threshold_pct"], "{id}");
    }

    // The forecast of cittadini: 4 entries in the last hour (three in the morning, the one
    // waiting), handling 90 s (the one talk, no wrap-up), a1 on duty (a3 logged out):
    // A = 4/3600 × 90 = 0.1 erlang; with one agent C = A, so the share within 30 s is
    // 1 − 0.1·e^(−0.9·30/90) = 92.59 %, and one agent meets 90 %.
    let q = live["forecast"]["queues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["queue"] == "cittadini")
        .unwrap()
        .clone();
    assert_eq!(q["arrivals"], 4);
    assert_eq!(q["arrivals_per_hour"], 4.0);
    assert_eq!(q["handling_s"], 90.0);
    assert_eq!(q["handling_measured"], true);
    assert_eq!(q["traffic"], 0.1);
    assert_eq!(
        (q["agents"].clone(), q["agents_ready"].clone()),
        (json!(1), json!(1))
    );
    assert_eq!(q["expected_service_level_pct"], 92.59);
    assert_eq!(q["agents_needed"], 1);
    assert_eq!(live["forecast"]["arrival_window_min"], 60);
    // secondo-livello: no calls, nobody on duty: nothing to answer, nobody needed.
    let idle = &live["forecast"]["queues"][1];
    assert_eq!(idle["queue"], "secondo-livello");
    assert_eq!(idle["arrivals"], 0);
    assert_eq!(idle["handling_measured"], false);
    assert_eq!(idle["expected_service_level_pct"], 100.0);
    assert_eq!(idle["agents_needed"], 0);

    // An admin reads them too.
    let adm = f.login("adm").await;
    f.get("/api/v1/reports/live", &adm)
        .await
        .expect(StatusCode::OK);

    // One answer serves every console for 5 s: a call entering now shows after that.
    let entered = Event::QueueEntered {
        call_id: "later".into(),
        queue: "cittadini".into(),
        position: 2,
        at: f.now(),
    };
    f.store
        .append_events(&[logged(100, f.now(), &entered)])
        .await
        .unwrap();
    let arrivals = |live: &Value| live["forecast"]["queues"][0]["arrivals"].clone();
    let cached = f
        .get("/api/v1/reports/live", &sup)
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        arrivals(&cached.json),
        4,
        "the same instant: the answer already made"
    );
    f.advance(Duration::seconds(4));
    let cached = f
        .get("/api/v1/reports/live", &sup)
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        arrivals(&cached.json),
        4,
        "4 s later: still the answer already made"
    );
    f.advance(Duration::seconds(1));
    let fresh = f
        .get("/api/v1/reports/live", &sup)
        .await
        .expect(StatusCode::OK);
    assert_eq!(arrivals(&fresh.json), 5, "5 s later: computed again");
}
both!(gauges_and_forecast_of_a_known_morning);
