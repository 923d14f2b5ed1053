//! The shared tier: answers kept in a Redis server that every instance
//! reaches, behind each process's memory and each machine's disk.
//!
//! A request looks nearest first: `/factorial/<n>` asks this process's
//! memory, then Redis, then computes; `/data` asks this machine's disk, then
//! Redis, then computes. A hit here fills the nearer tier. What Redis holds
//! is checked before it is used (the SHA-256 of the answer's bytes, stored
//! beside them, and the answer's own key), so a damaged or foreign value is
//! a miss, never a wrong answer.
//!
//! Redis is a server on the network, so it can be down, slow or restarted.
//! None of that may fail a request: every call has a short timeout
//! (`redis_timeout_ms`), a failed call is a miss, the outage is logged once
//! and counted, and while Redis is away requests do not try it at all: a
//! background keeper pings it and turns sharing back on when it answers.
//!
//! The values go through the `cached` crate's Redis store
//! (`AsyncRedisCache`), the same crate whose `LruCache` is the memory tier.
//! Leases, invalidation messages and the health check use the `redis`
//! client directly, since the store offers none of them.

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use cached::stores::AsyncRedisCache;
use cached::ConcurrentCachedAsync;

use crate::clock::system_now_ms;

mod checked;
mod coherence;
mod keeper;
mod lease;

pub use checked::SharedValue;
pub use coherence::{Arrival, Invalidation, Scope};
use keeper::Connected;
pub use lease::Lease;

/// The prefix of every key this app writes, so a clear never touches
/// anything else the server holds.
const NAMESPACE: &str = "cachelab";

/// How the shared tier is set up.
#[derive(Debug, Clone)]
pub struct RedisSettings {
    /// `None`: there is no shared tier.
    pub url: Option<String>,
    pub timeout: Duration,
    pub lease: Duration,
    /// How long a `/data` answer lives in Redis (the disk tier's TTL).
    pub data_ttl: Duration,
    /// This instance's name, sent with the invalidations it publishes.
    pub instance: String,
}

/// Whether the shared tier can be used right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    /// No `redis_url`: there is no shared tier.
    Off,
    /// Configured, not reached yet.
    Connecting,
    /// Answering.
    Up,
    /// Configured but not answering: every lookup is a miss until the
    /// keeper reaches it again.
    Down,
}

impl Health {
    fn from_u8(value: u8) -> Self {
        match value {
            0 => Self::Off,
            1 => Self::Connecting,
            2 => Self::Up,
            _ => Self::Down,
        }
    }

    fn as_u8(self) -> u8 {
        match self {
            Self::Off => 0,
            Self::Connecting => 1,
            Self::Up => 2,
            Self::Down => 3,
        }
    }
}

/// Which of the app's two kinds of answer a key names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `/factorial/<n>`'s answer, keyed by n.
    Factorial,
    /// `/data`'s answer, keyed by the body's SHA-256.
    Data,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Self::Factorial => "factorial",
            Self::Data => "data",
        }
    }
}

/// What the shared tier did for one request that the nearer tier missed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SharedOutcome {
    /// There is no shared tier.
    Off,
    /// Configured but down, or too slow this time: counted as a miss.
    Unavailable,
    /// Found and checked.
    Hit,
    /// Not there (or damaged, or foreign: `damaged`); this request computed
    /// the answer and `stored` says whether it is now in Redis for the
    /// others.
    Miss { damaged: bool, stored: bool },
    /// Another instance held the lease and was computing it: this request
    /// waited for that work and then read the answer from Redis.
    Collapsed,
}

impl SharedOutcome {
    /// Whether the answer came from Redis.
    pub fn answered(self) -> bool {
        matches!(self, Self::Hit | Self::Collapsed)
    }
}

/// What the shared tier did, and what it cost (its part of the request's
/// time: reads, lease and waiting, and the write of a computed answer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SharedLookup {
    pub outcome: SharedOutcome,
    pub elapsed: Duration,
}

