//! Why a message was refused.

use super::syntax::ascii_phrase;

/// Why [`parse`](super::parse) refused a message. [`reason`](Self::reason) is a short phrase
/// fit for the Status-Line of the error response, [`status_code`](Self::status_code) the code
/// to answer a request with (RFC 3261 §8.2, §21).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// Nothing but whitespace and line breaks.
    #[error("empty message")]
    Empty,
    /// The first line is neither a Request-Line nor a Status-Line (RFC 3261 §7.1, §7.2).
    #[error("not a SIP message: {0}")]
    NotSip(String),
    /// RFC 3261 §7.1: `Method SP Request-URI SP SIP-Version CRLF`, single spaces.
    #[error("malformed Request-Line: {0}")]
    MalformedRequestLine(String),
    /// RFC 3261 §7.2: `SIP-Version SP Status-Code SP Reason-Phrase CRLF`.
    #[error("malformed Status-Line: {0}")]
    MalformedStatusLine(String),
    /// The Request-URI is not a URI we can route on (RFC 3261 §19.1.1: no headers in it).
    #[error("malformed Request-URI: {0}")]
    MalformedRequestUri(String),
    /// RFC 3261 §8.2.2.1: answer 416.
    #[error("unsupported URI scheme '{0}' in Request-URI")]
    UnsupportedUriScheme(String),
    /// RFC 3261 §21.5.6: answer 505.
    #[error("unsupported SIP version '{0}'")]
    UnsupportedVersion(String),
    /// A syntactically valid request with a method we do not know (RFC 3261 §8.2.1, answer 501).
    #[error("method '{0}' is not implemented")]
    UnknownMethod(String),
    /// A header line without `name:` or a continuation line with nothing to continue.
    #[error("malformed header line: {0}")]
    MalformedHeaderLine(String),
    /// RFC 3261 §8.1.1: a mandatory header is absent.
    #[error("missing {0} header")]
    MissingHeader(&'static str),
    /// A header that must appear once appears more than once (RFC 4475 §3.3.9, §3.3.10).
    #[error("more than one {0} header")]
    DuplicateHeader(&'static str),
    /// A header we rely on does not follow its grammar.
    #[error("malformed {name} header: {detail}")]
    MalformedHeader {
        /// Canonical header name.
        name: &'static str,
        /// What was wrong, with an excerpt of the value.
        detail: String,
    },
    /// RFC 3261 §8.1.1.5: the CSeq method must equal the request method.
    #[error("CSeq method '{cseq}' does not match request method '{method}'")]
    CSeqMethodMismatch {
        /// Method of the Request-Line.
        method: String,
        /// Method of the CSeq header.
        cseq: String,
    },
    /// RFC 3261 §18.3: the body is shorter than Content-Length says.
    #[error("Content-Length {content_length} exceeds body of {body} bytes")]
    BodyTooShort {
        /// The announced length.
        content_length: usize,
        /// The bytes actually present.
        body: usize,
    },
    /// `rsip` refused the normalised message (a construct it does not support, e.g. an IPv6
    /// Request-URI).
    #[error("rsip rejected the message: {0}")]
    Rejected(String),
    /// `rsip` panicked on the normalised message; the panic was contained.
    #[error("rsip panicked while parsing the message")]
    ParserPanicked,
}

impl ParseError {
    /// A short reason phrase for the error response: ASCII, no CR/LF, at most 100 characters
    /// (RFC 3261 §25.1 `Reason-Phrase`), e.g. "Missing Call-ID header", "Malformed CSeq".
    pub fn reason(&self) -> String {
        let phrase = match self {
            Self::Empty => "Empty message".to_owned(),
            Self::NotSip(_) => "Not a SIP message".to_owned(),
            Self::MalformedRequestLine(_) => "Malformed Request-Line".to_owned(),
            Self::MalformedStatusLine(_) => "Malformed Status-Line".to_owned(),
            Self::MalformedRequestUri(_) => "Malformed Request-URI".to_owned(),
            Self::UnsupportedUriScheme(_) => "Unsupported URI Scheme".to_owned(),
            Self::UnsupportedVersion(_) => "Version Not Supported".to_owned(),
            Self::UnknownMethod(_) => "Not Implemented".to_owned(),
            Self::MalformedHeaderLine(_) => "Malformed header line".to_owned(),
            Self::MissingHeader(name) => format!("Missing {name} header"),
            Self::DuplicateHeader(name) => format!("Multiple {name} headers"),
            Self::MalformedHeader { name, .. } => format!("Malformed {name}"),
            Self::CSeqMethodMismatch { .. } => "CSeq method does not match Request-Line".to_owned(),
            Self::BodyTooShort {
                content_length,
                body,
            } => format!("Content-Length {content_length} exceeds body of {body} bytes"),
            Self::Rejected(_) | Self::ParserPanicked => "Malformed message".to_owned(),
        };
        ascii_phrase(&phrase, 100)
    }

    /// The status code to answer a request that failed this way: 400, except 416 (unsupported
    /// Request-URI scheme, RFC 3261 §8.2.2.1), 501 (unknown method, §8.2.1) and 505 (version).
    pub fn status_code(&self) -> u16 {
        match self {
            Self::UnsupportedUriScheme(_) => 416,
            Self::UnknownMethod(_) => 501,
            Self::UnsupportedVersion(_) => 505,
            _ => 400,
        }
    }
}
