//! Calls we place (UAC, RFC 3261 §13.2): the INVITE with our offer, provisional responses,
//! the 2xx and its ACK, CANCEL (§9.1), and refusals. The ACD rings agents' phones this way.

use std::net::SocketAddr;
use std::time::Instant;

use rsip::headers::UntypedHeader;
use rsip::prelude::*;
use rsip::{Header, Method, SipMessage};
use tracing::{debug, info, warn};

use super::build::{random_token, set_body, tag_of};
use super::dialog::{Dialog, record_routes};
use super::inbound::{contact_uri, sdp_body};
use super::{Call, CallRef, ClientKind, EndReason, Phase, UaError, UaEvent, UserAgent};
use crate::message::SipMessageExt;
use crate::sdp::{self, Direction, Origin};
use crate::transaction::{Peer, TransactionId};

/// A call to place.
#[derive(Debug, Clone)]
pub struct OutgoingCall {
    /// The Request-URI: the callee's contact (an agent phone's registered Contact).
    pub target: rsip::Uri,
    /// Where to send the INVITE. When `target` is the contact of a registered phone, the
    /// address that phone registered from is used instead, for the whole dialog (NAT).
    pub peer: Peer,
    /// The To header value, e.g. `<sip:1001@127.0.0.1>`.
    pub to: String,
    /// Our user part and display name in From (e.g. the caller's number, for the screen).
    pub from_user: String,
    pub from_display: Option<String>,
    /// Our RTP address for the offer.
    pub local_rtp: SocketAddr,
    /// The payload type we offer telephone-event on.
    pub dtmf_payload_type: u8,
    /// An SDP offer made elsewhere, sent as is instead of ours (`local_rtp` and
    /// `dtmf_payload_type` then unused): a WebRTC leg's offer toward a browser phone. Its
    /// answer is not negotiated here but handed back whole in [`UaEvent::AnsweredSdp`], and
    /// re-INVITEs in the dialog are refused with 488 (the leg does not renegotiate).
    pub external_offer: Option<String>,
}

impl UserAgent {
    /// Sends an INVITE with our SDP offer. Progress, the answer and the end arrive as
    /// [`UaEvent::Progress`], [`UaEvent::Answered`] and [`UaEvent::CallEnded`].
    pub fn call(&mut self, mut out: OutgoingCall, now: Instant) -> Result<CallRef, UaError> {
        if self.calls.len() >= self.config.max_calls {
            return Err(UaError::NotPlaced("call limit reached".into()));
        }
        let flow = self.registered_flow(&out.target, now);
        if let Some(peer) = &flow {
            debug!(target = %out.target, via = %peer.addr, "calling a registered contact");
            out.peer = peer.clone();
        }
        let call = CallRef(self.next_call);
        self.next_call += 1;
        let local_tag = random_token(&mut self.rng);
        let local_addr = self.config.local_addr;
        let call_id = format!("{}@{}", random_token(&mut self.rng), local_addr.ip());
        let display = out
            .from_display
            .as_deref()
            .map(|d| format!("\"{}\" ", d.replace(['"', '\\'], "")))
            .unwrap_or_default();
        let from = format!(
            "{display}<sip:{}@{local_addr}>;tag={local_tag}",
            out.from_user
        );
        let session_id = u64::from(self.rng.next_u32());
        let origin = Origin {
            username: "centralino".into(),
            session_id,
            session_version: session_id,
            address: out.local_rtp.ip(),
        };
        let (offer, body) = match &out.external_offer {
            Some(text) => {
                let offer = sdp::parse(text).map_err(|e| {
                    UaError::NotPlaced(format!("the offer to send does not parse: {e}"))
                })?;
                (offer, text.clone())
            }
            None => {
                let offer = sdp::build_offer(
                    out.local_rtp,
                    &self.config.codecs,
                    out.dtmf_payload_type,
                    Direction::SendRecv,
                    &origin,
                );
                let body = offer.to_string();
                (offer, body)
            }
        };
        let external = out.external_offer.is_some();
        let mut dialog = Dialog {
            call_id: call_id.clone(),
            local_tag: local_tag.clone(),
            remote_tag: None,
            local_party: from,
            remote_party: out.to,
            remote_target: out.target,
            route_set: Vec::new(),
            local_cseq: 0,
            remote_cseq: 0,
            peer: out.peer,
            flow: flow.is_some(),
        };
        let mut invite = dialog.request(
            Method::Invite,
            local_addr,
            &self.config.user_agent,
            Some((body.as_bytes(), "application/sdp")),
            &mut self.rng,
        );
        invite
            .headers
            .push(self.contact(dialog.peer.transport).into());
        invite
            .headers
            .push(rsip::headers::Allow::new(self.allow()).into());
        let tx = self
            .layer
            .send_request(invite.clone(), dialog.peer.clone(), now)
            .map_err(|e| UaError::NotPlaced(e.to_string()))?;
        self.client_txs.insert(tx, (call, ClientKind::Invite));
        self.by_dialog.insert((call_id, local_tag), call);
        let called = super::canonical_ip(dialog.peer.addr.ip());
        *self.called.entry(called).or_default() += 1;
        self.calls.insert(
            call,
            Call {
                phase: Phase::Calling {
                    provisional: false,
                    cancel_wanted: false,
                },
                invite,
                dialog,
                offer,
                media: None,
                local_rtp: Some(out.local_rtp),
                origin,
                reinvite_tx: None,
                end_reason: None,
                ack: None,
                refer: None,
                called: Some(called),
                external,
            },
        );
        self.process(now);
        Ok(call)
    }