impl SharedLookup {
    pub const OFF: Self = Self {
        outcome: SharedOutcome::Off,
        elapsed: Duration::ZERO,
    };
}

/// What a nearer tier gets back when it asks the shared tier before
/// computing.
pub enum Fetched {
    /// The checked answer, and how it was found.
    Found {
        body: Arc<[u8]>,
        lookup: SharedLookup,
    },
    /// Compute it; then hand the answer to [`RedisTier::keep`] with this
    /// ticket, which stores it for the others and releases the lease.
    Compute(Ticket),
}

/// The right to compute one missing answer, with what the shared tier
/// already did about it.
pub struct Ticket {
    kind: Kind,
    key: String,
    lease: Option<Lease>,
    damaged: bool,
    outcome: SharedOutcome,
    started: Instant,
    spent: Duration,
}

impl Ticket {
    fn local(kind: Kind, key: &str, outcome: SharedOutcome) -> Self {
        Self {
            kind,
            key: key.to_owned(),
            lease: None,
            damaged: false,
            outcome,
            started: Instant::now(),
            spent: Duration::ZERO,
        }
    }
}

/// Counters for `/stats`, the dashboard and `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct RedisStats {
    pub health: Health,
    pub hits: u64,
    pub misses: u64,
    /// Lookups answered as misses because Redis was down or too slow.
    pub unavailable: u64,
    /// Calls that failed or timed out.
    pub errors: u64,
    /// Values that failed their check (damaged, or not this key's answer).
    pub damaged: u64,
    /// Answers stored for the other instances.
    pub stored: u64,
    /// Bytes of answers read from Redis.
    pub bytes_read: u64,
    /// Misses that waited for another instance's computation.
    pub collapsed: u64,
    /// Times the tier went down (each outage is logged once).
    pub outages: u64,
    /// Invalidations published, and received from other instances.
    pub invalidations_sent: u64,
    pub invalidations_received: u64,
}

#[derive(Default)]
struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    unavailable: AtomicU64,
    errors: AtomicU64,
    damaged: AtomicU64,
    stored: AtomicU64,
    bytes_read: AtomicU64,
    collapsed: AtomicU64,
    outages: AtomicU64,
    invalidations_sent: AtomicU64,
    invalidations_received: AtomicU64,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// What an instance does with an invalidation another one published:
/// returns how many entries it dropped.
pub type InvalidationHandler = Box<dyn Fn(&Invalidation) -> usize + Send + Sync>;

/// The shared tier's handle. Cheap to share: everything lives behind an
/// `Arc`, so the keeper task holds the same state as the requests.
#[derive(Clone)]
pub struct RedisTier(Arc<Inner>);

struct Inner {
    settings: RedisSettings,
    health: AtomicU8,
    connected: RwLock<Option<Arc<Connected>>>,
    counters: Counters,
    /// Recent invalidations received from other instances, newest last.
    arrivals: Mutex<std::collections::VecDeque<Arrival>>,
    on_invalidation: RwLock<Option<InvalidationHandler>>,
    /// Tells this instance's own messages apart from the others' (the name
    /// alone may repeat after a restart).
    origin: String,
}

impl RedisTier {
    /// The tier for `settings`; nothing is contacted until [`RedisTier::keeper`]
    /// runs. Without a URL it is [`Health::Off`] for good.
    pub fn new(settings: RedisSettings) -> Self {
        let health = if settings.url.is_some() {
            Health::Connecting
        } else {
            Health::Off
        };
        let origin = format!("{}#{}", settings.instance, system_now_ms());
        Self(Arc::new(Inner {
            settings,
            health: AtomicU8::new(health.as_u8()),
            connected: RwLock::new(None),
            counters: Counters::default(),
            arrivals: Mutex::new(std::collections::VecDeque::new()),
            on_invalidation: RwLock::new(None),
            origin,
        }))
    }

