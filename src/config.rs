//! The app's own settings, read from `Rocket.toml` and `ROCKET_*` variables.
//!
//! Every key has a default here, so the binary runs the same with or without
//! a `Rocket.toml` beside it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rocket::data::ByteUnit;
use serde::{Deserialize, Serialize};

use crate::instances::InstanceName;
use crate::proxy_witness::WitnessKey;
use crate::workshop::InstructorKey;

/// The largest `max_factorial` we accept. 100000! has 456,574 digits and takes
/// about a second to compute: far enough to explore, short of a hang.
pub const MAX_FACTORIAL_CEILING: u64 = 100_000;

/// Ten years: longer than any cached answer should live, short enough that
/// expiry times stay far from overflowing.
pub const MAX_DISK_TTL_SECS: u64 = 10 * 365 * 24 * 3600;

/// The smallest `disk_max_bytes` that holds an entry: on a file system with
/// 4 KiB blocks the directory's own folders and files take about 24 KiB, and
/// one small entry another 8–24 KiB (two files, up to four new folders).
pub const MIN_DISK_MAX_BYTES: u64 = 64 * 1024;

/// The most learners' catalogues `catalogue_max_learners` may allow: as
/// many as the workshop remembers learners, each a few kilobytes.
pub const MAX_CATALOGUE_LEARNERS: usize = 2_000;

/// The address of the shared tier's Redis, which may carry a password
/// (`redis://:secret@host:6379/`). Its `Debug` shows only the scheme, so a
/// `Config` printed in a log line or a panic message never shows it; the
/// address itself is read with [`RedisUrl::as_str`] where a connection is
/// made. (Serializing a `Config` still writes the whole address: that is
/// how the settings are handed to Rocket's figment.)
#[derive(Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(transparent)]
pub struct RedisUrl(String);

impl RedisUrl {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = self.0.split_once("://").map_or("?", |(scheme, _)| scheme);
        write!(f, "RedisUrl({scheme}://…)")
    }
}

impl From<&str> for RedisUrl {
    fn from(url: &str) -> Self {
        Self(url.to_owned())
    }
}

