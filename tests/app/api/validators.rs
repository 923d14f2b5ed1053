//! Revalidation of the API's answers (RFC 9110 §8.8.3, §13.1.2, §15.4.5):
//! a strong `ETag` on the answers that never change, `If-None-Match`
//! answered 304 with no body, HEAD, and `Cache-Control` on every route.

use rocket::http::{Header, Status};

use crate::api::memory::{cache_status, cache_status_params};
use crate::helpers::{sha256_hex, Answer, TestApp};

const FACTORIAL_20: &str = r#"{"number":20,"factorial":"2432902008176640000","digits":19}"#;
const STORED_BODY: &str = r#"{"b":[1,2],"a":"x"}"#;
const STORED_CANONICAL: &str = r#"{"a":"x","b":[1,2]}"#;
const DATE: &str = "Sun, 06 Nov 1994 08:49:37 GMT";

/// The strong tag the app promises for `body`: `"sha256-"` and the first
/// 32 hex digits of its SHA-256, worked out here independently.
fn tag_of(body: &str) -> String {
    format!("\"sha256-{}\"", &sha256_hex(body)[..32])
}

/// A GET with extra header lines, each sent as its own field line.
fn get_with(app: &TestApp, uri: &str, headers: &[(&str, &str)]) -> Answer {
    let mut request = app.client.get(uri.to_owned());
    for (name, value) in headers {
        request = request.header(Header::new(name.to_string(), value.to_string()));
    }
    Answer::from(request.dispatch())
}

/// An app holding 20! in memory and `STORED_BODY` on disk; returns the
/// URI of each.
fn app_with_both_answers() -> (TestApp, [String; 2]) {
    let app = TestApp::new();
    assert_eq!(app.get("/factorial/20").status, Status::Ok);
    let posted = app.post_json("/data", STORED_BODY);
    let key = posted.header("X-Cache-Key").expect("a key").to_owned();
    (app, ["/factorial/20".to_owned(), format!("/data/{key}")])
}

#[test]
fn every_api_route_says_how_it_may_be_kept() {
    let (app, [factorial, stored]) = app_with_both_answers();
    for revalidated in [app.get(&factorial), app.get(&stored)] {
        assert_eq!(revalidated.status, Status::Ok);
        assert_eq!(revalidated.header("Cache-Control"), Some("no-cache"));
    }
    let never_stored = [
        ("POST /data", app.post_json("/data", STORED_BODY)),
        ("GET /stats", app.get("/stats")),
        ("GET /health", app.get("/health")),
        (
            "POST /clear-cache?tier=memory",
            app.post("/clear-cache?tier=memory"),
        ),
        (
            "POST /clear-cache?tier=disk",
            app.post("/clear-cache?tier=disk"),
        ),
        ("POST /clear-cache", app.post("/clear-cache")),
        ("DELETE /cache/memory", app.delete("/cache/memory")),
        ("DELETE /cache/disk", app.delete("/cache/disk")),
    ];
    for (route, answer) in never_stored {
        assert_eq!(answer.status, Status::Ok, "{route}");
        assert_eq!(answer.header("Cache-Control"), Some("no-store"), "{route}");
        assert_eq!(answer.header("ETag"), None, "{route}");
    }
}

#[test]
fn the_factorial_body_is_the_value_alone_and_tagged_by_its_sha256() {
    let app = TestApp::new();
    let miss = app.get("/factorial/20");
    let hit = app.get("/factorial/20");
    assert_eq!((miss.x_cache(), hit.x_cache()), ("MISS", "HIT"));
    for answer in [&miss, &hit] {
        assert_eq!(answer.body, FACTORIAL_20);
        assert_eq!(answer.header("ETag"), Some(tag_of(FACTORIAL_20).as_str()));
    }
    // The tag `examples/floor` sends with these bytes.
    assert_eq!(
        hit.header("ETag"),
        Some("\"sha256-0f34a2871dadb447831820636e0da30a\"")
    );
    // A different n, a different tag.
    assert_ne!(app.get("/factorial/21").header("ETag"), hit.header("ETag"));
}

