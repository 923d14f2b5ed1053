//! The disk tier's public face: look a body up, store its answer, clear,
//! count, list.

use std::collections::HashSet;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use cacache::Integrity;

use super::answer::{DiskAnswer, DiskLookup, HitRead, MissReason};
use super::faults::{Fault, FaultLog};
use super::files;
use super::index::{self, Index, IndexEntry, ReadableIndex};
use super::key::EntryKey;
use super::ledger::{Footprint, SharedDir, FOOTPRINT_FILE, LOCK_FILE};
use super::page_cache;
use crate::canonical::CanonicalJson;
use crate::clock::{duration_ms, Clock};
use crate::redis_tier::{RedisTier, SharedLookup};
use crate::single_flight::{Flight, SingleFlight};
use crate::striped::{StripedCounter, UseNotes};

mod clear;
mod compute;
mod recency;

use recency::NotedKey;

/// How many swept-away expired keys are remembered (see `swept_expired`).
const SWEPT_EXPIRED_KEPT: usize = 10_000;

/// How the disk tier behaves.
#[derive(Debug, Clone)]
pub struct DiskSettings {
    /// How long an entry is served before it counts as expired.
    pub ttl: Duration,
    /// The simulated cost of the work a miss does.
    pub miss_delay: Duration,
    /// What the whole directory may occupy on disk, as `du -s` counts it.
    pub max_bytes: u64,
    /// Where "now" comes from.
    pub clock: Clock,
}

impl Default for DiskSettings {
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(3600),
            miss_delay: Duration::ZERO,
            max_bytes: 64 * 1024 * 1024,
            clock: Clock::system(),
        }
    }
}

/// What to do after a content read failed.
enum Retry {
    /// The index still points to the content: it may have been removed and
    /// rewritten between the lookup and the read.
    ReadAgain,
    Miss(MissReason),
}

#[derive(Clone)]
pub(super) struct StoredValue {
    body: Arc<[u8]>,
    written_at_ms: Option<u64>,
    simulated_delay: Duration,
    /// False when the entry turned up on disk before this flight did any
    /// work, or came from the shared tier.
    computed_here: bool,
    /// What the shared tier did for this flight.
    shared: SharedLookup,
    /// The answer was read from the shared tier.
    from_shared: bool,
}

/// JSON answers on disk, with an in-memory view of the index.
///
/// A cheap handle: the tier itself lives behind an `Arc`, so that writes can
/// finish even if the request that started them goes away, and so that the
/// background [`super::Sweeper`] and the index loader can reach it.
pub struct DiskCache(pub(super) Arc<DiskTier>);

impl Deref for DiskCache {
    type Target = DiskTier;

    fn deref(&self) -> &DiskTier {
        &self.0
    }
}

/// The state behind a [`DiskCache`].
pub struct DiskTier {
    pub(super) dir: PathBuf,
    pub(super) settings: DiskSettings,
    pub(super) shared: SharedDir,
    pub(super) index: Mutex<Index>,
    /// The view's entries as hits read them, without the index's lock.
    pub(super) readable: Arc<ReadableIndex>,
    /// Keys hit since their recency was last applied to the view, per
    /// thread (see [`DiskTier::note_used`]).
    pub(super) used: UseNotes<NotedKey>,
    pub(super) index_loading: AtomicBool,
    /// Keys removed while the background read of the index runs, so that it
    /// does not bring back entries that no longer exist.
    pub(super) removed_while_loading: Mutex<HashSet<String>>,
    /// The clear generation this process's view belongs to (see
    /// [`Footprint::generation`]).
    pub(super) seen_generation: AtomicU64,
    pub(super) flights: SingleFlight<String, StoredValue>,
    /// Entries whose content failed to read: their files are removed by the
    /// next sweep, unless a rewrite replaced them first.
    pub(super) unreadable: Mutex<Vec<(String, Integrity)>>,
    /// Keys the sweep removed for being expired and nobody has asked for
    /// since, so the next request can still say "expired" rather than "never
    /// stored". Bounded: it is forgotten wholesale when it grows too large.
    pub(super) swept_expired: Mutex<HashSet<String>>,
    /// Whether the start-up read has looked for content that no entry
    /// points to (once per start is enough: the app itself never leaves any
    /// behind).
    pub(super) orphans_checked: AtomicBool,
    /// Set when something outside the app changed files (a damaged or
    /// vanished content file): the footprint record no longer matches the
    /// directory, so the next sweep measures it afresh.
    pub(super) remeasure_wanted: AtomicBool,
    pub(super) faults: FaultLog,
    /// Counted per thread: every lookup counts in one or two of them.
    pub(super) hits: StripedCounter,
    pub(super) page_cache_hits: StripedCounter,
    pub(super) misses: StripedCounter,
    pub(super) expired: StripedCounter,
    pub(super) not_modified: StripedCounter,
    pub(super) computed: AtomicU64,
    pub(super) evictions: AtomicU64,
    pub(super) expirations: AtomicU64,
}

