//! The memory tier: memoized factorials in a bounded LRU cache.
//!
//! n! is built as n × (n−1)!, and every step k! is stored, so a request reuses
//! the largest k! already in memory and multiplies only the missing steps.
//! The loop is iterative: there is no recursion depth to run out of.
//!
//! A hit takes no lock and writes no memory that another core's hit writes
//! (see [`store`] for how, and [`crate::striped`] for why).

mod store;

use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use crate::http_cache::EntityTag;
use crate::redis_tier::{Fetched, Kind, RedisTier, SharedLookup, SharedOutcome};
use crate::single_flight::{Flight, SingleFlight};
use crate::striped::StripedCounter;
use crossbeam_utils::CachePadded;
use num_bigint::BigUint;
use store::StepStore;

/// One memoized step: the exact value of `n!`, and its answer once somebody
/// has asked for it.
pub struct FactorialStep {
    n: u64,
    /// Known at once for a step multiplied here; worked out from the digits
    /// only when a step read from the shared tier becomes the base of a
    /// larger computation (parsing 10000!'s digits takes about a
    /// millisecond, which a hit from Redis should not pay).
    value: OnceLock<BigUint>,
    /// Which computation multiplied this step (see [`Computation::id`]): a
    /// hit can then say whose work it reused.
    computed_by: u64,
    /// The answer's bytes and their entity tag, made once: rendering a
    /// 35,000-digit number costs milliseconds, and hashing would read all of
    /// its answer again; a hit must pay for neither.
    rendered: OnceLock<RenderedAnswer>,
}

/// The answer to `GET /factorial/<n>`, exactly as it is sent.
struct RenderedAnswer {
    /// `{"number":n,"factorial":"…","digits":d}`: the same bytes for the
    /// same n on every request, in every process, so that its entity tag
    /// names it everywhere.
    body: Arc<[u8]>,
    /// Where the digits sit inside `body` (without their quotes).
    digits: Range<usize>,
    /// The strong entity tag of `body` (RFC 9110 §8.8.3).
    entity_tag: EntityTag,
    /// `entity_tag` as the `ETag` field value, written out once.
    etag_field: Arc<str>,
}

impl RenderedAnswer {
    /// An answer read back from the shared tier, if it is one: the digits
    /// between `"factorial":"` and `","digits":` are all decimal and as
    /// many as it says.
    fn parse(n: u64, body: Arc<[u8]>) -> Option<Self> {
        let mut number = itoa::Buffer::new();
        let head_len = b"{\"number\":".len() + number.format(n).len() + b",\"factorial\":\"".len();
        let digits_end = head_len
            + body
                .get(head_len..)?
                .iter()
                .position(|byte| *byte == b'"')?;
        let digits = body.get(head_len..digits_end)?;
        if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let mut expected = Vec::with_capacity(body.len());
        expected.extend_from_slice(b"{\"number\":");
        expected.extend_from_slice(number.format(n).as_bytes());
        expected.extend_from_slice(b",\"factorial\":\"");
        expected.extend_from_slice(digits);
        expected.extend_from_slice(b"\",\"digits\":");
        expected.extend_from_slice(number.format(digits.len()).as_bytes());
        expected.push(b'}');
        if expected[..] != body[..] {
            return None;
        }
        let entity_tag = EntityTag::of_bytes(&body);
        Some(Self {
            etag_field: Arc::from(entity_tag.to_string()),
            entity_tag,
            body,
            digits: head_len..digits_end,
        })
    }

    fn of(n: u64, value: &BigUint) -> Self {
        // The digits are only ASCII 0-9: a JSON string needs no escaping.
        let digits = value.to_string();
        let mut number = itoa::Buffer::new();
        let mut body = Vec::with_capacity(digits.len() + 64);
        body.extend_from_slice(b"{\"number\":");
        body.extend_from_slice(number.format(n).as_bytes());
        body.extend_from_slice(b",\"factorial\":\"");
        let digits_start = body.len();
        body.extend_from_slice(digits.as_bytes());
        let digits_end = body.len();
        body.extend_from_slice(b"\",\"digits\":");
        body.extend_from_slice(number.format(digits.len()).as_bytes());
        body.push(b'}');
        let entity_tag = EntityTag::of_bytes(&body);
        Self {
            etag_field: Arc::from(entity_tag.to_string()),
            entity_tag,
            body: Arc::from(body),
            digits: digits_start..digits_end,
        }
    }
}

