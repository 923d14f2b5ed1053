//! Requests only a hostile client sends, over a real socket: the server
//! answers 4xx (or closes the connection) and keeps serving.

use crate::server::{send_raw, send_raw_and_hang_up, Server};

#[test]
fn malformed_and_oversized_requests_get_4xx_and_the_server_lives_on() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(&dir.path().join("cache"), &[]);
    let huge_header = format!(
        "GET /health HTTP/1.1\r\nHost: x\r\nX-Huge: {}\r\n\r\n",
        "h".repeat(2 * 1024 * 1024)
    );
    let many_headers = format!(
        "GET /health HTTP/1.1\r\nHost: x\r\n{}\r\n",
        (0..5_000)
            .map(|i| format!("X-H{i}: v\r\n"))
            .collect::<String>()
    );
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("a 2 MB header", huge_header.into_bytes()),
        ("5,000 headers", many_headers.into_bytes()),
        (
            "invalid UTF-8 in the path",
            b"GET /factorial/\xff\xfe HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(),
        ),
        (
            "a NUL in the path",
            b"GET /factorial/1%00 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(),
        ),
        (
            "dot segments",
            b"GET /static/../../Cargo.toml HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                .to_vec(),
        ),
        (
            "encoded dot segments",
            b"GET /static/%2e%2e/%2e%2e/Cargo.toml HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                .to_vec(),
        ),
        (
            "not HTTP at all",
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 hello\r\n\r\n".to_vec(),
        ),
        (
            "a body longer than its Content-Length says",
            b"POST /data HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 3\r\nConnection: close\r\n\r\n{\"a\":1}".to_vec(),
        ),
        (
            "a body cut short of its Content-Length",
            b"POST /data HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\nConnection: close\r\n\r\n{\"a\":1}".to_vec(),
        ),
        (
            "a Content-Length far beyond the limit",
            b"POST /data HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 99999999999\r\nConnection: close\r\n\r\n{}".to_vec(),
        ),
    ];
    for (name, raw) in cases {
        let sent = if name.contains("Content-Length") {
            send_raw_and_hang_up(server.port, &raw)
        } else {
            send_raw(server.port, &raw)
        };
        match sent {
            Ok(reply) => {
                assert!(
                    (400..500).contains(&reply.status),
                    "{name}: answered {} {}",
                    reply.status,
                    reply.body_text()
                );
                assert!(
                    !reply.body_text().contains("[package]"),
                    "{name}: leaked a file"
                );
            }
            // Closing the connection without an answer is a refusal too.
            Err(error) => println!("{name}: connection closed ({error})"),
        }
        assert!(server.is_healthy(), "alive after {name}");
    }
}
