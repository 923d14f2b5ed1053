//! The shared tier with real binaries: instances that each have a memory
//! and a disk of their own (as on machines of their own) and one
//! redis-server between them. A value computed on one is a Redis hit on
//! the others; clearing one's memory clears theirs; Redis going away mid-run
//! costs misses, never a failed or slow answer, and sharing comes back by
//! itself; behind nginx's round-robin three instances compute a value once.

use std::time::{Duration, Instant};

use cachelab_testkit::RedisServer;
use serde_json::Value;

use crate::proxy::Proxy;
use crate::server::{send_raw, Reply, Server};

/// How long a deadline may run before the test gives up: generous, since
/// the machine may be busy; every wait below ends as soon as its condition
/// holds.
const PATIENCE: Duration = Duration::from_secs(15);

/// Instances named `names`, each with its own cache_dir, all on `redis`.
struct Instances {
    // Dropped in this order: the processes stop before their directories go.
    servers: Vec<Server>,
    _dirs: Vec<tempfile::TempDir>,
}

impl Instances {
    fn start(names: &[&str], redis: &RedisServer) -> Self {
        let url = redis.url();
        let mut servers = Vec::new();
        let mut dirs = Vec::new();
        for name in names {
            let dir = tempfile::tempdir().expect("temp dir");
            let progress = dir.path().join("progress.jsonl");
            let progress = progress.to_str().expect("a UTF-8 temp path").to_owned();
            servers.push(Server::start(
                &dir.path().join("cache"),
                &[
                    ("ROCKET_INSTANCE_NAME", name),
                    ("ROCKET_PROGRESS_FILE", &progress),
                    ("ROCKET_REDIS_URL", &url),
                ],
            ));
            dirs.push(dir);
        }
        let instances = Self {
            servers,
            _dirs: dirs,
        };
        for server in &instances.servers {
            wait_for_health(server, "up");
        }
        instances
    }
}

fn get(server: &Server, path: &str) -> Reply {
    request(server, "GET", path)
}

fn request(server: &Server, method: &str, path: &str) -> Reply {
    let port = server.port;
    let raw =
        format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    send_raw(port, raw.as_bytes()).unwrap_or_else(|error| panic!("{method} {path}: {error}"))
}

fn stats(server: &Server) -> Value {
    let reply = get(server, "/stats");
    assert_eq!(reply.status, 200, "{}", reply.body_text());
    serde_json::from_slice(&reply.body).expect("/stats answers JSON")
}

