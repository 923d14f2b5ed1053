//! The live check of a size: the very trace the experiment simulates,
//! replayed through a real memory tier ([`FactorialCache`]), the code every
//! `GET /factorial/<n>` runs.
//!
//! The replay gets a private tier of its own, never the app's shared one:
//! in a workshop room, one learner resizing or filling the shared tier would
//! change every other learner's hits, misses and exercises.

use std::time::Duration;

use tokio::sync::{Semaphore, SemaphorePermit};

use crate::memory::FactorialCache;

/// What a replay through a real memory tier counted.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LiveReplay {
    pub capacity: u64,
    pub requests: u64,
    pub hits: u64,
    pub misses: u64,
    /// Multiplications the misses did.
    pub steps_multiplied: u64,
    /// Entries the tier held when the trace ended.
    pub entries_held: u64,
    /// Of those, the ones a request asked for since they were stored (the
    /// tier keeps their answer's text ready).
    pub entries_asked_for: u64,
    /// Of those, steps k! multiplied on the way to a larger answer that
    /// nobody has asked for since.
    pub entries_nobody_asked_for: u64,
}

/// Asks a fresh memory tier of `capacity` entries (≥ 1) for each input of
/// `requests` in turn, with no simulated delay, and counts what it did.
///
/// The tier is private to this replay and dropped at its end, never the
/// app's shared tier: resizing or filling that one would change the hits,
/// misses and exercises of everyone else in a workshop room.
///
/// The replay runs on a thread of its own, in a runtime of its own. The
/// memory tier notes each hit in its thread's own buffer and applies the
/// notes to its LRU order later, one thread's notes after another's; a
/// replay whose requests hopped between the server's worker threads would
/// have its hits applied out of order, evict other entries, and get other
/// hits than one request at a time does (measured: it did, in the real
/// server). On one thread every hit is noted in one buffer, in order. It
/// also keeps the replay off the server's async workers. The error is the
/// runtime failing to start, or the replay panicking.
pub async fn replay_through_memory_tier(
    requests: Vec<u64>,
    capacity: usize,
) -> std::io::Result<LiveReplay> {
    tokio::task::spawn_blocking(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .map(|runtime| runtime.block_on(replay_on_this_thread(&requests, capacity)))
    })
    .await
    .map_err(std::io::Error::other)?
}

/// The replay itself, on the calling thread's runtime.
async fn replay_on_this_thread(requests: &[u64], capacity: usize) -> LiveReplay {
    let tier = FactorialCache::new(capacity.max(1), Duration::ZERO, Duration::ZERO);
    let (mut hits, mut steps_multiplied) = (0, 0);
    for &n in requests {
        let answer = tier.factorial(n).await;
        if answer.lookup.is_hit() {
            hits += 1;
        }
        steps_multiplied += answer.lookup.steps_computed_here();
    }
    let held = tier.entries();
    let entries_asked_for = held.iter().filter(|entry| entry.rendered).count() as u64;
    let requests = requests.len() as u64;
    LiveReplay {
        capacity: capacity.max(1) as u64,
        requests,
        hits,
        misses: requests - hits,
        steps_multiplied,
        entries_held: held.len() as u64,
        entries_asked_for,
        entries_nobody_asked_for: held.len() as u64 - entries_asked_for,
    }
}

/// Lets one replay run at a time in this process: each keeps a CPU busy
/// multiplying factorials, and a room full of learners pressing the button
/// together must not starve everyone else's requests.
#[derive(Debug)]
pub struct ReplayGate {
    running: Semaphore,
}

impl Default for ReplayGate {
    fn default() -> Self {
        Self {
            running: Semaphore::new(1),
        }
    }
}

impl ReplayGate {
    /// Permission to replay now, held until dropped; `None` while another
    /// replay is running (the caller is told to come back, not queued).
    pub fn try_start(&self) -> Option<SemaphorePermit<'_>> {
        self.running.try_acquire().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::super::{memory_tier_replay, Workload};
    use super::*;

    /// On a runtime with several workers, as the server has: a replay that
    /// hopped between them would have its hits applied out of order.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn the_live_tier_gets_exactly_the_simulated_hits() {
        for (keys, skew, length, capacities) in [
            (60, 1.0, 400, &[1, 7, 25, 60][..]),
            (100, 0.8, 2_000, &[50, 67, 80][..]),
        ] {
            let requests = Workload::generate(keys, skew, length).requested_inputs();
            for &capacity in capacities {
                check_replay(&requests, capacity).await;
            }
        }
    }

    async fn check_replay(requests: &[u64], capacity: usize) {
        let live = replay_through_memory_tier(requests.to_vec(), capacity)
            .await
            .expect("the replay runs");
        let simulated = memory_tier_replay(requests, capacity);
        assert_eq!(live.hits, simulated.hits, "capacity {capacity}");
        assert_eq!(live.entries_held, simulated.held.len() as u64);
        assert_eq!(live.steps_multiplied, simulated.steps_multiplied);
        assert_eq!(
            live.entries_asked_for,
            simulated.held_asked_for.len() as u64
        );
    }

    #[test]
    fn a_second_replay_waits_for_none_and_is_refused_while_one_runs() {
        let gate = ReplayGate::default();
        let first = gate.try_start().expect("nothing is running yet");
        assert!(gate.try_start().is_none());
        drop(first);
        assert!(gate.try_start().is_some());
    }

    /// How long a replay takes at the largest settings, in this build:
    /// `cargo test --lib sizing::replay::tests::timing -- --ignored --nocapture`.
    #[tokio::test(flavor = "multi_thread")]
    #[ignore = "a measurement, not a check"]
    async fn timing() {
        for (keys, capacity) in [
            (200, 20),
            (200, 60),
            (200, 113),
            (200, 150),
            (500, 1),
            (500, 100),
            (500, 288),
            (500, 500),
        ] {
            let workload = Workload::generate(keys, 1.0, super::super::MAX_TRACE_LENGTH);
            let requests = workload.requested_inputs();
            let started = std::time::Instant::now();
            let live = replay_through_memory_tier(requests.clone(), capacity)
                .await
                .expect("the replay runs");
            let live_time = started.elapsed();
            let started = std::time::Instant::now();
            let simulated = memory_tier_replay(&requests, capacity);
            println!(
                "{keys} keys, capacity {capacity}: live {live_time:?} ({} hits, {} steps), simulated {:?} ({} hits)",
                live.hits,
                live.steps_multiplied,
                started.elapsed(),
                simulated.hits
            );
        }
    }
}
