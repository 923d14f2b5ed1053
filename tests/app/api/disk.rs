//! The disk tier as curl sees it: `POST /data`.

use std::time::Duration;

use rocket::http::{ContentType, Status};

use crate::helpers::{
    async_client_for, async_stats, content_files, setting, sha256_hex, test_settings, TestApp,
};

#[test]
fn a_body_is_answered_and_then_served_from_disk() {
    let app = TestApp::new();
    let first = app.post_json("/data", r#"{"user": 42, "tags": ["a", "b"]}"#);
    assert_eq!(first.status, Status::Ok);
    assert_eq!(first.x_cache(), "MISS");
    assert_eq!(
        first.json,
        serde_json::json!({"user": 42, "tags": ["a", "b"]})
    );

    let canonical = r#"{"tags":["a","b"],"user":42}"#;
    assert_eq!(first.body, canonical);
    assert_eq!(
        first.header("X-Cache-Key"),
        Some(sha256_hex(canonical).as_str())
    );

    let second = app.post_json("/data", r#"{"user": 42, "tags": ["a", "b"]}"#);
    assert_eq!(second.x_cache(), "HIT");
    assert_eq!(second.body, canonical);
    let timing = second.header("Server-Timing").expect("Server-Timing");
    assert!(
        timing.starts_with("body;desc=\"reading + canonicalizing + hashing\";dur="),
        "{timing}"
    );
    assert!(timing.contains("cache;desc=\"disk hit\";dur="), "{timing}");
    assert_eq!(
        first.header("X-Cache-Detail"),
        Some("not stored yet; computed and stored")
    );
    // A hit says HIT, its timing and its key; no more headers than that are
    // paid for on the fast path.
    assert_eq!(
        second.header_names(),
        [
            "cache-control",
            "cache-status",
            "content-type",
            "server-timing",
            "x-cache",
            "x-cache-key",
            "x-content-type-options",
            "x-frame-options",
            "x-instance"
        ],
        "a disk hit's headers"
    );

    let stats = app.stats();
    assert_eq!(stats["disk"]["entries"], 1);
    assert_eq!(stats["disk"]["content_bytes"], canonical.len());
    assert_eq!(
        stats["disk"]["bytes_on_disk"],
        crate::helpers::du(&app.cache_dir()),
        "bytes on disk are what du reports"
    );
    assert_eq!(stats["disk"]["hits"], 1);
    assert_eq!(stats["disk"]["misses"], 1);
    assert_eq!(stats["disk"]["computed"], 1);
}

#[test]
fn key_order_and_whitespace_hit_the_same_entry_but_a_new_value_does_not() {
    let app = TestApp::new();
    let first = app.post_json("/data", r#"{"b":1,"a":2}"#);
    let reordered = app.post_json("/data", "{ \"a\": 2,\n  \"b\": 1 }");
    assert_eq!(reordered.x_cache(), "HIT");
    assert_eq!(first.header("X-Cache-Key"), reordered.header("X-Cache-Key"));

    let changed = app.post_json("/data", r#"{"a":2,"b":3}"#);
    assert_eq!(changed.x_cache(), "MISS");
    assert_ne!(first.header("X-Cache-Key"), changed.header("X-Cache-Key"));
}

#[test]
fn an_empty_object_is_cached_like_any_other_value() {
    let app = TestApp::new();
    assert_eq!(app.post_json("/data", "{}").x_cache(), "MISS");
    let again = app.post_json("/data", "{}");
    assert_eq!(again.x_cache(), "HIT");
    assert_eq!(again.body, "{}");
    for falsy in ["[]", "0", "false", "null", "\"\""] {
        app.post_json("/data", falsy);
        assert_eq!(app.post_json("/data", falsy).x_cache(), "HIT", "{falsy}");
    }
}

#[test]
fn entries_survive_a_restart_while_memory_starts_cold() {
    let app = TestApp::new();
    app.post_json("/data", r#"{"kept":true}"#);
    app.get("/factorial/30");

    let app = app.restart();
    let answer = app.post_json("/data", r#"{"kept":true}"#);
    assert_eq!(answer.x_cache(), "HIT");
    assert_eq!(answer.body, r#"{"kept":true}"#);
    assert_eq!(app.get("/factorial/30").x_cache(), "MISS");
}

fn damage_every_content_file(app: &TestApp, damage: impl Fn(&std::path::Path)) {
    let files = content_files(&app.cache_dir());
    assert!(!files.is_empty(), "there is content to damage");
    for file in files {
        damage(&file);
    }
}

#[test]
fn a_corrupted_entry_is_never_served_and_is_rewritten() {
    let app = TestApp::new();
    let body = r#"{"account":"alice","balance":100}"#;
    app.post_json("/data", body);
    damage_every_content_file(&app, |file| {
        std::fs::write(file, br#"{"account":"alice","balance":999}"#).expect("overwrite")
    });

    let answer = app.post_json("/data", body);
    assert_eq!(answer.status, Status::Ok);
    assert_eq!(answer.x_cache(), "MISS");
    assert_eq!(answer.body, r#"{"account":"alice","balance":100}"#);
    assert!(answer
        .header("X-Cache-Detail")
        .unwrap_or("")
        .contains("integrity"));
    assert_eq!(app.stats()["disk"]["errors"], 1);

    // Recomputed and rewritten: intact again.
    assert_eq!(app.post_json("/data", body).x_cache(), "HIT");
}

#[test]
fn a_truncated_or_deleted_entry_becomes_a_miss() {
    let app = TestApp::new();
    app.post_json("/data", r#"{"n":1}"#);
    damage_every_content_file(&app, |file| {
        std::fs::write(file, b"{\"n\"").expect("truncate")
    });
    assert_eq!(app.post_json("/data", r#"{"n":1}"#).x_cache(), "MISS");

    damage_every_content_file(&app, |file| std::fs::remove_file(file).expect("delete"));
    let answer = app.post_json("/data", r#"{"n":1}"#);
    assert_eq!((answer.status, answer.x_cache()), (Status::Ok, "MISS"));
    assert_eq!(answer.body, r#"{"n":1}"#);
    assert_eq!(app.stats()["disk"]["errors"], 2);
}

#[test]
fn an_entry_older_than_the_ttl_is_a_miss() {
    let app = TestApp::with(|settings| settings.merge(setting("disk_ttl_secs", 1)));
    app.post_json("/data", r#"{"fresh":false}"#);
    assert_eq!(
        app.post_json("/data", r#"{"fresh":false}"#).x_cache(),
        "HIT"
    );

    app.time.advance(Duration::from_millis(1001));
    let expired = app.post_json("/data", r#"{"fresh":false}"#);
    assert_eq!(expired.x_cache(), "MISS");
    assert!(expired
        .header("X-Cache-Detail")
        .unwrap_or("")
        .contains("expired"));
    assert_eq!(app.stats()["disk"]["expired"], 1);
    // Rewritten with a new time: fresh again.
    assert_eq!(
        app.post_json("/data", r#"{"fresh":false}"#).x_cache(),
        "HIT"
    );
}

#[rocket::async_test]
async fn concurrent_cold_posts_compute_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let settings = test_settings(&dir.path().join("cache")).merge(setting("data_delay_ms", 300));
    let client = async_client_for(settings).await;

    let requests = (0..24).map(|_| {
        client
            .post("/data")
            .header(ContentType::JSON)
            .body(r#"{"stampede":true}"#)
            .dispatch()
    });
    for response in rocket::futures::future::join_all(requests).await {
        assert_eq!(response.status(), Status::Ok);
        assert_eq!(
            response.into_string().await.as_deref(),
            Some(r#"{"stampede":true}"#)
        );
    }
    let stats = async_stats(&client).await;
    assert_eq!(stats["disk"]["computed"], 1);
    assert_eq!(stats["disk"]["misses"], 24);
    assert_eq!(stats["disk"]["entries"], 1);
}

#[test]
fn an_entry_the_sweep_removed_for_age_is_still_reported_as_expired() {
    let app = TestApp::with(|settings| {
        settings
            .merge(setting("disk_ttl_secs", 1))
            .merge(setting("disk_sweep_interval_secs", 1))
    });
    app.post_json("/data", r#"{"old":true}"#);
    app.time.advance(Duration::from_secs(2));
    // Past the TTL, and past at least one sweep that removes the entry.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while app.stats()["disk"]["expirations"] == 0 {
        assert!(std::time::Instant::now() < deadline, "the sweep ran");
        std::thread::sleep(Duration::from_millis(100));
    }
    let again = app.post_json("/data", r#"{"old":true}"#);
    assert_eq!(again.x_cache(), "MISS");
    let detail = again.header("X-Cache-Detail").unwrap_or_default();
    assert!(detail.contains("expired"), "{detail}");
    assert_eq!(app.stats()["disk"]["expired"], 1);
}

#[test]
fn server_timing_total_covers_the_whole_request_and_names_its_parts() {
    let app = TestApp::new();
    // Large enough that reading and canonicalizing it takes a visible time.
    let body = format!(
        "[{}]",
        (0..40_000)
            .map(|n| format!(r#"{{"n":{n},"s":"x"}}"#))
            .collect::<Vec<_>>()
            .join(",")
    );
    app.post_json("/data", &body);
    let hit = app.post_json("/data", &body);
    assert_eq!(hit.x_cache(), "HIT");
    let timing = hit.server_timing();
    let names: Vec<&str> = timing.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, ["body", "cache", "total"]);
    let (body_ms, cache_ms, total_ms) = (timing[0].1, timing[1].1, timing[2].1);
    assert!(body_ms > 0.0, "{timing:?}");
    assert!(
        total_ms >= body_ms + cache_ms,
        "the total includes every part: {timing:?}"
    );
    assert!(
        body_ms > cache_ms,
        "a big body's hit is mostly the body: {timing:?}"
    );
}

#[test]
fn cache_status_names_the_disk_tier_and_why_it_went_to_the_work() {
    use crate::api::memory::cache_status_params;
    let pair = |key: &str, value: &str| (key.to_owned(), value.to_owned());
    let app = TestApp::with(|settings| settings.merge(setting("disk_ttl_secs", 1)));
    let miss = app.post_json("/data", r#"{"status": 1}"#);
    assert_eq!(
        cache_status_params(&miss),
        [pair("fwd", "miss"), pair("stored", "?1")]
    );
    let hit = app.post_json("/data", r#"{"status": 1}"#);
    assert_eq!(cache_status_params(&hit), [pair("hit", "?1")]);
    app.time.advance(std::time::Duration::from_millis(1_001));
    let expired = app.post_json("/data", r#"{"status": 1}"#);
    assert_eq!(
        cache_status_params(&expired),
        [pair("fwd", "stale"), pair("stored", "?1")],
        "the tier had a copy, too old to use"
    );
    for file in crate::helpers::content_files(&app.cache_dir()) {
        std::fs::write(file, b"{}").expect("damage");
    }
    let damaged = app.post_json("/data", r#"{"status": 1}"#);
    assert_eq!(
        cache_status_params(&damaged),
        [
            pair("fwd", "miss"),
            pair("stored", "?1"),
            pair("detail", "integrity")
        ]
    );
}
