//! Where the memory tier keeps its steps, laid out so that a hit writes
//! nothing that another core's hit writes (see [`crate::striped`] for why
//! that matters).
//!
//! The same entries are held twice:
//!
//! - `readable`, papaya's concurrent map: a hit finds its n here without
//!   taking any lock, and a reader never waits for a writer;
//! - `lru`, cached's `LruCache` behind a mutex: the store of record, which
//!   keeps the recency order and decides what is evicted. Its eviction
//!   callback removes the entry from `readable` too, and every change to
//!   either happens under this one lock. So `readable` never holds what
//!   the store has dropped; the store may hold steps not yet readable,
//!   those a run of multiplications has stored and not yet made readable
//!   (see [`StepStore::insert_unpublished`]): a hit on one is a miss.
//!
//! A hit must still tell the LRU order that its entry was used, and moving
//! an entry to the front of a shared list is exactly the write two cores
//! must not share. So a hit only notes its key in its own thread's read
//! buffer; the notes are applied to the order later, in a batch, under the
//! lock: every thread's notes before a change (a single insert, a run's
//! first step and every [`STEPS_BETWEEN_NOTES`] steps of it, a listing of
//! the order); or one thread's own notes by a hit of that thread that
//! fills them while the lock is free (`try_lock`: it never waits, and it
//! leaves the other threads' buffers, other cores' lines, alone). If the
//! buffer is full and the lock busy, the note is dropped: that entry's
//! recency is not refreshed this once, and the answer is sent all the same
//! (`recency_notes_dropped` counts them).
//!
//! What this costs in exactness: notes are applied thread by thread, so
//! hits served by different worker threads between two changes may reach
//! the order in another sequence than they arrived, and a hit during a
//! long run of multiplications reaches the order up to
//! [`STEPS_BETWEEN_NOTES`] steps late; an entry may stand a few places off
//! where strict LRU would put it. Requests one at a time, as the eviction
//! lesson's steps are, see an exact LRU, and so does any run of hits on
//! one thread (the sizing replay runs its trace on a thread of its own for
//! that reason). This is the trade Caffeine and moka make (Ben Manes,
//! "Design of a Modern Cache", 2015; Ding et al., "BP-Wrapper", ICDE
//! 2009): an order very nearly LRU, for hits that scale with cores.

use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use cached::stores::LruCache;
use cached::{Cached, CachedIter, CachedPeek};

use super::{FactorialStep, StepHandle};
use crate::striped::{this_threads_stripe, UseNotes, STRIPES};

type Readable = papaya::HashMap<u64, ReadableStep>;

/// How many steps a run of multiplications stores between two applications
/// of the hits noted meanwhile.
pub(super) const STEPS_BETWEEN_NOTES: u64 = 64;

/// How many removed entries a thread lets pile up before they are freed.
/// papaya frees removed entries in batches (its collector's default is
/// 32); an evicted step may hold a large number and its digits, so they
/// are freed a few at a time here.
const REMOVED_BEFORE_FREEING: usize = 4;

/// A step as hits find it.
///
/// A hit hands the response a counted reference to the step, and a
/// reference count is a word every clone writes: shared by all cores, it
/// would be the one line their hits still fight over. So each thread's
/// stripe gets its own handle to the step, with its own count on its own
/// line, made the first time that thread hits this entry.
struct ReadableStep {
    step: Arc<FactorialStep>,
    handles: OnceLock<Box<[OnceLock<StepHandle>; STRIPES]>>,
}

impl ReadableStep {
    fn new(step: Arc<FactorialStep>) -> Self {
        Self {
            step,
            handles: OnceLock::new(),
        }
    }

    /// The calling thread's handle to the step.
    fn handle(&self) -> StepHandle {
        let handles = self
            .handles
            .get_or_init(|| Box::new(std::array::from_fn(|_| OnceLock::new())));
        handles[this_threads_stripe()]
            .get_or_init(|| StepHandle::new(Arc::clone(&self.step)))
            .clone()
    }
}

pub(super) struct StepStore {
    readable: Arc<Readable>,
    lru: Mutex<LruCache<u64, Arc<FactorialStep>>>,
    /// Keys hit since their recency was last applied, per thread.
    notes: UseNotes<u64>,
}

impl StepStore {
    /// `capacity` must be at least 1 (the config checks it).
    pub(super) fn new(capacity: usize) -> Self {
        let readable = Arc::new(
            Readable::builder()
                .collector(seize::Collector::new().batch_size(REMOVED_BEFORE_FREEING))
                .build(),
        );
        let evicted_from = Arc::clone(&readable);
        let lru = LruCache::builder()
            .max_size(capacity)
            .on_evict(move |n: &u64, _: &Arc<FactorialStep>| {
                evicted_from.pin().remove(n);
            })
            .build()
            .expect("a capacity of at least 1 builds an LRU store");
        Self {
            readable,
            lru: Mutex::new(lru),
            notes: UseNotes::default(),
        }
    }

    /// n!'s step if it is held: a hit. Takes no lock another hit waits for.
    pub(super) fn get(&self, n: u64) -> Option<StepHandle> {
        let step = self.readable.pin().get(&n).map(ReadableStep::handle)?;
        self.note_used(n);
        Some(step)
    }

    fn note_used(&self, n: u64) {
        self.notes.note(
            n,
            || self.lru.try_lock().ok(),
            |lru, n| Self::mark_used(&self.readable, lru, n),
        );
    }

