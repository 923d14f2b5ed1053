//! The exercises with several instances: two apps as instances a and b,
//! sharing one real redis-server (and, as instances started from one folder
//! do, one room secret, so a learner has the same numbers on both), each
//! with a disk and a progress file of its own. An instance ticks from what
//! it saw; with the workshop shared through Redis, the other learns the
//! learner's events, and so the tick, a moment later.

use std::path::Path;

use cachelab::workshop::room_secret_path;
use cachelab_testkit::RedisServer;
use tempfile::TempDir;

use super::*;

/// Instance `name` of a room whose secret is kept beside `progress`, with
/// the shared tier at `redis` (or none).
fn instance(name: &str, redis: Option<&RedisServer>, progress: &Path) -> TestApp {
    let app = TestApp::with(|settings| {
        let settings = settings
            .merge(setting("max_factorial", TEST_MAX_FACTORIAL))
            .merge(setting("memory_capacity", 100))
            .merge(setting("instance_name", name))
            .merge(setting("progress_file", progress));
        match redis {
            Some(redis) => settings
                .merge(setting("redis_url", redis.url()))
                .merge(setting("redis_timeout_ms", 1000)),
            None => settings,
        }
    });
    if redis.is_some() {
        wait_for_health(&app, "up");
    }
    app
}

/// Instances a and b, and the folder holding their progress files.
fn two_instances(redis: Option<&RedisServer>) -> (TestApp, TestApp, TempDir) {
    let room = tempfile::tempdir().expect("a temp dir");
    let (a_progress, b_progress) = (room.path().join("a.jsonl"), room.path().join("b.jsonl"));
    let a = instance("a", redis, &a_progress);
    std::fs::copy(room_secret_path(&a_progress), room_secret_path(&b_progress))
        .expect("a's room secret copied for b");
    let b = instance("b", redis, &b_progress);
    (a, b, room)
}

fn wait_for_health(app: &TestApp, health: &str) {
    assert!(
        app.wait_for(Duration::from_secs(10), |app| {
            app.stats()["redis"]["stats"]["health"] == health
        }),
        "the shared tier never became {health}: {}",
        app.stats()["redis"]
    );
}

fn factorial(app: &TestApp, learner: &str, n: u64) -> Answer {
    get_as(app, learner, &format!("/factorial/{n}"))
}

fn cache_status(answer: &Answer) -> &str {
    answer.header("Cache-Status").unwrap_or_default()
}

/// Waits until an invalidation has arrived at `app`.
fn wait_for_arrival(app: &TestApp) {
    assert!(
        app.wait_for(Duration::from_secs(5), |app| {
            !app.stats()["redis"]["arrivals"]
                .as_array()
                .is_some_and(Vec::is_empty)
        }),
        "the invalidation never arrived"
    );
}

#[test]
fn both_instances_give_the_learner_the_same_numbers() {
    let (a, b, _room) = two_instances(None);
    assert_eq!(
        plan_in(&a, "ada").per_process(),
        plan_in(&b, "ada").per_process()
    );
}

#[test]
fn memory_per_process_ticks_on_the_instance_whose_memory_missed_after_the_other_held_it() {
    let redis = cachelab_testkit::redis_or_skip!();
    let (a, b, _room) = two_instances(Some(&redis));
    let n = plan_in(&a, "ada").per_process();
    assert_eq!(
        cache_status(&factorial(&a, "ada", n)),
        "cachelab-redis;fwd=miss;stored, cachelab-memory;fwd=miss;stored"
    );
    assert_eq!(evidence(&a, "ada", "memory-per-process"), None);
    let on_b = factorial(&b, "ada", n);
    assert_eq!(on_b.header("X-Instance"), Some("b"));
    assert_eq!(
        cache_status(&on_b),
        "cachelab-redis;hit, cachelab-memory;fwd=miss;stored"
    );
    let said = evidence(&b, "ada", "memory-per-process").expect("ticked on b");
    assert!(said.contains(&format!("{n}! memory MISS")), "{said}");
    assert!(said.contains("on instance b (Redis HIT"), "{said}");
    assert!(
        a.wait_for(Duration::from_secs(5), |a| {
            evidence(a, "ada", "memory-per-process").is_some()
        }),
        "the learner's progress is the same on a"
    );
}

#[test]
fn memory_per_process_does_not_tick_for_a_miss_only_one_instance_saw() {
    let redis = cachelab_testkit::redis_or_skip!();
    let (a, b, _room) = two_instances(Some(&redis));
    let n = plan_in(&a, "ada").per_process();
    // b computes it itself, then its own copy comes back from Redis after
    // its memory is emptied: no other instance was involved.
    factorial(&b, "ada", n);
    delete_as(&b, "ada", "/cache/memory");
    assert_eq!(
        cache_status(&factorial(&b, "ada", n)),
        "cachelab-redis;hit, cachelab-memory;fwd=miss;stored"
    );
    assert_eq!(evidence(&b, "ada", "memory-per-process"), None);
    assert_eq!(evidence(&a, "ada", "memory-per-process"), None);
}

