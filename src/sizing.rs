//! "How big a cache must be": replay one skewed workload through three
//! eviction policies at a series of cache sizes, and through the memory
//! tier's own storage rule, and find the sizes that reach a target hit ratio.
//!
//! The workload is in [`workload`] (a seeded Zipf trace of factorial
//! inputs), the policies in [`policies`] (LRU through the memory tier's own
//! store, FIFO, Bélády, and the memory tier's rule of keeping every step),
//! and the live check of a size, through a real memory tier, in [`replay`].
//! This module picks the sizes, runs everything and gathers the numbers the
//! page and `/sizing.json` show. Nothing here knows about HTTP.

mod policies;
mod replay;
mod workload;

pub use policies::{
    belady_hits, fifo_hits, lru_hits, lru_hits_by_bytes, memory_tier_replay, next_uses,
    MemoryTierReplay,
};
pub use replay::{replay_through_memory_tier, LiveReplay, ReplayGate};
pub use workload::{factorial_digits_table, SplitMix64, Workload, Zipf, TRACE_SEED};

use serde::Serialize;

/// The most keys a learner may ask for (fewer when `max_factorial` is
/// lower: every key is a factorial input). With [`MAX_TRACE_LENGTH`] this
/// keeps one experiment under about 0.65 s in a debug build (the page at
/// the largest settings took 0.44 to 0.63 s, most of it the memory tier's
/// curve and the search for its smallest size, which replays the trace a
/// few dozen times; measured on a shared two-core machine), and under
/// 0.2 s at the defaults.
pub const MAX_KEYS: usize = 500;
/// The longest trace a learner may ask for.
pub const MAX_TRACE_LENGTH: usize = 2_000;
/// Fewer requests than this say little about a hit ratio.
pub const MIN_TRACE_LENGTH: usize = 100;
/// The most multiplications one replay through a live memory tier may do.
/// A tier far too small for the trace forgets its steps and multiplies them
/// again and again (up to about 300,000 at the largest settings), and in a
/// debug build each step costs some 20 µs (measured on a shared two-core
/// machine): this bound keeps a replay's computing under a second there.
/// The simulation says how many a replay will do before it starts.
///
/// A replay also waits about a millisecond per miss: the tier sleeps for
/// its simulated delay even when that is zero, and a timer fires on the
/// next millisecond at the soonest. So 1,000 misses (a 50 % target on
/// 2,000 requests) add about a second of waiting, not of computing: the
/// slowest replay measured in a debug build took 1.9 s.
pub const MAX_REPLAY_STEPS: u64 = 40_000;

/// Past a skew of about 2 nearly every request is for the top few keys.
pub const MAX_SKEW: f64 = 2.0;

/// What the page shows before the learner changes anything: the classic
/// Zipf skew of 1, which web traffic comes close to.
pub const DEFAULT_SKEW: f64 = 1.0;
pub const DEFAULT_KEYS: usize = 200;
pub const DEFAULT_TRACE_LENGTH: usize = 2_000;
pub const DEFAULT_TARGET_PERCENT: u32 = 80;

/// The settings as they arrived, before they are checked: each is the text
/// of a query parameter, or `None` when it was left out (or left empty).
#[derive(Debug, Default, Clone, Copy)]
pub struct RawSettings<'a> {
    pub skew: Option<&'a str>,
    pub keys: Option<&'a str>,
    pub trace_length: Option<&'a str>,
    pub target_percent: Option<&'a str>,
}

/// Settings that are safe to run: every value inside its bounds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SizingSettings {
    /// The Zipf exponent s: request share ∝ 1 / rank^s.
    pub skew: f64,
    /// How many different keys (factorial inputs 1..=keys) there are.
    pub keys: usize,
    /// How many requests the trace holds.
    pub trace_length: usize,
    /// The hit ratio to find a cache size for, in percent.
    pub target_percent: u32,
}

/// Why a setting was refused, in words for the person who typed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingError {
    /// The query parameter at fault.
    pub parameter: &'static str,
    pub message: String,
    /// What would have been accepted.
    pub accepted: String,
}

