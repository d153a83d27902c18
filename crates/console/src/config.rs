//! The `[http]` section of the configuration file: where the console and the API listen.
//! The file's envelope (TOML syntax, line numbers, the other sections) is the application's.

use std::fmt;
use std::net::SocketAddr;

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
}

impl Default for HttpSection {
    fn default() -> Self {
        HttpSection {
            listen: "127.0.0.1:8080".parse().expect("valid literal"),
            metrics_public: false,
        }
    }
}

impl HttpSection {
    /// Every problem found; empty means valid (every address and flag the parser accepts
    /// is usable: a port taken is found when listening).
    #[must_use]
    pub fn validate(&self) -> Vec<ConfigProblem> {
        Vec::new()
    }
}
