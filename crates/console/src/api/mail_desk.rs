//! The agent's e-mail desk over HTTP (issue 16; R-SR-10): an operator's reply from the ticket,
//! and the administrators' view of the mail templates and of the outbox.
//!
//! - `POST /api/v1/tickets/{number}/replies` `{body, quote?}`: write access to the ticket's
//!   queue; the reply goes to the customer's address (else the last sender) as the ticket's
//!   customer-visible `email_out` article and an outbox mail tagged `[Ticket#N]`, threaded on
//!   the last inbound message, quoting it unless `quote` is false (default `[mail]
//!   quote_replies`). No address: 409; mail not configured: 503.
//! - `GET /api/v1/admin/mail/templates`, `GET|PUT /api/v1/admin/mail/templates/{purpose}/{lang}`:
//!   the confirmation, pending-reminder and closure templates in Italian and English, the
//!   administrator's edit or the built-in text; an edit with an unknown or unclosed
//!   placeholder is refused (400, naming it).
//! - `GET /api/v1/admin/mail/outbox?state=`, `POST /api/v1/admin/mail/outbox/{id}/retry`:
//!   every mail with its state (`queued`, `retry`, `sending`, `sent`, `failed`), failures,
//!   last error and next attempt; a failed one sent again.
//!
//! Templates and outbox are admins' only (403 otherwise).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use crm::{Access, OutboxMail, Role};
use mail::template::{Lang, PLACEHOLDERS, Purpose, Template, default_template};
use serde::{Deserialize, Serialize};

use super::auth::{ApiJson, ApiPath, ApiQuery};
use super::error::{ApiError, ApiResult};
use super::lookup::load;
use super::ticket_events;
use super::{Api, Caller};

fn admin_only(caller: &Caller) -> ApiResult<()> {
    if caller.user.role == Role::Admin {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!(
            "only admins see the mail templates and the outbox, not {}",
            caller.user.role
        )))
    }
}

fn bad_request(detail: String) -> ApiError {
    ApiError::Malformed {
        status: StatusCode::BAD_REQUEST,
        detail,
    }
}

/// `POST …/replies` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplyBody {
    /// The reply's text.
    pub body: String,
    /// Quote the last message under the reply (default: the `[mail] quote_replies` setting).
    pub quote: Option<bool>,
}

/// A reply queued.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Reply {
    /// The ticket.
    pub number: String,
    /// To.
    pub recipient: String,
    /// Subject, with the tag.
    pub subject: String,
    /// Message-ID (without brackets).
    pub message_id: String,
    /// The message it answers.
    pub in_reply_to: Option<String>,
    /// The text sent (quote included).
    pub body: String,
}

/// `POST /api/v1/tickets/{number}/replies`.
#[utoipa::path(
    post,
    operation_id = "mail_desk_reply",
    path = "/api/v1/tickets/{number}/replies",
    tag = "tickets",
    summary = "Reply to the citizen by e-mail (tagged, threaded, optionally quoting); queued in the outbox",
    params(("number" = String, Path, description = "the ticket number")),
    request_body = ReplyBody,
    responses(
        (status = 201, description = "the reply, queued", body = Reply),
        (status = 401, response = crate::api::schema::Unauthorized),
        (status = 403, response = crate::api::schema::Forbidden),
        (status = 404, response = crate::api::schema::NotFound),
        (status = 409, description = "the ticket has no e-mail address to answer", body = crate::api::schema::Problem, content_type = "application/problem+json"),
        (status = 422, response = crate::api::schema::Invalid),
        (status = 503, response = crate::api::schema::Unavailable),
    )
)]
pub async fn reply(
    State(api): State<Api>,
    caller: Caller,
    ApiPath(number): ApiPath<String>,
    ApiJson(body): ApiJson<ReplyBody>,
) -> ApiResult<Response> {
    let t = load(&api, &number).await?;
    caller.require_ticket(&api, &t, Access::Write).await?;
    let desk = api
        .config()
        .mail
        .clone()
        .ok_or_else(|| ApiError::Unavailable("e-mail is not configured ([mail])".into()))?;
    let now = api.now();
    let mail = desk
        .reply(
            api.store(),
            t.id,
            caller.actor(),
            &body.body,
            body.quote,
            now,
        )
        .await
        .map_err(|e| match e {
            mail::desk::ReplyError::Empty => {
                ApiError::invalid("body", "the reply's text", "nothing")
            }
            e @ mail::desk::ReplyError::NoAddress(_) => ApiError::Conflict(e.to_string()),
            mail::desk::ReplyError::Store(e) => ApiError::Store(e),
        })?;
    let after = api.store().ticket(t.id).await?;
    ticket_events::updated(
        &api,
        &caller.user,
        &t,
        &after,
        vec![ticket_events::article(crm::ArticleKind::EmailOut)],
    )
    .await?;
    let reply = Reply {
        number: t.number,
        recipient: mail.recipient,
        subject: mail.subject,
        message_id: mail.message_id,
        in_reply_to: mail.in_reply_to,
        body: mail.body,
    };
    Ok((StatusCode::CREATED, axum::Json(reply)).into_response())
}

