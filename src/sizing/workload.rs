//! The requests the experiment replays: a seeded, Zipf-distributed trace of
//! factorial inputs, and what each answer weighs.
//!
//! Everything here is a pure function of its settings and [`TRACE_SEED`], so
//! everyone in a room who picks the same settings sees the same trace.

/// The seed of every trace. Any fixed number would do; fixing it is what
/// makes the experiment repeatable from one learner and run to the next.
/// (The generator is integer arithmetic, the same everywhere; the Zipf
/// weights use `powf`, whose last bit may differ between platforms' maths
/// libraries, which could move a rare draw.)
pub const TRACE_SEED: u64 = 0x00C0_FFEE_CAC4_E1AB;

/// SplitMix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number
/// generators", OOPSLA 2014): a few lines, good enough statistics for a
/// simulation, and the same sequence on every platform. Written here rather
/// than taken from a crate because the experiment must give the same numbers
/// forever, and a crate's generator may change between releases.
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut mixed = self.state;
        mixed = (mixed ^ (mixed >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        mixed = (mixed ^ (mixed >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        mixed ^ (mixed >> 31)
    }

    /// A number in `[0, 1)`, from the top 53 bits (all an `f64` can hold).
    pub fn next_unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A number in `0..bound` (`bound` > 0), by Lemire's multiply-and-shift;
    /// its bias for the bounds used here (at most a few thousand) is below
    /// one part in 10^15.
    pub fn below(&mut self, bound: usize) -> usize {
        ((u128::from(self.next_u64()) * bound as u128) >> 64) as usize
    }
}

/// Popularity ranks drawn with probability proportional to `1 / rank^skew`.
#[derive(Debug, Clone)]
pub struct Zipf {
    /// `cumulative[i]` is the weight of ranks 1..=i+1, so sampling is a
    /// binary search for a uniform number in `[0, total)`.
    cumulative: Vec<f64>,
}

impl Zipf {
    /// `keys` ≥ 1 ranks; `skew` ≥ 0 (0 is uniform, 1 is the classic Zipf).
    pub fn new(keys: usize, skew: f64) -> Self {
        let mut total = 0.0;
        let cumulative = (1..=keys)
            .map(|rank| {
                total += (rank as f64).powf(-skew);
                total
            })
            .collect();
        Self { cumulative }
    }

    /// The share of all requests that go to `rank` (1 is the most popular).
    pub fn expected_share(&self, rank: usize) -> f64 {
        let total = self.cumulative.last().copied().unwrap_or(0.0);
        let below = if rank >= 2 {
            self.cumulative[rank - 2]
        } else {
            0.0
        };
        (self.cumulative[rank - 1] - below) / total
    }

    /// One popularity index: 0 for the most popular key, `keys - 1` for the
    /// least. Inverse CDF: the first rank whose cumulative weight exceeds a
    /// uniform draw.
    pub fn sample(&self, random: &mut SplitMix64) -> usize {
        let total = self.cumulative.last().copied().unwrap_or(0.0);
        let draw = random.next_unit() * total;
        let index = self.cumulative.partition_point(|&weight| weight <= draw);
        // A draw can only reach `total` through rounding.
        index.min(self.cumulative.len().saturating_sub(1))
    }
}

/// The decimal digits of n! for every n in `0..=max_n`: `digits[n]`.
///
/// n! has ⌊log10(n!)⌋ + 1 digits and log10(n!) = Σ log10(k) for k ≤ n, so a
/// running sum gives all of them in one pass, without multiplying a single
/// factorial. The sum's rounding error stays below about 10^-9 for the n used
/// here, so the floor could only slip for an n! within that of a power of
/// ten; the unit test compares the table with exact factorials.
pub fn factorial_digits_table(max_n: u64) -> Vec<u64> {
    let mut log10_sum = 0.0_f64;
    (0..=max_n)
        .map(|n| {
            if n >= 2 {
                log10_sum += (n as f64).log10();
            }
            log10_sum.floor() as u64 + 1
        })
        .collect()
}

/// A trace ready to replay: which key each request asks for, and what each
/// key is.
///
/// Keys are numbered by popularity (key 0 is the most requested). Each key is
/// a factorial input n from `1..=keys`, assigned by a seeded shuffle rather
/// than n = rank: in real traffic popularity has nothing to do with size, and
/// with n = rank the popular answers would always be the smallest, which
/// would make a cache counted in bytes look better than it is.
#[derive(Debug, Clone)]
pub struct Workload {
    /// The key of each request, in order.
    pub trace: Vec<u32>,
    /// `factorial_input[key]`: the n whose n! the key stands for.
    pub factorial_input: Vec<u64>,
    /// `answer_bytes[key]`: the digits of n!, one byte each, which is what
    /// the memory tier keeps for an answer.
    pub answer_bytes: Vec<u64>,
}

impl Workload {
    /// `trace_length` requests over `keys` keys (both ≥ 1), drawn with the
    /// given Zipf `skew` from [`TRACE_SEED`].
    pub fn generate(keys: usize, skew: f64, trace_length: usize) -> Self {
        let mut random = SplitMix64::new(TRACE_SEED);
        let mut factorial_input: Vec<u64> = (1..=keys as u64).collect();
        // Fisher–Yates: every assignment of inputs to ranks equally likely.
        for last in (1..factorial_input.len()).rev() {
            let other = random.below(last + 1);
            factorial_input.swap(last, other);
        }
        let digits = factorial_digits_table(keys as u64);
        let answer_bytes = factorial_input
            .iter()
            .map(|&n| digits[n as usize])
            .collect();
        let zipf = Zipf::new(keys, skew);
        let trace = (0..trace_length)
            .map(|_| zipf.sample(&mut random) as u32)
            .collect();
        Self {
            trace,
            factorial_input,
            answer_bytes,
        }
    }

    /// The factorial input of each request, in order: the trace as the
    /// memory tier sees it.
    pub fn requested_inputs(&self) -> Vec<u64> {
        self.trace
            .iter()
            .map(|&key| self.factorial_input[key as usize])
            .collect()
    }

    /// How many different keys the trace asks for: each one's first request
    /// is a miss whatever the cache (a "compulsory" miss).
    pub fn distinct_keys_requested(&self) -> usize {
        let mut seen = vec![false; self.factorial_input.len()];
        self.trace
            .iter()
            .filter(|&&key| !std::mem::replace(&mut seen[key as usize], true))
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use num_bigint::BigUint;

    #[test]
    fn the_same_seed_gives_the_same_trace() {
        let first = Workload::generate(100, 1.0, 2_000);
        let second = Workload::generate(100, 1.0, 2_000);
        assert_eq!(first.trace, second.trace);
        assert_eq!(first.factorial_input, second.factorial_input);
        let mut random = SplitMix64::new(7);
        let mut again = SplitMix64::new(7);
        for _ in 0..100 {
            assert_eq!(random.next_u64(), again.next_u64());
        }
    }

    #[test]
    fn every_key_is_one_factorial_input_from_one_to_keys() {
        let workload = Workload::generate(50, 1.0, 10);
        let mut inputs = workload.factorial_input.clone();
        inputs.sort_unstable();
        assert_eq!(inputs, (1..=50).collect::<Vec<u64>>());
        assert_ne!(
            workload.factorial_input,
            (1..=50).collect::<Vec<u64>>(),
            "the mapping is shuffled"
        );
    }

    #[test]
    fn the_most_popular_key_gets_about_its_expected_share() {
        // For s = 1 and N = 100 rank 1 has weight 1 / H(100) ≈ 1 / 5.187,
        // about 19.3 % of requests.
        let zipf = Zipf::new(100, 1.0);
        let expected = zipf.expected_share(1);
        assert!((expected - 0.1928).abs() < 0.001, "{expected}");
        let workload = Workload::generate(100, 1.0, 20_000);
        let rank_one = workload.trace.iter().filter(|&&key| key == 0).count();
        let observed = rank_one as f64 / workload.trace.len() as f64;
        assert!(
            (observed - expected).abs() < 0.02,
            "observed {observed}, expected {expected}"
        );
        assert!(workload.trace.iter().all(|&key| key < 100));
    }

    #[test]
    fn the_digit_estimate_matches_the_exact_factorials() {
        let table = factorial_digits_table(1_000);
        let mut factorial = BigUint::from(1u32);
        for n in 1..=1_000u32 {
            factorial *= n;
            if [1, 5, 25, 100, 1_000].contains(&n) {
                let exact = factorial.to_string().len() as u64;
                assert_eq!(table[n as usize], exact, "digits of {n}!");
            }
        }
        assert_eq!(table[0], 1, "0! = 1");
    }
}
