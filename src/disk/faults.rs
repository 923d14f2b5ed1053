//! Cache faults: counted every time, logged once per cause.
//!
//! A full disk or a damaged file tends to fail every request that touches
//! it. Each of those requests still gets its answer (a fault is a miss, or
//! an answer that is not stored), and each is counted in `/stats`, but the
//! log says so once per cause rather than once per request. For writes and
//! removals, which can be seen to work again, the log says that too, and a
//! later fault of that kind is logged afresh.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// What went wrong, as far as deciding whether it was already logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Fault {
    /// Content that failed its integrity check or could not be read.
    UnreadableContent,
    /// A write of a new entry.
    Write,
    /// Removing an entry's files (eviction, expiry, a sweep).
    Removal,
    /// Emptying the directory.
    Clear,
    /// Taking the directory's change lock or keeping its footprint record.
    SharedRecord,
}

impl Fault {
    fn describe(self) -> &'static str {
        match self {
            Self::UnreadableContent => "disk content unreadable (served as a miss and rewritten)",
            Self::Write => "disk write failed (answers are served unstored)",
            Self::Removal => "disk removal failed (files stay until a later sweep)",
            Self::Clear => "disk clear incomplete",
            Self::SharedRecord => {
                "disk footprint record unavailable (nothing is stored until it works)"
            }
        }
    }
}

/// Fault counts and which causes have been logged.
#[derive(Debug, Default)]
pub(super) struct FaultLog {
    count: AtomicU64,
    reported: Mutex<HashSet<Fault>>,
}

impl FaultLog {
    /// Counts `how_many` faults of one cause, logging the first since the
    /// cause last cleared up.
    pub(super) fn record(&self, fault: Fault, how_many: u64, detail: &str) {
        self.count.fetch_add(how_many, Ordering::Relaxed);
        if self.reported().insert(fault) {
            log::warn!(
                "{}: {detail} (logged once; further faults of this kind are only counted in \
                 /stats errors until it works again)",
                fault.describe()
            );
        }
    }

    /// Notes that an operation of this kind worked, so the next fault of
    /// that kind is logged again.
    pub(super) fn cleared(&self, fault: Fault) {
        // Cheap when nothing was reported, which is nearly always.
        let mut reported = self.reported();
        if !reported.is_empty() && reported.remove(&fault) {
            log::info!("{} no longer: it works again", fault.describe());
        }
    }

    pub(super) fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    fn reported(&self) -> std::sync::MutexGuard<'_, HashSet<Fault>> {
        self.reported
            .lock()
            .expect("the fault log's lock is never held across a panic")
    }
}
