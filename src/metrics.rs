//! What the app tells Prometheus about itself, in its text format.
//!
//! Two kinds of series, each labelled with the app's `instance`:
//!
//! - every cache tier's counters (`cachelab_cache_*`, labelled by `tier`),
//!   read from the tier's own stats when Prometheus scrapes, so a cache hit
//!   does no work for them;
//! - when the shared tier is configured, what only it has
//!   (`cachelab_redis_*`): whether Redis answers, its outages, the misses
//!   that waited for another instance, the lookups it could not serve;
//! - how long each route takes to answer
//!   (`cachelab_http_request_duration_seconds`), by the route's template
//!   (`/factorial/<n>`, never the path asked for, so the number of series
//!   stays bounded), method and status class.
//!
//! Nothing here knows Rocket: `web::metrics` reads the routes and serves
//! the text.

use std::time::Duration;

use prometheus::core::Collector;
use prometheus::proto::{Counter, Gauge, LabelPair, Metric, MetricFamily, MetricType};
use prometheus::{HistogramOpts, HistogramVec, TextEncoder};

use crate::disk::DiskStats;
use crate::memory::MemoryStats;
use crate::redis_tier::{Health, RedisStats};
use crate::striped::Striped;

/// The `Content-Type` of what [`Metrics::render`] writes:
/// `text/plain; version=0.0.4`, the text format's version the encoder speaks.
pub use prometheus::TEXT_FORMAT;

/// Upper bounds of the request-duration buckets, in seconds. A memory hit
/// takes tens of microseconds and a cold 10000! with its simulated delay two
/// seconds or more, so the buckets start at 50 µs and end at 5 s; the
/// client library's default (5 ms to 10 s) would put every hit in its first.
const REQUEST_SECONDS_BUCKETS: &[f64] = &[
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 5.0,
];

/// The route label of a request that matched no route (a 404 for an
/// unknown path), so that scanners' paths never become series of their own.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// One app's metrics: its request histograms, and the means to write them
/// out with the tiers' counters.
pub struct Metrics {
    instance: String,
    /// One set of histograms per thread, added up when scraped: every
    /// request records one duration, and a histogram's counts shared by
    /// all threads would be lines every core writes on every request (see
    /// [`crate::striped`]).
    request_seconds: Striped<HistogramVec>,
}

/// One cache tier's counters at the moment of a scrape.
///
/// A tier that cannot measure something leaves it `None`, and sends no
/// sample for it rather than a zero that would read as a measurement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TierReading {
    /// The `tier` label: `memory`, `disk` or `redis`.
    pub tier: &'static str,
    pub hits: u64,
    pub misses: u64,
    /// Entries removed to make room, when the tier itself removes them.
    pub evictions: Option<u64>,
    /// Faults the tier survived (unreadable content, failed writes, failed
    /// or timed-out calls to Redis).
    pub errors: u64,
    /// Answers sent as 304 Not Modified (each is also a hit or a miss),
    /// when the tier is the one that answered them.
    pub not_modified: Option<u64>,
    /// Entries held now, when that can be read without work.
    pub entries: Option<u64>,
    /// What the tier's stored answers occupy.
    pub bytes: Option<u64>,
}

impl TierReading {
    pub fn memory(stats: &MemoryStats) -> Self {
        Self {
            tier: "memory",
            hits: stats.hits,
            misses: stats.misses,
            evictions: Some(stats.evictions),
            // Nothing in the memory tier can fail and be survived: a value
            // is in the map or it is computed.
            errors: 0,
            not_modified: Some(stats.not_modified),
            entries: Some(u64::try_from(stats.entries).unwrap_or(u64::MAX)),
            // The tier counts steps, not bytes; measuring each big number's
            // size would cost every store.
            bytes: None,
        }
    }

    pub fn disk(stats: &DiskStats) -> Self {
        Self {
            tier: "disk",
            hits: stats.hits,
            misses: stats.misses,
            evictions: Some(stats.evictions),
            errors: stats.errors,
            not_modified: Some(stats.not_modified),
            entries: Some(stats.entries),
            // What `disk_max_bytes` bounds: the directory as `du -s` counts it.
            bytes: Some(stats.bytes_on_disk),
        }
    }

