//! Call cards (CONTRACT.md): by our call id or by SIP Call-ID. Agents see their own calls
//! and calls of queues they may read; supervisors and admins see all.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use crm::CallRecord;
use serde::Deserialize;

use super::auth::{ApiPath, ApiQuery};
use super::error::{ApiError, ApiResult};
use super::views::Names;
use super::{Api, Caller};

async fn card(api: &Api, caller: &Caller, call: &CallRecord) -> ApiResult<Response> {
    caller.require_call(api, call).await?;
    let mut names = Names::new(api).await?;
    Ok(axum::Json(names.call(call).await?).into_response())
}

/// `GET /api/v1/calls/{call_id}`.
pub async fn show(
    State(api): State<Api>,
    caller: Caller,
    ApiPath(call_id): ApiPath<String>,
) -> ApiResult<Response> {
    let call = match api.store().call(&call_id).await {
        Ok(c) => c,
        Err(crm::Error::NotFound { .. }) => {
            return Err(ApiError::NotFound(format!("no call with id {call_id}")));
        }
        Err(e) => return Err(e.into()),
    };
    card(&api, &caller, &call).await
}

/// `GET /api/v1/calls` parameters.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallQuery {
    /// The SIP Call-ID (RFC 3261 §8.1.1.4).
    pub sip_call_id: String,
}

/// `GET /api/v1/calls?sip_call_id=…`: the call card of that SIP dialog.
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
