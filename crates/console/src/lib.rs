//! # console
//!
//! The HTTP side of centralino, served by the binary: the health check, the Prometheus
//! metrics, the CRM REST API under `/api/v1` ([`api`]: sessions, tickets, customers, call
//! cards, agents and queues, OpenAPI document), the WebSocket event stream
//! `/api/v1/events` ([`events`]), the web consoles ([`web`]: login, agent desktop,
//! supervisor console, embedded in the binary) and SIP over WebSocket at `/ws`
//! ([`sip_ws`], merged in by the binary beside the gateway it feeds).
//!
//! # Run loop
//! Not a sans-IO core: [`router`] builds one `axum` router whose handlers share one
//! [`api::Api`] (store, ACD handle, session table) and subscribe to the [`EventBus`]; the
//! binary serves it until shutdown. The invariant the handlers keep is the API's: every
//! request (page, REST call, event stream) is authenticated and its permissions checked
//! before anything is read or changed. Time comes from [`api::ApiConfig::clock`].

pub mod api;
pub mod config;
pub mod events;
pub mod figures;
pub mod metrics;
pub mod notify;
pub mod record;
pub mod report_facts;
pub mod report_mail;
pub mod server;
pub mod sip_ws;
pub mod web;

use std::sync::Arc;
use std::time::Duration;

use ::events::EventBus;
use ::events::live::LiveAcd;
use ::events::telemetry::TelemetryProbe;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

pub use figures::Figures;
pub use metrics::Metrics;
pub use record::EventLogWriter;

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    pub metrics: Arc<Metrics>,
    pub telemetry: Arc<dyn TelemetryProbe>,
    /// Serve `/metrics` to non-loopback clients too (CONTRACT.md: loopback only by default).
    pub metrics_public: bool,
    /// The CRM store (tickets, customers, call records).
    pub store: crm::Store,
    /// The ACD (agent states, live queues); `None` where no calls are distributed.
    pub acd: Option<Arc<dyn LiveAcd>>,
    /// The event bus streamed by `/api/v1/events`; `None`: the stream sends its snapshot only.
    pub bus: Option<EventBus>,
    /// The ACD's wrap-up time, for the agent desktop's countdown (in the stream's snapshot).
    pub wrap_up: Option<Duration>,
}

/// The application's routes with the API's default settings ([`api::ApiConfig`]: 8 h idle
/// sessions, system clock). Serve it with
/// `into_make_service_with_connect_info::<SocketAddr>()` so `/metrics` can tell loopback
/// clients from others.
pub fn router(state: AppState) -> Router {
    router_with(state, api::ApiConfig::default())
}

/// [`router`] with explicit API settings. Call it within a Tokio runtime when the state has
/// a bus (the event stream's hourly counter subscribes to it).
pub fn router_with(state: AppState, config: api::ApiConfig) -> Router {
    let https = config.cookie_secure;
    let api = api::Api::with_acd(state.store.clone(), config, state.acd.clone());
    let (bus, wrap_up) = (state.bus.clone(), state.wrap_up);
    let counted = state.metrics.clone();
    let router = Router::new()
        .route("/api/v1/health", get(health))
        .route("/metrics", get(metrics))
        .with_state(state)
        .merge(consoles(api, bus, wrap_up))
        .layer(axum::middleware::from_fn_with_state(
            counted,
            count_requests,
        ));
    if https {
        router.layer(axum::middleware::from_fn(strict_transport))
    } else {
        router
    }
}

/// Served over HTTPS (here or by a proxy in front): browsers keep to HTTPS for a year
/// (RFC 6797).
async fn strict_transport(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let mut response = next.run(request).await;
    response.headers_mut().insert(
        header::STRICT_TRANSPORT_SECURITY,
        header::HeaderValue::from_static("max-age=31536000"),
    );
    response
}

/// Counts every request into `centralino_http_requests_total` and its duration, labelled
/// with the matched route's pattern (`unmatched` for paths no route serves).
async fn count_requests(
    State(metrics): State<Arc<Metrics>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let started = std::time::Instant::now();
    let method = request.method().as_str().to_owned();
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let response = next.run(request).await;
    metrics.observe_http(
        &method,
        &route,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

/// Everything [`router_with`] serves but the health check and the metrics: the REST API,
/// the event stream `/api/v1/events` and the web pages, sharing `api`'s session table.
/// Call it within a Tokio runtime when there is a bus.
pub fn consoles(api: api::Api, bus: Option<EventBus>, wrap_up: Option<Duration>) -> Router {
    consoles_with(events::EventStream::new(api, bus).with_wrap_up(wrap_up))
}

/// [`consoles`] over a prepared event stream (tests shorten its session check).
pub fn consoles_with(stream: events::EventStream) -> Router {
    let api = stream.api().clone();
    let events = Router::new()
        .route(api::openapi::EVENTS_PATH, get(events::upgrade))
        .with_state(stream);
    api::router(api.clone())
        .merge(events)
        .merge(web::router(api))
}

/// `GET /api/v1/health`: 200 `{"status":"ok"}` once SIP, media and the database are up;
/// otherwise 503 `{"status":"degraded","sip":…,"database":…}` naming which part is down
/// (`ok`, `stopped` or `unavailable`). The answer is public: the database's own error text
/// (host names, user names, paths) goes to the log only.
async fn health(State(state): State<AppState>) -> Response {
    let sip_up = state.telemetry.read().await.sip.is_some();
    let database_up = match state.store.ping().await {
        Ok(()) => true,
        Err(error) => {
            tracing::warn!(error = ?error.to_string(), "health: the database does not answer");
            false
        }
    };
    if sip_up && database_up {
        return (StatusCode::OK, Json(json!({"status": "ok"}))).into_response();
    }
    if !sip_up {
        tracing::warn!("health: the SIP gateway has stopped");
    }
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({
            "status": "degraded",
            "sip": if sip_up { "ok" } else { "stopped" },
            "database": if database_up { "ok" } else { "unavailable" },
        })),
    )
        .into_response()
}

/// `GET /metrics`: Prometheus text format.
async fn metrics(
    State(state): State<AppState>,
    api::session::ClientAddr(client): api::session::ClientAddr,
) -> Response {
    // The client, not a proxy in front: behind a trusted local proxy every request would
    // otherwise come from loopback.
    if !state.metrics_public && !client.is_some_and(|ip| ip.is_loopback()) {
        return (
            StatusCode::FORBIDDEN,
            "metrics are served to loopback clients only\n",
        )
            .into_response();
    }
    let telemetry = state.telemetry.read().await;
    let acd = match &state.acd {
        Some(acd) => acd.view().await,
        None => None,
    };
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render_with(&telemetry, acd.as_ref()),
    )
        .into_response()
}
