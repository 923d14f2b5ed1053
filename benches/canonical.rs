//! What a `/data` body's cache key costs: parsing, writing the canonical
//! form, hashing it. `cargo bench --bench canonical`.
//!
//! The bodies look like API traffic: records whose keys come in the order a
//! program wrote them (not sorted), with numbers, strings, nested objects and
//! arrays. The same body already in canonical form shows what sorting costs,
//! and SHA-256 alone shows the floor.

use std::hint::black_box;

use cachelab::canonical::CanonicalJson;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use sha2::{Digest, Sha256};

/// A JSON body of at least `size` bytes: `{"items":[record, ...],"count":n}`.
fn realistic_body(size: usize) -> Vec<u8> {
    let mut records = Vec::new();
    let mut length = 0;
    let mut id = 0u64;
    while length < size {
        let record = format!(
            concat!(
                r#"{{"id":{id},"name":"User {id}","email":"user{id}@example.com","#,
                r#""active":{active},"score":{score}.{cents:02},"balance":-{balance}.5,"#,
                r#""tags":["alpha","beta","tier-{tier}"],"#,
                r#""address":{{"street":"{id} Storgata","city":"Oslo","zip":"0{zip}","#,
                r#""geo":[59.9{id},10.7{tier}]}},"#,
                r#""created_at":"2024-05-{day:02}T12:00:00Z","note":"caf\u00e9 \"{id}\"\n","#,
                r#""history":[{{"at":1714564800{tier},"event":"login"}},{{"at":1714568400,"event":"view"}}],"#,
                r#""manager":null}}"#
            ),
            id = id,
            active = !id.is_multiple_of(3),
            score = id % 100,
            cents = id % 97,
            balance = id * 37 % 10_000,
            tier = id % 4,
            zip = 150 + id % 800,
            day = 1 + id % 28,
        );
        length += record.len() + 1;
        records.push(record);
        id += 1;
    }
    format!(r#"{{"items":[{}],"count":{id}}}"#, records.join(",")).into_bytes()
}

fn canonical_key(c: &mut Criterion) {
    let mut group = c.benchmark_group("canonical");
    for (label, size) in [("1KiB", 1024), ("1MiB", 1024 * 1024)] {
        let body = realistic_body(size);
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_with_input(BenchmarkId::new("key", label), &body, |b, body| {
            b.iter(|| CanonicalJson::parse(black_box(body)).expect("valid JSON"))
        });
    }

    let body = realistic_body(1024 * 1024);
    let canonical = CanonicalJson::parse(&body).expect("valid JSON");
    let sorted = canonical.text().as_bytes();
    group.throughput(Throughput::Bytes(sorted.len() as u64));
    // A body already in canonical form (an answer posted back): no sorting.
    group.bench_with_input(
        BenchmarkId::new("key_already_canonical", "1MiB"),
        sorted,
        |b, body| b.iter(|| CanonicalJson::parse(black_box(body)).expect("valid JSON")),
    );
    group.throughput(Throughput::Bytes(body.len() as u64));
    // The hash alone, for scale: the least a key of these bytes can cost.
    group.bench_with_input(BenchmarkId::new("sha256_only", "1MiB"), &body, |b, body| {
        b.iter(|| Sha256::digest(black_box(body)))
    });
    group.finish();
}

criterion_group!(benches, canonical_key);
criterion_main!(benches);
