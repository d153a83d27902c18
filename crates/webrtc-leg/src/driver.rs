//! The task that runs one leg.
//!
//! # Run loop
//! Each leg is one Tokio task that owns the sans-IO peer connection (`rtc::RTCPeerConnection`)
//! and both sockets. Each turn it first drains the core — `poll_write` (datagrams to the
//! browser), `poll_event` (ICE and connection states), `poll_read` (decrypted RTP, sent on to
//! the plain peer) — then waits for the first of: a command, the core's `poll_timeout`, the
//! establishment deadline, a datagram from the browser (`handle_read`), a datagram from the
//! engine (re-stamped and `write_rtp`). The invariant: the core is drained after every input,
//! before waiting again, so nothing it produced waits for the next packet.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use rtc::peer_connection::RTCPeerConnection;
use rtc::peer_connection::event::RTCPeerConnectionEvent;
use rtc::peer_connection::message::{RTCMessage, TaggedRTCMessage};
use rtc::peer_connection::state::{RTCIceConnectionState, RTCPeerConnectionState};
use rtc::rtp;
use rtc::rtp_transceiver::RTCRtpSenderId;
use rtc::sansio::Protocol;
use rtc::shared::marshal::{Marshal, Unmarshal};
use rtc::shared::{TaggedBytesMut, TransportContext, TransportProtocol};
use rtc::statistics::StatsSelector;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};
use tracing::{debug, info, warn};

use crate::leg::{CloseReason, Command, LIVE_LEGS, LegState, Shared};

/// The task of one leg: the core, both sockets, and the loop described in the module doc.
pub(crate) struct Driver {
    pub(crate) pc: RTCPeerConnection,
    pub(crate) ice: UdpSocket,
    pub(crate) ice_local: SocketAddr,
    pub(crate) plain: UdpSocket,
    pub(crate) shared: Arc<Shared>,
    pub(crate) sender: RTCRtpSenderId,
    pub(crate) ssrc: u32,
    pub(crate) state: watch::Sender<LegState>,
    pub(crate) establish_timeout: Duration,
    pub(crate) connected: bool,
    pub(crate) ice_state: RTCIceConnectionState,
    pub(crate) connection: RTCPeerConnectionState,
}

/// How long to sleep when the core asks for no timer (it always does once connected).
const IDLE: Duration = Duration::from_secs(3600);

