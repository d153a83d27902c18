//! The user-agent core of the trunk: calls and their dialogs on top of the transaction layer.
//!
//! Sans-IO like the layer below it. The driver feeds it datagrams and framed stream messages
//! ([`UserAgent::handle_datagram`]) and timeouts, drains [`UserAgent::poll_transmit`] and
//! [`UserAgent::poll_event`] after every call, and sleeps until [`UserAgent::poll_timeout`].
//! The switchboard answers with commands: [`UserAgent::ring`], [`UserAgent::answer`],
//! [`UserAgent::reject`], [`UserAgent::hangup`].
//!
//! What this core decides on its own, because it is protocol and not routing: 400 for malformed
//! requests, 501 for methods we do not know and 405 for those we do not serve, 481 for requests
//! outside any dialog, 483 when Max-Forwards is exhausted, 420 for unsupported `Require`
//! extensions, 415/488 for bodies we cannot answer, 200 to OPTIONS, the CANCEL 200 + 487 pair,
//! 200 to BYE, and re-INVITE answers (hold/unhold, codec change). With
//! [`UserAgentConfig::registrar`] set, REGISTERs go to the [`Registrar`] (405 otherwise), its
//! events come out of [`UserAgent::poll_registration`], and calls placed to a registered
//! contact go to the address the phone registered from.

pub mod build;
pub mod dialog;
mod inbound;
mod outbound;
mod refer;
mod register;

pub use outbound::OutgoingCall;
pub use refer::{ReferTarget, parse_refer_to};

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::Instant;

use media::Codec;
use rsip::headers::UntypedHeader;
use rsip::{Method, SipMessage};
use tracing::{debug, warn};

use crate::auth::Credentials;
use crate::message;
use crate::registrar::{Registrar, RegistrarConfig};
use crate::rng::SipRng;
use crate::sdp::{Negotiated, Origin, SessionDescription};
use crate::transaction::{
    Peer, TimerConfig, TransactionEvent, TransactionId, TransactionLayer, TransportKind,
};
use build::{random_token, response, set_body};
use dialog::Dialog;

/// Settings of the user-agent core.
#[derive(Debug, Clone)]
pub struct UserAgentConfig {
    /// The SIP address we advertise in Via and Contact.
    pub local_addr: SocketAddr,
    /// Our `Server`/`User-Agent` header value.
    pub user_agent: String,
    pub timers: TimerConfig,
    /// Codecs we accept, in our order of preference for offers we make.
    pub codecs: Vec<Codec>,
    /// Calls beyond this number are refused with 503.
    pub max_calls: usize,
    /// Sources allowed to send us SIP (the PBX/carrier side of the trunk, agents' phones).
    /// Messages from elsewhere are dropped unanswered and counted, before they are parsed: no
    /// reflection, nothing for a scanner to learn, and a flood costs one lookup per datagram.
    /// The only exception is the address of a call we placed (its responses and in-dialog
    /// requests come from there).
    pub allow_from: Vec<ipnet::IpNet>,
    /// The registrar for agents' phones; `None` (the default) answers REGISTER with 405.
    pub registrar: Option<RegistrarConfig>,
    /// Who may register (used when `registrar` is set); see [`UserAgent::set_credentials`].
    pub credentials: Credentials,
    /// Seeds every random value the core draws (tags, branches, Call-IDs, SDP session ids,
    /// nonces and, unless `registrar.nonce_secret` is set, the nonce secret), so that the same
    /// seed and the same inputs give byte-identical output: for tests and for replaying an
    /// exchange. `None` (the default, and the only sound choice in production, where these
    /// values must not be guessable) seeds from the operating system's entropy.
    pub rng_seed: Option<u64>,
    /// Limits on the TCP connections peers open to us. Not used by this sans-IO core: read by
    /// the driver ([`crate::gateway`]), kept here with `allow_from`, the other admission rule.
    pub tcp: crate::transport::TcpLimits,
    /// Limits on SIP WebSockets (RFC 7118), read by the driver like `tcp`; `allow_from`
    /// applies to them too.
    pub ws: crate::transport::ws::WsLimits,
    /// Sources whose `P-Asserted-Identity` (RFC 3325) is believed: the trunk's carrier, which
    /// vouches for the caller's number. From anywhere else the header is ignored, since any
    /// caller can write one. Empty (the default): the caller is always the From user.
    pub trust_asserted_identity_from: Vec<ipnet::IpNet>,
    /// Where peers' RTP may be sent: an SDP connection address outside these networks is
    /// refused with 488. Empty (the default): any unicast address. Multicast, broadcast, and
    /// loopback signalled from elsewhere are refused always (see
    /// [`UserAgent::check_media_address`]).
    pub media_networks: Vec<ipnet::IpNet>,
}

