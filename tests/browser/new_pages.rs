//! Stale answers on `/catalogue`, the sizing chart on `/sizing` (and a
//! replay through a live memory tier) and the
//! speed table on `/speed`, each used in real Chromium at desktop and at
//! phone width.

use std::time::{Duration, Instant};

use fantoccini::{Client, Locator};
use serde_json::Value;

use super::{
    assert_console_clean, count, submit, text_of, BrowserLog, Screenshots, Session, SIZES,
};

/// Types `text` into the field `css`, replacing what was there.
async fn fill(browser: &Client, css: &str, text: &str) {
    let field = browser
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|error| panic!("{css}: {error}"));
    field.clear().await.expect("clear the field");
    field.send_keys(text).await.expect("type into the field");
}

async fn click(browser: &Client, css: &str) {
    browser
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|error| panic!("{css}: {error}"))
        .click()
        .await
        .unwrap_or_else(|error| panic!("click {css}: {error}"));
}

/// Waits until the text of `css` is one `done` accepts, and returns it.
async fn wait_for_text(
    browser: &Client,
    css: &str,
    seconds: u64,
    done: impl Fn(&str) -> bool,
) -> String {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    loop {
        let said = text_of(browser, css).await;
        if done(&said) {
            return said;
        }
        assert!(
            Instant::now() < deadline,
            "{css}: still {said:?} after {seconds} s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The sideways check every page passes at each size, with the width the
/// page really had (a window can refuse to be as narrow as asked).
pub(super) async fn assert_no_sideways_scroll(browser: &Client, page: &str, width: u32) {
    let measured = browser
        .execute(
            "return [document.documentElement.scrollWidth, window.innerWidth];",
            vec![],
        )
        .await
        .expect("measure the page");
    let (scroll, inner) = (
        measured[0].as_u64().unwrap_or(u64::MAX),
        measured[1].as_u64().unwrap_or(0),
    );
    assert_eq!(inner, u64::from(width), "{page}: the window's width");
    assert!(
        scroll <= inner,
        "{page} at {width} px scrolls sideways: {measured}"
    );
}

/// A price in cents as the catalogue page writes it.
fn price(cents: u64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

/// The cells of an item's row on `/catalogue`: cached price, true price
/// and the stale marker.
async fn catalogue_row(browser: &Client, item: &str) -> (String, String, String) {
    let cell = |column: usize| format!("#item-{item} td:nth-child({column})");
    (
        text_of(browser, &cell(2)).await,
        text_of(browser, &cell(4)).await,
        text_of(browser, &cell(5)).await,
    )
}

/// Sets `item`'s price with its row's form and returns the message shown.
async fn set_price(browser: &Client, item: &str, cents: u64) -> String {
    let form = format!("form[action='/catalogue/{item}']");
    fill(
        browser,
        &format!("{form} input[name=price_cents]"),
        &cents.to_string(),
    )
    .await;
    submit(browser, &form).await;
    text_of(browser, ".flash").await
}

/// Picks a strategy with the page's form, with a browser max-age of 0 so
/// that the Fetch buttons always reach the app and the browser's own copy
/// never stands in for the app's cache.
async fn use_strategy(browser: &Client, strategy: &str) {
    click(
        browser,
        &format!("input[name=strategy][value='{strategy}']"),
    )
    .await;
    fill(browser, "#browser_max_age_secs", "0").await;
    submit(browser, "form[action='/catalogue/strategy']").await;
    let said = text_of(browser, ".flash").await;
    assert!(
        said.starts_with(&format!("Strategy {strategy},")) && said.ends_with("max-age 0 s."),
        "{said}"
    );
}

/// Presses `item`'s Fetch button and returns what it wrote.
async fn fetch_with_button(browser: &Client, item: &str) -> String {
    let output = format!("#fetched-{item}");
    browser
        .execute(
            "document.querySelector(arguments[0]).textContent = '';",
            vec![Value::String(output.clone())],
        )
        .await
        .expect("empty the output");
    click(
        browser,
        &format!("button.browser-fetch[data-item='{item}']"),
    )
    .await;
    wait_for_text(browser, &output, 10, |said| {
        said.contains("truth") || said.starts_with("could not fetch")
    })
    .await
}

/// A stale answer under ttl-only, and none under invalidate-on-write.
async fn catalogue(browser: &Client, base: &str, shots: &Screenshots, at: (&str, u32, u32)) {
    let (size, width, height) = at;
    // A different item at each width, so that each starts uncached.
    let (item, start_cents) = if size == "desktop" {
        ("apple", 120)
    } else {
        ("banana", 45)
    };
    browser
        .goto(&format!("{base}/catalogue"))
        .await
        .expect("open the catalogue");
    assert_eq!(text_of(browser, "h1").await, "Stale answers");
    use_strategy(browser, "ttl-only").await;
    let headings = text_of(browser, "table.catalogue thead").await;
    assert!(
        headings.contains("Cached price") && headings.contains("True price"),
        "{headings}"
    );
    assert_eq!(count(browser, "table.catalogue tbody tr").await, 8);
    let (cached, truth, marker) = catalogue_row(browser, item).await;
    assert_eq!(cached, "not cached");
    assert_eq!(truth, format!("{} (v1)", price(start_cents)));
    assert_eq!(marker, "");

    // Read through the cache: a miss, which stores a copy.
    let said = fetch_with_button(browser, item).await;
    let now = price(start_cents);
    assert_eq!(
        said,
        format!("got {now}, truth {now}, answered by the app: X-Cache MISS")
    );

    // ttl-only: the change leaves the copy, so the next read is stale.
    let new_cents = start_cents + 100;
    let said = set_price(browser, item, new_cents).await;
    assert!(said.ends_with("its cached copy was kept."), "{said}");
    let (cached, truth, marker) = catalogue_row(browser, item).await;
    assert_eq!(cached, format!("{now} (v1)"));
    assert_eq!(truth, format!("{} (v2)", price(new_cents)));
    assert_eq!(marker, "STALE");
    let said = fetch_with_button(browser, item).await;
    assert_eq!(
        said,
        format!(
            "got {now}, truth {}, STALE, answered by the app: X-Cache HIT",
            price(new_cents)
        )
    );
    assert_no_sideways_scroll(browser, "/catalogue (stale)", width).await;
    browser
        .execute(
            "document.getElementById(arguments[0]).scrollIntoView(); \
             document.querySelector('.table-wrap').scrollLeft = 0;",
            vec![Value::String(format!("item-{item}"))],
        )
        .await
        .expect("scroll to the row");
    shots
        .take_at(browser, "catalogue-stale", size, width, height)
        .await;

    // invalidate-on-write: the next change deletes the copy, so the stale
    // marker goes, and the next read fetches the new price.
    use_strategy(browser, "invalidate-on-write").await;
    let newer_cents = new_cents + 50;
    let said = set_price(browser, item, newer_cents).await;
    assert!(
        said.ends_with("1 cached copy deleted (the other items' copies kept)."),
        "{said}"
    );
    let newer = price(newer_cents);
    assert_eq!(
        catalogue_row(browser, item).await,
        (
            "not cached".to_owned(),
            format!("{newer} (v3)"),
            String::new()
        )
    );
    let said = fetch_with_button(browser, item).await;
    assert_eq!(
        said,
        format!("got {newer}, truth {newer}, answered by the app: X-Cache MISS")
    );
    browser.refresh().await.expect("reload the catalogue");
    assert_eq!(
        catalogue_row(browser, item).await,
        (
            format!("{newer} (v3)"),
            format!("{newer} (v3)"),
            String::new()
        )
    );
    assert_eq!(count(browser, "table.catalogue .badge").await, 0);
    assert_console_clean(browser, "/catalogue").await;
    assert_no_sideways_scroll(browser, "/catalogue", width).await;
    shots
        .take_at(browser, "catalogue", size, width, height)
        .await;
}

/// The `points` of each policy's line in the first chart.
async fn policy_lines(browser: &Client) -> Vec<String> {
    let mut lines = Vec::new();
    for policy in ["lru", "fifo", "belady"] {
        let line = browser
            .find(Locator::Css(&format!(
                "figure.sizing-chart svg polyline.curve.{policy}"
            )))
            .await
            .unwrap_or_else(|error| panic!("the {policy} line: {error}"))
            .attr("points")
            .await
            .expect("read the line")
            .unwrap_or_default();
        assert!(line.split(' ').count() >= 2, "{policy}: {line}");
        lines.push(line);
    }
    lines
}

/// The axis labels of every sizing chart that touch another label or
/// stick out of the chart, as the browser laid them out (at a phone's
/// width the chart is scaled down and its labels drawn larger).
async fn touching_size_labels(browser: &Client) -> Vec<Value> {
    let found = browser
        .execute(
            r#"
            const touching = [];
            for (const svg of document.querySelectorAll('figure.sizing-chart svg')) {
              const chart = svg.getBoundingClientRect();
              const labels = [...svg.querySelectorAll('text.tick')]
                .map(text => ({ text: text.textContent, box: text.getBoundingClientRect() }));
              for (const [i, a] of labels.entries()) {
                if (a.box.left < chart.left || a.box.right > chart.right) {
                  touching.push([a.text, 'outside the chart']);
                }
                for (const b of labels.slice(i + 1)) {
                  const apart = a.box.right <= b.box.left || b.box.right <= a.box.left
                    || a.box.bottom <= b.box.top || b.box.bottom <= a.box.top;
                  if (!apart) { touching.push([a.text, b.text]); }
                }
              }
              if (labels.length < 8) { touching.push(['too few labels', labels.length]); }
            }
            return touching;
            "#,
            vec![],
        )
        .await
        .expect("measure the axis labels");
    found.as_array().cloned().unwrap_or_default()
}

/// Chromium's console, drained, with every error but a 400 for `page`.
async fn console_errors_but_400(browser: &Client, page: &str) -> Vec<Value> {
    let log = browser
        .issue_cmd(BrowserLog)
        .await
        .expect("read the console log");
    log.as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|entry| entry["level"] == "SEVERE")
        .filter(|entry| {
            let message = entry["message"].as_str().unwrap_or_default();
            !(message.contains(page) && message.contains("status of 400"))
        })
        .collect()
}

/// The chart's three lines, redrawn for other settings; a bad value is a
/// message on the page.
async fn sizing(browser: &Client, base: &str, shots: &Screenshots, at: (&str, u32, u32)) {
    let (size, width, height) = at;
    browser
        .goto(&format!("{base}/sizing"))
        .await
        .expect("open the sizing page");
    assert_eq!(text_of(browser, "h1").await, "How big a cache must be");
    assert_eq!(
        count(browser, "figure.sizing-chart").await,
        2,
        "entries and bytes"
    );
    let default_lines = policy_lines(browser).await;
    assert_console_clean(browser, "/sizing").await;
    assert_no_sideways_scroll(browser, "/sizing", width).await;
    let touching = touching_size_labels(browser).await;
    assert!(touching.is_empty(), "at {width} px: {touching:?}");
    assert_eq!(
        count(
            browser,
            "figure.sizing-chart svg polyline.curve.memory-tier"
        )
        .await,
        1,
        "the memory tier's line, on the entries chart"
    );
    shots
        .take_at(browser, "sizing-form", size, width, height)
        .await;

    fill(browser, "input[name=skew]", "0.8").await;
    fill(browser, "input[name=keys]", "100").await;
    submit(browser, "form.experiment").await;
    let url = browser.current_url().await.expect("url");
    assert!(
        url.query()
            .unwrap_or_default()
            .contains("skew=0.8&keys=100"),
        "{url}"
    );
    let lines = policy_lines(browser).await;
    for (policy, (before, after)) in ["lru", "fifo", "belady"]
        .iter()
        .zip(default_lines.iter().zip(&lines))
    {
        assert_ne!(before, after, "{policy}: redrawn for the new settings");
    }
    let page = text_of(browser, "main").await;
    assert!(
        page.contains("requests for 100 different keys") && page.contains("with skew 0.8"),
        "the page describes the new requests"
    );
    assert_console_clean(browser, "/sizing?skew=0.8").await;
    assert_no_sideways_scroll(browser, "/sizing (skew 0.8)", width).await;
    let touching = touching_size_labels(browser).await;
    assert!(touching.is_empty(), "skew 0.8 at {width} px: {touching:?}");
    browser
        .execute(
            "document.querySelector('figure.sizing-chart').scrollIntoView();",
            vec![],
        )
        .await
        .expect("scroll to the chart");
    shots.take_at(browser, "sizing", size, width, height).await;

    // The memory tier's own suggestion, checked on a live memory tier.
    let suggested = text_of(browser, "#suggested-memory-tier").await;
    let entries = suggested
        .trim_end_matches(" entries")
        .parse::<u64>()
        .unwrap_or_else(|_| panic!("a number of entries: {suggested:?}"));
    fill(
        browser,
        "#replay-form input[name=capacity]",
        &entries.to_string(),
    )
    .await;
    submit(browser, "#replay-form").await;
    let heading = text_of(browser, "#replay-result h3").await;
    assert_eq!(heading, format!("The replay at {entries} entries"));
    let verdict = text_of(browser, "#replay-verdict").await;
    assert!(
        verdict.starts_with("Exactly the hits the memory tier's line predicted")
            && verdict.contains("It reached the target"),
        "{verdict}"
    );
    let page = text_of(browser, "main").await;
    assert!(
        page.contains("requests for 100 different keys") && page.contains("with skew 0.8"),
        "the replay kept the settings it replayed"
    );
    assert_console_clean(browser, "/sizing/replay").await;
    assert_no_sideways_scroll(browser, "/sizing/replay", width).await;
    browser
        .execute(
            "document.querySelector('#replay-result').scrollIntoView();",
            vec![],
        )
        .await
        .expect("scroll to the replay");
    shots
        .take_at(browser, "sizing-replay", size, width, height)
        .await;

    fill(browser, "input[name=skew]", "abc").await;
    submit(browser, "form.experiment").await;
    let status = browser
        .execute("return fetch(location.href).then(r => r.status);", vec![])
        .await
        .expect("the page's status");
    assert_eq!(status, 400, "a bad value is refused");
    assert_eq!(text_of(browser, "h1").await, "How big a cache must be");
    let said = text_of(browser, "#sizing-error").await;
    assert!(
        said.starts_with("Not run: ") && said.contains("skew") && said.contains("abc"),
        "{said}"
    );
    assert_eq!(
        count(browser, "input[name=skew][aria-invalid=true]").await,
        1
    );
    assert_eq!(
        count(browser, "figure.sizing-chart").await,
        0,
        "nothing drawn"
    );
    let errors = console_errors_but_400(browser, "/sizing").await;
    assert!(
        errors.is_empty(),
        "/sizing?skew=abc: console errors {errors:#?}"
    );
    assert_no_sideways_scroll(browser, "/sizing (skew abc)", width).await;
    shots
        .take_at(browser, "sizing-error", size, width, height)
        .await;
}

/// A duration as the speed table writes it ("3.20 µs", "15 ms"), in
/// microseconds.
fn micros(text: &str) -> f64 {
    let (number, unit) = text
        .split_once(' ')
        .unwrap_or_else(|| panic!("a number and a unit: {text:?}"));
    let number: f64 = number
        .parse()
        .unwrap_or_else(|_| panic!("a number: {text:?}"));
    match unit {
        "µs" => number,
        "ms" => number * 1000.0,
        _ => panic!("a unit the table uses: {text:?}"),
    }
}

/// A row's median and p99, in microseconds.
async fn median_and_p99(browser: &Client, row: &str) -> (f64, f64) {
    let median = text_of(browser, &format!("#{row} td.median")).await;
    let p99 = text_of(browser, &format!("#{row} td.p99")).await;
    (micros(&median), micros(&p99))
}

/// The app's rows measured on request, the browser's row by itself.
async fn speed(browser: &Client, base: &str, shots: &Screenshots, at: (&str, u32, u32)) {
    let (size, width, height) = at;
    browser
        .goto(&format!("{base}/speed"))
        .await
        .expect("open the speed page");
    assert_eq!(text_of(browser, "h1").await, "Speed table");
    fill(browser, "#runs", "100").await;
    // A measurement takes a second or two; longer in a debug build on a
    // busy machine, so the page change is waited for here, not by submit().
    let old_page = browser.find(Locator::Css("html")).await.expect("a page");
    click(browser, "form.experiment button[type=submit]").await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while old_page.tag_name().await.is_ok() {
        assert!(Instant::now() < deadline, "the measurement did not finish");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(count(browser, "#no-measurement").await, 0);
    for row in [
        "row-memory",
        "row-disk_page_cache",
        "row-disk_evicted",
        "row-compute",
    ] {
        assert_eq!(
            count(browser, &format!("#{row} td.error")).await,
            0,
            "{row}"
        );
        let (median, p99) = median_and_p99(browser, row).await;
        assert!(
            0.0 <= median && median <= p99,
            "{row}: median {median} µs, p99 {p99} µs"
        );
        assert_eq!(text_of(browser, &format!("#{row} td.runs")).await, "100");
    }
    let cold = text_of(browser, "#row-disk_evicted").await;
    assert!(
        cold.contains("fdatasync, then posix_fadvise(POSIX_FADV_DONTNEED)")
            && cold.contains("Checked with mincore"),
        "the cold-disk row says how: {cold}"
    );

    // The browser's row fills in by itself, or says why it cannot.
    let runs = wait_for_text(browser, "#row-browser td.runs", 60, |said| said != "…").await;
    let evidence = text_of(browser, "#browser-evidence").await;
    if runs == "0" {
        assert!(
            evidence.starts_with("None of the 100 second loads came from the cache"),
            "{evidence}"
        );
    } else {
        let (median, p99) = median_and_p99(browser, "row-browser").await;
        assert!(
            0.0 <= median && median <= p99,
            "the browser's row: median {median} µs, p99 {p99} µs"
        );
        assert!(
            evidence.starts_with(&format!("{runs} of 100 second loads had transferSize 0")),
            "{evidence}"
        );
    }
    assert_console_clean(browser, "/speed").await;
    assert_no_sideways_scroll(browser, "/speed", width).await;
    browser
        .execute(
            "document.getElementById('speed-table').scrollIntoView();",
            vec![],
        )
        .await
        .expect("scroll to the table");
    shots.take_at(browser, "speed", size, width, height).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalogue_sizing_and_speed_work_on_a_desktop_and_a_phone() {
    let Some(session) = Session::start().await else {
        return;
    };
    let (base, browser) = (session.base.clone(), session.browser.clone());
    let shots = Screenshots::new();
    for at in SIZES {
        let (_, width, height) = at;
        browser
            .set_window_size(width, height)
            .await
            .expect("resize");
        catalogue(&browser, &base, &shots, at).await;
        sizing(&browser, &base, &shots, at).await;
        speed(&browser, &base, &shots, at).await;
    }
    session
        .browser
        .clone()
        .close()
        .await
        .expect("close the browser");
}
