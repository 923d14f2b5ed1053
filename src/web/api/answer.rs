//! The answers the cached routes send: the body, and the headers that say
//! what each tier did (`X-Cache`, `Cache-Status`, `Server-Timing`), for a
//! full answer and for a 304.

use super::*;

/// A cached answer with the headers that show what the cache did.
///
/// A response carries only the headers that teach something, because each
/// one costs the server measurable time (see "Performance" in the README):
/// `X-Cache`, `Cache-Status` and `Server-Timing` always, `X-Cache-Detail`
/// on a miss (a hit needs no more words than `HIT`), `X-Cache-Key` for an
/// answer of `POST /data`, and `ETag` on the answers that never change.
///
/// The body holds the value alone, the same bytes every time, so that its
/// tag can name it and a stored copy stays valid: what this request did is
/// in the headers.
pub struct CachedJson {
    /// The request's whole time, measured once every header was built
    /// (`Server-Timing`'s `total`).
    pub total: Duration,
    /// Shared with the tier that holds the bytes: a hit sends them without
    /// a copy.
    body: SharedBody,
    hit: bool,
    /// One line for people (`X-Cache-Detail`): why a miss was a miss.
    detail: Option<String>,
    server_timing: String,
    /// `Cache-Status` (RFC 9211): what each tier consulted did.
    cache_status: Cow<'static, str>,
    key: Option<String>,
    caching: Caching,
}

/// A body held by a tier, sent without copying it.
enum SharedBody {
    Bytes(Arc<[u8]>),
    /// n!'s answer, through the step the lookup already handed over.
    Factorial(StepHandle),
}

impl AsRef<[u8]> for SharedBody {
    fn as_ref(&self) -> &[u8] {
        match self {
            SharedBody::Bytes(bytes) => bytes,
            SharedBody::Factorial(step) => step.as_ref(),
        }
    }
}

/// What other caches may do with an answer.
pub(super) enum Caching {
    /// `no-store`.
    Never,
    /// `no-cache` with this `ETag`; `not_modified` when the request already
    /// holds the answer, which then goes out as 304 with no body.
    Revalidated { etag: String, not_modified: bool },
}

impl CachedJson {
    /// Builds the answer, and measures the request's whole time last of
    /// all, so that `total` covers everything the server did for it but
    /// writing that one number and sending the response.
    pub(super) fn factorial(timed: Timed<FactorialAnswer>, started: RequestStarted) -> Self {
        let answer = &timed.answer;
        let n = answer.step.n();
        let lookup = answer.lookup;
        let work = lookup.computation();

        let mut timing = String::with_capacity(160);
        push_timing_entry(
            &mut timing,
            "cache",
            memory_desc(&lookup),
            Some(timed.cache_elapsed),
        );
        if let Some(shared) = consulted_shared(&lookup) {
            push_shared_timing(&mut timing, shared);
        }
        if let Some(work) = work {
            push_timing_entry(
                &mut timing,
                "wait",
                "simulated cost",
                Some(work.simulated_delay),
            );
            push_timing_entry(
                &mut timing,
                "compute",
                "multiplying and writing out the digits",
                Some(work.compute_time),
            );
        }

        let detail = match lookup {
            MemoryLookup::Hit => None,
            MemoryLookup::Computed(work) => Some(format!(
                "{}{}",
                match work.reused_from {
                    Some(k) => format!("computed {} on top of {k}!", steps(work.steps_computed)),
                    None => format!("computed {} from 0! = 1", steps(work.steps_computed)),
                },
                shared_afterword(work.shared.outcome)
            )),
            MemoryLookup::Joined(_) => Some(format!(
                "waited for another request that was computing {n}!"
            )),
            MemoryLookup::Shared { joined: true, .. } => Some(format!(
                "waited for another request that was reading {n}! from the shared tier (Redis)"
            )),
            MemoryLookup::Shared { lookup, .. } => {
                Some(if lookup.outcome == SharedOutcome::Collapsed {
                    format!(
                        "not in this instance's memory; another instance was computing {n}!: \
                         waited for it, then read its answer from the shared tier (Redis)"
                    )
                } else {
                    "not in this instance's memory; read from the shared tier (Redis)".to_owned()
                })
            }
        };
        let caching = Caching::Revalidated {
            etag: answer.step.etag_field().to_string(),
            not_modified: timed.not_modified,
        };
        let hit = lookup.is_hit() || lookup.from_shared();
        let cache_status = memory_cache_status(&lookup);
        let body = SharedBody::Factorial(timed.answer.step);
        let total = started.0.elapsed();
        push_timing_total(&mut timing, total);
        Self {
            total,
            body,
            // An answer from any cache is a hit; `Cache-Status` says which.
            hit,
            detail,
            server_timing: timing,
            cache_status,
            key: None,
            caching,
        }
    }

