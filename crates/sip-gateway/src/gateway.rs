//! The tokio driver of the trunk: one task owns the [`UserAgent`], the UDP socket and the TCP
//! listener, feeds them input and time, and carries out the switchboard's commands.
//!
//! With a registrar configured ([`UserAgentConfig::registrar`]), agents' phones REGISTER here:
//! [`Gateway::subscribe_registrations`] streams who became reachable or unreachable, and
//! [`Gateway::bindings`] says where a user's phones are. A call placed with
//! [`Gateway::call`] to a registered contact goes to the address the phone registered from.
//!
//! SIP over WebSocket (RFC 7118) comes in through [`Gateway::ws_port`]: the web server accepts
//! the sockets and runs them ([`crate::transport::ws`]); the driver treats each as a flow
//! like a TCP connection it accepted, except that it can never open one itself, and that the
//! bindings registered over a WebSocket go when it closes.

use std::collections::{HashMap, HashSet};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::{broadcast, mpsc, oneshot};
use tracing::{debug, error, warn};

use crate::auth::Credentials;
use crate::registrar::{Binding, RegistrarStats, RegistrationEvent};
use crate::transaction::{Peer, TransportKind};
use crate::transport::ws::{WsEvent, WsPort, WsStats};
use crate::transport::{StreamEvent, TcpLimits, spawn_connect, spawn_connection};
use crate::ua::{CallRef, OutgoingCall, UaError, UaEvent, UaStats, UserAgent, UserAgentConfig};

/// Settings of the gateway.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// Where to listen, on UDP and TCP alike.
    pub listen: SocketAddr,
    pub ua: UserAgentConfig,
}

enum Command {
    Call(Box<OutgoingCall>, oneshot::Sender<Result<CallRef, UaError>>),
    Ring(CallRef),
    Answer(CallRef, SocketAddr),
    Reject(CallRef, u16),
    Hangup(CallRef),
    NotifyTransfer(CallRef, u16),
    Stats(oneshot::Sender<GatewayStats>),
    Bindings(String, oneshot::Sender<Vec<Binding>>),
    RegisteredUsers(oneshot::Sender<Vec<String>>),
    SetCredentials(Credentials, oneshot::Sender<bool>),
}

/// Registration events buffered per subscriber; one that falls further behind gets
/// `RecvError::Lagged` and should re-read [`Gateway::bindings`].
const REGISTRATION_EVENTS: usize = 1024;

/// A snapshot of the gateway's counters.
#[derive(Debug, Clone, Default)]
pub struct GatewayStats {
    pub calls: usize,
    pub transactions: usize,
    pub ua: UaStats,
    pub transactions_stats: crate::transaction::TransactionStats,
    pub tcp_connections: usize,
    /// TCP connections closed at accept: over `max_connections` or
    /// `max_connections_per_address` (those from outside `allow_from` count in `ua.denied`).
    pub tcp_refused: u64,
    /// `accept` failures (descriptors exhausted, …): each pauses accepting briefly.
    pub tcp_accept_errors: u64,
    pub datagrams_received: u64,
    pub datagrams_sent: u64,
    /// REGISTERs whose digest authentication failed.
    pub auth_failures: u64,
    /// The registrar's counters, when it is enabled.
    pub registrar: Option<RegistrarStats>,
    /// SIP over WebSocket: flows open and refused.
    pub ws: WsStats,
    /// Messages for a WebSocket peer whose flow is gone (nothing can reopen it): dropped.
    pub ws_unreachable: u64,
}

/// Handle to a running gateway. Cheap to clone; commands are fire-and-forget (their failures
/// are logged: a command for a call that just ended is normal).
#[derive(Clone)]
pub struct Gateway {
    commands: mpsc::UnboundedSender<Command>,
    local_addr: SocketAddr,
    received: Arc<AtomicU64>,
    registrations: broadcast::Sender<RegistrationEvent>,
    ws: WsPort,
}