/// Polls `/stats` until `condition` holds of it, up to [`PATIENCE`];
/// returns the last `/stats` read and whether it held.
fn stats_when(server: &Server, condition: impl Fn(&Value) -> bool) -> (Value, bool) {
    let started = Instant::now();
    loop {
        let now = stats(server);
        if condition(&now) {
            return (now, true);
        }
        if started.elapsed() > PATIENCE {
            return (now, false);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn wait_for_health(server: &Server, health: &str) {
    let (last, held) = stats_when(server, |stats| stats["redis"]["stats"]["health"] == health);
    assert!(
        held,
        "the shared tier on port {} never became {health}: {}",
        server.port, last["redis"]
    );
}

/// (X-Instance, Cache-Status) of a 200 answer.
fn who_and_how(reply: &Reply) -> (String, String) {
    assert_eq!(reply.status, 200, "{}", reply.body_text());
    (
        reply.header("X-Instance").unwrap_or("").to_owned(),
        reply.header("Cache-Status").unwrap_or("").to_owned(),
    )
}

const COMPUTED_AND_SHARED: &str = "cachelab-redis;fwd=miss;stored, cachelab-memory;fwd=miss;stored";
const FROM_REDIS: &str = "cachelab-redis;hit, cachelab-memory;fwd=miss;stored";
const FROM_MEMORY: &str = "cachelab-memory;hit";

#[test]
fn three_instances_on_one_redis_compute_a_value_once_and_clear_each_others_memory() {
    let redis = cachelab_testkit::redis_or_skip!();
    let instances = Instances::start(&["a", "b", "c"], &redis);
    let [a, b, c] = &instances.servers[..] else {
        unreachable!("three instances were started");
    };

    let first = get(a, "/factorial/20");
    assert_eq!(
        who_and_how(&first),
        ("a".into(), COMPUTED_AND_SHARED.into())
    );
    for (server, name) in [(b, "b"), (c, "c")] {
        let shared = get(server, "/factorial/20");
        assert_eq!(
            who_and_how(&shared),
            (name.into(), FROM_REDIS.into()),
            "computed on a, read from Redis on {name}"
        );
        assert_eq!(shared.body, first.body, "the very same bytes");
        assert_eq!(shared.header("ETag"), first.header("ETag"));
        assert_eq!(
            who_and_how(&get(server, "/factorial/20")),
            (name.into(), FROM_MEMORY.into()),
            "then it is in {name}'s memory"
        );
        assert_eq!(
            stats(server)["memory"]["computed"],
            0,
            "{name} computed nothing"
        );
    }
    assert_eq!(stats(a)["redis"]["stats"]["stored"], 1);

    // a clears its memory: b's and c's empty too, through Redis pub/sub.
    let cleared = request(a, "DELETE", "/cache/memory");
    assert_eq!(cleared.status, 200, "{}", cleared.body_text());
    for (server, name) in [(b, "b"), (c, "c")] {
        let (last, held) = stats_when(server, |stats| stats["memory"]["entries"] == 0);
        assert!(
            held,
            "{name}'s memory was never emptied: {}",
            last["memory"]
        );
        assert_eq!(last["redis"]["arrivals"][0]["from_instance"], "a");
        assert_eq!(last["redis"]["arrivals"][0]["scope"], "memory");
        assert_eq!(
            who_and_how(&get(server, "/factorial/20")),
            (name.into(), FROM_REDIS.into()),
            "{name}'s memory no longer has it; Redis still does"
        );
    }
    assert_eq!(
        stats(a)["redis"]["stats"]["invalidations_sent"],
        1,
        "one message reached both"
    );
}

#[test]
fn redis_stopped_mid_run_costs_misses_only_and_sharing_resumes_by_itself() {
    let mut redis = cachelab_testkit::redis_or_skip!();
    let instances = Instances::start(&["a", "b"], &redis);
    let [a, b] = &instances.servers[..] else {
        unreachable!("two instances were started");
    };
    assert_eq!(
        who_and_how(&get(b, &format!("/factorial/{}", 99))).1,
        COMPUTED_AND_SHARED
    );

    // Requests alternate between the two; Redis is killed after a third of
    // them. Each must still answer, and quickly: the one that finds Redis
    // gone waits at most redis_timeout_ms (100 ms), later ones skip it.
    let mut slowest = Duration::ZERO;
    for step in 0..30u64 {
        if step == 10 {
            redis.stop();
        }
        let server = if step % 2 == 0 { a } else { b };
        let started = Instant::now();
        let reply = get(server, &format!("/factorial/{}", 100 + step));
        slowest = slowest.max(started.elapsed());
        assert_eq!(reply.status, 200, "step {step}: {}", reply.body_text());
    }
    assert!(
        slowest < Duration::from_secs(1),
        "an outage of Redis made a request take {slowest:?}"
    );
    for server in [a, b] {
        wait_for_health(server, "down");
        let shared = &stats(server)["redis"]["stats"];
        assert!(shared["errors"].as_u64() >= Some(1), "{shared}");
        assert_eq!(shared["outages"], 1, "{shared}");
    }
    let during = get(a, "/factorial/200");
    assert_eq!(
        who_and_how(&during).1,
        "cachelab-redis;fwd=miss;detail=unavailable, cachelab-memory;fwd=miss;stored"
    );
    assert!(
        stats(a)["redis"]["stats"]["unavailable"].as_u64() >= Some(1),
        "lookups while it was down are counted"
    );

    // Redis comes back empty (nothing is saved); nobody restarts anything.
    redis.start_again();
    for server in [a, b] {
        wait_for_health(server, "up");
    }
    assert_eq!(
        who_and_how(&get(a, "/factorial/201")),
        ("a".into(), COMPUTED_AND_SHARED.into())
    );
    assert_eq!(
        who_and_how(&get(b, "/factorial/201")),
        ("b".into(), FROM_REDIS.into()),
        "sharing resumed"
    );
    assert_eq!(stats(a)["redis"]["stats"]["outages"], 1);
}

#[test]
fn behind_nginx_three_instances_on_one_redis_compute_a_value_once() {
    if let Err(reason) = Proxy::available() {
        assert!(
            std::env::var_os("CI").is_none(),
            "the nginx tests must run under CI: {reason}"
        );
        eprintln!("skipped: {reason}");
        return;
    }
    const REQUESTS: usize = 9;
    let redis = cachelab_testkit::redis_or_skip!();
    let instances = Instances::start(&["a", "b", "c"], &redis);
    let ports: Vec<u16> = instances.servers.iter().map(|server| server.port).collect();
    let proxy = Proxy::start_in_front_of(&ports, 1_024, "10s");
    let through_nginx: Vec<(String, String)> = (0..REQUESTS)
        .map(|_| {
            let raw = format!(
                "GET /factorial/25 HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\r\n",
                proxy.port
            );
            let reply = send_raw(proxy.port, raw.as_bytes()).expect("an answer through nginx");
            assert_eq!(reply.status, 200, "{}", reply.body_text());
            (
                reply.header("X-Instance").unwrap_or("").to_owned(),
                reply.header("X-Cache").unwrap_or("").to_owned(),
            )
        })
        .collect();
    for name in ["a", "b", "c"] {
        assert!(
            through_nginx.iter().any(|(who, _)| who == name),
            "nginx sent none to {name}: {through_nginx:?}"
        );
    }
    // Without the shared tier each instance would miss once (three misses):
    // with it, the first computes and the others read it from Redis.
    let misses = through_nginx
        .iter()
        .filter(|(_, how)| how == "MISS")
        .count();
    assert_eq!(misses, 1, "{through_nginx:?}");
    let computed: u64 = instances
        .servers
        .iter()
        .map(|server| stats(server)["memory"]["computed"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(computed, 25, "25 steps, on one instance: {through_nginx:?}");
    let read_from_redis: u64 = instances
        .servers
        .iter()
        .map(|server| {
            stats(server)["redis"]["stats"]["hits"]
                .as_u64()
                .unwrap_or(0)
        })
        .sum();
    assert_eq!(read_from_redis, 2, "the two others read it once each");
    drop(proxy);
}
