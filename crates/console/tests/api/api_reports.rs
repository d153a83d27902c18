//! Reports and the SLA through the API: the figures of a scripted morning agree with the raw
//! event log recounted here; CSV and XLSX; who may read them; refusals.

use axum::http::StatusCode;
use chrono::{DateTime, Duration, Utc};
use crm::LoggedEvent;
use events::{AgentStatus, Event, Outcome};

use crate::common::{Fixture, both, t0};

pub(crate) fn logged(n: usize, at: DateTime<Utc>, event: &Event) -> LoggedEvent {
    LoggedEvent {
        event_id: format!("test-{n}"),
        at,
        kind: event.kind().to_string(),
        call_id: event.call_id().map(str::to_string),
        body: serde_json::to_string(event).unwrap(),
        queue_row: console::record::queue_log_row(event),
    }
}

/// Three calls in `cittadini` at 10:00 Rome: answered after 12 s (talk 90 s), abandoned after
/// 40 s, abandoned after 2 s (short); an agent ready from 09:00 Rome.
pub(crate) fn morning() -> Vec<(DateTime<Utc>, Event)> {
    let mut out = Vec::new();
    out.push((
        t0(),
        Event::AgentState {
            login: "a1".into(),
            state: AgentStatus::Ready,
            reason: None,
            registered: true,
            since: t0(),
        },
    ));
    for (i, (wait, answered)) in [(12, true), (40, false), (2, false)]
        .into_iter()
        .enumerate()
    {
        let id = format!("call-{i}");
        let start = t0() + Duration::hours(1) + Duration::minutes(i as i64 * 5);
        let entered = start + Duration::seconds(20);
        let left = entered + Duration::seconds(wait);
        out.push((
            start,
            Event::CallStarted {
                call_id: id.clone(),
                sip_call_id: format!("{id}@example.org"),
                caller: Some("+390600000001".into()),
                dialled: Some("800000000".into()),
            },
        ));
        out.push((
            start,
            Event::CallAnswered {
                call_id: id.clone(),
                codec: "PCMA".into(),
            },
        ));
        out.push((
            entered,
            Event::QueueEntered {
                call_id: id.clone(),
                queue: "cittadini".into(),
                position: 1,
                at: entered,
            },
        ));
        if answered {
            out.push((
                left,
                Event::QueueConnected {
                    call_id: id.clone(),
                    queue: "cittadini".into(),
                    agent: "a1".into(),
                    wait_ms: (wait * 1000) as u64,
                    within_service_level: true,
                    at: left,
                },
            ));
            let done = left + Duration::seconds(90);
            out.push((
                done,
                Event::QueueCompleted {
                    call_id: id.clone(),
                    queue: "cittadini".into(),
                    agent: "a1".into(),
                    talk_ms: 90_000,
                    at: done,
                },
            ));
            out.push((
                done,
                Event::CallEnded {
                    call_id: id,
                    outcome: Outcome::CallerHangup,
                    duration_ms: 0,
                },
            ));
        } else {
            out.push((
                left,
                Event::QueueAbandoned {
                    call_id: id.clone(),
                    queue: "cittadini".into(),
                    position: 1,
                    wait_ms: (wait * 1000) as u64,
                    within_service_level: wait <= 20,
                    at: left,
                },
            ));
            out.push((
                left,
                Event::CallEnded {
                    call_id: id,
                    outcome: Outcome::Abandoned,
                    duration_ms: 0,
                },
            ));
        }
    }
    out
}

