//! One Via hop (RFC 3261 §20.42), the RFC 3581 `received`/`rport` rules and where a response
//! goes (RFC 3261 §18.2.2).
//!
//! `rsip` 0.4 models Via params as `rsip::Param`: `Branch`, `Received`, `Maddr`, `Ttl`, and
//! everything else (`rport` included) as `Param::Other(name, Option<value>)`; its typed Via does
//! not read IPv6 sent-by (`[2001:db8::1]:5060`) nor IPv6 `received` values. [`ViaHop`] is our
//! own small parser for one Via value, used by the helpers and by [`parse`](super::parse) to
//! write every Via in canonical form (which `rsip`'s typed Via then reads for IPv4 and names).

use std::fmt;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use rsip::Header;

use super::error::ParseError;
use super::syntax::{excerpt, is_token_byte, is_wsp, quoted_len, split_list};

/// One value of a Via header: `SIP/2.0/<transport> <host>[:<port>] *(;param[=value])`
/// (RFC 3261 §20.42, §25.1 `via-parm`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViaHop {
    /// Transport, upper-case (`UDP`, `TCP`, `TLS`, `SCTP`, `WS`, ...).
    pub transport: String,
    /// sent-by host: a name, an IPv4 address or an IPv6 address (without brackets).
    pub host: String,
    /// sent-by port, if written.
    pub port: Option<u16>,
    /// Parameters in order, names as written, values unquoted only if they were not quoted.
    pub params: Vec<(String, Option<String>)>,
}

impl ViaHop {
    /// Parses one Via value (one element of a comma-separated Via header), tolerating LWS
    /// around `/`, `:`, `;` and `=` as RFC 3261 §25.1 allows (RFC 4475 §3.1.1.1).
    pub fn parse(value: &str) -> Result<ViaHop, ParseError> {
        let fail = |what: &str| ParseError::MalformedHeader {
            name: "Via",
            detail: format!("{what} in '{}'", excerpt(value)),
        };
        let mut cur = Cursor::new(value);
        cur.skip_ws();
        let protocol = cur.token().ok_or_else(|| fail("missing protocol"))?;
        cur.skip_ws();
        cur.eat('/')
            .then_some(())
            .ok_or_else(|| fail("expected '/'"))?;
        cur.skip_ws();
        let version = cur.token().ok_or_else(|| fail("missing version"))?;
        cur.skip_ws();
        cur.eat('/')
            .then_some(())
            .ok_or_else(|| fail("expected '/'"))?;
        cur.skip_ws();
        let transport = cur.token().ok_or_else(|| fail("missing transport"))?;
        if !protocol.eq_ignore_ascii_case("SIP") || version != "2.0" {
            return Err(fail("unsupported sent-protocol"));
        }
        if !cur.skip_ws() {
            return Err(fail("expected whitespace before sent-by"));
        }
        let host = if cur.eat('[') {
            let inner = cur.take_while(|c| c != ']');
            if !cur.eat(']') {
                return Err(fail("unterminated IPv6 reference"));
            }
            inner
                .parse::<Ipv6Addr>()
                .map_err(|_| fail("bad IPv6 address"))?
                .to_string()
        } else {
            let host = cur.take_while(|c| c.is_ascii_alphanumeric() || "-._".contains(c));
            if host.is_empty() {
                return Err(fail("missing sent-by host"));
            }
            host.to_owned()
        };
        cur.skip_ws();
        let port = if cur.eat(':') {
            cur.skip_ws();
            let digits = cur.take_while(|c| c.is_ascii_digit());
            Some(digits.parse::<u16>().map_err(|_| fail("bad port"))?)
        } else {
            None
        };
        let mut params = Vec::new();
        loop {
            cur.skip_ws();
            if cur.at_end() {
                break;
            }
            if !cur.eat(';') {
                return Err(fail("unexpected text after sent-by"));
            }
            cur.skip_ws();
            let name = cur.token().ok_or_else(|| fail("empty parameter"))?;
            cur.skip_ws();
            let value = if cur.eat('=') {
                cur.skip_ws();
                let value = if cur.rest().starts_with('"') {
                    let len = quoted_len(cur.rest()).ok_or_else(|| fail("unterminated quote"))?;
                    cur.advance(len)
                } else {
                    cur.take_while(|c| {
                        c.is_ascii() && (is_token_byte(c as u8) || ":[]".contains(c))
                    })
                };
                if value.is_empty() {
                    return Err(fail("empty parameter value"));
                }
                Some(value.to_owned())
            } else {
                None
            };
            params.push((name.to_owned(), value));
        }
        Ok(ViaHop {
            transport: transport.to_ascii_uppercase(),
            host,
            port,
            params,
        })
    }