impl DiskCache {
    /// Opens the cache in `dir` at once; its index is read by a background
    /// thread, so start-up never waits for the disk however many entries are
    /// stored.
    pub fn open(dir: &Path, settings: DiskSettings) -> Self {
        let shared = SharedDir::new(dir);
        let generation = shared.read().map_or(0, |footprint| footprint.generation);
        let readable = Arc::new(ReadableIndex::new());
        let tier = Arc::new(DiskTier {
            dir: dir.to_path_buf(),
            settings,
            shared,
            index: Mutex::new(Index::new(Arc::clone(&readable))),
            readable,
            used: UseNotes::default(),
            index_loading: AtomicBool::new(true),
            removed_while_loading: Mutex::new(HashSet::new()),
            seen_generation: AtomicU64::new(generation),
            flights: SingleFlight::default(),
            unreadable: Mutex::new(Vec::new()),
            swept_expired: Mutex::new(HashSet::new()),
            orphans_checked: AtomicBool::new(false),
            remeasure_wanted: AtomicBool::new(false),
            faults: FaultLog::default(),
            hits: StripedCounter::default(),
            page_cache_hits: StripedCounter::default(),
            misses: StripedCounter::default(),
            expired: StripedCounter::default(),
            not_modified: StripedCounter::default(),
            computed: AtomicU64::new(0),
            evictions: AtomicU64::new(0),
            expirations: AtomicU64::new(0),
        });
        let loader = Arc::clone(&tier);
        let spawned = std::thread::Builder::new()
            .name("disk-index-loader".into())
            .spawn(move || loader.load_index());
        if let Err(error) = spawned {
            // Every lookup still finds stored entries on disk; only the
            // listing and the eviction order start empty.
            log::warn!("disk index not read in the background: {error}");
            tier.index_loading.store(false, Ordering::Relaxed);
        }
        Self(tier)
    }

    /// Answers `request` from disk when a fresh, intact entry is stored, and
    /// otherwise does the slow work once (however many ask at the same time)
    /// and stores the result.
    pub async fn get_or_compute(&self, request: &CanonicalJson) -> DiskAnswer {
        self.get_or_compute_via(request, RedisTier::off()).await
    }

    /// As [`DiskCache::get_or_compute`], with the shared tier between this
    /// machine's disk and the work: a miss asks `shared` first and writes
    /// what it finds to disk; otherwise the answer is computed (under the
    /// shared tier's lease) and stored in both.
    pub async fn get_or_compute_via(
        &self,
        request: &CanonicalJson,
        shared: &RedisTier,
    ) -> DiskAnswer {
        let key = request.key();
        let reason = match self.stored_answer(key) {
            Ok(hit) => return hit,
            Err(reason) => reason,
        };

        let (stored, flight) = self
            .flights
            .run(key.to_owned(), || self.compute_and_store(request, shared))
            .await;
        let joined = flight == Flight::Joined;
        let lookup = match flight {
            _ if stored.from_shared => DiskLookup::Shared { reason, joined },
            Flight::Led if stored.computed_here => DiskLookup::Computed {
                reason,
                stored: stored.written_at_ms.is_some(),
            },
            _ => DiskLookup::Joined { reason },
        };
        DiskAnswer {
            key: key.to_owned(),
            body: stored.body,
            lookup,
            written_at_ms: stored.written_at_ms,
            ttl: self.settings.ttl,
            simulated_delay: stored.simulated_delay,
            hit_read: None,
            shared: stored.shared,
        }
    }

