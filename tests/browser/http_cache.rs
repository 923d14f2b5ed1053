//! The HTTP-cache lab in real Chromium: for each policy on `/http-cache`,
//! what the browser's own cache did, told by the app's count of requests
//! that reached it (asked independently of the page), and what the page
//! said about it.

use std::time::{Duration, Instant};

use fantoccini::{Client, Locator};
use serde_json::Value;

use super::{assert_console_clean, count, text_of, Screenshots, Session};

/// What reached the app for the page's resource, fetched past every cache.
async fn app_count(browser: &Client, resource: &str) -> Value {
    browser
        .execute(
            "return fetch(arguments[0], { cache: 'no-store' }).then(r => r.json());",
            vec![Value::String(format!("{resource}/requests"))],
        )
        .await
        .expect("the app's count")
}

/// The statuses of the requests that reached the app after the first
/// `skip` of them (the recent list holds the latest twenty).
fn statuses_after(count: &Value, skip: u64) -> Vec<u64> {
    let total = count["requests"].as_u64().unwrap_or(0);
    let recent = count["recent"].as_array().cloned().unwrap_or_default();
    recent
        .iter()
        .filter(|request| request["number"].as_u64().unwrap_or(0) > skip)
        .map(|request| request["status"].as_u64().unwrap_or(0))
        .take(usize::try_from(total - skip).unwrap_or(0))
        .collect()
}

