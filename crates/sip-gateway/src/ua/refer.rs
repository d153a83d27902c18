//! Blind transfer by REFER (RFC 3515, with RFC 4488's `Refer-Sub`) within an answered call.
//!
//! The phone on the other end of a dialog (an agent's, in practice) sends REFER naming where
//! the call should go. We answer 202 Accepted, report [`UaEvent::TransferRequested`], and keep
//! the implicit subscription: a NOTIFY with `SIP/2.0 100 Trying` at once, then one with the
//! final status the switchboard gives through [`UserAgent::notify_transfer`]
//! (`Subscription-State: terminated`). A phone that asked `Refer-Sub: false` gets neither.
//!
//! Refused: REFER before the call is answered (403), without a usable `Refer-To` (400, with
//! the reason), or while an earlier one is still pending (491).

use std::time::Instant;

use rsip::headers::UntypedHeader;
use rsip::{Header, Method};
use tracing::{debug, info, warn};

use super::build::{random_token, response, set_body};
use super::{CallRef, ClientKind, Phase, UaError, UaEvent, UserAgent};
use crate::message::names;
use crate::transaction::TransactionId;

/// How long the implicit subscription is said to last (`expires` of the first NOTIFY).
const SUBSCRIPTION_S: u32 = 60;

/// A REFER accepted and not yet finally reported.
#[derive(Debug, Clone, Copy)]
pub(super) struct PendingRefer {
    /// The phone wants NOTIFYs (no `Refer-Sub: false`).
    pub notify: bool,
}

/// What `Refer-To` names: the URI as written, and its user part when it has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferTarget {
    /// The URI inside the header value (`sip:secondo-livello@192.0.2.1`).
    pub uri: String,
    /// Its user part (`secondo-livello`), percent-decoding left to the caller.
    pub user: Option<String>,
}

/// The target of a `Refer-To` value (`<sip:user@host;params>` or a bare URI), or why not.
pub fn parse_refer_to(value: &str) -> Result<ReferTarget, &'static str> {
    let value = value.trim();
    let uri = match (value.find('<'), value.rfind('>')) {
        (Some(a), Some(b)) if a < b => &value[a + 1..b],
        (None, None) => value.split(';').next().unwrap_or_default(),
        _ => return Err("Refer-To: unbalanced angle brackets"),
    }
    .trim();
    let rest = ["sip:", "sips:", "tel:"]
        .iter()
        .find_map(|scheme| {
            uri.get(..scheme.len())
                .filter(|s| s.eq_ignore_ascii_case(scheme))
                .map(|_| &uri[scheme.len()..])
        })
        .ok_or("Refer-To: not a sip:, sips: or tel: URI")?;
    // Embedded headers (`?Replaces=…`) would make it an attended transfer: not supported.
    if rest.contains('?') {
        return Err("Refer-To: URI headers (attended transfer) are not supported");
    }
    let user = if uri[..4].eq_ignore_ascii_case("tel:") {
        rest.split(';').next().map(str::to_string)
    } else {
        rest.split_once('@').map(|(user, _)| user.to_string())
    }
    .filter(|u| !u.is_empty());
    if user.is_none() && rest.split(';').next().unwrap_or_default().is_empty() {
        return Err("Refer-To: empty URI");
    }
    Ok(ReferTarget {
        uri: uri.to_string(),
        user,
    })
}

/// The value of the first header named `name` (full or compact form), if any.
fn header_value<'a>(request: &'a rsip::Request, name: &str) -> Option<&'a str> {
    request.headers.iter().find_map(|h| match h {
        Header::Other(n, v) if names::is(n, name) => Some(v.as_str()),
        _ => None,
    })
}