/// The bounds the settings are checked against, for the page to state.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct SettingLimits {
    pub max_skew: f64,
    pub max_keys: usize,
    pub min_trace_length: usize,
    pub max_trace_length: usize,
}

impl SettingLimits {
    /// The limits when the app accepts factorial inputs up to `max_factorial`.
    pub fn for_max_factorial(max_factorial: u64) -> Self {
        let max_keys = usize::try_from(max_factorial)
            .unwrap_or(usize::MAX)
            .clamp(2, MAX_KEYS);
        Self {
            max_skew: MAX_SKEW,
            max_keys,
            min_trace_length: MIN_TRACE_LENGTH,
            max_trace_length: MAX_TRACE_LENGTH,
        }
    }
}

impl Default for SizingSettings {
    fn default() -> Self {
        Self {
            skew: DEFAULT_SKEW,
            keys: DEFAULT_KEYS,
            trace_length: DEFAULT_TRACE_LENGTH,
            target_percent: DEFAULT_TARGET_PERCENT,
        }
    }
}

impl SizingSettings {
    /// Checks each setting against `limits`; a missing one takes its default
    /// (the default number of keys is lowered to the limit if need be).
    pub fn parse(raw: RawSettings<'_>, limits: SettingLimits) -> Result<Self, SettingError> {
        let defaults = Self::default();
        let skew = match raw.skew {
            None => defaults.skew,
            Some(text) => text
                .trim()
                .parse::<f64>()
                .ok()
                // Also refuses NaN, which compares false with everything.
                .filter(|skew| (0.0..=limits.max_skew).contains(skew))
                .ok_or_else(|| SettingError {
                    parameter: "skew",
                    message: format!(
                        "the skew {text:?} is not a number from 0 to {}",
                        limits.max_skew
                    ),
                    accepted: format!(
                        "a decimal number from 0 (every key equally popular) to {} \
                         (nearly every request for the top few keys), such as 1 or 0.8",
                        limits.max_skew
                    ),
                })?,
        };
        let keys = match raw.keys {
            None => defaults.keys.min(limits.max_keys),
            Some(text) => {
                whole_number_in(text, 2, limits.max_keys).ok_or_else(|| SettingError {
                    parameter: "keys",
                    message: format!(
                        "the number of keys {text:?} is not a whole number from 2 to {}",
                        limits.max_keys
                    ),
                    accepted: format!("a whole number of keys from 2 to {}", limits.max_keys),
                })?
            }
        };
        let trace_length = match raw.trace_length {
            None => defaults.trace_length,
            Some(text) => whole_number_in(text, limits.min_trace_length, limits.max_trace_length)
                .ok_or_else(|| SettingError {
                parameter: "requests",
                message: format!(
                    "the number of requests {text:?} is not a whole number from {} to {}",
                    limits.min_trace_length, limits.max_trace_length
                ),
                accepted: format!(
                    "a whole number of requests from {} to {}",
                    limits.min_trace_length, limits.max_trace_length
                ),
            })?,
        };
        let target_percent = match raw.target_percent {
            None => defaults.target_percent as usize,
            Some(text) => whole_number_in(text, 1, 99).ok_or_else(|| SettingError {
                parameter: "target",
                message: format!(
                    "the target hit ratio {text:?} is not a whole percentage from 1 to 99"
                ),
                accepted: "a whole percentage from 1 to 99, such as 80".to_owned(),
            })?,
        };
        Ok(Self {
            skew,
            keys,
            trace_length,
            // At most 99, checked above.
            target_percent: target_percent as u32,
        })
    }
}

/// The memory tier's capacity for a replay, in entries: from 1 to the most
/// keys (a tier that big already holds every step the trace can make).
pub fn parse_capacity(text: Option<&str>, limits: SettingLimits) -> Result<usize, SettingError> {
    let accepted = format!("a whole number of entries from 1 to {}", limits.max_keys);
    let text = text.ok_or_else(|| SettingError {
        parameter: "capacity",
        message: "the capacity is missing: say how many entries the memory tier may hold"
            .to_owned(),
        accepted: accepted.clone(),
    })?;
    whole_number_in(text, 1, limits.max_keys).ok_or_else(|| SettingError {
        parameter: "capacity",
        message: format!(
            "the capacity {text:?} is not a whole number of entries from 1 to {}",
            limits.max_keys
        ),
        accepted,
    })
}

