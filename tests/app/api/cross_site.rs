//! Another web site cannot change anything here through a visitor's
//! browser; this app's own pages and curl can. Pages carry the headers that
//! protect them.

use rocket::http::{ContentType, Header, Method, Status};

use crate::helpers::TestApp;

/// Every route that changes something, as the app itself lists them.
fn state_changing_routes(app: &TestApp) -> Vec<(Method, String)> {
    let routes: Vec<(Method, String)> = app
        .client
        .rocket()
        .routes()
        .filter(|route| matches!(route.method, Method::Post | Method::Delete | Method::Put))
        .map(|route| (route.method, with_sample_segments(route.uri.path())))
        .collect();
    assert!(routes.len() >= 10, "{routes:?}");
    routes
}

/// A route's path with each `<parameter>` segment given a plain value.
fn with_sample_segments(path: &str) -> String {
    path.split('/')
        .map(|segment| {
            if segment.starts_with('<') {
                "sample"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn send(app: &TestApp, method: Method, path: &str, headers: &[(&str, &str)]) -> Status {
    let mut request = app
        .client
        .req(method, path.to_owned())
        .header(ContentType::Form)
        .body("name=mallory&body=%7B%7D&miss_ms=1&hit_ms=1");
    for (name, value) in headers {
        request = request.header(Header::new(name.to_string(), value.to_string()));
    }
    request.dispatch().status()
}

#[test]
fn every_state_changing_route_refuses_a_request_from_another_site() {
    let app = TestApp::new();
    for (method, path) in state_changing_routes(&app) {
        for headers in [
            &[("Sec-Fetch-Site", "cross-site")][..],
            &[("Sec-Fetch-Site", "same-site")][..],
            &[
                ("Origin", "http://evil.example"),
                ("Host", "127.0.0.1:8000"),
            ][..],
            &[("Origin", "null"), ("Host", "127.0.0.1:8000")][..],
        ] {
            assert_eq!(
                send(&app, method, &path, headers),
                Status::Forbidden,
                "{method} {path} with {headers:?}"
            );
        }
    }
}

#[test]
fn own_pages_and_curl_still_change_state() {
    let app = TestApp::new();
    for (method, path) in state_changing_routes(&app) {
        for headers in [
            &[][..],
            &[("Sec-Fetch-Site", "same-origin")][..],
            &[("Sec-Fetch-Site", "none")][..],
            &[
                ("Origin", "http://127.0.0.1:8000"),
                ("Host", "127.0.0.1:8000"),
            ][..],
        ] {
            assert_ne!(
                send(&app, method, &path, headers),
                Status::Forbidden,
                "{method} {path} with {headers:?}"
            );
        }
    }
}

#[test]
fn a_cross_site_text_plain_clear_changes_nothing_and_says_why() {
    let app = TestApp::new();
    app.post_json("/data", r#"{"kept":true}"#);
    app.get("/factorial/5");
    let refused = app
        .client
        .post("/clear-cache")
        .header(ContentType::Plain)
        .header(Header::new("Origin", "http://evil.example"))
        .header(Header::new("Host", "localhost:8000"))
        .body("x")
        .dispatch();
    assert_eq!(refused.status(), Status::Forbidden);
    let body = refused.into_string().unwrap_or_default();
    assert!(body.contains("another web page"), "{body}");
    assert!(body.contains("evil.example"), "{body}");
    let stats = app.stats();
    assert_eq!(stats["disk"]["entries"], 1, "nothing was cleared");
    assert!(stats["memory"]["entries"].as_u64().unwrap_or(0) > 0);
    // A browser asking for a page gets one.
    let page = app
        .client
        .post("/disk/clear")
        .header(Header::new("Accept", "text/html"))
        .header(Header::new("Sec-Fetch-Site", "cross-site"))
        .dispatch();
    assert_eq!(page.status(), Status::Forbidden);
    assert!(page.into_string().unwrap_or_default().contains("<html"));
}

#[test]
fn pages_carry_a_content_security_policy_and_referrer_policy_and_json_does_not() {
    let app = TestApp::new();
    for page in ["/", "/memory", "/disk", "/dashboard", "/exercises"] {
        let answer = app.get(page);
        let policy = answer.header("Content-Security-Policy").unwrap_or("");
        assert!(policy.contains("script-src 'self'"), "{page}: {policy}");
        assert!(
            policy.contains("frame-ancestors 'none'"),
            "{page}: {policy}"
        );
        assert_eq!(
            answer.header("Referrer-Policy"),
            Some("same-origin"),
            "{page}"
        );
    }
    let hit = app.get("/factorial/5");
    assert_eq!(hit.header("Content-Security-Policy"), None);
    assert_eq!(hit.header("Referrer-Policy"), None);
}

/// Without `Cache-Control` a browser may reuse a page or an answer for a
/// lifetime it guesses (RFC 9111 §4.2.2); every page says how it may be
/// kept (the API's answers: `api::validators`).
#[test]
fn pages_are_revalidated() {
    let app = TestApp::new();
    // The first page hands this browser its learner cookie, which makes that
    // one answer private (tests/app/cache_control.rs has every route's).
    app.get("/");
    for page in ["/", "/memory?n=5", "/disk", "/dashboard", "/timing"] {
        let answer = app.get(page);
        assert_eq!(answer.header("Cache-Control"), Some("no-cache"), "{page}");
    }
    assert_eq!(
        app.get("/exercises").header("Cache-Control"),
        Some("private, no-cache")
    );
}

#[test]
fn the_learner_cookie_is_http_only_and_same_site() {
    let app = TestApp::new();
    let page = app.client.get("/exercises").dispatch();
    let cookie = page
        .headers()
        .get("Set-Cookie")
        .find(|value| value.starts_with("cachelab_learner="))
        .map(str::to_owned)
        .expect("a learner cookie");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
}

#[test]
fn a_refused_name_is_not_echoed_whole_into_a_cookie() {
    let app = TestApp::new();
    app.client.get("/exercises").dispatch();
    let huge = "x".repeat(300_000);
    let answer = app
        .client
        .post("/exercises/name")
        .header(ContentType::Form)
        .body(format!("name={huge}!"))
        .dispatch();
    let longest = answer
        .headers()
        .get("Set-Cookie")
        .map(str::len)
        .max()
        .unwrap_or(0);
    assert!(longest < 512, "a Set-Cookie of {longest} bytes");
}
