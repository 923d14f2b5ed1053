//! `GET /metrics` as Prometheus scrapes it: each tier's counters move with
//! the requests that moved `/stats`, every route's requests are timed under
//! its template, and the text is what Prometheus can read; with a real
//! redis-server, the shared tier's series step exactly with a Redis hit and
//! an outage.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use cachelab_testkit::RedisServer;
use rocket::http::{Header, Status};

use crate::helpers::{setting, Answer, TestApp};

/// One sample line: `name{label="value",...} value`.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// A scrape, read the way Prometheus reads the text format (version 0.0.4).
struct Scrape {
    samples: Vec<Sample>,
    /// `# TYPE` of each family: `counter`, `gauge`, `histogram`.
    types: BTreeMap<String, String>,
    helped: BTreeSet<String>,
}

impl Scrape {
    /// Parses `text`, failing the test on any line Prometheus would refuse.
    fn parse(text: &str) -> Self {
        let mut scrape = Scrape {
            samples: Vec::new(),
            types: BTreeMap::new(),
            helped: BTreeSet::new(),
        };
        for line in text.lines().filter(|line| !line.is_empty()) {
            if let Some(rest) = line.strip_prefix("# HELP ") {
                let (name, _) = rest.split_once(' ').expect("# HELP <name> <text>");
                scrape.helped.insert(name.to_owned());
            } else if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').expect("# TYPE <name> <type>");
                assert!(
                    ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                    "unknown type in {line:?}"
                );
                scrape.types.insert(name.to_owned(), kind.to_owned());
            } else {
                assert!(
                    !line.starts_with('#'),
                    "a comment Prometheus skips: {line:?}"
                );
                scrape.samples.push(parse_sample(line));
            }
        }
        scrape
    }

    /// The value of the one sample named `name` whose labels include `labels`.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let matching: Vec<&Sample> = self
            .samples
            .iter()
            .filter(|sample| {
                sample.name == name
                    && labels.iter().all(|(key, value)| {
                        sample.labels.get(*key).map(String::as_str) == Some(value)
                    })
            })
            .collect();
        assert!(
            matching.len() <= 1,
            "more than one {name} {labels:?}: {matching:?}"
        );
        matching.first().map(|sample| sample.value)
    }

    fn tier(&self, name: &str, tier: &str) -> f64 {
        self.value(name, &[("tier", tier)])
            .unwrap_or_else(|| panic!("{name}{{tier={tier:?}}} is in the scrape"))
    }

    /// The family a sample belongs to: a histogram's `_bucket`, `_sum` and
    /// `_count` samples belong to the name its `# TYPE` line gives.
    fn family_of<'s>(&self, sample: &'s str) -> &'s str {
        for suffix in ["_bucket", "_sum", "_count"] {
            if let Some(base) = sample.strip_suffix(suffix) {
                if self.types.get(base).map(String::as_str) == Some("histogram") {
                    return base;
                }
            }
        }
        sample
    }
}

fn parse_sample(line: &str) -> Sample {
    let name_end = line
        .find(['{', ' '])
        .unwrap_or_else(|| panic!("no value in {line:?}"));
    let name = &line[..name_end];
    assert!(
        !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
            && !name.starts_with(|c: char| c.is_ascii_digit()),
        "not a metric name in {line:?}"
    );
    let mut labels = BTreeMap::new();
    let mut rest = &line[name_end..];
    if let Some(mut inside) = rest.strip_prefix('{') {
        loop {
            if let Some(after) = inside.strip_prefix('}') {
                rest = after;
                break;
            }
            let (label, after) = inside
                .split_once("=\"")
                .unwrap_or_else(|| panic!("a label without =\" in {line:?}"));
            let mut value = String::new();
            let mut chars = after.char_indices();
            let end = loop {
                match chars.next() {
                    Some((_, '\\')) => match chars.next() {
                        Some((_, 'n')) => value.push('\n'),
                        Some((_, escaped @ ('\\' | '"'))) => value.push(escaped),
                        other => panic!("bad escape {other:?} in {line:?}"),
                    },
                    Some((at, '"')) => break at,
                    Some((_, c)) => value.push(c),
                    None => panic!("unterminated label value in {line:?}"),
                }
            };
            labels.insert(label.to_owned(), value);
            inside = &after[end + 1..];
            inside = inside.strip_prefix(',').unwrap_or(inside);
        }
    }
    let value = rest
        .strip_prefix(' ')
        .unwrap_or_else(|| panic!("no space before the value in {line:?}"));
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        number => number
            .parse()
            .unwrap_or_else(|_| panic!("not a number: {number:?} in {line:?}")),
    };
    Sample {
        name: name.to_owned(),
        labels,
        value,
    }
}