    /// As [`CachedJson::factorial`]: the whole time is measured last.
    pub(super) fn data(
        timed: &Timed<DiskAnswer>,
        read_and_parsed: Duration,
        started: RequestStarted,
    ) -> Self {
        let Timed {
            answer,
            cache_elapsed,
            ..
        } = timed;
        let (desc, detail) = match answer.lookup {
            DiskLookup::Hit => ("disk hit", None),
            DiskLookup::Computed { reason, stored } => (
                "disk miss",
                Some(format!(
                    "{}; computed{}{}",
                    miss_reason_text(reason),
                    if stored {
                        " and stored"
                    } else {
                        ", but the disk refused to store it"
                    },
                    shared_afterword(answer.shared.outcome)
                )),
            ),
            DiskLookup::Shared { reason, joined } => (
                "disk miss",
                Some(if joined {
                    format!(
                        "{}; waited for another request reading it from the shared tier (Redis)",
                        miss_reason_text(reason)
                    )
                } else {
                    format!(
                        "{}; read from the shared tier (Redis){} and written to this machine's disk",
                        miss_reason_text(reason),
                        if answer.shared.outcome == SharedOutcome::Collapsed {
                            " after waiting for another instance computing it"
                        } else {
                            ""
                        }
                    )
                }),
            ),
            DiskLookup::Joined { reason } => (
                "disk miss",
                Some(format!(
                    "{}; waited for another request doing the same work",
                    miss_reason_text(reason)
                )),
            ),
        };
        let mut timing = String::with_capacity(160);
        push_timing_entry(
            &mut timing,
            "body",
            "reading + canonicalizing + hashing",
            Some(read_and_parsed),
        );
        push_timing_entry(&mut timing, "cache", desc, Some(*cache_elapsed));
        let consulted = !matches!(
            answer.lookup,
            DiskLookup::Joined { .. } | DiskLookup::Shared { joined: true, .. }
        );
        if consulted && answer.shared.outcome != SharedOutcome::Off {
            push_shared_timing(&mut timing, answer.shared);
        }
        if !answer.lookup.is_hit() && !answer.lookup.from_shared() {
            push_timing_entry(
                &mut timing,
                "wait",
                "simulated cost",
                Some(answer.simulated_delay),
            );
        }
        let key = answer.key.clone();
        let body = SharedBody::Bytes(Arc::clone(&answer.body));
        let total = started.0.elapsed();
        push_timing_total(&mut timing, total);
        Self {
            total,
            body,
            hit: answer.lookup.is_hit() || answer.lookup.from_shared(),
            detail,
            server_timing: timing,
            cache_status: disk_cache_status(answer),
            key: Some(key),
            caching: Caching::Never,
        }
    }

    /// `GET /data/<key>`'s answer for a stored entry (a hit: a miss is
    /// [`NoStoredAnswer::miss`]). The whole time is measured last.
    pub(super) fn stored<T>(hit: &DiskAnswer, timed: &Timed<T>, started: RequestStarted) -> Self {
        let mut timing = String::with_capacity(80);
        push_timing_entry(&mut timing, "cache", "disk hit", Some(timed.cache_elapsed));
        let caching = Caching::Revalidated {
            etag: hit.entity_tag().to_string(),
            not_modified: timed.not_modified,
        };
        let body = SharedBody::Bytes(Arc::clone(&hit.body));
        let total = started.0.elapsed();
        push_timing_total(&mut timing, total);
        Self {
            total,
            body,
            hit: true,
            detail: None,
            server_timing: timing,
            cache_status: Cow::Borrowed(DISK_HIT_STATUS),
            key: None,
            caching,
        }
    }
}

