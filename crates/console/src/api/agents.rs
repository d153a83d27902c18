//! Agents and queues, live from the ACD (CONTRACT.md): `GET /api/v1/agents`,
//! `PUT /api/v1/agents/{login}/state`, `PUT /api/v1/agents/{login}/mode`, `GET /api/v1/queues`.
//!
//! Who may do what: an agent reads and sets their own state and reads the queues they serve;
//! supervisors and admins read everything and set any agent's state (a supervisor sets an
//! agent not ready, R-SUP-1).

use std::time::Instant;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use crm::Role;
use events::live::{AgentRequest, LiveView, Refused};
use serde::Deserialize;

use super::auth::{ApiJson, ApiPath};
use super::error::{ApiError, ApiResult};
pub use super::schema::{AgentItem, AgentJson, AgentsByState, QueueJson};
use super::{Api, Caller};

/// Supervisors and admins see and steer every agent and queue.
pub fn oversees(user: &crm::User) -> bool {
    matches!(user.role, Role::Supervisor | Role::Admin)
}

/// The wall-clock time of an ACD instant taken at `at` (the snapshot's own clock).
fn wall(now: DateTime<Utc>, at: Instant, then: Instant) -> DateTime<Utc> {
    now - chrono::Duration::from_std(at.saturating_duration_since(then)).unwrap_or_default()
}

/// The ACD's live view, 503 when it has stopped (or none runs here).
pub async fn live_view(api: &Api) -> ApiResult<LiveView> {
    api.acd()?
        .view()
        .await
        .ok_or_else(|| ApiError::Unavailable("the ACD has stopped".into()))
}

/// `GET /api/v1/agents`.
#[utoipa::path(
    get,
    operation_id = "agents_list",
    path = "/api/v1/agents",
    tag = "acd",
    summary = "Agents: state, time in state, queues, current call (an agent sees only themselves)",
    responses(
        (status = 200, description = "the agents", body = Vec<AgentJson>),
        (status = 401, response = crate::api::schema::Unauthorized),
        (status = 503, response = crate::api::schema::Unavailable),
    )
)]
pub async fn list(State(api): State<Api>, caller: Caller) -> ApiResult<Response> {
    Ok(axum::Json(agents_for(&api, &caller.user).await?).into_response())
}

/// The agents `user` may see: every one for supervisors and admins, themselves otherwise
/// (also the event stream's snapshot).
pub async fn agents_for(api: &Api, user: &crm::User) -> ApiResult<Vec<AgentJson>> {
    let snapshot = live_view(api).await?;
    let now = api.now();
    let agents: Vec<AgentJson> = snapshot
        .agents
        .into_iter()
        .filter(|a| oversees(user) || a.login == user.login)
        .map(|a| AgentJson {
            state: a.status.as_str(),
            since: wall(now, snapshot.at, a.since),
            seconds_in_state: snapshot.at.saturating_duration_since(a.since).as_secs(),
            login: a.login,
            reason: a.reason,
            registered: a.registered,
            queues: a.queues,
            current_call: a.current_call,
            mode: a.mode,
            item: a.item.map(|(number, accepted)| AgentItem {
                number,
                phase: if accepted { "accepted" } else { "offered" },
            }),
        })
        .collect();
    Ok(agents)
}

/// `PUT /api/v1/agents/{login}/state` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(as = AgentStateChange)]
#[serde(deny_unknown_fields)]
pub struct StateChange {
    /// `ready`, `not_ready` or `logged_out`.
    pub state: String,
    /// Why not ready (break, training, …).
    #[serde(default)]
    pub reason: Option<String>,
}

