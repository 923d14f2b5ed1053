//! The real `cachelab` binary on a free port, and a minimal HTTP/1.1 client
//! that can also send what a well-behaved client never would.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub struct Server {
    child: Child,
    pub port: u16,
}

/// What came back over the wire.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub head: String,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim()
                .eq_ignore_ascii_case(name)
                .then_some(value.trim())
        })
    }

    /// Every field line named `name`, in the order they came: a field sent
    /// on several lines (as `Cache-Status` is through a proxy) is their
    /// values joined with commas, in this order (RFC 9110 §5.3).
    pub fn headers(&self, name: &str) -> Vec<&str> {
        self.head
            .lines()
            .skip(1)
            .filter_map(|line| {
                let (key, value) = line.split_once(':')?;
                key.trim()
                    .eq_ignore_ascii_case(name)
                    .then_some(value.trim())
            })
            .collect()
    }

    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

impl Server {
    /// Starts the binary on `cache_dir` with no simulated delays unless
    /// `settings` (extra `ROCKET_*` variables) say otherwise, and waits until
    /// it answers.
    pub fn start(cache_dir: &Path, settings: &[(&str, &str)]) -> Self {
        Self::start_command(
            Command::new(env!("CARGO_BIN_EXE_cachelab")),
            cache_dir,
            settings,
            Stdio::null(),
        )
    }

    /// Starts the binary as [`Server::start`] does, keeping what it prints
    /// to standard output for the test to read.
    pub fn start_reading_output(
        cache_dir: &Path,
        settings: &[(&str, &str)],
    ) -> (Self, std::process::ChildStdout) {
        let mut server = Self::start_command(
            Command::new(env!("CARGO_BIN_EXE_cachelab")),
            cache_dir,
            settings,
            Stdio::piped(),
        );
        let output = server.child.stdout.take().expect("stdout was piped");
        (server, output)
    }

    /// Starts the binary as [`Server::start`] does, under a soft limit of
    /// `soft_limit` open files (as a shell's `ulimit -Sn` sets it).
    pub fn start_with_open_file_limit(
        cache_dir: &Path,
        soft_limit: u64,
        settings: &[(&str, &str)],
    ) -> Self {
        let mut command = Command::new("bash");
        command
            .arg("-c")
            .arg(format!("ulimit -Sn {soft_limit} && exec \"$0\""))
            .arg(env!("CARGO_BIN_EXE_cachelab"));
        Self::start_command(command, cache_dir, settings, Stdio::null())
    }

    fn start_command(
        mut command: Command,
        cache_dir: &Path,
        settings: &[(&str, &str)],
        stdout: Stdio,
    ) -> Self {
        let port = free_port();
        let work_dir = cache_dir.parent().unwrap_or(cache_dir);
        command
            .current_dir(work_dir)
            .env("ROCKET_ADDRESS", "127.0.0.1")
            .env("ROCKET_PORT", port.to_string())
            .env("ROCKET_CACHE_DIR", cache_dir)
            .env("ROCKET_DATA_DELAY_MS", "0")
            .env("ROCKET_FACTORIAL_DELAY_MS", "0")
            .env("ROCKET_LOG_LEVEL", "critical")
            .env("ROCKET_CLI_COLORS", "false")
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(Stdio::null());
        for (key, value) in settings {
            command.env(key, value);
        }
        let child = command.spawn().expect("the cachelab binary starts");
        let server = Self { child, port };
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(20) {
            if matches!(server.request("GET", "/health", None), Ok(reply) if reply.status == 200) {
                return server;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("cachelab did not answer on port {port} within 20 s");
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL: no chance to finish anything.
    pub fn kill_hard(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends a signal by name (`TERM`, `INT`).
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.pid().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{name}");
    }

    /// Waits up to `limit` for the process to exit on its own.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let started = Instant::now();
        while started.elapsed() < limit {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    pub fn request(&self, method: &str, path: &str, json: Option<&str>) -> std::io::Result<Reply> {
        let mut head =
            format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
        if let Some(json) = json {
            head.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                json.len()
            ));
        } else if method == "POST" {
            head.push_str("Content-Length: 0\r\n");
        }
        head.push_str("\r\n");
        let mut raw = head.into_bytes();
        raw.extend_from_slice(json.unwrap_or_default().as_bytes());
        send_raw(self.port, &raw)
    }

    pub fn post_json(&self, body: &str) -> std::io::Result<Reply> {
        self.request("POST", "/data", Some(body))
    }

    pub fn is_healthy(&self) -> bool {
        matches!(self.request("GET", "/health", None), Ok(reply) if reply.status == 200 && reply.body == b"ok")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes `raw` as-is and reads until the server closes the connection.
pub fn send_raw(port: u16, raw: &[u8]) -> std::io::Result<Reply> {
    exchange(port, raw, false)
}

/// Like [`send_raw`], then closes the sending side: a server still waiting
/// for a body it was promised sees that nothing more is coming.
pub fn send_raw_and_hang_up(port: u16, raw: &[u8]) -> std::io::Result<Reply> {
    exchange(port, raw, true)
}

fn exchange(port: u16, raw: &[u8], hang_up: bool) -> std::io::Result<Reply> {
    let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    // The server may answer and close before reading all of a huge request.
    let written = stream.write_all(raw);
    if hang_up {
        let _ = stream.shutdown(std::net::Shutdown::Write);
    }
    let mut answer = Vec::new();
    let read = stream.read_to_end(&mut answer);
    if answer.is_empty() {
        written?;
        read?;
    }
    parse(&answer)
}

fn parse(answer: &[u8]) -> std::io::Result<Reply> {
    let invalid =
        |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned());
    let split = answer
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .ok_or_else(|| invalid("no end of headers"))?;
    let head = String::from_utf8_lossy(&answer[..split]).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| invalid("no status"))?;
    let mut body = answer[split + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body);
    }
    let reply = Reply { status, head, body };
    // A connection cut mid-answer (the server was killed) is no answer.
    let promised = reply
        .header("Content-Length")
        .and_then(|length| length.parse().ok());
    if promised.is_some_and(|length: usize| length != reply.body.len()) {
        return Err(invalid("answer cut short"));
    }
    Ok(reply)
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line_end) = data.windows(2).position(|window| window == b"\r\n") {
        let size = std::str::from_utf8(&data[..line_end])
            .ok()
            .and_then(|hex| usize::from_str_radix(hex.trim(), 16).ok())
            .unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = line_end + 2;
        let end = (start + size).min(data.len());
        out.extend_from_slice(&data[start..end]);
        data = &data[(end + 2).min(data.len())..];
    }
    out
}

pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port on 127.0.0.1")
}
