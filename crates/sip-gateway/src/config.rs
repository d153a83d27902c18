//! The `[sip]` and `[registrar]` sections of the configuration file, their validation, and
//! the [`GatewayConfig`] they give. The file's envelope (TOML syntax, line numbers, the other
//! sections) is the application's; this crate owns what its sections say.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;

use crate::auth::{Algorithm, Credentials};
use crate::gateway::GatewayConfig;
use crate::registrar::RegistrarConfig;
use crate::transaction::TimerConfig;
use crate::transport::ws::WsLimits;
use crate::transport::{ConnectionTimeouts, TcpLimits};
use crate::ua::UserAgentConfig;

/// One problem in `[sip]` or `[registrar]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// The key, from the top of the file: `sip.t2_ms`, `registrar.algorithms[1]`.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

fn problem(path: impl Into<String>, message: impl Into<String>) -> ConfigProblem {
    ConfigProblem {
        path: path.into(),
        message: message.into(),
    }
}

/// `[sip]`: the trunk's transport, timers and admission.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SipSection {
    /// UDP and TCP address of the trunk.
    pub listen: SocketAddr,
    /// RFC 3261 §17.1.1.1 timer base values, in milliseconds.
    pub t1_ms: u64,
    pub t2_ms: u64,
    pub t4_ms: u64,
    /// Calls beyond this are refused with 503.
    pub max_calls: usize,
    /// Networks allowed to send SIP requests (the PBX/carrier, agents' phones); requests from
    /// anywhere else are dropped unanswered.
    pub allow_from: Vec<ipnet::IpNet>,
    /// TCP connections accepted at once, in all and from one address.
    pub tcp_max_connections: usize,
    pub tcp_max_connections_per_address: usize,
    /// An accepted TCP connection that has not delivered a valid SIP message this long after
    /// it opened is closed.
    pub tcp_first_message_timeout_s: u64,
    /// A TCP connection that carried a valid message is closed after this long idle.
    pub tcp_idle_timeout_s: u64,
    /// SIP over WebSocket (RFC 7118, `/ws` on the web listener): WebSockets open at once
    /// (beyond it the upgrade gets 503).
    pub ws_max_connections: usize,
    /// The largest WebSocket message (one SIP message) accepted; a larger one closes the
    /// WebSocket with 1009.
    pub ws_max_message_bytes: usize,
    /// A new WebSocket that has not carried a valid SIP message this long after it opened is
    /// closed.
    pub ws_first_message_timeout_s: u64,
    /// A WebSocket silent this long is closed; it is pinged after half of it (browsers answer
    /// pings by themselves, so only a vanished tab is closed).
    pub ws_idle_timeout_s: u64,
    /// Networks (the carrier's trunk) whose `P-Asserted-Identity` gives the caller's number;
    /// from anywhere else that header is ignored and the caller is the From user.
    pub trust_asserted_identity_from: Vec<ipnet::IpNet>,
    /// Networks peers' RTP may be sent to (an SDP c= outside them gets 488); empty: any
    /// unicast address. Multicast, broadcast, and loopback from a remote peer are always
    /// refused.
    pub media_networks: Vec<ipnet::IpNet>,
}

impl Default for SipSection {
    fn default() -> Self {
        SipSection {
            listen: "127.0.0.1:5060".parse().expect("valid literal"),
            t1_ms: 500,
            t2_ms: 4000,
            t4_ms: 5000,
            max_calls: 5000,
            allow_from: vec![
                "127.0.0.0/8".parse().expect("valid literal"),
                "::1/128".parse().expect("valid literal"),
            ],
            tcp_max_connections: 1024,
            tcp_max_connections_per_address: 64,
            tcp_first_message_timeout_s: 10,
            tcp_idle_timeout_s: 600,
            ws_max_connections: WsLimits::default().max_connections,
            ws_max_message_bytes: WsLimits::default().max_message_bytes,
            ws_first_message_timeout_s: WsLimits::default().first_message.as_secs(),
            ws_idle_timeout_s: WsLimits::default().idle.as_secs(),
            trust_asserted_identity_from: Vec::new(),
            media_networks: Vec::new(),
        }
    }
}

