//! Agents' browser phones (issue 17): the WebRTC legs of calls the ACD rings toward a phone
//! registered over SIP-over-WebSocket.
//!
//! A browser cannot take our plain RTP offer, so the agent's leg goes through a
//! [`webrtc_leg`] leg: the call's task makes the leg's offer ([`offer`]) with the media
//! engine's agent leg as its plain peer, and the INVITE carries it as an external offer. The
//! run loop keeps the leg here from the moment the call is placed, so the answer can never
//! overtake it; when the browser answers ([`sip_gateway::ua::UaEvent::AnsweredSdp`]) the leg
//! takes the answer and the call is told of an ordinary answer whose remote RTP address is
//! the leg's plain side ([`BrowserLegs::answered`]). The media engine, the call core and the
//! bridge see an ordinary phone. When the SIP call ends, the leg is dropped, which closes it
//! and releases its ports.
//!
//! The supervisor's console reads the legs' quality (loss, jitter, round trip from RTCP)
//! through [`BrowserPhones`].

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sip_gateway::sdp::{Direction, Negotiated};
use sip_gateway::ua::CallRef;
use tracing::{info, warn};
use webrtc_leg::{G711, LegConfig, LegError, LegStats, OfferedLeg, WebRtcLeg};

/// One browser phone's leg.
enum Leg {
    /// The INVITE is out; the answer has not come.
    Offered { login: String, leg: Box<OfferedLeg> },
    /// Answered: media flows (or is being set up) through the leg.
    Up {
        login: String,
        leg: Arc<WebRtcLeg>,
        since: chrono::DateTime<chrono::Utc>,
    },
}

/// The browser legs of the calls in progress, by the agent leg's SIP call.
#[derive(Default)]
pub(crate) struct BrowserLegs {
    legs: Mutex<HashMap<CallRef, Leg>>,
}

/// Makes the offer of a browser phone's leg whose plain side talks to `engine_leg` (the media
/// engine's agent leg).
pub(crate) async fn offer(
    config: &LegConfig,
    engine_leg: SocketAddr,
) -> Result<(OfferedLeg, String), LegError> {
    let mut config = config.clone();
    config.plain_peer = Some(engine_leg);
    if !engine_leg.ip().is_unspecified() {
        // Same host, same address as the engine's socket: nothing else can inject.
        config.plain_bind = engine_leg.ip();
    }
    WebRtcLeg::offer(&config).await
}

impl BrowserLegs {
    fn legs(&self) -> std::sync::MutexGuard<'_, HashMap<CallRef, Leg>> {
        self.legs.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The call toward `login`'s browser was placed with `leg`'s offer.
    pub(crate) fn placed(&self, call: CallRef, login: String, leg: OfferedLeg) {
        self.legs().insert(
            call,
            Leg::Offered {
                login,
                leg: Box::new(leg),
            },
        );
    }

    /// The browser answered `call` with `sdp`: the leg takes it and starts. The result is what
    /// the media engine's agent leg is configured with: send to the leg's plain address, in
    /// the law the browser chose.
    pub(crate) fn answered(&self, call: CallRef, sdp: &str) -> Result<Negotiated, String> {
        let mut legs = self.legs();
        let Some(Leg::Offered { login, leg }) = legs.remove(&call) else {
            return Err("no offered browser leg for this call".into());
        };
        let leg = leg.accept(sdp).map_err(|e| e.to_string())?;
        let n = leg.negotiated();
        let media = Negotiated {
            remote_rtp: leg.plain_rtp_addr(),
            codec: match n.codec {
                G711::Pcmu => media::Codec::Pcmu,
                G711::Pcma => media::Codec::Pcma,
            },
            payload_type: n.payload_type,
            dtmf_payload_type: n.telephone_event,
            ptime_ms: 20,
            remote_direction: Direction::SendRecv,
            local_direction: Direction::SendRecv,
            media_index: 0,
        };
        info!(?call, agent = %login, ice = %leg.ice_addr(), "browser phone answered");
        legs.insert(
            call,
            Leg::Up {
                login,
                leg: Arc::new(leg),
                since: chrono::Utc::now(),
            },
        );
        Ok(media)
    }

