//! The cache tiers measured on their own, without HTTP: what a hit and a miss
//! cost in each tier, and the work a miss does.
//!
//! `cargo bench` runs everything; `cargo bench -- memory` runs one group.
//! What a `/data` body's cache key costs is in `benches/canonical.rs`.
//! Compare the numbers with each other rather than with another machine's.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cached::stores::LruCache;
use cached::Cached;
use cachelab::canonical::CanonicalJson;
use cachelab::disk::{DiskCache, DiskSettings};
use cachelab::history::{Outcome, RequestHistory, Sent, Subject, Tier};
use cachelab::memory::FactorialCache;
use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use num_bigint::BigUint;

/// The app runs on Rocket's multi-threaded tokio runtime; so do the benches
/// (the disk tier's reads need it).
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// A JSON body of roughly `size` bytes shaped like everyday API traffic: an
/// array of small records whose keys are not in sorted order, so
/// canonicalization has sorting to do.
fn json_body(size: usize) -> Vec<u8> {
    let mut body = String::from(r#"{"source":"bench","records":["#);
    let mut i = 0usize;
    while body.len() + 2 < size {
        if i > 0 {
            body.push(',');
        }
        body.push_str(&format!(
            r#"{{"name":"record {i}","id":{i},"tags":["x","y"],"active":true,"score":{}.5}}"#,
            i % 97
        ));
        i += 1;
    }
    body.push_str("]}");
    body.into_bytes()
}

fn factorial(n: u64) -> BigUint {
    (1..=n).fold(BigUint::from(1u8), |acc, k| acc * k)
}

fn memory(c: &mut Criterion) {
    let runtime = runtime();
    let mut group = c.benchmark_group("memory");

    // The store itself: cached's LruCache behind a lock, as the tier uses it.
    let store = std::sync::Mutex::new(LruCache::<u64, Arc<str>>::new(100));
    for n in 0..100 {
        store
            .lock()
            .expect("unpoisoned")
            .cache_set(n, Arc::from(n.to_string()));
    }
    group.bench_function("lru_get", |b| {
        b.iter(|| {
            store
                .lock()
                .expect("unpoisoned")
                .cache_get(black_box(&42))
                .cloned()
        })
    });
    let next = AtomicU64::new(100);
    let value: Arc<str> = Arc::from("2432902008176640000");
    group.bench_function("lru_set_evicting", |b| {
        b.iter(|| {
            let n = next.fetch_add(1, Ordering::Relaxed);
            store
                .lock()
                .expect("unpoisoned")
                .cache_set(black_box(n), Arc::clone(&value))
        })
    });

    // A hit through the tier: lookup, counters, and the Arc of a rendered step.
    let cache = FactorialCache::new(100, Duration::ZERO, Duration::ZERO);
    for n in [20u64, 10_000] {
        runtime.block_on(cache.factorial(n));
        group.bench_with_input(BenchmarkId::new("tier_hit", n), &n, |b, &n| {
            b.iter(|| runtime.block_on(cache.factorial(black_box(n))))
        });
    }
    group.finish();
}

/// Hits on one thread, then on two threads at once, each thread with its
/// own single-threaded runtime (one per core, as Rocket's workers are).
/// The time is per hit on each thread: with nothing shared between the
/// threads' hits, two at once cost what one alone does. Beside the tier,
/// the design it replaced: every hit locks one `Mutex<LruCache>`, which
/// moves the entry to the front of the shared recency list and bumps the
/// shared counters, and clones the value's `Arc`.
fn hits_on_cores(c: &mut Criterion) {
    let mut group = c.benchmark_group("hits_on_cores");
    let cache = FactorialCache::new(100, Duration::ZERO, Duration::ZERO);
    runtime().block_on(cache.factorial(20));
    let locked = std::sync::Mutex::new(LruCache::<u64, Arc<str>>::new(100));
    for n in 0..100 {
        locked
            .lock()
            .expect("unpoisoned")
            .cache_set(n, Arc::from(n.to_string()));
    }
    let (cache, locked) = (&cache, &locked);
    for threads in [1usize, 2] {
        group.bench_function(BenchmarkId::new("memory_tier_hit", threads), |b| {
            b.iter_custom(|iters| {
                on_threads(threads, iters, || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .build()
                        .expect("a tokio runtime");
                    move |iters: u64| {
                        runtime.block_on(async {
                            for _ in 0..iters {
                                black_box(cache.factorial(black_box(20)).await);
                            }
                        })
                    }
                })
            })
        });
        group.bench_function(BenchmarkId::new("one_locked_lru_hit", threads), |b| {
            b.iter_custom(|iters| {
                on_threads(threads, iters, || {
                    |iters: u64| {
                        for _ in 0..iters {
                            black_box(
                                locked
                                    .lock()
                                    .expect("unpoisoned")
                                    .cache_get(black_box(&42))
                                    .cloned(),
                            );
                        }
                    }
                })
            })
        });
    }
    group.finish();
}

