//! A fresh app per test: its own temporary cache_dir and no simulated delays,
//! so tests are fast, isolated and can run in parallel.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use cachelab::clock::{Clock, MockTime};

use rocket::figment::providers::Serialized;
use rocket::figment::Figment;
use rocket::http::{ContentType, Status};
use rocket::local::blocking::{Client, LocalResponse};
use serde_json::Value;
use tempfile::TempDir;

pub struct TestApp {
    pub client: Client,
    pub dir: TempDir,
    /// Moves the app's clock forward (TTLs without sleeping).
    pub time: Arc<MockTime>,
}

/// The instructor key every test app is started with (see [`test_settings`]).
pub const INSTRUCTOR_KEY: &str = "test-instructor-key";

/// The shipped settings with a test's own cache_dir and no delays.
/// Workshop progress goes beside `cache_dir` as it would by default, but is
/// pinned there, so a test that later moves `cache_dir` (onto a tmpfs, say)
/// leaves it behind. Give each test its own directory *containing*
/// `cache_dir`, so that "beside" is private to the test too.
pub fn test_settings(cache_dir: &Path) -> Figment {
    let progress_file = cachelab::Config {
        cache_dir: cache_dir.to_path_buf(),
        ..cachelab::Config::default()
    }
    .progress_path();
    cachelab::figment()
        .merge(Serialized::global("cache_dir", cache_dir))
        .merge(Serialized::global("progress_file", progress_file))
        .merge(Serialized::global("factorial_delay_ms", 0))
        .merge(Serialized::global("data_delay_ms", 0))
        .merge(Serialized::global("catalogue_read_delay_ms", 0))
        .merge(Serialized::global("log_level", "off"))
        .merge(Serialized::global("instructor_key", INSTRUCTOR_KEY))
}

/// What a client saw: status, headers and the body parsed as JSON.
#[derive(Debug)]
pub struct Answer {
    pub status: Status,
    headers: Vec<(String, String)>,
    pub body: String,
    pub json: Value,
}

impl Answer {
    pub fn from(response: LocalResponse<'_>) -> Self {
        let status = response.status();
        let headers = response
            .headers()
            .iter()
            .map(|header| {
                (
                    header.name().as_str().to_ascii_lowercase(),
                    header.value().to_owned(),
                )
            })
            .collect();
        let body = response.into_string().unwrap_or_default();
        let json = serde_json::from_str(&body).unwrap_or(Value::Null);
        Self {
            status,
            headers,
            body,
            json,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.as_str())
    }

    /// Every header name, lowercased and sorted.
    pub fn header_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.headers.iter().map(|(name, _)| name.as_str()).collect();
        names.sort_unstable();
        names
    }

    /// `HIT` or `MISS`.
    pub fn x_cache(&self) -> &str {
        self.header("X-Cache")
            .expect("a cached answer carries X-Cache")
    }

    /// `Server-Timing` as (metric, milliseconds) pairs, in the order sent
    /// (NaN for a metric without a duration).
    pub fn server_timing(&self) -> Vec<(String, f64)> {
        let header = self.header("Server-Timing").expect("Server-Timing");
        header
            .split(", ")
            .map(|metric| {
                let name = metric.split(';').next().unwrap_or("").to_owned();
                let ms = metric
                    .rsplit(";dur=")
                    .next()
                    .and_then(|dur| dur.parse::<f64>().ok())
                    .unwrap_or(f64::NAN);
                (name, ms)
            })
            .collect()
    }
}

impl TestApp {
    pub fn new() -> Self {
        Self::with(|settings| settings)
    }

    /// An app whose settings are adjusted by `adjust` (e.g. a tiny TTL).
    pub fn with(adjust: impl FnOnce(Figment) -> Figment) -> Self {
        let dir = tempfile::tempdir().expect("create temp dir");
        let (clock, time) = Clock::mock();
        let client = client_with_clock(adjust(test_settings(&cache_dir_in(&dir))), clock);
        Self { client, dir, time }
    }

    /// A second, independent app on the same cache_dir: what a restart looks like.
    pub fn restart(self) -> Self {
        self.restart_with(|settings| settings)
    }

    /// A restart with settings adjusted by `adjust`.
    pub fn restart_with(self, adjust: impl FnOnce(Figment) -> Figment) -> Self {
        let TestApp { client, dir, time } = self;
        drop(client);
        let client = client_with_clock(adjust(test_settings(&cache_dir_in(&dir))), time.clock());
        Self { client, dir, time }
    }

