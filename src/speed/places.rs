//! Timing the places on this machine that can hand over the value: the
//! process's memory, a file in the page cache, a file just dropped from it,
//! and computing it again. Each timing ends with the value's bytes in hand,
//! so every place does the same job. All of it blocks: run it on the
//! blocking pool.

use std::fs::File;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use cached::stores::LruCache;
use cached::Cached;
use serde::Serialize;

use super::page_cache_eviction::{self, Residency};
use super::value;

/// The timings of one place, or why there are none.
pub type Timings = Result<Vec<Duration>, String>;

/// What the page cache held before each read of the measured file.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, Default)]
pub struct ResidencyTally {
    /// Pages the file spans.
    pub pages_in_file: usize,
    /// Reads preceded by a check.
    pub runs_checked: usize,
    /// Reads before which none of the file was in RAM.
    pub runs_with_no_page_resident: usize,
    /// Reads before which all of it was.
    pub runs_with_every_page_resident: usize,
    /// Why some checks could not be made (the first reason).
    pub check_failed: Option<String>,
}

impl ResidencyTally {
    fn note(&mut self, seen: std::io::Result<Residency>) {
        match seen {
            Ok(seen) => {
                self.pages_in_file = seen.total_pages;
                self.runs_checked += 1;
                if seen.resident_pages == 0 {
                    self.runs_with_no_page_resident += 1;
                }
                if seen.resident_pages == seen.total_pages {
                    self.runs_with_every_page_resident += 1;
                }
            }
            Err(error) => {
                self.check_failed.get_or_insert_with(|| error.to_string());
            }
        }
    }
}

/// Timings of a file read, with what the page cache held before each.
#[derive(Debug)]
pub struct FileReads {
    pub timings: Timings,
    pub residency: ResidencyTally,
}

/// Everything measured on this machine, without the network.
#[derive(Debug)]
pub struct LocalTimings {
    pub memory: Timings,
    pub disk_page_cache: FileReads,
    /// `None` where pages cannot be dropped (not Linux).
    pub disk_evicted: Option<FileReads>,
    pub compute: Timings,
}

/// Times each local place `runs` times, serving `value`, with the file
/// written in `dir` (created if needed, and the file removed afterwards).
pub fn measure_locally(value: &[u8], runs: usize, dir: &Path) -> LocalTimings {
    let memory = memory_reads(value, runs);
    let (disk_page_cache, disk_evicted) = match MeasuredFile::write(dir, value) {
        Ok(file) => {
            let warm = file.reads(value, runs, Before::WarmRead);
            let evicted =
                page_cache_eviction::available().then(|| file.reads(value, runs, Before::Drop));
            (warm, evicted)
        }
        Err(error) => {
            let failed = || FileReads {
                timings: Err(error.clone()),
                residency: ResidencyTally::default(),
            };
            (failed(), page_cache_eviction::available().then(failed))
        }
    };
    LocalTimings {
        memory,
        disk_page_cache,
        disk_evicted,
        compute: computations(value, runs),
    }
}

/// A lookup in the same store the memory tier uses (`cached`'s LruCache
/// behind a mutex), and a copy of the bytes out of it.
fn memory_reads(value: &[u8], runs: usize) -> Timings {
    let mut store = LruCache::new(16);
    store.cache_set(value::FACTORIAL_OF, value.to_vec());
    let store = Mutex::new(store);
    let mut timings = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        let bytes = store
            .lock()
            .map_err(|_| "the store's lock was poisoned".to_owned())?
            .cache_get(&value::FACTORIAL_OF)
            .cloned();
        timings.push(started.elapsed());
        check(black_box(bytes).as_deref(), value)?;
    }
    Ok(timings)
}

fn computations(value: &[u8], runs: usize) -> Timings {
    let mut timings = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        let bytes = value::compute(black_box(value::FACTORIAL_OF));
        timings.push(started.elapsed());
        check(Some(&black_box(bytes)), value)?;
    }
    Ok(timings)
}

