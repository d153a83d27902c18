//! Durations collected for a figure: count, mean and 90th percentile.

use serde::Serialize;

/// Durations in milliseconds. Keeps every value, so percentiles are exact (a year of a
/// 200,000-contact center is a few megabytes).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Durations {
    values: Vec<u64>,
    sorted: bool,
}

impl Durations {
    pub fn push(&mut self, ms: u64) {
        self.values.push(ms);
        self.sorted = false;
    }

    pub fn merge(&mut self, other: &Durations) {
        self.values.extend_from_slice(&other.values);
        self.sorted = false;
    }

    pub fn count(&self) -> u64 {
        self.values.len() as u64
    }

    pub fn total_ms(&self) -> u64 {
        self.values.iter().sum()
    }

    /// The mean, in seconds; `None` when empty.
    #[expect(clippy::cast_precision_loss, reason = "sums stay far below 2^52 ms")]
    pub fn mean_s(&self) -> Option<f64> {
        (!self.values.is_empty())
            .then(|| self.total_ms() as f64 / self.values.len() as f64 / 1000.0)
    }

    /// The `p`-th percentile (0 < p ≤ 100) by nearest rank, in seconds; `None` when empty.
    #[expect(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "ranks and values stay far below 2^52"
    )]
    pub fn percentile_s(&mut self, p: f64) -> Option<f64> {
        if self.values.is_empty() {
            return None;
        }
        if !self.sorted {
            self.values.sort_unstable();
            self.sorted = true;
        }
        let n = self.values.len();
        let rank = ((p / 100.0) * n as f64).ceil().clamp(1.0, n as f64) as usize;
        Some(self.values[rank - 1] as f64 / 1000.0)
    }

    /// Count, mean and 90th percentile, as reports show them.
    pub fn summary(&mut self) -> DurationSummary {
        DurationSummary {
            count: self.count(),
            mean_s: self.mean_s().map(round2),
            p90_s: self.percentile_s(90.0).map(round2),
        }
    }
}

/// A figure's durations in a report.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct DurationSummary {
    pub count: u64,
    pub mean_s: Option<f64>,
    pub p90_s: Option<f64>,
}

/// Rounded to hundredths, as reports print.
pub fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// `num / den` as a percentage rounded to hundredths; `None` when `den` is zero.
#[expect(clippy::cast_precision_loss, reason = "counts stay far below 2^52")]
pub fn percent(num: u64, den: u64) -> Option<f64> {
    (den > 0).then(|| round2(num as f64 * 100.0 / den as f64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentile() {
        let mut d = Durations::default();
        for ms in (1..=10).map(|s| s * 1000) {
            d.push(ms);
        }
        assert_eq!(d.percentile_s(90.0), Some(9.0));
        assert_eq!(d.percentile_s(100.0), Some(10.0));
        assert_eq!(d.percentile_s(1.0), Some(1.0));
        assert_eq!(d.mean_s(), Some(5.5));
        d.push(500);
        assert_eq!(
            d.percentile_s(90.0),
            Some(9.0),
            "11 values: rank ceil(9.9) = 10"
        );
        assert_eq!(Durations::default().summary().mean_s, None);
        assert_eq!(percent(1, 3), Some(33.33));
        assert_eq!(percent(1, 0), None);
    }
}
