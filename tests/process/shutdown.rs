//! SIGTERM and Ctrl-C (SIGINT) let requests in flight finish.

use std::time::{Duration, Instant};

use crate::server::Server;

fn in_flight_request_finishes_on(signal: &str) {
    let dir = tempfile::tempdir().expect("temp dir");
    let cache_dir = dir.path().join("cache");
    let body = format!(r#"{{"stopped_by":"{signal}"}}"#);
    let mut server = Server::start(&cache_dir, &[("ROCKET_DATA_DELAY_MS", "1500")]);

    let started = Instant::now();
    let reply = std::thread::scope(|scope| {
        let request = scope.spawn(|| server.post_json(&body));
        std::thread::sleep(Duration::from_millis(400));
        server.signal(signal);
        request.join().expect("request thread")
    });
    let reply = reply.expect("the request in flight is answered, not cut off");
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body_text(), body);
    assert!(
        started.elapsed() >= Duration::from_millis(1500),
        "it ran to completion"
    );

    let status = server
        .wait_exit(Duration::from_secs(10))
        .expect("the server exits within grace + mercy");
    assert!(status.success(), "a clean exit: {status:?}");
    assert!(!server.is_healthy(), "nothing listens after shutdown");

    // The answer finished by the shutdown was stored, whole.
    let server = Server::start(&cache_dir, &[]);
    let again = server.post_json(&body).expect("answer after restart");
    assert_eq!(again.header("X-Cache"), Some("HIT"));
    assert_eq!(again.body_text(), body);
}

#[test]
fn sigterm_finishes_the_request_in_flight_then_exits_cleanly() {
    in_flight_request_finishes_on("TERM");
}

#[test]
fn ctrl_c_finishes_the_request_in_flight_then_exits_cleanly() {
    in_flight_request_finishes_on("INT");
}
