//! The HTTP exercises through the routes a learner uses: the lab's resource
//! with the policy in its query, the page's report of the loads the browser
//! answered, and the shared cache's witness reports (sent here as nginx
//! sends them; tests/process/shared_cache.rs does it with the real nginx).

use super::*;

use cachelab::workshop::HttpLesson;

/// The witness key this file's apps share with the "proxy" they play.
const WITNESS_KEY: &str = "app-tests-witness-key";

fn resource_of(room: &impl Room, learner: &str, lesson: HttpLesson) -> String {
    plan_in(room, learner).resource(lesson)
}

/// GET the lab resource `name` under `cache_control`, as `learner`, with
/// extra request headers.
fn load(
    app: &TestApp,
    learner: &str,
    name: &str,
    cache_control: &str,
    headers: &[(&str, &str)],
) -> Answer {
    let mut request = app
        .client
        .get(format!(
            "/http-cache/resource/{name}?cc={}",
            cache_control.replace(' ', "%20")
        ))
        .header(as_learner(app, learner));
    for (header, value) in headers {
        request = request.header(Header::new(header.to_string(), value.to_string()));
    }
    Answer::from(request.dispatch())
}

/// Loads the resource twice the way a browser does under a policy that
/// keeps a copy and asks first: the second time with the first's `ETag`.
fn load_then_revalidate(app: &TestApp, learner: &str, name: &str, cache_control: &str) -> Answer {
    let whole = load(app, learner, name, cache_control, &[]);
    assert_eq!(whole.status, Status::Ok);
    let etag = whole.header("ETag").expect("an ETag").to_owned();
    load(
        app,
        learner,
        name,
        cache_control,
        &[("If-None-Match", &etag)],
    )
}

fn report_loads(app: &TestApp, learner: &str, name: &str, loads: u32, from_cache: u32) -> Answer {
    Answer::from(
        app.client
            .post(format!("/http-cache/resource/{name}/loads"))
            .header(as_learner(app, learner))
            .header(ContentType::JSON)
            .body(format!(
                r#"{{"loads": {loads}, "from_cache": {from_cache}}}"#
            ))
            .dispatch(),
    )
}

fn ticked(app: &TestApp, learner: &str, exercise: &str) -> String {
    evidence(app, learner, exercise).unwrap_or_else(|| {
        panic!(
            "{exercise} not ticked for {learner}: {:?}",
            ticks(app, learner)
        )
    })
}

#[test]
fn the_browser_cache_ticks_for_a_fresh_copy_used_without_a_request() {
    let app = TestApp::new();
    let name = resource_of(&app, "ada", HttpLesson::BrowserCache);
    assert_eq!(
        load(&app, "ada", &name, "max-age=60", &[]).status,
        Status::Ok
    );
    // The page asked again itself: the browser did not answer that load.
    load(&app, "ada", &name, "max-age=60", &[]);
    let reported = report_loads(&app, "ada", &name, 2, 0);
    assert_eq!(reported.status, Status::Ok);
    assert_eq!(reported.json["recorded"], true);
    assert_eq!(evidence(&app, "ada", "browser-cache"), None);

    load(&app, "ada", &name, "max-age=60", &[]);
    report_loads(&app, "ada", &name, 2, 1);
    let said = ticked(&app, "ada", "browser-cache");
    assert!(
        said.contains("max-age=60") && said.contains("answered 1 load from its own cache"),
        "{said}"
    );
}

#[test]
fn the_browser_cache_does_not_tick_for_a_copy_that_may_not_be_used_unasked() {
    let app = TestApp::new();
    let name = resource_of(&app, "ada", HttpLesson::BrowserCache);
    for cache_control in ["no-cache", "max-age=0", "no-store"] {
        load(&app, "ada", &name, cache_control, &[]);
        report_loads(&app, "ada", &name, 2, 1);
    }
    // Someone else's resource, however fresh.
    let hers = resource_of(&app, "grace", HttpLesson::BrowserCache);
    load(&app, "ada", &hers, "max-age=60", &[]);
    report_loads(&app, "ada", &hers, 2, 1);
    assert_eq!(evidence(&app, "ada", "browser-cache"), None);
}