    /// A parameter by name (case-insensitive): `Some(None)` when present without value.
    pub fn param(&self, name: &str) -> Option<Option<&str>> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_deref())
    }

    /// Sets (or adds, at the end) a parameter.
    pub fn set_param(&mut self, name: &str, value: Option<String>) {
        match self
            .params
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            Some(slot) => slot.1 = value,
            None => self.params.push((name.to_owned(), value)),
        }
    }

    /// The `branch` parameter (RFC 3261 §8.1.1.7).
    pub fn branch(&self) -> Option<&str> {
        self.param("branch").flatten()
    }

    /// The `received` parameter as an address (RFC 3261 §18.2.1).
    pub fn received(&self) -> Option<IpAddr> {
        self.param("received").flatten().and_then(parse_ip)
    }

    /// The `rport` parameter (RFC 3581 §3): `Some(None)` when requested (no value yet),
    /// `Some(Some(port))` once filled in.
    pub fn rport(&self) -> Option<Option<u16>> {
        self.param("rport").map(|v| v.and_then(|p| p.parse().ok()))
    }

    /// The `maddr` parameter as an address (RFC 3261 §18.2.2).
    pub fn maddr(&self) -> Option<IpAddr> {
        self.param("maddr").flatten().and_then(parse_ip)
    }

    /// The sent-by host if it is an IP literal.
    pub fn sent_by_ip(&self) -> Option<IpAddr> {
        parse_ip(&self.host)
    }

    /// The sent-by port, or the transport's default (5061 for TLS, 5060 otherwise; RFC 3261
    /// §18.2.2, §19.1.2).
    pub fn sent_by_port(&self) -> u16 {
        self.port.unwrap_or(self.default_port())
    }

    fn default_port(&self) -> u16 {
        if self.transport == "TLS" || self.transport == "TLS-SCTP" {
            5061
        } else {
            5060
        }
    }
}

impl fmt::Display for ViaHop {
    /// Canonical form: `SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK...` (IPv6 hosts bracketed).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SIP/2.0/{} ", self.transport)?;
        if self.host.parse::<Ipv6Addr>().is_ok() {
            write!(f, "[{}]", self.host)?;
        } else {
            f.write_str(&self.host)?;
        }
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        for (name, value) in &self.params {
            match value {
                Some(value) => write!(f, ";{name}={value}")?,
                None => write!(f, ";{name}")?,
            }
        }
        Ok(())
    }
}

/// The top Via value of a message's headers: the first value of the first Via header
/// (RFC 3261 §8.1.1.7), if it parses.
pub(crate) fn top_hop(headers: &rsip::Headers) -> Option<ViaHop> {
    let value = headers.iter().find_map(|h| match h {
        Header::Via(via) => Some(rsip::prelude::UntypedHeader::value(via)),
        _ => None,
    })?;
    let elements = split_list(value).ok()?;
    ViaHop::parse(elements.first()?).ok()
}

/// Every Via value of a message's headers, top first (values that do not parse are skipped).
pub(crate) fn hops(headers: &rsip::Headers) -> Vec<ViaHop> {
    headers
        .iter()
        .filter_map(|h| match h {
            Header::Via(via) => split_list(rsip::prelude::UntypedHeader::value(via)).ok(),
            _ => None,
        })
        .flatten()
        .filter_map(|element| ViaHop::parse(element).ok())
        .collect()
}

fn parse_ip(s: &str) -> Option<IpAddr> {
    let s = s.trim_start_matches('[').trim_end_matches(']');
    s.parse::<IpAddr>().ok().map(|ip| ip.to_canonical())
}

/// RFC 3581 §4 (and RFC 3261 §18.2.1): on a received request, add `received=<source IP>` to the
/// top Via when the source differs from sent-by, or always when `rport` is present; fill in
/// `rport=<source port>` when the parameter is present without value. A top Via that does not
/// parse is left alone (the request would have been refused by [`parse`](super::parse)).
pub fn add_received_rport(request: &mut rsip::Request, source: SocketAddr) {
    let source_ip = source.ip().to_canonical();
    for header in request.headers.iter_mut() {
        let Header::Via(via) = header else { continue };
        let value = rsip::prelude::UntypedHeader::value(via).to_owned();
        let Ok(elements) = split_list(&value) else {
            return;
        };
        let Some(Ok(mut hop)) = elements.first().map(|first| ViaHop::parse(first)) else {
            return;
        };
        let rport = hop.rport();
        if rport.is_some() || hop.sent_by_ip() != Some(source_ip) {
            hop.set_param("received", Some(source_ip.to_string()));
        }
        if rport == Some(None) {
            hop.set_param("rport", Some(source.port().to_string()));
        }
        let mut rewritten = hop.to_string();
        for rest in &elements[1..] {
            rewritten.push_str(", ");
            rewritten.push_str(rest);
        }
        *header = Header::Via(rsip::headers::Via::from(rewritten));
        return;
    }
}

