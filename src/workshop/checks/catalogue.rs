//! The stale-answers exercises: each looks among the learner's own reads
//! and price changes of catalogue items for the steps its exercise names.

use super::*;
use crate::catalogue::{CacheEffect, ReadOutcome, Strategy};

fn read_of<'e>(event: &'e Event, item: &str) -> Option<&'e CatalogueReadEvent> {
    match &event.what {
        What::CatalogueRead(seen) if seen.item == item => Some(seen),
        _ => None,
    }
}

fn price_change(event: &Event) -> Option<&CataloguePriceEvent> {
    match &event.what {
        What::CataloguePriceChanged(seen) => Some(seen),
        _ => None,
    }
}

/// A read answered with the source's price of the moment.
fn fresh(seen: &CatalogueReadEvent) -> bool {
    seen.price_cents == seen.true_price_cents
}

/// An item read, its price changed by the learner, then read again within
/// the TTL (a hit) and answered with a price the source no longer has.
pub(super) fn stale_answer(events: &[Event]) -> Option<Vec<usize>> {
    starts(events, |event| price_change(event).is_some()).find_map(|write| {
        let item = &price_change(&events[write])?.item;
        let read_before = events[..write]
            .iter()
            .rposition(|event| read_of(event, item).is_some())?;
        let stale = next(events, Some(write), |event| read_of(event, item).is_some())?;
        let seen = read_of(&events[stale], item)?;
        (seen.outcome == ReadOutcome::Hit && !fresh(seen)).then(|| vec![read_before, write, stale])
    })
}

/// Under invalidate-on-write, a change that deleted the item's cached
/// copy, then the next read of it: a miss with the new price.
pub(super) fn invalidate_on_write(events: &[Event]) -> Option<Vec<usize>> {
    starts(events, |event| {
        price_change(event).is_some_and(|seen| {
            seen.strategy == Strategy::InvalidateOnWrite
                && seen.cache_effect == CacheEffect::Deleted { removed: 1 }
        })
    })
    .find_map(|write| {
        let changed = price_change(&events[write])?;
        let read = next(events, Some(write), |event| {
            read_of(event, &changed.item).is_some()
        })?;
        let seen = read_of(&events[read], &changed.item)?;
        (!seen.outcome.from_cache() && seen.price_cents == changed.price_cents && fresh(seen))
            .then(|| vec![write, read])
    })
}

/// Under write-through, a change that replaced the item's cached copy,
/// then the next read of it: a hit with the new price, no miss.
pub(super) fn write_through(events: &[Event]) -> Option<Vec<usize>> {
    starts(events, |event| {
        price_change(event).is_some_and(|seen| {
            seen.strategy == Strategy::WriteThrough && seen.cache_effect == CacheEffect::Replaced
        })
    })
    .find_map(|write| {
        let changed = price_change(&events[write])?;
        let read = next(events, Some(write), |event| {
            read_of(event, &changed.item).is_some()
        })?;
        let seen = read_of(&events[read], &changed.item)?;
        (seen.outcome == ReadOutcome::Hit && seen.price_cents == changed.price_cents && fresh(seen))
            .then(|| vec![write, read])
    })
}

/// A read past the TTL answered at once from the stale copy, then a later
/// read of the same item that is a hit with the source's price, with no
/// miss for it in between: the background refresh brought it.
pub(super) fn stale_while_revalidate(events: &[Event]) -> Option<Vec<usize>> {
    starts(events, |event| {
        matches!(&event.what, What::CatalogueRead(seen) if seen.outcome == ReadOutcome::Stale)
    })
    .find_map(|stale| {
        let What::CatalogueRead(first) = &events[stale].what else {
            return None;
        };
        let item = first.item.as_str();
        let later = next(events, Some(stale), |event| {
            read_of(event, item).is_some_and(|seen| seen.outcome != ReadOutcome::Stale)
        })?;
        let seen = read_of(&events[later], item)?;
        (seen.outcome == ReadOutcome::Hit && fresh(seen)).then(|| vec![stale, later])
    })
}

#[cfg(test)]
mod tests {
    use super::super::check;
    use super::*;
    use crate::workshop::PlanSettings;

