//! The disk tier: JSON answers stored with `cacache` under `cache_dir`.
//!
//! cacache keeps two things on disk: an index (key → content hash, time,
//! size) and the content itself, in files named by their SHA-256. Reading by
//! key means reading and parsing an index bucket first; we skip that on every
//! hit by keeping a copy of the index in memory, loaded at start-up and kept
//! up to date on each write. The content read still goes through cacache,
//! which checks the bytes against their hash: a damaged file is never served.
//!
//! cacache has no size limit and never deletes anything by itself, so this
//! tier does its own housekeeping: past `max_bytes` or `max_entries` the least
//! recently used entries are removed (index and content), and a background
//! sweep removes expired entries and what interrupted writes left behind.
//! Every file fault becomes a miss or an answer that is not stored, never a
//! failed request.

use std::collections::HashSet;
use std::io::Write;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cacache::{Algorithm, Integrity};
use sha2::{Digest, Sha256};

use crate::canonical::CanonicalJson;
use crate::single_flight::{Flight, SingleFlight};

mod page_cache;

/// How many swept-away expired keys are remembered (see `swept_expired`).
const SWEPT_EXPIRED_KEPT: usize = 10_000;

/// What the in-memory index knows of one stored entry.
#[derive(Debug, Clone)]
struct IndexEntry {
    integrity: Integrity,
    written_at_ms: u64,
    size: usize,
}

/// The in-memory copy of cacache's index, in recency order, with a running
/// total of content bytes. The order comes from the `lru` crate rather than
/// `cached`'s LruCache because the bound is in bytes as well as entries, so
/// eviction must pop least recently used entries one at a time until both
/// totals fit, which `cached` does not offer.
struct Index {
    entries: lru::LruCache<String, IndexEntry>,
    bytes: u64,
}

impl Default for Index {
    fn default() -> Self {
        Self {
            // Bounded by `evict_until_within`, by bytes and by count.
            entries: lru::LruCache::unbounded(),
            bytes: 0,
        }
    }
}

impl Index {
    /// The entry for `key`, marked as just used.
    fn get_and_touch(&mut self, key: &str) -> Option<IndexEntry> {
        self.entries.get(key).cloned()
    }

    fn get(&self, key: &str) -> Option<&IndexEntry> {
        self.entries.peek(key)
    }

    /// Adds or replaces the entry for `key` as the most recently used.
    fn insert(&mut self, key: String, entry: IndexEntry) {
        self.bytes += entry.size as u64;
        if let Some(old) = self.entries.put(key, entry) {
            self.bytes = self.bytes.saturating_sub(old.size as u64);
        }
    }

    fn remove(&mut self, key: &str) -> Option<IndexEntry> {
        let entry = self.entries.pop(key)?;
        self.bytes = self.bytes.saturating_sub(entry.size as u64);
        Some(entry)
    }

    fn within(&self, bounds: DiskBounds) -> bool {
        self.bytes <= bounds.max_bytes && self.entries.len() <= bounds.max_entries
    }

    /// Removes least recently used entries until the index is within `bounds`.
    fn evict_until_within(&mut self, bounds: DiskBounds) -> Vec<(String, IndexEntry)> {
        let mut evicted = Vec::new();
        while !self.within(bounds) {
            let Some((key, entry)) = self.entries.pop_lru() else {
                break;
            };
            self.bytes = self.bytes.saturating_sub(entry.size as u64);
            evicted.push((key, entry));
        }
        evicted
    }

    fn remove_expired(&mut self, now_ms: u64, ttl_ms: u64) -> Vec<(String, IndexEntry)> {
        let expired: Vec<String> = self
            .iter()
            .filter(|(_, entry)| now_ms.saturating_sub(entry.written_at_ms) >= ttl_ms)
            .map(|(key, _)| key.clone())
            .collect();
        expired
            .into_iter()
            .filter_map(|key| self.remove(&key).map(|entry| (key, entry)))
            .collect()
    }

    fn clear(&mut self) -> usize {
        let removed = self.entries.len();
        *self = Self::default();
        removed
    }

