//! Workshop exercises: each check performs the learner's steps over HTTP and
//! asserts the tick, and a wrong sequence that must not tick.

#[allow(dead_code)]
#[path = "../api/helpers.rs"]
mod helpers;

use std::time::Duration;

use rocket::http::{Accept, ContentType, Header, Status};
use rocket::local::asynchronous::Client;
use serde_json::Value;

use helpers::{content_files, setting, test_settings, Answer, TestApp};

fn as_learner(name: &str) -> Header<'static> {
    Header::new("X-Learner", name.to_owned())
}

fn get_as(app: &TestApp, learner: &str, uri: &str) -> Answer {
    Answer::from(
        app.client
            .get(uri.to_owned())
            .header(as_learner(learner))
            .dispatch(),
    )
}

fn post_as(app: &TestApp, learner: &str, uri: &str) -> Answer {
    Answer::from(
        app.client
            .post(uri.to_owned())
            .header(as_learner(learner))
            .dispatch(),
    )
}

fn data_as(app: &TestApp, learner: &str, body: &str) -> Answer {
    Answer::from(
        app.client
            .post("/data")
            .header(as_learner(learner))
            .header(ContentType::JSON)
            .body(body)
            .dispatch(),
    )
}

/// The learner's ticks, by exercise slug, from the instructor's JSON.
fn ticks(app: &TestApp, learner: &str) -> serde_json::Map<String, Value> {
    let progress = app.get("/exercises/progress.json").json;
    progress["learners"]
        .as_array()
        .and_then(|learners| learners.iter().find(|entry| entry["name"] == learner))
        .and_then(|entry| entry["ticks"].as_object().cloned())
        .unwrap_or_default()
}

fn evidence(app: &TestApp, learner: &str, exercise: &str) -> Option<String> {
    ticks(app, learner)
        .get(exercise)
        .and_then(|tick| tick["evidence"].as_str())
        .map(str::to_owned)
}

#[test]
fn first_hit_ticks_after_a_miss_then_a_hit() {
    let app = TestApp::new();
    assert_eq!(get_as(&app, "ada", "/factorial/20").x_cache(), "MISS");
    assert_eq!(get_as(&app, "ada", "/factorial/20").x_cache(), "HIT");
    let said = evidence(&app, "ada", "first-hit").expect("ticked");
    assert!(
        said.contains("20! was a MISS") && said.contains("then a HIT"),
        "{said}"
    );
}

#[test]
fn first_hit_does_not_tick_for_a_hit_someone_else_paid_for() {
    let app = TestApp::new();
    app.get("/factorial/20");
    assert_eq!(get_as(&app, "ada", "/factorial/20").x_cache(), "HIT");
    get_as(&app, "ada", "/factorial/21");
    assert_eq!(evidence(&app, "ada", "first-hit"), None);
}

#[test]
fn memoized_steps_ticks_when_a_larger_n_reuses_a_smaller_one() {
    let app = TestApp::new();
    get_as(&app, "ada", "/factorial/10");
    get_as(&app, "ada", "/factorial/15");
    let said = evidence(&app, "ada", "memoized-steps").expect("ticked");
    assert!(
        said.contains("started from 10!") && said.contains("only 5 steps"),
        "{said}"
    );
}

#[test]
fn memoized_steps_does_not_tick_for_a_cold_computation() {
    let app = TestApp::new();
    get_as(&app, "ada", "/factorial/15");
    get_as(&app, "ada", "/factorial/15");
    assert_eq!(evidence(&app, "ada", "memoized-steps"), None);
}

#[test]
fn lru_eviction_ticks_when_a_full_cache_drops_an_entry() {
    let app = TestApp::with(|settings| settings.merge(setting("memory_capacity", 3)));
    get_as(&app, "ada", "/factorial/5");
    get_as(&app, "ada", "/factorial/10");
    assert_eq!(get_as(&app, "ada", "/factorial/5").x_cache(), "MISS");
    let said = evidence(&app, "ada", "lru-eviction").expect("ticked");
    assert!(said.contains("5! was in memory"), "{said}");
}

/// The page's steps, done after the first two exercises as a learner would.
#[test]
fn lru_eviction_ticks_following_the_steps_after_earlier_exercises() {
    let app = TestApp::new(); // the default capacity of 100
    for n in [20, 20, 30, 35] {
        get_as(&app, "ada", &format!("/factorial/{n}"));
    }
    Answer::from(
        app.client
            .delete("/cache/memory")
            .header(as_learner("ada"))
            .dispatch(),
    );
    get_as(&app, "ada", "/factorial/5");
    get_as(&app, "ada", "/factorial/110");
    assert_eq!(get_as(&app, "ada", "/factorial/5").x_cache(), "MISS");
    assert!(evidence(&app, "ada", "lru-eviction").is_some());
}

