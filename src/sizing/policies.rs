//! Three ways to choose what to evict, run over the same trace: least
//! recently used (through the memory tier's own store), first in first out,
//! and Bélády's optimal rule; and a fourth replay that keeps what the memory
//! tier keeps (every step k! of a computation, not just the answer).
//!
//! Each function replays a whole trace into an empty cache and returns how
//! many requests were hits. Keys are small integers (see
//! [`super::Workload`]); a capacity is counted either in entries or in bytes,
//! with each key's size given by a slice indexed by key.
//!
//! A key larger than a byte-bounded cache is never stored: it is a miss that
//! leaves the cache as it was, as a real cache with a largest-entry limit
//! would do, rather than a miss that empties the whole cache first.

use std::collections::{BTreeSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use cached::stores::LruCache;
use cached::Cached;

/// The index of the next request for the same key after each request, or
/// `usize::MAX` when the key is not asked for again: what Bélády's rule
/// needs to know about the future.
pub fn next_uses(trace: &[u32]) -> Vec<usize> {
    let keys = trace.iter().map(|&key| key as usize + 1).max().unwrap_or(0);
    let mut upcoming = vec![usize::MAX; keys];
    let mut next = vec![usize::MAX; trace.len()];
    for (index, &key) in trace.iter().enumerate().rev() {
        next[index] = upcoming[key as usize];
        upcoming[key as usize] = index;
    }
    next
}

/// Hits of an LRU cache holding at most `capacity` entries (≥ 1): the
/// `cached` crate's `LruCache`, the store behind the memory tier, evicting by
/// itself as it does there.
pub fn lru_hits(trace: &[u32], capacity: usize) -> u64 {
    let mut cache: LruCache<u32, ()> = LruCache::new(capacity.max(1));
    let mut hits = 0;
    for &key in trace {
        if cache.cache_get(&key).is_some() {
            hits += 1;
        } else {
            cache.cache_set(key, ());
        }
    }
    hits
}

/// Hits of an LRU cache holding at most `capacity_bytes`, each key weighing
/// `sizes[key]`: the same `LruCache`, with the byte bound kept here.
///
/// The store only counts entries, so to evict by bytes it is shrunk by one
/// entry (`set_max_size(len - 1)`), which makes it drop its least recently
/// used entry in constant time, and its eviction callback reports the size
/// that left. Its entry bound is otherwise kept at the number of entries it
/// holds plus the one arriving, so it never evicts on its own.
pub fn lru_hits_by_bytes(trace: &[u32], sizes: &[u64], capacity_bytes: u64) -> u64 {
    let evicted_bytes = Arc::new(AtomicU64::new(0));
    let on_evict = Arc::clone(&evicted_bytes);
    let mut cache: LruCache<u32, u64> = LruCache::builder()
        .max_size(1)
        .on_evict(move |_key, size| {
            on_evict.fetch_add(*size, Ordering::Relaxed);
        })
        .build()
        .expect("a max_size of 1 is valid");
    let mut stored_bytes = 0u64;
    let mut hits = 0;
    for &key in trace {
        if cache.cache_get(&key).is_some() {
            hits += 1;
            continue;
        }
        let size = sizes[key as usize];
        if size > capacity_bytes {
            continue;
        }
        cache.set_max_size(cache.cache_size() + 1);
        cache.cache_set(key, size);
        stored_bytes += size;
        // The new key is the most recently used and fits alone, so it is
        // never the one dropped, and the cache holds two or more entries
        // whenever it is over the bound (a max size of 0 is refused).
        while stored_bytes > capacity_bytes {
            cache.set_max_size(cache.cache_size() - 1);
            stored_bytes -= evicted_bytes.swap(0, Ordering::Relaxed);
        }
    }
    hits
}

/// What the memory tier's storage rule did with a trace: its hits, and the
/// factorial inputs it held at the end (smallest first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryTierReplay {
    pub hits: u64,
    pub held: Vec<u64>,
    /// Those of `held` that a request asked for since they were stored
    /// (the tier keeps their answer's text ready); the others are steps
    /// nobody has asked for since they were multiplied.
    pub held_asked_for: Vec<u64>,
    /// Multiplications the misses did (n − k each): the work a live replay
    /// will do, and what a too small tier wastes by forgetting its steps.
    pub steps_multiplied: u64,
}