/// A template as administrators see it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MailTemplate {
    /// `confirmation`, `pending_reminder` or `closure`.
    pub purpose: String,
    /// `it` or `en`.
    pub lang: String,
    /// Subject (the `[Ticket#N]` tag is put in front when sent).
    pub subject: String,
    /// Body.
    pub body: String,
    /// An administrator's edit (false: the built-in text).
    pub edited: bool,
    /// The placeholders it may use, as `{{name}}`.
    pub placeholders: Vec<String>,
}

/// Every template.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MailTemplates {
    /// Confirmation, pending reminder, closure; Italian, English.
    pub templates: Vec<MailTemplate>,
}

fn purpose_lang(purpose: &str, lang: &str) -> ApiResult<(Purpose, Lang)> {
    let p = Purpose::parse(purpose).ok_or_else(|| {
        ApiError::NotFound(format!(
            "no mail template {purpose:?}: expected confirmation, pending_reminder or closure"
        ))
    })?;
    let l = Lang::parse(lang).ok_or_else(|| {
        ApiError::NotFound(format!(
            "no mail template language {lang:?}: expected it or en"
        ))
    })?;
    Ok((p, l))
}

async fn template_view(api: &Api, p: Purpose, l: Lang) -> ApiResult<MailTemplate> {
    let stored = api.store().mail_template(p.as_str(), l.as_str()).await?;
    let edited = stored.is_some();
    let t = match stored {
        Some((subject, body)) => Template { subject, body },
        None => default_template(p, l),
    };
    Ok(MailTemplate {
        purpose: p.as_str().into(),
        lang: l.as_str().into(),
        subject: t.subject,
        body: t.body,
        edited,
        placeholders: PLACEHOLDERS
            .iter()
            .map(|n| format!("{{{{{n}}}}}"))
            .collect(),
    })
}

/// `GET /api/v1/admin/mail/templates`.
#[utoipa::path(
    get,
    operation_id = "mail_desk_templates",
    path = "/api/v1/admin/mail/templates",
    tag = "admin",
    summary = "The mail templates (confirmation, pending reminder, closure; it, en) (admins)",
    responses(
        (status = 200, description = "every template", body = MailTemplates),
        (status = 401, response = crate::api::schema::Unauthorized),
        (status = 403, response = crate::api::schema::Forbidden),
    )
)]
pub async fn templates(State(api): State<Api>, caller: Caller) -> ApiResult<Response> {
    admin_only(&caller)?;
    let mut out = Vec::new();
    for p in Purpose::ALL {
        for l in Lang::ALL {
            out.push(template_view(&api, p, l).await?);
        }
    }
    Ok(axum::Json(MailTemplates { templates: out }).into_response())
}

