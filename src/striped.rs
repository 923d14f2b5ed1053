//! State that every request touches, split so that two cores never write
//! the same cache line for it.
//!
//! When two cores write one cache line in turn (a counter both increment,
//! a lock both take), the line travels between them on every write: each
//! core must first take it back from the other. That costs tens to
//! hundreds of nanoseconds a time, and it grows with the number of cores,
//! while the work itself stays a few nanoseconds. Caches built for many
//! cores (Caffeine in Java, moka in Rust) therefore keep what hits write
//! in per-core stripes, and add the stripes up only when someone reads
//! the total, which is rare.
//!
//! A thread is given a stripe the first time it asks, in turn, so the
//! worker threads of a server, which start first, get stripes of their
//! own. The turn only moves on: threads started later (blocking-pool
//! threads come and go) wrap around past [`STRIPES`] and share stripes
//! with earlier ones, which costs speed and, for the hits' notes, a few
//! more dropped notes, never correctness.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

use crossbeam_utils::CachePadded;

/// How many stripes each striped value has: more than the worker threads
/// of any machine this runs on, with room for the blocking threads that
/// multiply factorials and read files.
pub const STRIPES: usize = 32;

/// The next stripe to hand out.
static NEXT_STRIPE: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static THIS_THREADS_STRIPE: Cell<Option<usize>> = const { Cell::new(None) };
}

/// The calling thread's stripe, in `0..STRIPES`.
pub fn this_threads_stripe() -> usize {
    THIS_THREADS_STRIPE.with(|stripe| match stripe.get() {
        Some(index) => index,
        None => {
            let index = NEXT_STRIPE.fetch_add(1, Ordering::Relaxed) % STRIPES;
            stripe.set(Some(index));
            index
        }
    })
}

/// One `T` per stripe, each on cache lines of its own.
pub struct Striped<T> {
    stripes: Box<[CachePadded<T>]>,
}

impl<T> Striped<T> {
    pub fn new(mut make: impl FnMut() -> T) -> Self {
        Self {
            stripes: (0..STRIPES).map(|_| CachePadded::new(make())).collect(),
        }
    }

    /// The calling thread's own `T`.
    pub fn mine(&self) -> &T {
        &self.stripes[this_threads_stripe()]
    }

    /// Every stripe, for whoever needs the whole.
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.stripes.iter().map(|stripe| &**stripe)
    }
}

/// A count that many threads add to at once and few read.
pub struct StripedCounter(Striped<AtomicU64>);

impl Default for StripedCounter {
    fn default() -> Self {
        Self(Striped::new(|| AtomicU64::new(0)))
    }
}

impl StripedCounter {
    pub fn increment(&self) {
        self.add(1);
    }

    pub fn add(&self, amount: u64) {
        // Relaxed: a count orders nothing else, and the stripe is this
        // thread's own, so the add never waits for another core.
        self.0.mine().fetch_add(amount, Ordering::Relaxed);
    }

    /// The sum of every stripe. Adds that happen while it is read may or
    /// may not be in it, as with any counter read while it counts.
    pub fn total(&self) -> u64 {
        self.0
            .iter()
            .map(|stripe| stripe.load(Ordering::Relaxed))
            .fold(0, u64::wrapping_add)
    }
}

/// The keys hits used, noted by each thread in a buffer of its own, to be
/// applied to a shared recency order in batches (see `memory::store` for
/// the design and what it costs in exactness).
pub struct UseNotes<K> {
    notes: Striped<Mutex<Vec<K>>>,
    dropped: StripedCounter,
}

impl<K> Default for UseNotes<K> {
    fn default() -> Self {
        Self {
            notes: Striped::new(|| Mutex::new(Vec::with_capacity(Self::PER_THREAD))),
            dropped: StripedCounter::default(),
        }
    }
}

impl<K> UseNotes<K> {
    /// How many uses a thread notes before they are applied. Small enough
    /// that applying them is a short critical section, large enough that
    /// the order's lock is taken once per many hits.
    const PER_THREAD: usize = 32;

    /// Notes that a hit used `key`. When this thread's notes are full,
    /// `try_order` is asked for the order without waiting (a `try_lock`),
    /// and if it gives it, `apply` applies this thread's notes to it, and
    /// only this thread's: taking the others' buffers would write other
    /// cores' lines, which is what the notes avoid. A note that cannot be
    /// kept is dropped and counted.
    pub fn note<O>(
        &self,
        key: K,
        try_order: impl FnOnce() -> Option<O>,
        mut apply: impl FnMut(&mut O, K),
    ) {
        // Only `apply_all` holds this thread's buffer, and only for a
        // moment: rather than wait, the note is dropped.
        let Ok(mut notes) = self.notes.mine().try_lock() else {
            self.dropped.increment();
            return;
        };
        notes.push(key);
        if notes.len() < Self::PER_THREAD {
            return;
        }
        match try_order() {
            Some(mut order) => {
                for key in notes.drain(..) {
                    apply(&mut order, key);
                }
            }
            // The order is busy: this thread's newest note gives way, and
            // the others wait for the next chance.
            None => {
                notes.pop();
                self.dropped.increment();
            }
        }
    }

    /// Hands every thread's notes to `apply`, oldest first within each
    /// thread: what a change to the order starts with.
    pub fn apply_all(&self, mut apply: impl FnMut(K)) {
        for notes in self.notes.iter() {
            let mut notes = notes.lock().expect("use notes lock poisoned");
            for key in notes.drain(..) {
                apply(key);
            }
        }
    }

    /// Notes dropped since start-up.
    pub fn dropped(&self) -> u64 {
        self.dropped.total()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn a_counter_adds_up_what_every_thread_counted() {
        let counter = Arc::new(StripedCounter::default());
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let counter = Arc::clone(&counter);
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        counter.increment();
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().expect("a counting thread does not panic");
        }
        counter.add(5);
        assert_eq!(counter.total(), 8005);
    }

    #[test]
    fn a_thread_keeps_its_stripe() {
        let mine = this_threads_stripe();
        assert!(mine < STRIPES);
        assert_eq!(this_threads_stripe(), mine);
    }

    #[test]
    fn notes_are_applied_in_order_when_full_or_when_asked_and_kept_when_the_order_is_busy() {
        let notes = UseNotes::default();
        let mut order = Vec::new();
        for key in 0..31 {
            notes.note(key, || Some(&mut order), |order, key| order.push(key));
        }
        assert!(order.is_empty(), "nothing is applied before the notes fill");
        notes.note(31, || Some(&mut order), |order, key| order.push(key));
        assert_eq!(order, (0..32).collect::<Vec<_>>());

        // Full while the order is busy: the notes stay, the newest gives way.
        for key in 100..132 {
            notes.note(key, || None::<&mut Vec<i32>>, |_, _| {});
        }
        assert_eq!(notes.dropped(), 1);
        // Full again, and the order free this time: nothing is dropped.
        notes.note(500, || Some(&mut order), |order, key| order.push(key));
        assert_eq!(notes.dropped(), 1);
        assert_eq!(&order[32..], (100..131).chain([500]).collect::<Vec<_>>());
        let mut applied = Vec::new();
        notes.apply_all(|key| applied.push(key));
        assert!(applied.is_empty());
    }

    #[test]
    fn stripes_sit_on_separate_cache_lines() {
        let striped = Striped::new(|| AtomicU64::new(0));
        let addresses: Vec<usize> = striped
            .iter()
            .map(|stripe| stripe as *const _ as usize)
            .collect();
        for pair in addresses.windows(2) {
            assert!(pair[1] - pair[0] >= 64, "{pair:?}");
        }
    }
}
