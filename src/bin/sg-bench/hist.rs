//! A lock-free latency histogram in microseconds: log-linear buckets (64 per power of two,
//! under 1.6% error), shared by every stream task through atomic counters.

use std::sync::atomic::{AtomicU64, Ordering};

/// Values below this are counted exactly.
const EXACT: u64 = 128;
/// Sub-buckets per power of two above [`EXACT`].
const SUB: u64 = 64;
/// Enough buckets for any `u64`.
const BUCKETS: usize = 128 + 57 * 64;

/// A histogram's non-empty buckets as `(index, count)` and its largest value.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Snapshot {
    /// Non-empty buckets: index and count.
    pub buckets: Vec<(usize, u64)>,
    /// The largest value recorded.
    pub max: u64,
}

/// A concurrent histogram of `u64` values.
#[derive(Debug)]
pub struct Histogram {
    buckets: Box<[AtomicU64]>,
    count: AtomicU64,
    max: AtomicU64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            max: AtomicU64::new(0),
        }
    }
}

fn index(v: u64) -> usize {
    if v < EXACT {
        return v as usize;
    }
    let bits = 64 - u64::from(v.leading_zeros()); // >= 8
    let shift = bits - 7;
    let top = v >> shift; // 64..=127
    (EXACT + (shift - 1) * SUB + (top - SUB)) as usize
}

/// The middle of bucket `i`.
fn value_at(i: usize) -> u64 {
    let i = i as u64;
    if i < EXACT {
        return i;
    }
    let shift = (i - EXACT) / SUB + 1;
    let top = (i - EXACT) % SUB + SUB;
    (top << shift) + (1u64 << shift) / 2
}

impl Histogram {
    /// Counts `n` occurrences of `value`.
    pub fn record_n(&self, value: u64, n: u64) {
        self.buckets[index(value)].fetch_add(n, Ordering::Relaxed);
        self.count.fetch_add(n, Ordering::Relaxed);
        self.max.fetch_max(value, Ordering::Relaxed);
    }

    /// Counts one `value`.
    pub fn record(&self, value: u64) {
        self.record_n(value, 1);
    }

    /// How many values were recorded.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// The largest value recorded.
    pub fn max(&self) -> u64 {
        self.max.load(Ordering::Relaxed)
    }

    /// The value at quantile `q` (0..=1), `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<u64> {
        let count = self.count();
        if count == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * count as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, bucket) in self.buckets.iter().enumerate() {
            seen += bucket.load(Ordering::Relaxed);
            if seen >= rank {
                return Some(value_at(i).min(self.max()));
            }
        }
        Some(self.max())
    }

    /// The recorded values as `(bucket, count)` pairs of the non-empty buckets, and the
    /// largest value: what a load shard sends its parent ([`Histogram::merge`]).
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            buckets: self
                .buckets
                .iter()
                .enumerate()
                .filter_map(|(i, b)| {
                    let n = b.load(Ordering::Relaxed);
                    (n > 0).then_some((i, n))
                })
                .collect(),
            max: self.max(),
        }
    }

    /// Adds another histogram's values, as [`Histogram::snapshot`] gave them.
    ///
    /// # Errors
    /// A bucket index beyond this histogram's (the snapshot is not one of ours).
    pub fn merge(&self, other: &Snapshot) -> Result<(), String> {
        for &(i, n) in &other.buckets {
            let bucket = self
                .buckets
                .get(i)
                .ok_or_else(|| format!("latency bucket {i} is out of range"))?;
            bucket.fetch_add(n, Ordering::Relaxed);
            self.count.fetch_add(n, Ordering::Relaxed);
        }
        self.max.fetch_max(other.max, Ordering::Relaxed);
        Ok(())
    }

    /// Forgets every value.
    pub fn reset(&self) {
        for bucket in self.buckets.iter() {
            bucket.store(0, Ordering::Relaxed);
        }
        self.count.store(0, Ordering::Relaxed);
        self.max.store(0, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn buckets_cover_u64_and_keep_order() {
        assert!(index(u64::MAX) < BUCKETS);
        let mut last = 0;
        for v in [
            0,
            1,
            127,
            128,
            129,
            255,
            256,
            1000,
            1 << 20,
            1 << 40,
            u64::MAX,
        ] {
            let i = index(v);
            assert!(i >= last);
            last = i;
            let mid = value_at(i);
            let err = mid.abs_diff(v) as f64 / (v.max(1)) as f64;
            assert!(err <= 0.02, "{v} -> {mid}");
        }
    }

    #[test]
    fn quantiles_come_from_the_recorded_values() {
        let h = Histogram::default();
        assert_eq!(h.quantile(0.5), None);
        for v in 1..=1000 {
            h.record(v * 10);
        }
        let p50 = h.quantile(0.5).unwrap();
        let p99 = h.quantile(0.99).unwrap();
        assert!((4900..=5100).contains(&p50), "{p50}");
        assert!((9700..=10_000).contains(&p99), "{p99}");
        assert_eq!(h.count(), 1000);
        h.reset();
        assert_eq!(h.count(), 0);
    }

    #[test]
    fn merged_snapshots_give_the_quantiles_of_all_values() {
        let (a, b, all) = (
            Histogram::default(),
            Histogram::default(),
            Histogram::default(),
        );
        for v in 1..=1000 {
            let h = if v % 3 == 0 { &a } else { &b };
            h.record(v * 10);
            all.record(v * 10);
        }
        let merged = Histogram::default();
        merged.merge(&a.snapshot()).unwrap();
        merged.merge(&b.snapshot()).unwrap();
        assert_eq!(merged.count(), 1000);
        assert_eq!(merged.max(), 10_000);
        for q in [0.5, 0.99, 1.0] {
            assert_eq!(merged.quantile(q), all.quantile(q), "q {q}");
        }
        let bad = Snapshot {
            buckets: vec![(BUCKETS, 1)],
            max: 0,
        };
        assert!(merged.merge(&bad).is_err());
    }
}