impl FactorialStep {
    fn new(n: u64, value: BigUint, computed_by: u64) -> Self {
        Self {
            n,
            value: OnceLock::from(value),
            computed_by,
            rendered: OnceLock::new(),
        }
    }

    /// A step read from the shared tier: its answer is the bytes another
    /// instance sent, and no computation of this run made it
    /// (`computed_by` 0). `None` when the bytes are not n!'s answer.
    fn from_shared(n: u64, body: Arc<[u8]>) -> Option<Self> {
        let rendered = RenderedAnswer::parse(n, body)?;
        Some(Self {
            n,
            value: OnceLock::new(),
            computed_by: 0,
            rendered: OnceLock::from(rendered),
        })
    }

    /// The exact value of n!.
    fn value(&self) -> &BigUint {
        self.value.get_or_init(|| {
            self.decimal()
                .parse()
                .expect("a rendered answer holds decimal digits only")
        })
    }

    pub fn n(&self) -> u64 {
        self.n
    }

    /// The id of the computation that multiplied this step.
    pub fn computed_by(&self) -> u64 {
        self.computed_by
    }

    /// The decimal digits of n!.
    pub fn decimal(&self) -> &str {
        let rendered = self.rendered();
        std::str::from_utf8(&rendered.body[rendered.digits.clone()])
            .expect("the digits of a number are ASCII")
    }

    /// The JSON answer `{"number":n,"factorial":"…","digits":d}`, shared
    /// rather than copied: a hit sends these very bytes.
    pub fn answer_json(&self) -> &Arc<[u8]> {
        &self.rendered().body
    }

    /// The strong entity tag of [`FactorialStep::answer_json`], made from
    /// its SHA-256 when the answer was rendered, never per request.
    pub fn entity_tag(&self) -> &EntityTag {
        &self.rendered().entity_tag
    }

    /// [`FactorialStep::entity_tag`] as the `ETag` field value.
    pub fn etag_field(&self) -> &Arc<str> {
        &self.rendered().etag_field
    }

    fn rendered(&self) -> &RenderedAnswer {
        self.rendered
            .get_or_init(|| RenderedAnswer::of(self.n, self.value()))
    }

    fn is_rendered(&self) -> bool {
        self.rendered.get().is_some()
    }
}

/// What the memory tier did to answer one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemoryLookup {
    /// n! was already in memory.
    Hit,
    /// n! was missing and this request computed it.
    Computed(Computation),
    /// n! was missing and another request was already computing it: this one
    /// waited for that work instead of repeating it.
    Joined(Computation),
    /// n! was missing here and was read from the shared tier (computed by
    /// another instance, or before this one started), then kept in memory.
    /// `joined`: another request of this instance was already reading it,
    /// and this one waited for that read.
    Shared { lookup: SharedLookup, joined: bool },
}

impl MemoryLookup {
    pub fn is_hit(&self) -> bool {
        matches!(self, MemoryLookup::Hit)
    }

    /// The computation behind a miss (`None` for a hit, or an answer read
    /// from the shared tier).
    pub fn computation(&self) -> Option<&Computation> {
        match self {
            MemoryLookup::Hit | MemoryLookup::Shared { .. } => None,
            MemoryLookup::Computed(work) | MemoryLookup::Joined(work) => Some(work),
        }
    }

    /// Whether this request waited for another one of this instance.
    pub fn coalesced(&self) -> bool {
        matches!(
            self,
            MemoryLookup::Joined(_) | MemoryLookup::Shared { joined: true, .. }
        )
    }

    /// What the shared tier did after memory missed (`None` for a memory
    /// hit, which never asks it).
    pub fn shared(&self) -> Option<SharedLookup> {
        match self {
            MemoryLookup::Hit => None,
            MemoryLookup::Computed(work) | MemoryLookup::Joined(work) => Some(work.shared),
            MemoryLookup::Shared { lookup, .. } => Some(*lookup),
        }
    }

