//! Several instances of the app on one machine: every answer names the
//! instance that gave it, and the dashboard shows each instance's tiers
//! side by side, from the snapshots the instances write beside cache_dir.

use std::path::{Path, PathBuf};

use rocket::figment::Figment;
use rocket::http::{Accept, ContentType, Status};
use serde_json::json;

use crate::helpers::{client_with_clock, setting, test_settings, Answer, TestApp};

fn named(name: &str) -> impl FnOnce(Figment) -> Figment + '_ {
    move |settings| settings.merge(setting("instance_name", name))
}

fn browse(app: &TestApp, uri: &str) -> Answer {
    Answer::from(
        app.client
            .get(uri.to_owned())
            .header(Accept::HTML)
            .dispatch(),
    )
}

/// Where the instances on `cache_dir` keep their snapshots.
fn instances_dir(cache_dir: &Path) -> PathBuf {
    cachelab::Config {
        cache_dir: cache_dir.to_path_buf(),
        ..cachelab::Config::default()
    }
    .instances_dir()
}

fn now_ms() -> u64 {
    cachelab::clock::system_now_ms()
}

/// A snapshot as another instance writes it: memory hits and misses,
/// written `age_ms` ago.
fn write_snapshot(dir: &Path, name: &str, hits: u64, misses: u64, age_ms: u64) {
    std::fs::create_dir_all(dir).expect("instances dir");
    let snapshot = json!({
        "instance": name,
        "pid": 1,
        "written_at_ms": now_ms() - age_ms,
        "counts": {
            "memory_entries": hits + misses,
            "memory_capacity": 100,
            "memory_hits": hits,
            "memory_misses": misses,
            "disk_hits": 4,
            "disk_misses": 5,
        }
    });
    std::fs::write(dir.join(format!("{name}.json")), snapshot.to_string()).expect("snapshot");
}

/// An app named `name` on a fresh cache_dir, started after `before_start`
/// has prepared that directory's surroundings.
fn app_started_after(name: &str, before_start: impl FnOnce(&Path)) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let cache_dir = dir.path().join("cache");
    before_start(&cache_dir);
    let (clock, time) = cachelab::clock::Clock::mock();
    let client = client_with_clock(named(name)(test_settings(&cache_dir)), clock);
    TestApp { client, dir, time }
}

/// The dashboard's per-instance table: its column headings, and the cells
/// of the row headed `row`.
struct InstanceTable {
    columns: Vec<String>,
    html: String,
}

impl InstanceTable {
    fn of(dashboard: &str) -> Self {
        let start = dashboard
            .find("<table class=\"counters\" id=\"instances\">")
            .expect("the dashboard has the instances table");
        let html = dashboard[start..]
            .split("</table>")
            .next()
            .expect("the table ends")
            .to_owned();
        let head = html.split("</thead>").next().expect("a head");
        let columns = head
            .split("<th scope=\"col\">")
            .skip(2)
            .map(|cell| cell.split("</th>").next().unwrap_or("").to_owned())
            .collect();
        Self { columns, html }
    }

    fn row(&self, row: &str) -> Vec<String> {
        let line = self
            .html
            .lines()
            .find(|line| line.contains(&format!("<th scope=\"row\">{row}</th>")))
            .unwrap_or_else(|| panic!("a row {row}"));
        line.split("<td>")
            .skip(1)
            .map(|cell| cell.split("</td>").next().unwrap_or("").to_owned())
            .collect()
    }
}

