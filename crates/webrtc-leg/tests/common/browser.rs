//! A webrtc-rs peer playing the agent's browser: offers PCMU/PCMA + telephone-event over
//! DTLS-SRTP with a host candidate on loopback, sends RTP on its track and hands back what it
//! receives. Shared by the integration tests and the benchmark example.

#![allow(dead_code)]

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use rtc::media_stream::MediaStreamTrack;
use rtc::rtp;
use rtc::rtp_transceiver::rtp_sender::{
    RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters, RTCRtpEncodingParameters,
    RtpCodecKind,
};
use rtc::rtp_transceiver::{RTCRtpTransceiverDirection, RTCRtpTransceiverInit};
use tokio::sync::{mpsc, watch};
use webrtc::media_stream::track_local::TrackLocal;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{
    MediaEngine, PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler,
    RTCConfigurationBuilder, RTCIceGatheringState, RTCPeerConnectionState, RTCSessionDescription,
    Registry, SettingEngineBuilder, register_default_interceptors,
};

pub const PCMU: u8 = 0;
pub const PCMA: u8 = 8;
pub const TELEPHONE_EVENT: u8 = 101;

struct Handler {
    gathered: watch::Sender<bool>,
    state: watch::Sender<RTCPeerConnectionState>,
    received: mpsc::UnboundedSender<rtp::Packet>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        if state == RTCIceGatheringState::Complete {
            self.gathered.send_replace(true);
        }
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        self.state.send_replace(state);
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        let received = self.received.clone();
        tokio::spawn(async move {
            while let Some(event) = track.poll().await {
                if let TrackRemoteEvent::OnRtpPacket(packet) = event
                    && received.send(packet).is_err()
                {
                    break;
                }
            }
        });
    }
}

/// The browser's side of one call.
pub struct Browser {
    pub pc: Arc<dyn PeerConnection>,
    pub track: Arc<TrackLocalStaticRTP>,
    pub ssrc: u32,
    gathered: watch::Receiver<bool>,
    pub state: watch::Receiver<RTCPeerConnectionState>,
    /// RTP received from the leg, in arrival order.
    pub received: mpsc::UnboundedReceiver<rtp::Packet>,
    seq: u16,
    timestamp: u32,
}

fn codec(mime: &str) -> RTCRtpCodec {
    RTCRtpCodec {
        mime_type: mime.to_owned(),
        clock_rate: 8000,
        channels: 0,
        sdp_fmtp_line: String::new(),
        rtcp_feedback: vec![],
    }
}

impl Browser {
    /// A peer with one sendrecv audio track, bound on 127.0.0.1 (system-chosen port).
    pub async fn new() -> Browser {
        let mut media_engine = MediaEngine::default();
        for (mime, pt) in [
            ("audio/PCMU", PCMU),
            ("audio/PCMA", PCMA),
            ("audio/telephone-event", TELEPHONE_EVENT),
        ] {
            media_engine
                .register_codec(
                    RTCRtpCodecParameters {
                        rtp_codec: codec(mime),
                        payload_type: pt,
                    },
                    RtpCodecKind::Audio,
                )
                .unwrap();
        }
        let registry = register_default_interceptors(Registry::new(), &mut media_engine).unwrap();
        let (gathered_tx, gathered) = watch::channel(false);
        let (state_tx, state) = watch::channel(RTCPeerConnectionState::New);
        let (received_tx, received) = mpsc::unbounded_channel();
        let pc = PeerConnectionBuilder::new()
            .with_configuration(RTCConfigurationBuilder::new().build())
            .with_media_engine(media_engine)
            .with_setting_engine(
                SettingEngineBuilder::new()
                    .with_include_loopback_candidate(true)
                    .build(),
            )
            .with_interceptor_registry(registry)
            .with_handler(Arc::new(Handler {
                gathered: gathered_tx,
                state: state_tx,
                received: received_tx,
            }))
            .with_udp_addrs(vec![SocketAddr::from((Ipv4Addr::LOCALHOST, 0))])
            .build()
            .await
            .unwrap();
        let ssrc: u32 = rand::random();
        let track = Arc::new(TrackLocalStaticRTP::new(MediaStreamTrack::new(
            "browser".to_owned(),
            format!("mic-{ssrc:08x}"),
            "microphone".to_owned(),
            RtpCodecKind::Audio,
            vec![RTCRtpEncodingParameters {
                rtp_coding_parameters: RTCRtpCodingParameters {
                    ssrc: Some(ssrc),
                    ..Default::default()
                },
                codec: codec("audio/PCMU"),
                ..Default::default()
            }],
        )));
        let pc: Arc<dyn PeerConnection> = Arc::new(pc);
        // Like a browser, offer every audio codec it has (add_track alone would offer only
        // the track's own codec).
        let transceiver = pc
            .add_transceiver_from_kind(
                RtpCodecKind::Audio,
                Some(RTCRtpTransceiverInit {
                    direction: RTCRtpTransceiverDirection::Recvonly,
                    ..Default::default()
                }),
            )
            .await
            .unwrap();
        transceiver
            .set_codec_preferences(
                [
                    ("audio/PCMU", PCMU),
                    ("audio/PCMA", PCMA),
                    ("audio/telephone-event", TELEPHONE_EVENT),
                ]
                .into_iter()
                .map(|(mime, pt)| RTCRtpCodecParameters {
                    rtp_codec: codec(mime),
                    payload_type: pt,
                })
                .collect(),
            )
            .await
            .unwrap();
        pc.add_track(track.clone() as Arc<dyn TrackLocal>)
            .await
            .unwrap();
        Browser {
            pc,
            track,
            ssrc,
            gathered,
            state,
            received,
            seq: rand::random(),
            timestamp: rand::random(),
        }
    }