impl Default for UserAgentConfig {
    fn default() -> Self {
        UserAgentConfig {
            local_addr: "127.0.0.1:5060".parse().expect("valid literal"),
            user_agent: concat!("centralino/", env!("CARGO_PKG_VERSION")).to_string(),
            timers: TimerConfig::default(),
            codecs: vec![Codec::Pcmu, Codec::Pcma],
            max_calls: 10_000,
            allow_from: vec![
                "127.0.0.0/8".parse().expect("valid literal"),
                "::1/128".parse().expect("valid literal"),
            ],
            registrar: None,
            credentials: Credentials::default(),
            rng_seed: None,
            tcp: crate::transport::TcpLimits::default(),
            ws: crate::transport::ws::WsLimits::default(),
            trust_asserted_identity_from: Vec::new(),
            media_networks: Vec::new(),
        }
    }
}

/// Our handle for one call (one inbound INVITE dialog).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallRef(pub u64);

/// What we know of a new inbound call when it is offered to the switchboard.
#[derive(Debug, Clone)]
pub struct IncomingCall {
    pub call: CallRef,
    /// The SIP Call-ID header value.
    pub sip_call_id: String,
    /// The From URI and its user part (what the caller claims; see [`IncomingCall::caller`]).
    pub from_uri: String,
    pub from_user: Option<String>,
    pub from_display: Option<String>,
    /// The number in `P-Asserted-Identity` (the user part of its sip: URI, or its tel:
    /// number), only when the INVITE came from a source in
    /// [`UserAgentConfig::trust_asserted_identity_from`]; `None` otherwise.
    pub asserted_user: Option<String>,
    /// The trusted source asked (RFC 3325 §9.3, `Privacy: id`) that the caller's identity not
    /// be shown to others. It is still the caller's number for the CRM's lookup.
    pub privacy_id: bool,
    /// The dialled number: the user part of the Request-URI (or of To when it has none).
    pub dialled: Option<String>,
    pub request_uri: String,
    pub source: Peer,
    /// The offer's negotiation result (codec, payload types, remote RTP address, direction).
    pub media: Negotiated,
}

impl IncomingCall {
    /// The caller's number (ANI): the asserted identity of a trusted trunk, else the From
    /// user.
    #[must_use]
    pub fn caller(&self) -> Option<&str> {
        self.asserted_user.as_deref().or(self.from_user.as_deref())
    }
}

/// Why a call ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndReason {
    /// The peer sent BYE.
    RemoteBye,
    /// We hung up and the BYE transaction finished (or timed out).
    LocalHangup,
    /// The peer cancelled before the answer.
    Cancelled,
    /// We rejected the call with this status.
    Rejected(u16),
    /// The peer never acknowledged our 2xx (RFC 3261 §13.3.1.4); we sent BYE.
    AckTimeout,
    /// The transport toward the peer failed.
    TransportError,
    /// The peer refused the call we placed with this final status (408 when it never
    /// answered).
    Declined(u16),
}

