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

use crate::config::RedisUrl;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use cached::stores::AsyncRedisCache;
use cached::ConcurrentCachedAsync;

use crate::clock::system_now_ms;

mod checked;
mod coherence;
mod keeper;
mod lease;
mod lookup;

pub use checked::SharedValue;
pub use coherence::{Arrival, Invalidation, Scope};
use keeper::Connected;
pub use lease::Lease;
pub use lookup::{Fetched, Ticket};

/// The prefix of every key this app writes, so a clear never touches
/// anything else the server holds.
const NAMESPACE: &str = "cachelab";

/// How the shared tier is set up.
#[derive(Debug, Clone)]
pub struct RedisSettings {
    /// `None`: there is no shared tier.
    pub url: Option<RedisUrl>,
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
    /// Wakes the keeper when a call failed, so it checks Redis at once.
    check_now: tokio::sync::Notify,
    /// The subscription made by [`RedisTier::connect_at_start`], for the
    /// keeper to watch.
    first_listener: Mutex<Option<tokio::task::JoinHandle<()>>>,
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
            check_now: tokio::sync::Notify::new(),
            first_listener: Mutex::new(None),
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

    /// Removes one answer from Redis. `false` when Redis could not be asked.
    pub async fn forget(&self, kind: Kind, key: &str) -> bool {
        let Some(connected) = self.usable() else {
            return false;
        };
        let asked = match kind {
            Kind::Factorial => {
                self.call(connected.factorials.async_cache_delete(&key.to_owned()))
                    .await
            }
            Kind::Data => {
                self.call(connected.data.async_cache_delete(&key.to_owned()))
                    .await
            }
        };
        asked.is_some()
    }

    /// Empties the shared tier (this app's keys only). `None` when Redis
    /// could not be asked.
    pub async fn clear(&self) -> Option<()> {
        let connected = self.usable()?;
        // A clear walks every key (`SCAN` and `DEL`, a hundred at a time),
        // so it gets a budget of many calls rather than one call's limit.
        let budget = self.clear_budget();
        self.call_within(budget, connected.factorials.async_cache_clear())
            .await?;
        self.call_within(budget, connected.data.async_cache_clear())
            .await
    }

    /// What a walk over every key may take: many calls' worth, and never
    /// less than two seconds.
    fn clear_budget(&self) -> Duration {
        (self.0.settings.timeout * 50).max(Duration::from_secs(2))
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

    /// Connects once before the app serves (within a few timeouts), so the
    /// first requests can already use Redis; does nothing when the tier is
    /// off or Redis is not there (the keeper keeps trying).
    pub async fn connect_at_start(&self) {
        if self.health() == Health::Connecting {
            keeper::connect_at_start(self).await;
        }
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

    /// Runs one call with the timeout; a failure or a timeout is `None`,
    /// counted, and makes the keeper check Redis at once. One slow call is
    /// not an outage: only the keeper, whose own check also fails, marks
    /// the tier down.
    async fn call<T, E: std::fmt::Display>(
        &self,
        call: impl std::future::Future<Output = Result<T, E>>,
    ) -> Option<T> {
        self.call_within(self.0.settings.timeout, call).await
    }

    async fn call_within<T, E: std::fmt::Display>(
        &self,
        limit: Duration,
        call: impl std::future::Future<Output = Result<T, E>>,
    ) -> Option<T> {
        match tokio::time::timeout(limit, call).await {
            Ok(Ok(value)) => Some(value),
            Ok(Err(_)) | Err(_) => {
                self.call_failed();
                None
            }
        }
    }

    fn call_failed(&self) {
        bump(&self.0.counters.errors);
        self.0.check_now.notify_one();
    }

    /// Marks the tier down (the keeper's verdict), logging the outage once.
    /// The keeper's failed check counts as one error, however it noticed
    /// (two PINGs unanswered, or the subscription closed).
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
}

/// The store for one kind of answer.
pub(crate) type AnswerStore = AsyncRedisCache<String, SharedValue>;

#[cfg(test)]
mod tests;