    /// The stored answer for `key`, read without computing anything: a
    /// fresh, intact entry is a hit; anything else is a miss and says why.
    /// Counted like any lookup. A damaged entry is a miss, counted and
    /// logged once, never its bytes.
    pub fn lookup(&self, key: &EntryKey) -> Result<DiskAnswer, MissReason> {
        self.stored_answer(key.as_str())
    }

    /// Counts an answer of this tier that was sent as 304 Not Modified.
    pub fn count_not_modified(&self) {
        self.not_modified.increment();
    }

    /// The counted lookup both [`Self::get_or_compute`] and [`Self::lookup`]
    /// start with.
    fn stored_answer(&self, key: &str) -> Result<DiskAnswer, MissReason> {
        match self.read_fresh(key) {
            Ok((body, written_at_ms, read)) => {
                self.hits.increment();
                if read == HitRead::PageCache {
                    self.page_cache_hits.increment();
                }
                Ok(DiskAnswer {
                    key: key.to_owned(),
                    body,
                    lookup: DiskLookup::Hit,
                    written_at_ms: Some(written_at_ms),
                    ttl: self.settings.ttl,
                    simulated_delay: Duration::ZERO,
                    hit_read: Some(read),
                    shared: SharedLookup::OFF,
                })
            }
            Err(reason) => {
                self.misses.increment();
                if reason == MissReason::Expired {
                    self.expired.increment();
                }
                Err(reason)
            }
        }
    }
}

impl DiskTier {
    /// A fresh, verified entry's content for `key`, when it was written
    /// and how it was read; or why there is none.
    fn read_fresh(&self, key: &str) -> Result<(Arc<[u8]>, u64, HitRead), MissReason> {
        let readable = self.readable.pin();
        let viewed = readable.get(key);
        let found_on_disk;
        let entry = match viewed {
            Some(entry) if !self.is_expired(entry) => {
                self.note_used(key);
                entry
            }
            _ => {
                found_on_disk = self.find_on_disk(key, viewed.is_some())?;
                &found_on_disk
            }
        };
        // Content the kernel holds in memory is read and verified right here,
        // without waiting (see `page_cache`). Otherwise a small synchronous
        // read is ~25× cheaper than cacache's async path, which hops to the
        // blocking pool for every file step; block_in_place hands this
        // worker's other tasks to another thread while we read, so nothing
        // async waits on the disk. (It needs the multi-threaded runtime,
        // which Rocket always runs.)
        let read = match page_cache::read_if_cached(&self.dir, &entry.integrity, entry.size) {
            Some(bytes) => Ok((bytes, HitRead::PageCache)),
            None => self
                .read_content(entry)
                .map(|bytes| (bytes, HitRead::OrdinaryRead)),
        };
        match read {
            Ok((bytes, how)) => Ok((Arc::from(bytes), entry.written_at_ms, how)),
            Err(error) => match self.forget_unreadable(key, entry, &error) {
                Retry::ReadAgain => self
                    .read_content(entry)
                    .map(|bytes| (Arc::from(bytes), entry.written_at_ms, HitRead::OrdinaryRead))
                    .map_err(|error| self.count_unreadable(key, entry, &error)),
                Retry::Miss(reason) => Err(reason),
            },
        }
    }

    fn read_content(&self, entry: &IndexEntry) -> cacache::Result<Vec<u8>> {
        tokio::task::block_in_place(|| cacache::read_hash_sync(&self.dir, &entry.integrity))
    }