impl<'r> Responder<'r, 'static> for CachedJson {
    fn respond_to(self, _: &'r Request<'_>) -> response::Result<'static> {
        let mut response = Response::build();
        let not_modified = match self.caching {
            Caching::Never => {
                response.header(Header::new("Cache-Control", NEVER_STORE));
                false
            }
            Caching::Revalidated { etag, not_modified } => {
                response
                    .header(Header::new("Cache-Control", REVALIDATE_EVERY_TIME))
                    .header(Header::new("ETag", etag));
                not_modified
            }
        };
        response
            .header(Header::new(
                "X-Cache",
                if self.hit { "HIT" } else { "MISS" },
            ))
            .header(Header::new("Server-Timing", self.server_timing))
            .header(Header::new("Cache-Status", self.cache_status));
        if let Some(detail) = self.detail {
            response.header(Header::new("X-Cache-Detail", detail));
        }
        if let Some(key) = self.key {
            response.header(Header::new("X-Cache-Key", key));
        }
        if not_modified {
            // No body, and so no Content-Type or Content-Length: a 304 says
            // "the copy you hold is current", and carries only the fields
            // that copy's stored headers may be updated with (RFC 9110
            // §15.4.5). Rocket sends no Content-Length for a body never set.
            response.status(Status::NotModified);
        } else {
            let body = self.body;
            response
                .header(ContentType::JSON)
                .sized_body(body.as_ref().len(), Cursor::new(body));
        }
        response.ok()
    }
}

/// `GET /data/<key>` with no answer to send: a 400 for something that is
/// not a key, or a 404 that carries the disk tier's miss in the same
/// headers a hit would (`X-Cache`, `Cache-Status`, `Server-Timing`), so the
/// miss teaches as much as a hit.
pub struct NoStoredAnswer {
    error: ApiError,
    cache_headers: Vec<Header<'static>>,
}

impl NoStoredAnswer {
    pub(super) fn not_a_key(error: ApiError) -> Self {
        Self {
            error,
            cache_headers: Vec::new(),
        }
    }

    pub(super) fn miss(
        key: &EntryKey,
        reason: MissReason,
        cache_elapsed: Duration,
        started: RequestStarted,
        base_url: &BaseUrl,
        ttl_secs: u64,
    ) -> Self {
        let why = match reason {
            MissReason::Absent => "no answer is stored under this key: no body with this key \
                 was sent to POST /data, or its entry was cleared or evicted since"
                .to_owned(),
            MissReason::Expired => format!(
                "the answer stored under this key has expired: entries are served for \
                 {ttl_secs} s after they are written"
            ),
            MissReason::Unreadable => "the answer stored under this key failed its integrity \
                 check (the file was damaged), so it is not served"
                .to_owned(),
        };
        let error =
            ApiError::new(Status::NotFound, format!("{why} (key {key})")).accepting(format!(
                "POST the body to /data to store it (again), then GET /data/<key> with the key \
                 its answer prints in X-Cache-Key, for example: \
                 curl -i -H 'Content-Type: application/json' -d '{{\"a\": 1}}' {}/data",
                base_url.0
            ));
        let mut timing = String::with_capacity(80);
        push_timing_entry(&mut timing, "cache", "disk miss", Some(cache_elapsed));
        push_timing_total(&mut timing, started.0.elapsed());
        // Nothing was computed or stored: the miss member alone.
        let status = disk_miss_status(reason, |forward| forward);
        Self {
            error,
            cache_headers: vec![
                Header::new("X-Cache", "MISS"),
                Header::new("X-Cache-Detail", miss_reason_text(reason)),
                Header::new("Cache-Status", status),
                Header::new("Server-Timing", timing),
            ],
        }
    }
}

impl<'r> Responder<'r, 'static> for NoStoredAnswer {
    fn respond_to(self, request: &'r Request<'_>) -> response::Result<'static> {
        let mut response = self.error.respond_to(request)?;
        for header in self.cache_headers {
            response.set_header(header);
        }
        Ok(response)
    }
}

/// A memory hit's `Cache-Status`, written once: a hit must cost no more
/// than it has to (a test holds it to what the builder writes).
pub(super) const MEMORY_HIT_STATUS: &str = "cachelab-memory;hit";
pub(super) const DISK_HIT_STATUS: &str = "cachelab-disk;hit";

