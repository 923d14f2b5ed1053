//! The experiments a learner runs, whichever way they run them.
//!
//! The JSON API and the HTML pages both come through here, so a request from
//! curl and a form sent from a browser are timed, recorded and counted alike.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::canonical::{CanonicalJson, FactorialInput};
use crate::catalogue::{CatalogueRead, Catalogues, PriceChange};
use crate::clock::Clock;
use crate::config::Config;
use crate::disk::{DiskAnswer, DiskCache, DiskLookup, DiskSettings, EntryKey, MissReason};
use crate::history::{Outcome, RequestHistory, Sent, Subject, Tier};
use crate::http_cache::Preconditions;
use crate::instances::InstanceCounts;
use crate::memory::{FactorialAnswer, FactorialCache, FactorialSeen, MemoryLookup};
use crate::redis_tier::{
    Invalidation, RedisSettings, RedisTier, Scope, SharedLookup, SharedOutcome,
};
use crate::workshop::{
    CataloguePriceEvent, CatalogueReadEvent, ClearedTier, DataEvent, FactorialEvent, InstructorKey,
    LearnerName, PlanSettings, SharedStep, What, Workshop,
};

/// How many recent requests the timing chart remembers.
const HISTORY_CAPACITY: usize = 200;

/// A tier's answer and the time the tier took to give it.
///
/// The request's whole time (`Server-Timing`'s `total`) is measured by the
/// route once the response is built, which is after this; the route then
/// hands it to [`Lab::note_factorial`] or [`Lab::note_data`].
#[must_use = "a named learner's request counts only once the route notes it"]
pub struct Timed<T> {
    pub answer: T,
    /// The part the cache tier took (`Server-Timing`'s `cache`), which is
    /// also what the timing chart shows.
    pub cache_elapsed: Duration,
    /// The request's `If-None-Match` named this very answer, so it is sent
    /// as 304 Not Modified, with no body (RFC 9110 §15.4.5). Already
    /// counted in the tier's stats and in the history.
    pub not_modified: bool,
}

/// Both cache tiers and the record of what was asked of them.
pub struct Lab {
    config: Config,
    clock: Clock,
    /// Shared with the background job that reports this instance's
    /// counters to the others (see [`Lab::instance_counts`]).
    memory: Arc<FactorialCache>,
    disk: Arc<DiskCache>,
    /// The tier every instance shares (off without `redis_url`).
    shared: RedisTier,
    history: RequestHistory,
    /// Shared with the handler that records, for the learner who caused
    /// it, an invalidation arriving from another instance.
    workshop: Arc<Workshop>,
    /// `instructor_key` from the settings, or the one derived for this room.
    instructor_key: InstructorKey,
    /// The catalogues whose prices change, for the stale-answers lessons:
    /// each learner's own, and the open one.
    catalogues: Catalogues,
}

/// What a clear removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Cleared {
    pub memory_entries_removed: usize,
    pub disk_entries_removed: usize,
    pub redis: SharedChange,
}

/// What became of a change asked of the shared tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SharedChange {
    /// There is no shared tier.
    Off,
    /// Done in Redis, and the other instances were told.
    Done,
    /// Redis could not be asked: nothing changed there, and the other
    /// instances were not told.
    Unavailable,
}

impl SharedChange {
    fn of(tier: &RedisTier, done: bool) -> Self {
        match (tier.is_configured(), done) {
            (false, _) => Self::Off,
            (true, true) => Self::Done,
            (true, false) => Self::Unavailable,
        }
    }
}

/// What forgetting one factorial did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Forgotten {
    pub n: u64,
    /// Whether this instance's memory held it.
    pub memory: bool,
    pub redis: SharedChange,
}

impl Lab {
    /// Builds both tiers from checked settings (see [`Config::validate`]).
    pub fn new(config: Config) -> Self {
        Self::with_clock(config, Clock::system())
    }