    /// Whether the answer came from the shared tier.
    pub fn from_shared(&self) -> bool {
        matches!(self, MemoryLookup::Shared { .. })
    }

    /// The cached k! a miss started from (`None` for a hit, or a miss that
    /// started from 0! = 1).
    pub fn reused_from(&self) -> Option<u64> {
        self.computation().and_then(|work| work.reused_from)
    }

    /// Steps this very request multiplied (a joined request did none itself).
    pub fn steps_computed_here(&self) -> u64 {
        match self {
            MemoryLookup::Computed(work) => work.steps_computed,
            MemoryLookup::Hit | MemoryLookup::Joined(_) | MemoryLookup::Shared { .. } => 0,
        }
    }
}

/// The work one miss did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Computation {
    /// Numbers this run's computations, from 1: the steps it stores carry
    /// it, and requests that joined it share it.
    pub id: u64,
    /// The largest k whose k! was reused from memory, if any was.
    pub reused_from: Option<u64>,
    /// The computation that had multiplied that k!.
    pub reused_from_computation: Option<u64>,
    /// How many multiplications were done (n − k).
    pub steps_computed: u64,
    /// The simulated cost waited for those steps.
    pub simulated_delay: Duration,
    /// Real time spent multiplying and rendering.
    pub compute_time: Duration,
    /// What the shared tier did before (a miss, a wait for another
    /// instance) and after (storing the answer for the others).
    pub shared: SharedLookup,
}

/// How a flight for a missing n ended.
#[derive(Clone)]
enum Found {
    Computed(Computation),
    Shared(SharedLookup),
}

/// A counted reference to a step, for one answer (see
/// `store::ReadableStep` for why a hit's handle is its thread's own).
/// Padded to a cache line of its own, count included.
#[derive(Clone)]
pub struct StepHandle(Arc<CachePadded<Arc<FactorialStep>>>);

impl StepHandle {
    fn new(step: Arc<FactorialStep>) -> Self {
        Self(Arc::new(CachePadded::new(step)))
    }
}

impl std::ops::Deref for StepHandle {
    type Target = FactorialStep;

    fn deref(&self) -> &FactorialStep {
        &self.0
    }
}

/// The answer for one `n`.
pub struct FactorialAnswer {
    pub step: StepHandle,
    pub lookup: MemoryLookup,
}

impl FactorialAnswer {
    /// What the workshop records of this answer, without holding on to
    /// the step: the response can then take the step itself.
    pub fn seen(&self) -> FactorialSeen {
        FactorialSeen {
            n: self.step.n(),
            computed_by: self.step.computed_by(),
            lookup: self.lookup,
        }
    }
}

/// The facts of one answer that outlive sending it.
#[derive(Debug, Clone, Copy)]
pub struct FactorialSeen {
    pub n: u64,
    /// The computation that multiplied the step sent.
    pub computed_by: u64,
    pub lookup: MemoryLookup,
}

/// The answer's bytes, held through its step: a hit hands the response
/// the step it already holds, so sending the body touches no second
/// reference count that other cores' hits touch too.
impl AsRef<[u8]> for StepHandle {
    fn as_ref(&self) -> &[u8] {
        self.answer_json()
    }
}

/// Counters for `/stats`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct MemoryStats {
    pub entries: usize,
    pub capacity: usize,
    pub hits: u64,
    pub misses: u64,
    pub evictions: u64,
    /// Factorial steps actually multiplied since start-up.
    pub computed: u64,
    /// Values being computed right now.
    pub in_flight: usize,
    /// Answers sent as 304 Not Modified: the client's stored copy was this
    /// very answer, so no body was sent (each is also a hit or a miss).
    pub not_modified: u64,
    /// Hits whose use was not recorded in the LRU order: their thread's
    /// buffer of uses was full while another thread held the store, or
    /// was being emptied that moment (see [`store`]): 0 unless many hits
    /// arrive at once.
    pub recency_notes_dropped: u64,
}

/// One entry of the memory tier as shown to a learner.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MemoryEntry {
    pub n: u64,
    /// Whether the decimal text is kept too (only for values someone asked for).
    pub rendered: bool,
}

