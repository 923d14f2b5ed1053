//! Several copies of the app on one machine, and what each tells the others.
//!
//! A real web app runs as several processes. Each has its own memory tier,
//! so a value one computed is a miss in the next, while the disk tier, one
//! directory on the machine, is shared by all. To let the dashboard show
//! every instance's tiers side by side without any network between them,
//! each instance writes a small snapshot of its counters into a directory
//! beside `cache_dir` (see [`crate::Config::instances_dir`]) and reads the
//! others' from there: [`Reporter::run`] does both, in the background, off
//! every request's path.
//!
//! No Rocket types here: `web/instance.rs` puts this onto the app.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::clock::Clock;
use crate::disk::DiskStats;
use crate::memory::MemoryStats;

/// How often an instance looks at its counters and at the others' snapshots.
pub const REPORT_INTERVAL: Duration = Duration::from_secs(1);

/// An instance whose counters have not changed rewrites its snapshot this
/// often all the same, so the others can tell it is still running.
pub const HEARTBEAT: Duration = Duration::from_secs(3);

/// A snapshot older than this is from an instance that stopped without
/// removing it (killed, or its machine slept): it is not shown. Three
/// heartbeats, so one slow write on a busy machine does not hide a column.
pub const STALE_AFTER: Duration = Duration::from_secs(10);

/// A snapshot file larger than this is not one of ours, and is not read.
const MAX_SNAPSHOT_BYTES: u64 = 4096;

/// At most this many snapshots are read, whatever else is in the directory.
const MAX_INSTANCES_SHOWN: usize = 64;

/// What an instance calls itself: in every answer's `X-Instance`, at the
/// foot of every page, in `/stats` and on the dashboard, and as the name of
/// its snapshot file. 1 to 32 letters, digits, `-` or `_`, so it is a
/// header value and a file name as it is.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct InstanceName(String);

impl InstanceName {
    pub const MAX_LENGTH: usize = 32;

    pub fn parse(raw: &str) -> Result<Self, String> {
        let usable = (1..=Self::MAX_LENGTH).contains(&raw.len())
            && raw
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_');
        if usable {
            Ok(Self(raw.to_owned()))
        } else {
            Err(format!(
                "instance_name must be 1 to {} letters, digits, '-' or '_', got {raw:?}",
                Self::MAX_LENGTH
            ))
        }
    }

    /// The name an instance has when none is set: the port it listens on,
    /// so instances started by hand on several ports are told apart without
    /// naming them, and `X-Instance: 8002` says where to reach that one
    /// directly. Port 0 (any free port) names it by its process id instead.
    pub fn for_port(port: u16) -> Self {
        if port == 0 {
            Self(format!("pid{}", std::process::id()))
        } else {
            Self(port.to_string())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for InstanceName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for InstanceName {
    type Error = String;

    fn try_from(raw: String) -> Result<Self, String> {
        Self::parse(&raw)
    }
}

impl From<InstanceName> for String {
    fn from(name: InstanceName) -> String {
        name.0
    }
}

/// One instance's counters, as the dashboard compares them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceCounts {
    pub memory_entries: usize,
    pub memory_capacity: usize,
    pub memory_hits: u64,
    pub memory_misses: u64,
    pub disk_hits: u64,
    pub disk_misses: u64,
}

impl InstanceCounts {
    pub fn of(memory: &MemoryStats, disk: &DiskStats) -> Self {
        Self {
            memory_entries: memory.entries,
            memory_capacity: memory.capacity,
            memory_hits: memory.hits,
            memory_misses: memory.misses,
            disk_hits: disk.hits,
            disk_misses: disk.misses,
        }
    }
}

/// What one instance wrote about itself: `<instances dir>/<name>.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceSnapshot {
    pub instance: InstanceName,
    /// The writer's process id: two processes given the same name are
    /// told apart by it.
    pub pid: u32,
    /// When it was written, by the writer's clock (milliseconds since the
    /// Unix epoch); every instance on one machine reads the same clock.
    pub written_at_ms: u64,
    pub counts: InstanceCounts,
}

/// This instance's name, where the snapshots are kept, and the others'
/// snapshots as last read. Cheap to clone; clones share what was read.
#[derive(Debug, Clone)]
pub struct Instances {
    name: InstanceName,
    dir: PathBuf,
    clock: Clock,
    others: Arc<Mutex<Vec<InstanceSnapshot>>>,
}

impl Instances {
    pub fn new(name: InstanceName, dir: PathBuf, clock: Clock) -> Self {
        Self {
            name,
            dir,
            clock,
            others: Arc::default(),
        }
    }

