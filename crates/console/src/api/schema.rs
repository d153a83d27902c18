//! Schemas of the answers the handlers build as JSON values ([`super::views`] and the
//! handlers' own `json!`): one type per shape, named as the OpenAPI document names it. The
//! request bodies derive their schemas where they are declared, and the store's and the
//! bus's types derive theirs in their crates (feature `utoipa` of `crm` and `events`).
//!
//! These types are never built: they describe. Each shape's fields are those its view
//! writes.

#![allow(dead_code)]

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{ToResponse, ToSchema};

/// An error (RFC 9457 problem details), served as `application/problem+json`.
#[derive(Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem.
    #[serde(rename = "type")]
    kind: String,
    title: String,
    status: u16,
    /// What was expected and what came.
    detail: String,
}

/// The user a session belongs to.
#[derive(Serialize, ToSchema)]
pub struct SessionUser {
    login: String,
    full_name: String,
    /// One role (`agent_first_level`, `agent_second_level`, `supervisor`, `admin`).
    roles: Vec<crm::Role>,
}

/// A new session: the token, the CSRF token for cookie requests, the idle expiry.
#[derive(Serialize, ToSchema)]
pub struct Session {
    /// Send as `Authorization: Bearer TOKEN` (also set as the session cookie).
    token: String,
    /// Send as `X-CSRF-Token` on state-changing requests authenticated by the cookie.
    csrf_token: String,
    /// When the session expires if unused (each request slides it).
    expires_at: DateTime<Utc>,
    user: SessionUser,
}

/// The caller's session.
#[derive(Serialize, ToSchema)]
pub struct CurrentSession {
    user: SessionUser,
    /// Whether the session cookie carried the token.
    via_cookie: bool,
    /// The CSRF token of a cookie session, for a reloaded page.
    csrf_token: Option<String>,
}

/// A Service Request.
#[derive(Serialize, ToSchema)]
pub struct Ticket {
    number: String,
    title: String,
    /// The queue's name.
    queue: String,
    state: crm::State,
    locked: bool,
    /// The owner's login.
    owner: Option<String>,
    /// The responsible's login.
    responsible: Option<String>,
    #[schema(minimum = 1, maximum = 5)]
    priority: u8,
    #[serde(rename = "type")]
    ticket_type: crm::TicketType,
    channel: crm::Channel,
    customer_id: Option<i64>,
    call_id: Option<String>,
    service_area: Option<String>,
    /// The parent ticket's number.
    parent: Option<String>,
    /// The number of the ticket this one was merged into.
    merged_into: Option<String>,
    created: DateTime<Utc>,
    changed: DateTime<Utc>,
    closed: Option<DateTime<Utc>>,
    pending_until: Option<DateTime<Utc>>,
}

/// A Service Request with its escalation clocks (`GET /api/v1/tickets/due`).
#[derive(Serialize, ToSchema)]
pub struct DueTicket {
    #[serde(flatten)]
    ticket: Ticket,
    /// The ticket's escalation clocks (first response, update, solution): due times and
    /// when each was met.
    #[schema(value_type = Object)]
    sla: Value,
    /// The earliest clock still running.
    next_due: Option<DateTime<Utc>>,
    /// Whether `next_due` has passed.
    overdue: bool,
}

/// Due tickets, earliest first.
#[derive(Serialize, ToSchema)]
pub struct DueTickets {
    tickets: Vec<DueTicket>,
}

/// A row of a ticket's history.
#[derive(Serialize, ToSchema)]
pub struct HistoryRow {
    at: DateTime<Utc>,
    /// The login who acted (none for the system).
    actor: Option<String>,
    /// What changed (`state`, `owner`, `queue`, `assignment`, …).
    kind: String,
    old: Option<String>,
    new: Option<String>,
    note: Option<String>,
}

/// A child ticket, in brief.
#[derive(Serialize, ToSchema)]
pub struct ChildTicket {
    number: String,
    title: String,
    state: crm::State,
}

