//! The citizen's web form (issue 16, R-SR-10): `POST /api/v1/public/requests`, no login.
//!
//! `{name, email, subject, body}` as JSON, form-encoded, or multipart with one optional
//! `attachment` file → 201 `{"number"}`: a ticket on channel `web` in the configured queue,
//! its customer matched by e-mail or created as a guest, the request its first article, the
//! escalation clocks started at arrival on the business calendar
//! ([`crm::Store::open_written_request`]), and `ticket.created` published with channel `web`
//! (the hook the confirmation e-mail hangs on).
//!
//! # Anti-abuse, without third parties
//! - **Rate limit per client address** ([`Submissions`], the address as
//!   [`crate::server::ClientIp`] read it, so `http.trusted_proxies` is honoured; IPv6 per /64):
//!   over `max_requests_per_address` in `window_s`, 429 with `Retry-After`.
//! - **Honeypot**: the page carries a field `website` that people never see nor reach with the
//!   keyboard; when it comes filled the answer looks like success (201 with a well-formed
//!   number) but nothing is opened, and `centralino_web_form_requests_total{outcome="honeypot"}`
//!   counts it.
//! - **Size limits**: each field has its own (characters), the attachment its own (bytes, and
//!   the CRM's `attachment_max_bytes`), the whole body one: over it, 413.
//! - **Attachment types**: an allow-list of media types, checked against the declared type and
//!   the file's first bytes.
//!
//! Bad input is 400 with a problem whose `fields` object names each bad field and why, so the
//! page can tie each message to its field.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;

mod section;

pub use section::{Outcome, Submissions, WebForm, WebFormSection};

use super::error::ApiError;
use super::lookup::queue_named;
use super::session::ClientAddr;
use super::{Api, ticket_events};

/// The request's fields as sent (every one optional here: absence is reported by name).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublicRequest {
    /// The citizen's name.
    pub name: Option<String>,
    /// Their e-mail address (the answer goes there; a known customer is matched by it).
    pub email: Option<String>,
    /// Subject.
    pub subject: Option<String>,
    /// The request.
    pub body: Option<String>,
    /// The honeypot: leave empty (the page hides it from people).
    pub website: Option<String>,
}

/// An attachment as uploaded.
struct Upload {
    filename: String,
    content_type: String,
    content: Bytes,
}

/// A refusal of this route, rendered as problem+json.
struct Refusal {
    status: StatusCode,
    outcome: Outcome,
    detail: String,
    fields: BTreeMap<&'static str, String>,
    retry_after: Option<Duration>,
}

impl Refusal {
    fn new(status: StatusCode, outcome: Outcome, detail: impl Into<String>) -> Self {
        Refusal {
            status,
            outcome,
            detail: detail.into(),
            fields: BTreeMap::new(),
            retry_after: None,
        }
    }

    fn field(mut self, field: &'static str, message: impl Into<String>) -> Self {
        self.fields.insert(field, message.into());
        self
    }

    fn into_response(self) -> Response {
        let mut body = json!({
            "type": format!("urn:centralino:problem:web-form-{}", self.outcome.as_str().replace('_', "-")),
            "title": match self.status {
                StatusCode::TOO_MANY_REQUESTS => "Too many requests",
                StatusCode::PAYLOAD_TOO_LARGE => "Too large",
                StatusCode::UNSUPPORTED_MEDIA_TYPE => "Unsupported media type",
                _ => "Invalid request",
            },
            "status": self.status.as_u16(),
            "detail": self.detail,
        });
        if !self.fields.is_empty() {
            body["fields"] = json!(self.fields);
        }
        let mut response = (self.status, body.to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(after) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(after.as_secs()));
        }
        response
    }
}