fn whole_number_in(text: &str, lowest: usize, highest: usize) -> Option<usize> {
    text.trim()
        .parse::<usize>()
        .ok()
        .filter(|number| (lowest..=highest).contains(number))
}

/// Each policy's hits at one cache size.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CurvePoint {
    /// Entries or bytes, as the curve counts them.
    pub capacity: u64,
    pub lru_hits: u64,
    pub fifo_hits: u64,
    pub belady_hits: u64,
    /// Hits as a share of all requests, from 0 to 1.
    pub lru_hit_ratio: f64,
    pub fifo_hit_ratio: f64,
    pub belady_hit_ratio: f64,
    /// Hits of the memory tier's own rule, which keeps every step k! it
    /// multiplies (see [`memory_tier_replay`]): on the curve counted in
    /// entries only, since that tier counts entries.
    pub memory_tier_hits: Option<u64>,
    pub memory_tier_hit_ratio: Option<f64>,
}

/// The smallest LRU cache that reaches the target, if any does.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Suggestion {
    pub target_percent: u32,
    /// False when even a cache holding every key falls short: the first
    /// request for each key misses whatever the size.
    pub reachable: bool,
    /// The fewest entries whose LRU cache reaches the target (exact: LRU's
    /// hits never fall as it grows, so a binary search finds it).
    pub entries: Option<u64>,
    /// That cache's hit ratio.
    pub entries_hit_ratio: Option<f64>,
    /// About the fewest bytes whose byte-bounded LRU cache reaches the target:
    /// a binary search to within 1 %. Counted in bytes, a bigger cache can
    /// now and then hit a little less (a large answer that now fits pushes
    /// out several small ones), so this is near the smallest rather than
    /// surely it; but this size itself was run and does reach the target.
    pub bytes: Option<u64>,
    pub bytes_hit_ratio: Option<f64>,
    /// The fewest entries found for which the memory tier itself, keeping
    /// every step, reaches the target; `None` when even a tier that holds
    /// every step falls short. Found by trying every size up from just above the last size on the
    /// curve that falls short (`memory_tier_searched_from`): its curve
    /// can dip, so halving the range could step over the answer.
    pub memory_tier_entries: Option<u64>,
    pub memory_tier_hit_ratio: Option<f64>,
    /// The smallest size the search tried, when it searched.
    pub memory_tier_searched_from: Option<u64>,
}

/// Everything one experiment found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SizingReport {
    pub settings: SizingSettings,
    pub seed: u64,
    pub requests: u64,
    /// Keys asked for at least once: each costs one miss whatever the size.
    pub distinct_keys_requested: u64,
    /// The hit ratio of a cache that never evicts anything.
    pub best_possible_hit_ratio: f64,
    /// The size of every key's answer together: a cache this big holds all.
    pub total_answer_bytes: u64,
    pub largest_answer_bytes: u64,
    /// Capacity counted in entries, every entry alike.
    pub by_entries: Vec<CurvePoint>,
    /// Capacity counted in bytes, each entry weighing its answer's digits.
    pub by_bytes: Vec<CurvePoint>,
    pub suggestion: Suggestion,
    /// The memory tier's `memory_capacity` in this app, and the hit ratio an
    /// LRU cache of that many entries gets on this trace.
    pub current_capacity: u64,
    pub current_capacity_hit_ratio: f64,
    /// The hit ratio the memory tier itself gets at `current_capacity`.
    pub current_capacity_memory_tier_hit_ratio: f64,
}