/// Settings for both cache tiers. Field names are the keys in `Rocket.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default)]
pub struct Config {
    /// How many factorial steps the memory tier holds before evicting the
    /// least recently used one.
    pub memory_capacity: usize,
    /// The largest n that `/factorial/<n>` accepts.
    pub max_factorial: u64,
    /// Simulated cost of computing one factorial step, so a miss is visibly slow.
    pub factorial_delay_ms: u64,
    /// Upper bound on the simulated cost of one request, so a cold 10000! still
    /// answers in about two seconds.
    pub factorial_delay_max_ms: u64,
    /// Where the disk tier keeps its files (relative to the working directory).
    pub cache_dir: PathBuf,
    /// How long a disk entry is served before it counts as expired.
    pub disk_ttl_secs: u64,
    /// Simulated cost of the work that a `/data` miss has to do.
    pub data_delay_ms: u64,
    /// Where workshop progress is kept. By default a file beside `cache_dir`
    /// (not inside it, so clearing the disk cache keeps everyone's progress).
    pub progress_file: Option<PathBuf>,
    /// What `cache_dir` may occupy on disk, as `du -s` counts it: content,
    /// index files and directories in whole file-system blocks. Past it the
    /// least recently used entries are removed. Accepts `"64 MiB"`. There is
    /// no separate limit on the number of entries: each costs at least two
    /// blocks, so this bounds the count too (and the memory the index uses).
    pub disk_max_bytes: ByteUnit,
    /// How often expired entries are removed from disk and leftovers of
    /// interrupted writes are reclaimed.
    pub disk_sweep_interval_secs: u64,
    /// The key that opens `/exercises/progress`, the instructor's view of
    /// every learner. Unset, the app derives one from the room secret (the
    /// same after a restart) and prints the link to the view when it starts.
    pub instructor_key: Option<InstructorKey>,
    /// The key a shared cache in front (nginx, `proxy/room.conf`) sends with
    /// each request it mirrors to `/http-cache/witness/...`, so that only it
    /// can say what it received. `scripts/shared-cache.sh` and
    /// `scripts/room.sh` draw one for each run and give it to both. Unset,
    /// the witness route answers 404 and nothing is recorded.
    pub proxy_witness_key: Option<WitnessKey>,
    /// What this copy of the app calls itself when several run on one
    /// machine: sent as `X-Instance` with every answer, shown at the foot of
    /// every page and on the dashboard. Unset, it is the port the app
    /// listens on (see [`InstanceName::for_port`]): instances started on
    /// several ports get names of their own without being given any, and
    /// two on one `cache_dir` with the same name would overwrite each
    /// other's snapshot on the dashboard.
    pub instance_name: InstanceName,
    /// The shared tier: a Redis server every instance reaches, such as
    /// `redis://127.0.0.1:6379/` (`scripts/redis.sh` starts one). Unset,
    /// there is no shared tier and each instance keeps only its own memory
    /// and its machine's disk.
    pub redis_url: Option<RedisUrl>,
    /// How long one call to Redis may take before it counts as a miss (and
    /// the tier as unavailable). Short: a cache that is slower than the
    /// work it saves is worse than none.
    pub redis_timeout_ms: u64,
    /// How long a lease to compute a missing value lasts in Redis (`SET NX
    /// PX`): other instances wait at most this long for the holder, so a
    /// crashed holder blocks nobody for longer.
    pub redis_lease_ms: u64,
    /// What one read of the catalogue's source of truth costs, so that its
    /// cache saves something visible.
    pub catalogue_read_delay_ms: u64,
    /// How long a cached catalogue price counts as fresh, at start (the
    /// learner changes it on `/catalogue`).
    pub catalogue_ttl_secs: u64,
    /// The `Cache-Control: max-age` catalogue item answers carry, at start.
    pub catalogue_browser_max_age_secs: u64,
    /// How long past its TTL stale-while-revalidate may still answer with a
    /// copy while refreshing it (RFC 5861's `stale-while-revalidate`).
    pub catalogue_stale_window_secs: u64,
    /// Time between two price changes while the market runs.
    pub catalogue_market_interval_ms: u64,
    /// How long the market runs once switched on, before it stops by itself.
    pub catalogue_market_duration_secs: u64,
    /// Where the market's random choices start, so a run can be repeated.
    pub catalogue_market_seed: u64,
    /// How many learners' own catalogues this instance keeps at once; past
    /// it the least recently used is dropped and rebuilt from the seed when
    /// its learner comes back (see [`crate::catalogue::Catalogues`]). Far
    /// above a room's size: it only bounds memory and market tasks against
    /// a client minting names.
    pub catalogue_max_learners: usize,
}

/// Rocket's own default port, and so the default instance's name when the
/// settings give neither.
const ROCKET_DEFAULT_PORT: u16 = 8000;

impl Default for Config {
    fn default() -> Self {
        Self {
            memory_capacity: 100,
            max_factorial: 10_000,
            factorial_delay_ms: 10,
            factorial_delay_max_ms: 2_000,
            cache_dir: PathBuf::from("cache_dir"),
            disk_ttl_secs: 3_600,
            data_delay_ms: 500,
            progress_file: None,
            disk_max_bytes: ByteUnit::Mebibyte(64),
            disk_sweep_interval_secs: 60,
            instructor_key: None,
            proxy_witness_key: None,
            instance_name: InstanceName::for_port(ROCKET_DEFAULT_PORT),
            redis_url: None,
            redis_timeout_ms: 100,
            redis_lease_ms: 5_000,
            catalogue_read_delay_ms: 200,
            catalogue_ttl_secs: 30,
            catalogue_browser_max_age_secs: 10,
            catalogue_stale_window_secs: 60,
            catalogue_market_interval_ms: 3_000,
            catalogue_market_duration_secs: 120,
            catalogue_market_seed: 42,
            catalogue_max_learners: 200,
        }
    }
}

