//! Workshop exercises: each check performs the learner's steps over HTTP and
//! asserts the tick, and a wrong sequence that must not tick.

mod catalogue;
mod http;
mod identity;
mod instances;
mod shared;
mod sizing;
mod ticks;

use std::time::Duration;

use cachelab::lab::Lab;
use cachelab::workshop::LearnerName;
use rocket::http::{Accept, ContentType, Header, Method, Status};
use rocket::local::asynchronous::Client;
use serde_json::Value;

use crate::helpers::{
    self, content_files, setting, test_settings, Answer, TestApp, INSTRUCTOR_KEY,
};
use cachelab::workshop::{ExercisePath, Plan};

/// An app under test: a [`TestApp`], or an asynchronous client a test
/// made for itself. Either way its [`Lab`], so a test can ask the app's own
/// workshop for what the exercise page would show a learner.
trait Room {
    fn lab(&self) -> &Lab;
}

impl Room for TestApp {
    fn lab(&self) -> &Lab {
        self.client
            .rocket()
            .state::<Lab>()
            .expect("the app manages its lab")
    }
}

impl Room for Client {
    fn lab(&self) -> &Lab {
        self.rocket()
            .state::<Lab>()
            .expect("the app manages its lab")
    }
}

/// The credential (`name:key`) of whoever holds `name` in the app,
/// claiming it first if nobody does, as choosing a name on the exercise
/// page does. Not done over HTTP: that means renaming a browser, and the
/// test client has a single cookie jar, so a test's own browser would
/// become that learner. `identity::the_exercises_page_shows_the_credential_the_tests_use`
/// checks over HTTP that the page hands out the same. A name that is not
/// usable is sent as it is, for the app to refuse.
fn credential(room: &impl Room, name: &str) -> String {
    let Ok(learner) = LearnerName::parse(name) else {
        return name.to_owned();
    };
    room.lab().workshop().claim(&learner).to_string()
}

/// `learner`'s own exercise inputs, as their exercise page shows them.
fn plan_in(room: &impl Room, learner: &str) -> Plan {
    room.lab()
        .workshop()
        .plan(&LearnerName::parse(learner).expect("a usable name"))
}

fn as_learner(room: &impl Room, name: &str) -> Header<'static> {
    Header::new("X-Learner", credential(room, name))
}

/// The header that opens the instructor's view in every test app.
fn as_instructor() -> Header<'static> {
    Header::new("X-Instructor-Key", INSTRUCTOR_KEY)
}

/// `method uri`, sent as `learner` with their own credential.
fn send_as(app: &TestApp, learner: &str, method: Method, uri: &str) -> Answer {
    Answer::from(
        app.client
            .req(method, uri.to_owned())
            .header(as_learner(app, learner))
            .dispatch(),
    )
}

fn get_as(app: &TestApp, learner: &str, uri: &str) -> Answer {
    send_as(app, learner, Method::Get, uri)
}

fn post_as(app: &TestApp, learner: &str, uri: &str) -> Answer {
    send_as(app, learner, Method::Post, uri)
}

fn data_as(app: &TestApp, learner: &str, body: &str) -> Answer {
    Answer::from(
        app.client
            .post("/data")
            .header(as_learner(app, learner))
            .header(ContentType::JSON)
            .body(body)
            .dispatch(),
    )
}

/// The instructor's JSON of everyone's progress.
fn progress_document(app: &TestApp) -> Value {
    Answer::from(
        app.client
            .get("/exercises/progress.json")
            .header(as_instructor())
            .dispatch(),
    )
    .json
}

/// The learner's ticks, by exercise slug, from the instructor's JSON.
fn ticks(app: &TestApp, learner: &str) -> serde_json::Map<String, Value> {
    let progress = progress_document(app);
    progress["learners"]
        .as_array()
        .and_then(|learners| learners.iter().find(|entry| entry["name"] == learner))
        .and_then(|entry| entry["ticks"].as_object().cloned())
        .unwrap_or_default()
}

fn delete_as(app: &TestApp, learner: &str, uri: &str) -> Answer {
    send_as(app, learner, Method::Delete, uri)
}

/// Workshop tests keep factorials small (n at most 1,500), so that a test's
/// computations stay quick in a debug build.
const TEST_MAX_FACTORIAL: u64 = 1_500;

/// An app for exercises, and `learner`'s inputs in it.
fn workshop_app(learner: &str) -> (TestApp, Plan) {
    workshop_app_with(learner, 100, |settings| settings)
}

