//! Bad input gets a clear 4xx in JSON, never a 5xx, and the app stays healthy.

use rocket::http::{ContentType, Header, Status};

use crate::helpers::{Answer, TestApp};

#[test]
fn bad_factorial_arguments_are_refused_with_the_limit_named() {
    let app = TestApp::new();
    let cases = [
        ("-1", "negative"),
        ("abc", "not a whole number"),
        ("1.5", "not a whole number"),
        ("1e3", "not a whole number"),
        ("%20", "not a whole number"),
        ("10001", "larger than"),
        ("18446744073709551616", "larger than"),
        ("99999999999999999999999999999", "larger than"),
    ];
    for (raw, says) in cases {
        let answer = app.get(&format!("/factorial/{raw}"));
        assert_eq!(answer.status, Status::BadRequest, "{raw}");
        let error = answer.json["error"].as_str().unwrap_or_default();
        assert!(error.contains(says), "{raw}: {error}");
        let accepted = answer.json["accepted"].as_str().unwrap_or_default();
        assert!(accepted.contains("0 to 10000"), "{raw}: {accepted}");
    }
    app.assert_healthy();
}

/// A refused body: its name, content type, bytes, expected status and a phrase of the message.
type BadBody = (
    &'static str,
    Option<ContentType>,
    Vec<u8>,
    Status,
    &'static str,
);

fn post_raw(app: &TestApp, content_type: Option<ContentType>, body: Vec<u8>) -> Answer {
    let mut request = app.client.post("/data").body(body);
    if let Some(content_type) = content_type {
        request = request.header(content_type);
    }
    Answer::from(request.dispatch())
}

#[test]
fn bad_bodies_are_refused_with_a_reason() {
    let app = TestApp::new();
    let json = Some(ContentType::JSON);
    let too_large = format!("[\"{}\"]", "x".repeat(1024 * 1024 + 1));
    let too_deep = "[".repeat(100_000) + &"]".repeat(100_000);
    let cases: Vec<BadBody> = vec![
        (
            "broken JSON",
            json.clone(),
            b"{\"a\":".to_vec(),
            Status::BadRequest,
            "not valid JSON",
        ),
        (
            "trailing text",
            json.clone(),
            b"{} {}".to_vec(),
            Status::BadRequest,
            "not valid JSON",
        ),
        (
            "empty body",
            json.clone(),
            Vec::new(),
            Status::BadRequest,
            "empty",
        ),
        (
            "invalid UTF-8",
            json.clone(),
            vec![b'"', 0xff, 0xfe, b'"'],
            Status::BadRequest,
            "not valid JSON",
        ),
        (
            "plain text",
            Some(ContentType::Plain),
            b"{}".to_vec(),
            Status::UnsupportedMediaType,
            "Content-Type",
        ),
        (
            "form",
            Some(ContentType::Form),
            b"a=1".to_vec(),
            Status::UnsupportedMediaType,
            "Content-Type",
        ),
        (
            "no content type",
            None,
            b"{}".to_vec(),
            Status::UnsupportedMediaType,
            "Content-Type",
        ),
        (
            "over 1 MiB",
            json.clone(),
            too_large.into_bytes(),
            Status::PayloadTooLarge,
            "too large",
        ),
        (
            "a key named twice",
            json.clone(),
            br#"{"a":1,"a":2}"#.to_vec(),
            Status::BadRequest,
            "names the key \"a\" twice",
        ),
        (
            "an exponent beyond an i64",
            json.clone(),
            b"[1e9223372036854775808]".to_vec(),
            Status::BadRequest,
            "a limit of this app",
        ),
        (
            "absurd nesting",
            json.clone(),
            too_deep.into_bytes(),
            Status::BadRequest,
            "nests too deeply",
        ),
    ];
    for (name, content_type, body, status, says) in cases {
        let answer = post_raw(&app, content_type, body);
        assert_eq!(answer.status, status, "{name}");
        assert_eq!(answer.json["status"], status.code, "{name}");
        let error = answer.json["error"].as_str().unwrap_or_default();
        assert!(error.contains(says), "{name}: {error}");
    }
    assert_eq!(
        app.stats()["disk"]["entries"],
        0,
        "nothing refused was stored"
    );
    app.assert_healthy();
}

#[test]
fn a_json_subtype_is_accepted() {
    let app = TestApp::new();
    let vendor = ContentType::new("application", "vnd.cachelab+json");
    let answer = post_raw(&app, Some(vendor), b"{\"v\":1}".to_vec());
    assert_eq!(answer.status, Status::Ok);
}

#[test]
fn unknown_routes_answer_404_in_json() {
    let app = TestApp::new();
    for uri in ["/nope", "/factorial", "/factorial/1/2", "/data/a/b"] {
        let answer = app.get(uri);
        assert_eq!(answer.status, Status::NotFound, "{uri}");
        assert!(
            answer.json["error"]
                .as_str()
                .unwrap_or_default()
                .contains(uri),
            "{uri}"
        );
    }
    let answer = Answer::from(
        app.client
            .put("/data")
            .header(Header::new("Accept", "application/json"))
            .dispatch(),
    );
    assert_eq!(answer.status, Status::NotFound);
    app.assert_healthy();
}