/// `PUT /api/v1/agents/{login}/state`: 204, or 404 (unknown agent), 409 (refused).
#[utoipa::path(
    put,
    operation_id = "agents_set_state",
    path = "/api/v1/agents/{login}/state",
    tag = "acd",
    summary = "Set an agent's state (their own; supervisors and admins: anyone's)",
    params(("login" = String, Path, description = "the agent's login")),
    request_body = StateChange,
    responses(
        (status = 204, description = "state set"),
        (status = 401, response = crate::api::schema::Unauthorized),
        (status = 403, response = crate::api::schema::Forbidden),
        (status = 404, response = crate::api::schema::NotFound),
        (status = 409, description = "the ACD refuses the change", body = crate::api::schema::Problem, content_type = "application/problem+json"),
        (status = 422, response = crate::api::schema::Invalid),
        (status = 503, response = crate::api::schema::Unavailable),
    )
)]
pub async fn set_state(
    State(api): State<Api>,
    caller: Caller,
    ApiPath(login): ApiPath<String>,
    ApiJson(change): ApiJson<StateChange>,
) -> ApiResult<Response> {
    if login != caller.user.login && !oversees(&caller.user) {
        return Err(ApiError::Forbidden(format!(
            "{} may set only their own state, not {login}'s",
            caller.user.login
        )));
    }
    let state = match change.state.as_str() {
        "ready" => AgentRequest::Ready,
        "not_ready" => AgentRequest::NotReady {
            reason: change
                .reason
                .filter(|r| !r.trim().is_empty())
                .unwrap_or_else(|| "not ready".into()),
        },
        "logged_out" => AgentRequest::LoggedOut,
        other => {
            return Err(ApiError::invalid(
                "state",
                "ready, not_ready or logged_out",
                other,
            ));
        }
    };
    match api.acd()?.set_state(&login, state).await {
        Ok(()) => {
            tracing::info!(agent = ?login, by = ?caller.user.login, state = ?change.state, "agent state set");
            Ok(axum::http::StatusCode::NO_CONTENT.into_response())
        }
        Err(Refused::UnknownAgent(_)) => Err(ApiError::NotFound(format!("no agent {login}"))),
        Err(e) => Err(ApiError::Conflict(e.to_string())),
    }
}

/// `PUT /api/v1/agents/{login}/mode` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(as = AgentModeChange)]
#[serde(deny_unknown_fields)]
pub struct ModeChange {
    /// `online` (calls only), `offline` (written items only) or `blended` (calls first,
    /// an item when idle).
    pub mode: String,
}

/// Whether `user` may steer `login`: themselves, admins, and supervisors of a queue `login`
/// serves (`queues`: `login`'s queues; `supervised`: `None` for the whole site).
fn steers(user: &crm::User, login: &str, queues: &[String], supervised: Option<&[String]>) -> bool {
    user.login == login
        || user.role == Role::Admin
        || (user.role == Role::Supervisor
            && supervised.is_none_or(|s| queues.iter().any(|q| s.contains(q))))
}

/// `PUT /api/v1/agents/{login}/mode`: 204, or 403, 404 (unknown agent), 422.
#[utoipa::path(
    put,
    operation_id = "agents_set_mode",
    path = "/api/v1/agents/{login}/mode",
    tag = "acd",
    summary = "Set how an agent works: online, offline or blended (their own; a supervisor of their queues; admins)",
    params(("login" = String, Path, description = "the agent's login")),
    request_body = ModeChange,
    responses(
        (status = 204, description = "mode set"),
        (status = 401, response = crate::api::schema::Unauthorized),
        (status = 403, response = crate::api::schema::Forbidden),
        (status = 404, response = crate::api::schema::NotFound),
        (status = 409, description = "the ACD refuses the change", body = crate::api::schema::Problem, content_type = "application/problem+json"),
        (status = 422, response = crate::api::schema::Invalid),
        (status = 503, response = crate::api::schema::Unavailable),
    )
)]
pub async fn set_mode(
    State(api): State<Api>,
    caller: Caller,
    ApiPath(login): ApiPath<String>,
    ApiJson(change): ApiJson<ModeChange>,
) -> ApiResult<Response> {
    let Some(mode) = events::AgentMode::parse(&change.mode) else {
        return Err(ApiError::invalid(
            "mode",
            "online, offline or blended",
            &change.mode,
        ));
    };
    if login != caller.user.login {
        let view = live_view(&api).await?;
        let queues = view.queues_of(&login);
        let supervised = supervised_queues(&api, &caller.user).await?;
        if !steers(&caller.user, &login, &queues, supervised.as_deref()) {
            return Err(ApiError::Forbidden(format!(
                "{} may set only their own mode or that of an agent of a queue they supervise, not {login}'s",
                caller.user.login
            )));
        }
    }
    match api.acd()?.set_mode(&login, mode).await {
        Ok(()) => {
            tracing::info!(agent = ?login, by = ?caller.user.login, mode = mode.as_str(), "agent mode set");
            Ok(axum::http::StatusCode::NO_CONTENT.into_response())
        }
        Err(Refused::UnknownAgent(_)) => Err(ApiError::NotFound(format!("no agent {login}"))),
        Err(e) => Err(ApiError::Conflict(e.to_string())),
    }
}

