//! The files behind the disk tier: where cacache keeps an entry, what those
//! files really occupy, and removing them in an order that a reader in
//! another process never mistakes for damage.
//!
//! cacache 13 keeps each entry as two files, each in directories of its own:
//! an index bucket `index-v5/<sha1(key)[0..2]>/<[2..4]>/<[4..]>` (one JSON
//! line per write of that key) and the content
//! `content-v2/sha256/<hex[0..2]>/<[2..4]>/<[4..]>`. Every file and every
//! directory occupies at least one file-system block, so a 20-byte body
//! costs 8 KiB or more on disk. The size bound counts what the file system
//! allocates (`st_blocks`), the same figure `du` reports.

use std::collections::HashSet;
use std::io::{ErrorKind, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use cacache::Integrity;
use sha1::Sha1;
use sha2::Digest;

/// The directories cacache writes into, relative to `cache_dir`.
pub(super) const INDEX_DIR: &str = "index-v5";
pub(super) const CONTENT_DIR: &str = "content-v2";
pub(super) const TEMP_DIR: &str = "tmp";

/// Where cacache keeps the index bucket for `key`.
pub(super) fn bucket_path(dir: &Path, key: &str) -> PathBuf {
    let hashed = format!("{:x}", Sha1::digest(key.as_bytes()));
    dir.join(INDEX_DIR)
        .join(&hashed[0..2])
        .join(&hashed[2..4])
        .join(&hashed[4..])
}

/// Where cacache keeps the content for `integrity`.
pub(super) fn content_path(dir: &Path, integrity: &Integrity) -> PathBuf {
    let (algorithm, hex) = integrity.to_hex();
    dir.join(CONTENT_DIR)
        .join(algorithm.to_string())
        .join(&hex[0..2])
        .join(&hex[2..4])
        .join(&hex[4..])
}

/// Bytes the file system allocated for `path` (what `du` counts), 0 if it
/// does not exist.
pub(super) fn allocated(path: &Path) -> u64 {
    std::fs::symlink_metadata(path).map_or(0, |meta| meta.blocks() * 512)
}

/// Creates the missing directories between `root` and `path`'s parent and
/// returns the bytes they occupy. Creating them ourselves (cacache would
/// too) is how the size bound learns that a write added a directory.
pub(super) fn create_parent_dirs(root: &Path, path: &Path) -> std::io::Result<u64> {
    let Some(parent) = path.parent() else {
        return Ok(0);
    };
    let Ok(below_root) = parent.strip_prefix(root) else {
        return Ok(0);
    };
    let mut added = 0;
    let mut current = root.to_path_buf();
    for part in below_root.components() {
        current.push(part);
        match std::fs::create_dir(&current) {
            Ok(()) => added += allocated(&current),
            Err(error) if error.kind() == ErrorKind::AlreadyExists => {}
            Err(error) => return Err(error),
        }
    }
    Ok(added)
}

/// Removes `path`'s parent directories up to (not including) `root` while
/// they are empty, and returns the bytes freed. A directory that still holds
/// something stops the walk: `rmdir` refuses it, which makes this safe to
/// race with nothing but itself.
pub(super) fn remove_empty_parents(root: &Path, path: &Path) -> u64 {
    let mut freed = 0;
    let mut current = path.parent();
    while let Some(dir) = current {
        if dir == root || !dir.starts_with(root) {
            break;
        }
        let size = allocated(dir);
        if std::fs::remove_dir(dir).is_err() {
            break;
        }
        freed += size;
        current = dir.parent();
    }
    freed
}

/// What one entry's files occupy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct EntryFiles {
    /// Allocated bytes of the index bucket and the content file.
    pub allocated: u64,
    /// Length of the content file, if there is one.
    pub content_len: Option<u64>,
}

/// The index bucket and content of one entry as they are now.
pub(super) fn entry_files(dir: &Path, key: &str, integrity: &Integrity) -> EntryFiles {
    let content = content_path(dir, integrity);
    let content_meta = std::fs::symlink_metadata(&content)
        .ok()
        .filter(std::fs::Metadata::is_file);
    EntryFiles {
        allocated: allocated(&bucket_path(dir, key))
            + content_meta.as_ref().map_or(0, |meta| meta.blocks() * 512),
        content_len: content_meta.map(|meta| meta.len()),
    }
}

/// Writes `body` under `key` through cacache (content first, then the index
/// line that points to it), stamped `written_at_ms`. A directory squatting
/// where the content file belongs is removed first: otherwise every rewrite
/// of that entry would fail the same way.
pub(super) fn write_entry(
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

/// Removes a directory found where a content file belongs. Returns whether
/// there was one.
pub(super) fn remove_directory_squatting(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|meta| meta.is_dir())
        && std::fs::remove_dir_all(path).is_ok()
}

