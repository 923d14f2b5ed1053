//! "How big a cache must be": `GET /sizing` as a browser sees it and
//! `GET /sizing.json` as curl does, and `POST /sizing/replay` both ways.

use rocket::http::{Accept, ContentType, Status};
use serde_json::Value;

use crate::helpers::{Answer, TestApp};

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

fn replay(app: &TestApp, body: &str) -> Answer {
    app.post_json("/sizing/replay", body)
}

fn replay_form(app: &TestApp, form: &str) -> Answer {
    Answer::from(
        app.client
            .post("/sizing/replay")
            .header(ContentType::Form)
            .header(Accept::HTML)
            .body(form)
            .dispatch(),
    )
}

#[test]
fn the_entries_chart_draws_the_memory_tier_and_suggests_a_size_for_it() {
    let app = TestApp::new();
    let page = app.get_page(&format!("/sizing?{SMALL}"));
    assert_eq!(page.status, Status::Ok);
    assert_eq!(
        page.body.matches("class=\"curve memory-tier\"").count(),
        1,
        "on the entries chart only"
    );
    assert!(page.body.contains("id=\"suggested-memory-tier\""));
    assert!(page.body.contains("cache pollution"));
    assert!(page.body.contains("TinyLFU"));
    assert!(page.body.contains("id=\"replay-form\""));

    let answer = app.get(&format!("/sizing.json?{SMALL}"));
    let points = answer.json["by_entries"].as_array().expect("curve");
    assert!(points
        .iter()
        .all(|point| point["memory_tier_hit_ratio"].is_f64()));
    assert!(answer.json["by_bytes"]
        .as_array()
        .expect("curve")
        .iter()
        .all(|point| point["memory_tier_hit_ratio"].is_null()));
    // The suggestion reaches the target, and no size tried below it does.
    let suggestion = &answer.json["suggestion"];
    let entries = suggestion["memory_tier_entries"].as_u64().expect("entries");
    let from = suggestion["memory_tier_searched_from"]
        .as_u64()
        .expect("searched");
    let workload = cachelab::sizing::Workload::generate(150, 1.0, 1_500);
    let requests = workload.requested_inputs();
    let hits =
        |capacity: u64| cachelab::sizing::memory_tier_replay(&requests, capacity as usize).hits;
    assert!(hits(entries) * 100 >= 60 * 1_500);
    for smaller in from..entries {
        assert!(hits(smaller) * 100 < 60 * 1_500, "{smaller} reaches it too");
    }
    assert!(
        points
            .iter()
            .filter(|point| point["capacity"].as_u64() < Some(from))
            .all(|point| point["memory_tier_hit_ratio"].as_f64() < Some(0.60)),
        "the search starts above the last size on the curve that falls short"
    );
}

#[test]
fn a_replay_through_a_live_memory_tier_gets_exactly_the_curves_hits() {
    let app = TestApp::new();
    for (skew, keys, requests) in [(1.0, 60, 1_000), (0.6, 40, 500), (1.5, 300, 1_000)] {
        let settings = format!("skew={skew}&keys={keys}&requests={requests}&target=60");
        let curve = app.get(&format!("/sizing.json?{settings}")).json["by_entries"].clone();
        let mut replayed = 0;
        for point in curve.as_array().expect("curve") {
            let capacity = point["capacity"].as_u64().expect("capacity");
            let predicted = point["memory_tier_hits"].as_u64().expect("hits");
            let answer = replay(
                &app,
                &format!(
                    r#"{{"skew": {skew}, "keys": {keys}, "requests": {requests}, "capacity": {capacity}}}"#
                ),
            );
            if answer.status == Status::BadRequest {
                // Too small a tier to replay: it would recompute too much.
                assert!(answer.json["error"]
                    .as_str()
                    .is_some_and(|error| error.contains("again and again")));
                continue;
            }
            assert_eq!(answer.status, Status::Ok, "{}", answer.body);
            let live = &answer.json["live"];
            assert_eq!(
                live["hits"].as_u64(),
                Some(predicted),
                "skew {skew}, {keys} keys, {capacity} entries"
            );
            assert_eq!(answer.json["matches_prediction"], true);
            assert_eq!(live["requests"].as_u64(), Some(requests));
            assert_eq!(
                live["entries_held"].as_u64(),
                answer.json["predicted"]["memory_tier_entries_held"].as_u64()
            );
            assert_eq!(
                live["entries_asked_for"].as_u64(),
                answer.json["predicted"]["memory_tier_entries_asked_for"].as_u64()
            );
            assert_eq!(
                live["entries_held"].as_u64(),
                Some(
                    live["entries_asked_for"].as_u64().unwrap_or_default()
                        + live["entries_nobody_asked_for"]
                            .as_u64()
                            .unwrap_or_default()
                )
            );
            assert_eq!(
                answer.json["predicted"]["one_entry_per_answer_hits"].as_u64(),
                point["lru_hits"].as_u64()
            );
            assert_eq!(answer.header("Cache-Control"), Some("no-store"));
            replayed += 1;
        }
        assert!(
            replayed >= 4,
            "only {replayed} sizes replayed for {settings}"
        );
    }
}

