//! The shared tier against a real redis-server: two apps, as two instances,
//! share answers through it; clears and invalidations reach the other's
//! memory; an outage costs nothing but misses; a cold value wanted on both
//! at once is computed once.

use std::time::{Duration, Instant};

use cachelab_testkit::RedisServer;
use rocket::http::Status;
use serde_json::Value;

use crate::helpers::{async_client_for, async_stats, setting, test_settings, TestApp};

/// An app as one instance named `name`, with the shared tier at `redis`
/// and a disk of its own (as on its own machine).
fn instance(name: &str, redis: &RedisServer) -> TestApp {
    let app = TestApp::with(|settings| {
        settings
            .merge(setting("instance_name", name))
            .merge(setting("redis_url", redis.url()))
            .merge(setting("redis_timeout_ms", 1000))
    });
    wait_for_health(&app, "up");
    app
}

fn redis_stats(app: &TestApp) -> Value {
    app.stats()["redis"].clone()
}

fn wait_for_health(app: &TestApp, health: &str) {
    assert!(
        app.wait_for(Duration::from_secs(10), |app| {
            redis_stats(app)["stats"]["health"] == health
        }),
        "the shared tier never became {health}: {}",
        redis_stats(app)
    );
}

#[test]
fn a_value_computed_on_one_instance_is_a_hit_on_the_other() {
    let redis = cachelab_testkit::redis_or_skip!();
    let (a, b) = (instance("a", &redis), instance("b", &redis));

    let first = a.get("/factorial/20");
    assert_eq!(first.x_cache(), "MISS");
    assert_eq!(
        first.header("Cache-Status"),
        Some("cachelab-redis;fwd=miss;stored, cachelab-memory;fwd=miss;stored")
    );
    assert_eq!(first.header("X-Instance"), Some("a"));

    let second = b.get("/factorial/20");
    assert_eq!(second.x_cache(), "HIT", "the shared tier answered");
    assert_eq!(
        second.header("Cache-Status"),
        Some("cachelab-redis;hit, cachelab-memory;fwd=miss;stored")
    );
    assert_eq!(second.body, first.body, "the very same bytes");
    assert_eq!(second.header("ETag"), first.header("ETag"));
    let timing: Vec<String> = second.server_timing().into_iter().map(|(n, _)| n).collect();
    assert!(timing.contains(&"redis".to_owned()), "{timing:?}");
    assert!(
        !timing.contains(&"compute".to_owned()),
        "nothing computed on b: {timing:?}"
    );
    assert_eq!(b.stats()["memory"]["computed"], 0);

    let third = b.get("/factorial/20");
    assert_eq!(third.header("Cache-Status"), Some("cachelab-memory;hit"));
    assert_eq!(redis_stats(&b)["stats"]["hits"], 1);
    assert_eq!(redis_stats(&a)["stats"]["stored"], 1);

    // A value read from Redis is a base for larger ones: 22! is 20! × 21 × 22.
    let larger = b.get("/factorial/22");
    assert_eq!(larger.json["factorial"], "1124000727777607680000");
    assert_eq!(b.stats()["memory"]["computed"], 2);
}

#[test]
fn a_data_answer_stored_on_one_machine_is_read_on_another_and_kept_on_its_disk() {
    let redis = cachelab_testkit::redis_or_skip!();
    let (a, b) = (instance("a", &redis), instance("b", &redis));
    let body = r#"{"shared": [1, 2, 3]}"#;
    let first = a.post_json("/data", body);
    assert_eq!(first.x_cache(), "MISS");
    let second = b.post_json("/data", body);
    assert_eq!(second.x_cache(), "HIT");
    assert_eq!(
        second.header("Cache-Status"),
        Some("cachelab-redis;hit, cachelab-disk;fwd=miss;stored")
    );
    assert_eq!(second.body, first.body);
    let key = second.header("X-Cache-Key").expect("a key").to_owned();
    let stored = b.get(&format!("/data/{key}"));
    assert_eq!(stored.status, Status::Ok, "now on b's own disk");
    assert_eq!(stored.header("Cache-Status"), Some("cachelab-disk;hit"));
}

#[test]
fn a_damaged_value_in_redis_is_a_miss_never_a_wrong_answer() {
    let redis = cachelab_testkit::redis_or_skip!();
    let a = instance("a", &redis);
    a.get("/factorial/7");
    let key = "cachelab:factorial:7";
    assert_eq!(
        redis.keys(key),
        vec![key.to_owned()],
        "stored under its key"
    );
    // Bytes that are no stored answer at all.
    redis.command(&["SET", key, "not an answer"]).expect("SET");
    let b = instance("b", &redis);
    let answer = b.get("/factorial/7");
    assert_eq!(answer.json["factorial"], "5040");
    assert_eq!(
        answer.header("Cache-Status"),
        Some("cachelab-redis;fwd=miss;stored;detail=integrity, cachelab-memory;fwd=miss;stored")
    );
    assert_eq!(redis_stats(&b)["stats"]["damaged"], 1);
    // The good answer was written back over the damaged one.
    let c = instance("c", &redis);
    assert_eq!(
        c.get("/factorial/7").header("Cache-Status"),
        Some("cachelab-redis;hit, cachelab-memory;fwd=miss;stored")
    );
}

