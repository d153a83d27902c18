//! The SDP reader (RFC 4566 §5).

use super::{
    Attribute, Bandwidth, Connection, MediaDescription, OriginLine, SessionDescription, Timing,
};

/// Why a session description could not be read. Messages say what was expected and what came.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SdpError {
    /// No lines at all.
    #[error("empty session description")]
    Empty,
    /// RFC 4566 §5: every line is `<type>=<value>` with a one-letter type.
    #[error("line {line}: expected '<letter>=<value>', found '{text}'")]
    MalformedLine { line: usize, text: String },
    /// RFC 4566 §5.1: the first line must be `v=0`.
    #[error("line {line}: expected 'v=0' first, found '{text}'")]
    Version { line: usize, text: String },
    /// A mandatory line is absent.
    #[error("missing {0}= line")]
    Missing(&'static str),
    /// RFC 4566 §5.2.
    #[error("o= line {line}: {message}")]
    Origin { line: usize, message: String },
    /// RFC 4566 §5.7.
    #[error("c= line {line}: {message}")]
    Connection { line: usize, message: String },
    /// RFC 4566 §5.9.
    #[error("t= line {line}: {message}")]
    Timing { line: usize, message: String },
    /// RFC 4566 §5.14; `index` counts m= lines from 1.
    #[error("m= line {index}: {message}")]
    Media { index: usize, message: String },
}

fn excerpt(s: &str) -> String {
    let mut out: String = s.chars().take(60).flat_map(char::escape_debug).collect();
    if s.chars().count() > 60 {
        out.push('…');
    }
    out
}

/// Reads a session description: LF or CRLF line ends, empty lines ignored, unknown line types
/// ignored, unknown attributes kept; `v=0` first, `o=` required, `s=` and `t=` optional (many
/// peers get them wrong), `c=`, `t=` and `m=` lines must be well formed.
pub fn parse(text: &str) -> Result<SessionDescription, SdpError> {
    let mut lines = text
        .split('\n')
        .map(|line| line.strip_suffix('\r').unwrap_or(line))
        .enumerate()
        .map(|(i, line)| (i + 1, line))
        .filter(|(_, line)| !line.is_empty());

    let (first_no, first) = lines.next().ok_or(SdpError::Empty)?;
    let version = first
        .strip_prefix("v=")
        .and_then(|v| v.trim().parse::<u32>().ok())
        .filter(|v| *v == 0)
        .ok_or_else(|| SdpError::Version {
            line: first_no,
            text: excerpt(first),
        })?;

    let mut origin = None;
    let mut sdp = SessionDescription {
        version,
        origin: OriginLine {
            username: String::new(),
            session_id: String::new(),
            session_version: String::new(),
            net_type: String::new(),
            addr_type: String::new(),
            address: String::new(),
        },
        session_name: "-".to_owned(),
        information: None,
        uri: None,
        emails: Vec::new(),
        phones: Vec::new(),
        connection: None,
        bandwidths: Vec::new(),
        times: Vec::new(),
        time_zones: None,
        encryption_key: None,
        attributes: Vec::new(),
        media: Vec::new(),
    };
    let mut session_name_seen = false;

    for (line_no, line) in lines {
        let bytes = line.as_bytes();
        if bytes.len() < 2 || bytes[1] != b'=' || !bytes[0].is_ascii_alphabetic() {
            return Err(SdpError::MalformedLine {
                line: line_no,
                text: excerpt(line),
            });
        }
        let kind = bytes[0];
        let value = &line[2..];
        if kind == b'm' {
            let index = sdp.media.len() + 1;
            sdp.media.push(parse_media(index, value)?);
            continue;
        }
        if let Some(m) = sdp.media.last_mut() {
            match kind {
                b'i' => m.title = m.title.take().or_else(|| Some(value.to_owned())),
                b'c' => {
                    let connection = parse_connection(line_no, value)?;
                    m.connection.get_or_insert(connection);
                }
                b'b' => m.bandwidths.extend(parse_bandwidth(value)),
                b'k' => {
                    m.encryption_key = m.encryption_key.take().or_else(|| Some(value.to_owned()))
                }
                b'a' => m.attributes.push(parse_attribute(value)),
                // Session-level lines after the first m= are out of place: ignored.
                _ => {}
            }
            continue;
        }
        match kind {
            b'v' => {
                return Err(SdpError::MalformedLine {
                    line: line_no,
                    text: excerpt(line),
                });
            }
            b'o' if origin.is_none() => origin = Some(parse_origin(line_no, value)?),
            b's' if !session_name_seen => {
                session_name_seen = true;
                sdp.session_name = value.to_owned();
            }
            b'i' => sdp.information = sdp.information.take().or_else(|| Some(value.to_owned())),
            b'u' => sdp.uri = sdp.uri.take().or_else(|| Some(value.to_owned())),
            b'e' => sdp.emails.push(value.to_owned()),
            b'p' => sdp.phones.push(value.to_owned()),
            b'c' => {
                let connection = parse_connection(line_no, value)?;
                sdp.connection.get_or_insert(connection);
            }
            b'b' => sdp.bandwidths.extend(parse_bandwidth(value)),
            b't' => sdp.times.push(parse_timing(line_no, value)?),
            b'r' => {
                if let Some(t) = sdp.times.last_mut() {
                    t.repeats.push(value.to_owned());
                }
            }
            b'z' => sdp.time_zones = sdp.time_zones.take().or_else(|| Some(value.to_owned())),
            b'k' => {
                sdp.encryption_key = sdp.encryption_key.take().or_else(|| Some(value.to_owned()))
            }
            b'a' => sdp.attributes.push(parse_attribute(value)),
            // Unknown types (and repeated o=/s=) are ignored (RFC 4566 §5: "SHOULD ignore").
            _ => {}
        }
    }
    sdp.origin = origin.ok_or(SdpError::Missing("o"))?;
    if sdp.times.is_empty() {
        // RFC 4566 §5.9 requires one; "t=0 0" is what a missing one means in practice.
        sdp.times.push(Timing {
            start: 0,
            stop: 0,
            repeats: Vec::new(),
        });
    }
    Ok(sdp)
}

