//! Handlers through `Router::oneshot`, with a real gateway and media engine on loopback behind
//! them (no mock stands in for the telemetry).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{Request, StatusCode};
use console::{AppState, Metrics, router};
use http_body_util::BodyExt;
use media::{MediaConfig, MediaEngine, PromptLibrary};
use sip_gateway::gateway::{Gateway, GatewayConfig};
use sip_gateway::ua::UserAgentConfig;
use switchboard::{Event, EventBus, Outcome, Switchboard, SwitchboardConfig};
use tower::ServiceExt;

/// The state, its metrics, and the folder holding its database (removed when dropped).
async fn state(metrics_public: bool) -> (AppState, Arc<Metrics>, tempfile::TempDir) {
    let media = MediaEngine::start(MediaConfig {
        port_min: 41000,
        port_max: 41999,
        ..MediaConfig::default()
    })
    .unwrap();
    let (gateway, _events) = Gateway::start(GatewayConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        ua: UserAgentConfig::default(),
    })
    .await
    .unwrap();
    let settings = switchboard::CallSettings {
        language: "it".into(),
        answer_delay: Default::default(),
        max_duration: std::time::Duration::from_secs(60),
    };
    let ivr: ivr::IvrConfig =
        toml::from_str("default_entry = \"bye\"\n[nodes.bye]\nkind = \"hangup\"\n").unwrap();
    let (tree, _) = ivr::Tree::build(&ivr, &|_| true).unwrap();
    let sb = Switchboard::new(
        gateway,
        media,
        Arc::new(PromptLibrary::default()),
        EventBus::default(),
        SwitchboardConfig {
            default: settings,
            numbers: Default::default(),
            hold_music: "hold_music".into(),
            voicemail: switchboard::VoicemailSettings {
                dir: std::env::temp_dir(),
                greeting_prompt: "voicemail_greeting".into(),
                max_length: std::time::Duration::from_secs(60),
                min_length: std::time::Duration::from_secs(1),
                queue: "voicemail".into(),
                max_total_bytes: 1 << 30,
                min_free_bytes: 0,
                retention: None,
                sla: None,
            },
            phones: Default::default(),
            webrtc: Default::default(),
        },
        switchboard::Engines {
            ivr: tree,
            acd: None,
            store: None,
            card: None,
            voicemail: None,
        },
    );
    let metrics = Arc::new(Metrics::new());
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/crm.db?mode=rwc", dir.path().display());
    let store = crm::Store::connect(&url).await.unwrap();
    (
        AppState {
            metrics: metrics.clone(),
            telemetry: Arc::new(sb.telemetry()),
            metrics_public,
            store,
            acd: None,
            bus: None,
            wrap_up: None,
        },
        metrics,
        dir,
    )
}

async fn get(state: AppState, path: &str, from: &str) -> (StatusCode, String) {
    let app = router(state).layer(MockConnectInfo(from.parse::<SocketAddr>().unwrap()));
    let response = app
        .oneshot(Request::get(path).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::test]
async fn health_is_ok_while_the_gateway_runs() {
    let (state, _, _dir) = state(false).await;
    let (status, body) = get(state, "/api/v1/health", "127.0.0.1:1").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, r#"{"status":"ok"}"#);
}

#[tokio::test]
async fn health_reports_a_database_that_stopped_answering() {
    let (state, _, _dir) = state(false).await;
    state.store.close().await;
    let (status, body) = get(state, "/api/v1/health", "127.0.0.1:1").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    // Which part is down, and nothing of the database's own error text (it goes to the log).
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"status": "degraded", "sip": "ok", "database": "unavailable"})
    );
}

#[tokio::test]
async fn metrics_carry_the_contract_names_and_count_events() {
    let (state, metrics, _dir) = state(false).await;
    metrics.observe(&Event::CallEnded {
        call_id: "c".into(),
        outcome: Outcome::CallerHangup,
        duration_ms: 10,
    });
    metrics.observe(&Event::Dtmf {
        call_id: "c".into(),
        digit: '7',
    });
    let (status, body) = get(state, "/metrics", "127.0.0.1:1").await;
    assert_eq!(status, StatusCode::OK);
    for name in [
        "centralino_calls_active 0",
        "centralino_calls_total{outcome=\"caller_hangup\"} 1",
        "centralino_calls_total{outcome=\"abandoned\"} 0",
        "centralino_dtmf_digits_received_total 1",
        "centralino_agents{state=\"ready\"} 0",
        "centralino_tickets_created_total{channel=\"voicemail\"} 0",
        "# TYPE centralino_sip_messages_received_total counter",
        "# TYPE centralino_rtp_packets_sent_total counter",
        "centralino_media_legs_active 0",
        "centralino_rtp_foreign_packets_total 0",
        "centralino_sip_dialogs_active 0",
        "# TYPE centralino_rtp_send_interval_seconds histogram",
        "centralino_rtp_send_interval_seconds_bucket{le=\"0.02\"}",
        "centralino_rtp_send_interval_seconds_bucket{le=\"+Inf\"}",
        "centralino_rtp_send_interval_seconds_count",
    ] {
        assert!(body.contains(name), "missing {name:?} in:\n{body}");
    }
}

