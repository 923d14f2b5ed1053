//! How each answer may be kept by a browser or a proxy in between: every
//! page, every refusal, the redirects that answer forms, and the static
//! files at both of their addresses (the README's "How each answer may be
//! cached" table).

use rocket::http::{Accept, ContentType, Header, Method, Status};

use cachelab::http_cache::EntityTag;

use crate::helpers::{Answer, TestApp, INSTRUCTOR_KEY};

const HASHED: &str = "public, max-age=31536000, immutable";

/// A GET as a browser sends it, asking for HTML, with any extra headers.
fn browse(app: &TestApp, uri: &str, headers: &[(&str, &str)]) -> Answer {
    let mut request = app.client.get(uri.to_owned()).header(Accept::HTML);
    for (name, value) in headers {
        request = request.header(Header::new(name.to_string(), value.to_string()));
    }
    Answer::from(request.dispatch())
}

/// A GET as a script or curl sends it, asking for JSON.
fn fetch_json(app: &TestApp, uri: &str) -> Answer {
    Answer::from(
        app.client
            .get(uri.to_owned())
            .header(Accept::JSON)
            .dispatch(),
    )
}

fn cache_control(answer: &Answer) -> Option<&str> {
    answer.header("Cache-Control")
}

/// Every `href="/static/…"` and `src="/static/…"` on a page.
fn linked_static_urls(page: &str) -> Vec<String> {
    page.split("=\"/static/")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(|name| format!("/static/{name}"))
        .collect()
}

/// The linked address of `plain_name` (`style.css`): `/static/style.<hash>.css`.
fn linked_url_of(page: &str, plain_name: &str) -> String {
    let (stem, extension) = plain_name
        .rsplit_once('.')
        .expect("a name with an extension");
    linked_static_urls(page)
        .into_iter()
        .find(|url| {
            url.strip_prefix(&format!("/static/{stem}."))
                .and_then(|rest| rest.strip_suffix(&format!(".{extension}")))
                .is_some_and(is_name_hash)
        })
        .unwrap_or_else(|| panic!("{plain_name} is linked at a hashed address"))
}

fn is_name_hash(text: &str) -> bool {
    text.len() == 16
        && text
            .bytes()
            .all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte))
}

