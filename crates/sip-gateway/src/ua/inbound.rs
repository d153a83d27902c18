//! Calls the trunk offers us (UAS, RFC 3261 §13.3): the INVITE, its answer, CANCEL, and the
//! requests the peer sends within the dialog (BYE, re-INVITE, OPTIONS, INFO).

use std::net::SocketAddr;
use std::time::Instant;

use rsip::headers::UntypedHeader;
use rsip::prelude::*;
use rsip::{Header, Method};
use tracing::{debug, info};

use super::build::{random_token, response, set_body, tag_of};
use super::dialog::{Dialog, record_routes};
use super::{Call, CallRef, EndReason, IncomingCall, Phase, UaError, UaEvent, UserAgent};
use crate::message::SipMessageExt;
use crate::sdp::{self, Negotiated, Origin, SessionDescription};
use crate::transaction::{Peer, TransactionId};

impl UserAgent {
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
        let Some(media) = c.media.as_ref() else {
            return Err(UaError::NotRinging(call));
        };
        let answer = sdp::build_answer(&c.offer, media, local_rtp, &c.origin).to_string();
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

    pub(super) fn respond_early(
        &mut self,
        call: CallRef,
        code: u16,
        now: Instant,
    ) -> Result<(), UaError> {
        let c = self.calls.get(&call).ok_or(UaError::UnknownCall(call))?;
        let Phase::Early { invite_tx } = c.phase else {
            return Err(UaError::NotRinging(call));
        };
        let resp = self.dialog_response(call, code);
        self.send_response(invite_tx, resp, now);
        self.process(now);
        Ok(())
    }

