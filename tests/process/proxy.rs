//! nginx in front of the real binary, started by `proxy/nginx.sh` exactly as
//! `scripts/room.sh` starts it, from the repository's `proxy/room.conf`.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::server::{free_port, send_raw};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/proxy/nginx.sh");
const CONFIG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/proxy/room.conf");

/// The witness key the tests give nginx (`ROOM_WITNESS_KEY`); an app that
/// should record what the proxy received is started with it as
/// `ROCKET_PROXY_WITNESS_KEY`.
pub const WITNESS_KEY: &str = "process-tests-witness-key";

/// A running nginx master (and its workers, in the master's process group).
pub struct Proxy {
    child: Child,
    pub port: u16,
    run_dir: tempfile::TempDir,
}

impl Proxy {
    /// `Err` with the script's own line ("nginx is not installed: ...")
    /// when there is no nginx to start.
    pub fn available() -> Result<(), String> {
        let output = Command::new("bash")
            .arg(SCRIPT)
            .arg("--check")
            .output()
            .expect("bash runs proxy/nginx.sh");
        if output.status.success() {
            Ok(())
        } else {
            Err(String::from_utf8_lossy(&output.stderr).trim().to_owned())
        }
    }

    /// Starts nginx on a free loopback port in front of the app on
    /// `app_port`, under a soft limit of `soft_limit` open files, with every
    /// client timeout set to `timeout` (an nginx duration such as "2s"), and
    /// waits until it passes a request through.
    pub fn start(app_port: u16, soft_limit: u64, timeout: &str) -> Self {
        Self::start_in_front_of(&[app_port], soft_limit, timeout)
    }

    /// As [`Proxy::start`], in front of several instances of the app, one
    /// on each of `app_ports`, as `scripts/instances.sh` starts it.
    pub fn start_in_front_of(app_ports: &[u16], soft_limit: u64, timeout: &str) -> Self {
        let port = free_port();
        let apps: Vec<String> = app_ports
            .iter()
            .map(|app_port| format!("127.0.0.1:{app_port}"))
            .collect();
        let run_dir = tempfile::tempdir().expect("a temporary run directory");
        let child = Command::new("bash")
            .arg("-c")
            .arg(format!("ulimit -Sn {soft_limit} && exec \"$0\" \"$1\""))
            .arg(SCRIPT)
            .arg(run_dir.path())
            .env("ROOM_LISTEN", format!("127.0.0.1:{port}"))
            .env("ROOM_APP", apps.join(","))
            .env("ROOM_WITNESS_KEY", WITNESS_KEY)
            .env("ROOM_HEADER_TIMEOUT", timeout)
            .env("ROOM_BODY_TIMEOUT", timeout)
            .env("ROOM_SEND_TIMEOUT", timeout)
            .env("ROOM_KEEPALIVE_TIMEOUT", timeout)
            // Its own process group, so a master that will not stop can be
            // killed together with its workers, which would otherwise keep
            // the port.
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("bash starts proxy/nginx.sh");
        let mut proxy = Self {
            child,
            port,
            run_dir,
        };
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(10) {
            let raw = format!(
                "GET /health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
            );
            if matches!(send_raw(port, raw.as_bytes()), Ok(reply) if reply.status == 200) {
                return proxy;
            }
            if let Ok(Some(status)) = proxy.child.try_wait() {
                panic!("nginx exited ({status}): {}", proxy.error_log());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "nginx did not pass /health through on port {port} within 10 s: {}",
            proxy.error_log()
        );
    }

    /// What nginx logged, for a failure message.
    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.run_dir.path().join("error.log"))
            .unwrap_or_else(|error| format!("(no error.log: {error})"))
    }

    /// The process ids of the master's workers.
    pub fn workers(&self) -> Vec<u32> {
        let master = self.child.id().to_string();
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        entries
            .filter_map(|entry| {
                let pid: u32 = entry.ok()?.file_name().to_str()?.parse().ok()?;
                let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
                // After "pid (name)": the state, then the parent's id.
                let parent = stat.rsplit_once(')')?.1.split_whitespace().nth(1)?;
                (parent == master).then_some(pid)
            })
            .collect()
    }
}

/// A number nginx's config sets, read from the repository's file, so a test
/// checks against the value a room runs with.
pub fn config_number(directive: &str) -> u64 {
    let config = std::fs::read_to_string(CONFIG).expect("proxy/room.conf is readable");
    config
        .lines()
        .map(str::trim)
        .find_map(|line| line.strip_prefix(directive)?.trim().strip_suffix(';'))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("proxy/room.conf sets {directive} to a number"))
}

/// The soft open-file limit of process `pid`, as /proc reports it.
pub fn open_file_limit(pid: u32) -> Option<u64> {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).ok()?;
    let line = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

impl Drop for Proxy {
    fn drop(&mut self) {
        // SIGTERM: the master stops its workers and removes its pid file.
        let pid = self.child.id();
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(pid.to_string())
            .status();
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = Command::new("kill")
            .arg("-KILL")
            .arg("--")
            .arg(format!("-{pid}"))
            .status();
        let _ = self.child.wait();
    }
}
