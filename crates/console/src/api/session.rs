//! `POST /api/v1/session` (login), `GET` (who am I), `DELETE` (logout).

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::auth::{ApiJson, SESSION_COOKIE};
use super::error::{ApiError, ApiResult};
use super::{Api, Caller};

/// The login request.
#[derive(Debug, Deserialize)]
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

/// `POST /api/v1/session`: 200 `{"token","csrf_token","expires_at","user"}` and the session
/// cookie; 401 for an unknown login or a wrong password alike (both logged, both paying one
/// argon2 verification so their timing does not tell them apart).
pub async fn login(State(api): State<Api>, ApiJson(body): ApiJson<Login>) -> ApiResult<Response> {
    let now = api.now();
    let store = api.store();
    let user = if store.user_by_login(&body.login).await?.is_some() {
        store.authenticate(&body.login, &body.password).await?
    } else {
        let _ = crm::access::verify_password(&body.password, api.decoy_hash());
        None
    };
    let Some(user) = user else {
        tracing::warn!(login = %body.login, "login refused: unknown login, wrong password or disabled account");
        return Err(ApiError::BadCredentials);
    };
    let issued = {
        let mut sessions = api.sessions();
        sessions.expire(now);
        sessions.open(user.id, now)
    };
    tracing::info!(login = %user.login, role = %user.role, "login");
    let max_age = api.config().session_idle.as_secs();
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
pub async fn logout(State(api): State<Api>, caller: Caller) -> ApiResult<Response> {
    api.sessions().close(&caller.token);
    tracing::info!(login = %caller.user.login, "logout");
    let mut headers = HeaderMap::new();
    headers.insert(header::SET_COOKIE, cookie_header(&api, "", 0));
    Ok((StatusCode::NO_CONTENT, headers).into_response())
}