    pub(super) fn on_request(
        &mut self,
        tx: TransactionId,
        request: rsip::Request,
        peer: Peer,
        now: Instant,
    ) {
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
                Some(&random_token(&mut self.rng)),
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
                Method::Register if self.registrar.is_some() => {
                    self.on_register(tx, &request, &peer, now)
                }
                _ => self.reply(tx, &request, 405, now),
            },
        }
    }

    pub(super) fn on_invite(
        &mut self,
        tx: TransactionId,
        request: rsip::Request,
        peer: Peer,
        now: Instant,
    ) {
        if self.calls.len() >= self.config.max_calls {
            info!(source = %peer.addr, max_calls = self.config.max_calls, "INVITE refused: no free line");
            let refused = self.refused(&request, &peer, "capacity");
            self.events.push_back(refused);
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
        if let Err(reason) = self.check_media_address(&media, peer.addr) {
            info!(source = %peer.addr, rtp = %media.remote_rtp, reason, "INVITE refused");
            self.reply(tx, &request, 488, now);
            return;
        }
        let Some(incoming) = self.new_call(tx, &request, peer, offer, media.clone()) else {
            self.reply(tx, &request, 400, now);
            return;
        };
        self.stats.calls_offered += 1;
        self.events
            .push_back(UaEvent::IncomingCall(Box::new(incoming)));
    }

    /// [`UaEvent::CallRefused`] for an INVITE refused before it became a call: the caller as
    /// [`IncomingCall::caller`] would say, the dialled number as [`IncomingCall::dialled`].
    fn refused(&self, request: &rsip::Request, peer: &Peer, reason: &'static str) -> UaEvent {
        let from_user = request
            .from_header()
            .ok()
            .and_then(|from| from_uri(from.value()))
            .and_then(|u| u.user().map(str::to_string));
        let caller = self
            .trusts_identity_from(peer.addr)
            .then(|| asserted_user(request))
            .flatten()
            .or(from_user);
        let called = request.uri.user().map(str::to_string).or_else(|| {
            request
                .to_header()
                .ok()
                .and_then(|to| from_uri(to.value()))
                .and_then(|u| u.user().map(str::to_string))
        });
        UaEvent::CallRefused {
            sip_call_id: request.call_id().map(|c| c.to_string()).unwrap_or_default(),
            caller,
            called,
            reason,
        }
    }

    pub(super) fn new_call(
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
        let local_tag = random_token(&mut self.rng);
        let call = CallRef(self.next_call);
        self.next_call += 1;
        let from_uri_value = from_uri(&from);
        let dialled = request
            .uri
            .user()
            .map(str::to_string)
            .or_else(|| from_uri(&to).and_then(|u| u.user().map(str::to_string)));
        let trusted = self.trusts_identity_from(peer.addr);
        let asserted_user = trusted.then(|| asserted_user(request)).flatten();
        let privacy_id = trusted && privacy_id(request);
        if !trusted
            && header_values(request, "P-Asserted-Identity")
                .next()
                .is_some()
        {
            debug!(source = %peer.addr, "P-Asserted-Identity from an untrusted source ignored");
        }
        let incoming = IncomingCall {
            asserted_user,
            privacy_id,
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
            flow: false,
        };
        let session_id = u64::from(self.rng.next_u32());
        self.calls.insert(
            call,
            Call {
                phase: Phase::Early { invite_tx: tx },
                invite: dialog_headers_of(request),
                dialog,
                offer,
                media: Some(media),
                local_rtp: None,
                origin: Origin {
                    username: "centralino".into(),
                    session_id,
                    session_version: session_id,
                    address: self.config.local_addr.ip(),
                },
                reinvite_tx: None,
                end_reason: None,
                ack: None,
                refer: None,
                called: None,
                external: false,
            },
        );
        self.by_dialog.insert((call_id, local_tag), call);
        self.server_txs.insert(tx, call);
        Some(incoming)
    }

    /// The ACK of one of our 2xx: it closes a pending re-INVITE offer/answer exchange.
    pub(super) fn on_ack(&mut self, ack: &rsip::Request) {
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

    pub(super) fn on_cancel(
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

    pub(super) fn on_in_dialog(
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
            Method::Refer => self.on_refer(call, tx, &request, now),
            Method::Options | Method::Info | Method::Update if request.body.is_empty() => {
                self.reply_in_dialog(call, tx, &request, 200, now)
            }
            Method::Info => self.reply_in_dialog(call, tx, &request, 200, now),
            _ => self.reply_in_dialog(call, tx, &request, 405, now),
        }
    }

    pub(super) fn reply_in_dialog(
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
            resp.headers
                .push(rsip::headers::Allow::new(self.allow()).into());
        }
        set_body(&mut resp.headers, &[], None);
        self.send_response(tx, resp, now);
    }

    /// RFC 3261 §14.2: a re-INVITE changes the session; we answer it ourselves.
    pub(super) fn on_reinvite(
        &mut self,
        call: CallRef,
        tx: TransactionId,
        request: rsip::Request,
        now: Instant,
    ) {
        let c = self.calls.get_mut(&call).expect("indexed call exists");
        if c.external {
            // The session was negotiated by the offer's maker (a WebRTC leg), which does not
            // renegotiate: the call goes on as it was (RFC 3261 §14.2).
            info!(
                ?call,
                "re-INVITE on an externally negotiated session refused"
            );
            self.reply_in_dialog(call, tx, &request, 488, now);
            return;
        }
        // §14.2: a new offer while the previous one is unanswered gets 500 (or 491 for glare).
        if !matches!(c.phase, Phase::Confirmed) || c.reinvite_tx.is_some() || c.media.is_none() {
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
            let signalling = self.calls[&call].dialog.peer.addr;
            match sdp::negotiate(&offer, &self.config.codecs) {
                Ok(media) => match self.check_media_address(&media, signalling) {
                    Ok(()) => Some((offer, media)),
                    // The call keeps the media it had.
                    Err(reason) => {
                        info!(?call, rtp = %media.remote_rtp, reason, "re-INVITE refused");
                        self.reply_in_dialog(call, tx, &request, 488, now);
                        return;
                    }
                },
                Err(error) => {
                    info!(?call, %error, "re-INVITE refused");
                    self.reply_in_dialog(call, tx, &request, 488, now);
                    return;
                }
            }
        };
        let c = self.calls.get_mut(&call).expect("indexed call exists");
        c.origin.session_version += 1;
        let current = c.media.clone().expect("checked above");
        let body = match &changed {
            Some((offer, media)) => {
                c.offer = offer.clone();
                c.media = Some(media.clone());
                sdp::build_answer(offer, media, local_rtp, &c.origin).to_string()
            }
            None => sdp::build_offer(
                local_rtp,
                &[current.codec],
                current.dtmf_payload_type.unwrap_or(101),
                current.local_direction,
                &c.origin,
            )
            .to_string(),
        };
        c.reinvite_tx = Some(tx);
        let tag = c.dialog.local_tag.clone();
        let transport = c.dialog.peer.transport;
        let mut resp = response(&request, 200, Some(&tag), &self.config.user_agent);
        resp.headers.push(self.contact(transport).into());
        resp.headers
            .push(rsip::headers::Allow::new(self.allow()).into());
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
        .filter(|h| crate::transaction::copied_into_responses(h))
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
pub(super) fn offer_of(request: &rsip::Request) -> Result<SessionDescription, u16> {
    sdp_body(&request.headers, &request.body)
}

/// The SDP in a message body, with the status a request carrying it would deserve when it
/// cannot be used (see [`offer_of`]).
pub(super) fn sdp_body(headers: &rsip::Headers, body: &[u8]) -> Result<SessionDescription, u16> {
    if body.is_empty() {
        return Err(488);
    }
    let content_type = headers
        .iter()
        .find_map(|h| match h {
            Header::ContentType(ct) => Some(ct.value().to_ascii_lowercase()),
            _ => None,
        })
        .unwrap_or_default();
    if !content_type.trim_start().starts_with("application/sdp") {
        return Err(415);
    }
    let text = std::str::from_utf8(body).map_err(|_| 400u16)?;
    sdp::parse(text).map_err(|error| {
        info!(%error, "malformed SDP");
        400
    })
}

/// The URI of a Contact value (`"Name" <sip:u@h:p>;expires=3600` or `sip:u@h`).
pub(super) fn contact_uri(value: &str) -> Option<rsip::Uri> {
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

/// The values of every header named `name` (case-insensitive; not split at commas).
fn header_values<'a>(request: &'a rsip::Request, name: &'a str) -> impl Iterator<Item = &'a str> {
    request.headers.iter().filter_map(move |h| match h {
        Header::Other(n, v) if n.eq_ignore_ascii_case(name) => Some(v.as_str()),
        _ => None,
    })
}

/// The caller's number in `P-Asserted-Identity` (RFC 3325 §9.1): the user part of the first
/// sip:/sips: URI, or the number of a tel: URI (RFC 3966, visual separators dropped), among
/// the header's values. `None` when there is no usable one.
pub(crate) fn asserted_user(request: &rsip::Request) -> Option<String> {
    header_values(request, "P-Asserted-Identity")
        .flat_map(|v| v.split(','))
        .find_map(identity_number)
}

/// The number of one `P-Asserted-Identity` value (`"Name" <sip:+39…@host>` or `<tel:+39…>`).
fn identity_number(value: &str) -> Option<String> {
    let value = value.trim();
    let inner = match (value.find('<'), value.rfind('>')) {
        (Some(a), Some(b)) if a < b => &value[a + 1..b],
        _ => value.split(';').next()?,
    };
    let inner = inner.trim();
    let lower = inner.to_ascii_lowercase();
    let number: String = if let Some(rest) = lower.strip_prefix("tel:") {
        inner[4..4 + rest.len()]
            .split(';')
            .next()?
            .chars()
            .filter(|c| !matches!(c, '-' | '.' | '(' | ')' | ' '))
            .collect()
    } else if lower.starts_with("sip:") || lower.starts_with("sips:") {
        let uri = rsip::Uri::try_from(inner).ok()?;
        uri.user()?.to_string()
    } else {
        return None;
    };
    let valid = !number.is_empty()
        && number.len() <= 64
        && number
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '*' | '#'));
    valid.then_some(number)
}

/// Whether `Privacy` asks that the identity be withheld (RFC 3323 §4.2 `id`, or `user`).
fn privacy_id(request: &rsip::Request) -> bool {
    header_values(request, "Privacy")
        .flat_map(|v| v.split(';'))
        .any(|p| matches!(p.trim().to_ascii_lowercase().as_str(), "id" | "user"))
}

/// The display name of a From value, without quotes.
fn display_name(value: &str) -> Option<String> {
    let before = &value[..value.find('<')?];
    let name = before.trim().trim_matches('"').trim();
    (!name.is_empty()).then(|| name.to_string())
}