#[test]
fn the_shared_tier_hit_ticks_on_the_instance_redis_answered() {
    let redis = cachelab_testkit::redis_or_skip!();
    let (a, b, _room) = two_instances(Some(&redis));
    let n = plan_in(&a, "ada").shared_hit();
    factorial(&a, "ada", n);
    let on_b = factorial(&b, "ada", n);
    assert_eq!(
        cache_status(&on_b),
        "cachelab-redis;hit, cachelab-memory;fwd=miss;stored"
    );
    assert!(evidence(&b, "ada", "shared-tier-hit").is_some());
    assert!(a.wait_for(Duration::from_secs(5), |a| {
        evidence(a, "ada", "shared-tier-hit").is_some()
    }));
    // Another learner asking b for a number of their own ticks nothing.
    assert_eq!(evidence(&b, "grace", "shared-tier-hit"), None);
}

#[test]
fn the_shared_tier_hit_does_not_tick_without_a_redis_hit() {
    let redis = cachelab_testkit::redis_or_skip!();
    let (a, b, _room) = two_instances(Some(&redis));
    let n = plan_in(&a, "ada").shared_hit();
    // Only b: a computation there, then b's own memory hit.
    factorial(&b, "ada", n);
    assert_eq!(
        cache_status(&factorial(&b, "ada", n)),
        "cachelab-memory;hit"
    );
    assert_eq!(evidence(&b, "ada", "shared-tier-hit"), None);

    let (a, b, _room) = two_instances(None);
    factorial(&a, "ada", n);
    factorial(&b, "ada", n);
    assert_eq!(evidence(&b, "ada", "shared-tier-hit"), None);
    assert_eq!(evidence(&a, "ada", "shared-tier-hit"), None);
}

#[test]
fn a_clear_on_a_that_reaches_b_ticks_on_b() {
    let redis = cachelab_testkit::redis_or_skip!();
    let (a, b, _room) = two_instances(Some(&redis));
    let n = plan_in(&a, "ada").clear_reaches();
    factorial(&b, "ada", n);
    assert_eq!(
        cache_status(&factorial(&b, "ada", n)),
        "cachelab-memory;hit"
    );
    assert_eq!(delete_as(&a, "ada", "/cache/memory").status, Status::Ok);
    wait_for_arrival(&b);
    let again = factorial(&b, "ada", n);
    assert_eq!(
        cache_status(&again),
        "cachelab-redis;hit, cachelab-memory;fwd=miss;stored"
    );
    let said = evidence(&b, "ada", "clear-reaches-every-instance").expect("ticked on b");
    assert!(
        said.contains("your memory clear on instance a arrived here"),
        "{said}"
    );
    assert!(a.wait_for(Duration::from_secs(5), |a| {
        evidence(a, "ada", "clear-reaches-every-instance").is_some()
    }));
}

#[test]
fn a_clear_does_not_tick_when_it_is_someone_elses_or_never_reaches_b() {
    let redis = cachelab_testkit::redis_or_skip!();
    let (a, b, _room) = two_instances(Some(&redis));
    let n = plan_in(&a, "ada").clear_reaches();
    factorial(&b, "ada", n);
    factorial(&b, "ada", n);
    // grace clears a's memory: b's memory is emptied, but not by ada.
    delete_as(&a, "grace", "/cache/memory");
    wait_for_arrival(&b);
    assert!(cache_status(&factorial(&b, "ada", n)).starts_with("cachelab-redis;hit"));
    assert_eq!(evidence(&b, "ada", "clear-reaches-every-instance"), None);
    assert_eq!(evidence(&b, "grace", "clear-reaches-every-instance"), None);

    // Without Redis, a clear on a never reaches b: b keeps its copy.
    let (a, b, _room) = two_instances(None);
    factorial(&b, "ada", n);
    factorial(&b, "ada", n);
    delete_as(&a, "ada", "/cache/memory");
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        cache_status(&factorial(&b, "ada", n)),
        "cachelab-memory;hit"
    );
    assert_eq!(evidence(&b, "ada", "clear-reaches-every-instance"), None);
    assert_eq!(evidence(&a, "ada", "clear-reaches-every-instance"), None);
}

#[test]
fn an_outage_ticks_once_redis_is_used_again_on_the_instance_that_answered() {
    let mut redis = cachelab_testkit::redis_or_skip!();
    let (a, b, _room) = two_instances(Some(&redis));
    let n = plan_in(&a, "ada").outage();
    redis.stop();
    for m in n..n + 3 {
        let answer = factorial(&a, "ada", m);
        assert_eq!(answer.status, Status::Ok);
    }
    wait_for_health(&a, "down");
    let during = factorial(&a, "ada", n + 3);
    assert_eq!(during.status, Status::Ok);
    assert!(
        cache_status(&during).starts_with("cachelab-redis;fwd=miss;detail=unavailable"),
        "{}",
        cache_status(&during)
    );
    assert_eq!(
        evidence(&a, "ada", "shared-tier-outage"),
        None,
        "Redis is not back yet"
    );

    redis.start_again();
    wait_for_health(&a, "up");
    let after = factorial(&a, "ada", n + 4);
    assert_eq!(
        cache_status(&after),
        "cachelab-redis;fwd=miss;stored, cachelab-memory;fwd=miss;stored"
    );
    let said = evidence(&a, "ada", "shared-tier-outage").expect("ticked on a");
    assert!(said.contains("Redis unavailable"), "{said}");
    // The learner's events reach b through Redis, and the tick with them.
    assert!(b.wait_for(Duration::from_secs(5), |b| {
        evidence(b, "ada", "shared-tier-outage").is_some()
    }));
}
