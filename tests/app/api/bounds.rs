//! The disk tier stays within its bounds and tidies up after itself.

use std::time::Duration;

use rocket::http::{ContentType, Status};

use crate::helpers::{
    async_client_for, async_stats, content_files, du, empty_dirs_under, files_under, index_files,
    setting, test_settings, TestApp,
};

/// Ten bytes each in canonical form.
const A: &str = r#"{"k":"aa"}"#;
const B: &str = r#"{"k":"bb"}"#;
const C: &str = r#"{"k":"cc"}"#;
const D: &str = r#"{"k":"dd"}"#;

fn files_on_disk(app: &TestApp) -> (usize, usize) {
    (
        content_files(&app.cache_dir()).len(),
        index_files(&app.cache_dir()).len(),
    )
}

/// What the cache directory occupies once `bodies` are stored in an
/// otherwise empty one, measured the way `du` measures it.
fn footprint_of(bodies: &[&str]) -> u64 {
    let app = TestApp::new();
    for body in bodies {
        app.post_json("/data", body);
    }
    let measured = du(&app.cache_dir());
    assert_eq!(
        app.disk_stat("bytes_on_disk"),
        measured,
        "the record is exact"
    );
    measured
}

#[test]
fn past_disk_max_bytes_the_least_recently_used_entry_goes_index_and_content() {
    // Room for exactly these three, as the file system counts it.
    let bound = footprint_of(&[A, B, C]);
    let app = TestApp::with(|settings| settings.merge(setting("disk_max_bytes", bound)));
    for body in [A, B, C] {
        assert_eq!(app.post_json("/data", body).x_cache(), "MISS");
    }
    assert_eq!(app.disk_stat("evictions"), 0, "three fit");
    // Reading A makes B the least recently used.
    assert_eq!(app.post_json("/data", A).x_cache(), "HIT");
    assert_eq!(app.post_json("/data", D).x_cache(), "MISS");

    let stats = app.stats();
    assert_eq!(stats["disk"]["entries"], 3);
    assert_eq!(stats["disk"]["content_bytes"], 30);
    assert_eq!(stats["disk"]["evictions"], 1);
    assert_eq!(stats["disk"]["max_bytes"], bound);
    let on_disk = du(&app.cache_dir());
    assert_eq!(stats["disk"]["bytes_on_disk"], on_disk);
    assert!(on_disk <= bound, "{on_disk} > {bound}");
    assert_eq!(
        files_on_disk(&app),
        (3, 3),
        "B's content and index are gone"
    );
    for tree in ["content-v2", "index-v5"] {
        let empty = empty_dirs_under(&app.cache_dir().join(tree));
        assert_eq!(empty, Vec::<std::path::PathBuf>::new());
    }
    for kept in [A, C, D] {
        assert_eq!(app.post_json("/data", kept).x_cache(), "HIT", "{kept}");
    }
    assert_eq!(app.post_json("/data", B).x_cache(), "MISS");
}

