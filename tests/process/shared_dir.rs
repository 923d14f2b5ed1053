//! Several cachelab processes on one cache_dir, as the workers of one app
//! would run: what one stores the others serve, what one clears the others
//! miss cleanly, the size bound holds for the directory as a whole, and a
//! restart on a large directory answers at once.

use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::server::Server;

/// Two processes on one cache_dir, each with its own workshop progress file
/// (which is not what these tests are about).
struct Pair {
    // Held for its Drop: the processes stop before the directory goes.
    _dir: tempfile::TempDir,
    cache_dir: PathBuf,
    a: Server,
    b: Server,
}

impl Pair {
    fn start(settings: &[(&str, &str)]) -> Self {
        Self::start_each(settings, settings)
    }

    /// A started with `settings_a`, B with `settings_b`.
    fn start_each(settings_a: &[(&str, &str)], settings_b: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let cache_dir = dir.path().join("cache");
        let start_one = |name: &str, settings: &[(&str, &str)]| {
            let progress = dir.path().join(format!("progress-{name}.jsonl"));
            let progress = progress.to_str().expect("a UTF-8 temp path").to_owned();
            let mut all = vec![("ROCKET_PROGRESS_FILE", progress.as_str())];
            all.extend_from_slice(settings);
            Server::start(&cache_dir, &all)
        };
        let a = start_one("a", settings_a);
        let b = start_one("b", settings_b);
        Self {
            _dir: dir,
            cache_dir,
            a,
            b,
        }
    }
}

/// The `disk` part of `/stats`.
fn disk_stats(server: &Server) -> Value {
    let reply = server.request("GET", "/stats", None).expect("stats");
    assert_eq!(reply.status, 200);
    let stats: Value = serde_json::from_slice(&reply.body).expect("stats JSON");
    stats["disk"].clone()
}

/// POSTs `body` (canonical JSON, so the answer must equal it byte for byte)
/// and returns the `X-Cache` and `X-Cache-Key` it was answered with.
fn post(server: &Server, body: &str) -> (String, String) {
    let reply = server.post_json(body).expect("POST /data answers");
    assert_eq!(reply.status, 200, "{}", reply.body_text());
    assert!(
        reply.body == body.as_bytes(),
        "the answer is the body sent: {:?} for {body:?}",
        reply.body_text()
    );
    let header = |name| reply.header(name).unwrap_or_default().to_owned();
    (header("X-Cache"), header("X-Cache-Key"))
}

/// What `du -s` reports for `root`: the allocated blocks of every file and
/// directory below it, and of `root` itself.
fn du(root: &Path) -> u64 {
    let mut total = std::fs::symlink_metadata(root).map_or(0, |meta| meta.blocks() * 512);
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(meta) = entry.metadata() else {
                continue;
            };
            total += meta.blocks() * 512;
            if meta.is_dir() {
                pending.push(entry.path());
            }
        }
    }
    total
}

/// Every stored answer, read straight from cacache's content files: this
/// app stores each answer as the canonical body that was sent.
fn stored_bodies(cache_dir: &Path) -> Vec<String> {
    let mut bodies = Vec::new();
    let mut pending = vec![cache_dir.join("content-v2")];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                bodies.push(std::fs::read_to_string(&path).expect("stored content is text"));
            }
        }
    }
    bodies
}

#[test]
fn a_body_stored_by_one_process_is_a_hit_in_the_other() {
    let pair = Pair::start(&[]);
    let body = r#"{"n":1,"shared":"between processes"}"#;

    let (cache, key_a) = post(&pair.a, body);
    assert_eq!(cache, "MISS", "nothing was stored yet");
    let (cache, key_b) = post(&pair.b, body);
    assert_eq!(cache, "HIT", "B serves what A stored");
    assert_eq!(key_b, key_a, "both processes file the body under one key");

    let stats = disk_stats(&pair.b);
    assert_eq!(stats["hits"], 1, "{stats}");
    assert_eq!(stats["computed"], 0, "B did no work of its own: {stats}");
    assert_eq!(stats["errors"], 0, "{stats}");
}

