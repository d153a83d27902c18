//! The CRM HTTP API under `/api/v1` (CONTRACT.md "HTTP API"): sessions, Service Requests and
//! their actions, customers, call cards, and the OpenAPI document that describes them.
//!
//! # Run loop
//! The API is not a sans-IO core: it is the edge where HTTP meets the [`crm::Store`]. It keeps
//! one invariant the store does not: **every handler checks permissions before it touches
//! the store**, through [`auth::Caller`] (who is asking) and [`policy`] (what they may do).
//! Time comes from the [`Clock`] in [`ApiConfig`], read once per request and handed to the
//! store and the [`sessions::Sessions`] table, so tests run on fake time.
//!
//! # Authentication
//! `POST /api/v1/session` trades a login and password for a 256-bit random token (hex); the
//! server keeps only its SHA-256, with an idle expiry ([`ApiConfig::session_idle`], 8 h by
//! default) and an absolute one ([`ApiConfig::session_max_age`], 12 h by default). Every other call sends `Authorization: Bearer TOKEN` (RFC 6750 §2.1). The same
//! token also arrives as the HttpOnly cookie `centralino_session` for the web desktop; a
//! state-changing request (not `GET`/`HEAD`/`OPTIONS`) authenticated by the cookie must carry
//! `X-CSRF-Token` equal to the `csrf_token` returned at login. Missing, unknown or expired
//! tokens get 401 with `WWW-Authenticate: Bearer` (RFC 6750 §3); a disabled account loses
//! its sessions on its next request.
//!
//! # Permissions (R-PLT-2)
//! Queue permissions are the store's ([`crm::Store::queue_access`]): admins write every
//! queue, supervisors read every queue and write where granted, agents read or write only
//! where granted. Role capabilities are the table in [`policy::role_allows`]:
//!
//! | what | agent 1st level | agent 2nd level | supervisor | admin |
//! |---|---|---|---|---|
//! | search / read tickets | readable queues | readable queues | all | all |
//! | create ticket, every ticket action | writable queue | writable queue | writable queue | all |
//! | move to another queue | write on both | write on both | write on both | all |
//! | assign to a second-level queue | write on source | write on source | write on source | all |
//! | reject an assignment (R-SR-11) | — | write on current (and on a queue named) | same | all |
//! | link parent/child, merge | write on both tickets | same | same | all |
//! | read / search customers (audited) | yes | yes | yes | yes |
//! | create / change customers, set PIN | yes | yes | — | yes |
//! | customer audit log | — | — | — | yes |
//! | call cards | own calls and readable queues | same | all | all |
//!
//! An unknown ticket is 404 before any permission check; a known one in an unreadable queue
//! is 403. Searches return only tickets of readable queues; asking for an unreadable queue
//! by name is 403.
//!
//! # Errors
//! One [`ApiError`] renders `application/problem+json` (RFC 9457): life-cycle refusals from
//! the store are 409 with the store's message, malformed values 422, unknown objects 404.

pub mod agents;
pub mod attachments;
pub mod auth;
pub mod browser_phones;
pub mod calls;
pub mod customers;
pub mod error;
pub mod items;
pub mod lookup;
pub mod mail_desk;
pub mod notifications;
pub mod openapi;
pub mod phone;
pub mod policy;
pub mod prompts;
pub mod reports;
pub mod reports_live;
pub mod schema;
pub mod session;
pub mod sessions;
pub mod site;
pub mod ticket_actions;
pub mod ticket_events;
pub mod tickets;
pub mod views;
pub mod web_form;

use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{MethodRouter, delete, get, patch, post, put};
use chrono::{DateTime, Utc};
use events::live::LiveAcd;

pub use auth::Caller;
pub use error::ApiError;
pub use sessions::Sessions;

/// Where the API reads the time: the system clock in production, a fake one in tests.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>);

impl Clock {
    /// The system's wall clock.
    pub fn system() -> Self {
        Clock(Arc::new(Utc::now))
    }

    /// A clock that asks `f` (tests: a shared, settable instant).
    pub fn from_fn(f: impl Fn() -> DateTime<Utc> + Send + Sync + 'static) -> Self {
        Clock(Arc::new(f))
    }

    /// The time now.
    pub fn now(&self) -> DateTime<Utc> {
        (self.0)()
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Clock")
    }
}

