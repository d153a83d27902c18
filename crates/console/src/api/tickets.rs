//! Service Requests: search (R-SR-4), show with articles, history and links, create.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use crm::{
    Access, Channel, CustomerId, NewTicket, Priority, SortBy, Ticket, TicketQuery, TicketType,
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::{ApiJson, ApiPath, ApiQuery};
use super::error::{ApiError, ApiResult};
use super::lookup::{assignee, load, queue_named, user_named};
use super::ticket_actions::ArticleBody;
use super::ticket_events;
use super::views::Names;
use super::{Api, Caller};

/// Default and largest page sizes of a search.
pub const PER_PAGE_DEFAULT: u32 = 25;
/// Largest page size.
pub const PER_PAGE_MAX: u32 = 100;

/// `GET /api/v1/tickets` parameters; lists are comma-separated and match any value.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SearchParams {
    /// Number with `*` wildcards.
    pub number: Option<String>,
    /// Full text over titles, bodies and senders.
    pub q: Option<String>,
    /// Queue names.
    pub queue: Option<String>,
    /// States.
    pub state: Option<String>,
    /// Priorities 1–5.
    pub priority: Option<String>,
    /// Ticket types.
    #[serde(rename = "type")]
    pub ticket_type: Option<String>,
    /// Owner login.
    pub owner: Option<String>,
    /// Customer id.
    pub customer: Option<i64>,
    /// Channel.
    pub channel: Option<String>,
    /// Call id.
    pub call_id: Option<String>,
    /// Created at or after (RFC 3339).
    pub created_from: Option<String>,
    /// Created before (RFC 3339).
    pub created_to: Option<String>,
    /// Page, from 1.
    pub page: Option<u32>,
    /// Page size, 1 to 100 (default 25).
    pub per_page: Option<u32>,
    /// `created`, `changed`, `priority` or `number`; `-` in front for descending (default
    /// `-created`: newest first).
    pub sort: Option<String>,
}

fn list<T>(v: &Option<String>, parse: impl Fn(&str) -> ApiResult<T>) -> ApiResult<Vec<T>> {
    v.as_deref()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(parse)
        .collect()
}

fn time(what: &str, v: &Option<String>) -> ApiResult<Option<DateTime<Utc>>> {
    v.as_deref()
        .map(|s| {
            DateTime::parse_from_rfc3339(s)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| ApiError::invalid(what, "an RFC 3339 time", s))
        })
        .transpose()
}

fn sort(v: Option<&str>) -> ApiResult<(SortBy, bool)> {
    let v = v.unwrap_or("-created");
    let (key, descending) = match v.strip_prefix('-') {
        Some(k) => (k, true),
        None => (v, false),
    };
    let by = match key {
        "created" => SortBy::Created,
        "changed" => SortBy::Changed,
        "priority" => SortBy::Priority,
        "number" => SortBy::Number,
        _ => {
            return Err(ApiError::invalid(
                "sort",
                "created, changed, priority or number, optionally after `-`",
                v,
            ));
        }
    };
    Ok((by, descending))
}

/// `GET /api/v1/tickets`: `{"total","page","per_page","tickets"}`, only tickets of queues
/// the caller may read; naming an unreadable queue is 403.
#[utoipa::path(
    get,
    operation_id = "tickets_search",
    path = "/api/v1/tickets",
    tag = "tickets",
    summary = "Search tickets in readable queues",
    params(SearchParams),
    responses(
        (status = 200, description = "one page", body = crate::api::schema::TicketPage),
        (status = 401, response = crate::api::schema::Unauthorized),
        (status = 403, response = crate::api::schema::Forbidden),
        (status = 422, response = crate::api::schema::Invalid),
    )
)]
pub async fn search(
    State(api): State<Api>,
    caller: Caller,
    ApiQuery(p): ApiQuery<SearchParams>,
) -> ApiResult<Response> {
    let mut queues = Vec::new();
    for name in list(&p.queue, |s| Ok(s.to_string()))? {
        queues.push(queue_named(&api, &name).await?);
    }
    let owner = match p.owner.as_deref() {
        Some(login) => Some(user_named(&api, login).await?.id),
        None => None,
    };
    let (sort, descending) = sort(p.sort.as_deref())?;
    let page = p.page.unwrap_or(1).max(1);
    let per_page = p.per_page.unwrap_or(PER_PAGE_DEFAULT);
    if !(1..=PER_PAGE_MAX).contains(&per_page) {
        return Err(ApiError::invalid("per_page", "1 to 100", per_page));
    }
    if let Some(readable) = caller.readable_queues(&api).await? {
        if queues.is_empty() {
            queues = readable;
        } else {
            for q in &queues {
                caller.require_queue(&api, *q, Access::Read).await?;
            }
        }
        if queues.is_empty() {
            let empty = json!({"total": 0, "total_exact": true, "page": page,
                "per_page": per_page, "tickets": []});
            return Ok(axum::Json(empty).into_response());
        }
    }
    let query = TicketQuery {
        number: p.number.clone(),
        text: p.q.clone(),
        states: list(&p.state, |s| Ok(s.parse()?))?,
        queues,
        priorities: list(&p.priority, |s| {
            let n = s
                .parse::<u8>()
                .map_err(|_| ApiError::invalid("priority", "1..=5", s))?;
            Ok(Priority::new(n)?)
        })?,
        types: list(&p.ticket_type, |s| Ok(s.parse::<TicketType>()?))?,
        owner,
        customer: p.customer.map(CustomerId),
        channel: p
            .channel
            .as_deref()
            .map(str::parse::<Channel>)
            .transpose()?,
        call_id: p.call_id.clone(),
        created_from: time("created_from", &p.created_from)?,
        created_to: time("created_to", &p.created_to)?,
        sort,
        descending,
        limit: per_page,
        offset: (page - 1).saturating_mul(per_page),
    };
    let found = api.store().search_tickets(&query).await?;
    let mut names = Names::new(&api).await?;
    let mut tickets = Vec::with_capacity(found.tickets.len());
    for t in &found.tickets {
        tickets.push(names.ticket(t).await?);
    }
    Ok(axum::Json(json!({
        "total": found.total,
        "total_exact": found.total_exact,
        "page": page,
        "per_page": per_page,
        "tickets": tickets,
    }))
    .into_response())
}

