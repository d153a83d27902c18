//! Message framing on stream transports (RFC 3261 §18.3): the header section ends at the first
//! empty line, the body is exactly Content-Length bytes.

use super::lines::{Mode, split};
use super::names;
use super::syntax::excerpt;

/// Why a stream can no longer be framed. The connection should be closed: there is no way to
/// find the start of the next message (RFC 3261 §18.3).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// No end of the header section within the limit.
    #[error("header section exceeds {limit} bytes")]
    HeaderTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// Content-Length above the limit.
    #[error("Content-Length {length} exceeds the limit of {limit} bytes")]
    BodyTooLarge {
        /// The announced length.
        length: usize,
        /// The limit in bytes.
        limit: usize,
    },
    /// RFC 3261 §18.3: on a stream, Content-Length is mandatory.
    #[error("message without Content-Length on a stream transport")]
    MissingContentLength,
    /// Content-Length is not a number, or two of them disagree.
    #[error("invalid Content-Length: {0}")]
    InvalidContentLength(String),
}

/// Cuts a TCP (or TLS) byte stream into whole SIP messages.
///
/// Feed received bytes with [`push`](Self::push), then call
/// [`next_message`](Self::next_message) until it returns `None`. CRLF keep-alives between
/// messages are skipped (RFC 5626 §3.5.1); the double-CRLF pings among them are counted so the
/// transport can answer each with a single CRLF pong ([`take_pings`](Self::take_pings)). After
/// an error the framer stays failed: `push` ignores input and `next_message` returns `None`.
#[derive(Debug)]
pub struct StreamFramer {
    buf: Vec<u8>,
    /// How far `buf` was searched for the end of the header section without finding it.
    scanned: usize,
    /// Length of the message at the front of `buf` once its header section has been read, so
    /// a body trickling in byte by byte does not re-read the headers each time.
    expected: Option<usize>,
    max_header: usize,
    max_body: usize,
    /// CRLFs seen since the last message or ping.
    crlf_run: usize,
    pings: usize,
    failed: bool,
}

impl Default for StreamFramer {
    fn default() -> Self {
        Self::new()
    }
}

impl StreamFramer {
    /// Default limit on the header section: 64 KiB.
    pub const DEFAULT_MAX_HEADER: usize = 64 * 1024;
    /// Default limit on a body: 1 MiB.
    pub const DEFAULT_MAX_BODY: usize = 1024 * 1024;

    /// A framer with the default limits.
    pub fn new() -> Self {
        Self::with_limits(Self::DEFAULT_MAX_HEADER, Self::DEFAULT_MAX_BODY)
    }

    /// A framer with explicit limits on the header section and on the body, in bytes.
    pub fn with_limits(max_header: usize, max_body: usize) -> Self {
        StreamFramer {
            buf: Vec::new(),
            scanned: 0,
            expected: None,
            max_header,
            max_body,
            crlf_run: 0,
            pings: 0,
            failed: false,
        }
    }

    /// Appends bytes received from the stream.
    pub fn push(&mut self, bytes: &[u8]) {
        if !self.failed {
            self.buf.extend_from_slice(bytes);
        }
    }

    /// Bytes buffered and not yet returned as a message.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// How many double-CRLF keep-alive pings arrived since the last call (RFC 5626 §3.5.1:
    /// answer each with one CRLF).
    pub fn take_pings(&mut self) -> usize {
        std::mem::take(&mut self.pings)
    }

    /// The next whole message (start line, headers and exactly Content-Length body bytes), or
    /// `None` if more bytes are needed. An error means the stream is unusable; close it.
    pub fn next_message(&mut self) -> Option<Result<Vec<u8>, FrameError>> {
        if self.failed {
            return None;
        }
        self.skip_keepalives();
        if self.buf.is_empty() {
            return None;
        }
        let result = self.frame()?;
        if result.is_err() {
            self.failed = true;
            self.buf = Vec::new();
        }
        Some(result)
    }

    fn skip_keepalives(&mut self) {
        let mut skip = 0;
        while skip < self.buf.len() {
            match self.buf[skip] {
                b'\n' => {
                    self.crlf_run += 1;
                    if self.crlf_run == 2 {
                        self.pings += 1;
                        self.crlf_run = 0;
                    }
                }
                b'\r' => {}
                _ => break,
            }
            skip += 1;
        }
        if skip > 0 {
            self.buf.drain(..skip);
            self.scanned = 0;
        }
    }

    fn frame(&mut self) -> Option<Result<Vec<u8>, FrameError>> {
        let total = match self.expected {
            Some(total) => total,
            None => match self.read_head()? {
                Ok(total) => {
                    self.expected = Some(total);
                    total
                }
                Err(e) => return Some(Err(e)),
            },
        };
        if self.buf.len() < total {
            return None;
        }
        let message: Vec<u8> = self.buf.drain(..total).collect();
        self.scanned = 0;
        self.expected = None;
        self.crlf_run = 0;
        Some(Ok(message))
    }

    /// The total length of the message at the front of `buf`, once its header section is in.
    fn read_head(&mut self) -> Option<Result<usize, FrameError>> {
        let Some(head_len) = self.find_header_end() else {
            if self.buf.len() > self.max_header {
                return Some(Err(FrameError::HeaderTooLarge {
                    limit: self.max_header,
                }));
            }
            return None;
        };
        if head_len > self.max_header {
            return Some(Err(FrameError::HeaderTooLarge {
                limit: self.max_header,
            }));
        }
        let length = match content_length(&self.buf[..head_len]) {
            Ok(length) => length,
            Err(e) => return Some(Err(e)),
        };
        if length > self.max_body {
            return Some(Err(FrameError::BodyTooLarge {
                length,
                limit: self.max_body,
            }));
        }
        Some(Ok(head_len + length))
    }

    /// Length of the header section including the empty line (CRLF CRLF, or bare LFs).
    fn find_header_end(&mut self) -> Option<usize> {
        let start = self.scanned;
        let buf = &self.buf;
        let mut i = start;
        while let Some(offset) = buf[i..].iter().position(|&b| b == b'\n') {
            let nl = i + offset;
            match buf.get(nl + 1..) {
                Some([b'\n', ..]) => return Some(nl + 2),
                Some([b'\r', b'\n', ..]) => return Some(nl + 3),
                _ => {}
            }
            i = nl + 1;
        }
        // Resume where an end could still begin: the last two bytes may start "\n\r\n".
        self.scanned = buf.len().saturating_sub(2).max(start);
        None
    }
}

/// The Content-Length of a header section (full or compact name, folded or not).
fn content_length(head: &[u8]) -> Result<usize, FrameError> {
    let raw = split(head, Mode::Lenient).map_err(|_| FrameError::MissingContentLength)?;
    let mut found: Option<usize> = None;
    for header in raw
        .headers
        .iter()
        .filter(|h| names::is(&h.name, "Content-Length"))
    {
        let value = header.value.as_str();
        if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
            return Err(FrameError::InvalidContentLength(excerpt(value)));
        }
        let length: usize = value
            .parse()
            .map_err(|_| FrameError::InvalidContentLength(excerpt(value)))?;
        if found.is_some_and(|previous| previous != length) {
            return Err(FrameError::InvalidContentLength(
                "conflicting Content-Length headers".to_owned(),
            ));
        }
        found = Some(length);
    }
    found.ok_or(FrameError::MissingContentLength)
}
