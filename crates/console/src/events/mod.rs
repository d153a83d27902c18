//! `GET /api/v1/events`: the bus streamed over a WebSocket (RFC 6455) to the agent desktop,
//! the supervisor console and integrators (CONTRACT.md "HTTP API").
//!
//! # Run loop
//! One task per connection, no state shared with the others but the bus:
//! 1. the upgrade request is authenticated (`Authorization: Bearer`, `?token=` because
//!    browsers cannot set headers on a WebSocket, or the session cookie, whose handshake must
//!    then come from our own origin, RFC 6455 §10.2) and refused with 401 before upgrading;
//! 2. the stream subscribes to the bus **before** reading the snapshot, so no event falls
//!    between them, then sends `{"type":"snapshot", "queues", "agents", "hourly", "user"}`
//!    (queues and agents as `GET /api/v1/queues` and `/agents` show them to this user);
//! 3. each bus event the [`EventFilter`] admits goes out as one JSON text message with its
//!    `type`; a subscriber too slow for the bus gets `{"type":"resync","missed":N}` and a
//!    fresh snapshot instead of the events it lost;
//! 4. every [`SESSION_CHECK`] (by default) the session is looked at (without sliding it): once it has
//!    expired or was closed by logout, the stream closes with code 4401.
//!
//! Supervisors and admins see every event; agents see what [`filter`] allows (R-PLT-2).

pub mod filter;
pub mod hourly;

use std::collections::HashSet;
use std::time::Duration;

use ::events::{Event, EventBus};
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;

use crate::api::error::AuthFailure;
use crate::api::{Api, ApiError, agents};
pub use filter::{EventFilter, Scope};
pub use hourly::{HourCount, Hourly};

/// How often a stream checks that its session is still live.
pub const SESSION_CHECK: Duration = Duration::from_secs(15);
/// The close code sent when the session has expired or was closed (private range, RFC 6455
/// §7.4.2; 4000 + the HTTP status it stands for).
pub const CLOSE_SESSION_ENDED: u16 = 4401;

/// What the event stream needs: the API (sessions, store, ACD), the bus, the hourly counts.
#[derive(Clone)]
pub struct EventStream {
    api: Api,
    bus: Option<EventBus>,
    wrap_up: Option<Duration>,
    session_check: Duration,
}

impl EventStream {
    /// The stream over `bus` (`None`: the snapshot alone, then silence). The snapshot's
    /// calls per hour are the API's [`crate::figures::Figures`], derived from the event log.
    pub fn new(api: Api, bus: Option<EventBus>) -> Self {
        EventStream {
            api,
            bus,
            wrap_up: None,
            session_check: SESSION_CHECK,
        }
    }

    /// Checks each stream's session this often instead of [`SESSION_CHECK`].
    #[must_use]
    pub fn with_session_check(mut self, every: Duration) -> Self {
        self.session_check = every;
        self
    }

    /// Tells clients the ACD's wrap-up time (`wrap_up_s` in the snapshot).
    #[must_use]
    pub fn with_wrap_up(mut self, wrap_up: Option<Duration>) -> Self {
        self.wrap_up = wrap_up;
        self
    }

    /// The API it authenticates with.
    pub fn api(&self) -> &Api {
        &self.api
    }
}

pub use crate::api::schema::StreamParams;

/// The live session and active user behind `token` (sliding the session's expiry, as any
/// request does).
pub async fn session_user(api: &Api, token: &str) -> Result<crm::User, ApiError> {
    let session = api
        .sessions()
        .touch(token, api.now())
        .ok_or(ApiError::Unauthenticated(AuthFailure::UnknownOrExpired))?;
    let user = match api.store().user(session.user).await {
        Ok(u) => u,
        Err(crm::Error::NotFound { .. }) => {
            return Err(ApiError::Unauthenticated(AuthFailure::UnknownOrExpired));
        }
        Err(e) => return Err(e.into()),
    };
    if !user.active {
        api.sessions().close_user(user.id);
        return Err(ApiError::Unauthenticated(AuthFailure::AccountDisabled));
    }
    Ok(user)
}

