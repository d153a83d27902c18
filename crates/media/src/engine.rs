//! The engine: configuration, port allocation, and the shard tasks legs are spread over.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;

use crate::error::MediaError;
use crate::event::LegId;
use crate::leg::{MediaEvents, MediaLeg};
use crate::ports::PortPicker;
use crate::shard::{self, NewLeg, ShardCommand};
use crate::stats::{Counters, EngineStats};

/// How the engine binds and runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaConfig {
    /// Address RTP/RTCP sockets bind to.
    pub bind_ip: IpAddr,
    /// First port of the range (RTP uses even ports, RTCP the next odd one).
    pub port_min: u16,
    /// Last port of the range (inclusive).
    pub port_max: u16,
    /// Report [`MediaEvent::RtpTimeout`](crate::MediaEvent::RtpTimeout) after this long without
    /// RTP on a receiving leg.
    pub rtp_timeout: Option<Duration>,
    /// Number of shard tasks; legs are spread over them round-robin.
    pub shards: usize,
    /// Seed of the random source that picks RTP ports (tests, to replay a run); `None`, the
    /// default, seeds it from the operating system.
    pub rng_seed: Option<u64>,
    /// Accept a leg's first RTP from any address, not only the SDP's IP address (phones
    /// behind NAT that announce a private address); see
    /// [`SessionConfig::latch_any_address`](crate::SessionConfig::latch_any_address).
    pub latch_any_address: bool,
}

impl Default for MediaConfig {
    fn default() -> Self {
        MediaConfig {
            bind_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port_min: 20_000,
            port_max: 29_999,
            rtp_timeout: Some(Duration::from_secs(30)),
            shards: 2,
            latch_any_address: false,
            rng_seed: None,
        }
    }
}

impl MediaConfig {
    /// The even RTP ports of the range whose RTCP port (+1) is also in the range.
    fn rtp_ports(&self) -> (u16, usize) {
        let first = self.port_min.saturating_add(self.port_min % 2);
        if first >= self.port_max {
            return (first, 0);
        }
        (first, (self.port_max - first).div_ceil(2) as usize)
    }

    fn validate(&self) -> Result<(), MediaError> {
        if self.shards == 0 {
            return Err(MediaError::InvalidConfig(
                "shards: expected at least 1, got 0".into(),
            ));
        }
        if self.port_min > self.port_max {
            return Err(MediaError::InvalidConfig(format!(
                "port range: expected port_min <= port_max, got {}-{}",
                self.port_min, self.port_max
            )));
        }
        if self.rtp_ports().1 == 0 {
            return Err(MediaError::InvalidConfig(format!(
                "port range {}-{}: expected room for at least one even RTP port and its RTCP port",
                self.port_min, self.port_max
            )));
        }
        if self.rtp_timeout == Some(Duration::ZERO) {
            return Err(MediaError::InvalidConfig(
                "rtp_timeout: expected a positive duration or none, got 0".into(),
            ));
        }
        Ok(())
    }
}

pub(crate) struct EngineInner {
    config: MediaConfig,
    shards: Vec<mpsc::UnboundedSender<ShardCommand>>,
    counters: Arc<Counters>,
    next_leg: AtomicU64,
    ports: Mutex<PortPicker>,
    pub(crate) next_playback: Arc<AtomicU64>,
}

/// The media engine. Cheap to clone; the shard tasks run while the engine or any leg lives.
#[derive(Clone)]
pub struct MediaEngine {
    inner: Arc<EngineInner>,
}