/// Events for the switchboard.
#[derive(Debug, Clone)]
pub enum UaEvent {
    IncomingCall(Box<IncomingCall>),
    /// A re-INVITE changed the media (hold, unhold, new address or codec); it was already
    /// answered with 200.
    MediaChanged {
        call: CallRef,
        media: Negotiated,
    },
    /// A call we placed is ringing (180) or in progress (183).
    Progress {
        call: CallRef,
        status: u16,
    },
    /// A call we placed was answered; it is acknowledged and media can flow.
    Answered {
        call: CallRef,
        media: Negotiated,
    },
    /// A call we placed with an [`OutgoingCall::external_offer`] was answered (and
    /// acknowledged): the answer SDP, for whoever made the offer.
    AnsweredSdp {
        call: CallRef,
        sdp: String,
    },
    /// The peer asked by REFER (blind transfer, RFC 3515) that the call go to `target`;
    /// already answered 202. Report the outcome with [`UserAgent::notify_transfer`].
    TransferRequested {
        call: CallRef,
        target: ReferTarget,
        /// The `Referred-By` value, when the phone sent one.
        referred_by: Option<String>,
    },
    /// An INVITE refused before it became a call (no [`CallRef`]): over `max_calls`
    /// (`reason` `capacity`). Already answered (503). Not for sources outside `allow_from`,
    /// which are not contacts.
    CallRefused {
        sip_call_id: String,
        /// As [`IncomingCall::caller`].
        caller: Option<String>,
        /// As [`IncomingCall::dialled`].
        called: Option<String>,
        reason: &'static str,
    },
    /// The call is over; the handle is no longer valid.
    CallEnded {
        call: CallRef,
        reason: EndReason,
    },
}

/// Errors of commands given to the core.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UaError {
    #[error("no call {0:?}")]
    UnknownCall(CallRef),
    #[error("call {0:?} is not waiting for an answer")]
    NotRinging(CallRef),
    #[error("no call placed: {0}")]
    NotPlaced(String),
}

/// Counters for metrics.
#[derive(Debug, Clone, Default)]
pub struct UaStats {
    pub calls_offered: u64,
    pub calls_rejected: u64,
    pub malformed: u64,
    /// Messages (and TCP connections) dropped because their source is not in `allow_from`.
    pub denied: u64,
    pub requests_received: u64,
    pub responses_received: u64,
    /// REGISTERs whose digest authentication failed (0 without a registrar).
    pub auth_failures: u64,
}

#[derive(Debug, Clone, Copy)]
enum Phase {
    /// Offered to the switchboard, not answered yet.
    Early { invite_tx: TransactionId },
    /// We sent INVITE and wait for its final answer.
    Calling {
        /// A provisional arrived: CANCEL may be sent (RFC 3261 §9.1).
        provisional: bool,
        /// We want to hang up: CANCEL once allowed, or BYE if a 2xx comes anyway.
        cancel_wanted: bool,
    },
    /// Answered (2xx sent).
    Confirmed,
    /// We sent BYE and wait for its answer.
    Terminating,
}

#[derive(Debug)]
struct Call {
    phase: Phase,
    /// Inbound: the INVITE's dialog headers, for responses to it. Outbound: the INVITE we
    /// sent, for its CANCEL.
    invite: rsip::Request,
    dialog: Dialog,
    /// The offer: the peer's (inbound) or ours (outbound).
    offer: SessionDescription,
    /// The negotiated media; `None` until an outbound call is answered.
    media: Option<Negotiated>,
    local_rtp: Option<SocketAddr>,
    origin: Origin,
    reinvite_tx: Option<TransactionId>,
    end_reason: Option<EndReason>,
    /// Outbound: the ACK of the 2xx, re-sent on every 2xx retransmission (RFC 3261 §13.2.2.4).
    ack: Option<rsip::Request>,
    /// A REFER accepted in this dialog and not yet finally reported.
    refer: Option<refer::PendingRefer>,
    /// Outbound: the address we called, admitted even outside `allow_from` while the call
    /// lasts (see [`UserAgent::admits`]).
    called: Option<std::net::IpAddr>,
    /// Outbound with an offer made elsewhere ([`OutgoingCall::external_offer`]).
    external: bool,
}

/// What a client transaction of ours is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClientKind {
    Invite,
    Cancel,
    Bye,
    /// NOTIFY of a transfer's progress; its answer changes nothing.
    Notify,
}

/// The user agent of the trunk: calls offered to us (UAS) and calls we place (UAC).
pub struct UserAgent {
    config: UserAgentConfig,
    layer: TransactionLayer,
    calls: HashMap<CallRef, Call>,
    by_dialog: HashMap<(String, String), CallRef>,
    server_txs: HashMap<TransactionId, CallRef>,
    client_txs: HashMap<TransactionId, (CallRef, ClientKind)>,
    raw_out: VecDeque<(Peer, Vec<u8>)>,
    events: VecDeque<UaEvent>,
    next_call: u64,
    stats: UaStats,
    registrar: Option<Registrar>,
    /// Addresses of the calls we placed (how many calls each): their messages are admitted
    /// even when outside `allow_from`.
    called: HashMap<std::net::IpAddr, usize>,
    /// Every random value the core draws comes from here (see [`UserAgentConfig::rng_seed`]).
    rng: SipRng,
}