/// Whether the request's `Origin` (if any) is the host it was sent to (RFC 6454 §7); also
/// the SIP WebSocket's check (`crate::sip_ws`).
pub(crate) fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let origin_host = origin
        .split_once("://")
        .map_or(origin, |(_, rest)| rest)
        .trim_end_matches('/');
    !host.is_empty() && origin_host.eq_ignore_ascii_case(host)
}

/// `GET /api/v1/events`: 101 and the stream, 401 without a live session, 403 for a cookie
/// sent from another origin.
/// (Described in the OpenAPI document by [`crate::api::openapi`]'s `event_stream`.)
pub async fn upgrade(
    State(stream): State<EventStream>,
    Query(params): Query<StreamParams>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let (token, via_cookie) = match (
        crate::api::auth::bearer(&headers),
        params.token.filter(|t| !t.is_empty()),
        crate::api::auth::cookie(&headers),
    ) {
        (Some(t), _, _) | (None, Some(t), _) => (t, false),
        (None, None, Some(t)) => (t, true),
        (None, None, None) => return Err(ApiError::Unauthenticated(AuthFailure::NoToken)),
    };
    if via_cookie && !same_origin(&headers) {
        return Err(ApiError::Forbidden(
            "the session cookie is accepted only from this server's own pages".into(),
        ));
    }
    let user = session_user(&stream.api, &token).await?;
    let scope = scope_of(&stream.api, &user).await?;
    tracing::info!(login = ?user.login, "event stream opened");
    Ok(ws
        .on_upgrade(move |socket| serve(socket, stream, user, token, scope))
        .into_response())
}

/// What `user` may see: everything for supervisors and admins; for an agent, the queues
/// they serve in the ACD and those they may read in the CRM.
async fn scope_of(api: &Api, user: &crm::User) -> Result<Scope, ApiError> {
    if agents::oversees(user) {
        return Ok(Scope::Everything);
    }
    let mut queues = HashSet::new();
    if let Ok(acd) = api.acd()
        && let Some(view) = acd.view().await
    {
        queues.extend(view.queues_of(&user.login));
    }
    for q in api.store().queues().await? {
        if api.store().queue_access(user.id, q.id).await?.is_some() {
            queues.insert(q.name);
        }
    }
    Ok(Scope::Agent {
        login: user.login.clone(),
        queues,
    })
}

/// Looks again at the stream's session and scope: closes the stream (and says `false`) when
/// the session has ended or the scope cannot be read; otherwise the filter takes the fresh
/// scope (an agent's queues as the CRM and the ACD say now).
async fn rescope(
    stream: &EventStream,
    socket: &mut WebSocket,
    user: &crm::User,
    token: &str,
    filter: &mut EventFilter,
) -> bool {
    if stream
        .api
        .sessions()
        .peek(token, stream.api.now())
        .is_none()
    {
        close(socket, CLOSE_SESSION_ENDED, "session ended").await;
        return false;
    }
    let fresh = match stream.api.store().user(user.id).await {
        Ok(u) if u.active => scope_of(&stream.api, &u).await,
        Ok(_) => {
            close(socket, CLOSE_SESSION_ENDED, "session ended").await;
            return false;
        }
        Err(e) => Err(e.into()),
    };
    match fresh {
        Ok(scope) => {
            if &scope != filter.scope() {
                tracing::info!(login = ?user.login, "event stream: scope changed");
            }
            filter.set_scope(scope);
            true
        }
        Err(error) => {
            // Fail closed: a stream whose rights cannot be read sends nothing more.
            tracing::warn!(error = ?error.to_string(), login = ?user.login, "event stream: scope unreadable");
            close(socket, 1011, "scope unavailable").await;
            false
        }
    }
}

