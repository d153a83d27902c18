//! How a leg binds and how long it waits.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

/// The configuration of one [`WebRtcLeg`](crate::WebRtcLeg).
#[derive(Debug, Clone)]
pub struct LegConfig {
    /// The address the browser-facing ICE/DTLS/SRTP socket binds (port chosen by the system).
    pub bind: IpAddr,
    /// The address advertised as the host candidate instead of `bind` when the server sits
    /// behind a 1:1 NAT (RFC 8445 §5.1.1.2 leaves "host" candidates to the deployment).
    pub public_addr: Option<IpAddr>,
    /// The address the plain RTP socket (toward the media engine) binds; loopback.
    pub plain_bind: IpAddr,
    /// Where decrypted RTP from the browser goes (the media engine leg's RTP address); can be
    /// set later with [`WebRtcLeg::set_plain_peer`](crate::WebRtcLeg::set_plain_peer).
    pub plain_peer: Option<SocketAddr>,
    /// ICE and DTLS must be complete this long after the answer, or the leg closes itself.
    pub establish_timeout: Duration,
    /// Once connected, ICE consent (RFC 7675) missing this long marks the leg failed and closes
    /// it.
    pub consent_timeout: Duration,
}

impl Default for LegConfig {
    fn default() -> Self {
        LegConfig {
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            public_addr: None,
            plain_bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            plain_peer: None,
            establish_timeout: Duration::from_secs(10),
            consent_timeout: Duration::from_secs(30),
        }
    }
}