/// Where to send a response (RFC 3261 §18.2.2 with RFC 3581 §4), from its top Via:
/// - reliable transport: the response goes back on the connection the request came on; the
///   address returned is where to open a new one if that connection is gone: the `received`
///   address (else sent-by) and the sent-by port;
/// - unreliable with `received` and a filled-in `rport`: exactly there;
/// - unreliable with `received`: that address, sent-by port;
/// - otherwise sent-by.
///
/// `maddr` is deliberately not honoured (RFC 3261 §18.2.2 would send to it): it names an
/// address other than the request's source, so a spoofed request could aim our responses at a
/// third party (reflection, issue 14). Responses go where the request came from.
///
/// Ports default to 5060 (5061 for TLS). `None` when there is no parsable Via or the address
/// would need DNS (a host name sent-by without `received`; RFC 3263 resolution is not done
/// here).
pub fn response_destination(
    response: &rsip::Response,
    transport_reliable: bool,
) -> Option<SocketAddr> {
    let hop = top_hop(&response.headers)?;
    let sent_by_port = hop.sent_by_port();
    if transport_reliable {
        let ip = hop.received().or_else(|| hop.sent_by_ip())?;
        return Some(SocketAddr::new(ip, sent_by_port));
    }
    let port = hop.rport().flatten().unwrap_or(sent_by_port);
    let ip = hop.received().or_else(|| hop.sent_by_ip())?;
    Some(SocketAddr::new(ip, port))
}

/// A char cursor over one header value.
struct Cursor<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn new(s: &'a str) -> Self {
        Cursor { s, pos: 0 }
    }

    fn rest(&self) -> &'a str {
        &self.s[self.pos..]
    }

    fn at_end(&self) -> bool {
        self.pos >= self.s.len()
    }

    fn eat(&mut self, c: char) -> bool {
        if self.rest().starts_with(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    /// Skips SP/HT; whether anything was skipped.
    fn skip_ws(&mut self) -> bool {
        let skipped = self.take_while(is_wsp);
        !skipped.is_empty()
    }

    fn take_while(&mut self, keep: impl Fn(char) -> bool) -> &'a str {
        let rest = self.rest();
        let len = rest.find(|c| !keep(c)).unwrap_or(rest.len());
        self.pos += len;
        &rest[..len]
    }

    fn advance(&mut self, len: usize) -> &'a str {
        let rest = self.rest();
        let len = len.min(rest.len());
        self.pos += len;
        &rest[..len]
    }

    fn token(&mut self) -> Option<&'a str> {
        let t = self.take_while(|c| c.is_ascii() && is_token_byte(c as u8));
        (!t.is_empty()).then_some(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_torture_whitespace() {
        let hop = ViaHop::parse("SIP  /   2.0 /UDP 192.0.2.2;branch=390skdjuw").unwrap();
        assert_eq!(hop.to_string(), "SIP/2.0/UDP 192.0.2.2;branch=390skdjuw");
        let hop =
            ViaHop::parse("SIP  / 2.0  / TCP     spindle.example.com   ; branch  =   z9hG4bK9ikj8")
                .unwrap();
        assert_eq!(
            hop.to_string(),
            "SIP/2.0/TCP spindle.example.com;branch=z9hG4bK9ikj8"
        );
        assert_eq!(hop.branch(), Some("z9hG4bK9ikj8"));
    }

    #[test]
    fn ipv6_and_params() {
        let hop = ViaHop::parse(
            "SIP/2.0/udp [2001:db8::1]:5070;rport;received=2001:db8::9;branch=z9hG4bKx;x=\"a;b\"",
        )
        .unwrap();
        assert_eq!(hop.transport, "UDP");
        assert_eq!(hop.host, "2001:db8::1");
        assert_eq!(hop.port, Some(5070));
        assert_eq!(hop.rport(), Some(None));
        assert_eq!(hop.received(), Some("2001:db8::9".parse().unwrap()));
        assert_eq!(hop.param("x"), Some(Some("\"a;b\"")));
        assert_eq!(
            hop.to_string(),
            "SIP/2.0/UDP [2001:db8::1]:5070;rport;received=2001:db8::9;branch=z9hG4bKx;x=\"a;b\""
        );
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "",
            "SIP/2.0/UDP",
            "SIP/2.0/UDP 192.0.2.15;;",
            "SIP/2.0/UDP host;branch=",
            "SIP/7.0/UDP host",
            "SIP/2.0/UDP host:99999",
            "SIP/2.0/UDP [::1",
            "SIP/2.0/UDPhost",
            "SIP/2.0/UDP host junk",
        ] {
            assert!(ViaHop::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }
}
