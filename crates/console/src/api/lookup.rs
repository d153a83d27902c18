//! Looking up what a request names (a queue, an operator, a ticket), with the API's answers
//! for names that do not exist. Shared by the ticket routes ([`super::tickets`],
//! [`super::ticket_actions`]) and the call routes; it imports none of them.

use crm::{Access, QueueId, Ticket, User};

use super::Api;
use super::error::{ApiError, ApiResult};

/// A queue id by name; unknown is 422 (a value in the request, not the resource).
pub(crate) async fn queue_named(api: &Api, name: &str) -> ApiResult<QueueId> {
    api.store()
        .queue_by_name(name)
        .await?
        .ok_or_else(|| ApiError::invalid("queue", "the name of an existing queue", name))
}

/// A user by login; unknown is 422.
pub(crate) async fn user_named(api: &Api, login: &str) -> ApiResult<User> {
    api.store()
        .user_by_login(login)
        .await?
        .ok_or_else(|| ApiError::invalid("user", "the login of an existing operator", login))
}

/// A user who may become owner or responsible in `queue`: one with write access there.
pub(crate) async fn assignee(api: &Api, login: &str, queue: QueueId) -> ApiResult<User> {
    let user = user_named(api, login).await?;
    if api.store().queue_access(user.id, queue).await? != Some(Access::Write) {
        let name = api.store().queue(queue).await?.name;
        return Err(ApiError::Invalid(format!(
            "invalid assignee: expected an operator with write access to queue {name}, got `{login}`"
        )));
    }
    Ok(user)
}

/// The ticket with this number (404 when none).
pub(crate) async fn load(api: &Api, number: &str) -> ApiResult<Ticket> {
    match api.store().ticket_by_number(number).await {
        Ok(t) => Ok(t),
        Err(crm::Error::NotFound { .. }) => {
            Err(ApiError::NotFound(format!("no ticket numbered {number}")))
        }
        Err(e) => Err(e.into()),
    }
}