    pub fn name(&self) -> &InstanceName {
        &self.name
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The other instances running on this machine, by name, as their
    /// snapshots said at the last look (at most [`REPORT_INTERVAL`] ago).
    /// Read from memory: no file is touched.
    pub fn others(&self) -> Vec<InstanceSnapshot> {
        self.others
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The background job that keeps this instance's snapshot current and
    /// reads the others'. `counts` gives this instance's counters, or
    /// `None` once the tiers are gone (the job then ends).
    pub fn reporter(
        &self,
        counts: impl Fn() -> Option<InstanceCounts> + Send + Sync + 'static,
    ) -> Reporter {
        Reporter {
            instances: self.clone(),
            counts: Arc::new(counts),
            last_written: Arc::new(Mutex::new(None)),
            warned_about_name: Arc::default(),
        }
    }

    fn own_file(&self) -> PathBuf {
        self.dir.join(format!("{}.json", self.name))
    }

    /// Writes `snapshot` as this instance's file, whole or not at all: into
    /// a temporary file first, then renamed over the old one, so a reader
    /// never sees half of it.
    fn write(&self, snapshot: &InstanceSnapshot) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let json = serde_json::to_vec(snapshot).map_err(std::io::Error::other)?;
        // The process id in the name: two processes that were given one
        // name do not write into each other's temporary file.
        let temporary = self
            .dir
            .join(format!(".{}.{}.tmp", self.name, std::process::id()));
        let written = std::fs::File::create(&temporary).and_then(|mut file| file.write_all(&json));
        match written.and_then(|()| std::fs::rename(&temporary, self.own_file())) {
            Ok(()) => Ok(()),
            Err(error) => {
                let _ = std::fs::remove_file(&temporary);
                Err(error)
            }
        }
    }

    /// Every fresh snapshot in the directory, this instance's own file
    /// included, by name.
    fn read_all(&self) -> Vec<InstanceSnapshot> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let now = self.clock.now_ms();
        let stale_ms = crate::clock::duration_ms(STALE_AFTER);
        let mut found: Vec<InstanceSnapshot> = entries
            .flatten()
            .filter(|entry| {
                let name = entry.file_name();
                let name = name.to_string_lossy();
                name.ends_with(".json") && !name.starts_with('.')
            })
            .filter(|entry| {
                entry
                    .metadata()
                    .is_ok_and(|meta| meta.is_file() && meta.len() <= MAX_SNAPSHOT_BYTES)
            })
            .filter_map(|entry| {
                let bytes = std::fs::read(entry.path()).ok()?;
                let snapshot: InstanceSnapshot = serde_json::from_slice(&bytes).ok()?;
                // A file renamed by hand says nothing about the name inside it.
                let named_for_itself =
                    entry.file_name().to_string_lossy() == format!("{}.json", snapshot.instance);
                named_for_itself.then_some(snapshot)
            })
            .filter(|snapshot| snapshot.written_at_ms.saturating_add(stale_ms) >= now)
            .take(MAX_INSTANCES_SHOWN)
            .collect();
        found.sort_by(|a, b| a.instance.cmp(&b.instance));
        found
    }

    /// Removes this instance's snapshot, unless another process that was
    /// given the same name wrote it last.
    fn remove_own(&self) {
        let path = self.own_file();
        let ours = std::fs::read(&path)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<InstanceSnapshot>(&bytes).ok())
            .is_some_and(|snapshot| snapshot.pid == std::process::id());
        if ours {
            if let Err(error) = std::fs::remove_file(&path) {
                log::warn!("instance snapshot {} not removed: {error}", path.display());
            }
        }
    }
}

/// Keeps this instance's snapshot current and the others' read (see
/// [`Instances::reporter`]).
#[derive(Clone)]
pub struct Reporter {
    instances: Instances,
    counts: Arc<CountsSource>,
    /// What was last written, and when by this instance's clock.
    last_written: Arc<Mutex<Option<(InstanceCounts, u64)>>>,
    warned_about_name: Arc<std::sync::atomic::AtomicBool>,
}

/// Where a [`Reporter`] reads this instance's counters from.
type CountsSource = dyn Fn() -> Option<InstanceCounts> + Send + Sync;

impl Reporter {
    /// One look: writes this instance's snapshot if its counters changed
    /// (or a heartbeat is due), then reads everyone's. File work, so it runs
    /// on the blocking pool. `false` once the tiers are gone.
    pub async fn report_once(&self) -> bool {
        let reporter = self.clone();
        tokio::task::spawn_blocking(move || reporter.report_blocking())
            .await
            .unwrap_or(false)
    }

