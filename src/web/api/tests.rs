//! The API's hand-written headers, held to what the builders write.

use std::time::Duration;

use super::*;

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

#[test]
fn a_miss_of_get_data_is_the_disk_tiers_miss_member() {
    assert_eq!(
        disk_miss_status(MissReason::Absent, |forward| forward),
        "cachelab-disk;fwd=miss"
    );
    assert_eq!(
        disk_miss_status(MissReason::Expired, |forward| forward),
        "cachelab-disk;fwd=stale"
    );
    assert_eq!(
        disk_miss_status(MissReason::Unreadable, |forward| forward),
        "cachelab-disk;fwd=miss;detail=integrity"
    );
}