    /// Hang-up before the answer: CANCEL once a provisional allows it (RFC 3261 §9.1).
    pub(super) fn cancel_outgoing(&mut self, call: CallRef, now: Instant) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        let Phase::Calling {
            provisional,
            cancel_wanted,
            ..
        } = &mut c.phase
        else {
            return;
        };
        if *cancel_wanted {
            return;
        }
        *cancel_wanted = true;
        if *provisional {
            self.send_cancel(call, now);
        }
    }

    /// RFC 3261 §9.1: the CANCEL copies the INVITE's Request-URI, top Via (same branch),
    /// From, To, Call-ID and Route, with the same CSeq number.
    fn send_cancel(&mut self, call: CallRef, now: Instant) {
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        let invite = &c.invite;
        let mut headers = rsip::Headers::default();
        let mut via_done = false;
        for header in invite.headers.iter() {
            match header {
                Header::Via(_) if !via_done => {
                    via_done = true;
                    headers.push(header.clone());
                }
                Header::From(_)
                | Header::To(_)
                | Header::CallId(_)
                | Header::Route(_)
                | Header::MaxForwards(_) => headers.push(header.clone()),
                _ => {}
            }
        }
        let seq = invite.cseq().map(|c| c.seq).unwrap_or(1);
        headers.push(rsip::headers::CSeq::new(format!("{seq} CANCEL")).into());
        set_body(&mut headers, &[], None);
        let cancel = rsip::Request {
            method: Method::Cancel,
            uri: invite.uri.clone(),
            version: rsip::Version::V2,
            headers,
            body: Vec::new(),
        };
        let peer = c.dialog.peer.clone();
        match self.layer.send_request(cancel, peer, now) {
            Ok(tx) => {
                self.client_txs.insert(tx, (call, ClientKind::Cancel));
            }
            Err(error) => warn!(?call, %error, "CANCEL not sent"),
        }
    }

    /// A response to our INVITE (RFC 3261 §13.2.2).
    pub(super) fn on_invite_response(
        &mut self,
        call: CallRef,
        tx: TransactionId,
        response: &rsip::Response,
        retransmission: bool,
        now: Instant,
    ) {
        let code = response.status_code.code();
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        match code {
            100 => {}
            101..=199 => {
                let mut cancel_now = false;
                if let Phase::Calling {
                    provisional,
                    cancel_wanted,
                    ..
                } = &mut c.phase
                {
                    cancel_now = *cancel_wanted && !*provisional;
                    *provisional = true;
                }
                if cancel_now {
                    self.send_cancel(call, now);
                } else {
                    self.events
                        .push_back(UaEvent::Progress { call, status: code });
                }
            }
            200..=299 => {
                if let Some(ack) = &c.ack {
                    // A retransmitted 2xx (or one from a fork): ACK it again (§13.2.2.4).
                    debug!(?call, retransmission, "2xx again: re-sending the ACK");
                    let dest = c.dialog.destination();
                    self.layer
                        .send_stateless(SipMessage::Request(ack.clone()), dest);
                    return;
                }
                self.confirm_outgoing(call, response, now);
            }
            _ => {
                // The layer ACKs non-2xx finals itself (§17.1.1.3).
                self.client_txs.remove(&tx);
                let cancelled = matches!(
                    c.phase,
                    Phase::Calling {
                        cancel_wanted: true,
                        ..
                    }
                );
                info!(?call, status = code, "outbound call refused");
                let reason = if cancelled {
                    EndReason::LocalHangup
                } else {
                    EndReason::Declined(code)
                };
                self.end(call, reason);
            }
        }
    }

    /// The 2xx: the dialog is established (§12.1.2), we ACK and read the answer.
    fn confirm_outgoing(&mut self, call: CallRef, response: &rsip::Response, now: Instant) {
        let local_addr = self.config.local_addr;
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        if let Ok(to) = response.to_header() {
            c.dialog.remote_tag = tag_of(to.value()).map(str::to_string);
            c.dialog.remote_party = to.value().to_string();
        }
        if let Ok(contact) = response.contact_header()
            && let Some(uri) = contact_uri(contact.value())
        {
            c.dialog.remote_target = uri;
        }
        // §12.1.2: the UAC's route set is the Record-Route of the 2xx, reversed.
        let mut routes = record_routes(&response.headers);
        routes.reverse();
        c.dialog.route_set = routes;
        let invite_cseq = c.invite.cseq().map(|c| c.seq).unwrap_or(1);
        let ack = c.dialog.ack(
            invite_cseq,
            local_addr,
            &self.config.user_agent,
            &mut self.rng,
        );
        let dest = c.dialog.destination();
        c.ack = Some(ack.clone());
        let cancel_wanted = matches!(
            c.phase,
            Phase::Calling {
                cancel_wanted: true,
                ..
            }
        );
        c.phase = Phase::Confirmed;
        if c.external {
            // The offer was made elsewhere: so is the answer's reading.
            let answer = String::from_utf8(response.body.clone())
                .ok()
                .filter(|a| !a.is_empty());
            self.layer.send_stateless(SipMessage::Request(ack), dest);
            match answer {
                _ if cancel_wanted => self.send_bye(call, EndReason::LocalHangup, now),
                Some(sdp) => self.events.push_back(UaEvent::AnsweredSdp { call, sdp }),
                None => {
                    warn!(?call, "2xx without an SDP answer to an external offer");
                    self.send_bye(call, EndReason::Declined(488), now);
                }
            }
            return;
        }
        let negotiated = sdp_body(&response.headers, &response.body)
            .map_err(|_| warn!(?call, "2xx without a usable SDP answer"))
            .and_then(|answer| {
                sdp::negotiate_answer(&c.offer, &answer)
                    .map_err(|e| warn!(?call, error = %e, "unusable SDP answer"))
            });
        let signalling = c.dialog.peer.addr;
        let negotiated = negotiated.and_then(|media| {
            self.check_media_address(&media, signalling)
                .map(|()| media)
                .map_err(|reason| warn!(?call, reason, "unusable SDP answer"))
        });
        self.layer.send_stateless(SipMessage::Request(ack), dest);
        match negotiated {
            _ if cancel_wanted => self.send_bye(call, EndReason::LocalHangup, now),
            Ok(media) => {
                if let Some(c) = self.calls.get_mut(&call) {
                    c.media = Some(media.clone());
                }
                self.events.push_back(UaEvent::Answered { call, media });
            }
            // §13.2.2.4: an answer we cannot use is acknowledged, then the call is ended.
            Err(()) => self.send_bye(call, EndReason::Declined(488), now),
        }
    }

    /// Timer B: the callee never answered (§17.1.1.2).
    pub(super) fn on_invite_timeout(&mut self, call: CallRef) {
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        let reason = match c.phase {
            Phase::Calling {
                cancel_wanted: true,
                ..
            } => EndReason::LocalHangup,
            _ => EndReason::Declined(408),
        };
        self.end(call, reason);
    }
}