/// Sizes at 1, 2, 5, 10, 20, 50, ... from `first` (rounded down to such a
/// number) below `last`, and then `last` itself, so the curve ends where
/// everything fits.
pub fn one_two_five_series(first: u64, last: u64) -> Vec<u64> {
    let last = last.max(1);
    let start = largest_one_two_five_at_most(first.clamp(1, last));
    let mut series = Vec::new();
    let mut decade = 1u64;
    loop {
        for step in [1, 2, 5] {
            let size = decade.saturating_mul(step);
            if size >= last {
                series.push(last);
                return series;
            }
            if size >= start {
                series.push(size);
            }
        }
        decade = decade.saturating_mul(10);
    }
}

/// The largest of 1, 2, 5, 10, 20, 50, ... that is at most `value` (≥ 1).
fn largest_one_two_five_at_most(value: u64) -> u64 {
    let mut best = 1;
    let mut decade = 1u64;
    while decade <= value {
        for step in [1, 2, 5] {
            if let Some(size) = decade.checked_mul(step) {
                if size <= value {
                    best = size;
                }
            }
        }
        match decade.checked_mul(10) {
            Some(next) => decade = next,
            None => break,
        }
    }
    best
}

/// Runs the experiment for `settings`, and an LRU cache of
/// `current_capacity` entries (the app's own `memory_capacity`) besides.
pub fn run(settings: SizingSettings, current_capacity: usize) -> SizingReport {
    let workload = Workload::generate(settings.keys, settings.skew, settings.trace_length);
    let trace = &workload.trace;
    let requests = trace.len() as u64;
    let next_use = next_uses(trace);
    let one_each = vec![1u64; settings.keys];
    let sizes = &workload.answer_bytes;
    let distinct = workload.distinct_keys_requested() as u64;
    let ratio = |hits: u64| hits as f64 / requests.max(1) as f64;
    let requested_inputs = workload.requested_inputs();
    let memory_tier_hits =
        |capacity: u64| memory_tier_replay(&requested_inputs, capacity as usize).hits;
    let point = |capacity: u64, lru: u64, fifo: u64, belady: u64| CurvePoint {
        capacity,
        lru_hits: lru,
        fifo_hits: fifo,
        belady_hits: belady,
        lru_hit_ratio: ratio(lru),
        fifo_hit_ratio: ratio(fifo),
        belady_hit_ratio: ratio(belady),
        memory_tier_hits: None,
        memory_tier_hit_ratio: None,
    };

    let by_entries: Vec<CurvePoint> = one_two_five_series(1, settings.keys as u64)
        .into_iter()
        .map(|capacity| {
            let memory_tier = memory_tier_hits(capacity);
            CurvePoint {
                memory_tier_hits: Some(memory_tier),
                memory_tier_hit_ratio: Some(ratio(memory_tier)),
                ..point(
                    capacity,
                    lru_hits(trace, capacity as usize),
                    fifo_hits(trace, &one_each, capacity),
                    belady_hits(trace, &next_use, &one_each, capacity),
                )
            }
        })
        .collect();

    let total_answer_bytes: u64 = sizes.iter().sum();
    let largest_answer_bytes = sizes.iter().copied().max().unwrap_or(1);
    let mut sorted_sizes = sizes.clone();
    sorted_sizes.sort_unstable();
    // Start where one typical answer fits: below that nearly nothing does.
    let median_answer_bytes = sorted_sizes[sorted_sizes.len() / 2];
    let by_bytes: Vec<CurvePoint> = one_two_five_series(median_answer_bytes, total_answer_bytes)
        .into_iter()
        .map(|capacity| {
            point(
                capacity,
                lru_hits_by_bytes(trace, sizes, capacity),
                fifo_hits(trace, sizes, capacity),
                belady_hits(trace, &next_use, sizes, capacity),
            )
        })
        .collect();

    let reaches = |hits: u64| hits * 100 >= u64::from(settings.target_percent) * requests;
    let best_hits = requests - distinct;
    let memory_tier_curve: Vec<(u64, u64)> = by_entries
        .iter()
        .filter_map(|point| Some((point.capacity, point.memory_tier_hits?)))
        .collect();
    let memory_tier_search = smallest_memory_tier(&memory_tier_curve, reaches, memory_tier_hits);
    let memory_tier_suggestion = |mut suggestion: Suggestion| {
        if let Some((searched_from, entries, hits)) = memory_tier_search {
            suggestion.memory_tier_entries = Some(entries);
            suggestion.memory_tier_hit_ratio = Some(ratio(hits));
            suggestion.memory_tier_searched_from = Some(searched_from);
        }
        suggestion
    };
    let suggestion = if reaches(best_hits) {
        // The curve brackets the answer: search only between the last point
        // that falls short and the first that reaches the target.
        let (entries_below, entries_above) = bracket(&by_entries, |point| reaches(point.lru_hits));
        let entries = smallest_reaching(entries_below, entries_above, 0, |capacity| {
            reaches(lru_hits(trace, capacity as usize))
        });
        let (bytes_below, bytes_above) = bracket(&by_bytes, |point| reaches(point.lru_hits));
        let bytes = smallest_reaching(bytes_below, bytes_above, BYTES_PRECISION, |capacity| {
            reaches(lru_hits_by_bytes(trace, sizes, capacity))
        });
        Suggestion {
            target_percent: settings.target_percent,
            reachable: true,
            entries: Some(entries),
            entries_hit_ratio: Some(ratio(lru_hits(trace, entries as usize))),
            bytes: Some(bytes),
            bytes_hit_ratio: Some(ratio(lru_hits_by_bytes(trace, sizes, bytes))),
            memory_tier_entries: None,
            memory_tier_hit_ratio: None,
            memory_tier_searched_from: None,
        }
    } else {
        Suggestion {
            target_percent: settings.target_percent,
            reachable: false,
            entries: None,
            entries_hit_ratio: None,
            bytes: None,
            bytes_hit_ratio: None,
            memory_tier_entries: None,
            memory_tier_hit_ratio: None,
            memory_tier_searched_from: None,
        }
    };
    let suggestion = memory_tier_suggestion(suggestion);

    SizingReport {
        settings,
        seed: TRACE_SEED,
        requests,
        distinct_keys_requested: distinct,
        best_possible_hit_ratio: ratio(best_hits),
        total_answer_bytes,
        largest_answer_bytes,
        by_entries,
        by_bytes,
        suggestion,
        current_capacity: current_capacity as u64,
        current_capacity_hit_ratio: ratio(lru_hits(trace, current_capacity.max(1))),
        current_capacity_memory_tier_hit_ratio: ratio(memory_tier_hits(
            current_capacity.max(1) as u64
        )),
    }
}

