//! Actions on a Service Request (R-SR-3, R-SR-5, R-SR-8, R-SR-11). Each needs write access
//! to the ticket's queue; the store's life-cycle refusals come back as 409.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use chrono::{DateTime, Utc};
use crm::{
    Access, Action, ArticleKind, NewArticle, NewAttachment, Priority, State as TicketState, Ticket,
    TicketType,
};
use serde::Deserialize;

use super::auth::{ApiJson, ApiPath};
use super::error::{ApiError, ApiResult};
use super::lookup::{assignee, load, queue_named};
use super::policy::Capability;
use super::ticket_events;
use super::views::Names;
use super::{Api, Caller};

/// An attachment in a request: its bytes in standard base64 (RFC 4648 §4).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttachmentBody {
    /// File name.
    pub filename: String,
    /// MIME type.
    pub content_type: String,
    /// Content, base64.
    pub content_base64: String,
}

/// An article in a request.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ArticleBody {
    /// Kind (default `note`).
    pub kind: Option<ArticleKind>,
    /// Visible to the customer (default: notes no, other kinds yes).
    pub customer_visible: Option<bool>,
    /// Sender (default: the operator's name).
    pub sender: Option<String>,
    /// Subject.
    pub subject: String,
    /// Body.
    pub body: String,
    /// Attachments.
    #[serde(default)]
    pub attachments: Vec<AttachmentBody>,
}

impl ArticleBody {
    /// The store's article, written by `caller`.
    pub fn into_new(self, caller: &Caller) -> ApiResult<NewArticle> {
        let sender = self.sender.unwrap_or_else(|| caller.user.full_name.clone());
        let mut a = NewArticle::new(
            self.kind.unwrap_or(ArticleKind::Note),
            sender,
            self.subject,
            self.body,
        );
        if let Some(v) = self.customer_visible {
            a.customer_visible = v;
        }
        for x in self.attachments {
            let content = base64::engine::general_purpose::STANDARD
                .decode(x.content_base64.as_bytes())
                .map_err(|e| {
                    ApiError::invalid("attachment content", "standard base64", e.to_string())
                })?;
            a.attachments.push(NewAttachment {
                filename: x.filename,
                content_type: x.content_type,
                content,
            });
        }
        Ok(a)
    }
}

/// The ticket, if the caller may write its queue.
async fn writable(api: &Api, caller: &Caller, number: &str) -> ApiResult<Ticket> {
    let t = load(api, number).await?;
    caller.require_ticket(api, &t, Access::Write).await?;
    Ok(t)
}

async fn view(api: &Api, t: &Ticket) -> ApiResult<Response> {
    let mut names = Names::new(api).await?;
    Ok(axum::Json(names.ticket(t).await?).into_response())
}

/// Applies one life-cycle action and answers with the ticket.
async fn act(api: &Api, caller: &Caller, number: &str, action: Action) -> ApiResult<Response> {
    let before = writable(api, caller, number).await?;
    let closing = matches!(action, Action::Close { .. }) && !before.state.is_closed();
    let t = api
        .store()
        .act(before.id, caller.actor(), action, api.now())
        .await?;
    if closing && let Some(call_id) = &t.call_id {
        let value = closed_at_first_contact(api, &caller.user.login, call_id).await;
        api.store()
            .judge_first_contact(t.id, value, caller.actor(), api.now())
            .await?;
    }
    ticket_events::updated(api, &caller.user, &before, &t, Vec::new()).await?;
    view(api, &t).await
}