    fn plan() -> Plan {
        let name = LearnerName::parse("ada").expect("a usable name");
        Plan::for_learner(&name, 7, PlanSettings::default())
    }

    fn event(seq: u64, what: What) -> Event {
        Event {
            at_ms: seq,
            boot: 1,
            seq,
            instance: None,
            what,
        }
    }

    fn read(seq: u64, price: u64, truth: u64, outcome: ReadOutcome, strategy: Strategy) -> Event {
        event(
            seq,
            What::CatalogueRead(CatalogueReadEvent {
                item: "apple".into(),
                price_cents: price,
                true_price_cents: truth,
                outcome,
                strategy,
                elapsed_us: 100,
            }),
        )
    }

    fn write(seq: u64, price: u64, strategy: Strategy, cache_effect: CacheEffect) -> Event {
        event(
            seq,
            What::CataloguePriceChanged(CataloguePriceEvent {
                item: "apple".into(),
                price_cents: price,
                strategy,
                cache_effect,
            }),
        )
    }

    fn ticks(exercise: Exercise, events: &[Event]) -> bool {
        check(exercise, &plan(), events, &[]).is_some()
    }

    #[test]
    fn a_stale_answer_needs_a_read_a_change_and_an_old_price_hit() {
        use ReadOutcome::*;
        let ttl = Strategy::TtlOnly;
        let done = [
            read(1, 120, 120, Miss, ttl),
            write(2, 150, ttl, CacheEffect::Kept),
            read(3, 120, 150, Hit, ttl),
        ];
        assert!(ticks(Exercise::StaleAnswer, &done));
        assert!(!ticks(Exercise::StaleAnswer, &done[1..]), "no read before");
        assert!(!ticks(Exercise::StaleAnswer, &done[..2]), "no read after");
        let fresh_after = [
            done[0].clone(),
            done[1].clone(),
            read(3, 150, 150, Miss, ttl),
        ];
        assert!(!ticks(Exercise::StaleAnswer, &fresh_after));
    }

    #[test]
    fn invalidation_ticks_for_a_deleted_copy_then_a_fresh_miss() {
        let strategy = Strategy::InvalidateOnWrite;
        let deleted = CacheEffect::Deleted { removed: 1 };
        let done = [
            write(1, 150, strategy, deleted),
            read(2, 150, 150, ReadOutcome::Miss, strategy),
        ];
        assert!(ticks(Exercise::InvalidateOnWrite, &done));
        let nothing_held = [
            write(1, 150, strategy, CacheEffect::Deleted { removed: 0 }),
            done[1].clone(),
        ];
        assert!(!ticks(Exercise::InvalidateOnWrite, &nothing_held));
        let other_strategy = [
            write(1, 150, Strategy::TtlOnly, CacheEffect::Kept),
            done[1].clone(),
        ];
        assert!(!ticks(Exercise::InvalidateOnWrite, &other_strategy));
    }

    #[test]
    fn write_through_ticks_for_a_hit_with_the_new_price() {
        let strategy = Strategy::WriteThrough;
        let done = [
            write(1, 150, strategy, CacheEffect::Replaced),
            read(2, 150, 150, ReadOutcome::Hit, strategy),
        ];
        assert!(ticks(Exercise::WriteThrough, &done));
        let missed = [
            done[0].clone(),
            read(2, 150, 150, ReadOutcome::Miss, strategy),
        ];
        assert!(!ticks(Exercise::WriteThrough, &missed));
    }

    #[test]
    fn swr_ticks_for_a_stale_answer_then_a_fresh_hit_without_a_miss() {
        use ReadOutcome::*;
        let swr = Strategy::StaleWhileRevalidate;
        let done = [read(1, 120, 150, Stale, swr), read(2, 150, 150, Hit, swr)];
        assert!(ticks(Exercise::StaleWhileRevalidate, &done));
        assert!(!ticks(Exercise::StaleWhileRevalidate, &done[..1]));
        let by_a_miss = [done[0].clone(), read(2, 150, 150, Expired, swr)];
        assert!(!ticks(Exercise::StaleWhileRevalidate, &by_a_miss));
    }
}
