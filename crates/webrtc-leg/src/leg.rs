//! One WebRTC media leg: ICE-lite + DTLS-SRTP + rtcp-mux toward the browser, plain RTP/UDP on
//! loopback toward the media engine.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::transport::RTCDtlsRole;
use rtc::rtp;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters, RTCRtpEncodingParameters,
    RtpCodecKind,
};
use rtc::shared::marshal::{Marshal, Unmarshal};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{
    MediaEngine, PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler,
    RTCConfigurationBuilder, RTCIceConnectionState, RTCIceGatheringState, RTCPeerConnectionState,
    RTCSessionDescription, RTCStatsReportEntry, Registry, SettingEngineBuilder, StatsSelector,
    configure_rtcp_reports,
};

use crate::config::LegConfig;
use crate::error::LegError;
use crate::offer::{G711, OfferedAudio, check_offer};
use crate::stats::{Counters, LegStats};

/// How long gathering the host candidate may take (it is a local bind; this only bounds a
/// stack that never reports completion).
const GATHERING_TIMEOUT: Duration = Duration::from_secs(5);

/// Legs alive in this process (built and not yet closed): the supervisor's gauge, and the
/// tests' proof that a refused or timed-out leg left nothing behind.
static LIVE_LEGS: AtomicUsize = AtomicUsize::new(0);

/// The number of legs built and not yet closed in this process.
pub fn live_legs() -> usize {
    LIVE_LEGS.load(Relaxed)
}

/// Where a leg is in its life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LegState {
    /// Answered; ICE and DTLS not complete yet.
    Connecting,
    /// ICE connected and DTLS-SRTP keys in place: media flows.
    Connected,
    /// Closed; its sockets are released.
    Closed(CloseReason),
}

/// Why a leg closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CloseReason {
    #[error(
        "ICE/DTLS not established within {timeout:?} (ICE {ice}, connection {connection}): the browser never completed the handshake"
    )]
    EstablishTimeout {
        timeout: Duration,
        ice: String,
        connection: String,
    },
    #[error("the connection failed (ICE consent lost or DTLS failed): {0}")]
    Failed(String),
    #[error("the peer closed the connection")]
    PeerClosed,
    #[error("closed by the server")]
    Local,
}

/// What was negotiated, for configuring the media engine leg on the plain side: the payload
/// type numbers are the offer's, on both sides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    pub codec: G711,
    pub payload_type: u8,
    pub telephone_event: Option<u8>,
}

enum PcEvent {
    State(RTCPeerConnectionState),
    Ice(RTCIceConnectionState),
    Track(Arc<dyn TrackRemote>),
}

struct Handler {
    events: mpsc::UnboundedSender<PcEvent>,
    gathered: watch::Sender<bool>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        if state == RTCIceGatheringState::Complete {
            self.gathered.send_replace(true);
        }
    }

    async fn on_ice_connection_state_change(&self, state: RTCIceConnectionState) {
        let _ = self.events.send(PcEvent::Ice(state));
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        let _ = self.events.send(PcEvent::State(state));
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        let _ = self.events.send(PcEvent::Track(track));
    }
}

/// A WebRTC media leg.
///
/// Built by [`WebRtcLeg::answer`]; from then on it runs by itself on the Tokio runtime it was
/// built on: decrypted RTP from the browser goes to the plain peer
/// ([`set_plain_peer`](Self::set_plain_peer)) from [`plain_rtp_addr`](Self::plain_rtp_addr),
/// and RTP arriving on `plain_rtp_addr` from the plain peer is sent to the browser under the
/// leg's SSRC, payload type and timing unchanged (PCMU/PCMA and RFC 4733 telephone-events
/// alike). Until ICE and DTLS complete, plain RTP is dropped (and counted).
///
/// The leg closes itself when the handshake misses [`LegConfig::establish_timeout`], when
/// the connection fails (consent lost) or the browser closes it; [`close`](Self::close) and
/// dropping the handle close it too. Closed, it holds no socket.
pub struct WebRtcLeg {
    shared: Arc<Shared>,
    commands: mpsc::UnboundedSender<Command>,
    state: watch::Receiver<LegState>,
}

