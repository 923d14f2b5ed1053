//! What the app tells Prometheus about itself, in its text format.
//!
//! Two kinds of series, each labelled with the app's `instance`:
//!
//! - every cache tier's counters (`cachelab_cache_*`, labelled by `tier`),
//!   read from the tier's own stats when Prometheus scrapes, so a cache hit
//!   does no work for them;
//! - how long each route takes to answer
//!   (`cachelab_http_request_duration_seconds`), by the route's template
//!   (`/factorial/<n>`, never the path asked for, so the number of series
//!   stays bounded), method and status class.
//!
//! Nothing here knows Rocket: `web::metrics` reads the routes and serves
//! the text.

use std::time::Duration;

use prometheus::proto::{Counter, Gauge, LabelPair, Metric, MetricFamily, MetricType};
use prometheus::{HistogramOpts, HistogramVec, Registry, TextEncoder};

use crate::disk::DiskStats;
use crate::memory::MemoryStats;

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
    registry: Registry,
    request_seconds: HistogramVec,
}

/// One cache tier's counters at the moment of a scrape.
///
/// A tier that cannot measure something leaves it `None`, and sends no
/// sample for it rather than a zero that would read as a measurement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TierReading {
    /// The `tier` label: `memory`, `disk` (and a later tier's own name).
    pub tier: &'static str,
    pub hits: u64,
    pub misses: u64,
    pub evictions: u64,
    /// Faults the tier survived (unreadable content, failed writes).
    pub errors: u64,
    /// Answers sent as 304 Not Modified (each is also a hit or a miss).
    pub not_modified: u64,
    pub entries: u64,
    /// What the tier's stored answers occupy.
    pub bytes: Option<u64>,
}

impl TierReading {
    pub fn memory(stats: &MemoryStats) -> Self {
        Self {
            tier: "memory",
            hits: stats.hits,
            misses: stats.misses,
            evictions: stats.evictions,
            // Nothing in the memory tier can fail and be survived: a value
            // is in the map or it is computed.
            errors: 0,
            not_modified: stats.not_modified,
            entries: u64::try_from(stats.entries).unwrap_or(u64::MAX),
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
            evictions: stats.evictions,
            errors: stats.errors,
            not_modified: stats.not_modified,
            entries: stats.entries,
            // What `disk_max_bytes` bounds: the directory as `du -s` counts it.
            bytes: Some(stats.bytes_on_disk),
        }
    }
}

impl Metrics {
    /// Metrics whose every series carries `instance="<instance>"`.
    pub fn new(instance: &str) -> Self {
        let registry = Registry::new();
        let request_seconds = HistogramVec::new(
            HistogramOpts::new(
                "cachelab_http_request_duration_seconds",
                "Time from a request's headers being read to its response being ready, \
                 by route template, method and status class",
            )
            .const_label("instance", instance)
            .buckets(REQUEST_SECONDS_BUCKETS.to_vec()),
            &["route", "method", "status_class"],
        )
        .expect("the histogram's name, labels and buckets are valid");
        registry
            .register(Box::new(request_seconds.clone()))
            .expect("a new registry holds no metric of the same name");
        Self {
            instance: instance.to_owned(),
            registry,
            request_seconds,
        }
    }

    /// Records one answered request. `route` is the route's template
    /// (`/factorial/<n>`) or [`UNMATCHED_ROUTE`].
    pub fn observe_request(&self, route: &str, method: &str, status: u16, elapsed: Duration) {
        self.request_seconds
            .with_label_values(&[route, method, status_class(status)])
            .observe(elapsed.as_secs_f64());
    }

    /// Everything in Prometheus' text format: the request histograms and
    /// the tiers' counters as `tiers` read them.
    pub fn render(&self, tiers: &[TierReading]) -> String {
        let mut families = self.registry.gather();
        families.extend(self.tier_families(tiers));
        families.sort_by(|a, b| a.name().cmp(b.name()));
        let mut text = String::with_capacity(8 * 1024);
        TextEncoder::new()
            .encode_utf8(&families, &mut text)
            .expect("every family has a name and at least one sample");
        text
    }

    fn tier_families(&self, tiers: &[TierReading]) -> Vec<MetricFamily> {
        let counter = |reading: &TierReading, value: u64| {
            let mut counter = Counter::default();
            counter.set_value(value as f64);
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
                &|r| counter(r, r.hits),
            ),
            (
                "cachelab_cache_misses_total",
                "Lookups the tier could not answer from what it held",
                MetricType::COUNTER,
                &|r| counter(r, r.misses),
            ),
            (
                "cachelab_cache_evictions_total",
                "Entries removed to make room (least recently used first)",
                MetricType::COUNTER,
                &|r| counter(r, r.evictions),
            ),
            (
                "cachelab_cache_errors_total",
                "Faults the tier survived: unreadable content, failed writes, clears or removals",
                MetricType::COUNTER,
                &|r| counter(r, r.errors),
            ),
            (
                "cachelab_cache_not_modified_total",
                "Answers from the tier sent as 304 Not Modified, the client's copy being current",
                MetricType::COUNTER,
                &|r| counter(r, r.not_modified),
            ),
            (
                "cachelab_cache_entries",
                "Entries the tier holds now",
                MetricType::GAUGE,
                &|r| gauge(r, Some(r.entries)),
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
            evictions: 1,
            errors: 0,
            not_modified: 4,
            entries: 5,
            bytes,
        }
    }

    #[test]
    fn a_tier_that_does_not_measure_bytes_sends_no_bytes_sample() {
        let text =
            Metrics::new("8000").render(&[reading("memory", None), reading("disk", Some(4096))]);
        assert!(text.contains("cachelab_cache_bytes{instance=\"8000\",tier=\"disk\"} 4096\n"));
        assert!(!text.contains("cachelab_cache_bytes{instance=\"8000\",tier=\"memory\"}"));
        assert!(text.contains("cachelab_cache_hits_total{instance=\"8000\",tier=\"memory\"} 3\n"));
    }

    #[test]
    fn requests_are_counted_by_route_template_and_status_class() {
        let metrics = Metrics::new("8000");
        metrics.observe_request("/factorial/<n>", "GET", 200, Duration::from_micros(30));
        metrics.observe_request("/factorial/<n>", "GET", 304, Duration::from_micros(20));
        metrics.observe_request("/factorial/<n>", "GET", 204, Duration::from_micros(20));
        let text = metrics.render(&[]);
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
