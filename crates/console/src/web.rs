//! The web consoles (R-PLT-1, R-SUP-1, R-SUP-5): `/` (login), `/desktop` (agent desktop),
//! `/supervisor` (live console), `/reports` (reports and the monthly SLA, R-SUP-2 … R-SUP-5),
//! `/admin` (announcements), `/admin/site` (people and queues, R-PLT-2, R-ACD-7), `/request`
//! (the citizen's public web form, issue 16, no login) and their
//! static files under `/assets/`, embedded in the binary (plain
//! HTML, CSS and ES modules from `crates/console/assets/`, no build step).
//!
//! # Run loop
//! Stateless handlers over the [`Api`]'s session table. Pages are checked server-side on
//! every load: `/desktop` needs a live session cookie (else 303 to the login page, which
//! returns there after login), `/supervisor`, `/reports` and `/admin` a supervisor or admin (an agent gets
//! 403), `/admin/site` an admin (a supervisor gets 403). The
//! pages then talk only to `/api/v1` with the HttpOnly cookie and `X-CSRF-Token`, where every
//! call is checked again ([`crate::api::policy`]). Static files hold no data and need no
//! session. Every page is sent `no-store` with a Content Security Policy that allows only
//! this server's own scripts, styles and connections.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use crm::Role;

use crate::api::Api;
use crate::api::auth::cookie;
use crate::events::session_user;

/// The embedded static files: name under `/assets/`, content type, bytes.
pub const ASSETS: &[(&str, &str, &str)] = &[
    (
        "app.css",
        "text/css; charset=utf-8",
        include_str!("../assets/app.css"),
    ),
    ("i18n.js", JS, include_str!("../assets/i18n.js")),
    ("common.js", JS, include_str!("../assets/common.js")),
    ("login.js", JS, include_str!("../assets/login.js")),
    ("desktop.js", JS, include_str!("../assets/desktop.js")),
    ("tickets.js", JS, include_str!("../assets/tickets.js")),
    ("notices.js", JS, include_str!("../assets/notices.js")),
    ("supervisor.js", JS, include_str!("../assets/supervisor.js")),
    ("admin.js", JS, include_str!("../assets/admin.js")),
    ("site.js", JS, include_str!("../assets/site.js")),
    ("mail_admin.js", JS, include_str!("../assets/mail_admin.js")),
    ("reports.js", JS, include_str!("../assets/reports.js")),
    ("request.js", JS, include_str!("../assets/request.js")),
];

const JS: &str = "text/javascript; charset=utf-8";
const LOGIN_HTML: &str = include_str!("../assets/login.html");
const DESKTOP_HTML: &str = include_str!("../assets/desktop.html");
const SUPERVISOR_HTML: &str = include_str!("../assets/supervisor.html");
const ADMIN_HTML: &str = include_str!("../assets/admin.html");
const SITE_HTML: &str = include_str!("../assets/site.html");
const REPORTS_HTML: &str = include_str!("../assets/reports.html");
const FORBIDDEN_HTML: &str = include_str!("../assets/forbidden.html");
const REQUEST_HTML: &str = include_str!("../assets/request.html");

/// The Content Security Policy of every page: our own origin only (`'self'` covers the
/// same-origin WebSocket in CSP Level 3 §6.7.2.5; `ws:`/`wss:` are listed for older engines).
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self' ws: wss:; media-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// Who may open a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageAccess {
    /// Anyone (the login page).
    Public,
    /// Any operator with a live session.
    Operator,
    /// Supervisors and admins.
    Supervisor,
    /// Admins only.
    Admin,
}

impl PageAccess {
    /// Whether `role` may open a page of this kind (given a live session).
    pub fn allows(self, role: Role) -> bool {
        match self {
            PageAccess::Public | PageAccess::Operator => true,
            PageAccess::Supervisor => matches!(role, Role::Supervisor | Role::Admin),
            PageAccess::Admin => role == Role::Admin,
        }
    }
}

/// The pages and assets, to merge into the application router.
pub fn router(api: Api) -> Router {
    Router::new()
        .route("/", get(login_page))
        .route("/desktop", get(desktop_page))
        .route("/supervisor", get(supervisor_page))
        .route("/admin", get(admin_page))
        .route("/admin/site", get(site_page))
        .route("/reports", get(reports_page))
        .route("/request", get(request_page))
        .route("/assets/{name}", get(asset))
        .with_state(api)
}

fn page_headers(status: StatusCode, body: &'static str) -> Response {
    let mut headers = HeaderMap::new();
    let pairs = [
        (header::CONTENT_TYPE, "text/html; charset=utf-8"),
        (header::CACHE_CONTROL, "no-store"),
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "same-origin"),
    ];
    for (name, value) in pairs {
        headers.insert(name, HeaderValue::from_static(value));
    }
    (status, headers, body).into_response()
}