/// A restart of an app from [`workshop_app`], with the same settings.
fn restart_workshop(app: TestApp) -> TestApp {
    app.restart_with(|settings| {
        settings
            .merge(setting("max_factorial", TEST_MAX_FACTORIAL))
            .merge(setting("memory_capacity", 100))
    })
}

fn workshop_app_with(
    learner: &str,
    capacity: usize,
    adjust: impl FnOnce(rocket::figment::Figment) -> rocket::figment::Figment,
) -> (TestApp, Plan) {
    let app = TestApp::with(|settings| {
        adjust(
            settings
                .merge(setting("max_factorial", TEST_MAX_FACTORIAL))
                .merge(setting("memory_capacity", capacity)),
        )
    });
    let plan = plan_in(&app, learner);
    (app, plan)
}

fn evidence(app: &TestApp, learner: &str, exercise: &str) -> Option<String> {
    ticks(app, learner)
        .get(exercise)
        .and_then(|tick| tick["evidence"].as_str())
        .map(str::to_owned)
}

#[test]
fn a_browser_is_named_by_a_cookie_and_can_rename_itself() {
    let (app, _) = workshop_app("ada");
    let first = app.client.get("/").header(Accept::HTML).dispatch();
    let cookie = first
        .cookies()
        .get("cachelab_learner")
        .expect("a learner cookie")
        .clone();
    drop(first);
    let (generated, _key) = cookie.value().split_once(':').expect("name:key");
    let generated = generated.to_owned();
    assert!(
        generated.split('-').count() == 3,
        "a friendly name: {generated}"
    );

    let n = plan_in(&app, &generated).first_hit(ExercisePath::Browser);
    for _ in 0..2 {
        app.client
            .get(format!("/memory?n={n}"))
            .header(Accept::HTML)
            .dispatch();
    }
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
    let (app, plan) = workshop_app("linus");
    let n = plan.first_hit(ExercisePath::Curl);
    let linus = format!("/factorial/{n}?learner={}", credential(&app, "linus"));
    app.get(&linus);
    app.get(&linus);
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
    let (app, plan) = workshop_app("ada");
    let n = plan.first_hit(ExercisePath::Curl);
    get_as(&app, "ada", &format!("/factorial/{n}"));
    get_as(&app, "ada", &format!("/factorial/{n}"));
    app.delete("/cache/disk");
    let app = restart_workshop(app);
    assert!(evidence(&app, "ada", "first-hit").is_some());
}

#[test]
fn the_instructor_sees_every_learner() {
    let (app, plan) = workshop_app("ada");
    let n = plan.first_hit(ExercisePath::Curl);
    get_as(&app, "ada", &format!("/factorial/{n}"));
    get_as(&app, "ada", &format!("/factorial/{n}"));
    get_as(&app, "linus", &format!("/factorial/{}", n + 1));

    let json = progress_document(&app);
    assert_eq!(json["exercises"].as_array().map(Vec::len), Some(23));
    let names: Vec<&str> = json["learners"]
        .as_array()
        .expect("learners")
        .iter()
        .filter_map(|entry| entry["name"].as_str())
        .collect();
    assert_eq!(names, vec!["linus", "ada"], "most recently active first");
    assert_eq!(json["learners"][1]["done"], 1, "{}", json["learners"][1]);
    // linus's request started from the step ada computed: that is not his
    // exercise, and not his work.
    assert_eq!(json["learners"][0]["done"], 0, "{}", json["learners"][0]);

    let page = Answer::from(
        app.client
            .get("/exercises/progress")
            .header(Accept::HTML)
            .header(as_instructor())
            .dispatch(),
    );
    assert_eq!(page.status, Status::Ok);
    assert!(page.body.contains("<code>ada</code>") && page.body.contains("<code>linus</code>"));
    assert_eq!(page.body.matches("class=\"tick\"").count(), 1);
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
        "browser-cache",
        "revalidation",
        "no-store-no-cache",
        "shared-cache",
        "memory-per-process",
        "shared-tier-hit",
        "clear-reaches-every-instance",
        "shared-tier-outage",
        "stale-answer",
        "invalidate-on-write",
        "write-through",
        "stale-while-revalidate",
        "size-the-memory-tier",
    ] {
        assert!(page.contains(&format!("<section id=\"{slug}\"")), "{slug}");
    }
    assert!(page.matches("<h3>With curl</h3>").count() >= 18);
    assert!(page.matches("<h3>Why</h3>").count() == 23);
    assert_eq!(page.matches("Not done yet.").count(), 23);
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
        .header(as_instructor())
        .dispatch()
        .into_json()
        .expect("progress JSON");
    assert_eq!(
        progress["learners"],
        serde_json::json!([]),
        "nobody took part"
    );
}