#[tokio::test]
async fn http_requests_are_counted_by_route_pattern_and_status() {
    let (state, _, _dir) = state(false).await;
    let app = router(state).layer(MockConnectInfo(
        "127.0.0.1:1".parse::<SocketAddr>().unwrap(),
    ));
    for path in [
        "/api/v1/health",
        "/api/v1/tickets/2026112301000011",
        "/no/such/page",
    ] {
        app.clone()
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
    }
    let response = app
        .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let body = String::from_utf8(body.to_vec()).unwrap();
    for line in [
        "centralino_http_requests_total{method=\"GET\",route=\"/api/v1/health\",status=\"200\"} 1",
        // The pattern, not the ticket number: series stay bounded.
        "centralino_http_requests_total{method=\"GET\",route=\"/api/v1/tickets/{number}\",status=\"401\"} 1",
        "centralino_http_requests_total{method=\"GET\",route=\"unmatched\",status=\"404\"} 1",
        "centralino_http_request_duration_seconds_count{route=\"/api/v1/health\"} 1",
    ] {
        assert!(body.contains(line), "missing {line:?} in:\n{body}");
    }
    assert!(
        !body.contains("2026112301000011"),
        "raw paths never become labels"
    );
}

/// Every metric the Grafana dashboard in docs/ queries is one `/metrics` serves.
#[tokio::test]
async fn the_grafana_dashboard_queries_metrics_we_serve() {
    let dashboard = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/grafana-dashboard.json"
    ))
    .unwrap();
    let json: serde_json::Value = serde_json::from_str(&dashboard).expect("valid JSON");
    assert!(json["panels"].as_array().is_some_and(|p| p.len() >= 8));
    let (state, metrics, _dir) = state(false).await;
    let telemetry = state.telemetry.clone();
    let app = router(state).layer(MockConnectInfo(
        "127.0.0.1:1".parse::<SocketAddr>().unwrap(),
    ));
    app.oneshot(Request::get("/api/v1/health").body(Body::empty()).unwrap())
        .await
        .unwrap();
    // Queue series exist once the ACD has a queue.
    let queue = events::live::QueueLive {
        name: "generale".into(),
        waiting: 1,
        ringing: 0,
        oldest_wait: Some(std::time::Duration::from_secs(3)),
        agents: Default::default(),
        expected_wait: std::time::Duration::from_secs(60),
    };
    let acd = events::live::LiveView {
        at: std::time::Instant::now(),
        queues: vec![queue],
        agents: Vec::new(),
    };
    let body = metrics.render_with(&telemetry.read().await, Some(&acd));
    let mut names: Vec<&str> = dashboard
        .match_indices("centralino_")
        .map(|(i, _)| {
            let rest = &dashboard[i..];
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            &rest[..end]
        })
        .collect();
    names.sort_unstable();
    names.dedup();
    assert!(names.len() >= 10, "{names:?}");
    for name in names {
        assert!(
            body.contains(&format!("# TYPE {name} "))
                || ["_bucket", "_count", "_sum"].iter().any(|suffix| name
                    .strip_suffix(suffix)
                    .is_some_and(|base| body.contains(&format!("# TYPE {base} histogram")))),
            "the dashboard queries {name}, which /metrics does not serve"
        );
    }
}

#[tokio::test]
async fn metrics_are_for_loopback_clients_unless_made_public() {
    let (private, _, _d1) = state(false).await;
    let (status, _) = get(private, "/metrics", "192.0.2.10:1234").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (public, _, _d2) = state(true).await;
    let (status, _) = get(public, "/metrics", "192.0.2.10:1234").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn the_application_router_serves_the_api() {
    let (state, _, _dir) = state(false).await;
    let (status, body) = get(state.clone(), "/api/v1/openapi.json", "127.0.0.1:1").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("\"/api/v1/tickets/{number}\""), "{body}");
    let (status, body) = get(state, "/api/v1/tickets", "127.0.0.1:1").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        body.contains("urn:centralino:problem:unauthenticated"),
        "{body}"
    );
}
