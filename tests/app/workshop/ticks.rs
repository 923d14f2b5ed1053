//! Every exercise: the steps its page gives tick it, and the near misses do
//! not (another learner's work, the wrong order, the wrong method, a guess).

use super::*;

use ExercisePath::{Browser, Curl};

fn factorial(app: &TestApp, learner: &str, n: u64) -> Answer {
    get_as(app, learner, &format!("/factorial/{n}"))
}

/// Whether the answer says it was built on top of k! (in `X-Cache-Detail`).
fn reused_from(answer: &Answer, k: u64) -> bool {
    answer
        .header("X-Cache-Detail")
        .is_some_and(|detail| detail.ends_with(&format!(" on top of {k}!")))
}

fn ticked(app: &TestApp, learner: &str, exercise: &str) -> String {
    evidence(app, learner, exercise).unwrap_or_else(|| {
        panic!(
            "{exercise} not ticked for {learner}: {:?}",
            ticks(app, learner)
        )
    })
}

// 1. A miss, then a hit.

#[test]
fn first_hit_ticks_for_a_miss_then_a_hit_of_the_learners_number_either_way() {
    let (app, plan) = workshop_app("ada");
    for path in [Browser, Curl] {
        let n = plan.first_hit(path);
        assert_eq!(factorial(&app, "ada", n).x_cache(), "MISS", "{path:?}");
        assert_eq!(factorial(&app, "ada", n).x_cache(), "HIT", "{path:?}");
    }
    let said = ticked(&app, "ada", "first-hit");
    let n = plan.first_hit(Browser);
    assert!(
        said.contains(&format!("{n}! MISS")) && said.contains(&format!("{n}! HIT")),
        "the evidence names both requests: {said}"
    );
}

#[test]
fn first_hit_does_not_tick_for_another_learners_miss_or_another_number() {
    let (app, plan) = workshop_app("ada");
    let n = plan.first_hit(Browser);
    factorial(&app, "grace", n); // grace pays for ada's miss
    assert_eq!(factorial(&app, "ada", n).x_cache(), "HIT");
    assert_eq!(factorial(&app, "ada", n).x_cache(), "HIT");
    // A miss and a hit of some other number, not the exercise's.
    factorial(&app, "ada", 20);
    factorial(&app, "ada", 20);
    assert_eq!(evidence(&app, "ada", "first-hit"), None);
    assert_eq!(
        evidence(&app, "grace", "first-hit"),
        None,
        "grace never hit"
    );
}

// 2. Reusing steps already computed.

#[test]
fn memoized_steps_ticks_when_the_larger_number_starts_from_the_learners_own_smaller_one() {
    let (app, plan) = workshop_app("ada");
    let (k, n) = plan.memoized(Curl);
    factorial(&app, "ada", k);
    let larger = factorial(&app, "ada", n);
    assert_eq!(
        larger.header("X-Cache-Detail"),
        Some(format!("computed 5 steps on top of {k}!").as_str())
    );
    let said = ticked(&app, "ada", "memoized-steps");
    assert!(
        said.contains(&format!("{n}! MISS, 5 steps computed from {k}!")),
        "{said}"
    );
}

#[test]
fn memoized_steps_does_not_tick_for_steps_someone_else_computed_or_the_wrong_order() {
    let (app, plan) = workshop_app("ada");
    let (k, n) = plan.memoized(Browser);
    factorial(&app, "grace", k);
    assert!(reused_from(&factorial(&app, "ada", n), k));
    assert_eq!(
        evidence(&app, "ada", "memoized-steps"),
        None,
        "grace's steps"
    );

    let (k, n) = plan.memoized(Curl);
    factorial(&app, "ada", n);
    factorial(&app, "ada", k);
    assert_eq!(
        evidence(&app, "ada", "memoized-steps"),
        None,
        "larger first"
    );
}

// 3. Eviction when memory is full.

