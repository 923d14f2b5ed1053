//! Several instances of the real binary on one machine, as
//! `scripts/instances.sh` runs them: each has a memory tier of its own and
//! all share the disk tier, each dashboard lists every instance, and nginx
//! in front (`proxy/room.conf`) spreads requests over them, so the memory
//! hit ratio falls.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::proxy::{Proxy, WITNESS_KEY};
use crate::server::{send_raw, Reply, Server};

/// Instances named `a`, `b`, ... on one cache_dir, each with its own
/// workshop progress file (which is not what these tests are about).
struct Instances {
    // Dropped in this order: the processes stop before their directory goes.
    servers: Vec<Server>,
    dir: tempfile::TempDir,
}

impl Instances {
    fn start(names: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let cache_dir = dir.path().join("cache");
        let servers = names
            .iter()
            .map(|name| {
                let progress = dir.path().join(format!("progress-{name}.jsonl"));
                let progress = progress.to_str().expect("a UTF-8 temp path").to_owned();
                Server::start(
                    &cache_dir,
                    &[
                        ("ROCKET_INSTANCE_NAME", name),
                        ("ROCKET_PROGRESS_FILE", &progress),
                        ("ROCKET_PROXY_WITNESS_KEY", WITNESS_KEY),
                    ],
                )
            })
            .collect();
        Self { servers, dir }
    }

    /// Where the instances keep their snapshots: beside cache_dir.
    fn snapshots(&self) -> PathBuf {
        self.dir.path().join("cache-instances")
    }
}

fn get(port: u16, path: &str) -> Reply {
    let raw = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    send_raw(port, raw.as_bytes()).unwrap_or_else(|error| panic!("GET {path}: {error}"))
}

fn post_json(server: &Server, body: &str) -> Reply {
    server.post_json(body).expect("POST /data")
}

/// (X-Instance, X-Cache) of an answer.
fn who_and_how(reply: &Reply) -> (String, String) {
    assert_eq!(reply.status, 200, "{}", reply.body_text());
    (
        reply.header("X-Instance").unwrap_or("").to_owned(),
        reply.header("X-Cache").unwrap_or("").to_owned(),
    )
}

/// The dashboard's per-instance table as the instance on `port` draws it:
/// the column headings and the memory hits and misses of each column.
#[derive(Debug, PartialEq, Eq)]
struct InstanceTable {
    columns: Vec<String>,
    memory_hits: Vec<String>,
    memory_misses: Vec<String>,
}

fn instance_table(port: u16) -> InstanceTable {
    let page = get(port, "/dashboard").body_text();
    let start = page
        .find("id=\"instances\"")
        .expect("the dashboard has the instances table");
    let table = page[start..].split("</table>").next().unwrap_or("");
    let head = table.split("</thead>").next().unwrap_or("");
    let cells = |row: &str| -> Vec<String> {
        table
            .lines()
            .find(|line| line.contains(&format!("<th scope=\"row\">{row}</th>")))
            .unwrap_or("")
            .split("<td>")
            .skip(1)
            .map(|cell| cell.split("</td>").next().unwrap_or("").to_owned())
            .collect()
    };
    InstanceTable {
        columns: head
            .split("<th scope=\"col\">")
            .skip(2)
            .map(|cell| cell.split("</th>").next().unwrap_or("").to_owned())
            .collect(),
        memory_hits: cells("Memory hits"),
        memory_misses: cells("Memory misses"),
    }
}

