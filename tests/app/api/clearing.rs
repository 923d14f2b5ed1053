//! Clearing is a POST (or a DELETE per tier); a GET explains and changes nothing.

use rocket::http::{Header, Status};

use crate::helpers::{Answer, TestApp};

fn fill(app: &TestApp) {
    app.get("/factorial/10");
    app.post_json("/data", r#"{"keep":"me"}"#);
}

#[test]
fn post_clear_cache_empties_both_tiers() {
    let app = TestApp::new();
    fill(&app);
    let answer = app.post("/clear-cache");
    assert_eq!(answer.status, Status::Ok);
    assert_eq!(answer.json["message"], "Cache cleared");
    assert_eq!(answer.json["memory_entries_removed"], 10);
    assert_eq!(answer.json["disk_entries_removed"], 1);

    let stats = app.stats();
    assert_eq!(stats["memory"]["entries"], 0);
    assert_eq!(stats["disk"]["entries"], 0);
    assert_eq!(app.get("/factorial/10").x_cache(), "MISS");
    assert_eq!(app.post_json("/data", r#"{"keep":"me"}"#).x_cache(), "MISS");
}

#[test]
fn a_cleared_disk_tier_stays_empty_after_a_restart() {
    let app = TestApp::new();
    fill(&app);
    app.post("/clear-cache");
    let app = app.restart();
    assert_eq!(app.stats()["disk"]["entries"], 0);
    assert_eq!(app.post_json("/data", r#"{"keep":"me"}"#).x_cache(), "MISS");
}

#[test]
fn get_clear_cache_explains_and_changes_nothing() {
    let app = TestApp::new();
    fill(&app);
    let answer = app.get("/clear-cache");
    assert_eq!(answer.status, Status::MethodNotAllowed);
    assert_eq!(answer.header("Allow"), Some("POST"));
    assert!(answer.json["error"]
        .as_str()
        .unwrap_or_default()
        .contains("POST"));

    let elsewhere = Answer::from(
        app.client
            .get("/clear-cache")
            .header(Header::new("Host", "lab.example:9000"))
            .dispatch(),
    );
    let accepted = elsewhere.json["accepted"].as_str().unwrap_or_default();
    assert!(
        accepted.contains("curl -X POST 'http://lab.example:9000/clear-cache?tier=memory'"),
        "the command names the address the client used: {accepted}"
    );

    assert_eq!(app.get("/factorial/10").x_cache(), "HIT");
    assert_eq!(app.post_json("/data", r#"{"keep":"me"}"#).x_cache(), "HIT");
}

#[test]
fn each_tier_can_be_cleared_alone() {
    let app = TestApp::new();
    fill(&app);
    let answer = app.delete("/cache/memory");
    assert_eq!(answer.json["entries_removed"], 10);
    assert_eq!(app.get("/factorial/10").x_cache(), "MISS");
    assert_eq!(app.post_json("/data", r#"{"keep":"me"}"#).x_cache(), "HIT");

    let answer = app.delete("/cache/disk");
    assert_eq!(answer.json["entries_removed"], 1);
    assert_eq!(app.get("/factorial/10").x_cache(), "HIT");
    assert_eq!(app.post_json("/data", r#"{"keep":"me"}"#).x_cache(), "MISS");
}

#[test]
fn stats_and_health_answer() {
    let app = TestApp::new();
    assert_eq!(app.get("/health").status, Status::Ok);
    let stats = app.stats();
    for key in [
        "entries",
        "capacity",
        "hits",
        "misses",
        "evictions",
        "computed",
    ] {
        assert!(stats["memory"][key].is_number(), "memory.{key}");
    }
    for key in [
        "entries",
        "content_bytes",
        "bytes_on_disk",
        "max_bytes",
        "hits",
        "page_cache_hits",
        "misses",
        "expired",
        "computed",
        "errors",
    ] {
        assert!(stats["disk"][key].is_number(), "disk.{key}");
    }
}

#[test]
fn a_stray_file_in_cache_dir_does_not_stop_a_clear() {
    let app = TestApp::new();
    fill(&app);
    std::fs::write(app.cache_dir().join(".DS_Store"), b"left by a file browser").expect("write");
    let answer = app.post("/clear-cache");
    assert_eq!(answer.json["disk_entries_removed"], 1);
    assert_eq!(app.stats()["disk"]["errors"], 0);

    let app = app.restart();
    assert_eq!(
        app.stats()["disk"]["entries"],
        0,
        "nothing comes back after a restart"
    );
    assert_eq!(app.post_json("/data", r#"{"keep":"me"}"#).x_cache(), "MISS");
}