/// Memoized factorials behind an LRU bound.
pub struct FactorialCache {
    steps: Arc<StepStore>,
    flights: SingleFlight<u64, (Arc<FactorialStep>, Found)>,
    delay_per_step: Duration,
    delay_max: Duration,
    /// Counted per thread: every request counts one or the other.
    hits: StripedCounter,
    misses: StripedCounter,
    not_modified: StripedCounter,
    computed: Arc<AtomicU64>,
    /// The last computation id handed out.
    computations: AtomicU64,
}

impl FactorialCache {
    /// `capacity` must be at least 1 (the config checks it).
    pub fn new(capacity: usize, delay_per_step: Duration, delay_max: Duration) -> Self {
        Self {
            steps: Arc::new(StepStore::new(capacity)),
            flights: SingleFlight::default(),
            delay_per_step,
            delay_max,
            hits: StripedCounter::default(),
            misses: StripedCounter::default(),
            not_modified: StripedCounter::default(),
            computed: Arc::new(AtomicU64::new(0)),
            computations: AtomicU64::new(0),
        }
    }

    /// Returns n!, from memory when it is there, computing the missing steps
    /// when it is not. Concurrent misses for the same n share one computation.
    pub async fn factorial(&self, n: u64) -> FactorialAnswer {
        self.factorial_via(n, RedisTier::off()).await
    }

    /// As [`FactorialCache::factorial`], with the shared tier between memory
    /// and computing: a miss here asks `shared` first, keeps what it finds,
    /// and otherwise computes (under the shared tier's lease, so instances
    /// missing at once compute once) and stores the answer there too.
    pub async fn factorial_via(&self, n: u64, shared: &RedisTier) -> FactorialAnswer {
        if let Some(step) = self.steps.get(n) {
            self.hits.increment();
            if !step.is_rendered() {
                render_off_the_worker(&step).await;
            }
            return FactorialAnswer {
                step,
                lookup: MemoryLookup::Hit,
            };
        }
        self.misses.increment();
        let ((step, found), flight) = self
            .flights
            .run(n, || self.fetch_or_compute(n, shared))
            .await;
        let joined = flight == Flight::Joined;
        let lookup = match found {
            Found::Computed(work) if joined => MemoryLookup::Joined(work),
            Found::Computed(work) => MemoryLookup::Computed(work),
            Found::Shared(lookup) => MemoryLookup::Shared { lookup, joined },
        };
        FactorialAnswer {
            step: StepHandle::new(step),
            lookup,
        }
    }

    /// Forgets n! alone; returns whether it was held.
    pub fn forget(&self, n: u64) -> bool {
        self.steps.remove(n)
    }

    /// A miss's work: the shared tier's copy, or a computation.
    async fn fetch_or_compute(&self, n: u64, shared: &RedisTier) -> (Arc<FactorialStep>, Found) {
        let mut key = itoa::Buffer::new();
        let key = key.format(n);
        let ticket = match shared.fetch(Kind::Factorial, key).await {
            Fetched::Found { body, lookup } => match FactorialStep::from_shared(n, body) {
                Some(step) => {
                    let step = Arc::new(step);
                    self.steps.insert(n, Arc::clone(&step));
                    return (step, Found::Shared(lookup));
                }
                // Intact bytes (their digest matched) that are not n!'s
                // answer: computed here, and not written back over.
                None => None,
            },
            Fetched::Compute(ticket) => Some(ticket),
        };
        let (step, mut work) = self.compute(n).await;
        work.shared = match ticket {
            Some(ticket) => shared.keep(ticket, step.answer_json()).await,
            None => SharedLookup {
                outcome: SharedOutcome::Miss {
                    damaged: true,
                    stored: false,
                },
                elapsed: Duration::ZERO,
            },
        };
        (step, Found::Computed(work))
    }

