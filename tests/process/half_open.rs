//! Connections that never finish their request cannot use up the server.

use std::io::Write;
use std::net::{Ipv4Addr, TcpStream};

use crate::server::Server;

/// More than a common default limit of 1,024 open files.
const HALF_OPEN: usize = 1_100;

#[test]
fn half_open_connections_past_a_1024_file_limit_leave_the_app_answering() {
    // This test itself holds every connection open: it needs room too.
    let ours = cachelab::os_limits::raise_open_file_limit().unwrap_or(0);
    if ours < (HALF_OPEN as u64) * 2 + 100 {
        eprintln!("skipped: the hard open-file limit here is {ours}");
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start_with_open_file_limit(&dir.path().join("cache"), 1_024, &[]);
    let mut held = Vec::with_capacity(HALF_OPEN);
    for _ in 0..HALF_OPEN {
        let mut stream =
            TcpStream::connect((Ipv4Addr::LOCALHOST, server.port)).expect("connection accepted");
        // Half a request: the headers never end.
        stream
            .write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            .expect("written");
        held.push(stream);
    }
    assert!(
        server.is_healthy(),
        "answers with {HALF_OPEN} connections held"
    );
    let answer = server.post_json(r#"{"still":"here"}"#).expect("a reply");
    assert_eq!(answer.status, 200);
    drop(held);
}