/// A Service Request with its articles, history and children.
#[derive(Serialize, ToSchema)]
pub struct TicketDetail {
    #[serde(flatten)]
    ticket: Ticket,
    articles: Vec<Article>,
    history: Vec<HistoryRow>,
    children: Vec<ChildTicket>,
    /// Resolved at first contact (SLA.C.4): `first_contact` is `null` until judged at
    /// closing; corrected with `PUT /api/v1/tickets/{number}/first-contact`.
    first_contact: crate::api::ticket_actions::FirstContactView,
}

/// One page of a ticket search.
#[derive(Serialize, ToSchema)]
pub struct TicketPage {
    /// Matches, counted up to 1000.
    total: u64,
    /// False when more than `total` tickets match.
    total_exact: bool,
    page: u32,
    per_page: u32,
    tickets: Vec<Ticket>,
}

/// An attachment as an article lists it.
#[derive(Serialize, ToSchema)]
pub struct AttachmentRef {
    sha256: String,
    filename: String,
    content_type: String,
    size: u64,
    /// GET it to download (audio plays inline).
    url: String,
}

/// An article of a ticket.
#[derive(Serialize, ToSchema)]
pub struct Article {
    id: i64,
    kind: crm::ArticleKind,
    customer_visible: bool,
    sender: Option<String>,
    subject: String,
    body: String,
    created: DateTime<Utc>,
    /// The author's login.
    created_by: Option<String>,
    attachments: Vec<AttachmentRef>,
}

/// A customer: whether a PIN is set, never the PIN.
#[derive(Serialize, ToSchema)]
pub struct Customer {
    id: i64,
    full_name: String,
    organisation: Option<String>,
    email: Option<String>,
    guest: bool,
    has_pin: bool,
    /// E.164 numbers.
    phones: Vec<String>,
}

/// Who saw or changed a customer.
#[derive(Serialize, ToSchema)]
pub struct AuditRow {
    at: DateTime<Utc>,
    actor: Option<String>,
    /// `read`, `create`, `update`, …
    action: String,
    detail: Option<String>,
}

/// The call card (CONTRACT.md).
#[derive(Serialize, ToSchema)]
pub struct CallCard {
    call_id: String,
    sip_call_id: Option<String>,
    caller: String,
    dialled: String,
    started: DateTime<Utc>,
    answered: Option<DateTime<Utc>>,
    ended: Option<DateTime<Utc>>,
    /// The IVR steps, with their offsets.
    ivr_path: Vec<String>,
    customer_id: Option<i64>,
    /// How the caller was identified (`pin`, `ani`, `none`).
    identity: String,
    queue: Option<String>,
    wait_ms: Option<i64>,
    agent: Option<String>,
    outcome: Option<String>,
    /// The Service Request's number.
    ticket: Option<String>,
}

/// A transfer done.
/// A call's hold state after `POST /api/v1/calls/{call_id}/hold`.
#[derive(Serialize, ToSchema)]
pub struct HoldState {
    call_id: String,
    held: bool,
}

#[derive(Serialize, ToSchema)]
pub struct Transferred {
    call_id: String,
    queue: String,
    /// The Service Request that went with the call.
    ticket: Option<String>,
}

/// A prompt as the list shows it.
#[derive(Serialize, ToSchema)]
pub struct Prompt {
    language: String,
    name: String,
    /// The length of the version in force, from its header.
    duration_s: Option<f64>,
    /// `shipped` or `uploaded`: which version is in force.
    source: String,
    /// A shipped version exists (deleting the upload brings it back).
    shipped: bool,
    /// What uses it (IVR nodes, queues, voicemail).
    in_use_by: Vec<String>,
}

/// Every prompt.
#[derive(Serialize, ToSchema)]
pub struct PromptList {
    prompts: Vec<Prompt>,
}

/// How many prompts a restore brought back.
#[derive(Serialize, ToSchema)]
pub struct Restored {
    restored: usize,
}

/// A reload done.
#[derive(Serialize, ToSchema)]
pub struct Reloaded {
    /// What the new configuration holds.
    reloaded: String,
}

/// A phone as the administration shows it.
#[derive(Serialize, ToSchema)]
pub struct PhoneView {
    /// `registering` or `static`.
    kind: String,
    /// Static phones: the SIP URI calls are sent to.
    contact: Option<String>,
    has_secret: bool,
    secret_changed: Option<DateTime<Utc>>,
}

