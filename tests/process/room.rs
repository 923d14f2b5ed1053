//! The room command's proxy (`proxy/room.conf`, started as `scripts/room.sh`
//! starts it): with more connections held than a common limit of 1,024 open
//! files it keeps answering, passes the browser's Host on to the app's
//! same-origin check, refuses a body over the app's limit itself, and closes
//! every connection that stops sending once its timeouts have passed.

use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::time::{Duration, Instant};

use crate::proxy::{config_number, open_file_limit, Proxy};
use crate::server::{send_raw, send_raw_and_hang_up, Reply, Server};

/// Connections that send half a request head and wait.
const HEAD_CUT_SHORT: usize = 1_000;
/// Connections that send a whole head and part of the body they promise.
const BODY_CUT_SHORT: usize = 50;
/// Connections kept open, idle, after one answered request.
const IDLE_AFTER_A_REQUEST: usize = 50;
/// Connections that keep sending one byte of an endless head at a time.
const TRICKLING: usize = 5;
/// The proxy's client timeouts here; a room uses 10 and 15 s (room.conf).
const TIMEOUT: Duration = Duration::from_secs(2);
/// How long past its timeout a connection may stay open: nginx's timers
/// are precise to milliseconds, the rest is a busy machine's scheduling.
const GRACE: Duration = Duration::from_secs(3);
/// The app's `limits.json` (Rocket.toml), which the proxy's
/// `client_max_body_size 1m` matches.
const APP_BODY_LIMIT: usize = 1024 * 1024;

