//! What a learner did, as the workshop records it.

use super::*;
use crate::catalogue::{CacheEffect, ReadOutcome, Strategy};
use crate::instances::InstanceName;

/// Which cache a clear emptied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClearedTier {
    Memory,
    Disk,
    Both,
}

impl ClearedTier {
    pub(super) fn includes_memory(self) -> bool {
        matches!(self, Self::Memory | Self::Both)
    }

    pub(super) fn includes_disk(self) -> bool {
        matches!(self, Self::Disk | Self::Both)
    }
}

/// A `/factorial/<n>` request, as the app saw it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FactorialEvent {
    pub n: u64,
    pub hit: bool,
    pub coalesced: bool,
    pub steps_computed: u64,
    pub reused_from: Option<u64>,
    pub elapsed_us: u64,
    /// The computation whose steps answered: this request's own for a
    /// miss, the one it waited for when coalesced, the one that stored the
    /// entry for a hit. Numbered afresh in each run of the app, so only
    /// comparable within one boot. (0 in files from before it was kept.)
    #[serde(default)]
    pub computation: u64,
    /// The computation that had multiplied the k! a miss started from.
    #[serde(default)]
    pub reused_computation: Option<u64>,
    /// What the shared tier did after memory missed: `None` for a memory
    /// hit (which never asks it), and in files from before it was kept.
    #[serde(default)]
    pub shared: Option<SharedStep>,
}

/// What the shared tier (Redis) did for a request its memory missed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SharedStep {
    /// There is no shared tier.
    Off,
    /// It is configured but could not be asked (down, or too slow): the
    /// answer was computed here and not shared.
    Unavailable,
    /// Redis held it: nothing was computed here.
    Hit,
    /// Another instance was computing it; this one waited for its answer.
    Collapsed,
    /// Not in Redis; computed here, and not stored there.
    Missed,
    /// Not in Redis; computed here and stored there for every instance.
    Stored,
}

impl SharedStep {
    /// Whether the answer came from Redis, not from computing it here.
    pub fn answered(self) -> bool {
        matches!(self, Self::Hit | Self::Collapsed)
    }
}

impl From<crate::redis_tier::SharedOutcome> for SharedStep {
    fn from(outcome: crate::redis_tier::SharedOutcome) -> Self {
        use crate::redis_tier::SharedOutcome;
        match outcome {
            SharedOutcome::Off => Self::Off,
            SharedOutcome::Unavailable => Self::Unavailable,
            SharedOutcome::Hit => Self::Hit,
            SharedOutcome::Collapsed => Self::Collapsed,
            SharedOutcome::Miss { stored: true, .. } => Self::Stored,
            SharedOutcome::Miss { stored: false, .. } => Self::Missed,
        }
    }
}

/// A `/data` request, as the app saw it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataEvent {
    pub key: String,
    /// Tells apart two spellings of one body (same key, other bytes).
    pub raw_fingerprint: u64,
    pub hit: bool,
    pub coalesced: bool,
    pub miss_reason: Option<MissReason>,
    pub stored: bool,
    pub elapsed_us: u64,
}

/// A request for one of the HTTP cache lab's resources that reached the
/// app (see `crate::http_lab`). A load the browser or a proxy answered
/// from its own copy never reaches the app, so it is never one of these:
/// that absence is what the HTTP exercises look for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HttpResourceEvent {
    /// The resource's name, the last part of its path.
    pub name: String,
    /// 200 (the whole answer) or 304 (the client's copy is still current).
    pub status: u16,
    /// The request carried `If-None-Match`: a cache asking whether its
    /// copy may still be used (RFC 9111 §4.3.1).
    pub conditional: bool,
    /// It came through a proxy (`X-Forwarded-For` or `Via`).
    pub via_proxy: bool,
    /// The id the shared cache in front gave the request it passed on
    /// (`X-Request-Id`), which its own account carries too.
    #[serde(default)]
    pub proxy_request: Option<String>,
    /// The `Cache-Control` the answer carried ("" for none).
    pub cache_control: String,
}

/// A read of a catalogue item through its cache (`GET /catalogue/<item>`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CatalogueReadEvent {
    pub item: String,
    /// The price the answer gave.
    pub price_cents: u64,
    /// The source's price when the answer was made: a difference is a
    /// stale answer.
    #[serde(default)]
    pub true_price_cents: u64,
    #[serde(default)]
    pub outcome: ReadOutcome,
    /// The strategy in force when it was answered.
    #[serde(default)]
    pub strategy: Strategy,
    /// The request's whole time, as `Server-Timing`'s `total` said.
    #[serde(default)]
    pub elapsed_us: u64,
}