impl SipSection {
    /// The range `ws_max_message_bytes` may take.
    pub const WS_MESSAGE_BYTES: std::ops::RangeInclusive<usize> = 1024..=(1024 * 1024);

    /// Every problem found; empty means valid.
    #[must_use]
    pub fn validate(&self) -> Vec<ConfigProblem> {
        let mut problems = Vec::new();
        if self.t1_ms == 0 {
            problems.push(problem("sip.t1_ms", "must be above 0"));
        }
        if self.t2_ms < self.t1_ms {
            problems.push(problem(
                "sip.t2_ms",
                format!("must be at least t1_ms ({} < {})", self.t2_ms, self.t1_ms),
            ));
        }
        if self.allow_from.is_empty() {
            problems.push(problem(
                "sip.allow_from",
                "is empty: no peer could reach the trunk (list the PBX's networks)",
            ));
        }
        if self.max_calls == 0 {
            problems.push(problem("sip.max_calls", "must be above 0"));
        }
        for (path, value) in [
            ("sip.tcp_max_connections", self.tcp_max_connections as u64),
            (
                "sip.tcp_max_connections_per_address",
                self.tcp_max_connections_per_address as u64,
            ),
            (
                "sip.tcp_first_message_timeout_s",
                self.tcp_first_message_timeout_s,
            ),
            ("sip.tcp_idle_timeout_s", self.tcp_idle_timeout_s),
            ("sip.ws_max_connections", self.ws_max_connections as u64),
            (
                "sip.ws_first_message_timeout_s",
                self.ws_first_message_timeout_s,
            ),
            ("sip.ws_idle_timeout_s", self.ws_idle_timeout_s),
        ] {
            if value == 0 {
                problems.push(problem(path, "must be above 0"));
            }
        }
        if !(Self::WS_MESSAGE_BYTES).contains(&self.ws_max_message_bytes) {
            problems.push(problem(
                "sip.ws_max_message_bytes",
                format!(
                    "must be from {} to {} (a SIP message with its SDP fits in a few KiB), \
                     not {}",
                    Self::WS_MESSAGE_BYTES.start(),
                    Self::WS_MESSAGE_BYTES.end(),
                    self.ws_max_message_bytes
                ),
            ));
        }
        problems
    }

    /// The gateway's configuration: these settings, the registrar when enabled, and who may
    /// register.
    pub fn gateway(&self, registrar: &RegistrarSection, credentials: Credentials) -> GatewayConfig {
        GatewayConfig {
            listen: self.listen,
            ua: UserAgentConfig {
                timers: TimerConfig {
                    t1: Duration::from_millis(self.t1_ms),
                    t2: Duration::from_millis(self.t2_ms),
                    t4: Duration::from_millis(self.t4_ms),
                },
                max_calls: self.max_calls,
                allow_from: self.allow_from.clone(),
                registrar: registrar.enabled.then(|| registrar.registrar()),
                credentials,
                trust_asserted_identity_from: self.trust_asserted_identity_from.clone(),
                media_networks: self.media_networks.clone(),
                tcp: TcpLimits {
                    max_connections: self.tcp_max_connections,
                    max_connections_per_address: self.tcp_max_connections_per_address,
                    timeouts: ConnectionTimeouts {
                        first_message: Some(Duration::from_secs(self.tcp_first_message_timeout_s)),
                        idle: Duration::from_secs(self.tcp_idle_timeout_s),
                    },
                },
                ws: WsLimits {
                    max_connections: self.ws_max_connections,
                    max_message_bytes: self.ws_max_message_bytes,
                    first_message: Duration::from_secs(self.ws_first_message_timeout_s),
                    idle: Duration::from_secs(self.ws_idle_timeout_s),
                    // The web side knows: `serve` sets it from `[http]`.
                    secure: false,
                },
                ..UserAgentConfig::default()
            },
        }
    }
}

