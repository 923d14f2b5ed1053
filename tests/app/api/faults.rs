//! File faults under a running app: each is a miss or an unstored answer,
//! counted in `/stats` `errors`, and the app recovers once the fault is gone.
//!
//! Tests run as root in CI, and root writes through file permissions, so
//! read-only and full disks are real tmpfs mounts; where mounting is not
//! allowed those tests say so and skip.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use rocket::http::Status;

use crate::helpers::{content_files, index_files, setting, TestApp};

const BODY: &str = r#"{"fault":"tolerated"}"#;
const OTHER: &str = r#"{"other":"entry"}"#;

/// A request that must answer 200 with the right body whatever the disk does.
fn assert_answers(app: &TestApp, body: &str) -> String {
    let answer = app.post_json("/data", body);
    assert_eq!(answer.status, Status::Ok, "{body}: {}", answer.body);
    assert_eq!(answer.body, body);
    answer.x_cache().to_owned()
}

#[test]
fn a_cache_dir_removed_while_running_costs_one_miss_and_is_recreated() {
    let app = TestApp::new();
    assert_answers(&app, BODY);
    std::fs::remove_dir_all(app.cache_dir()).expect("remove cache_dir");

    // Index and content both gone, as after a clear by another process: a
    // plain miss, not a fault.
    assert_eq!(assert_answers(&app, BODY), "MISS");
    assert_eq!(app.disk_stat("errors"), 0);
    // The rewrite recreated the directory: served from disk again.
    assert_eq!(assert_answers(&app, BODY), "HIT");
    assert_eq!(assert_answers(&app, OTHER), "MISS");
    assert_eq!(assert_answers(&app, OTHER), "HIT");
    app.assert_healthy();
}

#[test]
fn a_cache_dir_replaced_by_a_file_is_survived_and_recovered_from() {
    let app = TestApp::new();
    assert_answers(&app, BODY);
    let cache = app.cache_dir();
    std::fs::remove_dir_all(&cache).expect("remove cache_dir");
    std::fs::write(&cache, b"not a directory").expect("file in its place");

    assert_eq!(assert_answers(&app, BODY), "MISS", "unreadable");
    assert_eq!(assert_answers(&app, OTHER), "MISS", "not stored");
    let refused = app.post_json("/data", OTHER);
    assert_eq!(refused.x_cache(), "MISS", "still not stored");
    assert!(refused
        .header("X-Cache-Detail")
        .unwrap_or_default()
        .contains("refused"));
    assert_eq!(app.post("/clear-cache").status, Status::Ok);
    let errors = app.disk_stat("errors");
    assert!(errors >= 4, "read, writes and clear counted: {errors}");

    std::fs::remove_file(&cache).expect("the fault goes away");
    assert_eq!(assert_answers(&app, OTHER), "MISS");
    assert_eq!(assert_answers(&app, OTHER), "HIT");
    assert_eq!(
        app.disk_stat("errors"),
        errors,
        "no new faults once it is gone"
    );
}

#[test]
fn damaged_index_files_cost_misses_after_a_restart_never_errors() {
    let app = TestApp::new();
    assert_answers(&app, BODY);
    assert_answers(&app, OTHER);
    let files = index_files(&app.cache_dir());
    assert_eq!(files.len(), 2);
    // One bucket full of garbage, one cut off half-way through its line.
    std::fs::write(&files[0], b"\n\xff\xfe garbage\tnot json").expect("corrupt");
    let text = std::fs::read(&files[1]).expect("read bucket");
    std::fs::write(&files[1], &text[..text.len() / 2]).expect("truncate");

    let app = app.restart();
    assert_eq!(assert_answers(&app, BODY), "MISS");
    assert_eq!(assert_answers(&app, OTHER), "MISS");
    assert_eq!(assert_answers(&app, BODY), "HIT");
    assert_eq!(assert_answers(&app, OTHER), "HIT");
    assert_eq!(
        app.disk_stat("errors"),
        0,
        "damaged lines are skipped, not faults"
    );
    assert_eq!(
        app.disk_stat("entries"),
        2,
        "rewritten over the same content"
    );
}

#[test]
fn an_index_file_that_cannot_be_written_leaves_the_answer_unstored_until_it_can() {
    let app = TestApp::new();
    assert_answers(&app, BODY);
    let bucket = index_files(&app.cache_dir()).remove(0);
    // The entry's content goes missing, and its index file turns into a
    // directory, so the rewrite that follows cannot append to it.
    for file in content_files(&app.cache_dir()) {
        std::fs::remove_file(file).expect("delete content");
    }
    std::fs::remove_file(&bucket).expect("remove bucket");
    std::fs::create_dir(&bucket).expect("directory in its place");

    assert_eq!(assert_answers(&app, BODY), "MISS");
    assert_eq!(assert_answers(&app, BODY), "MISS", "could not be stored");
    assert_eq!(
        app.disk_stat("errors"),
        2,
        "two failed writes (content and index both unreadable is a plain miss)"
    );
    assert!(
        content_files(&app.cache_dir()).is_empty(),
        "content of a failed write is not left behind"
    );

    std::fs::remove_dir(&bucket).expect("the fault goes away");
    assert_eq!(assert_answers(&app, BODY), "MISS");
    assert_eq!(assert_answers(&app, BODY), "HIT");
}

