//! The speed table: one value timed from each place on this machine, its
//! rows and their evidence, one measurement at a time, and nothing left
//! behind. Timings are compared with each other, never with a fixed time.

use std::time::Duration;

use cachelab_testkit::RedisServer;
use rocket::http::{Accept, ContentType, Status};
use serde_json::Value;

use crate::helpers::{async_client_for, setting, test_settings, Answer, TestApp};

/// A measurement asked for as curl would: a form body, JSON wanted back.
fn measure(app: &TestApp, runs: u64) -> Answer {
    Answer::from(
        app.client
            .post("/speed/run")
            .header(ContentType::Form)
            .header(Accept::JSON)
            .body(format!("runs={runs}"))
            .dispatch(),
    )
}

fn page(app: &TestApp) -> String {
    app.client
        .get("/speed")
        .header(Accept::HTML)
        .dispatch()
        .into_string()
        .unwrap_or_default()
}

fn row<'a>(report: &'a Value, place: &str) -> &'a Value {
    report["places"]
        .as_array()
        .and_then(|rows| rows.iter().find(|row| row["place"] == place))
        .unwrap_or_else(|| panic!("no {place} row in {report}"))
}

fn median_ns(report: &Value, place: &str) -> u64 {
    row(report, place)["median_ns"].as_u64().expect("a median")
}

#[test]
fn every_place_is_timed_as_often_as_asked_with_median_at_most_p99() {
    let app = TestApp::new();
    let answer = measure(&app, 150);
    assert_eq!(answer.status, Status::Ok, "{}", answer.body);
    assert_eq!(answer.header("Cache-Control"), Some("no-store"));
    let report = &answer.json;
    assert_eq!(report["runs_asked"], 150);
    assert_eq!(report["value_bytes"], 2568, "1000! has 2568 digits");
    let places: Vec<&str> = report["places"]
        .as_array()
        .expect("places")
        .iter()
        .filter_map(|row| row["place"].as_str())
        .collect();
    let mut expected = vec!["memory", "disk_page_cache", "disk_evicted", "compute"];
    if !cfg!(target_os = "linux") {
        expected.retain(|place| *place != "disk_evicted");
    }
    assert_eq!(places, expected, "no Redis row without redis_url");
    assert_eq!(report["redis"], "off");
    for place in &places {
        let timing = row(report, place);
        assert_eq!(timing["runs"], 150, "{place}: {timing}");
        let (median, p99) = (timing["median_ns"].as_u64(), timing["p99_ns"].as_u64());
        let (Some(median), Some(p99)) = (median, p99) else {
            panic!("{place} was not measured: {timing}");
        };
        assert!(median <= p99, "{place}: median {median} ns > p99 {p99} ns");
    }
    // Ratios, not times: a lookup in memory beats doing the work again.
    assert!(median_ns(report, "memory") < median_ns(report, "compute"));
    assert!(median_ns(report, "memory") < median_ns(report, "disk_page_cache"));
    // The measured file is gone, and so is its folder.
    let mut speed_dir = app.cache_dir().into_os_string();
    speed_dir.push("-speed");
    assert!(!std::path::Path::new(&speed_dir).exists());
}

#[cfg(target_os = "linux")]
#[test]
fn the_cold_disk_row_says_how_pages_were_dropped_and_shows_they_were() {
    let app = TestApp::new();
    let report = measure(&app, 100).json;
    assert_eq!(report["eviction"]["available"], true);
    assert_eq!(
        report["eviction"]["method"],
        "fdatasync, then posix_fadvise(POSIX_FADV_DONTNEED)"
    );
    let evicted = &row(&report, "disk_evicted")["residency"];
    assert_eq!(evicted["runs_checked"], 100, "{evicted}");
    // If the test directory is on a file system that keeps its pages (a
    // tmpfs keeps everything in RAM), this fails and says so.
    assert_eq!(
        evicted["runs_with_no_page_resident"],
        100,
        "the kernel kept pages of the file under {} despite the advice: {evicted}",
        app.cache_dir().display()
    );
    assert_eq!(report["eviction"]["worked"], true);
    let warm = &row(&report, "disk_page_cache")["residency"];
    assert_eq!(warm["runs_with_every_page_resident"], 100, "{warm}");
    // A read from the device is slower than one from the page cache.
    assert!(median_ns(&report, "disk_evicted") > median_ns(&report, "disk_page_cache"));

    let page = page(&app);
    let evidence = page
        .split("id=\"eviction-evidence\">")
        .nth(1)
        .and_then(|rest| rest.split("</span>").next())
        .expect("the evicted row shows its evidence");
    assert!(
        evidence.contains("it worked: 0 of 1 page resident before 100 of 100 reads"),
        "{evidence}"
    );
    assert!(page.contains("posix_fadvise(POSIX_FADV_DONTNEED)"));
}

