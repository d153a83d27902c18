//! Who is asking: the [`Caller`] extractor (bearer token or session cookie with CSRF check),
//! and request extractors whose rejections render as problems ([`ApiJson`], [`ApiQuery`],
//! [`ApiPath`]).

use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};
use serde::de::DeserializeOwned;

use super::Api;
use super::error::{ApiError, AuthFailure};
use super::sessions::constant_time_eq;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "centralino_session";
/// The header a cookie-authenticated state-changing request must carry.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// An authenticated operator, freshly read from the store (a role changed or an account
/// disabled since login takes effect on the next request).
#[derive(Debug, Clone)]
pub struct Caller {
    /// The operator.
    pub user: crm::User,
    /// The session token the request carried.
    pub token: String,
    /// Whether it came in the cookie (rather than `Authorization: Bearer`).
    pub via_cookie: bool,
}

impl Caller {
    /// The actor the store records.
    pub fn actor(&self) -> crm::Actor {
        crm::Actor::User(self.user.id)
    }
}

/// The bearer token (RFC 6750 §2.1; the scheme is case-insensitive, RFC 9110 §11.1).
pub(crate) fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then(|| token.to_string())
}

/// The session cookie's value (RFC 6265 §5.4: `name=value` pairs separated by `; `).
pub(crate) fn cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, value)| *name == SESSION_COOKIE && !value.is_empty())
        .map(|(_, value)| value.to_string())
}

/// Methods that change nothing (RFC 9110 §9.2.1) need no CSRF token.
fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

impl FromRequestParts<Api> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, api: &Api) -> Result<Self, ApiError> {
        let now = api.now();
        let (token, via_cookie) = match (bearer(&parts.headers), cookie(&parts.headers)) {
            (Some(t), _) => (t, false),
            (None, Some(t)) => (t, true),
            (None, None) => return Err(ApiError::Unauthenticated(AuthFailure::NoToken)),
        };
        let session = api
            .sessions()
            .touch(&token, now)
            .ok_or(ApiError::Unauthenticated(AuthFailure::UnknownOrExpired))?;
        if via_cookie && !is_safe(&parts.method) {
            let sent = parts.headers.get(CSRF_HEADER).map(|v| v.to_str());
            match sent {
                None => return Err(ApiError::Csrf("no header")),
                Some(Ok(v)) if constant_time_eq(v, &session.csrf_token) => {}
                Some(_) => return Err(ApiError::Csrf("a different value")),
            }
        }
        let user = match api.store().user(session.user).await {
            Ok(u) => u,
            Err(crm::Error::NotFound { .. }) => {
                api.sessions().close_user(session.user);
                return Err(ApiError::Unauthenticated(AuthFailure::UnknownOrExpired));
            }
            Err(e) => return Err(e.into()),
        };
        if !user.active {
            api.sessions().close_user(user.id);
            tracing::warn!(login = ?user.login, "request from a disabled account refused");
            return Err(ApiError::Unauthenticated(AuthFailure::AccountDisabled));
        }
        Ok(Caller {
            user,
            token,
            via_cookie,
        })
    }
}

/// `axum::Json` whose rejection is an [`ApiError`] problem.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let axum::Json(v) = axum::Json::<T>::from_request(req, state).await?;
        Ok(ApiJson(v))
    }
}

/// `axum::extract::Query` whose rejection is an [`ApiError`] problem (422).
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Query(v) = Query::<T>::from_request_parts(parts, state).await?;
        Ok(ApiQuery(v))
    }
}

/// `axum::extract::Path` whose rejection is an [`ApiError`] problem (422).
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(v) = Path::<T>::from_request_parts(parts, state).await?;
        Ok(ApiPath(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;

    fn headers(headers: &[(&str, &str)]) -> HeaderMap {
        let mut b = Request::get("/");
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).unwrap().into_parts().0.headers
    }

    #[test]
    fn bearer_scheme_is_case_insensitive_and_needs_a_token() {
        assert_eq!(
            bearer(&headers(&[("authorization", "bearer abc")])).as_deref(),
            Some("abc")
        );
        assert_eq!(bearer(&headers(&[("authorization", "Bearer ")])), None);
        assert_eq!(bearer(&headers(&[("authorization", "Basic abc")])), None);
        assert_eq!(bearer(&headers(&[])), None);
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let h = headers(&[("cookie", "a=1; centralino_session=tok; b=2")]);
        assert_eq!(cookie(&h).as_deref(), Some("tok"));
        assert_eq!(
            cookie(&headers(&[("cookie", "centralino_sessionx=1")])),
            None
        );
    }
}