/// `[registrar]`: agents' phones registering to us (RFC 3261 §10, digest authentication).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RegistrarSection {
    /// Accept REGISTER from agents' phones (their SIP user is their login).
    pub enabled: bool,
    /// Digest realm; the CRM keeps each user's digest hashes for it.
    pub realm: String,
    /// Challenge algorithms, in order of preference: `SHA-256`, `MD5`. Some phones (and
    /// SIPp) answer only the first challenge and only MD5.
    pub algorithms: Vec<String>,
    pub min_expires_s: u64,
    pub max_expires_s: u64,
    /// Failed authentications for one user from one address, within `failure_window_s`, that
    /// lock that user out from that address for `lockout_s`.
    pub max_failures: u32,
    /// Failed authentications from one address for any users, within `failure_window_s`, that
    /// lock the whole address out for `lockout_s` (a scanner); above `max_failures`.
    pub max_address_failures: u32,
    pub failure_window_s: u64,
    pub lockout_s: u64,
    /// REGISTERs without valid credentials answered per second per source address (each
    /// costs a nonce and a 401); beyond it and `challenge_burst_per_address` they are
    /// dropped unanswered and counted (a REGISTER flood).
    pub challenge_rate_per_address: u32,
    /// How many such REGISTERs one address may send at once: every phone behind an office
    /// NAT refreshing together.
    pub challenge_burst_per_address: u32,
}

impl Default for RegistrarSection {
    fn default() -> Self {
        RegistrarSection {
            enabled: true,
            realm: "centralino".into(),
            algorithms: vec!["MD5".into(), "SHA-256".into()],
            min_expires_s: 60,
            max_expires_s: 3600,
            max_failures: 5,
            max_address_failures: 50,
            failure_window_s: 60,
            lockout_s: 300,
            challenge_rate_per_address: 10,
            challenge_burst_per_address: 100,
        }
    }
}

impl RegistrarSection {
    /// Every problem found; empty means valid.
    #[must_use]
    pub fn validate(&self) -> Vec<ConfigProblem> {
        let mut problems: Vec<ConfigProblem> = self
            .algorithms
            .iter()
            .enumerate()
            .filter(|(_, a)| !matches!(a.as_str(), "MD5" | "SHA-256"))
            .map(|(i, a)| {
                problem(
                    format!("registrar.algorithms[{i}]"),
                    format!("'{a}' is not MD5 or SHA-256"),
                )
            })
            .collect();
        if self.max_failures == 0 {
            problems.push(problem("registrar.max_failures", "must be above 0"));
        }
        if self.max_address_failures < self.max_failures {
            problems.push(problem(
                "registrar.max_address_failures",
                format!(
                    "must be at least max_failures ({} < {}): otherwise one phone with a \
                     wrong password locks out every phone at its address",
                    self.max_address_failures, self.max_failures
                ),
            ));
        }
        if self.failure_window_s == 0 {
            problems.push(problem("registrar.failure_window_s", "must be above 0"));
        }
        if self.challenge_rate_per_address == 0 {
            problems.push(problem(
                "registrar.challenge_rate_per_address",
                "must be above 0: with none, no phone could ever register",
            ));
        }
        if self.challenge_burst_per_address == 0 {
            problems.push(problem(
                "registrar.challenge_burst_per_address",
                "must be above 0: with none, no phone could ever register",
            ));
        }
        problems
    }

