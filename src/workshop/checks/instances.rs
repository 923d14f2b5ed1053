//! The exercises with several instances of the app sharing one Redis tier.
//!
//! Each instance keeps its own record of a learner's requests, so each
//! check looks for evidence that one instance can see by itself: what its
//! own tiers said when it answered (its memory missed and Redis answered;
//! its memory was emptied by an invalidation from another instance; Redis
//! could not be asked). Where the learner's events from several instances
//! are at hand (each factorial event names the instance that answered),
//! the first two checks also accept the steps seen across instances.

use super::*;

/// A factorial request for n, as the instance that answered saw it.
fn factorial_for(event: &Event, n: u64) -> Option<&FactorialEvent> {
    factorial(event).filter(|seen| seen.n == n)
}

/// The instance that saw `event` (empty when the room is not shared: the
/// name is recorded only then).
fn instance_of(event: &Event) -> &str {
    event.instance.as_ref().map_or("", |name| name.as_str())
}

/// A request for n that this instance's memory could not answer, and that
/// did not wait for another request of the same instance.
fn memory_miss(seen: &FactorialEvent) -> bool {
    !seen.hit && !seen.coalesced
}

/// Whether the learner's own requests show that `instance` itself stored n
/// in Redis before `before`: then a later Redis hit there is its own copy
/// coming back, not another instance's work.
fn stored_by_itself(events: &[Event], before: usize, n: u64, instance: &str) -> bool {
    events[..before].iter().any(|event| {
        factorial_for(event, n).is_some_and(|seen| {
            instance_of(event) == instance && seen.shared == Some(SharedStep::Stored)
        })
    })
}

/// A memory miss for n on an instance, answered by Redis with a copy this
/// instance had not stored itself: another instance had computed n! (and
/// held it in its memory) first.
fn answered_by_another_instance(events: &[Event], n: u64) -> Option<usize> {
    events.iter().enumerate().position(|(index, event)| {
        factorial_for(event, n).is_some_and(|seen| {
            memory_miss(seen)
                && !instance_of(event).is_empty()
                && seen.shared.is_some_and(SharedStep::answered)
                && !stored_by_itself(events, index, n, instance_of(event))
        })
    })
}

/// n! held in one instance's memory (it answered a request for it), then a
/// memory miss for n on another instance: each process has a memory of its
/// own. Seen by one instance when Redis answered its miss with another
/// instance's copy; seen across instances from the names on the events.
pub(super) fn memory_per_process(n: u64, events: &[Event]) -> Option<Vec<usize>> {
    let across = starts(events, |event| {
        factorial_for(event, n).is_some() && !instance_of(event).is_empty()
    })
    .find_map(|held| {
        let first = instance_of(&events[held]);
        let missed = next(events, Some(held), |event| {
            factorial_for(event, n).is_some_and(|seen| {
                memory_miss(seen) && !instance_of(event).is_empty() && instance_of(event) != first
            })
        })?;
        Some(vec![held, missed])
    });
    across.or_else(|| answered_by_another_instance(events, n).map(|missed| vec![missed]))
}

/// n! computed on one instance and stored in Redis, then asked of another
/// instance, whose memory missed and whose Redis lookup hit: nothing was
/// computed there.
pub(super) fn shared_tier_hit(n: u64, events: &[Event]) -> Option<Vec<usize>> {
    let redis_hit = |event: &Event, not_on: &str| {
        factorial_for(event, n).is_some_and(|seen| {
            memory_miss(seen)
                && seen.shared == Some(SharedStep::Hit)
                && !instance_of(event).is_empty()
                && instance_of(event) != not_on
        })
    };
    let across = starts(events, |event| {
        factorial_for(event, n).is_some_and(|seen| {
            memory_miss(seen)
                && seen.shared == Some(SharedStep::Stored)
                && !instance_of(event).is_empty()
        })
    })
    .find_map(|stored| {
        let storer = instance_of(&events[stored]);
        let hit = next(events, Some(stored), |event| redis_hit(event, storer))?;
        Some(vec![stored, hit])
    });
    across.or_else(|| {
        let hit = events.iter().enumerate().position(|(index, event)| {
            redis_hit(event, "") && !stored_by_itself(events, index, n, instance_of(event))
        })?;
        Some(vec![hit])
    })
}

/// On one instance: n! a memory hit; then a memory clear the learner made
/// on another instance arrived here; then n! asked of this instance again,
/// its memory missed, and Redis answered.
pub(super) fn clear_reaches_every_instance(n: u64, events: &[Event]) -> Option<Vec<usize>> {
    starts(events, |event| {
        factorial_for(event, n).is_some_and(|seen| seen.hit) && !instance_of(event).is_empty()
    })
    .find_map(|kept| {
        let (boot, instance) = (events[kept].boot, instance_of(&events[kept]));
        let on_this_instance = |event: &Event| event.boot == boot;
        let arrived = next(events, Some(kept), |event| {
            on_this_instance(event)
                && matches!(&event.what, What::MemoryClearArrived { from_instance, .. }
                    if from_instance != instance)
        })?;
        let again = next(events, Some(arrived), |event| {
            on_this_instance(event) && factorial_for(event, n).is_some()
        })?;
        let seen = factorial(&events[again])?;
        (memory_miss(seen) && seen.shared.is_some_and(SharedStep::answered))
            .then(|| vec![kept, arrived, again])
    })
}