/// Why a configuration was refused at start-up. Each reads as one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid configuration: {}", self.0)
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Reads the settings from a figment (Rocket's, in the app) and checks them.
    pub fn from_figment(figment: &rocket::figment::Figment) -> Result<Self, ConfigError> {
        let mut config: Config = figment
            .extract()
            .map_err(|error| ConfigError(one_line(&error.to_string())))?;
        if figment.find_value("instance_name").is_err() {
            let port = figment
                .extract_inner::<u16>("port")
                .unwrap_or(ROCKET_DEFAULT_PORT);
            config.instance_name = InstanceName::for_port(port);
        }
        config.validate()?;
        Ok(config)
    }

    /// Refuses settings the app cannot honour, before it serves anything.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.memory_capacity == 0 {
            return Err(ConfigError(
                "memory_capacity must be at least 1 (an empty cache can hold nothing)".into(),
            ));
        }
        if self.max_factorial > MAX_FACTORIAL_CEILING {
            return Err(ConfigError(format!(
                "max_factorial must be at most {MAX_FACTORIAL_CEILING}, got {}",
                self.max_factorial
            )));
        }
        if self.disk_ttl_secs > MAX_DISK_TTL_SECS {
            return Err(ConfigError(format!(
                "disk_ttl_secs must be at most {MAX_DISK_TTL_SECS} (ten years), got {}",
                self.disk_ttl_secs
            )));
        }
        if self.disk_ttl_secs == 0 {
            return Err(ConfigError(
                "disk_ttl_secs must be at least 1 (entries would expire as they are written)"
                    .into(),
            ));
        }
        if self.disk_max_bytes < MIN_DISK_MAX_BYTES {
            return Err(ConfigError(format!(
                "disk_max_bytes must be at least {MIN_DISK_MAX_BYTES} bytes (64 KiB): the cache \
                 directory's own folders and one entry's files take about that much, got {}",
                self.disk_max_bytes.as_u64()
            )));
        }
        if self.disk_sweep_interval_secs == 0 {
            return Err(ConfigError(
                "disk_sweep_interval_secs must be at least 1".into(),
            ));
        }
        self.validate_redis()?;
        self.validate_catalogue()?;
        ensure_writable_dir(&self.cache_dir)
    }

    /// The shared tier's settings: a URL the Redis client understands (no
    /// TLS: it is not built in), a timeout short enough that an outage
    /// costs a request little, a lease long enough to outlast a miss.
    fn validate_redis(&self) -> Result<(), ConfigError> {
        if let Some(url) = &self.redis_url {
            let refused = |why: &str| {
                // Never echo the URL: it may hold a password.
                ConfigError(format!(
                    "redis_url is not a Redis URL this app can use ({why}); write it as \
                     redis://127.0.0.1:6379/ or redis://:password@host:port/db"
                ))
            };
            let url = url.as_str();
            if !url.starts_with("redis://") && !url.starts_with("unix://") {
                return Err(refused("it must start with redis:// or unix://"));
            }
            redis::IntoConnectionInfo::into_connection_info(url)
                .map_err(|_| refused("it does not parse"))?;
        }
        if !(1..=10_000).contains(&self.redis_timeout_ms) {
            return Err(ConfigError(format!(
                "redis_timeout_ms must be between 1 and 10000, got {}",
                self.redis_timeout_ms
            )));
        }
        if !(10..=60_000).contains(&self.redis_lease_ms) {
            return Err(ConfigError(format!(
                "redis_lease_ms must be between 10 and 60000, got {}",
                self.redis_lease_ms
            )));
        }
        Ok(())
    }

    /// The catalogue's settings, each within the bounds a lesson needs.
    fn validate_catalogue(&self) -> Result<(), ConfigError> {
        let max = crate::catalogue::MAX_FRESHNESS_SECS;
        let checks: [(&str, u64, u64, u64); 6] = [
            (
                "catalogue_read_delay_ms",
                self.catalogue_read_delay_ms,
                0,
                10_000,
            ),
            ("catalogue_ttl_secs", self.catalogue_ttl_secs, 1, max),
            (
                "catalogue_browser_max_age_secs",
                self.catalogue_browser_max_age_secs,
                0,
                max,
            ),
            (
                "catalogue_stale_window_secs",
                self.catalogue_stale_window_secs,
                0,
                max,
            ),
            (
                "catalogue_market_interval_ms",
                self.catalogue_market_interval_ms,
                10,
                60_000,
            ),
            (
                "catalogue_market_duration_secs",
                self.catalogue_market_duration_secs,
                1,
                max,
            ),
        ];
        for (name, value, low, high) in checks {
            if !(low..=high).contains(&value) {
                return Err(ConfigError(format!(
                    "{name} must be between {low} and {high}, got {value}"
                )));
            }
        }
        if !(1..=MAX_CATALOGUE_LEARNERS).contains(&self.catalogue_max_learners) {
            return Err(ConfigError(format!(
                "catalogue_max_learners must be between 1 and {MAX_CATALOGUE_LEARNERS}, got {}",
                self.catalogue_max_learners
            )));
        }
        Ok(())
    }

    /// How many learners' catalogues to keep, as [`crate::catalogue::Catalogues`] takes it.
    pub fn catalogue_max_learners(&self) -> std::num::NonZeroUsize {
        std::num::NonZeroUsize::new(self.catalogue_max_learners)
            .unwrap_or(std::num::NonZeroUsize::MIN)
    }

    /// The catalogue's settings, as [`crate::catalogue::Catalogue`] takes them.
    pub fn catalogue(&self) -> crate::catalogue::CatalogueSettings {
        crate::catalogue::CatalogueSettings {
            read_delay: Duration::from_millis(self.catalogue_read_delay_ms),
            freshness: crate::catalogue::Freshness {
                strategy: crate::catalogue::Strategy::default(),
                ttl_secs: self.catalogue_ttl_secs,
                browser_max_age_secs: self.catalogue_browser_max_age_secs,
            },
            stale_window: Duration::from_secs(self.catalogue_stale_window_secs),
            market: crate::catalogue::MarketSettings {
                interval: Duration::from_millis(self.catalogue_market_interval_ms),
                duration: Duration::from_secs(self.catalogue_market_duration_secs),
                seed: self.catalogue_market_seed,
            },
        }
    }

    /// How long one call to Redis may take.
    pub fn redis_timeout(&self) -> Duration {
        Duration::from_millis(self.redis_timeout_ms)
    }

    /// How long a compute lease in Redis lasts.
    pub fn redis_lease(&self) -> Duration {
        Duration::from_millis(self.redis_lease_ms)
    }

    pub fn factorial_delay_per_step(&self) -> Duration {
        Duration::from_millis(self.factorial_delay_ms)
    }

    pub fn factorial_delay_max(&self) -> Duration {
        Duration::from_millis(self.factorial_delay_max_ms)
    }

    pub fn disk_ttl(&self) -> Duration {
        Duration::from_secs(self.disk_ttl_secs)
    }

    /// `progress_file`, or `<cache_dir>-progress.jsonl` beside `cache_dir`.
    pub fn progress_path(&self) -> PathBuf {
        self.progress_file.clone().unwrap_or_else(|| {
            let name = self
                .cache_dir
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_else(|| "cache_dir".into());
            self.cache_dir
                .with_file_name(format!("{name}-progress.jsonl"))
        })
    }

    /// Where the room secret that learners' keys come from is kept:
    /// `<progress file>.secret`, beside the progress file.
    pub fn room_secret_path(&self) -> PathBuf {
        crate::workshop::room_secret_path(&self.progress_path())
    }

    /// Where each instance on this machine keeps a snapshot of its
    /// counters for the others' dashboards: `<cache_dir>-instances`, beside
    /// `cache_dir` and not inside it, since clearing the disk tier empties
    /// `cache_dir` and its size bound counts every byte in it.
    pub fn instances_dir(&self) -> PathBuf {
        let name = self
            .cache_dir
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_else(|| "cache_dir".into());
        self.cache_dir.with_file_name(format!("{name}-instances"))
    }

    /// Where the speed table writes the file it times: `<cache_dir>-speed`,
    /// beside `cache_dir` on the same file system (so a disk read is timed
    /// where the disk tier reads), and not inside it, where the size bound
    /// would count it and a clear could remove it mid-measurement.
    pub fn speed_dir(&self) -> PathBuf {
        let name = self
            .cache_dir
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_else(|| "cache_dir".into());
        self.cache_dir.with_file_name(format!("{name}-speed"))
    }

    pub fn data_delay(&self) -> Duration {
        Duration::from_millis(self.data_delay_ms)
    }

    pub fn disk_sweep_interval(&self) -> Duration {
        Duration::from_secs(self.disk_sweep_interval_secs)
    }
}