    /// Multiplies from the largest cached k! ≤ n up to n!, storing each step.
    async fn compute(&self, n: u64) -> (Arc<FactorialStep>, Computation) {
        let id = self.computations.fetch_add(1, Ordering::Relaxed) + 1;
        let base = self.largest_cached_at_most(n);
        let reused_from = base.as_ref().map(|step| step.n);
        let reused_from_computation = base.as_ref().map(|step| step.computed_by);
        let steps_to_compute = n - reused_from.unwrap_or(0);

        let simulated_delay = self.simulated_delay(steps_to_compute);
        // tokio's timer counts whole milliseconds, so even a zero sleep
        // waits for the next tick (about a millisecond, measured): with no
        // delay set, a miss must not wait at all.
        if !simulated_delay.is_zero() {
            tokio::time::sleep(simulated_delay).await;
        }

        let started = Instant::now();
        let steps = Arc::clone(&self.steps);
        let computed = Arc::clone(&self.computed);
        // Big multiplications and the final rendering are CPU work: keep them
        // off the async workers so other requests are not held up meanwhile.
        let step = tokio::task::spawn_blocking(move || {
            let step = multiply_up_to(n, base, &steps, &computed, id);
            step.decimal();
            step
        })
        .await
        .expect("factorial computation does not panic");

        let work = Computation {
            id,
            reused_from,
            reused_from_computation,
            steps_computed: steps_to_compute,
            simulated_delay,
            compute_time: started.elapsed(),
            shared: SharedLookup::OFF,
        };
        (step, work)
    }

    fn simulated_delay(&self, steps: u64) -> Duration {
        let steps = u32::try_from(steps).unwrap_or(u32::MAX);
        self.delay_per_step
            .checked_mul(steps)
            .unwrap_or(self.delay_max)
            .min(self.delay_max)
    }

    /// Looks without touching recency: a search must not make entries look used.
    fn largest_cached_at_most(&self, n: u64) -> Option<Arc<FactorialStep>> {
        self.steps.largest_at_most(n)
    }

    /// Empties the tier and returns how many entries it held.
    pub fn clear(&self) -> usize {
        self.steps.clear()
    }

    pub fn stats(&self) -> MemoryStats {
        let counts = self.steps.counts();
        MemoryStats {
            entries: counts.entries,
            capacity: counts.capacity,
            hits: self.hits.total(),
            misses: self.misses.total(),
            evictions: counts.evictions,
            computed: self.computed.load(Ordering::Relaxed),
            in_flight: self.flights.in_flight_count(),
            not_modified: self.not_modified.total(),
            recency_notes_dropped: counts.notes_dropped,
        }
    }

    /// Counts an answer of this tier that was sent as 304 Not Modified.
    pub fn count_not_modified(&self) {
        self.not_modified.increment();
    }

    /// The entries from most to least recently used: the last one is the next
    /// to be evicted.
    pub fn entries(&self) -> Vec<MemoryEntry> {
        self.steps.in_order(|n, step| MemoryEntry {
            n,
            rendered: step.is_rendered(),
        })
    }
}

fn multiply_up_to(
    n: u64,
    base: Option<Arc<FactorialStep>>,
    steps: &StepStore,
    computed: &AtomicU64,
    computation: u64,
) -> Arc<FactorialStep> {
    let (mut k, mut value) = match base {
        Some(step) if step.n == n => {
            // Held but perhaps not readable yet: another run stored it and
            // has not finished.
            steps.publish(n..=n);
            return step;
        }
        Some(step) => (step.n, step.value().clone()),
        // 0! = 1, the empty product: the starting point, not a step.
        None => (0, BigUint::from(1u8)),
    };
    let mut latest = Arc::new(FactorialStep::new(k, value.clone(), computation));
    if k == n {
        steps.insert(k, Arc::clone(&latest));
    }
    let first = k + 1;
    while k < n {
        k += 1;
        value *= k;
        computed.fetch_add(1, Ordering::Relaxed);
        latest = Arc::new(FactorialStep::new(k, value.clone(), computation));
        // One short lock per step, never across an await (hits take no
        // lock at all, but other misses do).
        let apply_notes = (k - first) % store::STEPS_BETWEEN_NOTES == 0;
        steps.insert_unpublished(k, Arc::clone(&latest), apply_notes);
    }
    if first <= n {
        steps.publish(first..=n);
    }
    latest
}

async fn render_off_the_worker(step: &StepHandle) {
    let step = step.clone();
    tokio::task::spawn_blocking(move || {
        step.decimal();
    })
    .await
    .expect("rendering a decimal does not panic");
}

#[cfg(test)]
mod tests;