    /// Looks `key` up in cacache's own index, for an entry this process's
    /// view lacks or holds as expired: another process may have written it,
    /// or the start-up walk has not reached it yet. Found entries join the
    /// view.
    fn find_on_disk(&self, key: &str, viewed_as_expired: bool) -> Result<IndexEntry, MissReason> {
        let found = tokio::task::block_in_place(|| cacache::index::find(&self.dir, key));
        let found = match found {
            Ok(found) => found,
            Err(error) => {
                self.faults.record(
                    Fault::UnreadableContent,
                    1,
                    &files::one_line(&error.to_string()),
                );
                None
            }
        };
        let Some(meta) = found else {
            if viewed_as_expired {
                self.lock_index().remove(key);
                return Err(MissReason::Expired);
            }
            // The sweep may have removed it for being old: still "expired".
            return Err(if lock(&self.swept_expired).remove(key) {
                MissReason::Expired
            } else {
                MissReason::Absent
            });
        };
        let Some(entry) = IndexEntry::checked(
            key,
            &meta.integrity,
            meta.time,
            meta.size,
            self.settings.max_bytes,
        ) else {
            // A line this app cannot have written (damaged, or planted):
            // never trust its integrity or size.
            self.faults.record(
                Fault::UnreadableContent,
                1,
                &format!("key={}… an index line this app did not write", short(key)),
            );
            return Err(MissReason::Unreadable);
        };
        // Already found damaged and awaiting its rewrite: counted once, not
        // again by the flight that is about to rewrite it.
        if lock(&self.unreadable)
            .iter()
            .any(|(damaged, integrity)| damaged == key && *integrity == entry.integrity)
        {
            return Err(MissReason::Unreadable);
        }
        self.lock_index().insert(key.to_owned(), entry.clone());
        if self.is_expired(&entry) {
            return Err(MissReason::Expired);
        }
        Ok(entry)
    }

    /// Drops an entry whose content could not be read, so it is recomputed
    /// and rewritten instead of failing again on every request, and decides
    /// what the failure was. Content that is gone because the entry is gone
    /// (another process or this one cleared, evicted or expired it) is a
    /// plain miss, not a fault. Content missing while the index still points
    /// to it may have been removed and rewritten in between: read it once
    /// more. Anything else is damage: counted, logged once, rewritten.
    fn forget_unreadable(&self, key: &str, entry: &IndexEntry, error: &cacache::Error) -> Retry {
        self.lock_index().remove_if_same(key, entry);
        let content_missing = matches!(
            error,
            cacache::Error::IoError(io, _) if io.kind() == std::io::ErrorKind::NotFound
        );
        if content_missing {
            let still_indexed = tokio::task::block_in_place(|| {
                cacache::index::find(&self.dir, key)
                    .ok()
                    .flatten()
                    .is_some_and(|meta| meta.integrity == entry.integrity)
            });
            return if still_indexed {
                Retry::ReadAgain
            } else {
                Retry::Miss(MissReason::Absent)
            };
        }
        Retry::Miss(self.count_unreadable(key, entry, error))
    }

    fn count_unreadable(
        &self,
        key: &str,
        entry: &IndexEntry,
        error: &cacache::Error,
    ) -> MissReason {
        self.lock_index().remove_if_same(key, entry);
        self.faults.record(
            Fault::UnreadableContent,
            1,
            &format!(
                "key={}… {}",
                short(key),
                files::one_line(&error.to_string())
            ),
        );
        lock(&self.unreadable).push((key.to_owned(), entry.integrity.clone()));
        self.remeasure_wanted.store(true, Ordering::Relaxed);
        MissReason::Unreadable
    }