#[test]
fn after_a_workload_du_is_within_the_bound_and_no_empty_directory_is_left() {
    let bound: u64 = 512 * 1024;
    let app = TestApp::with(|settings| settings.merge(setting("disk_max_bytes", bound)));
    // Many tiny bodies (each costs blocks and directories far beyond its
    // bytes), some larger ones, repeats, and a clear half-way.
    for round in 0..400 {
        let body = if round % 10 == 0 {
            format!(r#"{{"big":"{}","n":{round}}}"#, "x".repeat(9_000))
        } else {
            format!(r#"{{"n":{round}}}"#)
        };
        assert_eq!(app.post_json("/data", &body).status, Status::Ok);
        if round % 7 == 0 {
            app.post_json("/data", r#"{"n":1}"#);
        }
        if round == 200 {
            assert_eq!(app.delete("/cache/disk").status, Status::Ok);
        }
    }
    let on_disk = du(&app.cache_dir());
    assert!(on_disk <= bound, "du {on_disk} > bound {bound}");
    assert!(
        on_disk > bound * 3 / 4,
        "the bound is used, not left mostly empty: {on_disk}"
    );
    let stats = app.stats();
    assert_eq!(
        stats["disk"]["bytes_on_disk"], on_disk,
        "/stats says what du says"
    );
    assert!(stats["disk"]["evictions"].as_u64().unwrap_or(0) > 0);
    assert_eq!(stats["disk"]["errors"], 0);
    assert_eq!(
        stats["disk"]["entries"].as_u64(),
        Some(content_files(&app.cache_dir()).len() as u64)
    );
    assert_eq!(
        empty_dirs_under(&app.cache_dir().join("content-v2")),
        Vec::<std::path::PathBuf>::new()
    );
    assert_eq!(
        empty_dirs_under(&app.cache_dir().join("index-v5")),
        Vec::<std::path::PathBuf>::new()
    );
}

#[test]
fn a_body_larger_than_the_whole_bound_is_answered_but_not_stored() {
    let app = TestApp::with(|settings| settings.merge(setting("disk_max_bytes", 64 * 1024)));
    let big = format!(r#"{{"pad":"{}"}}"#, "x".repeat(100_000));
    app.post_json("/data", A);
    let answer = app.post_json("/data", &big);
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (Status::Ok, big.as_str())
    );
    assert_eq!(app.post_json("/data", &big).x_cache(), "MISS");
    assert_eq!(
        app.post_json("/data", A).x_cache(),
        "HIT",
        "nothing evicted for it"
    );
    assert_eq!(app.disk_stat("errors"), 0);
}

#[test]
fn a_lowered_bound_is_applied_to_what_a_restart_finds() {
    let bound = footprint_of(&[C, D]);
    let app = TestApp::new();
    for body in [A, B, C, D] {
        app.post_json("/data", body);
    }
    let app = app.restart_with(|settings| settings.merge(setting("disk_max_bytes", bound)));
    // The oldest go by themselves once the loader has read the index; the
    // folders they leave empty are removed just after their files, so
    // wait for the footprint too rather than catch it in between.
    assert!(
        app.wait_for(Duration::from_secs(5), |app| {
            app.disk_stat("entries") == 2
                && files_on_disk(app) == (2, 2)
                && du(&app.cache_dir()) <= bound
        }),
        "still {} bytes on disk, bound {bound}",
        du(&app.cache_dir())
    );
    for newest in [C, D] {
        assert_eq!(app.post_json("/data", newest).x_cache(), "HIT", "{newest}");
    }
}

#[test]
fn the_sweep_removes_expired_entries_from_disk() {
    let app = TestApp::with(|settings| {
        settings
            .merge(setting("disk_ttl_secs", 1))
            .merge(setting("disk_sweep_interval_secs", 1))
    });
    app.post_json("/data", A);
    app.post_json("/data", B);
    assert_eq!(files_on_disk(&app), (2, 2));
    app.time.advance(Duration::from_secs(2));
    assert!(
        app.wait_for(Duration::from_secs(5), |app| {
            app.disk_stat("expirations") == 2 && files_on_disk(app) == (0, 0)
        }),
        "both entries are past their TTL and the next sweep (every second) takes them"
    );
    assert_eq!(app.disk_stat("entries"), 0);
    assert_eq!(app.disk_stat("content_bytes"), 0);
    assert_eq!(app.disk_stat("bytes_on_disk"), du(&app.cache_dir()));
    assert_eq!(
        empty_dirs_under(&app.cache_dir().join("content-v2")),
        Vec::<std::path::PathBuf>::new()
    );
    assert_eq!(
        files_on_disk(&app),
        (0, 0),
        "content reclaimed, not just hidden"
    );
    assert_eq!(app.post_json("/data", A).x_cache(), "MISS");
    assert_eq!(app.post_json("/data", A).x_cache(), "HIT");
}

#[test]
fn leftovers_of_interrupted_writes_are_reclaimed_at_start() {
    let app = TestApp::new();
    app.post_json("/data", A);
    app.post_json("/data", B);
    let cache = app.cache_dir();
    // What a crash can leave: content whose index entry was never written,
    // and a temporary file that was never renamed into place.
    std::fs::remove_dir_all(cache.join("index-v5")).expect("drop the index");
    std::fs::create_dir_all(cache.join("tmp")).expect("tmp dir");
    std::fs::write(cache.join("tmp").join(".tmpHALF"), b"{\"half\":").expect("temp file");

    let app = app.restart();
    assert!(app.wait_for(Duration::from_secs(5), |app| {
        content_files(&app.cache_dir()).is_empty()
            && files_under(&app.cache_dir().join("tmp")).is_empty()
    }));
    assert_eq!(app.post_json("/data", A).x_cache(), "MISS");
    assert_eq!(app.post_json("/data", A).x_cache(), "HIT");
}

/// Writes and clears racing each other: every request answers correctly,
/// and whatever is left on disk afterwards reads back intact.
#[rocket::async_test]
async fn clearing_while_writes_are_in_flight_leaves_no_error_and_no_half_entry() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cache_dir = dir.path().join("cache");
    let settings = test_settings(&cache_dir).merge(setting("data_delay_ms", 1));
    let client = async_client_for(settings).await;

    let bodies: Vec<String> = (0..160)
        .map(|i| format!(r#"{{"item":{i},"pad":"{}"}}"#, "z".repeat(i * 50)))
        .collect();
    let writes = bodies.iter().map(|body| async {
        let response = client
            .post("/data")
            .header(ContentType::JSON)
            .body(body.clone())
            .dispatch()
            .await;
        (response.status(), response.into_string().await)
    });
    let clears = (0..16).map(|_| async {
        let response = client.post("/clear-cache").dispatch().await;
        response.status()
    });
    let (answers, cleared) = rocket::futures::future::join(
        rocket::futures::future::join_all(writes),
        rocket::futures::future::join_all(clears),
    )
    .await;
    for ((status, body), sent) in answers.into_iter().zip(&bodies) {
        assert_eq!(status, Status::Ok);
        assert_eq!(body.as_deref(), Some(sent.as_str()));
    }
    assert!(cleared.iter().all(|status| *status == Status::Ok));

    let stats = async_stats(&client).await;
    assert_eq!(stats["disk"]["errors"], 0);
    drop(client);

    // Every entry cacache's own index lists must read back and verify.
    let mut listed = 0;
    for entry in cacache::list_sync(&cache_dir) {
        let entry = entry.expect("a readable index entry");
        let bytes = cacache::read_sync(&cache_dir, &entry.key).expect("intact content");
        let text = String::from_utf8(bytes).expect("stored JSON is UTF-8");
        assert!(bodies.contains(&text), "stored bytes are one of the bodies");
        listed += 1;
    }
    assert!(listed <= bodies.len());
}
