//! Housekeeping: eviction past the size bound, and the periodic sweep that
//! removes expired entries and what interrupted writes left behind.
//!
//! cacache never deletes anything by itself, so this tier does. Every
//! removal happens while holding the directory's change lock (see
//! `ledger`), so the footprint record stays exact whichever process removes
//! what.

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::Weak;
use std::time::Duration;

use cacache::Integrity;

use super::faults::Fault;
use super::files;
use super::index;
use super::ledger::Footprint;
use super::tier::{lock, remember_swept_expired, DiskCache, DiskTier};
use crate::clock::duration_ms;

/// What one sweep removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepReport {
    pub expired: usize,
    pub evicted: usize,
    /// Temporary files of writes that never finished.
    pub temp_files: usize,
    /// Entries this process knew of that another process has removed.
    pub forgotten: usize,
    /// Whether the directory was measured afresh because files had changed
    /// outside the app.
    pub remeasured: bool,
}

impl DiskCache {
    /// The background housekeeping for this cache, to be run on the app's
    /// runtime (see [`Sweeper::run`]). It stops by itself once the cache is
    /// dropped.
    pub fn sweeper(&self, interval: Duration) -> Sweeper {
        Sweeper {
            tier: std::sync::Arc::downgrade(&self.0),
            interval,
        }
    }

    /// Removes expired entries and, past the bound, the least recently used
    /// ones; reclaims the files of unreadable entries, temporary files of
    /// writes that never finished and, once per start, content files that no
    /// entry points to.
    pub async fn sweep(&self) -> SweepReport {
        let tier = std::sync::Arc::clone(&self.0);
        tokio::task::spawn_blocking(move || tier.sweep_blocking())
            .await
            .unwrap_or_default()
    }
}

impl DiskTier {
    fn sweep_blocking(&self) -> SweepReport {
        let swept = self.shared.change(|footprint| {
            self.notice_clear_elsewhere(footprint);
            self.sweep_locked(footprint)
        });
        let mut report = match swept {
            Ok(report) => report,
            Err(error) => {
                self.faults
                    .record(Fault::SharedRecord, 1, &files::one_line(&error.to_string()));
                return SweepReport::default();
            }
        };
        // Reads only, so outside the lock: at 50,000 entries it stats every
        // one, which must not keep other processes from storing.
        report.forgotten = self.forget_removed_elsewhere();
        if report != SweepReport::default() {
            log::info!(
                "disk sweep: {} expired, {} evicted, {} temporary files removed; {} entries \
                 removed elsewhere forgotten",
                report.expired,
                report.evicted,
                report.temp_files,
                report.forgotten
            );
        }
        report
    }

    fn sweep_locked(&self, footprint: &mut Footprint) -> SweepReport {
        let mut report = SweepReport::default();
        let now_ms = self.settings.clock.now_ms();
        let (expired, unreadable) = {
            let mut view = self.lock_index();
            let expired = view.remove_expired(now_ms, duration_ms(self.settings.ttl));
            // A rewrite of the same key stores the same content under the
            // same name, replacing the damaged file: leave those alone.
            let unreadable: Vec<(String, Integrity)> = std::mem::take(&mut *lock(&self.unreadable))
                .into_iter()
                .filter(|(key, _)| view.get(key).is_none())
                .collect();
            (expired, unreadable)
        };
        self.expirations
            .fetch_add(expired.len() as u64, Ordering::Relaxed);
        report.expired = expired.len();
        remember_swept_expired(self, expired.iter().map(|(key, _)| key.clone()));
        let mut removals: Vec<(String, Integrity)> = expired
            .into_iter()
            .map(|(key, entry)| (key, entry.integrity))
            .collect();
        removals.extend(unreadable);
        for (key, integrity) in &removals {
            // Failures are counted and logged inside; the next sweep retries.
            let _ = self.remove_counted(footprint, key, integrity);
        }
        report.evicted = self.evict_over_bound(footprint, None);

        let (temp_files, temp_freed) = files::remove_temp_files(self.dir());
        footprint.shrink(temp_freed);
        report.temp_files = temp_files;
        if self.remeasure_wanted.swap(false, Ordering::Relaxed) {
            let measured = files::measure(self.dir());
            footprint.bytes_on_disk = measured.bytes_on_disk;
            footprint.entries = measured.entries;
            footprint.content_bytes = measured.content_bytes;
            report.remeasured = true;
        }
        report
    }

