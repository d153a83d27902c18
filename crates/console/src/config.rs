//! The `[http]` section of the configuration file: where the console and the API listen, and
//! `[http.login]`: how hard logins are limited.
//! The file's envelope (TOML syntax, line numbers, the other sections) is the application's.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// One problem in `[http]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// The key, from the top of the file: `http.listen`.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// `[http]`: the web console, the API and `/metrics`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpSection {
    pub listen: SocketAddr,
    /// Serve /metrics to non-loopback clients too.
    pub metrics_public: bool,
    /// HTTPS: the certificate chain (PEM, leaf first), with `tls_key`.
    pub tls_cert: Option<PathBuf>,
    /// HTTPS: the private key (PEM: PKCS#8, PKCS#1 or SEC1), with `tls_cert`.
    pub tls_key: Option<PathBuf>,
    /// A reverse proxy in front terminates HTTPS: cookies are `Secure` and browsers are
    /// told to keep to HTTPS (HSTS), as with `tls_cert`.
    pub behind_https_proxy: bool,
    /// Login rate limits and password checks.
    pub login: LoginSection,
    /// A session unused this long ends, in seconds (60 to 86400; default 8 h).
    pub session_idle_s: u64,
    /// A session ends this long after login even if used, in seconds (300 to 604800;
    /// default 12 h, a working shift and a half).
    pub session_max_age_s: u64,
    /// The TLS handshake and each request's header must arrive within this, in seconds
    /// (1 to 300; default 10): slow or idle connections are closed.
    pub header_timeout_s: u64,
    /// A request must be answered within this, in seconds (1 to 3600; default 30; the
    /// event stream is not bounded by it).
    pub request_timeout_s: u64,
    /// A prompt upload or restore must be answered within this, in seconds (1 to 3600;
    /// default 300).
    pub upload_timeout_s: u64,
    /// Connections open at once, in all (1 to 1000000; default 1024); beyond, a new one is
    /// closed at once. Keep it below the process's descriptor limit less what calls need.
    pub max_connections: usize,
    /// Connections open at once from one client address, an IPv6 /64 counting as one (1 to
    /// 1000000; default 128; a proxy in front is one address).
    pub max_connections_per_address: usize,
    /// Reverse proxies (addresses or CIDR networks) whose `X-Forwarded-For` is believed:
    /// login rate limits, logs and `/metrics`' loopback rule then see the client the proxy
    /// names (the rightmost entry not itself a listed proxy). Empty (default): the header
    /// is ignored.
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

/// `[http.login]`: failed logins allowed per window, per login and per client address (then
/// 429 with `Retry-After`), and the bounded pool where password hashes are checked.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoginSection {
    /// Failed logins of one account per window (1 to 1000).
    pub max_failures_per_login: u32,
    /// Failed logins from one client address (IPv6: one /64) per window (1 to 1000000).
    pub max_failures_per_address: u32,
    /// The window, in seconds (1 to 86400).
    pub window_s: u64,
    /// Accounts and addresses remembered at most, each (100 to 1000000).
    pub max_tracked: usize,
    /// Password checks at once; 0: one fewer than the cores, at least one.
    pub hash_threads: usize,
    /// Password checks waiting at most; beyond, 503 (1 to 100000).
    pub hash_queue: usize,
}

impl Default for LoginSection {
    fn default() -> Self {
        let limits = crate::api::session::limit::LimitSettings::default();
        LoginSection {
            max_failures_per_login: limits.per_login,
            max_failures_per_address: limits.per_address,
            window_s: limits.window.as_secs(),
            max_tracked: limits.max_tracked,
            hash_threads: 0,
            hash_queue: 256,
        }
    }
}

impl LoginSection {
    /// The sign-in settings, with `directory` (from the `[directory]` section, if any).
    pub fn signin(
        &self,
        directory: Option<directory::Directory>,
    ) -> crate::api::session::SignInSettings {
        crate::api::session::SignInSettings {
            directory,
            limits: crate::api::session::limit::LimitSettings {
                per_login: self.max_failures_per_login,
                per_address: self.max_failures_per_address,
                window: Duration::from_secs(self.window_s),
                max_tracked: self.max_tracked,
            },
            hash_threads: match self.hash_threads {
                0 => crate::api::session::pool::default_threads(),
                n => n,
            },
            hash_queue: self.hash_queue,
        }
    }