/// `POST /api/v1/public/requests`: a citizen's request, no login.
#[utoipa::path(
    post,
    operation_id = "public_requests_create",
    path = "/api/v1/public/requests",
    tag = "public",
    security(()),
    summary = "Open a request from the public web form (no login)",
    description = "JSON, `application/x-www-form-urlencoded`, or `multipart/form-data` with one \
                   optional file part `attachment` (size-limited, media types from \
                   `[web_form] attachment_types`). The field `website` is a honeypot: \
                   leave it empty. Rate-limited per client address.",
    request_body(content(
        (PublicRequest = "application/json"),
        (PublicRequest = "application/x-www-form-urlencoded"),
        (PublicRequest = "multipart/form-data"),
    )),
    responses(
        (status = 201, description = "opened: `{\"number\"}`", body = crate::api::schema::PublicRequestOpened),
        (status = 400, description = "a field is missing, too long or malformed: problem+json with `fields` naming each", body = crate::api::schema::Problem, content_type = "application/problem+json"),
        (status = 404, description = "the web form is not enabled", body = crate::api::schema::Problem, content_type = "application/problem+json"),
        (status = 413, description = "the body or the attachment is over its limit", body = crate::api::schema::Problem, content_type = "application/problem+json"),
        (status = 415, description = "not JSON, form-encoded or multipart", body = crate::api::schema::Problem, content_type = "application/problem+json"),
        (status = 429, description = "too many requests from this address; `Retry-After` says when to try again", body = crate::api::schema::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create(State(api): State<Api>, client: ClientAddr, request: Request) -> Response {
    let Some(form) = api.config().web_form.clone() else {
        return ApiError::NotFound("the web form is not enabled here".into()).into_response();
    };
    match submit(&api, &form, client, request).await {
        Ok(Submitted::Opened(number)) => {
            api.figures().metrics().web_form(Outcome::Opened.as_str());
            (StatusCode::CREATED, axum::Json(json!({ "number": number }))).into_response()
        }
        Ok(Submitted::Honeypot(number)) => {
            api.figures().metrics().web_form(Outcome::Honeypot.as_str());
            tracing::info!(addr = ?client.0, "web form: honeypot filled, nothing opened");
            (StatusCode::CREATED, axum::Json(json!({ "number": number }))).into_response()
        }
        Err(Failure::Refused(r)) => {
            api.figures().metrics().web_form(r.outcome.as_str());
            tracing::info!(addr = ?client.0, status = r.status.as_u16(), detail = %r.detail, "web form: refused");
            r.into_response()
        }
        Err(Failure::Api(e)) => e.into_response(),
    }
}

enum Submitted {
    Opened(String),
    Honeypot(String),
}

enum Failure {
    Refused(Refusal),
    Api(ApiError),
}

impl From<Refusal> for Failure {
    fn from(r: Refusal) -> Self {
        Failure::Refused(r)
    }
}

impl From<ApiError> for Failure {
    fn from(e: ApiError) -> Self {
        Failure::Api(e)
    }
}

impl From<crm::Error> for Failure {
    fn from(e: crm::Error) -> Self {
        match e {
            crm::Error::AttachmentTooLarge { limit, size } => Refusal::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                Outcome::TooLarge,
                format!("the attachment has {size} bytes, at most {limit} are accepted"),
            )
            .field("attachment", format!("at most {limit} bytes"))
            .into(),
            e => Failure::Api(e.into()),
        }
    }
}

async fn submit(
    api: &Api,
    form: &WebForm,
    client: ClientAddr,
    request: Request,
) -> Result<Submitted, Failure> {
    let now = api.now();
    let section = &form.section;
    if let Some(addr) = client.0 {
        let verdict = form
            .submissions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .admit(addr, now);
        if let Err(after) = verdict {
            let mut r = Refusal::new(
                StatusCode::TOO_MANY_REQUESTS,
                Outcome::RateLimited,
                format!(
                    "at most {} requests per {} s from one address; try again in {} s",
                    section.max_requests_per_address,
                    section.window_s,
                    after.as_secs()
                ),
            );
            r.retry_after = Some(after);
            return Err(r.into());
        }
    }
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let limit = section.max_body_bytes();
    let too_large = || {
        Refusal::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            Outcome::TooLarge,
            format!("the request is over {limit} bytes"),
        )
    };
    if request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
        .is_some_and(|n| n > limit as u64)
    {
        return Err(too_large().into());
    }
    let bytes = axum::body::to_bytes(request.into_body(), limit)
        .await
        .map_err(|_| too_large())?;
    let (fields, upload) = parse(&content_type, bytes).await?;
    if fields
        .website
        .as_deref()
        .is_some_and(|w| !w.trim().is_empty())
    {
        return Ok(Submitted::Honeypot(decoy_number(api, now)));
    }
    let checked = check(&fields, upload, section)?;
    let queue = queue_named(api, &section.queue).await?;
    let opened = api
        .store()
        .open_written_request(
            crm::WrittenRequest {
                channel: crm::Channel::Web,
                queue,
                name: checked.name,
                email: checked.email,
                subject: checked.subject,
                body: checked.body,
                attachments: checked.attachments,
                sla: form.sla.clone(),
            },
            now,
        )
        .await?;
    tracing::info!(ticket = %opened.ticket.number, new_guest = opened.new_guest, "web form: request opened");
    ticket_events::created(api, &opened.ticket, None).await?;
    Ok(Submitted::Opened(opened.ticket.number))
}

