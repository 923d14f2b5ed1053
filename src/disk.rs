//! The disk tier: JSON answers stored with `cacache` under `cache_dir`.
//!
//! cacache keeps two things on disk: an index (key → content hash, time,
//! size) and the content itself, in files named by their SHA-256. Reading by
//! key means reading and parsing an index bucket first; we skip that on every
//! hit by keeping a copy of the index in memory, loaded at start-up and kept
//! up to date on each write. The content read still goes through cacache,
//! which checks the bytes against their hash: a damaged file is never served.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cacache::Integrity;

use crate::canonical::CanonicalJson;
use crate::single_flight::{Flight, SingleFlight};

mod page_cache;

/// What the in-memory index knows of one stored entry.
#[derive(Debug, Clone)]
struct IndexEntry {
    integrity: Integrity,
    written_at_ms: u64,
    size: usize,
}

/// Why a request was not served from disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MissReason {
    /// Nothing stored under this key.
    Absent,
    /// Stored, but older than the TTL.
    Expired,
    /// Stored, but the content failed its integrity check or could not be read.
    Unreadable,
}

/// What the disk tier did to answer one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiskLookup {
    Hit,
    /// This request did the slow work (and stored the result if it could).
    Computed {
        reason: MissReason,
        stored: bool,
    },
    /// Another request was doing the same slow work; this one waited for it.
    Joined {
        reason: MissReason,
    },
}

impl DiskLookup {
    pub fn is_hit(&self) -> bool {
        matches!(self, DiskLookup::Hit)
    }
}

/// The answer for one JSON body.
pub struct DiskAnswer {
    pub key: String,
    pub body: Arc<[u8]>,
    pub lookup: DiskLookup,
    /// When the stored entry was written (unix ms); `None` if it could not be stored.
    pub written_at_ms: Option<u64>,
    pub ttl: Duration,
    /// Simulated cost waited on a miss.
    pub simulated_delay: Duration,
}

impl DiskAnswer {
    pub fn expires_at_ms(&self) -> Option<u64> {
        self.written_at_ms
            .map(|written| written + duration_ms(self.ttl))
    }
}

/// Counters for `/stats`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct DiskStats {
    pub entries: usize,
    pub bytes: u64,
    pub hits: u64,
    pub misses: u64,
    pub expired: u64,
    /// Times the slow work actually ran.
    pub computed: u64,
    /// Cache faults survived (unreadable content, failed writes, failed clears).
    pub errors: u64,
    pub in_flight: usize,
    pub ttl_secs: u64,
}

/// One stored entry as shown to a learner.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DiskEntry {
    pub key: String,
    pub size: usize,
    pub written_at_ms: u64,
    pub expires_at_ms: u64,
}

#[derive(Clone)]
struct StoredValue {
    body: Arc<[u8]>,
    written_at_ms: Option<u64>,
    simulated_delay: Duration,
    stored: bool,
    /// False when the entry turned up on disk before this flight did any work.
    computed_here: bool,
}

/// JSON answers on disk, with an in-memory copy of the index.
pub struct DiskCache {
    dir: PathBuf,
    ttl: Duration,
    miss_delay: Duration,
    index: Mutex<HashMap<String, IndexEntry>>,
    flights: SingleFlight<String, StoredValue>,
    /// Writes hold it shared and `clear` holds it alone, so a clear never
    /// interleaves with a write half-way through.
    layout: tokio::sync::RwLock<()>,
    hits: AtomicU64,
    misses: AtomicU64,
    expired: AtomicU64,
    computed: AtomicU64,
    errors: AtomicU64,
}

impl DiskCache {
    /// Opens the cache in `dir` and loads its index. Entries that cannot be
    /// read are skipped with a warning: a damaged index costs misses, not
    /// start-up.
    pub fn open(dir: &Path, ttl: Duration, miss_delay: Duration) -> Self {
        let mut index = HashMap::new();
        let mut skipped = 0usize;
        for entry in cacache::list_sync(dir) {
            match entry {
                Ok(meta) => {
                    index.insert(
                        meta.key,
                        IndexEntry {
                            integrity: meta.integrity,
                            written_at_ms: u64::try_from(meta.time).unwrap_or(u64::MAX),
                            size: meta.size,
                        },
                    );
                }
                Err(error) => {
                    skipped += 1;
                    log::warn!("disk index entry skipped at start-up: {error}");
                }
            }
        }
        log::info!(
            "disk tier: {} entries loaded from {} ({skipped} skipped)",
            index.len(),
            dir.display()
        );
        Self {
            dir: dir.to_path_buf(),
            ttl,
            miss_delay,
            index: Mutex::new(index),
            flights: SingleFlight::default(),
            layout: tokio::sync::RwLock::new(()),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            expired: AtomicU64::new(0),
            computed: AtomicU64::new(0),
            errors: AtomicU64::new(0),
        }
    }