/// Resolved at first contact (SLA.C.4), judged when a ticket opened by call `call_id` is
/// closed by `closer`: the call record names `closer` as the agent who took it, and the
/// ACD shows `closer` now talking on that call, or in the wrap-up after it (the call has
/// ended). Anything else, or an ACD or database that does not answer, is `false`; the
/// operator or a supervisor can correct it (`PUT …/first-contact`).
async fn closed_at_first_contact(api: &Api, closer: &str, call_id: &str) -> bool {
    let Ok(call) = api.store().call(call_id).await else {
        return false;
    };
    let live = match api.acd() {
        Ok(acd) => acd.view().await,
        Err(_) => None,
    };
    let agent = live
        .as_ref()
        .and_then(|v| v.agents.iter().find(|a| a.login == closer));
    first_contact_rule(
        closer,
        call_id,
        call.agent.as_deref(),
        call.ended.is_some(),
        agent,
    )
}

/// [`closed_at_first_contact`]'s rule, pure.
pub(crate) fn first_contact_rule(
    closer: &str,
    call_id: &str,
    call_agent: Option<&str>,
    call_ended: bool,
    live: Option<&events::live::AgentLive>,
) -> bool {
    if call_agent != Some(closer) {
        return false;
    }
    match live.map(|a| (a.status, a.current_call.as_deref())) {
        Some((events::AgentStatus::Talking, Some(current))) => current == call_id,
        Some((events::AgentStatus::WrapUp, _)) => call_ended,
        _ => false,
    }
}

/// `PUT …/first-contact` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FirstContactChange {
    /// Resolved at first contact.
    pub first_contact: bool,
}

/// The first-contact flag of a ticket.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct FirstContactView {
    /// `null` until judged (at closing) or corrected.
    pub first_contact: Option<bool>,
    /// Set by a person's correction rather than at closing.
    pub corrected: bool,
    /// Who judged or corrected it (a login).
    pub by: Option<String>,
    pub at: Option<DateTime<Utc>>,
}

/// The ticket's flag as the API shows it (also part of the ticket's full view).
pub(crate) async fn first_contact_of(api: &Api, t: &Ticket) -> ApiResult<FirstContactView> {
    let flag = api.store().first_contact(t.id).await?;
    let by = match flag.as_ref().and_then(|f| f.by) {
        Some(id) => Some(api.store().user(id).await?.login),
        None => None,
    };
    Ok(FirstContactView {
        first_contact: flag.as_ref().map(|f| f.first_contact),
        corrected: flag.as_ref().is_some_and(|f| f.corrected),
        by,
        at: flag.map(|f| f.at),
    })
}

async fn first_contact_view(api: &Api, t: &Ticket) -> ApiResult<Response> {
    Ok(axum::Json(first_contact_of(api, t).await?).into_response())
}

/// `GET /api/v1/tickets/{number}/first-contact`.
#[utoipa::path(
    get,
    operation_id = "ticket_actions_first_contact",
    path = "/api/v1/tickets/{number}/first-contact",
    tag = "tickets",
    summary = "Whether the ticket was resolved at first contact (SLA.C.4)",
    params(("number" = String, Path, description = "the ticket number")),
    responses(
        (status = 200, description = "the flag", body = FirstContactView),
        (status = 401, response = crate::api::schema::Unauthorized),
        (status = 403, response = crate::api::schema::Forbidden),
        (status = 404, response = crate::api::schema::NotFound),
    )
)]
pub async fn first_contact(
    State(api): State<Api>,
    caller: Caller,
    ApiPath(number): ApiPath<String>,
) -> ApiResult<Response> {
    let t = load(&api, &number).await?;
    caller.require_ticket(&api, &t, Access::Read).await?;
    first_contact_view(&api, &t).await
}

/// `PUT /api/v1/tickets/{number}/first-contact`: an operator's or supervisor's correction
/// (write access to the ticket's queue, as for closing); kept over later judgements.
#[utoipa::path(
    put,
    operation_id = "ticket_actions_set_first_contact",
    path = "/api/v1/tickets/{number}/first-contact",
    tag = "tickets",
    summary = "Correct the resolved-at-first-contact flag",
    params(("number" = String, Path, description = "the ticket number")),
    request_body = FirstContactChange,
    responses(
        (status = 200, description = "the flag after the correction", body = FirstContactView),
        (status = 401, response = crate::api::schema::Unauthorized),
        (status = 403, response = crate::api::schema::Forbidden),
        (status = 404, response = crate::api::schema::NotFound),
        (status = 422, response = crate::api::schema::Invalid),
    )
)]
pub async fn set_first_contact(
    State(api): State<Api>,
    caller: Caller,
    ApiPath(number): ApiPath<String>,
    ApiJson(body): ApiJson<FirstContactChange>,
) -> ApiResult<Response> {
    let t = writable(&api, &caller, &number).await?;
    api.store()
        .correct_first_contact(t.id, body.first_contact, caller.user.id, api.now())
        .await?;
    first_contact_view(&api, &t).await
}

