//! # SDP (RFC 4566) and the offer/answer model (RFC 3264)
//!
//! [`parse`] reads a session description, tolerant of LF line ends, unknown line types and
//! unknown attributes, strict on what negotiation needs (`v=`, `o=`, `c=`, `m=`); the
//! [`Display`](std::fmt::Display) of [`SessionDescription`] writes CRLF lines in RFC 4566 §5
//! order. [`negotiate`] picks what we use from a remote offer, [`build_answer`] answers it,
//! [`build_offer`] and [`negotiate_answer`] do the same from the offering side.
//!
//! The media engine handles G.711 only ([`media::Codec`]) plus RFC 4733 telephone-events, so
//! negotiation is about finding one audio stream, one G.711 payload type, the DTMF payload
//! type, the packet time, the remote RTP address and the direction.

mod negotiate;
mod parse;

#[cfg(test)]
mod tests;

use std::fmt;
use std::net::IpAddr;

pub use negotiate::{
    Negotiated, NegotiationError, build_answer, build_offer, negotiate, negotiate_answer,
};
pub use parse::{SdpError, parse};

/// The media direction of RFC 3264 §5.1 as a type: what [`SessionDescription::direction`],
/// [`MediaDescription::direction`] and [`Negotiated`]'s directions are. Compare these values
/// (`local_direction != Direction::SendRecv`, [`Direction::receives`]), not their attribute
/// names: [`Direction::attribute`] is only how one is written in SDP.
pub use media::Direction;

/// Our own origin (RFC 4566 §5.2) for descriptions we build. The caller keeps `session_id`
/// fixed for the session and increments `session_version` for every changed description
/// (RFC 3264 §8, e.g. a re-INVITE answer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub username: String,
    pub session_id: u64,
    pub session_version: u64,
    pub address: IpAddr,
}

/// An `o=` line as received (RFC 4566 §5.2): kept as text because peers put host names and
/// very long numbers there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginLine {
    pub username: String,
    pub session_id: String,
    pub session_version: String,
    pub net_type: String,
    pub addr_type: String,
    pub address: String,
}

impl From<&Origin> for OriginLine {
    fn from(origin: &Origin) -> Self {
        OriginLine {
            username: if origin.username.is_empty() || origin.username.contains(char::is_whitespace)
            {
                "-".to_owned()
            } else {
                origin.username.clone()
            },
            session_id: origin.session_id.to_string(),
            session_version: origin.session_version.to_string(),
            net_type: "IN".to_owned(),
            addr_type: addr_type(origin.address).to_owned(),
            address: origin.address.to_string(),
        }
    }
}

/// A `c=` line (RFC 4566 §5.7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    pub net_type: String,
    pub addr_type: String,
    /// The address as written; multicast addresses may carry `/ttl[/count]`.
    pub address: String,
}

impl Connection {
    /// A unicast `IN IP4`/`IN IP6` connection to `ip`.
    pub fn new(ip: IpAddr) -> Self {
        Connection {
            net_type: "IN".to_owned(),
            addr_type: addr_type(ip).to_owned(),
            address: ip.to_string(),
        }
    }

    /// The address as an IP (without any `/ttl` suffix); `None` for host names.
    pub fn ip(&self) -> Option<IpAddr> {
        let address = self.address.split('/').next()?;
        address.parse().ok()
    }
}

fn addr_type(ip: IpAddr) -> &'static str {
    if ip.is_ipv4() { "IP4" } else { "IP6" }
}

/// A `b=` line (RFC 4566 §5.8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bandwidth {
    pub bwtype: String,
    pub bandwidth: u64,
}

/// A `t=` line and its `r=` lines (RFC 4566 §5.9, §5.10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timing {
    pub start: u64,
    pub stop: u64,
    /// `r=` values, verbatim.
    pub repeats: Vec<String>,
}

/// An `a=` line (RFC 4566 §5.13): `a=name` or `a=name:value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    pub name: String,
    pub value: Option<String>,
}

impl Attribute {
    /// `a=name:value`.
    pub fn new(name: &str, value: impl Into<String>) -> Self {
        Attribute {
            name: name.to_owned(),
            value: Some(value.into()),
        }
    }

    /// `a=name` (a property attribute).
    pub fn flag(name: &str) -> Self {
        Attribute {
            name: name.to_owned(),
            value: None,
        }
    }
}

/// An `a=rtpmap` value (RFC 4566 §6): `<payload type> <encoding name>/<clock rate>[/<channels>]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpMap {
    pub payload_type: u8,
    pub encoding: String,
    pub clock_rate: u32,
    pub channels: Option<u32>,
}

