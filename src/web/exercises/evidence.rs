//! The workshop's facts, put into words: what a learner did, and why an
//! exercise is ticked. Checks record requests; only this module words them,
//! so changing a sentence here reaches ticks saved long ago.

use std::time::Duration;

use crate::catalogue::{CacheEffect, ReadOutcome};
use crate::view::{clock_utc, count_of, server_ms, speedup};
use crate::workshop::{
    short, CataloguePriceEvent, CatalogueReadEvent, ClearedTier, Event, Evidence, Exercise,
    FactorialEvent, SharedStep, SizingReplayEvent, What,
};

/// One request as the learner would recognise it, with its outcome (and,
/// in a room shared through Redis, the instance that saw it).
pub fn describe(event: &Event) -> String {
    match &event.what {
        What::Factorial(seen) => format!("{}{}", factorial(seen), on_shared_tier(event, seen)),
        other => describe_other(other),
    }
}

/// Which instance answered and what Redis did, for an app with a shared
/// tier (nothing for one without: there is only one instance to speak of).
fn on_shared_tier(event: &Event, seen: &FactorialEvent) -> String {
    let instance = match &event.instance {
        None => String::new(),
        Some(name) => format!(" on instance {name}"),
    };
    let redis = match seen.shared {
        None | Some(SharedStep::Off) => return String::new(),
        Some(SharedStep::Unavailable) => "Redis unavailable, computed here and not shared",
        Some(SharedStep::Hit) => "Redis HIT, nothing computed here",
        Some(SharedStep::Collapsed) => "waited for another instance's computation, read from Redis",
        Some(SharedStep::Missed) => "Redis MISS, not stored",
        Some(SharedStep::Stored) => "Redis MISS, computed here and stored in Redis",
    };
    format!("{instance} ({redis})")
}

fn factorial(seen: &FactorialEvent) -> String {
    let took = |us: u64| server_ms(Duration::from_micros(us));
    match seen {
        seen if seen.hit => format!("{}! HIT in {}", seen.n, took(seen.elapsed_us)),
        seen if seen.shared.is_some_and(SharedStep::answered) => {
            format!("{}! memory MISS in {}", seen.n, took(seen.elapsed_us))
        }
        seen if seen.coalesced => format!(
            "{}! MISS, waited for another request's computation, in {}",
            seen.n,
            took(seen.elapsed_us)
        ),
        seen => format!(
            "{}! MISS, {} computed{}, in {}",
            seen.n,
            count_of(seen.steps_computed as usize, "step", "steps"),
            seen.reused_from
                .map(|k| format!(" from {k}!"))
                .unwrap_or_default(),
            took(seen.elapsed_us)
        ),
    }
}

fn describe_other(what: &What) -> String {
    let took = |us: u64| server_ms(Duration::from_micros(us));
    match what {
        What::Factorial(seen) => factorial(seen),
        What::Data(seen) => {
            let outcome = match (seen.hit, seen.coalesced, seen.miss_reason) {
                (true, _, _) => "HIT".to_owned(),
                (false, true, _) => "MISS, waited for another request's answer".to_owned(),
                (false, false, reason) => format!(
                    "MISS ({})",
                    match reason {
                        Some(crate::disk::MissReason::Expired) => "expired",
                        Some(crate::disk::MissReason::Unreadable) => "failed its integrity check",
                        _ => "not stored yet",
                    }
                ),
            };
            format!(
                "POST /data, key {}…, {outcome}, in {}",
                short(&seen.key),
                took(seen.elapsed_us)
            )
        }
        What::Cleared { tier, request } => {
            let request = if request.is_empty() {
                "a clear"
            } else {
                request.as_str()
            };
            format!(
                "{request} emptied the {} cache",
                match tier {
                    ClearedTier::Memory => "memory",
                    ClearedTier::Disk => "disk",
                    ClearedTier::Both => "memory and disk",
                }
            )
        }
        What::ClearByGetRefused => "GET /clear-cache, refused: nothing cleared".into(),
        What::HttpResource(seen) => format!(
            "GET resource {}{}{}: {} reached the app{}",
            seen.name,
            if seen.cache_control.is_empty() {
                " (no Cache-Control)".to_owned()
            } else {
                format!(" (Cache-Control: {})", seen.cache_control)
            },
            if seen.conditional {
                ", asking with If-None-Match"
            } else {
                ""
            },
            match seen.status {
                304 => "304 Not Modified".to_owned(),
                status => status.to_string(),
            },
            if seen.via_proxy {
                " through the shared cache"
            } else {
                ""
            }
        ),
        What::ProxyReceived { name, .. } => {
            format!("the shared cache received a GET of resource {name}")
        }
        What::BrowserLoads {
            name,
            loads,
            from_cache,
        } => format!(
            "the lab page loaded resource {name} {}; your browser answered {} from its own cache",
            count_of(*loads as usize, "time", "times"),
            count_of(*from_cache as usize, "load", "loads"),
        ),
        What::Renamed { from } => format!("took this name (was {from})"),
        What::MemoryClearArrived {
            from_instance,
            removed,
        } => format!(
            "your memory clear on instance {from_instance} arrived here through Redis: {} dropped from this instance's memory",
            count_of(*removed, "entry", "entries")
        ),
        What::TimingsReported { miss, hit } => format!(
            "you reported a miss of {} and a hit of {}",
            with_unit(&miss.typed),
            with_unit(&hit.typed)
        ),
        What::CatalogueRead(seen) => catalogue_read(seen),
        What::CataloguePriceChanged(seen) => catalogue_price_changed(seen),
        What::SizingReplay(seen) => sizing_replay(seen),
    }
}

