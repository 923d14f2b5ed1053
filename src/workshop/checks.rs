//! Whether a learner's own requests show an exercise done.
//!
//! Each check looks for exactly the steps its exercise describes, in their
//! order, with the method the exercise names, for this learner's own inputs
//! (see [`Plan`]), among this learner's own requests. A request done for
//! another exercise, or by someone else, never counts. A check records the
//! requests that earned the tick ([`Evidence`]); pages put them into words.

use super::plan::{key_of, Path, Plan};
use super::*;

/// The requests that earned a tick, in the order the exercise asks for them.
/// Facts only: how they are worded is the pages' business, so a wording
/// change reaches ticks already saved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Evidence {
    Steps {
        steps: Vec<Event>,
    },
    /// A tick saved as a sentence, by an earlier version of the app.
    Words(String),
}

impl Evidence {
    fn of(events: &[Event], indices: &[usize]) -> Self {
        Self::Steps {
            steps: indices.iter().map(|index| events[*index].clone()).collect(),
        }
    }

    pub fn steps(&self) -> &[Event] {
        match self {
            Self::Steps { steps } => steps,
            Self::Words(_) => &[],
        }
    }
}

/// Decides whether `events` (one learner's, oldest first) show `exercise`
/// done by the steps `plan` gives this learner, and if so, which requests
/// earned it. `clears` are everyone's clears, which can explain a miss.
pub fn check(
    exercise: Exercise,
    plan: &Plan,
    events: &[Event],
    clears: &[ClearRecord],
) -> Option<Evidence> {
    Path::BOTH.into_iter().find_map(|path| {
        let steps = match exercise {
            Exercise::FirstHit => first_hit(plan.first_hit(path), events),
            Exercise::MemoizedSteps => memoized_steps(plan.memoized(path), events),
            Exercise::LruEviction => lru_eviction(plan, path, events, clears),
            Exercise::DiskPersistence => disk_persistence(plan.persistence(path), events),
            Exercise::CanonicalKeys => canonical_keys(&plan.canonical(path), events),
            Exercise::Ttl => ttl(&plan.ttl(path), events),
            Exercise::Clearing => clearing(plan.clearing(path), events),
            Exercise::ReadingTimings => reading_timings(plan.timings(path), events, events.len()),
            Exercise::Stampede => stampede(plan.stampede(path), events),
            Exercise::Integrity => integrity(&plan.integrity(path), events),
        }?;
        Some(Evidence::of(events, &steps))
    })
}

/// Whether the timings report at `events[report]` matches a miss and a hit
/// of this learner's own, whatever was reported before it.
pub fn check_report(plan: &Plan, events: &[Event], report: usize) -> Option<Evidence> {
    Path::BOTH.into_iter().find_map(|path| {
        let steps = reading_timings(plan.timings(path), events, report + 1)?;
        (steps.last() == Some(&report)).then(|| Evidence::of(events, &steps))
    })
}

fn factorial(event: &Event) -> Option<&FactorialEvent> {
    match &event.what {
        What::Factorial(seen) => Some(seen),
        _ => None,
    }
}

fn data(event: &Event) -> Option<&DataEvent> {
    match &event.what {
        What::Data(seen) => Some(seen),
        _ => None,
    }
}

/// A factorial request for `n` that did the computing itself: not a hit,
/// and not a wait for someone else's computation.
fn computed(event: &Event, n: u64) -> bool {
    factorial(event).is_some_and(|seen| seen.n == n && !seen.hit && !seen.coalesced)
}

fn hit(event: &Event, n: u64) -> bool {
    factorial(event).is_some_and(|seen| seen.n == n && seen.hit)
}

/// The first event after `after` (or from the start) that `wanted` accepts.
fn next(events: &[Event], after: Option<usize>, wanted: impl Fn(&Event) -> bool) -> Option<usize> {
    let start = after.map_or(0, |index| index + 1);
    events[start..]
        .iter()
        .position(wanted)
        .map(|offset| start + offset)
}

/// Every event `wanted` accepts, as candidates for an exercise's first step:
/// an attempt that failed half-way must not stop a later one from counting.
fn starts(events: &[Event], wanted: impl Fn(&Event) -> bool) -> std::vec::IntoIter<usize> {
    let found: Vec<usize> = events
        .iter()
        .enumerate()
        .filter(|(_, event)| wanted(event))
        .map(|(index, _)| index)
        .collect();
    found.into_iter()
}

/// n! computed by this learner, then asked for again and found in memory.
fn first_hit(n: u64, events: &[Event]) -> Option<Vec<usize>> {
    starts(events, |event| computed(event, n)).find_map(|miss| {
        let boot = events[miss].boot;
        let again = next(events, Some(miss), |event| {
            event.boot == boot && factorial(event).is_some_and(|seen| seen.n == n)
        })?;
        hit(&events[again], n).then(|| vec![miss, again])
    })
}

