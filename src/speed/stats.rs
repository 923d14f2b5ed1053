//! Median and 99th percentile of a set of timings.
//!
//! Both are "nearest rank" percentiles: each is one of the timings actually
//! seen, never an average of two, so a row never shows a time that no read
//! took.

use std::time::Duration;

use serde::Serialize;

/// What many timings of one place came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// How many timings there were.
    pub runs: usize,
    /// Half the timings took this long or less.
    pub median_ns: u64,
    /// 99 in 100 timings took this long or less: the slow reads that a
    /// median hides.
    pub p99_ns: u64,
}

impl Summary {
    /// The summary of `samples`, or `None` when there are none.
    pub fn of(samples: &[Duration]) -> Option<Self> {
        if samples.is_empty() {
            return None;
        }
        let mut sorted: Vec<u64> = samples.iter().map(|sample| nanos(*sample)).collect();
        sorted.sort_unstable();
        Some(Self {
            runs: sorted.len(),
            median_ns: nearest_rank(&sorted, 50),
            p99_ns: nearest_rank(&sorted, 99),
        })
    }
}

/// The smallest sample with at least `percent` % of the samples at or below
/// it. `sorted` is ascending and not empty.
fn nearest_rank(sorted: &[u64], percent: usize) -> u64 {
    let rank = (sorted.len() * percent).div_ceil(100).max(1);
    sorted[rank - 1]
}

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn micros(values: &[u64]) -> Vec<Duration> {
        values.iter().map(|&us| Duration::from_micros(us)).collect()
    }

    #[test]
    fn no_samples_no_summary() {
        assert_eq!(Summary::of(&[]), None);
    }

    #[test]
    fn one_sample_is_its_own_median_and_p99() {
        let summary = Summary::of(&micros(&[7])).expect("one sample");
        assert_eq!(
            (summary.runs, summary.median_ns, summary.p99_ns),
            (1, 7_000, 7_000)
        );
    }

    #[test]
    fn the_median_is_the_middle_sample_in_any_order() {
        let summary = Summary::of(&micros(&[9, 1, 5, 3, 7])).expect("samples");
        assert_eq!(summary.median_ns, 5_000);
        assert_eq!(summary.p99_ns, 9_000);
        // An even count takes the lower middle one: a time some read took.
        let summary = Summary::of(&micros(&[4, 1, 3, 2])).expect("samples");
        assert_eq!(summary.median_ns, 2_000);
    }

    #[test]
    fn p99_of_a_hundred_is_the_ninety_ninth_and_sees_the_slow_tail() {
        // 1..=100 µs: the 99th smallest is 99 µs.
        let ordered: Vec<u64> = (1..=100).rev().collect();
        let summary = Summary::of(&micros(&ordered)).expect("samples");
        assert_eq!(summary.median_ns, 50_000);
        assert_eq!(summary.p99_ns, 99_000);

        // 197 fast reads and 3 slow ones (more than 1 in 100): the median
        // does not move, the p99 does.
        let mut tail = vec![10; 197];
        tail.extend([5_000, 6_000, 7_000]);
        let summary = Summary::of(&micros(&tail)).expect("samples");
        assert_eq!(summary.median_ns, 10_000);
        assert_eq!(summary.p99_ns, 5_000_000);
        assert_eq!(summary.runs, 200);
    }
}
