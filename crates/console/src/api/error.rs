//! The API's one error type, rendered as `application/problem+json` (RFC 9457 §3):
//! `{"type","title","status","detail"}`.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Why a request is not authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthFailure {
    /// Neither `Authorization: Bearer` nor the session cookie came.
    #[error("expected `Authorization: Bearer TOKEN` or the session cookie, got neither")]
    NoToken,
    /// A token came that names no live session.
    #[error("the session token is unknown or expired; log in again")]
    UnknownOrExpired,
    /// The account was disabled since login.
    #[error("the account is disabled")]
    AccountDisabled,
}

/// Everything a handler can answer with instead of success.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No usable credentials: 401 with `WWW-Authenticate: Bearer` (RFC 6750 §3).
    #[error("authentication required: {0}")]
    Unauthenticated(AuthFailure),
    /// Wrong login or password (the same answer for both): 401.
    #[error("wrong login or password")]
    BadCredentials,
    /// A cookie-authenticated state-changing request without the right `X-CSRF-Token`: 403.
    #[error("expected header X-CSRF-Token matching the session's csrf_token, got {0}")]
    Csrf(&'static str),
    /// The role or queue permission does not allow it: 403.
    #[error("{0}")]
    Forbidden(String),
    /// No such object: 404.
    #[error("{0}")]
    NotFound(String),
    /// A value in the request is not acceptable: 422.
    #[error("{0}")]
    Invalid(String),
    /// The request could not be read (syntax, content type): its own status.
    #[error("{detail}")]
    Malformed {
        /// 400, 415, …
        status: StatusCode,
        /// What was wrong.
        detail: String,
    },
    /// The request contradicts the current state (e.g. an agent state change the ACD refuses):
    /// 409.
    #[error("{0}")]
    Conflict(String),
    /// A part the request needs is not running (e.g. no ACD): 503.
    #[error("{0}")]
    Unavailable(String),
    /// The store refused or failed.
    #[error(transparent)]
    Store(#[from] crm::Error),
}

impl ApiError {
    /// A 422 saying what was expected and what came.
    pub fn invalid(what: &str, expected: &str, got: impl std::fmt::Display) -> Self {
        ApiError::Invalid(format!("invalid {what}: expected {expected}, got `{got}`"))
    }

    /// The status, the problem type's slug and its title.
    fn classify(&self) -> (StatusCode, &'static str, &'static str) {
        use crm::Error as E;
        match self {
            ApiError::Unauthenticated(_) => (
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "Authentication required",
            ),
            ApiError::BadCredentials => (
                StatusCode::UNAUTHORIZED,
                "bad-credentials",
                "Wrong login or password",
            ),
            ApiError::Csrf(_) => (StatusCode::FORBIDDEN, "csrf", "CSRF token missing or wrong"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden", "Not allowed"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not-found", "Not found"),
            ApiError::Invalid(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid",
                "Invalid request",
            ),
            ApiError::Malformed { status, .. } => (*status, "malformed", "Malformed request"),
            ApiError::Conflict(_) => (
                StatusCode::CONFLICT,
                "conflict",
                "Conflicts with the current state",
            ),
            ApiError::Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Service unavailable",
            ),
            ApiError::Store(e) => match e {
                E::Lifecycle(_) => (
                    StatusCode::CONFLICT,
                    "lifecycle",
                    "Not allowed by the ticket life cycle",
                ),
                E::Duplicate { .. } => (StatusCode::CONFLICT, "duplicate", "Already exists"),
                E::InUse { .. } => (StatusCode::CONFLICT, "in-use", "Still in use"),
                E::NotFound { .. } => (StatusCode::NOT_FOUND, "not-found", "Not found"),
                E::Invalid { .. } => (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid",
                    "Invalid request",
                ),
                E::AttachmentTooLarge { .. } => (
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "too-large",
                    "Attachment too large",
                ),
                E::Journal(_) => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "Database unavailable",
                ),
                E::Database(_) | E::Migrate(_) | E::UnsupportedUrl(_) | E::PasswordHash(_) => (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "Internal error",
                ),
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, slug, title) = self.classify();
        let detail = if status.is_server_error() {
            // The cause goes to the log, not to the client.
            tracing::error!(error = ?self.to_string(), "API request failed");
            "the server could not complete the request; the cause is in its log".to_string()
        } else {
            self.to_string()
        };
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
        if status == StatusCode::UNAUTHORIZED {
            // RFC 6750 §3.1: a token that came but is no good is `invalid_token`.
            let challenge = match self {
                ApiError::Unauthenticated(AuthFailure::NoToken) | ApiError::BadCredentials => {
                    "Bearer realm=\"centralino\""
                }
                ApiError::Unauthenticated(_) => {
                    "Bearer realm=\"centralino\", error=\"invalid_token\""
                }
                _ => "Bearer realm=\"centralino\"",
            };
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        response
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        match r {
            JsonRejection::JsonDataError(e) => ApiError::Invalid(e.body_text()),
            other => ApiError::Malformed {
                status: other.status(),
                detail: other.body_text(),
            },
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        ApiError::Invalid(r.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        ApiError::Invalid(r.body_text())
    }
}

/// Shorthand for handler results.
pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifecycle_refusals_are_conflicts_with_the_store_message() {
        let e = ApiError::Store(crm::Error::Lifecycle(crm::LifecycleError::NotLocked));
        let (status, slug, _) = e.classify();
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(slug, "lifecycle");
        assert!(e.to_string().contains("expected a locked ticket"));
    }

    #[test]
    fn unauthenticated_answers_carry_a_bearer_challenge() {
        let r = ApiError::Unauthenticated(AuthFailure::NoToken).into_response();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            r.headers()[header::WWW_AUTHENTICATE],
            "Bearer realm=\"centralino\""
        );
        assert_eq!(
            r.headers()[header::CONTENT_TYPE],
            "application/problem+json"
        );
    }
}
