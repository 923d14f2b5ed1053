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
//! A thread is given a stripe the first time it asks, in turn; the few
//! worker threads of a server each get their own. Threads beyond
//! [`STRIPES`] share stripes, which costs speed, never correctness.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

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
