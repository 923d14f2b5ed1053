//! The memory tier as curl sees it: `GET /factorial/<n>`.

use num_bigint::BigUint;
use rocket::http::{ContentType, Status};

use crate::helpers::{async_client_for, async_stats, setting, test_settings, TestApp};

fn factorial_by_hand(n: u32) -> String {
    (1..=n)
        .fold(BigUint::from(1u8), |product, k| product * k)
        .to_string()
}

#[test]
fn answers_are_exact_decimal_strings_including_zero() {
    let app = TestApp::new();
    for n in [0u32, 1, 2, 20, 21, 100, 1000] {
        let answer = app.get(&format!("/factorial/{n}"));
        assert_eq!(answer.status, Status::Ok, "n = {n}");
        assert_eq!(answer.json["number"], n);
        let expected = factorial_by_hand(n);
        assert_eq!(answer.json["factorial"], expected.as_str(), "n = {n}");
        assert_eq!(answer.json["digits"], expected.len());
    }
}

#[test]
fn the_largest_allowed_n_is_exact() {
    let app = TestApp::new();
    let answer = app.get("/factorial/10000");
    assert_eq!(answer.status, Status::Ok);
    let digits = answer.json["factorial"].as_str().expect("a string");
    assert_eq!(digits.len(), 35_660);
    assert!(digits.starts_with("28462596809170545189"));
    assert!(
        digits.ends_with(&"0".repeat(2499)),
        "10000! ends in 2499 zeros"
    );
}

#[test]
fn a_repeat_is_a_hit_with_the_same_value() {
    let app = TestApp::new();
    let first = app.get("/factorial/20");
    let second = app.get("/factorial/20");
    assert_eq!(first.x_cache(), "MISS");
    assert_eq!(second.x_cache(), "HIT");
    assert_eq!(first.body, second.body, "the same bytes, hit or miss");
    assert_eq!(
        second.body,
        r#"{"number":20,"factorial":"2432902008176640000","digits":19}"#
    );
    assert_eq!(
        second.header("Content-Type"),
        Some(ContentType::JSON.to_string().as_str())
    );

    let timing = second
        .header("Server-Timing")
        .expect("Server-Timing header");
    assert!(timing.starts_with("cache;desc=\"memory hit\""), "{timing}");
    assert!(timing.contains("total;dur="), "{timing}");
    let stats = app.stats();
    assert_eq!(stats["memory"]["hits"], 1);
    assert_eq!(stats["memory"]["misses"], 1);
}

/// A miss explains itself in `X-Cache-Detail`; a hit says `HIT` and its
/// timing, and nothing else: every header is paid for on every hit, so the
/// fast path carries only the two that teach.
#[test]
fn a_miss_explains_itself_and_a_hit_carries_only_what_teaches() {
    let app = TestApp::new();
    let miss = app.get("/factorial/12");
    assert_eq!(
        miss.header("X-Cache-Detail"),
        Some("computed 12 steps from 0! = 1")
    );
    let reuse = app.get("/factorial/15");
    assert_eq!(
        reuse.header("X-Cache-Detail"),
        Some("computed 3 steps on top of 12!")
    );

    let hit = app.get("/factorial/15");
    assert_eq!(hit.x_cache(), "HIT");
    assert_eq!(
        hit.header_names(),
        [
            "cache-control",
            "cache-status",
            "content-type",
            "etag",
            "server-timing",
            "x-cache",
            "x-content-type-options",
            "x-frame-options",
            "x-instance"
        ],
        "a memory hit's headers"
    );
}

#[test]
fn a_miss_names_its_parts_and_its_total_holds_them_all() {
    let app = TestApp::with(|settings| settings.merge(setting("factorial_delay_ms", 2)));
    let miss = app.get("/factorial/30");
    let parts = miss.server_timing();
    let names: Vec<&str> = parts.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, ["cache", "wait", "compute", "total"]);
    let (cache, wait, compute, total) = (parts[0].1, parts[1].1, parts[2].1, parts[3].1);
    assert_eq!(wait, 60.0, "30 steps of 2 ms, simulated: {parts:?}");
    assert!(
        cache >= wait + compute,
        "the tier's time holds its work: {parts:?}"
    );
    assert!(
        total >= cache,
        "the whole request holds the tier: {parts:?}"
    );
    let header = miss.header("Server-Timing").expect("Server-Timing");
    assert!(
        header.contains("compute;desc=\"multiplying and writing out the digits\""),
        "{header}"
    );
}

#[test]
fn a_larger_n_computes_only_the_missing_steps() {
    let app = TestApp::new();
    app.get("/factorial/10");
    let answer = app.get("/factorial/15");
    assert_eq!(answer.x_cache(), "MISS");
    assert_eq!(
        answer.header("X-Cache-Detail"),
        Some("computed 5 steps on top of 10!")
    );
    assert_eq!(app.stats()["memory"]["computed"], 15);

    // Every step was stored, so a smaller n is now a hit.
    assert_eq!(app.get("/factorial/12").x_cache(), "HIT");
}

