//! The catalogue of changing prices: stale answers within the TTL, and each
//! fix (a shorter TTL, invalidate on write, write-through,
//! stale-while-revalidate), the headers that say which, and bad input.
//! Requests here name no learner, so they use the open catalogue, except
//! the page's, which a browser sees as its own learner (the learners'
//! separate catalogues are in `workshop::catalogue`).

use std::time::{Duration, Instant};

use rocket::http::{Accept, ContentType, Status};

use crate::helpers::{setting, Answer, TestApp};

/// The TTL every test here starts with.
const TTL_SECS: u64 = 30;

fn catalogue_app() -> TestApp {
    TestApp::with(|settings| {
        settings
            .merge(setting("catalogue_ttl_secs", TTL_SECS))
            .merge(setting("catalogue_browser_max_age_secs", 7))
    })
}

fn put_json(app: &TestApp, uri: &str, body: &str) -> Answer {
    Answer::from(
        app.client
            .put(uri.to_owned())
            .header(ContentType::JSON)
            .body(body)
            .dispatch(),
    )
}

fn set_price(app: &TestApp, item: &str, cents: u64) -> Answer {
    let answer = put_json(
        app,
        &format!("/catalogue/{item}"),
        &format!(r#"{{"price_cents": {cents}}}"#),
    );
    assert_eq!(answer.status, Status::Ok, "{}", answer.body);
    answer
}

fn use_strategy(app: &TestApp, body: &str) {
    let answer = put_json(app, "/catalogue/strategy", body);
    assert_eq!(answer.status, Status::Ok, "{}", answer.body);
}

fn price(answer: &Answer) -> u64 {
    answer.json["price_cents"].as_u64().expect("a price")
}

fn cache_status(answer: &Answer) -> &str {
    answer.header("Cache-Status").unwrap_or("")
}

#[test]
fn within_the_ttl_the_cache_gives_the_old_price_and_a_shorter_ttl_ends_it() {
    let app = catalogue_app();
    let first = app.get("/catalogue/apple");
    assert_eq!((first.status, first.x_cache()), (Status::Ok, "MISS"));
    assert_eq!(
        cache_status(&first),
        format!("cachelab-catalogue;fwd=miss;ttl={TTL_SECS};stored")
    );
    let old = price(&first);
    set_price(&app, "apple", old + 100);

    app.time.advance(Duration::from_secs(5));
    let stale = app.get("/catalogue/apple");
    assert_eq!(
        (stale.x_cache(), price(&stale)),
        ("HIT", old),
        "stale within the TTL"
    );
    assert!(stale.json["cache"]["age_ms"].as_u64() >= Some(5_000));
    assert_eq!(price(&app.get("/catalogue/apple/truth")), old + 100);

    use_strategy(&app, r#"{"ttl_secs": 4}"#);
    let fresh = app.get("/catalogue/apple");
    assert_eq!((fresh.x_cache(), price(&fresh)), ("MISS", old + 100));
    assert!(
        cache_status(&fresh) == "cachelab-catalogue;fwd=stale;ttl=4;stored",
        "{}",
        cache_status(&fresh)
    );
    let hit = app.get("/catalogue/apple");
    assert_eq!(hit.x_cache(), "HIT");
    assert!(
        cache_status(&hit).starts_with("cachelab-catalogue;hit;ttl="),
        "{}",
        cache_status(&hit)
    );
}

#[test]
fn invalidate_on_write_is_fresh_right_after_the_write_and_keeps_the_other_copies() {
    let app = catalogue_app();
    use_strategy(&app, r#"{"strategy": "invalidate-on-write"}"#);
    app.get("/catalogue/apple");
    app.get("/catalogue/banana");
    let change = set_price(&app, "apple", 777);
    assert_eq!(change.json["cache_effect"]["deleted"]["removed"], 1);

    let after = app.get("/catalogue/apple");
    assert_eq!((after.x_cache(), price(&after)), ("MISS", 777));
    assert_eq!(
        app.get("/catalogue/banana").x_cache(),
        "HIT",
        "banana's copy kept"
    );

    let cleared = app.post("/catalogue/clear");
    assert_eq!(
        cleared.json["entries_removed"], 2,
        "a clear removes every copy"
    );
}

#[test]
fn write_through_is_fresh_and_a_hit_after_the_write() {
    let app = catalogue_app();
    use_strategy(&app, r#"{"strategy": "write-through"}"#);
    app.get("/catalogue/fig");
    set_price(&app, "fig", 4321);
    let after = app.get("/catalogue/fig");
    assert_eq!((after.x_cache(), price(&after)), ("HIT", 4321));
}

#[test]
fn ttl_only_keeps_serving_the_old_price_after_a_write() {
    let app = catalogue_app();
    let old = price(&app.get("/catalogue/kiwi"));
    set_price(&app, "kiwi", old + 1);
    let after = app.get("/catalogue/kiwi");
    assert_eq!((after.x_cache(), price(&after)), ("HIT", old));
}

#[test]
fn stale_while_revalidate_answers_stale_at_once_then_fresh_after_the_refresh() {
    let app = catalogue_app();
    use_strategy(
        &app,
        r#"{"strategy": "stale-while-revalidate", "ttl_secs": 10}"#,
    );
    let old = price(&app.get("/catalogue/grape"));
    set_price(&app, "grape", old + 50);
    app.time.advance(Duration::from_millis(12_500));

    let stale = app.get("/catalogue/grape");
    assert_eq!((stale.x_cache(), price(&stale)), ("STALE", old));
    assert_eq!(
        cache_status(&stale),
        "cachelab-catalogue;fwd=stale;ttl=-2;detail=stale-while-revalidate",
        "2.5 s past the TTL: stale for 2 whole seconds"
    );
    assert!(!stale
        .header("Server-Timing")
        .unwrap_or("")
        .contains("source"));

    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let again = app.get("/catalogue/grape");
        if price(&again) == old + 50 {
            assert_eq!(again.x_cache(), "HIT", "the background refresh stored it");
            break;
        }
        assert_eq!(again.x_cache(), "STALE");
        assert!(Instant::now() < deadline, "the refresh never landed");
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn item_answers_carry_the_browser_max_age_and_the_truth_is_never_stored() {
    let app = catalogue_app();
    let item = app.get("/catalogue/date");
    assert_eq!(
        item.header("Cache-Control"),
        Some("max-age=7"),
        "the open catalogue's answer, the same for everyone, may be kept by a shared cache"
    );
    assert_eq!(
        item.header("Vary"),
        Some("Cookie, X-Learner"),
        "but not handed to a learner, who has a catalogue of their own"
    );
    use_strategy(&app, r#"{"browser_max_age_secs": 0}"#);
    assert_eq!(
        app.get("/catalogue/date").header("Cache-Control"),
        Some("max-age=0")
    );
    assert_eq!(
        app.get("/catalogue/date/truth").header("Cache-Control"),
        Some("no-store")
    );
}

#[test]
fn bad_input_is_a_clear_4xx() {
    let app = catalogue_app();
    let unknown = app.get("/catalogue/durian");
    assert_eq!(unknown.status, Status::NotFound);
    assert!(unknown.json["error"]
        .as_str()
        .unwrap_or("")
        .contains("apple"));
    for (body, status) in [
        (r#"{"price_cents": -5}"#, Status::UnprocessableEntity),
        (
            r#"{"price_cents": 100000000000}"#,
            Status::UnprocessableEntity,
        ),
        (r#"{"price_cents": 1.5}"#, Status::UnprocessableEntity),
        (r#"{"price": 5}"#, Status::UnprocessableEntity),
        (r#"{"price_cents": "#, Status::BadRequest),
        (r#"[1]"#, Status::BadRequest),
    ] {
        let answer = put_json(&app, "/catalogue/apple", body);
        assert_eq!(answer.status, status, "{body}: {}", answer.body);
        assert!(answer.json["error"].is_string(), "{body}");
    }
    assert_eq!(
        put_json(&app, "/catalogue/durian", r#"{"price_cents": 5}"#).status,
        Status::NotFound
    );
    for body in [
        r#"{"strategy": "write-back"}"#,
        r#"{"ttl_secs": 0}"#,
        r#"{"ttl_secs": "soon"}"#,
        r#"{"browser_max_age_secs": 99999}"#,
    ] {
        let answer = put_json(&app, "/catalogue/strategy", body);
        assert_eq!(answer.status, Status::BadRequest, "{body}: {}", answer.body);
    }
    let market = app.post_json("/catalogue/market", r#"{"on": "maybe"}"#);
    assert_eq!(market.status, Status::BadRequest);

    let page = Answer::from(
        app.client
            .post("/catalogue/apple")
            .header(ContentType::Form)
            .header(Accept::HTML)
            .body("price_cents=-3")
            .dispatch(),
    );
    assert_eq!(page.status, Status::UnprocessableEntity);
    assert!(
        page.body.contains("<html") && page.body.contains("negative"),
        "{}",
        page.body
    );
}

/// The row of `item` on the catalogue page.
fn row<'p>(page: &'p Answer, item: &str) -> &'p str {
    let row_start = page
        .body
        .find(&format!("id=\"item-{item}\""))
        .unwrap_or_else(|| panic!("a row for {item}"));
    let rest = &page.body[row_start..];
    &rest[..rest.find("</tr>").expect("row end")]
}

#[test]
fn the_page_shows_cached_and_true_prices_and_marks_the_stale_one() {
    let app = catalogue_app();
    // A browser's first visit names it (the client keeps the cookie, as a
    // browser does); from then on it reads and writes its own catalogue.
    let first = app.get_page("/catalogue");
    assert_eq!(first.status, Status::Ok);
    let old = price(&app.get("/catalogue/cherry"));
    let form = Answer::from(
        app.client
            .post("/catalogue/cherry")
            .header(ContentType::Form)
            .header(Accept::HTML)
            .body(format!("price_cents={}", old + 1))
            .dispatch(),
    );
    assert_eq!(form.status, Status::SeeOther);
    let page = app.get_page("/catalogue");
    assert_eq!(page.status, Status::Ok);
    let cherry = row(&page, "cherry");
    assert!(cherry.contains("STALE"), "{cherry}");
    assert!(
        cherry.contains(&format!("{}.{:02}", old / 100, old % 100)),
        "{cherry}"
    );
    assert_eq!(
        page.body.matches(">STALE<").count(),
        1,
        "only cherry is stale"
    );
    assert!(page.body.contains("Stale answers"));
    let words = page.body.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        words.contains("This is your own catalogue, <strong>")
            && words.contains("changes here reach nobody else in the room"),
        "the page says whose catalogue it shows"
    );
    assert_eq!(
        page.header("Cache-Control"),
        Some("private, no-cache"),
        "one learner's page, with their key in its commands"
    );
}

#[test]
fn the_pages_curl_commands_reach_the_catalogue_the_page_shows() {
    let app = catalogue_app();
    app.get_page("/catalogue");
    let page = app.get_page("/catalogue");
    let credential = page
        .body
        .split("X-Learner: ")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .expect("the commands carry a credential")
        .to_owned();
    let changed = Answer::from(
        app.client
            .put("/catalogue/kiwi")
            .header(rocket::http::Header::new("X-Learner", credential))
            .header(ContentType::JSON)
            .body(r#"{"price_cents": 4242}"#)
            .dispatch(),
    );
    assert_eq!(changed.status, Status::Ok, "{}", changed.body);
    assert_eq!(changed.json["after"]["version"], 2, "{}", changed.body);
    let page = app.get_page("/catalogue");
    assert!(
        row(&page, "kiwi").contains("42.42"),
        "{}",
        row(&page, "kiwi")
    );
}

#[test]
fn the_market_starts_and_stops_on_request() {
    let app = catalogue_app();
    let on = app.post_json("/catalogue/market", r#"{"on": true}"#);
    assert_eq!(on.json["market"]["running"], true, "{}", on.body);
    let off = app.post_json("/catalogue/market", r#"{"on": false}"#);
    assert_eq!(off.json["market"]["running"], false);
}