/// Query of `GET /api/v1/tickets/due`.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DueParams {
    /// Clocks due within this many minutes (default 60; overdue ones always).
    pub within_min: Option<u32>,
    /// Comma-separated queue names (default: every queue the caller may read).
    pub queue: Option<String>,
    /// At most this many tickets (default 50, at most 200).
    pub limit: Option<u32>,
}

/// `GET /api/v1/tickets/due`: open Service Requests of the caller's readable queues whose
/// earliest escalation clock is due within `within_min` minutes or overdue, earliest first,
/// each with its `sla` clocks, `next_due` and `overdue`. Naming an unreadable queue is 403.
#[utoipa::path(
    get,
    operation_id = "tickets_due",
    path = "/api/v1/tickets/due",
    tag = "tickets",
    summary = "Open tickets of readable queues with an escalation clock due soon or overdue, earliest first",
    params(DueParams),
    responses(
        (status = 200, description = "tickets, each with `sla`, `next_due` and `overdue`", body = crate::api::schema::DueTickets),
        (status = 401, response = crate::api::schema::Unauthorized),
        (status = 403, response = crate::api::schema::Forbidden),
        (status = 422, response = crate::api::schema::Invalid),
    )
)]
pub async fn due(
    State(api): State<Api>,
    caller: Caller,
    ApiQuery(p): ApiQuery<DueParams>,
) -> ApiResult<Response> {
    let within = p.within_min.unwrap_or(60);
    if within > 7 * 24 * 60 {
        return Err(ApiError::invalid("within_min", "0 to 10080", within));
    }
    let limit = p.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::invalid("limit", "1 to 200", limit));
    }
    let mut queues = Vec::new();
    for name in list(&p.queue, |s| Ok(s.to_string()))? {
        let q = queue_named(&api, &name).await?;
        caller.require_queue(&api, q, Access::Read).await?;
        queues.push(q);
    }
    if queues.is_empty()
        && let Some(readable) = caller.readable_queues(&api).await?
    {
        if readable.is_empty() {
            return Ok(axum::Json(json!({"tickets": []})).into_response());
        }
        queues = readable;
    }
    let now = api.now();
    let found = api
        .store()
        .due_tickets(
            &queues,
            now,
            chrono::Duration::minutes(within.into()),
            limit,
        )
        .await?;
    let mut names = Names::new(&api).await?;
    let mut tickets = Vec::with_capacity(found.len());
    for t in &found {
        let next_due = t.sla.next_due(t.state);
        let mut view = names.ticket(t).await?;
        view["sla"] = serde_json::to_value(t.sla).unwrap_or(Value::Null);
        view["next_due"] = json!(next_due);
        view["overdue"] = json!(next_due.is_some_and(|d| d <= now));
        tickets.push(view);
    }
    Ok(axum::Json(json!({ "tickets": tickets })).into_response())
}

/// `GET /api/v1/tickets/{number}`: the ticket with `articles`, `history` and `children`;
/// 404 unknown, 403 when its queue is not readable.
#[utoipa::path(
    get,
    operation_id = "tickets_show",
    path = "/api/v1/tickets/{number}",
    tag = "tickets",
    summary = "A ticket with articles, history, children",
    params(("number" = String, Path, description = "the ticket number")),
    responses(
        (status = 200, description = "the ticket", body = crate::api::schema::TicketDetail),
        (status = 401, response = crate::api::schema::Unauthorized),
        (status = 403, response = crate::api::schema::Forbidden),
        (status = 404, response = crate::api::schema::NotFound),
    )
)]
pub async fn show(
    State(api): State<Api>,
    caller: Caller,
    ApiPath(number): ApiPath<String>,
) -> ApiResult<Response> {
    let t = load(&api, &number).await?;
    caller.require_ticket(&api, &t, Access::Read).await?;
    Ok(axum::Json(detail(&api, &t).await?).into_response())
}

