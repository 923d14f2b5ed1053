//! The speed table: the same value read from each place that can hold it,
//! many times, on this machine, summarised as a median and a 99th
//! percentile.
//!
//! The places are the process's memory, a file the kernel holds in its page
//! cache, the same file after its pages were dropped, Redis (when the shared
//! tier is up) and computing the value again. The browser's own cache can
//! only be timed by the browser, so the page does that part itself.
//!
//! One measurement runs at a time: two at once would share the machine's
//! cores and disk and each would time the other.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use serde::Serialize;

mod page_cache_eviction;
mod places;
mod redis_read;
mod stats;
mod value;

pub use page_cache_eviction::Residency;
pub use places::ResidencyTally;
pub use redis_read::RedisTarget;
pub use stats::Summary;
pub use value::FACTORIAL_OF;

/// How many times each place is timed unless asked otherwise.
pub const DEFAULT_RUNS: usize = 200;
/// The fewest runs that still give a 99th percentile worth reading.
pub const MIN_RUNS: usize = 100;
/// The most: recomputing 1000! that often stays near a second even in a
/// debug build.
pub const MAX_RUNS: usize = 1000;

/// How many times to time each place, within [`MIN_RUNS`]..=[`MAX_RUNS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Runs(usize);

impl Runs {
    /// `runs` if it is within the bounds.
    pub fn parse(runs: u64) -> Result<Self, String> {
        usize::try_from(runs)
            .ok()
            .filter(|runs| (MIN_RUNS..=MAX_RUNS).contains(runs))
            .map(Self)
            .ok_or_else(|| format!("runs must be from {MIN_RUNS} to {MAX_RUNS}, not {runs}"))
    }

    pub fn get(self) -> usize {
        self.0
    }
}

impl Default for Runs {
    fn default() -> Self {
        Self(DEFAULT_RUNS)
    }
}

/// The shared tier as a measurement finds it.
#[derive(Debug, Clone)]
pub enum RedisPlace {
    /// No `redis_url`.
    Off,
    /// Configured but not answering now.
    Down,
    Up(RedisTarget),
}

/// Where one measurement reads from.
#[derive(Debug, Clone)]
pub struct Places {
    /// The folder for the measured file (see `Config::speed_dir`).
    pub dir: PathBuf,
    pub redis: RedisPlace,
}

/// A place the value was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Place {
    Memory,
    /// A file whose bytes are in the page cache.
    DiskPageCache,
    /// The same file, its pages dropped before each read.
    DiskEvicted,
    Redis,
    /// Computing the value again.
    Compute,
}

/// One place's row.
#[derive(Debug, Clone, Serialize)]
pub struct PlaceTiming {
    pub place: Place,
    /// `None` when it could not be measured; `problem` says why.
    #[serde(flatten)]
    pub summary: Option<Summary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
    /// For the two file rows: what the page cache held before each read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub residency: Option<ResidencyTally>,
}

impl PlaceTiming {
    fn of(place: Place, timings: places::Timings, residency: Option<ResidencyTally>) -> Self {
        let (summary, problem) = match timings {
            Ok(timings) => (Summary::of(&timings), None),
            Err(problem) => (None, Some(problem)),
        };
        Self {
            place,
            summary,
            problem,
            residency,
        }
    }
}

/// How the file's pages were dropped, and whether it worked.
#[derive(Debug, Clone, Serialize)]
pub struct Eviction {
    /// Whether this system can drop a file's pages at all.
    pub available: bool,
    /// How, in words.
    pub method: &'static str,
    /// Every checked read found none of the file in RAM.
    pub worked: bool,
}

/// What the shared tier's row is, when there is none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RedisState {
    Off,
    Down,
    Measured,
    /// Up, but the measurement failed (its row says why).
    Failed,
}

/// One measurement of every place.
#[derive(Debug, Clone, Serialize)]
pub struct SpeedReport {
    /// The value is n! in decimal, for this n.
    pub factorial_of: u64,
    pub value_bytes: usize,
    pub runs_asked: usize,
    /// Fastest place first is not promised: memory, the two file rows,
    /// Redis when measured, then computing.
    pub places: Vec<PlaceTiming>,
    pub eviction: Eviction,
    pub redis: RedisState,
    /// When it was measured (Unix milliseconds).
    pub measured_at_ms: u64,
}