fn lru_steps(app: &TestApp, learner: &str, plan: &Plan, path: ExercisePath) -> Vec<String> {
    let run = plan.lru(path);
    [
        run.top,
        run.oldest(),
        run.newcomer(),
        run.oldest(),
        run.victim(),
    ]
    .into_iter()
    .map(|n| factorial(app, learner, n).x_cache().to_owned())
    .collect()
}

#[test]
fn lru_eviction_ticks_for_the_five_steps_that_tell_lru_from_fifo() {
    for capacity in [100, 10] {
        let (app, plan) = workshop_app_with("ada", capacity, |settings| settings);
        assert_eq!(
            lru_steps(&app, "ada", &plan, Curl),
            ["MISS", "HIT", "MISS", "HIT", "MISS"],
            "capacity {capacity}"
        );
        let victim = plan.lru(Curl).victim();
        let said = ticked(&app, "ada", "lru-eviction");
        assert!(said.contains(&format!("{victim}! MISS")), "{said}");
    }
}

#[test]
fn lru_eviction_does_not_tick_when_the_oldest_was_not_used_first() {
    let (app, plan) = workshop_app("ada");
    let run = plan.lru(Browser);
    // Skip "use the oldest": then it is the one evicted, as FIFO would do.
    factorial(&app, "ada", run.top);
    factorial(&app, "ada", run.newcomer());
    assert_eq!(factorial(&app, "ada", run.oldest()).x_cache(), "MISS");
    factorial(&app, "ada", run.victim());
    assert_eq!(evidence(&app, "ada", "lru-eviction"), None);
}

#[test]
fn lru_eviction_does_not_tick_when_a_clear_explains_the_last_miss() {
    let (app, plan) = workshop_app("ada");
    let run = plan.lru(Browser);
    for n in [run.top, run.oldest(), run.newcomer(), run.oldest()] {
        factorial(&app, "ada", n);
    }
    app.delete("/cache/memory"); // somebody else, with no name
    assert_eq!(factorial(&app, "ada", run.victim()).x_cache(), "MISS");
    assert_eq!(evidence(&app, "ada", "lru-eviction"), None);
}

// 4. The disk cache survives a restart.

#[test]
fn disk_persistence_ticks_across_a_real_restart() {
    let (app, plan) = workshop_app("ada");
    let (n, body) = plan.persistence(Curl);
    factorial(&app, "ada", n);
    assert_eq!(data_as(&app, "ada", &body).x_cache(), "MISS");

    let app = restart_workshop(app);
    assert_eq!(factorial(&app, "ada", n).x_cache(), "MISS");
    assert_eq!(data_as(&app, "ada", &body).x_cache(), "HIT");
    let said = ticked(&app, "ada", "disk-persistence");
    assert!(
        said.contains("POST /data") && said.contains(&format!("{n}! MISS")),
        "{said}"
    );
}

#[test]
fn disk_persistence_does_not_tick_without_a_restart_or_for_a_body_someone_else_stored() {
    let (app, plan) = workshop_app("ada");
    let (n, body) = plan.persistence(Browser);
    factorial(&app, "ada", n);
    data_as(&app, "ada", &body);
    app.delete("/cache/memory");
    factorial(&app, "ada", n);
    assert_eq!(data_as(&app, "ada", &body).x_cache(), "HIT");
    assert_eq!(
        evidence(&app, "ada", "disk-persistence"),
        None,
        "no restart"
    );

    let (n, body) = plan.persistence(Curl);
    factorial(&app, "ada", n);
    data_as(&app, "grace", &body);
    assert_eq!(data_as(&app, "ada", &body).x_cache(), "HIT");
    let app = restart_workshop(app);
    factorial(&app, "ada", n);
    data_as(&app, "ada", &body);
    assert_eq!(
        evidence(&app, "ada", "disk-persistence"),
        None,
        "grace stored it"
    );
}