/// Serves `body` if the request's session may open a page of kind `access`.
async fn guarded(
    api: &Api,
    headers: &HeaderMap,
    access: PageAccess,
    path: &str,
    body: &'static str,
) -> Response {
    if access == PageAccess::Public {
        return page_headers(StatusCode::OK, body);
    }
    let user = match cookie(headers) {
        Some(token) => session_user(api, &token).await.ok(),
        None => None,
    };
    let Some(user) = user else {
        let to = format!("/?next={path}");
        let mut r = (StatusCode::SEE_OTHER, "login required\n").into_response();
        if let Ok(v) = HeaderValue::from_str(&to) {
            r.headers_mut().insert(header::LOCATION, v);
        }
        r.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        return r;
    };
    if !access.allows(user.role) {
        tracing::warn!(login = ?user.login, role = %user.role, page = path, "page refused");
        return page_headers(StatusCode::FORBIDDEN, FORBIDDEN_HTML);
    }
    page_headers(StatusCode::OK, body)
}

/// The announcements page (R-IVR-6): supervisors list and listen, admins change (the API
/// enforces who may do what).
async fn admin_page(State(api): State<Api>, headers: HeaderMap) -> Response {
    guarded(&api, &headers, PageAccess::Supervisor, "/admin", ADMIN_HTML).await
}

/// The site's people and queues (R-PLT-2, R-ACD-7): admins only, like the API behind it.
async fn site_page(State(api): State<Api>, headers: HeaderMap) -> Response {
    guarded(&api, &headers, PageAccess::Admin, "/admin/site", SITE_HTML).await
}

/// Reports and the monthly SLA (R-SUP-2 … R-SUP-5): supervisors and admins, like the API.
async fn reports_page(State(api): State<Api>, headers: HeaderMap) -> Response {
    guarded(
        &api,
        &headers,
        PageAccess::Supervisor,
        "/reports",
        REPORTS_HTML,
    )
    .await
}

/// The citizen's web form (issue 16): public, no session; 404 when `[web_form]` is off.
async fn request_page(State(api): State<Api>, headers: HeaderMap) -> Response {
    if api.config().web_form.is_none() {
        return (StatusCode::NOT_FOUND, "the web form is not enabled here\n").into_response();
    }
    guarded(&api, &headers, PageAccess::Public, "/request", REQUEST_HTML).await
}

async fn login_page(State(api): State<Api>, headers: HeaderMap) -> Response {
    guarded(&api, &headers, PageAccess::Public, "/", LOGIN_HTML).await
}

async fn desktop_page(State(api): State<Api>, headers: HeaderMap) -> Response {
    guarded(
        &api,
        &headers,
        PageAccess::Operator,
        "/desktop",
        DESKTOP_HTML,
    )
    .await
}

async fn supervisor_page(State(api): State<Api>, headers: HeaderMap) -> Response {
    guarded(
        &api,
        &headers,
        PageAccess::Supervisor,
        "/supervisor",
        SUPERVISOR_HTML,
    )
    .await
}

/// `GET /assets/{name}`: an embedded file, cacheable for an hour; 404 otherwise.
async fn asset(Path(name): Path<String>) -> Response {
    match ASSETS.iter().find(|(n, _, _)| *n == name) {
        Some((_, content_type, body)) => (
            [
                (header::CONTENT_TYPE, *content_type),
                (header::CACHE_CONTROL, "public, max-age=3600"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            *body,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such file\n").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_supervisors_and_admins_open_the_supervisor_console() {
        for &role in Role::ALL.iter() {
            assert!(PageAccess::Operator.allows(role));
            assert_eq!(
                PageAccess::Supervisor.allows(role),
                matches!(role, Role::Supervisor | Role::Admin),
                "{role}"
            );
        }
    }

    #[test]
    fn only_admins_open_the_site_administration() {
        for &role in Role::ALL.iter() {
            assert_eq!(
                PageAccess::Admin.allows(role),
                role == Role::Admin,
                "{role}"
            );
        }
    }

    #[test]
    fn every_page_loads_only_embedded_assets() {
        for page in [
            LOGIN_HTML,
            DESKTOP_HTML,
            SUPERVISOR_HTML,
            ADMIN_HTML,
            SITE_HTML,
            REPORTS_HTML,
            FORBIDDEN_HTML,
            REQUEST_HTML,
        ] {
            for reference in page.split("/assets/").skip(1) {
                let name: String = reference
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '_')
                    .collect();
                assert!(
                    ASSETS.iter().any(|(n, _, _)| *n == name),
                    "a page names /assets/{name}, which is not embedded"
                );
            }
        }
    }

    #[test]
    fn every_module_import_is_embedded() {
        for (name, _, body) in ASSETS {
            for line in body.lines().filter(|l| l.starts_with("import ")) {
                let target = line
                    .rsplit_once("'./")
                    .and_then(|(_, rest)| rest.split_once('\''))
                    .map(|(file, _)| file)
                    .unwrap_or_else(|| panic!("{name}: unexpected import {line}"));
                assert!(
                    ASSETS.iter().any(|(n, _, _)| *n == target),
                    "{name} imports {target}, which is not embedded"
                );
            }
        }
    }
}