    pub fn cache_dir(&self) -> PathBuf {
        cache_dir_in(&self.dir)
    }

    pub fn get(&self, uri: &str) -> Answer {
        Answer::from(self.client.get(uri.to_owned()).dispatch())
    }

    /// A GET as a browser sends it, asking for HTML.
    pub fn get_page(&self, uri: &str) -> Answer {
        Answer::from(
            self.client
                .get(uri.to_owned())
                .header(rocket::http::Accept::HTML)
                .dispatch(),
        )
    }

    pub fn post_json(&self, uri: &str, body: &str) -> Answer {
        Answer::from(
            self.client
                .post(uri.to_owned())
                .header(ContentType::JSON)
                .body(body)
                .dispatch(),
        )
    }

    pub fn post(&self, uri: &str) -> Answer {
        Answer::from(self.client.post(uri.to_owned()).dispatch())
    }

    pub fn delete(&self, uri: &str) -> Answer {
        Answer::from(self.client.delete(uri.to_owned()).dispatch())
    }

    pub fn stats(&self) -> Value {
        self.get("/stats").json
    }

    /// The disk tier's counter `name`, from `/stats`.
    pub fn disk_stat(&self, name: &str) -> u64 {
        self.stats()["disk"][name].as_u64().unwrap_or(u64::MAX)
    }

    /// Waits up to `limit` for `condition` to hold (for the background sweep).
    pub fn wait_for(&self, limit: std::time::Duration, condition: impl Fn(&Self) -> bool) -> bool {
        let started = std::time::Instant::now();
        while started.elapsed() < limit {
            if condition(self) {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        condition(self)
    }

    /// The server still answers, and answers correctly.
    pub fn assert_healthy(&self) {
        let health = self.get("/health");
        assert_eq!(health.status, Status::Ok);
        assert_eq!(self.get("/factorial/5").json["factorial"], "120");
    }
}

/// An app for tests that fire requests concurrently.
pub async fn async_client_for(settings: Figment) -> rocket::local::asynchronous::Client {
    let rocket = cachelab::rocket_from(settings).expect("test settings are valid");
    rocket::local::asynchronous::Client::tracked(rocket)
        .await
        .expect("a valid rocket instance")
}

/// `/stats` as JSON, from an asynchronous client.
pub async fn async_stats(client: &rocket::local::asynchronous::Client) -> Value {
    client
        .get("/stats")
        .dispatch()
        .await
        .into_json()
        .await
        .expect("stats are JSON")
}

pub fn client_with_clock(settings: Figment, clock: Clock) -> Client {
    let rocket = cachelab::rocket_with_clock(settings, clock).expect("test settings are valid");
    Client::tracked(rocket).expect("a valid rocket instance")
}

/// What `du -s` reports for `root`: every file and directory under it, and
/// itself, as the file system allocated them.
pub fn du(root: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
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

/// Directories under `root` that hold nothing.
pub fn empty_dirs_under(root: &Path) -> Vec<PathBuf> {
    let mut empty = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let children: Vec<PathBuf> = entries.flatten().map(|entry| entry.path()).collect();
        if children.is_empty() && dir != root {
            empty.push(dir);
        }
        pending.extend(children.into_iter().filter(|path| path.is_dir()));
    }
    empty
}

fn cache_dir_in(dir: &TempDir) -> PathBuf {
    dir.path().join("cache")
}

/// Every file under the cache's content directory.
pub fn content_files(cache_dir: &Path) -> Vec<PathBuf> {
    files_under(&cache_dir.join("content-v2"))
}

/// Every file of the cache's on-disk index (one per stored key).
pub fn index_files(cache_dir: &Path) -> Vec<PathBuf> {
    files_under(&cache_dir.join("index-v5"))
}

/// Every file under `root`, at any depth.
pub fn files_under(root: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                found.push(path);
            }
        }
    }
    found
}

pub fn sha256_hex(text: &str) -> String {
    use sha2::Digest;
    format!("{:x}", sha2::Sha256::digest(text.as_bytes()))
}

pub fn setting(key: &str, value: impl serde::Serialize) -> Serialized<impl serde::Serialize> {
    Serialized::global(key, value)
}
