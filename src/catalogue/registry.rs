//! One catalogue per learner, so that in a workshop room nobody's experiment
//! changes anybody else's: a learner who switches to write-through, clears
//! the cache or starts the market does it to their own catalogue only, and
//! the learner beside them still sees their stale answer.
//!
//! Requests that name no learner (curl without `X-Learner`) share one open
//! catalogue, which behaves as the app's single catalogue always did.
//!
//! Each learner's catalogue is kept in this instance's memory only. The
//! shared Redis tier carries none of it: behind a round-robin proxy over
//! several instances, a learner has one catalogue on each instance.

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use lru::LruCache;
use serde::Serialize;

use super::{Catalogue, CatalogueSettings};
use crate::clock::Clock;
use crate::workshop::LearnerName;

/// The open catalogue and each learner's own, at most `capacity` of those.
///
/// Past the capacity the least recently used learner's catalogue is
/// dropped (its market stops with it) to make room. That is acceptable
/// because a catalogue is a lesson's scratch state: prices, copies and
/// settings a learner made in a few minutes, rebuilt from the seed the
/// next time they come back. Their progress is not in it (the workshop
/// keeps their events and ticks), so an evicted learner loses a half-done
/// experiment at worst, never an exercise they have done. The bound is
/// what keeps a careless or hostile room (a script minting names) from
/// growing memory, or the number of market tasks, without limit: at most
/// one task per catalogue, and `capacity + 1` catalogues.
pub struct Catalogues {
    settings: CatalogueSettings,
    clock: Clock,
    open: Catalogue,
    by_learner: Mutex<LruCache<LearnerName, Catalogue>>,
    evicted: AtomicU64,
}

/// How many learners' catalogues this instance keeps, of how many it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CataloguesCount {
    pub learners: usize,
    pub capacity: usize,
    /// Learners' catalogues dropped to make room since the app started.
    pub evicted: u64,
}

impl Catalogues {
    pub fn new(settings: CatalogueSettings, clock: Clock, capacity: NonZeroUsize) -> Self {
        Self {
            open: Catalogue::new(settings.clone(), clock.clone()),
            settings,
            clock,
            by_learner: Mutex::new(LruCache::new(capacity)),
            evicted: AtomicU64::new(0),
        }
    }

    /// The catalogue shared by every request that names no learner.
    pub fn open(&self) -> &Catalogue {
        &self.open
    }

    /// `learner`'s own catalogue (made from the seed on their first
    /// request, or after it was evicted), or the open one for `None`.
    /// Counts as a use: the least recently used is the one evicted.
    pub fn of(&self, learner: Option<&LearnerName>) -> Catalogue {
        let Some(learner) = learner else {
            return self.open.clone();
        };
        let (catalogue, evicted) = {
            let mut by_learner = self.lock();
            if let Some(catalogue) = by_learner.get(learner) {
                return catalogue.clone();
            }
            let catalogue = self.fresh();
            let evicted = by_learner.push(learner.clone(), catalogue.clone());
            (catalogue, evicted)
        };
        if let Some((_, dropped)) = evicted {
            self.evicted.fetch_add(1, Ordering::Relaxed);
            // Stopped here, not only when its last clone goes: a request
            // still holding it must not keep its market running.
            dropped.set_market(false);
        }
        catalogue
    }

    /// A catalogue fresh from the seed that nobody keeps: what a learner
    /// who has not changed anything yet would see. For a browser's first
    /// visit, which may never come back (a link preview, a crawler), so
    /// that it takes no room from the learners.
    pub fn fresh(&self) -> Catalogue {
        Catalogue::new(self.settings.clone(), self.clock.clone())
    }

    pub fn count(&self) -> CataloguesCount {
        let by_learner = self.lock();
        CataloguesCount {
            learners: by_learner.len(),
            capacity: by_learner.cap().get(),
            evicted: self.evicted.load(Ordering::Relaxed),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LruCache<LearnerName, Catalogue>> {
        self.by_learner
            .lock()
            .expect("learners' catalogues lock poisoned")
    }
}