#[test]
fn what_one_process_clears_is_a_plain_miss_in_the_other() {
    let pair = Pair::start(&[]);
    let body = r#"{"cleared":"by the other process"}"#;
    post(&pair.a, body);
    assert_eq!(post(&pair.b, body).0, "HIT");

    // B's own list still holds the entry when it is next asked for it.
    let cleared = pair
        .a
        .request("DELETE", "/cache/disk", None)
        .expect("clear");
    assert_eq!(cleared.status, 200, "{}", cleared.body_text());
    assert_eq!(post(&pair.b, body).0, "MISS", "the entry is gone");
    let stats = disk_stats(&pair.b);
    assert_eq!(stats["errors"], 0, "a cleared entry is no fault: {stats}");
    assert_eq!(stats["entries"], 1, "B stored it again: {stats}");

    // And when B looks at its counters first.
    pair.a
        .request("DELETE", "/cache/disk", None)
        .expect("clear");
    let stats = disk_stats(&pair.b);
    assert_eq!(stats["entries"], 0, "B sees A's clear: {stats}");
    assert_eq!(post(&pair.b, body).0, "MISS", "the entry is gone");
    let stats = disk_stats(&pair.b);
    assert_eq!(stats["entries"], 1, "B stored it again: {stats}");
    assert_eq!(stats["errors"], 0, "a cleared entry is no fault: {stats}");

    assert_eq!(post(&pair.a, body).0, "HIT", "A serves what B stored again");
    assert_eq!(disk_stats(&pair.a)["errors"], 0);
}

#[test]
fn the_size_bound_holds_for_the_directory_two_processes_share() {
    const MAX_BYTES: u64 = 256 * 1024;
    const BODIES_PER_WRITER: usize = 75;
    let max_bytes = MAX_BYTES.to_string();
    let pair = Pair::start(&[("ROCKET_DISK_MAX_BYTES", &max_bytes)]);

    let body = |name: &str, writer: usize, sequence: usize| {
        format!(r#"{{"process":"{name}","sequence":{sequence},"writer":{writer}}}"#)
    };
    // Two writers per process, all four at once.
    std::thread::scope(|scope| {
        for (name, server) in [("a", &pair.a), ("b", &pair.b)] {
            for writer in 0..2 {
                scope.spawn(move || {
                    for sequence in 0..BODIES_PER_WRITER {
                        let body = body(name, writer, sequence);
                        assert_eq!(post(server, &body).0, "MISS", "a new body: {body}");
                    }
                });
            }
        }
    });

    let measured = du(&pair.cache_dir);
    assert!(
        measured <= MAX_BYTES,
        "du -s says {measured} bytes, past the bound of {MAX_BYTES}"
    );
    assert!(
        measured > MAX_BYTES / 4 * 3,
        "du -s says {measured} bytes: eviction removed far more than it had to"
    );
    let stored = stored_bodies(&pair.cache_dir);
    for server in [&pair.a, &pair.b] {
        let stats = disk_stats(server);
        assert_eq!(stats["bytes_on_disk"], measured, "{stats}");
        assert_eq!(stats["entries"], stored.len(), "{stats}");
        assert_eq!(stats["errors"], 0, "{stats}");
    }
    let evictions: u64 = [&pair.a, &pair.b]
        .iter()
        .map(|server| disk_stats(server)["evictions"].as_u64().unwrap_or(0))
        .sum();
    assert!(evictions > 0, "300 entries cannot fit in 256 KiB");

    assert!(!stored.is_empty());
    for body in &stored {
        for server in [&pair.a, &pair.b] {
            assert_eq!(post(server, body).0, "HIT", "a stored entry: {body}");
        }
    }
    assert_eq!(
        du(&pair.cache_dir),
        measured,
        "hits changed nothing on disk"
    );

    // Evicted entries, whichever process removed them, are plain misses in
    // the process that wrote them, and storing them again keeps the bound.
    let evicted: Vec<String> = (0..BODIES_PER_WRITER)
        .step_by(5)
        .map(|sequence| body("a", 0, sequence))
        .filter(|body| !stored.contains(body))
        .collect();
    assert!(!evicted.is_empty());
    for body in &evicted {
        assert_eq!(post(&pair.a, body).0, "MISS", "an evicted entry: {body}");
    }
    let measured = du(&pair.cache_dir);
    assert!(measured <= MAX_BYTES, "du -s says {measured} bytes");
    for server in [&pair.a, &pair.b] {
        let stats = disk_stats(server);
        assert_eq!(stats["bytes_on_disk"], measured, "{stats}");
        assert_eq!(stats["errors"], 0, "an evicted entry is no fault: {stats}");
    }
}

#[test]
fn what_one_process_expires_is_a_plain_miss_in_the_other() {
    // Only A sweeps within the test's time, so A removes the files while B
    // still lists the entry.
    let pair = Pair::start_each(
        &[
            ("ROCKET_DISK_TTL_SECS", "1"),
            ("ROCKET_DISK_SWEEP_INTERVAL_SECS", "1"),
        ],
        &[
            ("ROCKET_DISK_TTL_SECS", "1"),
            ("ROCKET_DISK_SWEEP_INTERVAL_SECS", "3600"),
        ],
    );
    let (a, b) = (&pair.a, &pair.b);
    let body = r#"{"expires":"in a second"}"#;
    post(a, body);
    assert_eq!(post(b, body).0, "HIT");

    let started = Instant::now();
    while disk_stats(a)["expirations"] == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "A's sweep never removed the expired entry"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        stored_bodies(&pair.cache_dir).is_empty(),
        "A removed its files"
    );

    let reply = b.post_json(body).expect("POST /data answers");
    assert_eq!(reply.status, 200);
    assert!(reply.body == body.as_bytes(), "answered correctly");
    assert_eq!(reply.header("X-Cache"), Some("MISS"));
    assert_eq!(
        reply
            .header("X-Cache-Detail")
            .map(|detail| detail.contains("expired")),
        Some(true),
        "{:?}",
        reply.head
    );
    let stats = disk_stats(b);
    assert_eq!(stats["errors"], 0, "an expired entry is no fault: {stats}");
    assert_eq!(stats["entries"], 1, "B stored it again: {stats}");
}

