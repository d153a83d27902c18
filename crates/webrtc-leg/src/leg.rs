//! The handle of one WebRTC media leg and how it answers an offer.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rtc::interceptor::{Registry, Slot};
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::configuration::RTCConfigurationBuilder;
use rtc::peer_connection::configuration::interceptor_registry::configure_rtcp_reports;
use rtc::peer_connection::configuration::media_engine::MediaEngine;
use rtc::peer_connection::configuration::setting_engine::SettingEngineBuilder;
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::peer_connection::state::{RTCIceConnectionState, RTCPeerConnectionState};
use rtc::peer_connection::transport::{
    CandidateConfig, CandidateHostConfig, RTCDtlsRole, RTCIceCandidate,
};
use rtc::peer_connection::{RTCPeerConnection, RTCPeerConnectionBuilder};
use rtc::rtp_transceiver::RTCRtpSenderId;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters, RTCRtpEncodingParameters,
    RtpCodecKind,
};
use rtc::statistics::report::{RTCStatsReport, RTCStatsReportEntry};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot, watch};
use tracing::info;

use crate::config::LegConfig;
use crate::driver::Driver;
use crate::error::LegError;
use crate::offer::{G711, OfferedAudio, check_offer};
use crate::sdp::advertise;
use crate::stats::{Counters, LegStats};

/// Legs alive in this process (built and not yet closed): the supervisor's gauge, and the
/// tests' proof that a refused or timed-out leg left nothing behind.
pub(crate) static LIVE_LEGS: AtomicUsize = AtomicUsize::new(0);

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
    #[error("the leg's socket failed: {0}")]
    Socket(String),
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

pub(crate) struct Shared {
    pub(crate) plain_local: SocketAddr,
    pub(crate) plain_peer: Mutex<Option<SocketAddr>>,
    pub(crate) ice_local: SocketAddr,
    pub(crate) negotiated: Negotiated,
    pub(crate) counters: Counters,
}

pub(crate) enum Command {
    Close,
    Stats(oneshot::Sender<RTCStatsReport>),
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

fn bind_error(what: &'static str, addr: SocketAddr) -> impl FnOnce(std::io::Error) -> LegError {
    move |source| LegError::Bind { what, addr, source }
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
        let (plain, plain_local, ice, ice_local) = bind(config).await?;
        // The core is plain data: if negotiation fails, dropping it and the sockets here
        // releases everything.
        let (core, answer) = negotiate(offer_sdp, &offered, config, ice_local)?;
        let answer = advertised(answer, config);
        let leg = start(
            Sockets {
                plain,
                plain_local,
                ice,
                ice_local,
            },
            core,
            negotiated_of(&offered),
            config,
        );
        info!(ice = %ice_local, plain = %plain_local, "WebRTC leg answered");
        Ok((leg, answer))
    }

