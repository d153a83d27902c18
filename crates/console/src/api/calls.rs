//! Call cards (CONTRACT.md): by our call id or by SIP Call-ID. Agents see their own calls
//! and calls of queues they may read; supervisors and admins see all.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use crm::CallRecord;
use serde::Deserialize;

use super::auth::{ApiJson, ApiPath, ApiQuery};
use super::error::{ApiError, ApiResult};
use super::policy::{Capability, role_allows};
use super::views::Names;
use super::{Api, Caller};

async fn card(api: &Api, caller: &Caller, call: &CallRecord) -> ApiResult<Response> {
    caller.require_call(api, call).await?;
    let mut names = Names::new(api).await?;
    let mut card = names.call(call).await?;
    // A caller who withheld the number (trusted trunk, `Privacy: id`): the number stays on
    // the card for those who read every call (supervisors, administrators), not for agents.
    if call.ivr_path.iter().any(|s| s == events::WITHHELD_STEP)
        && !role_allows(caller.user.role, Capability::ReadAllCalls)
    {
        card["caller"] = events::ANONYMOUS_CALLER.into();
    }
    Ok(axum::Json(card).into_response())
}

/// `GET /api/v1/calls/{call_id}`.
#[utoipa::path(
    get,
    operation_id = "calls_show",
    path = "/api/v1/calls/{call_id}",
    tag = "calls",
    summary = "The call card",
    params(("call_id" = String, Path, description = "our call id")),
    responses(
        (status = 200, description = "the call card", body = crate::api::schema::CallCard),
        (status = 401, response = crate::api::schema::Unauthorized),
        (status = 403, response = crate::api::schema::Forbidden),
        (status = 404, response = crate::api::schema::NotFound),
    )
)]
pub async fn show(
    State(api): State<Api>,
    caller: Caller,
    ApiPath(call_id): ApiPath<String>,
) -> ApiResult<Response> {
    let call = call_card(&api, &call_id).await?;
    card(&api, &caller, &call).await
}

/// `GET /api/v1/calls` parameters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CallQuery {
    /// The SIP Call-ID (RFC 3261 §8.1.1.4).
    pub sip_call_id: String,
}

/// `GET /api/v1/calls?sip_call_id=…`: the call card of that SIP dialog.
#[utoipa::path(
    get,
    operation_id = "calls_by_sip_call_id",
    path = "/api/v1/calls",
    tag = "calls",
    summary = "The call card by SIP Call-ID",
    params(CallQuery),
    responses(
        (status = 200, description = "the call card", body = crate::api::schema::CallCard),
        (status = 401, response = crate::api::schema::Unauthorized),
        (status = 403, response = crate::api::schema::Forbidden),
        (status = 404, response = crate::api::schema::NotFound),
        (status = 422, response = crate::api::schema::Invalid),
    )
)]
pub async fn by_sip_call_id(
    State(api): State<Api>,
    caller: Caller,
    ApiQuery(q): ApiQuery<CallQuery>,
) -> ApiResult<Response> {
    let call = api
        .store()
        .call_by_sip_call_id(&q.sip_call_id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no call with SIP Call-ID {}", q.sip_call_id)))?;
    card(&api, &caller, &call).await
}

/// `POST /api/v1/calls/{call_id}/transfer` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Transfer {
    /// The queue the caller goes to (a second-level queue, R-ACD-6).
    pub queue: String,
    /// Why: written on the Service Request with the hop.
    #[serde(default)]
    pub note: Option<String>,
}