/// The memory tier's `Cache-Status` member: a hit; a miss it computed (or
/// read from the shared tier) and stored; or a miss that waited for
/// another request of this instance (`collapsed`, RFC 9211 §2.6). When the
/// shared tier was consulted, its member comes first: RFC 9211 §2 lists
/// the cache nearest the origin first.
pub(super) fn memory_cache_status(lookup: &MemoryLookup) -> Cow<'static, str> {
    let forward = match lookup {
        MemoryLookup::Hit => return Cow::Borrowed(MEMORY_HIT_STATUS),
        MemoryLookup::Computed(_) | MemoryLookup::Shared { joined: false, .. } => {
            Forward::because(ForwardReason::Miss).stored(true)
        }
        MemoryLookup::Joined(_) | MemoryLookup::Shared { joined: true, .. } => {
            Forward::because(ForwardReason::Miss).collapsed(true)
        }
    };
    let memory = CacheStatusEntry::forwarded(CacheName::memory_tier(), forward).to_string();
    Cow::Owned(with_shared_member(consulted_shared(lookup), memory))
}

/// The disk tier's `Cache-Status` member. An expired entry is `fwd=stale`
/// (the tier had a copy, too old to use); a damaged one is a miss with
/// `detail=integrity`; `stored` says whether the new answer was written.
/// The shared tier's member comes first when it was consulted.
pub(super) fn disk_cache_status(answer: &DiskAnswer) -> Cow<'static, str> {
    let (lookup, shared) = (&answer.lookup, answer.shared);
    let Some(reason) = lookup.miss_reason() else {
        return Cow::Borrowed(DISK_HIT_STATUS);
    };
    // A waiter's answer was stored by the request it waited for.
    let disk = disk_miss_status(reason, |forward| match *lookup {
        DiskLookup::Computed { stored, .. } => forward.stored(stored),
        DiskLookup::Shared { joined: false, .. } => forward.stored(answer.written_at_ms.is_some()),
        _ => forward.collapsed(true),
    });
    let consulted = match lookup {
        DiskLookup::Computed { .. } | DiskLookup::Shared { joined: false, .. } => Some(shared),
        _ => None,
    };
    Cow::Owned(with_shared_member(consulted, disk))
}

/// What the shared tier did for this very request (`None` when it was not
/// asked: a memory hit, or a wait for another request here, which asked it).
fn consulted_shared(lookup: &MemoryLookup) -> Option<SharedLookup> {
    match lookup {
        MemoryLookup::Computed(work) => Some(work.shared),
        MemoryLookup::Shared {
            lookup,
            joined: false,
        } => Some(*lookup),
        _ => None,
    }
    .filter(|shared| shared.outcome != SharedOutcome::Off)
}

fn with_shared_member(shared: Option<SharedLookup>, nearer: String) -> String {
    match shared.and_then(|shared| shared_member(shared.outcome)) {
        Some(member) => format!("{member}, {nearer}"),
        None => nearer,
    }
}

/// The shared tier's `Cache-Status` member: `hit`; `fwd=miss` and whether
/// the computed answer was `stored` for the others; `collapsed` when it
/// waited for another instance's computation; `detail=unavailable` when
/// Redis could not be asked (down, or slower than `redis_timeout_ms`).
pub(super) fn shared_member(outcome: SharedOutcome) -> Option<String> {
    let name = CacheName::redis_tier();
    let miss = Forward::because(ForwardReason::Miss);
    let entry = match outcome {
        SharedOutcome::Off => return None,
        SharedOutcome::Hit => CacheStatusEntry::hit(name),
        SharedOutcome::Collapsed => CacheStatusEntry::forwarded(name, miss.collapsed(true)),
        SharedOutcome::Miss { damaged, stored } => {
            let entry = CacheStatusEntry::forwarded(name, miss.stored(stored));
            if damaged {
                entry.detail(Detail::token("integrity").expect("\"integrity\" is a token"))
            } else {
                entry
            }
        }
        SharedOutcome::Unavailable => CacheStatusEntry::forwarded(name, miss)
            .detail(Detail::token("unavailable").expect("\"unavailable\" is a token")),
    };
    Some(entry.to_string())
}

/// `Server-Timing`'s `redis` metric: what the shared tier did and cost.
fn push_shared_timing(timing: &mut String, shared: SharedLookup) {
    let desc = match shared.outcome {
        SharedOutcome::Off => return,
        SharedOutcome::Hit => "redis hit",
        SharedOutcome::Collapsed => "redis: waited for another instance",
        SharedOutcome::Miss { stored: true, .. } => "redis miss, stored",
        SharedOutcome::Miss { stored: false, .. } => "redis miss",
        SharedOutcome::Unavailable => "redis unavailable",
    };
    push_timing_entry(timing, "redis", desc, Some(shared.elapsed));
}

