//! The HTML pages, driven through Rocket's local client as a browser would:
//! status, what the learner reads, escaping, flash messages and error pages.

use rocket::http::{Accept, ContentType, Header, Status};

use crate::helpers::{self, sha256_hex, Answer, TestApp, INSTRUCTOR_KEY};

/// A GET as a browser sends it: asking for HTML.
fn browse(app: &TestApp, uri: &str) -> Answer {
    Answer::from(
        app.client
            .get(uri.to_owned())
            .header(Accept::HTML)
            .dispatch(),
    )
}

fn submit_form(app: &TestApp, uri: &str, form: &str) -> Answer {
    Answer::from(
        app.client
            .post(uri.to_owned())
            .header(ContentType::Form)
            .header(Accept::HTML)
            .body(form)
            .dispatch(),
    )
}

fn disk_form(json: &str) -> String {
    format!("body={}", urlencode(json))
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (byte as char).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

/// The text of the first `class="badge …"` on the page: HIT or MISS.
fn badge(page: &str) -> &str {
    let start = page.find("class=\"badge").expect("a HIT/MISS badge");
    let text = &page[start..];
    let open = text.find('>').expect("badge opens") + 1;
    let close = text.find("</span>").expect("badge closes");
    &text[open..close]
}

#[test]
fn every_page_renders_in_the_shared_layout() {
    let app = TestApp::new();
    for (uri, heading) in [
        ("/", "Caching, watched up close"),
        ("/memory", "Memory cache: factorials"),
        ("/disk", "Disk cache: JSON bodies"),
        ("/dashboard", "Dashboard"),
        ("/timing", "Reading cache timings over HTTP"),
    ] {
        let page = browse(&app, uri);
        assert_eq!(page.status, Status::Ok, "{uri}");
        assert_eq!(
            page.header("Content-Type"),
            Some("text/html; charset=utf-8"),
            "{uri}"
        );
        assert!(page.body.contains(&format!("<h1>{heading}</h1>")), "{uri}");
        assert!(
            page.body.contains("<nav aria-label=\"Main\">"),
            "{uri}: shared nav"
        );
        assert!(
            page.body.contains("aria-current=\"page\""),
            "{uri}: current page marked"
        );
        assert!(
            page.body
                .contains("<link rel=\"stylesheet\" href=\"/static/style."),
            "{uri}: stylesheet"
        );
    }
}

#[test]
fn the_overview_links_to_every_experiment() {
    let app = TestApp::new();
    let page = browse(&app, "/").body;
    for link in [
        "href=\"/memory\"",
        "href=\"/disk\"",
        "href=\"/dashboard\"",
        "href=\"/timing\"",
    ] {
        assert!(page.contains(link), "{link}");
    }
    assert!(page.contains("Memory cache</th>") && page.contains("Disk cache</th>"));
}

#[test]
fn the_overview_states_this_machines_figures_not_typical_ones() {
    let app = TestApp::new();
    let before = browse(&app, "/").body;
    assert!(before.contains("Not measured yet: compute something twice"));
    assert!(!before.contains("well under a millisecond"));

    browse(&app, "/memory?n=3");
    browse(&app, "/memory?n=3");
    let dashboard = browse(&app, "/dashboard").body;
    let took = dashboard
        .split("memory hit 3!: ")
        .nth(1)
        .and_then(|rest| rest.split(" in the cache").next())
        .expect("the dashboard lists the hit")
        .to_owned();
    let after = browse(&app, "/").body;
    assert!(
        after.contains(&format!("The last one here took {took} in the cache.")),
        "the overview shows the hit the chart shows: {took}"
    );
    if cfg!(target_os = "linux") {
        let ram = cachelab::machine::memory_bytes().expect("sysinfo answers");
        assert!(after.contains(&format!(
            "The machine running this app has {} of RAM.",
            cachelab::view::human_bytes(ram)
        )));
        assert!(after.contains("This cache may use 64 MiB of it"));
    }
}

#[test]
fn every_linked_asset_exists() {
    let app = TestApp::new();
    let page = browse(&app, "/").body;
    // Linked at their content-hashed addresses (tests/app/cache_control.rs).
    let linked: Vec<&str> = page
        .split("=\"/static/")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .collect();
    assert_eq!(linked.len(), 3, "{linked:?}");
    for (plain_name, extension) in [("style", "css"), ("lab", "js"), ("favicon", "svg")] {
        let asset = linked
            .iter()
            .find(|name| name.starts_with(plain_name) && name.ends_with(extension))
            .map(|name| format!("/static/{name}"))
            .unwrap_or_else(|| panic!("{plain_name}.{extension} is linked: {linked:?}"));
        let answer = app.get(&asset);
        assert_eq!(answer.status, Status::Ok, "{asset}");
        assert!(!answer.body.is_empty(), "{asset}");
    }
}

#[test]
fn the_memory_form_shows_a_miss_then_a_hit_and_the_cache_contents() {
    let app = TestApp::new();
    let first = browse(&app, "/memory?n=20");
    assert_eq!(first.status, Status::Ok);
    assert_eq!(badge(&first.body), "MISS");
    assert!(first.body.contains("2432902008176640000"));
    assert!(
        first.body.contains("value=\"20\""),
        "the learner's n stays in the form"
    );

    let second = browse(&app, "/memory?n=20");
    assert_eq!(badge(&second.body), "HIT");
    assert!(second.body.contains("20 of 100 places used"));
    assert!(second.body.contains("<li>20!</li>"));

    let larger = browse(&app, "/memory?n=25");
    assert_eq!(badge(&larger.body), "MISS");
    assert!(
        larger.body.contains("only 5 multiplications"),
        "{}",
        larger.body
    );
}

/// The memory page's "Things to try", done as written, show what it says.
#[test]
fn the_memory_pages_things_to_try_do_what_they_say() {
    let app = TestApp::with(|settings| {
        settings
            .merge(helpers::setting("factorial_delay_ms", 2))
            .merge(helpers::setting("factorial_delay_max_ms", 30))
    });
    let page = browse(&app, "/memory").body;
    // 20 steps of 2 ms, but no more than the 30 ms cap.
    assert!(
        page.contains("20 steps, so 30 ms of simulated wait"),
        "{page}"
    );
    assert!(page.contains("Compute 150. The cache holds only 100 entries"));

    let first = browse(&app, "/memory?n=20").body;
    assert_eq!(badge(&first), "MISS");
    assert!(first.contains("<dt>Simulated wait</dt><dd>30.0 ms</dd>"));
    assert!(
        first.contains("<dd id=\"compute-time\">"),
        "the real work, measured"
    );
    let again = browse(&app, "/memory?n=20").body;
    assert_eq!(badge(&again), "HIT");
    assert!(!again.contains("Simulated wait"), "a hit waits for nothing");

    let on_top = browse(&app, "/memory?n=25").body;
    assert_eq!(badge(&on_top), "MISS");
    assert!(on_top.contains("<dt>Steps computed</dt><dd>5</dd>"));
    browse(&app, "/memory?n=150");
    assert_eq!(badge(&browse(&app, "/memory?n=1").body), "MISS");
}

#[test]
fn the_memory_page_lists_entries_most_recent_first_and_marks_the_next_eviction() {
    let app = TestApp::with(|settings| settings.merge(helpers::setting("memory_capacity", 3)));
    browse(&app, "/memory?n=3");
    let page = browse(&app, "/memory?n=1").body;
    let order: Vec<usize> = ["<li>1!</li>", "<li>3!</li>", "<li class=\"next-out\">2!"]
        .iter()
        .map(|chip| page.find(chip).unwrap_or_else(|| panic!("{chip} listed")))
        .collect();
    assert!(
        order[0] < order[1] && order[1] < order[2],
        "most recent first"
    );
    assert!(
        page.contains("<li class=\"next-out\">2! <span class=\"chip-note\">next out</span></li>")
    );
}

#[test]
fn a_bad_n_is_explained_next_to_the_form_with_the_text_kept() {
    let app = TestApp::new();
    for (raw, says) in [
        ("abc", "not a whole number"),
        ("-1", "negative"),
        ("10001", "larger than"),
    ] {
        let page = browse(&app, &format!("/memory?n={raw}"));
        assert_eq!(page.status, Status::UnprocessableEntity, "{raw}");
        assert!(
            page.body.contains("class=\"error\" role=\"alert\""),
            "{raw}"
        );
        assert!(page.body.contains(says), "{raw}");
        assert!(
            page.body.contains(&format!("value=\"{raw}\"")),
            "{raw} kept"
        );
        assert!(
            page.body.contains("0 to 10000"),
            "{raw}: the limit is named"
        );
    }
}

#[test]
fn the_disk_form_shows_canonical_form_key_and_expiry() {
    let app = TestApp::new();
    let page = browse(&app, "/disk").body;
    assert!(
        page.contains("&quot;user&quot;: 42"),
        "an example body is offered"
    );

    let first = submit_form(
        &app,
        "/disk",
        &disk_form("{ \"b\": 1, \"a\": [true, null] }"),
    );
    assert_eq!(first.status, Status::Ok);
    assert_eq!(badge(&first.body), "MISS");
    let canonical = r#"{"a":[true,null],"b":1}"#;
    assert!(first
        .body
        .contains("{&quot;a&quot;:[true,null],&quot;b&quot;:1}"));
    assert!(first.body.contains(&sha256_hex(canonical)));
    assert!(first.body.contains("Expires at"));
    // An hour minus the few milliseconds the request took.
    assert!(
        first.body.contains("(in 1 h 0 min)") || first.body.contains("(in 59 min 59 s)"),
        "the default TTL is shown as time left"
    );

    assert!(
        !first.body.contains("id=\"hit-read\""),
        "a miss read nothing"
    );
    assert!(first
        .body
        .contains("so\n  far 0 of this app's 0 disk\n  hits did."));
    let second = submit_form(&app, "/disk", &disk_form(r#"{"a":[true,null],"b":1}"#));
    assert_eq!(badge(&second.body), "HIT");
    // Where the hit's bytes came from, as the read found it, not as usual.
    assert!(
        second
            .body
            .contains("<p id=\"hit-read\">The bytes came from the operating system's page cache")
            || second
                .body
                .contains("<p id=\"hit-read\">The bytes were read with an ordinary file read"),
        "{}",
        second.body
    );
    let from_page_cache = app.stats()["disk"]["page_cache_hits"].as_u64().unwrap_or(9);
    assert!(from_page_cache <= 1, "one hit so far");
    assert_eq!(
        second.body.contains("page cache, in RAM: the kernel"),
        from_page_cache == 1,
        "the counter and the hit's own report agree"
    );
    assert!(second.body.contains(&format!(
        "so\n  far {from_page_cache} of this app's 1 disk\n  hit did."
    )));
    if cfg!(target_os = "linux") {
        let block = cachelab::machine::file_system_of(&app.cache_dir())
            .expect("statvfs answers")
            .block_bytes;
        assert!(
            second.body.contains(&format!("{block} bytes each")),
            "the block size is measured"
        );
        let on_disk = app.stats()["disk"]["bytes_on_disk"].as_u64().unwrap_or(0);
        assert!(second.body.contains(&format!(
            "Right now the 1 stored\n    entry takes\n    {} on disk per entry",
            cachelab::view::human_bytes(on_disk)
        )));
    }
    assert!(second.body.contains("1 entry:"));
    assert!(second.body.contains("23 bytes\n    of answers"));
    let on_disk = app.stats()["disk"]["bytes_on_disk"]
        .as_u64()
        .expect("a number");
    assert!(
        second.body.contains(&format!(
            "<strong>{} on disk</strong>\n    ({on_disk} bytes, as <code>du</code> counts them)",
            cachelab::view::human_bytes(on_disk)
        )),
        "the footprint as du counts it, exact, in the text"
    );
}

/// Rows of the disk page's table of stored entries.
fn entry_rows(body: &str) -> usize {
    body.matches("<td><details class=\"key\">").count()
}

#[test]
fn the_disk_page_lists_the_newest_hundred_and_pages_through_the_rest() {
    let app = TestApp::new();
    for n in 0..150 {
        app.post_json("/data", &format!(r#"{{"n":{n}}}"#));
    }
    let first = app.get("/disk");
    assert_eq!(first.status, Status::Ok);
    assert_eq!(entry_rows(&first.body), 100);
    assert!(
        first.body.contains("entries 1–100 of 150"),
        "{}",
        first.body
    );
    assert!(first.body.contains("Page 1 of 2"));
    assert!(first
        .body
        .contains("rel=\"next\" href=\"/disk?key=&amp;page=2\""));

    let second = app.get("/disk?page=2");
    assert_eq!(entry_rows(&second.body), 50);
    assert!(second.body.contains("entries 101–150 of 150"));
    assert!(second.body.contains("rel=\"prev\""));

    let beyond = app.get("/disk?page=9");
    assert_eq!(beyond.status, Status::Ok);
    assert_eq!(entry_rows(&beyond.body), 0);
    assert!(beyond.body.contains("back to the newest"));
}

#[test]
fn the_disk_page_finds_a_key_by_its_first_digits_and_explains_a_bad_search() {
    let app = TestApp::new();
    for n in 0..20 {
        app.post_json("/data", &format!(r#"{{"n":{n}}}"#));
    }
    let key = sha256_hex(r#"{"n":7}"#);
    let found = app.get(&format!("/disk?key={}", &key[..6].to_uppercase()));
    assert_eq!(entry_rows(&found.body), 1, "{}", found.body);
    assert!(
        found
            .body
            .contains(&format!("</summary><code class=\"wrap\">{key}</code>")),
        "the whole key is a tap away, not only on hover"
    );
    assert!(!found.body.contains("title="));
    assert!(found
        .body
        .contains(&format!("whose key starts with <code>{}</code>", &key[..6])));

    let none = app.get("/disk?key=ffffffffffffffffffff");
    assert_eq!(entry_rows(&none.body), 0);
    assert!(none.body.contains("No stored key starts with"));

    let bad = app.get("/disk?key=%3Cscript%3E");
    assert_eq!(bad.status, Status::Ok);
    assert!(bad.body.contains("id=\"key-search-error\""));
    assert!(!bad.body.contains("<script>"));
    assert_eq!(entry_rows(&bad.body), 20, "every entry instead");
}

#[test]
fn invalid_json_is_explained_next_to_the_form_with_the_text_kept() {
    let app = TestApp::new();
    let page = submit_form(&app, "/disk", &disk_form("{\"a\": oops}"));
    assert_eq!(page.status, Status::UnprocessableEntity);
    assert!(page.body.contains("id=\"body-error\""));
    assert!(page.body.contains("not valid JSON"));
    assert!(
        page.body.contains("{&quot;a&quot;: oops}</textarea>"),
        "text kept"
    );
    assert_eq!(app.stats()["disk"]["entries"], 0);
}

#[test]
fn a_key_named_twice_is_explained_next_to_the_form_with_the_text_kept() {
    let app = TestApp::new();
    let page = submit_form(&app, "/disk", &disk_form("{\"a\": 1, \"a\": 2}"));
    // The same status as every other body the form cannot use.
    assert_eq!(page.status, Status::UnprocessableEntity);
    assert!(page.body.contains("id=\"body-error\""));
    assert!(
        page.body
            .contains("the top-level object names the key &quot;a&quot; twice"),
        "the key is named"
    );
    assert!(page.body.contains("ambiguous"), "and why it is refused");
    assert!(
        page.body
            .contains("{&quot;a&quot;: 1, &quot;a&quot;: 2}</textarea>"),
        "text kept"
    );
    assert_eq!(app.stats()["disk"]["entries"], 0);
}

#[test]
fn learner_input_is_escaped_everywhere_it_is_shown() {
    let app = TestApp::new();
    let payload = "<script>alert(1)</script>";
    let json = format!("{{\"x\":\"{payload}\"}}");
    let page = submit_form(&app, "/disk", &disk_form(&json)).body;
    assert!(!page.contains(payload), "raw script tag in disk page");
    assert!(page.contains("&lt;script&gt;alert(1)&lt;&#x2F;script&gt;"));

    let broken = submit_form(&app, "/disk", &disk_form(&format!("{payload} not json"))).body;
    assert!(!broken.contains(payload), "raw script tag in disk error");

    let memory = browse(
        &app,
        &format!("/memory?n={}", urlencode("\"><script>alert(1)</script>")),
    )
    .body;
    assert!(!memory.contains(payload), "raw script tag in memory page");
    assert!(memory.contains("value=\"&quot;&gt;&lt;script&gt;"));

    let missing = browse(&app, "/%3Cscript%3Ealert(1)%3C%2Fscript%3E").body;
    assert!(!missing.contains(payload), "raw script tag in 404 page");
}

#[test]
fn clearing_from_a_page_posts_redirects_and_flashes_once() {
    let app = TestApp::new();
    browse(&app, "/memory?n=10");
    let response = app
        .client
        .post("/memory/clear")
        .header(Accept::HTML)
        .dispatch();
    assert_eq!(response.status(), Status::SeeOther);
    assert_eq!(response.headers().get_one("Location"), Some("/memory"));
    drop(response);

    let page = browse(&app, "/memory").body;
    assert!(page.contains("memory cache cleared: 10 entries removed."));
    assert!(
        page.contains("Any other instance of the app keeps its own copies"),
        "without a shared tier, nothing tells the others"
    );
    assert!(page.contains("0 of 100 places used"));
    let again = browse(&app, "/memory").body;
    assert!(
        !again.contains("memory cache cleared"),
        "a flash shows once"
    );

    submit_form(&app, "/disk", &disk_form("{}"));
    let response = app.client.post("/disk/clear").dispatch();
    assert_eq!(response.headers().get_one("Location"), Some("/disk"));
    drop(response);
    assert!(browse(&app, "/disk")
        .body
        .contains("Disk cache cleared: 1 entry removed."));

    browse(&app, "/memory?n=3");
    let response = app.client.post("/dashboard/clear").dispatch();
    assert_eq!(response.headers().get_one("Location"), Some("/dashboard"));
    drop(response);
    let dashboard = browse(&app, "/dashboard").body;
    assert!(dashboard
        .contains("Caches cleared: 3 entries from memory and 0 entries from disk removed."));
    // As the dashboard says: clearing empties the caches, not the counters
    // or the chart.
    assert!(
        dashboard.contains("<th scope=\"row\">Misses</th><td>2</td><td>1</td>"),
        "{dashboard}"
    );
    assert_eq!(dashboard.matches("<rect class=\"miss\"").count(), 3);
    assert!(dashboard.contains("the misses that follow a clear are part of the story"));
}

#[test]
fn a_browser_opening_clear_cache_gets_an_explanation_and_a_button() {
    let app = TestApp::new();
    browse(&app, "/memory?n=10");
    let page = browse(&app, "/clear-cache");
    assert_eq!(page.status, Status::MethodNotAllowed);
    assert_eq!(page.header("Allow"), Some("POST"));
    assert!(page
        .body
        .contains("<form method=\"post\" action=\"/memory/clear\">"));
    assert_eq!(app.stats()["memory"]["entries"], 10, "nothing was cleared");
    // POST is not the whole story: the page teaches what stops other sites,
    // and the command it shows is refused as it says.
    assert!(page.body.contains("SameSite=Lax"));
    assert!(page
        .body
        .contains("curl -i -X POST -H 'Sec-Fetch-Site: cross-site'"));
    let refused = app
        .client
        .post("/clear-cache")
        .header(Header::new("Sec-Fetch-Site", "cross-site"))
        .dispatch();
    assert_eq!(refused.status(), Status::Forbidden);
    drop(refused);
    assert_eq!(
        app.stats()["memory"]["entries"],
        10,
        "still nothing cleared"
    );

    let api = app.get("/clear-cache");
    assert_eq!(api.status, Status::MethodNotAllowed);
    assert_eq!(api.header("Content-Type"), Some("application/json"));
}

#[test]
fn browsers_get_error_pages_and_api_clients_get_json() {
    let app = TestApp::new();
    let page = browse(&app, "/no-such-page");
    assert_eq!(page.status, Status::NotFound);
    assert!(page.body.contains("<h1>404 · Not Found</h1>"));
    assert!(
        page.body.contains("<nav aria-label=\"Main\">"),
        "in the shared layout"
    );

    let api = app.get("/no-such-page");
    assert_eq!(api.status, Status::NotFound);
    assert_eq!(api.json["status"], 404);

    let missing_field = submit_form(&app, "/disk", "not_body=1");
    assert_eq!(missing_field.status, Status::UnprocessableEntity);
    assert!(missing_field
        .body
        .contains("<h1>422 · Unprocessable Entity</h1>"));
}

#[test]
fn the_dashboard_counts_and_charts_every_request() {
    let app = TestApp::new();
    browse(&app, "/memory?n=12");
    app.get("/factorial/12");
    app.post_json("/data", "[1]");
    let page = browse(&app, "/dashboard").body;
    assert!(
        page.contains("<th scope=\"row\">Hit ratio</th><td>50%</td><td>0%</td>"),
        "{page}"
    );
    assert_eq!(page.matches("<circle class=\"memory-hit\"").count(), 1);
    assert_eq!(page.matches("<rect class=\"miss\"").count(), 2);
    assert!(page.contains("memory hit (1)") && page.contains("miss: computed (2)"));
    assert!(page.contains("<title>memory hit 12!:"));
    // Every mark is also a line of text, for those who cannot hover.
    let listed = page
        .split("<details id=\"recent-list\"")
        .nth(1)
        .expect("the marks as a list");
    assert_eq!(listed.matches("<li>").count(), 3, "{listed}");
    assert!(listed.contains("memory hit 12!: "));
    assert!(listed.contains(" ms in the cache</li>"));
    // A disk hit and a request that waited are marks of their own.
    app.post_json("/data", "[1]");
    let page = browse(&app, "/dashboard").body;
    assert_eq!(page.matches("<polygon class=\"disk-hit\"").count(), 1);
    assert!(page.contains("disk hit (1)"));
}

#[rocket::async_test]
async fn a_request_that_waited_for_another_is_drawn_as_waiting_not_as_a_miss() {
    let dir = tempfile::tempdir().expect("temp dir");
    let settings = helpers::test_settings(&dir.path().join("cache"))
        .merge(helpers::setting("data_delay_ms", 300));
    let client = helpers::async_client_for(settings).await;
    let requests = (0..4).map(|_| {
        client
            .post("/data")
            .header(rocket::http::ContentType::JSON)
            .body(r#"{"together":true}"#)
            .dispatch()
    });
    rocket::futures::future::join_all(requests).await;
    let page = client
        .get("/dashboard")
        .header(rocket::http::Accept::HTML)
        .dispatch()
        .await
        .into_string()
        .await
        .unwrap_or_default();
    assert_eq!(
        page.matches("<rect class=\"miss\"").count(),
        1,
        "one did the work"
    );
    assert_eq!(
        page.matches("<polygon class=\"waited\"").count(),
        3,
        "{page}"
    );
    assert!(page.contains("waited for another request doing the same work (3)"));
}

#[test]
fn the_timing_page_uses_the_host_the_browser_reached() {
    let app = TestApp::new();
    let response = app
        .client
        .get("/timing")
        .header(Accept::HTML)
        .header(Header::new("Host", "lab.example:9000"))
        .dispatch();
    // Tera escapes '/' as "&#x2F;", which the browser shows as '/'.
    let page = response
        .into_string()
        .unwrap_or_default()
        .replace("&#x2F;", "/");
    assert!(page.contains("curl -i http://lab.example:9000/factorial/20"));
    assert!(page.contains("http://lab.example:9000/stats"));
}

/// The text of a page with its tags' attributes left out: what a person
/// reads, and what a title attribute alone would not put there.
fn without_attributes(page: &str) -> String {
    let mut text = String::with_capacity(page.len());
    let mut in_tag = false;
    for c in page.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            _ if !in_tag => text.push(c),
            _ => {}
        }
    }
    text
}

/// The app's own workshop.
fn workshop(app: &TestApp) -> &cachelab::workshop::Workshop {
    app.client
        .rocket()
        .state::<cachelab::lab::Lab>()
        .expect("the app manages its lab")
        .workshop()
}

/// The `X-Learner` value (`name:key`) of whoever holds `name`, claiming it
/// first as choosing a name on the exercise page does.
fn as_learner(app: &TestApp, name: &str) -> Header<'static> {
    let learner = cachelab::workshop::LearnerName::parse(name).expect("a usable name");
    Header::new("X-Learner", workshop(app).claim(&learner).to_string())
}

/// Ada's own number for the first exercise, as her exercise page gives it.
fn ada_n(app: &TestApp) -> u64 {
    let ada = cachelab::workshop::LearnerName::parse("ada").expect("valid");
    workshop(app)
        .plan(&ada)
        .first_hit(cachelab::workshop::ExercisePath::Curl)
}

#[test]
fn the_progress_page_shows_each_ticks_evidence_as_text_a_tap_away() {
    let app = TestApp::new();
    for _ in 0..2 {
        app.client
            .get(format!("/factorial/{}", ada_n(&app)))
            .header(as_learner(&app, "ada"))
            .dispatch();
    }
    // A hit on a step ada stored: linus is seen, but has done no exercise.
    app.client
        .get(format!("/factorial/{}", ada_n(&app) - 1))
        .header(as_learner(&app, "linus"))
        .dispatch();
    let evidence = app
        .get(&format!("/exercises/progress.json?key={INSTRUCTOR_KEY}"))
        .json["learners"]
        .as_array()
        .and_then(|learners| learners.iter().find(|entry| entry["name"] == "ada"))
        .and_then(|ada| {
            ada["ticks"]["first-hit"]["evidence"]
                .as_str()
                .map(str::to_owned)
        })
        .expect("ada's first hit has evidence");

    let page = browse(&app, &format!("/exercises/progress?key={INSTRUCTOR_KEY}")).body;
    assert!(
        page.contains("<a class=\"tick\" href=\"#evidence-ada-first-hit\">"),
        "the tick is a link, which a tap or the keyboard follows"
    );
    assert!(page.contains("<dt id=\"evidence-ada-first-hit\">1. A miss, then a hit</dt>"));
    assert!(
        without_attributes(&page)
            .contains(&evidence.replace('\'', "&#x27;").replace('/', "&#x2F;")),
        "the evidence is in the page's text: {evidence}"
    );
    assert!(!page.contains("title="), "nothing is told only on hover");
    assert!(!page.contains("Hover"));
    assert!(page.contains("id=\"learner-linus\""));
    assert!(page.contains("No exercise done yet."), "linus has no tick");
}

#[test]
fn no_page_tells_anything_only_on_hover() {
    let app = TestApp::new();
    browse(&app, "/memory?n=3");
    app.post_json("/data", "{}");
    for _ in 0..2 {
        app.client
            .get(format!("/factorial/{}", ada_n(&app)))
            .header(as_learner(&app, "ada"))
            .dispatch();
    }
    let progress = format!("/exercises/progress?key={INSTRUCTOR_KEY}");
    for uri in [
        "/",
        "/memory?n=3",
        "/disk",
        "/dashboard",
        "/timing",
        "/exercises",
        progress.as_str(),
        "/clear-cache",
        "/no-such-page",
    ] {
        let page = browse(&app, uri).body;
        assert!(page.contains("<main"), "{uri} is a page");
        // Phones have no hover, and a title attribute is read only there.
        assert!(!page.contains(" title="), "{uri} has a title attribute");
    }
}

/// The names of a response's `Server-Timing` parts.
fn timing_names(answer: &Answer) -> Vec<String> {
    answer
        .server_timing()
        .into_iter()
        .map(|(name, _)| name)
        .collect()
}

#[test]
fn the_timing_page_explains_every_part_and_header_the_app_sends() {
    let app = TestApp::with(|settings| settings.merge(helpers::setting("factorial_delay_ms", 1)));
    let mut names = timing_names(&app.get("/factorial/3"));
    names.extend(timing_names(&app.post_json("/data", "{}")));
    let page = browse(&app, "/timing").body;
    for name in names {
        assert!(
            page.contains(&format!("<li><code>{name}</code>")),
            "the timing page explains {name}"
        );
    }
    for header in [
        "X-Cache",
        "X-Cache-Detail",
        "X-Cache-Key",
        "Cache-Control: no-store",
    ] {
        assert!(page.contains(&format!("<dt><code>{header}")), "{header}");
    }
    assert!(
        page.contains("rfc9111#section-4.2.2"),
        "heuristic freshness is cited"
    );
    assert!(
        page.contains("data-roundtrip=\"/factorial/1\""),
        "the round trip is measured from the learner's browser, not claimed"
    );
    assert!(!page.contains("tens of milliseconds"));
}

/// Markup that would run if any page echoed it unescaped.
const XSS_PAYLOADS: [&str; 4] = [
    "<script>alert(1)</script>",
    "\"><img src=x onerror=alert(1)>",
    "'><svg onload=alert(1)>",
    "</textarea><script>alert(2)</script>",
];

#[test]
fn no_page_renders_learner_input_unescaped() {
    let app = TestApp::new();
    for payload in XSS_PAYLOADS {
        let encoded = urlencode(payload);
        // Every way a learner's text reaches the app.
        browse(&app, &format!("/memory?n={encoded}"));
        submit_form(&app, "/disk", &disk_form(payload));
        let json = serde_json::json!({ payload: payload, "list": [payload] }).to_string();
        submit_form(&app, "/disk", &disk_form(&json));
        app.post_json("/data", &json);
        submit_form(&app, "/exercises/name", &format!("name={encoded}"));
        app.client
            .get(format!("/factorial/{encoded}"))
            .header(Header::new("X-Learner", payload))
            .dispatch();

        let mut pages: Vec<(String, String)> = Vec::new();
        let progress = format!("/exercises/progress?key={INSTRUCTOR_KEY}");
        for uri in [
            "/",
            "/memory",
            "/disk",
            "/dashboard",
            "/timing",
            "/exercises",
            progress.as_str(),
            "/clear-cache",
        ] {
            pages.push((uri.to_owned(), browse(&app, uri).body));
        }
        pages.push((
            "/memory?n=…".into(),
            browse(&app, &format!("/memory?n={encoded}")).body,
        ));
        pages.push((
            "/disk (JSON)".into(),
            submit_form(&app, "/disk", &disk_form(&json)).body,
        ));
        pages.push((
            "/disk (broken)".into(),
            submit_form(&app, "/disk", &disk_form(payload)).body,
        ));
        pages.push((
            "/<payload>".into(),
            browse(&app, &format!("/{encoded}")).body,
        ));
        let timing = app
            .client
            .get("/timing")
            .header(Accept::HTML)
            .header(Header::new("Host", payload))
            .dispatch()
            .into_string()
            .unwrap_or_default();
        pages.push(("/timing (Host)".into(), timing));

        for (uri, page) in pages {
            assert!(!page.is_empty(), "{uri} answered");
            for needle in ["<script>alert", "<img src=x", "<svg onload"] {
                assert!(!page.contains(needle), "{uri} echoed {needle:?} unescaped");
            }
        }
    }
    app.assert_healthy();
}

#[test]
fn choosing_a_name_redirects_back_to_the_exercises() {
    let app = TestApp::new();
    let renamed = submit_form(&app, "/exercises/name", "name=ada");
    assert_eq!(renamed.status, Status::SeeOther);
    assert_eq!(renamed.header("Location"), Some("/exercises"));
}
