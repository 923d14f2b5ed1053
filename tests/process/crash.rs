//! SIGKILL while POSTs are being written, then a restart on the same
//! cache_dir: every entry read afterwards is byte-exact or a miss.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::server::Server;

const ROUNDS: usize = 5;
const WRITERS: usize = 4;

/// Canonical JSON (keys sorted, no spaces), so the answer must equal it byte for byte.
fn body(round: usize, writer: usize, sequence: usize) -> String {
    let pad = "p".repeat((sequence % 9) * 6_000);
    format!(r#"{{"pad":"{pad}","round":{round},"seq":{sequence},"writer":{writer}}}"#)
}

/// POSTs new bodies from several threads until the server goes away, and
/// returns every body that was sent (answered or not).
fn load_until_killed(server: &Server, round: usize, kill_after: Duration) -> Vec<String> {
    let stop = Arc::new(AtomicBool::new(false));
    std::thread::scope(|scope| {
        let writers: Vec<_> = (0..WRITERS)
            .map(|writer| {
                let stop = Arc::clone(&stop);
                scope.spawn(move || {
                    let mut sent = Vec::new();
                    for sequence in 0.. {
                        let body = body(round, writer, sequence);
                        sent.push(body.clone());
                        match server.post_json(&body) {
                            Ok(reply) => {
                                assert!(reply.status < 500, "no 5xx under load: {}", reply.status);
                                assert_eq!(reply.status, 200);
                                assert!(
                                    reply.body == body.as_bytes(),
                                    "the answer is the body sent"
                                );
                            }
                            Err(_) if stop.load(Ordering::SeqCst) => break,
                            Err(error) => panic!("request failed before the kill: {error}"),
                        }
                    }
                    sent
                })
            })
            .collect();
        std::thread::sleep(kill_after);
        stop.store(true, Ordering::SeqCst);
        // The writers are still posting, so some write is usually half done.
        let _ = std::process::Command::new("kill")
            .args(["-KILL", &server.pid().to_string()])
            .status();
        writers
            .into_iter()
            .flat_map(|writer| writer.join().expect("writer thread"))
            .collect()
    })
}

#[test]
fn after_sigkill_mid_write_every_entry_is_exact_or_a_miss() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cache_dir = dir.path().join("cache");
    let mut previous_round: Vec<String> = Vec::new();
    let mut hits = 0;
    let mut checked = 0;
    for round in 0..=ROUNDS {
        let server = Server::start(&cache_dir, &[]);
        // Everything the last round sent reads back exactly, or is a miss.
        for sent in &previous_round {
            let reply = server.post_json(sent).expect("the restarted app answers");
            assert_eq!(reply.status, 200, "never a 5xx after a crash");
            assert!(
                reply.body == sent.as_bytes(),
                "never wrong data ({} bytes answered for {} sent, X-Cache {:?})",
                reply.body.len(),
                sent.len(),
                reply.header("X-Cache")
            );
            hits += usize::from(reply.header("X-Cache") == Some("HIT"));
            checked += 1;
        }
        let stats = server
            .request("GET", "/stats", None)
            .expect("stats")
            .body_text();
        let stats: serde_json::Value = serde_json::from_str(&stats).expect("stats JSON");
        assert_eq!(
            stats["disk"]["errors"], 0,
            "no damaged entry was left: {stats}"
        );
        if round == ROUNDS {
            break;
        }
        let kill_after = Duration::from_millis(150 + 70 * round as u64);
        previous_round = load_until_killed(&server, round, kill_after);
        server.kill_hard();
    }
    assert!(hits > 0, "entries written before each kill survived it");
    println!("{checked} entries checked after {ROUNDS} kills, {hits} of them hits");
}
