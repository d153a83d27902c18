//! Splits a message into start line, unfolded header fields and body (RFC 3261 §7, §7.3.1),
//! accepting bare LF line endings.

use super::error::ParseError;
use super::syntax::{excerpt, is_token_byte};

/// One header field as received: name as written (trimmed), value unfolded and trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawHeader {
    pub name: String,
    pub value: String,
}

/// A message cut into its parts, nothing interpreted yet.
#[derive(Debug)]
pub(crate) struct RawMessage<'a> {
    pub start_line: &'a [u8],
    pub headers: Vec<RawHeader>,
    /// Everything after the empty line (empty if there was none).
    pub body: &'a [u8],
}

/// How to treat lines that are not header fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Refuse them ([`parse`](super::parse)).
    Strict,
    /// Skip them (salvaging a broken request for an error response).
    Lenient,
}

/// Splits `data`. Leading CRLFs are ignored (RFC 3261 §7.5). Lines end in CRLF or bare LF; a
/// line starting with SP or HT continues the previous header field and the line break with its
/// surrounding whitespace becomes one SP (RFC 3261 §7.3.1). A message without an empty line has
/// an empty body.
pub(crate) fn split(data: &[u8], mode: Mode) -> Result<RawMessage<'_>, ParseError> {
    let mut pos = data
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .ok_or(ParseError::Empty)?;
    let mut lines: Vec<&[u8]> = Vec::new();
    let body_start = loop {
        let (line, next) = match data[pos..].iter().position(|&b| b == b'\n') {
            Some(offset) => (&data[pos..pos + offset], pos + offset + 1),
            None => (&data[pos..], data.len()),
        };
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        pos = next;
        if line.is_empty() {
            break pos;
        }
        lines.push(line);
        if pos >= data.len() {
            break data.len();
        }
    };
    let (start_line, header_lines) = lines.split_first().ok_or(ParseError::Empty)?;

    let mut fields: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    for line in header_lines {
        if line.contains(&b'\r') {
            if mode == Mode::Strict {
                return Err(ParseError::MalformedHeaderLine(format!(
                    "bare CR in '{}'",
                    excerpt(&String::from_utf8_lossy(line))
                )));
            }
            continue;
        }
        if line[0] == b' ' || line[0] == b'\t' {
            match fields.last_mut() {
                Some((_, value)) => {
                    let continuation = trim_wsp(line);
                    while matches!(value.last(), Some(b' ' | b'\t')) {
                        value.pop();
                    }
                    if !value.is_empty() && !continuation.is_empty() {
                        value.push(b' ');
                    }
                    value.extend_from_slice(continuation);
                }
                None if mode == Mode::Strict => {
                    return Err(ParseError::MalformedHeaderLine(
                        "continuation line before the first header".to_owned(),
                    ));
                }
                None => {}
            }
            continue;
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            if mode == Mode::Strict {
                return Err(ParseError::MalformedHeaderLine(format!(
                    "no ':' in '{}'",
                    excerpt(&String::from_utf8_lossy(line))
                )));
            }
            continue;
        };
        let name = trim_wsp(&line[..colon]);
        if name.is_empty() || !name.iter().copied().all(is_token_byte) {
            if mode == Mode::Strict {
                return Err(ParseError::MalformedHeaderLine(format!(
                    "bad header name '{}'",
                    excerpt(&String::from_utf8_lossy(name))
                )));
            }
            continue;
        }
        fields.push((name.to_vec(), line[colon + 1..].to_vec()));
    }

    let headers = fields
        .into_iter()
        .map(|(name, value)| RawHeader {
            // Names are ASCII tokens: lossless.
            name: String::from_utf8_lossy(&name).into_owned(),
            value: String::from_utf8_lossy(trim_wsp(&value)).into_owned(),
        })
        .collect();
    Ok(RawMessage {
        start_line,
        headers,
        body: &data[body_start.min(data.len())..],
    })
}

fn trim_wsp_start(s: &[u8]) -> &[u8] {
    let start = s
        .iter()
        .position(|&b| b != b' ' && b != b'\t')
        .unwrap_or(s.len());
    &s[start..]
}

fn trim_wsp(s: &[u8]) -> &[u8] {
    let s = trim_wsp_start(s);
    let end = s
        .iter()
        .rposition(|&b| b != b' ' && b != b'\t')
        .map_or(0, |i| i + 1);
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unfolds_and_accepts_lf() {
        let msg =
            b"\r\n\nOPTIONS sip:a@b SIP/2.0\nSubject: one\n  two\r\n\tthree \nX:\n y\n\nbody\n";
        let raw = split(msg, Mode::Strict).unwrap();
        assert_eq!(raw.start_line, b"OPTIONS sip:a@b SIP/2.0");
        assert_eq!(raw.headers.len(), 2);
        assert_eq!(raw.headers[0].value, "one two three");
        assert_eq!(raw.headers[1].value, "y");
        assert_eq!(raw.body, b"body\n");
    }

    #[test]
    fn strict_refuses_what_lenient_skips() {
        let msg = b"OPTIONS sip:a@b SIP/2.0\r\n folded\r\nnocolon\r\nVia: x\r\n\r\n";
        assert!(split(msg, Mode::Strict).is_err());
        let raw = split(msg, Mode::Lenient).unwrap();
        assert_eq!(raw.headers.len(), 1);
        assert!(matches!(
            split(b"\r\n\r\n", Mode::Strict),
            Err(ParseError::Empty)
        ));
    }
}