#[test]
fn the_least_recently_used_step_is_evicted_past_capacity() {
    let app = TestApp::with(|settings| settings.merge(setting("memory_capacity", 3)));
    app.get("/factorial/3"); // stores 1!, 2!, 3!
    app.get("/factorial/1"); // 1! is now the most recently used
    app.get("/factorial/4"); // stores 4!, evicting 2!, the least recently used

    let stats = app.stats();
    assert_eq!(stats["memory"]["entries"], 3);
    assert_eq!(stats["memory"]["capacity"], 3);
    assert_eq!(stats["memory"]["evictions"], 1);
    assert_eq!(app.get("/factorial/1").x_cache(), "HIT");
    assert_eq!(app.get("/factorial/2").x_cache(), "MISS");
}

/// 24 simultaneous cold requests for 150! must do the work of one: 150 steps.
#[rocket::async_test]
async fn concurrent_cold_requests_compute_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    // A small per-step delay keeps the first computation running while the
    // other 23 requests arrive.
    let settings = test_settings(&dir.path().join("cache")).merge(setting("factorial_delay_ms", 2));
    let client = async_client_for(settings).await;

    let requests = (0..24).map(|_| client.get("/factorial/150").dispatch());
    let responses = rocket::futures::future::join_all(requests).await;
    let mut coalesced = 0;
    for response in responses {
        assert_eq!(response.status(), Status::Ok);
        let waited = response.headers().get_one("X-Cache-Detail")
            == Some("waited for another request that was computing 150!");
        coalesced += usize::from(waited);
        let body: serde_json::Value =
            serde_json::from_str(&response.into_string().await.expect("a body")).expect("JSON");
        assert_eq!(body["factorial"], factorial_by_hand(150).as_str());
    }
    assert_eq!(coalesced, 23, "all but one request waited for the first");

    let stats = async_stats(&client).await;
    assert_eq!(stats["memory"]["computed"], 150);
    assert_eq!(stats["memory"]["misses"], 24);
    assert_eq!(stats["memory"]["in_flight"], 0);
}

/// `Cache-Status` as a Structured Field List (RFC 8941), parsed by `sfv`:
/// each member's cache name and its parameters, in the order sent.
pub(crate) fn cache_status(
    answer: &crate::helpers::Answer,
) -> Vec<(String, Vec<(String, String)>)> {
    use sfv::{BareItem, List, ListEntry};
    // Each item written as RFC 8941 would write it alone: `?1`, `miss`,
    // `"text"`, `12`.
    let written = |item: &BareItem| match item {
        BareItem::Boolean(value) => format!("?{}", u8::from(*value)),
        BareItem::Token(token) => token.as_str().to_owned(),
        BareItem::String(string) => format!("{:?}", string.as_str()),
        BareItem::Integer(integer) => i64::from(*integer).to_string(),
        other => format!("{other:?}"),
    };
    let value = answer.header("Cache-Status").expect("Cache-Status");
    let list = sfv::Parser::new(value)
        .parse::<List>()
        .unwrap_or_else(|error| panic!("{value:?} is not a Structured Field List: {error}"));
    list.iter()
        .map(|entry| match entry {
            ListEntry::Item(item) => (
                written(&item.bare_item),
                item.params
                    .iter()
                    .map(|(key, value)| (key.as_str().to_owned(), written(value)))
                    .collect(),
            ),
            ListEntry::InnerList(_) => panic!("{value:?}: an inner list is no cache"),
        })
        .collect()
}

pub(crate) fn cache_status_params(answer: &crate::helpers::Answer) -> Vec<(String, String)> {
    let members = cache_status(answer);
    assert_eq!(members.len(), 1, "one tier consulted: {members:?}");
    members
        .into_iter()
        .next()
        .map(|(_, params)| params)
        .unwrap_or_default()
}

#[test]
fn cache_status_names_the_memory_tier_and_what_it_did() {
    let app = TestApp::new();
    let miss = app.get("/factorial/25");
    assert_eq!(cache_status(&miss)[0].0, "cachelab-memory");
    assert_eq!(
        cache_status_params(&miss),
        [
            ("fwd".into(), "miss".into()),
            ("stored".into(), "?1".into())
        ]
    );
    let hit = app.get("/factorial/25");
    assert_eq!(cache_status_params(&hit), [("hit".into(), "?1".into())]);
}

#[rocket::async_test]
async fn cache_status_marks_requests_that_waited_for_another_as_collapsed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let client = async_client_for(
        test_settings(&dir.path().join("cache")).merge(setting("factorial_delay_ms", 5)),
    )
    .await;
    let requests = (0..4).map(|_| client.get("/factorial/60").dispatch());
    let answers = rocket::futures::future::join_all(requests).await;
    let statuses: Vec<String> = answers
        .iter()
        .map(|answer| {
            answer
                .headers()
                .get_one("Cache-Status")
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    assert_eq!(
        statuses
            .iter()
            .filter(|status| status.ends_with("stored"))
            .count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses
            .iter()
            .filter(|status| status.ends_with("collapsed"))
            .count(),
        3,
        "{statuses:?}"
    );
}
