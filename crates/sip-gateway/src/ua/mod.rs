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
//! 200 to BYE, and re-INVITE answers (hold/unhold, codec change).

pub mod build;
pub mod dialog;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::Instant;

use media::Codec;
use rsip::headers::UntypedHeader;
use rsip::prelude::*;
use rsip::{Header, Method, SipMessage};
use tracing::{debug, info, warn};

use crate::message::{self, SipMessageExt};
use crate::sdp::{self, Negotiated, Origin, SessionDescription};
use crate::transaction::{
    Peer, TimerConfig, TransactionEvent, TransactionId, TransactionLayer, TransportKind,
};
use build::{ALLOW, random_token, response, set_body, tag_of};
use dialog::{Dialog, record_routes};

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
}

impl Default for UserAgentConfig {
    fn default() -> Self {
        UserAgentConfig {
            local_addr: "127.0.0.1:5060".parse().expect("valid literal"),
            user_agent: concat!("centralino/", env!("CARGO_PKG_VERSION")).to_string(),
            timers: TimerConfig::default(),
            codecs: vec![Codec::Pcmu, Codec::Pcma],
            max_calls: 10_000,
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
    /// The From URI and its user part (the caller's number, ANI).
    pub from_uri: String,
    pub from_user: Option<String>,
    pub from_display: Option<String>,
    /// The dialled number: the user part of the Request-URI (or of To when it has none).
    pub dialled: Option<String>,
    pub request_uri: String,
    pub source: Peer,
    /// The offer's negotiation result (codec, payload types, remote RTP address, direction).
    pub media: Negotiated,
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
}

/// Counters for metrics.
#[derive(Debug, Clone, Default)]
pub struct UaStats {
    pub calls_offered: u64,
    pub calls_rejected: u64,
    pub malformed: u64,
    pub requests_received: u64,
    pub responses_received: u64,
}

#[derive(Debug, Clone, Copy)]
enum Phase {
    /// Offered to the switchboard, not answered yet.
    Early { invite_tx: TransactionId },
    /// Answered (2xx sent).
    Confirmed,
    /// We sent BYE and wait for its answer.
    Terminating,
}

#[derive(Debug)]
struct Call {
    phase: Phase,
    /// The INVITE's dialog headers, for responses to it.
    invite: rsip::Request,
    dialog: Dialog,
    offer: SessionDescription,
    media: Negotiated,
    local_rtp: Option<SocketAddr>,
    origin: Origin,
    reinvite_tx: Option<TransactionId>,
    end_reason: Option<EndReason>,
}

/// The inbound-call user agent (UAS) of the trunk.
pub struct UserAgent {
    config: UserAgentConfig,
    layer: TransactionLayer,
    calls: HashMap<CallRef, Call>,
    by_dialog: HashMap<(String, String), CallRef>,
    server_txs: HashMap<TransactionId, CallRef>,
    client_txs: HashMap<TransactionId, CallRef>,
    raw_out: VecDeque<(Peer, Vec<u8>)>,
    events: VecDeque<UaEvent>,
    next_call: u64,
    stats: UaStats,
}

impl UserAgent {
    pub fn new(config: UserAgentConfig) -> Self {
        UserAgent {
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
        self.stats.clone()
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
        if bytes.iter().all(|b| b.is_ascii_whitespace()) {
            return; // keep-alive (RFC 5626 §3.5.1)
        }
        match message::parse(bytes) {
            Ok(SipMessage::Request(mut request)) => {
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
                if let Some(reply) =
                    message::error_response(bytes, error.status_code(), &error.reason())
                {
                    self.raw_out.push_back((peer, reply));
                }
            }
        }
        self.process(now);
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        self.layer.handle_timeout(now);
        self.process(now);
    }

    /// The transport could not deliver to `peer`: every transaction toward it fails.
    pub fn handle_transport_error(&mut self, id: TransactionId, now: Instant) {
        self.layer.handle_transport_error(id, now);
        self.process(now);
    }

    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.layer.poll_timeout()
    }

    /// The next message to send, already serialised.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<(Peer, Vec<u8>)> {
        if let Some(raw) = self.raw_out.pop_front() {
            return Some(raw);
        }
        self.layer
            .poll_transmit()
            .map(|t| (t.peer, message::serialize(&t.message)))
    }

    #[must_use]
    pub fn poll_event(&mut self) -> Option<UaEvent> {
        self.events.pop_front()
    }

    /// Sends 180 Ringing for an offered call.
    pub fn ring(&mut self, call: CallRef, now: Instant) -> Result<(), UaError> {
        self.respond_early(call, 180, now)
    }

    /// Answers an offered call with 200 OK and our SDP answer for the RTP address `local_rtp`.
    pub fn answer(
        &mut self,
        call: CallRef,
        local_rtp: SocketAddr,
        now: Instant,
    ) -> Result<(), UaError> {
        let c = self
            .calls
            .get_mut(&call)
            .ok_or(UaError::UnknownCall(call))?;
        let Phase::Early { invite_tx } = c.phase else {
            return Err(UaError::NotRinging(call));
        };
        c.local_rtp = Some(local_rtp);
        c.origin.address = local_rtp.ip();
        let answer = sdp::build_answer(&c.offer, &c.media, local_rtp, &c.origin).to_string();
        let mut resp = self.dialog_response(call, 200);
        set_body(
            &mut resp.headers,
            answer.as_bytes(),
            Some("application/sdp"),
        );
        resp.body = answer.into_bytes();
        if let Some(c) = self.calls.get_mut(&call) {
            c.phase = Phase::Confirmed;
        }
        self.send_response(invite_tx, resp, now);
        self.process(now);
        Ok(())
    }

    /// Refuses an offered call with a final status (e.g. 480, 486, 503, 603).
    pub fn reject(&mut self, call: CallRef, status: u16, now: Instant) -> Result<(), UaError> {
        let c = self.calls.get(&call).ok_or(UaError::UnknownCall(call))?;
        let Phase::Early { invite_tx } = c.phase else {
            return Err(UaError::NotRinging(call));
        };
        let resp = self.dialog_response(call, status);
        self.send_response(invite_tx, resp, now);
        self.stats.calls_rejected += 1;
        self.end(call, EndReason::Rejected(status));
        self.process(now);
        Ok(())
    }

    /// Ends a call from our side: BYE when answered, 480 when still offered.
    pub fn hangup(&mut self, call: CallRef, now: Instant) -> Result<(), UaError> {
        let c = self.calls.get(&call).ok_or(UaError::UnknownCall(call))?;
        match c.phase {
            Phase::Early { .. } => self.reject(call, 480, now),
            Phase::Confirmed => {
                self.send_bye(call, EndReason::LocalHangup, now);
                self.process(now);
                Ok(())
            }
            Phase::Terminating => Ok(()),
        }
    }

    fn respond_early(&mut self, call: CallRef, code: u16, now: Instant) -> Result<(), UaError> {
        let c = self.calls.get(&call).ok_or(UaError::UnknownCall(call))?;
        let Phase::Early { invite_tx } = c.phase else {
            return Err(UaError::NotRinging(call));
        };
        let resp = self.dialog_response(call, code);
        self.send_response(invite_tx, resp, now);
        self.process(now);
        Ok(())
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
            resp.headers.push(rsip::headers::Allow::new(ALLOW).into());
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

    fn send_bye(&mut self, call: CallRef, reason: EndReason, now: Instant) {
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
        );
        let dest = c.dialog.destination();
        match self.layer.send_request(bye, dest, now) {
            Ok(tx) => {
                self.client_txs.insert(tx, call);
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
                        Some(&random_token()),
                        &self.config.user_agent,
                    );
                    resp.headers
                        .push(rsip::headers::RetryAfter::new("5").into());
                    set_body(&mut resp.headers, &[], None);
                    self.layer.send_stateless(SipMessage::Response(resp), peer);
                }
                TransactionEvent::Response { id, response, .. } => {
                    if response.status_code.code() >= 200
                        && let Some(call) = self.client_txs.remove(&id)
                    {
                        let reason = self
                            .calls
                            .get_mut(&call)
                            .and_then(|c| c.end_reason.take())
                            .unwrap_or(EndReason::LocalHangup);
                        self.end(call, reason);
                    }
                }
                TransactionEvent::StrayResponse { response, peer } => {
                    debug!(peer = %peer.addr, status = response.status_code.code(), "stray response");
                }
                TransactionEvent::Timeout { id } | TransactionEvent::TransportError { id } => {
                    if let Some(call) = self.client_txs.remove(&id) {
                        warn!(?call, "BYE got no answer");
                        let reason = self
                            .calls
                            .get_mut(&call)
                            .and_then(|c| c.end_reason.take())
                            .unwrap_or(EndReason::LocalHangup);
                        self.end(call, reason);
                    } else if let Some(call) = self.server_txs.remove(&id) {
                        self.end(call, EndReason::TransportError);
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
            Some(&random_token()),
            &self.config.user_agent,
        );
        match code {
            405 => resp.headers.push(rsip::headers::Allow::new(ALLOW).into()),
            200 if request.method == Method::Options => {
                resp.headers.push(rsip::headers::Allow::new(ALLOW).into());
                resp.headers
                    .push(rsip::headers::Accept::new("application/sdp").into());
            }
            _ => {}
        }
        set_body(&mut resp.headers, &[], None);
        self.send_response(tx, resp, now);
    }

    fn on_request(&mut self, tx: TransactionId, request: rsip::Request, peer: Peer, now: Instant) {
        // RFC 3261 §8.2.2.3: we support no extension, so any Require is refused.
        let required = request.headers.iter().find_map(|h| match h {
            Header::Require(r) => Some(r.value().to_string()),
            _ => None,
        });
        if let Some(required) = required
            && !matches!(request.method, Method::Cancel | Method::Ack)
        {
            let mut resp = response(
                &request,
                420,
                Some(&random_token()),
                &self.config.user_agent,
            );
            resp.headers.push(Header::Other(
                "Unsupported".into(),
                required.trim().to_string(),
            ));
            set_body(&mut resp.headers, &[], None);
            self.send_response(tx, resp, now);
            return;
        }
        // RFC 3261 §8.2.2.2 / §16.3 step 3: Max-Forwards of zero.
        if let Ok(mf) = request.max_forwards_header()
            && mf.value().trim() == "0"
            && request.method != Method::Options
        {
            self.reply(tx, &request, 483, now);
            return;
        }
        let to_tag = request
            .to_header()
            .ok()
            .and_then(|to| tag_of(to.value()).map(str::to_string));
        match to_tag {
            Some(tag) => self.on_in_dialog(tx, request, tag, now),
            None => match request.method {
                Method::Invite => self.on_invite(tx, request, peer, now),
                Method::Options => self.reply(tx, &request, 200, now),
                Method::Bye => self.reply(tx, &request, 481, now),
                _ => self.reply(tx, &request, 405, now),
            },
        }
    }

    fn on_invite(&mut self, tx: TransactionId, request: rsip::Request, peer: Peer, now: Instant) {
        if self.calls.len() >= self.config.max_calls {
            self.reply(tx, &request, 503, now);
            return;
        }
        let offer = match offer_of(&request) {
            Ok(offer) => offer,
            Err(code) => {
                self.reply(tx, &request, code, now);
                return;
            }
        };
        let media = match sdp::negotiate(&offer, &self.config.codecs) {
            Ok(media) => media,
            Err(error) => {
                info!(%error, "INVITE refused: no acceptable media");
                self.reply(tx, &request, 488, now);
                return;
            }
        };
        let Some(incoming) = self.new_call(tx, &request, peer, offer, media.clone()) else {
            self.reply(tx, &request, 400, now);
            return;
        };
        self.stats.calls_offered += 1;
        self.events
            .push_back(UaEvent::IncomingCall(Box::new(incoming)));
    }

    fn new_call(
        &mut self,
        tx: TransactionId,
        request: &rsip::Request,
        peer: Peer,
        offer: SessionDescription,
        media: Negotiated,
    ) -> Option<IncomingCall> {
        let call_id = request.call_id_header().ok()?.value().to_string();
        let from = request.from_header().ok()?.value().to_string();
        let to = request.to_header().ok()?.value().to_string();
        let remote_cseq = request.cseq()?.seq;
        let remote_target = match request.contact_header() {
            Ok(contact) => contact_uri(contact.value()).unwrap_or_else(|| request.uri.clone()),
            Err(_) => from_uri(&from).unwrap_or_else(|| request.uri.clone()),
        };
        let local_tag = random_token();
        let call = CallRef(self.next_call);
        self.next_call += 1;
        let from_uri_value = from_uri(&from);
        let dialled = request
            .uri
            .user()
            .map(str::to_string)
            .or_else(|| from_uri(&to).and_then(|u| u.user().map(str::to_string)));
        let incoming = IncomingCall {
            call,
            sip_call_id: call_id.clone(),
            from_uri: from_uri_value
                .as_ref()
                .map(|u| u.to_string())
                .unwrap_or_default(),
            from_user: from_uri_value
                .as_ref()
                .and_then(|u| u.user().map(str::to_string)),
            from_display: display_name(&from),
            dialled,
            request_uri: request.uri.to_string(),
            source: peer.clone(),
            media: media.clone(),
        };
        let dialog = Dialog {
            call_id: call_id.clone(),
            local_tag: local_tag.clone(),
            remote_tag: tag_of(&from).map(str::to_string),
            local_party: format!("{to};tag={local_tag}"),
            remote_party: from,
            remote_target,
            route_set: record_routes(&request.headers),
            local_cseq: 0,
            remote_cseq,
            peer,
        };
        let session_id = rand::random::<u32>() as u64;
        self.calls.insert(
            call,
            Call {
                phase: Phase::Early { invite_tx: tx },
                invite: dialog_headers_of(request),
                dialog,
                offer,
                media,
                local_rtp: None,
                origin: Origin {
                    username: "centralino".into(),
                    session_id,
                    session_version: session_id,
                    address: self.config.local_addr.ip(),
                },
                reinvite_tx: None,
                end_reason: None,
            },
        );
        self.by_dialog.insert((call_id, local_tag), call);
        self.server_txs.insert(tx, call);
        Some(incoming)
    }

    /// The ACK of one of our 2xx: it closes a pending re-INVITE offer/answer exchange.
    fn on_ack(&mut self, ack: &rsip::Request) {
        let call_id = ack.call_id().unwrap_or_default().to_string();
        let tag = ack
            .to_header()
            .ok()
            .and_then(|to| tag_of(to.value()).map(str::to_string))
            .unwrap_or_default();
        let Some(&call) = self.by_dialog.get(&(call_id, tag)) else {
            debug!("ACK outside any dialog ignored");
            return;
        };
        if let Some(c) = self.calls.get_mut(&call) {
            c.reinvite_tx = None;
        }
    }

    fn on_cancel(
        &mut self,
        cancel_tx: TransactionId,
        invite_tx: Option<TransactionId>,
        cancel: &rsip::Request,
        now: Instant,
    ) {
        let call = invite_tx.and_then(|tx| self.server_txs.get(&tx).copied());
        let Some(call) = call else {
            // RFC 3261 §9.2: a CANCEL for an INVITE that already has its final answer has no
            // effect but is still answered 200; one that matches nothing gets 481.
            let code = if self.layer.cancel_target(cancel).is_some() {
                200
            } else {
                481
            };
            self.reply(cancel_tx, cancel, code, now);
            return;
        };
        let tag = self.calls.get(&call).map(|c| c.dialog.local_tag.clone());
        let mut ok = response(cancel, 200, tag.as_deref(), &self.config.user_agent);
        set_body(&mut ok.headers, &[], None);
        self.send_response(cancel_tx, ok, now);
        if let (Some(invite_tx), Some(c)) = (invite_tx, self.calls.get(&call))
            && matches!(c.phase, Phase::Early { .. })
        {
            let resp = self.dialog_response(call, 487);
            self.send_response(invite_tx, resp, now);
            self.end(call, EndReason::Cancelled);
        }
    }

    fn on_in_dialog(
        &mut self,
        tx: TransactionId,
        request: rsip::Request,
        tag: String,
        now: Instant,
    ) {
        let call_id = request
            .call_id_header()
            .map(|c| c.value().to_string())
            .unwrap_or_default();
        let Some(&call) = self.by_dialog.get(&(call_id, tag)) else {
            self.reply(tx, &request, 481, now);
            return;
        };
        // RFC 3261 §12.2.2: a CSeq lower than or equal to the last one is out of order.
        let cseq = request.cseq().map(|c| c.seq).unwrap_or(0);
        let c = self.calls.get_mut(&call).expect("indexed call exists");
        if cseq <= c.dialog.remote_cseq {
            self.reply(tx, &request, 500, now);
            return;
        }
        c.dialog.remote_cseq = cseq;
        match request.method {
            Method::Bye => {
                self.reply_in_dialog(call, tx, &request, 200, now);
                if let Phase::Early { invite_tx } = self.calls[&call].phase {
                    let resp = self.dialog_response(call, 487);
                    self.send_response(invite_tx, resp, now);
                }
                self.end(call, EndReason::RemoteBye);
            }
            Method::Invite => self.on_reinvite(call, tx, request, now),
            Method::Options | Method::Info | Method::Update if request.body.is_empty() => {
                self.reply_in_dialog(call, tx, &request, 200, now)
            }
            Method::Info => self.reply_in_dialog(call, tx, &request, 200, now),
            _ => self.reply_in_dialog(call, tx, &request, 405, now),
        }
    }

    fn reply_in_dialog(
        &mut self,
        call: CallRef,
        tx: TransactionId,
        request: &rsip::Request,
        code: u16,
        now: Instant,
    ) {
        let tag = self.calls.get(&call).map(|c| c.dialog.local_tag.clone());
        let mut resp = response(request, code, tag.as_deref(), &self.config.user_agent);
        if code == 405 {
            resp.headers.push(rsip::headers::Allow::new(ALLOW).into());
        }
        set_body(&mut resp.headers, &[], None);
        self.send_response(tx, resp, now);
    }

    /// RFC 3261 §14.2: a re-INVITE changes the session; we answer it ourselves.
    fn on_reinvite(
        &mut self,
        call: CallRef,
        tx: TransactionId,
        request: rsip::Request,
        now: Instant,
    ) {
        let c = self.calls.get_mut(&call).expect("indexed call exists");
        // §14.2: a new offer while the previous one is unanswered gets 500 (or 491 for glare).
        if !matches!(c.phase, Phase::Confirmed) || c.reinvite_tx.is_some() {
            let mut resp = response(
                &request,
                500,
                Some(&c.dialog.local_tag),
                &self.config.user_agent,
            );
            resp.headers
                .push(rsip::headers::RetryAfter::new("1").into());
            set_body(&mut resp.headers, &[], None);
            self.send_response(tx, resp, now);
            return;
        }
        if let Ok(contact) = request.contact_header()
            && let Some(uri) = contact_uri(contact.value())
        {
            c.dialog.remote_target = uri; // §12.2.2: target refresh
        }
        let local_rtp = c.local_rtp.expect("confirmed calls have media");
        let changed = if request.body.is_empty() {
            // No offer: we make one in the 200, the same session as before (§14.2).
            None
        } else {
            let offer = match offer_of(&request) {
                Ok(offer) => offer,
                Err(code) => {
                    self.reply_in_dialog(call, tx, &request, code, now);
                    return;
                }
            };
            match sdp::negotiate(&offer, &self.config.codecs) {
                Ok(media) => Some((offer, media)),
                Err(error) => {
                    info!(?call, %error, "re-INVITE refused");
                    self.reply_in_dialog(call, tx, &request, 488, now);
                    return;
                }
            }
        };
        let c = self.calls.get_mut(&call).expect("indexed call exists");
        c.origin.session_version += 1;
        let body = match &changed {
            Some((offer, media)) => {
                c.offer = offer.clone();
                c.media = media.clone();
                sdp::build_answer(offer, media, local_rtp, &c.origin).to_string()
            }
            None => sdp::build_offer(
                local_rtp,
                &[c.media.codec],
                c.media.dtmf_payload_type.unwrap_or(101),
                c.media.local_direction,
                &c.origin,
            )
            .to_string(),
        };
        c.reinvite_tx = Some(tx);
        let tag = c.dialog.local_tag.clone();
        let transport = c.dialog.peer.transport;
        let mut resp = response(&request, 200, Some(&tag), &self.config.user_agent);
        resp.headers.push(self.contact(transport).into());
        resp.headers.push(rsip::headers::Allow::new(ALLOW).into());
        set_body(&mut resp.headers, body.as_bytes(), Some("application/sdp"));
        resp.body = body.into_bytes();
        self.server_txs.insert(tx, call);
        self.send_response(tx, resp, now);
        if let Some((_, media)) = changed {
            self.events.push_back(UaEvent::MediaChanged { call, media });
        }
    }
}

/// The INVITE reduced to what responses to it copy (RFC 3261 §8.2.6.2: Via, From, To,
/// Call-ID, CSeq), so a call does not keep the whole request and its body.
fn dialog_headers_of(request: &rsip::Request) -> rsip::Request {
    let headers = request
        .headers
        .iter()
        .filter(|h| {
            matches!(
                h,
                Header::Via(_)
                    | Header::From(_)
                    | Header::To(_)
                    | Header::CallId(_)
                    | Header::CSeq(_)
            )
        })
        .cloned()
        .collect::<Vec<_>>();
    rsip::Request {
        method: request.method,
        uri: request.uri.clone(),
        version: rsip::Version::V2,
        headers: headers.into(),
        body: Vec::new(),
    }
}

/// The SDP offer of a request: 415 when the body is not SDP, 400 when the SDP is malformed,
/// 488 when there is no body (we do not take late offers on initial INVITEs yet).
fn offer_of(request: &rsip::Request) -> Result<SessionDescription, u16> {
    if request.body.is_empty() {
        return Err(488);
    }
    let content_type = request
        .headers
        .iter()
        .find_map(|h| match h {
            Header::ContentType(ct) => Some(ct.value().to_ascii_lowercase()),
            _ => None,
        })
        .unwrap_or_default();
    if !content_type.trim_start().starts_with("application/sdp") {
        return Err(415);
    }
    let text = std::str::from_utf8(&request.body).map_err(|_| 400u16)?;
    sdp::parse(text).map_err(|error| {
        info!(%error, "malformed SDP");
        400
    })
}

/// The URI of a Contact value (`"Name" <sip:u@h:p>;expires=3600` or `sip:u@h`).
fn contact_uri(value: &str) -> Option<rsip::Uri> {
    from_uri(value)
}

/// The URI of a From/To/Contact value.
fn from_uri(value: &str) -> Option<rsip::Uri> {
    let inner = match (value.find('<'), value.rfind('>')) {
        (Some(a), Some(b)) if a < b => &value[a + 1..b],
        _ => value.split(';').next()?,
    };
    rsip::Uri::try_from(inner.trim()).ok()
}

/// The display name of a From value, without quotes.
fn display_name(value: &str) -> Option<String> {
    let before = &value[..value.find('<')?];
    let name = before.trim().trim_matches('"').trim();
    (!name.is_empty()).then(|| name.to_string())
}

#[cfg(test)]
mod tests;