/// Reloads the configuration (IVR tree, queues and agents) as SIGHUP does: `Ok(summary)` or
/// `Err(every problem)`, the running configuration unchanged.
#[derive(Clone)]
pub struct ReloadHook(pub Arc<dyn Fn() -> Result<String, String> + Send + Sync>);

impl std::fmt::Debug for ReloadHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReloadHook")
    }
}

/// Deployment settings of the API.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// A session unused this long expires (default 8 h).
    pub session_idle: Duration,
    /// A session ends this long after login even if used (default 12 h: a working shift
    /// and a half).
    pub session_max_age: Duration,
    /// Mark the session cookie `Secure` (serve over HTTPS; off for the loopback demo).
    pub cookie_secure: bool,
    /// The time source.
    pub clock: Clock,
    /// `POST /api/v1/admin/reload` (admins); absent: 503.
    pub reload: Option<ReloadHook>,
    /// The prompt routes (`/api/v1/prompts…`); absent: 503.
    pub prompts: Option<prompts::PromptAdmin>,
    /// The figures derived from the event log (today's queue counters, calls per hour).
    pub figures: crate::figures::Figures,
    /// Where the API publishes what it changes (`ticket.created`, `ticket.updated`); absent:
    /// nothing is published.
    pub bus: Option<::events::EventBus>,
    /// How logins are checked: directory, rate limits, hash pool ([`session::SignIn`]).
    pub signin: session::SignIn,
    /// The reports' settings and the service's calendar ([`reports`]).
    pub reports: reports::ReportsConfig,
    /// The public web form (`[web_form]`); absent: its route answers 404.
    pub web_form: Option<web_form::WebForm>,
    /// The e-mail desk (`[mail]`): operators' replies; absent: they answer 503.
    pub mail: Option<Arc<mail::desk::Desk>>,
    /// The agents' browser phones and their calls' quality (issue 17); absent: 503.
    pub browser_phones: Option<Arc<dyn browser_phones::BrowserPhoneSource>>,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            session_idle: Duration::from_secs(8 * 3600),
            session_max_age: Duration::from_secs(12 * 3600),
            cookie_secure: false,
            clock: Clock::system(),
            reload: None,
            prompts: None,
            figures: crate::figures::Figures::default(),
            bus: None,
            signin: session::SignIn::default(),
            reports: reports::ReportsConfig::default(),
            web_form: None,
            mail: None,
            browser_phones: None,
        }
    }
}

struct Inner {
    store: crm::Store,
    /// The ACD, for agent states and live queue figures (absent in store-only setups).
    acd: Option<Arc<dyn LiveAcd>>,
    sessions: Mutex<Sessions>,
    config: ApiConfig,
    /// A PHC hash checked when the login is unknown, so both failures cost the same
    /// (made on first need: it costs one argon2 hash).
    decoy_hash: OnceLock<String>,
    /// The last answer of `GET /api/v1/reports/live` and when it was computed: every console
    /// asks for it, one month's fold serves them all for a few seconds.
    pub(crate) live_report: Mutex<Option<(DateTime<Utc>, reports_live::LiveReport)>>,
}

/// The API's shared state: the store, the session table, the configuration. Cheap to clone.
#[derive(Clone)]
pub struct Api {
    inner: Arc<Inner>,
}

impl Api {
    /// The API over `store`.
    pub fn new(store: crm::Store, config: ApiConfig) -> Self {
        Api::with_acd(store, config, None)
    }

    /// The API over `store` and the ACD.
    pub fn with_acd(store: crm::Store, config: ApiConfig, acd: Option<Arc<dyn LiveAcd>>) -> Self {
        Api {
            inner: Arc::new(Inner {
                sessions: Mutex::new(Sessions::new(config.session_idle, config.session_max_age)),
                store,
                acd,
                config,
                decoy_hash: OnceLock::new(),
                live_report: Mutex::new(None),
            }),
        }
    }

    /// The store.
    pub fn store(&self) -> &crm::Store {
        &self.inner.store
    }

    /// The ACD, or 503 when this node runs none.
    pub fn acd(&self) -> Result<&dyn LiveAcd, ApiError> {
        self.inner
            .acd
            .as_deref()
            .ok_or_else(|| ApiError::Unavailable("no ACD runs here".into()))
    }

