//! `GET /ws`: SIP over WebSocket (RFC 7118) on the web listener, so an agent's browser can be
//! their phone (issue 17): JsSIP, SIP.js or our own page register and take calls here like a
//! desk phone over UDP.
//!
//! The upgrade needs the `sip` subprotocol (RFC 7118 §4); without it, or when the request is
//! no WebSocket handshake, the answer is a problem+json saying so. A browser's handshake must
//! come from our own origin (403 otherwise): a page elsewhere that an agent happens to open
//! must not reach the trunk from inside `sip.allow_from` through the agent's browser (RFC 6455
//! §10.2; clients that are not browsers send no `Origin`). The client must be in
//! `sip.allow_from` (403) and a WebSocket slot free (`sip.ws_max_connections`, else 503),
//! both asked of the gateway's [`WsPort`] before the upgrade. Behind a trusted proxy the
//! client is the one it names ([`crate::server::ClientIp`]), so the registrar's lockouts and
//! rates apply per browser, not per proxy.
//!
//! # Run loop
//! One task per WebSocket shuttles between the socket and the gateway's [`WsFlow`]: each text
//! or binary message is one SIP message in, each message from the gateway one text message
//! out (binary if not UTF-8), pings when the flow asks, and a close frame with the code of a
//! refused frame (1008 not SIP, 1009 too large, 1007/1002 unreadable). The task ends with the
//! socket and tells the gateway, which drops the bindings registered over it.

use std::net::SocketAddr;
use std::time::Instant;

use axum::Router;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sip_gateway::transport::ws::{
    FrameRefusal, FrameVerdict, TimeoutVerdict, WsFlow, WsPort, WsRefusal, WsSlot,
};
use tracing::{debug, warn};

/// Where the web listener serves SIP over WebSocket.
pub const PATH: &str = "/ws";
/// The WebSocket subprotocol of SIP (RFC 7118 §4, IANA WebSocket Subprotocol Name Registry).
pub const SUBPROTOCOL: &str = "sip";

/// The `/ws` route, to merge into the application's router. Serve it with `ConnectInfo`
/// ([`crate::server::serve`] does): the client's address keys its flow.
pub fn router(port: WsPort) -> Router {
    Router::new().route(PATH, get(upgrade)).with_state(port)
}

async fn upgrade(
    State(port): State<WsPort>,
    ConnectInfo(tcp_peer): ConnectInfo<SocketAddr>,
    client: Option<axum::Extension<crate::server::ClientIp>>,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    let upgrade = match upgrade {
        Ok(upgrade) => upgrade,
        Err(rejection) => {
            let status = rejection.status();
            let detail = format!(
                "{PATH} serves SIP over WebSocket (RFC 7118) only: open a WebSocket with \
                 the subprotocol `{SUBPROTOCOL}` ({})",
                rejection.body_text()
            );
            let mut response = problem(status, "not-a-websocket", &detail);
            if status == StatusCode::UPGRADE_REQUIRED {
                response
                    .headers_mut()
                    .insert(header::UPGRADE, HeaderValue::from_static("websocket"));
            }
            return response;
        }
    };
    if !upgrade.requested_protocols().any(|p| p == SUBPROTOCOL) {
        return problem(
            StatusCode::BAD_REQUEST,
            "sip-subprotocol-required",
            "SIP over WebSocket needs the `sip` subprotocol (RFC 7118 §4): send \
             `Sec-WebSocket-Protocol: sip`",
        );
    }
    if !crate::events::same_origin(&headers) {
        warn!(peer = %tcp_peer, origin = ?headers.get(header::ORIGIN), "SIP WebSocket from another origin refused");
        return problem(
            StatusCode::FORBIDDEN,
            "cross-origin",
            "SIP over WebSocket is served to this server's own pages only: the Origin is \
             another site",
        );
    }
    // The flow's address: the real client (behind a trusted proxy, the one it names) on the
    // TCP connection's port, which no other open connection shares.
    let client_ip = client.map_or(tcp_peer.ip(), |c| c.0.0);
    let peer = SocketAddr::new(client_ip, tcp_peer.port());
    let slot = match port.admit(peer) {
        Ok(slot) => slot,
        Err(refusal) => {
            warn!(%peer, %refusal, "SIP WebSocket refused");
            let (status, slug) = match refusal {
                WsRefusal::NotAllowed(_) => (StatusCode::FORBIDDEN, "sip-not-allowed"),
                WsRefusal::Full(_) => (StatusCode::SERVICE_UNAVAILABLE, "sip-websockets-full"),
                WsRefusal::Stopped => (StatusCode::SERVICE_UNAVAILABLE, "sip-stopped"),
            };
            return problem(status, slug, &refusal.to_string());
        }
    };
    let max = port.limits().max_message_bytes;
    upgrade
        .protocols([SUBPROTOCOL])
        // The reader refuses anything larger before buffering it.
        .max_message_size(max)
        .max_frame_size(max)
        .on_failed_upgrade(move |error| debug!(%peer, %error, "SIP WebSocket upgrade failed"))
        .on_upgrade(move |socket| run(socket, slot))
}

