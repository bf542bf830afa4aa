//! Pause statistics: a fixed-bucket histogram of collection pauses per generation, cheap
//! enough to be always on, with percentiles read from it.

use core::time::Duration;

/// Buckets of a [`PauseStats`]: one for pauses under 1 µs, then four per power of two up to
/// about 68 s (the last one also takes anything longer).
pub const PAUSE_BUCKETS: usize = 1 + 4 * 26;

/// The pauses of one generation's collections, as a histogram whose buckets are a quarter
/// of a power of two wide (so a percentile is exact to within 19 %), plus the exact longest
/// pause and total.
///
/// ```
/// use gencollect::{collect, get_pause_stats};
/// collect();
/// let full = get_pause_stats()[2];
/// assert!(full.count() >= 1);
/// assert!(full.percentile(50.0) <= full.max());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PauseStats {
    counts: [u64; PAUSE_BUCKETS],
    max: Duration,
    total: Duration,
}

impl Default for PauseStats {
    fn default() -> PauseStats {
        PauseStats {
            counts: [0; PAUSE_BUCKETS],
            max: Duration::ZERO,
            total: Duration::ZERO,
        }
    }
}

/// The bucket of a pause of `ns` nanoseconds.
fn bucket(ns: u64) -> usize {
    if ns < 1024 {
        return 0;
    }
    let log = 63 - ns.leading_zeros() as usize; // at least 10
    let quarter = ((ns >> (log - 2)) & 3) as usize;
    (1 + (log - 10) * 4 + quarter).min(PAUSE_BUCKETS - 1)
}

/// The upper bound of bucket `i`, in nanoseconds.
fn upper_ns(i: usize) -> u64 {
    if i == 0 {
        return 1024;
    }
    let log = (i - 1) / 4 + 10;
    let quarter = ((i - 1) % 4) as u64;
    (5 + quarter) << (log - 2)
}

impl PauseStats {
    pub(crate) fn record(&mut self, pause: Duration) {
        let ns = u64::try_from(pause.as_nanos()).unwrap_or(u64::MAX);
        self.counts[bucket(ns)] += 1;
        self.max = self.max.max(pause);
        self.total += pause;
    }

    /// How many pauses were recorded.
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// The longest pause.
    pub fn max(&self) -> Duration {
        self.max
    }

    /// The sum of all pauses.
    pub fn total(&self) -> Duration {
        self.total
    }

    /// The pause that `p` percent of pauses do not exceed (`p` in 0..=100), as the upper
    /// bound of its bucket, never above [`max`](Self::max); zero when nothing was recorded.
    pub fn percentile(&self, p: f64) -> Duration {
        let n = self.count();
        if n == 0 {
            return Duration::ZERO;
        }
        let rank = ((p.clamp(0.0, 100.0) / 100.0) * n as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Duration::from_nanos(upper_ns(i)).min(self.max);
            }
        }
        self.max
    }

    /// The pauses of `self` and `other` together (for all generations at once).
    pub fn merged(&self, other: &PauseStats) -> PauseStats {
        let mut out = *self;
        for (a, b) in out.counts.iter_mut().zip(other.counts) {
            *a += b;
        }
        out.max = out.max.max(other.max);
        out.total += other.total;
        out
    }

    /// The non-empty buckets: each one's upper bound and how many pauses it holds.
    pub fn buckets(&self) -> impl Iterator<Item = (Duration, u64)> + '_ {
        self.counts
            .iter()
            .enumerate()
            .filter(|(_, c)| **c > 0)
            .map(|(i, c)| (Duration::from_nanos(upper_ns(i)), *c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_a_quarter_octave_wide_and_percentiles_read_their_bounds() {
        assert_eq!((bucket(0), bucket(1023), bucket(1024)), (0, 0, 1));
        assert_eq!(upper_ns(1), 1280);
        for ns in [1024u64, 1500, 9_999, 1_000_000, 123_456_789, 60_000_000_000] {
            let b = bucket(ns);
            assert!(
                upper_ns(b) > ns && (b == 1 || upper_ns(b - 1) <= ns),
                "{ns}"
            );
        }
        assert_eq!(bucket(u64::MAX), PAUSE_BUCKETS - 1);
        let mut s = PauseStats::default();
        assert_eq!(s.percentile(50.0), Duration::ZERO);
        for us in 1..=100 {
            s.record(Duration::from_micros(us));
        }
        assert_eq!(s.count(), 100);
        assert_eq!(s.max(), Duration::from_micros(100));
        assert_eq!(s.total(), Duration::from_micros(5050));
        let p50 = s.percentile(50.0);
        assert!(
            p50 >= Duration::from_micros(50) && p50 < Duration::from_micros(60),
            "{p50:?}"
        );
        assert_eq!(
            s.percentile(100.0),
            Duration::from_micros(100),
            "capped at the max"
        );
        let both = s.merged(&s);
        assert_eq!((both.count(), both.max()), (200, s.max()));
        assert_eq!(s.buckets().map(|(_, c)| c).sum::<u64>(), 100);
    }
}