    fn len(&self) -> usize {
        self.entries.len()
    }

    /// Most recently used first; does not change the order.
    fn iter(&self) -> impl Iterator<Item = (&String, &IndexEntry)> {
        self.entries.iter()
    }

    fn values(&self) -> impl Iterator<Item = &IndexEntry> {
        self.entries.iter().map(|(_, entry)| entry)
    }
}

/// How much the disk tier keeps before it evicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiskBounds {
    /// Content bytes, summed over entries.
    pub max_bytes: u64,
    /// Entries, whatever their size: each also costs an index file on disk
    /// and a few hundred bytes of memory.
    pub max_entries: usize,
}

impl Default for DiskBounds {
    fn default() -> Self {
        Self {
            max_bytes: 64 * 1024 * 1024,
            max_entries: 50_000,
        }
    }
}

/// Why a request was not served from disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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
            .map(|written| written.saturating_add(duration_ms(self.ttl)))
    }
}

/// Counters for `/stats`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct DiskStats {
    pub entries: usize,
    /// Content bytes of the stored entries.
    pub bytes: u64,
    pub hits: u64,
    pub misses: u64,
    pub expired: u64,
    /// Times the slow work actually ran.
    pub computed: u64,
    /// Cache faults survived (unreadable content, failed writes, failed clears
    /// and removals).
    pub errors: u64,
    pub in_flight: usize,
    pub ttl_secs: u64,
    /// Entries removed because the tier was past `max_bytes` or `max_entries`.
    pub evictions: u64,
    /// Expired entries removed from disk by the sweep.
    pub expirations: u64,
    pub max_bytes: u64,
    pub max_entries: usize,
}

/// One stored entry as shown to a learner.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DiskEntry {
    pub key: String,
    pub size: usize,
    pub written_at_ms: u64,
    pub expires_at_ms: u64,
}

/// What one sweep removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepReport {
    pub expired: usize,
    pub evicted: usize,
    /// Content files that no index entry points to (left by an interrupted
    /// write or a failed removal).
    pub orphans: usize,
    /// Temporary files of writes that never finished.
    pub temp_files: usize,
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
///
/// A cheap handle: the tier itself lives behind an `Arc`, so that writes can
/// finish even if the request that started them goes away, and so that the
/// background [`Sweeper`] can reach it.
pub struct DiskCache(Arc<DiskTier>);

impl Deref for DiskCache {
    type Target = DiskTier;

    fn deref(&self) -> &DiskTier {
        &self.0
    }
}

/// The state behind a [`DiskCache`].
pub struct DiskTier {
    dir: PathBuf,
    ttl: Duration,
    miss_delay: Duration,
    bounds: DiskBounds,
    index: Mutex<Index>,
    flights: SingleFlight<String, StoredValue>,
    /// Writes hold it shared; clearing, eviction and sweeps hold it alone, so
    /// files are never removed while a write is between its content and its
    /// index entry.
    layout: tokio::sync::RwLock<()>,
    /// Entries whose content failed to read: their files are removed by the
    /// next sweep, unless a rewrite replaced them first.
    unreadable: Mutex<Vec<(String, Integrity)>>,
    /// Keys the sweep removed for being expired and nobody has asked for
    /// since, so the next request can still say "expired" rather than "never
    /// stored". Bounded: it is forgotten wholesale when it grows too large.
    swept_expired: Mutex<HashSet<String>>,
    /// Whether a sweep has looked for content that no entry points to (once
    /// per start is enough: the app itself never leaves any behind).
    orphans_checked: AtomicBool,
    /// A failing write or removal is logged once, then only counted until one
    /// succeeds again; a full or missing disk must not flood the log.
    write_fault_reported: AtomicBool,
    removal_fault_reported: AtomicBool,
    hits: AtomicU64,
    misses: AtomicU64,
    expired: AtomicU64,
    computed: AtomicU64,
    errors: AtomicU64,
    evictions: AtomicU64,
    expirations: AtomicU64,
}

