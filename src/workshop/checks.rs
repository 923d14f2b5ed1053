//! Whether a learner's own requests show an exercise done, and the
//! evidence, in words.

use super::*;

/// Decides whether `events` (one learner's, oldest first) show `exercise`
/// done, and if so says how, in a sentence the learner can check.
pub fn check(exercise: Exercise, events: &[Event], clears: &[ClearRecord]) -> Option<String> {
    match exercise {
        Exercise::FirstHit => check_first_hit(events),
        Exercise::MemoizedSteps => check_memoized_steps(events),
        Exercise::LruEviction => check_lru_eviction(events, clears),
        Exercise::DiskPersistence => check_disk_persistence(events),
        Exercise::CanonicalKeys => check_canonical_keys(events),
        Exercise::Ttl => check_ttl(events),
        Exercise::Clearing => check_clearing(events),
        Exercise::ReadingTimings => check_reading_timings(events),
        Exercise::Stampede => check_stampede(events),
        Exercise::Integrity => check_integrity(events),
    }
}

/// One request of a kind, with when (and in which run of the app) it happened.
pub(super) struct Seen<'a, T> {
    at_ms: u64,
    boot: u64,
    seq: u64,
    what: &'a T,
}

impl<T> std::ops::Deref for Seen<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        self.what
    }
}

pub(super) type FactorialSeen<'a> = Seen<'a, FactorialEvent>;
pub(super) type DataSeen<'a> = Seen<'a, DataEvent>;

pub(super) fn factorials(events: &[Event]) -> impl Iterator<Item = FactorialSeen<'_>> + '_ {
    events.iter().filter_map(|event| match &event.what {
        What::Factorial(what) => Some(Seen {
            at_ms: event.at_ms,
            boot: event.boot,
            seq: event.seq,
            what,
        }),
        _ => None,
    })
}

pub(super) fn data_requests(events: &[Event]) -> impl Iterator<Item = DataSeen<'_>> + '_ {
    events.iter().filter_map(|event| match &event.what {
        What::Data(what) => Some(Seen {
            at_ms: event.at_ms,
            boot: event.boot,
            seq: event.seq,
            what,
        }),
        _ => None,
    })
}

pub(super) fn check_first_hit(events: &[Event]) -> Option<String> {
    let seen: Vec<FactorialSeen> = factorials(events).collect();
    seen.iter().enumerate().find_map(|(index, miss)| {
        if miss.hit || miss.coalesced {
            return None;
        }
        let hit = seen[index + 1..]
            .iter()
            .find(|later| later.n == miss.n && later.boot == miss.boot && later.hit)?;
        Some(format!(
            "{}! was a MISS at {} in {}, then a HIT in {}",
            miss.n,
            crate::view::clock_utc(miss.at_ms),
            micros(miss.elapsed_us),
            micros(hit.elapsed_us)
        ))
    })
}

pub(super) fn check_memoized_steps(events: &[Event]) -> Option<String> {
    factorials(events).find_map(|seen| {
        let k = seen.reused_from.filter(|k| *k > 0 && *k < seen.n)?;
        (!seen.hit && !seen.coalesced && seen.steps_computed == seen.n - k).then(|| {
            format!(
                "{}! started from {k}! in memory and computed only {}, at {}",
                seen.n,
                crate::view::count_of(seen.steps_computed as usize, "step", "steps"),
                crate::view::clock_utc(seen.at_ms)
            )
        })
    })
}

pub(super) fn check_lru_eviction(events: &[Event], clears: &[ClearRecord]) -> Option<String> {
    let seen: Vec<FactorialSeen> = factorials(events).collect();
    seen.iter().enumerate().find_map(|(index, earlier)| {
        let again = seen[index + 1..].iter().find(|later| {
            later.n == earlier.n && later.boot == earlier.boot && !later.hit && !later.coalesced
        })?;
        let cleared_between = clears.iter().any(|clear| {
            clear.boot == earlier.boot
                && clear.tier.includes_memory()
                && (clear.seq, clear.at_ms) > (earlier.seq, earlier.at_ms)
                && (clear.seq, clear.at_ms) < (again.seq, again.at_ms)
        });
        (!cleared_between).then(|| {
            format!(
                "{}! was in memory at {}, was evicted to make room, and was a MISS again at {}",
                earlier.n,
                crate::view::clock_utc(earlier.at_ms),
                crate::view::clock_utc(again.at_ms)
            )
        })
    })
}

