//! The `[http]` section of the configuration file: where the console and the API listen.
//! The file's envelope (TOML syntax, line numbers, the other sections) is the application's.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

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
}

impl Default for HttpSection {
    fn default() -> Self {
        HttpSection {
            listen: "127.0.0.1:8080".parse().expect("valid literal"),
            metrics_public: false,
            tls_cert: None,
            tls_key: None,
            behind_https_proxy: false,
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