/// Replays factorial inputs (`requests`, in order) through the memory
/// tier's own storage rule (see `crate::memory::FactorialCache`) in an LRU
/// store of `capacity` entries (≥ 1):
///
/// - n! held: a hit, which makes n the most recently used;
/// - otherwise the largest k ≤ n held is found without touching recency,
///   and k+1, …, n are stored in that order (1, …, n when none is held;
///   0! is stored only when 0 itself is asked for), each new entry pushing
///   out the least recently used one when the store is full.
///
/// So one miss can store many steps that nobody asked for, each pushing out
/// the least recently used entry, which may be an answer somebody did ask
/// for. A sequential replay of the real tier gets exactly these hits (the
/// replay module's tests run both and compare).
///
/// The store here is a list threaded through arrays indexed by n rather
/// than the tier's own `cached::LruCache`: the curve and the search for the
/// smallest size replay the trace a hundred times or more, and in a debug
/// build `LruCache` costs about 1.5 µs a step, which made one experiment at
/// the largest settings take 8 s (measured). The unit tests hold this store
/// to the same answers as `LruCache` driven by the same rule.
///
/// And when a miss has more steps to store than the cache holds, the first
/// ones would each be pushed out by the later ones before the miss ends
/// (all are new keys, and the later ones are more recent), so only the last
/// `capacity` steps are stored; the tests check that too.
pub fn memory_tier_replay(requests: &[u64], capacity: usize) -> MemoryTierReplay {
    let capacity = capacity.max(1);
    let largest = requests.iter().copied().max().unwrap_or(0) as usize;
    let mut store = ArrayLru::new(largest + 1, capacity);
    let (mut hits, mut steps_multiplied) = (0, 0);
    for &n in requests {
        let n = n as usize;
        if store.get(n) {
            hits += 1;
            store.ask(n);
            continue;
        }
        let base = (0..n).rev().find(|&k| store.holds(k));
        let first = match base {
            Some(k) => k + 1,
            None if n == 0 => 0,
            None => 1,
        };
        steps_multiplied += (n - base.unwrap_or(0)) as u64;
        for step in first.max((n + 1).saturating_sub(capacity))..=n {
            store.set(step);
        }
        store.ask(n);
    }
    let held: Vec<u64> = (0..=largest)
        .filter(|&k| store.holds(k))
        .map(|k| k as u64)
        .collect();
    MemoryTierReplay {
        hits,
        steps_multiplied,
        held_asked_for: held
            .iter()
            .copied()
            .filter(|&k| store.asked_since_stored(k as usize))
            .collect(),
        held,
    }
}

/// An LRU store of the keys `0..keys`: a doubly linked list, most recent
/// first, threaded through two arrays, with one more slot as its head; and
/// for each key, whether a request asked for it since it was stored.
struct ArrayLru {
    capacity: usize,
    len: usize,
    held: Vec<bool>,
    asked: Vec<bool>,
    newer: Vec<usize>,
    older: Vec<usize>,
}

impl ArrayLru {
    fn new(keys: usize, capacity: usize) -> Self {
        let head = keys;
        Self {
            capacity,
            len: 0,
            held: vec![false; keys],
            asked: vec![false; keys],
            newer: vec![head; keys + 1],
            older: vec![head; keys + 1],
        }
    }

    fn head(&self) -> usize {
        self.held.len()
    }

    fn holds(&self, key: usize) -> bool {
        self.held[key]
    }

    /// Whether `key` is held; if so it becomes the most recently used.
    fn get(&mut self, key: usize) -> bool {
        if !self.held[key] {
            return false;
        }
        self.unlink(key);
        self.push_front(key);
        true
    }

    /// Notes that a request asked for `key`.
    fn ask(&mut self, key: usize) {
        self.asked[key] = true;
    }

    fn asked_since_stored(&self, key: usize) -> bool {
        self.asked[key]
    }

    /// Stores `key` (not held) as the most recently used, not yet asked
    /// for, pushing out the least recently used entry when the store is full.
    fn set(&mut self, key: usize) {
        self.push_front(key);
        self.held[key] = true;
        self.asked[key] = false;
        self.len += 1;
        if self.len > self.capacity {
            let least_recent = self.older[self.head()];
            self.unlink(least_recent);
            self.held[least_recent] = false;
            self.len -= 1;
        }
    }

