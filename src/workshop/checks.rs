//! Whether a learner's own requests show an exercise done.
//!
//! Each check looks for exactly the steps its exercise describes, in their
//! order, with the method the exercise names, for this learner's own inputs
//! (see [`Plan`]), among this learner's own requests. A request done for
//! another exercise, or by someone else, never counts. A check records the
//! requests that earned the tick ([`Evidence`]); pages put them into words.

use super::plan::{key_of, HttpLesson, Path, Plan};
use super::*;

mod catalogue;
mod instances;
pub(super) mod sizing;

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
    let now_ms = events.last().map_or(0, |event| event.at_ms);
    check_at(exercise, plan, events, clears, now_ms)
}

/// [`check`] as of `now_ms` (Unix milliseconds), for the checks that wait
/// (see [`Exercise::waits_on_time`]); [`check`] takes the latest event's time.
pub fn check_at(
    exercise: Exercise,
    plan: &Plan,
    events: &[Event],
    clears: &[ClearRecord],
    now_ms: u64,
) -> Option<Evidence> {
    Path::BOTH.into_iter().find_map(|path| {
        let steps = match exercise {
            Exercise::FirstHit => first_hit(plan.first_hit(path), events),
            Exercise::MemoizedSteps => memoized_steps(plan.memoized(path), events),
            Exercise::LruEviction => lru_eviction(plan, path, events, clears),
            Exercise::DiskPersistence => disk_persistence(plan.persistence(path), events),
            Exercise::CanonicalKeys => canonical_keys(&plan.canonical(path), events, clears),
            Exercise::Ttl => ttl(&plan.ttl(path), events),
            Exercise::Clearing => clearing(plan.clearing(path), events),
            Exercise::ReadingTimings => reading_timings(plan.timings(path), events),
            Exercise::Stampede => stampede(plan.stampede(path), events),
            Exercise::Integrity => integrity(&plan.integrity(path), events),
            Exercise::BrowserCache => {
                browser_cache(&plan.resource(HttpLesson::BrowserCache), events)
            }
            Exercise::Revalidation => {
                revalidation(&plan.resource(HttpLesson::Revalidation), events)
            }
            Exercise::NoStoreVersusNoCache => {
                no_store_versus_no_cache(&plan.resource(HttpLesson::NoStoreVersusNoCache), events)
            }
            Exercise::SharedCacheHit => {
                shared_cache_hit(&plan.resource(HttpLesson::SharedCache), events, now_ms)
            }
            Exercise::MemoryPerProcess => instances::memory_per_process(plan.per_process(), events),
            Exercise::SharedTierHit => instances::shared_tier_hit(plan.shared_hit(), events),
            Exercise::ClearReachesEveryInstance => {
                instances::clear_reaches_every_instance(plan.clear_reaches(), events)
            }
            Exercise::SharedTierOutage => instances::shared_tier_outage(events),
            Exercise::StaleAnswer => catalogue::stale_answer(events),
            Exercise::InvalidateOnWrite => catalogue::invalidate_on_write(events),
            Exercise::WriteThrough => catalogue::write_through(events),
            Exercise::StaleWhileRevalidate => catalogue::stale_while_revalidate(events),
            Exercise::SizeTheMemoryTier => sizing::size_the_memory_tier(events),
        }?;
        Some(Evidence::of(events, &steps))
    })
}

/// Whether the timings report at `events[report]` matches a miss and a hit
/// of this learner's own, whatever was reported before it.
pub fn check_report(plan: &Plan, events: &[Event], report: usize) -> Option<Evidence> {
    Path::BOTH.into_iter().find_map(|path| {
        let steps = report_matches(plan.timings(path), events, report)?;
        Some(Evidence::of(events, &steps))
    })
}

/// Whether the report at `events[report]` came after the learner had
/// already used up the reports one miss allows, for the latest miss of
/// either of their timing numbers.
pub fn reports_used_up(plan: &Plan, events: &[Event], report: usize) -> bool {
    Path::BOTH.into_iter().any(|path| {
        let n = plan.timings(path);
        events[..report]
            .iter()
            .rposition(|event| computed(event, n))
            .is_some_and(|miss_at| reports_since(events, miss_at, report) > REPORTS_PER_MISS)
    })
}

