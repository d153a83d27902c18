//! The dialog state of a call (RFC 3261 §12) and the requests sent within it.

use std::net::{IpAddr, SocketAddr};

use rsip::headers::UntypedHeader;
use rsip::{Header, Headers};

use super::build::set_body;
use crate::rng::SipRng;
use crate::transaction::{Peer, TransportKind, new_branch};

/// A dialog established by an INVITE we received (UAS side, RFC 3261 §12.1.1).
#[derive(Debug, Clone)]
pub struct Dialog {
    pub call_id: String,
    pub local_tag: String,
    /// The From tag of the INVITE; RFC 2543 peers may send none.
    pub remote_tag: Option<String>,
    /// Our URI as the peer knows it: the To header of the INVITE, with our tag.
    pub local_party: String,
    /// The peer's From header value, tag included.
    pub remote_party: String,
    /// Contact of the peer: the Request-URI of requests we send in the dialog.
    pub remote_target: rsip::Uri,
    /// Record-Route of the INVITE, in order (RFC 3261 §12.1.1).
    pub route_set: Vec<String>,
    /// Last CSeq number sent by us.
    pub local_cseq: u32,
    /// Highest CSeq number received from the peer.
    pub remote_cseq: u32,
    /// Where the INVITE came from: the fallback destination of our requests.
    pub peer: Peer,
    /// Send every request of the dialog to `peer`, whatever the remote target says: the
    /// peer is a registered phone reached through the address it registered from (it may be
    /// behind NAT; RFC 5626 §5.3, simplified).
    pub flow: bool,
}

impl Dialog {
    /// The destination of a request in this dialog: the first route when there is a route set
    /// (loose routing, RFC 3261 §12.2.1.1), else the remote target. Host names we cannot use
    /// without DNS, and targets on another transport, fall back to the INVITE's source.
    pub fn destination(&self) -> Peer {
        if self.flow {
            return self.peer.clone();
        }
        let uri = match self.route_set.first() {
            Some(route) => route_uri(route),
            None => Some(self.remote_target.clone()),
        };
        let addr = uri.and_then(|uri| {
            let ip: IpAddr = match uri.host() {
                rsip::Host::IpAddr(ip) => *ip,
                rsip::Host::Domain(d) => d.to_string().parse().ok()?,
            };
            let port = uri.port().map(|p| *p.value()).unwrap_or(5060);
            Some(SocketAddr::new(ip, port))
        });
        match (addr, self.peer.transport) {
            (Some(addr), TransportKind::Udp) => Peer {
                addr,
                transport: TransportKind::Udp,
            },
            // Over TCP, requests go back on the connection the call came on (RFC 3261 §18.1.1
            // allows reuse; the peer may sit behind NAT and listen nowhere else). Over a
            // WebSocket there is no other way at all: the remote target's host is typically
            // `xyz.invalid` (RFC 7118 §5.2).
            _ => self.peer.clone(),
        }
    }

    /// Builds a request within the dialog (RFC 3261 §12.2.1.1) with a fresh branch from `rng`.
    pub fn request(
        &mut self,
        method: rsip::Method,
        local_sip: SocketAddr,
        user_agent: &str,
        body: Option<(&[u8], &str)>,
        rng: &mut SipRng,
    ) -> rsip::Request {
        self.local_cseq += 1;
        self.build(method, self.local_cseq, local_sip, user_agent, body, rng)
    }

    /// The ACK of a 2xx to our INVITE: same CSeq number as the INVITE, a new branch
    /// (RFC 3261 §13.2.2.4).
    pub fn ack(
        &self,
        invite_cseq: u32,
        local_sip: SocketAddr,
        user_agent: &str,
        rng: &mut SipRng,
    ) -> rsip::Request {
        self.build(
            rsip::Method::Ack,
            invite_cseq,
            local_sip,
            user_agent,
            None,
            rng,
        )
    }

    fn build(
        &self,
        method: rsip::Method,
        cseq: u32,
        local_sip: SocketAddr,
        user_agent: &str,
        body: Option<(&[u8], &str)>,
        rng: &mut SipRng,
    ) -> rsip::Request {
        let transport = self.peer.transport.via_name();
        let mut headers = Headers::default();
        headers.push(
            rsip::headers::Via::new(format!(
                "SIP/2.0/{transport} {local_sip};branch={};rport",
                new_branch(rng)
            ))
            .into(),
        );
        headers.push(rsip::headers::MaxForwards::new("70").into());
        for route in &self.route_set {
            headers.push(rsip::headers::Route::new(route.clone()).into());
        }
        headers.push(rsip::headers::From::new(self.local_party.clone()).into());
        headers.push(rsip::headers::To::new(self.remote_party.clone()).into());
        headers.push(rsip::headers::CallId::new(self.call_id.clone()).into());
        headers.push(rsip::headers::CSeq::new(format!("{cseq} {method}")).into());
        headers.push(rsip::headers::UserAgent::new(user_agent).into());
        let body = match body {
            Some((bytes, content_type)) => {
                set_body(&mut headers, bytes, Some(content_type));
                bytes.to_vec()
            }
            None => {
                set_body(&mut headers, &[], None);
                Vec::new()
            }
        };
        rsip::Request {
            method,
            uri: self.remote_target.clone(),
            version: rsip::Version::V2,
            headers,
            body,
        }
    }
}

