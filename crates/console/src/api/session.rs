//! `POST /api/v1/session` (login), `GET` (who am I), `DELETE` (logout).
//!
//! # Sign-in (issue 13)
//! A login is checked against the rate limits first ([`limit`]: per login and per client
//! address, 429 with `Retry-After`), then:
//! - a **local account with a password** (the first admin is one) is checked locally and
//!   only locally: a directory user of the same login cannot take it over;
//! - otherwise, when a directory is configured ([`SignIn`]), the directory decides
//!   ([`directory::Directory::authenticate`]); a user it vouches for and whose groups are
//!   mapped is provisioned or updated locally with the mapped role and queues
//!   ([`crm::Store::provision_directory_user`], audited); one in no mapped group is refused
//!   like a wrong password. A directory that does not answer is a 503 for its users (local
//!   accounts still sign in);
//! - an unknown login without a directory pays a decoy hash check and is refused.
//!
//! Every argon2 check runs on the bounded [`pool`], never on the async workers. Refusals
//! look alike (401, one message) and cost alike: directory checks run beside a decoy hash
//! check, so each refusal costs at least one argon2 verification.
//!
//! The client address is the TCP peer, or, behind a reverse proxy listed in
//! `http.trusted_proxies`, the address the proxy names in `X-Forwarded-For`
//! ([`crate::server::ClientIp`]); without that setting every client behind a proxy counts as
//! the proxy's address.

pub mod limit;
pub mod pool;

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;

use super::auth::{ApiJson, SESSION_COOKIE};
use super::error::{ApiError, ApiResult};
use super::{Api, Caller};
use limit::{LimitSettings, Limiter, Verdict};
use pool::{HashPool, PoolBusy};

/// How logins are checked: the directory (if any), the rate limits and the hash pool.
/// Cheap to clone; clones share the limits' counts and the pool.
#[derive(Clone)]
pub struct SignIn {
    inner: Arc<SignInInner>,
}

struct SignInInner {
    directory: Option<directory::Directory>,
    limiter: Mutex<Limiter>,
    pool: HashPool,
}

/// What [`SignIn::new`] is built from.
#[derive(Debug, Clone)]
pub struct SignInSettings {
    /// The administration's directory; `None`: local accounts only.
    pub directory: Option<directory::Directory>,
    /// The rate limits.
    pub limits: LimitSettings,
    /// Password checks at once ([`pool::default_threads`]).
    pub hash_threads: usize,
    /// Password checks waiting at most; more are turned away with 503.
    pub hash_queue: usize,
}

impl Default for SignInSettings {
    fn default() -> Self {
        SignInSettings {
            directory: None,
            limits: LimitSettings::default(),
            hash_threads: pool::default_threads(),
            hash_queue: 256,
        }
    }
}

impl Default for SignIn {
    fn default() -> Self {
        SignIn::new(SignInSettings::default())
    }
}

impl std::fmt::Debug for SignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignIn")
            .field("directory", &self.inner.directory.is_some())
            .field("pool", &self.inner.pool)
            .finish_non_exhaustive()
    }
}

impl SignIn {
    /// A sign-in with these settings and no failures counted yet.
    pub fn new(settings: SignInSettings) -> Self {
        SignIn {
            inner: Arc::new(SignInInner {
                directory: settings.directory,
                limiter: Mutex::new(Limiter::new(settings.limits)),
                pool: HashPool::new(settings.hash_threads, settings.hash_queue),
            }),
        }
    }

    /// The hash pool (other CPU-heavy password work can share it).
    pub fn pool(&self) -> &HashPool {
        &self.inner.pool
    }