impl RtpMap {
    fn parse(value: &str) -> Option<RtpMap> {
        let (pt, rest) = value.trim().split_once(char::is_whitespace)?;
        let mut parts = rest.trim().split('/');
        let encoding = parts.next()?.trim();
        let clock_rate = parts.next()?.trim().parse().ok()?;
        let channels = match parts.next() {
            Some(channels) => Some(channels.trim().parse().ok()?),
            None => None,
        };
        if encoding.is_empty() || parts.next().is_some() {
            return None;
        }
        Some(RtpMap {
            payload_type: pt.parse().ok()?,
            encoding: encoding.to_owned(),
            clock_rate,
            channels,
        })
    }
}

/// A whole session description (RFC 4566 §5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionDescription {
    /// `v=`, always 0.
    pub version: u32,
    pub origin: OriginLine,
    /// `s=`.
    pub session_name: String,
    /// `i=`.
    pub information: Option<String>,
    /// `u=`.
    pub uri: Option<String>,
    /// `e=` lines.
    pub emails: Vec<String>,
    /// `p=` lines.
    pub phones: Vec<String>,
    /// Session-level `c=`.
    pub connection: Option<Connection>,
    pub bandwidths: Vec<Bandwidth>,
    /// `t=` lines with their `r=` lines (RFC 4566 requires at least one; `t=0 0` is written if
    /// empty).
    pub times: Vec<Timing>,
    /// `z=`, verbatim.
    pub time_zones: Option<String>,
    /// `k=`, verbatim.
    pub encryption_key: Option<String>,
    /// Session-level attributes.
    pub attributes: Vec<Attribute>,
    pub media: Vec<MediaDescription>,
}

/// One `m=` section (RFC 4566 §5.14).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaDescription {
    /// `audio`, `video`, `application`, ...
    pub media: String,
    pub port: u16,
    /// The `/<number of ports>` suffix, if written.
    pub port_count: Option<u16>,
    /// `RTP/AVP`, `RTP/AVPF`, `RTP/SAVP`, `UDP/TLS/RTP/SAVPF`, ...
    pub proto: String,
    /// Formats as written (payload type numbers for RTP).
    pub formats: Vec<String>,
    /// Media-level `i=`.
    pub title: Option<String>,
    /// Media-level `c=` (the first one, if several).
    pub connection: Option<Connection>,
    pub bandwidths: Vec<Bandwidth>,
    /// Media-level `k=`, verbatim.
    pub encryption_key: Option<String>,
    pub attributes: Vec<Attribute>,
}

/// Every [`Direction`], for reading one back from its attribute name.
const DIRECTIONS: [Direction; 4] = [
    Direction::SendRecv,
    Direction::SendOnly,
    Direction::RecvOnly,
    Direction::Inactive,
];

/// The direction an attribute name (`sendrecv`, ...) writes, if it is one: the inverse of
/// [`Direction::attribute`], so the names are spelt in one place only.
fn direction_named(name: &str) -> Option<Direction> {
    DIRECTIONS.into_iter().find(|d| d.attribute() == name)
}

/// The direction attributes of RFC 3264 §5.1 / RFC 4566 §6 among `attributes` (the last one
/// wins).
fn direction_in(attributes: &[Attribute]) -> Option<Direction> {
    attributes
        .iter()
        .rev()
        .find_map(|a| direction_named(&a.name))
}

fn attribute<'a>(attributes: &'a [Attribute], name: &str) -> Option<&'a str> {
    attributes
        .iter()
        .find(|a| a.name.eq_ignore_ascii_case(name))
        .and_then(|a| a.value.as_deref())
}

impl SessionDescription {
    /// The session-level direction attribute, if any.
    pub fn direction(&self) -> Option<Direction> {
        direction_in(&self.attributes)
    }

    /// The first session-level attribute with this name (its value).
    pub fn attribute(&self, name: &str) -> Option<&str> {
        attribute(&self.attributes, name)
    }
}

impl MediaDescription {
    /// The first attribute with this name (its value).
    pub fn attribute(&self, name: &str) -> Option<&str> {
        attribute(&self.attributes, name)
    }

