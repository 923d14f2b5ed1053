use super::*;

fn cache(capacity: usize) -> FactorialCache {
    FactorialCache::new(capacity, Duration::ZERO, Duration::ZERO)
}

#[tokio::test(flavor = "multi_thread")]
async fn small_factorials_are_exact() {
    let cache = cache(100);
    for (n, expected) in [(0, "1"), (1, "1"), (5, "120"), (20, "2432902008176640000")] {
        assert_eq!(cache.factorial(n).await.step.decimal(), expected);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_larger_n_reuses_the_largest_smaller_step() {
    let cache = cache(100);
    cache.factorial(10).await;
    let answer = cache.factorial(15).await;
    let work = answer
        .lookup
        .computation()
        .copied()
        .expect("15! was a miss");
    assert_eq!(work.reused_from, Some(10));
    assert_eq!(work.steps_computed, 5);
    assert_eq!(cache.stats().computed, 15);
}

#[tokio::test(flavor = "multi_thread")]
async fn capacity_bounds_the_steps_kept() {
    let cache = cache(3);
    cache.factorial(10).await;
    let kept: Vec<u64> = cache.entries().iter().map(|entry| entry.n).collect();
    assert_eq!(kept, vec![10, 9, 8]);
    assert_eq!(cache.stats().evictions, 7);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_kept_answer_holds_exactly_the_digits_and_is_tagged_by_its_bytes() {
    let answer = cache(10).factorial(25).await;
    assert_eq!(answer.step.decimal(), "15511210043330985984000000");
    let body = br#"{"number":25,"factorial":"15511210043330985984000000","digits":26}"#;
    assert_eq!(&answer.step.answer_json()[..], &body[..]);
    assert_eq!(answer.step.entity_tag(), &EntityTag::of_bytes(body));
    assert_eq!(
        &answer.step.etag_field()[..],
        answer.step.entity_tag().to_string()
    );
}

/// The answer is written by hand, straight into its buffer; serde's
/// shape is the reference it is held to.
#[tokio::test(flavor = "multi_thread")]
async fn the_hand_written_answer_is_the_serde_shape() {
    #[derive(serde::Serialize)]
    struct Answer {
        number: u64,
        /// A string, so no JSON client (JavaScript included) rounds it.
        factorial: String,
        digits: usize,
    }
    let cache = cache(300);
    for n in [0, 1, 20, 21, 170, 171, 300] {
        let step = cache.factorial(n).await.step;
        let by_serde = serde_json::to_vec(&Answer {
            number: n,
            factorial: step.decimal().to_owned(),
            digits: step.decimal().len(),
        })
        .expect("serializes");
        assert_eq!(&step.answer_json()[..], &by_serde[..], "n = {n}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_evicted_forgotten_or_cleared_step_is_no_longer_a_hit() {
    let cache = cache(3);
    cache.factorial(10).await; // keeps 8!, 9!, 10!
    assert!(!cache.factorial(7).await.lookup.is_hit(), "7! was evicted");
    // Computing 7! from 0! stored 1! to 7!, evicting 8!, 9! and 10!.
    assert!(
        !cache.factorial(10).await.lookup.is_hit(),
        "10! was evicted"
    );
    assert!(cache.factorial(10).await.lookup.is_hit());
    assert!(cache.forget(10));
    assert!(
        !cache.factorial(10).await.lookup.is_hit(),
        "10! was forgotten"
    );
    cache.clear();
    assert!(
        !cache.factorial(9).await.lookup.is_hit(),
        "the tier was cleared"
    );
}

/// Hits only note their use; the order must still come out as if each
/// had moved its entry to the front, also past one thread's batch of
/// notes.
#[tokio::test(flavor = "multi_thread")]
async fn noted_hits_reach_the_order_before_the_next_eviction() {
    let cache = cache(3);
    cache.factorial(3).await; // 3!, 2!, 1!: 1! is the next to go
    cache.factorial(1).await;
    for _ in 0..40 {
        cache.factorial(2).await;
    }
    let order: Vec<u64> = cache.entries().iter().map(|entry| entry.n).collect();
    assert_eq!(order, vec![2, 1, 3]);
    cache.factorial(4).await; // evicts 3!, the least recently used
    let order: Vec<u64> = cache.entries().iter().map(|entry| entry.n).collect();
    assert_eq!(order, vec![4, 2, 1]);
    assert_eq!(cache.stats().recency_notes_dropped, 0);
}

/// A hit served on another thread is noted in that thread's buffer;
/// the next change must apply it before it evicts anything.
#[test]
fn a_hit_on_another_thread_reaches_the_order_before_the_next_eviction() {
    let cache = Arc::new(cache(3));
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    runtime.block_on(cache.factorial(3)); // 3!, 2!, 1!: 1! is the next to go
    let elsewhere = Arc::clone(&cache);
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime");
        assert!(runtime.block_on(elsewhere.factorial(1)).lookup.is_hit());
    })
    .join()
    .expect("the other thread does not panic");
    runtime.block_on(cache.factorial(4)); // evicts 2!, not 1!
    let order: Vec<u64> = cache.entries().iter().map(|entry| entry.n).collect();
    assert_eq!(order, vec![4, 1, 3]);
}

#[test]
fn hits_on_many_threads_at_once_are_all_counted_and_all_exact() {
    let cache = Arc::new(cache(10));
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    runtime.block_on(cache.factorial(20));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let cache = Arc::clone(&cache);
            std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .build()
                    .expect("a runtime");
                for _ in 0..500 {
                    let answer = runtime.block_on(cache.factorial(20));
                    assert!(answer.lookup.is_hit());
                    assert_eq!(answer.step.decimal(), "2432902008176640000");
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("a hitting thread does not panic");
    }
    let stats = cache.stats();
    assert_eq!((stats.hits, stats.misses), (2000, 1));
    assert_eq!(stats.entries, 10);
}

#[test]
fn simulated_delay_is_capped() {
    let cache = FactorialCache::new(1, Duration::from_millis(10), Duration::from_secs(2));
    assert_eq!(cache.simulated_delay(20), Duration::from_millis(200));
    assert_eq!(cache.simulated_delay(10_000), Duration::from_secs(2));
    assert_eq!(cache.simulated_delay(u64::MAX), Duration::from_secs(2));
}
