//! "How big a cache must be": `GET /sizing` as a browser sees it and
//! `GET /sizing.json` as curl does.

use rocket::http::{ContentType, Status};
use serde_json::Value;

use crate::helpers::TestApp;

/// Small settings, so each test replays its trace quickly.
const SMALL: &str = "skew=1&keys=150&requests=1500&target=60";

fn ratios(curve: &Value, policy: &str) -> Vec<f64> {
    curve
        .as_array()
        .expect("a curve is a list of points")
        .iter()
        .map(|point| {
            point[format!("{policy}_hit_ratio")]
                .as_f64()
                .expect("a ratio")
        })
        .collect()
}

#[test]
fn the_page_draws_both_charts_with_the_three_policies_and_a_table() {
    let app = TestApp::new();
    let page = app.get_page(&format!("/sizing?{SMALL}"));
    assert_eq!(page.status, Status::Ok, "{}", page.body);
    // Like every page: revalidated, and private on a first visit, which
    // gives the browser its learner cookie.
    assert_eq!(page.header("Cache-Control"), Some("private, no-cache"));
    assert_eq!(page.body.matches("<svg").count(), 2, "entries and bytes");
    for policy in ["lru", "fifo", "belady"] {
        assert_eq!(
            page.body
                .matches(&format!("class=\"curve {policy}\""))
                .count(),
            2,
            "{policy} on both charts"
        );
    }
    assert!(page.body.contains("<title>LRU, 1 entry: "));
    assert!(page.body.contains("id=\"by-entries-table\""));
    assert!(page.body.contains("id=\"by-bytes-table\""));
    assert!(page.body.contains("ROCKET_MEMORY_CAPACITY="));
    assert!(page.body.contains("aria-current=\"page\">Cache size"));
}

#[test]
fn the_page_with_no_settings_runs_the_defaults() {
    let app = TestApp::new();
    let page = app.get_page("/sizing");
    assert_eq!(page.status, Status::Ok);
    assert!(page.body.contains("id=\"suggested-entries\""));
}

#[test]
fn lru_and_belady_never_lose_hits_as_the_cache_grows_and_belady_is_on_top() {
    let app = TestApp::new();
    let answer = app.get(&format!("/sizing.json?{SMALL}"));
    assert_eq!(answer.status, Status::Ok, "{}", answer.body);
    assert_eq!(
        answer.header("Content-Type"),
        Some(ContentType::JSON.to_string().as_str())
    );
    let curve = &answer.json["by_entries"];
    for policy in ["lru", "belady"] {
        let ratios = ratios(curve, policy);
        assert!(ratios.len() > 3, "{ratios:?}");
        assert!(
            ratios.windows(2).all(|pair| pair[0] <= pair[1]),
            "{policy}: {ratios:?}"
        );
    }
    let (lru, belady) = (ratios(curve, "lru"), ratios(curve, "belady"));
    assert!(lru.iter().zip(&belady).all(|(lru, belady)| lru <= belady));
    let best = answer.json["best_possible_hit_ratio"]
        .as_f64()
        .expect("ratio");
    assert_eq!(
        lru.last(),
        Some(&best),
        "a cache of every key misses only once per key"
    );
}

#[test]
fn the_same_settings_give_the_same_numbers() {
    let app = TestApp::new();
    let first = app.get(&format!("/sizing.json?{SMALL}"));
    let second = app.get(&format!("/sizing.json?{SMALL}"));
    let elsewhere = TestApp::new().get(&format!("/sizing.json?{SMALL}"));
    assert_eq!(first.status, Status::Ok);
    assert_eq!(first.json, second.json);
    assert_eq!(first.json, elsewhere.json, "another app, the same numbers");
    let other = app.get("/sizing.json?skew=0.5&keys=150&requests=1500&target=60");
    assert_ne!(first.json["by_entries"], other.json["by_entries"]);
}

#[test]
fn the_suggested_size_reaches_the_target_and_one_entry_less_does_not() {
    let app = TestApp::new();
    let answer = app.get(&format!("/sizing.json?{SMALL}"));
    let suggestion = &answer.json["suggestion"];
    assert_eq!(suggestion["reachable"], true, "{}", answer.body);
    let entries = suggestion["entries"].as_u64().expect("entries");
    assert!(suggestion["entries_hit_ratio"].as_f64().expect("ratio") >= 0.60);
    assert!(suggestion["bytes_hit_ratio"].as_f64().expect("ratio") >= 0.60);
    // Replay the very same trace through the memory tier's store.
    let workload = cachelab::sizing::Workload::generate(150, 1.0, 1_500);
    let hits = |capacity: u64| cachelab::sizing::lru_hits(&workload.trace, capacity as usize);
    assert!(hits(entries) * 100 >= 60 * 1_500);
    assert!(hits(entries - 1) * 100 < 60 * 1_500);
    // And the curve agrees: every point at or past it reaches the target.
    for point in answer.json["by_entries"].as_array().expect("curve") {
        if point["capacity"].as_u64() >= Some(entries) {
            assert!(
                point["lru_hit_ratio"].as_f64().expect("ratio") >= 0.60,
                "{point}"
            );
        }
    }
}

#[test]
fn bad_settings_are_refused_with_a_message_as_json_or_as_a_page() {
    let app = TestApp::new();
    for (query, words) in [
        ("skew=abc", "skew"),
        ("skew=NaN", "skew"),
        ("skew=9", "skew"),
        ("keys=1", "number of keys"),
        ("keys=999999999999999999999", "number of keys"),
        ("requests=10", "number of requests"),
        ("requests=100000000", "number of requests"),
        ("target=0", "target hit ratio"),
        ("target=100", "target hit ratio"),
    ] {
        let json = app.get(&format!("/sizing.json?{query}"));
        assert_eq!(json.status, Status::BadRequest, "{query}: {}", json.body);
        assert_eq!(json.json["status"], 400);
        let error = json.json["error"].as_str().expect("an error message");
        assert!(error.contains(words), "{query}: {error}");
        assert!(json.json["accepted"].is_string(), "{query}");
        assert_eq!(json.header("Cache-Control"), Some("no-store"));

        let page = app.get_page(&format!("/sizing?{query}"));
        assert_eq!(page.status, Status::BadRequest, "{query}");
        assert!(page.body.contains("Not run: "), "{query}");
        assert!(page.body.contains("aria-invalid=\"true\""), "{query}");
        assert!(!page.body.contains("<svg"), "{query}: nothing was run");
    }
}

#[test]
fn the_number_of_keys_is_capped_by_the_largest_factorial_the_app_accepts() {
    let app =
        TestApp::with(|settings| settings.merge(crate::helpers::setting("max_factorial", 40)));
    let answer = app.get("/sizing.json?keys=41");
    assert_eq!(answer.status, Status::BadRequest);
    assert!(answer.body.contains("from 2 to 40"), "{}", answer.body);
    assert_eq!(app.get("/sizing.json?keys=40").status, Status::Ok);
}