    /// The offer, with the host candidate in it (non-trickle).
    pub async fn offer(&mut self) -> String {
        let offer = self.pc.create_offer(None).await.unwrap();
        self.pc.set_local_description(offer).await.unwrap();
        tokio::time::timeout(Duration::from_secs(5), self.gathered.wait_for(|g| *g))
            .await
            .expect("gathering completes")
            .unwrap();
        self.pc.local_description().await.unwrap().sdp
    }

    /// Answers the server's offer, with the host candidate in the answer (non-trickle).
    pub async fn answer(&mut self, offer: &str) -> String {
        self.pc
            .set_remote_description(RTCSessionDescription::offer(offer.to_owned()).unwrap())
            .await
            .unwrap();
        let answer = self.pc.create_answer(None).await.unwrap();
        self.pc.set_local_description(answer).await.unwrap();
        tokio::time::timeout(Duration::from_secs(5), self.gathered.wait_for(|g| *g))
            .await
            .expect("gathering completes")
            .unwrap();
        self.pc.local_description().await.unwrap().sdp
    }

    pub async fn accept(&self, answer: String) {
        self.pc
            .set_remote_description(RTCSessionDescription::answer(answer).unwrap())
            .await
            .unwrap();
    }

    /// Waits (bounded) for the connection to be up.
    pub async fn connected(&mut self, within: Duration) {
        tokio::time::timeout(
            within,
            self.state
                .wait_for(|s| *s == RTCPeerConnectionState::Connected),
        )
        .await
        .expect("the browser connects in time")
        .unwrap();
    }

    /// Sends one RTP packet on the track: 160 samples later than the last audio one.
    pub async fn send(&mut self, payload_type: u8, marker: bool, payload: &[u8], advance: bool) {
        let packet = rtp::Packet {
            header: rtp::header::Header {
                version: 2,
                payload_type,
                marker,
                sequence_number: self.seq,
                timestamp: self.timestamp,
                ssrc: self.ssrc,
                ..Default::default()
            },
            payload: bytes::Bytes::copy_from_slice(payload),
        };
        self.seq = self.seq.wrapping_add(1);
        if advance {
            self.timestamp = self.timestamp.wrapping_add(160);
        }
        self.track.write_rtp(packet).await.unwrap();
    }

    pub async fn close(&self) {
        let _ = self.pc.close().await;
    }
}

/// 160 µ-law samples of a sine at `freq` Hz, continuing from sample `start`.
pub fn ulaw_tone(freq: f64, start: usize) -> Vec<u8> {
    (start..start + 160)
        .map(|n| {
            let x = (2.0 * std::f64::consts::PI * freq * n as f64 / 8000.0).sin() * 8000.0;
            media::g711::ulaw_encode(x as i16)
        })
        .collect()
}

/// The strongest of `candidates` in `samples` (Goertzel power at each).
pub fn dominant(samples: &[i16], candidates: &[f64]) -> f64 {
    let power = |freq: f64| {
        let k = 2.0 * (2.0 * std::f64::consts::PI * freq / 8000.0).cos();
        let (mut s1, mut s2) = (0.0f64, 0.0f64);
        for &x in samples {
            let s0 = x as f64 + k * s1 - s2;
            s2 = s1;
            s1 = s0;
        }
        s1 * s1 + s2 * s2 - k * s1 * s2
    };
    candidates
        .iter()
        .copied()
        .max_by(|a, b| power(*a).total_cmp(&power(*b)))
        .unwrap()
}

/// The frequencies 100 Hz … 3,900 Hz in 20 Hz steps.
pub fn scan() -> Vec<f64> {
    (5..195).map(|i| i as f64 * 20.0).collect()
}