    fn unlink(&mut self, key: usize) {
        let (newer, older) = (self.newer[key], self.older[key]);
        self.older[newer] = older;
        self.newer[older] = newer;
    }

    fn push_front(&mut self, key: usize) {
        let head = self.head();
        let first = self.newer[head];
        self.newer[key] = first;
        self.older[key] = head;
        self.older[first] = key;
        self.newer[head] = key;
    }
}

/// Hits of a first-in-first-out cache of at most `capacity` in total size:
/// a hit changes nothing, and the oldest arrival leaves first however often
/// it has been used since. With every size 1 the capacity counts entries.
///
/// What is stored is a flag per key rather than a `HashSet`: keys are small
/// integers, and in a debug build hashing made this three times slower,
/// which the request's time budget feels.
pub fn fifo_hits(trace: &[u32], sizes: &[u64], capacity: u64) -> u64 {
    let mut arrivals: VecDeque<u32> = VecDeque::new();
    let mut stored = vec![false; sizes.len()];
    let mut stored_size = 0u64;
    let mut hits = 0;
    for &key in trace {
        if stored[key as usize] {
            hits += 1;
            continue;
        }
        let size = sizes[key as usize];
        if size > capacity {
            continue;
        }
        while stored_size + size > capacity {
            let oldest = arrivals
                .pop_front()
                .expect("a cache over its bound holds something");
            stored[oldest as usize] = false;
            stored_size -= sizes[oldest as usize];
        }
        arrivals.push_back(key);
        stored[key as usize] = true;
        stored_size += size;
    }
    hits
}

