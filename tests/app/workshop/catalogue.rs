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