fn parse_origin(line: usize, value: &str) -> Result<OriginLine, SdpError> {
    let fields: Vec<&str> = value.split_whitespace().collect();
    let [
        username,
        session_id,
        session_version,
        net_type,
        addr_type,
        address,
    ] = fields[..]
    else {
        return Err(SdpError::Origin {
            line,
            message: format!(
                "expected 6 fields, found {} in '{}'",
                fields.len(),
                excerpt(value)
            ),
        });
    };
    Ok(OriginLine {
        username: username.to_owned(),
        session_id: session_id.to_owned(),
        session_version: session_version.to_owned(),
        net_type: net_type.to_owned(),
        addr_type: addr_type.to_owned(),
        address: address.to_owned(),
    })
}

fn parse_connection(line: usize, value: &str) -> Result<Connection, SdpError> {
    let fields: Vec<&str> = value.split_whitespace().collect();
    let [net_type, addr_type, address] = fields[..] else {
        return Err(SdpError::Connection {
            line,
            message: format!(
                "expected '<nettype> <addrtype> <address>', found '{}'",
                excerpt(value)
            ),
        });
    };
    Ok(Connection {
        net_type: net_type.to_owned(),
        addr_type: addr_type.to_owned(),
        address: address.to_owned(),
    })
}

/// Malformed `b=` lines are dropped: bandwidth is advisory.
fn parse_bandwidth(value: &str) -> Option<Bandwidth> {
    let (bwtype, bandwidth) = value.split_once(':')?;
    Some(Bandwidth {
        bwtype: bwtype.to_owned(),
        bandwidth: bandwidth.trim().parse().ok()?,
    })
}

fn parse_timing(line: usize, value: &str) -> Result<Timing, SdpError> {
    let fields: Vec<&str> = value.split_whitespace().collect();
    let parsed = match fields[..] {
        [start, stop] => start.parse().ok().zip(stop.parse().ok()),
        _ => None,
    };
    let (start, stop) = parsed.ok_or_else(|| SdpError::Timing {
        line,
        message: format!(
            "expected '<start> <stop>' numbers, found '{}'",
            excerpt(value)
        ),
    })?;
    Ok(Timing {
        start,
        stop,
        repeats: Vec::new(),
    })
}

fn parse_attribute(value: &str) -> Attribute {
    match value.split_once(':') {
        Some((name, value)) => Attribute {
            name: name.to_owned(),
            value: Some(value.to_owned()),
        },
        None => Attribute {
            name: value.to_owned(),
            value: None,
        },
    }
}

fn parse_media(index: usize, value: &str) -> Result<MediaDescription, SdpError> {
    let fail = |message: String| SdpError::Media { index, message };
    let mut fields = value.split_whitespace();
    let (Some(media), Some(port), Some(proto)) = (fields.next(), fields.next(), fields.next())
    else {
        return Err(fail(format!(
            "expected '<media> <port> <proto> <fmt> ...', found '{}'",
            excerpt(value)
        )));
    };
    let (port, port_count) = match port.split_once('/') {
        Some((port, count)) => (port, Some(count)),
        None => (port, None),
    };
    let port: u16 = port
        .parse()
        .map_err(|_| fail(format!("port '{}' is not a number", excerpt(port))))?;
    let port_count = port_count
        .map(|count| {
            count
                .parse::<u16>()
                .map_err(|_| fail(format!("port count '{}' is not a number", excerpt(count))))
        })
        .transpose()?;
    let formats: Vec<String> = fields.map(str::to_owned).collect();
    if formats.is_empty() && port != 0 {
        return Err(fail("no formats".to_owned()));
    }
    Ok(MediaDescription {
        media: media.to_owned(),
        port,
        port_count,
        proto: proto.to_owned(),
        formats,
        title: None,
        connection: None,
        bandwidths: Vec::new(),
        encryption_key: None,
        attributes: Vec::new(),
    })
}