#[test]
fn a_replay_leaves_the_apps_own_memory_tier_alone() {
    let app = TestApp::new();
    app.get("/factorial/12");
    let before = app.stats()["memory"].clone();
    let answer = replay(&app, r#"{"keys": 100, "requests": 500, "capacity": 60}"#);
    assert_eq!(answer.status, Status::Ok, "{}", answer.body);
    assert_eq!(app.stats()["memory"], before);
}

#[test]
fn a_replay_from_the_page_shows_its_result_on_the_page() {
    let app = TestApp::new();
    let page = replay_form(&app, "skew=1&keys=150&requests=1500&target=60&capacity=40");
    assert_eq!(page.status, Status::Ok, "{}", page.body);
    assert!(page.body.contains("id=\"replay-result\""));
    assert!(page.body.contains("The replay at 40 entries"));
    assert!(page.body.contains("Exactly the\n  hits the memory tier"));
    assert!(page.body.contains("<svg"), "with the curves it checks");
}

#[test]
fn bad_replays_are_refused_with_the_field_named_as_json_or_as_a_page() {
    let app = TestApp::new();
    for (body, words) in [
        (r#"{"keys": 100}"#, "capacity is missing"),
        (r#"{"capacity": 0}"#, "capacity \"0\""),
        (r#"{"capacity": 501}"#, "capacity \"501\""),
        (r#"{"capacity": "many"}"#, "capacity \"many\""),
        (r#"{"capacity": 2.5}"#, "capacity \"2.5\""),
        (r#"{"capacity": 50, "skew": "steep"}"#, "skew"),
        (r#"{"capacity": 50, "keys": [1]}"#, "number of keys"),
        (r#"{"capacity": 50, "target": 100}"#, "target hit ratio"),
        (r#"[50]"#, "JSON object"),
        (r#"capacity=50"#, "not JSON"),
        (r#"{"capacity": 2, "keys": 500}"#, "again and again"),
    ] {
        let answer = replay(&app, body);
        assert_eq!(answer.status, Status::BadRequest, "{body}: {}", answer.body);
        let error = answer.json["error"].as_str().expect("an error message");
        assert!(error.contains(words), "{body}: {error}");
        assert!(answer.json["accepted"].is_string(), "{body}");
    }

    for (form, words) in [
        ("keys=100&capacity=", "capacity is missing"),
        ("keys=100&capacity=0", "capacity &quot;0&quot;"),
        ("keys=100&capacity=x", "capacity &quot;x&quot;"),
    ] {
        let page = replay_form(&app, form);
        assert_eq!(page.status, Status::BadRequest, "{form}");
        assert!(page.body.contains("Not replayed: "), "{form}");
        assert!(page.body.contains(words), "{form}: {}", page.body);
        assert!(page.body.contains("aria-describedby=\"replay-error\""));
        assert!(!page.body.contains("id=\"replay-result\""), "{form}");
    }
}

#[test]
fn a_second_replay_while_one_runs_is_told_to_retry_in_a_second() {
    let app = TestApp::new();
    let gate = app
        .client
        .rocket()
        .state::<cachelab::sizing::ReplayGate>()
        .expect("the sizing stage manages its gate");
    let running = gate.try_start().expect("nothing is running yet");

    let answer = replay(&app, r#"{"keys": 50, "requests": 200, "capacity": 20}"#);
    assert_eq!(answer.status, Status::TooManyRequests, "{}", answer.body);
    assert_eq!(answer.header("Retry-After"), Some("1"));
    assert!(answer.json["error"]
        .as_str()
        .is_some_and(|error| error.contains("another replay is running")));
    let page = replay_form(&app, "keys=50&requests=200&capacity=20");
    assert_eq!(page.status, Status::TooManyRequests);
    assert_eq!(page.header("Retry-After"), Some("1"));
    assert!(page.body.contains("another replay is running"));

    drop(running);
    let answer = replay(&app, r#"{"keys": 50, "requests": 200, "capacity": 20}"#);
    assert_eq!(answer.status, Status::Ok, "{}", answer.body);
}