#[test]
fn the_room_proxy_answers_past_a_1024_file_limit_and_closes_connections_that_stop_sending() {
    if let Err(reason) = Proxy::available() {
        assert!(
            std::env::var_os("CI").is_none(),
            "the room proxy test must run under CI: {reason}"
        );
        eprintln!("skipped: {reason}");
        return;
    }
    let worker_limit = config_number("worker_rlimit_nofile");
    let held_count = HEAD_CUT_SHORT + BODY_CUT_SHORT + IDLE_AFTER_A_REQUEST;
    // This test holds every connection itself, and nginx's workers raise
    // their limit within the hard one.
    let hard_limit = cachelab::os_limits::raise_open_file_limit().unwrap_or(0);
    if hard_limit < worker_limit.max(held_count as u64 * 2 + 100) {
        eprintln!("skipped: the hard open-file limit here is {hard_limit}");
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    // 10 ms a step: a cold 500! takes 5 s, longer than any client timeout.
    let app = Server::start_with_open_file_limit(
        &dir.path().join("cache"),
        1_024,
        &[
            ("ROCKET_FACTORIAL_DELAY_MS", "10"),
            ("ROCKET_FACTORIAL_DELAY_MAX_MS", "10000"),
        ],
    );
    let proxy = Proxy::start(app.port, 1_024, &format!("{}s", TIMEOUT.as_secs()));
    let host = format!("127.0.0.1:{}", proxy.port);

    // Started under a soft limit of 1,024, the workers run with the
    // config's own.
    let workers = proxy.workers();
    assert!(!workers.is_empty(), "nginx has workers");
    for worker in workers {
        assert_eq!(
            open_file_limit(worker),
            Some(worker_limit),
            "worker {worker}'s open-file limit: {}",
            proxy.error_log()
        );
    }

    let started = Instant::now();
    let mut held = Vec::with_capacity(held_count);
    for _ in 0..HEAD_CUT_SHORT {
        held.push(Held::open(
            proxy.port,
            b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n",
        ));
    }
    for _ in 0..BODY_CUT_SHORT {
        held.push(Held::open(
            proxy.port,
            b"POST /data HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n[1,2,3,4,5",
        ));
    }
    for _ in 0..IDLE_AFTER_A_REQUEST {
        let mut connection = Held::open(
            proxy.port,
            b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        );
        let status = read_one_answer(&mut connection.stream);
        assert_eq!(status, 200, "a request on a connection that then idles");
        held.push(connection);
    }
    let mut trickling: Vec<Held> = (0..TRICKLING)
        .map(|_| Held::open(proxy.port, b"GET /health HTTP/1.1\r\nX-Trickle: "))
        .collect();
    let opening = started.elapsed();

    // With all of them held: the proxy answers, and the Host it passes on
    // is the one the browser sent, so a page's own Origin is accepted.
    let health = request(proxy.port, "GET", "/health", &host, &[], "");
    assert_eq!(
        (health.status, health.body_text().as_str()),
        (200, "ok"),
        "/health through the proxy with {held_count} connections held"
    );
    let own_origin = format!("http://{host}");
    let posted = request(
        proxy.port,
        "POST",
        "/data",
        &host,
        &[
            ("Origin", &own_origin),
            ("Content-Type", "application/json"),
        ],
        r#"{"room":"here"}"#,
    );
    assert_eq!(
        posted.status,
        200,
        "a POST from the proxy's own origin: {}",
        posted.body_text()
    );
    assert_eq!(posted.body_text(), r#"{"room":"here"}"#);
    let foreign = request(
        proxy.port,
        "POST",
        "/data",
        &host,
        &[
            ("Origin", "http://elsewhere.example"),
            ("Content-Type", "application/json"),
        ],
        r#"{"room":"here"}"#,
    );
    assert_eq!(
        foreign.status,
        403,
        "a POST from another origin: {}",
        foreign.body_text()
    );
    assert!(foreign
        .body_text()
        .contains("Origin: http://elsewhere.example"));
    // They were all still open while those answers came.
    let closed_early = held
        .iter()
        .filter(|connection| !connection.is_open())
        .count();
    assert_eq!(
        closed_early, 0,
        "connections closed before the checks ended (opening them took {opening:?})"
    );

    // An answer slower than every client timeout is not cut off.
    let slow = {
        let (port, host) = (proxy.port, host.clone());
        std::thread::spawn(move || {
            let asked = Instant::now();
            let reply = request(port, "GET", "/factorial/500", &host, &[], "");
            (reply.status, asked.elapsed())
        })
    };

    // A body the app's size passes; one byte more is refused by the proxy
    // (its own 413, not the app's) before the body is sent. On a thread, so
    // that the closes below are timed as they happen.
    let body_limit = {
        let (port, host) = (proxy.port, host.clone());
        std::thread::spawn(move || {
            let at_limit = format!("\"{}\"", "a".repeat(APP_BODY_LIMIT - 2));
            let headers = [("Content-Type", "application/json")];
            let passed = request(port, "POST", "/data", &host, &headers, &at_limit);
            let over = format!(
                "POST /data HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                APP_BODY_LIMIT + 1
            );
            let refused = send_raw_and_hang_up(port, over.as_bytes())
                .unwrap_or_else(|error| panic!("no answer to a body over the limit: {error}"));
            (passed, refused)
        })
    };

    // Then nginx closes every connection that stopped sending, by itself.
    let trickled = std::thread::spawn(move || {
        while trickling
            .iter()
            .any(|connection| connection.closed.is_none())
        {
            for connection in trickling
                .iter_mut()
                .filter(|connection| connection.closed.is_none())
            {
                connection.trickle();
            }
            if trickling
                .iter()
                .all(|connection| connection.opened.elapsed() > TIMEOUT + GRACE)
            {
                break;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        trickling
    });
    for connection in &mut held {
        connection.wait_closed(connection.opened + TIMEOUT + GRACE);
    }
    held.extend(trickled.join().expect("the trickling thread"));
    let still_open: Vec<_> = held
        .iter()
        .filter(|connection| connection.closed.is_none())
        .map(|connection| connection.kind)
        .collect();
    assert!(
        still_open.is_empty(),
        "{} connections still open {GRACE:?} after their timeout of {TIMEOUT:?}, such as: {:?}",
        still_open.len(),
        &still_open[..still_open.len().min(5)]
    );
    let closes = held.iter().filter_map(|connection| connection.closed);
    let (first, last) = closes.fold((Duration::MAX, Duration::ZERO), |(first, last), after| {
        (first.min(after), last.max(after))
    });
    eprintln!(
        "closed by the proxy: {} connections (opened in {opening:.1?}), {first:.2?} to {last:.2?} after they opened (timeout {TIMEOUT:?})",
        held.len()
    );
    // Not sooner: it was the timeouts that closed them. (nginx starts a
    // timer from the time it last looked at the clock, a little early when
    // it is busy accepting.)
    assert!(
        first > TIMEOUT - Duration::from_millis(500),
        "closed after {first:?}"
    );

    let (passed, refused) = body_limit.join().expect("the body limit thread");
    assert_eq!(passed.status, 200, "a body of exactly the app's limit");
    assert_eq!(passed.body.len(), APP_BODY_LIMIT);
    assert_eq!(refused.status, 413, "a body one byte over the limit");
    assert_eq!(
        refused.header("Server"),
        Some("nginx"),
        "refused by the proxy"
    );
    let (status, took) = slow.join().expect("the slow request's thread");
    assert_eq!(status, 200, "a 5 s answer through the proxy");
    assert!(took > 2 * TIMEOUT, "the slow answer took {took:?}");
    let health = request(proxy.port, "GET", "/health", &host, &[], "");
    assert_eq!(health.status, 200, "/health once they are gone");
}

/// A connection this test holds open, and when it found it closed.
struct Held {
    kind: &'static str,
    stream: TcpStream,
    opened: Instant,
    closed: Option<Duration>,
}

impl Held {
    fn open(port: u16, first_bytes: &[u8]) -> Self {
        let mut stream =
            TcpStream::connect((Ipv4Addr::LOCALHOST, port)).expect("the proxy accepts");
        stream.write_all(first_bytes).expect("written");
        let kind = match first_bytes {
            bytes if bytes.starts_with(b"POST") => "body cut short",
            bytes if bytes.ends_with(b"\r\n\r\n") => "idle after a request",
            bytes if bytes.ends_with(b": ") => "trickling",
            _ => "head cut short",
        };
        Self {
            kind,
            stream,
            opened: Instant::now(),
            closed: None,
        }
    }

    /// True while the proxy has neither closed nor reset it.
    fn is_open(&self) -> bool {
        self.stream
            .set_nonblocking(true)
            .expect("a socket can be non-blocking");
        let open = matches!((&self.stream).read(&mut [0; 1]), Err(error) if error.kind() == ErrorKind::WouldBlock);
        self.stream
            .set_nonblocking(false)
            .expect("a socket can block again");
        open
    }

    /// One more byte of a head that never ends.
    fn trickle(&mut self) {
        if self.stream.write_all(b"a").is_err() || !self.is_open() {
            self.closed = Some(self.opened.elapsed());
        }
    }

    /// Waits until `deadline` for the proxy to close it, and notes when it did.
    fn wait_closed(&mut self, deadline: Instant) {
        if self.closed.is_some() {
            return;
        }
        let mut scratch = [0; 512];
        loop {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                return;
            };
            self.stream
                .set_read_timeout(Some(left.max(Duration::from_millis(1))))
                .expect("a read timeout");
            match self.stream.read(&mut scratch) {
                Ok(0) => break,
                Ok(_) => continue,
                Err(error)
                    if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) =>
                {
                    return
                }
                // Reset: nginx's reset_timedout_connection.
                Err(_) => break,
            }
        }
        self.closed = Some(self.opened.elapsed());
    }
}

/// Sends one request with `Connection: close` and reads the answer.
fn request(
    port: u16,
    method: &str,
    path: &str,
    host: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Reply {
    let mut raw = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for (name, value) in headers {
        raw.push_str(&format!("{name}: {value}\r\n"));
    }
    if method == "POST" {
        raw.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    raw.push_str("\r\n");
    raw.push_str(body);
    send_raw(port, raw.as_bytes()).unwrap_or_else(|error| panic!("{method} {path}: {error}"))
}

/// Reads one answer with a `Content-Length` from a connection that stays
/// open, and returns its status.
fn read_one_answer(stream: &mut TcpStream) -> u16 {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("a read timeout");
    let mut answer = Vec::new();
    let mut scratch = [0; 1024];
    loop {
        let read = stream.read(&mut scratch).expect("an answer");
        assert!(read > 0, "the connection closed before its answer ended");
        answer.extend_from_slice(&scratch[..read]);
        let Some(split) = answer.windows(4).position(|window| window == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&answer[..split]).to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length:"))
            .and_then(|length| length.trim().parse().ok())
            .expect("the answer says its length");
        if answer.len() >= split + 4 + length {
            return head
                .split_whitespace()
                .nth(1)
                .and_then(|status| status.parse().ok())
                .expect("a status");
        }
    }
}