/// A user as the administration shows them.
#[derive(Serialize, ToSchema)]
pub struct User {
    login: String,
    full_name: String,
    role: crm::Role,
    active: bool,
    /// Managed by the administration's directory: its role and queues are rewritten from the
    /// directory groups at each sign-in, and it has no local password.
    directory: bool,
    queues: Vec<MembershipJson>,
    permissions: Vec<PermissionJson>,
    phone: Option<PhoneView>,
}

/// A phone's secret, shown once.
#[derive(Serialize, ToSchema)]
pub struct PhoneSecret {
    login: String,
    secret: String,
}

/// A queue member.
#[derive(Serialize, ToSchema)]
pub struct QueueMember {
    login: String,
    weight: u32,
}

/// A queue's settings and members.
#[derive(Serialize, ToSchema)]
pub struct SiteQueue {
    name: String,
    second_level: bool,
    takes_calls: bool,
    weight: u32,
    announce_every_s: Option<u64>,
    max_wait_s: Option<u64>,
    /// Another queue or `voicemail:<box>`.
    overflow: Option<String>,
    expected_wait_s: u64,
    service_level_s: u64,
    transfers_at_head: bool,
    members: Vec<QueueMember>,
}

/// The user an event stream belongs to.
#[derive(Serialize, ToSchema)]
pub struct StreamUser {
    login: String,
    role: crm::Role,
    full_name: String,
}

/// The first message of the event stream, and again after a `resync`.
#[derive(Serialize, ToSchema)]
pub struct EventSnapshot {
    #[serde(rename = "type")]
    kind: SnapshotTag,
    at: DateTime<Utc>,
    user: StreamUser,
    queues: Vec<QueueJson>,
    agents: Vec<AgentJson>,
    hourly: Vec<HourCount>,
    /// The automatic wrap-up time, if any.
    wrap_up_s: Option<u64>,
}

/// The client was too slow for the bus: `missed` events were dropped; a `snapshot` follows.
#[derive(Serialize, ToSchema)]
pub struct EventResync {
    #[serde(rename = "type")]
    kind: ResyncTag,
    missed: u64,
}

/// One message of `/api/v1/events`, told apart by `type`; clients ignore types they do not
/// know (new ones are added over time).
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum StreamMessage {
    Snapshot(EventSnapshot),
    Resync(EventResync),
    Event(events::Event),
}

/// The `type` of a snapshot.
#[derive(Serialize, ToSchema)]
pub enum SnapshotTag {
    #[serde(rename = "snapshot")]
    Snapshot,
}

/// The `type` of a resync.
#[derive(Serialize, ToSchema)]
pub enum ResyncTag {
    #[serde(rename = "resync")]
    Resync,
}

/// Missing, unknown or expired token (`WWW-Authenticate: Bearer`).
#[derive(ToResponse)]
#[response(content_type = "application/problem+json")]
pub struct Unauthorized(Problem);

/// The role or a queue permission is missing; or the CSRF token is.
#[derive(ToResponse)]
#[response(content_type = "application/problem+json")]
pub struct Forbidden(Problem);

/// No such object.
#[derive(ToResponse)]
#[response(content_type = "application/problem+json")]
pub struct NotFound(Problem);

/// Refused by the ticket life cycle (the store's message).
#[derive(ToResponse)]
#[response(content_type = "application/problem+json")]
pub struct LifecycleConflict(Problem);

/// A value in the request is not acceptable: what was expected and what came.
#[derive(ToResponse)]
#[response(content_type = "application/problem+json")]
pub struct Invalid(Problem);

/// The part this route needs does not run on this node (the ACD, the prompt store).
#[derive(ToResponse)]
#[response(content_type = "application/problem+json")]
pub struct Unavailable(Problem);

/// The body is larger than 20 MB.
#[derive(ToResponse)]
#[response(content_type = "application/problem+json")]
pub struct TooLarge(Problem);

/// A binary body (a WAV, a tar archive, an attachment): its bytes as they are.
pub struct Binary;