    fn limiter(&self) -> std::sync::MutexGuard<'_, Limiter> {
        self.inner
            .limiter
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The client's address: as [`crate::server::serve`] read it ([`crate::server::ClientIp`]:
/// the TCP peer, or the client a trusted proxy names), else the TCP peer when the server
/// runs with `ConnectInfo`, else unknown (then only the per-login limit applies).
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if let Some(client) = parts.extensions.get::<crate::server::ClientIp>() {
            return Ok(ClientAddr(Some(client.0)));
        }
        // The extractor, not the bare extension: it also reads `MockConnectInfo` (tests).
        Ok(ClientAddr(
            ConnectInfo::<SocketAddr>::from_request_parts(parts, state)
                .await
                .ok()
                .map(|c| c.0.ip()),
        ))
    }
}

/// A problem+json answer (RFC 9457) with `Retry-After` (RFC 9110 §10.2.3).
fn problem_retry(
    status: StatusCode,
    slug: &str,
    title: &str,
    detail: &str,
    retry_after: Duration,
) -> Response {
    let body = json!({
        "type": format!("urn:centralino:problem:{slug}"),
        "title": title,
        "status": status.as_u16(),
        "detail": detail,
    });
    let mut response = (status, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    headers.insert(
        header::RETRY_AFTER,
        HeaderValue::from(retry_after.as_secs()),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn too_many(retry_after: Duration) -> Response {
    problem_retry(
        StatusCode::TOO_MANY_REQUESTS,
        "too-many-logins",
        "Too many failed logins",
        &format!(
            "too many failed logins for this account or from this address; try again in {} s",
            retry_after.as_secs()
        ),
        retry_after,
    )
}

fn busy() -> Response {
    problem_retry(
        StatusCode::SERVICE_UNAVAILABLE,
        "busy",
        "Too many logins at once",
        "too many logins are being checked at once; try again in a moment",
        Duration::from_secs(1),
    )
}

fn directory_unavailable() -> Response {
    problem_retry(
        StatusCode::SERVICE_UNAVAILABLE,
        "directory-unavailable",
        "Directory unavailable",
        "the directory that checks this account does not answer; try again later \
         (local accounts can still sign in)",
        Duration::from_secs(30),
    )
}

/// The login request.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Login {
    /// Operator login.
    pub login: String,
    /// Password.
    pub password: String,
}

fn user_json(user: &crm::User) -> serde_json::Value {
    json!({
        "login": user.login,
        "full_name": user.full_name,
        "roles": [user.role],
    })
}

fn cookie_header(api: &Api, value: &str, max_age_s: u64) -> HeaderValue {
    let secure = if api.config().cookie_secure {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_s}{secure}"
    );
    HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Why a login did not open a session.
enum Refused {
    /// Wrong login or password, disabled account, or a directory user in no mapped group:
    /// 401, counted as a failure.
    Credentials,
    /// The hash pool is full: 503, not counted.
    Busy,
    /// The directory did not answer: 503, not counted.
    DirectoryDown,
}

impl From<PoolBusy> for Refused {
    fn from(_: PoolBusy) -> Self {
        Refused::Busy
    }
}

/// Checks `password` against `phc` on the pool.
async fn verify(signin: &SignIn, password: &str, phc: String) -> Result<bool, PoolBusy> {
    let password = password.to_owned();
    signin
        .pool()
        .run(move || crm::access::verify_password(&password, &phc))
        .await
}

/// Checks `password` against the decoy hash on the pool (made there on first need).
async fn decoy(api: &Api, signin: &SignIn, password: &str) -> Result<(), PoolBusy> {
    let (api, password) = (api.clone(), password.to_owned());
    signin
        .pool()
        .run(move || {
            let _ = crm::access::verify_password(&password, api.decoy_hash());
        })
        .await
}

/// Who `login` is, if `password` proves it (see the module's "Sign-in").
async fn authenticate(
    api: &Api,
    signin: &SignIn,
    login: &str,
    password: &str,
    now: DateTime<Utc>,
) -> ApiResult<Result<crm::User, Refused>> {
    let record = api.store().login_record(login).await?;
    if let Some(record) = &record
        && let Some(phc) = &record.password_hash
    {
        return Ok(match verify(signin, password, phc.clone()).await {
            Ok(true) if record.user.active => Ok(record.user.clone()),
            Ok(_) => Err(Refused::Credentials),
            Err(busy) => Err(busy.into()),
        });
    }
    let directory = signin.inner.directory.as_ref();
    let Some(directory) =
        directory.filter(|_| record.as_ref().is_none_or(|r| r.directory_dn.is_some()))
    else {
        // Unknown login, no directory (or an account without any password).
        return Ok(match decoy(api, signin, password).await {
            Ok(()) => Err(Refused::Credentials),
            Err(busy) => Err(busy.into()),
        });
    };
    let (answer, paid) = tokio::join!(
        directory.authenticate(login, password),
        decoy(api, signin, password)
    );
    if let Err(busy) = paid {
        return Ok(Err(busy.into()));
    }
    let user = match answer {
        Ok(directory::Outcome::SignedIn(user)) => user,
        Ok(directory::Outcome::Refused(why)) => {
            tracing::warn!(login, reason = ?why, "directory sign-in refused");
            return Ok(Err(Refused::Credentials));
        }
        Err(error) => {
            tracing::error!(login, error = ?error.to_string(), "directory sign-in impossible: the directory does not answer");
            return Ok(Err(Refused::DirectoryDown));
        }
    };
    let grants = user
        .grant
        .queues
        .iter()
        .map(|(q, a)| (q.clone(), crm::Access::from(*a)))
        .collect();
    let provisioned = match api
        .store()
        .provision_directory_user(
            login,
            &user.full_name,
            &user.dn,
            user.grant.role,
            &grants,
            now,
        )
        .await
    {
        Ok(p) => p,
        Err(crm::Error::Duplicate { .. }) => {
            tracing::warn!(
                login,
                "directory sign-in refused: a local account has this login"
            );
            return Ok(Err(Refused::Credentials));
        }
        Err(e) => return Err(e.into()),
    };
    if !provisioned.unknown_queues.is_empty() {
        tracing::warn!(
            login,
            queues = ?provisioned.unknown_queues,
            "the directory mapping names queues the CRM does not have: skipped"
        );
    }
    if provisioned.changed {
        tracing::info!(
            login,
            role = %user.grant.role,
            groups = ?user.grant.groups,
            created = provisioned.created,
            "directory account provisioned"
        );
    }
    Ok(if provisioned.user.active {
        Ok(provisioned.user)
    } else {
        Err(Refused::Credentials)
    })
}

/// `POST /api/v1/session`: 200 `{"token","csrf_token","expires_at","user"}` and the session
/// cookie; 401 for an unknown login, a wrong password or a directory user in no mapped
/// group alike (all logged, all paying at least one argon2 verification so their timing does
/// not tell them apart); 429 with `Retry-After` after too many failures for the login or
/// from the address; 503 with `Retry-After` when the directory does not answer or too many
/// logins are being checked at once.
#[utoipa::path(
    post,
    operation_id = "session_login",
    path = "/api/v1/session",
    tag = "session",
    summary = "Log in",
    request_body = super::session::Login,
    responses(
        (status = 200, description = "token, CSRF token, expiry, user; also the session cookie (Cache-Control: no-store)", body = crate::api::schema::Session),
        (status = 401, description = "wrong login or password", body = crate::api::schema::Problem, content_type = "application/problem+json"),
        (status = 422, response = crate::api::schema::Invalid),
        (status = 429, description = "too many failed logins for this login or from this address; `Retry-After` says when to try again", body = crate::api::schema::Problem, content_type = "application/problem+json"),
        (status = 503, description = "the directory does not answer (directory users), or too many logins are being checked at once; `Retry-After`", body = crate::api::schema::Problem, content_type = "application/problem+json"),
    ),
    security(())
)]
pub async fn login(
    State(api): State<Api>,
    ClientAddr(address): ClientAddr,
    ApiJson(body): ApiJson<Login>,
) -> ApiResult<Response> {
    let now = api.now();
    let signin = api.config().signin.clone();
    let verdict = signin.limiter().check(&body.login, address, now);
    if let Verdict::Deny { retry_after } = verdict {
        tracing::warn!(login = ?body.login, address = ?address, retry_after_s = retry_after.as_secs(), "login refused: too many failures");
        return Ok(too_many(retry_after));
    }
    let user = match authenticate(&api, &signin, &body.login, &body.password, now).await? {
        Ok(user) => user,
        Err(Refused::Credentials) => {
            signin.limiter().failed(&body.login, address, now);
            tracing::warn!(login = ?body.login, address = ?address, "login refused: unknown login, wrong password or disabled account");
            return Err(ApiError::BadCredentials);
        }
        Err(Refused::Busy) => {
            tracing::warn!(login = ?body.login, "login turned away: the password checks are full");
            return Ok(busy());
        }
        Err(Refused::DirectoryDown) => return Ok(directory_unavailable()),
    };
    signin.limiter().succeeded(&body.login);
    let issued = {
        let mut sessions = api.sessions();
        sessions.expire(now);
        sessions.open(user.id, now)
    };
    tracing::info!(login = ?user.login, role = %user.role, "login");
    // The browser may keep the cookie for the session's whole life; the server ends it sooner
    // when it is left unused.
    let max_age = api.config().session_max_age.as_secs();
    let mut headers = HeaderMap::new();
    headers.insert(
        header::SET_COOKIE,
        cookie_header(&api, &issued.token, max_age),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let body = json!({
        "token": issued.token,
        "csrf_token": issued.csrf_token,
        "expires_at": issued.expires_at,
        "user": user_json(&user),
    });
    Ok((StatusCode::OK, headers, axum::Json(body)).into_response())
}

/// `GET /api/v1/session`: the caller's user, whether the cookie carried the token, and for
/// a cookie session its CSRF token (so a reloaded web page can go on sending it; a
/// cross-site page cannot read this answer, RFC 6454 same-origin policy).
#[utoipa::path(
    get,
    operation_id = "session_current",
    path = "/api/v1/session",
    tag = "session",
    summary = "The caller's user",
    responses(
        (status = 200, description = "the caller's user and, for a cookie session, its CSRF token", body = crate::api::schema::CurrentSession),
        (status = 401, response = crate::api::schema::Unauthorized),
    )
)]
pub async fn current(State(api): State<Api>, caller: Caller) -> ApiResult<Response> {
    let csrf = if caller.via_cookie {
        api.sessions()
            .peek(&caller.token, api.now())
            .map(|s| s.csrf_token)
    } else {
        None
    };
    let mut headers = HeaderMap::new();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok((
        headers,
        axum::Json(json!({
            "user": user_json(&caller.user),
            "via_cookie": caller.via_cookie,
            "csrf_token": csrf,
        })),
    )
        .into_response())
}

/// `DELETE /api/v1/session`: ends the session; 204 and an expired cookie.
#[utoipa::path(
    delete,
    operation_id = "session_logout",
    path = "/api/v1/session",
    tag = "session",
    summary = "Log out",
    responses(
        (status = 204, description = "session ended, cookie cleared"),
        (status = 401, response = crate::api::schema::Unauthorized),
        (status = 403, response = crate::api::schema::Forbidden),
    )
)]
pub async fn logout(State(api): State<Api>, caller: Caller) -> ApiResult<Response> {
    api.sessions().close(&caller.token);
    tracing::info!(login = ?caller.user.login, "logout");
    let mut headers = HeaderMap::new();
    headers.insert(header::SET_COOKIE, cookie_header(&api, "", 0));
    Ok((StatusCode::NO_CONTENT, headers).into_response())
}