    /// The registrar's configuration.
    pub fn registrar(&self) -> RegistrarConfig {
        RegistrarConfig {
            realm: self.realm.clone(),
            algorithms: self
                .algorithms
                .iter()
                .map(|a| {
                    if a == "MD5" {
                        Algorithm::Md5
                    } else {
                        Algorithm::Sha256
                    }
                })
                .collect(),
            min_expires: u32::try_from(self.min_expires_s).unwrap_or(u32::MAX),
            max_expires: u32::try_from(self.max_expires_s).unwrap_or(u32::MAX),
            max_failures: self.max_failures,
            max_address_failures: self.max_address_failures,
            failure_window: Duration::from_secs(self.failure_window_s),
            lockout: Duration::from_secs(self.lockout_s),
            challenge_rate: self.challenge_rate_per_address,
            challenge_burst: self.challenge_burst_per_address,
            ..RegistrarConfig::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timers_admission_and_algorithms_are_checked() {
        let sip = SipSection {
            t1_ms: 0,
            t2_ms: 0,
            max_calls: 0,
            allow_from: Vec::new(),
            ..SipSection::default()
        };
        let paths: Vec<_> = sip.validate().into_iter().map(|p| p.path).collect();
        assert_eq!(paths, ["sip.t1_ms", "sip.allow_from", "sip.max_calls"]);
        assert!(SipSection::default().validate().is_empty());
        let registrar = RegistrarSection {
            algorithms: vec!["MD5".into(), "SHA1".into()],
            ..RegistrarSection::default()
        };
        let problems = registrar.validate();
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].path, "registrar.algorithms[1]");
        let limits = RegistrarSection {
            max_failures: 10,
            max_address_failures: 5,
            ..RegistrarSection::default()
        };
        let paths: Vec<_> = limits.validate().into_iter().map(|p| p.path).collect();
        assert_eq!(paths, ["registrar.max_address_failures"]);
        let section: RegistrarSection =
            toml::from_str("max_failures = 3\nmax_address_failures = 30\nlockout_s = 60").unwrap();
        let config = section.registrar();
        assert_eq!((config.max_failures, config.max_address_failures), (3, 30));
        assert_eq!(config.lockout, Duration::from_secs(60));
        let challenges = RegistrarSection {
            challenge_rate_per_address: 0,
            challenge_burst_per_address: 0,
            ..RegistrarSection::default()
        };
        let paths: Vec<_> = challenges.validate().into_iter().map(|p| p.path).collect();
        assert_eq!(
            paths,
            [
                "registrar.challenge_rate_per_address",
                "registrar.challenge_burst_per_address"
            ]
        );
        let section: RegistrarSection =
            toml::from_str("challenge_rate_per_address = 2\nchallenge_burst_per_address = 30")
                .unwrap();
        let config = section.registrar();
        assert_eq!((config.challenge_rate, config.challenge_burst), (2, 30));
        let config = RegistrarSection::default().registrar();
        assert_eq!((config.challenge_rate, config.challenge_burst), (10, 100));
    }

    #[test]
    fn the_gateway_gets_the_timers_and_the_registrar_when_enabled() {
        let gateway = SipSection::default().gateway(
            &RegistrarSection {
                algorithms: vec!["SHA-256".into()],
                ..RegistrarSection::default()
            },
            Credentials::default(),
        );
        assert_eq!(gateway.ua.timers.t1, Duration::from_millis(500));
        assert_eq!(gateway.ua.tcp, TcpLimits::default());
        assert_eq!(gateway.ua.ws, WsLimits::default());
        let registrar = gateway.ua.registrar.expect("enabled by default");
        assert_eq!(registrar.algorithms, [Algorithm::Sha256]);
        assert_eq!(registrar.min_expires, 60);
        let off = RegistrarSection {
            enabled: false,
            ..RegistrarSection::default()
        };
        assert!(
            SipSection::default()
                .gateway(&off, Credentials::default())
                .ua
                .registrar
                .is_none()
        );
    }

    #[test]
    fn websocket_limits_are_read_and_checked() {
        let sip: SipSection = toml::from_str(
            "ws_max_connections = 8\nws_max_message_bytes = 4096\n\
             ws_first_message_timeout_s = 3\nws_idle_timeout_s = 30",
        )
        .unwrap();
        assert!(sip.validate().is_empty());
        let limits = sip
            .gateway(&RegistrarSection::default(), Credentials::default())
            .ua
            .ws;
        assert_eq!(
            limits,
            WsLimits {
                max_connections: 8,
                max_message_bytes: 4096,
                first_message: Duration::from_secs(3),
                idle: Duration::from_secs(30),
                secure: false,
            }
        );
        let bad = SipSection {
            ws_max_connections: 0,
            ws_max_message_bytes: 100,
            ws_first_message_timeout_s: 0,
            ws_idle_timeout_s: 0,
            ..SipSection::default()
        };
        let problems = bad.validate();
        let paths: Vec<_> = problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "sip.ws_max_connections",
                "sip.ws_first_message_timeout_s",
                "sip.ws_idle_timeout_s",
                "sip.ws_max_message_bytes"
            ]
        );
        assert!(problems[3].message.contains("not 100"), "{}", problems[3]);
    }

    #[test]
    fn allow_from_takes_networks() {
        let sip: SipSection =
            toml::from_str("allow_from = [\"192.0.2.0/24\", \"::1/128\"]").unwrap();
        assert_eq!(sip.allow_from.len(), 2);
        assert!(toml::from_str::<SipSection>("allow_from = [\"192.0.2.300/24\"]").is_err());
    }
}