// 5. One key for one meaning.

#[test]
fn canonical_keys_ticks_for_two_spellings_then_a_changed_value() {
    let (app, plan) = workshop_app("ada");
    let [first, respelled, changed] = plan.canonical(Browser);
    assert_eq!(data_as(&app, "ada", &first).x_cache(), "MISS");
    assert_eq!(data_as(&app, "ada", &respelled).x_cache(), "HIT");
    assert_eq!(data_as(&app, "ada", &changed).x_cache(), "MISS");
    ticked(&app, "ada", "canonical-keys");
}

#[test]
fn canonical_keys_does_not_tick_for_one_spelling_twice_or_the_change_first() {
    let (app, plan) = workshop_app("ada");
    let [first, _, changed] = plan.canonical(Browser);
    data_as(&app, "ada", &first);
    data_as(&app, "ada", &first);
    data_as(&app, "ada", &changed);
    assert_eq!(
        evidence(&app, "ada", "canonical-keys"),
        None,
        "same spelling"
    );

    let [first, respelled, changed] = plan.canonical(Curl);
    data_as(&app, "ada", &changed);
    data_as(&app, "ada", &first);
    data_as(&app, "ada", &respelled);
    assert_eq!(
        evidence(&app, "ada", "canonical-keys"),
        None,
        "change first"
    );
}

// 6. Entries expire.

#[test]
fn ttl_ticks_when_the_learners_body_expires() {
    let (app, plan) = workshop_app_with("ada", 100, |settings| {
        settings.merge(setting("disk_ttl_secs", 1))
    });
    let body = plan.ttl(Curl);
    data_as(&app, "ada", &body);
    assert_eq!(evidence(&app, "ada", "ttl"), None, "not before it expires");
    app.time.advance(Duration::from_millis(1001));
    assert_eq!(data_as(&app, "ada", &body).x_cache(), "MISS");
    assert!(ticked(&app, "ada", "ttl").contains("expired"));
}