    fn report_blocking(&self) -> bool {
        let Some(counts) = (self.counts)() else {
            return false;
        };
        let instances = &self.instances;
        let now = instances.clock.now_ms();
        let mut last_written = self
            .last_written
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let due = match *last_written {
            Some((written, at)) => {
                written != counts || now.saturating_sub(at) >= crate::clock::duration_ms(HEARTBEAT)
            }
            None => true,
        };
        if due {
            let snapshot = InstanceSnapshot {
                instance: instances.name.clone(),
                pid: std::process::id(),
                written_at_ms: now,
                counts,
            };
            match instances.write(&snapshot) {
                Ok(()) => *last_written = Some((counts, now)),
                Err(error) => log::warn!(
                    "instance snapshot not written to {}: {error}",
                    instances.dir.display()
                ),
            }
        }
        drop(last_written);
        let mut others = instances.read_all();
        let own_pid = std::process::id();
        if others
            .iter()
            .any(|other| other.instance == instances.name && other.pid != own_pid)
            && !self
                .warned_about_name
                .swap(true, std::sync::atomic::Ordering::Relaxed)
        {
            log::warn!(
                "another process on {} is also named {:?}: give each instance its own \
                 instance_name, or the dashboard shows only one of them",
                instances.dir.display(),
                instances.name.as_str()
            );
        }
        others.retain(|other| other.instance != instances.name);
        *instances
            .others
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = others;
        true
    }

    /// Looks every [`REPORT_INTERVAL`] until `stop` completes or the tiers
    /// are gone. The caller looks once itself first (see
    /// [`Reporter::report_once`]), so the others are known as soon as the
    /// app serves.
    pub async fn run(self, stop: impl std::future::Future<Output = ()>) {
        tokio::pin!(stop);
        loop {
            tokio::select! {
                _ = &mut stop => return,
                _ = tokio::time::sleep(REPORT_INTERVAL) => {}
            }
            tokio::select! {
                _ = &mut stop => return,
                going_on = self.report_once() => if !going_on { return },
            }
        }
    }

    /// Removes this instance's snapshot: it has stopped, and the others'
    /// dashboards drop its column at their next look.
    pub async fn remove_snapshot(&self) {
        let instances = self.instances.clone();
        let _ = tokio::task::spawn_blocking(move || instances.remove_own()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(hits: u64) -> InstanceCounts {
        InstanceCounts {
            memory_entries: 1,
            memory_capacity: 100,
            memory_hits: hits,
            memory_misses: 1,
            disk_hits: 0,
            disk_misses: 0,
        }
    }

    #[test]
    fn names_are_short_header_safe_file_names() {
        assert!(InstanceName::parse("b").is_ok());
        assert!(InstanceName::parse("web-2_eu").is_ok());
        for refused in ["", "../x", "a b", "a.json", "é", &"x".repeat(33)] {
            assert!(InstanceName::parse(refused).is_err(), "{refused:?}");
        }
        assert_eq!(InstanceName::for_port(8001).as_str(), "8001");
        assert!(InstanceName::for_port(0).as_str().starts_with("pid"));
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_snapshot_is_written_whole_read_by_the_others_and_removed_on_stop() {
        let dir = tempfile::tempdir().expect("temp dir");
        let clock = Clock::system();
        let a = Instances::new(
            InstanceName::parse("a").expect("name"),
            dir.path().join("instances"),
            clock.clone(),
        );
        let b = Instances::new(
            InstanceName::parse("b").expect("name"),
            dir.path().join("instances"),
            clock,
        );
        let reporter_a = a.reporter(|| Some(counts(7)));
        let reporter_b = b.reporter(|| Some(counts(2)));
        assert!(reporter_a.report_once().await);
        assert!(reporter_b.report_once().await);
        let seen_by_b = b.others();
        assert_eq!(seen_by_b.len(), 1);
        assert_eq!(seen_by_b[0].instance.as_str(), "a");
        assert_eq!(seen_by_b[0].counts.memory_hits, 7);
        let leftovers: Vec<_> = std::fs::read_dir(a.dir())
            .expect("dir")
            .flatten()
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .filter(|name| name.contains("tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");

        reporter_a.remove_snapshot().await;
        assert!(reporter_b.report_once().await);
        assert!(b.others().is_empty());
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_stale_snapshot_is_not_shown() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (clock, time) = Clock::mock();
        let instances_dir = dir.path().join("instances");
        let a = Instances::new(
            InstanceName::parse("a").expect("name"),
            instances_dir.clone(),
            Clock::system(),
        );
        let b = Instances::new(
            InstanceName::parse("b").expect("name"),
            instances_dir,
            clock,
        );
        assert!(a.reporter(|| Some(counts(1))).report_once().await);
        let reporter_b = b.reporter(|| Some(counts(1)));
        assert!(reporter_b.report_once().await);
        assert_eq!(b.others().len(), 1);
        time.advance(STALE_AFTER + Duration::from_secs(1));
        assert!(reporter_b.report_once().await);
        assert!(b.others().is_empty(), "{:?}", b.others());
    }
}