#[test]
fn every_answer_names_the_instance_that_gave_it() {
    let app = TestApp::with(named("b"));
    let api = app.get("/factorial/5");
    assert_eq!(api.status, Status::Ok);
    assert_eq!(api.header("X-Instance"), Some("b"), "an API answer");
    let hit = app.get("/factorial/5");
    assert_eq!(hit.x_cache(), "HIT");
    assert_eq!(hit.header("X-Instance"), Some("b"), "a memory hit");
    let stored = app.post_json("/data", r#"{"q": 1}"#);
    assert_eq!(stored.header("X-Instance"), Some("b"), "a /data answer");
    let stats = app.get("/stats");
    assert_eq!(stats.json["instance"], "b", "/stats says which instance");
    assert_eq!(stats.header("X-Instance"), Some("b"));

    for uri in ["/", "/memory?n=4", "/dashboard", "/exercises"] {
        let page = browse(&app, uri);
        assert_eq!(page.status, Status::Ok, "{uri}");
        assert_eq!(page.header("X-Instance"), Some("b"), "{uri}");
        assert!(
            page.body
                .contains("drawn by instance <strong id=\"instance-name\">b</strong>"),
            "{uri}: the page shows it"
        );
    }

    let missing_json = app.get("/no-such-thing");
    assert_eq!(missing_json.status, Status::NotFound);
    assert_eq!(missing_json.header("X-Instance"), Some("b"), "a JSON error");
    let missing_page = browse(&app, "/no-such-thing");
    assert_eq!(missing_page.status, Status::NotFound);
    assert_eq!(
        missing_page.header("X-Instance"),
        Some("b"),
        "an error page"
    );
    assert!(missing_page
        .body
        .contains("<strong id=\"instance-name\">b</strong>"));
    let refused = app.get("/factorial/abc");
    assert_eq!(refused.status, Status::BadRequest);
    assert_eq!(refused.header("X-Instance"), Some("b"), "a refusal");
    let bad_body = Answer::from(
        app.client
            .post("/data")
            .header(ContentType::JSON)
            .body("{not json")
            .dispatch(),
    );
    assert!(bad_body.status.code >= 400);
    assert_eq!(bad_body.header("X-Instance"), Some("b"), "a refused body");
}

#[test]
fn an_instance_without_a_name_is_named_for_its_port() {
    let app = TestApp::with(|settings| settings.merge(setting("port", 8123)));
    assert_eq!(app.get("/health").header("X-Instance"), Some("8123"));
    assert_eq!(app.stats()["instance"], "8123");
}

#[test]
fn a_name_that_is_no_header_value_or_file_name_stops_start_up() {
    let dir = tempfile::tempdir().expect("temp dir");
    for refused in ["a b", "../up", ""] {
        let settings = named(refused)(test_settings(&dir.path().join("cache")));
        let reason = match cachelab::rocket_from(settings) {
            Ok(_) => panic!("instance_name {refused:?} should have been refused"),
            Err(error) => error.to_string(),
        };
        assert!(reason.contains("instance_name"), "{reason}");
        assert_eq!(reason.lines().count(), 1);
    }
}

#[test]
fn a_lone_instance_shows_one_column_with_its_own_live_counts() {
    let app = TestApp::with(named("solo"));
    app.get("/factorial/7");
    app.get("/factorial/7");
    app.get("/factorial/7");
    let dashboard = browse(&app, "/dashboard").body;
    let table = InstanceTable::of(&dashboard);
    assert_eq!(table.columns, ["solo (this one)"]);
    assert_eq!(table.row("Memory hits"), ["2"]);
    assert_eq!(table.row("Memory misses"), ["1"]);
    assert_eq!(table.row("Memory hit ratio"), ["67%"]);
    assert!(dashboard.contains("Only this instance is running."));
}

#[test]
fn the_dashboard_lists_every_running_instance_from_its_snapshot_beside_its_own() {
    let app = app_started_after("b", |cache_dir| {
        let dir = instances_dir(cache_dir);
        write_snapshot(&dir, "a", 1, 3, 0);
        write_snapshot(&dir, "c", 9, 1, 500);
        // An instance that stopped long ago without removing its snapshot.
        write_snapshot(&dir, "old", 5, 5, 3_600_000);
    });
    app.get("/factorial/5");
    let dashboard = browse(&app, "/dashboard").body;
    let table = InstanceTable::of(&dashboard);
    assert_eq!(table.columns, ["a", "b (this one)", "c"]);
    assert_eq!(table.row("Memory hits"), ["1", "0", "9"]);
    assert_eq!(table.row("Memory misses"), ["3", "1", "1"]);
    assert_eq!(table.row("Memory hit ratio"), ["25%", "0%", "90%"]);
    assert_eq!(
        table.row("Memory entries"),
        ["4 of 100", "5 of 100", "10 of 100"]
    );
    assert_eq!(table.row("Disk hits"), ["4", "0", "4"]);
    assert!(dashboard.contains("3 instances of this app are running"));
    assert!(
        !dashboard.contains(">old<"),
        "a stale snapshot is not shown"
    );
}

#[test]
fn an_instance_writes_its_own_snapshot_for_the_others_to_read() {
    let app = app_started_after("b", |_| {});
    let file = instances_dir(&app.cache_dir()).join("b.json");
    let written: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&file).expect("b.json is written at start"))
            .expect("a JSON snapshot");
    assert_eq!(written["instance"], "b");
    assert_eq!(written["pid"], std::process::id());
    assert_eq!(written["counts"]["memory_capacity"], 100);
    let age_ms = now_ms().saturating_sub(written["written_at_ms"].as_u64().unwrap_or(0));
    assert!(age_ms < 60_000, "written now, by the system clock");
    let cleared = app.post("/clear-cache");
    assert_eq!(cleared.status, Status::Ok, "{}", cleared.body);
    assert!(
        file.exists(),
        "kept beside cache_dir, not in it: clearing the disk tier leaves it"
    );
}