impl DiskCache {
    /// Opens the cache in `dir` with the default bounds.
    pub fn open(dir: &Path, ttl: Duration, miss_delay: Duration) -> Self {
        Self::open_bounded(dir, ttl, miss_delay, DiskBounds::default())
    }

    /// Opens the cache in `dir` and loads its index. Entries that cannot be
    /// read are skipped with a warning: a damaged index costs misses, not
    /// start-up.
    pub fn open_bounded(
        dir: &Path,
        ttl: Duration,
        miss_delay: Duration,
        bounds: DiskBounds,
    ) -> Self {
        let mut loaded = Vec::new();
        let mut skipped = 0usize;
        // cacache reports a missing index directory (a new cache) as an error.
        if dir.join("index-v5").is_dir() {
            for entry in cacache::list_sync(dir) {
                match entry {
                    Ok(meta) => loaded.push(meta),
                    Err(error) => {
                        skipped += 1;
                        log::warn!(
                            "disk index entry skipped at start-up: {}",
                            one_line(&error.to_string())
                        );
                    }
                }
            }
        }
        // Oldest first, so that the least recently written is evicted first.
        loaded.sort_by_key(|meta| meta.time);
        let mut index = Index::default();
        for meta in loaded {
            index.insert(
                meta.key,
                IndexEntry {
                    integrity: meta.integrity,
                    written_at_ms: u64::try_from(meta.time).unwrap_or(u64::MAX),
                    size: meta.size,
                },
            );
        }
        log::info!(
            "disk tier: {} entries loaded from {} ({skipped} skipped)",
            index.len(),
            dir.display()
        );
        Self(Arc::new(DiskTier {
            dir: dir.to_path_buf(),
            ttl,
            miss_delay,
            bounds,
            index: Mutex::new(index),
            flights: SingleFlight::default(),
            layout: tokio::sync::RwLock::new(()),
            unreadable: Mutex::new(Vec::new()),
            orphans_checked: AtomicBool::new(false),
            write_fault_reported: AtomicBool::new(false),
            removal_fault_reported: AtomicBool::new(false),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            expired: AtomicU64::new(0),
            computed: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            evictions: AtomicU64::new(0),
            expirations: AtomicU64::new(0),
            swept_expired: Mutex::new(HashSet::new()),
        }))
    }