struct Shared {
    pc: Arc<dyn PeerConnection>,
    plain_local: SocketAddr,
    plain_peer: Mutex<Option<SocketAddr>>,
    ice_local: SocketAddr,
    negotiated: Negotiated,
    counters: Counters,
}

enum Command {
    Close,
}

impl std::fmt::Debug for WebRtcLeg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebRtcLeg")
            .field("ice_local", &self.shared.ice_local)
            .field("plain_local", &self.shared.plain_local)
            .field("state", &*self.state.borrow())
            .finish()
    }
}

impl WebRtcLeg {
    /// Answers a browser's offer: checks it ([`check_offer`]), binds the ICE/DTLS socket on
    /// `config.bind` and the plain RTP socket on `config.plain_bind`, and returns the leg with
    /// the answer SDP (ICE-lite, one host candidate — `config.public_addr` if set —,
    /// `a=setup:passive` unless the offer insists on being passive itself, rtcp-mux, the
    /// offer's G.711 and telephone-event payload types).
    ///
    /// A refused offer binds nothing. Must be called within a Tokio runtime.
    pub async fn answer(
        offer_sdp: &str,
        config: &LegConfig,
    ) -> Result<(WebRtcLeg, String), LegError> {
        let offered = check_offer(offer_sdp)?;

        let plain_addr = SocketAddr::new(config.plain_bind, 0);
        let plain = UdpSocket::bind(plain_addr)
            .await
            .map_err(|source| LegError::Bind {
                what: "the plain RTP socket",
                addr: plain_addr,
                source,
            })?;
        let plain_local = plain.local_addr().map_err(|source| LegError::Bind {
            what: "the plain RTP socket",
            addr: plain_addr,
            source,
        })?;

        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let (gathered_tx, mut gathered_rx) = watch::channel(false);
        let handler = Arc::new(Handler {
            events: events_tx,
            gathered: gathered_tx,
        });

        let mut media_engine = MediaEngine::default();
        register_audio(&mut media_engine, &offered)?;
        // RTCP sender/receiver reports only (RFC 3550 §6.4: loss, jitter, RTT for the stats):
        // NACK retransmission and transport-wide congestion control serve video; G.711 at
        // a fixed rate has no use for them, and they cost per packet (measured: bench_webrtc).
        let registry = configure_rtcp_reports(Registry::new());

        let mut settings = SettingEngineBuilder::new()
            .with_lite(true)
            .with_include_loopback_candidate(config.bind.is_loopback())
            .with_ice_timeouts(
                Some(Duration::from_secs(5).min(config.consent_timeout)),
                Some(config.consent_timeout),
                None,
            );
        // RFC 8842 §5.3: the answerer picks; we prefer passive (the browser, ICE-controlling,
        // starts the handshake), unless the offer itself is passive.
        if offered.setup.as_deref() != Some("passive") {
            settings = settings.with_answering_dtls_role(RTCDtlsRole::Server);
        }

        let pc = PeerConnectionBuilder::new()
            .with_configuration(RTCConfigurationBuilder::new().build())
            .with_media_engine(media_engine)
            .with_setting_engine(settings.build())
            .with_interceptor_registry(registry)
            .with_handler(handler)
            .with_udp_addrs(vec![SocketAddr::new(config.bind, 0)])
            .build()
            .await?;
        let pc: Arc<dyn PeerConnection> = Arc::new(pc);

        // From here on a failure must close the peer connection, or its socket stays bound.
        match negotiate(&pc, offer_sdp, &offered, &mut gathered_rx).await {
            Ok((answer, track, ssrc)) => {
                let ice_local =
                    SocketAddr::new(config.bind, candidate_port(&answer).unwrap_or_default());
                // webrtc 0.21.1 has SettingEngine::with_nat_1to1_ips but its gatherer does not
                // apply it: the public address is written into the answer here instead.
                let answer = match config.public_addr {
                    Some(public) => advertise(&answer, config.bind, public),
                    None => answer,
                };
                let negotiated = Negotiated {
                    codec: offered.codec,
                    payload_type: offered.payload_type,
                    telephone_event: offered.telephone_event,
                };
                let shared = Arc::new(Shared {
                    pc,
                    plain_local,
                    plain_peer: Mutex::new(config.plain_peer),
                    ice_local,
                    negotiated,
                    counters: Counters::default(),
                });
                LIVE_LEGS.fetch_add(1, Relaxed);
                let (commands_tx, commands_rx) = mpsc::unbounded_channel();
                let (state_tx, state_rx) = watch::channel(LegState::Connecting);
                let plain = Arc::new(plain);
                let to_browser =
                    tokio::spawn(plain_to_browser(shared.clone(), plain.clone(), track, ssrc));
                tokio::spawn(supervise(
                    shared.clone(),
                    plain,
                    events_rx,
                    commands_rx,
                    state_tx,
                    to_browser,
                    config.establish_timeout,
                ));
                info!(ice = %ice_local, plain = %plain_local, "WebRTC leg answered");
                Ok((
                    WebRtcLeg {
                        shared,
                        commands: commands_tx,
                        state: state_rx,
                    },
                    answer,
                ))
            }
            Err(error) => {
                let _ = pc.close().await;
                Err(error)
            }
        }
    }