    /// Removes content files that no entry points to (left by a write that
    /// was interrupted between its content and its index line), once per
    /// start, after the view holds every entry: only files the view does not
    /// know are looked up in the index, and only those still unreferenced
    /// are checked again under the lock. Returns how many.
    pub(super) fn remove_orphans(&self) -> usize {
        if self.orphans_checked.swap(true, Ordering::Relaxed) {
            return 0;
        }
        let known: HashSet<String> = self
            .lock_index()
            .iter()
            .map(|(key, _)| key.clone())
            .collect();
        // Found without the lock; only the few candidates are checked again
        // and removed under it.
        let candidates = files::orphan_candidates(self.dir(), &known);
        if candidates.is_empty() {
            return 0;
        }
        let removed = self.shared.change(|footprint| {
            let orphans = files::remove_orphans(self.dir(), &candidates);
            footprint.shrink(orphans.freed);
            footprint.entries = footprint.entries.saturating_sub(orphans.files);
            footprint.content_bytes = footprint
                .content_bytes
                .saturating_sub(orphans.content_bytes);
            orphans.files
        });
        match removed {
            Ok(files) => usize::try_from(files).unwrap_or(usize::MAX),
            Err(error) => {
                self.faults
                    .record(Fault::SharedRecord, 1, &files::one_line(&error.to_string()));
                0
            }
        }
    }

    /// Drops from the view the entries whose index file another process has
    /// removed, so the listing and the eviction order stay true.
    fn forget_removed_elsewhere(&self) -> usize {
        let known: Vec<String> = self
            .lock_index()
            .iter()
            .map(|(key, _)| key.clone())
            .collect();
        let gone: Vec<String> = known
            .into_iter()
            .filter(|key| !files::bucket_path(self.dir(), key).exists())
            .collect();
        let mut view = self.lock_index();
        gone.iter().filter(|key| view.remove(key).is_some()).count()
    }

    /// Removes least recently used entries, index and content, until the
    /// directory is within its bound, never `protected` (the entry being
    /// written). Returns how many it removed. Called with the change lock
    /// held.
    pub(super) fn evict_over_bound(
        &self,
        footprint: &mut Footprint,
        protected: Option<&str>,
    ) -> usize {
        let mut evicted = 0;
        let mut read_whole_index = false;
        let mut set_aside = None;
        while footprint.bytes_on_disk > self.settings.max_bytes {
            let victim = self.lock_index().pop_least_recent();
            let Some((key, entry)) = victim else {
                // The view is empty but the directory is not: the rest was
                // written by other processes since this one read the index.
                // Read it again, once, to find them.
                if read_whole_index {
                    break;
                }
                read_whole_index = true;
                let (loaded, _) = index::read_all(self.dir(), self.settings.max_bytes);
                self.lock_index().merge_loaded(loaded);
                continue;
            };
            if protected == Some(key.as_str()) {
                set_aside = Some((key, entry));
                continue;
            }
            match self.remove_counted(footprint, &key, &entry.integrity) {
                Some(true) => evicted += 1,
                // Already gone (another process removed it): nothing freed.
                Some(false) => {}
                None => {
                    // Put it back, still least recently used, rather than
                    // loop on a file that cannot go; the next sweep retries.
                    self.lock_index().merge_loaded(vec![(key, entry)]);
                    break;
                }
            }
        }
        if let Some((key, entry)) = set_aside {
            self.lock_index().insert(key, entry);
        }
        self.evictions.fetch_add(evicted as u64, Ordering::Relaxed);
        evicted
    }

    /// Removes one entry's files and takes them off the footprint. Returns
    /// whether there were files to remove, or `None` if they could not go.
    fn remove_counted(
        &self,
        footprint: &mut Footprint,
        key: &str,
        integrity: &Integrity,
    ) -> Option<bool> {
        self.note_removed(key);
        let before = files::entry_files(self.dir(), key, integrity);
        match files::remove_entry(self.dir(), key, integrity) {
            Ok(freed) => {
                footprint.shrink(freed);
                if let Some(length) = before.content_len {
                    footprint.entries = footprint.entries.saturating_sub(1);
                    footprint.content_bytes = footprint.content_bytes.saturating_sub(length);
                }
                self.faults.cleared(Fault::Removal);
                Some(before.allocated > 0)
            }
            Err(error) => {
                self.faults.record(Fault::Removal, 1, &error);
                None
            }
        }
    }
}

/// Runs the disk tier's periodic sweep (see [`DiskCache::sweep`]).
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
            let cache = DiskCache(tier);
            tokio::select! {
                _ = &mut stop => return,
                _ = cache.sweep() => {}
            }
            drop(cache);
            tokio::select! {
                _ = &mut stop => return,
                _ = tokio::time::sleep(self.interval) => {}
            }
        }
    }
}