fn scrape(app: &TestApp) -> Scrape {
    let answer = app.get("/metrics");
    assert_eq!(answer.status, Status::Ok);
    Scrape::parse(&answer.body)
}

/// The `instance` label this app's series carry: its `instance_name`.
fn instance_of(app: &TestApp) -> String {
    app.client
        .rocket()
        .state::<cachelab::lab::Lab>()
        .expect("the app manages its lab")
        .config()
        .instance_name
        .to_string()
}

fn get_with_tag(app: &TestApp, uri: &str, etag: &str) -> Answer {
    Answer::from(
        app.client
            .get(uri.to_owned())
            .header(Header::new("If-None-Match", etag.to_owned()))
            .dispatch(),
    )
}

#[test]
fn a_scrape_is_sent_as_prometheus_text_that_no_cache_keeps() {
    let app = TestApp::new();
    let answer = app.get("/metrics");
    assert_eq!(answer.status, Status::Ok);
    assert_eq!(
        answer.header("Content-Type"),
        Some("text/plain; version=0.0.4")
    );
    assert_eq!(answer.header("Cache-Control"), Some("no-store"));
}

#[test]
fn a_miss_then_a_hit_of_one_factorial_moves_the_memory_counters_by_one_each() {
    let app = TestApp::new();
    let before = scrape(&app);

    assert_eq!(app.get("/factorial/12").x_cache(), "MISS");
    assert_eq!(app.get("/factorial/12").x_cache(), "HIT");

    let after = scrape(&app);
    for (name, rise) in [
        ("cachelab_cache_hits_total", 1.0),
        ("cachelab_cache_misses_total", 1.0),
    ] {
        assert_eq!(
            after.tier(name, "memory") - before.tier(name, "memory"),
            rise,
            "{name}"
        );
    }
    assert!(after.tier("cachelab_cache_entries", "memory") >= 1.0);
    // The disk tier was not asked.
    assert_eq!(after.tier("cachelab_cache_hits_total", "disk"), 0.0);

    // One more hit tells hits from misses.
    assert_eq!(app.get("/factorial/12").x_cache(), "HIT");
    let again = scrape(&app);
    assert_eq!(
        again.tier("cachelab_cache_hits_total", "memory")
            - before.tier("cachelab_cache_hits_total", "memory"),
        2.0
    );
    assert_eq!(
        again.tier("cachelab_cache_misses_total", "memory"),
        after.tier("cachelab_cache_misses_total", "memory")
    );
}

#[test]
fn a_disk_store_and_a_disk_hit_show_in_the_disk_series() {
    let app = TestApp::new();
    let body = r#"{"metrics": "disk"}"#;
    assert_eq!(app.post_json("/data", body).x_cache(), "MISS");
    assert_eq!(app.post_json("/data", body).x_cache(), "HIT");
    assert_eq!(app.post_json("/data", body).x_cache(), "HIT");

    let after = scrape(&app);
    assert_eq!(after.tier("cachelab_cache_misses_total", "disk"), 1.0);
    assert_eq!(after.tier("cachelab_cache_hits_total", "disk"), 2.0);
    assert_eq!(after.tier("cachelab_cache_entries", "disk"), 1.0);
    assert!(after.tier("cachelab_cache_bytes", "disk") > 0.0);
    assert_eq!(after.tier("cachelab_cache_errors_total", "disk"), 0.0);
}

