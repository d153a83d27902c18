//! Blended routing's items at the agent's desk (R-ACD-5): `POST /api/v1/items/{number}/accept`,
//! `…/decline`, `…/done`.
//!
//! An item is a written ticket (e-mail, web, voicemail, fax) the ACD offers to one agent
//! (`item.offered` on the event stream). Only that agent acts on it:
//! - **accept**: the agent takes it: the ticket is locked to them (they become its owner)
//!   and they are busy with it (no call, no other item) until done;
//! - **decline**: it goes back to its place for another agent (the ACD does not offer it to
//!   this agent again);
//! - **done**: the agent is free again. Closing the ticket, setting it pending, merging it
//!   or handing it to someone else ends the item too (the ACD follows the CRM).

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use crm::Access;
use events::live::{ItemStep, Refused};

use super::agents::live_view;
use super::auth::ApiPath;
use super::error::{ApiError, ApiResult};
use super::{Api, Caller, ticket_events};

/// Checks that item `number` is the caller's (offered to or held by them): 404 when no one
/// has it, 403 when another agent has it.
async fn mine(api: &Api, caller: &Caller, number: &str) -> ApiResult<()> {
    let view = live_view(api).await?;
    let holder = view
        .agents
        .iter()
        .find(|a| a.item.as_ref().is_some_and(|(n, _)| n == number));
    match holder {
        Some(a) if a.login == caller.user.login => Ok(()),
        Some(_) => Err(ApiError::Forbidden(format!(
            "item {number} is offered to another agent, not to {}",
            caller.user.login
        ))),
        None => Err(ApiError::NotFound(format!(
            "no item {number} is offered to or held by {}",
            caller.user.login
        ))),
    }
}

async fn step(api: &Api, caller: &Caller, number: &str, step: ItemStep) -> ApiResult<()> {
    match api.acd()?.item(&caller.user.login, number, step).await {
        Ok(()) => {
            tracing::info!(item = number, agent = ?caller.user.login, ?step, "item step");
            Ok(())
        }
        Err(Refused::UnknownItem(_)) => Err(ApiError::NotFound(format!("no item {number}"))),
        Err(Refused::UnknownAgent(login)) => Err(ApiError::NotFound(format!(
            "{login} is not an agent of the ACD"
        ))),
        Err(e) => Err(ApiError::Conflict(e.to_string())),
    }
}

/// `POST /api/v1/items/{number}/accept`.
#[utoipa::path(
    post,
    operation_id = "items_accept",
    path = "/api/v1/items/{number}/accept",
    tag = "acd",
    summary = "Accept the item offered to you: the ticket is locked to you until you finish it",
    params(("number" = String, Path, description = "the ticket number")),
    responses(
        (status = 204, description = "accepted; the ticket is yours"),
        (status = 401, response = crate::api::schema::Unauthorized),
        (status = 403, response = crate::api::schema::Forbidden),
        (status = 404, response = crate::api::schema::NotFound),
        (status = 409, description = "the ACD refuses (the item is not offered to you any more)", body = crate::api::schema::Problem, content_type = "application/problem+json"),
        (status = 503, response = crate::api::schema::Unavailable),
    )
)]
pub async fn accept(
    State(api): State<Api>,
    caller: Caller,
    ApiPath(number): ApiPath<String>,
) -> ApiResult<Response> {
    mine(&api, &caller, &number).await?;
    let before = api.store().ticket_by_number(&number).await?;
    caller.require_ticket(&api, &before, Access::Write).await?;
    step(&api, &caller, &number, ItemStep::Accept).await?;
    // Taken in charge: the agent owns the ticket (the ACD keeps the item theirs).
    match api
        .store()
        .act(before.id, caller.actor(), crm::Action::Lock, api.now())
        .await
    {
        Ok(after) => {
            ticket_events::updated(&api, &caller.user, &before, &after, Vec::new()).await?
        }
        Err(error) => {
            tracing::warn!(%error, item = %number, "accepted item: the ticket could not be locked")
        }
    }
    Ok(axum::http::StatusCode::NO_CONTENT.into_response())
}

/// `POST /api/v1/items/{number}/decline`.
#[utoipa::path(
    post,
    operation_id = "items_decline",
    path = "/api/v1/items/{number}/decline",
    tag = "acd",
    summary = "Decline the item offered to you: it waits for another agent",
    params(("number" = String, Path, description = "the ticket number")),
    responses(
        (status = 204, description = "declined"),
        (status = 401, response = crate::api::schema::Unauthorized),
        (status = 403, response = crate::api::schema::Forbidden),
        (status = 404, response = crate::api::schema::NotFound),
        (status = 409, description = "the ACD refuses (already accepted, or not offered any more)", body = crate::api::schema::Problem, content_type = "application/problem+json"),
        (status = 503, response = crate::api::schema::Unavailable),
    )
)]
pub async fn decline(
    State(api): State<Api>,
    caller: Caller,
    ApiPath(number): ApiPath<String>,
) -> ApiResult<Response> {
    mine(&api, &caller, &number).await?;
    step(&api, &caller, &number, ItemStep::Decline).await?;
    Ok(axum::http::StatusCode::NO_CONTENT.into_response())
}

/// `POST /api/v1/items/{number}/done`.
#[utoipa::path(
    post,
    operation_id = "items_done",
    path = "/api/v1/items/{number}/done",
    tag = "acd",
    summary = "Finish the item you accepted: you are free for the next call or item",
    params(("number" = String, Path, description = "the ticket number")),
    responses(
        (status = 204, description = "done; the agent is free"),
        (status = 401, response = crate::api::schema::Unauthorized),
        (status = 403, response = crate::api::schema::Forbidden),
        (status = 404, response = crate::api::schema::NotFound),
        (status = 409, description = "the ACD refuses (the item was not accepted)", body = crate::api::schema::Problem, content_type = "application/problem+json"),
        (status = 503, response = crate::api::schema::Unavailable),
    )
)]
pub async fn done(
    State(api): State<Api>,
    caller: Caller,
    ApiPath(number): ApiPath<String>,
) -> ApiResult<Response> {
    mine(&api, &caller, &number).await?;
    step(&api, &caller, &number, ItemStep::Done).await?;
    Ok(axum::http::StatusCode::NO_CONTENT.into_response())
}