#[test]
fn tags_are_the_same_in_a_rebuilt_app_on_the_same_cache_dir() {
    let (app, [factorial, stored]) = app_with_both_answers();
    let before = [app.get(&factorial), app.get(&stored)];
    let app = app.restart();
    let after = [app.get(&factorial), app.get(&stored)];
    assert_eq!(after[0].x_cache(), "MISS", "memory starts empty");
    assert_eq!(after[1].x_cache(), "HIT", "the disk kept the answer");
    for (before, after) in before.iter().zip(&after) {
        assert_eq!(before.body, after.body);
        assert_eq!(before.header("ETag"), after.header("ETag"));
    }
    assert_eq!(
        after[1].header("ETag"),
        Some(tag_of(STORED_CANONICAL).as_str()),
        "the stored body's SHA-256"
    );
    assert_eq!(after[1].body, STORED_CANONICAL);
}

/// What a case is called, the header lines it sends, and the status due.
type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, Status);

/// Every form of `If-None-Match`, on both routes: which earn a 304.
#[test]
fn if_none_match_is_read_as_rfc_9110_says() {
    let (app, uris) = app_with_both_answers();
    for uri in &uris {
        let tag = app.get(uri).header("ETag").expect("an ETag").to_owned();
        let weak = format!("W/{tag}");
        let listed = format!("\"a\", {tag}, \"b\"");
        let listed_weak = format!("\"a\",{weak} ,\"b\"");
        let beside_junk = format!("{tag}, junk");
        let cases: [Case; 13] = [
            (
                "the tag itself",
                vec![("If-None-Match", &tag)],
                Status::NotModified,
            ),
            (
                "the tag, weak",
                vec![("If-None-Match", &weak)],
                Status::NotModified,
            ),
            (
                "in the middle of a list",
                vec![("If-None-Match", &listed)],
                Status::NotModified,
            ),
            (
                "weak, in a list",
                vec![("If-None-Match", &listed_weak)],
                Status::NotModified,
            ),
            ("*", vec![("If-None-Match", "*")], Status::NotModified),
            (
                "on a second field line",
                vec![("If-None-Match", "\"a\""), ("If-None-Match", &tag)],
                Status::NotModified,
            ),
            (
                "with If-Modified-Since too",
                vec![("If-None-Match", &tag), ("If-Modified-Since", DATE)],
                Status::NotModified,
            ),
            (
                "another tag",
                vec![("If-None-Match", "\"sha256-0\"")],
                Status::Ok,
            ),
            (
                "another tag, with an old If-Modified-Since, which it overrides",
                vec![("If-None-Match", "\"other\""), ("If-Modified-Since", DATE)],
                Status::Ok,
            ),
            (
                "malformed: unquoted",
                vec![("If-None-Match", tag.trim_matches('"'))],
                Status::Ok,
            ),
            (
                "malformed: a match beside junk",
                vec![("If-None-Match", &beside_junk)],
                Status::Ok,
            ),
            (
                "malformed: * beside a tag on another line",
                vec![("If-None-Match", "*"), ("If-None-Match", &tag)],
                Status::Ok,
            ),
            (
                "If-Modified-Since alone: there is no Last-Modified",
                vec![("If-Modified-Since", DATE)],
                Status::Ok,
            ),
        ];
        for (case, headers, expected) in cases {
            let answer = get_with(&app, uri, &headers);
            assert_eq!(answer.status, expected, "{uri}: {case}");
            if expected == Status::Ok {
                assert!(!answer.body.is_empty(), "{uri}: {case}");
                assert_eq!(answer.header("ETag"), Some(tag.as_str()), "{uri}: {case}");
            }
        }
    }
}

#[test]
fn a_304_has_no_body_and_the_headers_the_200_would_have_had() {
    let (app, uris) = app_with_both_answers();
    for (uri, tier) in uris.iter().zip(["cachelab-memory", "cachelab-disk"]) {
        let full = app.get(uri);
        let tag = full.header("ETag").expect("an ETag");
        let not_modified = get_with(&app, uri, &[("If-None-Match", tag)]);
        assert_eq!(not_modified.status, Status::NotModified, "{uri}");
        assert_eq!(
            cache_status(&not_modified),
            [(tier.to_owned(), vec![("hit".to_owned(), "?1".to_owned())])],
            "{uri}: the tier that answered, read with sfv"
        );
        assert_eq!(not_modified.body, "", "{uri}");
        for name in ["ETag", "Cache-Control", "X-Cache", "Cache-Status"] {
            assert_eq!(
                not_modified.header(name),
                full.header(name),
                "{uri}: {name}"
            );
        }
        let timing: Vec<String> = not_modified
            .server_timing()
            .into_iter()
            .map(|(metric, _)| metric)
            .collect();
        assert_eq!(timing, ["cache", "total"], "{uri}");
        assert_eq!(
            not_modified.header("Content-Type"),
            None,
            "{uri}: no body to type"
        );
        let mut names = full.header_names();
        names.retain(|name| *name != "content-type");
        assert_eq!(not_modified.header_names(), names, "{uri}");
    }
}