/// A change of a catalogue item's price made by the learner.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CataloguePriceEvent {
    pub item: String,
    pub price_cents: u64,
    /// The strategy in force, whose write rule the change followed.
    #[serde(default)]
    pub strategy: Strategy,
    #[serde(default)]
    pub cache_effect: CacheEffect,
}

/// A replay of the sizing page's trace through a private memory tier
/// (`POST /sizing/replay`), with what the simulation said about its settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SizingReplayEvent {
    pub skew: f64,
    pub keys: u64,
    pub requests: u64,
    pub target_percent: u32,
    /// The memory tier's capacity the learner chose, in entries.
    pub capacity: u64,
    pub hits: u64,
    /// The smallest capacity the simulation found for which the memory
    /// tier reaches the target with these settings (`None`: none does).
    pub smallest_reaching: Option<u64>,
}

impl SizingReplayEvent {
    /// Whether the replay's hits reached its target hit ratio.
    pub fn reached_target(&self) -> bool {
        self.hits * 100 >= u64::from(self.target_percent) * self.requests
    }
}

/// One thing a learner did, as the app saw it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum What {
    Factorial(FactorialEvent),
    Data(DataEvent),
    Cleared {
        tier: ClearedTier,
        /// Method and path, such as `POST /clear-cache`: the clearing
        /// exercise asks for a POST. (Empty in files from before it was kept.)
        #[serde(default)]
        request: String,
    },
    /// A `GET /clear-cache`, refused because clearing is a POST.
    ClearByGetRefused,
    /// Timings the learner read off `Server-Timing` and reported back.
    TimingsReported {
        miss: Reading,
        hit: Reading,
    },
    /// A request for an HTTP cache lab resource that reached the app.
    HttpResource(HttpResourceEvent),
    /// The shared cache in front received a request for this resource: told
    /// by the proxy itself (a copy of each request it receives), whether or
    /// not it then asked the app.
    ProxyReceived {
        name: String,
        /// The proxy's id for the request, the same one it gives the app if
        /// it passes the request on.
        request: String,
    },
    /// The lab page's account of loads of this resource: how many it made,
    /// and how many the browser's performance timeline shows were answered
    /// from the browser's own cache, without a request.
    BrowserLoads {
        name: String,
        loads: u32,
        from_cache: u32,
    },
    /// The learner took this name, leaving `from`.
    Renamed {
        from: LearnerName,
    },
    /// The learner emptied the memory of another instance (`from_instance`)
    /// while sharing a Redis tier with this one, and the invalidation it
    /// published arrived here: this instance's memory was emptied too.
    MemoryClearArrived {
        from_instance: String,
        /// Entries this instance's memory dropped for it.
        removed: usize,
    },
    /// A catalogue item read through its cache.
    CatalogueRead(CatalogueReadEvent),
    /// A catalogue price the learner changed.
    CataloguePriceChanged(CataloguePriceEvent),
    /// The sizing trace replayed through a memory tier of the learner's size.
    SizingReplay(SizingReplayEvent),
}

/// One thing a learner did, when, and which run of which instance saw it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub at_ms: u64,
    /// The run of the instance that saw it (see [`Event::same_run`]).
    pub boot: u64,
    /// Position among everything this workshop recorded or received, clears
    /// included: two things that happen within one millisecond still have
    /// an order. Events from other instances are numbered again as they
    /// arrive, so it orders everything one workshop holds. (Files written
    /// before it existed read as 0, and order by time.)
    #[serde(default)]
    pub seq: u64,
    /// The instance that saw it, when the app knows its name. (`None` in
    /// files from before it was kept, and in a workshop opened without a
    /// name: one instance, as before.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<InstanceName>,
    pub what: What,
}

impl Event {
    /// Whether both events were seen by one run of one instance. Memory
    /// contents and computation ids belong to a run: two instances each
    /// number their computations from 1, and two may start within one
    /// millisecond, so the boot id alone does not tell runs apart.
    pub fn same_run(&self, other: &Event) -> bool {
        self.instance == other.instance && self.boot == other.boot
    }

    /// Whether this event was seen by a later run of the instance that saw
    /// `earlier`: that instance was restarted in between. Another instance
    /// answering is not a restart, however much later it started.
    pub fn after_restart_of(&self, earlier: &Event) -> bool {
        self.instance == earlier.instance && self.boot > earlier.boot
    }
}

impl ClearRecord {
    /// Whether this clear emptied the memory tier that `event`'s run used:
    /// each run of each instance has a memory tier of its own.
    pub(super) fn emptied_memory_of(&self, event: &Event) -> bool {
        self.tier.includes_memory() && self.boot == event.boot && self.instance == event.instance
    }
}