#[test]
fn clearing_memory_on_one_instance_empties_the_others_memory_too() {
    let redis = cachelab_testkit::redis_or_skip!();
    let (a, b) = (instance("a", &redis), instance("b", &redis));
    b.get("/factorial/10");
    assert_eq!(
        b.get("/factorial/10").header("Cache-Status"),
        Some("cachelab-memory;hit")
    );

    assert_eq!(a.delete("/cache/memory").status, Status::Ok);
    assert!(
        b.wait_for(Duration::from_secs(5), |b| {
            !redis_stats(b)["arrivals"]
                .as_array()
                .is_some_and(Vec::is_empty)
        }),
        "the invalidation never arrived"
    );
    let arrival = &redis_stats(&b)["arrivals"][0];
    assert_eq!(arrival["from_instance"], "a");
    assert_eq!(arrival["scope"], "memory");
    assert_eq!(b.stats()["memory"]["entries"], 0);
    let after = b.get("/factorial/10");
    assert_eq!(
        after.header("Cache-Status"),
        Some("cachelab-redis;hit, cachelab-memory;fwd=miss;stored"),
        "b's memory was emptied; the shared tier still had it"
    );
    assert!(
        redis_stats(&a)["arrivals"]
            .as_array()
            .is_some_and(Vec::is_empty),
        "not its own"
    );
}

#[test]
fn invalidating_one_key_removes_it_everywhere_and_keeps_the_rest() {
    let redis = cachelab_testkit::redis_or_skip!();
    let (a, b) = (instance("a", &redis), instance("b", &redis));
    a.get("/factorial/12");
    b.get("/factorial/12");
    b.get("/factorial/5");
    let forgotten = a.delete("/factorial/12");
    assert_eq!(forgotten.status, Status::Ok, "{}", forgotten.body);
    assert_eq!(forgotten.json["redis"], "done");
    assert_eq!(forgotten.json["memory_removed"], true);
    assert!(redis.keys("cachelab:factorial:12").is_empty());
    assert!(b.wait_for(Duration::from_secs(5), |b| {
        redis_stats(b)["arrivals"][0]["scope"]["factorial"] == 12
    }));
    assert_eq!(
        b.get("/factorial/5").header("Cache-Status"),
        Some("cachelab-memory;hit"),
        "the rest stays"
    );
    let again = b.get("/factorial/12");
    assert_eq!(
        again.header("Cache-Status"),
        Some("cachelab-redis;fwd=miss;stored, cachelab-memory;fwd=miss;stored")
    );
}