#[test]
fn a_loads_report_that_cannot_be_true_is_refused_and_counts_for_nobody() {
    let app = TestApp::new();
    let name = resource_of(&app, "ada", HttpLesson::BrowserCache);
    load(&app, "ada", &name, "max-age=60", &[]);
    for (loads, from_cache) in [(0, 0), (1, 2), (5_000, 1)] {
        let refused = report_loads(&app, "ada", &name, loads, from_cache);
        assert_eq!(
            refused.status,
            Status::UnprocessableEntity,
            "{loads}, {from_cache}"
        );
        assert!(refused.json["error"].is_string(), "{}", refused.body);
    }
    for (body, says) in [
        (r#"{"loads": "two", "from_cache": 1}"#, "invalid type"),
        (r#"{"loads": 2}"#, "missing field `from_cache`"),
        ("loads=2", "expected value"),
    ] {
        let refused = Answer::from(
            app.client
                .post(format!("/http-cache/resource/{name}/loads"))
                .header(as_learner(&app, "ada"))
                .header(ContentType::JSON)
                .body(body)
                .dispatch(),
        );
        assert_eq!(refused.status, Status::BadRequest, "{body}");
        let error = refused.json["error"].as_str().unwrap_or_default();
        assert!(error.contains(says), "{body}: {error}");
        assert!(refused.json["accepted"]
            .as_str()
            .unwrap_or_default()
            .contains("from_cache"));
    }
    let not_a_name = report_loads(&app, "ada", "Not%20A%20Name", 1, 1);
    assert_eq!(not_a_name.status, Status::BadRequest);
    assert_eq!(evidence(&app, "ada", "browser-cache"), None);
    // Without a name, nothing is recorded.
    let anonymous = Answer::from(
        app.client
            .post(format!("/http-cache/resource/{name}/loads"))
            .header(ContentType::JSON)
            .body(r#"{"loads": 2, "from_cache": 1}"#)
            .dispatch(),
    );
    assert_eq!(anonymous.json["recorded"], false);
}

#[test]
fn revalidation_ticks_for_a_304_to_the_learners_own_conditional_request() {
    let app = TestApp::new();
    let name = resource_of(&app, "ada", HttpLesson::Revalidation);
    // grace's copy, ada's question: not ada's revalidation.
    let theirs = load(&app, "grace", &name, "no-cache", &[]);
    let etag = theirs.header("ETag").expect("an ETag").to_owned();
    assert_eq!(
        load(&app, "ada", &name, "no-cache", &[("If-None-Match", &etag)]).status,
        Status::NotModified
    );
    assert_eq!(evidence(&app, "ada", "revalidation"), None);

    let confirmed = load_then_revalidate(&app, "ada", &name, "no-cache");
    assert_eq!(confirmed.status, Status::NotModified);
    let said = ticked(&app, "ada", "revalidation");
    assert!(
        said.contains("304 Not Modified") && said.contains("If-None-Match"),
        "{said}"
    );
}

#[test]
fn no_store_then_no_cache_ticks_only_in_that_order() {
    let app = TestApp::new();
    let name = resource_of(&app, "ada", HttpLesson::NoStoreVersusNoCache);
    // no-cache first, then no-store: the wrong way round.
    load_then_revalidate(&app, "ada", &name, "no-cache");
    load(&app, "ada", &name, "no-store", &[]);
    load(&app, "ada", &name, "no-store", &[]);
    assert_eq!(evidence(&app, "ada", "no-store-no-cache"), None);

    load(&app, "ada", &name, "no-store", &[]);
    load(&app, "ada", &name, "no-store", &[]);
    load_then_revalidate(&app, "ada", &name, "no-cache");
    let said = ticked(&app, "ada", "no-store-no-cache");
    assert!(said.contains("no-store") && said.contains("304"), "{said}");
}

/// The witness report nginx sends for each request it receives.
fn witness(app: &TestApp, learner: &str, name: &str, request_id: &str) {
    let answer = Answer::from(
        app.client
            .get(format!("/http-cache/witness/resource/{name}"))
            .header(as_learner(app, learner))
            .header(Header::new("X-Proxy-Witness-Key", WITNESS_KEY))
            .header(Header::new("X-Request-Id", request_id.to_owned()))
            .dispatch(),
    );
    assert_eq!(answer.status, Status::NoContent, "{}", answer.body);
}

/// A request the proxy passed on to the app, as nginx passes it.
fn passed_on(app: &TestApp, learner: &str, name: &str, cache_control: &str, id: &str) -> Answer {
    witness(app, learner, name, id);
    load(
        app,
        learner,
        name,
        cache_control,
        &[("X-Forwarded-For", "127.0.0.1"), ("X-Request-Id", id)],
    )
}

#[test]
fn a_shared_cache_hit_ticks_for_a_request_the_proxy_received_and_kept_from_the_app() {
    let app = TestApp::with(|settings| settings.merge(setting("proxy_witness_key", WITNESS_KEY)));
    // Opened past the proxy, the page says where to go instead; through
    // it, that the commands below pass it.
    let past = Answer::from(app.client.get("/exercises").header(Accept::HTML).dispatch());
    assert!(past
        .body
        .contains("this page came straight from the app, past it"));
    let through = Answer::from(
        app.client
            .get("/exercises")
            .header(Accept::HTML)
            .header(Header::new("X-Forwarded-For", "127.0.0.1"))
            .dispatch(),
    );
    assert!(through
        .body
        .contains("You opened this page through the shared cache"));
    assert!(!through.body.contains("past it"));
    let name = resource_of(&app, "ada", HttpLesson::SharedCache);
    let shared = "public, max-age=0, s-maxage=60";

    // Private: the proxy passes every request on.
    passed_on(&app, "ada", &name, "private, max-age=60", "a1");
    passed_on(&app, "ada", &name, "private, max-age=60", "a2");
    // Shareable, but both requests reached the app.
    passed_on(&app, "ada", &name, shared, "b1");
    passed_on(&app, "ada", &name, shared, "b2");
    std::thread::sleep(Duration::from_millis(1_100));
    witness(&app, "ada", &name, "b3-on-its-way");
    assert_eq!(evidence(&app, "ada", "shared-cache"), None);

    // b3 never reached the app: once the proxy's report is older than the
    // time a request takes to follow it, the learner's own look at their
    // progress finds it answered by the proxy, with nothing more sent.
    std::thread::sleep(Duration::from_millis(1_100));
    let mine = get_as(&app, "ada", "/exercises/me");
    let shared = mine.json["exercises"]
        .as_array()
        .and_then(|all| {
            all.iter()
                .find(|exercise| exercise["slug"] == "shared-cache")
        })
        .cloned()
        .unwrap_or_default();
    assert_eq!(shared["done"], true, "{}", mine.body);
    let said = ticked(&app, "ada", "shared-cache");
    assert!(
        said.contains("through the shared cache") && said.contains("the shared cache received"),
        "{said}"
    );
}

#[test]
fn without_the_shared_cache_the_exercise_says_how_to_start_it() {
    let app = TestApp::new();
    let page = Answer::from(app.client.get("/exercises").header(Accept::HTML).dispatch());
    assert!(
        page.body.contains("scripts/shared-cache.sh"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("a shared cache in front of it"));
}

#[test]
fn an_exercise_link_opens_the_lab_on_the_learners_resource_with_the_policy_chosen() {
    let app = TestApp::new();
    let name = resource_of(&app, "ada", HttpLesson::BrowserCache);
    let page = Answer::from(
        app.client
            .get(format!("/http-cache?name={name}&cc=MAX-AGE%3D60"))
            .header(Accept::HTML)
            .dispatch(),
    );
    assert_eq!(page.status, Status::Ok);
    assert!(
        page.body.contains(&format!("data-resource=\"{name}\"")),
        "{}",
        page.body
    );
    assert!(page.body.contains("data-preset-cc=\"max-age=60\""));
    assert!(page.body.contains("data-report-loads=\"1\""));
    assert!(page.body.contains("value=\"preset\" checked"));

    // A plain visit: a new resource of its own, nothing chosen, no reports.
    let plain = Answer::from(
        app.client
            .get("/http-cache")
            .header(Accept::HTML)
            .dispatch(),
    );
    assert!(!plain.body.contains(&format!("data-resource=\"{name}\"")));
    assert!(!plain.body.contains("data-report-loads"));

    let refused = Answer::from(
        app.client
            .get("/http-cache?name=Not%20Mine&cc=max-age%3Dsoon")
            .header(Accept::HTML)
            .dispatch(),
    );
    assert_eq!(refused.status, Status::Ok);
    assert!(
        refused
            .body
            .contains("This page could not use the resource name in the address"),
        "{}",
        refused.body
    );
    assert!(refused
        .body
        .contains("nor the Cache-Control in the address"));
    assert!(!refused.body.contains("data-preset-cc"));
}

#[test]
fn a_request_the_app_would_refuse_is_never_one_the_proxy_answered() {
    let app = TestApp::with(|settings| settings.merge(setting("proxy_witness_key", WITNESS_KEY)));
    let name = resource_of(&app, "ada", HttpLesson::SharedCache);
    passed_on(&app, "ada", &name, "public, s-maxage=60", "a1");
    // nginx passes a misspelt policy on, the app refuses it with a 400;
    // the proxy's report of it arrives all the same.
    let refused = Answer::from(
        app.client
            .get(format!(
                "/http-cache/witness/resource/{name}?cc=max_age%3D60"
            ))
            .header(as_learner(&app, "ada"))
            .header(Header::new("X-Proxy-Witness-Key", WITNESS_KEY))
            .header(Header::new("X-Request-Id", "a2"))
            .dispatch(),
    );
    assert_eq!(refused.status, Status::NoContent);
    std::thread::sleep(Duration::from_millis(1_100));
    let mine = get_as(&app, "ada", "/exercises/me");
    assert!(
        mine.body.contains("\"slug\": \"shared-cache\""),
        "{}",
        mine.body
    );
    assert_eq!(evidence(&app, "ada", "shared-cache"), None);
}

#[test]
fn the_witness_route_says_why_it_refuses() {
    let without = TestApp::new();
    let none = Answer::from(
        without
            .client
            .get("/http-cache/witness/resource/pub")
            .header(Header::new("X-Proxy-Witness-Key", WITNESS_KEY))
            .dispatch(),
    );
    assert_eq!(none.status, Status::NotFound);
    assert!(
        none.body.contains("started without proxy_witness_key"),
        "{}",
        none.body
    );

    let app = TestApp::with(|settings| settings.merge(setting("proxy_witness_key", WITNESS_KEY)));
    for (key, says) in [
        (None, "only the shared cache in front reports here"),
        (
            Some("not-the-witness-key-0000"),
            "not this app's proxy witness key",
        ),
    ] {
        let mut request = app.client.get("/http-cache/witness/resource/pub");
        if let Some(key) = key {
            request = request.header(Header::new("X-Proxy-Witness-Key", key));
        }
        let refused = Answer::from(request.dispatch());
        assert_eq!(refused.status, Status::Forbidden);
        assert!(refused.body.contains(says), "{}", refused.body);
    }
    // A name sent without its key, on the proxy's report.
    let report = Answer::from(
        app.client
            .get("/http-cache/resource/pub/proxy")
            .header(Header::new("X-Learner", "bob"))
            .dispatch(),
    );
    assert_eq!(report.status, Status::Forbidden);
    assert!(report.body.contains("without its key"), "{}", report.body);
}