/// UDP and TCP sockets on one address. With port 0 the system picks the UDP port, and the
/// same number may already be taken for TCP by another program: then another UDP port is
/// tried (a few times) rather than failing the start.
async fn bind_pair(listen: SocketAddr) -> io::Result<(UdpSocket, TcpListener)> {
    const ATTEMPTS: usize = 16;
    let mut attempt = 0;
    loop {
        let udp = UdpSocket::bind(listen).await?;
        match TcpListener::bind(udp.local_addr()?).await {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(e)
                if listen.port() == 0
                    && e.kind() == io::ErrorKind::AddrInUse
                    && attempt + 1 < ATTEMPTS =>
            {
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

impl Gateway {
    /// Binds UDP and TCP on `config.listen` and starts the driver. Events for the switchboard
    /// arrive on the returned receiver.
    pub async fn start(
        mut config: GatewayConfig,
    ) -> io::Result<(Gateway, mpsc::UnboundedReceiver<UaEvent>)> {
        let (udp, tcp) = bind_pair(config.listen).await?;
        let local_addr = udp.local_addr()?;
        config.ua.local_addr = local_addr;
        let (commands, command_rx) = mpsc::unbounded_channel();
        let (event_tx, events) = mpsc::unbounded_channel();
        let received = Arc::new(AtomicU64::new(0));
        let (registrations, _) = broadcast::channel(REGISTRATION_EVENTS);
        let (ws, ws_events) = WsPort::new(config.ua.ws, &config.ua.allow_from);
        let driver = Driver {
            ws: ws.clone(),
            ws_flows: HashMap::new(),
            ws_unreachable: 0,
            tcp_limits: config.ua.tcp,
            accepted: HashSet::new(),
            accepted_per_ip: HashMap::new(),
            tcp_refused: 0,
            tcp_accept_errors: 0,
            accept_log: LogLimiter::default(),
            refuse_log: LogLimiter::default(),
            registrations: registrations.clone(),
            ua: UserAgent::new(config.ua),
            udp,
            tcp,
            connections: HashMap::new(),
            events: event_tx,
            received: received.clone(),
            sent: 0,
        };
        tokio::spawn(driver.run(command_rx, ws_events));
        Ok((
            Gateway {
                commands,
                local_addr,
                received,
                registrations,
                ws,
            },
            events,
        ))
    }

    /// The address we listen on (UDP and TCP).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The door for SIP over WebSocket: the web server admits and runs each socket through
    /// it (RFC 7118; see [`crate::transport::ws`]).
    pub fn ws_port(&self) -> WsPort {
        self.ws.clone()
    }

    /// Places a call; its progress arrives as events like every other call's.
    pub async fn call(&self, out: OutgoingCall) -> Result<CallRef, UaError> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(Command::Call(Box::new(out), tx))
            .map_err(|_| UaError::NotPlaced("gateway stopped".into()))?;
        rx.await
            .map_err(|_| UaError::NotPlaced("gateway stopped".into()))?
    }

    pub fn ring(&self, call: CallRef) {
        let _ = self.commands.send(Command::Ring(call));
    }

    pub fn answer(&self, call: CallRef, local_rtp: SocketAddr) {
        let _ = self.commands.send(Command::Answer(call, local_rtp));
    }

    pub fn reject(&self, call: CallRef, status: u16) {
        let _ = self.commands.send(Command::Reject(call, status));
    }

    pub fn hangup(&self, call: CallRef) {
        let _ = self.commands.send(Command::Hangup(call));
    }

    /// Reports how the transfer the phone asked for on `call` (REFER) ended: `status` in the
    /// final NOTIFY (200 taken over, or an error such as 404 or 503).
    pub fn notify_transfer(&self, call: CallRef, status: u16) {
        let _ = self.commands.send(Command::NotifyTransfer(call, status));
    }

    /// Counters of the gateway; `None` once it has stopped.
    pub async fn stats(&self) -> Option<GatewayStats> {
        let (tx, rx) = oneshot::channel();
        self.commands.send(Command::Stats(tx)).ok()?;
        rx.await.ok()
    }

    /// A user's live bindings: where to send an INVITE for them (empty when they are not
    /// registered, the registrar is off, or the gateway stopped).
    pub async fn bindings(&self, user: &str) -> Vec<Binding> {
        let (tx, rx) = oneshot::channel();
        if self
            .commands
            .send(Command::Bindings(user.to_string(), tx))
            .is_err()
        {
            return Vec::new();
        }
        rx.await.unwrap_or_default()
    }

    /// Users with at least one live binding, sorted.
    pub async fn registered_users(&self) -> Vec<String> {
        let (tx, rx) = oneshot::channel();
        if self.commands.send(Command::RegisteredUsers(tx)).is_err() {
            return Vec::new();
        }
        rx.await.unwrap_or_default()
    }

    /// Replaces the credentials agents' phones authenticate with (configuration reload);
    /// `false` when the registrar is off or the gateway stopped.
    pub async fn set_credentials(&self, credentials: Credentials) -> bool {
        let (tx, rx) = oneshot::channel();
        if self
            .commands
            .send(Command::SetCredentials(credentials, tx))
            .is_err()
        {
            return false;
        }
        rx.await.unwrap_or(false)
    }

    /// Registration changes from now on: a user's phone registered, unregistered or expired.
    pub fn subscribe_registrations(&self) -> broadcast::Receiver<RegistrationEvent> {
        self.registrations.subscribe()
    }

    /// SIP messages received so far (cheap, no round trip to the driver).
    pub fn messages_received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }
}

struct Driver {
    ua: UserAgent,
    udp: UdpSocket,
    tcp: TcpListener,
    connections: HashMap<SocketAddr, mpsc::Sender<Vec<u8>>>,
    /// SIP WebSockets by the client's address: their flow number and writer.
    ws_flows: HashMap<SocketAddr, (u64, mpsc::Sender<Vec<u8>>)>,
    ws: WsPort,
    ws_unreachable: u64,
    events: mpsc::UnboundedSender<UaEvent>,
    registrations: broadcast::Sender<RegistrationEvent>,
    received: Arc<AtomicU64>,
    sent: u64,
    tcp_limits: TcpLimits,
    /// Connections we accepted (not those we opened) and how many per address.
    accepted: HashSet<SocketAddr>,
    accepted_per_ip: HashMap<IpAddr, usize>,
    tcp_refused: u64,
    tcp_accept_errors: u64,
    accept_log: LogLimiter,
    refuse_log: LogLimiter,
}

/// How long accepting pauses after `accept` fails (EMFILE, ENFILE, ENOBUFS…): the pending
/// connection stays in the backlog, so accepting again at once would fail again at once.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// At most one warning per this interval for a repeated condition (accept failures, refused
/// connections); the count of those not logged goes with the next one.
const LOG_INTERVAL: Duration = Duration::from_secs(10);

/// Logs a repeated condition at most once per [`LOG_INTERVAL`].
#[derive(Debug, Default)]
struct LogLimiter {
    last: Option<Instant>,
    suppressed: u64,
}

impl LogLimiter {
    /// `Some(suppressed since the last log)` when this occurrence should be logged.
    fn allow(&mut self, now: Instant) -> Option<u64> {
        if self
            .last
            .is_some_and(|last| now.saturating_duration_since(last) < LOG_INTERVAL)
        {
            self.suppressed += 1;
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.suppressed))
    }
}

/// Largest datagram we accept; SIP over UDP must stay well below (RFC 3261 §18.1.1).
const MAX_DATAGRAM: usize = 65_535;

impl Driver {
    async fn run(
        mut self,
        mut commands: mpsc::UnboundedReceiver<Command>,
        mut ws_events: mpsc::Receiver<WsEvent>,
    ) {
        let (stream_tx, mut stream_rx) = mpsc::channel::<StreamEvent>(1024);
        let mut buf = vec![0u8; MAX_DATAGRAM];
        let mut accept_resumes: Option<tokio::time::Instant> = None;
        loop {
            let deadline = self.ua.poll_timeout().map(tokio::time::Instant::from_std);
            tokio::select! {
                received = self.udp.recv_from(&mut buf) => match received {
                    Ok((n, from)) => {
                        self.received.fetch_add(1, Ordering::Relaxed);
                        let peer = Peer { addr: from, transport: TransportKind::Udp };
                        self.ua.handle_datagram(&buf[..n], peer, Instant::now());
                    }
                    // ICMP port unreachable surfaces here on Linux; nothing to do.
                    Err(error) => debug!(%error, "UDP receive error"),
                },
                accepted = self.tcp.accept(), if accept_resumes.is_none() => match accepted {
                    Ok((stream, peer)) => self.accept(stream, peer, &stream_tx),
                    Err(error) => {
                        self.tcp_accept_errors += 1;
                        if let Some(suppressed) = self.accept_log.allow(Instant::now()) {
                            warn!(
                                %error,
                                suppressed,
                                "TCP accept failed: pausing accepts (later failures logged \
                                 once per 10 s)"
                            );
                        }
                        accept_resumes = Some(tokio::time::Instant::now() + ACCEPT_BACKOFF);
                    }
                },
                _ = sleep_until(accept_resumes), if accept_resumes.is_some() => {
                    accept_resumes = None;
                }
                Some(event) = stream_rx.recv() => match event {
                    StreamEvent::Opened { peer, writer } => {
                        self.connections.insert(peer, writer);
                    }
                    StreamEvent::Message { peer, bytes } => {
                        self.received.fetch_add(1, Ordering::Relaxed);
                        let peer = Peer { addr: peer, transport: TransportKind::Tcp };
                        self.ua.handle_datagram(&bytes, peer, Instant::now());
                    }
                    StreamEvent::Closed { peer } => {
                        self.connections.remove(&peer);
                        if self.accepted.remove(&peer)
                            && let Some(n) = self.accepted_per_ip.get_mut(&peer.ip())
                        {
                            *n -= 1;
                            if *n == 0 {
                                self.accepted_per_ip.remove(&peer.ip());
                            }
                        }
                    }
                },
                Some(event) = ws_events.recv() => self.ws_event(event),
                command = commands.recv() => match command {
                    Some(command) => self.command(command),
                    None => break,
                },
                _ = sleep_until(deadline) => self.ua.handle_timeout(Instant::now()),
            }
            self.flush(&stream_tx).await;
        }
        debug!("gateway driver stopped");
    }

    /// The transport of the web listener's WebSockets: `WSS` behind HTTPS.
    fn ws_transport(&self) -> TransportKind {
        if self.ws.limits().secure {
            TransportKind::Wss
        } else {
            TransportKind::Ws
        }
    }

    /// A SIP WebSocket opened, carried a message, or closed.
    fn ws_event(&mut self, event: WsEvent) {
        match event {
            WsEvent::Opened { peer, flow, writer } => {
                self.ws_flows.insert(peer, (flow, writer));
            }
            WsEvent::Message { peer, bytes } => {
                self.received.fetch_add(1, Ordering::Relaxed);
                let peer = Peer {
                    addr: peer,
                    transport: self.ws_transport(),
                };
                self.ua.handle_datagram(&bytes, peer, Instant::now());
            }
            WsEvent::Closed { peer, flow } => {
                // Only the flow that ends: a later one from the same client port may be open.
                if self.ws_flows.get(&peer).is_some_and(|(f, _)| *f == flow) {
                    self.ws_flows.remove(&peer);
                    let peer = Peer {
                        addr: peer,
                        transport: self.ws_transport(),
                    };
                    self.ua.handle_flow_closed(&peer, Instant::now());
                }
            }
        }
    }

    /// A connection was accepted: closed at once (dropping the stream) when its address is not
    /// admitted or a connection limit is reached, else run.
    fn accept(
        &mut self,
        stream: tokio::net::TcpStream,
        peer: SocketAddr,
        stream_tx: &mpsc::Sender<StreamEvent>,
    ) {
        if !self.ua.admits(peer) {
            return;
        }
        let from_ip = self.accepted_per_ip.get(&peer.ip()).copied().unwrap_or(0);
        let limit = if self.accepted.len() >= self.tcp_limits.max_connections {
            Some("max_connections")
        } else if from_ip >= self.tcp_limits.max_connections_per_address {
            Some("max_connections_per_address")
        } else {
            None
        };
        if let Some(limit) = limit {
            self.tcp_refused += 1;
            if let Some(suppressed) = self.refuse_log.allow(Instant::now()) {
                warn!(
                    %peer,
                    limit,
                    open = self.accepted.len(),
                    from_address = from_ip,
                    suppressed,
                    "TCP connection refused: limit reached (logged once per 10 s)"
                );
            }
            return;
        }
        self.accepted.insert(peer);
        *self.accepted_per_ip.entry(peer.ip()).or_default() += 1;
        spawn_connection(stream, peer, stream_tx.clone(), self.tcp_limits.timeouts);
    }

    fn command(&mut self, command: Command) {
        let now = Instant::now();
        let result = match command {
            Command::Call(out, reply) => {
                let _ = reply.send(self.ua.call(*out, now));
                Ok(())
            }
            Command::Ring(call) => self.ua.ring(call, now),
            Command::Answer(call, rtp) => self.ua.answer(call, rtp, now),
            Command::Reject(call, status) => self.ua.reject(call, status, now),
            Command::Hangup(call) => self.ua.hangup(call, now),
            Command::NotifyTransfer(call, status) => self.ua.notify_transfer(call, status, now),
            Command::Stats(reply) => {
                let _ = reply.send(GatewayStats {
                    calls: self.ua.calls(),
                    transactions: self.ua.transactions(),
                    ua: self.ua.stats(),
                    transactions_stats: self.ua.transaction_stats(),
                    tcp_connections: self.connections.len(),
                    tcp_refused: self.tcp_refused,
                    tcp_accept_errors: self.tcp_accept_errors,
                    datagrams_received: self.received.load(Ordering::Relaxed),
                    datagrams_sent: self.sent,
                    auth_failures: self.ua.stats().auth_failures,
                    registrar: self.ua.registrar_stats(now),
                    ws: self.ws.stats(),
                    ws_unreachable: self.ws_unreachable,
                });
                Ok(())
            }
            Command::Bindings(user, reply) => {
                let _ = reply.send(self.ua.bindings(&user, now));
                Ok(())
            }
            Command::RegisteredUsers(reply) => {
                let users = self
                    .ua
                    .registrar()
                    .map(|r| r.registered_users(now))
                    .unwrap_or_default();
                let _ = reply.send(users);
                Ok(())
            }
            Command::SetCredentials(credentials, reply) => {
                let _ = reply.send(self.ua.set_credentials(credentials));
                Ok(())
            }
        };
        if let Err(error) = result {
            match error {
                UaError::UnknownCall(_) => debug!(%error, "command for a finished call"),
                UaError::NotRinging(_) | UaError::NotPlaced(_) => {
                    warn!(%error, "command out of order")
                }
            }
        }
    }

    async fn flush(&mut self, stream_tx: &mpsc::Sender<StreamEvent>) {
        while let Some((peer, bytes)) = self.ua.poll_transmit() {
            self.sent += 1;
            match peer.transport {
                TransportKind::Udp => {
                    if let Err(error) = self.udp.send_to(&bytes, peer.addr).await {
                        debug!(peer = %peer.addr, %error, "UDP send failed");
                    }
                }
                TransportKind::Tcp => match self.connections.get(&peer.addr) {
                    Some(writer) => {
                        if writer.try_send(bytes).is_err() {
                            warn!(peer = %peer.addr, "TCP connection backed up: message dropped");
                        }
                    }
                    None => spawn_connect(
                        peer.addr,
                        bytes,
                        stream_tx.clone(),
                        self.tcp_limits.timeouts.idle,
                    ),
                },
                // RFC 7118 §5: only on the WebSocket the peer opened; none is ever opened
                // from here, so without it the message is lost (the transaction times out).
                TransportKind::Ws | TransportKind::Wss => match self.ws_flows.get(&peer.addr) {
                    Some((_, writer)) => {
                        if writer.try_send(bytes).is_err() {
                            warn!(peer = %peer.addr, "SIP WebSocket backed up: message dropped");
                        }
                    }
                    None => {
                        self.ws_unreachable += 1;
                        debug!(peer = %peer.addr, "SIP WebSocket gone: message dropped");
                    }
                },
            }
        }
        while let Some(event) = self.ua.poll_registration() {
            debug!(user = %event.user, registered = event.registered, "registration changed");
            // No subscriber is fine: the bindings stay queryable.
            let _ = self.registrations.send(event);
        }
        while let Some(event) = self.ua.poll_event() {
            if self.events.send(event).is_err() {
                error!("switchboard gone: dropping gateway event");
            }
        }
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_chosen_port_serves_udp_and_tcp_and_a_taken_one_is_an_error() {
        let (udp, tcp) = bind_pair("127.0.0.1:0".parse().unwrap()).await.unwrap();
        assert_eq!(udp.local_addr().unwrap(), tcp.local_addr().unwrap());
        // A port given explicitly is not changed behind the operator's back.
        let taken = tcp.local_addr().unwrap();
        drop(udp);
        let err = bind_pair(taken).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
    }
}