    fn validate(&self, problems: &mut Vec<ConfigProblem>) {
        let mut check = |field: &str, value: u64, min: u64, max: u64| {
            if !(min..=max).contains(&value) {
                problems.push(ConfigProblem {
                    path: format!("http.login.{field}"),
                    message: format!("{value} is not between {min} and {max}"),
                });
            }
        };
        check(
            "max_failures_per_login",
            self.max_failures_per_login.into(),
            1,
            1000,
        );
        check(
            "max_failures_per_address",
            self.max_failures_per_address.into(),
            1,
            1_000_000,
        );
        check("window_s", self.window_s, 1, 86_400);
        check("max_tracked", self.max_tracked as u64, 100, 1_000_000);
        check("hash_threads", self.hash_threads as u64, 0, 256);
        check("hash_queue", self.hash_queue as u64, 1, 100_000);
    }
}

impl Default for HttpSection {
    fn default() -> Self {
        let limits = crate::server::HttpLimits::default();
        HttpSection {
            listen: "127.0.0.1:8080".parse().expect("valid literal"),
            metrics_public: false,
            tls_cert: None,
            tls_key: None,
            behind_https_proxy: false,
            login: LoginSection::default(),
            session_idle_s: 8 * 3600,
            session_max_age_s: 12 * 3600,
            header_timeout_s: limits.header_timeout.as_secs(),
            request_timeout_s: limits.request_timeout.as_secs(),
            upload_timeout_s: limits.upload_timeout.as_secs(),
            max_connections: limits.max_connections,
            max_connections_per_address: limits.max_connections_per_address,
            trusted_proxies: Vec::new(),
        }
    }
}

impl HttpSection {
    /// Every problem found; empty means valid (a port taken is found when listening; a
    /// certificate that does not parse, when it is loaded at start).
    #[must_use]
    pub fn validate(&self) -> Vec<ConfigProblem> {
        let mut problems = Vec::new();
        match (&self.tls_cert, &self.tls_key) {
            (Some(_), None) => problems.push(ConfigProblem {
                path: "http.tls_key".into(),
                message: "tls_cert is set: expected the private key's file too".into(),
            }),
            (None, Some(_)) => problems.push(ConfigProblem {
                path: "http.tls_cert".into(),
                message: "tls_key is set: expected the certificate chain's file too".into(),
            }),
            _ => {}
        }
        for (field, path) in [("tls_cert", &self.tls_cert), ("tls_key", &self.tls_key)] {
            if let Some(path) = path
                && let Err(e) = std::fs::File::open(path)
            {
                problems.push(ConfigProblem {
                    path: format!("http.{field}"),
                    message: format!("cannot read {}: {e}", path.display()),
                });
            }
        }
        self.login.validate(&mut problems);
        let mut check = |field: &str, value: u64, min: u64, max: u64| {
            if !(min..=max).contains(&value) {
                problems.push(ConfigProblem {
                    path: format!("http.{field}"),
                    message: format!("{value} is not between {min} and {max}"),
                });
            }
        };
        check("session_idle_s", self.session_idle_s, 60, 86_400);
        check("session_max_age_s", self.session_max_age_s, 300, 604_800);
        check("header_timeout_s", self.header_timeout_s, 1, 300);
        check("request_timeout_s", self.request_timeout_s, 1, 3600);
        check("upload_timeout_s", self.upload_timeout_s, 1, 3600);
        check("max_connections", self.max_connections as u64, 1, 1_000_000);
        check(
            "max_connections_per_address",
            self.max_connections_per_address as u64,
            1,
            1_000_000,
        );
        problems
    }

    /// The HTTP server's limits.
    #[must_use]
    pub fn limits(&self) -> crate::server::HttpLimits {
        crate::server::HttpLimits {
            header_timeout: Duration::from_secs(self.header_timeout_s),
            request_timeout: Duration::from_secs(self.request_timeout_s),
            upload_timeout: Duration::from_secs(self.upload_timeout_s),
            max_connections: self.max_connections,
            max_connections_per_address: self.max_connections_per_address,
            trusted_proxies: self.trusted_proxies.clone(),
        }
    }