    /// The shared tier's counters. Its hits and misses are the lookups the
    /// nearer tier passed on to it; a lookup made while Redis was down is
    /// in [`SharedTierReading::unavailable`], not in `misses`.
    pub fn redis(stats: &RedisStats) -> Self {
        Self {
            tier: "redis",
            hits: stats.hits,
            misses: stats.misses,
            // Redis evicts by itself (allkeys-lru) and tells nobody; its own
            // count is in `INFO stats`, a call to Redis a scrape should not make.
            evictions: None,
            errors: stats.errors,
            // A 304 is answered by the memory or disk tier the answer was
            // copied into, and counted there.
            not_modified: None,
            // Counting the keys is a SCAN over all of them: not for a
            // scrape. `stored` and `bytes_read` (in [`SharedTierReading`])
            // are what this instance put in and took out.
            entries: None,
            bytes: None,
        }
    }
}

/// What only the shared tier has, at the moment of a scrape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SharedTierReading {
    /// Redis answers now (health `up`); `connecting` and `down` are not up.
    pub up: bool,
    /// Times Redis went away while this instance was using it.
    pub outages: u64,
    /// Misses that waited for another instance's computation (its lease)
    /// and then read the answer from Redis.
    pub collapsed: u64,
    /// Lookups answered as misses because Redis was down or too slow.
    pub unavailable: u64,
    /// Values that failed their check and were treated as misses.
    pub damaged: u64,
    /// Answers this instance computed and stored for the others.
    pub stored: u64,
    /// Bytes of answers this instance read from Redis.
    pub bytes_read: u64,
}

impl SharedTierReading {
    pub fn from_stats(stats: &RedisStats) -> Self {
        Self {
            up: stats.health == Health::Up,
            outages: stats.outages,
            collapsed: stats.collapsed,
            unavailable: stats.unavailable,
            damaged: stats.damaged,
            stored: stats.stored,
            bytes_read: stats.bytes_read,
        }
    }
}

impl Metrics {
    /// Metrics whose every series carries `instance="<instance>"`.
    pub fn new(instance: &str) -> Self {
        let request_seconds = Striped::new(|| {
            HistogramVec::new(
                HistogramOpts::new(
                    "cachelab_http_request_duration_seconds",
                    "Time from a request's headers being read to its response being ready, \
                     by route template, method and status class",
                )
                .const_label("instance", instance)
                .buckets(REQUEST_SECONDS_BUCKETS.to_vec()),
                &["route", "method", "status_class"],
            )
            .expect("the histogram's name, labels and buckets are valid")
        });
        Self {
            instance: instance.to_owned(),
            request_seconds,
        }
    }

    /// Records one answered request. `route` is the route's template
    /// (`/factorial/<n>`) or [`UNMATCHED_ROUTE`].
    pub fn observe_request(&self, route: &str, method: &str, status: u16, elapsed: Duration) {
        self.request_seconds
            .mine()
            .with_label_values(&[route, method, status_class(status)])
            .observe(elapsed.as_secs_f64());
    }

    /// Everything in Prometheus' text format: the request histograms, the
    /// tiers' counters as `tiers` read them, and the shared tier's own
    /// series when there is a shared tier (`shared`).
    pub fn render(&self, tiers: &[TierReading], shared: Option<&SharedTierReading>) -> String {
        let mut families = self.request_families();
        families.extend(self.tier_families(tiers));
        if let Some(shared) = shared {
            families.extend(self.shared_tier_families(shared));
        }
        families.sort_by(|a, b| a.name().cmp(b.name()));
        let mut text = String::with_capacity(8 * 1024);
        TextEncoder::new()
            .encode_utf8(&families, &mut text)
            .expect("every family has a name and at least one sample");
        text
    }

    /// The request histograms of every thread, added up series by series.
    fn request_families(&self) -> Vec<MetricFamily> {
        let mut merged: Option<MetricFamily> = None;
        let mut series: Vec<Metric> = Vec::new();
        for family in self.request_seconds.iter().flat_map(Collector::collect) {
            for metric in family.get_metric() {
                match series
                    .iter_mut()
                    .find(|seen| seen.get_label() == metric.get_label())
                {
                    Some(seen) => add_histogram(seen, metric),
                    None => series.push(metric.clone()),
                }
            }
            merged.get_or_insert(family);
        }
        let Some(mut family) = merged else {
            return Vec::new();
        };
        // A family with no series would still be written as a header with
        // no samples; the text format wants none at all.
        if series.is_empty() {
            return Vec::new();
        }
        // One series per thread's map, in no fixed order: sorted by their
        // labels, a scrape reads the same from one run to the next.
        series.sort_by_cached_key(|metric| {
            metric
                .get_label()
                .iter()
                .map(|pair| format!("{}={}", pair.name(), pair.value()))
                .collect::<Vec<_>>()
        });
        family.set_metric(series);
        vec![family]
    }