/// `POST /api/v1/tickets/{number}/articles`: 201 with the article.
#[utoipa::path(
    post,
    operation_id = "ticket_actions_add_article",
    path = "/api/v1/tickets/{number}/articles",
    tag = "tickets",
    summary = "Add an article",
    params(("number" = String, Path, description = "the ticket number")),
    request_body = ArticleBody,
    responses(
        (status = 201, description = "the article", body = crate::api::schema::Article),
        (status = 401, response = crate::api::schema::Unauthorized),
        (status = 403, response = crate::api::schema::Forbidden),
        (status = 404, response = crate::api::schema::NotFound),
        (status = 409, response = crate::api::schema::LifecycleConflict),
        (status = 413, response = crate::api::schema::TooLarge),
        (status = 422, response = crate::api::schema::Invalid),
    )
)]
pub async fn add_article(
    State(api): State<Api>,
    caller: Caller,
    ApiPath(number): ApiPath<String>,
    ApiJson(body): ApiJson<ArticleBody>,
) -> ApiResult<Response> {
    let t = writable(&api, &caller, &number).await?;
    let article = body.into_new(&caller)?;
    let kind = article.kind;
    let id = api
        .store()
        .add_article(t.id, caller.actor(), article, api.now())
        .await?;
    // An article can change the state too (a new ticket opens on a reply).
    let after = api.store().ticket(t.id).await?;
    let added = vec![ticket_events::article(kind)];
    ticket_events::updated(&api, &caller.user, &t, &after, added).await?;
    let stored = api.store().articles(t.id).await?;
    let a = stored
        .iter()
        .find(|a| a.id == id)
        .ok_or_else(|| ApiError::NotFound(format!("article {id} vanished")))?;
    let mut names = Names::new(&api).await?;
    Ok((StatusCode::CREATED, axum::Json(names.article(a).await?)).into_response())
}

/// `PUT …/state` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StateChange {
    /// `open`, `pending_reminder`, `closed_successful` or `closed_unsuccessful`.
    pub state: TicketState,
    /// Reminder time, required with `pending_reminder` (RFC 3339).
    pub pending_until: Option<DateTime<Utc>>,
}

/// `PUT /api/v1/tickets/{number}/state`.
#[utoipa::path(
    put,
    operation_id = "ticket_actions_set_state",
    path = "/api/v1/tickets/{number}/state",
    tag = "tickets",
    summary = "Set the state (pending_until with pending_reminder)",
    params(("number" = String, Path, description = "the ticket number")),
    request_body = StateChange,
    responses(
        (status = 200, description = "the ticket after the action", body = crate::api::schema::Ticket),
        (status = 401, response = crate::api::schema::Unauthorized),
        (status = 403, response = crate::api::schema::Forbidden),
        (status = 404, response = crate::api::schema::NotFound),
        (status = 409, response = crate::api::schema::LifecycleConflict),
        (status = 422, response = crate::api::schema::Invalid),
    )
)]
pub async fn set_state(
    State(api): State<Api>,
    caller: Caller,
    ApiPath(number): ApiPath<String>,
    ApiJson(body): ApiJson<StateChange>,
) -> ApiResult<Response> {
    let action = match (body.state, body.pending_until) {
        (TicketState::PendingReminder, Some(until)) => Action::Pending { until },
        (TicketState::PendingReminder, None) => {
            return Err(ApiError::invalid(
                "pending_until",
                "a time with state pending_reminder",
                "nothing",
            ));
        }
        (_, Some(t)) => {
            return Err(ApiError::invalid(
                "pending_until",
                "no time unless the state is pending_reminder",
                t,
            ));
        }
        (TicketState::Open, None) => Action::Open,
        (TicketState::ClosedSuccessful, None) => Action::Close { successful: true },
        (TicketState::ClosedUnsuccessful, None) => Action::Close { successful: false },
        (s @ (TicketState::New | TicketState::Merged), None) => {
            return Err(ApiError::invalid(
                "state",
                "open, pending_reminder, closed_successful or closed_unsuccessful \
                 (merge through links)",
                s,
            ));
        }
    };
    act(&api, &caller, &number, action).await
}

