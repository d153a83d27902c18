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
        HttpSection {
            listen: "127.0.0.1:8080".parse().expect("valid literal"),
            metrics_public: false,
            tls_cert: None,
            tls_key: None,
            behind_https_proxy: false,
            login: LoginSection::default(),
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
        problems
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