    /// Answers `request` from disk when a fresh, intact entry is stored, and
    /// otherwise does the slow work once (however many ask at the same time)
    /// and stores the result.
    pub async fn get_or_compute(&self, request: &CanonicalJson) -> DiskAnswer {
        let key = request.key();
        let reason = match self.read_fresh(key) {
            Ok((body, entry)) => {
                self.hits.fetch_add(1, Ordering::Relaxed);
                return DiskAnswer {
                    key: key.to_owned(),
                    body,
                    lookup: DiskLookup::Hit,
                    written_at_ms: Some(entry.written_at_ms),
                    ttl: self.ttl,
                    simulated_delay: Duration::ZERO,
                };
            }
            Err(reason) => reason,
        };
        self.misses.fetch_add(1, Ordering::Relaxed);
        if reason == MissReason::Expired {
            self.expired.fetch_add(1, Ordering::Relaxed);
        }

        let (stored, flight) = self
            .flights
            .run(key.to_owned(), || self.compute_and_store(request))
            .await;
        let lookup = match flight {
            Flight::Led if stored.computed_here => DiskLookup::Computed {
                reason,
                stored: stored.stored,
            },
            _ => DiskLookup::Joined { reason },
        };
        DiskAnswer {
            key: key.to_owned(),
            body: stored.body,
            lookup,
            written_at_ms: stored.written_at_ms,
            ttl: self.ttl,
            simulated_delay: stored.simulated_delay,
        }
    }

    /// A fresh, verified entry for `key`, or why there is none.
    fn read_fresh(&self, key: &str) -> Result<(Arc<[u8]>, IndexEntry), MissReason> {
        let entry = self
            .lock_index()
            .get(key)
            .cloned()
            .ok_or(MissReason::Absent)?;
        if self.is_expired(&entry, now_ms()) {
            return Err(MissReason::Expired);
        }
        // Content the kernel holds in memory is read and verified right here,
        // without waiting (see `page_cache`). Otherwise a small synchronous
        // read is ~25× cheaper than cacache's async path, which hops to the
        // blocking pool for every file step; block_in_place hands this
        // worker's other tasks to another thread while we read, so nothing
        // async waits on the disk. (It needs the multi-threaded runtime,
        // which Rocket always runs.)
        let read = match page_cache::read_if_cached(&self.dir, &entry.integrity, entry.size) {
            Some(bytes) => Ok(bytes),
            None => {
                tokio::task::block_in_place(|| cacache::read_hash_sync(&self.dir, &entry.integrity))
            }
        };
        match read {
            Ok(bytes) => Ok((Arc::from(bytes), entry)),
            Err(error) => {
                self.forget_unreadable(key, &entry, &error);
                Err(MissReason::Unreadable)
            }
        }
    }

    /// Drops an entry whose content failed to read, so it is recomputed and
    /// rewritten instead of failing again on every request.
    fn forget_unreadable(&self, key: &str, entry: &IndexEntry, error: &cacache::Error) {
        let still_indexed = {
            let mut index = self.lock_index();
            let same = index
                .get(key)
                .is_some_and(|current| current.integrity == entry.integrity);
            if same {
                index.remove(key);
            }
            same
        };
        // If a clear removed the entry meanwhile, the failed read is no fault.
        if still_indexed {
            self.errors.fetch_add(1, Ordering::Relaxed);
            log::warn!(
                "disk miss key={}… reason=unreadable error={}",
                &key[..12.min(key.len())],
                one_line(&error.to_string())
            );
            let _ = cacache::remove_hash_sync(&self.dir, &entry.integrity);
        }
    }

    async fn compute_and_store(&self, request: &CanonicalJson) -> StoredValue {
        // A flight that finished just before ours began has already stored it.
        if let Ok((body, entry)) = self.read_fresh(request.key()) {
            return StoredValue {
                body,
                written_at_ms: Some(entry.written_at_ms),
                simulated_delay: Duration::ZERO,
                stored: true,
                computed_here: false,
            };
        }
        tokio::time::sleep(self.miss_delay).await;
        self.computed.fetch_add(1, Ordering::Relaxed);
        // The "expensive work" of this demo is to answer with the request
        // itself, in canonical form.
        let body: Arc<[u8]> = Arc::from(request.text().as_bytes());
        let written_at_ms = self.store(request.key(), &body).await;
        StoredValue {
            stored: written_at_ms.is_some(),
            body,
            written_at_ms,
            simulated_delay: self.miss_delay,
            computed_here: true,
        }
    }