/// `POST /api/v1/tickets/{number}/lock`: the caller takes the lock and becomes owner.
#[utoipa::path(
    post,
    operation_id = "ticket_actions_lock",
    path = "/api/v1/tickets/{number}/lock",
    tag = "tickets",
    summary = "Lock (the caller becomes owner)",
    params(("number" = String, Path, description = "the ticket number")),
    responses(
        (status = 200, description = "the ticket after the action", body = crate::api::schema::Ticket),
        (status = 401, response = crate::api::schema::Unauthorized),
        (status = 403, response = crate::api::schema::Forbidden),
        (status = 404, response = crate::api::schema::NotFound),
        (status = 409, response = crate::api::schema::LifecycleConflict),
        (status = 422, response = crate::api::schema::Invalid),
    )
)]
pub async fn lock(
    State(api): State<Api>,
    caller: Caller,
    ApiPath(number): ApiPath<String>,
) -> ApiResult<Response> {
    act(&api, &caller, &number, Action::Lock).await
}

/// `POST /api/v1/tickets/{number}/unlock`.
#[utoipa::path(
    post,
    operation_id = "ticket_actions_unlock",
    path = "/api/v1/tickets/{number}/unlock",
    tag = "tickets",
    summary = "Release the lock",
    params(("number" = String, Path, description = "the ticket number")),
    responses(
        (status = 200, description = "the ticket after the action", body = crate::api::schema::Ticket),
        (status = 401, response = crate::api::schema::Unauthorized),
        (status = 403, response = crate::api::schema::Forbidden),
        (status = 404, response = crate::api::schema::NotFound),
        (status = 409, response = crate::api::schema::LifecycleConflict),
        (status = 422, response = crate::api::schema::Invalid),
    )
)]
pub async fn unlock(
    State(api): State<Api>,
    caller: Caller,
    ApiPath(number): ApiPath<String>,
) -> ApiResult<Response> {
    act(&api, &caller, &number, Action::Unlock).await
}

/// `PUT …/owner` body: a login, or `null` to clear.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OwnerChange {
    /// The new owner's login.
    pub owner: Option<String>,
}

/// `PUT /api/v1/tickets/{number}/owner`: the new owner needs write access to the queue.
#[utoipa::path(
    put,
    operation_id = "ticket_actions_set_owner",
    path = "/api/v1/tickets/{number}/owner",
    tag = "tickets",
    summary = "Change the owner (null clears)",
    params(("number" = String, Path, description = "the ticket number")),
    request_body = OwnerChange,
    responses(
        (status = 200, description = "the ticket after the action", body = crate::api::schema::Ticket),
        (status = 401, response = crate::api::schema::Unauthorized),
        (status = 403, response = crate::api::schema::Forbidden),
        (status = 404, response = crate::api::schema::NotFound),
        (status = 409, response = crate::api::schema::LifecycleConflict),
        (status = 422, response = crate::api::schema::Invalid),
    )
)]
pub async fn set_owner(
    State(api): State<Api>,
    caller: Caller,
    ApiPath(number): ApiPath<String>,
    ApiJson(body): ApiJson<OwnerChange>,
) -> ApiResult<Response> {
    let t = writable(&api, &caller, &number).await?;
    let owner = match body.owner.as_deref() {
        Some(login) => Some(assignee(&api, login, t.queue).await?.id),
        None => None,
    };
    act(&api, &caller, &number, Action::SetOwner(owner)).await
}

