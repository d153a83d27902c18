//! Engine counters: updated by the shard tasks once per tick, read as a cheap snapshot.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Histogram resolution.
const BUCKET: Duration = Duration::from_micros(100);
/// Buckets up to 200 ms; longer intervals land in the last one (and in `max`).
const BUCKETS: usize = 2001;

/// Distribution of the time between successive send ticks of the shard tasks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntervalHistogram {
    buckets: Vec<u64>,
    count: u64,
    sum: Duration,
    max: Duration,
}

impl Default for IntervalHistogram {
    fn default() -> Self {
        IntervalHistogram {
            buckets: vec![0; BUCKETS],
            count: 0,
            sum: Duration::ZERO,
            max: Duration::ZERO,
        }
    }
}

impl IntervalHistogram {
    /// Number of intervals recorded.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Longest interval recorded.
    pub fn max(&self) -> Duration {
        self.max
    }

    /// Sum of the intervals recorded (for a Prometheus histogram's `_sum`).
    pub fn sum(&self) -> Duration {
        self.sum
    }

    /// How many intervals were at most `bound` long, for bounds on the 0.1 ms grid up to
    /// 200 ms (a Prometheus histogram's cumulative `le` buckets). Longer bounds count all.
    pub fn count_at_most(&self, bound: Duration) -> u64 {
        let full = (bound.as_micros() / BUCKET.as_micros()) as usize;
        if full >= BUCKETS {
            return self.count;
        }
        self.buckets[..full].iter().sum()
    }

    /// The interval below which a fraction `q` (0-1) of intervals fall, to 0.1 ms (the upper
    /// edge of its bucket; intervals over 100 ms report the maximum). Zero if empty.
    pub fn quantile(&self, q: f64) -> Duration {
        if self.count == 0 {
            return Duration::ZERO;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.count as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, &n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= rank {
                if i == BUCKETS - 1 {
                    return self.max;
                }
                return (BUCKET * (i as u32 + 1)).min(self.max);
            }
        }
        self.max
    }

    /// Adds one interval (used by tests and by merging shard snapshots).
    pub fn record(&mut self, interval: Duration) {
        self.buckets[bucket(interval)] += 1;
        self.count += 1;
        self.sum += interval;
        self.max = self.max.max(interval);
    }
}

fn bucket(interval: Duration) -> usize {
    ((interval.as_micros() / BUCKET.as_micros()) as usize).min(BUCKETS - 1)
}

/// A snapshot of the engine's counters.
#[derive(Debug, Clone)]
pub struct EngineStats {
    pub legs_active: u64,
    pub rtp_packets_sent: u64,
    pub rtp_packets_received: u64,
    /// RTP packets relayed between bridged legs (also counted in `rtp_packets_sent`).
    pub rtp_packets_relayed: u64,
    pub rtcp_packets_sent: u64,
    pub dtmf_digits_received: u64,
    /// Intervals between successive send passes of each shard (the packet spacing every leg
    /// sees): its p99 is the figure to watch under load.
    pub send_interval: IntervalHistogram,
    /// Ticks whose send pass started more than 5 ms after it was scheduled.
    pub late_ticks: u64,
    /// Datagrams that could not be sent (socket buffer full or an error from the OS).
    pub send_errors: u64,
    /// RTP and RTCP datagrams dropped because they came from a source other than the leg's
    /// peer (off-path injection, a hijack attempt, a stray stream).
    pub rtp_foreign_packets: u64,
}

/// The shared atomics behind [`EngineStats`].
#[derive(Debug)]
pub(crate) struct Counters {
    pub legs_active: AtomicU64,
    pub rtp_sent: AtomicU64,
    pub rtp_received: AtomicU64,
    pub rtp_relayed: AtomicU64,
    pub rtcp_sent: AtomicU64,
    pub dtmf_received: AtomicU64,
    pub late_ticks: AtomicU64,
    pub send_errors: AtomicU64,
    pub rtp_foreign: AtomicU64,
    buckets: Box<[AtomicU64]>,
    count: AtomicU64,
    sum_us: AtomicU64,
    max_us: AtomicU64,
}

impl Default for Counters {
    fn default() -> Self {
        Counters {
            legs_active: AtomicU64::new(0),
            rtp_sent: AtomicU64::new(0),
            rtp_received: AtomicU64::new(0),
            rtp_relayed: AtomicU64::new(0),
            rtcp_sent: AtomicU64::new(0),
            dtmf_received: AtomicU64::new(0),
            late_ticks: AtomicU64::new(0),
            send_errors: AtomicU64::new(0),
            rtp_foreign: AtomicU64::new(0),
            buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            sum_us: AtomicU64::new(0),
            max_us: AtomicU64::new(0),
        }
    }
}

