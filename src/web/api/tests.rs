//! The API's hand-written answers, held to what serde would write.

use std::time::Duration;

use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::Value;

use super::*;
use crate::memory::FactorialCache;

#[test]
fn the_hits_written_once_are_what_the_builder_writes() {
    assert_eq!(
        MEMORY_HIT_STATUS,
        CacheStatusEntry::hit(CacheName::memory_tier()).to_string()
    );
    assert_eq!(
        DISK_HIT_STATUS,
        CacheStatusEntry::hit(CacheName::disk_tier()).to_string()
    );
}

/// The shape of a `/factorial/<n>` answer as serde would write it: the
/// reference that [`factorial_body_before_elapsed`], written by hand, is
/// held to.
#[derive(Serialize)]
struct FactorialBody<'a> {
    number: u64,
    /// A string, so no JSON client (JavaScript included) rounds it.
    factorial: &'a RawValue,
    digits: usize,
    cache: &'static str,
    steps_computed: u64,
    /// The cached k! this answer was built from (n itself on a hit).
    reused_from: Option<u64>,
    /// True when this request waited for another one computing the same n.
    coalesced: bool,
    elapsed_ms: f64,
}

fn serde_body(answer: &FactorialAnswer, elapsed: Duration) -> Value {
    let lookup = answer.lookup;
    let body = FactorialBody {
        number: answer.step.n(),
        factorial: answer.step.decimal_json(),
        digits: answer.step.decimal().len(),
        cache: if lookup.is_hit() { "hit" } else { "miss" },
        steps_computed: lookup.steps_computed_here(),
        reused_from: match lookup.computation() {
            None => Some(answer.step.n()),
            Some(work) => work.reused_from,
        },
        coalesced: matches!(lookup, MemoryLookup::Joined(_)),
        elapsed_ms: (elapsed.as_secs_f64() * 1e6).round() / 1e3,
    };
    serde_json::to_value(&body).expect("serializes")
}

fn hand_written(answer: &FactorialAnswer, elapsed: Duration) -> Value {
    let mut body = factorial_body_before_elapsed(answer);
    finish_factorial_body(&mut body, elapsed);
    serde_json::from_slice(&body).expect("valid JSON")
}

#[tokio::test]
async fn the_hand_written_body_is_the_serde_shape() {
    let tier = FactorialCache::new(10, Duration::ZERO, Duration::ZERO);
    let elapsed = Duration::from_nanos(1_234_567);
    let cold = tier.factorial(7).await;
    let on_top = tier.factorial(9).await;
    let hit = tier.factorial(9).await;
    assert!(hit.lookup.is_hit());
    for answer in [&cold, &on_top, &hit] {
        assert_eq!(
            hand_written(answer, elapsed),
            serde_body(answer, elapsed),
            "{:?}",
            answer.lookup
        );
    }
    assert_eq!(hand_written(&cold, elapsed)["reused_from"], Value::Null);

    let coalesced = FactorialAnswer {
        step: Arc::clone(&on_top.step),
        lookup: match on_top.lookup {
            MemoryLookup::Computed(work) => MemoryLookup::Joined(work),
            other => other,
        },
    };
    assert_eq!(hand_written(&coalesced, elapsed)["coalesced"], true);
    assert_eq!(
        hand_written(&coalesced, elapsed),
        serde_body(&coalesced, elapsed)
    );
}

#[test]
fn milliseconds_have_three_rounded_decimals() {
    let cases = [
        (Duration::ZERO, "0.000"),
        (Duration::from_nanos(499), "0.000"),
        (Duration::from_nanos(500), "0.001"),
        (Duration::from_nanos(1_234_567), "1.235"),
        (Duration::from_nanos(999_999), "1.000"),
        (Duration::from_millis(2_500), "2500.000"),
        (Duration::new(86_400, 999_999_999), "86401000.000"),
    ];
    for (duration, expected) in cases {
        assert_eq!(Millis::new(duration).as_str(), expected, "{duration:?}");
    }
}