#[test]
fn answers_sent_as_304_count_as_not_modified_in_their_tier() {
    let app = TestApp::new();
    let etag = app
        .get("/factorial/9")
        .header("ETag")
        .expect("n! is tagged")
        .to_owned();
    let stored = app.post_json("/data", r#"{"revalidate": true}"#);
    let key = stored.header("X-Cache-Key").expect("a key").to_owned();
    let disk_etag = app
        .get(&format!("/data/{key}"))
        .header("ETag")
        .expect("a stored answer is tagged")
        .to_owned();

    assert_eq!(
        get_with_tag(&app, "/factorial/9", &etag).status,
        Status::NotModified
    );
    assert_eq!(
        get_with_tag(&app, &format!("/data/{key}"), &disk_etag).status,
        Status::NotModified
    );

    let after = scrape(&app);
    assert_eq!(
        after.tier("cachelab_cache_not_modified_total", "memory"),
        1.0
    );
    assert_eq!(after.tier("cachelab_cache_not_modified_total", "disk"), 1.0);
}

#[test]
fn requests_are_timed_under_their_route_template_and_status_class() {
    let app = TestApp::new();
    let etag = app
        .get("/factorial/6")
        .header("ETag")
        .expect("n! is tagged")
        .to_owned();
    app.get("/factorial/7");
    get_with_tag(&app, "/factorial/6", &etag);
    app.get("/factorial/not-a-number");
    app.get("/no/such/page-4711");

    let after = scrape(&app);
    let count = |route: &str, class: &str| {
        after
            .value(
                "cachelab_http_request_duration_seconds_count",
                &[("route", route), ("method", "GET"), ("status_class", class)],
            )
            .unwrap_or(0.0)
    };
    assert_eq!(count("/factorial/<n>", "2xx"), 2.0);
    assert_eq!(count("/factorial/<n>", "3xx"), 1.0);
    assert_eq!(count("/factorial/<n>", "4xx"), 1.0);
    // A path no route serves is one series, whatever the path was.
    assert_eq!(count("unmatched", "4xx"), 1.0);
    let text = app.get("/metrics").body;
    assert!(!text.contains("page-4711"));
    assert!(!text.contains("not-a-number"));
    // The histogram's buckets are cumulative and end at +Inf with the count.
    let inf = after
        .value(
            "cachelab_http_request_duration_seconds_bucket",
            &[
                ("route", "/factorial/<n>"),
                ("status_class", "2xx"),
                ("le", "+Inf"),
            ],
        )
        .expect("a +Inf bucket");
    assert_eq!(inf, 2.0);
}

#[test]
fn the_instance_label_is_the_instances_own_name() {
    let app = TestApp::with(|settings| settings.merge(setting("instance_name", "blue")));
    app.get("/factorial/5");
    let scrape = scrape(&app);
    assert!(!scrape.samples.is_empty());
    for sample in &scrape.samples {
        assert_eq!(
            sample.labels.get("instance").map(String::as_str),
            Some("blue"),
            "{sample:?}"
        );
    }
    assert_eq!(app.get("/health").header("X-Instance"), Some("blue"));
}

#[test]
fn every_series_is_described_and_labelled_with_the_instance() {
    let app = TestApp::new();
    app.get("/factorial/5");
    app.post_json("/data", r#"{"labelled": 1}"#);

    let scrape = scrape(&app);
    let instance = instance_of(&app);
    assert!(!scrape.samples.is_empty());
    for sample in &scrape.samples {
        assert_eq!(
            sample.labels.get("instance"),
            Some(&instance),
            "{sample:?} carries the instance"
        );
        let family = scrape.family_of(&sample.name);
        assert!(scrape.types.contains_key(family), "# TYPE for {family}");
        assert!(scrape.helped.contains(family), "# HELP for {family}");
    }
    for name in [
        "cachelab_cache_hits_total",
        "cachelab_cache_misses_total",
        "cachelab_cache_evictions_total",
        "cachelab_cache_errors_total",
        "cachelab_cache_not_modified_total",
        "cachelab_cache_entries",
    ] {
        for tier in ["memory", "disk"] {
            scrape.tier(name, tier);
        }
    }
    assert_eq!(
        scrape.types.get("cachelab_http_request_duration_seconds"),
        Some(&"histogram".to_owned())
    );
    assert_eq!(
        scrape.types.get("cachelab_cache_hits_total"),
        Some(&"counter".to_owned())
    );
}

/// An app as the instance `name`, with the shared tier at `redis`, once
/// the shared tier answers (its keeper connects in the background).
fn instance_on(name: &str, redis: &RedisServer) -> TestApp {
    let app = TestApp::with(|settings| {
        settings
            .merge(setting("instance_name", name))
            .merge(setting("redis_url", redis.url()))
            .merge(setting("redis_timeout_ms", 1000))
    });
    assert!(
        app.wait_for(Duration::from_secs(10), |app| {
            scrape(app).value("cachelab_redis_up", &[]) == Some(1.0)
        }),
        "the shared tier of {name} never came up"
    );
    app
}

/// How much each of `names` rose from `before` to `after`, in the `redis`
/// tier or, for the shared tier's own series, unlabelled.
fn redis_rises(before: &Scrape, after: &Scrape, names: &[&str]) -> Vec<(String, f64)> {
    names
        .iter()
        .map(|name| {
            let read = |scrape: &Scrape| {
                scrape
                    .value(name, &[("tier", "redis")])
                    .or_else(|| scrape.value(name, &[]))
                    .unwrap_or_else(|| panic!("{name} is in the scrape"))
            };
            ((*name).to_owned(), read(after) - read(before))
        })
        .collect()
}

#[test]
fn without_a_redis_url_there_are_no_redis_series() {
    let app = TestApp::new();
    app.get("/factorial/5");
    let text = app.get("/metrics").body;
    assert!(!text.contains("tier=\"redis\""), "{text}");
    assert!(!text.contains("cachelab_redis_"), "{text}");
}

#[test]
fn a_redis_hit_moves_the_redis_hits_by_one_and_nothing_else() {
    let redis = cachelab_testkit::redis_or_skip!();
    let (a, b) = (instance_on("a", &redis), instance_on("b", &redis));
    let a_before = scrape(&a);
    let b_before = scrape(&b);

    let computed = a.get("/factorial/20");
    assert_eq!(
        computed.header("Cache-Status"),
        Some("cachelab-redis;fwd=miss;stored, cachelab-memory;fwd=miss;stored")
    );
    let shared = b.get("/factorial/20");
    assert_eq!(
        shared.header("Cache-Status"),
        Some("cachelab-redis;hit, cachelab-memory;fwd=miss;stored")
    );

    let names = [
        "cachelab_cache_hits_total",
        "cachelab_cache_misses_total",
        "cachelab_cache_errors_total",
        "cachelab_redis_stored_total",
        "cachelab_redis_collapsed_total",
        "cachelab_redis_unavailable_total",
        "cachelab_redis_outages_total",
        "cachelab_redis_up",
    ];
    let rises = |before: &Scrape, after: &Scrape| {
        redis_rises(before, after, &names)
            .into_iter()
            .filter(|(_, rise)| *rise != 0.0)
            .collect::<Vec<_>>()
    };
    let a_after = scrape(&a);
    let b_after = scrape(&b);
    assert_eq!(
        rises(&a_before, &a_after),
        vec![
            ("cachelab_cache_misses_total".to_owned(), 1.0),
            ("cachelab_redis_stored_total".to_owned(), 1.0),
        ],
        "a missed, computed and stored"
    );
    assert_eq!(
        rises(&b_before, &b_after),
        vec![("cachelab_cache_hits_total".to_owned(), 1.0)],
        "b read it"
    );
    // What b read is the stored answer: the bytes it sent back.
    assert_eq!(
        b_after.value("cachelab_redis_read_bytes_total", &[]),
        Some(shared.body.len() as f64)
    );
    // Its memory missed, and was filled from Redis.
    assert_eq!(
        b_after.tier("cachelab_cache_misses_total", "memory")
            - b_before.tier("cachelab_cache_misses_total", "memory"),
        1.0
    );
    // The next one is the memory's, and Redis is not asked.
    assert_eq!(
        b.get("/factorial/20").header("Cache-Status"),
        Some("cachelab-memory;hit")
    );
    assert_eq!(
        redis_rises(&b_after, &scrape(&b), &["cachelab_cache_hits_total"]),
        vec![("cachelab_cache_hits_total".to_owned(), 0.0)]
    );
}

#[test]
fn an_outage_is_one_error_one_outage_and_a_down_gauge_then_unavailable_lookups() {
    let mut redis = cachelab_testkit::redis_or_skip!();
    let app = instance_on("a", &redis);
    let before = scrape(&app);

    redis.stop();
    // No request asks: the keeper's own check notices, with one failed call.
    assert!(
        app.wait_for(Duration::from_secs(10), |app| {
            scrape(app).value("cachelab_redis_up", &[]) == Some(0.0)
        }),
        "the gauge never fell to 0"
    );
    let down = scrape(&app);
    assert_eq!(
        redis_rises(
            &before,
            &down,
            &[
                "cachelab_cache_errors_total",
                "cachelab_redis_outages_total",
                "cachelab_redis_unavailable_total",
                "cachelab_cache_misses_total",
            ]
        ),
        vec![
            ("cachelab_cache_errors_total".to_owned(), 1.0),
            ("cachelab_redis_outages_total".to_owned(), 1.0),
            ("cachelab_redis_unavailable_total".to_owned(), 0.0),
            ("cachelab_cache_misses_total".to_owned(), 0.0),
        ]
    );

    // While it is down each lookup is unavailable at once: not a miss of
    // Redis, and no further error, since Redis is not asked.
    for n in 60..63 {
        assert_eq!(app.get(&format!("/factorial/{n}")).status, Status::Ok);
    }
    let during = scrape(&app);
    assert_eq!(
        redis_rises(
            &down,
            &during,
            &[
                "cachelab_redis_unavailable_total",
                "cachelab_cache_errors_total",
                "cachelab_cache_misses_total",
                "cachelab_cache_hits_total",
            ]
        ),
        vec![
            ("cachelab_redis_unavailable_total".to_owned(), 3.0),
            ("cachelab_cache_errors_total".to_owned(), 0.0),
            ("cachelab_cache_misses_total".to_owned(), 0.0),
            ("cachelab_cache_hits_total".to_owned(), 0.0),
        ]
    );

    redis.start_again();
    assert!(
        app.wait_for(Duration::from_secs(10), |app| {
            scrape(app).value("cachelab_redis_up", &[]) == Some(1.0)
        }),
        "the gauge never rose to 1 again"
    );
    assert_eq!(
        redis_rises(&during, &scrape(&app), &["cachelab_redis_outages_total"]),
        vec![("cachelab_redis_outages_total".to_owned(), 0.0)],
        "coming back is not another outage"
    );
}