/// The full view of a ticket.
pub(crate) async fn detail(api: &Api, t: &Ticket) -> ApiResult<Value> {
    let store = api.store();
    let mut names = Names::new(api).await?;
    let mut view = names.ticket(t).await?;
    let mut articles = Vec::new();
    for a in store.articles(t.id).await? {
        articles.push(names.article(&a).await?);
    }
    let mut history = Vec::new();
    for h in store.history(t.id).await? {
        history.push(names.history(&h).await?);
    }
    let children: Vec<Value> = store
        .children(t.id)
        .await?
        .iter()
        .map(|c| json!({"number": c.number, "title": c.title, "state": c.state}))
        .collect();
    view["articles"] = Value::Array(articles);
    view["history"] = Value::Array(history);
    // The take-in-charge and resolution clocks (R-VM-2), when the ticket has them.
    view["sla"] = serde_json::to_value(store.sla_of(t.id).await?).unwrap_or(Value::Null);
    view["children"] = Value::Array(children);
    // Resolved at first contact (SLA.C.4): judged at closing, corrected by an operator.
    view["first_contact"] =
        serde_json::to_value(super::ticket_actions::first_contact_of(api, t).await?)
            .unwrap_or(Value::Null);
    Ok(view)
}

/// `POST /api/v1/tickets` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTicket {
    /// Title.
    pub title: String,
    /// Queue name (default `raw`).
    pub queue: Option<String>,
    /// 1–5 (default 3).
    pub priority: Option<u8>,
    /// Type (default `other`).
    #[serde(rename = "type")]
    pub ticket_type: Option<TicketType>,
    /// Channel (default `phone`).
    pub channel: Option<Channel>,
    /// Customer id.
    pub customer_id: Option<i64>,
    /// Call id.
    pub call_id: Option<String>,
    /// IVR service area.
    pub service_area: Option<String>,
    /// Owner login (needs write access to the queue).
    pub owner: Option<String>,
    /// Responsible login (needs write access to the queue).
    pub responsible: Option<String>,
    /// A first article.
    pub article: Option<ArticleBody>,
}

/// `POST /api/v1/tickets`: 201 with the ticket and its `Location`; needs write access to
/// the queue.
#[utoipa::path(
    post,
    operation_id = "tickets_create",
    path = "/api/v1/tickets",
    tag = "tickets",
    summary = "Create a ticket",
    request_body = CreateTicket,
    responses(
        (status = 201, description = "created (Location header)", body = crate::api::schema::TicketDetail),
        (status = 401, response = crate::api::schema::Unauthorized),
        (status = 403, response = crate::api::schema::Forbidden),
        (status = 422, response = crate::api::schema::Invalid),
    )
)]
pub async fn create(
    State(api): State<Api>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateTicket>,
) -> ApiResult<Response> {
    let now = api.now();
    let title = body.title.trim();
    if title.is_empty() {
        return Err(ApiError::invalid("title", "a non-empty text", &body.title));
    }
    let queue = match body.queue.as_deref() {
        Some(name) => queue_named(&api, name).await?,
        None => api.store().raw_queue().await?,
    };
    caller.require_queue(&api, queue, Access::Write).await?;
    let mut new = NewTicket::new(title, body.channel.unwrap_or(Channel::Phone));
    new.queue = Some(queue);
    if let Some(p) = body.priority {
        new.priority = Priority::new(p)?;
    }
    new.ticket_type = body.ticket_type.unwrap_or(TicketType::Other);
    if let Some(id) = body.customer_id.map(CustomerId) {
        if !api.store().customer_exists(id).await? {
            return Err(ApiError::invalid("customer_id", "an existing customer", id));
        }
        new.customer = Some(id);
    }
    new.call_id = body.call_id;
    new.service_area = body.service_area;
    if let Some(login) = &body.owner {
        new.owner = Some(assignee(&api, login, queue).await?.id);
    }
    if let Some(login) = &body.responsible {
        new.responsible = Some(assignee(&api, login, queue).await?.id);
    }
    let article = body.article.map(|a| a.into_new(&caller)).transpose()?;
    let t = api.store().create_ticket(new, caller.actor(), now).await?;
    if let Some(article) = article {
        api.store()
            .add_article(t.id, caller.actor(), article, now)
            .await?;
    }
    tracing::info!(ticket = %t.number, login = ?caller.user.login, "ticket created");
    ticket_events::created(&api, &t, Some(&caller.user)).await?;
    let view = detail(&api, &t).await?;
    let location = format!("/api/v1/tickets/{}", t.number);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        axum::Json(view),
    )
        .into_response())
}
