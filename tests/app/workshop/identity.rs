//! Names only their holder can use, and a view of everyone only the
//! instructor can open: each refusal is checked together with what must
//! not have happened to the learner it protects.

use rocket::http::{Accept, ContentType, Cookie, Header, Status};
use rocket::local::blocking::Client;

use super::{
    as_instructor, credential, evidence, get_as, plan_in, progress_document, ticks, ExercisePath,
};
use crate::helpers::{setting, test_settings, Answer, TestApp, INSTRUCTOR_KEY};

/// Ada's own number for the first exercise in `app`, as her exercise page
/// gives it.
fn ada_n(app: &TestApp) -> u64 {
    plan_in(app, "ada").first_hit(ExercisePath::Curl)
}

/// A learner's entry in the instructor's JSON (`Null` if absent).
fn entry(app: &TestApp, learner: &str) -> serde_json::Value {
    progress_document(app)["learners"]
        .as_array()
        .and_then(|learners| learners.iter().find(|entry| entry["name"] == learner))
        .cloned()
        .unwrap_or_default()
}

/// A browser page, asking for HTML with `cookie` as the learner cookie (the
/// test's own, overriding whatever the client remembered).
fn browse_with_cookie(app: &TestApp, uri: &str, cookie: &str) -> (Answer, Option<String>) {
    let response = app
        .client
        .get(uri.to_owned())
        .header(Accept::HTML)
        .cookie(Cookie::new("cachelab_learner", cookie.to_owned()))
        .dispatch();
    let set = response
        .cookies()
        .get("cachelab_learner")
        .map(|cookie| cookie.value().to_owned());
    (Answer::from(response), set)
}

fn rename_with_cookie(app: &TestApp, new_name: &str, cookie: &str) -> Option<String> {
    let response = app
        .client
        .post("/exercises/name")
        .header(ContentType::Form)
        .cookie(Cookie::new("cachelab_learner", cookie.to_owned()))
        .body(format!("name={new_name}"))
        .dispatch();
    assert_eq!(response.status(), Status::SeeOther);
    response
        .cookies()
        .get("cachelab_learner")
        .map(|cookie| cookie.value().to_owned())
}

/// The name a page greets its reader with ("You are <code>…</code>").
fn greeted_as(page: &str) -> &str {
    let start = page.find("You are <code>").expect("a greeting") + "You are <code>".len();
    let length = page[start..].find("</code>").expect("the greeting ends");
    &page[start..start + length]
}

/// Ada: a miss and a hit for her number, so the first exercise is hers.
fn ada_with_a_tick(app: &TestApp) -> serde_json::Value {
    get_as(app, "ada", &format!("/factorial/{}", ada_n(app)));
    get_as(app, "ada", &format!("/factorial/{}", ada_n(app)));
    let before = entry(app, "ada");
    assert_eq!(before["done"], 1, "{before}");
    before
}