    /// The background housekeeping for this cache, to be run on the app's
    /// runtime (see [`Sweeper::run`]). It stops by itself once the cache is
    /// dropped.
    pub fn sweeper(&self, interval: Duration) -> Sweeper {
        Sweeper {
            tier: Arc::downgrade(&self.0),
            interval,
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

    /// Writes `body` under `key` and evicts past the bounds; returns its write
    /// time, or `None` when it was not stored: the caller still gets its
    /// answer. The write runs as its own task, so a request that goes away
    /// half-way cannot leave the content written and the index not.
    async fn store(&self, key: &str, body: &Arc<[u8]>) -> Option<u64> {
        if body.len() as u64 > self.bounds.max_bytes {
            log::info!(
                "disk entry not stored key={}… reason=larger than disk_max_bytes ({} > {})",
                short(key),
                body.len(),
                self.bounds.max_bytes
            );
            return None;
        }
        let tier = Arc::clone(&self.0);
        let owned_key = key.to_owned();
        let owned_body = Arc::clone(body);
        let task = tokio::spawn(async move {
            let written = tier.write(&owned_key, &owned_body).await;
            tier.evict_over_bounds().await;
            written
        });
        match task.await {
            Ok(written) => written,
            Err(join_error) => {
                self.write_failed(key, &join_error.to_string());
                None
            }
        }
    }
}

impl DiskTier {
    /// A fresh, verified entry for `key`, or why there is none.
    fn read_fresh(&self, key: &str) -> Result<(Arc<[u8]>, IndexEntry), MissReason> {
        let Some(entry) = self.lock_index().get_and_touch(key) else {
            // The sweep may have removed it for being old: still "expired".
            return Err(if lock(&self.swept_expired).remove(key) {
                MissReason::Expired
            } else {
                MissReason::Absent
            });
        };
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
            Err(error) => Err(self.forget_unreadable(key, &entry, &error)),
        }
    }

    /// Drops an entry whose content failed to read, so it is recomputed and
    /// rewritten instead of failing again on every request. Its files are
    /// left to the next sweep, which removes them unless a rewrite has
    /// replaced them by then.
    /// Returns why the entry could not be used: `Unreadable` if it was still
    /// indexed (a real fault), `Absent` if a clear, sweep or eviction removed
    /// it between the lookup and the read.
    fn forget_unreadable(
        &self,
        key: &str,
        entry: &IndexEntry,
        error: &cacache::Error,
    ) -> MissReason {
        let still_indexed = {
            let mut index = self.lock_index();
            let same = index.get(key).is_some_and(|current| {
                current.integrity == entry.integrity && current.written_at_ms == entry.written_at_ms
            });
            if same {
                index.remove(key);
            }
            same
        };
        // If a clear, sweep or eviction removed the entry meanwhile, the
        // failed read is no fault.
        if still_indexed {
            self.errors.fetch_add(1, Ordering::Relaxed);
            log::warn!(
                "disk miss key={}… reason=unreadable error={}",
                short(key),
                one_line(&error.to_string())
            );
            lock(&self.unreadable).push((key.to_owned(), entry.integrity.clone()));
            MissReason::Unreadable
        } else {
            MissReason::Absent
        }
    }

    /// Writes the files and then the in-memory index entry, all under the
    /// shared layout lock so that no clear or removal runs in between.
    async fn write(&self, key: &str, body: &Arc<[u8]>) -> Option<u64> {
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
                lock(&self.swept_expired).remove(key);
                if self.write_fault_reported.swap(false, Ordering::Relaxed) {
                    log::info!("disk writes work again");
                }
                Some(written_at_ms)
            }
            Err(error) => {
                self.write_failed(key, &error.to_string());
                self.remove_partial_write(body).await;
                None
            }
        }
    }

    fn write_failed(&self, key: &str, error: &str) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        if !self.write_fault_reported.swap(true, Ordering::Relaxed) {
            log::warn!(
                "disk write failed key={}… error={} (answers are served unstored; \
                 further write failures are only counted in /stats errors until a write works)",
                short(key),
                one_line(error)
            );
        }
    }

    /// A write can fail after its content file is in place (the index append
    /// failed): remove that content unless an entry still points to it.
    async fn remove_partial_write(&self, body: &[u8]) {
        let Some(integrity) = sha256_integrity(body) else {
            return;
        };
        let referenced = self
            .lock_index()
            .values()
            .any(|entry| entry.integrity == integrity);
        if !referenced {
            let dir = self.dir.clone();
            let _ =
                tokio::task::spawn_blocking(move || cacache::remove_hash_sync(&dir, &integrity))
                    .await;
        }
    }

    /// Removes least recently used entries, index and content, until the
    /// tier is within its bounds. Returns how many it removed.
    async fn evict_over_bounds(&self) -> usize {
        if self.lock_index().within(self.bounds) {
            return 0;
        }
        let _exclusive = self.layout.write().await;
        let evicted = self.lock_index().evict_until_within(self.bounds);
        if evicted.is_empty() {
            return 0;
        }
        self.evictions
            .fetch_add(evicted.len() as u64, Ordering::Relaxed);
        log::debug!("disk tier evicted {} entries", evicted.len());
        let count = evicted.len();
        self.remove_files(to_removals(evicted)).await;
        count
    }

    /// Removes expired entries and, past the bounds, the least recently used
    /// ones; reclaims the files of unreadable entries, temporary files of
    /// writes that never finished and, once per start, content files that no
    /// entry points to.
    pub async fn sweep(&self) -> SweepReport {
        let _exclusive = self.layout.write().await;
        let (expired, evicted, unreadable, live_content) = {
            let mut index = self.lock_index();
            let expired = index.remove_expired(now_ms(), duration_ms(self.ttl));
            let evicted = index.evict_until_within(self.bounds);
            // A rewrite of the same key stores the same content under the
            // same name, replacing the damaged file: leave those alone.
            let unreadable: Vec<(String, Integrity)> = std::mem::take(&mut *lock(&self.unreadable))
                .into_iter()
                .filter(|(key, _)| index.get(key).is_none())
                .collect();
            let live_content = (!self.orphans_checked.swap(true, Ordering::Relaxed)).then(|| {
                index
                    .values()
                    .map(|entry| entry.integrity.to_hex().1)
                    .collect::<HashSet<String>>()
            });
            (expired, evicted, unreadable, live_content)
        };
        self.expirations
            .fetch_add(expired.len() as u64, Ordering::Relaxed);
        {
            let mut swept = lock(&self.swept_expired);
            if swept.len() + expired.len() > SWEPT_EXPIRED_KEPT {
                swept.clear();
            }
            swept.extend(expired.iter().map(|(key, _)| key.clone()));
        }
        self.evictions
            .fetch_add(evicted.len() as u64, Ordering::Relaxed);
        let mut report = SweepReport {
            expired: expired.len(),
            evicted: evicted.len(),
            ..SweepReport::default()
        };
        let mut removals = to_removals(expired);
        removals.extend(to_removals(evicted));
        removals.extend(unreadable);
        self.remove_files(removals).await;

        let dir = self.dir.clone();
        let leftovers = tokio::task::spawn_blocking(move || {
            let temp_files = remove_temp_files(&dir);
            let orphans = live_content.map_or(0, |live| remove_orphan_content(&dir, &live));
            (temp_files, orphans)
        })
        .await;
        if let Ok((temp_files, orphans)) = leftovers {
            report.temp_files = temp_files;
            report.orphans = orphans;
        }
        if report != SweepReport::default() {
            log::info!(
                "disk sweep: {} expired, {} evicted, {} orphaned content files, {} temporary files removed",
                report.expired,
                report.evicted,
                report.orphans,
                report.temp_files
            );
        }
        report
    }

    /// Removes entries' files on the blocking pool. The caller holds the
    /// layout lock alone and has already dropped the entries from the
    /// in-memory index, so a concurrent read that loses its file is a
    /// quiet miss.
    async fn remove_files(&self, removals: Vec<(String, Integrity)>) {
        if removals.is_empty() {
            return;
        }
        let dir = self.dir.clone();
        let failures = tokio::task::spawn_blocking(move || {
            removals
                .iter()
                .filter_map(|(key, integrity)| remove_entry_files(&dir, key, integrity).err())
                .collect::<Vec<String>>()
        })
        .await
        .unwrap_or_else(|join_error| vec![join_error.to_string()]);
        match failures.first() {
            None => {
                if self.removal_fault_reported.swap(false, Ordering::Relaxed) {
                    log::info!("disk removals work again");
                }
            }
            Some(first) => {
                self.errors
                    .fetch_add(failures.len() as u64, Ordering::Relaxed);
                if !self.removal_fault_reported.swap(true, Ordering::Relaxed) {
                    log::warn!(
                        "disk removal failed for {} entries: {first} (further removal failures \
                         are only counted in /stats errors until one works)",
                        failures.len()
                    );
                }
            }
        }
    }

    /// Removes every entry, index and content, and returns how many there were.
    pub async fn clear(&self) -> usize {
        let _exclusive = self.layout.write().await;
        let removed = self.lock_index().clear();
        lock(&self.unreadable).clear();
        lock(&self.swept_expired).clear();
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
            (index.len(), index.bytes)
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
            evictions: self.evictions.load(Ordering::Relaxed),
            expirations: self.expirations.load(Ordering::Relaxed),
            max_bytes: self.bounds.max_bytes,
            max_entries: self.bounds.max_entries,
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

    fn is_expired(&self, entry: &IndexEntry, now_ms: u64) -> bool {
        now_ms.saturating_sub(entry.written_at_ms) >= duration_ms(self.ttl)
    }

    fn lock_index(&self) -> MutexGuard<'_, Index> {
        lock(&self.index)
    }
}

