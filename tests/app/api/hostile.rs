//! Nasty requests through the app's own router: every one is refused with a
//! 4xx (or, where it is valid JSON after all, answered exactly), nothing
//! refused is stored, and the app stays healthy.

use rocket::http::{ContentType, Header, Status};

use crate::helpers::{Answer, TestApp};

const TEN_MB: usize = 10 * 1024 * 1024;

fn post(app: &TestApp, content_type: ContentType, body: Vec<u8>) -> Answer {
    Answer::from(
        app.client
            .post("/data")
            .header(content_type)
            .body(body)
            .dispatch(),
    )
}

#[test]
fn hostile_bodies_are_refused_with_4xx() {
    let app = TestApp::new();
    let nested_objects = "{\"a\":".repeat(200) + "1" + &"}".repeat(200);
    let cases: Vec<(&str, ContentType, Vec<u8>, Status)> = vec![
        (
            "10 MB of JSON",
            ContentType::JSON,
            format!("[\"{}\"]", "x".repeat(TEN_MB)).into_bytes(),
            Status::PayloadTooLarge,
        ),
        (
            "10 MB of zero bytes",
            ContentType::JSON,
            vec![0; TEN_MB],
            Status::PayloadTooLarge,
        ),
        (
            "10 MB sent as text",
            ContentType::Plain,
            vec![b'a'; TEN_MB],
            Status::UnsupportedMediaType,
        ),
        (
            "200 nested objects",
            ContentType::JSON,
            nested_objects.into_bytes(),
            Status::BadRequest,
        ),
        (
            "invalid UTF-8",
            ContentType::JSON,
            b"{\"a\":\"\xc3\x28\"}".to_vec(),
            Status::BadRequest,
        ),
        (
            "overlong UTF-8",
            ContentType::JSON,
            b"\"\xc0\xaf\"".to_vec(),
            Status::BadRequest,
        ),
        (
            "a lone surrogate escape",
            ContentType::JSON,
            br#""\udc00""#.to_vec(),
            Status::BadRequest,
        ),
        (
            "a byte-order mark",
            ContentType::JSON,
            b"\xef\xbb\xbf{}".to_vec(),
            Status::BadRequest,
        ),
        (
            "a raw NUL in a string",
            ContentType::JSON,
            b"\"a\x00b\"".to_vec(),
            Status::BadRequest,
        ),
        (
            "an exponent beyond what the app holds",
            ContentType::JSON,
            b"1e99999999999999999999".to_vec(),
            Status::BadRequest,
        ),
        (
            "a key named twice",
            ContentType::JSON,
            br#"{"a":1,"a":2}"#.to_vec(),
            Status::BadRequest,
        ),
        (
            "NaN",
            ContentType::JSON,
            b"NaN".to_vec(),
            Status::BadRequest,
        ),
        (
            "a single quote string",
            ContentType::JSON,
            b"'a'".to_vec(),
            Status::BadRequest,
        ),
        (
            "a comment",
            ContentType::JSON,
            b"{} // hi".to_vec(),
            Status::BadRequest,
        ),
    ];
    for (name, content_type, body, status) in cases {
        let answer = post(&app, content_type, body);
        assert_eq!(answer.status, status, "{name}: {}", answer.body);
        assert_eq!(
            answer.json["status"], status.code,
            "{name}: JSON error body"
        );
    }
    assert_eq!(app.disk_stat("entries"), 0, "nothing refused was stored");
    app.assert_healthy();
}

#[test]
fn unicode_edge_cases_are_answered_exactly() {
    let app = TestApp::new();
    let cases = [
        ("an escaped NUL", r#"{"a":"\u0000"}"#, r#"{"a":"\u0000"}"#),
        ("a crab key", r#"{"🦀":1}"#, r#"{"🦀":1}"#),
        ("an escaped surrogate pair", r#""\ud83e\udd80""#, r#""🦀""#),
        (
            "a right-to-left override",
            "\"\u{202e}abc\"",
            "\"\u{202e}abc\"",
        ),
        ("a noncharacter", "\"\u{ffff}\"", "\"\u{ffff}\""),
        (
            "127 levels of nesting",
            &("[".repeat(127) + &"]".repeat(127)),
            &("[".repeat(127) + &"]".repeat(127)),
        ),
        (
            "a number beyond a double's range, every digit kept",
            "[1e400, 1.00000000000000000000000000000001]",
            "[1e+400,1.00000000000000000000000000000001]",
        ),
    ];
    for (name, sent, canonical) in cases {
        let answer = post(&app, ContentType::JSON, sent.as_bytes().to_vec());
        assert_eq!(answer.status, Status::Ok, "{name}: {}", answer.body);
        assert_eq!(answer.body, canonical, "{name}");
        let again = post(&app, ContentType::JSON, sent.as_bytes().to_vec());
        assert_eq!(
            (again.x_cache(), again.body.as_str()),
            ("HIT", canonical),
            "{name}"
        );
    }
    // No Unicode normalization: the composed and decomposed é are two values.
    let composed = post(&app, ContentType::JSON, "\"\u{e9}\"".as_bytes().to_vec());
    let decomposed = post(&app, ContentType::JSON, "\"e\u{301}\"".as_bytes().to_vec());
    assert_ne!(
        composed.header("X-Cache-Key"),
        decomposed.header("X-Cache-Key")
    );
}

#[test]
fn path_tricks_get_4xx_and_never_a_file() {
    let app = TestApp::new();
    let paths = [
        "/static/../Cargo.toml",
        "/static/%2e%2e/Cargo.toml",
        "/static/..%2fCargo.toml",
        "/static/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "/static/....//Cargo.toml",
        "/../../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/factorial/..%2f..%2fetc%2fpasswd",
        "/factorial/1%00",
        "/factorial/%00",
        "/%00",
        "/factorial/%ff",
        "/factorial/%F0%9F%A6%80",
        "/factorial/\u{0661}\u{0662}",
        "/factorial/\u{ff11}\u{ff12}",
        "/factorial/%2B%2B1",
        "/factorial/1%2F2",
    ];
    for path in paths {
        let answer = app.get(path);
        assert!(
            answer.status.class().is_client_error(),
            "{path}: {}",
            answer.status
        );
        assert!(
            !answer.body.contains("[package]"),
            "{path} leaked Cargo.toml"
        );
        assert!(!answer.body.contains("root:"), "{path} leaked /etc/passwd");
    }
    app.assert_healthy();
}

#[test]
fn oversized_and_odd_headers_do_not_break_a_request() {
    let app = TestApp::new();
    let answer = Answer::from(
        app.client
            .get("/factorial/5")
            .header(Header::new("X-Huge", "h".repeat(1024 * 1024)))
            .header(Header::new("X-Unicode", "\u{202e}🦀"))
            .header(Header::new("Accept", "*/*, application/json;q=0.\u{0}"))
            .dispatch(),
    );
    assert_eq!(answer.status, Status::Ok);
    assert_eq!(answer.json["factorial"], "120");
    let answer = Answer::from(
        app.client
            .post("/data")
            .header(Header::new(
                "Content-Type",
                "application/json; charset=\u{ff}",
            ))
            .body("{}")
            .dispatch(),
    );
    assert!(answer.status.code < 500, "{}", answer.status);
    app.assert_healthy();
}