#[test]
fn a_304_still_asks_the_tier_and_says_truthfully_what_it_did() {
    let app = TestApp::new();
    let tag = app
        .get("/factorial/20")
        .header("ETag")
        .expect("an ETag")
        .to_owned();
    app.delete("/cache/memory");
    // The browser still holds 20!; the memory tier no longer does.
    let revalidated = get_with(&app, "/factorial/20", &[("If-None-Match", &tag)]);
    assert_eq!(revalidated.status, Status::NotModified);
    assert_eq!(revalidated.x_cache(), "MISS");
    assert_eq!(
        revalidated.header("X-Cache-Detail"),
        Some("computed 20 steps from 0! = 1")
    );
    assert_eq!(
        cache_status_params(&revalidated),
        [
            ("fwd".into(), "miss".into()),
            ("stored".into(), "?1".into())
        ]
    );
    let again = get_with(&app, "/factorial/20", &[("If-None-Match", &tag)]);
    assert_eq!(
        (again.status, again.x_cache()),
        (Status::NotModified, "HIT")
    );
    assert_eq!(cache_status_params(&again), [("hit".into(), "?1".into())]);
    assert_eq!(
        app.stats()["memory"]["computed"],
        40,
        "the miss did its work"
    );
}

#[test]
fn head_answers_what_get_would_without_the_body() {
    let (app, uris) = app_with_both_answers();
    for uri in &uris {
        let get = app.client.get(uri.clone()).dispatch();
        let get_length = get.body().preset_size();
        let get = Answer::from(get);
        let head = app.client.head(uri.clone()).dispatch();
        assert_eq!(head.status(), Status::Ok, "{uri}");
        // What Rocket writes as Content-Length: the GET body's length.
        assert_eq!(head.body().preset_size(), Some(get.body.len()), "{uri}");
        assert_eq!(get_length, Some(get.body.len()), "{uri}");
        let head = Answer::from(head);
        assert_eq!(head.body, "", "{uri}");
        assert_eq!(head.header_names(), get.header_names(), "{uri}");
        for name in [
            "Content-Type",
            "ETag",
            "Cache-Control",
            "X-Cache",
            "Cache-Status",
        ] {
            assert_eq!(head.header(name), get.header(name), "{uri}: {name}");
        }

        let tag = get.header("ETag").expect("an ETag");
        let conditional_head = Answer::from(
            app.client
                .head(uri.clone())
                .header(Header::new("If-None-Match", tag.to_owned()))
                .dispatch(),
        );
        assert_eq!(conditional_head.status, Status::NotModified, "{uri}");
    }
}

#[test]
fn answers_sent_as_304_are_counted_per_tier_and_shown() {
    let (app, [factorial, stored]) = app_with_both_answers();
    let memory_tag = app
        .get(&factorial)
        .header("ETag")
        .expect("a tag")
        .to_owned();
    let disk_tag = app.get(&stored).header("ETag").expect("a tag").to_owned();
    for _ in 0..2 {
        get_with(&app, &factorial, &[("If-None-Match", &memory_tag)]);
    }
    get_with(&app, &stored, &[("If-None-Match", &disk_tag)]);
    get_with(&app, &stored, &[("If-None-Match", "\"no match\"")]);

    let stats = app.stats();
    assert_eq!(stats["memory"]["not_modified"], 2);
    assert_eq!(stats["memory"]["hits"], 3, "a 304 is a hit too");
    assert_eq!(stats["disk"]["not_modified"], 1);
    assert_eq!(stats["disk"]["hits"], 3, "every GET /data/<key> was a hit");

    let dashboard = app.get("/dashboard");
    assert!(
        dashboard.body.contains("sent as 304 Not Modified"),
        "the request list says which answers were 304s"
    );
    assert!(
        dashboard.body.contains("id=\"memory-not-modified\">2<"),
        "the memory tier's count of 304s"
    );
    assert!(
        dashboard.body.contains("id=\"disk-not-modified\">1<"),
        "the disk tier's count of 304s"
    );
}