/// Says plainly that a disk-fault test could not run here; under CI, where
/// the machine can mount, that is a failure rather than a silent pass.
fn skip(reason: &str) -> Option<Tmpfs> {
    let message = format!("disk-fault test skipped: {reason}");
    assert!(std::env::var_os("CI").is_none(), "{message}");
    let _ = writeln!(std::io::stderr(), "\n{message}\n");
    None
}

/// A small tmpfs mounted for one test and unmounted when dropped.
struct Tmpfs {
    _parent: tempfile::TempDir,
    path: PathBuf,
}

impl Tmpfs {
    fn mount(size: &str) -> Option<Self> {
        let parent = tempfile::tempdir().expect("temp dir");
        let path = parent.path().join("mnt");
        std::fs::create_dir(&path).expect("mount point");
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&path)
            .output();
        match mounted {
            Ok(output) if output.status.success() => Some(Self {
                _parent: parent,
                path,
            }),
            Ok(output) => skip(&format!(
                "cannot mount a tmpfs here ({})",
                String::from_utf8_lossy(&output.stderr).trim()
            )),
            Err(error) => skip(&format!("no mount command ({error})")),
        }
    }

    fn remount(&self, mode: &str) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,{mode}")])
            .arg(&self.path)
            .status()
            .expect("mount runs");
        assert!(status.success(), "remount {mode}");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

fn app_in(cache_dir: &Path) -> TestApp {
    let cache_dir = cache_dir.to_path_buf();
    TestApp::with(move |settings| settings.merge(setting("cache_dir", cache_dir)))
}

#[test]
fn a_full_disk_serves_unstored_answers_and_recovers_when_space_returns() {
    let Some(disk) = Tmpfs::mount("256k") else {
        return;
    };
    let app = app_in(&disk.path.join("cache"));
    assert_answers(&app, BODY);
    // Fill what is left.
    let filler = disk.path.join("filler");
    let mut chunk = 0u64;
    while std::fs::write(
        disk.path.join(format!("filler-{chunk}")),
        vec![0u8; 16 * 1024],
    )
    .is_ok()
    {
        chunk += 1;
    }
    let _ = std::fs::write(&filler, vec![0u8; 4096]);

    let big = format!(r#"{{"big":"{}"}}"#, "b".repeat(20_000));
    assert_eq!(assert_answers(&app, &big), "MISS");
    assert_eq!(assert_answers(&app, &big), "MISS", "no space to store it");
    assert!(app.disk_stat("errors") >= 2);
    assert_eq!(
        assert_answers(&app, BODY),
        "HIT",
        "what was stored still reads"
    );

    for entry in std::fs::read_dir(&disk.path).expect("list").flatten() {
        if entry.file_name().to_string_lossy().starts_with("filler") {
            std::fs::remove_file(entry.path()).expect("free space");
        }
    }
    let errors = app.disk_stat("errors");
    assert_eq!(assert_answers(&app, &big), "MISS");
    assert_eq!(assert_answers(&app, &big), "HIT");
    assert_eq!(app.disk_stat("errors"), errors);
}

#[test]
fn a_read_only_disk_serves_what_it_has_and_recovers_when_writable() {
    let Some(disk) = Tmpfs::mount("1m") else {
        return;
    };
    let app = app_in(&disk.path.join("cache"));
    assert_answers(&app, BODY);
    disk.remount("ro");

    assert_eq!(assert_answers(&app, BODY), "HIT", "reads still work");
    assert_eq!(assert_answers(&app, OTHER), "MISS");
    assert_eq!(assert_answers(&app, OTHER), "MISS", "could not be stored");
    assert_eq!(app.post("/clear-cache").status, Status::Ok);
    assert!(app.disk_stat("errors") >= 3);

    disk.remount("rw");
    let errors = app.disk_stat("errors");
    assert_eq!(assert_answers(&app, OTHER), "MISS");
    assert_eq!(assert_answers(&app, OTHER), "HIT");
    assert_eq!(app.disk_stat("errors"), errors);
    app.assert_healthy();
}

#[test]
fn a_directory_where_content_belongs_is_counted_once_removed_and_rewritten() {
    let app = TestApp::with(|settings| settings.merge(setting("disk_sweep_interval_secs", 1)));
    assert_answers(&app, BODY);
    for file in content_files(&app.cache_dir()) {
        std::fs::remove_file(&file).expect("delete content");
        std::fs::create_dir_all(file.join("in-the-way")).expect("a directory in its place");
    }
    assert_eq!(assert_answers(&app, BODY), "MISS");
    assert_eq!(app.disk_stat("errors"), 1, "the unreadable entry, once");
    assert_eq!(assert_answers(&app, BODY), "HIT", "rewritten over it");
    assert_eq!(assert_answers(&app, BODY), "HIT");
    assert_eq!(app.disk_stat("errors"), 1, "not once per request");
    // Files changed behind the app's back: the next sweep measures again.
    assert!(app.wait_for(std::time::Duration::from_secs(5), |app| {
        app.disk_stat("bytes_on_disk") == crate::helpers::du(&app.cache_dir())
    }));
}