/// k! computed by this learner, then n! computed from it: only n − k steps.
fn memoized_steps((k, n): (u64, u64), events: &[Event]) -> Option<Vec<usize>> {
    starts(events, |event| computed(event, k)).find_map(|base| {
        let boot = events[base].boot;
        let larger = next(events, Some(base), |event| {
            event.boot == boot && factorial(event).is_some_and(|seen| seen.n == n)
        })?;
        let seen = factorial(&events[larger])?;
        (computed(&events[larger], n)
            && seen.reused_from == Some(k)
            && seen.steps_computed == n - k)
            .then(|| vec![base, larger])
    })
}

/// The five steps that tell least-recently-used from first-in-first-out:
/// fill the cache, use its oldest entry, add one more, find the used one
/// kept and the next oldest gone.
fn lru_eviction(
    plan: &Plan,
    path: Path,
    events: &[Event],
    clears: &[ClearRecord],
) -> Option<Vec<usize>> {
    let run = plan.lru(path);
    let capacity = plan.memory_capacity();
    let asked_for = |n: u64| move |event: &Event| factorial(event).is_some_and(|seen| seen.n == n);
    starts(events, |event| {
        computed(event, run.top)
            && factorial(event).is_some_and(|seen| seen.steps_computed >= capacity)
    })
    .find_map(|fill| {
        let boot = events[fill].boot;
        let same_boot = |index: usize| events[index].boot == boot;
        let used = next(events, Some(fill), asked_for(run.oldest()))?;
        let added = next(events, Some(used), asked_for(run.newcomer()))?;
        let kept = next(events, Some(added), asked_for(run.oldest()))?;
        let gone = next(events, Some(kept), asked_for(run.victim()))?;
        let added_seen = factorial(&events[added])?;
        let in_order = [used, added, kept, gone].into_iter().all(same_boot)
            && hit(&events[used], run.oldest())
            && computed(&events[added], run.newcomer())
            && added_seen.reused_from == Some(run.top)
            && hit(&events[kept], run.oldest())
            && computed(&events[gone], run.victim());
        // A clear in between, by anyone, would explain the last miss.
        let cleared_meanwhile = clears.iter().any(|clear| {
            clear.boot == boot
                && clear.tier.includes_memory()
                && clear.seq > events[added].seq
                && clear.seq < events[gone].seq
        });
        (in_order && !cleared_meanwhile).then(|| vec![fill, used, added, kept, gone])
    })
}

/// Before a restart: n! asked for and the body stored. After it: n! is a
/// miss and the body a hit.
fn disk_persistence((n, body): (u64, String), events: &[Event]) -> Option<Vec<usize>> {
    let key = key_of(&body);
    let body_seen = |event: &Event| data(event).is_some_and(|seen| seen.key == key);
    let n_seen = |event: &Event| factorial(event).is_some_and(|seen| seen.n == n);
    starts(events, n_seen).find_map(|before_n| {
        let boot = events[before_n].boot;
        let stored = next(events, Some(before_n), |event| {
            event.boot == boot && body_seen(event)
        })?;
        let stored_seen = data(&events[stored])?;
        if !(stored_seen.stored && !stored_seen.hit && !stored_seen.coalesced) {
            return None;
        }
        let after_n = next(events, Some(stored), |event| {
            event.boot > boot && n_seen(event)
        })?;
        let after_body = next(events, Some(after_n), |event| {
            event.boot == events[after_n].boot && body_seen(event)
        })?;
        (computed(&events[after_n], n) && data(&events[after_body]).is_some_and(|seen| seen.hit))
            .then(|| vec![before_n, stored, after_n, after_body])
    })
}

/// One value stored, the same value written differently found under its
/// key, a changed value given another key and a miss.
fn canonical_keys(bodies: &[String; 3], events: &[Event]) -> Option<Vec<usize>> {
    let [first_key, _, changed_key] = [0, 1, 2].map(|index| key_of(&bodies[index]));
    let first_fingerprint = crate::canonical::raw_fingerprint(bodies[0].as_bytes());
    let respelled_fingerprint = crate::canonical::raw_fingerprint(bodies[1].as_bytes());
    let spelled = |key: &str, fingerprint: u64| {
        let key = key.to_owned();
        move |event: &Event| {
            data(event).is_some_and(|seen| seen.key == key && seen.raw_fingerprint == fingerprint)
        }
    };
    starts(events, spelled(&first_key, first_fingerprint)).find_map(|first| {
        let seen = data(&events[first])?;
        if seen.hit || seen.coalesced || !seen.stored {
            return None;
        }
        let respelled = next(
            events,
            Some(first),
            spelled(&first_key, respelled_fingerprint),
        )?;
        let changed = next(events, Some(respelled), |event| {
            data(event).is_some_and(|seen| seen.key == changed_key)
        })?;
        let changed_seen = data(&events[changed])?;
        (data(&events[respelled])?.hit && !changed_seen.hit && !changed_seen.coalesced)
            .then(|| vec![first, respelled, changed])
    })
}