/// A number of the real form for a honeypot's answer, so a robot cannot tell it apart; it
/// names no ticket (its counter is drawn at random, far above a day's real ones).
fn decoy_number(api: &Api, now: DateTime<Utc>) -> String {
    let settings = api.store().settings();
    let day = now.with_timezone(&settings.time_zone).date_naive();
    let counter = rand::random_range(50_000..99_999);
    crm::number::format_number(day, settings.system_id, counter)
}

async fn parse(
    content_type: &str,
    bytes: Bytes,
) -> Result<(PublicRequest, Option<Upload>), Failure> {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let malformed = |what: &str, e: &dyn std::fmt::Display| {
        Refusal::new(
            StatusCode::BAD_REQUEST,
            Outcome::Invalid,
            format!("the {what} body could not be read: {e}"),
        )
    };
    match essence.as_str() {
        "application/json" => serde_json::from_slice(&bytes)
            .map(|f| (f, None))
            .map_err(|e| malformed("JSON", &e).into()),
        "application/x-www-form-urlencoded" => serde_urlencoded::from_bytes(&bytes)
            .map(|f| (f, None))
            .map_err(|e| malformed("form-encoded", &e).into()),
        "multipart/form-data" => {
            let boundary =
                multer::parse_boundary(content_type).map_err(|e| malformed("multipart", &e))?;
            multipart(bytes, boundary).await
        }
        _ => Err(Refusal::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Outcome::Invalid,
            format!(
                "expected application/json, application/x-www-form-urlencoded or \
                 multipart/form-data, got `{content_type}`"
            ),
        )
        .into()),
    }
}

async fn multipart(
    bytes: Bytes,
    boundary: String,
) -> Result<(PublicRequest, Option<Upload>), Failure> {
    let stream =
        futures_util::stream::once(async move { Ok::<_, std::convert::Infallible>(bytes) });
    let mut parts = multer::Multipart::new(stream, boundary);
    let mut fields = PublicRequest::default();
    let mut upload = None;
    let bad = |e: multer::Error| {
        Refusal::new(
            StatusCode::BAD_REQUEST,
            Outcome::Invalid,
            format!("the multipart body could not be read: {e}"),
        )
    };
    while let Some(part) = parts.next_field().await.map_err(bad)? {
        let name = part.name().unwrap_or("").to_string();
        match name.as_str() {
            "attachment" => {
                let filename = part.file_name().unwrap_or("").to_string();
                let content_type = part
                    .content_type()
                    .map(|m| m.essence_str().to_ascii_lowercase())
                    .unwrap_or_default();
                let content = part.bytes().await.map_err(bad)?;
                // A browser sends an empty part when no file was chosen.
                if filename.is_empty() && content.is_empty() {
                    continue;
                }
                if upload.is_some() {
                    return Err(Refusal::new(
                        StatusCode::BAD_REQUEST,
                        Outcome::Invalid,
                        "at most one attachment",
                    )
                    .field("attachment", "at most one file")
                    .into());
                }
                upload = Some(Upload {
                    filename,
                    content_type,
                    content,
                });
            }
            "name" | "email" | "subject" | "body" | "website" => {
                let text = part.text().await.map_err(bad)?;
                let slot = match name.as_str() {
                    "name" => &mut fields.name,
                    "email" => &mut fields.email,
                    "subject" => &mut fields.subject,
                    "body" => &mut fields.body,
                    _ => &mut fields.website,
                };
                *slot = Some(text);
            }
            other => {
                return Err(Refusal::new(
                    StatusCode::BAD_REQUEST,
                    Outcome::Invalid,
                    format!(
                        "unknown field `{other}`, expected name, email, subject, body, attachment"
                    ),
                )
                .into());
            }
        }
    }
    Ok((fields, upload))
}

struct Checked {
    name: String,
    email: String,
    subject: String,
    body: String,
    attachments: Vec<crm::NewAttachment>,
}