impl UserAgent {
    pub fn new(config: UserAgentConfig) -> Self {
        let mut rng = SipRng::new(config.rng_seed);
        let registrar = config
            .registrar
            .clone()
            .map(|r| Registrar::with_rng(r, config.credentials.clone(), rng.fork()));
        UserAgent {
            registrar,
            rng,
            layer: TransactionLayer::new(config.timers.clone()),
            config,
            calls: HashMap::new(),
            by_dialog: HashMap::new(),
            server_txs: HashMap::new(),
            client_txs: HashMap::new(),
            raw_out: VecDeque::new(),
            events: VecDeque::new(),
            next_call: 1,
            stats: UaStats::default(),
            called: HashMap::new(),
        }
    }

    pub fn config(&self) -> &UserAgentConfig {
        &self.config
    }

    /// Calls in progress (offered, answered or hanging up).
    pub fn calls(&self) -> usize {
        self.calls.len()
    }

    pub fn stats(&self) -> UaStats {
        let mut stats = self.stats.clone();
        if let Some(registrar) = &self.registrar {
            stats.auth_failures = registrar.auth_failures();
        }
        stats
    }

    /// Live transactions.
    pub fn transactions(&self) -> usize {
        self.layer.len()
    }

    pub fn transaction_stats(&self) -> crate::transaction::TransactionStats {
        self.layer.stats()
    }

    /// One whole SIP message from the transport (a UDP datagram or a framed TCP message).
    pub fn handle_datagram(&mut self, bytes: &[u8], peer: Peer, now: Instant) {
        // Who may talk to us is decided before any work is done on what they sent.
        if !self.admits(peer.addr) {
            return;
        }
        if bytes.iter().all(|b| b.is_ascii_whitespace()) {
            return; // keep-alive (RFC 5626 §3.5.1)
        }
        // A REGISTER without credentials costs a challenge (a nonce, a 401): over its
        // source's challenge rate it is dropped here, before it is parsed (issue 14).
        let charged = self.registrar.is_some() && message::is_unauthenticated_register(bytes);
        if charged && !self.admit_challenge(peer.addr, now) {
            return;
        }
        match message::parse(bytes) {
            Ok(SipMessage::Request(mut request)) => {
                // What the quick look missed (an odd spelling the parser normalises) is
                // limited here, still before a transaction or a nonce is made.
                if !charged
                    && self.registrar.is_some()
                    && request.method == Method::Register
                    && !request
                        .headers
                        .iter()
                        .any(|h| matches!(h, rsip::Header::Authorization(_)))
                    && !self.admit_challenge(peer.addr, now)
                {
                    return;
                }
                self.stats.requests_received += 1;
                message::add_received_rport(&mut request, peer.addr);
                self.layer
                    .handle_message(SipMessage::Request(request), peer, now);
            }
            Ok(SipMessage::Response(response)) => {
                self.stats.responses_received += 1;
                self.layer
                    .handle_message(SipMessage::Response(response), peer, now);
            }
            Err(error) => {
                self.stats.malformed += 1;
                warn!(peer = %peer.addr, %error, "malformed SIP message");
                if let Some(reply) = message::error_response_with_rng(
                    bytes,
                    error.status_code(),
                    &error.reason(),
                    &mut self.rng,
                ) {
                    self.raw_out.push_back((peer, reply));
                }
            }
        }
        self.process(now);
    }