#[test]
fn ttl_does_not_tick_for_another_body_or_one_someone_else_stored() {
    let (app, plan) = workshop_app_with("ada", 100, |settings| {
        settings.merge(setting("disk_ttl_secs", 1))
    });
    data_as(&app, "ada", r#"{"something": "else"}"#);
    data_as(&app, "grace", &plan.ttl(Browser));
    data_as(&app, "ada", &plan.ttl(Browser));
    app.time.advance(Duration::from_millis(1001));
    data_as(&app, "ada", r#"{"something": "else"}"#);
    data_as(&app, "ada", &plan.ttl(Browser));
    assert_eq!(evidence(&app, "ada", "ttl"), None);
}

// 7. Clearing, and why it is a POST.

#[test]
fn clearing_ticks_for_a_refused_get_then_a_post_then_a_miss() {
    let (app, plan) = workshop_app("ada");
    let n = plan.clearing(Curl);
    factorial(&app, "ada", n);
    assert_eq!(
        get_as(&app, "ada", "/clear-cache").status,
        Status::MethodNotAllowed
    );
    post_as(&app, "ada", "/clear-cache?tier=memory");
    assert_eq!(factorial(&app, "ada", n).x_cache(), "MISS");
    let said = ticked(&app, "ada", "clearing");
    assert!(
        said.contains("GET /clear-cache, refused")
            && said.contains("POST /clear-cache?tier=memory emptied"),
        "{said}"
    );
}

#[test]
fn clearing_does_not_tick_for_a_post_that_empties_the_disk_too() {
    let (app, plan) = workshop_app("ada");
    let n = plan.clearing(Curl);
    factorial(&app, "ada", n);
    get_as(&app, "ada", "/clear-cache");
    post_as(&app, "ada", "/clear-cache"); // both tiers: everyone's disk entries go
    assert_eq!(factorial(&app, "ada", n).x_cache(), "MISS");
    assert_eq!(evidence(&app, "ada", "clearing"), None);
}

#[test]
fn clearing_does_not_tick_for_a_delete_or_a_post_before_the_get() {
    let (app, plan) = workshop_app("ada");
    let n = plan.clearing(Browser);
    factorial(&app, "ada", n);
    get_as(&app, "ada", "/clear-cache");
    delete_as(&app, "ada", "/cache/memory");
    assert_eq!(factorial(&app, "ada", n).x_cache(), "MISS");
    assert_eq!(evidence(&app, "ada", "clearing"), None, "a DELETE");

    let n = plan.clearing(Curl);
    factorial(&app, "ada", n);
    post_as(&app, "ada", "/clear-cache?tier=memory");
    get_as(&app, "ada", "/clear-cache");
    factorial(&app, "ada", n);
    assert_eq!(
        evidence(&app, "ada", "clearing"),
        None,
        "the POST came first"
    );
}

// 8. Reading the timings yourself.

/// The `total;dur=` of a response's Server-Timing header, as written.
fn server_total(answer: &Answer) -> String {
    let timing = answer.header("Server-Timing").expect("Server-Timing");
    timing
        .rsplit("total;dur=")
        .next()
        .expect("a total")
        .to_owned()
}

fn report(app: &TestApp, learner: &str, miss: &str, hit: &str) -> Answer {
    Answer::from(
        app.client
            .post("/exercises/timings")
            .header(as_learner(app, learner))
            .header(ContentType::Form)
            .body(format!(
                "miss_ms={}&hit_ms={}",
                urlencode(miss),
                urlencode(hit)
            ))
            .dispatch(),
    )
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z' | b'.' => (byte as char).to_string(),
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

fn timings_app() -> (TestApp, Plan) {
    workshop_app_with("ada", 100, |settings| {
        settings.merge(setting("factorial_delay_ms", 1))
    })
}

#[test]
fn reading_timings_ticks_for_the_totals_the_server_sent() {
    let (app, plan) = timings_app();
    let n = plan.timings(Curl);
    let miss = factorial(&app, "ada", n);
    let hit = factorial(&app, "ada", n);
    let verdict = report(&app, "ada", &server_total(&miss), &server_total(&hit));
    assert_eq!(verdict.status, Status::Ok);
    assert_eq!(
        (&verdict.json["matched"], &verdict.json["ticked"]),
        (&Value::Bool(true), &Value::Bool(true)),
        "{}",
        verdict.body
    );
    let said = ticked(&app, "ada", "reading-timings");
    assert!(
        said.contains(&format!("{n}! HIT")) && said.contains("faster"),
        "{said}"
    );
}

#[test]
fn reading_timings_understands_units_and_a_decimal_comma() {
    let (app, plan) = timings_app();
    let n = plan.timings(Browser);
    let miss = factorial(&app, "ada", n);
    let hit = factorial(&app, "ada", n);
    let miss_ms: f64 = server_total(&miss).parse().expect("ms");
    let hit_us = (server_total(&hit).parse::<f64>().expect("ms") * 1000.0).round();
    let verdict = report(
        &app,
        "ada",
        // Two decimals after the comma: with three, "345,123" could be a
        // thousands separator, and is refused as ambiguous.
        &format!("{:.2} ms", miss_ms).replace('.', ","),
        &format!("{hit_us} µs"),
    );
    assert_eq!(verdict.json["matched"], true, "{miss_ms}: {}", verdict.body);
}

#[test]
fn reading_timings_does_not_tick_for_a_guess_and_says_so_after_a_tick() {
    let (app, plan) = timings_app();
    let n = plan.timings(Curl);
    let miss = factorial(&app, "ada", n);
    let hit = factorial(&app, "ada", n);
    let miss_ms: f64 = server_total(&miss).parse().expect("ms");
    let hit_ms: f64 = server_total(&hit).parse().expect("ms");
    // Plausible, close, but not what was measured.
    let guess = report(
        &app,
        "ada",
        &format!("{:.3}", miss_ms + 2.5),
        &format!("{:.3}", hit_ms + 0.004),
    );
    assert_eq!(guess.json["matched"], false, "{}", guess.body);
    assert_eq!(evidence(&app, "ada", "reading-timings"), None);

    report(&app, "ada", &server_total(&miss), &server_total(&hit));
    let wrong_again = report(&app, "ada", "5000", "3.0");
    assert_eq!(
        (&wrong_again.json["matched"], &wrong_again.json["ticked"]),
        (&Value::Bool(false), &Value::Bool(true)),
        "a wrong report is wrong, even once the exercise is done"
    );
    // Another learner's numbers are not yours.
    assert_eq!(
        report(&app, "grace", &server_total(&miss), &server_total(&hit)).json["matched"],
        false
    );
}

#[test]
fn reading_timings_refuses_what_it_cannot_read_with_a_reason_and_keeps_the_form() {
    let (app, _) = timings_app();
    let refused = report(&app, "ada", "2,500", "fast");
    assert_eq!(refused.status, Status::UnprocessableEntity);
    let error = refused.json["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("miss_ms") && error.contains("2500 or 2.5") && error.contains("hit_ms"),
        "{error}"
    );

    let page = Answer::from(
        app.client
            .post("/exercises/timings")
            .header(as_learner(&app, "ada"))
            .header(Accept::HTML)
            .header(ContentType::Form)
            .body("miss_ms=2%2C500&hit_ms=0.01")
            .dispatch(),
    );
    assert_eq!(page.status, Status::UnprocessableEntity);
    assert!(
        page.body.contains(r#"value="2,500""#),
        "what was typed is kept"
    );
    assert!(page.body.contains(r#"value="0.01""#));
    assert!(page.body.contains(r#"id="miss_ms-error""#) && page.body.contains("write 2500 or 2.5"));
    assert!(page.body.contains(r#"id="hit_ms-error""#) && page.body.contains("too rough"));
}

// 9. A stampede, absorbed.

async fn stampede_app(dir: &std::path::Path) -> Client {
    let settings = test_settings(&dir.join("cache"))
        .merge(setting("factorial_delay_ms", 2))
        .merge(setting("max_factorial", TEST_MAX_FACTORIAL));
    helpers::async_client_for(settings).await
}

async fn learner_ticks(client: &Client, learner: &str) -> Value {
    let progress: Value = client
        .get("/exercises/progress.json")
        .header(as_instructor())
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
async fn stampede_ticks_when_the_learners_concurrent_requests_share_one_computation() {
    let dir = tempfile::tempdir().expect("temp dir");
    let client = stampede_app(dir.path()).await;
    let ada = as_learner(&client, "ada");
    let n = plan_in(&client, "ada").stampede(Browser);
    let requests = (0..6).map(|_| {
        client
            .get(format!("/factorial/{n}"))
            .header(ada.clone())
            .dispatch()
    });
    rocket::futures::future::join_all(requests).await;
    let ticks = learner_ticks(&client, "ada").await;
    let said = ticks["stampede"]["evidence"].as_str().expect("ticked");
    assert!(
        said.contains(&format!("asked for {n}! together")) && said.contains("waited"),
        "{said}"
    );
}

#[rocket::async_test]
async fn stampede_does_not_tick_for_requests_one_after_another_or_other_learners_waits() {
    let dir = tempfile::tempdir().expect("temp dir");
    let client = stampede_app(dir.path()).await;
    let (ada, grace) = (as_learner(&client, "ada"), as_learner(&client, "grace"));
    let n = plan_in(&client, "ada").stampede(Curl);
    for _ in 0..6 {
        client.delete("/cache/memory").dispatch().await;
        client
            .get(format!("/factorial/{n}"))
            .header(ada.clone())
            .dispatch()
            .await;
    }
    client.delete("/cache/memory").dispatch().await;
    // ada computes while grace's requests wait: the waits are grace's.
    let ada_computes = client
        .get(format!("/factorial/{n}"))
        .header(ada.clone())
        .dispatch();
    let grace_waits = (0..5).map(|_| {
        client
            .get(format!("/factorial/{n}"))
            .header(grace.clone())
            .dispatch()
    });
    rocket::futures::join!(ada_computes, rocket::futures::future::join_all(grace_waits));
    assert!(learner_ticks(&client, "ada").await["stampede"].is_null());
}

// 10. Damaged files are never served.

#[test]
fn integrity_ticks_when_the_learners_damaged_entry_is_refused_and_rewritten() {
    let (app, plan) = workshop_app("ada");
    let body = plan.integrity(Curl);
    data_as(&app, "ada", &body);
    for file in content_files(&app.cache_dir()) {
        std::fs::write(file, br#"{"check":"tampered"}"#).expect("damage");
    }
    let refused = data_as(&app, "ada", &body);
    assert_eq!(refused.x_cache(), "MISS");
    assert!(!refused.body.contains("tampered"));
    assert_eq!(data_as(&app, "ada", &body).x_cache(), "HIT");
    assert!(ticked(&app, "ada", "integrity").contains("failed its integrity check"));
}

#[test]
fn integrity_does_not_tick_without_damage_or_for_another_body() {
    let (app, plan) = workshop_app("ada");
    let body = plan.integrity(Curl);
    data_as(&app, "ada", &body);
    data_as(&app, "ada", &body);
    assert_eq!(evidence(&app, "ada", "integrity"), None, "no damage");

    data_as(&app, "ada", r#"{"other": 1}"#);
    for file in content_files(&app.cache_dir()) {
        std::fs::write(file, b"{}").expect("damage");
    }
    data_as(&app, "ada", r#"{"other": 1}"#);
    data_as(&app, "ada", r#"{"other": 1}"#);
    assert_eq!(
        evidence(&app, "ada", "integrity"),
        None,
        "not the exercise's body"
    );
}

// Near misses a newcomer found: work someone else redid, entries that did
// not survive, bursts that were not one.

#[test]
fn a_hit_on_an_entry_someone_else_computed_again_is_not_the_learners_own() {
    let (app, plan) = workshop_app("ada");
    let n = plan.first_hit(Curl);
    assert_eq!(factorial(&app, "ada", n).x_cache(), "MISS");
    app.delete("/cache/memory"); // ada's steps are gone...
    factorial(&app, "grace", n); // ...and grace computes them again
    assert_eq!(factorial(&app, "ada", n).x_cache(), "HIT");
    assert_eq!(evidence(&app, "ada", "first-hit"), None);

    let (k, larger) = plan.memoized(Curl);
    factorial(&app, "ada", k);
    app.delete("/cache/memory");
    factorial(&app, "grace", k);
    assert!(reused_from(&factorial(&app, "ada", larger), k));
    assert_eq!(evidence(&app, "ada", "memoized-steps"), None);
}

#[test]
fn a_body_stored_again_after_the_restart_does_not_show_persistence() {
    let (app, plan) = workshop_app_with("ada", 100, |settings| {
        settings.merge(setting("disk_ttl_secs", 1))
    });
    let (n, body) = plan.persistence(Curl);
    factorial(&app, "ada", n);
    data_as(&app, "ada", &body);
    app.time.advance(Duration::from_millis(1_500)); // the entry expires
    let app = app.restart_with(|settings| {
        settings
            .merge(setting("max_factorial", TEST_MAX_FACTORIAL))
            .merge(setting("disk_ttl_secs", 1))
    });
    assert_eq!(data_as(&app, "ada", &body).x_cache(), "MISS", "expired");
    factorial(&app, "ada", n);
    assert_eq!(data_as(&app, "ada", &body).x_cache(), "HIT");
    assert_eq!(evidence(&app, "ada", "disk-persistence"), None);
}

#[test]
fn a_respelling_found_in_someone_elses_entry_after_a_clear_does_not_count() {
    let (app, plan) = workshop_app("ada");
    let [first, respelled, changed] = plan.canonical(Browser);
    data_as(&app, "ada", &first);
    app.delete("/cache/disk");
    data_as(&app, "grace", &first);
    assert_eq!(data_as(&app, "ada", &respelled).x_cache(), "HIT");
    data_as(&app, "ada", &changed);
    assert_eq!(evidence(&app, "ada", "canonical-keys"), None);
}

#[test]
fn canonical_keys_ticks_for_any_second_spelling() {
    let (app, plan) = workshop_app("ada");
    let [first, _, changed] = plan.canonical(Curl);
    data_as(&app, "ada", &first);
    // Typed by hand: single spaces, another order.
    let typed = r#"{"via": "curl", "city": "Oslo", "by": "ada", "days": 3}"#;
    assert_eq!(data_as(&app, "ada", typed).x_cache(), "HIT");
    data_as(&app, "ada", &changed);
    ticked(&app, "ada", "canonical-keys");
}

#[test]
fn clearing_does_not_pair_a_get_from_one_attempt_with_a_post_from_another() {
    let (app, plan) = workshop_app("ada");
    let n = plan.clearing(Curl);
    factorial(&app, "ada", n);
    get_as(&app, "ada", "/clear-cache");
    delete_as(&app, "ada", "/cache/memory");
    factorial(&app, "ada", n);
    post_as(&app, "ada", "/clear-cache?tier=memory");
    get_as(&app, "ada", "/clear-cache");
    factorial(&app, "ada", n);
    assert_eq!(evidence(&app, "ada", "clearing"), None);
    // The page's way, memory only: ticks.
    get_as(&app, "ada", "/clear-cache");
    post_as(&app, "ada", "/clear-cache?tier=memory");
    assert_eq!(factorial(&app, "ada", n).x_cache(), "MISS");
    assert!(ticked(&app, "ada", "clearing")
        .contains("POST /clear-cache?tier=memory emptied the memory cache"));
}

#[test]
fn clearing_one_tier_by_post_leaves_the_other() {
    let app = TestApp::new();
    app.get("/factorial/30");
    app.post_json("/data", r#"{"kept": true}"#);
    let cleared = app.post("/clear-cache?tier=memory");
    assert_eq!(cleared.status, Status::Ok);
    assert_eq!(app.get("/factorial/30").x_cache(), "MISS");
    assert_eq!(app.post_json("/data", r#"{"kept": true}"#).x_cache(), "HIT");
    for query in [
        "tier=everything",
        "tier=memory&tier=disk",
        "tier=memory&tier=memory",
        "Tier=memory",
        "tier[]=memory",
        "%25%25%25",
    ] {
        let refused = app.post(&format!("/clear-cache?{query}"));
        assert_eq!(refused.status, Status::BadRequest, "{query}");
    }
    assert_eq!(
        app.post_json("/data", r#"{"kept": true}"#).x_cache(),
        "HIT",
        "none of them cleared anything"
    );
    let refused = app.post("/clear-cache?tier=everything");
    assert!(refused.json["accepted"]
        .as_str()
        .unwrap_or_default()
        .contains("tier=memory"));
}

#[test]
fn reading_timings_refuses_numbers_rougher_than_shown_and_stops_counting_after_three_tries() {
    let (app, plan) = timings_app();
    let n = plan.timings(Browser);
    let miss = factorial(&app, "ada", n);
    let hit = factorial(&app, "ada", n);
    assert_eq!(
        report(&app, "ada", "2.50 s", &server_total(&hit)).status,
        Status::UnprocessableEntity,
        "a capped miss is always about 2.50 s: that is no reading"
    );
    for wrong in ["1.001", "2.002"] {
        assert_eq!(
            report(&app, "ada", &server_total(&miss), wrong).json["matched"],
            false
        );
    }
    let third = report(&app, "ada", &server_total(&miss), &server_total(&hit));
    assert_eq!(third.json["matched"], true, "a third try still counts");
    let fourth = report(&app, "ada", &server_total(&miss), &server_total(&hit));
    assert_eq!(
        fourth.json["matched"], false,
        "a fourth report about one miss does not"
    );
    assert!(
        fourth.json["evidence"]
            .as_str()
            .unwrap_or_default()
            .contains("more than three reports"),
        "and says why: {}",
        fourth.body
    );
}

#[test]
fn reading_timings_accepts_the_hit_the_page_showed_even_after_another_hit() {
    let (app, plan) = timings_app();
    let n = plan.timings(Curl);
    let miss = factorial(&app, "ada", n);
    let shown = factorial(&app, "ada", n);
    factorial(&app, "ada", n); // "time it again", after reading the page
    let verdict = report(&app, "ada", &server_total(&miss), &server_total(&shown));
    assert_eq!(verdict.json["matched"], true, "{}", verdict.body);
}

#[rocket::async_test]
async fn stampede_counts_only_waits_for_the_learners_own_computation() {
    let dir = tempfile::tempdir().expect("temp dir");
    let client = stampede_app(dir.path()).await;
    let n = plan_in(&client, "ada").stampede(Browser);
    let (ada, grace) = (as_learner(&client, "ada"), as_learner(&client, "grace"));
    let burst = |learner: Header<'static>, count: usize| {
        let requests: Vec<_> = (0..count)
            .map(|_| {
                client
                    .get(format!("/factorial/{n}"))
                    .header(learner.clone())
                    .dispatch()
            })
            .collect();
        rocket::futures::future::join_all(requests)
    };
    // Two bursts of three: two waiters each, four in all.
    burst(ada.clone(), 3).await;
    client.delete("/cache/memory").dispatch().await;
    burst(ada.clone(), 3).await;
    client.delete("/cache/memory").dispatch().await;
    // grace computes; ada's three wait for grace's computation.
    let grace_leads = client
        .get(format!("/factorial/{n}"))
        .header(grace.clone())
        .dispatch();
    let (_, _) = rocket::futures::join!(grace_leads, async {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        burst(ada.clone(), 3).await
    });
    assert!(learner_ticks(&client, "ada").await["stampede"].is_null());
}

#[test]
fn a_curl_learner_reads_their_own_progress_in_exercise_order() {
    let (app, plan) = workshop_app("ada");
    let n = plan.first_hit(Curl);
    factorial(&app, "ada", n);
    factorial(&app, "ada", n);
    let mine = get_as(&app, "ada", "/exercises/me");
    assert_eq!(mine.status, Status::Ok);
    assert!(
        mine.body.ends_with("}\n"),
        "a terminal's prompt starts on its own line"
    );
    let exercises = mine.json["exercises"].as_array().expect("exercises");
    assert_eq!(exercises.len(), 23);
    assert_eq!(exercises[0]["slug"], "first-hit");
    assert_eq!(exercises[0]["done"], true);
    let said = exercises[0]["evidence"].as_str().unwrap_or_default();
    assert!(said.contains(&format!("{n}! HIT")), "{said}");
    assert_eq!(exercises[1]["done"], false);
    assert!(mine.json["recent"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .contains(&format!("{n}! HIT")));

    assert_eq!(app.get("/exercises/me").status, Status::BadRequest, "who?");
    let someone_else = Answer::from(
        app.client
            .get("/exercises/me")
            .header(Header::new("X-Learner", "ada:0000000000000000"))
            .dispatch(),
    );
    assert_eq!(someone_else.status, Status::Forbidden);
}