impl UserAgent {
    /// A REFER in the dialog of `call` (RFC 3515 §2.4).
    pub(super) fn on_refer(
        &mut self,
        call: CallRef,
        tx: TransactionId,
        request: &rsip::Request,
        now: Instant,
    ) {
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        if !matches!(c.phase, Phase::Confirmed) {
            self.reply_in_dialog(call, tx, request, 403, now);
            return;
        }
        if c.refer.is_some() {
            self.reply_in_dialog(call, tx, request, 491, now);
            return;
        }
        let refer_tos: Vec<&str> = request
            .headers
            .iter()
            .filter_map(|h| match h {
                Header::Other(n, v) if names::is(n, "Refer-To") => Some(v.as_str()),
                _ => None,
            })
            .collect();
        let target = match refer_tos.as_slice() {
            [one] => parse_refer_to(one),
            [] => Err("missing Refer-To"),
            _ => Err("more than one Refer-To"),
        };
        let target = match target {
            Ok(t) => t,
            Err(why) => {
                info!(?call, why, "REFER refused");
                self.reply_with_reason(call, tx, request, 400, why, now);
                return;
            }
        };
        let notify = !header_value(request, "Refer-Sub")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("false"));
        let referred_by = header_value(request, "Referred-By").map(str::to_string);
        let tag = self.calls[&call].dialog.local_tag.clone();
        let mut resp = response(request, 202, Some(&tag), &self.config.user_agent);
        resp.headers
            .push(self.contact(self.calls[&call].dialog.peer.transport).into());
        if !notify {
            resp.headers
                .push(Header::Other("Refer-Sub".into(), "false".into()));
        }
        set_body(&mut resp.headers, &[], None);
        self.send_response(tx, resp, now);
        if let Some(c) = self.calls.get_mut(&call) {
            c.refer = Some(PendingRefer { notify });
        }
        info!(?call, target = %target.uri, "REFER accepted");
        if notify {
            let state = format!("active;expires={SUBSCRIPTION_S}");
            self.send_notify(call, 100, &state, now);
        }
        self.events.push_back(UaEvent::TransferRequested {
            call,
            target,
            referred_by,
        });
    }

    /// Reports how the transfer requested on `call` ended: `status` as the final sipfrag
    /// (200 when the caller was taken over, an error otherwise), which ends the
    /// subscription. Nothing is sent when the phone asked for no NOTIFY.
    pub fn notify_transfer(
        &mut self,
        call: CallRef,
        status: u16,
        now: Instant,
    ) -> Result<(), UaError> {
        let c = self
            .calls
            .get_mut(&call)
            .ok_or(UaError::UnknownCall(call))?;
        let Some(pending) = c.refer.take() else {
            debug!(?call, status, "no transfer pending: nothing to notify");
            return Ok(());
        };
        if pending.notify && status >= 200 {
            self.send_notify(call, status, "terminated;reason=noresource", now);
        }
        Ok(())
    }

    /// NOTIFY with `SIP/2.0 <status>` as `message/sipfrag` (RFC 3515 §2.4.5).
    fn send_notify(&mut self, call: CallRef, status: u16, state: &str, now: Instant) {
        let transport = match self.calls.get(&call) {
            Some(c) => c.dialog.peer.transport,
            None => return,
        };
        let contact = self.contact(transport);
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        let frag = format!(
            "SIP/2.0 {status} {}\r\n",
            crate::message::reason_phrase(status)
        );
        let mut notify = c.dialog.request(
            Method::Notify,
            self.config.local_addr,
            &self.config.user_agent,
            Some((frag.as_bytes(), "message/sipfrag;version=2.0")),
            &mut self.rng,
        );
        notify
            .headers
            .push(rsip::headers::Event::new("refer").into());
        notify
            .headers
            .push(rsip::headers::SubscriptionState::new(state).into());
        notify.headers.push(contact.into());
        let dest = c.dialog.destination();
        match self.layer.send_request(notify, dest, now) {
            Ok(id) => {
                self.client_txs.insert(id, (call, ClientKind::Notify));
            }
            Err(error) => warn!(?call, %error, "NOTIFY not sent"),
        }
    }

    /// A response with our own reason phrase (e.g. why a REFER is refused).
    fn reply_with_reason(
        &mut self,
        call: CallRef,
        tx: TransactionId,
        request: &rsip::Request,
        code: u16,
        reason: &str,
        now: Instant,
    ) {
        let tag = match self.calls.get(&call) {
            Some(c) => c.dialog.local_tag.clone(),
            None => random_token(&mut self.rng),
        };
        let mut resp = response(request, code, Some(&tag), &self.config.user_agent);
        resp.status_code = rsip::StatusCode::Other(code, reason.to_string());
        set_body(&mut resp.headers, &[], None);
        self.send_response(tx, resp, now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refer_to_values_give_their_uri_and_user() {
        let t = parse_refer_to("<sip:secondo-livello@127.0.0.1:5060;transport=udp>").unwrap();
        assert_eq!(t.uri, "sip:secondo-livello@127.0.0.1:5060;transport=udp");
        assert_eq!(t.user.as_deref(), Some("secondo-livello"));
        let t = parse_refer_to("sip:2000@example.org").unwrap();
        assert_eq!(t.user.as_deref(), Some("2000"));
        let t = parse_refer_to("\"Back office\" <SIP:tecnica@h>").unwrap();
        assert_eq!(t.user.as_deref(), Some("tecnica"));
        let t = parse_refer_to("<tel:+390600000002>").unwrap();
        assert_eq!(t.user.as_deref(), Some("+390600000002"));
        let t = parse_refer_to("<sip:example.org>").unwrap();
        assert_eq!(t.user, None);
    }

    #[test]
    fn unusable_refer_to_values_say_why() {
        for (value, why) in [
            ("<http://example.org/>", "not a sip:"),
            ("<sip:a@b?Replaces=abc%3Bto-tag%3D1>", "attended transfer"),
            ("<sip:a@b", "unbalanced"),
            ("<sip:>", "empty"),
        ] {
            let err = parse_refer_to(value).unwrap_err();
            assert!(err.contains(why), "{value}: {err}");
        }
    }
}
