//! The experiments a learner runs, whichever way they run them.
//!
//! The JSON API and the HTML pages both come through here, so a request from
//! curl and a form sent from a browser are timed, recorded and counted alike.

use std::time::{Duration, Instant};

use crate::canonical::{CanonicalJson, FactorialInput};
use crate::config::Config;
use crate::disk::{DiskAnswer, DiskCache};
use crate::history::{RequestHistory, Tier};
use crate::memory::{FactorialAnswer, FactorialCache};

/// How many recent requests the timing chart remembers.
const HISTORY_CAPACITY: usize = 200;

/// An answer and the server time it took.
pub struct Timed<T> {
    pub answer: T,
    pub elapsed: Duration,
}

/// Both cache tiers and the record of what was asked of them.
pub struct Lab {
    config: Config,
    memory: FactorialCache,
    disk: DiskCache,
    history: RequestHistory,
}

/// What a clear removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Cleared {
    pub memory_entries_removed: usize,
    pub disk_entries_removed: usize,
}

impl Lab {
    /// Builds both tiers from checked settings (see [`Config::validate`]).
    pub fn new(config: Config) -> Self {
        let memory = FactorialCache::new(
            config.memory_capacity,
            config.factorial_delay_per_step(),
            config.factorial_delay_max(),
        );
        let disk = DiskCache::open(&config.cache_dir, config.disk_ttl(), config.data_delay());
        Self {
            config,
            memory,
            disk,
            history: RequestHistory::new(HISTORY_CAPACITY),
        }
    }

    pub async fn factorial(&self, n: FactorialInput) -> Timed<FactorialAnswer> {
        let started = Instant::now();
        let answer = self.memory.factorial(n.get()).await;
        let elapsed = started.elapsed();
        self.history.record(
            Tier::Memory,
            answer.lookup.is_hit(),
            elapsed,
            format!("{}!", n.get()),
        );
        Timed { answer, elapsed }
    }

    pub async fn data(&self, body: &CanonicalJson) -> Timed<DiskAnswer> {
        let started = Instant::now();
        let answer = self.disk.get_or_compute(body).await;
        let elapsed = started.elapsed();
        self.history.record(
            Tier::Disk,
            answer.lookup.is_hit(),
            elapsed,
            answer.key.chars().take(12).collect(),
        );
        Timed { answer, elapsed }
    }

    pub fn clear_memory(&self) -> usize {
        self.memory.clear()
    }

    pub async fn clear_disk(&self) -> usize {
        self.disk.clear().await
    }

    pub async fn clear_all(&self) -> Cleared {
        Cleared {
            memory_entries_removed: self.clear_memory(),
            disk_entries_removed: self.clear_disk().await,
        }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn memory(&self) -> &FactorialCache {
        &self.memory
    }

    pub fn disk(&self) -> &DiskCache {
        &self.disk
    }

    pub fn history(&self) -> &RequestHistory {
        &self.history
    }
}
