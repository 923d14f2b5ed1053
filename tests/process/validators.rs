//! Revalidation on the wire: what a 304 and a HEAD answer put in the bytes
//! sent, where `Content-Length` is written (the local client never sees it).

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::time::Duration;

use crate::server::Server;

/// The status line and headers, and the bytes after them, exactly as sent
/// for `request` (one request, then the server closes the connection).
fn exchange(port: u16, request: &str) -> (String, Vec<u8>) {
    let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).expect("connects");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("a timeout");
    stream.write_all(request.as_bytes()).expect("request sent");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).expect("answer read");
    let split = answer
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .expect("an end of headers");
    (
        String::from_utf8_lossy(&answer[..split]).to_ascii_lowercase(),
        answer[split + 4..].to_vec(),
    )
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().skip(1).find_map(|line| {
        let (key, value) = line.split_once(':')?;
        (key.trim() == name).then_some(value.trim())
    })
}

fn request(method: &str, path: &str, extra: &str) -> String {
    format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{extra}\r\n")
}

#[test]
fn head_and_304_send_no_body_and_only_a_content_length_get_would_send() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(&dir.path().join("cache"), &[]);
    let (get_head, get_body) = exchange(server.port, &request("GET", "/factorial/30", ""));
    assert!(get_head.starts_with("http/1.1 200"), "{get_head}");
    let length = get_body.len().to_string();
    assert_eq!(header(&get_head, "content-length"), Some(length.as_str()));
    let etag = header(&get_head, "etag").expect("an etag").to_owned();

    let (head_head, head_body) = exchange(server.port, &request("HEAD", "/factorial/30", ""));
    assert!(head_head.starts_with("http/1.1 200"), "{head_head}");
    assert!(head_body.is_empty(), "HEAD sends no body");
    assert_eq!(header(&head_head, "content-length"), Some(length.as_str()));
    assert_eq!(header(&head_head, "etag"), Some(etag.as_str()));

    let (not_modified, body) = exchange(
        server.port,
        &request(
            "GET",
            "/factorial/30",
            &format!("If-None-Match: {etag}\r\n"),
        ),
    );
    assert!(not_modified.starts_with("http/1.1 304"), "{not_modified}");
    assert!(body.is_empty(), "a 304 sends no body");
    // RFC 9110 §8.6: a 304 may carry Content-Length only as the 200's.
    assert!(
        header(&not_modified, "content-length").is_none_or(|sent| sent == length),
        "{not_modified}"
    );
    assert_eq!(header(&not_modified, "etag"), Some(etag.as_str()));
    assert_eq!(header(&not_modified, "x-cache"), Some("hit"));
}
