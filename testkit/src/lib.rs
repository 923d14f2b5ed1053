//! Real servers for cachelab's tests.
//!
//! The app's tests talk to the servers a learner would run, never to
//! stand-ins: [`RedisServer`] starts Debian's `redis-server` on a free
//! loopback port with a directory of its own, as redis-rs's own test helper
//! does, and stops it when dropped.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a starting server may take before the test gives up on it.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// A free TCP port on 127.0.0.1 (the kernel picks it; it is free when this
/// returns, and the tests bind it at once).
pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("the kernel hands out a free loopback port")
}

/// Whether `redis-server` can be started here (CI installs it).
pub fn redis_available() -> bool {
    Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// A [`RedisServer`] for the test that calls it, or, where `redis-server`
/// is not installed, a `skipped:` line and an early return from the test
/// (except under CI, set by `.ci/run`, where a missing server fails it).
/// `cargo test` thus runs on a machine without Redis, as the README
/// promises, and CI runs every test.
#[macro_export]
macro_rules! redis_or_skip {
    () => {
        match $crate::RedisServer::start_or_skip() {
            Some(server) => server,
            None => return,
        }
    };
}

/// A `redis-server` of its own for one test: loopback only, no persistence,
/// stopped (and its directory removed) when dropped.
pub struct RedisServer {
    port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts a server on a free loopback port and waits until it answers
    /// `PING`.
    ///
    /// # Panics
    /// When `redis-server` is missing or does not start: `.ci/run` installs it,
    /// and a test that needs Redis must not pass without one.
    pub fn start() -> Self {
        let port = free_port();
        let dir =
            std::env::temp_dir().join(format!("cachelab-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temporary directory for redis-server");
        let mut server = Self {
            port,
            dir,
            child: None,
        };
        server.start_again();
        server
    }

    /// [`RedisServer::start`], or `None` with a `skipped:` line where
    /// `redis-server` is missing and `CI` is not set.
    ///
    /// # Panics
    /// Under CI without `redis-server`, or when it does not start.
    pub fn start_or_skip() -> Option<Self> {
        if !redis_available() {
            assert!(
                std::env::var_os("CI").is_none(),
                "redis-server is missing (apt-get install redis-server)"
            );
            eprintln!("skipped: redis-server is not installed (apt-get install redis-server)");
            return None;
        }
        Some(Self::start())
    }

    /// `redis://127.0.0.1:<port>/`, the `redis_url` for the app.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server (SIGKILL: an outage, not a polite shutdown) and waits
    /// until its port refuses connections.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port, empty (nothing is saved),
    /// as after a crash of a cache-only Redis.
    ///
    /// # Panics
    /// When it does not answer within ten seconds.
    pub fn start_again(&mut self) {
        self.stop();
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port"])
            .arg(self.port.to_string())
            .args([
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "yes",
            ])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts (.ci/run installs it: apt-get install redis-server)");
        self.child = Some(child);
        let deadline = Instant::now() + START_TIMEOUT;
        while Instant::now() < deadline {
            if self.command(&["PING"]).is_ok_and(|reply| reply == "+PONG") {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("redis-server on port {} did not answer PING", self.port);
    }

    /// Sends one command and returns the first line of the reply as Redis
    /// wrote it (`+OK`, `:1`, `$5` ...), for tests that look inside Redis
    /// without a client library. Bulk replies are returned whole, as
    /// `$<len>\r\n<data>`: see [`RedisServer::get`].
    pub fn command(&self, args: &[&str]) -> std::io::Result<String> {
        let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, self.port))?;
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        let mut request = format!("*{}\r\n", args.len()).into_bytes();
        for arg in args {
            request.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
            request.extend_from_slice(arg.as_bytes());
            request.extend_from_slice(b"\r\n");
        }
        stream.write_all(&request)?;
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let line = line.trim_end().to_owned();
        if let Some(length) = line.strip_prefix('$') {
            let Ok(length) = length.parse::<usize>() else {
                return Ok(line); // $-1: nil
            };
            let mut data = vec![0; length + 2];
            reader.read_exact(&mut data)?;
            data.truncate(length);
            return Ok(format!("{line}\r\n{}", String::from_utf8_lossy(&data)));
        }
        Ok(line)
    }

    /// The value stored under `key` as bytes, or `None` when there is none.
    pub fn get(&self, key: &str) -> Option<Vec<u8>> {
        let reply = self.command(&["GET", key]).ok()?;
        let (_, data) = reply.split_once("\r\n")?;
        Some(data.as_bytes().to_vec())
    }

    /// Every key matching `pattern` (`KEYS`, fine for a test's small server).
    pub fn keys(&self, pattern: &str) -> Vec<String> {
        let Ok(mut stream) = TcpStream::connect((Ipv4Addr::LOCALHOST, self.port)) else {
            return Vec::new();
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
        let request = format!("*2\r\n$4\r\nKEYS\r\n${}\r\n{pattern}\r\n", pattern.len());
        if stream.write_all(request.as_bytes()).is_err() {
            return Vec::new();
        }
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        if reader.read_line(&mut line).is_err() {
            return Vec::new();
        }
        let count: usize = line.trim_end().trim_start_matches('*').parse().unwrap_or(0);
        let mut keys = Vec::with_capacity(count);
        for _ in 0..count {
            let mut header = String::new();
            let mut key = String::new();
            if reader.read_line(&mut header).is_err() || reader.read_line(&mut key).is_err() {
                break;
            }
            keys.push(key.trim_end().to_owned());
        }
        keys
    }

    /// Where the server keeps its files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_answers_stops_and_starts_again_on_its_port() {
        if !redis_available() {
            panic!("redis-server is not installed (apt-get install redis-server)");
        }
        let mut server = RedisServer::start();
        assert_eq!(server.command(&["SET", "k", "v"]).unwrap(), "+OK");
        assert_eq!(server.get("k"), Some(b"v".to_vec()));
        assert_eq!(server.keys("k*"), vec!["k".to_owned()]);
        server.stop();
        assert!(
            server.command(&["PING"]).is_err(),
            "a stopped server refuses"
        );
        server.start_again();
        assert_eq!(
            server.get("k"),
            None,
            "a restarted cache-only Redis is empty"
        );
    }
}