    /// The sessions' idle and absolute lifetimes.
    #[must_use]
    pub fn session_lifetimes(&self) -> (Duration, Duration) {
        (
            Duration::from_secs(self.session_idle_s),
            Duration::from_secs(self.session_max_age_s),
        )
    }

    /// The certificate and key files when HTTPS is served here.
    #[must_use]
    pub fn tls(&self) -> Option<(&Path, &Path)> {
        Some((self.tls_cert.as_deref()?, self.tls_key.as_deref()?))
    }

    /// Whether browsers reach us over HTTPS (served here, or by a proxy in front): session
    /// cookies are then `Secure` and HSTS is sent.
    #[must_use]
    pub fn https(&self) -> bool {
        self.tls().is_some() || self.behind_https_proxy
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_limits_are_checked_and_named() {
        let mut http = HttpSection::default();
        assert!(http.validate().is_empty());
        http.login.window_s = 0;
        http.login.max_failures_per_login = 0;
        let paths: Vec<String> = http.validate().into_iter().map(|p| p.path).collect();
        assert_eq!(
            paths,
            ["http.login.max_failures_per_login", "http.login.window_s"]
        );
        let settings = LoginSection::default().signin(None);
        assert!(settings.hash_threads >= 1);
        assert_eq!(settings.limits.per_login, 5);
    }

    #[test]
    fn web_limits_and_session_lifetimes_are_read_and_checked() {
        let http: HttpSection = toml::from_str(
            "session_max_age_s = 3600\nheader_timeout_s = 2\nrequest_timeout_s = 5\n\
             upload_timeout_s = 60\nmax_connections = 50\nmax_connections_per_address = 5\n\
             trusted_proxies = [\"10.0.0.0/30\", \"::1/128\"]\n",
        )
        .unwrap();
        assert!(http.validate().is_empty(), "{:?}", http.validate());
        let limits = http.limits();
        assert_eq!(limits.header_timeout, Duration::from_secs(2));
        assert_eq!(limits.request_timeout, Duration::from_secs(5));
        assert_eq!(limits.upload_timeout, Duration::from_secs(60));
        assert_eq!(
            (limits.max_connections, limits.max_connections_per_address),
            (50, 5)
        );
        assert_eq!(limits.trusted_proxies.len(), 2);
        assert!(toml::from_str::<HttpSection>("trusted_proxies = [\"not an address\"]").is_err());
        assert_eq!(
            http.session_lifetimes(),
            (Duration::from_secs(8 * 3600), Duration::from_secs(3600))
        );
        let defaults = HttpSection::default();
        assert_eq!(
            defaults.session_lifetimes().1,
            Duration::from_secs(12 * 3600)
        );
        assert_eq!(defaults.limits(), crate::server::HttpLimits::default());
        let bad = HttpSection {
            header_timeout_s: 0,
            max_connections: 0,
            session_max_age_s: 10,
            ..HttpSection::default()
        };
        let paths: Vec<String> = bad.validate().into_iter().map(|p| p.path).collect();
        assert_eq!(
            paths,
            [
                "http.session_max_age_s",
                "http.header_timeout_s",
                "http.max_connections"
            ]
        );
    }

    #[test]
    fn https_is_served_here_or_declared_behind_a_proxy_and_needs_both_files() {
        let plain = HttpSection::default();
        assert!(!plain.https() && plain.tls().is_none());
        let proxied = HttpSection {
            behind_https_proxy: true,
            ..HttpSection::default()
        };
        assert!(proxied.https() && proxied.tls().is_none());
        assert!(proxied.validate().is_empty());
        let dir = std::env::temp_dir();
        let cert = dir.join(format!("centralino-cert-{}.pem", std::process::id()));
        std::fs::write(&cert, "x").unwrap();
        let half = HttpSection {
            tls_cert: Some(cert.clone()),
            ..HttpSection::default()
        };
        let paths: Vec<String> = half.validate().into_iter().map(|p| p.path).collect();
        assert_eq!(paths, ["http.tls_key"]);
        let missing = HttpSection {
            tls_cert: Some(cert.clone()),
            tls_key: Some(dir.join("centralino-no-such-key.pem")),
            ..HttpSection::default()
        };
        let problems = missing.validate();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].path, "http.tls_key");
        assert!(missing.https() && missing.tls().is_some());
        let _ = std::fs::remove_file(cert);
    }
}