    /// The local address the media engine sends RTP to (plain RTP, no RTCP).
    pub fn plain_rtp_addr(&self) -> SocketAddr {
        self.shared.plain_local
    }

    /// The local address of the browser-facing ICE/DTLS/SRTP socket (the bound one, not the
    /// advertised public address).
    pub fn ice_addr(&self) -> SocketAddr {
        self.shared.ice_local
    }

    /// Where decrypted RTP from the browser goes; only RTP from this address is accepted on
    /// [`plain_rtp_addr`](Self::plain_rtp_addr).
    pub fn set_plain_peer(&self, peer: SocketAddr) {
        *self
            .shared
            .plain_peer
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(peer);
    }

    /// The codec and payload types to configure the media engine's leg with.
    pub fn negotiated(&self) -> &Negotiated {
        &self.shared.negotiated
    }

    /// The leg's state now.
    pub fn state(&self) -> LegState {
        self.state.borrow().clone()
    }

    /// Waits until ICE and DTLS are complete; `Err` with the reason if the leg closed first.
    pub async fn connected(&self) -> Result<(), CloseReason> {
        let mut state = self.state.clone();
        let result = state
            .wait_for(|s| !matches!(s, LegState::Connecting))
            .await
            .map(|s| s.clone());
        match result {
            Ok(LegState::Connected) => Ok(()),
            Ok(LegState::Closed(reason)) => Err(reason),
            _ => Err(CloseReason::Local),
        }
    }

    /// Waits until the leg is closed (its sockets released) and says why.
    pub async fn closed(&self) -> CloseReason {
        let mut state = self.state.clone();
        let result = state
            .wait_for(|s| matches!(s, LegState::Closed(_)))
            .await
            .map(|s| s.clone());
        match result {
            Ok(LegState::Closed(reason)) => reason,
            _ => CloseReason::Local,
        }
    }

    /// Closes the leg and waits until its sockets are released.
    pub async fn close(&self) -> CloseReason {
        let _ = self.commands.send(Command::Close);
        self.closed().await
    }

