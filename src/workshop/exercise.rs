//! The exercises, in the order the workshop page gives them.

use super::*;

/// The exercises, in the order they are taught. Their teaching text lives in
/// the `exercises` template; the checks live here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Exercise {
    FirstHit,
    MemoizedSteps,
    LruEviction,
    DiskPersistence,
    CanonicalKeys,
    Ttl,
    Clearing,
    ReadingTimings,
    Stampede,
    Integrity,
    BrowserCache,
    Revalidation,
    NoStoreVersusNoCache,
    SharedCacheHit,
    MemoryPerProcess,
    SharedTierHit,
    ClearReachesEveryInstance,
    SharedTierOutage,
    StaleAnswer,
    InvalidateOnWrite,
    WriteThrough,
    StaleWhileRevalidate,
    SizeTheMemoryTier,
}

impl Exercise {
    pub const ALL: [Exercise; 23] = [
        Self::FirstHit,
        Self::MemoizedSteps,
        Self::LruEviction,
        Self::DiskPersistence,
        Self::CanonicalKeys,
        Self::Ttl,
        Self::Clearing,
        Self::ReadingTimings,
        Self::Stampede,
        Self::Integrity,
        Self::BrowserCache,
        Self::Revalidation,
        Self::NoStoreVersusNoCache,
        Self::SharedCacheHit,
        Self::MemoryPerProcess,
        Self::SharedTierHit,
        Self::ClearReachesEveryInstance,
        Self::SharedTierOutage,
        Self::StaleAnswer,
        Self::InvalidateOnWrite,
        Self::WriteThrough,
        Self::StaleWhileRevalidate,
        Self::SizeTheMemoryTier,
    ];

    pub fn slug(self) -> &'static str {
        match self {
            Self::FirstHit => "first-hit",
            Self::MemoizedSteps => "memoized-steps",
            Self::LruEviction => "lru-eviction",
            Self::DiskPersistence => "disk-persistence",
            Self::CanonicalKeys => "canonical-keys",
            Self::Ttl => "ttl",
            Self::Clearing => "clearing",
            Self::ReadingTimings => "reading-timings",
            Self::Stampede => "stampede",
            Self::Integrity => "integrity",
            Self::BrowserCache => "browser-cache",
            Self::Revalidation => "revalidation",
            Self::NoStoreVersusNoCache => "no-store-no-cache",
            Self::SharedCacheHit => "shared-cache",
            Self::MemoryPerProcess => "memory-per-process",
            Self::SharedTierHit => "shared-tier-hit",
            Self::ClearReachesEveryInstance => "clear-reaches-every-instance",
            Self::SharedTierOutage => "shared-tier-outage",
            Self::StaleAnswer => "stale-answer",
            Self::InvalidateOnWrite => "invalidate-on-write",
            Self::WriteThrough => "write-through",
            Self::StaleWhileRevalidate => "stale-while-revalidate",
            Self::SizeTheMemoryTier => "size-the-memory-tier",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Self::FirstHit => "A miss, then a hit",
            Self::MemoizedSteps => "Reusing steps already computed",
            Self::LruEviction => "Eviction when memory is full",
            Self::DiskPersistence => "The disk cache survives a restart",
            Self::CanonicalKeys => "One key for one meaning",
            Self::Ttl => "Entries expire",
            Self::Clearing => "Clearing, and why it is a POST",
            Self::ReadingTimings => "Reading the timings yourself",
            Self::Stampede => "A stampede, absorbed",
            Self::Integrity => "Damaged files are never served",
            Self::BrowserCache => "The browser answers by itself",
            Self::Revalidation => "Asking again: 304 Not Modified",
            Self::NoStoreVersusNoCache => "no-store versus no-cache",
            Self::SharedCacheHit => "A hit in the shared cache in front",
            Self::MemoryPerProcess => "Memory is per process",
            Self::SharedTierHit => "The shared tier turns the second miss into a hit",
            Self::ClearReachesEveryInstance => "A clear reaches every instance",
            Self::SharedTierOutage => "An outage only the counters notice",
            Self::StaleAnswer => "A stale answer",
            Self::InvalidateOnWrite => "Fixed by invalidating on write",
            Self::WriteThrough => "Fixed by writing through",
            Self::StaleWhileRevalidate => "Stale while revalidating",
            Self::SizeTheMemoryTier => "Size the memory tier for a target",
        }
    }

    /// A stampede ticks as soon as enough requests have joined, but more of
    /// the same burst are still arriving: its evidence is brought up to date
    /// while the burst lasts.
    pub(super) fn evidence_grows(self) -> bool {
        self == Self::Stampede
    }

    /// The shared-cache exercise is done once the proxy's report of a
    /// request has waited long enough without the request reaching the
    /// app: time completes it, with no further request from the learner.
    pub(super) fn waits_on_time(self) -> bool {
        self == Self::SharedCacheHit
    }

    pub fn number(self) -> usize {
        Self::ALL
            .iter()
            .position(|exercise| *exercise == self)
            .expect("every exercise is listed in ALL")
            + 1
    }
}
