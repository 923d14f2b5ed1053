//! What the whole cache directory occupies, agreed on by every process that
//! uses it.
//!
//! Several cachelab processes may share one `cache_dir`, as the workers of
//! one app do. cacache's index is safe for that by itself: each write
//! appends one line to a bucket file, and readers skip lines that do not
//! check out. But cacache keeps no size, and a size bound for the directory
//! as a whole needs one running total that every process updates. So every
//! change to the directory (a write, an eviction, a sweep, a clear) happens
//! while holding an exclusive lock on `cache_dir/.lock` (`flock`, which the
//! kernel releases if the holder dies), and updates the footprint record in
//! `cache_dir/.footprint`. Reads take no lock: a hit never waits for
//! another process.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use super::files;

/// Files of ours inside `cache_dir`, kept when it is cleared.
pub(super) const LOCK_FILE: &str = ".lock";
pub(super) const FOOTPRINT_FILE: &str = ".footprint";
const FOOTPRINT_TEMP_FILE: &str = ".footprint.tmp";

/// The first word of the footprint record, so a file of another format is
/// measured afresh rather than misread.
const FORMAT: &str = "cachelab-footprint-v1";

/// The directory's totals, as the processes sharing it have recorded them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Footprint {
    /// What `du -s cache_dir` reports: every file and directory as the file
    /// system allocates it, in whole blocks.
    pub bytes_on_disk: u64,
    /// Stored entries, whichever process wrote them.
    pub entries: u64,
    /// The entries' content, byte for byte.
    pub content_bytes: u64,
    /// Counts clears, so a process can tell that its own list of entries is
    /// out of date because another one emptied the directory.
    pub generation: u64,
}

impl Footprint {
    fn parse(text: &str) -> Option<Self> {
        let mut words = text.split_whitespace();
        if words.next()? != FORMAT {
            return None;
        }
        let mut number = || words.next()?.parse::<u64>().ok();
        Some(Self {
            bytes_on_disk: number()?,
            entries: number()?,
            content_bytes: number()?,
            generation: number()?,
        })
    }

    fn render(&self) -> String {
        format!(
            "{FORMAT} {} {} {} {}\n",
            self.bytes_on_disk, self.entries, self.content_bytes, self.generation
        )
    }

    /// Adds `bytes` to what the directory occupies.
    pub(super) fn grow(&mut self, bytes: u64) {
        self.bytes_on_disk = self.bytes_on_disk.saturating_add(bytes);
    }

    /// Takes `bytes` from what the directory occupies.
    pub(super) fn shrink(&mut self, bytes: u64) {
        self.bytes_on_disk = self.bytes_on_disk.saturating_sub(bytes);
    }
}

/// A cache directory shared by any number of processes.
#[derive(Debug)]
pub(super) struct SharedDir {
    dir: PathBuf,
}

impl SharedDir {
    pub(super) fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
        }
    }

    /// The recorded footprint, read without the lock (the record is replaced
    /// whole by a rename, so it is never seen half-written). `None` if there
    /// is none yet.
    pub(super) fn read(&self) -> Option<Footprint> {
        let mut text = String::new();
        File::open(self.dir.join(FOOTPRINT_FILE))
            .ok()?
            .read_to_string(&mut text)
            .ok()?;
        Footprint::parse(&text)
    }

    /// Runs `change` while holding the directory's change lock, with the
    /// footprint as recorded (measured afresh if there is no record), and
    /// records what `change` leaves in it. Blocks until the lock is free:
    /// call it from a blocking thread.
    pub(super) fn change<R>(&self, change: impl FnOnce(&mut Footprint) -> R) -> std::io::Result<R> {
        std::fs::create_dir_all(&self.dir)?;
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.dir.join(LOCK_FILE))?;
        lock.lock()?;
        let mut footprint = match self.read() {
            Some(footprint) => footprint,
            None => self.measure(),
        };
        let result = change(&mut footprint);
        self.record(&footprint)?;
        // Closing the file releases the lock; said out loud for the reader.
        drop(lock);
        Ok(result)
    }

    /// Measures the directory afresh. A placeholder record is written
    /// first so that the measurement counts the record file itself.
    fn measure(&self) -> Footprint {
        if self.read().is_none() {
            let _ = self.record(&Footprint::default());
        }
        let measured = files::measure(&self.dir);
        Footprint {
            bytes_on_disk: measured.bytes_on_disk,
            entries: measured.entries,
            content_bytes: measured.content_bytes,
            generation: 0,
        }
    }

    fn record(&self, footprint: &Footprint) -> std::io::Result<()> {
        let temp = self.dir.join(FOOTPRINT_TEMP_FILE);
        let mut file = File::create(&temp)?;
        file.write_all(footprint.render().as_bytes())?;
        drop(file);
        std::fs::rename(&temp, self.dir.join(FOOTPRINT_FILE))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_record_survives_a_round_trip_and_refuses_other_formats() {
        let footprint = Footprint {
            bytes_on_disk: 123_456,
            entries: 7,
            content_bytes: 890,
            generation: 3,
        };
        assert_eq!(Footprint::parse(&footprint.render()), Some(footprint));
        assert_eq!(Footprint::parse("something else 1 2 3 4"), None);
        assert_eq!(Footprint::parse(""), None);
    }

    #[test]
    fn a_directory_without_a_record_is_measured_then_changes_are_recorded() {
        let dir = tempfile::tempdir().expect("temp dir");
        let shared = SharedDir::new(dir.path());
        assert_eq!(shared.read(), None);
        let first = shared.change(|footprint| *footprint).expect("changed");
        let on_disk = files::measure(dir.path()).bytes_on_disk;
        assert_eq!(first.bytes_on_disk, on_disk, "the record counts itself");
        shared
            .change(|footprint| footprint.grow(4096))
            .expect("changed");
        assert_eq!(
            shared.read().map(|footprint| footprint.bytes_on_disk),
            Some(on_disk + 4096)
        );
    }
}
