//! The sizing exercise: a replay of the learner's own, through a memory
//! tier they sized from the curve, that reached its target.

use super::*;

/// The lowest target the exercise accepts: below it, a handful of entries
/// reach the target and there is nothing to size.
pub const LOWEST_TARGET_PERCENT: u32 = 50;

/// How much bigger than the smallest memory tier that reaches the target
/// the learner's may be: a quarter, room to round up from the curve, not
/// to make it huge.
pub const MOST_OVER_SMALLEST: (u64, u64) = (5, 4);

/// Whether a chosen capacity is no larger than [`MOST_OVER_SMALLEST`] times
/// the smallest that reaches the target.
pub fn sized_from_the_curve(capacity: u64, smallest_reaching: u64) -> bool {
    let (times, over) = MOST_OVER_SMALLEST;
    capacity * over <= smallest_reaching * times
}

/// The latest replay of this learner's that reached a target of at least
/// [`LOWEST_TARGET_PERCENT`] with a capacity sized from the curve.
pub(super) fn size_the_memory_tier(events: &[Event]) -> Option<Vec<usize>> {
    events
        .iter()
        .rposition(|event| match &event.what {
            What::SizingReplay(replay) => {
                replay.target_percent >= LOWEST_TARGET_PERCENT
                    && replay.reached_target()
                    && replay
                        .smallest_reaching
                        .is_some_and(|smallest| sized_from_the_curve(replay.capacity, smallest))
            }
            _ => false,
        })
        .map(|index| vec![index])
}

#[cfg(test)]
mod tests {
    use super::super::check;
    use super::*;
    use crate::workshop::PlanSettings;

    fn replay(target_percent: u32, capacity: u64, hits: u64) -> Event {
        Event {
            at_ms: 1,
            boot: 1,
            seq: 1,
            instance: None,
            what: What::SizingReplay(SizingReplayEvent {
                skew: 1.0,
                keys: 200,
                requests: 2_000,
                target_percent,
                capacity,
                hits,
                smallest_reaching: Some(100),
            }),
        }
    }

    fn ticks(events: &[Event]) -> bool {
        let name = LearnerName::parse("ada").expect("a usable name");
        let plan = Plan::for_learner(&name, 7, PlanSettings::default());
        check(Exercise::SizeTheMemoryTier, &plan, events, &[]).is_some()
    }

    #[test]
    fn a_replay_that_reached_its_target_from_a_size_near_the_smallest_ticks() {
        assert!(ticks(&[replay(80, 100, 1_600)]));
        assert!(ticks(&[replay(80, 125, 1_700)]), "a quarter over");
        assert!(
            !ticks(&[replay(80, 126, 1_700)]),
            "more than a quarter over"
        );
        assert!(
            !ticks(&[replay(80, 100, 1_599)]),
            "79.95 % is short of 80 %"
        );
        assert!(!ticks(&[replay(49, 100, 1_900)]), "too low a target");
    }
}