/// The body stored by this learner, then sent again after it expired.
fn ttl(body: &str, events: &[Event]) -> Option<Vec<usize>> {
    let key = key_of(body);
    starts(events, |event| {
        data(event).is_some_and(|seen| seen.key == key && seen.stored && !seen.hit)
    })
    .find_map(|stored| {
        let expired = next(events, Some(stored), |event| {
            data(event).is_some_and(|seen| {
                seen.key == key && seen.miss_reason == Some(MissReason::Expired)
            })
        })?;
        Some(vec![stored, expired])
    })
}

/// n! in memory; a GET that clears nothing; a POST that clears memory;
/// n! computed again.
fn clearing(n: u64, events: &[Event]) -> Option<Vec<usize>> {
    starts(events, |event| {
        factorial(event).is_some_and(|seen| seen.n == n && !seen.coalesced)
    })
    .find_map(|cached| {
        let boot = events[cached].boot;
        let refused = next(events, Some(cached), |event| {
            event.what == What::ClearByGetRefused
        })?;
        let cleared = next(events, Some(refused), |event| {
            matches!(&event.what, What::Cleared { tier, request }
                if tier.includes_memory() && request.starts_with("POST "))
        })?;
        let again = next(events, Some(cleared), |event| {
            factorial(event).is_some_and(|seen| seen.n == n)
        })?;
        let same_boot = [refused, cleared, again]
            .into_iter()
            .all(|index| events[index].boot == boot);
        (same_boot && computed(&events[again], n)).then(|| vec![cached, refused, cleared, again])
    })
}

/// n! computed, then found in memory, then a report (among the first
/// `considered` events) whose numbers match what the server measured for
/// those two requests.
fn reading_timings(n: u64, events: &[Event], considered: usize) -> Option<Vec<usize>> {
    let events = &events[..considered.min(events.len())];
    starts(events, |event| computed(event, n)).find_map(|miss| {
        let boot = events[miss].boot;
        let hit_at = next(events, Some(miss), |event| {
            event.boot == boot && hit(event, n)
        })?;
        let (miss_us, hit_us) = (
            factorial(&events[miss])?.elapsed_us,
            factorial(&events[hit_at])?.elapsed_us,
        );
        let report = events[hit_at + 1..].iter().rposition(|event| {
            matches!(&event.what, What::TimingsReported { miss, hit }
                if miss.matches_us(miss_us) && hit.matches_us(hit_us))
        })?;
        Some(vec![miss, hit_at, hit_at + 1 + report])
    })
}

/// One request computed n! while at least [`STAMPEDE_MIN_WAITERS`] others,
/// arriving together with it, waited for its answer.
fn stampede(n: u64, events: &[Event]) -> Option<Vec<usize>> {
    starts(events, |event| computed(event, n)).find_map(|leader| {
        let (boot, at_ms) = (events[leader].boot, events[leader].at_ms);
        let waiters: Vec<usize> = events
            .iter()
            .enumerate()
            .filter(|(_, event)| {
                event.boot == boot
                    && event.at_ms.abs_diff(at_ms) <= STAMPEDE_WINDOW_MS
                    && factorial(event).is_some_and(|seen| seen.n == n && seen.coalesced)
            })
            .map(|(index, _)| index)
            .collect();
        (waiters.len() >= STAMPEDE_MIN_WAITERS)
            .then(|| std::iter::once(leader).chain(waiters).collect())
    })
}

/// The body stored, found damaged and recomputed, then a hit again.
fn integrity(body: &str, events: &[Event]) -> Option<Vec<usize>> {
    let key = key_of(body);
    let this_body = |event: &Event| data(event).is_some_and(|seen| seen.key == key);
    starts(events, |event| {
        data(event).is_some_and(|seen| seen.key == key && seen.stored && !seen.hit)
    })
    .find_map(|stored| {
        let damaged = next(events, Some(stored), |event| {
            this_body(event)
                && data(event).is_some_and(|seen| seen.miss_reason == Some(MissReason::Unreadable))
        })?;
        let healed = next(events, Some(damaged), this_body)?;
        data(&events[healed])?
            .hit
            .then(|| vec![stored, damaged, healed])
    })
}

/// The first 12 characters of a key (a whole character, even if a damaged
/// progress file put something other than hex there).
pub fn short(key: &str) -> &str {
    key.char_indices()
        .nth(12)
        .map_or(key, |(end, _)| &key[..end])
}