/// The smallest memory tier found to reach a target.
///
/// The memory tier's hit ratio need not rise with its size: one entry more
/// can keep a step that later pushes out an answer. So a binary search
/// could step over the answer. Instead every size is tried, one by one,
/// from just above the last size on the curve that falls short up to the
/// first size on the curve that reaches the target, and the first that
/// reaches it is the suggestion. Sizes below that bracket are not tried
/// (a smaller size reaching a target that a larger one on the curve
/// misses is not ruled out), so this is the smallest from there up, and
/// the page says where the search began.
///
/// `(searched from, smallest size found, its hits)`, from the memory
/// tier's `(size, hits)` on the curve (smallest size first) and
/// `hits_at`, which replays the trace at one size; `None` when no point
/// of the curve reaches the target.
fn smallest_memory_tier(
    curve: &[(u64, u64)],
    reaches: impl Fn(u64) -> bool,
    hits_at: impl Fn(u64) -> u64,
) -> Option<(u64, u64, u64)> {
    let first = curve.iter().position(|(_, hits)| reaches(*hits))?;
    let searched_from = match first {
        0 => 1,
        index => curve[index - 1].0 + 1,
    };
    let (top, top_hits) = curve[first];
    let (entries, hits) = (searched_from..top)
        .map(|capacity| (capacity, hits_at(capacity)))
        .find(|(_, hits)| reaches(*hits))
        .unwrap_or((top, top_hits));
    Some((searched_from, entries, hits))
}