pub(super) fn check_disk_persistence(events: &[Event]) -> Option<String> {
    let data: Vec<DataSeen> = data_requests(events).collect();
    let (before, after) = data.iter().enumerate().find_map(|(index, before)| {
        if !(before.stored || before.hit) {
            return None;
        }
        let after = data[index + 1..]
            .iter()
            .find(|later| later.key == before.key && later.boot > before.boot && later.hit)?;
        Some((before, after))
    })?;
    let memory: Vec<FactorialSeen> = factorials(events).collect();
    let cold = memory.iter().find(|earlier| {
        earlier.boot == before.boot
            && memory.iter().any(|later| {
                later.boot == after.boot && later.n == earlier.n && !later.hit && !later.coalesced
            })
    })?;
    Some(format!(
        "after the restart, the disk entry {}… was still a HIT at {}, while {}! had to be computed again",
        short(&after.key),
        crate::view::clock_utc(after.at_ms),
        cold.n
    ))
}

pub(super) fn check_canonical_keys(events: &[Event]) -> Option<String> {
    let data: Vec<DataSeen> = data_requests(events).collect();
    data.iter().enumerate().find_map(|(index, first)| {
        let respelled = data[index + 1..].iter().find(|later| {
            later.key == first.key && later.hit && later.raw_fingerprint != first.raw_fingerprint
        })?;
        let changed = data[index + 1..]
            .iter()
            .find(|later| later.key != first.key && !later.hit && !later.coalesced)?;
        Some(format!(
            "two spellings of one body shared the key {}… (the second was a HIT at {}); a changed value got the key {}… and was a MISS",
            short(&first.key),
            crate::view::clock_utc(respelled.at_ms),
            short(&changed.key)
        ))
    })
}

pub(super) fn check_ttl(events: &[Event]) -> Option<String> {
    data_requests(events).find_map(|seen| {
        (seen.miss_reason == Some(MissReason::Expired)).then(|| {
            format!(
                "{}… was a MISS at {} because it had expired, and was stored again",
                short(&seen.key),
                crate::view::clock_utc(seen.at_ms)
            )
        })
    })
}

pub(super) fn check_clearing(events: &[Event]) -> Option<String> {
    let refused = events
        .iter()
        .find(|event| event.what == What::ClearByGetRefused)?;
    events.iter().enumerate().find_map(|(index, clear)| {
        let What::Cleared { tier } = clear.what else {
            return None;
        };
        let before = &events[..index];
        let after = &events[index + 1..];
        let missed_again = factorials(after).find(|later| {
            !later.hit
                && later.boot == clear.boot
                && tier.includes_memory()
                && factorials(before).any(|earlier| earlier.n == later.n && earlier.boot == clear.boot)
        });
        let subject = match missed_again {
            Some(seen) => format!("{}!", seen.n),
            None => {
                let seen = data_requests(after).find(|later| {
                    !later.hit
                        && later.boot == clear.boot
                        && tier != ClearedTier::Memory
                        && data_requests(before)
                            .any(|earlier| earlier.key == later.key && earlier.boot == clear.boot)
                })?;
                format!("{}…", short(&seen.key))
            }
        };
        Some(format!(
            "a GET /clear-cache at {} changed nothing; a POST cleared the {} cache at {}, and {subject} was a MISS afterwards",
            crate::view::clock_utc(refused.at_ms),
            match tier {
                ClearedTier::Memory => "memory",
                ClearedTier::Disk => "disk",
                ClearedTier::Both => "memory and disk",
            },
            crate::view::clock_utc(clear.at_ms)
        ))
    })
}

/// A reading matches a recorded time if it is within 25% or 0.1 ms of it,
/// whichever is looser: people round what they read.
pub(super) fn reading_matches(read_ms: f64, recorded_us: u64) -> bool {
    let recorded_ms = recorded_us as f64 / 1000.0;
    (read_ms - recorded_ms).abs() <= (recorded_ms * 0.25).max(0.1)
}