fn sizing_replay(seen: &SizingReplayEvent) -> String {
    let smallest = match seen.smallest_reaching {
        Some(entries) => format!("the smallest that reaches it: {entries}"),
        None => "no size reaches it with these settings".to_owned(),
    };
    format!(
        "replayed {} requests (skew {}, {} keys) at {}: {:.1}% hits for a target of {}% ({smallest})",
        seen.requests,
        seen.skew,
        seen.keys,
        count_of(seen.capacity as usize, "entry", "entries"),
        seen.hits as f64 * 100.0 / seen.requests.max(1) as f64,
        seen.target_percent,
    )
}

fn catalogue_read(seen: &CatalogueReadEvent) -> String {
    let outcome = match seen.outcome {
        ReadOutcome::Hit => "HIT",
        ReadOutcome::Miss => "MISS, read from the source",
        ReadOutcome::Expired => "expired copy, read from the source",
        ReadOutcome::Stale => "STALE copy answered at once, refreshing in the background",
    };
    let truth = if seen.price_cents == seen.true_price_cents {
        "the current price".to_owned()
    } else {
        format!(
            "the source said {}: a stale answer",
            cents(seen.true_price_cents)
        )
    };
    format!(
        "GET /catalogue/{} ({}) gave {}, {truth}, with {}, in {}",
        seen.item,
        outcome,
        cents(seen.price_cents),
        seen.strategy.slug(),
        server_ms(Duration::from_micros(seen.elapsed_us))
    )
}

fn catalogue_price_changed(seen: &CataloguePriceEvent) -> String {
    let effect = match seen.cache_effect {
        CacheEffect::Kept => "its cached copy kept".to_owned(),
        CacheEffect::Deleted { removed } => format!(
            "{} deleted from the cache",
            count_of(removed, "copy", "copies")
        ),
        CacheEffect::Replaced => "its cached copy replaced by the new price".to_owned(),
    };
    format!(
        "you set {} to {} with {}: {effect}",
        seen.item,
        cents(seen.price_cents),
        seen.strategy.slug()
    )
}

/// A price in cents, as `1.20`.
fn cents(cents: u64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

/// A time as the learner typed it, with the unit it was read in (ms when
/// they wrote none).
fn with_unit(typed: &str) -> String {
    if typed.ends_with(|c: char| c.is_ascii_digit()) {
        format!("{typed} ms")
    } else {
        typed.to_owned()
    }
}

/// Why `exercise` is ticked, naming the requests that earned it.
pub fn sentence(exercise: Exercise, evidence: &Evidence) -> String {
    let steps = match evidence {
        Evidence::Words(words) => return words.clone(),
        Evidence::Steps { steps } => steps,
    };
    if exercise == Exercise::Stampede {
        return stampede(steps);
    }
    let mut text = String::new();
    for (index, event) in steps.iter().enumerate() {
        if index > 0 {
            let restarted = event.boot != steps[index - 1].boot;
            text.push_str(if restarted {
                "; then the app restarted, and "
            } else {
                "; then "
            });
        }
        text.push_str(&format!("{}: {}", clock_utc(event.at_ms), describe(event)));
    }
    if exercise == Exercise::ReadingTimings {
        if let [miss, hit, ..] = steps.as_slice() {
            if let (What::Factorial(miss), What::Factorial(hit)) = (&miss.what, &hit.what) {
                // Every digit the header gave, so the report can be checked
                // against it by eye.
                let exact = |us: u64| format!("{}.{:03} ms", us / 1000, us % 1000);
                text.push_str(&format!(
                    ". The server measured those two at {} and {}: the hit was {} faster",
                    exact(miss.elapsed_us),
                    exact(hit.elapsed_us),
                    speedup(miss.elapsed_us, hit.elapsed_us)
                ));
            }
        }
    }
    text
}

fn stampede(steps: &[Event]) -> String {
    let Some((leader, waiters)) = steps.split_first() else {
        return String::new();
    };
    let What::Factorial(seen) = &leader.what else {
        return String::new();
    };
    format!(
        "at {}, {} asked for {}! together: one computed it ({}) and {} waited for its answer instead of computing it again",
        clock_utc(leader.at_ms),
        count_of(waiters.len() + 1, "request", "requests"),
        seen.n,
        count_of(seen.steps_computed as usize, "step", "steps"),
        count_of(waiters.len(), "other", "others"),
    )
}