impl utoipa::PartialSchema for Binary {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .format(Some(utoipa::openapi::schema::SchemaFormat::KnownFormat(
                utoipa::openapi::schema::KnownFormat::Binary,
            )))
            .into()
    }
}

impl ToSchema for Binary {}

/// A report: JSON (an object whose fields the report's documentation in `crates/reports`
/// lists), or the same figures as CSV (`text/csv`) or a workbook
/// (`application/vnd.openxmlformats-officedocument.spreadsheetml.sheet`) when `format` asks.
pub struct Report;

impl utoipa::PartialSchema for Report {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::Object)
            .description(Some(
                "The report's rows (and totals, per queue), its period, time zone and sampling",
            ))
            .into()
    }
}

impl ToSchema for Report {}

// Answer and request types that handlers fill in and the event stream's snapshot carries:
// they live here, below every handler, so the schemas never import a handler back.

/// A queue membership as the API shows and takes it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = Membership)]
#[serde(deny_unknown_fields)]
pub struct MembershipJson {
    pub queue: String,
    /// 1-100 (default 1).
    #[serde(default = "one")]
    pub weight: u32,
}

fn one() -> u32 {
    1
}

/// A CRM permission.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = Permission)]
#[serde(deny_unknown_fields)]
pub struct PermissionJson {
    pub queue: String,
    /// `read` or `write`.
    pub access: String,
}

/// One agent as `GET /api/v1/agents` shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = Agent)]
pub struct AgentJson {
    pub login: String,
    /// `logged_out`, `ready`, `ringing`, `talking`, `wrap_up` or `not_ready`.
    pub state: &'static str,
    pub reason: Option<String>,
    /// When the state began (for `ready`: since when the agent is idle).
    pub since: DateTime<Utc>,
    pub seconds_in_state: u64,
    /// Whether the agent's phone is registered (or has a static contact).
    pub registered: bool,
    pub queues: Vec<String>,
    /// Our call id of the call ringing at or talking with the agent.
    pub current_call: Option<String>,
    /// How the agent works (R-ACD-5): `online` (calls only), `offline` (items only) or
    /// `blended` (calls first, items when idle).
    pub mode: events::AgentMode,
    /// The item (a written ticket) offered to or held by the agent.
    pub item: Option<AgentItem>,
}

/// The item an agent has (blended routing).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AgentItem {
    /// The ticket number.
    pub number: String,
    /// `offered` (waiting for accept or decline) or `accepted` (being worked).
    pub phase: &'static str,
}

/// One queue as `GET /api/v1/queues` shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = Queue)]
pub struct QueueJson {
    pub name: String,
    /// Calls waiting, those being offered included.
    pub waiting: usize,
    pub ringing: usize,
    pub oldest_wait_s: f64,
    /// Agents by state (`ready` counts registered and unregistered; `available` only those
    /// that can be offered a call).
    pub agents: AgentsByState,
    pub answered: u64,
    pub abandoned: u64,
    /// Share of calls answered within the queue's threshold (30 s in the demo), today; `null`
    /// before the first call counts.
    pub service_level: Option<f64>,
    /// Waiting calls per available agent (R-SUP-1 "average load").
    pub load: Option<f64>,
    pub expected_wait_s: f64,
    /// Mean wait, from entering the queue to an agent's answer, of the calls answered today;
    /// `null` before the first.
    pub avg_answer_time_s: Option<f64>,
}

/// Agents of a queue by state.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AgentsByState {
    pub logged_out: usize,
    pub ready: usize,
    pub ringing: usize,
    pub talking: usize,
    pub wrap_up: usize,
    pub not_ready: usize,
    pub available: usize,
}

/// One bucket of the series.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct HourCount {
    /// The bucket's first instant (a whole UTC hour).
    pub hour: DateTime<Utc>,
    /// Calls started in it.
    pub calls: u64,
}

/// The query of the upgrade request.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StreamParams {
    /// The session token, for clients that cannot set `Authorization`.
    pub token: Option<String>,
}

/// A request opened from the public web form.
#[derive(Serialize, ToSchema)]
pub struct PublicRequestOpened {
    /// The ticket number to quote.
    #[schema(example = "2026030242000015")]
    number: String,
}