    /// Writes `body` under `key`; returns its write time, or `None` (logged and
    /// counted) when the disk refused it: the caller still gets its answer.
    async fn store(&self, key: &str, body: &Arc<[u8]>) -> Option<u64> {
        let _writing = self.layout.read().await;
        let written_at_ms = now_ms();
        let dir = self.dir.clone();
        let owned_key = key.to_owned();
        let owned_body = Arc::clone(body);
        let written = tokio::task::spawn_blocking(move || {
            write_entry(&dir, &owned_key, &owned_body, written_at_ms)
        })
        .await
        .unwrap_or_else(|join_error| {
            Err(cacache::Error::IoError(
                std::io::Error::other(join_error.to_string()),
                "disk write task failed".into(),
            ))
        });
        match written {
            Ok(integrity) => {
                self.lock_index().insert(
                    key.to_owned(),
                    IndexEntry {
                        integrity,
                        written_at_ms,
                        size: body.len(),
                    },
                );
                Some(written_at_ms)
            }
            Err(error) => {
                self.errors.fetch_add(1, Ordering::Relaxed);
                log::warn!(
                    "disk write failed key={}… error={}",
                    &key[..12.min(key.len())],
                    one_line(&error.to_string())
                );
                None
            }
        }
    }

    /// Removes every entry, index and content, and returns how many there were.
    pub async fn clear(&self) -> usize {
        let _exclusive = self.layout.write().await;
        let removed = {
            let mut index = self.lock_index();
            let removed = index.len();
            index.clear();
            removed
        };
        let dir = self.dir.clone();
        let cleared = tokio::task::spawn_blocking(move || clear_dir(&dir))
            .await
            .unwrap_or_else(|join_error| Err(std::io::Error::other(join_error.to_string())));
        if let Err(error) = cleared {
            self.errors.fetch_add(1, Ordering::Relaxed);
            log::warn!("disk clear incomplete: {error}");
        }
        removed
    }

    pub fn stats(&self) -> DiskStats {
        let (entries, bytes) = {
            let index = self.lock_index();
            (
                index.len(),
                index.values().map(|entry| entry.size as u64).sum(),
            )
        };
        DiskStats {
            entries,
            bytes,
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            expired: self.expired.load(Ordering::Relaxed),
            computed: self.computed.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            in_flight: self.flights.in_flight_count(),
            ttl_secs: self.ttl.as_secs(),
        }
    }

    /// Stored entries, newest first.
    pub fn entries(&self) -> Vec<DiskEntry> {
        let ttl_ms = duration_ms(self.ttl);
        let mut entries: Vec<DiskEntry> = self
            .lock_index()
            .iter()
            .map(|(key, entry)| DiskEntry {
                key: key.clone(),
                size: entry.size,
                written_at_ms: entry.written_at_ms,
                expires_at_ms: entry.written_at_ms.saturating_add(ttl_ms),
            })
            .collect();
        entries.sort_by(|a, b| {
            b.written_at_ms
                .cmp(&a.written_at_ms)
                .then(a.key.cmp(&b.key))
        });
        entries
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn is_expired(&self, entry: &IndexEntry, now_ms: u64) -> bool {
        now_ms.saturating_sub(entry.written_at_ms) >= duration_ms(self.ttl)
    }

    fn lock_index(&self) -> MutexGuard<'_, HashMap<String, IndexEntry>> {
        self.index.lock().expect("disk index lock poisoned")
    }
}

fn write_entry(
    dir: &Path,
    key: &str,
    body: &[u8],
    written_at_ms: u64,
) -> cacache::Result<Integrity> {
    let mut writer = cacache::WriteOpts::new()
        .algorithm(cacache::Algorithm::Sha256)
        .size(body.len())
        .time(u128::from(written_at_ms))
        .open_sync(dir, key)?;
    writer.write_all(body).map_err(|error| {
        cacache::Error::IoError(error, format!("writing content for key {key}"))
    })?;
    writer.commit()
}

/// cacache's own `clear` fails on a missing directory; a cleared cache that
/// was already gone is simply empty.
fn clear_dir(dir: &Path) -> std::io::Result<()> {
    match cacache::clear_sync(dir) {
        Ok(()) => Ok(()),
        Err(_) if !dir.exists() => std::fs::create_dir_all(dir),
        Err(error) => Err(std::io::Error::other(one_line(&error.to_string()))),
    }
}

pub(crate) fn now_ms() -> u64 {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    duration_ms(since_epoch)
}

fn duration_ms(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