    /// Whether SIP from `addr` is admitted: its address is in `allow_from`, or is one we
    /// placed a call to. A refusal is counted in [`UaStats::denied`]; the driver asks this for
    /// each TCP connection at accept, and [`Self::handle_datagram`] for each message.
    /// Whether we may send RTP to the address an offer or answer gave (`media.remote_rtp`),
    /// signalled from `signalling`: the unspecified address (RFC 2543 hold: we send nothing)
    /// is fine; multicast and broadcast never are; loopback only when the signalling came from
    /// loopback too; and within `media_networks` when that is set. Otherwise a spoofed INVITE
    /// could aim our hold music at a third party (reflection, issue 14).
    pub fn check_media_address(
        &self,
        media: &Negotiated,
        signalling: SocketAddr,
    ) -> Result<(), &'static str> {
        let ip = canonical_ip(media.remote_rtp.ip());
        if ip.is_unspecified() {
            return Ok(());
        }
        if ip.is_multicast() {
            return Err("multicast media address");
        }
        if let std::net::IpAddr::V4(v4) = ip
            && v4.is_broadcast()
        {
            return Err("broadcast media address");
        }
        if ip.is_loopback() && !canonical_ip(signalling.ip()).is_loopback() {
            return Err("loopback media address from a remote peer");
        }
        if !self.config.media_networks.is_empty()
            && !self.config.media_networks.iter().any(|n| n.contains(&ip))
        {
            return Err("media address outside media_networks");
        }
        Ok(())
    }

    /// Whether a `P-Asserted-Identity` from `addr` is believed.
    fn trusts_identity_from(&self, addr: SocketAddr) -> bool {
        let ip = canonical_ip(addr.ip());
        self.config
            .trust_asserted_identity_from
            .iter()
            .any(|net| net.contains(&ip))
    }

    /// Takes a challenge from `addr`'s rate ([`Registrar::admit_challenge`]); `false`: drop.
    fn admit_challenge(&mut self, addr: SocketAddr, now: Instant) -> bool {
        let Some(registrar) = self.registrar.as_mut() else {
            return true;
        };
        if registrar.admit_challenge(canonical_ip(addr.ip()), now) {
            return true;
        }
        debug!(peer = %addr, "REGISTER without credentials over the challenge rate: dropped");
        false
    }

    pub fn admits(&mut self, addr: SocketAddr) -> bool {
        let ip = canonical_ip(addr.ip());
        if self.config.allow_from.iter().any(|net| net.contains(&ip))
            || self.called.contains_key(&ip)
        {
            return true;
        }
        self.stats.denied += 1;
        debug!(peer = %addr, "SIP from a source outside allow_from dropped");
        false
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        self.layer.handle_timeout(now);
        if let Some(registrar) = &mut self.registrar {
            registrar.handle_timeout(now);
        }
        self.process(now);
    }

    /// The connection-oriented flow to `peer` is gone and cannot be reopened by us (a
    /// WebSocket closed, RFC 7118 §5): the bindings registered over it are removed at once
    /// rather than left to expire, so nobody is rung on a phone that cannot hear.
    pub fn handle_flow_closed(&mut self, peer: &Peer, now: Instant) {
        if let Some(registrar) = &mut self.registrar {
            registrar.handle_flow_closed(peer);
        }
        self.process(now);
    }

    /// The transport could not deliver to `peer`: every transaction toward it fails.
    pub fn handle_transport_error(&mut self, id: TransactionId, now: Instant) {
        self.layer.handle_transport_error(id, now);
        self.process(now);
    }

    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let registrar = self.registrar.as_ref().and_then(Registrar::poll_timeout);
        match (self.layer.poll_timeout(), registrar) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The next message to send, already serialised.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<(Peer, Vec<u8>)> {
        if let Some(raw) = self.raw_out.pop_front() {
            return Some(raw);
        }
        self.layer.poll_transmit().map(|t| {
            let mut peer = t.peer;
            // RFC 3261 §18.2.2 with RFC 3581: over UDP a response goes where its top Via says
            // (we stamped `received`/`rport` on the request); over TCP back on the connection.
            if let SipMessage::Response(response) = &t.message
                && peer.transport == TransportKind::Udp
                && let Some(addr) = message::response_destination(response, false)
            {
                peer.addr = addr;
            }
            (peer, message::serialize(&t.message))
        })
    }

    #[must_use]
    pub fn poll_event(&mut self) -> Option<UaEvent> {
        self.events.pop_front()
    }

    /// Ends a call from our side: BYE when answered, 480 when still offered.
    pub fn hangup(&mut self, call: CallRef, now: Instant) -> Result<(), UaError> {
        let c = self.calls.get(&call).ok_or(UaError::UnknownCall(call))?;
        match c.phase {
            Phase::Early { .. } => self.reject(call, 480, now),
            Phase::Calling { .. } => {
                self.cancel_outgoing(call, now);
                self.process(now);
                Ok(())
            }
            Phase::Confirmed => {
                self.send_bye(call, EndReason::LocalHangup, now);
                self.process(now);
                Ok(())
            }
            Phase::Terminating => Ok(()),
        }
    }

    /// A response to the call's INVITE carrying our tag and Contact.
    fn dialog_response(&self, call: CallRef, code: u16) -> rsip::Response {
        let c = &self.calls[&call];
        let mut resp = response(
            &c.invite,
            code,
            Some(&c.dialog.local_tag),
            &self.config.user_agent,
        );
        if (101..300).contains(&code) {
            resp.headers
                .push(self.contact(c.dialog.peer.transport).into());
            resp.headers
                .push(rsip::headers::Allow::new(self.allow()).into());
            for rr in &c.dialog.route_set {
                resp.headers
                    .push(rsip::headers::RecordRoute::new(rr.clone()).into());
            }
        }
        set_body(&mut resp.headers, &[], None);
        resp
    }

    fn contact(&self, transport: TransportKind) -> rsip::headers::Contact {
        let suffix = match transport {
            TransportKind::Udp => "",
            TransportKind::Tcp => ";transport=tcp",
            TransportKind::Ws => ";transport=ws",
            TransportKind::Wss => ";transport=wss",
        };
        rsip::headers::Contact::new(format!(
            "<sip:centralino@{}{suffix}>",
            self.config.local_addr
        ))
    }

    fn send_response(&mut self, tx: TransactionId, resp: rsip::Response, now: Instant) {
        if let Err(error) = self.layer.send_response(tx, resp, now) {
            debug!(?tx, %error, "response not sent: transaction gone");
        }
    }

    /// A dialog with a phone that registered over a connection (a browser's WebSocket) follows
    /// the phone to its newest flow: after a network blip the browser reconnects on a new
    /// WebSocket and registers the same Contact again, and requests in the dialog must go there,
    /// not to the closed one (RFC 5626 §5.3's idea, keyed by the Contact).
    fn follow_flow(&mut self, call: CallRef, now: Instant) {
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        if !c.dialog.flow {
            return;
        }
        if let Some(peer) = self.registered_flow(&c.dialog.remote_target, now)
            && peer != c.dialog.peer
            && let Some(c) = self.calls.get_mut(&call)
        {
            tracing::info!(?call, from = %c.dialog.peer.addr, to = %peer.addr, "the dialog follows the phone to its new flow");
            c.dialog.peer = peer;
        }
    }

    fn send_bye(&mut self, call: CallRef, reason: EndReason, now: Instant) {
        self.follow_flow(call, now);
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        c.phase = Phase::Terminating;
        c.end_reason = Some(reason);
        let bye = c.dialog.request(
            Method::Bye,
            self.config.local_addr,
            &self.config.user_agent,
            None,
            &mut self.rng,
        );
        let dest = c.dialog.destination();
        match self.layer.send_request(bye, dest, now) {
            Ok(tx) => {
                self.client_txs.insert(tx, (call, ClientKind::Bye));
            }
            Err(error) => {
                warn!(?call, %error, "BYE not sent");
                let reason = c.end_reason.take().unwrap_or(EndReason::LocalHangup);
                self.end(call, reason);
            }
        }
    }

    fn end(&mut self, call: CallRef, reason: EndReason) {
        if let Some(c) = self.calls.remove(&call) {
            if let Some(ip) = c.called
                && let Some(n) = self.called.get_mut(&ip)
            {
                *n -= 1;
                if *n == 0 {
                    self.called.remove(&ip);
                }
            }
            self.by_dialog
                .remove(&(c.dialog.call_id.clone(), c.dialog.local_tag.clone()));
            self.events.push_back(UaEvent::CallEnded { call, reason });
        }
    }

    /// Drains the transaction layer's events.
    fn process(&mut self, now: Instant) {
        while let Some(event) = self.layer.poll_event() {
            match event {
                TransactionEvent::Request { id, request, peer } => {
                    self.on_request(id, request, peer, now)
                }
                TransactionEvent::Cancel {
                    id,
                    invite,
                    request,
                    peer: _,
                } => self.on_cancel(id, invite, &request, now),
                TransactionEvent::Ack { request, .. } => self.on_ack(&request),
                TransactionEvent::Overloaded { request, peer } => {
                    warn!(peer = %peer.addr, "transaction limit reached: 503");
                    let mut resp = response(
                        &request,
                        503,
                        Some(&random_token(&mut self.rng)),
                        &self.config.user_agent,
                    );
                    resp.headers
                        .push(rsip::headers::RetryAfter::new("5").into());
                    set_body(&mut resp.headers, &[], None);
                    self.layer.send_stateless(SipMessage::Response(resp), peer);
                }
                TransactionEvent::Response {
                    id,
                    response,
                    retransmission,
                } => match self.client_txs.get(&id).copied() {
                    Some((call, ClientKind::Invite)) => {
                        self.on_invite_response(call, id, &response, retransmission, now)
                    }
                    Some((call, ClientKind::Bye)) if response.status_code.code() >= 200 => {
                        self.client_txs.remove(&id);
                        let reason = self
                            .calls
                            .get_mut(&call)
                            .and_then(|c| c.end_reason.take())
                            .unwrap_or(EndReason::LocalHangup);
                        self.end(call, reason);
                    }
                    _ => {}
                },
                TransactionEvent::StrayResponse { response, peer } => {
                    debug!(peer = %peer.addr, status = response.status_code.code(), "stray response");
                }
                TransactionEvent::Timeout { id } | TransactionEvent::TransportError { id } => {
                    // One look-up, one removal: each kind of client transaction has its own
                    // ending (a BYE that gets no answer must still end the dialog).
                    match self.client_txs.remove(&id) {
                        Some((call, ClientKind::Invite)) => self.on_invite_timeout(call),
                        Some((_, ClientKind::Cancel)) => debug!("CANCEL got no answer"),
                        // The transfer goes on without its progress report.
                        Some((call, ClientKind::Notify)) => debug!(?call, "NOTIFY got no answer"),
                        Some((call, ClientKind::Bye)) => {
                            warn!(?call, "BYE got no answer");
                            let reason = self
                                .calls
                                .get_mut(&call)
                                .and_then(|c| c.end_reason.take())
                                .unwrap_or(EndReason::LocalHangup);
                            self.end(call, reason);
                        }
                        None => {
                            if let Some(call) = self.server_txs.remove(&id) {
                                self.end(call, EndReason::TransportError);
                            }
                        }
                    }
                }
                TransactionEvent::AckTimeout { id, final_status } => {
                    // RFC 3261 §13.3.1.4 (and §14.2 for re-INVITEs): a 2xx never
                    // acknowledged ends the session.
                    if let Some(&call) = self.server_txs.get(&id)
                        && (200..300).contains(&final_status)
                        && self
                            .calls
                            .get(&call)
                            .is_some_and(|c| matches!(c.phase, Phase::Confirmed))
                    {
                        warn!(?call, "no ACK for our 2xx: hanging up");
                        self.send_bye(call, EndReason::AckTimeout, now);
                    }
                }
                TransactionEvent::Terminated { id } => {
                    if let Some(call) = self.server_txs.remove(&id)
                        && let Some(c) = self.calls.get_mut(&call)
                        && c.reinvite_tx == Some(id)
                    {
                        c.reinvite_tx = None;
                    }
                    self.client_txs.remove(&id);
                }
            }
        }
    }

    fn reply(&mut self, tx: TransactionId, request: &rsip::Request, code: u16, now: Instant) {
        let mut resp = response(
            request,
            code,
            Some(&random_token(&mut self.rng)),
            &self.config.user_agent,
        );
        match code {
            405 => resp
                .headers
                .push(rsip::headers::Allow::new(self.allow()).into()),
            200 if request.method == Method::Options => {
                resp.headers
                    .push(rsip::headers::Allow::new(self.allow()).into());
                resp.headers
                    .push(rsip::headers::Accept::new("application/sdp").into());
            }
            _ => {}
        }
        set_body(&mut resp.headers, &[], None);
        self.send_response(tx, resp, now);
    }
}

/// An IPv4-mapped IPv6 address as the IPv4 address it is, so one `allow_from` entry covers a
/// peer on a dual-stack socket too.
fn canonical_ip(ip: std::net::IpAddr) -> std::net::IpAddr {
    match ip {
        std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, std::net::IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod outbound_tests;
#[cfg(test)]
mod register_tests;
#[cfg(test)]
mod replay_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod ws_tests;