/// A problem+json answer (RFC 9457).
fn problem(status: StatusCode, slug: &str, detail: &str) -> Response {
    let body = serde_json::json!({
        "type": format!("urn:centralino:problem:{slug}"),
        "title": status.canonical_reason().unwrap_or(""),
        "status": status.as_u16(),
        "detail": detail,
    });
    (
        status,
        [(header::CONTENT_TYPE, "application/problem+json")],
        body.to_string(),
    )
        .into_response()
}

/// Runs one SIP WebSocket until it closes (see the module's run loop).
async fn run(mut socket: WebSocket, slot: WsSlot) {
    let Some(mut flow) = slot.open(Instant::now()).await else {
        close(&mut socket, &FrameRefusal::Stopped).await;
        return;
    };
    loop {
        let deadline = tokio::time::Instant::from_std(flow.poll_timeout());
        tokio::select! {
            // Both receives are cancel-safe: a message is never lost to the other branch.
            input = socket.recv() => match input {
                Some(Ok(Message::Text(text))) => {
                    let payload = text.as_str().as_bytes().to_vec();
                    if !answer(&mut socket, &mut flow, payload).await {
                        break;
                    }
                }
                Some(Ok(Message::Binary(bytes))) => {
                    if !answer(&mut socket, &mut flow, bytes.to_vec()).await {
                        break;
                    }
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => flow.handle_liveness(Instant::now()),
                Some(Ok(Message::Close(_))) | None => break,
                Some(Err(error)) => {
                    if let Some(refusal) = read_refusal(error) {
                        flow.refuse(&refusal);
                        close(&mut socket, &refusal).await;
                    }
                    break;
                }
            },
            out = flow.next_outgoing() => match out {
                // RFC 7118 §5: one SIP message per WebSocket message, text when it is UTF-8.
                Some(bytes) => {
                    let message = match String::from_utf8(bytes) {
                        Ok(text) => Message::Text(text.into()),
                        Err(error) => Message::Binary(error.into_bytes().into()),
                    };
                    if socket.send(message).await.is_err() {
                        break;
                    }
                }
                None => break,
            },
            () = tokio::time::sleep_until(deadline) => match flow.handle_timeout(Instant::now()) {
                TimeoutVerdict::Wait => {}
                TimeoutVerdict::Ping => {
                    if socket.send(Message::Ping(Default::default())).await.is_err() {
                        break;
                    }
                }
                TimeoutVerdict::Close(reason) => {
                    let frame = CloseFrame { code: 1000, reason: reason.into() };
                    let _ = socket.send(Message::Close(Some(frame))).await;
                    break;
                }
            },
        }
    }
    // The gateway hears of the end before the socket is dropped: a new connection cannot
    // reuse this client port while the old flow is still listed.
    flow.close().await;
    drop(socket);
}

/// Passes one message to the flow and acts on its verdict; `false`: the socket is done.
async fn answer(socket: &mut WebSocket, flow: &mut WsFlow, payload: Vec<u8>) -> bool {
    match flow.handle_frame(payload, Instant::now()).await {
        FrameVerdict::Deliver | FrameVerdict::KeepAlive { pong: false } => true,
        FrameVerdict::KeepAlive { pong: true } => {
            socket.send(Message::Text("\r\n".into())).await.is_ok()
        }
        FrameVerdict::Refuse(refusal) => {
            close(socket, &refusal).await;
            false
        }
    }
}

async fn close(socket: &mut WebSocket, refusal: &FrameRefusal) {
    let frame = CloseFrame {
        code: refusal.close_code(),
        reason: refusal.close_reason().into(),
    };
    let _ = socket.send(Message::Close(Some(frame))).await;
}

/// What the WebSocket reader's error means: a refusal to count and close with, or `None`
/// when the connection just went away (reset, closed).
fn read_refusal(error: axum::Error) -> Option<FrameRefusal> {
    use tungstenite::Error as E;
    use tungstenite::error::CapacityError;
    let inner = error.into_inner();
    match inner.downcast_ref::<E>()? {
        E::Capacity(CapacityError::MessageTooLong { size, max_size }) => {
            Some(FrameRefusal::TooLarge {
                size: *size,
                max: *max_size,
            })
        }
        E::Capacity(other) => Some(FrameRefusal::Protocol(other.to_string())),
        E::Utf8(detail) => Some(FrameRefusal::Unreadable(format!(
            "text message is not UTF-8 ({detail})"
        ))),
        // A peer that vanished (a closed tab, a killed process) refused nothing.
        E::Protocol(tungstenite::error::ProtocolError::ResetWithoutClosingHandshake) => None,
        E::Protocol(detail) => Some(FrameRefusal::Protocol(detail.to_string())),
        _ => None,
    }
}