    /// Packets and bytes each way (counted by the leg), with loss, jitter and round-trip time
    /// from RTCP where the peer reported them.
    pub async fn stats(&self) -> LegStats {
        let mut stats = self.shared.counters.snapshot();
        if matches!(*self.state.borrow(), LegState::Closed(_)) {
            return stats;
        }
        let report = self
            .shared
            .pc
            .get_stats(Instant::now(), StatsSelector::None)
            .await;
        for entry in report.iter() {
            match entry {
                RTCStatsReportEntry::InboundRtp(inbound) => {
                    let received = &inbound.received_rtp_stream_stats;
                    stats.browser_packets_lost = Some(received.packets_lost);
                    stats.browser_jitter = Some(Duration::from_secs_f64(received.jitter.max(0.0)));
                }
                RTCStatsReportEntry::RemoteInboundRtp(remote) => {
                    if remote.round_trip_time_measurements > 0 {
                        stats.round_trip_time =
                            Some(Duration::from_secs_f64(remote.round_trip_time.max(0.0)));
                    }
                    stats.browser_fraction_lost = Some(remote.fraction_lost);
                }
                _ => {}
            }
        }
        stats
    }
}

impl Drop for WebRtcLeg {
    fn drop(&mut self) {
        let _ = self.commands.send(Command::Close);
    }
}

fn register_audio(engine: &mut MediaEngine, offered: &OfferedAudio) -> Result<(), LegError> {
    let mut codecs = vec![(offered.codec, offered.payload_type)];
    codecs.extend(offered.alternative);
    for (codec, payload_type) in codecs {
        engine.register_codec(
            RTCRtpCodecParameters {
                rtp_codec: g711_codec(codec),
                payload_type,
            },
            RtpCodecKind::Audio,
        )?;
    }
    if let Some(payload_type) = offered.telephone_event {
        engine.register_codec(
            RTCRtpCodecParameters {
                rtp_codec: RTCRtpCodec {
                    mime_type: "audio/telephone-event".to_owned(),
                    clock_rate: 8000,
                    channels: 0,
                    sdp_fmtp_line: String::new(),
                    rtcp_feedback: vec![],
                },
                payload_type,
            },
            RtpCodecKind::Audio,
        )?;
    }
    Ok(())
}

fn g711_codec(codec: G711) -> RTCRtpCodec {
    RTCRtpCodec {
        mime_type: match codec {
            G711::Pcmu => "audio/PCMU",
            G711::Pcma => "audio/PCMA",
        }
        .to_owned(),
        clock_rate: 8000,
        channels: 0,
        sdp_fmtp_line: String::new(),
        rtcp_feedback: vec![],
    }
}

/// Sets the offer, adds our audio track, answers and waits for the host candidate.
async fn negotiate(
    pc: &Arc<dyn PeerConnection>,
    offer_sdp: &str,
    offered: &OfferedAudio,
    gathered: &mut watch::Receiver<bool>,
) -> Result<(String, Arc<TrackLocalStaticRTP>, u32), LegError> {
    let ssrc: u32 = rand::random();
    let track = Arc::new(TrackLocalStaticRTP::new(MediaStreamTrack::new(
        "centralino".to_owned(),
        format!("audio-{ssrc:08x}"),
        "centralino audio".to_owned(),
        RtpCodecKind::Audio,
        vec![RTCRtpEncodingParameters {
            rtp_coding_parameters: RTCRtpCodingParameters {
                ssrc: Some(ssrc),
                ..Default::default()
            },
            codec: g711_codec(offered.codec),
            ..Default::default()
        }],
    )));
    pc.set_remote_description(RTCSessionDescription::offer(offer_sdp.to_owned())?)
        .await?;
    pc.add_track(track.clone() as Arc<dyn TrackLocal>).await?;
    let answer = pc.create_answer(None).await?;
    pc.set_local_description(answer).await?;
    tokio::time::timeout(GATHERING_TIMEOUT, gathered.wait_for(|done| *done))
        .await
        .map_err(|_| LegError::GatheringTimeout(GATHERING_TIMEOUT))?
        .map_err(|_| LegError::GatheringTimeout(GATHERING_TIMEOUT))?;
    let answer = pc
        .local_description()
        .await
        .ok_or_else(|| LegError::Negotiation("no local description after answering".into()))?;
    Ok((answer.sdp, track, ssrc))
}

