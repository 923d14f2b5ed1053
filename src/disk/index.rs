//! This process's view of the entries on disk, in recency order.
//!
//! Reading cacache's index for a key means opening and parsing a bucket
//! file; the view answers that from memory on every hit. It is a view, not
//! the truth: other processes sharing the directory add and remove entries
//! behind its back, so a key the view lacks is looked up on disk before it
//! counts as absent, and a file the view promises but the disk lacks is a
//! plain miss. The view is filled at start-up by a background walk of the
//! index, so start-up does not wait for it.

use std::path::Path;
use std::sync::Arc;

use cacache::Integrity;
use sha2::{Digest, Sha256};

use super::files;

/// What the view knows of one stored entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct IndexEntry {
    pub integrity: Integrity,
    pub written_at_ms: u64,
    /// Length of the content.
    pub size: usize,
}

impl IndexEntry {
    /// An entry read from cacache's index, if it is one this app could have
    /// written: the key is the hex SHA-256 of the content, so the integrity
    /// must be exactly that hash, and the size must be one the tier could
    /// have stored. Anything else (a damaged or planted line) is refused
    /// here, before any code relies on its integrity or size.
    pub(super) fn checked(
        key: &str,
        integrity: &Integrity,
        time: u128,
        size: usize,
        max_size: u64,
    ) -> Option<Self> {
        let expected = files::integrity_for_key(key)?;
        (*integrity == expected && size as u64 <= max_size).then(|| Self {
            integrity: expected,
            written_at_ms: u64::try_from(time).unwrap_or(u64::MAX),
            size,
        })
    }
}

/// The entries as a hit reads them: papaya's lock-free map, so that a hit
/// finds its entry without the lock every change to the view takes (the
/// same design as the memory tier's, see `memory::store`). The [`Index`]
/// keeps it equal to its own entries: every change to one is made to the
/// other, under the index's lock.
pub(super) type ReadableIndex = papaya::HashMap<String, IndexEntry>;

/// The view, most recently used first. The order comes from the `lru` crate
/// rather than `cached`'s LruCache because the bound is in bytes, so
/// eviction pops least recently used entries one at a time until the
/// directory fits, which `cached` does not offer.
pub(super) struct Index {
    entries: lru::LruCache<String, IndexEntry>,
    readable: Arc<ReadableIndex>,
}

impl Index {
    pub(super) fn new(readable: Arc<ReadableIndex>) -> Self {
        readable.pin().clear();
        Self {
            // Bounded by the tier's eviction, which works in bytes.
            entries: lru::LruCache::unbounded(),
            readable,
        }
    }

    /// Marks `key` as just used, if the view holds it: how a hit's use,
    /// noted without the lock, reaches the order.
    pub(super) fn touch(&mut self, key: &str) {
        self.entries.promote(key);
    }

    pub(super) fn get(&self, key: &str) -> Option<&IndexEntry> {
        self.entries.peek(key)
    }

    /// Adds or replaces the entry for `key` as the most recently used.
    pub(super) fn insert(&mut self, key: String, entry: IndexEntry) {
        self.readable.pin().insert(key.clone(), entry.clone());
        self.entries.put(key, entry);
    }

    pub(super) fn remove(&mut self, key: &str) -> Option<IndexEntry> {
        self.readable.pin().remove(key);
        self.entries.pop(key)
    }

    /// Removes `key` only if the view still holds exactly `entry` (not a
    /// rewrite that happened meanwhile). Returns whether it did.
    pub(super) fn remove_if_same(&mut self, key: &str, entry: &IndexEntry) -> bool {
        let same = self.entries.peek(key).is_some_and(|current| {
            current.integrity == entry.integrity && current.written_at_ms == entry.written_at_ms
        });
        if same {
            self.remove(key);
        }
        same
    }