/// What [`run`]'s simulations predict for one size, for a replay through
/// the live memory tier to be compared with.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Prediction {
    pub capacity: u64,
    /// The memory tier's own rule (every step kept).
    pub memory_tier_hits: u64,
    pub memory_tier_hit_ratio: f64,
    pub memory_tier_entries_held: u64,
    pub memory_tier_entries_asked_for: u64,
    /// Multiplications the memory tier's misses will do.
    pub memory_tier_steps_multiplied: u64,
    /// An LRU cache of one entry per answer, as the first curve counts.
    pub one_entry_per_answer_hits: u64,
    pub one_entry_per_answer_hit_ratio: f64,
    /// The smallest memory tier found to reach the settings' target (as
    /// [`Suggestion::memory_tier_entries`]), `None` when none does.
    pub smallest_memory_tier_for_target: Option<u64>,
}

/// The predictions for `settings`' trace at `capacity` entries (≥ 1).
pub fn predict(settings: SizingSettings, capacity: usize) -> Prediction {
    let workload = Workload::generate(settings.keys, settings.skew, settings.trace_length);
    let requests = workload.requested_inputs();
    let ratio = |hits: u64| hits as f64 / requests.len().max(1) as f64;
    let memory_tier = memory_tier_replay(&requests, capacity);
    let one_entry_per_answer = lru_hits(&workload.trace, capacity);
    let hits_at = |capacity: u64| memory_tier_replay(&requests, capacity as usize).hits;
    let curve: Vec<(u64, u64)> = one_two_five_series(1, settings.keys as u64)
        .into_iter()
        .map(|size| (size, hits_at(size)))
        .collect();
    let reaches =
        |hits: u64| hits * 100 >= u64::from(settings.target_percent) * requests.len() as u64;
    let smallest = smallest_memory_tier(&curve, reaches, hits_at);
    Prediction {
        smallest_memory_tier_for_target: smallest.map(|(_, entries, _)| entries),
        capacity: capacity as u64,
        memory_tier_hits: memory_tier.hits,
        memory_tier_hit_ratio: ratio(memory_tier.hits),
        memory_tier_entries_held: memory_tier.held.len() as u64,
        memory_tier_steps_multiplied: memory_tier.steps_multiplied,
        memory_tier_entries_asked_for: memory_tier.held_asked_for.len() as u64,
        one_entry_per_answer_hits: one_entry_per_answer,
        one_entry_per_answer_hit_ratio: ratio(one_entry_per_answer),
    }
}

/// How close the byte suggestion gets to the smallest size that reaches the
/// target: within 1 part in this many. Each step of the search replays the
/// whole trace, and "about 1.9 MiB" needs no more.
const BYTES_PRECISION: u64 = 50;

/// The capacity of the last point before the first that `reaches`, plus
/// one (or 1), and that first point's capacity (or the last point's, when
/// none reaches).
fn bracket(curve: &[CurvePoint], reaches: impl Fn(&CurvePoint) -> bool) -> (u64, u64) {
    let first_reaching = curve.iter().position(reaches).unwrap_or(curve.len() - 1);
    let below = match first_reaching {
        0 => 1,
        index => curve[index - 1].capacity + 1,
    };
    (below, curve[first_reaching].capacity)
}

/// The smallest size in `lowest..=highest` for which `reaches` holds, given
/// that it holds for `highest` and, once it holds, holds for every larger
/// size. Stops when the answer is known to within `1 / precision` of itself
/// (0: exactly), and returns a size for which `reaches` was seen to hold
/// (or `highest`).
fn smallest_reaching(
    lowest: u64,
    highest: u64,
    precision: u64,
    reaches: impl Fn(u64) -> bool,
) -> u64 {
    let (mut falls_short, mut enough) = (lowest.saturating_sub(1), highest);
    while enough - falls_short > 1 {
        if precision > 0 && (enough - falls_short) * precision <= enough {
            break;
        }
        let middle = falls_short + (enough - falls_short) / 2;
        if reaches(middle) {
            enough = middle;
        } else {
            falls_short = middle;
        }
    }
    enough
}

#[cfg(test)]
mod tests;