#[test]
fn acting_as_another_learner_without_their_key_is_refused_and_records_nothing() {
    let app = TestApp::new();
    let before = ada_with_a_tick(&app);
    let grace_key = credential(&app, "grace")
        .split_once(':')
        .map(|(_, key)| key.to_owned())
        .expect("name:key");
    for sent in [
        "ada".to_owned(),
        "ada:".to_owned(),
        "ada:0000000000000000".to_owned(),
        format!("ada:{grace_key}"),
    ] {
        let by_header = Answer::from(
            app.client
                .get(format!("/factorial/{}", ada_n(&app) + 1))
                .header(Header::new("X-Learner", sent.clone()))
                .dispatch(),
        );
        assert_eq!(by_header.status, Status::Forbidden, "{sent}");
        let said = by_header.json["error"].as_str().unwrap_or_default();
        assert!(
            said.contains("ada") && said.contains("belongs to whoever holds its key"),
            "{said}"
        );
        let accepted = by_header.json["accepted"].as_str().unwrap_or_default();
        assert!(accepted.contains("/exercises"), "{accepted}");

        let by_query = app.get(&format!("/factorial/{}?learner={sent}", ada_n(&app) + 1));
        assert_eq!(by_query.status, Status::Forbidden, "{sent}");
        let data = Answer::from(
            app.client
                .post("/data")
                .header(Header::new("X-Learner", sent.clone()))
                .header(ContentType::JSON)
                .body(r#"{"as": "ada"}"#)
                .dispatch(),
        );
        assert_eq!(data.status, Status::Forbidden, "{sent}");
        let timings = Answer::from(
            app.client
                .post("/exercises/timings")
                .header(Header::new("X-Learner", sent.clone()))
                .header(ContentType::Form)
                .body("miss_ms=1&hit_ms=0.1")
                .dispatch(),
        );
        assert_eq!(timings.status, Status::Forbidden, "{sent}");
    }
    let after = entry(&app, "ada");
    assert_eq!(after, before, "nothing was recorded for ada");
    assert_eq!(after["ticks"].as_object().map(|ticks| ticks.len()), Some(1));
}

#[test]
fn the_exercises_page_shows_the_credential_the_tests_use() {
    let app = TestApp::new();
    let first = app.client.get("/exercises").header(Accept::HTML).dispatch();
    let generated = first
        .cookies()
        .get("cachelab_learner")
        .map(|cookie| cookie.value().to_owned())
        .expect("a learner cookie");
    let page = first.into_string().unwrap_or_default();
    let (name, key) = generated
        .split_once(':')
        .expect("the cookie holds name:key");
    assert_eq!(key.len(), 16, "{generated}");
    assert!(key.bytes().all(|byte| byte.is_ascii_hexdigit()));
    assert_eq!(greeted_as(&page), name);
    assert!(
        page.contains(&format!("X-Learner: {generated}")),
        "the header"
    );
    assert!(page.contains(&format!("?learner={generated}")), "the query");
    assert!(page.contains("The part after the colon is your key"));

    let renamed = app
        .client
        .post("/exercises/name")
        .header(ContentType::Form)
        .body("name=ada")
        .dispatch();
    let ada = renamed
        .cookies()
        .get("cachelab_learner")
        .map(|cookie| cookie.value().to_owned())
        .expect("a new cookie for the new name");
    drop(renamed);
    assert_eq!(ada, credential(&app, "ada"));
    let page = Answer::from(app.client.get("/exercises").header(Accept::HTML).dispatch()).body;
    assert!(page.contains(&format!("X-Learner: {ada}")), "{ada}");

    for _ in 0..2 {
        let from_curl = Answer::from(
            app.client
                .get(format!("/factorial/{}", ada_n(&app)))
                .header(Header::new("X-Learner", ada.clone()))
                .dispatch(),
        );
        assert_eq!(from_curl.status, Status::Ok);
    }
    assert!(
        evidence(&app, "ada", "first-hit").is_some(),
        "counted for ada"
    );
}

#[test]
fn keys_still_work_after_a_restart() {
    let app = TestApp::new();
    let ada = credential(&app, "ada");
    get_as(&app, "ada", &format!("/factorial/{}", ada_n(&app)));
    let app = app.restart();
    assert_eq!(credential(&app, "ada"), ada, "the room secret was kept");
    // Memory starts cold: a miss, then a hit, both sent with the old key.
    for _ in 0..2 {
        let again = Answer::from(
            app.client
                .get(format!("/factorial/{}", ada_n(&app)))
                .header(Header::new("X-Learner", ada.clone()))
                .dispatch(),
        );
        assert_eq!(again.status, Status::Ok);
    }
    assert!(
        evidence(&app, "ada", "first-hit").is_some(),
        "counted for ada"
    );
}

#[test]
fn renaming_onto_a_taken_name_is_refused_and_the_ticks_stay() {
    let app = TestApp::new();
    ada_with_a_tick(&app);
    let browser = app.client.get("/exercises").header(Accept::HTML).dispatch();
    let own_cookie = browser
        .cookies()
        .get("cachelab_learner")
        .map(|cookie| cookie.value().to_owned())
        .expect("a learner cookie");
    drop(browser);
    let kept = rename_with_cookie(&app, "ada", &own_cookie);
    assert_eq!(kept, None, "the cookie is left as it was");
    let page = Answer::from(app.client.get("/exercises").header(Accept::HTML).dispatch()).body;
    assert!(page.contains("already taken"), "said so");
    assert_ne!(greeted_as(&page), "ada");
    // Nor can a cookie that merely names ada carry her ticks off elsewhere.
    rename_with_cookie(&app, "eve", "ada");
    assert!(ticks(&app, "eve").is_empty());
    assert!(evidence(&app, "ada", "first-hit").is_some(), "ada keeps it");
}

#[test]
fn a_name_is_taken_as_soon_as_it_is_chosen() {
    let app = TestApp::new();
    let (_, first) = browse_with_cookie(&app, "/exercises", "");
    let first = first.expect("a first browser");
    let (_, second) = browse_with_cookie(&app, "/exercises", "");
    let second = second.expect("a second browser");
    assert_ne!(first, second);
    // The first browser takes "ada" before sending a single request.
    let taken = rename_with_cookie(&app, "ada", &first);
    assert_eq!(taken, Some(credential(&app, "ada")));
    let refused = rename_with_cookie(&app, "ada", &second);
    assert_eq!(refused, None, "no second key for ada");
}

#[test]
fn a_forged_cookie_gets_a_fresh_name_not_the_victims() {
    let app = TestApp::new();
    ada_with_a_tick(&app);
    for forged in ["ada", "ada:0000000000000000"] {
        let (page, set) = browse_with_cookie(&app, "/exercises", forged);
        let greeted = greeted_as(&page.body);
        assert_ne!(greeted, "ada", "{forged}");
        let fresh = set.expect("a fresh learner cookie");
        assert!(fresh.starts_with(&format!("{greeted}:")), "{fresh}");

        // Pages count for the cookie's learner: not for ada.
        browse_with_cookie(&app, "/memory?n=21", forged);
        // Renaming takes along only what the cookie proves: nothing of ada's.
        let thief = format!("thief-{}", forged.len());
        rename_with_cookie(&app, &thief, forged);
        assert!(ticks(&app, &thief).is_empty(), "{forged}");
    }
    let ada = entry(&app, "ada");
    assert_eq!(ada["done"], 1, "{ada}");
    assert_eq!(evidence(&app, "ada", "memoized-steps"), None);
    assert!(evidence(&app, "ada", "first-hit").is_some());
}

#[test]
fn the_instructor_view_needs_the_key() {
    let app = TestApp::new();
    get_as(&app, "ada", "/factorial/3");

    for uri in ["/exercises/progress", "/exercises/progress.json"] {
        let from_curl = app.get(uri);
        assert_eq!(from_curl.status, Status::Forbidden, "{uri}");
        let said = from_curl.json["error"].as_str().unwrap_or_default();
        assert!(said.contains("instructor key"), "{said}");
        let accepted = from_curl.json["accepted"].as_str().unwrap_or_default();
        assert!(accepted.contains("Instructor view:"), "{accepted}");
        assert!(!from_curl.body.contains("ada"), "{uri} lists nobody");

        let from_browser = Answer::from(app.client.get(uri).header(Accept::HTML).dispatch());
        assert_eq!(from_browser.status, Status::Forbidden, "{uri}");
        assert_eq!(
            from_browser.header("Content-Type"),
            Some("text/html; charset=utf-8")
        );
        assert!(from_browser.body.contains("Instructor view:"), "{uri}");
        assert!(!from_browser.body.contains("<code>ada</code>"));

        let wrong = app.get(&format!("{uri}?key=not-the-instructor-key"));
        assert_eq!(wrong.status, Status::Forbidden, "{uri}");
    }

    let json = app.get(&format!("/exercises/progress.json?key={INSTRUCTOR_KEY}"));
    assert_eq!(json.status, Status::Ok);
    assert_eq!(json.json["learners"][0]["name"], "ada");
    let page = Answer::from(
        app.client
            .get(format!("/exercises/progress?key={INSTRUCTOR_KEY}"))
            .header(Accept::HTML)
            .dispatch(),
    );
    assert_eq!(page.status, Status::Ok);
    assert!(page.body.contains("<code>ada</code>"));
    assert!(
        page.body
            .contains(&format!("/exercises/progress.json?key={INSTRUCTOR_KEY}")),
        "the link to the JSON keeps the key"
    );
    let by_header = Answer::from(
        app.client
            .get("/exercises/progress")
            .header(Accept::HTML)
            .header(as_instructor())
            .dispatch(),
    );
    assert_eq!(by_header.status, Status::Ok);

    let exercises = Answer::from(app.client.get("/exercises").header(Accept::HTML).dispatch());
    assert!(exercises.body.contains("href=\"/exercises/progress\""));
    assert!(
        !exercises.body.contains(INSTRUCTOR_KEY),
        "no key for learners"
    );
}

#[test]
fn an_instructor_key_set_in_the_settings_is_honoured() {
    let app =
        TestApp::with(|settings| settings.merge(setting("instructor_key", "room-7_instructor")));
    let room_key = app.get("/exercises/progress.json?key=room-7_instructor");
    assert_eq!(room_key.status, Status::Ok);
    let test_default = app.get(&format!("/exercises/progress.json?key={INSTRUCTOR_KEY}"));
    assert_eq!(test_default.status, Status::Forbidden);
}

#[test]
fn an_unusable_instructor_key_stops_start_up_with_a_reason() {
    let dir = tempfile::tempdir().expect("temp dir");
    for unusable in ["short", "has spaces in it", "ümlaut-instructor-key"] {
        let settings =
            test_settings(&dir.path().join("cache")).merge(setting("instructor_key", unusable));
        let reason = match cachelab::rocket_from(settings) {
            Ok(_) => panic!("{unusable:?} should have been refused"),
            Err(error) => error.to_string(),
        };
        assert!(reason.contains("instructor_key"), "{reason}");
        assert_eq!(reason.lines().count(), 1);
    }
}

#[test]
fn a_one_off_visitor_with_a_forged_cookie_is_still_not_a_learner() {
    let dir = tempfile::tempdir().expect("temp dir");
    let rocket = cachelab::rocket_from(test_settings(&dir.path().join("cache"))).expect("valid");
    let visitor = Client::untracked(rocket).expect("valid rocket");
    let page = visitor
        .get("/memory?n=5")
        .header(Accept::HTML)
        .cookie(Cookie::new("cachelab_learner", "ada:0000000000000000"))
        .dispatch();
    assert_eq!(page.status(), Status::Ok);
    drop(page);
    let progress: serde_json::Value = visitor
        .get("/exercises/progress.json")
        .header(as_instructor())
        .dispatch()
        .into_json()
        .expect("progress JSON");
    assert_eq!(progress["learners"], serde_json::json!([]));
}
