//! Why an offer was refused or a leg could not be set up.

/// An offer refused, or a leg that could not be built. Each variant says what was expected and
/// what came.
#[derive(Debug, thiserror::Error)]
pub enum LegError {
    #[error("the offer has no audio m-line (expected one audio section with PCMU or PCMA)")]
    NoAudio,
    #[error(
        "the offer's audio is on {proto:?}, expected UDP/TLS/RTP/SAVPF (DTLS-SRTP, RFC 5764 §8)"
    )]
    NotDtlsSrtp { proto: String },
    #[error(
        "the offer has no a=fingerprint (RFC 8122 §5): a DTLS-SRTP peer must pin its certificate"
    )]
    NoFingerprint,
    #[error("the offer's audio has no PCMU or PCMA (offered: {offered})")]
    NoG711 { offered: String },
    #[error("binding {what} on {addr}: {source}")]
    Bind {
        what: &'static str,
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("the WebRTC stack refused the offer: {0}")]
    Negotiation(String),
    #[error("no local ICE candidate gathered within {0:?}")]
    GatheringTimeout(std::time::Duration),
}

impl From<rtc::shared::error::Error> for LegError {
    fn from(error: rtc::shared::error::Error) -> Self {
        LegError::Negotiation(error.to_string())
    }
}