    /// Builds both tiers with time from `clock` (a mock one in tests).
    pub fn with_clock(config: Config, clock: Clock) -> Self {
        let memory = FactorialCache::new(
            config.memory_capacity,
            config.factorial_delay_per_step(),
            config.factorial_delay_max(),
        );
        let disk = DiskCache::open(
            &config.cache_dir,
            DiskSettings {
                ttl: config.disk_ttl(),
                miss_delay: config.data_delay(),
                max_bytes: config.disk_max_bytes.as_u64(),
                clock: clock.clone(),
            },
        );
        let workshop = Workshop::open_shared(
            &config.progress_path(),
            PlanSettings {
                memory_capacity: config.memory_capacity,
                max_factorial: config.max_factorial,
            },
            crate::workshop::SharedRoom::from_config(&config),
        );
        let shared = RedisTier::new(RedisSettings {
            url: config.redis_url.clone(),
            timeout: config.redis_timeout(),
            lease: config.redis_lease(),
            data_ttl: config.disk_ttl(),
            instance: config.instance_name.to_string(),
        });
        let memory = Arc::new(memory);
        let workshop = Arc::new(workshop);
        let forgetting = Arc::downgrade(&memory);
        let recording = Arc::downgrade(&workshop);
        shared.on_invalidation(Box::new(move |message| {
            let Some(memory) = forgetting.upgrade() else {
                return 0;
            };
            let removed = match message.scope {
                Scope::Memory => memory.clear(),
                Scope::Factorial(n) => usize::from(memory.forget(n)),
            };
            if message.scope == Scope::Memory {
                if let Some(workshop) = recording.upgrade() {
                    note_memory_clear_arrived(&workshop, message, removed);
                }
            }
            removed
        }));
        let instructor_key = config
            .instructor_key
            .clone()
            .unwrap_or_else(|| workshop.derived_instructor_key());
        let catalogues = Catalogues::new(
            config.catalogue(),
            clock.clone(),
            config.catalogue_max_learners(),
        );
        Self {
            config,
            clock,
            catalogues,
            memory,
            disk: Arc::new(disk),
            shared,
            history: RequestHistory::new(HISTORY_CAPACITY),
            workshop,
            instructor_key,
        }
    }

    /// n! from the memory tier, recorded for the timing chart.
    pub async fn factorial(&self, n: FactorialInput) -> Timed<FactorialAnswer> {
        self.factorial_revalidated(n, &Preconditions::none()).await
    }

    /// As [`Lab::factorial`], for a request that may already hold the
    /// answer: the tier is asked all the same (so the hit or miss is
    /// real), and the answer is marked and counted as a 304 when the
    /// request's validators name its tag.
    pub async fn factorial_revalidated(
        &self,
        n: FactorialInput,
        preconditions: &Preconditions<'_>,
    ) -> Timed<FactorialAnswer> {
        let started = Instant::now();
        let answer = self.memory.factorial_via(n.get(), &self.shared).await;
        let cache_elapsed = started.elapsed();
        let not_modified = preconditions.answer_not_modified(answer.step.entity_tag());
        if not_modified {
            self.memory.count_not_modified();
        }
        let (tier, outcome) = match answer.lookup {
            MemoryLookup::Hit => (Tier::Memory, Outcome::Hit),
            MemoryLookup::Computed(_) => (Tier::Memory, Outcome::Miss),
            MemoryLookup::Joined(_) => (Tier::Memory, Outcome::Waited),
            MemoryLookup::Shared { lookup, joined } => {
                (Tier::Redis, shared_outcome(&lookup, joined))
            }
        };
        self.history.record(
            tier,
            outcome,
            cache_elapsed,
            Subject::Factorial(n.get()),
            sent(not_modified),
        );
        Timed {
            answer,
            cache_elapsed,
            not_modified,
        }
    }

    /// Records a named learner's factorial request for the workshop; an
    /// anonymous one costs nothing. `total` is the request's whole time as
    /// the learner read it in `Server-Timing`, so the timing exercise
    /// compares their reading with the very number they were sent. This
    /// runs after `total` was measured, because it records it.
    pub fn note_factorial(
        &self,
        learner: Option<&LearnerName>,
        answer: FactorialSeen,
        total: Duration,
    ) {
        let Some(learner) = learner else {
            return;
        };
        let lookup = answer.lookup;
        self.workshop.record(
            learner,
            What::Factorial(FactorialEvent {
                n: answer.n,
                hit: lookup.is_hit(),
                coalesced: lookup.coalesced(),
                steps_computed: lookup.steps_computed_here(),
                reused_from: lookup.reused_from(),
                elapsed_us: micros(total),
                computation: answer.computed_by,
                reused_computation: lookup
                    .computation()
                    .and_then(|work| work.reused_from_computation),
                shared: lookup
                    .shared()
                    .map(|shared| SharedStep::from(shared.outcome)),
            }),
        );
    }

    /// A body's answer from the disk tier, recorded for the timing chart.
    pub async fn data(&self, body: &CanonicalJson) -> Timed<DiskAnswer> {
        let started = Instant::now();
        let answer = self.disk.get_or_compute_via(body, &self.shared).await;
        let cache_elapsed = started.elapsed();
        let (tier, outcome) = match answer.lookup {
            DiskLookup::Hit => (Tier::Disk, Outcome::Hit),
            DiskLookup::Computed { .. } => (Tier::Disk, Outcome::Miss),
            DiskLookup::Joined { .. } => (Tier::Disk, Outcome::Waited),
            DiskLookup::Shared { joined, .. } => {
                (Tier::Redis, shared_outcome(&answer.shared, joined))
            }
        };
        self.history.record(
            tier,
            outcome,
            cache_elapsed,
            Subject::body(&answer.key),
            Sent::Full,
        );
        Timed {
            answer,
            cache_elapsed,
            not_modified: false,
        }
    }