    /// The configuration.
    pub fn config(&self) -> &ApiConfig {
        &self.inner.config
    }

    /// The figures derived from the event log.
    pub fn figures(&self) -> &crate::figures::Figures {
        &self.inner.config.figures
    }

    /// Publishes `event` on the bus (when there is one).
    pub fn publish(&self, event: ::events::Event) {
        if let Some(bus) = &self.inner.config.bus {
            bus.publish(event);
        }
    }

    /// The time now, from the configured clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.inner.config.clock.now()
    }

    /// The session table (a poisoned lock is recovered: the table stays consistent).
    pub fn sessions(&self) -> MutexGuard<'_, Sessions> {
        self.inner
            .sessions
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The cached live report (a poisoned lock is recovered: the slot is only replaced whole).
    pub(crate) fn live_report(
        &self,
    ) -> MutexGuard<'_, Option<(DateTime<Utc>, reports_live::LiveReport)>> {
        self.inner
            .live_report
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn decoy_hash(&self) -> &str {
        self.inner.decoy_hash.get_or_init(|| {
            let cost = self.inner.store.settings().password_cost;
            crm::access::hash_password("decoy password", cost).unwrap_or_default()
        })
    }
}

/// One route: method, path (axum syntax, as in the OpenAPI document) and handler.
pub struct Route {
    /// HTTP method, lower case as in OpenAPI (`get`, `post`, …).
    pub method: &'static str,
    /// Path template, e.g. `/api/v1/tickets/{number}`.
    pub path: &'static str,
    handler: MethodRouter<Api>,
}

fn route(method: &'static str, path: &'static str, handler: MethodRouter<Api>) -> Route {
    Route {
        method,
        path,
        handler,
    }
}