/// `PUT …/responsible` body: a login, or `null` to clear.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResponsibleChange {
    /// The new responsible's login.
    pub responsible: Option<String>,
}

/// `PUT /api/v1/tickets/{number}/responsible`.
#[utoipa::path(
    put,
    operation_id = "ticket_actions_set_responsible",
    path = "/api/v1/tickets/{number}/responsible",
    tag = "tickets",
    summary = "Change the responsible (null clears)",
    params(("number" = String, Path, description = "the ticket number")),
    request_body = ResponsibleChange,
    responses(
        (status = 200, description = "the ticket after the action", body = crate::api::schema::Ticket),
        (status = 401, response = crate::api::schema::Unauthorized),
        (status = 403, response = crate::api::schema::Forbidden),
        (status = 404, response = crate::api::schema::NotFound),
        (status = 409, response = crate::api::schema::LifecycleConflict),
        (status = 422, response = crate::api::schema::Invalid),
    )
)]
pub async fn set_responsible(
    State(api): State<Api>,
    caller: Caller,
    ApiPath(number): ApiPath<String>,
    ApiJson(body): ApiJson<ResponsibleChange>,
) -> ApiResult<Response> {
    let t = writable(&api, &caller, &number).await?;
    let who = match body.responsible.as_deref() {
        Some(login) => Some(assignee(&api, login, t.queue).await?.id),
        None => None,
    };
    act(&api, &caller, &number, Action::SetResponsible(who)).await
}

/// How a queue change is meant (R-SR-11).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum QueueAction {
    /// Plain move: write access to both queues.
    #[default]
    Move,
    /// Pass to a second-level queue: write access to the current queue suffices.
    AssignSecondLevel,
    /// The second level sends it back with a reason, to `queue` or where it came from.
    Reject,
}

/// `PUT …/queue` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QueueChange {
    /// `move` (default), `assign_second_level` or `reject`.
    #[serde(default)]
    pub action: QueueAction,
    /// Target queue name (for `reject`: the suggested queue, optional).
    pub queue: Option<String>,
    /// Why (`assign_second_level`: optional note; `reject`: required reason).
    pub reason: Option<String>,
}

/// `PUT /api/v1/tickets/{number}/queue`: move, second-level assignment or rejection.
#[utoipa::path(
    put,
    operation_id = "ticket_actions_set_queue",
    path = "/api/v1/tickets/{number}/queue",
    tag = "tickets",
    summary = "Move, assign to second level, or reject the assignment",
    params(("number" = String, Path, description = "the ticket number")),
    request_body = QueueChange,
    responses(
        (status = 200, description = "the ticket after the action", body = crate::api::schema::Ticket),
        (status = 401, response = crate::api::schema::Unauthorized),
        (status = 403, response = crate::api::schema::Forbidden),
        (status = 404, response = crate::api::schema::NotFound),
        (status = 409, response = crate::api::schema::LifecycleConflict),
        (status = 422, response = crate::api::schema::Invalid),
    )
)]
pub async fn set_queue(
    State(api): State<Api>,
    caller: Caller,
    ApiPath(number): ApiPath<String>,
    ApiJson(body): ApiJson<QueueChange>,
) -> ApiResult<Response> {
    let now = api.now();
    let t = writable(&api, &caller, &number).await?;
    let target = match body.queue.as_deref() {
        Some(name) => Some(queue_named(&api, name).await?),
        None => None,
    };
    let need_target = || ApiError::invalid("queue", "a target queue name", "nothing");
    let store = api.store();
    let before = t.clone();
    let t = match body.action {
        QueueAction::Move => {
            let q = target.ok_or_else(need_target)?;
            caller.require_queue(&api, q, Access::Write).await?;
            store
                .act(t.id, caller.actor(), Action::Move(q), now)
                .await?
        }
        QueueAction::AssignSecondLevel => {
            let q = target.ok_or_else(need_target)?;
            let note = body.reason.as_deref();
            store
                .assign_second_level(t.id, q, caller.actor(), note, now)
                .await?
        }
        QueueAction::Reject => {
            caller.require(Capability::RejectAssignment)?;
            // A queue the rejecting operator names is their choice: they must write there
            // too, as for a move. Without one the ticket goes back where it was assigned
            // from, which the assigning operator chose.
            if let Some(q) = target {
                caller.require_queue(&api, q, Access::Write).await?;
            }
            let reason = body.reason.as_deref().unwrap_or("");
            store
                .reject_assignment(t.id, caller.actor(), reason, target, now)
                .await?
        }
    };
    ticket_events::updated(&api, &caller.user, &before, &t, Vec::new()).await?;
    view(&api, &t).await
}