/// The snapshot message.
async fn snapshot(stream: &EventStream, user: &crm::User) -> Result<Value, ApiError> {
    let (queues, agents) = if stream.api.acd().is_ok() {
        (
            json!(agents::queues_for(&stream.api, user).await?),
            json!(agents::agents_for(&stream.api, user).await?),
        )
    } else {
        (json!([]), json!([]))
    };
    let now = stream.api.now();
    Ok(json!({
        "type": "snapshot",
        "at": now,
        "user": {"login": user.login, "role": user.role, "full_name": user.full_name},
        "queues": queues,
        "agents": agents,
        "hourly": stream.api.figures().hourly(now),
        "wrap_up_s": stream.wrap_up.map(|d| d.as_secs()),
    }))
}

async fn send_json(socket: &mut WebSocket, value: &Value) -> bool {
    socket
        .send(Message::Text(Utf8Bytes::from(value.to_string())))
        .await
        .is_ok()
}

async fn close(socket: &mut WebSocket, code: u16, reason: &'static str) {
    let frame = CloseFrame {
        code,
        reason: Utf8Bytes::from_static(reason),
    };
    let _ = socket.send(Message::Close(Some(frame))).await;
}

/// One connection's loop (see the module docs).
async fn serve(
    mut socket: WebSocket,
    stream: EventStream,
    user: crm::User,
    token: String,
    scope: Scope,
) {
    let mut filter = EventFilter::new(scope);
    // Subscribe before the snapshot: nothing falls between them.
    let mut events = stream.bus.as_ref().map(EventBus::subscribe);
    match snapshot(&stream, &user).await {
        Ok(s) if send_json(&mut socket, &s).await => {}
        Ok(_) => return,
        Err(error) => {
            tracing::warn!(error = ?error.to_string(), login = ?user.login, "event stream: no snapshot");
            close(&mut socket, 1011, "snapshot unavailable").await;
            return;
        }
    }
    let mut check = tokio::time::interval(stream.session_check);
    check.tick().await;
    loop {
        tokio::select! {
            event = async {
                match events.as_mut() {
                    Some(rx) => rx.recv().await,
                    None => std::future::pending().await,
                }
            } => match event {
                Ok(event) => {
                    // An administrator changed a user or a queue: the session may be gone
                    // (disabled, narrowed rights) and the user's queues may have changed (a
                    // queue deleted, or made again under the same name); look at once, before
                    // the next event is filtered, rather than at the next check.
                    if let Event::SiteChanged { .. } = &event
                        && !rescope(&stream, &mut socket, &user, &token, &mut filter).await
                    {
                        break;
                    }
                    if filter.admit(&event) {
                        let Ok(value) = serde_json::to_value(&event) else { continue };
                        if !send_json(&mut socket, &value).await {
                            break;
                        }
                    }
                }
                Err(RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, login = ?user.login, "event stream fell behind: resync");
                    stream.api.figures().metrics().event_stream_resync();
                    let resync = json!({"type": "resync", "missed": missed});
                    let fresh = snapshot(&stream, &user).await;
                    let sent = send_json(&mut socket, &resync).await
                        && match fresh {
                            Ok(s) => send_json(&mut socket, &s).await,
                            Err(_) => false,
                        };
                    if !sent {
                        break;
                    }
                }
                Err(RecvError::Closed) => {
                    close(&mut socket, 1001, "server stopping").await;
                    break;
                }
            },
            incoming = socket.recv() => match incoming {
                // Clients have nothing to say; pings are answered by the library.
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            },
            // Also catches what publishes no `site.changed` (a configuration reload
            // changing the queues an agent serves in the ACD).
            _ = check.tick() => {
                if !rescope(&stream, &mut socket, &user, &token, &mut filter).await {
                    break;
                }
            }
        }
    }
    tracing::info!(login = ?user.login, "event stream closed");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    #[test]
    fn only_our_own_origin_passes() {
        assert!(same_origin(&headers(&[("host", "127.0.0.1:8080")])));
        assert!(same_origin(&headers(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "http://127.0.0.1:8080")
        ])));
        assert!(!same_origin(&headers(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "https://evil.example")
        ])));
        assert!(!same_origin(&headers(&[(
            "origin",
            "http://127.0.0.1:8080"
        )])));
    }
}
