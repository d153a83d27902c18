//! The `[media]` section of the configuration file, its validation, and the [`MediaConfig`]
//! it gives. The file's envelope (TOML syntax, line numbers, the other sections) is the
//! application's; this crate owns what the section says.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use serde::Deserialize;

use crate::{MediaConfig, ThreadPriority};

/// One problem in `[media]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// The key, from the top of the file: `media.rtp_port_max`.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// `[media]`: RTP ports, the silence check and the media threads.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MediaSection {
    /// RTP ports (even ones carry RTP, the next odd one RTCP), on the SIP address.
    pub rtp_port_min: u16,
    pub rtp_port_max: u16,
    /// A call that receives no RTP for this long, on a two-way leg (not while the caller holds
    /// it), is taken as gone and ended; 0 disables the check.
    pub rtp_timeout_s: u64,
    /// Accept a call's first RTP from any address instead of only the SDP's IP address
    /// (phones behind NAT that announce a private address). Default false. Either way, once
    /// the first packet latched the leg, packets from any other source are dropped.
    pub rtp_latch_any_address: bool,
    /// Media tasks sharing the 20 ms tick (0: one per CPU).
    pub shards: usize,
    /// `high` (default) raises the media threads' priority where the process may
    /// (`CAP_SYS_NICE`, systemd `LimitNICE=-10`), `normal` leaves them as every thread.
    pub priority: ThreadPriority,
}

impl Default for MediaSection {
    fn default() -> Self {
        MediaSection {
            rtp_port_min: 20000,
            rtp_port_max: 29999,
            rtp_timeout_s: 30,
            rtp_latch_any_address: false,
            shards: 0,
            priority: ThreadPriority::High,
        }
    }
}

impl MediaSection {
    /// Every problem found; empty means valid.
    #[must_use]
    pub fn validate(&self) -> Vec<ConfigProblem> {
        let mut problems = Vec::new();
        if self.rtp_port_min < 1024 {
            problems.push(ConfigProblem {
                path: "media.rtp_port_min".into(),
                message: format!("must be 1024 or more, not {}", self.rtp_port_min),
            });
        }
        if self.rtp_port_max <= self.rtp_port_min {
            problems.push(ConfigProblem {
                path: "media.rtp_port_max".into(),
                message: format!(
                    "must be above rtp_port_min ({} <= {})",
                    self.rtp_port_max, self.rtp_port_min
                ),
            });
        }
        problems
    }

    /// The number of shards: `shards`, or one per CPU.
    pub fn shard_count(&self) -> usize {
        match self.shards {
            0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
            n => n,
        }
    }

    /// The engine's configuration, its sockets on `bind_ip`.
    pub fn engine(&self, bind_ip: IpAddr) -> MediaConfig {
        MediaConfig {
            bind_ip,
            port_min: self.rtp_port_min,
            port_max: self.rtp_port_max,
            rtp_timeout: (self.rtp_timeout_s > 0).then(|| Duration::from_secs(self.rtp_timeout_s)),
            shards: self.shard_count(),
            latch_any_address: self.rtp_latch_any_address,
            rng_seed: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_checked_and_the_engine_gets_them() {
        let bad = MediaSection {
            rtp_port_min: 30000,
            rtp_port_max: 20000,
            ..MediaSection::default()
        };
        let paths: Vec<_> = bad.validate().into_iter().map(|p| p.path).collect();
        assert_eq!(paths, ["media.rtp_port_max"]);
        let engine = MediaSection::default().engine("127.0.0.1".parse().unwrap());
        assert_eq!((engine.port_min, engine.port_max), (20000, 29999));
        assert_eq!(engine.rtp_timeout, Some(Duration::from_secs(30)));
    }
}