impl std::fmt::Debug for MediaEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaEngine")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl MediaEngine {
    /// Must be called inside a tokio runtime; spawns the shard tasks on it.
    ///
    /// Each shard does a few milliseconds of work per 20 ms tick when it serves ~1,000 legs;
    /// in production, start the engine inside a runtime of its own (`runtime.enter()`, with as
    /// many worker threads as shards) so those ticks never delay signalling tasks.
    pub fn start(config: MediaConfig) -> Result<MediaEngine, MediaError> {
        config.validate()?;
        let handle = tokio::runtime::Handle::try_current().map_err(|_| MediaError::NoRuntime)?;
        let counters = Arc::new(Counters::default());
        let shards = (0..config.shards)
            .map(|index| {
                let (tx, rx) = mpsc::unbounded_channel();
                handle.spawn(shard::run(
                    index,
                    config.shards,
                    rx,
                    counters.clone(),
                    shard::LegSettings {
                        rtp_timeout: config.rtp_timeout,
                        latch_any_address: config.latch_any_address,
                    },
                ));
                tx
            })
            .collect();
        let (first, count) = config.rtp_ports();
        let ports = Mutex::new(PortPicker::new(first, count, config.rng_seed));
        Ok(MediaEngine {
            inner: Arc::new(EngineInner {
                config,
                shards,
                counters,
                next_leg: AtomicU64::new(1),
                ports,
                next_playback: Arc::new(AtomicU64::new(1)),
            }),
        })
    }

    /// Binds an RTP/RTCP port pair from the range and hands the leg to a shard. The pair is
    /// drawn at random (ports in use are skipped; a full range is
    /// [`MediaError::PortsExhausted`]), so the next call's port cannot be predicted.
    pub async fn allocate(&self) -> Result<(MediaLeg, MediaEvents), MediaError> {
        let id = LegId(self.inner.next_leg.fetch_add(1, Relaxed));
        let shard = (id.0 as usize) % self.inner.shards.len();
        self.allocate_on(id, shard)
    }

    /// Like [`allocate`](Self::allocate), on the shard that serves `near`, so the two legs can
    /// be [bridged](MediaLeg::bridge) (the agent's leg next to the caller's). Fails with
    /// [`MediaError::DifferentShards`] if `near` belongs to another engine.
    pub async fn allocate_near(
        &self,
        near: &MediaLeg,
    ) -> Result<(MediaLeg, MediaEvents), MediaError> {
        let id = LegId(self.inner.next_leg.fetch_add(1, Relaxed));
        let shard = near.shard();
        if self
            .inner
            .shards
            .get(shard)
            .is_none_or(|s| !s.same_channel(near.shard_sender()))
        {
            return Err(MediaError::DifferentShards {
                leg: id.0,
                leg_shard: shard,
                other: near.id().0,
                other_shard: shard,
            });
        }
        self.allocate_on(id, shard)
    }

    fn allocate_on(
        &self,
        id: LegId,
        shard_index: usize,
    ) -> Result<(MediaLeg, MediaEvents), MediaError> {
        let (rtp, rtcp) = self.bind_pair()?;
        let local = rtp.local_addr().map_err(|source| MediaError::Socket {
            addr: SocketAddr::new(self.inner.config.bind_ip, 0),
            source,
        })?;
        let shard = &self.inner.shards[shard_index];
        let (event_tx, event_rx) = mpsc::unbounded_channel();
        shard
            .send(ShardCommand::Add(Box::new(NewLeg {
                id,
                rtp,
                rtcp,
                events: event_tx,
            })))
            .map_err(|_| MediaError::EngineStopped)?;
        // Counted here (the shard decrements on close) so stats are right at once.
        self.inner.counters.legs_active.fetch_add(1, Relaxed);
        Ok((
            MediaLeg::new(
                id,
                local,
                shard_index,
                shard.clone(),
                self.inner.next_playback.clone(),
            ),
            MediaEvents::new(event_rx),
        ))
    }

    fn bind_pair(&self) -> Result<(UdpSocket, UdpSocket), MediaError> {
        let config = &self.inner.config;
        let candidates = self
            .inner
            .ports
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .candidates();
        let mut tried = 0;
        for port in candidates {
            tried += 1;
            let Some(rtp) = bind(config.bind_ip, port)? else {
                continue;
            };
            let Some(rtcp) = bind(config.bind_ip, port + 1)? else {
                continue;
            };
            return Ok((rtp, rtcp));
        }
        Err(MediaError::PortsExhausted {
            bind_ip: config.bind_ip,
            port_min: config.port_min,
            port_max: config.port_max,
            tried,
        })
    }

    /// A cheap snapshot of the engine's counters.
    pub fn stats(&self) -> EngineStats {
        self.inner.counters.snapshot()
    }

    pub fn config(&self) -> &MediaConfig {
        &self.inner.config
    }
}

/// Binds a non-blocking UDP socket; `None` if the port is taken.
fn bind(ip: IpAddr, port: u16) -> Result<Option<UdpSocket>, MediaError> {
    let addr = SocketAddr::new(ip, port);
    match UdpSocket::bind(addr) {
        Ok(s) => {
            s.set_nonblocking(true)
                .map_err(|source| MediaError::Socket { addr, source })?;
            Ok(Some(s))
        }
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => Ok(None),
        Err(source) => Err(MediaError::Socket { addr, source }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_validation_names_the_problem() {
        let bad = |c: MediaConfig| MediaEngine::start(c).unwrap_err().to_string();
        assert!(
            bad(MediaConfig {
                shards: 0,
                ..MediaConfig::default()
            })
            .contains("shards")
        );
        assert!(
            bad(MediaConfig {
                port_min: 30_000,
                port_max: 20_000,
                ..MediaConfig::default()
            })
            .contains("30000-20000")
        );
        assert!(
            bad(MediaConfig {
                port_min: 20_001,
                port_max: 20_002,
                ..MediaConfig::default()
            })
            .contains("at least one even")
        );
    }

    #[test]
    fn start_outside_a_runtime_is_an_error() {
        assert!(matches!(
            MediaEngine::start(MediaConfig::default()),
            Err(MediaError::NoRuntime)
        ));
    }

    #[test]
    fn port_range_counts_even_pairs() {
        let c = |a, b| {
            MediaConfig {
                port_min: a,
                port_max: b,
                ..MediaConfig::default()
            }
            .rtp_ports()
        };
        assert_eq!(c(20_000, 29_999), (20_000, 5000));
        assert_eq!(c(20_001, 20_004), (20_002, 1));
        assert_eq!(c(20_000, 20_001), (20_000, 1));
        assert_eq!(c(20_000, 20_000), (20_000, 0));
    }
}