/// What a computed answer's `X-Cache-Detail` adds about the shared tier.
fn shared_afterword(outcome: SharedOutcome) -> &'static str {
    match outcome {
        SharedOutcome::Miss { stored: true, .. } => {
            "; stored in the shared tier (Redis) for the other instances"
        }
        SharedOutcome::Miss { stored: false, .. } => "; the shared tier (Redis) did not take it",
        SharedOutcome::Unavailable => "; the shared tier (Redis) was unavailable",
        SharedOutcome::Off | SharedOutcome::Hit | SharedOutcome::Collapsed => "",
    }
}

/// The disk tier's member for a miss for `reason`, with what the request
/// then did added by `then`.
pub(super) fn disk_miss_status(
    reason: MissReason,
    then: impl FnOnce(Forward) -> Forward,
) -> String {
    let forward = then(Forward::because(match reason {
        MissReason::Expired => ForwardReason::Stale,
        MissReason::Absent | MissReason::Unreadable => ForwardReason::Miss,
    }));
    let mut entry = CacheStatusEntry::forwarded(CacheName::disk_tier(), forward);
    if reason == MissReason::Unreadable {
        entry = entry.detail(Detail::token("integrity").expect("\"integrity\" is a token"));
    }
    entry.to_string()
}

pub(super) fn memory_desc(lookup: &MemoryLookup) -> &'static str {
    match lookup {
        MemoryLookup::Hit => "memory hit",
        MemoryLookup::Computed(_) | MemoryLookup::Joined(_) | MemoryLookup::Shared { .. } => {
            "memory miss"
        }
    }
}

pub(super) fn miss_reason_text(reason: MissReason) -> &'static str {
    match reason {
        MissReason::Absent => "not stored yet",
        MissReason::Expired => "stored but expired",
        MissReason::Unreadable => "stored but failed its integrity check",
    }
}

/// `1 step`, `5 steps`.
pub(super) fn steps(count: u64) -> String {
    crate::view::count_of(
        usize::try_from(count).unwrap_or(usize::MAX),
        "step",
        "steps",
    )
}

/// Appends one `Server-Timing` metric (`name;desc="...";dur=1.234`).
pub(super) fn push_timing_entry(
    timing: &mut String,
    name: &str,
    desc: &str,
    duration: Option<Duration>,
) {
    if !timing.is_empty() {
        timing.push_str(", ");
    }
    timing.push_str(name);
    timing.push_str(";desc=\"");
    timing.push_str(desc);
    timing.push('"');
    if let Some(duration) = duration {
        timing.push_str(";dur=");
        timing.push_str(Millis::new(duration).as_str());
    }
}

pub(super) fn push_timing_total(timing: &mut String, elapsed: Duration) {
    timing.push_str(", total;dur=");
    timing.push_str(Millis::new(elapsed).as_str());
}

/// A duration as milliseconds with three decimals (`1.234`), the unit of
/// `Server-Timing`: whole microseconds, rounded, formatted
/// with integer arithmetic so that timing a hit costs no float formatting.
pub(super) struct Millis {
    text: [u8; 24],
    len: usize,
}

impl Millis {
    pub(super) fn new(duration: Duration) -> Self {
        // Integer arithmetic in u64: a u128 division (`as_nanos`) costs more
        // than everything else here.
        let micros = duration
            .as_secs()
            .saturating_mul(1_000_000)
            .saturating_add(u64::from(duration.subsec_nanos() + 500) / 1000);
        let (whole, fraction) = (micros / 1000, (micros % 1000) as u16);
        let mut digits = itoa::Buffer::new();
        let whole = digits.format(whole).as_bytes();
        let mut text = [0u8; 24];
        text[..whole.len()].copy_from_slice(whole);
        text[whole.len()..whole.len() + 4].copy_from_slice(&[
            b'.',
            b'0' + (fraction / 100) as u8,
            b'0' + (fraction / 10 % 10) as u8,
            b'0' + (fraction % 10) as u8,
        ]);
        Self {
            text,
            len: whole.len() + 4,
        }
    }

    pub(super) fn as_str(&self) -> &str {
        std::str::from_utf8(&self.text[..self.len]).expect("digits and a point are ASCII")
    }
}