async fn reports_agree_with_the_event_log_recounted(f: Fixture) {
    let events = morning();
    let rows: Vec<LoggedEvent> = events
        .iter()
        .enumerate()
        .map(|(n, (at, e))| logged(n, *at, e))
        .collect();
    f.store.append_events(&rows).await.unwrap();
    f.advance(Duration::hours(8));
    let sup = f.login("sup").await;

    let r = f
        .get(
            "/api/v1/reports/queues?from=2026-03-02&to=2026-03-02&sampling=total",
            &sup,
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(r.json["timezone"], "Europe/Rome");
    let total = &r.json["totals"][0];
    // The raw log, recounted by kind.
    let log = f
        .store
        .events_between(t0() - Duration::days(1), t0() + Duration::days(1))
        .await
        .unwrap();
    let count = |kind: &str| log.iter().filter(|e| e.kind == kind).count() as u64;
    assert_eq!(total["queue"], "cittadini");
    assert_eq!(total["offered"], count("queue.entered"));
    assert_eq!(total["answered"], count("queue.connected"));
    assert_eq!(
        total["abandoned"].as_u64().unwrap() + total["abandoned_short"].as_u64().unwrap(),
        count("queue.abandoned")
    );
    assert_eq!(total["abandoned_short"], 1, "the 2 s hang-up");
    assert_eq!(total["answer_time"]["mean_s"], 12.0);
    assert_eq!(total["talk_time"]["mean_s"], 90.0);

    let calls = f
        .get(
            "/api/v1/reports/calls?from=2026-03-02&to=2026-03-02&sampling=hour_band",
            &sup,
        )
        .await
        .expect(StatusCode::OK);
    let band = calls.json["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["label"] == "11:00-12:00")
        .unwrap()
        .clone();
    assert_eq!(band["contacts"], count("call.started"));

    let agents = f
        .get(
            "/api/v1/reports/agents?from=2026-03-02&to=2026-03-02&sampling=total",
            &sup,
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(agents.json["rows"][0]["agent"], "a1");
    assert_eq!(agents.json["rows"][0]["answered"], 1);

    // The same figures as CSV (Italian columns) and as a workbook.
    let csv = f
        .get(
            "/api/v1/reports/queues?from=2026-03-02&to=2026-03-02&sampling=total&format=csv&lang=it",
            &sup,
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(csv.headers["content-type"], "text/csv; charset=utf-8");
    assert!(
        csv.text.starts_with("Periodo,Coda,Offerte,Risposte,"),
        "{}",
        csv.text
    );
    assert!(csv.text.contains("total,cittadini,3,1,"), "{}", csv.text);
    let xlsx = f
        .get_bytes(
            "/api/v1/reports/agents?from=2026-03-02&to=2026-03-02&format=xlsx",
            &sup,
        )
        .await;
    assert_eq!(&xlsx[..2], b"PK", "an XLSX is a ZIP archive");

    let sla = f
        .get("/api/v1/reports/sla?month=2026-03", &sup)
        .await
        .expect(StatusCode::OK);
    let line = |id: &str| {
        sla.json["lines"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["id"] == id)
            .unwrap()
            .clone()
    };
    // Queued calls counted: the answered one (12 s) and the one abandoned after 40 s.
    let c2 = line("SLA.C.2");
    assert_eq!(
        (c2["numerator"].as_u64(), c2["denominator"].as_u64()),
        (Some(1), Some(2))
    );
    let c3 = line("SLA.C.3");
    assert_eq!(c3["measured_pct"], 50.0);
    assert_eq!(c3["penalty_points"], 45);
    assert_eq!(
        line("ACD.service_time")["measured_pct"],
        serde_json::Value::Null
    );
    assert_eq!(sla.json["short_abandoned"], 1);
}
both!(reports_agree_with_the_event_log_recounted);

async fn reports_are_for_supervisors_and_admins_and_check_their_input(f: Fixture) {
    let a1 = f.login("a1").await;
    f.get("/api/v1/reports/queues?from=2026-03-02&to=2026-03-02", &a1)
        .await
        .problem(StatusCode::FORBIDDEN);
    f.get("/api/v1/reports/sla?month=2026-03", &a1)
        .await
        .problem(StatusCode::FORBIDDEN);
    let adm = f.login("adm").await;
    f.get("/api/v1/reports/queues?from=2026-03-02&to=2026-03-02", &adm)
        .await
        .expect(StatusCode::OK);
    let bad = [
        "/api/v1/reports/queues?from=2026-03-32&to=2026-04-01",
        "/api/v1/reports/queues?from=2026-03-05&to=2026-03-01",
        "/api/v1/reports/queues?from=2026-03-01&to=2026-03-05&sampling=fortnight",
        "/api/v1/reports/queues?from=2026-03-01&to=2026-03-05&format=pdf",
        "/api/v1/reports/queues?from=2010-01-01&to=2026-03-05",
        "/api/v1/reports/sla?month=2026-13",
        "/api/v1/reports/sla?month=march",
    ];
    for path in bad {
        let detail = f
            .get(path, &adm)
            .await
            .problem(StatusCode::UNPROCESSABLE_ENTITY);
        assert!(!detail.is_empty(), "{path}");
    }
    f.get(
        "/api/v1/reports/salaries?from=2026-03-01&to=2026-03-05",
        &adm,
    )
    .await
    .problem(StatusCode::NOT_FOUND);
}
both!(reports_are_for_supervisors_and_admins_and_check_their_input);