/// Checks every field and reports all that are wrong at once.
fn check(
    f: &PublicRequest,
    upload: Option<Upload>,
    s: &WebFormSection,
) -> Result<Checked, Refusal> {
    let mut errors: BTreeMap<&'static str, String> = BTreeMap::new();
    let mut text = |field: &'static str, v: &Option<String>, max: usize, one_line: bool| {
        let v = v.as_deref().unwrap_or("").trim();
        let controls = v
            .chars()
            .any(|c| c.is_control() && (one_line || !matches!(c, '\n' | '\r' | '\t')));
        if v.is_empty() {
            errors.insert(field, "required".into());
        } else if v.chars().count() > max {
            errors.insert(field, format!("at most {max} characters"));
        } else if controls {
            errors.insert(field, "control characters are not allowed".into());
        }
        v.to_string()
    };
    let name = text("name", &f.name, s.max_name_chars, true);
    let email = text("email", &f.email, s.max_email_chars, true);
    let subject = text("subject", &f.subject, s.max_subject_chars, true);
    let body = text("body", &f.body, s.max_body_chars, false);
    if !errors.contains_key("email") && !is_email(&email) {
        errors.insert(
            "email",
            "expected an address such as name@example.org".into(),
        );
    }
    let mut attachments = Vec::new();
    let mut too_large = false;
    if let Some(u) = upload {
        let max = s.max_attachment_kb * 1024;
        let sniffed = sniff(&u.content);
        if u.content.len() > max {
            too_large = true;
            errors.insert("attachment", format!("at most {} KiB", s.max_attachment_kb));
        } else if !s.attachment_types.contains(&u.content_type)
            || sniffed.is_some_and(|t| t != u.content_type)
        {
            errors.insert(
                "attachment",
                format!(
                    "accepted types: {}; got `{}`",
                    s.attachment_types.join(", "),
                    sniffed.unwrap_or(&u.content_type)
                ),
            );
        } else {
            attachments.push(crm::NewAttachment {
                filename: safe_filename(&u.filename),
                content_type: u.content_type,
                content: u.content.to_vec(),
            });
        }
    }
    if errors.is_empty() {
        return Ok(Checked {
            name,
            email,
            subject,
            body,
            attachments,
        });
    }
    let names: Vec<&str> = errors.keys().copied().collect();
    let (status, outcome) = if too_large && errors.len() == 1 {
        (StatusCode::PAYLOAD_TOO_LARGE, Outcome::TooLarge)
    } else {
        (StatusCode::BAD_REQUEST, Outcome::Invalid)
    };
    let mut r = Refusal::new(
        status,
        outcome,
        format!("check these fields: {}", names.join(", ")),
    );
    r.fields = errors;
    Err(r)
}

/// A plausible mailbox: one `@`, a local part, a dotted domain, no spaces or brackets.
fn is_email(v: &str) -> bool {
    let Some((local, domain)) = v.rsplit_once('@') else {
        return false;
    };
    let plain = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| !c.is_whitespace() && !c.is_control() && !"<>()[],;:\\\"@".contains(c))
    };
    plain(local)
        && plain(domain)
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
}

/// The media type the first bytes show, for the types we know by signature; `None` for text
/// and whatever else (then the declared type stands).
fn sniff(content: &[u8]) -> Option<&'static str> {
    if content.starts_with(b"%PDF-") {
        Some("application/pdf")
    } else if content.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if content.starts_with(b"\xff\xd8\xff") {
        Some("image/jpeg")
    } else if content.starts_with(b"GIF8") {
        Some("image/gif")
    } else if content.starts_with(b"PK\x03\x04") {
        Some("application/zip")
    } else if content.starts_with(b"MZ") || content.starts_with(b"\x7fELF") {
        Some("application/x-executable")
    } else {
        None
    }
}

/// The file name without any path, control characters or quotes; `attachment` when nothing
/// is left; at most 100 characters.
fn safe_filename(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let clean: String = base
        .chars()
        .filter(|c| !c.is_control() && !"\"<>|:*?".contains(*c))
        .take(100)
        .collect();
    let clean = clean.trim().trim_start_matches('.').to_string();
    if clean.is_empty() {
        "attachment".into()
    } else {
        clean
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bad_field_is_named() {
        let s = WebFormSection::default();
        let f = PublicRequest {
            name: Some(" ".into()),
            email: Some("not-an-address".into()),
            subject: Some("x".repeat(201)),
            body: Some("ok\nfine".into()),
            website: None,
        };
        let r = check(&f, None, &s).err().unwrap();
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        let names: Vec<_> = r.fields.keys().copied().collect();
        assert_eq!(names, ["email", "name", "subject"]);
    }

    #[test]
    fn addresses_and_file_names() {
        assert!(is_email("maria.rossi@example.org"));
        for bad in [
            "a@b",
            "@example.org",
            "a b@example.org",
            "a@example..org",
            "a@.org",
        ] {
            assert!(!is_email(bad), "{bad}");
        }
        assert_eq!(safe_filename("C:\\Users\\x\\..\\doc.pdf"), "doc.pdf");
        assert_eq!(safe_filename("../../.."), "attachment");
        assert_eq!(safe_filename("a\u{0}b.txt"), "ab.txt");
    }
}