/// Creates `dir` if needed and proves we can write in it, so a bad
/// `cache_dir` stops start-up instead of failing every later write.
fn ensure_writable_dir(dir: &Path) -> Result<(), ConfigError> {
    let refuse = |error: std::io::Error| {
        ConfigError(format!(
            "cache_dir {} is not a writable directory: {error}",
            dir.display()
        ))
    };
    std::fs::create_dir_all(dir).map_err(refuse)?;
    let probe = dir.join(".cachelab-write-probe");
    std::fs::write(&probe, b"ok").map_err(refuse)?;
    std::fs::remove_file(&probe).map_err(refuse)
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid_in(dir: &Path) -> Config {
        Config {
            cache_dir: dir.to_path_buf(),
            ..Config::default()
        }
    }

    #[test]
    fn a_printed_config_never_shows_the_redis_password() {
        let config = Config {
            redis_url: Some("redis://:hunter2@10.0.0.7:6379/0".into()),
            ..Config::default()
        };
        let printed = format!("{config:?}");
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(!printed.contains("10.0.0.7"), "{printed}");
        assert!(printed.contains("RedisUrl(redis://…)"), "{printed}");
        assert_eq!(
            config.redis_url.as_ref().map(RedisUrl::as_str),
            Some("redis://:hunter2@10.0.0.7:6379/0")
        );
    }

    #[test]
    fn defaults_are_valid() {
        let dir = tempfile::tempdir().expect("temp dir");
        assert_eq!(valid_in(dir.path()).validate(), Ok(()));
    }

    #[test]
    fn zero_capacity_is_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = Config {
            memory_capacity: 0,
            ..valid_in(dir.path())
        };
        let error = config.validate().expect_err("capacity 0 must be refused");
        assert!(error.to_string().contains("memory_capacity"));
    }

    #[test]
    fn a_catalogue_cap_of_zero_or_past_the_learners_remembered_is_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        for refused in [0, MAX_CATALOGUE_LEARNERS + 1] {
            let config = Config {
                catalogue_max_learners: refused,
                ..valid_in(dir.path())
            };
            let error = config.validate().expect_err("out of bounds");
            assert!(
                error.to_string().contains("catalogue_max_learners"),
                "{error}"
            );
        }
    }

    #[test]
    fn cache_dir_under_a_file_is_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("plain-file");
        std::fs::write(&file, b"x").expect("write file");
        let error = valid_in(&file.join("cache"))
            .validate()
            .expect_err("a directory inside a file cannot exist");
        assert!(error.to_string().contains("cache_dir"));
        assert!(!error.to_string().contains('\n'));
    }
}