    /// The least recently used entry, taken out of the view.
    pub(super) fn pop_least_recent(&mut self) -> Option<(String, IndexEntry)> {
        let (key, entry) = self.entries.pop_lru()?;
        self.readable.pin().remove(&key);
        Some((key, entry))
    }

    /// Takes out every entry written `ttl_ms` or longer before `now_ms`.
    pub(super) fn remove_expired(&mut self, now_ms: u64, ttl_ms: u64) -> Vec<(String, IndexEntry)> {
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

    /// Adds entries found on disk by the start-up walk as the least recently
    /// used, oldest write last, without replacing anything the view learned
    /// since start-up (which is newer).
    pub(super) fn merge_loaded(&mut self, mut loaded: Vec<(String, IndexEntry)>) {
        loaded.retain(|(key, _)| !self.entries.contains(key));
        // Oldest first, so the oldest ends up least recently used.
        loaded.sort_by_key(|(_, entry)| entry.written_at_ms);
        let mut merged = lru::LruCache::unbounded();
        let readable = self.readable.pin();
        for (key, entry) in loaded {
            readable.insert(key.clone(), entry.clone());
            merged.put(key, entry);
        }
        // What was used since start-up goes on top, in its own order.
        while let Some((key, entry)) = self.entries.pop_lru() {
            merged.put(key, entry);
        }
        self.entries = merged;
    }

    pub(super) fn clear(&mut self) -> usize {
        let removed = self.entries.len();
        self.entries.clear();
        self.readable.pin().clear();
        removed
    }

    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Most recently used first; does not change the order.
    pub(super) fn iter(&self) -> impl Iterator<Item = (&String, &IndexEntry)> {
        self.entries.iter()
    }
}

/// One line of a cacache index bucket, as far as this app needs it.
#[derive(serde::Deserialize)]
struct BucketLine {
    key: String,
    integrity: Option<String>,
    time: u128,
    size: usize,
}

/// Every live entry in cacache's index under `dir`, and how many index lines
/// were skipped as unreadable.
///
/// This walks the bucket files itself rather than calling `cacache::list_sync`,
/// which panics on a line whose integrity string does not parse (any file in
/// the directory can be damaged or planted). Each line is
/// `<sha256 of the JSON>\t<JSON>`; a line whose hash does not match is torn or
/// damaged and skipped, as cacache's own reads skip it; the last line for a
/// key wins, and a line without integrity is a deletion.
pub(super) fn read_all(dir: &Path, max_size: u64) -> (Vec<(String, IndexEntry)>, usize) {
    let mut loaded = Vec::new();
    let mut skipped = 0;
    let mut pending = vec![dir.join(files::INDEX_DIR)];
    while let Some(current) = pending.pop() {
        let Ok(children) = std::fs::read_dir(&current) else {
            continue;
        };
        for child in children.flatten() {
            let path = child.path();
            match child.file_type() {
                Ok(kind) if kind.is_dir() => pending.push(path),
                Ok(kind) if kind.is_file() => {
                    skipped += read_bucket(&path, max_size, &mut loaded);
                }
                _ => {}
            }
        }
    }
    (loaded, skipped)
}

/// Adds the live entries of one bucket file to `loaded`; returns how many
/// lines it skipped.
fn read_bucket(path: &Path, max_size: u64, loaded: &mut Vec<(String, IndexEntry)>) -> usize {
    let Ok(bytes) = std::fs::read(path) else {
        return 1;
    };
    let text = String::from_utf8_lossy(&bytes);
    let mut skipped = 0;
    let mut latest: Vec<(String, Option<IndexEntry>)> = Vec::new();
    for line in text.split('\n').filter(|line| !line.is_empty()) {
        let Some((hash, json)) = line.split_once('\t') else {
            skipped += 1;
            continue;
        };
        if format!("{:x}", Sha256::digest(json.as_bytes())) != hash {
            skipped += 1;
            continue;
        }
        let Ok(parsed) = serde_json::from_str::<BucketLine>(json) else {
            skipped += 1;
            continue;
        };
        // A deletion line has no integrity; a line that fails the check is
        // treated as one too, so it hides nothing older that it replaced.
        let entry = parsed.integrity.and_then(|integrity| {
            let integrity = integrity.parse::<Integrity>().ok()?;
            IndexEntry::checked(&parsed.key, &integrity, parsed.time, parsed.size, max_size)
        });
        match latest.iter_mut().find(|(key, _)| *key == parsed.key) {
            Some(slot) => slot.1 = entry,
            None => latest.push((parsed.key, entry)),
        }
    }
    loaded.extend(
        latest
            .into_iter()
            .filter_map(|(key, entry)| Some((key, entry?))),
    );
    skipped
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(written_at_ms: u64) -> IndexEntry {
        IndexEntry {
            integrity: files::sha256_integrity(b"1").expect("a hash"),
            written_at_ms,
            size: 1,
        }
    }

    /// The key this app gives `content`.
    fn key_of(content: &[u8]) -> String {
        format!("{:x}", Sha256::digest(content))
    }

    #[test]
    fn loaded_entries_go_below_what_was_used_since_start_up() {
        let mut index = Index::new(Arc::default());
        index.insert("new".into(), entry(50));
        index.merge_loaded(vec![
            ("old".into(), entry(10)),
            ("older".into(), entry(5)),
            ("new".into(), entry(1)),
        ]);
        let order: Vec<&str> = index.iter().map(|(key, _)| key.as_str()).collect();
        assert_eq!(order, ["new", "old", "older"]);
        assert_eq!(index.get("new").map(|entry| entry.written_at_ms), Some(50));
        assert_eq!(
            index.pop_least_recent().map(|(key, _)| key),
            Some("older".into())
        );
    }

    #[test]
    fn the_walk_finds_live_entries_and_skips_damage_without_panicking() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path();
        let (kept, gone, damaged) = (key_of(b"1"), key_of(b"2"), key_of(b"3"));
        files::write_entry(root, &kept, b"1", 5).expect("written");
        files::write_entry(root, &gone, b"2", 6).expect("written");
        cacache::index::delete(root, &gone).expect("deleted");
        files::write_entry(root, &damaged, b"3", 7).expect("written");
        // Lines whose hash checks out but whose integrity would make cacache
        // (or ssri's hex conversion) panic, or whose size is absurd.
        let bucket = files::bucket_path(root, &damaged);
        let mut text = std::fs::read_to_string(&bucket).expect("bucket");
        for integrity in ["not-an-integrity", "sha256-!!!", "sha256-", "sha256-AA=="] {
            let json =
                format!(r#"{{"key":"{damaged}","integrity":"{integrity}","time":8,"size":1}}"#);
            text.push_str(&format!("\n{:x}\t{json}", Sha256::digest(json.as_bytes())));
        }
        text.push_str("\ntorn line without a tab");
        std::fs::write(&bucket, text).expect("rewritten");
        // A foreign entry: a key that is not the hash of its content.
        files::write_entry(root, "not-our-key", b"4", 9).expect("written");
        let huge = key_of(b"5");
        let json = format!(
            r#"{{"key":"{huge}","integrity":"{}","time":9,"size":18446744073709551615}}"#,
            files::sha256_integrity(b"5").expect("hash")
        );
        std::fs::create_dir_all(files::bucket_path(root, &huge).parent().expect("parent"))
            .expect("dirs");
        std::fs::write(
            files::bucket_path(root, &huge),
            format!("\n{:x}\t{json}", Sha256::digest(json.as_bytes())),
        )
        .expect("planted");

        let (loaded, skipped) = read_all(root, 1024 * 1024);
        let keys: Vec<&str> = loaded.iter().map(|(key, _)| key.as_str()).collect();
        assert_eq!(keys, [kept.as_str()]);
        assert_eq!(loaded[0].1.written_at_ms, 5);
        assert_eq!(skipped, 1, "the torn line");
    }
}