/// Writes `count` entries into `cache_dir` the way the app stores them: the
/// key is the hex SHA-256 of the canonical body, the content is the body.
/// Returns the bodies.
fn fill(cache_dir: &Path, count: usize) -> Vec<String> {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is past 1970")
        .as_millis();
    let bodies: Vec<String> = (0..count)
        .map(|entry| format!(r#"{{"entry":{entry},"filled":"before start-up"}}"#))
        .collect();
    // Creating files waits on the file system more than on the CPU: two
    // writers take half the time.
    std::thread::scope(|scope| {
        for half in bodies.chunks(count.div_ceil(2).max(1)) {
            scope.spawn(move || {
                for body in half {
                    let key = format!("{:x}", Sha256::digest(body.as_bytes()));
                    let mut writer = cacache::WriteOpts::new()
                        .algorithm(cacache::Algorithm::Sha256)
                        .size(body.len())
                        .time(now_ms)
                        .open_sync(cache_dir, &key)
                        .expect("cacache opens a writer");
                    writer.write_all(body.as_bytes()).expect("content written");
                    writer.commit().expect("entry committed");
                }
            });
        }
    });
    bodies
}

/// Entries written before the restart tests start the binary.
const RESTART_ENTRIES: usize = 10_000;

#[test]
fn a_restart_on_ten_thousand_entries_answers_before_reading_them_all() {
    const ENTRIES: usize = RESTART_ENTRIES;
    let dir = tempfile::tempdir().expect("temp dir");
    let cache_dir = dir.path().join("cache");
    let bodies = fill(&cache_dir, ENTRIES);

    // `start` returns once /health has answered.
    let server = Server::start(&cache_dir, &[("ROCKET_DISK_MAX_BYTES", "2 GiB")]);
    assert!(server.is_healthy());
    let (cache, _) = post(&server, &bodies[ENTRIES / 2]);
    let loading = disk_stats(&server)["index_loading"].clone();
    assert_eq!(
        cache, "HIT",
        "a stored entry (index still loading: {loading})"
    );

    let started = Instant::now();
    let stats = loop {
        let stats = disk_stats(&server);
        if stats["index_loading"] == false && stats["entries"] == ENTRIES {
            break stats;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the index was not read: {stats}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(stats["errors"], 0, "{stats}");
    assert_eq!(stats["bytes_on_disk"], du(&cache_dir), "{stats}");
    let (cache, _) = post(&server, &bodies[ENTRIES - 1]);
    assert_eq!(cache, "HIT", "a stored entry once the index is read");
    println!("index loading when the first hit was served: {loading}");
}

#[test]
fn once_the_index_is_read_stats_count_every_stored_entry() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cache_dir = dir.path().join("cache");
    fill(&cache_dir, RESTART_ENTRIES);

    let server = Server::start(&cache_dir, &[("ROCKET_DISK_MAX_BYTES", "2 GiB")]);
    let started = Instant::now();
    let stats = loop {
        let stats = disk_stats(&server);
        if stats["index_loading"] == false {
            break stats;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the index was not read: {stats}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(stats["entries"], RESTART_ENTRIES, "{stats}");
    assert_eq!(stats["bytes_on_disk"], du(&cache_dir), "{stats}");
}
