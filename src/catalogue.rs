//! A small catalogue whose prices change, read through a cache the way
//! real apps read a database: cache-aside with a TTL, and one of four
//! freshness strategies for how writes and expired copies are handled.
//!
//! The copies live in a `cached` [`LruCache`] sized to hold every item,
//! with expiry worked out here from the app's [`Clock`]. `TimedCache` and
//! `ExpiringValueCache` expire by `Instant`, which tests cannot move, and
//! both drop an expired copy when it is read, where stale-while-revalidate
//! needs to answer with exactly that copy. The shared Redis tier is not
//! used: a second cache with its own TTL would hide which one made an
//! answer stale, and the lesson is the strategies.
//!
//! Each learner has a catalogue of their own ([`Catalogues`]), so that in a
//! workshop room one learner's experiment never changes another's.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use cached::stores::LruCache;
use cached::{Cached, CachedPeek};
use serde::{Deserialize, Serialize};

use crate::clock::Clock;

mod items;
mod market;
mod registry;
mod strategy;

pub use items::{
    ItemId, ItemRecord, PriceCents, PriceRefused, UnknownItem, ITEM_COUNT, MAX_PRICE_CENTS,
};
pub use market::{MarketSettings, MarketStatus};
pub use registry::{Catalogues, CataloguesCount};
pub use strategy::{
    Freshness, FreshnessRefused, ReadRule, Strategy, UnknownStrategy, WriteRule, MAX_FRESHNESS_SECS,
};

/// The catalogue's settings, from the app's config.
#[derive(Debug, Clone)]
pub struct CatalogueSettings {
    /// What one read of the source costs.
    pub read_delay: Duration,
    /// The strategy, TTL and browser max-age the app starts with.
    pub freshness: Freshness,
    /// How long past its TTL stale-while-revalidate may answer with a copy.
    pub stale_window: Duration,
    pub market: MarketSettings,
}

/// The catalogue: its source of truth, the cache in front, and counters.
/// Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct Catalogue {
    inner: Arc<Inner>,
}

struct Inner {
    source: items::Source,
    copies: Mutex<LruCache<ItemId, CachedCopy>>,
    freshness: Mutex<Freshness>,
    stale_window_ms: u64,
    /// Items whose background refresh is under way, so a burst of stale
    /// reads starts one refresh, not one each.
    refreshing: Mutex<HashSet<ItemId>>,
    counters: Counters,
    clock: Clock,
    market: market::Market,
}

#[derive(Default)]
struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    stale_served: AtomicU64,
    refreshes: AtomicU64,
    source_reads: AtomicU64,
    writes: AtomicU64,
}

/// A copy of an item kept in the cache, and when it was read from the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CachedCopy {
    pub record: ItemRecord,
    pub stored_at_ms: u64,
}

/// How a read was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadOutcome {
    /// From a copy within its TTL.
    #[default]
    Hit,
    /// The cache held no copy: the source was read and the answer stored.
    Miss,
    /// The copy was past its TTL: the source was read and the answer stored.
    Expired,
    /// The copy was past its TTL and answered at once, while a background
    /// read refreshes it (stale-while-revalidate).
    Stale,
}

impl ReadOutcome {
    /// Whether the answer came from the cache without reading the source.
    pub fn from_cache(self) -> bool {
        matches!(self, Self::Hit | Self::Stale)
    }
}

/// One read through the cache, with the facts its answer reports.
#[derive(Debug, Clone, Copy)]
pub struct CatalogueRead {
    /// What was answered (the copy's record, or what the source said).
    pub record: ItemRecord,
    pub outcome: ReadOutcome,
    /// How old the answered copy was (0 when just read from the source).
    pub age_ms: u64,
    /// What remains of its TTL, negative once past it (RFC 9211 §2.4).
    pub ttl_left_ms: i64,
    /// What reading the source cost this request, when it did.
    pub source_elapsed: Option<Duration>,
    pub strategy: Strategy,
    /// The source's record at the moment of answering: what a fresh answer
    /// would have said.
    pub truth: ItemRecord,
    /// When the answer was made (Unix milliseconds, by the app's clock).
    pub answered_at_ms: u64,
}

impl CatalogueRead {
    /// Whether the price answered differs from the source's.
    pub fn is_stale(&self) -> bool {
        self.record.price_cents != self.truth.price_cents
    }
}

