//! An operator's notification choices (issue 16, R-SR-9):
//! `GET|PUT /api/v1/users/{login}/notifications`, the operator's own or, for admins, anyone's.
//! What is told and when: [`crate::notify`].

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use crm::{Actor, NotificationPrefs, Role};
use events::NoticeKind;
use serde::{Deserialize, Serialize};

use super::auth::{ApiJson, ApiPath};
use super::error::{ApiError, ApiResult};
use super::{Api, Caller};

/// An operator's notification choices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Notifications {
    /// What to be told of: `created` (a new ticket in a followed queue), `customer_update`
    /// (the citizen wrote again), `reminder` (a pending reminder due), `note` (a note was
    /// added), `queue_move` (a ticket moved into a followed queue). Empty: nothing.
    pub kinds: Vec<NoticeKind>,
    /// The queues followed, by name (queues the operator may read); tickets the operator
    /// owns are followed wherever they are.
    pub queues: Vec<String>,
    /// Live on the desktop.
    pub desktop: bool,
    /// By e-mail, to `address`.
    pub email: bool,
    /// Where e-mail notifications go.
    #[serde(default)]
    pub address: Option<String>,
}

impl From<NotificationPrefs> for Notifications {
    fn from(p: NotificationPrefs) -> Self {
        Notifications {
            kinds: p.kinds,
            queues: p.queues,
            desktop: p.on_desktop,
            email: p.by_email,
            address: p.address,
        }
    }
}

/// The operator `login` names, if `caller` may see and change their choices.
async fn target(api: &Api, caller: &Caller, login: &str) -> ApiResult<crm::User> {
    if caller.user.login != login && caller.user.role != Role::Admin {
        return Err(ApiError::Forbidden(format!(
            "{} may read and change only their own notifications, not {login}'s",
            caller.user.login
        )));
    }
    api.store()
        .user_by_login(login)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no user {login}")))
}

/// `GET /api/v1/users/{login}/notifications`.
#[utoipa::path(
    get,
    operation_id = "notifications_show",
    path = "/api/v1/users/{login}/notifications",
    tag = "notifications",
    summary = "An operator's notification choices (their own; admins: anyone's)",
    params(("login" = String, Path, description = "the operator's login")),
    responses(
        (status = 200, description = "the choices (none made: no kinds)", body = Notifications),
        (status = 401, response = crate::api::schema::Unauthorized),
        (status = 403, response = crate::api::schema::Forbidden),
        (status = 404, response = crate::api::schema::NotFound),
    )
)]
pub async fn show(
    State(api): State<Api>,
    caller: Caller,
    ApiPath(login): ApiPath<String>,
) -> ApiResult<Response> {
    let user = target(&api, &caller, &login).await?;
    let prefs = api.store().notification_prefs(user.id).await?;
    Ok(axum::Json(Notifications::from(prefs)).into_response())
}

/// `PUT /api/v1/users/{login}/notifications`.
#[utoipa::path(
    put,
    operation_id = "notifications_set",
    path = "/api/v1/users/{login}/notifications",
    tag = "notifications",
    summary = "Replace an operator's notification choices (their own; admins: anyone's)",
    params(("login" = String, Path, description = "the operator's login")),
    request_body = Notifications,
    responses(
        (status = 200, description = "the choices as stored", body = Notifications),
        (status = 401, response = crate::api::schema::Unauthorized),
        (status = 403, response = crate::api::schema::Forbidden),
        (status = 404, response = crate::api::schema::NotFound),
        (status = 422, response = crate::api::schema::Invalid),
    )
)]
pub async fn set(
    State(api): State<Api>,
    caller: Caller,
    ApiPath(login): ApiPath<String>,
    ApiJson(body): ApiJson<Notifications>,
) -> ApiResult<Response> {
    let user = target(&api, &caller, &login).await?;
    if body.queues.len() > 1000 {
        return Err(ApiError::invalid(
            "queues",
            "at most 1000 queues",
            body.queues.len(),
        ));
    }
    let prefs = NotificationPrefs {
        kinds: body.kinds,
        queues: body.queues,
        address: body.address,
        by_email: body.email,
        on_desktop: body.desktop,
    };
    let stored = api
        .store()
        .set_notification_prefs(user.id, &prefs, Actor::User(caller.user.id), api.now())
        .await?;
    tracing::info!(user = %login, by = %caller.user.login, kinds = stored.kinds.len(), queues = stored.queues.len(), "notification choices set");
    Ok(axum::Json(Notifications::from(stored)).into_response())
}