pub(super) fn check_reading_timings(events: &[Event]) -> Option<String> {
    let elapsed: Vec<(bool, u64)> = events
        .iter()
        .filter_map(|event| match &event.what {
            What::Factorial(seen) => Some((seen.hit, seen.elapsed_us)),
            What::Data(seen) => Some((seen.hit, seen.elapsed_us)),
            _ => None,
        })
        .collect();
    // The recorded time nearest to what was read, among hits or misses,
    // so the evidence names the request the learner actually looked at.
    let closest = |want_hit: bool, read_ms: f64| {
        elapsed
            .iter()
            .rev()
            .filter(|(hit, _)| *hit == want_hit)
            .min_by(|a, b| {
                let distance = |us: u64| (read_ms - us as f64 / 1000.0).abs();
                distance(a.1).total_cmp(&distance(b.1))
            })
            .map(|(_, us)| *us)
            .filter(|us| reading_matches(read_ms, *us))
    };
    events.iter().rev().find_map(|event| {
        let What::TimingsReported { miss_ms, hit_ms } = event.what else {
            return None;
        };
        if miss_ms <= hit_ms {
            return None;
        }
        let miss_us = closest(false, miss_ms)?;
        let hit_us = closest(true, hit_ms)?;
        Some(format!(
            "you read a miss of {miss_ms} ms and a hit of {hit_ms} ms; the server had measured {} and {}: the hit was {} faster",
            micros(miss_us),
            micros(hit_us),
            crate::view::speedup(miss_us, hit_us)
        ))
    })
}

pub(super) fn check_stampede(events: &[Event]) -> Option<String> {
    // (subject, at_ms, boot, computed here?) for every miss.
    let misses: Vec<(String, u64, u64, bool)> = events
        .iter()
        .filter_map(|event| match &event.what {
            What::Factorial(seen) if !seen.hit => Some((
                format!("{}!", seen.n),
                event.at_ms,
                event.boot,
                !seen.coalesced,
            )),
            What::Data(seen) if !seen.hit => Some((
                format!("{}…", short(&seen.key)),
                event.at_ms,
                event.boot,
                !seen.coalesced,
            )),
            _ => None,
        })
        .collect();
    misses.iter().find_map(|(subject, at_ms, boot, computed)| {
        if !computed {
            return None;
        }
        let waiters = misses
            .iter()
            .filter(|(other, other_at, other_boot, other_computed)| {
                other == subject
                    && other_boot == boot
                    && !other_computed
                    && other_at.abs_diff(*at_ms) <= STAMPEDE_WINDOW_MS
            })
            .count();
        (waiters >= STAMPEDE_MIN_WAITERS).then(|| {
            format!(
                "{} requests for {subject} arrived together at {}: one did the work and {waiters} waited for its answer",
                waiters + 1,
                crate::view::clock_utc(*at_ms)
            )
        })
    })
}

pub(super) fn check_integrity(events: &[Event]) -> Option<String> {
    let data: Vec<DataSeen> = data_requests(events).collect();
    data.iter().enumerate().find_map(|(index, damaged)| {
        if damaged.miss_reason != Some(MissReason::Unreadable) {
            return None;
        }
        let healed = data[index + 1..]
            .iter()
            .find(|later| later.key == damaged.key && later.hit)?;
        Some(format!(
            "{}… failed its integrity check at {} and was recomputed instead of served; it was a HIT again at {}",
            short(&damaged.key),
            crate::view::clock_utc(damaged.at_ms),
            crate::view::clock_utc(healed.at_ms)
        ))
    })
}

/// The first 12 characters of a key (a whole character, even if a damaged
/// progress file put something other than hex there).
pub fn short(key: &str) -> &str {
    key.char_indices()
        .nth(12)
        .map_or(key, |(end, _)| &key[..end])
}

pub(super) fn micros(us: u64) -> String {
    crate::view::server_ms(std::time::Duration::from_micros(us))
}
