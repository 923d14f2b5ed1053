//! `GET /data/<key>`: a stored answer read back by its key, with nothing
//! computed.

use std::time::Duration;

use rocket::http::Status;

use crate::api::memory::cache_status_params;
use crate::helpers::{content_files, setting, TestApp};

const BODY: &str = r#"{"user": 7, "roles": ["admin"]}"#;
const CANONICAL: &str = r#"{"roles":["admin"],"user":7}"#;

/// Stores `BODY` and returns its key, as `X-Cache-Key` printed it.
fn store(app: &TestApp) -> String {
    let posted = app.post_json("/data", BODY);
    assert_eq!(posted.status, Status::Ok);
    posted.header("X-Cache-Key").expect("a key").to_owned()
}

#[test]
fn a_stored_answer_is_read_back_by_its_key_without_any_work() {
    let app = TestApp::new();
    let key = store(&app);
    let answer = app.get(&format!("/data/{key}"));
    assert_eq!(answer.status, Status::Ok);
    assert_eq!(answer.body, CANONICAL);
    assert_eq!(answer.x_cache(), "HIT");
    assert_eq!(answer.header("Cache-Status"), Some("cachelab-disk;hit"));
    let timing: Vec<String> = answer
        .server_timing()
        .into_iter()
        .map(|(metric, _)| metric)
        .collect();
    assert_eq!(timing, ["cache", "total"]);
    let stats = app.stats();
    assert_eq!(stats["disk"]["hits"], 1);
    assert_eq!(stats["disk"]["misses"], 1, "the POST's miss only");
    assert_eq!(stats["disk"]["computed"], 1, "the POST's work only");
}

#[test]
fn an_unknown_key_is_a_404_that_says_how_to_store_it() {
    let app = TestApp::new();
    let unknown = "0".repeat(64);
    let answer = app.get(&format!("/data/{unknown}"));
    assert_eq!(answer.status, Status::NotFound);
    let error = answer.json["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("no answer is stored under this key"),
        "{error}"
    );
    assert!(error.contains(&unknown), "{error}");
    let accepted = answer.json["accepted"].as_str().unwrap_or_default();
    assert!(accepted.contains("POST the body to /data"), "{accepted}");
    assert_eq!(answer.json["status"], 404);
    assert_eq!(answer.x_cache(), "MISS");
    assert_eq!(answer.header("X-Cache-Detail"), Some("not stored yet"));
    assert_eq!(
        cache_status_params(&answer),
        [("fwd".into(), "miss".into())]
    );
    assert!(answer
        .header("Server-Timing")
        .is_some_and(|timing| timing.contains("total;dur=")));
    assert_eq!(answer.header("ETag"), None);
    assert_eq!(
        answer.header("Cache-Control"),
        Some("no-store"),
        "a refusal is about this moment: once the body is posted, the key answers"
    );

    let stats = app.stats();
    assert_eq!(stats["disk"]["misses"], 1, "counted like any lookup");
    assert_eq!(stats["disk"]["computed"], 0, "and nothing computed");
    assert_eq!(stats["disk"]["entries"], 0, "or stored");
}

#[test]
fn an_expired_key_is_a_404_that_says_it_expired() {
    let app = TestApp::with(|settings| settings.merge(setting("disk_ttl_secs", 1)));
    let key = store(&app);
    app.time.advance(Duration::from_millis(1001));
    let answer = app.get(&format!("/data/{key}"));
    assert_eq!(answer.status, Status::NotFound);
    let error = answer.json["error"].as_str().unwrap_or_default();
    assert!(error.contains("has expired"), "{error}");
    assert!(error.contains("1 s"), "the TTL from the settings: {error}");
    assert_eq!(answer.header("X-Cache-Detail"), Some("stored but expired"));
    assert_eq!(
        cache_status_params(&answer),
        [("fwd".into(), "stale".into())]
    );
    assert_eq!(app.stats()["disk"]["expired"], 1);
}

#[test]
fn a_damaged_entry_is_a_404_counted_once_never_its_bytes() {
    let app = TestApp::new();
    let key = store(&app);
    for file in content_files(&app.cache_dir()) {
        std::fs::write(file, r#"{"roles":["admin"],"user":0}"#).expect("overwrite");
    }
    for _ in 0..2 {
        let answer = app.get(&format!("/data/{key}"));
        assert_eq!(answer.status, Status::NotFound);
        assert!(
            !answer.body.contains("\"user\":0"),
            "never the damaged bytes"
        );
        let error = answer.json["error"].as_str().unwrap_or_default();
        assert!(error.contains("integrity"), "{error}");
        assert_eq!(
            cache_status_params(&answer),
            [
                ("fwd".into(), "miss".into()),
                ("detail".into(), "integrity".into())
            ]
        );
    }
    assert_eq!(app.stats()["disk"]["errors"], 1, "one fault, counted once");
    app.assert_healthy();

    // Posting the body again stores it again.
    store(&app);
    assert_eq!(app.get(&format!("/data/{key}")).body, CANONICAL);
}

#[test]
fn something_that_is_not_a_key_is_a_400_that_says_what_a_key_looks_like() {
    let app = TestApp::new();
    let key = store(&app);
    for not_a_key in [
        "abc".to_owned(),
        key.to_ascii_uppercase(),
        format!("{key}0"),
        key.replacen(|c: char| c.is_ascii_digit(), "g", 1),
        "..%2F..%2FCargo.toml".to_owned(),
        "%C3%A9".repeat(32),
    ] {
        let answer = app.get(&format!("/data/{not_a_key}"));
        assert_eq!(answer.status, Status::BadRequest, "{not_a_key}");
        let error = answer.json["error"].as_str().unwrap_or_default();
        assert!(error.contains("is not a key"), "{error}");
        assert!(error.contains("64 lowercase hex digits"), "{error}");
        assert_eq!(answer.header("Cache-Control"), Some("no-store"));
        assert!(answer.json["accepted"]
            .as_str()
            .unwrap_or_default()
            .contains("X-Cache-Key"));
    }
    assert_eq!(app.stats()["disk"]["misses"], 1, "no lookup for a non-key");
}
