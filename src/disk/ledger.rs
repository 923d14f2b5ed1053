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
use std::io::{ErrorKind, Read, Write};
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
    /// The record's footprint and whether it was left mid-change.
    fn parse(text: &str) -> Option<(Self, State)> {
        let mut words = text.split_whitespace();
        if words.next()? != FORMAT {
            return None;
        }
        let mut number = || words.next()?.parse::<u64>().ok();
        let footprint = Self {
            bytes_on_disk: number()?,
            entries: number()?,
            content_bytes: number()?,
            generation: number()?,
        };
        let state = match words.next()? {
            "clean" => State::Clean,
            "changing" => State::Changing,
            _ => return None,
        };
        Some((footprint, state))
    }

    fn render(&self, state: State) -> String {
        let state = match state {
            State::Clean => "clean",
            State::Changing => "changing",
        };
        format!(
            "{FORMAT} {} {} {} {} {state}\n",
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

/// Whether the record was written after a change finished, or before one
/// began. A record still marked `Changing` when the next process takes the
/// lock means its writer died half-way (killed, out of memory): its files
/// and its numbers may disagree, so the directory is measured afresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Clean,
    Changing,
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
    /// is none yet or it cannot be read.
    pub(super) fn read(&self) -> Option<Footprint> {
        self.read_record()
            .ok()
            .flatten()
            .map(|(footprint, _)| footprint)
    }

    /// The record, `None` if there is none or it is not in our format; an
    /// error only if reading it failed for another reason (no file
    /// descriptors left, say), which must not pass for a missing record.
    fn read_record(&self) -> std::io::Result<Option<(Footprint, State)>> {
        let mut text = String::new();
        match File::open(self.dir.join(FOOTPRINT_FILE)) {
            Ok(mut file) => {
                file.read_to_string(&mut text)?;
                Ok(Footprint::parse(&text))
            }
            Err(error) if error.kind() == ErrorKind::NotFound => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Runs `change` while holding the directory's change lock, with the
    /// footprint as recorded (measured afresh if there is no usable record),
    /// and records what `change` leaves in it. Blocks until the lock is free:
    /// call it from a blocking thread.
    pub(super) fn change<R>(&self, change: impl FnOnce(&mut Footprint) -> R) -> std::io::Result<R> {
        std::fs::create_dir_all(&self.dir)?;
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.dir.join(LOCK_FILE))?;
        lock.lock()?;
        let mut footprint = match self.read_record()? {
            Some((footprint, State::Clean)) => footprint,
            Some((left, State::Changing)) => self.measure(left.generation),
            None => {
                // The walk could not count a record that did not exist yet:
                // write it, then add what it occupies.
                let mut footprint = self.measure(0);
                self.record(&footprint, State::Changing)?;
                footprint.grow(files::allocated(&self.dir.join(FOOTPRINT_FILE)));
                footprint
            }
        };
        self.record(&footprint, State::Changing)?;
        let result = change(&mut footprint);
        if let Err(error) = self.record(&footprint, State::Clean) {
            // Better no record (the next change measures) than a wrong one.
            let _ = std::fs::remove_file(self.dir.join(FOOTPRINT_FILE));
            return Err(error);
        }
        // Closing the file releases the lock; said out loud for the reader.
        drop(lock);
        Ok(result)
    }

    /// Measures the directory afresh (a record file already there is counted
    /// like any other file).
    fn measure(&self, generation: u64) -> Footprint {
        let measured = files::measure(&self.dir);
        Footprint {
            bytes_on_disk: measured.bytes_on_disk,
            entries: measured.entries,
            content_bytes: measured.content_bytes,
            generation,
        }
    }

    fn record(&self, footprint: &Footprint, state: State) -> std::io::Result<()> {
        let temp = self.dir.join(FOOTPRINT_TEMP_FILE);
        let mut file = File::create(&temp)?;
        file.write_all(footprint.render(state).as_bytes())?;
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
        assert_eq!(
            Footprint::parse(&footprint.render(State::Clean)),
            Some((footprint, State::Clean))
        );
        assert_eq!(
            Footprint::parse(&footprint.render(State::Changing)),
            Some((footprint, State::Changing))
        );
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

    #[test]
    fn a_change_that_died_half_way_is_measured_again_keeping_the_generation() {
        let dir = tempfile::tempdir().expect("temp dir");
        let shared = SharedDir::new(dir.path());
        shared
            .change(|footprint| footprint.generation = 3)
            .expect("changed");
        let on_disk = files::measure(dir.path()).bytes_on_disk;
        // What a writer killed inside its change leaves: a record marked as
        // changing, whose numbers were never brought up to date.
        let stale = Footprint {
            bytes_on_disk: 1,
            entries: 99,
            content_bytes: 99,
            generation: 3,
        };
        shared.record(&stale, State::Changing).expect("recorded");
        let seen = shared.change(|footprint| *footprint).expect("changed");
        assert_eq!(seen.bytes_on_disk, on_disk);
        assert_eq!((seen.entries, seen.generation), (0, 3));
    }
}