/// What a write did to the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CacheEffect {
    /// The item's copy (if any) was left as it was.
    #[default]
    Kept,
    /// The item's copy was deleted: `removed` is 1, or 0 when there was none.
    Deleted { removed: usize },
    /// The item's copy was replaced by the new value.
    Replaced,
}

/// A change of price, and what it did to the cache.
#[derive(Debug, Clone, Copy)]
pub struct PriceChange {
    pub before: ItemRecord,
    pub after: ItemRecord,
    pub strategy: Strategy,
    pub cache_effect: CacheEffect,
}

/// The catalogue's counters, as the page and the API show them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CatalogueStats {
    pub hits: u64,
    pub misses: u64,
    pub stale_served: u64,
    pub refreshes: u64,
    pub source_reads: u64,
    pub writes: u64,
    pub entries: usize,
}

impl Catalogue {
    pub fn new(settings: CatalogueSettings, clock: Clock) -> Self {
        Self {
            inner: Arc::new(Inner {
                source: items::Source::new(settings.read_delay, clock.now_ms()),
                copies: Mutex::new(LruCache::new(ITEM_COUNT)),
                freshness: Mutex::new(settings.freshness),
                stale_window_ms: crate::clock::duration_ms(settings.stale_window),
                refreshing: Mutex::new(HashSet::new()),
                counters: Counters::default(),
                clock,
                market: market::Market::new(settings.market),
            }),
        }
    }

    /// The item's price through the cache, by the strategy in force.
    pub async fn read(&self, item: ItemId) -> CatalogueRead {
        let inner = &self.inner;
        let freshness = self.freshness();
        let now_ms = inner.clock.now_ms();
        let copy = self.peek_copy(item);
        let rule = copy.map(|copy| {
            freshness.judge(
                now_ms.saturating_sub(copy.stored_at_ms),
                inner.stale_window_ms,
            )
        });
        match (copy, rule) {
            (Some(copy), Some(ReadRule::AnswerFresh)) => {
                inner.counters.hits.fetch_add(1, Ordering::Relaxed);
                self.answer_from_copy(copy, ReadOutcome::Hit, freshness, now_ms)
            }
            (Some(copy), Some(ReadRule::AnswerStaleAndRefresh)) => {
                inner.counters.stale_served.fetch_add(1, Ordering::Relaxed);
                self.refresh_in_background(item);
                self.answer_from_copy(copy, ReadOutcome::Stale, freshness, now_ms)
            }
            (copy, _) => {
                let outcome = if copy.is_some() {
                    ReadOutcome::Expired
                } else {
                    ReadOutcome::Miss
                };
                inner.counters.misses.fetch_add(1, Ordering::Relaxed);
                let started = Instant::now();
                let stored = Inner::fetch_and_store(inner, item).await;
                let answered_at_ms = inner.clock.now_ms();
                CatalogueRead {
                    record: stored.record,
                    outcome,
                    age_ms: 0,
                    ttl_left_ms: ms_signed(freshness.ttl_ms()),
                    source_elapsed: Some(started.elapsed()),
                    strategy: freshness.strategy,
                    truth: inner.source.peek(item),
                    answered_at_ms,
                }
            }
        }
    }

    fn answer_from_copy(
        &self,
        copy: CachedCopy,
        outcome: ReadOutcome,
        freshness: Freshness,
        now_ms: u64,
    ) -> CatalogueRead {
        let age_ms = now_ms.saturating_sub(copy.stored_at_ms);
        CatalogueRead {
            record: copy.record,
            outcome,
            age_ms,
            ttl_left_ms: ms_signed(freshness.ttl_ms()) - ms_signed(age_ms),
            source_elapsed: None,
            strategy: freshness.strategy,
            truth: self.inner.source.peek(copy.record.item),
            answered_at_ms: now_ms,
        }
    }

