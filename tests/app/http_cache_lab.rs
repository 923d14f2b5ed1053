//! The HTTP-cache lab's resource as a browser, a proxy or curl uses it: the
//! policy in its query becomes its headers, a matching `If-None-Match` gets
//! a bodiless 304, a change makes a new version, and the app counts what
//! reached it.

use rocket::http::{Header, Status};

use crate::helpers::{Answer, TestApp};

fn resource(name: &str) -> String {
    format!("/http-cache/resource/{name}")
}

fn get_with(app: &TestApp, uri: &str, headers: &[(&'static str, &str)]) -> Answer {
    let mut request = app.client.get(uri.to_owned());
    for (name, value) in headers {
        request.add_header(Header::new(*name, value.to_string()));
    }
    Answer::from(request.dispatch())
}

fn requests(app: &TestApp, name: &str) -> Answer {
    app.get(&format!("{}/requests", resource(name)))
}

/// A refusal: 400, JSON, naming `parameter` and saying what is accepted.
fn assert_refused(answer: &Answer, parameter: &str, accepted_mentions: &str) {
    assert_eq!(answer.status, Status::BadRequest, "{}", answer.body);
    assert_eq!(answer.header("Content-Type"), Some("application/json"));
    let error = answer.json["error"].as_str().unwrap_or_default();
    assert!(error.contains(parameter), "names {parameter}: {error}");
    let accepted = answer.json["accepted"].as_str().unwrap_or_default();
    assert!(
        accepted.contains(accepted_mentions),
        "accepted mentions {accepted_mentions}: {accepted}"
    );
}

#[test]
fn without_a_query_there_is_no_cache_control_but_an_etag() {
    let app = TestApp::new();
    let answer = app.get(&resource("plain"));
    assert_eq!(answer.status, Status::Ok);
    assert_eq!(answer.header("Cache-Control"), None);
    assert_eq!(answer.header("Vary"), None);
    assert_eq!(
        answer.header("Set-Cookie"),
        None,
        "a proxy would not store it"
    );
    let etag = answer.header("ETag").expect("an ETag by default");
    assert!(etag.starts_with("\"sha256-"), "a strong tag: {etag}");
    assert_eq!(answer.json["name"], "plain");
    assert_eq!(answer.json["version"], 1);
    assert!(answer.json["made_at"]
        .as_str()
        .is_some_and(|at| at.ends_with("UTC")));
    assert_eq!(answer.header("X-Served-By-App"), Some("1"));

    let again = app.get(&resource("plain"));
    assert_eq!(again.body, answer.body, "the body stays the same");
    assert_eq!(again.header("ETag"), Some(etag));
    assert_eq!(again.header("X-Served-By-App"), Some("2"));
}

#[test]
fn the_cache_control_is_sent_normalized() {
    let app = TestApp::new();
    for (written, sent) in [
        ("max-age=60", "max-age=60"),
        (
            "Public,%20S-MAXAGE=30,stale-if-error=300",
            "public, s-maxage=30, stale-if-error=300",
        ),
        ("public,+s-maxage=30", "public, s-maxage=30"),
        ("no-cache", "no-cache"),
        ("no-store", "no-store"),
        ("max-age=31536000,immutable", "max-age=31536000, immutable"),
        (
            "private,max-age=0,must-revalidate,proxy-revalidate,no-transform,stale-while-revalidate=5",
            "private, max-age=0, must-revalidate, proxy-revalidate, no-transform, stale-while-revalidate=5",
        ),
    ] {
        let answer = app.get(&format!("{}?cc={written}", resource("normalized")));
        assert_eq!(answer.status, Status::Ok, "{written}: {}", answer.body);
        assert_eq!(answer.header("Cache-Control"), Some(sent), "{written}");
    }
}

#[test]
fn every_parameter_rule_has_its_own_400() {
    let app = TestApp::new();
    let base = resource("rules");
    for (query, parameter, accepted) in [
        ("max_age=60", "max_age", "cc, etag, vary, slow"),
        ("cc=max-age", "cc", "max-age=N"),
        ("cc=max-age=-1", "cc", "max-age=N"),
        ("cc=max-age=31536001", "cc", "one year"),
        ("cc=max-age=1.5", "cc", "max-age=N"),
        ("cc=maxage=60", "cc", "s-maxage=N"),
        ("cc=private=%22Set-Cookie%22", "cc", "private"),
        ("cc=max-age=1,max-age=2", "cc", "at most once"),
        ("cc=", "cc", "leave cc out"),
        ("cc=public&cc=private", "cc", "at most once"),
        ("etag=yes", "etag", "etag=0"),
        ("etag=", "etag", "etag=1"),
        ("vary=Cookie", "vary", "Accept-Language or X-Variant"),
        ("vary=Accept-Language,X-Variant", "vary", "Accept-Language"),
        ("slow=3001", "slow", "3000"),
        ("slow=-1", "slow", "3000"),
        ("slow=fast", "slow", "3000"),
    ] {
        let answer = app.get(&format!("{base}?{query}"));
        assert_refused(&answer, parameter, accepted);
    }
    assert_eq!(
        requests(&app, "rules").json["requests"],
        0,
        "a refused request is not counted as an answer"
    );
}

#[test]
fn a_bad_name_is_a_400_on_every_route() {
    let app = TestApp::new();
    let too_long = "a".repeat(41);
    for name in [
        "UPPER",
        "under_score",
        "dot.dot",
        "%C3%A9",
        too_long.as_str(),
    ] {
        for uri in [resource(name), format!("{}/requests", resource(name))] {
            assert_refused(&app.get(&uri), "", "a-z, 0-9 and -");
        }
        assert_refused(
            &app.post(&format!("{}/change", resource(name))),
            "",
            "a-z, 0-9 and -",
        );
    }
    assert_eq!(app.get(&resource(&"a".repeat(40))).status, Status::Ok);
}

#[test]
fn a_matching_if_none_match_gets_a_304_with_the_same_headers_and_no_body() {
    let app = TestApp::new();
    let uri = format!("{}?cc=no-cache&vary=X-Variant", resource("revalidate"));
    let full = get_with(&app, &uri, &[("X-Variant", "blue")]);
    assert_eq!(full.status, Status::Ok);
    let etag = full.header("ETag").expect("an ETag").to_owned();
    assert_eq!(full.json["varied_on"]["header"], "X-Variant");
    assert_eq!(full.json["varied_on"]["value"], "blue");

    let not_modified = get_with(
        &app,
        &uri,
        &[("X-Variant", "blue"), ("If-None-Match", etag.as_str())],
    );
    assert_eq!(not_modified.status, Status::NotModified);
    assert_eq!(not_modified.body, "", "a 304 has no body");
    assert_eq!(not_modified.header("ETag"), Some(etag.as_str()));
    assert_eq!(not_modified.header("Cache-Control"), Some("no-cache"));
    assert_eq!(not_modified.header("Vary"), Some("X-Variant"));
    assert_eq!(not_modified.header("X-Served-By-App"), Some("2"));

    // Another variant has another body, so the stored tag does not match it.
    let other_variant = get_with(
        &app,
        &uri,
        &[("X-Variant", "green"), ("If-None-Match", etag.as_str())],
    );
    assert_eq!(other_variant.status, Status::Ok);
    assert_eq!(other_variant.json["varied_on"]["value"], "green");
    assert_ne!(other_variant.header("ETag"), Some(etag.as_str()));

    // A tag among others, and `*`, match too (RFC 9110 §13.1.2).
    let in_a_list = format!("\"old\", {etag}");
    for if_none_match in [in_a_list.as_str(), "*"] {
        let answer = get_with(
            &app,
            &uri,
            &[("X-Variant", "blue"), ("If-None-Match", if_none_match)],
        );
        assert_eq!(answer.status, Status::NotModified, "{if_none_match}");
    }
}

#[test]
fn without_an_etag_every_answer_is_full() {
    let app = TestApp::new();
    let uri = format!("{}?cc=no-cache&etag=0", resource("untagged"));
    let answer = get_with(&app, &uri, &[("If-None-Match", "*")]);
    assert_eq!(answer.status, Status::Ok);
    assert_eq!(answer.header("ETag"), None);
    assert_eq!(answer.json["name"], "untagged");
}

#[test]
fn vary_on_accept_language_echoes_the_language() {
    let app = TestApp::new();
    let uri = format!("{}?vary=accept-language", resource("language"));
    let french = get_with(&app, &uri, &[("Accept-Language", "fr")]);
    assert_eq!(french.header("Vary"), Some("Accept-Language"));
    assert_eq!(french.json["varied_on"]["value"], "fr");
    let none = app.get(&uri);
    assert_eq!(none.json["varied_on"]["value"], serde_json::Value::Null);

    let huge = "x".repeat(201);
    let refused = get_with(&app, &uri, &[("Accept-Language", huge.as_str())]);
    assert_refused(&refused, "Accept-Language", "at most 200 bytes");
}

#[test]
fn head_answers_with_the_headers_and_no_body_and_is_counted_as_head() {
    let app = TestApp::new();
    let uri = format!("{}?cc=max-age=60", resource("headed"));
    let get = app.get(&uri);
    let head = Answer::from(app.client.head(uri.clone()).dispatch());
    assert_eq!(head.status, Status::Ok);
    assert_eq!(head.body, "");
    assert_eq!(head.header("ETag"), get.header("ETag"));
    assert_eq!(head.header("Cache-Control"), Some("max-age=60"));
    assert_eq!(head.header("X-Served-By-App"), Some("2"));

    let etag = get.header("ETag").expect("an ETag").to_owned();
    let conditional_head = Answer::from(
        app.client
            .head(uri)
            .header(Header::new("If-None-Match", etag))
            .dispatch(),
    );
    assert_eq!(conditional_head.status, Status::NotModified);

    let log = requests(&app, "headed").json;
    let methods: Vec<&str> = log["recent"]
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|request| request["method"].as_str())
        .collect();
    assert_eq!(methods, ["GET", "HEAD", "HEAD"]);
}

#[test]
fn a_change_makes_a_new_version_with_a_new_etag() {
    let app = TestApp::new();
    let uri = format!("{}?cc=no-cache", resource("changing"));
    let first = app.get(&uri);
    let old_etag = first.header("ETag").expect("an ETag").to_owned();

    let changed = app.post(&format!("{}/change", resource("changing")));
    assert_eq!(changed.status, Status::Ok, "{}", changed.body);
    assert_eq!(changed.json["version"], 2);
    assert_eq!(changed.header("Cache-Control"), Some("no-store"));

    let after = get_with(&app, &uri, &[("If-None-Match", old_etag.as_str())]);
    assert_eq!(after.status, Status::Ok, "the stored copy is out of date");
    assert_eq!(after.json["version"], 2);
    assert_ne!(after.header("ETag"), Some(old_etag.as_str()));
}

#[test]
fn a_change_from_another_site_is_refused() {
    let app = TestApp::new();
    let refused = Answer::from(
        app.client
            .post(format!("{}/change", resource("guarded")))
            .header(Header::new("Sec-Fetch-Site", "cross-site"))
            .dispatch(),
    );
    assert_eq!(refused.status, Status::Forbidden);
    assert_eq!(requests(&app, "guarded").json["version"], 0);
}

#[test]
fn the_app_counts_what_reached_it() {
    let app = TestApp::new();
    let uri = resource("counted");
    let first = app.get(&uri);
    let etag = first.header("ETag").expect("an ETag").to_owned();
    get_with(&app, &uri, &[("If-None-Match", etag.as_str())]);
    get_with(
        &app,
        &uri,
        &[
            ("X-Forwarded-For", "192.0.2.1"),
            ("If-None-Match", "\"other\""),
        ],
    );
    get_with(&app, &uri, &[("Via", "1.1 proxy")]);

    let log = requests(&app, "counted");
    assert_eq!(log.status, Status::Ok);
    assert_eq!(log.header("Cache-Control"), Some("no-store"));
    let json = log.json;
    assert_eq!(json["requests"], 4);
    assert_eq!(json["full"], 3);
    assert_eq!(json["not_modified"], 1);
    let recent = json["recent"].as_array().expect("a list");
    let seen: Vec<(u64, bool, bool)> = recent
        .iter()
        .map(|request| {
            (
                request["status"].as_u64().unwrap_or(0),
                request["conditional"].as_bool().unwrap_or(false),
                request["through_proxy"].as_bool().unwrap_or(false),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (200, false, false),
            (304, true, false),
            (200, true, true),
            (200, false, true)
        ]
    );
    assert!(recent[0]["at"]
        .as_str()
        .is_some_and(|at| at.ends_with("UTC")));
    assert_eq!(recent[3]["number"], 4);

    assert_eq!(
        requests(&app, "never-asked").json["requests"],
        0,
        "an unknown name has nothing yet"
    );
}

#[test]
fn a_learner_who_says_who_they_are_is_recorded() {
    let app = TestApp::new();
    let lab = app
        .client
        .rocket()
        .state::<cachelab::lab::Lab>()
        .expect("the app manages its lab");
    let ada = cachelab::workshop::LearnerName::parse("ada").expect("a usable name");
    let credential = lab.workshop().claim(&ada).to_string();

    let refused = get_with(&app, &resource("mine"), &[("X-Learner", "ada:wrong-key")]);
    assert_eq!(refused.status, Status::Forbidden);
    get_with(
        &app,
        &resource("mine"),
        &[("X-Learner", credential.as_str())],
    );
    app.get(&resource("mine"));

    let log = requests(&app, "mine").json;
    assert_eq!(log["requests"], 2, "the refused request was not answered");
    assert_eq!(log["recent"][0]["learner"], "ada");
    assert_eq!(log["recent"][1]["learner"], serde_json::Value::Null);
}

#[test]
fn the_count_of_names_and_of_recent_requests_is_bounded() {
    let app = TestApp::new();
    for _ in 0..25 {
        app.get(&resource("busy"));
    }
    let busy = requests(&app, "busy").json;
    assert_eq!(busy["requests"], 25);
    assert_eq!(busy["recent"].as_array().map(Vec::len), Some(20));
    assert_eq!(busy["recent"][19]["number"], 25, "the latest are kept");

    for index in 0..cachelab::http_lab::MAX_RESOURCES {
        app.get(&resource(&format!("flood-{index}")));
    }
    assert_eq!(
        requests(&app, "busy").json["requests"],
        0,
        "the least recently used name was forgotten"
    );
    let last = format!("flood-{}", cachelab::http_lab::MAX_RESOURCES - 1);
    assert_eq!(requests(&app, &last).json["requests"], 1);
}

#[test]
fn slow_is_accepted_up_to_its_limit() {
    let app = TestApp::new();
    let answer = app.get(&format!("{}?slow=1&cc=no-store", resource("slow")));
    assert_eq!(answer.status, Status::Ok);
    assert_eq!(answer.header("Cache-Control"), Some("no-store"));
}

/// The `data-resource` the page's form names.
fn page_resource(page: &Answer) -> String {
    let start = page
        .body
        .find("data-resource=\"")
        .map(|at| at + "data-resource=\"".len())
        .expect("the form names its resource");
    let end = page.body[start..].find('"').expect("a closing quote") + start;
    page.body[start..end].to_owned()
}

#[test]
fn the_page_gives_each_visit_its_own_resource_and_its_commands() {
    let app = TestApp::new();
    let page = get_with(
        &app,
        "/http-cache",
        &[("Accept", "text/html"), ("Host", "lab.example:9000")],
    );
    assert_eq!(page.status, Status::Ok);
    assert!(page
        .header("Content-Type")
        .is_some_and(|content_type| content_type.starts_with("text/html")));
    assert!(
        page.body
            .contains(r#"<a href="/http-cache" aria-current="page">HTTP cache</a>"#),
        "the nav links to the page and marks it current"
    );
    // The page's own script, at its content-hashed address.
    let script_url = page
        .body
        .split("<script src=\"")
        .filter_map(|rest| rest.split('"').next())
        .find(|src| src.starts_with("/static/http-cache.") && src.ends_with(".js"))
        .expect("the page links its script")
        .to_owned();
    assert!(!page.body.contains("<script>"), "no inline script");

    let name = page_resource(&page);
    assert!(name.starts_with("lab-"), "{name}");
    // Tera escapes '/' as "&#x2F;", which the browser shows as '/'.
    assert!(
        page.body.replace("&#x2F;", "/").contains(&format!(
            "curl -i -H 'Accept-Language: fr' \
             'http://lab.example:9000/http-cache/resource/{name}?vary=Accept-Language'"
        )),
        "the curl commands name the host and the page's own resource"
    );
    assert_eq!(app.get(&resource(&name)).status, Status::Ok, "a valid name");

    let again = get_with(&app, "/http-cache", &[("Accept", "text/html")]);
    assert_ne!(
        page_resource(&again),
        name,
        "another visit, another resource"
    );

    let script = app.get(&script_url);
    assert_eq!(script.status, Status::Ok);
    assert!(script.body.contains("PerformanceResourceTiming"));
}