/// Every place must have handed over the very same bytes.
fn check(got: Option<&[u8]>, value: &[u8]) -> Result<(), String> {
    match got {
        Some(bytes) if bytes == value => Ok(()),
        Some(_) => Err("a read returned different bytes".into()),
        None => Err("the value was not there".into()),
    }
}

/// What happens, untimed, before each timed read of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Before {
    /// Nothing: one read before the first leaves it in the page cache.
    WarmRead,
    /// Its pages are dropped from the page cache.
    Drop,
}

/// The file the disk rows read, removed when dropped.
struct MeasuredFile {
    path: PathBuf,
    dir: PathBuf,
}

impl MeasuredFile {
    fn write(dir: &Path, value: &[u8]) -> Result<Self, String> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        std::fs::create_dir_all(dir)
            .map_err(|error| format!("could not create {}: {error}", dir.display()))?;
        // Unique per process and per run, so instances sharing a directory
        // never read each other's file.
        let name = format!(
            "value-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let measured = Self {
            path: dir.join(name),
            dir: dir.to_path_buf(),
        };
        std::fs::write(&measured.path, value)
            .map_err(|error| format!("could not write {}: {error}", measured.path.display()))?;
        Ok(measured)
    }

    fn reads(&self, value: &[u8], runs: usize, before: Before) -> FileReads {
        let mut residency = ResidencyTally::default();
        let timings = self.timed_reads(value, runs, before, &mut residency);
        FileReads { timings, residency }
    }

    fn timed_reads(
        &self,
        value: &[u8],
        runs: usize,
        before: Before,
        residency: &mut ResidencyTally,
    ) -> Timings {
        let describe = |error: std::io::Error| format!("{}: {error}", self.path.display());
        // Held open to drop and check the pages; each timed read opens the
        // file afresh, as a cache reading an entry does.
        let file = File::open(&self.path).map_err(describe)?;
        check(Some(&std::fs::read(&self.path).map_err(describe)?), value)?;
        let mut timings = Vec::with_capacity(runs);
        for _ in 0..runs {
            if before == Before::Drop {
                page_cache_eviction::drop_from_page_cache(&file).map_err(describe)?;
            }
            residency.note(page_cache_eviction::residency(&file, value.len()));
            let started = Instant::now();
            let bytes = std::fs::read(&self.path);
            timings.push(started.elapsed());
            check(Some(&black_box(bytes.map_err(describe)?)), value)?;
        }
        Ok(timings)
    }
}

impl Drop for MeasuredFile {
    fn drop(&mut self) {
        if let Err(error) = std::fs::remove_file(&self.path) {
            log::warn!("speed: could not remove {}: {error}", self.path.display());
        }
        // Fails while another run's file is still there, which is fine:
        // that run removes the directory when it ends.
        let _ = std::fs::remove_dir(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_place_serves_the_value_and_the_file_is_removed() {
        let dir = tempfile::tempdir_in(env!("CARGO_MANIFEST_DIR")).expect("temp dir");
        let speed_dir = dir.path().join("speed");
        let value = value::compute(value::FACTORIAL_OF);
        let timings = measure_locally(&value, 5, &speed_dir);
        assert_eq!(timings.memory.expect("memory").len(), 5);
        assert_eq!(timings.compute.expect("compute").len(), 5);
        let warm = timings.disk_page_cache;
        assert_eq!(warm.timings.expect("page cache").len(), 5);
        assert_eq!(warm.residency.runs_checked, 5);
        assert_eq!(warm.residency.runs_with_every_page_resident, 5);
        if let Some(evicted) = timings.disk_evicted {
            assert_eq!(evicted.timings.expect("evicted").len(), 5);
            assert_eq!(evicted.residency.runs_checked, 5);
        }
        assert!(
            !speed_dir.exists(),
            "the measured file and its folder are gone"
        );
    }
}
