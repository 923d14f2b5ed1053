//! The stale-answers exercises, ticked from a named learner's own catalogue
//! reads and price changes, and not from steps left incomplete.

use std::time::Instant;

use super::*;

fn put_as(app: &TestApp, learner: &str, uri: &str, body: &str) -> Answer {
    Answer::from(
        app.client
            .put(uri.to_owned())
            .header(as_learner(app, learner))
            .header(ContentType::JSON)
            .body(body)
            .dispatch(),
    )
}

fn strategy(app: &TestApp, body: &str) {
    let answer = put_as(app, "ada", "/catalogue/strategy", body);
    assert_eq!(answer.status, Status::Ok, "{}", answer.body);
}

fn set_price(app: &TestApp, learner: &str, item: &str, cents: u64) {
    let answer = put_as(
        app,
        learner,
        &format!("/catalogue/{item}"),
        &format!(r#"{{"price_cents": {cents}}}"#),
    );
    assert_eq!(answer.status, Status::Ok, "{}", answer.body);
}

#[test]
fn a_stale_answer_ticks_only_once_the_old_price_is_read_again() {
    let (app, _plan) = workshop_app("ada");
    get_as(&app, "ada", "/catalogue/apple");
    set_price(&app, "ada", "apple", 999);
    assert_eq!(
        evidence(&app, "ada", "stale-answer"),
        None,
        "not read again yet"
    );
    let stale = get_as(&app, "ada", "/catalogue/apple");
    assert_eq!(stale.x_cache(), "HIT");
    let said = evidence(&app, "ada", "stale-answer").expect("ticked");
    assert!(said.contains("stale answer"), "{said}");
    assert_eq!(evidence(&app, "linus", "stale-answer"), None);
}

#[test]
fn invalidate_on_write_and_write_through_tick_from_their_own_strategy() {
    let (app, _plan) = workshop_app("ada");
    strategy(&app, r#"{"strategy": "invalidate-on-write"}"#);
    set_price(&app, "ada", "banana", 50);
    get_as(&app, "ada", "/catalogue/banana");
    assert_eq!(
        evidence(&app, "ada", "invalidate-on-write"),
        None,
        "no copy was held, so nothing was invalidated"
    );
    set_price(&app, "ada", "banana", 51);
    let fresh = get_as(&app, "ada", "/catalogue/banana");
    assert_eq!(fresh.x_cache(), "MISS");
    assert!(evidence(&app, "ada", "invalidate-on-write").is_some());
    assert_eq!(evidence(&app, "ada", "write-through"), None);

    strategy(&app, r#"{"strategy": "write-through"}"#);
    set_price(&app, "ada", "fig", 123);
    assert_eq!(evidence(&app, "ada", "write-through"), None, "not read yet");
    assert_eq!(get_as(&app, "ada", "/catalogue/fig").x_cache(), "HIT");
    assert!(evidence(&app, "ada", "write-through").is_some());
}

#[test]
fn stale_while_revalidate_ticks_after_a_stale_answer_and_a_refreshed_hit() {
    let (app, _plan) = workshop_app("ada");
    strategy(
        &app,
        r#"{"strategy": "stale-while-revalidate", "ttl_secs": 5}"#,
    );
    get_as(&app, "ada", "/catalogue/kiwi");
    set_price(&app, "ada", "kiwi", 77);
    app.time.advance(Duration::from_secs(6));
    assert_eq!(get_as(&app, "ada", "/catalogue/kiwi").x_cache(), "STALE");
    assert_eq!(evidence(&app, "ada", "stale-while-revalidate"), None);
    let deadline = Instant::now() + Duration::from_secs(5);
    while get_as(&app, "ada", "/catalogue/kiwi").x_cache() != "HIT" {
        assert!(Instant::now() < deadline, "the refresh never landed");
        std::thread::sleep(Duration::from_millis(2));
    }
    let said = evidence(&app, "ada", "stale-while-revalidate").expect("ticked");
    assert!(said.contains("STALE copy answered at once"), "{said}");
}

fn post_as_json(app: &TestApp, learner: &str, uri: &str, body: &str) -> Answer {
    Answer::from(
        app.client
            .post(uri.to_owned())
            .header(as_learner(app, learner))
            .header(ContentType::JSON)
            .body(body)
            .dispatch(),
    )
}

fn price_of(answer: &Answer) -> u64 {
    answer.json["price_cents"].as_u64().expect("a price")
}

/// Every item's price at the source, as `learner` (or, for `None`, a
/// request that names nobody) reads it.
fn truths(app: &TestApp, learner: Option<&str>) -> Vec<u64> {
    [
        "apple",
        "banana",
        "cherry",
        "date",
        "elderberry",
        "fig",
        "grape",
        "kiwi",
    ]
    .into_iter()
    .map(|item| {
        let uri = format!("/catalogue/{item}/truth");
        price_of(&match learner {
            Some(learner) => get_as(app, learner, &uri),
            None => app.get(&uri),
        })
    })
    .collect()
}

#[test]
fn another_learners_strategy_clear_market_and_prices_leave_my_stale_answer_alone() {
    let (app, _plan) = workshop_app_with("ada", 100, |settings| {
        settings.merge(setting("catalogue_market_interval_ms", 10))
    });
    let seed = truths(&app, None);
    // Linus starts the lesson: a read, then a change of price.
    let first = get_as(&app, "linus", "/catalogue/apple");
    assert_eq!(first.x_cache(), "MISS");
    set_price(&app, "linus", "apple", 150);

    // Meanwhile Ada does everything that would spoil it in a shared
    // catalogue: write-through, a clear, the market, a price of her own.
    strategy(&app, r#"{"strategy": "write-through", "ttl_secs": 1}"#);
    assert_eq!(get_as(&app, "ada", "/catalogue/apple").x_cache(), "MISS");
    let cleared = post_as(&app, "ada", "/catalogue/clear");
    assert_eq!(cleared.json["entries_removed"], 1, "only her own copy");
    let market = post_as_json(&app, "ada", "/catalogue/market", r#"{"on": true}"#);
    assert_eq!(market.json["market"]["running"], true, "{}", market.body);
    set_price(&app, "ada", "apple", 999);
    assert!(
        app.wait_for(Duration::from_secs(10), |app| {
            let hers = truths(app, Some("ada"));
            hers.iter()
                .zip(&seed)
                .filter(|(now, was)| now != was)
                .count()
                >= 2
        }),
        "Ada's market moves her prices"
    );

    // Linus still reads his old copy, under his own ttl-only, and his
    // exercise ticks.
    let stale = get_as(&app, "linus", "/catalogue/apple");
    assert_eq!(
        (stale.x_cache(), price_of(&stale)),
        ("HIT", seed[0]),
        "{}",
        stale.body
    );
    assert_eq!(stale.json["cache"]["strategy"], "ttl-only");
    assert_eq!(
        price_of(&get_as(&app, "linus", "/catalogue/apple/truth")),
        150,
        "his own price, not Ada's 999"
    );
    assert!(evidence(&app, "linus", "stale-answer").is_some());
    let mut his = truths(&app, Some("linus"));
    his[0] = seed[0];
    assert_eq!(his, seed, "Ada's market changed none of his other prices");

    // And requests that name nobody see neither of them.
    assert_eq!(truths(&app, None), seed);
    let open = app.get("/catalogue/apple");
    assert_eq!(
        (open.x_cache(), open.json["cache"]["strategy"].as_str()),
        ("MISS", Some("ttl-only")),
        "nobody's copy, nobody's strategy"
    );
    post_as_json(&app, "ada", "/catalogue/market", r#"{"on": false}"#);
}

#[test]
fn a_learners_answers_are_private_and_vary_with_who_asks() {
    let (app, _plan) = workshop_app("ada");
    let mine = get_as(&app, "ada", "/catalogue/date");
    assert_eq!(mine.header("Cache-Control"), Some("private, max-age=10"));
    assert_eq!(mine.header("Vary"), Some("Cookie, X-Learner"));
}

#[test]
fn past_the_cap_the_least_recently_used_learner_gets_a_fresh_catalogue() {
    let (app, _plan) = workshop_app_with("ada", 100, |settings| {
        settings.merge(setting("catalogue_max_learners", 2))
    });
    let seed = price_of(&app.get("/catalogue/fig/truth"));
    set_price(&app, "ada", "fig", 1_001);
    set_price(&app, "linus", "fig", 1_002);
    // Ada comes back, so Linus is now the least recently used.
    assert_eq!(
        price_of(&get_as(&app, "ada", "/catalogue/fig/truth")),
        1_001
    );
    set_price(&app, "grace", "fig", 1_003);

    let evicted = get_as(&app, "linus", "/catalogue/fig/truth");
    assert_eq!(evicted.status, Status::Ok, "{}", evicted.body);
    assert_eq!(price_of(&evicted), seed, "Linus starts again from the seed");
    assert_eq!(
        price_of(&get_as(&app, "grace", "/catalogue/fig/truth")),
        1_003,
        "Grace, used more recently than Ada, kept hers"
    );
    assert_eq!(
        price_of(&get_as(&app, "ada", "/catalogue/fig/truth")),
        seed,
        "Linus's return took the place of the least recently used: Ada"
    );
    assert_eq!(
        price_of(&app.get("/catalogue/fig/truth")),
        seed,
        "the open catalogue is not one of the learners' and is never dropped"
    );
    let page = app.get_page("/catalogue");
    let words = page.body.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        words.contains("at most 2 learners' catalogues (it keeps 2 now)"),
        "the page says how many are kept: {words}"
    );
}

#[test]
fn a_change_with_someone_elses_name_and_a_wrong_key_is_refused_and_changes_nothing() {
    let (app, _plan) = workshop_app("ada");
    credential(&app, "ada");
    let refused = Answer::from(
        app.client
            .put("/catalogue/strategy")
            .header(Header::new("X-Learner", "ada:0000000000000000"))
            .header(ContentType::JSON)
            .body(r#"{"strategy": "write-through"}"#)
            .dispatch(),
    );
    assert_eq!(refused.status, Status::Forbidden, "{}", refused.body);
    assert!(refused.json["error"].is_string());
    let read = get_as(&app, "ada", "/catalogue/apple");
    assert_eq!(read.json["cache"]["strategy"], "ttl-only");
}