/// `GET /api/v1/admin/mail/templates/{purpose}/{lang}`.
#[utoipa::path(
    get,
    operation_id = "mail_desk_template",
    path = "/api/v1/admin/mail/templates/{purpose}/{lang}",
    tag = "admin",
    summary = "One mail template, edited or built-in (admins)",
    params(
        ("purpose" = String, Path, description = "confirmation, pending_reminder or closure"),
        ("lang" = String, Path, description = "it or en"),
    ),
    responses(
        (status = 200, description = "the template", body = MailTemplate),
        (status = 401, response = crate::api::schema::Unauthorized),
        (status = 403, response = crate::api::schema::Forbidden),
        (status = 404, response = crate::api::schema::NotFound),
    )
)]
pub async fn template(
    State(api): State<Api>,
    caller: Caller,
    ApiPath((purpose, lang)): ApiPath<(String, String)>,
) -> ApiResult<Response> {
    admin_only(&caller)?;
    let (p, l) = purpose_lang(&purpose, &lang)?;
    Ok(axum::Json(template_view(&api, p, l).await?).into_response())
}

/// `PUT …/templates/{purpose}/{lang}` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateBody {
    /// Subject (one line; the tag is added when sent).
    pub subject: String,
    /// Body.
    pub body: String,
}

/// `PUT /api/v1/admin/mail/templates/{purpose}/{lang}`.
#[utoipa::path(
    put,
    operation_id = "mail_desk_set_template",
    path = "/api/v1/admin/mail/templates/{purpose}/{lang}",
    tag = "admin",
    summary = "Edit a mail template (admins); unknown or unclosed placeholders are refused",
    params(
        ("purpose" = String, Path, description = "confirmation, pending_reminder or closure"),
        ("lang" = String, Path, description = "it or en"),
    ),
    request_body = TemplateBody,
    responses(
        (status = 200, description = "the template as stored", body = MailTemplate),
        (status = 400, description = "an unknown or unclosed placeholder, an empty or multi-line subject, an empty body", body = crate::api::schema::Problem, content_type = "application/problem+json"),
        (status = 401, response = crate::api::schema::Unauthorized),
        (status = 403, response = crate::api::schema::Forbidden),
        (status = 404, response = crate::api::schema::NotFound),
    )
)]
pub async fn set_template(
    State(api): State<Api>,
    caller: Caller,
    ApiPath((purpose, lang)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<TemplateBody>,
) -> ApiResult<Response> {
    admin_only(&caller)?;
    let (p, l) = purpose_lang(&purpose, &lang)?;
    if body.subject.trim().is_empty() {
        return Err(bad_request(
            "subject: expected a line of text, got nothing".into(),
        ));
    }
    if body.subject.contains(['\r', '\n']) {
        return Err(bad_request(
            "subject: expected one line, got several".into(),
        ));
    }
    if body.body.trim().is_empty() {
        return Err(bad_request(
            "body: expected the mail's text, got nothing".into(),
        ));
    }
    let t = Template {
        subject: body.subject,
        body: body.body,
    };
    let only_subject = Template {
        subject: t.subject.clone(),
        body: String::new(),
    };
    if let Err(e) = only_subject.check() {
        return Err(bad_request(format!("subject: {e}")));
    }
    let only_body = Template {
        subject: String::new(),
        body: t.body.clone(),
    };
    if let Err(e) = only_body.check() {
        return Err(bad_request(format!("body: {e}")));
    }
    api.store()
        .set_mail_template(
            p.as_str(),
            l.as_str(),
            &t.subject,
            &t.body,
            caller.actor(),
            api.now(),
        )
        .await?;
    Ok(axum::Json(template_view(&api, p, l).await?).into_response())
}

/// Query of `GET /api/v1/admin/mail/outbox`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct OutboxParams {
    /// `queued` (not tried yet), `retry` (waiting after a failed attempt), `sending`,
    /// `sent` or `failed`; default every state.
    pub state: Option<String>,
    /// At most this many, newest first (default 100, at most 1000).
    pub limit: Option<u32>,
}