/// `PUT …/priority` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PriorityChange {
    /// 1 (very low) to 5 (very high).
    pub priority: u8,
}

/// `PUT /api/v1/tickets/{number}/priority`.
#[utoipa::path(
    put,
    operation_id = "ticket_actions_set_priority",
    path = "/api/v1/tickets/{number}/priority",
    tag = "tickets",
    summary = "Change the priority",
    params(("number" = String, Path, description = "the ticket number")),
    request_body = PriorityChange,
    responses(
        (status = 200, description = "the ticket after the action", body = crate::api::schema::Ticket),
        (status = 401, response = crate::api::schema::Unauthorized),
        (status = 403, response = crate::api::schema::Forbidden),
        (status = 404, response = crate::api::schema::NotFound),
        (status = 409, response = crate::api::schema::LifecycleConflict),
        (status = 422, response = crate::api::schema::Invalid),
    )
)]
pub async fn set_priority(
    State(api): State<Api>,
    caller: Caller,
    ApiPath(number): ApiPath<String>,
    ApiJson(body): ApiJson<PriorityChange>,
) -> ApiResult<Response> {
    let p = Priority::new(body.priority)?;
    act(&api, &caller, &number, Action::SetPriority(p)).await
}

/// `PUT …/type` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TypeChange {
    /// The ticket type.
    #[serde(rename = "type")]
    pub ticket_type: TicketType,
}

/// `PUT /api/v1/tickets/{number}/type`.
#[utoipa::path(
    put,
    operation_id = "ticket_actions_set_type",
    path = "/api/v1/tickets/{number}/type",
    tag = "tickets",
    summary = "Change the type",
    params(("number" = String, Path, description = "the ticket number")),
    request_body = TypeChange,
    responses(
        (status = 200, description = "the ticket after the action", body = crate::api::schema::Ticket),
        (status = 401, response = crate::api::schema::Unauthorized),
        (status = 403, response = crate::api::schema::Forbidden),
        (status = 404, response = crate::api::schema::NotFound),
        (status = 409, response = crate::api::schema::LifecycleConflict),
        (status = 422, response = crate::api::schema::Invalid),
    )
)]
pub async fn set_type(
    State(api): State<Api>,
    caller: Caller,
    ApiPath(number): ApiPath<String>,
    ApiJson(body): ApiJson<TypeChange>,
) -> ApiResult<Response> {
    act(&api, &caller, &number, Action::SetType(body.ticket_type)).await
}

/// How two tickets are linked (R-SR-8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LinkKind {
    /// The other ticket becomes a child of this one.
    Child,
    /// This ticket becomes a child of the other.
    Parent,
    /// This ticket is merged into the other.
    MergeInto,
}

/// `POST …/links` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkRequest {
    /// `child`, `parent` or `merge_into`.
    pub kind: LinkKind,
    /// The other ticket's number.
    pub ticket: String,
}