/// Runs the disk tier's periodic sweep (see [`DiskTier::sweep`]).
pub struct Sweeper {
    tier: Weak<DiskTier>,
    interval: Duration,
}

impl Sweeper {
    /// Sweeps at once, then every `interval`, until `stop` completes or the
    /// cache is dropped.
    pub async fn run(self, stop: impl std::future::Future<Output = ()>) {
        tokio::pin!(stop);
        loop {
            let Some(tier) = self.tier.upgrade() else {
                return;
            };
            tokio::select! {
                _ = &mut stop => return,
                _ = tier.sweep() => {}
            }
            drop(tier);
            tokio::select! {
                _ = &mut stop => return,
                _ = tokio::time::sleep(self.interval) => {}
            }
        }
    }
}

fn to_removals(entries: Vec<(String, IndexEntry)>) -> Vec<(String, Integrity)> {
    entries
        .into_iter()
        .map(|(key, entry)| (key, entry.integrity))
        .collect()
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

/// Removes an entry's content and index file. If cacache cannot remove the
/// index file (it is damaged, or the content was already gone), the entry is
/// marked deleted in the index instead, so it never points at missing content.
fn remove_entry_files(dir: &Path, key: &str, integrity: &Integrity) -> Result<(), String> {
    let fully = cacache::RemoveOpts::new()
        .remove_fully(true)
        .remove_sync(dir, key);
    if fully.is_ok() {
        return Ok(());
    }
    let content = match cacache::remove_hash_sync(dir, integrity) {
        Err(cacache::Error::IoError(error, _)) if error.kind() != std::io::ErrorKind::NotFound => {
            Err(error.to_string())
        }
        _ => Ok(()),
    };
    let index = match cacache::index::delete(dir, key) {
        // A cache directory that is gone holds nothing to remove.
        Err(_) if !dir.exists() => Ok(()),
        other => other.map_err(|error| one_line(&error.to_string())),
    };
    content.and(index)
}

/// Temporary files of writes that never finished (a crash, a full disk).
/// Only called with the layout lock held alone, so no write is using them.
fn remove_temp_files(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir.join("tmp")) else {
        return 0;
    };
    entries
        .flatten()
        .filter(|entry| std::fs::remove_file(entry.path()).is_ok())
        .count()
}