/// The file as it is in the repository's `static/`.
fn shipped(plain_name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("static")
        .join(plain_name);
    std::fs::read(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// The `X-Learner` value (`name:key`) of `name`, claimed as choosing a
/// name on the exercise page does.
fn as_learner(app: &TestApp, name: &str) -> (&'static str, String) {
    let workshop = app
        .client
        .rocket()
        .state::<cachelab::lab::Lab>()
        .expect("the app manages its lab")
        .workshop();
    let learner = cachelab::workshop::LearnerName::parse(name).expect("a usable name");
    ("X-Learner", workshop.claim(&learner).to_string())
}

#[test]
fn pages_everyone_sees_alike_are_checked_with_the_app_on_every_visit() {
    let app = TestApp::new();
    // The first page hands the browser its learner cookie: see below.
    browse(&app, "/", &[]);
    for uri in [
        "/",
        "/memory",
        "/memory?n=5",
        "/disk",
        "/dashboard",
        "/timing",
    ] {
        let page = browse(&app, uri, &[]);
        assert_eq!(page.status, Status::Ok, "{uri}");
        assert_eq!(page.header("Set-Cookie"), None, "{uri}");
        assert_eq!(cache_control(&page), Some("no-cache"), "{uri}");
    }
    let disk_answer = Answer::from(
        app.client
            .post("/disk")
            .header(ContentType::Form)
            .header(Accept::HTML)
            .body("body=%7B%22a%22%3A1%7D")
            .dispatch(),
    );
    assert_eq!(disk_answer.status, Status::Ok);
    assert!(disk_answer.body.contains("MISS"));
    assert_eq!(cache_control(&disk_answer), Some("no-cache"));
}

#[test]
fn a_page_that_hands_out_a_learners_key_is_kept_by_no_shared_cache() {
    for uri in ["/", "/memory", "/timing"] {
        let app = TestApp::new();
        let first = browse(&app, uri, &[]);
        let cookie = first.header("Set-Cookie").unwrap_or_default();
        assert!(cookie.starts_with("cachelab_learner="), "{uri}: {cookie}");
        assert_eq!(cache_control(&first), Some("private, no-cache"), "{uri}");
    }
}

#[test]
fn a_page_showing_a_one_time_message_is_private() {
    let app = TestApp::new();
    browse(&app, "/memory?n=4", &[]);
    let cleared = app
        .client
        .post("/memory/clear")
        .header(Accept::HTML)
        .dispatch();
    assert_eq!(cleared.status(), Status::SeeOther);
    drop(cleared);
    let page = browse(&app, "/memory", &[]);
    assert!(page.body.contains("memory cache cleared"));
    assert_eq!(cache_control(&page), Some("private, no-cache"));
}

#[test]
fn a_learners_own_pages_are_private_and_the_instructors_view_is_never_stored() {
    let app = TestApp::new();
    browse(&app, "/", &[]);
    let exercises = browse(&app, "/exercises", &[]);
    assert_eq!(exercises.status, Status::Ok);
    assert!(
        exercises.body.contains("X-Learner"),
        "the learner's own commands"
    );
    assert_eq!(cache_control(&exercises), Some("private, no-cache"));

    let ada = as_learner(&app, "ada");
    let mine = Answer::from(
        app.client
            .get("/exercises/me")
            .header(Header::new(ada.0, ada.1.clone()))
            .dispatch(),
    );
    assert_eq!(mine.status, Status::Ok);
    assert!(mine.body.contains("\"ada\""), "{}", mine.body);
    assert_eq!(cache_control(&mine), Some("private, no-cache"));

    let key = format!("?key={INSTRUCTOR_KEY}");
    let everyone = browse(&app, &format!("/exercises/progress{key}"), &[]);
    assert_eq!(everyone.status, Status::Ok);
    assert_eq!(cache_control(&everyone), Some("no-store"));
    let everyone_json = fetch_json(&app, &format!("/exercises/progress.json{key}"));
    assert_eq!(everyone_json.status, Status::Ok);
    assert_eq!(cache_control(&everyone_json), Some("no-store"));
}

#[test]
fn the_redirects_that_answer_forms_are_never_stored() {
    let app = TestApp::new();
    browse(&app, "/", &[]);
    for (uri, form) in [
        ("/memory/clear", ""),
        ("/disk/clear", ""),
        ("/dashboard/clear", ""),
        ("/exercises/name", "name=grace-hopper"),
    ] {
        let answer = Answer::from(
            app.client
                .post(uri)
                .header(ContentType::Form)
                .header(Accept::HTML)
                .body(form)
                .dispatch(),
        );
        assert_eq!(answer.status, Status::SeeOther, "{uri}");
        assert_eq!(cache_control(&answer), Some("no-store"), "{uri}");
    }
}

/// `path` with every `<parameter>` filled in with `5`, so that every route
/// can be asked for without knowing it.
fn filled_in(path: &str) -> String {
    path.split('/')
        .map(|segment| {
            if segment.starts_with('<') {
                "5"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Every route the app mounts but the JSON API's and the lab resource's
/// (which choose their own headers), asked as a browser and as a script would ask: whatever the
/// answer, it says how it may be kept. Routes added later are checked too.
#[test]
fn every_answer_but_the_json_apis_says_how_it_may_be_kept() {
    let app = TestApp::new();
    browse(&app, "/", &[]);
    let api_routes: Vec<(Method, String)> = cachelab::web::api::routes()
        .iter()
        .map(|route| (route.method, route.uri.path().to_string()))
        .collect();
    let routes: Vec<(Method, String)> = app
        .client
        .rocket()
        .routes()
        .map(|route| (route.method, route.uri.path().to_string()))
        .filter(|route| !api_routes.contains(route))
        // The lab's resource sends the policy the learner chose, none
        // included: that is its experiment (tests/app/http_cache_lab.rs).
        .filter(|(_, path)| path != "/http-cache/resource/<name>")
        .map(|(method, path)| (method, filled_in(&path)))
        .collect();
    assert!(routes.len() >= 15, "{routes:?}");
    for (method, path) in routes {
        for accept in [Accept::HTML, Accept::JSON] {
            let answer = Answer::from(
                app.client
                    .req(method, path.clone())
                    .header(accept.clone())
                    .header(ContentType::Form)
                    .body("body=%7B%7D&name=grace-hopper&miss_ms=1&hit_ms=1")
                    .dispatch(),
            );
            assert!(
                cache_control(&answer).is_some(),
                "{method} {path} ({accept}): {} without Cache-Control",
                answer.status
            );
        }
    }
}

/// A request the app refuses, and the status it refuses it with.
struct Refused {
    method: Method,
    uri: &'static str,
    content_type: Option<ContentType>,
    body: String,
    header: Option<(&'static str, &'static str)>,
    status: Status,
}

impl Refused {
    fn get(uri: &'static str, status: Status) -> Self {
        Self {
            method: Method::Get,
            uri,
            content_type: None,
            body: String::new(),
            header: None,
            status,
        }
    }

    fn post(uri: &'static str, content_type: ContentType, body: String, status: Status) -> Self {
        Self {
            method: Method::Post,
            content_type: Some(content_type),
            body,
            ..Self::get(uri, status)
        }
    }

    fn with_header(mut self, name: &'static str, value: &'static str) -> Self {
        self.header = Some((name, value));
        self
    }

    fn send(&self, app: &TestApp, accept: Accept) -> Answer {
        let mut request = app
            .client
            .req(self.method, self.uri)
            .header(accept)
            .body(self.body.clone());
        if let Some(content_type) = &self.content_type {
            request = request.header(content_type.clone());
        }
        if let Some((name, value)) = self.header {
            request = request.header(Header::new(name, value));
        }
        Answer::from(request.dispatch())
    }
}

#[test]
fn every_refusal_is_never_stored_as_a_page_or_as_json() {
    let app = TestApp::new();
    let too_large = format!("[{}0]", "0,".repeat(600_000));
    let cases = [
        // First, before a page gives this client a learner cookie.
        Refused::get("/exercises/me", Status::BadRequest),
        Refused::get("/no-such-page", Status::NotFound),
        Refused::get("/favicon.ico", Status::NotFound),
        Refused::get("/factorial/-1", Status::BadRequest),
        Refused::get("/clear-cache", Status::MethodNotAllowed),
        Refused::get("/exercises/progress", Status::Forbidden),
        Refused::post(
            "/data",
            ContentType::Plain,
            "{}".into(),
            Status::UnsupportedMediaType,
        ),
        Refused::post(
            "/data",
            ContentType::JSON,
            too_large,
            Status::PayloadTooLarge,
        ),
        Refused::post(
            "/disk",
            ContentType::Form,
            "nothing=1".into(),
            Status::UnprocessableEntity,
        ),
        Refused::post(
            "/memory/clear",
            ContentType::Form,
            String::new(),
            Status::Forbidden,
        )
        .with_header("Sec-Fetch-Site", "cross-site"),
    ];
    for case in cases {
        for accept in [Accept::HTML, Accept::JSON] {
            let answer = case.send(&app, accept.clone());
            let request = format!("{} {} ({accept})", case.method, case.uri);
            assert_eq!(answer.status, case.status, "{request}");
            assert_eq!(cache_control(&answer), Some("no-store"), "{request}");
        }
    }
}

#[test]
fn a_missing_page_is_a_page_for_browsers_and_json_for_scripts_both_never_stored() {
    let app = TestApp::new();
    let page = browse(&app, "/no-such-page", &[]);
    assert_eq!(
        page.header("Content-Type"),
        Some("text/html; charset=utf-8")
    );
    assert!(page.body.contains("<h1>404 · Not Found</h1>"));
    assert_eq!(cache_control(&page), Some("no-store"));

    let json = fetch_json(&app, "/no-such-page");
    assert_eq!(json.header("Content-Type"), Some("application/json"));
    assert_eq!(json.json["status"], 404);
    assert_eq!(cache_control(&json), Some("no-store"));
}

#[test]
fn pages_and_error_pages_link_their_static_files_at_hashed_addresses_kept_for_a_year() {
    let app = TestApp::new();
    let overview = browse(&app, "/", &[]);
    let error_page = browse(&app, "/no-such-page", &[]);
    for (plain_name, content_type) in [
        ("style.css", "text/css; charset=utf-8"),
        ("lab.js", "text/javascript"),
        ("favicon.svg", "image/svg+xml"),
    ] {
        let url = linked_url_of(&overview.body, plain_name);
        assert_eq!(
            linked_url_of(&error_page.body, plain_name),
            url,
            "the error page links the same address"
        );
        let answer = app.get(&url);
        assert_eq!(answer.status, Status::Ok, "{url}");
        assert_eq!(answer.header("Content-Type"), Some(content_type), "{url}");
        assert_eq!(cache_control(&answer), Some(HASHED), "{url}");
        assert_eq!(answer.body.as_bytes(), shipped(plain_name), "{url}");
        assert_eq!(
            answer.header("ETag"),
            Some(
                EntityTag::of_bytes(&shipped(plain_name))
                    .to_string()
                    .as_str()
            ),
            "{url}"
        );
    }
    assert_eq!(linked_static_urls(&overview.body).len(), 3);
}

#[test]
fn the_pages_policy_allows_the_static_files_at_their_hashed_addresses() {
    let app = TestApp::new();
    let page = browse(&app, "/", &[]);
    let policy = page
        .header("Content-Security-Policy")
        .expect("a page carries its policy");
    for directive in ["style-src 'self'", "script-src 'self'", "img-src 'self'"] {
        assert!(policy.contains(directive), "{policy}");
    }
    // 'self' covers them because they are on this app's own origin: a path,
    // not another host's address.
    for url in linked_static_urls(&page.body) {
        assert!(
            url.starts_with("/static/") && !url.starts_with("//"),
            "{url}"
        );
    }
}

#[test]
fn an_older_address_is_a_404_that_no_cache_keeps_never_the_current_file() {
    let app = TestApp::new();
    let overview = browse(&app, "/", &[]);
    let current = linked_url_of(&overview.body, "style.css");
    let older = "/static/style.0123456789abcdef.css";
    assert_ne!(current, older);
    let stylesheet = String::from_utf8(shipped("style.css")).expect("UTF-8 CSS");

    let json = fetch_json(&app, older);
    assert_eq!(json.status, Status::NotFound);
    assert_eq!(cache_control(&json), Some("no-store"));
    assert!(
        !json.body.contains(&stylesheet[..200]),
        "not the current file"
    );
    assert!(
        json.json["accepted"]
            .as_str()
            .is_some_and(|accepted| accepted.contains(&current)),
        "{}",
        json.body
    );

    let page = browse(&app, older, &[]);
    assert_eq!(page.status, Status::NotFound);
    assert_eq!(cache_control(&page), Some("no-store"));
    assert!(
        // Tera writes `/` as `&#x2F;` in a page.
        page.body
            .replace("&#x2F;", "/")
            .contains("is not the current version of /static/style.css"),
        "{}",
        page.body
    );

    let unknown = fetch_json(&app, "/static/nothing.css");
    assert_eq!(unknown.status, Status::NotFound);
    assert_eq!(cache_control(&unknown), Some("no-store"));
}

#[test]
fn the_plain_address_is_checked_each_time_and_an_unchanged_copy_gets_a_304() {
    let app = TestApp::new();
    let current_tag = EntityTag::of_bytes(&shipped("style.css")).to_string();

    let full = app.get("/static/style.css");
    assert_eq!(full.status, Status::Ok);
    assert_eq!(cache_control(&full), Some("no-cache"));
    assert_eq!(full.header("ETag"), Some(current_tag.as_str()));
    assert_eq!(full.header("Content-Type"), Some("text/css; charset=utf-8"));
    assert_eq!(full.body.as_bytes(), shipped("style.css"));

    for if_none_match in [
        current_tag.clone(),
        format!("W/{current_tag}"),
        format!("\"sha256-older\", {current_tag}"),
        "*".to_owned(),
    ] {
        let revalidated = Answer::from(
            app.client
                .get("/static/style.css")
                .header(Header::new("If-None-Match", if_none_match.clone()))
                .dispatch(),
        );
        assert_eq!(revalidated.status, Status::NotModified, "{if_none_match}");
        assert!(revalidated.body.is_empty(), "{if_none_match}");
        assert_eq!(cache_control(&revalidated), Some("no-cache"));
        assert_eq!(revalidated.header("ETag"), Some(current_tag.as_str()));
    }

    for if_none_match in ["\"sha256-older\"", "not a tag"] {
        let changed = Answer::from(
            app.client
                .get("/static/style.css")
                .header(Header::new("If-None-Match", if_none_match))
                .dispatch(),
        );
        assert_eq!(changed.status, Status::Ok, "{if_none_match}");
        assert_eq!(changed.body.as_bytes(), shipped("style.css"));
    }
}

#[test]
fn a_head_request_for_a_static_file_gets_its_headers_without_the_bytes() {
    let app = TestApp::new();
    let overview = browse(&app, "/", &[]);
    let url = linked_url_of(&overview.body, "lab.js");
    let head = Answer::from(app.client.head(url.clone()).dispatch());
    assert_eq!(head.status, Status::Ok);
    assert_eq!(cache_control(&head), Some(HASHED));
    assert!(head.body.is_empty());
}