    /// Starts one background read of `item` unless one is under way.
    fn refresh_in_background(&self, item: ItemId) {
        let started = self
            .inner
            .refreshing
            .lock()
            .expect("catalogue refresh set lock poisoned")
            .insert(item);
        if !started {
            return;
        }
        let inner: Weak<Inner> = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            let Some(inner) = inner.upgrade() else {
                return;
            };
            Inner::fetch_and_store(&inner, item).await;
            inner.counters.refreshes.fetch_add(1, Ordering::Relaxed);
            inner
                .refreshing
                .lock()
                .expect("catalogue refresh set lock poisoned")
                .remove(&item);
        });
    }

    /// The item's record from the source, at the source's full cost.
    pub async fn read_truth(&self, item: ItemId) -> ItemRecord {
        self.inner
            .counters
            .source_reads
            .fetch_add(1, Ordering::Relaxed);
        self.inner.source.read(item).await
    }

    /// The source's record now, without the cost (for the page).
    pub fn peek_truth(&self, item: ItemId) -> ItemRecord {
        self.inner.source.peek(item)
    }

    /// The cache's copy of `item`, without counting or reordering anything.
    pub fn peek_copy(&self, item: ItemId) -> Option<CachedCopy> {
        self.inner
            .copies
            .lock()
            .expect("catalogue cache lock poisoned")
            .cache_peek(&item)
            .copied()
    }

    /// Sets the price at the source, then applies the strategy's write rule.
    pub fn set_price(&self, item: ItemId, price: PriceCents) -> PriceChange {
        let strategy = self.freshness().strategy;
        let inner = &self.inner;
        let now_ms = inner.clock.now_ms();
        let (before, after) = inner.source.set_price(item, price, now_ms);
        inner.counters.writes.fetch_add(1, Ordering::Relaxed);
        let mut copies = inner.copies.lock().expect("catalogue cache lock poisoned");
        let cache_effect = match strategy.on_write() {
            WriteRule::KeepCopy => CacheEffect::Kept,
            WriteRule::DeleteCopy => CacheEffect::Deleted {
                removed: usize::from(copies.cache_remove(&item).is_some()),
            },
            WriteRule::ReplaceCopy => {
                copies.cache_set(
                    item,
                    CachedCopy {
                        record: after,
                        stored_at_ms: now_ms,
                    },
                );
                CacheEffect::Replaced
            }
        };
        PriceChange {
            before,
            after,
            strategy,
            cache_effect,
        }
    }

    /// Empties the cache; returns how many copies it held.
    pub fn clear(&self) -> usize {
        let mut copies = self
            .inner
            .copies
            .lock()
            .expect("catalogue cache lock poisoned");
        let removed = copies.cache_size();
        copies.cache_clear();
        removed
    }

    pub fn freshness(&self) -> Freshness {
        *self
            .inner
            .freshness
            .lock()
            .expect("catalogue freshness lock poisoned")
    }

    /// Changes the strategy, TTL or max-age; copies are kept, and judged by
    /// the new TTL from the next read on.
    pub fn set_freshness(&self, freshness: Freshness) {
        *self
            .inner
            .freshness
            .lock()
            .expect("catalogue freshness lock poisoned") = freshness;
    }

    pub fn stale_window_secs(&self) -> u64 {
        self.inner.stale_window_ms / 1000
    }

    pub fn read_delay(&self) -> Duration {
        self.inner.source.read_delay()
    }

    pub fn now_ms(&self) -> u64 {
        self.inner.clock.now_ms()
    }

    pub fn stats(&self) -> CatalogueStats {
        let counters = &self.inner.counters;
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        CatalogueStats {
            hits: load(&counters.hits),
            misses: load(&counters.misses),
            stale_served: load(&counters.stale_served),
            refreshes: load(&counters.refreshes),
            source_reads: load(&counters.source_reads),
            writes: load(&counters.writes),
            entries: self
                .inner
                .copies
                .lock()
                .expect("catalogue cache lock poisoned")
                .cache_size(),
        }
    }

    /// Starts or stops the market (random price changes in the background).
    pub fn set_market(&self, on: bool) -> MarketStatus {
        if on {
            market::Market::start(&self.inner.market, self.clone());
        } else {
            self.inner.market.stop();
        }
        self.market()
    }

    pub fn market(&self) -> MarketStatus {
        self.inner.market.status()
    }
}

impl Inner {
    /// Reads the source and stores the answer, stamped with the time it was
    /// read. A write landing between the read and the store leaves the old
    /// price cached until the TTL: the race every cache-aside has.
    async fn fetch_and_store(inner: &Arc<Inner>, item: ItemId) -> CachedCopy {
        inner.counters.source_reads.fetch_add(1, Ordering::Relaxed);
        let record = inner.source.read(item).await;
        let copy = CachedCopy {
            record,
            stored_at_ms: inner.clock.now_ms(),
        };
        inner
            .copies
            .lock()
            .expect("catalogue cache lock poisoned")
            .cache_set(item, copy);
        copy
    }
}

fn ms_signed(ms: u64) -> i64 {
    i64::try_from(ms).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests;