impl SpeedReport {
    /// The row for `place`, if it was measured.
    pub fn place(&self, place: Place) -> Option<&PlaceTiming> {
        self.places.iter().find(|row| row.place == place)
    }
}

/// Another measurement is running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy;

/// Runs measurements one at a time and keeps the latest.
#[derive(Default)]
pub struct SpeedLab {
    running: AtomicBool,
    latest: Mutex<Option<Arc<SpeedReport>>>,
    value: OnceLock<Arc<[u8]>>,
}

/// Clears the running flag however the measurement ends.
struct Running<'a>(&'a AtomicBool);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

impl SpeedLab {
    /// Measures every place `runs` times, unless a measurement is running
    /// already: then [`Busy`] at once, never a wait.
    pub async fn measure(&self, runs: Runs, places: Places) -> Result<Arc<SpeedReport>, Busy> {
        if self
            .running
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            return Err(Busy);
        }
        let _running = Running(&self.running);
        let report = Arc::new(measure(self.value(), runs, places).await);
        *self.latest.lock().expect("speed report lock poisoned") = Some(Arc::clone(&report));
        Ok(report)
    }

    /// The value every place serves: [`FACTORIAL_OF`]! in decimal,
    /// computed once.
    pub fn value(&self) -> Arc<[u8]> {
        Arc::clone(
            self.value
                .get_or_init(|| value::compute(FACTORIAL_OF).into()),
        )
    }

    /// The latest measurement, if any has run.
    pub fn latest(&self) -> Option<Arc<SpeedReport>> {
        self.latest
            .lock()
            .expect("speed report lock poisoned")
            .clone()
    }
}

async fn measure(value: Arc<[u8]>, runs: Runs, places: Places) -> SpeedReport {
    let runs = runs.get();
    let local = {
        let value = Arc::clone(&value);
        let dir = places.dir.clone();
        tokio::task::spawn_blocking(move || places::measure_locally(&value, runs, &dir))
            .await
            .map_err(|panic| format!("the measurement stopped: {panic}"))
    };
    let (redis, redis_row) = match &places.redis {
        RedisPlace::Off => (RedisState::Off, None),
        RedisPlace::Down => (RedisState::Down, None),
        RedisPlace::Up(target) => {
            let timings = redis_read::redis_reads(target, &value, runs).await;
            let state = if timings.is_ok() {
                RedisState::Measured
            } else {
                RedisState::Failed
            };
            (state, Some(PlaceTiming::of(Place::Redis, timings, None)))
        }
    };
    let mut rows = Vec::with_capacity(5);
    let mut worked = false;
    match local {
        Ok(local) => {
            rows.push(PlaceTiming::of(Place::Memory, local.memory, None));
            rows.push(PlaceTiming::of(
                Place::DiskPageCache,
                local.disk_page_cache.timings,
                Some(local.disk_page_cache.residency),
            ));
            if let Some(evicted) = local.disk_evicted {
                let tally = &evicted.residency;
                worked = evicted.timings.is_ok()
                    && tally.runs_checked == runs
                    && tally.runs_with_no_page_resident == runs;
                rows.push(PlaceTiming::of(
                    Place::DiskEvicted,
                    evicted.timings,
                    Some(evicted.residency),
                ));
            }
            rows.extend(redis_row);
            rows.push(PlaceTiming::of(Place::Compute, local.compute, None));
        }
        Err(problem) => {
            log::error!("speed: {problem}");
            for place in [Place::Memory, Place::DiskPageCache, Place::Compute] {
                rows.push(PlaceTiming::of(place, Err(problem.clone()), None));
            }
            rows.extend(redis_row);
        }
    }
    SpeedReport {
        factorial_of: FACTORIAL_OF,
        value_bytes: value.len(),
        runs_asked: runs,
        places: rows,
        eviction: Eviction {
            available: page_cache_eviction::available(),
            method: page_cache_eviction::METHOD,
            worked,
        },
        redis,
        measured_at_ms: crate::clock::system_now_ms(),
    }
}
