//! The signed-in operator's browser phone (issue 17): `GET /api/v1/me/phone`, what the agent
//! desktop's SIP client (JsSIP, `assets/phone.js`) registers over `/ws` with.
//!
//! The page never holds a password: the session that loaded it is worth the phone's digest
//! `HA1` for the realm in force (MD5, the one algorithm JsSIP does), which JsSIP takes instead
//! of a password. An HA1 is password-equivalent for its realm (crm's credentials module), so
//! it is sent only to its own operator, `no-store`, and never logged. Operators whose phone
//! does not register (a static contact), or has no secret for this realm, get 404: their desk
//! phone keeps working and the desktop shows "no browser phone".

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::error::{ApiError, ApiResult};
use super::{Api, Caller};
use crate::sip_ws::PATH as WS_PATH;

/// What a browser phone registers with.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BrowserPhone {
    /// SIP user name (the operator's login).
    pub login: String,
    /// The address of record to register: `sip:<login>@<host the page was loaded from>`.
    pub uri: String,
    /// Where SIP over WebSocket is served on this origin (RFC 7118, subprotocol `sip`).
    pub ws_path: String,
    /// The digest realm the registrar challenges with.
    pub realm: String,
    /// `MD5(login ":" realm ":" secret)`, lower-case hex: password-equivalent for `realm`.
    pub ha1: String,
    /// The operator's name, for the From header.
    pub display_name: String,
}

/// The host the request was sent to, without its port: the `Host` header (HTTP/1.1) or the
/// URI's authority (HTTP/2). `None` when absent or not a plain host name or address.
fn request_host(headers: &HeaderMap, uri: &axum::http::Uri) -> Option<String> {
    let authority = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| uri.authority().map(|a| a.as_str().to_string()))?;
    let host = if let Some(rest) = authority.strip_prefix('[') {
        // An IPv6 literal keeps its brackets in a SIP URI (RFC 3261 §25.1).
        format!("[{}]", rest.split_once(']')?.0)
    } else {
        authority
            .split_once(':')
            .map_or(authority.as_str(), |(h, _)| h)
            .to_string()
    };
    let plain = host
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    (plain && !host.is_empty() && host.len() <= 253).then_some(host)
}

/// `GET /api/v1/me/phone`.
#[utoipa::path(
    get,
    operation_id = "my_phone",
    path = "/api/v1/me/phone",
    tag = "session",
    summary = "The signed-in operator's browser phone: SIP URI, WebSocket path, realm and digest HA1 (MD5)",
    description = "For the agent desktop's WebRTC SIP client: it registers over `ws_path` with \
        `ha1` and `realm` instead of a password. Only the operator's own; `Cache-Control: \
        no-store`. 404 when the operator's phone does not register (static contact) or has no \
        secret set for the realm in force.",
    responses(
        (status = 200, description = "the phone's registration (Cache-Control: no-store)", body = BrowserPhone),
        (status = 400, description = "the request names no usable host (no `Host` header)", body = crate::api::schema::Problem, content_type = "application/problem+json"),
        (status = 401, response = crate::api::schema::Unauthorized),
        (status = 404, response = crate::api::schema::NotFound),
    )
)]
pub async fn show(
    State(api): State<Api>,
    caller: Caller,
    headers: HeaderMap,
    uri: axum::http::Uri,
) -> ApiResult<Response> {
    let login = &caller.user.login;
    let Some(credential) = api
        .store()
        .registering_phone_credential(caller.user.id)
        .await?
    else {
        return Err(ApiError::NotFound(format!(
            "{login} has no browser phone: no registering phone with a secret set for the \
             realm in force (an administrator sets it on the people-and-queues page)"
        )));
    };
    let host = request_host(&headers, &uri).ok_or_else(|| ApiError::Malformed {
        status: StatusCode::BAD_REQUEST,
        detail: "expected a Host header naming this server".into(),
    })?;
    let phone = BrowserPhone {
        uri: format!("sip:{}@{host}", credential.login),
        login: credential.login,
        ws_path: WS_PATH.to_string(),
        realm: api.store().settings().sip_realm.clone(),
        ha1: credential.ha1_md5,
        display_name: caller.user.full_name.clone(),
    };
    let mut response = axum::Json(phone).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(value: Option<&str>, uri: &str) -> Option<String> {
        let mut headers = HeaderMap::new();
        if let Some(v) = value {
            headers.insert(header::HOST, HeaderValue::from_str(v).unwrap());
        }
        request_host(&headers, &uri.parse().unwrap())
    }

    #[test]
    fn the_host_is_the_one_the_page_was_loaded_from_without_its_port() {
        assert_eq!(
            host(Some("127.0.0.1:8080"), "/api/v1/me/phone").as_deref(),
            Some("127.0.0.1")
        );
        assert_eq!(
            host(Some("desk.example.org"), "/").as_deref(),
            Some("desk.example.org")
        );
        assert_eq!(host(Some("[::1]:8443"), "/").as_deref(), Some("[::1]"));
        assert_eq!(
            host(None, "https://desk.example.org:8443/api/v1/me/phone").as_deref(),
            Some("desk.example.org")
        );
        assert_eq!(host(None, "/"), None);
        assert_eq!(host(Some("a b;c"), "/"), None);
        assert_eq!(host(Some(""), "/"), None);
    }
}