    /// The answer stored under `key`, read from the disk tier without
    /// computing anything, or why there is none. A hit is recorded for the
    /// timing chart, and counted as a 304 when the request's validators
    /// name its tag. A miss is counted in the tier's stats but left off the
    /// chart: it did no work and sent no answer, and a mark there would
    /// stand for a miss that cost nothing.
    pub fn stored_data(
        &self,
        key: &EntryKey,
        preconditions: &Preconditions<'_>,
    ) -> Timed<Result<DiskAnswer, MissReason>> {
        let started = Instant::now();
        let answer = self.disk.lookup(key);
        let cache_elapsed = started.elapsed();
        let not_modified = answer
            .as_ref()
            .is_ok_and(|hit| preconditions.answer_not_modified(&hit.entity_tag()));
        if not_modified {
            self.disk.count_not_modified();
        }
        if answer.is_ok() {
            self.history.record(
                Tier::Disk,
                Outcome::Hit,
                cache_elapsed,
                Subject::body(key.as_str()),
                sent(not_modified),
            );
        }
        Timed {
            answer,
            cache_elapsed,
            not_modified,
        }
    }

    /// Records a named learner's `/data` request for the workshop, as
    /// [`Lab::note_factorial`] does. `raw_fingerprint` identifies the body
    /// as it was written, before canonicalization.
    pub fn note_data(
        &self,
        learner: Option<&LearnerName>,
        raw_fingerprint: u64,
        answer: &DiskAnswer,
        total: Duration,
    ) {
        let Some(learner) = learner else {
            return;
        };
        self.workshop.record(
            learner,
            What::Data(DataEvent {
                key: answer.key.clone(),
                raw_fingerprint,
                hit: answer.lookup.is_hit(),
                coalesced: answer.lookup.coalesced(),
                miss_reason: answer.lookup.miss_reason(),
                stored: answer.stored(),
                elapsed_us: micros(total),
            }),
        );
    }

    /// Empties the memory tier, and with a shared tier every other
    /// instance's too (by an invalidation they receive). `request`
    /// (`"DELETE /cache/memory"`) is recorded for the workshop, whose
    /// clearing exercise asks for a POST.
    pub async fn clear_memory(&self, learner: Option<&LearnerName>, request: &str) -> usize {
        let removed = self.memory.clear();
        self.shared
            .publish_for(Scope::Memory, learner.map(LearnerName::as_str))
            .await;
        self.record_clear(learner, ClearedTier::Memory, request);
        removed
    }

    /// Empties the shared tier (this app's keys in Redis).
    pub async fn clear_shared(&self) -> SharedChange {
        SharedChange::of(&self.shared, self.shared.clear().await.is_some())
    }

    /// Forgets n! here, in the shared tier, and in every other instance's
    /// memory: one key invalidated everywhere, the rest kept.
    pub async fn forget_factorial(&self, n: u64) -> Forgotten {
        let mut key = itoa::Buffer::new();
        // Farthest first, as in `clear_all`.
        let removed = self
            .shared
            .forget(crate::redis_tier::Kind::Factorial, key.format(n))
            .await;
        let memory = self.memory.forget(n);
        if removed {
            self.shared.publish(Scope::Factorial(n)).await;
        }
        Forgotten {
            n,
            memory,
            redis: SharedChange::of(&self.shared, removed),
        }
    }

    pub async fn clear_disk(&self, learner: Option<&LearnerName>, request: &str) -> usize {
        let removed = self.disk.clear().await;
        self.record_clear(learner, ClearedTier::Disk, request);
        removed
    }

    pub async fn clear_all(&self, learner: Option<&LearnerName>, request: &str) -> Cleared {
        // Farthest first: emptied the other way round, a request here
        // could refill memory from Redis between the two.
        let redis = SharedChange::of(&self.shared, self.shared.clear().await.is_some());
        let memory_entries_removed = self.memory.clear();
        self.shared
            .publish_for(Scope::Memory, learner.map(LearnerName::as_str))
            .await;
        let cleared = Cleared {
            memory_entries_removed,
            disk_entries_removed: self.disk.clear().await,
            redis,
        };
        self.record_clear(learner, ClearedTier::Both, request);
        cleared
    }