/// Removes an entry's files and returns the bytes freed, directories
/// included. The order matters to readers in other processes, which take no
/// lock: first a deletion line in the index, so that a reader who then finds
/// the content gone also finds the entry gone and counts a plain miss; then
/// the content; then the bucket itself and any directory left empty.
pub(super) fn remove_entry(dir: &Path, key: &str, integrity: &Integrity) -> Result<u64, String> {
    let bucket = bucket_path(dir, key);
    let content = content_path(dir, integrity);
    // Measured before the deletion line makes the bucket longer: the bound
    // counted the bucket as it was written.
    let bucket_size = allocated(&bucket);
    if bucket_size > 0 {
        cacache::index::delete(dir, key).map_err(|error| one_line(&error.to_string()))?;
    }
    let mut freed = remove_file_counted(&content)?;
    freed += remove_empty_parents(dir, &content);
    if remove_file_counted(&bucket)? > 0 {
        freed += bucket_size;
    }
    freed += remove_empty_parents(dir, &bucket);
    Ok(freed)
}

fn remove_file_counted(path: &Path) -> Result<u64, String> {
    let size = allocated(path);
    let removed = match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => std::fs::remove_dir_all(path),
        _ => std::fs::remove_file(path),
    };
    match removed {
        Ok(()) => Ok(size),
        Err(error) if error.kind() == ErrorKind::NotFound => Ok(0),
        Err(error) => Err(format!("removing {}: {error}", path.display())),
    }
}

/// What a walk of the whole cache directory found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Measured {
    /// Allocated bytes of every file and directory, the directory itself
    /// included: what `du -s` reports.
    pub bytes_on_disk: u64,
    /// Content files, one per entry.
    pub entries: u64,
    /// Their summed length.
    pub content_bytes: u64,
}

/// Walks `dir` and measures it. Used when no footprint has been recorded
/// yet (a directory written by an older version, or one whose record was
/// lost), so it may be slow; it runs off the request path.
pub(super) fn measure(dir: &Path) -> Measured {
    let mut measured = Measured {
        bytes_on_disk: allocated(dir),
        ..Measured::default()
    };
    let content_root = dir.join(CONTENT_DIR);
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&current) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(meta) = entry.metadata() else {
                continue;
            };
            measured.bytes_on_disk += meta.blocks() * 512;
            let path = entry.path();
            if meta.is_dir() {
                pending.push(path);
            } else if path.starts_with(&content_root) {
                measured.entries += 1;
                measured.content_bytes += meta.len();
            }
        }
    }
    measured
}

/// Temporary files of writes that never finished (a crash, a full disk).
/// Only called while holding the directory's change lock, so no write in
/// any process is using them.
pub(super) fn remove_temp_files(dir: &Path) -> (usize, u64) {
    let Ok(entries) = std::fs::read_dir(dir.join(TEMP_DIR)) else {
        return (0, 0);
    };
    let mut removed = 0;
    let mut freed = 0;
    for entry in entries.flatten() {
        let size = allocated(&entry.path());
        if std::fs::remove_file(entry.path()).is_ok() {
            removed += 1;
            freed += size;
        }
    }
    (removed, freed)
}

/// What removing unreferenced content freed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Orphans {
    pub files: u64,
    pub content_bytes: u64,
    /// Allocated bytes freed, emptied directories included.
    pub freed: u64,
}

/// Whether the index holds an entry for the content named `hex`: every
/// entry of this app is stored under the hex of its own content's SHA-256,
/// so that is one lookup.
fn content_is_referenced(dir: &Path, hex: &str) -> bool {
    let Some(expected) = integrity_for_key(hex) else {
        return false;
    };
    cacache::index::find(dir, hex)
        .ok()
        .flatten()
        .is_some_and(|meta| meta.integrity == expected)
}

/// Content files (`content-v2/sha256/ab/cd/ef…`) that no index entry points
/// to. `known` holds the content hashes (hex) the caller already knows are
/// referenced, so only the rest are looked up. Reads only, and takes no
/// lock: at 50,000 entries the walk takes seconds on a cold disk, and
/// nothing may hold the change lock that long.
pub(super) fn orphan_candidates(dir: &Path, known: &HashSet<String>) -> Vec<(String, PathBuf)> {
    let root = dir.join(CONTENT_DIR).join("sha256");
    let mut candidates = Vec::new();
    for first in read_dir_paths(&root) {
        for second in read_dir_paths(&first) {
            for file in read_dir_paths(&second) {
                let hex: String = [&first, &second, &file]
                    .iter()
                    .filter_map(|path| path.file_name()?.to_str())
                    .collect();
                if !known.contains(&hex) && !content_is_referenced(dir, &hex) {
                    candidates.push((hex, file));
                }
            }
        }
    }
    candidates
}