#[test]
fn an_outage_of_redis_costs_misses_only_and_sharing_resumes_by_itself() {
    let mut redis = cachelab_testkit::redis_or_skip!();
    let (a, b) = (instance("a", &redis), instance("b", &redis));
    redis.stop();
    // The first call to notice may wait out the timeout; after that the
    // tier is skipped until it answers again.
    let started = Instant::now();
    for n in 30..40 {
        let answer = a.get(&format!("/factorial/{n}"));
        assert_eq!(answer.status, Status::Ok);
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    wait_for_health(&a, "down");
    let during = a.get("/factorial/41");
    assert_eq!(
        during.header("Cache-Status"),
        Some("cachelab-redis;fwd=miss;detail=unavailable, cachelab-memory;fwd=miss;stored")
    );
    let stats = redis_stats(&a)["stats"].clone();
    assert!(stats["errors"].as_u64() >= Some(1), "{stats}");
    assert!(stats["unavailable"].as_u64() >= Some(1), "{stats}");
    assert_eq!(stats["outages"], 1);
    assert_eq!(a.get("/stats").status, Status::Ok);
    assert_eq!(
        redis_stats(&a)["entries"],
        Value::Null,
        "cannot be counted now"
    );

    redis.start_again();
    wait_for_health(&a, "up");
    wait_for_health(&b, "up");
    a.get("/factorial/50");
    assert_eq!(
        b.get("/factorial/50").header("Cache-Status"),
        Some("cachelab-redis;hit, cachelab-memory;fwd=miss;stored"),
        "sharing resumed"
    );
}

#[test]
fn without_redis_there_is_no_shared_tier_and_nothing_changes() {
    let app = TestApp::new();
    assert_eq!(
        app.get("/factorial/9").header("Cache-Status"),
        Some("cachelab-memory;fwd=miss;stored")
    );
    assert_eq!(redis_stats(&app)["stats"]["health"], "off");
    let refused = app.delete("/cache/redis");
    assert_eq!(refused.status, Status::NotFound);
    assert!(refused.json["error"]
        .as_str()
        .is_some_and(|e| e.contains("redis_url")));
}

#[test]
fn a_url_that_is_not_redis_is_refused_at_start() {
    let dir = tempfile::tempdir().expect("temp dir");
    let settings = test_settings(&dir.path().join("cache_dir"))
        .merge(setting("redis_url", "http://user:secret@example.com/"));
    let Err(refused) = cachelab::rocket_from(settings) else {
        panic!("a URL that is not Redis was accepted");
    };
    assert!(refused.to_string().contains("redis_url"), "{refused}");
    assert!(
        !refused.to_string().contains("secret"),
        "never echo a password"
    );
}

#[rocket::async_test]
async fn a_cold_value_wanted_on_two_instances_at_once_is_computed_once() {
    let redis = cachelab_testkit::redis_or_skip!();
    let settings = |name: &str| {
        let dir = tempfile::tempdir().expect("temp dir").keep();
        test_settings(&dir.join("cache_dir"))
            .merge(setting("instance_name", name))
            .merge(setting("redis_url", redis.url()))
            .merge(setting("redis_timeout_ms", 1000))
            // Slow enough that both are waiting at once.
            .merge(setting("factorial_delay_ms", 2))
    };
    let a = async_client_for(settings("a")).await;
    let b = async_client_for(settings("b")).await;
    for client in [&a, &b] {
        let deadline = Instant::now() + Duration::from_secs(10);
        while async_stats(client).await["redis"]["stats"]["health"] != "up" {
            assert!(Instant::now() < deadline, "redis never up");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let requests = (0..8).map(|i| {
        let client = if i % 2 == 0 { &a } else { &b };
        async move {
            let response = client.get("/factorial/300").dispatch().await;
            (
                response
                    .headers()
                    .get_one("Cache-Status")
                    .map(str::to_owned),
                response.into_string().await,
            )
        }
    });
    let answers = rocket::futures::future::join_all(requests).await;
    let computed = async_stats(&a).await["memory"]["computed"]
        .as_u64()
        .unwrap_or(0)
        + async_stats(&b).await["memory"]["computed"]
            .as_u64()
            .unwrap_or(0);
    assert_eq!(
        computed, 300,
        "one computation of 300 steps in all: {answers:?}"
    );
    let collapsed = answers
        .iter()
        .filter(|(status, _)| {
            status
                .as_deref()
                .is_some_and(|s| s.starts_with("cachelab-redis;fwd=miss;collapsed"))
        })
        .count();
    assert_eq!(collapsed, 1, "the other instance waited: {answers:?}");
    let bodies: std::collections::HashSet<_> = answers.iter().map(|(_, body)| body).collect();
    assert_eq!(bodies.len(), 1);
}

#[test]
fn the_dashboard_shows_the_shared_tier_and_invalidations_arriving() {
    let redis = cachelab_testkit::redis_or_skip!();
    let (a, b) = (instance("a", &redis), instance("b", &redis));
    b.get("/factorial/6");
    a.get("/factorial/8");
    b.get("/factorial/8");
    let held = b.stats()["memory"]["entries"].as_u64().expect("a count");
    assert!(held > 1);
    a.delete("/cache/memory");
    assert!(b.wait_for(Duration::from_secs(5), |b| {
        !redis_stats(b)["arrivals"]
            .as_array()
            .is_some_and(Vec::is_empty)
    }));
    let page = b.get("/dashboard").body;
    assert!(page.contains("up: shared by every instance"), "{page}");
    assert!(
        page.contains("memory cleared by instance <strong>a</strong>"),
        "the arrival is listed"
    );
    assert!(
        page.contains(&format!("{held} entries dropped here")),
        "every step b held"
    );
    assert!(
        page.contains(r#"<circle class="redis-hit""#),
        "b's Redis hit is charted"
    );

    let alone = TestApp::new();
    let page = alone.get("/dashboard").body;
    assert!(page.contains(r#"id="shared-off""#));
    assert!(page.contains("leaves every other instance's memory with its copies"));
}

#[test]
fn a_slow_redis_costs_a_request_no_more_than_its_timeouts() {
    let redis = cachelab_testkit::redis_or_skip!();
    let a = TestApp::with(|settings| {
        settings
            .merge(setting("instance_name", "a"))
            .merge(setting("redis_url", redis.url()))
            .merge(setting("redis_timeout_ms", 100))
    });
    wait_for_health(&a, "up");
    // Redis stops answering anyone for two seconds, without closing.
    assert_eq!(
        redis
            .command(&["CLIENT", "PAUSE", "2000", "ALL"])
            .ok()
            .as_deref(),
        Some("+OK")
    );
    for n in 60..70 {
        let started = Instant::now();
        let answer = a.get(&format!("/factorial/{n}"));
        assert_eq!(answer.status, Status::Ok);
        assert!(
            started.elapsed() < Duration::from_millis(900),
            "{n}!: {:?}",
            started.elapsed()
        );
    }
    let stats = redis_stats(&a)["stats"].clone();
    assert!(stats["errors"].as_u64() >= Some(1), "{stats}");
    assert!(stats["unavailable"].as_u64() >= Some(1), "{stats}");
    // Once Redis answers again, sharing resumes by itself.
    let b = instance("b", &redis);
    wait_for_health(&a, "up");
    a.get("/factorial/80");
    assert_eq!(
        b.get("/factorial/80").header("Cache-Status"),
        Some("cachelab-redis;hit, cachelab-memory;fwd=miss;stored")
    );
}
