//! What the disk tier reports about itself: counters for `/stats` and the
//! page of stored entries the disk page lists.

use std::sync::atomic::Ordering;

use super::index::IndexEntry;
use super::ledger::Footprint;
use super::tier::DiskTier;
use crate::clock::duration_ms;

/// Counters for `/stats`. Entries and bytes are the whole directory's,
/// whichever process wrote them; hits, misses and the rest are this
/// process's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct DiskStats {
    pub entries: u64,
    /// The stored answers, byte for byte.
    pub content_bytes: u64,
    /// What the directory occupies (`du -s`): content, index files and
    /// directories, each rounded up to whole file-system blocks.
    pub bytes_on_disk: u64,
    /// The bound on `bytes_on_disk`.
    pub max_bytes: u64,
    pub hits: u64,
    /// Hits whose bytes the kernel handed over from its page cache, in RAM,
    /// without waiting for the device (see `page_cache`).
    pub page_cache_hits: u64,
    pub misses: u64,
    pub expired: u64,
    /// Answers sent as 304 Not Modified: the client's stored copy was this
    /// very answer, so no body was sent (each is also a hit or a miss).
    pub not_modified: u64,
    /// Times the slow work actually ran.
    pub computed: u64,
    /// Cache faults survived (unreadable content, failed writes, failed
    /// clears and removals).
    pub errors: u64,
    pub in_flight: usize,
    pub ttl_secs: u64,
    /// Entries removed because the directory was past `max_bytes`.
    pub evictions: u64,
    /// Expired entries removed from disk by the sweep.
    pub expirations: u64,
    /// True while the index is still being read in the background after
    /// start-up. Answers are right meanwhile: a key not yet read is looked
    /// up on disk.
    pub index_loading: bool,
}

/// One stored entry as shown to a learner.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DiskEntry {
    pub key: String,
    pub size: usize,
    pub written_at_ms: u64,
    pub expires_at_ms: u64,
}

/// A page of stored entries, newest first.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct EntriesPage {
    pub entries: Vec<DiskEntry>,
    /// Entries whose key starts with the search, on every page.
    pub matching: usize,
}

impl DiskTier {
    pub fn stats(&self) -> DiskStats {
        let recorded = self.shared.read();
        if let Some(footprint) = &recorded {
            self.notice_clear_elsewhere(footprint);
        }
        let footprint = recorded.unwrap_or_else(|| {
            let index = self.lock_index();
            Footprint {
                entries: index.len() as u64,
                content_bytes: index.iter().map(|(_, entry)| entry.size as u64).sum(),
                ..Footprint::default()
            }
        });
        DiskStats {
            entries: footprint.entries,
            content_bytes: footprint.content_bytes,
            bytes_on_disk: footprint.bytes_on_disk,
            max_bytes: self.settings.max_bytes,
            hits: self.hits.total(),
            page_cache_hits: self.page_cache_hits.total(),
            misses: self.misses.total(),
            expired: self.expired.total(),
            not_modified: self.not_modified.total(),
            computed: self.computed.load(Ordering::Relaxed),
            errors: self.faults.count(),
            in_flight: self.flights.in_flight_count(),
            ttl_secs: self.settings.ttl.as_secs(),
            evictions: self.evictions.load(Ordering::Relaxed),
            expirations: self.expirations.load(Ordering::Relaxed),
            // Until the directory has been measured its size is not known
            // either: say "still reading" rather than report an empty cache.
            index_loading: self.index_loading.load(Ordering::Relaxed) || recorded.is_none(),
        }
    }

    /// Up to `limit` entries whose key starts with `key_prefix`, newest first,
    /// skipping the first `offset`. These are the entries this process knows
    /// of: every entry stored when it started (once the background read is
    /// done), those it wrote or found since. Cheap at any size: only the
    /// page is copied and sorted in full.
    pub fn entries_page(&self, key_prefix: &str, offset: usize, limit: usize) -> EntriesPage {
        if let Some(footprint) = self.shared.read() {
            self.notice_clear_elsewhere(&footprint);
        }
        let ttl_ms = duration_ms(self.settings.ttl);
        let index = self.lock_index();
        let mut matching: Vec<(u64, &String, &IndexEntry)> = index
            .iter()
            .filter(|(key, _)| key.starts_with(key_prefix))
            .map(|(key, entry)| (entry.written_at_ms, key, entry))
            .collect();
        let total_matching = matching.len();
        let newest_first = |a: &(u64, &String, &IndexEntry), b: &(u64, &String, &IndexEntry)| {
            b.0.cmp(&a.0).then(a.1.cmp(b.1))
        };
        // Only the entries up to the end of the page need sorting.
        let wanted = offset.saturating_add(limit);
        if wanted > 0 && wanted < matching.len() {
            matching.select_nth_unstable_by(wanted - 1, newest_first);
            matching.truncate(wanted);
        }
        matching.sort_unstable_by(newest_first);
        let entries = matching
            .into_iter()
            .skip(offset)
            .take(limit)
            .map(|(written_at_ms, key, entry)| DiskEntry {
                key: key.clone(),
                size: entry.size,
                written_at_ms,
                expires_at_ms: written_at_ms.saturating_add(ttl_ms),
            })
            .collect();
        EntriesPage {
            entries,
            matching: total_matching,
        }
    }
}
