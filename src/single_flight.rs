//! Request coalescing: when many callers miss on the same key at once, one of
//! them does the slow work and the others wait for its answer.
//!
//! Without this, a burst of requests for a cold value (a "cache stampede")
//! would each run the expensive computation, which is exactly the load a cache
//! is meant to spare.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

/// Who produced the value a caller of [`SingleFlight::run`] received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flight {
    /// This caller ran the work itself.
    Led,
    /// Another caller was already running the work; this one waited for it.
    Joined,
}

/// Coalesces concurrent calls for the same key into one run of the work.
pub struct SingleFlight<K, V> {
    in_flight: Mutex<HashMap<K, Arc<OnceCell<V>>>>,
}

impl<K, V> Default for SingleFlight<K, V> {
    fn default() -> Self {
        Self {
            in_flight: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Hash + Eq + Clone, V: Clone> SingleFlight<K, V> {
    /// Runs `work` for `key` unless a run for the same key is already under
    /// way, in which case it waits for that run's value instead.
    ///
    /// `work` should look in the cache again before doing anything slow: a
    /// run that finished just before this call was made is no longer in
    /// flight, but its value is already stored.
    ///
    /// If the leading caller is dropped before it finishes, one of the
    /// waiting callers takes the work over (that is how `OnceCell` behaves),
    /// so nobody waits forever on an abandoned run.
    pub async fn run<F, Fut>(&self, key: K, work: F) -> (V, Flight)
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = V>,
    {
        let cell = {
            let mut in_flight = self
                .in_flight
                .lock()
                .expect("single-flight map lock poisoned");
            Arc::clone(in_flight.entry(key.clone()).or_default())
        };

        let mut led = false;
        let value = cell
            .get_or_init(|| {
                led = true;
                work()
            })
            .await
            .clone();

        if led {
            let mut in_flight = self
                .in_flight
                .lock()
                .expect("single-flight map lock poisoned");
            // Only forget the cell we led: a later flight may already own the slot.
            if in_flight
                .get(&key)
                .is_some_and(|current| Arc::ptr_eq(current, &cell))
            {
                in_flight.remove(&key);
            }
        }

        (value, if led { Flight::Led } else { Flight::Joined })
    }

    /// How many keys have work under way right now.
    pub fn in_flight_count(&self) -> usize {
        self.in_flight
            .lock()
            .expect("single-flight map lock poisoned")
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_callers_share_one_run() {
        let flights = Arc::new(SingleFlight::<u32, u32>::default());
        let runs = Arc::new(AtomicUsize::new(0));
        let mut handles = Vec::new();
        for _ in 0..16 {
            let flights = Arc::clone(&flights);
            let runs = Arc::clone(&runs);
            handles.push(tokio::spawn(async move {
                flights
                    .run(7, || async {
                        runs.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        49
                    })
                    .await
            }));
        }
        let mut led = 0;
        for handle in handles {
            let (value, flight) = handle.await.expect("task panicked");
            assert_eq!(value, 49);
            led += usize::from(flight == Flight::Led);
        }
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert_eq!(led, 1);
        assert_eq!(
            flights.in_flight_count(),
            0,
            "finished flights are forgotten"
        );
    }

    #[tokio::test]
    async fn sequential_callers_each_run() {
        let flights = SingleFlight::<u32, u32>::default();
        let (_, first) = flights.run(1, || async { 1 }).await;
        let (_, second) = flights.run(1, || async { 2 }).await;
        assert_eq!((first, second), (Flight::Led, Flight::Led));
    }
}