/// Runs `iters` of the work each `make` returns on `threads` threads at
/// once, and returns the longest thread's time.
fn on_threads<F, W>(threads: usize, iters: u64, make: F) -> Duration
where
    F: Fn() -> W + Sync,
    W: FnOnce(u64),
{
    let ready = std::sync::Barrier::new(threads);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let work = make();
                    ready.wait();
                    let started = Instant::now();
                    work(iters);
                    started.elapsed()
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| worker.join().expect("a bench thread does not panic"))
            .max()
            .unwrap_or_default()
    })
}

/// Every request, hits included, is recorded for the timing chart. Under load
/// two workers record at once, so the second benchmark measures one thread's
/// records while another thread records without pause.
fn history(c: &mut Criterion) {
    let mut group = c.benchmark_group("history");
    let history = RequestHistory::new(200);
    let record = |history: &RequestHistory| {
        history.record(
            Tier::Memory,
            Outcome::Hit,
            Duration::from_micros(3),
            Subject::Factorial(20),
            Sent::Full,
        )
    };
    group.bench_function("record", |b| b.iter(|| record(&history)));
    group.bench_function("record_while_another_thread_records", |b| {
        b.iter_custom(|iters| {
            let stop = AtomicBool::new(false);
            std::thread::scope(|scope| {
                scope.spawn(|| {
                    while !stop.load(Ordering::Relaxed) {
                        record(&history);
                    }
                });
                let started = Instant::now();
                for _ in 0..iters {
                    record(&history);
                }
                let elapsed = started.elapsed();
                stop.store(true, Ordering::Relaxed);
                elapsed
            })
        })
    });
    group.finish();
}

fn factorial_work(c: &mut Criterion) {
    let runtime = runtime();
    let mut group = c.benchmark_group("factorial");

    // One multiplication step k! = k × (k−1)!, as a miss does it per step.
    for k in [100u64, 1_000, 10_000] {
        let previous = factorial(k - 1);
        group.bench_with_input(BenchmarkId::new("one_step", k), &k, |b, &k| {
            b.iter(|| black_box(&previous) * black_box(k))
        });
    }

    // Rendering to decimal: why a hit must serve text rendered earlier.
    let big = factorial(10_000);
    group.bench_function("render_decimal/10000", |b| b.iter(|| big.to_string()));

    // Putting the rendered digits into a JSON answer: serde_json's string
    // escaper against copying the bytes (digits never need escaping).
    let digits = big.to_string();
    group.throughput(Throughput::Bytes(digits.len() as u64));
    group.bench_function("answer_body/10000/serde_string", |b| {
        b.iter(|| {
            let mut out = Vec::with_capacity(digits.len() + 192);
            serde_json::to_writer(&mut out, black_box(digits.as_str())).expect("serializes");
            out
        })
    });
    group.bench_function("answer_body/10000/copy", |b| {
        b.iter(|| {
            let mut out = Vec::with_capacity(digits.len() + 192);
            out.push(b'"');
            out.extend_from_slice(black_box(digits.as_bytes()));
            out.push(b'"');
            out
        })
    });

    // A cold 10000! with no simulated delay: every step multiplied and
    // stored, then the answer rendered.
    group.throughput(Throughput::Elements(1));
    group.sample_size(10);
    group.bench_function("cold_tier_miss/10000", |b| {
        b.iter_batched(
            || FactorialCache::new(100, Duration::ZERO, Duration::ZERO),
            |cache| runtime.block_on(async { cache.factorial(10_000).await.step.n() }),
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

fn disk(c: &mut Criterion) {
    let runtime = runtime();
    let dir = tempfile::tempdir().expect("a temp dir");
    let cache = DiskCache::open(
        &dir.path().join("cache"),
        DiskSettings {
            // Room for every entry the miss benchmark writes.
            max_bytes: 4 * 1024 * 1024 * 1024,
            ..DiskSettings::default()
        },
    );
    let mut group = c.benchmark_group("disk");

    for (label, size) in [("30B", 30), ("10KB", 10 * 1024)] {
        let request = CanonicalJson::parse(&json_body(size)).expect("valid JSON");
        runtime.block_on(cache.get_or_compute(&request));
        group.throughput(Throughput::Bytes(request.text().len() as u64));
        // In-memory index lookup, content read by hash, integrity check.
        group.bench_with_input(BenchmarkId::new("hit", label), &request, |b, request| {
            b.iter(|| {
                let answer = runtime.block_on(cache.get_or_compute(black_box(request)));
                assert!(answer.lookup.is_hit());
                answer
            })
        });
    }

    // A miss at delay 0: a new entry each time, written to disk with its index line.
    let counter = AtomicU64::new(0);
    group.throughput(Throughput::Elements(1));
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(3));
    group.bench_function("miss_and_store", |b| {
        b.iter_batched(
            || {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                CanonicalJson::parse(format!(r#"{{"n":{n}}}"#).as_bytes()).expect("valid JSON")
            },
            |request| runtime.block_on(cache.get_or_compute(&request)),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(
    benches,
    memory,
    hits_on_cores,
    history,
    factorial_work,
    disk
);
criterion_main!(benches);