/// What one shard counted during one tick; flushed into [`Counters`] at the end of the tick.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct TickCounts {
    pub rtp_sent: u64,
    pub rtp_received: u64,
    pub rtp_relayed: u64,
    pub rtcp_sent: u64,
    pub dtmf_received: u64,
    pub send_errors: u64,
    pub rtp_foreign: u64,
}

impl Counters {
    pub fn flush(&self, t: &TickCounts) {
        for (counter, value) in [
            (&self.rtp_sent, t.rtp_sent),
            (&self.rtp_received, t.rtp_received),
            (&self.rtp_relayed, t.rtp_relayed),
            (&self.rtcp_sent, t.rtcp_sent),
            (&self.dtmf_received, t.dtmf_received),
            (&self.send_errors, t.send_errors),
            (&self.rtp_foreign, t.rtp_foreign),
        ] {
            if value > 0 {
                counter.fetch_add(value, Relaxed);
            }
        }
    }

    pub fn record_interval(&self, interval: Duration) {
        self.buckets[bucket(interval)].fetch_add(1, Relaxed);
        self.count.fetch_add(1, Relaxed);
        self.sum_us.fetch_add(interval.as_micros() as u64, Relaxed);
        self.max_us.fetch_max(interval.as_micros() as u64, Relaxed);
    }

    pub fn snapshot(&self) -> EngineStats {
        EngineStats {
            legs_active: self.legs_active.load(Relaxed),
            rtp_packets_sent: self.rtp_sent.load(Relaxed),
            rtp_packets_received: self.rtp_received.load(Relaxed),
            rtp_packets_relayed: self.rtp_relayed.load(Relaxed),
            rtcp_packets_sent: self.rtcp_sent.load(Relaxed),
            dtmf_digits_received: self.dtmf_received.load(Relaxed),
            send_interval: IntervalHistogram {
                buckets: self.buckets.iter().map(|b| b.load(Relaxed)).collect(),
                count: self.count.load(Relaxed),
                sum: Duration::from_micros(self.sum_us.load(Relaxed)),
                max: Duration::from_micros(self.max_us.load(Relaxed)),
            },
            late_ticks: self.late_ticks.load(Relaxed),
            send_errors: self.send_errors.load(Relaxed),
            rtp_foreign_packets: self.rtp_foreign.load(Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_of_a_known_distribution() {
        let mut h = IntervalHistogram::default();
        assert_eq!(h.quantile(0.99), Duration::ZERO);
        for _ in 0..98 {
            h.record(Duration::from_micros(20_030));
        }
        h.record(Duration::from_millis(24));
        h.record(Duration::from_millis(250));
        assert_eq!(h.count(), 100);
        assert_eq!(h.quantile(0.5), Duration::from_micros(20_100));
        assert_eq!(h.quantile(0.99), Duration::from_micros(24_100));
        assert_eq!(h.quantile(1.0), Duration::from_millis(250));
        assert_eq!(h.max(), Duration::from_millis(250));
        // Cumulative buckets for Prometheus: 20.03 ms falls in (20.0, 20.1].
        assert_eq!(h.count_at_most(Duration::from_millis(20)), 0);
        assert_eq!(h.count_at_most(Duration::from_micros(20_100)), 98);
        assert_eq!(h.count_at_most(Duration::from_millis(25)), 99);
        assert_eq!(h.count_at_most(Duration::from_millis(200)), 99);
        assert_eq!(h.count_at_most(Duration::from_secs(1)), 100);
        assert_eq!(
            h.sum(),
            Duration::from_micros(98 * 20_030 + 24_000 + 250_000)
        );
    }

    #[test]
    fn counters_snapshot_matches_histogram() {
        let c = Counters::default();
        c.record_interval(Duration::from_millis(20));
        c.record_interval(Duration::from_millis(21));
        c.flush(&TickCounts {
            rtp_sent: 3,
            ..TickCounts::default()
        });
        let s = c.snapshot();
        assert_eq!(s.rtp_packets_sent, 3);
        assert_eq!(s.send_interval.count(), 2);
        assert_eq!(s.send_interval.quantile(1.0), Duration::from_millis(21));
    }
}