    /// The SIP call is over: its leg (offered or up) is closed.
    pub(crate) fn ended(&self, call: CallRef) {
        if let Some(leg) = self.legs().remove(&call) {
            match leg {
                Leg::Up { login, leg, .. } => {
                    info!(?call, agent = %login, state = ?leg.state(), "browser phone leg closed");
                }
                Leg::Offered { login, .. } => {
                    info!(?call, agent = %login, "browser phone leg closed unanswered");
                }
            }
        }
    }

    fn up(&self) -> Vec<(String, chrono::DateTime<chrono::Utc>, Arc<WebRtcLeg>)> {
        self.legs()
            .values()
            .filter_map(|leg| match leg {
                Leg::Up { login, leg, since } => Some((login.clone(), *since, leg.clone())),
                Leg::Offered { .. } => None,
            })
            .collect()
    }
}

/// The browser phones' calls and their quality, for the supervisor.
#[derive(Clone)]
pub struct BrowserPhones {
    pub(crate) legs: Arc<BrowserLegs>,
    pub(crate) gateway: sip_gateway::gateway::Gateway,
}

impl std::fmt::Debug for BrowserPhones {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrowserPhones").finish_non_exhaustive()
    }
}

/// One browser phone in a call, as the supervisor sees it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BrowserCall {
    pub login: String,
    pub since: chrono::DateTime<chrono::Utc>,
    /// `connecting`, `connected` or `closed: <reason>`.
    pub state: String,
    /// Packets from the browser lost on the way (from our receiver reports), when measured.
    pub packets_lost: Option<i64>,
    /// Interarrival jitter of the browser's stream, milliseconds.
    pub jitter_ms: Option<f64>,
    /// Round trip from the browser's receiver reports, milliseconds.
    pub round_trip_ms: Option<f64>,
    /// The fraction of our packets the browser reported lost (0–1).
    pub fraction_lost_by_browser: Option<f64>,
    /// Packets relayed each way.
    pub packets_from_browser: u64,
    pub packets_to_browser: u64,
}

impl BrowserPhones {
    /// The agents whose phone is registered over SIP-over-WebSocket now (a browser's), sorted.
    pub async fn registered(&self) -> Vec<String> {
        let mut users = Vec::new();
        for user in self.gateway.registered_users().await {
            let bindings = self.gateway.bindings(&user).await;
            if bindings.iter().any(|b| b.transport.is_websocket()) {
                users.push(user);
            }
        }
        users
    }

    /// The browser phones in a call now, with their RTCP figures.
    pub async fn calls(&self) -> Vec<BrowserCall> {
        let mut calls = Vec::new();
        for (login, since, leg) in self.legs.up() {
            let stats: LegStats = leg.stats().await;
            let ms = |d: Option<Duration>| d.map(|d| d.as_secs_f64() * 1000.0);
            calls.push(BrowserCall {
                login,
                since,
                state: match leg.state() {
                    webrtc_leg::LegState::Connecting => "connecting".into(),
                    webrtc_leg::LegState::Connected => "connected".into(),
                    webrtc_leg::LegState::Closed(reason) => format!("closed: {reason}"),
                },
                packets_lost: stats.browser_packets_lost,
                jitter_ms: ms(stats.browser_jitter),
                round_trip_ms: ms(stats.round_trip_time),
                fraction_lost_by_browser: stats.browser_fraction_lost,
                packets_from_browser: stats.to_plain.packets,
                packets_to_browser: stats.to_browser.packets,
            });
        }
        calls.sort_by(|a, b| a.login.cmp(&b.login));
        calls
    }
}

/// Logs a browser leg that could not be offered (the agent is then unreachable).
pub(crate) fn offer_failed(login: &str, error: &LegError) {
    warn!(agent = %login, %error, "cannot make the browser phone's WebRTC offer");
}