/// Asks until the instance on `port` draws `expected`: the others' columns
/// come from snapshots written and read in the background, about once a
/// second. Returns what it drew last.
fn table_when(port: u16, expected: &InstanceTable) -> InstanceTable {
    let started = Instant::now();
    loop {
        let table = instance_table(port);
        if &table == expected || started.elapsed() > Duration::from_secs(20) {
            return table;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|item| (*item).to_owned()).collect()
}

fn snapshot_exists(dir: &Path, name: &str) -> bool {
    dir.join(format!("{name}.json")).exists()
}

#[test]
fn two_instances_share_the_disk_tier_but_each_has_its_own_memory_and_each_dashboard_lists_both() {
    let mut instances = Instances::start(&["a", "b"]);
    let (a, b) = (&instances.servers[0], &instances.servers[1]);

    // Memory is one per process: what a computed, b has not.
    let first = get(a.port, "/factorial/20");
    assert_eq!(who_and_how(&first), ("a".into(), "MISS".into()));
    let again = get(a.port, "/factorial/20");
    assert_eq!(who_and_how(&again), ("a".into(), "HIT".into()));
    let elsewhere = get(b.port, "/factorial/20");
    assert_eq!(
        who_and_how(&elsewhere),
        ("b".into(), "MISS".into()),
        "a value computed by a is a memory miss in b"
    );
    assert_eq!(
        first.body, elsewhere.body,
        "the same answer, computed twice"
    );

    // The disk is one per machine: what a stored, b reads.
    let body = r#"{"shared": "disk"}"#;
    let stored = post_json(a, body);
    assert_eq!(stored.header("X-Cache"), Some("MISS"));
    assert_eq!(stored.header("X-Instance"), Some("a"));
    let read = post_json(b, body);
    assert_eq!(read.header("X-Instance"), Some("b"));
    assert_eq!(
        read.header("X-Cache"),
        Some("HIT"),
        "a disk entry stored by a is a disk hit in b"
    );
    assert_eq!(stored.body, read.body);

    // Each dashboard lists both, side by side: a hit once, b never.
    let seen_from_a = InstanceTable {
        columns: strings(&["a (this one)", "b"]),
        memory_hits: strings(&["1", "0"]),
        memory_misses: strings(&["1", "1"]),
    };
    assert_eq!(table_when(a.port, &seen_from_a), seen_from_a);
    let seen_from_b = InstanceTable {
        columns: strings(&["a", "b (this one)"]),
        ..seen_from_a
    };
    assert_eq!(table_when(b.port, &seen_from_b), seen_from_b);

    // b stops cleanly: its snapshot goes with it, and a lists itself alone.
    let snapshots = instances.snapshots();
    assert!(snapshot_exists(&snapshots, "b"));
    let b = &mut instances.servers[1];
    b.signal("TERM");
    assert!(
        b.wait_exit(Duration::from_secs(15))
            .is_some_and(|status| status.success()),
        "b stops on SIGTERM"
    );
    assert!(
        !snapshot_exists(&snapshots, "b"),
        "a clean stop removes the snapshot"
    );
    let alone = InstanceTable {
        columns: strings(&["a (this one)"]),
        memory_hits: strings(&["1"]),
        memory_misses: strings(&["1"]),
    };
    assert_eq!(table_when(instances.servers[0].port, &alone), alone);
}

#[test]
fn behind_nginx_requests_alternate_between_instances_and_the_memory_hit_ratio_falls() {
    if let Err(reason) = Proxy::available() {
        assert!(
            std::env::var_os("CI").is_none(),
            "the nginx tests must run under CI: {reason}"
        );
        eprintln!("skipped: {reason}");
        return;
    }
    const REQUESTS: usize = 10;
    let instances = Instances::start(&["a", "b"]);
    let ports: Vec<u16> = instances.servers.iter().map(|server| server.port).collect();
    let proxy = Proxy::start_in_front_of(&ports, 1_024, "10s");

    // One value asked for again and again through the one address.
    let through_nginx: Vec<(String, String)> = (0..REQUESTS)
        .map(|_| who_and_how(&get(proxy.port, "/factorial/25")))
        .collect();
    for pair in through_nginx.windows(2) {
        assert_ne!(
            pair[0].0, pair[1].0,
            "consecutive requests go to different instances: {through_nginx:?}"
        );
    }
    let answered_by = |name: &str| through_nginx.iter().any(|(who, _)| who == name);
    assert!(answered_by("a") && answered_by("b"), "{through_nginx:?}");

    // The same run against one instance alone, for a value new to it.
    let alone: Vec<(String, String)> = (0..REQUESTS)
        .map(|_| who_and_how(&get(ports[0], "/factorial/31")))
        .collect();
    let hits =
        |answers: &[(String, String)]| answers.iter().filter(|(_, how)| how == "HIT").count();
    assert_eq!(
        hits(&alone),
        REQUESTS - 1,
        "one instance misses once: {alone:?}"
    );
    assert!(
        hits(&through_nginx) < hits(&alone),
        "spread over two memory tiers, each misses once: {} hits of {REQUESTS} through nginx, {} \
         from one instance ({through_nginx:?})",
        hits(&through_nginx),
        hits(&alone)
    );
    assert_eq!(
        hits(&through_nginx),
        REQUESTS - 2,
        "each instance missed once: {through_nginx:?}"
    );
    drop(proxy);
}