/// Hits of Bélády's rule (1966) with a capacity of at most `capacity` in
/// total size: when something must go, drop whatever is next needed
/// furthest in the future, the arriving key included (so a key needed later
/// than everything stored is simply not kept). `next_use` comes from
/// [`next_uses`] for the same trace.
///
/// With every size 1 this is the optimal policy: no policy gets more hits
/// from that trace and capacity. With sizes that differ it stays a very good
/// rule, but no longer a proven bound (the best choice by bytes is a much
/// harder problem). A sorted set of (next use, key) finds the victim in
/// O(log C).
pub fn belady_hits(trace: &[u32], next_use: &[usize], sizes: &[u64], capacity: u64) -> u64 {
    let mut by_next_use: BTreeSet<(usize, u32)> = BTreeSet::new();
    // `stored_next_use[key]`: the key's entry in `by_next_use`, if stored.
    let mut stored_next_use: Vec<Option<usize>> = vec![None; sizes.len()];
    let mut stored_size = 0u64;
    let mut hits = 0;
    for (index, &key) in trace.iter().enumerate() {
        let size = sizes[key as usize];
        if let Some(previous) = stored_next_use[key as usize] {
            hits += 1;
            by_next_use.remove(&(previous, key));
            by_next_use.insert((next_use[index], key));
            stored_next_use[key as usize] = Some(next_use[index]);
            continue;
        }
        if size > capacity {
            continue;
        }
        by_next_use.insert((next_use[index], key));
        stored_next_use[key as usize] = Some(next_use[index]);
        stored_size += size;
        while stored_size > capacity {
            let (_, furthest) = by_next_use
                .pop_last()
                .expect("a cache over its bound holds something");
            stored_next_use[furthest as usize] = None;
            stored_size -= sizes[furthest as usize];
        }
    }
    hits
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const A: u32 = 0;
    const B: u32 = 1;
    const C: u32 = 2;
    const D: u32 = 3;
    const E: u32 = 4;
    /// a b c a d b a c
    const TRACE: [u32; 8] = [A, B, C, A, D, B, A, C];
    const ONE_EACH: [u64; 5] = [1; 5];

    fn all_three(trace: &[u32], capacity: usize) -> (u64, u64, u64) {
        let sizes = vec![1; 8];
        (
            lru_hits(trace, capacity),
            fifo_hits(trace, &sizes, capacity as u64),
            belady_hits(trace, &next_uses(trace), &sizes, capacity as u64),
        )
    }

    #[test]
    fn hand_worked_hits_with_two_entries() {
        // LRU (most recent first): a [a], b [b a], c [c b] (a out),
        // a [a c] (b out), d [d a] (c out), b [b d], a [a b], c [c a]:
        // every request misses, 0 hits.
        // FIFO (oldest first): a [a], b [a b], c [b c], a [c a], d [a d],
        // b [d b], a [b a], c [a c]: 0 hits.
        // Bélády (next use in brackets): a(3), b(5) stored; c(7) arrives
        // and is itself needed furthest, so it is not kept; a hit (next 6);
        // d(never) not kept; b hit (never again); a hit; c miss: 3 hits.
        assert_eq!(all_three(&TRACE, 2), (0, 0, 3));
    }

    #[test]
    fn hand_worked_hits_with_three_entries() {
        // LRU: a, b, c miss [c b a]; a hit [a c b]; d miss, b out [d a c];
        // b miss, c out [b d a]; a hit [a b d]; c miss: 2 hits.
        // FIFO: a, b, c miss [a b c]; a hit; d miss, a out [b c d];
        // b hit; a miss, b out [c d a]; c hit: 3 hits (here FIFO wins).
        // Bélády: a, b, c stored; a hit; d (never needed again) not kept;
        // b, a, c hit: 4 hits, every request but the 4 first ones.
        assert_eq!(all_three(&TRACE, 3), (2, 3, 4));
    }

    #[test]
    fn hand_worked_lru_by_bytes() {
        // Sizes a 1, b 2, c 1, d 3; at most 4 bytes. Most recent first:
        // a [a] 1; b [b a] 3; c [c b a] 4; a hit [a c b] 4;
        // d [d a c b] 7: b out 5, c out 4 [d a]; b [b d a] 6: a out 5,
        // d out 2 [b]; a [a b] 3; c [c a b] 4: 1 hit.
        let sizes = [1, 2, 1, 3];
        assert_eq!(lru_hits_by_bytes(&TRACE, &sizes, 4), 1);
    }

    #[test]
    fn a_key_larger_than_the_cache_is_never_stored_and_evicts_nothing() {
        // e weighs 5 of the 4 bytes: a stays, so its second request hits.
        let trace = [A, E, A, E];
        let sizes = [1, 1, 1, 1, 5];
        assert_eq!(lru_hits_by_bytes(&trace, &sizes, 4), 1);
        assert_eq!(fifo_hits(&trace, &sizes, 4), 1);
        assert_eq!(belady_hits(&trace, &next_uses(&trace), &sizes, 4), 1);
    }

    #[test]
    fn by_bytes_a_bigger_cache_can_hit_less() {
        // e weighs 4, a weighs 1; trace a e a. With 3 bytes e never fits, a
        // stays and hits again: 1 hit. With 4 bytes e fits only by pushing a
        // out, so a misses: 0 hits. Counted in entries this cannot happen
        // (see the property below); counted in bytes the curve can dip.
        let trace = [A, E, A];
        let sizes = [1, 1, 1, 1, 4];
        assert_eq!(lru_hits_by_bytes(&trace, &sizes, 3), 1);
        assert_eq!(lru_hits_by_bytes(&trace, &sizes, 4), 0);
    }

    #[test]
    fn counting_bytes_with_every_size_one_is_counting_entries() {
        let trace: Vec<u32> = TRACE.iter().chain(TRACE.iter().rev()).copied().collect();
        for capacity in 1..=5 {
            assert_eq!(
                lru_hits_by_bytes(&trace, &ONE_EACH, capacity as u64),
                lru_hits(&trace, capacity),
                "capacity {capacity}"
            );
        }
    }

    #[test]
    fn next_uses_point_at_the_next_request_for_the_same_key() {
        let never = usize::MAX;
        assert_eq!(next_uses(&TRACE), [3, 5, 7, 6, never, never, never, never]);
    }

    #[test]
    fn hand_worked_memory_tier_replay() {
        // Three entries. 5 misses and stores 1..5, keeping [5 4 3] (most
        // recent first). 4 hits [4 5 3]. 2 misses: nothing ≤ 2 is held, so
        // 1 and 2 are stored, pushing out 3 then 5 [2 1 4]. 5 misses: the
        // largest held ≤ 5 is 4, so only 5 is stored, and it pushes out 4,
        // the step it started from [5 2 1]. 2 hits [2 5 1]: 2 hits.
        let replay = memory_tier_replay(&[5, 4, 2, 5, 2], 3);
        assert_eq!(replay.hits, 2);
        assert_eq!(replay.held, [1, 2, 5]);
        // 1 was stored as a step on the way to 2 and never asked for.
        assert_eq!(replay.held_asked_for, [2, 5]);
    }

    #[test]
    fn steps_nobody_asked_for_can_push_out_an_answer_somebody_did() {
        // Two entries, requests 1, 9, 1. One entry per answer keeps 1 and 9,
        // so the second 1 hits. The memory tier stores 1; then 9 multiplies
        // from 1! and stores 2, …, 9, of which 8 and 9 stay and 1 is pushed
        // out; so the second 1 misses.
        let requests = [1u64, 9, 1];
        assert_eq!(lru_hits(&[0, 1, 0], 2), 1);
        assert_eq!(memory_tier_replay(&requests, 2).hits, 0);
        // And when it fits, the steps are answers stored in advance: 9
        // stores 1..9, so 4 and 7 hit on their first request.
        assert_eq!(memory_tier_replay(&[9, 4, 7], 10).hits, 2);
    }

    /// The memory tier's rule on its own store, `cached::LruCache`, storing
    /// every step: what [`memory_tier_replay`] must agree with.
    fn memory_tier_replay_on_lru_cache(requests: &[u64], capacity: usize) -> MemoryTierReplay {
        use cached::{CachedIter, CachedPeek};
        // The value: whether the entry was asked for since it was stored.
        let mut store: LruCache<u64, bool> = LruCache::new(capacity.max(1));
        let (mut hits, mut steps_multiplied) = (0, 0);
        for &n in requests {
            if let Some(asked) = store.cache_get_mut(&n) {
                *asked = true;
                hits += 1;
                continue;
            }
            // As the tier does: look without touching recency.
            let base = store.keys().copied().filter(|k| *k <= n).max();
            steps_multiplied += n - base.unwrap_or(0);
            let first = match base {
                Some(k) => k + 1,
                None if n == 0 => 0,
                None => 1,
            };
            for step in first..=n {
                store.cache_set(step, step == n);
            }
        }
        let mut held: Vec<u64> = store.keys().copied().collect();
        held.sort_unstable();
        let held_asked_for = held
            .iter()
            .copied()
            .filter(|k| store.cache_peek(k) == Some(&true))
            .collect();
        MemoryTierReplay {
            hits,
            held,
            held_asked_for,
            steps_multiplied,
        }
    }

    fn small_inputs() -> impl Strategy<Value = Vec<u64>> {
        prop::collection::vec(0u64..30, 0..60)
    }

    fn small_traces() -> impl Strategy<Value = Vec<u32>> {
        prop::collection::vec(0u32..8, 0..60)
    }

    proptest! {
        #[test]
        fn belady_is_never_beaten_by_lru_or_fifo(trace in small_traces(), capacity in 1usize..9) {
            let (lru, fifo, belady) = all_three(&trace, capacity);
            prop_assert!(belady >= lru, "Bélády {belady} < LRU {lru}");
            prop_assert!(belady >= fifo, "Bélády {belady} < FIFO {fifo}");
        }

        #[test]
        fn the_replay_agrees_with_the_tiers_own_store_storing_every_step(
            requests in small_inputs(),
            capacity in 1usize..12,
        ) {
            prop_assert_eq!(
                memory_tier_replay(&requests, capacity),
                memory_tier_replay_on_lru_cache(&requests, capacity)
            );
        }

        #[test]
        fn a_bigger_cache_never_hits_less_under_lru_or_belady(
            trace in small_traces(),
            capacity in 1usize..9,
        ) {
            let (lru, _, belady) = all_three(&trace, capacity);
            let (lru_bigger, _, belady_bigger) = all_three(&trace, capacity + 1);
            prop_assert!(lru_bigger >= lru);
            prop_assert!(belady_bigger >= belady);
        }
    }
}