    /// Writes the entry's files while holding the directory's change lock,
    /// records what they occupy, evicts past the bound and returns the write
    /// time, or `None` if it was not stored (or was itself evicted at once
    /// because it alone does not fit).
    fn write(&self, key: &str, body: &[u8]) -> Option<u64> {
        if !self.could_ever_fit(body.len()) {
            log::info!(
                "disk entry not stored key={}… reason=larger than disk_max_bytes allows \
                 ({} bytes of content against {})",
                short(key),
                body.len(),
                self.settings.max_bytes
            );
            return None;
        }
        let integrity = files::sha256_integrity(body)?;
        let written_at_ms = self.settings.clock.now_ms();
        let changed = self.shared.change(|footprint| {
            self.notice_clear_elsewhere(footprint);
            let written = self.write_files(footprint, key, body, &integrity, written_at_ms);
            if written.is_ok() {
                self.lock_index().insert(
                    key.to_owned(),
                    IndexEntry {
                        integrity: integrity.clone(),
                        written_at_ms,
                        size: body.len(),
                    },
                );
                // While the index is still being read the view lacks most
                // entries and would evict the newest; the loader applies the
                // bound once it has them all.
                if !self.index_loading.load(Ordering::Relaxed) {
                    self.evict_over_bound(footprint, Some(key));
                }
            }
            written
        });
        match changed {
            Ok(Ok(())) => {
                self.faults.cleared(Fault::Write);
                lock(&self.swept_expired).remove(key);
                // The rewrite replaced any damaged file of the same entry.
                lock(&self.unreadable).retain(|(damaged, _)| damaged != key);
                // Still there, unless it alone was larger than the bound.
                self.lock_index()
                    .get(key)
                    .is_some()
                    .then_some(written_at_ms)
            }
            Ok(Err(error)) => {
                self.faults
                    .record(Fault::Write, 1, &format!("key={}… {error}", short(key)));
                None
            }
            Err(error) => {
                self.faults
                    .record(Fault::SharedRecord, 1, &files::one_line(&error.to_string()));
                None
            }
        }
    }

    /// The file work of [`Self::write`], accounted in `footprint`. On
    /// failure, whatever the write left behind is removed again.
    fn write_files(
        &self,
        footprint: &mut Footprint,
        key: &str,
        body: &[u8],
        integrity: &Integrity,
        written_at_ms: u64,
    ) -> Result<(), String> {
        let dir = &self.dir;
        let bucket = files::bucket_path(dir, key);
        let content = files::content_path(dir, integrity);
        if files::remove_directory_squatting(&content) {
            log::info!(
                "disk: removed a directory standing where content belongs key={}…",
                short(key)
            );
        }
        let before = files::entry_files(dir, key, integrity);
        let mut added = files::create_parent_dirs(dir, &bucket)
            .and_then(|bytes| Ok(bytes + files::create_parent_dirs(dir, &content)?))
            .and_then(|bytes| {
                Ok(bytes + files::create_parent_dirs(dir, &dir.join(files::TEMP_DIR).join("-"))?)
            })
            .map_err(|error| error.to_string())?;
        let written = files::write_entry(dir, key, body, written_at_ms)
            .map_err(|error| files::one_line(&error.to_string()));
        let after = files::entry_files(dir, key, integrity);
        if let Err(error) = written {
            // The content may be in place with its index line missing: take
            // it out again unless an earlier write of the same entry owns it.
            if before.content_len.is_none() && after.content_len.is_some() {
                let _ = std::fs::remove_file(&content);
            }
            let freed = files::remove_empty_parents(dir, &content)
                + files::remove_empty_parents(dir, &bucket);
            added = added.saturating_sub(freed);
            footprint.grow(added + files::entry_files(dir, key, integrity).allocated);
            footprint.shrink(before.allocated);
            return Err(error);
        }
        footprint.grow(added + after.allocated);
        footprint.shrink(before.allocated);
        if before.content_len.is_none() {
            footprint.entries += 1;
            footprint.content_bytes += body.len() as u64;
        }
        Ok(())
    }

    /// If another process cleared the directory since this one last looked,
    /// forgets the view, which lists nothing that exists any more.
    pub(super) fn notice_clear_elsewhere(&self, footprint: &Footprint) {
        // Generations only grow; a record read before this process's own
        // clear was recorded must not undo it.
        if self
            .seen_generation
            .fetch_max(footprint.generation, Ordering::Relaxed)
            < footprint.generation
        {
            self.lock_index().clear();
        }
    }