    /// A tier that is off, made once: for code that runs without one (unit
    /// tests, benchmarks).
    pub fn off() -> &'static Self {
        static OFF: std::sync::LazyLock<RedisTier> = std::sync::LazyLock::new(|| {
            RedisTier::new(RedisSettings {
                url: None,
                timeout: Duration::from_millis(100),
                lease: Duration::from_secs(5),
                data_ttl: Duration::from_secs(3600),
                instance: String::new(),
            })
        });
        &OFF
    }

    pub fn health(&self) -> Health {
        Health::from_u8(self.0.health.load(Ordering::Relaxed))
    }

    pub fn is_configured(&self) -> bool {
        self.0.settings.url.is_some()
    }

    /// How long one call may take.
    pub fn timeout(&self) -> Duration {
        self.0.settings.timeout
    }

    pub fn stats(&self) -> RedisStats {
        let counters = &self.0.counters;
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        RedisStats {
            health: self.health(),
            hits: load(&counters.hits),
            misses: load(&counters.misses),
            unavailable: load(&counters.unavailable),
            errors: load(&counters.errors),
            damaged: load(&counters.damaged),
            stored: load(&counters.stored),
            bytes_read: load(&counters.bytes_read),
            collapsed: load(&counters.collapsed),
            outages: load(&counters.outages),
            invalidations_sent: load(&counters.invalidations_sent),
            invalidations_received: load(&counters.invalidations_received),
        }
    }

    /// Looks `key` up before a nearer tier computes it. A checked answer is
    /// [`Fetched::Found`]. Otherwise the caller computes, under a lease when
    /// Redis is up: if another instance already holds the lease, this waits
    /// (at most the lease's length) for its answer to appear, so a cold
    /// value requested on several instances at once is computed once.
    pub async fn fetch(&self, kind: Kind, key: &str) -> Fetched {
        let started = Instant::now();
        let Some(connected) = self.usable() else {
            return Fetched::Compute(Ticket::local(kind, key, self.unusable_outcome()));
        };
        let mut damaged = false;
        match self.read(&connected, kind, key).await {
            Read::Found(body) => return self.found(body, SharedOutcome::Hit, started),
            Read::Absent => {}
            Read::Damaged => damaged = true,
            Read::Failed => {
                return Fetched::Compute(Ticket::local(kind, key, SharedOutcome::Unavailable))
            }
        }
        let lease_length = self.0.settings.lease;
        let deadline = started + lease_length;
        loop {
            match lease::acquire(self, &connected, kind, key, lease_length).await {
                Ok(Some(lease)) => {
                    bump(&self.0.counters.misses);
                    return Fetched::Compute(Ticket {
                        kind,
                        key: key.to_owned(),
                        lease: Some(lease),
                        damaged,
                        outcome: SharedOutcome::Miss {
                            damaged,
                            stored: false,
                        },
                        started,
                        spent: started.elapsed(),
                    });
                }
                Ok(None) => {}
                Err(()) => {
                    return Fetched::Compute(Ticket::local(kind, key, SharedOutcome::Unavailable))
                }
            }
            // Someone else is computing it: wait for their answer, or for
            // their lease to go (finished, failed or crashed), whichever is
            // first, and never past our own deadline.
            if Instant::now() >= deadline {
                bump(&self.0.counters.misses);
                let mut ticket = Ticket::local(
                    kind,
                    key,
                    SharedOutcome::Miss {
                        damaged,
                        stored: false,
                    },
                );
                ticket.started = started;
                ticket.spent = started.elapsed();
                return Fetched::Compute(ticket);
            }
            tokio::time::sleep(lease::POLL_INTERVAL).await;
            match self.read(&connected, kind, key).await {
                Read::Found(body) => {
                    bump(&self.0.counters.collapsed);
                    return self.found(body, SharedOutcome::Collapsed, started);
                }
                Read::Absent | Read::Damaged => {}
                Read::Failed => {
                    return Fetched::Compute(Ticket::local(kind, key, SharedOutcome::Unavailable))
                }
            }
        }
    }

    fn found(&self, body: Arc<[u8]>, outcome: SharedOutcome, started: Instant) -> Fetched {
        bump(&self.0.counters.hits);
        self.0
            .counters
            .bytes_read
            .fetch_add(body.len() as u64, Ordering::Relaxed);
        Fetched::Found {
            body,
            lookup: SharedLookup {
                outcome,
                elapsed: started.elapsed(),
            },
        }
    }

    /// Stores a computed answer for the other instances (when Redis is up)
    /// and releases the lease; returns what the shared tier did for this
    /// request, and what it cost in all.
    pub async fn keep(&self, ticket: Ticket, body: &[u8]) -> SharedLookup {
        let Ticket {
            kind,
            key,
            lease,
            damaged,
            outcome,
            started,
            spent,
        } = ticket;
        let SharedOutcome::Miss { .. } = outcome else {
            return SharedLookup {
                outcome,
                elapsed: spent,
            };
        };
        let writing = Instant::now();
        let stored = match self.usable() {
            Some(connected) => {
                let stored = self.write(&connected, kind, &key, body).await;
                if let Some(lease) = lease {
                    lease::release(self, &connected, lease).await;
                }
                stored
            }
            None => false,
        };
        let _ = started;
        SharedLookup {
            outcome: SharedOutcome::Miss { damaged, stored },
            elapsed: spent + writing.elapsed(),
        }
    }

    /// Removes one answer from Redis. `false` when Redis could not be asked.
    pub async fn forget(&self, kind: Kind, key: &str) -> bool {
        let Some(connected) = self.usable() else {
            return false;
        };
        let removed = match kind {
            Kind::Factorial => {
                self.call(connected.factorials.async_cache_delete(&key.to_owned()))
                    .await
            }
            Kind::Data => {
                self.call(connected.data.async_cache_delete(&key.to_owned()))
                    .await
            }
        };
        removed.is_some()
    }

    /// Empties the shared tier (this app's keys only). `None` when Redis
    /// could not be asked.
    pub async fn clear(&self) -> Option<()> {
        let connected = self.usable()?;
        self.call(connected.factorials.async_cache_clear()).await?;
        self.call(connected.data.async_cache_clear()).await
    }

    /// How many answers the shared tier holds now, of both kinds (`None`
    /// when Redis cannot be asked). Counted with `SCAN`, so it costs a
    /// moment per thousand keys: for pages and scrapes, not for requests.
    pub async fn entries(&self) -> Option<u64> {
        let connected = self.usable()?;
        keeper::count_keys(self, &connected).await
    }

    /// Tells every other instance to drop what `scope` names from its
    /// memory. Best effort: an instance that is not subscribed at that
    /// moment (Redis down, or itself restarting) never hears it, which is
    /// what pub/sub promises.
    pub async fn publish(&self, scope: Scope) {
        self.publish_for(scope, None).await;
    }

    /// [`RedisTier::publish`], naming the workshop learner whose request
    /// caused it, so the instances it reaches can record it for them.
    pub async fn publish_for(&self, scope: Scope, learner: Option<&str>) {
        let Some(connected) = self.usable() else {
            return;
        };
        let message = Invalidation {
            origin: self.0.origin.clone(),
            instance: self.0.settings.instance.clone(),
            scope,
            sent_at_ms: system_now_ms(),
            learner: learner.map(str::to_owned),
        };
        if coherence::publish(self, &connected, &message)
            .await
            .is_some()
        {
            bump(&self.0.counters.invalidations_sent);
        }
    }

    /// What to do when another instance's invalidation arrives (set once by
    /// the app: clear the memory tier, or forget one key).
    pub fn on_invalidation(&self, handler: InvalidationHandler) {
        *self
            .0
            .on_invalidation
            .write()
            .expect("invalidation handler lock poisoned") = Some(handler);
    }

    /// The invalidations that arrived from other instances, newest first.
    pub fn arrivals(&self) -> Vec<Arrival> {
        self.0
            .arrivals
            .lock()
            .expect("arrivals lock poisoned")
            .iter()
            .rev()
            .cloned()
            .collect()
    }

    /// The background job that connects, watches the connection, turns
    /// sharing back on after an outage and listens for invalidations. Runs
    /// until `stop` resolves; does nothing when the tier is off.
    pub async fn keeper(self, stop: impl std::future::Future<Output = ()> + Send + 'static) {
        if self.0.settings.url.is_none() {
            return;
        }
        keeper::run(self, stop).await;
    }

    /// The connection, when Redis is up. While it is down every lookup is
    /// a miss at once: waiting out a timeout on each request would make an
    /// outage cost every request that much.
    fn usable(&self) -> Option<Arc<Connected>> {
        if self.health() != Health::Up {
            return None;
        }
        self.0
            .connected
            .read()
            .expect("redis connection lock poisoned")
            .clone()
    }

    fn unusable_outcome(&self) -> SharedOutcome {
        if self.is_configured() {
            bump(&self.0.counters.unavailable);
            SharedOutcome::Unavailable
        } else {
            SharedOutcome::Off
        }
    }

    /// Runs one call with the timeout; a failure or a timeout marks the
    /// tier down (logged once per outage) and is `None`.
    async fn call<T, E: std::fmt::Display>(
        &self,
        call: impl std::future::Future<Output = Result<T, E>>,
    ) -> Option<T> {
        match tokio::time::timeout(self.0.settings.timeout, call).await {
            Ok(Ok(value)) => Some(value),
            Ok(Err(error)) => {
                self.went_down(&error.to_string());
                None
            }
            Err(_) => {
                self.went_down(&format!(
                    "no answer within {} ms",
                    self.0.settings.timeout.as_millis()
                ));
                None
            }
        }
    }

    fn went_down(&self, why: &str) {
        bump(&self.0.counters.errors);
        let was = self.0.health.swap(Health::Down.as_u8(), Ordering::Relaxed);
        if Health::from_u8(was) == Health::Up {
            bump(&self.0.counters.outages);
            log::warn!(
                "shared tier (Redis) unavailable: {why}; every lookup is a miss until it answers again"
            );
        }
    }

    async fn read(&self, connected: &Connected, kind: Kind, key: &str) -> Read {
        let got = match kind {
            Kind::Factorial => {
                tokio::time::timeout(
                    self.0.settings.timeout,
                    connected.factorials.async_cache_get(&key.to_owned()),
                )
                .await
            }
            Kind::Data => {
                tokio::time::timeout(
                    self.0.settings.timeout,
                    connected.data.async_cache_get(&key.to_owned()),
                )
                .await
            }
        };
        let value = match got {
            Ok(Ok(Some(value))) => value,
            Ok(Ok(None)) => return Read::Absent,
            // Bytes that are not a stored answer at all.
            Ok(Err(error)) if error.is_deserialization() => {
                bump(&self.0.counters.damaged);
                return Read::Damaged;
            }
            Ok(Err(error)) => {
                self.went_down(&error.to_string());
                return Read::Failed;
            }
            Err(_) => {
                self.went_down(&format!(
                    "no answer within {} ms",
                    self.0.settings.timeout.as_millis()
                ));
                return Read::Failed;
            }
        };
        match value.checked(kind, key) {
            Some(body) => Read::Found(body),
            None => {
                bump(&self.0.counters.damaged);
                Read::Damaged
            }
        }
    }

    async fn write(&self, connected: &Connected, kind: Kind, key: &str, body: &[u8]) -> bool {
        let Some(value) = SharedValue::of(body) else {
            return false;
        };
        let stored = match kind {
            Kind::Factorial => {
                self.call(connected.factorials.async_cache_set(key.to_owned(), value))
                    .await
            }
            Kind::Data => {
                self.call(connected.data.async_cache_set(key.to_owned(), value))
                    .await
            }
        };
        if stored.is_some() {
            bump(&self.0.counters.stored);
        }
        stored.is_some()
    }
}

/// One read of a value.
enum Read {
    Found(Arc<[u8]>),
    Absent,
    Damaged,
    Failed,
}

/// The store for one kind of answer.
pub(crate) type AnswerStore = AsyncRedisCache<String, SharedValue>;

#[cfg(test)]
mod tests;