/// Timings reports from `from` to `report`, both included.
fn reports_since(events: &[Event], from: usize, report: usize) -> usize {
    events[from..=report]
        .iter()
        .filter(|event| matches!(event.what, What::TimingsReported { .. }))
        .count()
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

/// Which computation's steps answered a factorial request (see
/// [`FactorialEvent::computation`]).
fn computation_of(event: &Event) -> Option<u64> {
    factorial(event).map(|seen| seen.computation)
}

/// A hit for n that was answered by the steps `computation` stored, in
/// the run that saw `miss`: the learner's own work, not an entry someone
/// else put back after theirs was evicted, nor a computation of the same
/// number on another instance.
fn own_hit(event: &Event, n: u64, miss: &Event, computation: u64) -> bool {
    event.same_run(miss) && hit(event, n) && computation_of(event) == Some(computation)
}

/// n! computed by this learner, then asked for again and answered by those
/// very steps.
fn first_hit(n: u64, events: &[Event]) -> Option<Vec<usize>> {
    starts(events, |event| computed(event, n)).find_map(|miss| {
        let (run, id) = (&events[miss], computation_of(&events[miss])?);
        let again = next(events, Some(miss), |event| {
            event.same_run(run) && factorial(event).is_some_and(|seen| seen.n == n)
        })?;
        own_hit(&events[again], n, run, id).then(|| vec![miss, again])
    })
}

/// k! computed by this learner, then n! computed from those steps: only
/// n − k multiplications.
fn memoized_steps((k, n): (u64, u64), events: &[Event]) -> Option<Vec<usize>> {
    starts(events, |event| computed(event, k)).find_map(|base| {
        let (run, id) = (&events[base], computation_of(&events[base])?);
        let larger = next(events, Some(base), |event| {
            event.same_run(run) && factorial(event).is_some_and(|seen| seen.n == n)
        })?;
        let seen = factorial(&events[larger])?;
        (computed(&events[larger], n)
            && seen.reused_from == Some(k)
            && seen.reused_computation == Some(id)
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
        let (filled, id) = (&events[fill], computation_of(&events[fill])?);
        let used = next(events, Some(fill), asked_for(run.oldest()))?;
        let added = next(events, Some(used), asked_for(run.newcomer()))?;
        let kept = next(events, Some(added), asked_for(run.oldest()))?;
        let gone = next(events, Some(kept), asked_for(run.victim()))?;
        let added_seen = factorial(&events[added])?;
        let in_order = own_hit(&events[used], run.oldest(), filled, id)
            && events[added].same_run(filled)
            && computed(&events[added], run.newcomer())
            && added_seen.reused_from == Some(run.top)
            && added_seen.reused_computation == Some(id)
            && own_hit(&events[kept], run.oldest(), filled, id)
            && events[gone].same_run(filled)
            && computed(&events[gone], run.victim());
        // A clear in between, by anyone, would explain the last miss.
        let cleared_meanwhile = clears.iter().any(|clear| {
            clear.emptied_memory_of(filled)
                && clear.seq > events[added].seq
                && clear.seq < events[gone].seq
        });
        (in_order && !cleared_meanwhile).then(|| vec![fill, used, added, kept, gone])
    })
}

/// A body request that stored the body: a miss this request computed.
fn stored_here(event: &Event, key: &str) -> bool {
    data(event).is_some_and(|seen| seen.key == key && seen.stored && !seen.hit && !seen.coalesced)
}

/// Before a restart: n! asked for, then the body stored. After it: n! is a
/// miss, and the body's first request is a hit, found in the file stored
/// before the restart (nothing stored it again in between).
fn disk_persistence((n, body): (u64, String), events: &[Event]) -> Option<Vec<usize>> {
    let key = key_of(&body);
    let body_seen = |event: &Event| data(event).is_some_and(|seen| seen.key == key);
    let n_seen = |event: &Event| factorial(event).is_some_and(|seen| seen.n == n);
    starts(events, n_seen).find_map(|before_n| {
        let before = &events[before_n];
        let stored = next(events, Some(before_n), |event| {
            event.same_run(before) && stored_here(event, &key)
        })?;
        let after_n = next(events, Some(stored), |event| {
            event.after_restart_of(before) && n_seen(event)
        })?;
        let restarted = &events[after_n];
        let after_body = next(events, Some(stored), |event| {
            body_seen(event) && (event.same_run(restarted) || stored_here(event, &key))
        })?;
        let survived = events[after_body].same_run(restarted)
            && after_body > after_n
            && data(&events[after_body]).is_some_and(|seen| seen.hit);
        (computed(&events[after_n], n) && survived)
            .then(|| vec![before_n, stored, after_n, after_body])
    })
}

/// Whether anyone emptied the disk tier between two of a learner's events.
fn disk_cleared_between(clears: &[ClearRecord], earlier: &Event, later: &Event) -> bool {
    clears
        .iter()
        .any(|clear| clear.tier.includes_disk() && clear.seq > earlier.seq && clear.seq < later.seq)
}

/// One value stored, the same value written differently found under its
/// key (in the entry the first stored: no clear in between), then a
/// changed value given another key and a miss.
fn canonical_keys(
    bodies: &[String; 3],
    events: &[Event],
    clears: &[ClearRecord],
) -> Option<Vec<usize>> {
    let [first_key, _, changed_key] = [0, 1, 2].map(|index| key_of(&bodies[index]));
    starts(events, |event| stored_here(event, &first_key)).find_map(|first| {
        let first_spelling = data(&events[first])?.raw_fingerprint;
        let respelled = next(events, Some(first), |event| {
            data(event)
                .is_some_and(|seen| seen.key == first_key && seen.raw_fingerprint != first_spelling)
        })?;
        let changed = next(events, Some(respelled), |event| {
            data(event).is_some_and(|seen| seen.key == changed_key)
        })?;
        let changed_seen = data(&events[changed])?;
        (data(&events[respelled])?.hit
            && !disk_cleared_between(clears, &events[first], &events[respelled])
            && !changed_seen.hit
            && !changed_seen.coalesced)
            .then(|| vec![first, respelled, changed])
    })
}

/// The latest request before `index` that stored `key`.
fn latest_store_before(events: &[Event], index: usize, key: &str) -> Option<usize> {
    events[..index]
        .iter()
        .rposition(|event| stored_here(event, key))
}

/// The body stored by this learner, then sent again after that entry
/// expired.
fn ttl(body: &str, events: &[Event]) -> Option<Vec<usize>> {
    let key = key_of(body);
    starts(events, |event| {
        data(event)
            .is_some_and(|seen| seen.key == key && seen.miss_reason == Some(MissReason::Expired))
    })
    .find_map(|expired| {
        let stored = latest_store_before(events, expired, &key)?;
        Some(vec![stored, expired])
    })
}

/// In this order, with nothing else about n or clearing in between: n!
/// cached by this learner; a GET /clear-cache refused; a POST that
/// emptied the memory tier (and only it); n! computed again.
fn clearing(n: u64, events: &[Event]) -> Option<Vec<usize>> {
    let n_seen = move |event: &Event| factorial(event).is_some_and(|seen| seen.n == n);
    let is_clear = |event: &Event| matches!(event.what, What::Cleared { .. });
    starts(events, |event| {
        factorial(event).is_some_and(|seen| seen.n == n && !seen.coalesced)
    })
    .find_map(|cached| {
        let run = &events[cached];
        let refused = next(events, Some(cached), |event| {
            event.what == What::ClearByGetRefused || is_clear(event) || n_seen(event)
        })?;
        if events[refused].what != What::ClearByGetRefused {
            return None;
        }
        let cleared = next(events, Some(refused), |event| {
            is_clear(event) || n_seen(event)
        })?;
        // The memory tier only: in a shared room, emptying the disk too
        // would wipe the entries other learners' exercises rely on.
        let posted = matches!(&events[cleared].what, What::Cleared { tier, request }
            if *tier == ClearedTier::Memory && request.starts_with("POST "));
        let again = next(events, Some(cleared), n_seen)?;
        let same_run = [refused, cleared, again]
            .into_iter()
            .all(|index| events[index].same_run(run));
        (posted && same_run && computed(&events[again], n))
            .then(|| vec![cached, refused, cleared, again])
    })
}

/// Reports a learner may send about one miss before it stops counting: a
/// typo is forgiven, trying numbers until one matches is not.
const REPORTS_PER_MISS: usize = 3;

/// The latest timings report that matches a miss and a hit of the
/// learner's own.
fn reading_timings(n: u64, events: &[Event]) -> Option<Vec<usize>> {
    (0..events.len())
        .rev()
        .find_map(|report| report_matches(n, events, report))
}

/// Whether the report at `report` gives the times of a miss the learner
/// computed and a later hit answered by that computation's steps, as the
/// server measured them; with at most [`REPORTS_PER_MISS`] reports since
/// that miss, this one included.
fn report_matches(n: u64, events: &[Event], report: usize) -> Option<Vec<usize>> {
    let What::TimingsReported { miss, hit } = &events.get(report)?.what else {
        return None;
    };
    let before = &events[..report];
    starts(before, |event| computed(event, n))
        .rev()
        .find_map(|miss_at| {
            if reports_since(events, miss_at, report) > REPORTS_PER_MISS {
                return None;
            }
            let (run, id) = (&events[miss_at], computation_of(&events[miss_at])?);
            let miss_us = factorial(&events[miss_at])?.elapsed_us;
            if !miss.matches_us(miss_us) {
                return None;
            }
            (miss_at + 1..report).rev().find_map(|hit_at| {
                let event = &events[hit_at];
                (own_hit(event, n, run, id) && hit.matches_us(factorial(event)?.elapsed_us))
                    .then(|| vec![miss_at, hit_at, report])
            })
        })
}

/// One request computed n! while at least [`STAMPEDE_MIN_WAITERS`] others
/// of the learner's waited for that very computation.
fn stampede(n: u64, events: &[Event]) -> Option<Vec<usize>> {
    starts(events, |event| computed(event, n)).find_map(|leader| {
        let (run, id) = (&events[leader], computation_of(&events[leader])?);
        let waiters: Vec<usize> = events
            .iter()
            .enumerate()
            .filter(|(_, event)| {
                event.same_run(run)
                    && factorial(event)
                        .is_some_and(|seen| seen.n == n && seen.coalesced && seen.computation == id)
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
    starts(events, |event| {
        data(event)
            .is_some_and(|seen| seen.key == key && seen.miss_reason == Some(MissReason::Unreadable))
    })
    .find_map(|damaged| {
        let stored = latest_store_before(events, damaged, &key)?;
        let healed = next(events, Some(damaged), |event| {
            data(event).is_some_and(|seen| seen.key == key)
        })?;
        data(&events[healed])?
            .hit
            .then(|| vec![stored, damaged, healed])
    })
}

/// A request for the lab resource `name` that reached the app.
fn resource<'e>(event: &'e Event, name: &str) -> Option<&'e HttpResourceEvent> {
    match &event.what {
        What::HttpResource(seen) if seen.name == name => Some(seen),
        _ => None,
    }
}

/// The directives of a `Cache-Control` value as the lab sent it
/// (normalized: lower case, `name` or `name=seconds`).
fn directives(cache_control: &str) -> impl Iterator<Item = (&str, Option<u64>)> {
    cache_control
        .split(',')
        .map(str::trim)
        .filter(|directive| !directive.is_empty())
        .map(|directive| match directive.split_once('=') {
            Some((name, value)) => (name, value.trim_matches('"').parse().ok()),
            None => (directive, None),
        })
}

fn has_directive(cache_control: &str, wanted: &str) -> bool {
    directives(cache_control).any(|(name, _)| name == wanted)
}

/// How long a browser may use the answer without asking (RFC 9111
/// §4.2.1: `max-age`, for a private cache), when the answer allows that at
/// all.
fn browser_freshness_secs(cache_control: &str) -> Option<u64> {
    if has_directive(cache_control, "no-store") || has_directive(cache_control, "no-cache") {
        return None;
    }
    directives(cache_control)
        .find(|(name, _)| *name == "max-age")
        .and_then(|(_, seconds)| seconds)
        .filter(|seconds| *seconds > 0)
}

/// The next request for `name` that reached the app after `after`.
fn next_request_for(events: &[Event], after: usize, name: &str) -> Option<usize> {
    next(events, Some(after), |event| resource(event, name).is_some())
}

/// The resource loaded with a freshness lifetime, then loaded again by the
/// page without a request reaching the app: the page's report counts a
/// load the browser answered from its own cache, made while the copy was
/// still fresh, and nothing about the resource reached the app in between.
fn browser_cache(name: &str, events: &[Event]) -> Option<Vec<usize>> {
    // A whole answer, or a 304 that made the browser's stale copy fresh
    // again (RFC 9111 §4.3.4): either way the browser then holds a fresh copy.
    starts(events, |event| {
        resource(event, name).is_some_and(|seen| {
            (seen.status == 200 || seen.conditional)
                && browser_freshness_secs(&seen.cache_control).is_some()
        })
    })
    .find_map(|stored| {
        let lifetime_ms =
            browser_freshness_secs(&resource(&events[stored], name)?.cache_control)? * 1000;
        // The page reports every load; the ones that reached the app (the
        // first among them) count none from the cache and change nothing.
        let report = next(events, Some(stored), |event| {
            resource(event, name).is_some()
                || matches!(&event.what,
                    What::BrowserLoads { name: reported, from_cache, .. }
                        if reported == name && *from_cache > 0)
        })?;
        let answered_by_browser = matches!(events[report].what, What::BrowserLoads { .. });
        let while_fresh = events[report].at_ms <= events[stored].at_ms + lifetime_ms;
        (answered_by_browser && while_fresh).then(|| vec![stored, report])
    })
}

/// A whole answer, then a conditional request for it answered 304: the
/// client's copy was confirmed rather than sent again.
fn revalidation(name: &str, events: &[Event]) -> Option<Vec<usize>> {
    starts(events, |event| {
        resource(event, name).is_some_and(|seen| seen.status == 200)
    })
    .find_map(|whole| {
        let again = next_request_for(events, whole, name)?;
        resource(&events[again], name)
            .is_some_and(|seen| seen.status == 304 && seen.conditional)
            .then(|| vec![whole, again])
    })
}

/// Two loads under `no-store`, both reaching the app whole and unconditional
/// (nothing was kept to ask about), then two under `no-cache`: a whole
/// answer and then a 304 (a copy was kept, and checked before use).
fn no_store_versus_no_cache(name: &str, events: &[Event]) -> Option<Vec<usize>> {
    let whole_unkept = |event: &Event| {
        resource(event, name).is_some_and(|seen| {
            seen.status == 200
                && !seen.conditional
                && has_directive(&seen.cache_control, "no-store")
        })
    };
    starts(events, whole_unkept).find_map(|first| {
        let second = next_request_for(events, first, name)?;
        let kept = next_request_for(events, second, name)?;
        let confirmed = next_request_for(events, kept, name)?;
        let no_cache = |index: usize, status: u16| {
            resource(&events[index], name).is_some_and(|seen| {
                seen.status == status
                    && has_directive(&seen.cache_control, "no-cache")
                    && !has_directive(&seen.cache_control, "no-store")
            })
        };
        let revalidated = resource(&events[confirmed], name).is_some_and(|seen| seen.conditional);
        // The first no-cache load may itself be a 304, when the browser
        // still holds a copy from an earlier try under no-cache.
        let kept_ok = no_cache(kept, 200)
            || (no_cache(kept, 304)
                && resource(&events[kept], name).is_some_and(|seen| seen.conditional));
        (whole_unkept(&events[second]) && kept_ok && no_cache(confirmed, 304) && revalidated)
            .then(|| vec![first, second, kept, confirmed])
    })
}

/// How long after the proxy's account of a request the request itself may
/// still reach the app: both leave the proxy together but arrive in either
/// order, and on loopback within a millisecond or two.
const PROXY_PASS_ON_MS: u64 = 1_000;

/// An answer a shared cache may keep (`public` or `s-maxage`, and neither
/// `private` nor `no-store`: RFC 9111 §3 and §5.2.2), brought to the app by
/// the proxy; then a request the proxy received (its own account, carrying
/// its request id) that never reached the app: the proxy answered it from
/// its copy.
fn shared_cache_hit(name: &str, events: &[Event], now_ms: u64) -> Option<Vec<usize>> {
    let shareable = |cache_control: &str| {
        (has_directive(cache_control, "public") || has_directive(cache_control, "s-maxage"))
            && !has_directive(cache_control, "private")
            && !has_directive(cache_control, "no-store")
    };
    let stored = events.iter().position(|event| {
        resource(event, name).is_some_and(|seen| {
            seen.status == 200 && seen.via_proxy && shareable(&seen.cache_control)
        })
    })?;
    let reached_app = |request: &str| {
        events.iter().any(|event| {
            resource(event, name).is_some_and(|seen| seen.proxy_request.as_deref() == Some(request))
        })
    };
    let answered_by_proxy = next(events, Some(stored), |event| match &event.what {
        What::ProxyReceived {
            name: seen,
            request,
        } if seen == name => event.at_ms + PROXY_PASS_ON_MS <= now_ms && !reached_app(request),
        _ => false,
    })?;
    Some(vec![stored, answered_by_proxy])
}

/// The first 12 characters of a key (a whole character, even if a damaged
/// progress file put something other than hex there).
pub fn short(key: &str) -> &str {
    key.char_indices()
        .nth(12)
        .map_or(key, |(end, _)| &key[..end])
}