    /// Reads the whole index in the background after start-up and merges it
    /// into the view; removes content no entry points to; measures the
    /// directory if it has no footprint record yet, and brings it within the
    /// bound (the setting may have shrunk).
    fn load_index(&self) {
        let generation = self.seen_generation.load(Ordering::Relaxed);
        let (loaded, skipped) = index::read_all(&self.dir, self.settings.max_bytes);
        let count = loaded.len();
        // A clear while the walk ran (here or, as the record shows, in another
        // process) made what it read out of date.
        let cleared_meanwhile = self.seen_generation.load(Ordering::Relaxed) != generation
            || self
                .shared
                .read()
                .is_some_and(|footprint| footprint.generation != generation);
        {
            let mut removed = lock(&self.removed_while_loading);
            if !cleared_meanwhile {
                let loaded = loaded
                    .into_iter()
                    .filter(|(key, _)| !removed.contains(key))
                    .collect();
                self.lock_index().merge_loaded(loaded);
            }
            // Under the same lock as removals note themselves, so none falls
            // between the filter and the end of loading.
            self.index_loading.store(false, Ordering::Relaxed);
            removed.clear();
        }
        log::info!(
            "disk tier: {count} entries read from {} ({skipped} unreadable index lines skipped)",
            self.dir.display()
        );
        let orphans = self.remove_orphans();
        if orphans > 0 {
            log::info!("disk tier: {orphans} content files no entry pointed to were removed");
        }
        let needs_housekeeping = self
            .shared
            .read()
            .is_none_or(|footprint| footprint.bytes_on_disk > self.settings.max_bytes);
        if needs_housekeeping {
            let changed = self.shared.change(|footprint| {
                self.notice_clear_elsewhere(footprint);
                self.evict_over_bound(footprint, None);
            });
            if let Err(error) = changed {
                self.faults
                    .record(Fault::SharedRecord, 1, &files::one_line(&error.to_string()));
            }
        }
    }

    /// Whether an entry of `content_len` bytes fits in an otherwise empty
    /// directory; if not, storing it would only evict everything else and
    /// then itself. Counted in 4 KiB blocks: the directory's own folders and
    /// files, the entry's two files, and up to four folders of its own.
    fn could_ever_fit(&self, content_len: usize) -> bool {
        const BLOCK: u64 = 4096;
        const EMPTY_DIRECTORY: u64 = 6 * BLOCK;
        let content_blocks = (content_len as u64).div_ceil(BLOCK).max(1);
        let entry = (content_blocks + 1 + 4) * BLOCK;
        EMPTY_DIRECTORY + entry <= self.settings.max_bytes
    }

    pub(super) fn is_expired(&self, entry: &IndexEntry) -> bool {
        self.settings
            .clock
            .now_ms()
            .saturating_sub(entry.written_at_ms)
            >= duration_ms(self.settings.ttl)
    }

    /// Notes that `key` was removed, if the background read of the index
    /// might still bring it back.
    pub(super) fn note_removed(&self, key: &str) {
        if self.index_loading.load(Ordering::Relaxed) {
            let mut removed = lock(&self.removed_while_loading);
            if self.index_loading.load(Ordering::Relaxed) {
                removed.insert(key.to_owned());
            }
        }
    }

    pub(super) fn dir(&self) -> &Path {
        &self.dir
    }
}

pub(super) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().expect("disk tier lock poisoned")
}

pub(super) fn short(key: &str) -> &str {
    &key[..12.min(key.len())]
}

pub(super) fn remember_swept_expired(tier: &DiskTier, keys: impl Iterator<Item = String>) {
    let mut swept = lock(&tier.swept_expired);
    let keys: Vec<String> = keys.collect();
    if swept.len() + keys.len() > SWEPT_EXPIRED_KEPT {
        swept.clear();
    }
    swept.extend(keys);
}