impl Driver {
    pub(crate) async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
        let establish_deadline = tokio::time::Instant::now() + self.establish_timeout;
        let timer = tokio::time::sleep(IDLE);
        tokio::pin!(timer);
        let mut ice_buf = vec![0u8; 2048];
        let mut plain_buf = vec![0u8; 2048];
        let mut out_buf = vec![0u8; 2048];
        let reason = loop {
            if let Some(reason) = self.drain(&mut out_buf).await {
                break reason;
            }
            let next = self
                .pc
                .poll_timeout()
                .map(tokio::time::Instant::from_std)
                .unwrap_or_else(|| tokio::time::Instant::now() + IDLE);
            if timer.deadline() != next {
                timer.as_mut().reset(next);
            }
            tokio::select! {
                command = commands.recv() => match command {
                    Some(Command::Stats(reply)) => {
                        let _ = reply.send(self.pc.get_stats(Instant::now(), StatsSelector::None));
                    }
                    Some(Command::Close) | None => break CloseReason::Local,
                },
                () = &mut timer => {
                    if let Err(error) = self.pc.handle_timeout(Instant::now()) {
                        debug!(%error, "handle_timeout");
                    }
                }
                () = tokio::time::sleep_until(establish_deadline), if !self.connected => {
                    break CloseReason::EstablishTimeout {
                        timeout: self.establish_timeout,
                        ice: self.ice_state.to_string(),
                        connection: self.connection.to_string(),
                    };
                }
                received = self.ice.recv_from(&mut ice_buf) => match received {
                    Ok((n, peer_addr)) => self.handle_browser_datagram(&ice_buf[..n], peer_addr),
                    Err(error) => debug!(%error, "receiving on the ICE socket"),
                },
                received = self.plain.recv_from(&mut plain_buf) => match received {
                    Ok((n, from)) => self.handle_plain_datagram(&plain_buf[..n], from),
                    Err(error) => debug!(%error, "receiving plain RTP"),
                },
            }
        };
        match &reason {
            CloseReason::Local => info!("WebRTC leg closed"),
            reason => warn!(%reason, "WebRTC leg closing"),
        }
        if let Err(error) = self.pc.close() {
            debug!(%error, "closing the peer connection");
        }
        // The close alert (DTLS) and RTCP BYE, if the core has them, go out before the sockets
        // are dropped.
        while let Some(transmit) = self.pc.poll_write() {
            let _ = self
                .ice
                .try_send_to(&transmit.message, transmit.transport.peer_addr);
        }
        let Driver {
            ice, plain, state, ..
        } = self;
        drop(ice);
        drop(plain);
        LIVE_LEGS.fetch_sub(1, Relaxed);
        state.send_replace(LegState::Closed(reason));
    }

    /// Hands the core everything it has for us; `Some` when that ends the leg.
    async fn drain(&mut self, out_buf: &mut [u8]) -> Option<CloseReason> {
        while let Some(transmit) = self.pc.poll_write() {
            if let Err(error) = self
                .ice
                .send_to(&transmit.message, transmit.transport.peer_addr)
                .await
            {
                debug!(%error, peer = %transmit.transport.peer_addr, "sending to the browser");
            }
        }
        while let Some(event) = self.pc.poll_event() {
            match event {
                RTCPeerConnectionEvent::OnIceConnectionStateChangeEvent(s) => {
                    debug!(state = %s, "ICE");
                    self.ice_state = s;
                }
                RTCPeerConnectionEvent::OnConnectionStateChangeEvent(s) => {
                    debug!(state = %s, "connection");
                    self.connection = s;
                    match s {
                        RTCPeerConnectionState::Connected if !self.connected => {
                            self.connected = true;
                            self.state.send_replace(LegState::Connected);
                        }
                        RTCPeerConnectionState::Failed => {
                            return Some(CloseReason::Failed(format!(
                                "ICE {}, connection {s}",
                                self.ice_state
                            )));
                        }
                        RTCPeerConnectionState::Closed => return Some(CloseReason::PeerClosed),
                        _ => {}
                    }
                }
                _ => {}
            }
        }
        while let Some(TaggedRTCMessage { message, .. }) = self.pc.poll_read() {
            if let RTCMessage::RtpPacket(_, packet) = message {
                to_plain(&self.plain, &self.shared, &packet, out_buf).await;
            }
        }
        None
    }

    /// A datagram from the browser: STUN, DTLS, SRTP or SRTCP, all for the core.
    fn handle_browser_datagram(&mut self, datagram: &[u8], peer_addr: SocketAddr) {
        let message = TaggedBytesMut {
            now: Instant::now(),
            transport: TransportContext {
                local_addr: self.ice_local,
                peer_addr,
                ecn: None,
                transport_protocol: TransportProtocol::UDP,
            },
            message: BytesMut::from(datagram),
        };
        if let Err(error) = self.pc.handle_read(message) {
            debug!(%error, %peer_addr, "datagram from the browser refused");
        }
    }

    /// Media engine → browser: RTP from the plain peer, re-stamped with the leg's SSRC and
    /// handed to the core for SRTP.
    fn handle_plain_datagram(&mut self, datagram: &[u8], from: SocketAddr) {
        let counters = &self.shared.counters;
        let peer = *self
            .shared
            .plain_peer
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if peer != Some(from) {
            counters.dropped_foreign.fetch_add(1, Relaxed);
            return;
        }
        let mut bytes = datagram;
        let mut packet = match rtp::Packet::unmarshal(&mut bytes) {
            Ok(packet) => packet,
            Err(_) => {
                counters.dropped_malformed.fetch_add(1, Relaxed);
                return;
            }
        };
        let len = packet.payload.len();
        counters.from_plain.add(len);
        if !self.connected {
            counters.dropped_not_connected.fetch_add(1, Relaxed);
            return;
        }
        packet.header.ssrc = self.ssrc;
        let written = match self.pc.rtp_sender(self.sender) {
            Some(mut sender) => sender.write_rtp(Instant::now(), packet).is_ok(),
            None => false,
        };
        if written {
            counters.to_browser.add(len);
        } else {
            counters.dropped_not_connected.fetch_add(1, Relaxed);
        }
    }
}

/// Browser → media engine: decrypted RTP, unchanged, from the plain socket to the plain
/// peer. (A free function: it holds no borrow of the core, which is not `Sync`, across the
/// send.)
async fn to_plain(plain: &UdpSocket, shared: &Shared, packet: &rtp::Packet, out_buf: &mut [u8]) {
    let counters = &shared.counters;
    counters.from_browser.add(packet.payload.len());
    let peer = *shared.plain_peer.lock().unwrap_or_else(|e| e.into_inner());
    let Some(peer) = peer else {
        counters.dropped_no_peer.fetch_add(1, Relaxed);
        return;
    };
    match packet.marshal_to(out_buf) {
        Ok(n) => match plain.send_to(&out_buf[..n], peer).await {
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