/// Removes the candidates that are still unreferenced, and the directories
/// that leaves empty. Called while holding the change lock, so no write is
/// between its content and its index line: each is checked once more.
pub(super) fn remove_orphans(dir: &Path, candidates: &[(String, PathBuf)]) -> Orphans {
    let mut orphans = Orphans::default();
    for (hex, file) in candidates {
        if content_is_referenced(dir, hex) {
            continue;
        }
        let Ok(meta) = std::fs::symlink_metadata(file) else {
            continue;
        };
        if meta.is_file() && std::fs::remove_file(file).is_ok() {
            orphans.files += 1;
            orphans.content_bytes += meta.len();
            orphans.freed += meta.blocks() * 512 + remove_empty_parents(dir, file);
        }
    }
    orphans
}

fn read_dir_paths(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|entries| entries.flatten().map(|entry| entry.path()).collect())
        .unwrap_or_default()
}

/// Empties `dir` but for the files named in `keep`. cacache's own
/// `clear_sync` stops at the first plain file (a stray `.DS_Store`, say),
/// leaving entries behind that a restart would bring back; this removes
/// directories and files alike, and a missing directory is simply empty.
pub(super) fn clear_dir(dir: &Path, keep: &[&str]) -> std::io::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == ErrorKind::NotFound => return std::fs::create_dir_all(dir),
        Err(error) => return Err(error),
    };
    // The index goes first: a reader in another process that then finds
    // content gone also finds its entry gone, and counts a plain miss.
    let mut paths: Vec<PathBuf> = entries
        .flatten()
        .filter(|entry| !keep.iter().any(|name| entry.file_name() == *name))
        .map(|entry| entry.path())
        .collect();
    paths.sort_by_key(|path| !path.ends_with(INDEX_DIR));
    let mut first_error = None;
    for path in paths {
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

/// The integrity of the content stored under `key`: every key of this app
/// is the lowercase hex SHA-256 of its content. `None` for any other key.
pub(super) fn integrity_for_key(key: &str) -> Option<Integrity> {
    let is_sha256_hex = key.len() == 64
        && key
            .bytes()
            .all(|byte| matches!(byte, b'0'..=b'9' | b'a'..=b'f'));
    if !is_sha256_hex {
        return None;
    }
    Integrity::from_hex(key, cacache::Algorithm::Sha256).ok()
}

/// The integrity cacache gives content written with SHA-256.
pub(super) fn sha256_integrity(body: &[u8]) -> Option<Integrity> {
    Integrity::from_hex(
        format!("{:x}", sha2::Sha256::digest(body)),
        cacache::Algorithm::Sha256,
    )
    .ok()
}

pub(super) fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_paths_are_where_cacache_writes() {
        let dir = tempfile::tempdir().expect("temp dir");
        let integrity = write_entry(dir.path(), "some-key", b"{\"a\":1}", 1).expect("written");
        assert!(bucket_path(dir.path(), "some-key").is_file());
        assert!(content_path(dir.path(), &integrity).is_file());
    }

    #[test]
    fn removal_frees_what_was_created_and_leaves_no_empty_directory() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path();
        let before = measure(root).bytes_on_disk;
        let integrity = sha256_integrity(b"{}").expect("hash");
        let mut added = create_parent_dirs(root, &bucket_path(root, "k")).expect("dirs");
        added += create_parent_dirs(root, &content_path(root, &integrity)).expect("dirs");
        write_entry(root, "k", b"{}", 1).expect("written");
        let files = entry_files(root, "k", &integrity);
        assert_eq!(files.content_len, Some(2));
        let during = measure(root);
        // The temporary-file directory cacache makes on its first write.
        let temp = allocated(&root.join(TEMP_DIR));
        assert_eq!(
            during.bytes_on_disk,
            before + added + files.allocated + temp
        );
        assert_eq!((during.entries, during.content_bytes), (1, 2));
        let freed = remove_entry(root, "k", &integrity).expect("removed");
        assert_eq!(freed, added + files.allocated);
        assert_eq!(measure(root).bytes_on_disk, before + temp);
        assert!(cacache::index::find(root, "k").expect("readable").is_none());
    }
}