/// Requests answered while Redis could not be asked (each one computed
/// here, none of them failed), then, on the same instance once Redis was
/// back, a request Redis answered or stored.
pub(super) fn shared_tier_outage(events: &[Event]) -> Option<Vec<usize>> {
    let shared = |event: &Event| factorial(event).and_then(|seen| seen.shared);
    starts(events, |event| {
        shared(event) == Some(SharedStep::Unavailable)
    })
    .find_map(|down| {
        let (boot, instance) = (events[down].boot, instance_of(&events[down]));
        let back = next(events, Some(down), |event| {
            event.boot == boot
                && factorial(event).is_some()
                && instance_of(event) == instance
                && matches!(shared(event), Some(SharedStep::Hit | SharedStep::Stored))
        })?;
        Some(vec![down, back])
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

    /// A factorial request for n answered by `instance` (whose boot is
    /// told by its name), memory `hit` or not, with what Redis did.
    fn asked(seq: u64, instance: &str, n: u64, hit: bool, shared: Option<SharedStep>) -> Event {
        Event {
            at_ms: seq,
            boot: u64::from(instance.as_bytes()[0]),
            seq,
            what: What::Factorial(FactorialEvent {
                n,
                hit,
                coalesced: false,
                steps_computed: 0,
                reused_from: None,
                elapsed_us: 10,
                computation: 0,
                reused_computation: None,
                shared,
            }),
            instance: Some(InstanceName::parse(instance).expect("a usable instance name")),
        }
    }

    fn arrived(seq: u64, on: &str, from: &str) -> Event {
        Event {
            at_ms: seq,
            boot: u64::from(on.as_bytes()[0]),
            seq,
            what: What::MemoryClearArrived {
                from_instance: from.to_owned(),
                removed: 3,
            },
            instance: Some(InstanceName::parse(on).expect("a usable instance name")),
        }
    }

    fn ticks(exercise: Exercise, events: &[Event]) -> bool {
        check(exercise, &plan(), events, &[]).is_some()
    }

    use SharedStep::{Hit, Off, Stored, Unavailable};

    #[test]
    fn memory_is_per_process_across_instances_with_or_without_redis() {
        let n = plan().per_process();
        let without_redis = [
            asked(1, "a", n, false, Some(Off)),
            asked(2, "b", n, false, Some(Off)),
        ];
        assert!(ticks(Exercise::MemoryPerProcess, &without_redis));
        let same_instance = [
            asked(1, "a", n, false, Some(Off)),
            asked(2, "a", n, false, Some(Off)),
        ];
        assert!(!ticks(Exercise::MemoryPerProcess, &same_instance));
        // Seen by b alone: Redis answered with a copy b never stored.
        assert!(ticks(
            Exercise::MemoryPerProcess,
            &[asked(1, "b", n, false, Some(Hit))]
        ));
        let its_own_copy = [
            asked(1, "b", n, false, Some(Stored)),
            asked(2, "b", n, false, Some(Hit)),
        ];
        assert!(!ticks(Exercise::MemoryPerProcess, &its_own_copy));
        let other_number = [asked(1, "b", n + 1, false, Some(Hit))];
        assert!(!ticks(Exercise::MemoryPerProcess, &other_number));
    }

    #[test]
    fn the_shared_tier_hit_is_a_redis_hit_for_a_copy_stored_elsewhere() {
        let n = plan().shared_hit();
        let across = [
            asked(1, "a", n, false, Some(Stored)),
            asked(2, "b", n, false, Some(Hit)),
        ];
        let evidence = check(Exercise::SharedTierHit, &plan(), &across, &[]).expect("ticked");
        assert_eq!(evidence.steps(), &across);
        assert!(ticks(Exercise::SharedTierHit, &across[1..]));
        assert!(!ticks(
            Exercise::SharedTierHit,
            &[asked(1, "b", n, true, None)]
        ));
        let computed_again = [
            asked(1, "a", n, false, Some(Stored)),
            asked(2, "b", n, false, Some(Off)),
        ];
        assert!(!ticks(Exercise::SharedTierHit, &computed_again));
    }

    #[test]
    fn a_clear_reaches_b_between_a_hit_and_a_redis_answered_miss() {
        let n = plan().clear_reaches();
        let done = [
            asked(1, "b", n, true, None),
            arrived(2, "b", "a"),
            asked(3, "b", n, false, Some(Hit)),
        ];
        assert!(ticks(Exercise::ClearReachesEveryInstance, &done));
        let kept = [asked(1, "b", n, true, None), asked(3, "b", n, true, None)];
        assert!(!ticks(Exercise::ClearReachesEveryInstance, &kept));
        let nothing_arrived = [
            asked(1, "b", n, true, None),
            asked(3, "b", n, false, Some(Hit)),
        ];
        assert!(!ticks(
            Exercise::ClearReachesEveryInstance,
            &nothing_arrived
        ));
        let hit_again_first = [
            asked(1, "b", n, true, None),
            arrived(2, "b", "a"),
            asked(3, "b", n, true, None),
            asked(4, "b", n, false, Some(Hit)),
        ];
        assert!(!ticks(
            Exercise::ClearReachesEveryInstance,
            &hit_again_first
        ));
    }

    #[test]
    fn an_outage_is_answers_while_unavailable_then_redis_used_again() {
        let n = plan().outage();
        let done = [
            asked(1, "a", n, false, Some(Unavailable)),
            asked(2, "a", n + 1, false, Some(Unavailable)),
            asked(3, "a", n + 2, false, Some(Stored)),
        ];
        let evidence = check(Exercise::SharedTierOutage, &plan(), &done, &[]).expect("ticked");
        assert_eq!(evidence.steps(), &[done[0].clone(), done[2].clone()]);
        assert!(!ticks(Exercise::SharedTierOutage, &done[..2]));
        let back_elsewhere = [
            asked(1, "a", n, false, Some(Unavailable)),
            asked(2, "b", n, false, Some(Hit)),
        ];
        assert!(!ticks(Exercise::SharedTierOutage, &back_elsewhere));
    }
}