    fn tier_families(&self, tiers: &[TierReading]) -> Vec<MetricFamily> {
        let counter = |reading: &TierReading, value: Option<u64>| {
            let mut counter = Counter::default();
            counter.set_value(value? as f64);
            let mut metric = self.tier_metric(reading.tier);
            metric.set_counter(counter);
            Some(metric)
        };
        let gauge = |reading: &TierReading, value: Option<u64>| {
            let mut gauge = Gauge::default();
            gauge.set_value(value? as f64);
            let mut metric = self.tier_metric(reading.tier);
            metric.set_gauge(gauge);
            Some(metric)
        };
        type Sample<'a> = &'a dyn Fn(&TierReading) -> Option<Metric>;
        let families: [(&str, &str, MetricType, Sample); 7] = [
            (
                "cachelab_cache_hits_total",
                "Lookups the tier answered from what it held",
                MetricType::COUNTER,
                &|r| counter(r, Some(r.hits)),
            ),
            (
                "cachelab_cache_misses_total",
                "Lookups the tier could not answer from what it held",
                MetricType::COUNTER,
                &|r| counter(r, Some(r.misses)),
            ),
            (
                "cachelab_cache_evictions_total",
                "Entries removed to make room (least recently used first); redis evicts \
                 by itself and sends no sample",
                MetricType::COUNTER,
                &|r| counter(r, r.evictions),
            ),
            (
                "cachelab_cache_errors_total",
                "Faults the tier survived: unreadable content, failed writes, clears or removals, \
                 failed or timed-out calls to Redis",
                MetricType::COUNTER,
                &|r| counter(r, Some(r.errors)),
            ),
            (
                "cachelab_cache_not_modified_total",
                "Answers from the tier sent as 304 Not Modified, the client's copy being current",
                MetricType::COUNTER,
                &|r| counter(r, r.not_modified),
            ),
            (
                "cachelab_cache_entries",
                "Entries the tier holds now; a tier that cannot tell without work (redis) \
                 sends no sample",
                MetricType::GAUGE,
                &|r| gauge(r, r.entries),
            ),
            (
                "cachelab_cache_bytes",
                "Bytes the tier occupies now (disk: cache_dir as du -s counts it); \
                 a tier that does not measure it sends no sample",
                MetricType::GAUGE,
                &|r| gauge(r, r.bytes),
            ),
        ];
        families
            .into_iter()
            .filter_map(|(name, help, kind, sample)| {
                let metrics: Vec<Metric> = tiers.iter().filter_map(sample).collect();
                if metrics.is_empty() {
                    return None;
                }
                let mut family = MetricFamily::default();
                family.set_name(name.to_owned());
                family.set_help(help.to_owned());
                family.set_field_type(kind);
                family.set_metric(metrics);
                Some(family)
            })
            .collect()
    }

    fn shared_tier_families(&self, shared: &SharedTierReading) -> Vec<MetricFamily> {
        let families: [(&str, &str, MetricType, u64); 7] = [
            (
                "cachelab_redis_up",
                "1 while Redis answers, 0 while it is being connected to or is down \
                 (every lookup is then a miss)",
                MetricType::GAUGE,
                u64::from(shared.up),
            ),
            (
                "cachelab_redis_outages_total",
                "Times Redis stopped answering while this instance was using it",
                MetricType::COUNTER,
                shared.outages,
            ),
            (
                "cachelab_redis_collapsed_total",
                "Misses that waited for another instance computing the same answer \
                 (it held the lease) and read its answer from Redis",
                MetricType::COUNTER,
                shared.collapsed,
            ),
            (
                "cachelab_redis_unavailable_total",
                "Lookups answered as misses because Redis was down or too slow",
                MetricType::COUNTER,
                shared.unavailable,
            ),
            (
                "cachelab_redis_damaged_total",
                "Values in Redis that failed their check and were treated as misses",
                MetricType::COUNTER,
                shared.damaged,
            ),
            (
                "cachelab_redis_stored_total",
                "Answers this instance computed and stored in Redis for the others",
                MetricType::COUNTER,
                shared.stored,
            ),
            (
                "cachelab_redis_read_bytes_total",
                "Bytes of answers this instance read from Redis",
                MetricType::COUNTER,
                shared.bytes_read,
            ),
        ];
        families
            .into_iter()
            .map(|(name, help, kind, value)| {
                let mut metric = Metric::from_label(vec![label("instance", &self.instance)]);
                if kind == MetricType::GAUGE {
                    let mut gauge = Gauge::default();
                    gauge.set_value(value as f64);
                    metric.set_gauge(gauge);
                } else {
                    let mut counter = Counter::default();
                    counter.set_value(value as f64);
                    metric.set_counter(counter);
                }
                let mut family = MetricFamily::default();
                family.set_name(name.to_owned());
                family.set_help(help.to_owned());
                family.set_field_type(kind);
                family.set_metric(vec![metric]);
                family
            })
            .collect()
    }

