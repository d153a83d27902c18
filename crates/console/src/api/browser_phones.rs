//! `GET /api/v1/phones/browser`: which agents' phones are browsers, and the quality of their
//! calls now (issue 17), for the supervisor's console.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use super::error::{ApiError, ApiResult};
use super::{Api, Caller};

/// Where the browser phones' figures come from: the call controller's WebRTC legs and the
/// registrar (a port, so the console does not depend on the switchboard).
pub trait BrowserPhoneSource: Send + Sync + std::fmt::Debug {
    /// The browser phones now.
    fn view(&self) -> events::live::PortFuture<'_, BrowserPhonesJson>;
}

/// One browser phone's call, with the RTCP figures the server's WebRTC leg has.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BrowserCallJson {
    pub login: String,
    /// When the browser answered.
    pub since: chrono::DateTime<chrono::Utc>,
    /// `connecting`, `connected`, or `closed: <reason>`.
    pub state: String,
    /// Packets of the browser's stream lost on the way to the server (RFC 3550 §6.4.1).
    pub packets_lost: Option<i64>,
    /// Interarrival jitter of the browser's stream, in milliseconds.
    pub jitter_ms: Option<f64>,
    /// Round trip between server and browser, from the browser's receiver reports, in ms.
    pub round_trip_ms: Option<f64>,
    /// The fraction (0–1) of the server's packets the browser reported lost.
    pub fraction_lost_by_browser: Option<f64>,
    pub packets_from_browser: u64,
    pub packets_to_browser: u64,
}

/// The browser phones now.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct BrowserPhonesJson {
    /// Agents whose phone is registered over SIP-over-WebSocket (`/ws`), sorted.
    pub registered: Vec<String>,
    /// Their calls in progress.
    pub calls: Vec<BrowserCallJson>,
}

/// `GET /api/v1/phones/browser` (supervisors and admins).
#[utoipa::path(
    get,
    operation_id = "phones_browser",
    path = "/api/v1/phones/browser",
    tag = "acd",
    summary = "Agents using the browser phone, and their calls' packet loss, jitter and round trip (RTCP)",
    responses(
        (status = 200, description = "the browser phones", body = BrowserPhonesJson),
        (status = 401, response = crate::api::schema::Unauthorized),
        (status = 403, response = crate::api::schema::Forbidden),
        (status = 503, response = crate::api::schema::Unavailable),
    )
)]
pub async fn list(State(api): State<Api>, caller: Caller) -> ApiResult<Response> {
    if !super::agents::oversees(&caller.user) {
        return Err(ApiError::Forbidden(
            "only supervisors and administrators see the browser phones".into(),
        ));
    }
    let Some(phones) = api.config().browser_phones.clone() else {
        return Err(ApiError::Unavailable("no browser phones here".into()));
    };
    Ok(axum::Json(phones.view().await).into_response())
}