#[test]
fn the_page_shows_every_row_and_the_browser_measures_its_own() {
    let app = TestApp::new();
    let before = page(&app);
    assert!(before.contains("id=\"no-measurement\""));
    assert!(before.contains("id=\"row-browser\""));
    assert!(before.contains("aria-current=\"page\">Speed table</a>"));
    assert_eq!(app.get("/speed.json").status, Status::NotFound);

    // A browser's form is sent back to the page, which shows the result.
    let answer = Answer::from(
        app.client
            .post("/speed/run")
            .header(ContentType::Form)
            .header(Accept::HTML)
            .body("runs=100")
            .dispatch(),
    );
    assert_eq!(answer.status, Status::SeeOther);
    assert_eq!(answer.header("Location"), Some("/speed"));
    let after = page(&app);
    for id in ["memory", "disk_page_cache", "compute", "browser"] {
        assert!(after.contains(&format!("id=\"row-{id}\"")), "no {id} row");
    }
    if cfg!(target_os = "linux") {
        assert!(after.contains("id=\"row-disk_evicted\""));
    }
    assert!(!after.contains("id=\"row-redis\""));
    assert!(after.contains("Measured by your browser"));
    // Every measured row has a bar in its tier's colour.
    let measured_rows = if cfg!(target_os = "linux") { 4 } else { 3 };
    assert_eq!(
        after.matches("<rect class=\"bar tier-").count(),
        measured_rows
    );
    assert_eq!(app.get("/speed.json").json["runs_asked"], 100);

    // What the browser times is the very value /factorial/1000 answers.
    let value = app.get("/speed/value/test-1");
    assert_eq!(value.header("Cache-Control"), Some("private, max-age=600"));
    assert_eq!(
        app.get("/factorial/1000").json["factorial"].as_str(),
        Some(value.body.as_str())
    );
}

#[test]
fn a_bad_number_of_runs_is_refused_with_the_range() {
    let app = TestApp::new();
    for runs in ["5", "100000", "many"] {
        let answer = Answer::from(
            app.client
                .post("/speed/run")
                .header(ContentType::Form)
                .body(format!("runs={runs}"))
                .dispatch(),
        );
        assert_eq!(answer.status, Status::UnprocessableEntity, "{runs}");
        assert_eq!(answer.json["accepted"], "runs from 100 to 1000");
    }
}

#[rocket::async_test]
async fn a_second_measurement_while_one_runs_is_refused_at_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let client = async_client_for(test_settings(&dir.path().join("cache"))).await;
    let run = |accept: Accept| {
        client
            .post("/speed/run")
            .header(ContentType::Form)
            .header(accept)
            .body("runs=1000")
            .dispatch()
    };
    let (first, second, third) =
        rocket::tokio::join!(run(Accept::JSON), run(Accept::JSON), run(Accept::HTML));
    assert_eq!(first.status(), Status::Ok);
    assert_eq!(second.status(), Status::Conflict);
    let refusal: Value = second.into_json().await.expect("a JSON refusal");
    assert!(
        refusal["error"]
            .as_str()
            .is_some_and(|error| error.contains("already running")),
        "{refusal}"
    );
    assert_eq!(third.status(), Status::Conflict);
    let page = third.into_string().await.unwrap_or_default();
    assert!(page.contains("already running"), "a page for the browser");
    // Once it is over, the next one runs.
    let again = client
        .post("/speed/run")
        .header(ContentType::Form)
        .body("runs=100")
        .dispatch()
        .await;
    assert_eq!(again.status(), Status::Ok);
}

#[test]
fn with_redis_up_its_round_trip_is_a_row_and_its_key_is_removed() {
    let redis = RedisServer::start();
    let app = TestApp::with(|settings| {
        settings
            .merge(setting("redis_url", redis.url()))
            .merge(setting("redis_timeout_ms", 1000))
    });
    assert!(
        app.wait_for(Duration::from_secs(10), |app| app.stats()["redis"]["stats"]
            ["health"]
            == "up"),
        "the shared tier never came up"
    );
    let answer = measure(&app, 100);
    assert_eq!(answer.status, Status::Ok, "{}", answer.body);
    let report = &answer.json;
    assert_eq!(report["redis"], "measured", "{report}");
    let timing = row(report, "redis");
    assert_eq!(timing["runs"], 100);
    assert!(timing["median_ns"].as_u64() <= timing["p99_ns"].as_u64());
    // A round trip to another process costs more than a lookup in this one.
    assert!(median_ns(report, "memory") < median_ns(report, "redis"));
    assert!(
        redis.keys("cachelab:speed:*").is_empty(),
        "the key was deleted"
    );
    // The shared tier's own counters are untouched by a measurement.
    assert_eq!(app.stats()["redis"]["stats"]["hits"], 0);
    assert!(page(&app).contains("id=\"row-redis\""));
}
