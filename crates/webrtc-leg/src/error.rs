//! Why an offer was refused or a leg could not be set up.

/// An offer (or, for a leg that made the offer, an answer) refused, or a leg that could not be
/// built. Each variant says what was expected and
/// what came.
#[derive(Debug, thiserror::Error)]
pub enum LegError {
    #[error("the SDP has no audio m-line (expected one audio section with PCMU or PCMA)")]
    NoAudio,
    #[error("the SDP's audio is on {proto:?}, expected UDP/TLS/RTP/SAVPF (DTLS-SRTP, RFC 5764 §8)")]
    NotDtlsSrtp { proto: String },
    #[error(
        "the SDP has no a=fingerprint (RFC 8122 §5): a DTLS-SRTP peer must pin its certificate"
    )]
    NoFingerprint,
    #[error("the SDP's audio has no PCMU or PCMA (listed: {offered})")]
    NoG711 { offered: String },
    #[error("binding {what} on {addr}: {source}")]
    Bind {
        what: &'static str,
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("the WebRTC stack refused the SDP: {0}")]
    Negotiation(String),
    #[error("no local ICE candidate gathered within {0:?}")]
    GatheringTimeout(std::time::Duration),
}

impl From<rtc::shared::error::Error> for LegError {
    fn from(error: rtc::shared::error::Error) -> Self {
        LegError::Negotiation(error.to_string())
    }
}