/// `POST /api/v1/tickets/{number}/links`: needs write access to both tickets; answers
/// with this ticket.
#[utoipa::path(
    post,
    operation_id = "ticket_actions_link",
    path = "/api/v1/tickets/{number}/links",
    tag = "tickets",
    summary = "Link parent/child or merge into another ticket",
    params(("number" = String, Path, description = "the ticket number")),
    request_body = LinkRequest,
    responses(
        (status = 200, description = "the ticket after the action", body = crate::api::schema::Ticket),
        (status = 401, response = crate::api::schema::Unauthorized),
        (status = 403, response = crate::api::schema::Forbidden),
        (status = 404, response = crate::api::schema::NotFound),
        (status = 409, response = crate::api::schema::LifecycleConflict),
        (status = 422, response = crate::api::schema::Invalid),
    )
)]
pub async fn link(
    State(api): State<Api>,
    caller: Caller,
    ApiPath(number): ApiPath<String>,
    ApiJson(body): ApiJson<LinkRequest>,
) -> ApiResult<Response> {
    let now = api.now();
    let this = writable(&api, &caller, &number).await?;
    let other = match load(&api, &body.ticket).await {
        Err(ApiError::NotFound(_)) => {
            return Err(ApiError::invalid(
                "ticket",
                "the number of an existing ticket",
                &body.ticket,
            ));
        }
        r => r?,
    };
    caller.require_ticket(&api, &other, Access::Write).await?;
    let store = api.store();
    match body.kind {
        LinkKind::Child => {
            store
                .link_child(this.id, other.id, caller.actor(), now)
                .await?
        }
        LinkKind::Parent => {
            store
                .link_child(other.id, this.id, caller.actor(), now)
                .await?
        }
        LinkKind::MergeInto => {
            store.merge(this.id, other.id, caller.actor(), now).await?;
        }
    }
    let other_after = store.ticket(other.id).await?;
    ticket_events::updated(&api, &caller.user, &other, &other_after, Vec::new()).await?;
    let before = this;
    let this = store.ticket(before.id).await?;
    ticket_events::updated(&api, &caller.user, &before, &this, Vec::new()).await?;
    view(&api, &this).await
}

#[cfg(test)]
mod tests {
    use super::first_contact_rule;
    use events::AgentStatus;
    use events::live::AgentLive;

    fn agent(status: AgentStatus, call: Option<&str>) -> AgentLive {
        AgentLive {
            login: "a1".into(),
            status,
            reason: None,
            since: std::time::Instant::now(),
            registered: true,
            queues: vec!["cittadini".into()],
            current_call: call.map(str::to_string),
            mode: Default::default(),
            item: None,
        }
    }

    #[test]
    fn first_contact_is_the_taker_closing_during_the_call_or_its_wrap_up() {
        let talking = agent(AgentStatus::Talking, Some("c1"));
        assert!(first_contact_rule(
            "a1",
            "c1",
            Some("a1"),
            false,
            Some(&talking)
        ));
        // Talking, but on another call.
        let other = agent(AgentStatus::Talking, Some("c2"));
        assert!(!first_contact_rule(
            "a1",
            "c1",
            Some("a1"),
            true,
            Some(&other)
        ));
        // In the wrap-up after the call.
        let wrap = agent(AgentStatus::WrapUp, None);
        assert!(first_contact_rule(
            "a1",
            "c1",
            Some("a1"),
            true,
            Some(&wrap)
        ));
        // Someone else took the call.
        assert!(!first_contact_rule(
            "a1",
            "c1",
            Some("a2"),
            true,
            Some(&wrap)
        ));
        // Ready again after the wrap-up, or the ACD does not answer: not first contact.
        let ready = agent(AgentStatus::Ready, None);
        assert!(!first_contact_rule(
            "a1",
            "c1",
            Some("a1"),
            true,
            Some(&ready)
        ));
        assert!(!first_contact_rule("a1", "c1", Some("a1"), true, None));
    }
}