/// A mail in the outbox.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OutboxEntry {
    /// Id (for the retry).
    pub id: i64,
    /// `queued`, `retry`, `sending`, `sent` or `failed`.
    pub state: String,
    /// The ticket's number.
    pub ticket: Option<String>,
    /// What it is: `reply`, `confirmation`, `closure`, `reminder`, …
    pub kind: String,
    /// To.
    pub recipient: String,
    /// Subject.
    pub subject: String,
    /// Failed attempts so far.
    pub failures: u32,
    /// The last failure's reason.
    pub last_error: Option<String>,
    /// The next attempt (queued and retry only).
    pub next_attempt: Option<DateTime<Utc>>,
    /// When it was queued (again, after an administrator's retry).
    pub queued: DateTime<Utc>,
    /// When the relay took it.
    pub sent: Option<DateTime<Utc>>,
}

/// The outbox.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Outbox {
    /// Newest first.
    pub mails: Vec<OutboxEntry>,
}

async fn entry(api: &Api, m: OutboxMail) -> ApiResult<OutboxEntry> {
    let ticket = match m.mail.ticket {
        Some(t) => Some(api.store().ticket(t).await?.number),
        None => None,
    };
    let state = match m.state.as_str() {
        "queued" if m.failures > 0 => "retry".to_string(),
        s => s.to_string(),
    };
    let waiting = m.state == "queued";
    Ok(OutboxEntry {
        id: m.id,
        ticket,
        kind: m
            .mail
            .dedup_key
            .split(':')
            .next()
            .unwrap_or_default()
            .to_string(),
        recipient: m.mail.recipient,
        subject: m.mail.subject,
        failures: m.failures,
        last_error: m.last_error,
        next_attempt: waiting.then_some(m.next_attempt),
        queued: m.queued,
        sent: m.sent,
        state,
    })
}

/// `GET /api/v1/admin/mail/outbox`.
#[utoipa::path(
    get,
    operation_id = "mail_desk_outbox",
    path = "/api/v1/admin/mail/outbox",
    tag = "admin",
    summary = "The outbox: each mail's state, failures, last error and next attempt (admins)",
    params(OutboxParams),
    responses(
        (status = 200, description = "the mails, newest first", body = Outbox),
        (status = 401, response = crate::api::schema::Unauthorized),
        (status = 403, response = crate::api::schema::Forbidden),
        (status = 422, response = crate::api::schema::Invalid),
    )
)]
pub async fn outbox(
    State(api): State<Api>,
    caller: Caller,
    ApiQuery(p): ApiQuery<OutboxParams>,
) -> ApiResult<Response> {
    admin_only(&caller)?;
    let limit = p.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::invalid("limit", "1 to 1000", limit));
    }
    let mut mails = Vec::new();
    for m in api.store().outbox(p.state.as_deref(), limit).await? {
        mails.push(entry(&api, m).await?);
    }
    Ok(axum::Json(Outbox { mails }).into_response())
}

/// `POST /api/v1/admin/mail/outbox/{id}/retry`.
#[utoipa::path(
    post,
    operation_id = "mail_desk_retry",
    path = "/api/v1/admin/mail/outbox/{id}/retry",
    tag = "admin",
    summary = "Send a failed mail again, now (admins)",
    params(("id" = i64, Path, description = "the outbox mail's id")),
    responses(
        (status = 200, description = "the mail, queued again", body = OutboxEntry),
        (status = 401, response = crate::api::schema::Unauthorized),
        (status = 403, response = crate::api::schema::Forbidden),
        (status = 404, response = crate::api::schema::NotFound),
        (status = 409, description = "the mail is not failed", body = crate::api::schema::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn retry(
    State(api): State<Api>,
    caller: Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Response> {
    admin_only(&caller)?;
    match api
        .store()
        .retry_failed_mail(id, caller.actor(), api.now())
        .await?
    {
        Ok(m) => {
            if let Some(w) = api.config().mail.as_ref().and_then(|d| d.wake.as_ref()) {
                w.notify_one();
            }
            Ok(axum::Json(entry(&api, m).await?).into_response())
        }
        Err(state) => Err(ApiError::Conflict(format!(
            "outbox mail {id} is {state}: only a failed mail is retried"
        ))),
    }
}