    /// Makes the offer, for a call the server places toward a browser (the ACD ringing an
    /// agent whose phone registered over `/ws`): binds both sockets and returns the pending
    /// leg with the offer SDP (ICE-lite, one host candidate — `config.public_addr` if set —,
    /// `a=setup:actpass`, rtcp-mux, PCMU 0, PCMA 8 and telephone-event 101).
    ///
    /// The leg starts when [`OfferedLeg::accept`] takes the browser's answer; dropping the
    /// [`OfferedLeg`] (the call was not answered) releases the sockets. Must be called within
    /// a Tokio runtime.
    pub async fn offer(config: &LegConfig) -> Result<(OfferedLeg, String), LegError> {
        let (plain, plain_local, ice, ice_local) = bind(config).await?;
        let (core, offer) = make_offer(config, ice_local)?;
        let offer = advertised(offer, config);
        Ok((
            OfferedLeg {
                sockets: Sockets {
                    plain,
                    plain_local,
                    ice,
                    ice_local,
                },
                core,
                config: config.clone(),
            },
            offer,
        ))
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
        let (tx, rx) = oneshot::channel();
        if self.commands.send(Command::Stats(tx)).is_err() {
            return stats;
        }
        let Ok(report) = rx.await else {
            return stats;
        };
        for entry in report.iter() {
            match entry {
                RTCStatsReportEntry::InboundRtp(inbound) => {
                    let received = &inbound.received_rtp_stream_stats;
                    stats.browser_packets_lost = Some(received.packets_lost);
                    // rtc 0.21.1 stores the receiver report's interarrival jitter as is, in RTP
                    // timestamp units (RFC 3550 §6.4.1), though its field says seconds: G.711's
                    // clock is 8 kHz.
                    stats.browser_jitter = Some(Duration::from_secs_f64(
                        received.jitter.max(0.0) / f64::from(G711_CLOCK_RATE),
                    ));
                }
                RTCStatsReportEntry::RemoteInboundRtp(remote) => {
                    // rtc 0.21.1 records 0 for every report (it does not compute it): the
                    // leg's own measurement (`rtt`) stands unless rtc ever has a real one.
                    if remote.round_trip_time_measurements > 0 && remote.round_trip_time > 0.0 {
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

/// A leg whose offer is out and whose answer has not come: the sockets are bound (the offer
/// names them), nothing runs yet. Dropped, it releases them.
pub struct OfferedLeg {
    sockets: Sockets,
    core: Core,
    config: LegConfig,
}

impl std::fmt::Debug for OfferedLeg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OfferedLeg")
            .field("ice_local", &self.sockets.ice_local)
            .field("plain_local", &self.sockets.plain_local)
            .finish()
    }
}

impl OfferedLeg {
    /// The local address the media engine will send RTP to, known before the answer.
    pub fn plain_rtp_addr(&self) -> SocketAddr {
        self.sockets.plain_local
    }

    /// Takes the browser's answer and starts the leg. The answer must carry DTLS-SRTP audio,
    /// a fingerprint and one of the offered G.711 laws ([`check_offer`]'s checks, which an
    /// answer must pass as well); refused, the sockets are released.
    pub fn accept(self, answer_sdp: &str) -> Result<WebRtcLeg, LegError> {
        let answered = check_offer(answer_sdp)?;
        let OfferedLeg {
            sockets,
            mut core,
            config,
        } = self;
        core.pc.set_remote_description(
            Instant::now(),
            RTCSessionDescription::answer(answer_sdp.to_owned())?,
        )?;
        let (ice, plain) = (sockets.ice_local, sockets.plain_local);
        let leg = start(sockets, core, negotiated_of(&answered), &config);
        info!(%ice, %plain, codec = ?answered.codec, "WebRTC leg's offer answered");
        Ok(leg)
    }
}

struct Sockets {
    plain: UdpSocket,
    plain_local: SocketAddr,
    ice: UdpSocket,
    ice_local: SocketAddr,
}

struct Core {
    pc: RTCPeerConnection,
    sender: RTCRtpSenderId,
    ssrc: u32,
    /// The round trip the leg's report reader measured (µs; 0: none yet).
    round_trip: Arc<AtomicU64>,
}

/// Binds the plain RTP socket on `config.plain_bind` and the ICE/DTLS one on `config.bind`.
async fn bind(
    config: &LegConfig,
) -> Result<(UdpSocket, SocketAddr, UdpSocket, SocketAddr), LegError> {
    let plain_addr = SocketAddr::new(config.plain_bind, 0);
    let plain = UdpSocket::bind(plain_addr)
        .await
        .map_err(bind_error("the plain RTP socket", plain_addr))?;
    let plain_local = plain
        .local_addr()
        .map_err(bind_error("the plain RTP socket", plain_addr))?;
    let ice_addr = SocketAddr::new(config.bind, 0);
    let ice = UdpSocket::bind(ice_addr)
        .await
        .map_err(bind_error("the ICE/DTLS socket", ice_addr))?;
    let ice_local = ice
        .local_addr()
        .map_err(bind_error("the ICE/DTLS socket", ice_addr))?;
    Ok((plain, plain_local, ice, ice_local))
}

/// The core's host candidate is the bound address (the one its ICE agent sees packets arrive
/// on); behind 1:1 NAT the browser is told the public one instead.
fn advertised(sdp: String, config: &LegConfig) -> String {
    match config.public_addr {
        Some(public) => advertise(&sdp, config.bind, public),
        None => sdp,
    }
}

fn negotiated_of(audio: &OfferedAudio) -> Negotiated {
    Negotiated {
        codec: audio.codec,
        payload_type: audio.payload_type,
        telephone_event: audio.telephone_event,
    }
}

/// Starts the task that runs the leg (see the `driver` module) and returns its handle.
fn start(sockets: Sockets, core: Core, negotiated: Negotiated, config: &LegConfig) -> WebRtcLeg {
    let shared = Arc::new(Shared {
        plain_local: sockets.plain_local,
        plain_peer: Mutex::new(config.plain_peer),
        ice_local: sockets.ice_local,
        negotiated,
        counters: Counters {
            round_trip_micros: core.round_trip.clone(),
            ..Counters::default()
        },
    });
    LIVE_LEGS.fetch_add(1, Relaxed);
    let (commands_tx, commands_rx) = mpsc::unbounded_channel();
    let (state_tx, state_rx) = watch::channel(LegState::Connecting);
    let driver = Driver {
        pc: core.pc,
        ice: sockets.ice,
        ice_local: sockets.ice_local,
        plain: sockets.plain,
        shared: shared.clone(),
        sender: core.sender,
        ssrc: core.ssrc,
        state: state_tx,
        establish_timeout: config.establish_timeout,
        connected: false,
        ice_state: RTCIceConnectionState::New,
        connection: RTCPeerConnectionState::New,
    };
    tokio::spawn(driver.run(commands_rx));
    WebRtcLeg {
        shared,
        commands: commands_tx,
        state: state_rx,
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
                rtp_codec: telephone_event_codec(),
                payload_type,
            },
            RtpCodecKind::Audio,
        )?;
    }
    Ok(())
}

/// RFC 4733 §7.1.1.
fn telephone_event_codec() -> RTCRtpCodec {
    RTCRtpCodec {
        mime_type: "audio/telephone-event".to_owned(),
        clock_rate: 8000,
        channels: 0,
        sdp_fmtp_line: String::new(),
        rtcp_feedback: vec![],
    }
}

/// RFC 3551 §4.5.14.
const G711_CLOCK_RATE: u32 = 8000;

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

/// What the server offers a browser: µ-law first (the trunk's usual law), A-law, and RFC 4733
/// events on 101, the numbers the media engine uses toward SIP phones.
const OFFERED: OfferedAudio = OfferedAudio {
    codec: G711::Pcmu,
    payload_type: 0,
    alternative: Some((G711::Pcma, 8)),
    telephone_event: Some(101),
    setup: None,
};

/// A sans-IO peer connection for `audio`'s codecs: ICE-lite, RTCP reports only.
fn core(
    audio: &OfferedAudio,
    config: &LegConfig,
    answering_passive: bool,
    ssrc: u32,
    round_trip: &Arc<AtomicU64>,
) -> Result<RTCPeerConnection, LegError> {
    let mut media_engine = MediaEngine::default();
    register_audio(&mut media_engine, audio)?;
    // RTCP sender/receiver reports only (RFC 3550 §6.4: loss, jitter, RTT for the stats):
    // NACK retransmission and transport-wide congestion control serve video; G.711 at a
    // fixed rate has no use for them, and they cost per packet.
    // And the leg's own reader of the browser's reports, for the round trip (see `rtt`).
    let registry = configure_rtcp_reports(Registry::new()).with(
        Slot::from(crate::rtt::SLOT),
        crate::rtt::RoundTrip::new(ssrc, round_trip.clone()),
    );
    let mut settings = SettingEngineBuilder::new()
        .with_lite(true)
        .with_include_loopback_candidate(config.bind.is_loopback())
        .with_ice_timeouts(
            Some(Duration::from_secs(5).min(config.consent_timeout)),
            Some(config.consent_timeout),
            None,
        );
    if answering_passive {
        settings = settings.with_answering_dtls_role(RTCDtlsRole::Server);
    }
    Ok(RTCPeerConnectionBuilder::new()
        .with_configuration(RTCConfigurationBuilder::new().build())
        .with_media_engine(media_engine)
        .with_setting_engine(settings.build())
        .with_interceptor_registry(registry)
        .build(Instant::now())?)
}

/// Our sending track: one SSRC, `codec`.
fn track(codec: G711, ssrc: u32) -> MediaStreamTrack {
    MediaStreamTrack::new(
        "centralino".to_owned(),
        format!("audio-{ssrc:08x}"),
        "centralino audio".to_owned(),
        RtpCodecKind::Audio,
        vec![RTCRtpEncodingParameters {
            rtp_coding_parameters: RTCRtpCodingParameters {
                ssrc: Some(ssrc),
                ..Default::default()
            },
            codec: g711_codec(codec),
            ..Default::default()
        }],
    )
}

/// Adds the bound socket as the one host candidate (non-trickle: it is in the SDP).
fn add_host_candidate(pc: &mut RTCPeerConnection, ice_local: SocketAddr) -> Result<(), LegError> {
    let candidate = CandidateHostConfig {
        base_config: CandidateConfig {
            network: "udp".to_owned(),
            address: ice_local.ip().to_string(),
            port: ice_local.port(),
            component: 1,
            ..Default::default()
        },
        ..Default::default()
    }
    .new_candidate_host()
    .map_err(|e| LegError::Negotiation(e.to_string()))?;
    let init = RTCIceCandidate::from(&candidate)
        .to_json()
        .map_err(|e| LegError::Negotiation(e.to_string()))?;
    pc.add_local_candidate(init)?;
    Ok(())
}

fn local_sdp(pc: &RTCPeerConnection) -> Result<String, LegError> {
    pc.local_description()
        .map(|d| d.sdp)
        .ok_or_else(|| LegError::Negotiation("no local description after negotiating".into()))
}

/// Builds the core, sets the offer, adds our audio track and the host candidate, answers.
fn negotiate(
    offer_sdp: &str,
    offered: &OfferedAudio,
    config: &LegConfig,
    ice_local: SocketAddr,
) -> Result<(Core, String), LegError> {
    let now = Instant::now();
    // RFC 8842 §5.3: the answerer picks; we prefer passive (the browser, ICE-controlling,
    // starts the handshake), unless the offer itself is passive.
    let ssrc: u32 = rand::random();
    let round_trip = Arc::new(AtomicU64::new(0));
    let passive = offered.setup.as_deref() != Some("passive");
    let mut pc = core(offered, config, passive, ssrc, &round_trip)?;
    let track = track(offered.codec, ssrc);
    pc.set_remote_description(now, RTCSessionDescription::offer(offer_sdp.to_owned())?)?;
    let sender = pc.add_track(track)?;
    let answer = pc.create_answer(None)?;
    pc.set_local_description(now, answer)?;
    add_host_candidate(&mut pc, ice_local)?;
    let sdp = local_sdp(&pc)?;
    Ok((
        Core {
            pc,
            sender,
            ssrc,
            round_trip,
        },
        sdp,
    ))
}

/// Builds the core, adds our audio track, offers (`a=setup:actpass`: the browser's answer
/// picks, and browsers answer active) with the host candidate.
fn make_offer(config: &LegConfig, ice_local: SocketAddr) -> Result<(Core, String), LegError> {
    let ssrc: u32 = rand::random();
    let round_trip = Arc::new(AtomicU64::new(0));
    let mut pc = core(&OFFERED, config, false, ssrc, &round_trip)?;
    // A track alone offers only its own codec: the transceiver first, with every law and
    // the events in order of preference, then the track on it.
    let transceiver = pc.add_transceiver_from_kind(RtpCodecKind::Audio, None)?;
    let mut preferences = vec![
        RTCRtpCodecParameters {
            rtp_codec: g711_codec(G711::Pcmu),
            payload_type: 0,
        },
        RTCRtpCodecParameters {
            rtp_codec: g711_codec(G711::Pcma),
            payload_type: 8,
        },
    ];
    if let Some(payload_type) = OFFERED.telephone_event {
        preferences.push(RTCRtpCodecParameters {
            rtp_codec: telephone_event_codec(),
            payload_type,
        });
    }
    pc.rtp_transceiver(transceiver)
        .ok_or_else(|| LegError::Negotiation("the audio transceiver vanished".into()))?
        .set_codec_preferences(preferences)?;
    let track = track(OFFERED.codec, ssrc);
    let sender = pc.add_track(track)?;
    let offer = pc.create_offer(None)?;
    pc.set_local_description(Instant::now(), offer)?;
    add_host_candidate(&mut pc, ice_local)?;
    let sdp = local_sdp(&pc)?;
    Ok((
        Core {
            pc,
            sender,
            ssrc,
            round_trip,
        },
        sdp,
    ))
}
