//! Summaries of measured durations.

use serde::Serialize;

/// Percentiles of a set of durations, in milliseconds.
#[derive(Debug, Clone, Serialize)]
pub struct Percentiles {
	pub count: usize,
	pub min_ms: f64,
	pub p50_ms: f64,
	pub p90_ms: f64,
	pub p95_ms: f64,
	pub p99_ms: f64,
	pub max_ms: f64,
	pub mean_ms: f64,
}

/// The nearest-rank percentile `p` (0–100) of `sorted`, which must be sorted and non-empty.
fn nearest_rank(sorted: &[f64], p: f64) -> f64 {
	let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
	sorted[rank.clamp(1, sorted.len()) - 1]
}

impl Percentiles {
	/// `None` for an empty set.
	pub fn of(samples_ms: &[f64]) -> Option<Self> {
		if samples_ms.is_empty() {
			return None;
		}
		let mut sorted = samples_ms.to_vec();
		sorted.sort_by(f64::total_cmp);
		Some(Self {
			count: sorted.len(),
			min_ms: sorted[0],
			p50_ms: nearest_rank(&sorted, 50.0),
			p90_ms: nearest_rank(&sorted, 90.0),
			p95_ms: nearest_rank(&sorted, 95.0),
			p99_ms: nearest_rank(&sorted, 99.0),
			max_ms: sorted[sorted.len() - 1],
			mean_ms: sorted.iter().sum::<f64>() / sorted.len() as f64,
		})
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn nearest_rank_percentiles() {
		let samples: Vec<f64> = (1..=100).map(f64::from).collect();
		let p = Percentiles::of(&samples).unwrap();
		assert_eq!((p.p50_ms, p.p95_ms, p.p99_ms, p.max_ms), (50.0, 95.0, 99.0, 100.0));
		let one = Percentiles::of(&[7.0]).unwrap();
		assert_eq!((one.p50_ms, one.p99_ms), (7.0, 7.0));
		assert!(Percentiles::of(&[]).is_none());
	}
}