/// Every API route; [`router`] is built from this table and the OpenAPI test checks it.
pub fn routes() -> Vec<Route> {
    use {calls as c, customers as cu, session as s, ticket_actions as ta, tickets as t};
    const T: &str = "/api/v1/tickets/{number}";
    const PROMPT: &str = "/api/v1/prompts/{lang}/{name}";
    const QUEUE: &str = "/api/v1/queues/{name}";
    const USER: &str = "/api/v1/users/{login}";
    const MAIL_TEMPLATE: &str = "/api/v1/admin/mail/templates/{purpose}/{lang}";
    vec![
        route("get", "/api/v1/openapi.json", get(openapi::document)),
        route("post", "/api/v1/session", post(s::login)),
        route("get", "/api/v1/session", get(s::current)),
        route("get", "/api/v1/me/phone", get(phone::show)),
        route("delete", "/api/v1/session", delete(s::logout)),
        route("get", "/api/v1/tickets", get(t::search)),
        route("get", "/api/v1/tickets/due", get(t::due)),
        route("post", "/api/v1/tickets", post(t::create)),
        route("get", T, get(t::show)),
        route(
            "post",
            "/api/v1/tickets/{number}/articles",
            post(ta::add_article),
        ),
        route(
            "get",
            "/api/v1/tickets/{number}/attachments/{sha256}",
            get(attachments::download),
        ),
        route("put", "/api/v1/tickets/{number}/state", put(ta::set_state)),
        route(
            "get",
            "/api/v1/tickets/{number}/first-contact",
            get(ta::first_contact),
        ),
        route(
            "put",
            "/api/v1/tickets/{number}/first-contact",
            put(ta::set_first_contact),
        ),
        route("post", "/api/v1/tickets/{number}/lock", post(ta::lock)),
        route("post", "/api/v1/tickets/{number}/unlock", post(ta::unlock)),
        route("put", "/api/v1/tickets/{number}/owner", put(ta::set_owner)),
        route(
            "put",
            "/api/v1/tickets/{number}/responsible",
            put(ta::set_responsible),
        ),
        route("put", "/api/v1/tickets/{number}/queue", put(ta::set_queue)),
        route(
            "put",
            "/api/v1/tickets/{number}/priority",
            put(ta::set_priority),
        ),
        route("put", "/api/v1/tickets/{number}/type", put(ta::set_type)),
        route("post", "/api/v1/tickets/{number}/links", post(ta::link)),
        route("get", "/api/v1/customers", get(cu::search)),
        route("post", "/api/v1/customers", post(cu::create)),
        route("get", "/api/v1/customers/{id}", get(cu::show)),
        route("patch", "/api/v1/customers/{id}", patch(cu::update)),
        route("get", "/api/v1/customers/{id}/audit", get(cu::audit)),
        route("get", "/api/v1/calls", get(c::by_sip_call_id)),
        route("get", "/api/v1/calls/{call_id}", get(c::show)),
        route(
            "post",
            "/api/v1/calls/{call_id}/transfer",
            post(c::transfer),
        ),
        route("post", "/api/v1/calls/{call_id}/hold", post(c::hold)),
        route("get", "/api/v1/phones/browser", get(browser_phones::list)),
        route("get", "/api/v1/agents", get(agents::list)),
        route(
            "put",
            "/api/v1/agents/{login}/state",
            put(agents::set_state),
        ),
        route("put", "/api/v1/agents/{login}/mode", put(agents::set_mode)),
        route("post", "/api/v1/items/{number}/accept", post(items::accept)),
        route(
            "post",
            "/api/v1/items/{number}/decline",
            post(items::decline),
        ),
        route("post", "/api/v1/items/{number}/done", post(items::done)),
        route("get", "/api/v1/queues", get(agents::queues)),
        route("post", "/api/v1/queues", post(site::create_queue)),
        route("get", "/api/v1/admin/queues", get(site::list_queues)),
        route("get", QUEUE, get(site::show_queue)),
        route("patch", QUEUE, patch(site::update_queue)),
        route("delete", QUEUE, delete(site::delete_queue)),
        route("get", "/api/v1/users", get(site::list_users)),
        route("post", "/api/v1/users", post(site::create_user)),
        route("get", USER, get(site::show_user)),
        route("patch", USER, patch(site::update_user)),
        route("delete", USER, delete(site::disable_user)),
        route(
            "get",
            "/api/v1/users/{login}/notifications",
            get(notifications::show),
        ),
        route(
            "put",
            "/api/v1/users/{login}/notifications",
            put(notifications::set),
        ),
        route(
            "post",
            "/api/v1/users/{login}/phone/secret",
            post(site::set_phone_secret),
        ),
        route("post", "/api/v1/admin/reload", post(agents::reload)),
        route("get", "/api/v1/reports/sla", get(reports::sla)),
        route("get", "/api/v1/reports/live", get(reports_live::live)),
        route("get", "/api/v1/reports/{report}", get(reports::show)),
        route(
            "post",
            "/api/v1/reports/mail/{set}",
            post(reports::mail_now),
        ),
        route("get", "/api/v1/prompts", get(prompts::list)),
        route("get", "/api/v1/prompts/backup", get(prompts::backup)),
        route(
            "post",
            "/api/v1/prompts/restore",
            post(prompts::restore).layer(DefaultBodyLimit::max(prompts::MAX_UPLOAD_BYTES)),
        ),
        route("get", PROMPT, get(prompts::audio)),
        route(
            "put",
            PROMPT,
            put(prompts::upload).layer(DefaultBodyLimit::max(prompts::MAX_UPLOAD_BYTES)),
        ),
        route("delete", PROMPT, delete(prompts::delete)),
        route(
            "post",
            "/api/v1/tickets/{number}/replies",
            post(mail_desk::reply),
        ),
        route(
            "get",
            "/api/v1/admin/mail/templates",
            get(mail_desk::templates),
        ),
        route("get", MAIL_TEMPLATE, get(mail_desk::template)),
        route("put", MAIL_TEMPLATE, put(mail_desk::set_template)),
        route("get", "/api/v1/admin/mail/outbox", get(mail_desk::outbox)),
        route(
            "post",
            "/api/v1/admin/mail/outbox/{id}/retry",
            post(mail_desk::retry),
        ),
        route(
            "post",
            "/api/v1/public/requests",
            post(web_form::create).layer(DefaultBodyLimit::disable()),
        ),
    ]
}

/// The API's routes with their state; merge it into the application router.
pub fn router(api: Api) -> Router {
    routes()
        .into_iter()
        .fold(Router::new(), |r, route| r.route(route.path, route.handler))
        .with_state(api)
}