/// Content files (`content-v2/sha256/ab/cd/ef…`) whose hash no entry uses.
fn remove_orphan_content(dir: &Path, live: &HashSet<String>) -> usize {
    let root = dir.join("content-v2").join("sha256");
    let mut removed = 0;
    for first in read_dir_paths(&root) {
        for second in read_dir_paths(&first) {
            for file in read_dir_paths(&second) {
                let hex: String = [&first, &second, &file]
                    .iter()
                    .filter_map(|path| path.file_name()?.to_str())
                    .collect();
                if !live.contains(&hex) && std::fs::remove_file(&file).is_ok() {
                    removed += 1;
                }
            }
        }
    }
    removed
}

fn read_dir_paths(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|entries| entries.flatten().map(|entry| entry.path()).collect())
        .unwrap_or_default()
}

/// cacache's own `clear` fails on a missing directory; a cleared cache that
/// was already gone is simply empty.
/// Empties `dir`. cacache's own `clear_sync` stops at the first plain file
/// (a stray `.DS_Store`, say), leaving entries behind that a restart would
/// bring back; this removes directories and files alike, and a missing
/// directory is simply empty.
fn clear_dir(dir: &Path) -> std::io::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return std::fs::create_dir_all(dir)
        }
        Err(error) => return Err(error),
    };
    let mut first_error = None;
    for entry in entries.flatten() {
        let path = entry.path();
        let removed = if path.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        if let Err(error) = removed {
            first_error.get_or_insert(error);
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// The integrity cacache gives content written with SHA-256.
fn sha256_integrity(body: &[u8]) -> Option<Integrity> {
    Integrity::from_hex(format!("{:x}", Sha256::digest(body)), Algorithm::Sha256).ok()
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().expect("disk tier lock poisoned")
}

fn short(key: &str) -> &str {
    &key[..12.min(key.len())]
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