#[test]
fn lru_eviction_does_not_tick_when_a_clear_explains_the_miss() {
    let app = TestApp::with(|settings| settings.merge(setting("memory_capacity", 3)));
    get_as(&app, "ada", "/factorial/5");
    app.post("/clear-cache"); // by somebody else, with no name
    assert_eq!(get_as(&app, "ada", "/factorial/5").x_cache(), "MISS");
    assert_eq!(evidence(&app, "ada", "lru-eviction"), None);
}

#[test]
fn disk_persistence_ticks_across_a_real_restart() {
    let app = TestApp::new();
    get_as(&app, "ada", "/factorial/12");
    data_as(&app, "ada", r#"{"persist": true}"#);

    let app = app.restart();
    assert_eq!(get_as(&app, "ada", "/factorial/12").x_cache(), "MISS");
    assert_eq!(
        data_as(&app, "ada", r#"{"persist": true}"#).x_cache(),
        "HIT"
    );
    let said = evidence(&app, "ada", "disk-persistence").expect("ticked");
    assert!(
        said.contains("after the restart") && said.contains("12!"),
        "{said}"
    );
}

#[test]
fn disk_persistence_does_not_tick_without_a_restart() {
    let app = TestApp::new();
    get_as(&app, "ada", "/factorial/12");
    data_as(&app, "ada", r#"{"persist": true}"#);
    app.delete("/cache/memory");
    get_as(&app, "ada", "/factorial/12");
    assert_eq!(
        data_as(&app, "ada", r#"{"persist": true}"#).x_cache(),
        "HIT"
    );
    assert_eq!(evidence(&app, "ada", "disk-persistence"), None);
}

#[test]
fn canonical_keys_ticks_for_two_spellings_and_a_changed_value() {
    let app = TestApp::new();
    data_as(&app, "ada", r#"{"city": "Oslo", "days": 3}"#);
    assert_eq!(
        data_as(&app, "ada", r#"{ "days": 3,   "city": "Oslo" }"#).x_cache(),
        "HIT"
    );
    assert_eq!(
        data_as(&app, "ada", r#"{"city": "Oslo", "days": 4}"#).x_cache(),
        "MISS"
    );
    let said = evidence(&app, "ada", "canonical-keys").expect("ticked");
    assert!(said.contains("two spellings"), "{said}");
}

#[test]
fn canonical_keys_does_not_tick_for_the_same_spelling_twice() {
    let app = TestApp::new();
    data_as(&app, "ada", r#"{"city": "Oslo", "days": 3}"#);
    data_as(&app, "ada", r#"{"city": "Oslo", "days": 3}"#);
    data_as(&app, "ada", r#"{"city": "Oslo", "days": 4}"#);
    assert_eq!(evidence(&app, "ada", "canonical-keys"), None);
}

#[test]
fn ttl_ticks_when_an_entry_expires() {
    let app = TestApp::with(|settings| settings.merge(setting("disk_ttl_secs", 1)));
    data_as(&app, "ada", r#"{"fresh": "maybe"}"#);
    assert_eq!(evidence(&app, "ada", "ttl"), None, "not before it expires");
    app.time.advance(Duration::from_millis(1001));
    assert_eq!(
        data_as(&app, "ada", r#"{"fresh": "maybe"}"#).x_cache(),
        "MISS"
    );
    let said = evidence(&app, "ada", "ttl").expect("ticked");
    assert!(said.contains("expired"), "{said}");
}

#[test]
fn clearing_ticks_after_a_refused_get_a_post_and_a_miss() {
    let app = TestApp::new();
    get_as(&app, "ada", "/factorial/8");
    assert_eq!(
        get_as(&app, "ada", "/clear-cache").status,
        Status::MethodNotAllowed
    );
    post_as(&app, "ada", "/clear-cache");
    assert_eq!(get_as(&app, "ada", "/factorial/8").x_cache(), "MISS");
    let said = evidence(&app, "ada", "clearing").expect("ticked");
    assert!(
        said.contains("GET /clear-cache") && said.contains("8! was a MISS"),
        "{said}"
    );
}

#[test]
fn clearing_does_not_tick_without_trying_the_get() {
    let app = TestApp::new();
    get_as(&app, "ada", "/factorial/8");
    post_as(&app, "ada", "/clear-cache");
    get_as(&app, "ada", "/factorial/8");
    assert_eq!(evidence(&app, "ada", "clearing"), None);
}

/// The `total;dur=` of a response's Server-Timing header, in milliseconds.
fn server_total_ms(answer: &Answer) -> f64 {
    let timing = answer.header("Server-Timing").expect("Server-Timing");
    let total = timing.rsplit("total;dur=").next().expect("a total");
    total.parse().expect("a number of milliseconds")
}

fn report_timings(app: &TestApp, learner: &str, miss_ms: f64, hit_ms: f64) -> Answer {
    Answer::from(
        app.client
            .post("/exercises/timings")
            .header(as_learner(learner))
            .header(ContentType::Form)
            .body(format!("miss_ms={miss_ms}&hit_ms={hit_ms}"))
            .dispatch(),
    )
}

#[test]
fn reading_timings_ticks_when_the_reported_totals_match() {
    let app = TestApp::with(|settings| settings.merge(setting("factorial_delay_ms", 5)));
    let miss = get_as(&app, "ada", "/factorial/20");
    let hit = get_as(&app, "ada", "/factorial/20");
    let verdict = report_timings(&app, "ada", server_total_ms(&miss), server_total_ms(&hit));
    assert_eq!(verdict.status, Status::Ok);
    assert_eq!(verdict.json["ticked"], true, "{}", verdict.body);
    assert!(evidence(&app, "ada", "reading-timings").is_some());
}

#[test]
fn reading_timings_names_the_request_the_learner_read() {
    let app = TestApp::with(|settings| {
        settings
            .merge(setting("factorial_delay_ms", 5))
            .merge(setting("data_delay_ms", 115))
    });
    // A 115 ms miss the learner does not report, within 25% of the one they do.
    data_as(&app, "ada", "{}");
    let miss = get_as(&app, "ada", "/factorial/20"); // about 100 ms
    let hit = get_as(&app, "ada", "/factorial/20");
    let (miss_ms, hit_ms) = (server_total_ms(&miss), server_total_ms(&hit));
    let verdict = report_timings(&app, "ada", miss_ms, hit_ms);
    let said = verdict.json["evidence"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let measured = cachelab::view::server_ms(Duration::from_secs_f64(miss_ms / 1000.0));
    assert!(
        said.contains(&format!("measured {measured}")),
        "{said} should name {measured}"
    );
}

#[test]
fn reading_timings_compares_with_the_very_totals_the_learner_was_sent() {
    let app = TestApp::with(|settings| settings.merge(setting("factorial_delay_ms", 5)));
    let miss = get_as(&app, "ada", "/factorial/20");
    let hit = get_as(&app, "ada", "/factorial/20");
    let (miss_ms, hit_ms) = (server_total_ms(&miss), server_total_ms(&hit));
    let verdict = report_timings(&app, "ada", miss_ms, hit_ms);
    let said = verdict.json["evidence"].as_str().unwrap_or_default();
    let as_shown = |ms: f64| cachelab::view::server_ms(Duration::from_secs_f64(ms / 1000.0));
    assert!(
        said.contains(&format!(
            "measured {} and {}",
            as_shown(miss_ms),
            as_shown(hit_ms)
        )),
        "{said}"
    );
}

#[test]
fn reading_timings_does_not_tick_for_made_up_numbers() {
    let app = TestApp::with(|settings| settings.merge(setting("factorial_delay_ms", 5)));
    get_as(&app, "ada", "/factorial/20");
    get_as(&app, "ada", "/factorial/20");
    let verdict = report_timings(&app, "ada", 5000.0, 3.0);
    assert_eq!(verdict.json["ticked"], false);
    let anonymous = Answer::from(
        app.client
            .post("/exercises/timings")
            .header(ContentType::Form)
            .body("miss_ms=1&hit_ms=0.1")
            .dispatch(),
    );
    assert_eq!(
        anonymous.status,
        Status::BadRequest,
        "a report needs a name"
    );
}

async fn stampede_app(dir: &std::path::Path) -> Client {
    let settings = test_settings(&dir.join("cache")).merge(setting("factorial_delay_ms", 2));
    helpers::async_client_for(settings).await
}

async fn learner_ticks(client: &Client, learner: &str) -> Value {
    let progress: Value = client
        .get("/exercises/progress.json")
        .dispatch()
        .await
        .into_json()
        .await
        .expect("progress JSON");
    progress["learners"]
        .as_array()
        .and_then(|learners| {
            learners
                .iter()
                .find(|entry| entry["name"] == learner)
                .cloned()
        })
        .map(|entry| entry["ticks"].clone())
        .unwrap_or(Value::Null)
}

#[rocket::async_test]
async fn stampede_ticks_when_concurrent_requests_share_one_computation() {
    let dir = tempfile::tempdir().expect("temp dir");
    let client = stampede_app(dir.path()).await;
    let requests = (0..8).map(|_| {
        client
            .get("/factorial/300")
            .header(as_learner("ada"))
            .dispatch()
    });
    rocket::futures::future::join_all(requests).await;
    let ticks = learner_ticks(&client, "ada").await;
    let said = ticks["stampede"]["evidence"].as_str().expect("ticked");
    // Ticked as soon as enough requests had joined: at least one did the work
    // and three waited.
    assert!(
        said.contains("requests for 300!") && said.contains("waited for its answer"),
        "{said}"
    );
}

#[rocket::async_test]
async fn stampede_does_not_tick_for_requests_one_after_another() {
    let dir = tempfile::tempdir().expect("temp dir");
    let client = stampede_app(dir.path()).await;
    // Eight misses one after another (each after a clear): none waits for
    // another, so none is coalesced.
    for _ in 0..8 {
        client.delete("/cache/memory").dispatch().await;
        client
            .get("/factorial/300")
            .header(as_learner("ada"))
            .dispatch()
            .await;
    }
    assert!(learner_ticks(&client, "ada").await["stampede"].is_null());
}

#[test]
fn integrity_ticks_when_a_damaged_entry_is_refused_and_rewritten() {
    let app = TestApp::new();
    data_as(&app, "ada", r#"{"integrity": "check me"}"#);
    for file in content_files(&app.cache_dir()) {
        std::fs::write(file, br#"{"integrity":"tampered"}"#).expect("damage");
    }
    let refused = data_as(&app, "ada", r#"{"integrity": "check me"}"#);
    assert_eq!(
        (refused.x_cache(), refused.body.as_str()),
        ("MISS", r#"{"integrity":"check me"}"#)
    );
    assert_eq!(
        data_as(&app, "ada", r#"{"integrity": "check me"}"#).x_cache(),
        "HIT"
    );
    let said = evidence(&app, "ada", "integrity").expect("ticked");
    assert!(said.contains("failed its integrity check"), "{said}");
}

#[test]
fn integrity_does_not_tick_without_damage() {
    let app = TestApp::new();
    data_as(&app, "ada", r#"{"integrity": "check me"}"#);
    data_as(&app, "ada", r#"{"integrity": "check me"}"#);
    assert_eq!(evidence(&app, "ada", "integrity"), None);
}

#[test]
fn a_browser_is_named_by_a_cookie_and_can_rename_itself() {
    let app = TestApp::new();
    let first = app.client.get("/").header(Accept::HTML).dispatch();
    let cookie = first
        .cookies()
        .get("cachelab_learner")
        .expect("a learner cookie")
        .clone();
    drop(first);
    let generated = cookie.value().to_owned();
    assert!(
        generated.split('-').count() == 3,
        "a friendly name: {generated}"
    );

    app.client
        .get("/memory?n=4")
        .header(Accept::HTML)
        .dispatch();
    app.client
        .get("/memory?n=4")
        .header(Accept::HTML)
        .dispatch();
    assert!(
        evidence(&app, &generated, "first-hit").is_some(),
        "page requests count"
    );

    let page = app
        .client
        .get("/exercises")
        .header(Accept::HTML)
        .dispatch()
        .into_string();
    let page = page.unwrap_or_default();
    assert!(page.contains(&format!("You are <code>{generated}</code>")));
    assert!(
        page.contains(&format!("X-Learner: {generated}")),
        "curl steps carry the name"
    );

    let renamed = app
        .client
        .post("/exercises/name")
        .header(ContentType::Form)
        .body("name=Grace-Hopper")
        .dispatch();
    assert_eq!(renamed.status(), Status::SeeOther);
    drop(renamed);
    assert!(
        evidence(&app, "grace-hopper", "first-hit").is_some(),
        "progress moved"
    );
    assert!(ticks(&app, &generated).is_empty());
    let page = app
        .client
        .get("/exercises")
        .header(Accept::HTML)
        .dispatch()
        .into_string();
    assert!(page
        .unwrap_or_default()
        .contains("You are now grace-hopper."));

    get_as(&app, "taken", "/factorial/1");
    app.client
        .post("/exercises/name")
        .header(ContentType::Form)
        .body("name=taken")
        .dispatch();
    let page = app
        .client
        .get("/exercises")
        .header(Accept::HTML)
        .dispatch()
        .into_string();
    assert!(page.unwrap_or_default().contains("already taken"));
}

#[test]
fn a_curl_learner_can_use_a_query_parameter_and_bad_names_are_refused() {
    let app = TestApp::new();
    app.get("/factorial/6?learner=linus");
    app.get("/factorial/6?learner=linus");
    assert!(evidence(&app, "linus", "first-hit").is_some());

    let refused = get_as(&app, "bad name!", "/factorial/6");
    assert_eq!(refused.status, Status::BadRequest);
    assert!(refused.json["error"]
        .as_str()
        .unwrap_or_default()
        .contains("learner name"));
}

#[test]
fn progress_survives_a_restart_and_clearing_the_disk_cache() {
    let app = TestApp::new();
    get_as(&app, "ada", "/factorial/3");
    get_as(&app, "ada", "/factorial/3");
    app.delete("/cache/disk");
    let app = app.restart();
    assert!(evidence(&app, "ada", "first-hit").is_some());
}

#[test]
fn the_instructor_sees_every_learner() {
    let app = TestApp::new();
    get_as(&app, "ada", "/factorial/3");
    get_as(&app, "ada", "/factorial/3");
    get_as(&app, "linus", "/factorial/4");

    let json = app.get("/exercises/progress.json").json;
    assert_eq!(json["exercises"].as_array().map(Vec::len), Some(10));
    let names: Vec<&str> = json["learners"]
        .as_array()
        .expect("learners")
        .iter()
        .filter_map(|entry| entry["name"].as_str())
        .collect();
    assert_eq!(names, vec!["linus", "ada"], "most recently active first");
    assert_eq!(json["learners"][1]["done"], 1, "{}", json["learners"][1]);
    // 4! started from the 3! ada computed: reusing a cached step counts,
    // whoever computed it.
    assert!(json["learners"][0]["ticks"]["memoized-steps"].is_object());

    let page = Answer::from(
        app.client
            .get("/exercises/progress")
            .header(Accept::HTML)
            .dispatch(),
    );
    assert_eq!(page.status, Status::Ok);
    assert!(page.body.contains("<code>ada</code>") && page.body.contains("<code>linus</code>"));
    assert_eq!(page.body.matches("class=\"tick\"").count(), 2);
}

#[test]
fn the_exercise_page_has_every_exercise_with_both_ways_to_do_it() {
    let app = TestApp::new();
    let page = Answer::from(app.client.get("/exercises").header(Accept::HTML).dispatch()).body;
    for slug in [
        "first-hit",
        "memoized-steps",
        "lru-eviction",
        "disk-persistence",
        "canonical-keys",
        "ttl",
        "clearing",
        "reading-timings",
        "stampede",
        "integrity",
    ] {
        assert!(page.contains(&format!("<section id=\"{slug}\"")), "{slug}");
    }
    assert!(page.matches("<h3>With curl</h3>").count() >= 9);
    assert!(page.matches("<h3>Why</h3>").count() == 10);
    assert_eq!(page.matches("Not done yet.").count(), 10);
}

#[test]
fn one_off_visits_do_not_become_learners() {
    let dir = tempfile::tempdir().expect("temp dir");
    let rocket = cachelab::rocket_from(test_settings(&dir.path().join("cache"))).expect("valid");
    // An untracked client sends no cookies back: a link preview, a crawler.
    let visitor = rocket::local::blocking::Client::untracked(rocket).expect("valid rocket");
    for uri in [
        "/",
        "/clear-cache",
        "/memory?n=3",
        "/memory?n=3",
        "/exercises",
    ] {
        let response = visitor.get(uri).header(Accept::HTML).dispatch();
        assert!(
            response.cookies().get("cachelab_learner").is_some(),
            "{uri} offers a name"
        );
    }
    let progress: Value = visitor
        .get("/exercises/progress.json")
        .dispatch()
        .into_json()
        .expect("progress JSON");
    assert_eq!(
        progress["learners"],
        serde_json::json!([]),
        "nobody took part"
    );
}