    /// Every well-formed `a=rtpmap`.
    pub fn rtpmaps(&self) -> impl Iterator<Item = RtpMap> + '_ {
        self.attributes
            .iter()
            .filter(|a| a.name.eq_ignore_ascii_case("rtpmap"))
            .filter_map(|a| RtpMap::parse(a.value.as_deref()?))
    }

    /// The `a=rtpmap` of a payload type.
    pub fn rtpmap(&self, payload_type: u8) -> Option<RtpMap> {
        self.rtpmaps().find(|m| m.payload_type == payload_type)
    }

    /// The `a=fmtp` parameters of a payload type (RFC 4566 §6).
    pub fn fmtp(&self, payload_type: u8) -> Option<&str> {
        self.attributes
            .iter()
            .filter(|a| a.name.eq_ignore_ascii_case("fmtp"))
            .filter_map(|a| a.value.as_deref())
            .find_map(|v| {
                let (pt, params) = v
                    .trim()
                    .split_once(char::is_whitespace)
                    .unwrap_or((v.trim(), ""));
                (pt.parse::<u8>().ok() == Some(payload_type)).then_some(params.trim())
            })
    }

    /// `a=ptime` in milliseconds (RFC 4566 §6; a fractional value is rounded down).
    pub fn ptime(&self) -> Option<u32> {
        parse_ptime(self.attribute("ptime")?)
    }

    /// The media-level direction attribute, if any.
    pub fn direction(&self) -> Option<Direction> {
        direction_in(&self.attributes)
    }

    /// The formats that are RTP payload type numbers (0..=127, RFC 3550 §5.1), in order.
    pub fn payload_types(&self) -> impl Iterator<Item = u8> + '_ {
        self.formats
            .iter()
            .filter_map(|f| f.parse().ok())
            .filter(|pt| *pt <= 127)
    }
}

fn parse_ptime(value: &str) -> Option<u32> {
    let whole = value.trim().split('.').next()?;
    whole.parse().ok().filter(|ms| (1..=1000).contains(ms))
}

impl fmt::Display for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.net_type, self.addr_type, self.address)
    }
}

impl fmt::Display for Attribute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.value {
            Some(value) => write!(f, "a={}:{}\r\n", self.name, value),
            None => write!(f, "a={}\r\n", self.name),
        }
    }
}

impl fmt::Display for SessionDescription {
    /// CRLF lines in the order of RFC 4566 §5: v o s i u e p c b t r z k a, then each m= with
    /// its i c b k a.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = &self.origin;
        write!(f, "v={}\r\n", self.version)?;
        write!(
            f,
            "o={} {} {} {} {} {}\r\n",
            o.username, o.session_id, o.session_version, o.net_type, o.addr_type, o.address
        )?;
        write!(f, "s={}\r\n", self.session_name)?;
        if let Some(information) = &self.information {
            write!(f, "i={information}\r\n")?;
        }
        if let Some(uri) = &self.uri {
            write!(f, "u={uri}\r\n")?;
        }
        for email in &self.emails {
            write!(f, "e={email}\r\n")?;
        }
        for phone in &self.phones {
            write!(f, "p={phone}\r\n")?;
        }
        if let Some(connection) = &self.connection {
            write!(f, "c={connection}\r\n")?;
        }
        for b in &self.bandwidths {
            write!(f, "b={}:{}\r\n", b.bwtype, b.bandwidth)?;
        }
        if self.times.is_empty() {
            f.write_str("t=0 0\r\n")?;
        }
        for t in &self.times {
            write!(f, "t={} {}\r\n", t.start, t.stop)?;
            for r in &t.repeats {
                write!(f, "r={r}\r\n")?;
            }
        }
        if let Some(zones) = &self.time_zones {
            write!(f, "z={zones}\r\n")?;
        }
        if let Some(key) = &self.encryption_key {
            write!(f, "k={key}\r\n")?;
        }
        for a in &self.attributes {
            write!(f, "{a}")?;
        }
        for m in &self.media {
            write!(f, "m={} {}", m.media, m.port)?;
            if let Some(count) = m.port_count {
                write!(f, "/{count}")?;
            }
            write!(f, " {}", m.proto)?;
            for format in &m.formats {
                write!(f, " {format}")?;
            }
            f.write_str("\r\n")?;
            if let Some(title) = &m.title {
                write!(f, "i={title}\r\n")?;
            }
            if let Some(connection) = &m.connection {
                write!(f, "c={connection}\r\n")?;
            }
            for b in &m.bandwidths {
                write!(f, "b={}:{}\r\n", b.bwtype, b.bandwidth)?;
            }
            if let Some(key) = &m.encryption_key {
                write!(f, "k={key}\r\n")?;
            }
            for a in &m.attributes {
                write!(f, "{a}")?;
            }
        }
        Ok(())
    }
}