    /// Someone tried to clear with a GET and was told why that changes nothing.
    pub fn clear_by_get_refused(&self, learner: Option<&LearnerName>) {
        if let Some(learner) = learner {
            self.workshop.record(learner, What::ClearByGetRefused);
        }
    }

    fn record_clear(&self, learner: Option<&LearnerName>, tier: ClearedTier, request: &str) {
        match learner {
            Some(learner) => self.workshop.record(
                learner,
                What::Cleared {
                    tier,
                    request: request.to_owned(),
                },
            ),
            // Clears by anyone matter to the eviction check, named or not.
            None => self.workshop.note_clear(tier),
        }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Where the app's "now" comes from.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    pub fn memory(&self) -> &FactorialCache {
        &self.memory
    }

    pub fn disk(&self) -> &DiskCache {
        &self.disk
    }

    /// The shared tier (off without `redis_url`).
    pub fn shared(&self) -> &RedisTier {
        &self.shared
    }

    /// This instance's counters, for as long as its tiers exist: what the
    /// background reporter writes for the other instances to read
    /// (`crate::instances`). It keeps no tier alive by itself.
    pub fn instance_counts(&self) -> impl Fn() -> Option<InstanceCounts> + Send + Sync + 'static {
        let memory = Arc::downgrade(&self.memory);
        let disk = Arc::downgrade(&self.disk);
        move || {
            let (memory, disk) = (memory.upgrade()?, disk.upgrade()?);
            Some(InstanceCounts::of(&memory.stats(), &disk.stats()))
        }
    }

    pub fn history(&self) -> &RequestHistory {
        &self.history
    }

    pub fn workshop(&self) -> &Workshop {
        &self.workshop
    }

    /// Records a named learner's catalogue read for the workshop; `total`
    /// is the request's whole time as `Server-Timing` said it.
    pub fn note_catalogue_read(
        &self,
        learner: Option<&LearnerName>,
        read: &CatalogueRead,
        total: Duration,
    ) {
        if let Some(learner) = learner {
            self.workshop.record(
                learner,
                What::CatalogueRead(CatalogueReadEvent {
                    item: read.record.item.slug().to_owned(),
                    price_cents: read.record.price_cents,
                    true_price_cents: read.truth.price_cents,
                    outcome: read.outcome,
                    strategy: read.strategy,
                    elapsed_us: micros(total),
                }),
            );
        }
    }

    /// Records a named learner's change of a catalogue price.
    pub fn note_catalogue_price(&self, learner: Option<&LearnerName>, change: &PriceChange) {
        if let Some(learner) = learner {
            self.workshop.record(
                learner,
                What::CataloguePriceChanged(CataloguePriceEvent {
                    item: change.after.item.slug().to_owned(),
                    price_cents: change.after.price_cents,
                    strategy: change.strategy,
                    cache_effect: change.cache_effect,
                }),
            );
        }
    }

    /// The catalogues whose prices change, one per learner (see
    /// [`crate::catalogue::Catalogues`]).
    pub fn catalogues(&self) -> &Catalogues {
        &self.catalogues
    }

    /// The key that opens the instructor's view of every learner.
    pub fn instructor_key(&self) -> &InstructorKey {
        &self.instructor_key
    }
}

/// Records a memory clear that arrived from another instance: as a clear
/// (it explains the misses after it, as one made here would), and for the
/// named learner whose request published it, as their evidence that it
/// reached this instance.
fn note_memory_clear_arrived(workshop: &Workshop, message: &Invalidation, removed: usize) {
    workshop.note_clear(ClearedTier::Memory);
    let learner = message
        .learner
        .as_deref()
        .and_then(|name| LearnerName::parse(name).ok());
    if let Some(learner) = learner {
        workshop.record(
            &learner,
            What::MemoryClearArrived {
                from_instance: message.instance.clone(),
                removed,
            },
        );
    }
}

/// How an answer read from the shared tier shows on the timing chart: a
/// hit, or a wait (for another request here, or another instance's
/// computation).
fn shared_outcome(lookup: &SharedLookup, joined: bool) -> Outcome {
    if joined || lookup.outcome != SharedOutcome::Hit {
        Outcome::Waited
    } else {
        Outcome::Hit
    }
}

fn sent(not_modified: bool) -> Sent {
    if not_modified {
        Sent::NotModified
    } else {
        Sent::Full
    }
}

/// Whole microseconds, rounded as `Server-Timing` rounds them, so that the
/// workshop holds exactly the number the learner was sent.
fn micros(elapsed: Duration) -> u64 {
    u64::try_from((elapsed.as_nanos() + 500) / 1000).unwrap_or(u64::MAX)
}