/// The queues `user` supervises: a supervisor granted queues explicitly supervises those;
/// one with no grant of their own (they read every queue) supervises the whole site (`None`).
async fn supervised_queues(api: &Api, user: &crm::User) -> ApiResult<Option<Vec<String>>> {
    if user.role != Role::Supervisor {
        return Ok(Some(Vec::new()));
    }
    let grants = api.store().site_user(&user.login).await?.permissions;
    Ok((!grants.is_empty()).then(|| grants.into_iter().map(|(queue, _)| queue).collect()))
}

/// `GET /api/v1/queues`.
#[utoipa::path(
    get,
    operation_id = "agents_queues",
    path = "/api/v1/queues",
    tag = "acd",
    summary = "Live queue figures (an agent sees the queues they serve)",
    responses(
        (status = 200, description = "the queues", body = Vec<QueueJson>),
        (status = 401, response = crate::api::schema::Unauthorized),
        (status = 503, response = crate::api::schema::Unavailable),
    )
)]
pub async fn queues(State(api): State<Api>, caller: Caller) -> ApiResult<Response> {
    Ok(axum::Json(queues_for(&api, &caller.user).await?).into_response())
}

/// The ACD queues `user` may see: every one for supervisors and admins, those they serve
/// otherwise (also the event stream's snapshot).
pub async fn queues_for(api: &Api, user: &crm::User) -> ApiResult<Vec<QueueJson>> {
    let snapshot = live_view(api).await?;
    let mine = snapshot.queues_of(&user.login);
    // Live figures from the ACD, today's counters from the event log (they survive a restart).
    let today = api.figures().today(api.now());
    let queues: Vec<QueueJson> = snapshot
        .queues
        .into_iter()
        .filter(|q| oversees(user) || mine.contains(&q.name))
        .map(|q| {
            let waiting = q.waiting + q.ringing;
            let day = today.queue(&q.name);
            QueueJson {
                load: (q.agents.available > 0).then(|| waiting as f64 / q.agents.available as f64),
                name: q.name,
                waiting,
                ringing: q.ringing,
                oldest_wait_s: q.oldest_wait.map_or(0.0, |d| d.as_secs_f64()),
                agents: AgentsByState {
                    logged_out: q.agents.logged_out,
                    ready: q.agents.ready,
                    ringing: q.agents.ringing,
                    talking: q.agents.talking,
                    wrap_up: q.agents.wrap_up,
                    not_ready: q.agents.not_ready,
                    available: q.agents.available,
                },
                answered: day.answered,
                abandoned: day.abandoned,
                service_level: day.service_level(),
                expected_wait_s: q.expected_wait.as_secs_f64(),
                avg_answer_time_s: day.avg_answer_time_s(),
            }
        })
        .collect();
    Ok(queues)
}

/// `POST /api/v1/admin/reload` (admins): re-reads the configuration file like SIGHUP; calls in
/// progress finish on the tree they started with. 422 with every problem when the file is
/// invalid (nothing changes then).
#[utoipa::path(
    post,
    operation_id = "agents_reload",
    path = "/api/v1/admin/reload",
    tag = "admin",
    summary = "Reload the configuration file (IVR tree, queues, agents) as SIGHUP does",
    responses(
        (status = 200, description = "reloaded", body = crate::api::schema::Reloaded),
        (status = 401, response = crate::api::schema::Unauthorized),
        (status = 403, response = crate::api::schema::Forbidden),
        (status = 422, description = "the file is invalid: every problem, nothing changed", body = crate::api::schema::Problem, content_type = "application/problem+json"),
        (status = 503, response = crate::api::schema::Unavailable),
    )
)]
pub async fn reload(State(api): State<Api>, caller: Caller) -> ApiResult<Response> {
    if caller.user.role != Role::Admin {
        return Err(ApiError::Forbidden(format!(
            "only admins reload the configuration, not {}",
            caller.user.login
        )));
    }
    let hook = api
        .config()
        .reload
        .clone()
        .ok_or_else(|| ApiError::Unavailable("no configuration file to reload".into()))?;
    match tokio::task::spawn_blocking(move || (hook.0)()).await {
        Ok(Ok(summary)) => {
            tracing::info!(by = ?caller.user.login, "configuration reloaded through the API");
            Ok(axum::Json(serde_json::json!({"reloaded": summary})).into_response())
        }
        Ok(Err(problems)) => Err(ApiError::Invalid(problems)),
        Err(e) => Err(ApiError::Unavailable(format!("reload failed: {e}"))),
    }
}