/// `POST /api/v1/calls/{call_id}/transfer`: the agent in conversation (or a supervisor) sends
/// the caller, with the Service Request, to another queue (R-ACD-6). The ACD re-queues the call
/// and puts the agent in wrap-up; the ticket is assigned to the queue with the note in its
/// history. 409 when the call is not in conversation.
#[utoipa::path(
    post,
    operation_id = "calls_transfer",
    path = "/api/v1/calls/{call_id}/transfer",
    tag = "calls",
    summary = "Transfer a call in conversation, with its Service Request, to another queue (R-ACD-6)",
    params(("call_id" = String, Path, description = "our call id")),
    request_body = Transfer,
    responses(
        (status = 200, description = "transferred", body = crate::api::schema::Transferred),
        (status = 401, response = crate::api::schema::Unauthorized),
        (status = 403, response = crate::api::schema::Forbidden),
        (status = 404, response = crate::api::schema::NotFound),
        (status = 409, description = "the call is not in conversation", body = crate::api::schema::Problem, content_type = "application/problem+json"),
        (status = 422, response = crate::api::schema::Invalid),
        (status = 503, response = crate::api::schema::Unavailable),
    )
)]
pub async fn transfer(
    State(api): State<Api>,
    caller: Caller,
    ApiPath(call_id): ApiPath<String>,
    ApiJson(body): ApiJson<Transfer>,
) -> ApiResult<Response> {
    let call = call_card(&api, &call_id).await?;
    let snapshot = super::agents::live_view(&api).await?;
    let talking_with = snapshot.agent_on_call(&call_id).map(|a| a.login.clone());
    if talking_with.as_deref() != Some(caller.user.login.as_str())
        && !super::agents::oversees(&caller.user)
    {
        return Err(ApiError::Forbidden(format!(
            "only the agent on call {call_id} (or a supervisor) may transfer it"
        )));
    }
    let target = super::lookup::queue_named(&api, &body.queue).await?;
    // The ticket first: if the caller may not move it, nothing happens to the call.
    let ticket = match call.ticket {
        Some(id) => {
            let t = api.store().ticket(id).await?;
            caller.require_ticket(&api, &t, crm::Access::Write).await?;
            Some(t)
        }
        None => None,
    };
    api.acd()?
        .transfer(&call_id, &body.queue)
        .await
        .map_err(|e| ApiError::Conflict(e.to_string()))?;
    let now = api.now();
    let moved = match ticket {
        Some(t) => Some(
            api.store()
                .assign_second_level(t.id, target, caller.actor(), body.note.as_deref(), now)
                .await?,
        ),
        None => None,
    };
    tracing::info!(call = ?call_id, to = ?body.queue, by = ?caller.user.login, "call transferred");
    Ok(axum::Json(serde_json::json!({
        "call_id": call_id,
        "queue": body.queue,
        "ticket": moved.map(|t| t.number),
    }))
    .into_response())
}

/// `POST /api/v1/calls/{call_id}/hold` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Hold {
    /// `true` holds the caller (hold music), `false` resumes the conversation.
    pub held: bool,
}

/// `POST /api/v1/calls/{call_id}/hold`: the agent in conversation holds or resumes the caller
/// from the desktop, as a phone's hold key does (the browser phone's hold button): the caller
/// hears the hold music meanwhile. 409 when the call is not in conversation.
#[utoipa::path(
    post,
    operation_id = "calls_hold",
    path = "/api/v1/calls/{call_id}/hold",
    tag = "calls",
    summary = "Hold or resume the caller of a call in conversation (the agent, or a supervisor)",
    params(("call_id" = String, Path, description = "our call id")),
    request_body = Hold,
    responses(
        (status = 200, description = "held or resumed", body = crate::api::schema::HoldState),
        (status = 401, response = crate::api::schema::Unauthorized),
        (status = 403, response = crate::api::schema::Forbidden),
        (status = 404, response = crate::api::schema::NotFound),
        (status = 409, description = "the call is not in conversation", body = crate::api::schema::Problem, content_type = "application/problem+json"),
        (status = 422, response = crate::api::schema::Invalid),
        (status = 503, response = crate::api::schema::Unavailable),
    )
)]
pub async fn hold(
    State(api): State<Api>,
    caller: Caller,
    ApiPath(call_id): ApiPath<String>,
    ApiJson(body): ApiJson<Hold>,
) -> ApiResult<Response> {
    call_card(&api, &call_id).await?;
    let snapshot = super::agents::live_view(&api).await?;
    let Some(agent) = snapshot.agent_on_call(&call_id).map(|a| a.login.clone()) else {
        return Err(ApiError::Conflict(format!(
            "call {call_id} is not in conversation with an agent"
        )));
    };
    if agent != caller.user.login && !super::agents::oversees(&caller.user) {
        return Err(ApiError::Forbidden(format!(
            "only the agent on call {call_id} (or a supervisor) may hold it"
        )));
    }
    api.acd()?
        .hold(&call_id, body.held)
        .await
        .map_err(|e| ApiError::Conflict(e.to_string()))?;
    tracing::info!(call = ?call_id, held = body.held, by = ?caller.user.login, "call hold");
    Ok(axum::Json(serde_json::json!({ "call_id": call_id, "held": body.held })).into_response())
}

/// The call card of `call_id`, 404 when there is none.
async fn call_card(api: &Api, call_id: &str) -> ApiResult<crm::calls::CallRecord> {
    match api.store().call(call_id).await {
        Ok(c) => Ok(c),
        Err(crm::Error::NotFound { .. }) => {
            Err(ApiError::NotFound(format!("no call with id {call_id}")))
        }
        Err(e) => Err(e.into()),
    }
}