    fn tier_metric(&self, tier: &str) -> Metric {
        Metric::from_label(vec![label("instance", &self.instance), label("tier", tier)])
    }
}

fn label(name: &str, value: &str) -> LabelPair {
    let mut pair = LabelPair::default();
    pair.set_name(name.to_owned());
    pair.set_value(value.to_owned());
    pair
}

/// Adds `more`'s counts to `into`: two threads' samples of one series.
fn add_histogram(into: &mut Metric, more: &Metric) {
    let (mut sum, more) = (into.get_histogram().clone(), more.get_histogram());
    sum.set_sample_count(sum.get_sample_count() + more.get_sample_count());
    sum.set_sample_sum(sum.get_sample_sum() + more.get_sample_sum());
    let buckets = sum
        .get_bucket()
        .iter()
        .zip(more.get_bucket())
        .map(|(bucket, more)| {
            let mut bucket = bucket.clone();
            bucket.set_cumulative_count(bucket.cumulative_count() + more.cumulative_count());
            bucket
        })
        .collect();
    sum.set_bucket(buckets);
    into.set_histogram(sum);
}

/// `2xx`, `4xx`: few enough values that every route can have each.
fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(tier: &'static str, bytes: Option<u64>) -> TierReading {
        TierReading {
            tier,
            hits: 3,
            misses: 2,
            evictions: Some(1),
            errors: 0,
            not_modified: Some(4),
            entries: Some(5),
            bytes,
        }
    }

    #[test]
    fn a_tier_that_does_not_measure_bytes_sends_no_bytes_sample() {
        let text = Metrics::new("8000").render(
            &[reading("memory", None), reading("disk", Some(4096))],
            None,
        );
        assert!(text.contains("cachelab_cache_bytes{instance=\"8000\",tier=\"disk\"} 4096\n"));
        assert!(!text.contains("cachelab_cache_bytes{instance=\"8000\",tier=\"memory\"}"));
        assert!(text.contains("cachelab_cache_hits_total{instance=\"8000\",tier=\"memory\"} 3\n"));
    }

    #[test]
    fn the_shared_tier_sends_its_own_series_and_no_entries_it_cannot_count() {
        let redis = TierReading {
            tier: "redis",
            evictions: None,
            not_modified: None,
            entries: None,
            ..reading("redis", None)
        };
        let shared = SharedTierReading {
            up: true,
            outages: 2,
            collapsed: 0,
            unavailable: 7,
            damaged: 0,
            stored: 1,
            bytes_read: 19,
        };
        let text = Metrics::new("a").render(&[reading("memory", None), redis], Some(&shared));
        assert!(text.contains("cachelab_cache_hits_total{instance=\"a\",tier=\"redis\"} 3\n"));
        assert!(!text.contains("cachelab_cache_entries{instance=\"a\",tier=\"redis\"}"));
        assert!(!text.contains("cachelab_cache_evictions_total{instance=\"a\",tier=\"redis\"}"));
        assert!(text.contains("cachelab_redis_up{instance=\"a\"} 1\n"));
        assert!(text.contains("# TYPE cachelab_redis_up gauge\n"));
        assert!(text.contains("cachelab_redis_outages_total{instance=\"a\"} 2\n"));
        assert!(text.contains("# TYPE cachelab_redis_outages_total counter\n"));
        assert!(text.contains("cachelab_redis_unavailable_total{instance=\"a\"} 7\n"));

        let without = Metrics::new("a").render(&[reading("memory", None)], None);
        assert!(!without.contains("cachelab_redis_"));
    }

    #[test]
    fn requests_are_counted_by_route_template_and_status_class() {
        let metrics = Metrics::new("8000");
        metrics.observe_request("/factorial/<n>", "GET", 200, Duration::from_micros(30));
        metrics.observe_request("/factorial/<n>", "GET", 304, Duration::from_micros(20));
        metrics.observe_request("/factorial/<n>", "GET", 204, Duration::from_micros(20));
        let text = metrics.render(&[], None);
        assert!(text.contains(
            "cachelab_http_request_duration_seconds_count{instance=\"8000\",method=\"GET\",\
             route=\"/factorial/<n>\",status_class=\"2xx\"} 2\n"
        ));
        assert!(text.contains(
            "cachelab_http_request_duration_seconds_count{instance=\"8000\",method=\"GET\",\
             route=\"/factorial/<n>\",status_class=\"3xx\"} 1\n"
        ));
    }
}