/// The port of the first `a=candidate` line of an SDP (RFC 8839 §5.1: foundation, component,
/// transport, priority, address, port, …).
fn candidate_port(sdp: &str) -> Option<u16> {
    sdp.lines()
        .find_map(|l| l.trim_end().strip_prefix("a=candidate:"))
        .and_then(|c| c.split_whitespace().nth(5))
        .and_then(|p| p.parse().ok())
}

/// The answer with `public` in place of `bind` in its candidates and connection lines: the
/// host candidate a browser outside the 1:1 NAT can reach (RFC 8445 §5.1.1.1 allows a host
/// candidate to be the address a NAT maps one-to-one).
fn advertise(sdp: &str, bind: std::net::IpAddr, public: std::net::IpAddr) -> String {
    let bind = bind.to_string();
    let public = public.to_string();
    let family = if public.contains(':') { "IP6" } else { "IP4" };
    let mut out = String::with_capacity(sdp.len());
    for line in sdp.lines() {
        let line = line.trim_end_matches('\r');
        if let Some(candidate) = line.strip_prefix("a=candidate:") {
            let fields: Vec<&str> = candidate.split(' ').collect();
            if fields.len() > 5 && fields[4] == bind {
                let mut fields = fields;
                fields[4] = &public;
                out.push_str("a=candidate:");
                out.push_str(&fields.join(" "));
                out.push_str("\r\n");
                continue;
            }
        } else if let Some(address) = line
            .strip_prefix("c=IN IP4 ")
            .or_else(|| line.strip_prefix("c=IN IP6 "))
            && address == bind
        {
            out.push_str(&format!("c=IN {family} {public}\r\n"));
            continue;
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out
}

/// Runs the leg: starts the browser → plain relay when the browser's track arrives, enforces
/// the establishment deadline, and closes on command, failure or deadline.
async fn supervise(
    shared: Arc<Shared>,
    plain: Arc<UdpSocket>,
    mut events: mpsc::UnboundedReceiver<PcEvent>,
    mut commands: mpsc::UnboundedReceiver<Command>,
    state: watch::Sender<LegState>,
    to_browser: JoinHandle<()>,
    establish_timeout: Duration,
) {
    let deadline = tokio::time::Instant::now() + establish_timeout;
    let mut connected = false;
    let mut ice = RTCIceConnectionState::New;
    let mut connection = RTCPeerConnectionState::New;
    let mut to_plain: Vec<JoinHandle<()>> = Vec::new();
    let reason = loop {
        tokio::select! {
            event = events.recv() => match event {
                Some(PcEvent::Ice(s)) => {
                    debug!(state = %s, "ICE");
                    ice = s;
                }
                Some(PcEvent::State(s)) => {
                    debug!(state = %s, "connection");
                    connection = s;
                    match s {
                        RTCPeerConnectionState::Connected if !connected => {
                            connected = true;
                            state.send_replace(LegState::Connected);
                        }
                        RTCPeerConnectionState::Failed => {
                            break CloseReason::Failed(format!("ICE {ice}, connection {s}"));
                        }
                        RTCPeerConnectionState::Closed => break CloseReason::PeerClosed,
                        _ => {}
                    }
                }
                Some(PcEvent::Track(track)) => {
                    to_plain.push(tokio::spawn(browser_to_plain(shared.clone(), plain.clone(), track)));
                }
                None => break CloseReason::PeerClosed,
            },
            command = commands.recv() => match command {
                Some(Command::Close) | None => break CloseReason::Local,
            },
            () = tokio::time::sleep_until(deadline), if !connected => {
                break CloseReason::EstablishTimeout {
                    timeout: establish_timeout,
                    ice: ice.to_string(),
                    connection: connection.to_string(),
                };
            }
        }
    };
    match &reason {
        CloseReason::Local => info!("WebRTC leg closed"),
        reason => warn!(%reason, "WebRTC leg closing"),
    }
    to_browser.abort();
    for task in &to_plain {
        task.abort();
    }
    let _ = to_browser.await;
    for task in to_plain {
        let _ = task.await;
    }
    drop(plain);
    if let Err(error) = shared.pc.close().await {
        debug!(%error, "closing the peer connection");
    }
    LIVE_LEGS.fetch_sub(1, Relaxed);
    state.send_replace(LegState::Closed(reason));
}

/// Browser → media engine: decrypted RTP, unchanged, from the plain socket to the plain peer.
async fn browser_to_plain(shared: Arc<Shared>, plain: Arc<UdpSocket>, track: Arc<dyn TrackRemote>) {
    let mut buf = vec![0u8; 1500];
    while let Some(event) = track.poll().await {
        let TrackRemoteEvent::OnRtpPacket(packet) = event else {
            continue;
        };
        let counters = &shared.counters;
        counters.from_browser.add(packet.payload.len());
        let peer = *shared.plain_peer.lock().unwrap_or_else(|e| e.into_inner());
        let Some(peer) = peer else {
            counters.dropped_no_peer.fetch_add(1, Relaxed);
            continue;
        };
        match packet.marshal_to(&mut buf) {
            Ok(n) => match plain.send_to(&buf[..n], peer).await {
                Ok(_) => counters.to_plain.add(packet.payload.len()),
                Err(error) => {
                    counters.send_errors.fetch_add(1, Relaxed);
                    debug!(%error, %peer, "sending plain RTP");
                }
            },
            Err(error) => {
                counters.send_errors.fetch_add(1, Relaxed);
                debug!(%error, "marshalling RTP");
            }
        }
    }
}

/// Media engine → browser: RTP from the plain peer, re-stamped with the leg's SSRC and sent
/// over SRTP.
async fn plain_to_browser(
    shared: Arc<Shared>,
    plain: Arc<UdpSocket>,
    track: Arc<TrackLocalStaticRTP>,
    ssrc: u32,
) {
    let mut buf = vec![0u8; 1500];
    loop {
        let (n, from) = match plain.recv_from(&mut buf).await {
            Ok(received) => received,
            Err(error) => {
                // ICMP port unreachable from an earlier send shows up here on some systems.
                debug!(%error, "receiving plain RTP");
                continue;
            }
        };
        let counters = &shared.counters;
        let peer = *shared.plain_peer.lock().unwrap_or_else(|e| e.into_inner());
        if peer != Some(from) {
            counters.dropped_foreign.fetch_add(1, Relaxed);
            continue;
        }
        let mut bytes = BytesMut::from(&buf[..n]);
        let mut packet = match rtp::Packet::unmarshal(&mut bytes) {
            Ok(packet) => packet,
            Err(_) => {
                counters.dropped_malformed.fetch_add(1, Relaxed);
                continue;
            }
        };
        let len = packet.payload.len();
        counters.from_plain.add(len);
        packet.header.ssrc = ssrc;
        match track.write_rtp(packet).await {
            Ok(()) => counters.to_browser.add(len),
            Err(_) => {
                counters.dropped_not_connected.fetch_add(1, Relaxed);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_public_address_replaces_the_bound_one_in_candidates_and_connection_lines() {
        let sdp = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\nc=IN IP4 10.0.0.5\r\n\
a=candidate:1 1 udp 2130706431 10.0.0.5 40000 typ host\r\n\
a=candidate:2 1 udp 2130706431 10.0.0.6 40002 typ host\r\n";
        let out = advertise(
            sdp,
            "10.0.0.5".parse().unwrap(),
            "203.0.113.9".parse().unwrap(),
        );
        assert_eq!(
            out,
            "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\nc=IN IP4 203.0.113.9\r\n\
a=candidate:1 1 udp 2130706431 203.0.113.9 40000 typ host\r\n\
a=candidate:2 1 udp 2130706431 10.0.0.6 40002 typ host\r\n"
        );
        assert_eq!(candidate_port(&out), Some(40000));
    }
}