/// The URI inside a Route/Record-Route value (`<sip:p1.example.org;lr>`).
fn route_uri(route: &str) -> Option<rsip::Uri> {
    let inner = match (route.find('<'), route.find('>')) {
        (Some(a), Some(b)) if a < b => &route[a + 1..b],
        _ => route.split(';').next()?,
    };
    rsip::Uri::try_from(inner.trim()).ok()
}

/// The Record-Route values of a request, one per route even when several share a header line.
pub fn record_routes(headers: &Headers) -> Vec<String> {
    headers
        .iter()
        .filter_map(|h| match h {
            Header::RecordRoute(rr) => Some(rr.value().to_string()),
            _ => None,
        })
        .flat_map(|v| split_uri_list(&v))
        .collect()
}

/// Splits a comma-separated list of `name-addr`s, ignoring commas inside `<>` and quotes.
fn split_uri_list(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    let (mut in_angle, mut in_quote, mut start) = (false, false, 0);
    for (i, c) in value.char_indices() {
        match c {
            '"' => in_quote = !in_quote,
            '<' if !in_quote => in_angle = true,
            '>' if !in_quote => in_angle = false,
            ',' if !in_quote && !in_angle => {
                out.push(value[start..i].trim().to_string());
                start = i + 1;
            }
            _ => {}
        }
    }
    let last = value[start..].trim();
    if !last.is_empty() {
        out.push(last.to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dialog(route_set: Vec<String>, transport: TransportKind) -> Dialog {
        Dialog {
            call_id: "c".into(),
            local_tag: "l".into(),
            remote_tag: Some("r".into()),
            local_party: "<sip:800100200@127.0.0.1>;tag=l".into(),
            remote_party: "<sip:caller@127.0.0.1>;tag=r".into(),
            remote_target: rsip::Uri::try_from("sip:caller@127.0.0.1:5070").unwrap(),
            route_set,
            local_cseq: 0,
            remote_cseq: 1,
            peer: Peer {
                addr: "127.0.0.1:5099".parse().unwrap(),
                transport,
            },
            flow: false,
        }
    }

    #[test]
    fn destination_prefers_route_then_contact_then_source() {
        let d = dialog(vec![], TransportKind::Udp);
        assert_eq!(d.destination().addr, "127.0.0.1:5070".parse().unwrap());
        let d = dialog(vec!["<sip:127.0.0.2:5080;lr>".into()], TransportKind::Udp);
        assert_eq!(d.destination().addr, "127.0.0.2:5080".parse().unwrap());
        let d = dialog(vec![], TransportKind::Tcp);
        assert_eq!(d.destination().addr, "127.0.0.1:5099".parse().unwrap());
        let mut d = dialog(vec!["<sip:127.0.0.2:5080;lr>".into()], TransportKind::Udp);
        d.flow = true;
        assert_eq!(d.destination().addr, "127.0.0.1:5099".parse().unwrap());
    }

    #[test]
    fn bye_is_built_from_the_dialog() {
        let mut d = dialog(vec!["<sip:127.0.0.2;lr>".into()], TransportKind::Udp);
        let bye = d.request(
            rsip::Method::Bye,
            "127.0.0.1:5060".parse().unwrap(),
            "centralino",
            None,
            &mut SipRng::from_seed(1),
        );
        let text = bye.to_string();
        assert!(
            text.starts_with("BYE sip:caller@127.0.0.1:5070 SIP/2.0\r\n"),
            "{text}"
        );
        assert!(text.contains("From: <sip:800100200@127.0.0.1>;tag=l"));
        assert!(text.contains("To: <sip:caller@127.0.0.1>;tag=r"));
        assert!(text.contains("CSeq: 1 BYE"));
        assert!(text.contains("Route: <sip:127.0.0.2;lr>"));
        assert!(text.contains("Content-Length: 0"));
        let branch = format!(
            "Via: SIP/2.0/UDP 127.0.0.1:5060;branch={};rport\r\n",
            new_branch(&mut SipRng::from_seed(1))
        );
        assert!(text.contains(&branch), "{text}");
    }

    #[test]
    fn record_route_lists_are_split() {
        assert_eq!(
            split_uri_list("<sip:a;lr>, \"x,y\" <sip:b,c;lr>,<sip:d>"),
            vec!["<sip:a;lr>", "\"x,y\" <sip:b,c;lr>", "<sip:d>"]
        );
    }
}