    /// Applies one noted use. Only an entry that is readable now counts:
    /// one evicted since the note is gone, and one stored again meanwhile
    /// by a run that has not made it readable yet is not the entry the hit
    /// used. A get is the store's own way to mark an entry used (its hit
    /// counter moves too; the tier counts hits itself).
    fn mark_used(readable: &Readable, lru: &mut LruCache<u64, Arc<FactorialStep>>, n: u64) {
        if readable.pin().contains_key(&n) {
            lru.cache_get(&n);
        }
    }

    /// Moves every noted entry to the front of the order.
    fn apply_notes(&self, lru: &mut LruCache<u64, Arc<FactorialStep>>) {
        self.notes
            .apply_all(|n| Self::mark_used(&self.readable, lru, n));
    }

    fn lock(&self) -> MutexGuard<'_, LruCache<u64, Arc<FactorialStep>>> {
        self.lru.lock().expect("memory tier lock poisoned")
    }

    /// The store with every noted hit applied: what a change or a listing
    /// of the order must start from.
    fn lock_in_order(&self) -> MutexGuard<'_, LruCache<u64, Arc<FactorialStep>>> {
        let mut lru = self.lock();
        self.apply_notes(&mut lru);
        lru
    }

    /// Stores n!'s step as the most recently used, evicting the least
    /// recently used entry past the capacity.
    pub(super) fn insert(&self, n: u64, step: Arc<FactorialStep>) {
        let mut lru = self.lock_in_order();
        Self::insert_locked(&self.readable, &mut lru, n, step);
    }

    /// Stores one step of a run of multiplications in the order and the
    /// eviction, but does not make it readable yet: a run of 10000 steps
    /// through a tier of 100 entries evicts nearly every step it stores,
    /// and making each readable (papaya allocates and later reclaims a
    /// node for it) made such a miss half again as slow. The run ends with
    /// [`StepStore::publish`], which makes readable the steps still held.
    /// Meanwhile a step not yet readable is a miss for a hit, never a wrong
    /// answer. A step already held keeps its copy (the same value), only
    /// marked used, so that what hits read and what the store holds stay
    /// one and the same. `apply_notes` applies every thread's noted hits
    /// first: the caller asks for it at a run's first step and every
    /// [`STEPS_BETWEEN_NOTES`] steps after, so a long run neither waits on
    /// every thread's buffer per step nor leaves hits unapplied for long.
    pub(super) fn insert_unpublished(&self, n: u64, step: Arc<FactorialStep>, apply_notes: bool) {
        let mut lru = if apply_notes {
            self.lock_in_order()
        } else {
            self.lock()
        };
        if lru.cache_peek(&n).is_some() {
            lru.cache_get(&n);
        } else {
            lru.cache_set(n, step);
        }
    }

    /// Makes readable every step of `run` the store still holds (those
    /// already readable as the same step are left as they are, handles
    /// and all).
    pub(super) fn publish(&self, run: std::ops::RangeInclusive<u64>) {
        let lru = self.lock();
        let readable = self.readable.pin();
        // The store holds at most `capacity` entries: looking at each is
        // cheaper than looking up every number of a long run.
        for (n, step) in lru.iter().filter(|(n, _)| run.contains(*n)) {
            let current = readable.get(n).map(|readable| &readable.step);
            if !current.is_some_and(|current| Arc::ptr_eq(current, step)) {
                readable.insert(*n, ReadableStep::new(Arc::clone(step)));
            }
        }
    }

    fn insert_locked(
        readable: &Readable,
        lru: &mut LruCache<u64, Arc<FactorialStep>>,
        n: u64,
        step: Arc<FactorialStep>,
    ) {
        // The store first: it may evict (and its callback then removes the
        // evicted entry from `readable`); then the new entry becomes
        // readable.
        lru.cache_set(n, Arc::clone(&step));
        readable.pin().insert(n, ReadableStep::new(step));
    }

    /// Forgets n! alone; returns whether it was held. Counted as an
    /// eviction by the store, as before.
    pub(super) fn remove(&self, n: u64) -> bool {
        // The store's callback removes it from `readable`.
        self.lock().cache_remove(&n).is_some()
    }

    /// Empties the tier and returns how many entries it held.
    pub(super) fn clear(&self) -> usize {
        let mut lru = self.lock();
        let removed = lru.cache_size();
        lru.cache_clear();
        self.readable.pin().clear();
        removed
    }

    /// The step of the largest k ≤ n held, without marking it used: a
    /// search must not make entries look used.
    pub(super) fn largest_at_most(&self, n: u64) -> Option<Arc<FactorialStep>> {
        let lru = self.lock();
        let k = lru.keys().copied().filter(|k| *k <= n).max()?;
        lru.cache_peek(&k).cloned()
    }

    /// Entries from most to least recently used, every noted hit applied.
    pub(super) fn in_order<T>(&self, each: impl Fn(u64, &FactorialStep) -> T) -> Vec<T> {
        self.lock_in_order()
            .iter()
            .map(|(n, step)| each(*n, step))
            .collect()
    }

    pub(super) fn counts(&self) -> StoreCounts {
        let lru = self.lock();
        StoreCounts {
            entries: lru.cache_size(),
            capacity: lru.capacity(),
            evictions: lru.cache_evictions().unwrap_or(0),
            notes_dropped: self.notes.dropped(),
        }
    }
}

pub(super) struct StoreCounts {
    pub entries: usize,
    pub capacity: usize,
    pub evictions: u64,
    pub notes_dropped: u64,
}