/// Picks `policy` (and N, for the policies that take one), presses `button`
/// and waits until the table holds `rows_after` rows.
async fn load(browser: &Client, policy: &str, button: &str, rows_after: usize) {
    browser
        .find(Locator::Css(&format!(
            "input[name=policy][value='{policy}']"
        )))
        .await
        .expect("a policy radio")
        .click()
        .await
        .expect("pick the policy");
    browser
        .find(Locator::Id(button))
        .await
        .expect("a load button")
        .click()
        .await
        .expect("press load");
    let deadline = Instant::now() + Duration::from_secs(20);
    while count(browser, "#loads tbody tr:not(.changed)").await < rows_after {
        assert!(
            Instant::now() < deadline,
            "{policy}: the loads did not finish: {}",
            text_of(browser, "#lab-summary").await
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The buttons come back once the last load is in.
    let deadline = Instant::now() + Duration::from_secs(10);
    while browser
        .find(Locator::Css("#load-once:disabled"))
        .await
        .is_ok()
    {
        assert!(Instant::now() < deadline, "{policy}: still loading");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The page's own reading of its latest `n` loads: (reached the app,
/// statuses, bytes transferred).
async fn page_rows(browser: &Client, n: usize) -> Vec<(String, String, String)> {
    let read = browser
        .execute(
            "return [...document.querySelectorAll('#loads tbody tr:not(.changed)')] \
               .slice(-arguments[0]) \
               .map(r => [r.dataset.reached, r.dataset.statuses, r.dataset.transferSize]);",
            vec![Value::from(n)],
        )
        .await
        .expect("the table's rows");
    read.as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|row| {
            let field = |index: usize| row[index].as_str().unwrap_or_default().to_owned();
            (field(0), field(1), field(2))
        })
        .collect()
}

/// Loads with `policy` `times` times (one press of "Load 5 times" when 5)
/// and returns the statuses of the requests that reached the app meanwhile.
async fn loads_reaching_app(
    browser: &Client,
    resource: &str,
    policy: &str,
    times: usize,
    rows_so_far: &mut usize,
) -> Vec<u64> {
    let before = app_count(browser, resource).await["requests"]
        .as_u64()
        .unwrap_or(0);
    if times == 5 {
        *rows_so_far += 5;
        load(browser, policy, "load-five", *rows_so_far).await;
    } else {
        for _ in 0..times {
            *rows_so_far += 1;
            load(browser, policy, "load-once", *rows_so_far).await;
        }
    }
    statuses_after(&app_count(browser, resource).await, before)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_policy_is_reused_revalidated_or_fetched_by_chromium() {
    let Some(session) = Session::start().await else {
        return;
    };
    let (base, browser) = (session.base.clone(), session.browser.clone());

    browser
        .goto(&format!("{base}/http-cache"))
        .await
        .expect("open the HTTP cache page");
    let name = browser
        .find(Locator::Id("http-lab"))
        .await
        .expect("the lab's form")
        .attr("data-resource")
        .await
        .expect("read the resource name")
        .expect("the form names its resource");
    let resource = format!("/http-cache/resource/{name}");
    let mut rows = 0;

    // no-store: every load is a full answer from the app.
    let arrived = loads_reaching_app(&browser, &resource, "no-store", 5, &mut rows).await;
    assert_eq!(arrived, [200; 5], "no-store: five full answers");
    for (reached, statuses, _) in page_rows(&browser, 5).await {
        assert_eq!((reached.as_str(), statuses.as_str()), ("1", "200"));
    }
    assert!(
        text_of(&browser, "#lab-summary")
            .await
            .starts_with("You loaded it 5 times; 5 requests reached the app"),
        "{}",
        text_of(&browser, "#lab-summary").await
    );

    // max-age: the first load reaches the app, the other four do not.
    let arrived = loads_reaching_app(&browser, &resource, "max-age", 5, &mut rows).await;
    assert_eq!(arrived, [200], "max-age=60: one request for five loads");
    let page = page_rows(&browser, 5).await;
    assert_eq!(page[0].0, "1");
    for (reached, _, transfer_size) in &page[1..] {
        assert_eq!(
            (reached.as_str(), transfer_size.as_str()),
            ("0", "0"),
            "answered by the browser's cache, nothing transferred"
        );
    }
    assert!(text_of(&browser, "#loads tbody tr:last-child")
        .await
        .contains("From the browser's cache"));

    // immutable, private and public: in a browser, all like max-age.
    for policy in ["immutable", "private", "public"] {
        let arrived = loads_reaching_app(&browser, &resource, policy, 5, &mut rows).await;
        assert_eq!(arrived, [200], "{policy}: one request for five loads");
    }

    // no-cache with an ETag: a copy is kept, and revalidated each time.
    let arrived = loads_reaching_app(&browser, &resource, "no-cache", 3, &mut rows).await;
    assert_eq!(arrived, [200, 304, 304], "no-cache: revalidated with 304s");
    let page = page_rows(&browser, 3).await;
    let revalidation_bytes: u64 = page[1].2.parse().expect("a transfer size");
    let full_bytes: u64 = page[0].2.parse().expect("a transfer size");
    assert!(
        revalidation_bytes > 0 && revalidation_bytes < full_bytes,
        "a 304 moves headers only: {revalidation_bytes} B against {full_bytes} B"
    );
    assert!(text_of(&browser, "#loads tbody tr:last-child")
        .await
        .contains("304 Not Modified"));
    // A 304's headers replace the stored copy's (RFC 9111 §4.3.4), so the
    // copy now names the request that revalidated it.
    let latest = app_count(&browser, &resource).await["requests"]
        .as_u64()
        .unwrap_or(0);
    assert_eq!(
        text_of(&browser, "#loads tbody tr:last-child td:last-child").await,
        format!("#{latest}, version 1")
    );

    // A new version: the next revalidation gets it in full.
    browser
        .find(Locator::Id("change-resource"))
        .await
        .expect("the change button")
        .click()
        .await
        .expect("change the resource");
    let deadline = Instant::now() + Duration::from_secs(10);
    while count(&browser, "#loads tr.changed").await == 0 {
        assert!(Instant::now() < deadline, "the change was not shown");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let arrived = loads_reaching_app(&browser, &resource, "no-cache", 2, &mut rows).await;
    assert_eq!(arrived, [200, 304], "the changed body, then 304s again");
    assert!(text_of(&browser, "#loads tbody tr:last-child")
        .await
        .contains("version 2"));

    // no-cache without an ETag: nothing to revalidate with.
    let arrived = loads_reaching_app(&browser, &resource, "no-cache-no-etag", 3, &mut rows).await;
    assert_eq!(arrived, [200, 200, 200], "no ETag: full answers");

    // No Cache-Control at all (and no Last-Modified to guess a lifetime
    // from): Chromium keeps the copy and revalidates it.
    let arrived = loads_reaching_app(&browser, &resource, "none", 3, &mut rows).await;
    assert_eq!(arrived, [200, 304, 304], "no header: revalidated");

    // Vary: a copy serves only requests with the same X-Variant.
    let value = browser
        .find(Locator::Id("vary-value"))
        .await
        .expect("value");
    browser
        .find(Locator::Css("input[name=policy][value='vary']"))
        .await
        .expect("the Vary policy")
        .click()
        .await
        .expect("pick Vary");
    let arrived = loads_reaching_app(&browser, &resource, "vary", 2, &mut rows).await;
    assert_eq!(arrived, [200], "the same variant twice: one request");
    value.clear().await.expect("clear the value");
    value.send_keys("green").await.expect("type another value");
    let arrived = loads_reaching_app(&browser, &resource, "vary", 1, &mut rows).await;
    assert_eq!(arrived, [200], "another variant: its own request");
    assert!(text_of(&browser, "#loads tbody tr:last-child")
        .await
        .contains("X-Variant: green"));
    value.clear().await.expect("clear the value");
    value
        .send_keys("blue")
        .await
        .expect("type the first value again");
    let arrived = loads_reaching_app(&browser, &resource, "vary", 1, &mut rows).await;
    assert_eq!(
        arrived,
        [200],
        "Chromium keeps one copy per address: green's replaced blue's"
    );

    assert_console_clean(&browser, "/http-cache").await;
    let shots = Screenshots::new();
    shots.take(&browser, "http-cache-form").await;
    browser
        .execute(
            "document.getElementById('loads-heading').scrollIntoView();",
            vec![],
        )
        .await
        .expect("scroll to the results");
    shots.take(&browser, "http-cache").await;
    session
        .browser
        .clone()
        .close()
        .await
        .expect("close the browser");
}

/// Follows the exercise page's link for `exercise` (the first link into the
/// HTTP cache page in its section) and returns the resource it opened.
async fn open_exercise_link(browser: &Client, base: &str, exercise: &str, nth: usize) -> String {
    browser
        .goto(&format!("{base}/exercises"))
        .await
        .expect("open the exercises");
    let links = browser
        .find_all(Locator::Css(&format!(
            "#{exercise} a[href^='/http-cache?']"
        )))
        .await
        .expect("the exercise's links");
    let href = links
        .get(nth)
        .unwrap_or_else(|| panic!("{exercise}: link {nth} into the lab"))
        .attr("href")
        .await
        .expect("read the link")
        .expect("a link has an address");
    browser
        .goto(&format!("{base}{href}"))
        .await
        .expect("follow the exercise's link");
    assert_console_clean(browser, &href).await;
    browser
        .find(Locator::Id("http-lab"))
        .await
        .expect("the lab's form")
        .attr("data-resource")
        .await
        .expect("read the resource name")
        .expect("the form names its resource")
}

/// Whether the exercise page shows `exercise` done for this browser.
async fn done(browser: &Client, base: &str, exercise: &str) -> bool {
    browser
        .goto(&format!("{base}/exercises"))
        .await
        .expect("open the exercises");
    count(browser, &format!("#{exercise}.done")).await == 1
}

/// Three HTTP exercises done the browser way, as their page says: follow the
/// link, press Load. The app ticks each from what reached it and, for the
/// browser's own cache, from the page's account of the loads it answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_http_exercises_tick_when_done_in_chromium_as_the_page_says() {
    let Some(session) = Session::start().await else {
        return;
    };
    let (base, browser) = (session.base.clone(), session.browser.clone());

    for exercise in ["browser-cache", "revalidation", "no-store-no-cache"] {
        assert!(
            !done(&browser, &base, exercise).await,
            "{exercise} starts undone"
        );
    }

    // The browser answers by itself: max-age=60, loaded twice.
    let name = open_exercise_link(&browser, &base, "browser-cache", 0).await;
    assert!(name.starts_with("fresh-"), "{name}");
    let mut rows = 0;
    let arrived = loads_reaching_app(
        &browser,
        &format!("/http-cache/resource/{name}"),
        "preset",
        2,
        &mut rows,
    )
    .await;
    assert_eq!(arrived, [200], "one request for two loads");
    assert!(done(&browser, &base, "browser-cache").await);

    // Revalidation: no-cache, loaded twice.
    let name = open_exercise_link(&browser, &base, "revalidation", 0).await;
    let mut rows = 0;
    let arrived = loads_reaching_app(
        &browser,
        &format!("/http-cache/resource/{name}"),
        "preset",
        2,
        &mut rows,
    )
    .await;
    assert_eq!(arrived, [200, 304]);
    assert!(done(&browser, &base, "revalidation").await);

    // no-store twice, then no-cache twice, on one resource.
    let name = open_exercise_link(&browser, &base, "no-store-no-cache", 0).await;
    let resource = format!("/http-cache/resource/{name}");
    let mut rows = 0;
    assert_eq!(
        loads_reaching_app(&browser, &resource, "preset", 2, &mut rows).await,
        [200, 200]
    );
    assert!(
        !done(&browser, &base, "no-store-no-cache").await,
        "half done"
    );
    assert_eq!(
        open_exercise_link(&browser, &base, "no-store-no-cache", 1).await,
        name
    );
    let mut rows = 0;
    assert_eq!(
        loads_reaching_app(&browser, &resource, "preset", 2, &mut rows).await,
        [200, 304]
    );
    assert!(done(&browser, &base, "no-store-no-cache").await);
    session
        .browser
        .clone()
        .close()
        .await
        .expect("close the browser");
}
