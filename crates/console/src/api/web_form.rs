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

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, TimeDelta, Utc};
use serde::Deserialize;
use serde_json::json;

use super::error::ApiError;
use super::lookup::queue_named;
use super::session::ClientAddr;
use super::{Api, ticket_events};
use crate::config::ConfigProblem;

/// `[web_form]`: the public web form.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebFormSection {
    /// Serve the form and its route (off: 404).
    pub enabled: bool,
    /// The CRM queue the requests open their tickets in.
    pub queue: String,
    /// Longest name, in characters.
    pub max_name_chars: usize,
    /// Longest e-mail address, in characters (RFC 5321 §4.5.3.1.3 paths: 254).
    pub max_email_chars: usize,
    /// Longest subject, in characters.
    pub max_subject_chars: usize,
    /// Longest text, in characters.
    pub max_body_chars: usize,
    /// Largest attachment, KiB (0: no attachments). The CRM's `attachment_max_bytes` also holds.
    pub max_attachment_kb: usize,
    /// The media types an attachment may have.
    pub attachment_types: Vec<String>,
    /// Submissions accepted from one client address per window (each counts, whatever its fate).
    pub max_requests_per_address: u32,
    /// The window, seconds.
    pub window_s: u64,
    /// Addresses tracked at most (ended windows are dropped first, then the oldest).
    pub max_tracked: usize,
    /// Take in charge within this much working time (minutes; 0: the queue's targets), SLA.O.1.
    pub take_in_charge_min: u64,
    /// Resolve within this much working time (minutes; 0: the queue's targets), SLA.O.2.
    pub resolve_min: u64,
}

impl Default for WebFormSection {
    fn default() -> Self {
        WebFormSection {
            enabled: false,
            queue: "raw".into(),
            max_name_chars: 200,
            max_email_chars: 254,
            max_subject_chars: 200,
            max_body_chars: 10_000,
            max_attachment_kb: 5 * 1024,
            attachment_types: vec![
                "application/pdf".into(),
                "image/png".into(),
                "image/jpeg".into(),
                "text/plain".into(),
            ],
            max_requests_per_address: 5,
            window_s: 3600,
            max_tracked: 10_000,
            take_in_charge_min: 240,
            resolve_min: 1440,
        }
    }
}

impl WebFormSection {
    /// Every problem found; empty means valid.
    #[must_use]
    pub fn validate(&self) -> Vec<ConfigProblem> {
        let mut problems = Vec::new();
        let mut bad = |key: &str, message: String| {
            problems.push(ConfigProblem {
                path: format!("web_form.{key}"),
                message,
            })
        };
        if self.queue.trim().is_empty() {
            bad(
                "queue",
                "expected a CRM queue name, got an empty one".into(),
            );
        }
        for (key, v) in [
            ("max_name_chars", self.max_name_chars),
            ("max_email_chars", self.max_email_chars),
            ("max_subject_chars", self.max_subject_chars),
            ("max_body_chars", self.max_body_chars),
        ] {
            if !(1..=1_000_000).contains(&v) {
                bad(key, format!("expected 1 to 1000000, got {v}"));
            }
        }
        if self.max_attachment_kb > 100 * 1024 {
            bad(
                "max_attachment_kb",
                format!("expected at most 102400, got {}", self.max_attachment_kb),
            );
        }
        for t in &self.attachment_types {
            if !is_media_type(t) {
                bad(
                    "attachment_types",
                    format!("expected media types such as `application/pdf`, got `{t}`"),
                );
            }
        }
        if self.max_requests_per_address == 0 {
            bad(
                "max_requests_per_address",
                "expected at least 1, got 0".into(),
            );
        }
        if self.window_s == 0 {
            bad("window_s", "expected at least 1, got 0".into());
        }
        if self.max_tracked == 0 {
            bad("max_tracked", "expected at least 1, got 0".into());
        }
        problems
    }

    /// The running form; `calendar` is the service's business calendar (`[sla] calendar`):
    /// without one, the web form's own targets cannot count working time and the queue's
    /// targets apply.
    pub fn form(&self, calendar: Option<Arc<calendar::BusinessCalendar>>) -> WebForm {
        let minutes = |m: u64| (m > 0).then(|| TimeDelta::minutes(m as i64));
        let sla = calendar
            .filter(|_| self.take_in_charge_min > 0 || self.resolve_min > 0)
            .map(|calendar| crm::QueueSla {
                calendar,
                first_response: minutes(self.take_in_charge_min),
                solution: minutes(self.resolve_min),
            });
        WebForm {
            submissions: Arc::new(Mutex::new(Submissions::new(
                self.max_requests_per_address,
                Duration::from_secs(self.window_s),
                self.max_tracked,
            ))),
            section: self.clone(),
            sla,
        }
    }

    /// The largest body accepted: the attachment, the fields (four bytes a character at
    /// most) and 16 KiB for the multipart framing.
    pub fn max_body_bytes(&self) -> usize {
        let chars = self.max_name_chars
            + self.max_email_chars
            + self.max_subject_chars
            + self.max_body_chars;
        self.max_attachment_kb * 1024 + chars * 4 + 16 * 1024
    }
}

fn is_media_type(t: &str) -> bool {
    let ok = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+-.".contains(&b))
    };
    t.split_once('/').is_some_and(|(a, b)| ok(a) && ok(b))
}

/// The web form as it runs: its section, its clocks, its rate limiter.
#[derive(Debug, Clone)]
pub struct WebForm {
    section: WebFormSection,
    sla: Option<crm::QueueSla>,
    submissions: Arc<Mutex<Submissions>>,
}

impl WebForm {
    /// The section it was built from.
    pub fn section(&self) -> &WebFormSection {
        &self.section
    }
}

/// What became of a submission (the metric's `outcome` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A ticket was opened.
    Opened,
    /// The honeypot field came filled: success shown, nothing opened.
    Honeypot,
    /// Refused: too many from the address.
    RateLimited,
    /// Refused: a field is missing, too long or malformed, or the body unreadable.
    Invalid,
    /// Refused: the body or the attachment is over its limit.
    TooLarge,
}

impl Outcome {
    /// Every outcome.
    pub const ALL: [Outcome; 5] = [
        Outcome::Opened,
        Outcome::Honeypot,
        Outcome::RateLimited,
        Outcome::Invalid,
        Outcome::TooLarge,
    ];

    /// The label.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Opened => "opened",
            Outcome::Honeypot => "honeypot",
            Outcome::RateLimited => "rate_limited",
            Outcome::Invalid => "invalid",
            Outcome::TooLarge => "too_large",
        }
    }
}

/// Submissions per client address in fixed windows, sans-IO (the time handed in).
#[derive(Debug)]
pub struct Submissions {
    limit: u32,
    window: TimeDelta,
    max_tracked: usize,
    windows: HashMap<IpAddr, (DateTime<Utc>, u32)>,
}

impl Submissions {
    /// `limit` submissions per `window` per address, at most `max_tracked` addresses.
    pub fn new(limit: u32, window: Duration, max_tracked: usize) -> Self {
        Submissions {
            limit,
            window: TimeDelta::from_std(window).unwrap_or(TimeDelta::MAX),
            max_tracked: max_tracked.max(1),
            windows: HashMap::new(),
        }
    }

    /// Counts one submission from `addr` at `now`: `Ok(())`, or `Err(retry_after)` (whole
    /// seconds, at least one) when the address has used its window.
    pub fn admit(&mut self, addr: IpAddr, now: DateTime<Utc>) -> Result<(), Duration> {
        let key = address_key(addr);
        let window = self.window;
        let entry = self.windows.get(&key).copied();
        let (start, count) = match entry {
            Some((start, count)) if now < start + window => (start, count),
            _ => (now, 0),
        };
        if count >= self.limit {
            let left = (start + window - now).num_milliseconds().max(0) as u64;
            return Err(Duration::from_secs(left.div_ceil(1000).max(1)));
        }
        if entry.is_none() && self.windows.len() >= self.max_tracked {
            self.windows.retain(|_, (s, _)| now < *s + window);
            if self.windows.len() >= self.max_tracked
                && let Some(oldest) = self.windows.iter().min_by_key(|(_, w)| w.0).map(|e| *e.0)
            {
                self.windows.remove(&oldest);
            }
        }
        self.windows.insert(key, (start, count + 1));
        Ok(())
    }
}

/// IPv4 as is, IPv6 by its /64 (one host usually holds a whole /64).
fn address_key(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut o = v6.octets();
                o[8..].fill(0);
                IpAddr::V6(o.into())
            }
        },
        v4 => v4,
    }
}

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
    ticket_events::created(api, &opened.ticket).await?;
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
    use chrono::TimeZone;

    #[test]
    fn the_rate_limit_counts_per_address_and_window() {
        let t0 = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
        let mut s = Submissions::new(2, Duration::from_secs(60), 10);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        assert!(s.admit(a, t0).is_ok());
        assert!(s.admit(a, t0 + TimeDelta::seconds(10)).is_ok());
        assert_eq!(
            s.admit(a, t0 + TimeDelta::seconds(20)),
            Err(Duration::from_secs(40))
        );
        assert!(
            s.admit(b, t0 + TimeDelta::seconds(20)).is_ok(),
            "another address"
        );
        assert!(
            s.admit(a, t0 + TimeDelta::seconds(60)).is_ok(),
            "a new window"
        );
    }

    #[test]
    fn ipv6_counts_per_64_and_memory_is_bounded() {
        let t0 = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
        let mut s = Submissions::new(1, Duration::from_secs(60), 2);
        assert!(s.admit("2001:db8::1".parse().unwrap(), t0).is_ok());
        assert!(
            s.admit("2001:db8::2".parse().unwrap(), t0).is_err(),
            "same /64"
        );
        assert!(s.admit("2001:db8:0:1::1".parse().unwrap(), t0).is_ok());
        assert!(s.admit("192.0.2.9".parse().unwrap(), t0).is_ok());
        assert!(s.windows.len() <= 2);
    }

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

    #[test]
    fn the_section_is_checked() {
        let s = WebFormSection {
            queue: " ".into(),
            attachment_types: vec!["pdf".into()],
            window_s: 0,
            ..WebFormSection::default()
        };
        let paths: Vec<_> = s.validate().into_iter().map(|p| p.path).collect();
        assert_eq!(
            paths,
            [
                "web_form.queue",
                "web_form.attachment_types",
                "web_form.window_s"
            ]
        );
        assert!(WebFormSection::default().validate().is_empty());
    }
}
