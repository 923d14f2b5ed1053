//! The JSON API that curl users (and the original tutorial's commands) call.
//!
//! Handlers stay thin: parse the input into a domain type, ask a tier, and
//! turn its answer into a response whose headers tell hit or miss and how
//! long the server took. The answers that never change (`GET
//! /factorial/<n>`, `GET /data/<key>`) carry a strong `ETag`, and a request
//! that already holds one (`If-None-Match`) is answered 304 with no body;
//! Rocket answers `HEAD` from the same routes.

use std::borrow::Cow;
use std::io::Cursor;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rocket::data::{self, Data, FromData, ToByteUnit};
use rocket::http::{ContentType, Header, Status};
use rocket::request::{FromRequest, Outcome, Request};
use rocket::response::{self, Responder, Response};
use rocket::serde::json::{json, Json, Value};
use rocket::{delete, get, post, routes, Route, State};

use crate::canonical::{raw_fingerprint, CanonicalJson, FactorialInput};
use crate::disk::{DiskAnswer, DiskLookup, EntryKey, MissReason};
use crate::http_cache::{
    CacheName, CacheStatusEntry, Detail, Forward, ForwardReason, Preconditions,
};
use crate::lab::{Lab, Timed};
use crate::memory::{FactorialAnswer, MemoryLookup};
use crate::web::errors::ApiError;
use crate::web::guards::Learner;
use crate::web::guards::SameOriginChange;
use crate::web::render::BaseUrl;
use crate::web::request_start::RequestStarted;
use crate::web::NotStored;

pub fn routes() -> Vec<Route> {
    let mut factorial_route = routes![factorial];
    factorial_route[0].rank = FACTORIAL_RANK;
    factorial_route
        .into_iter()
        .chain(routes![
            post_data,
            get_data,
            stats,
            health,
            clear_all,
            clear_all_by_get,
            clear_memory,
            clear_disk
        ])
        .collect()
}

/// `GET /factorial/<n>` is tried before every other route.
///
/// Rocket matches a request against its routes one by one, in rank order,
/// and by default a path with a `<parameter>` ranks after every fully static
/// path. A memory hit was therefore checked against a dozen other routes
/// before its own, and those failed matches took several times as long as
/// the cache lookup itself. No other route can match `/factorial/...`, so
/// trying this one first changes no answer. (The route attribute takes no
/// negative rank, so it is set here.)
const FACTORIAL_RANK: isize = -100;

/// `Cache-Control` of the answers that never change: n! and a stored body.
///
/// Each carries a strong `ETag`, so a browser or proxy may keep it; and in
/// production, where an answer that can never change should be reused
/// without asking, `max-age=31536000, immutable` would be right (RFC 9111
/// §5.2.2.1, RFC 8246). Here the lesson is this app's own tiers, so every
/// reuse must still reach the app: `no-cache` lets a cache store the answer
/// but not reuse it before asking again (RFC 9111 §5.2.2.4), and the
/// question, an `If-None-Match` with the stored tag, costs a 304 with no
/// body when the copy is still the current one (RFC 9110 §13.1.2).
const REVALIDATE_EVERY_TIME: &str = "no-cache";

/// `Cache-Control` of answers no cache may keep at all: they change with
/// every request (`/stats`), say what one request did (`POST /data`, whose
/// answer also reports its own hit or miss) or change the cache (the
/// clears). Without it a cache may still reuse a response for a freshness
/// lifetime it guesses for itself (RFC 9111 §4.2.2).
const NEVER_STORE: &str = "no-store";

/// `GET /factorial/<n>`: n! from the memory tier. The body is the same
/// bytes for the same n everywhere, tagged by their SHA-256, and a request
/// whose `If-None-Match` names that tag is answered 304 with no body.
#[get("/factorial/<n>")]
async fn factorial(
    started: RequestStarted,
    n: &str,
    lab: &State<Lab>,
    learner: Result<Learner, ApiError>,
    validators: Validators<'_>,
) -> Result<CachedJson, ApiError> {
    let learner = learner?;
    let input = FactorialInput::parse(n, lab.config().max_factorial).map_err(|refused| {
        ApiError::new(Status::BadRequest, refused.message(n)).accepting(refused.accepted())
    })?;
    let timed = lab.factorial_revalidated(input, &validators.0).await;
    let response = CachedJson::factorial(&timed, started);
    lab.note_factorial(learner.0.as_ref(), &timed.answer, response.total);
    Ok(response)
}

/// `POST /data`: a JSON body answered from the disk tier.
#[post("/data", data = "<body>")]
async fn post_data(
    started: RequestStarted,
    _from: SameOriginChange,
    body: Result<JsonBody, ApiError>,
    lab: &State<Lab>,
    learner: Result<Learner, ApiError>,
) -> Result<CachedJson, ApiError> {
    let (learner, body) = (learner?, body?);
    let timed = lab.data(&body.canonical).await;
    let response = CachedJson::data(&timed, body.read_and_parsed, started);
    lab.note_data(
        learner.0.as_ref(),
        body.raw_fingerprint,
        &timed.answer,
        response.total,
    );
    Ok(response)
}

/// `GET /data/<key>`: the answer stored under `key` (as `POST /data`
/// printed it in `X-Cache-Key`), read from the disk tier without computing
/// anything. Tagged and revalidated as `GET /factorial/<n>` is.
#[get("/data/<key>")]
fn get_data(
    started: RequestStarted,
    key: &str,
    lab: &State<Lab>,
    validators: Validators<'_>,
    base_url: BaseUrl,
) -> Result<CachedJson, NoStoredAnswer> {
    let key = EntryKey::parse(key).map_err(|not_a_key| {
        let shown: String = key.chars().take(80).collect();
        NoStoredAnswer::not_a_key(
            ApiError::new(
                Status::BadRequest,
                format!("{shown:?} is not a key: {not_a_key}"),
            )
            .accepting(format!(
                "GET /data/<key> with the key from a POST /data answer, for example: \
                 curl -i -H 'Content-Type: application/json' -d '{{\"a\": 1}}' {0}/data, \
                 then curl -i {0}/data/<its X-Cache-Key>",
                base_url.0
            )),
        )
    })?;
    let timed = lab.stored_data(&key, &validators.0);
    match timed.answer {
        Ok(ref hit) => Ok(CachedJson::stored(hit, &timed, started)),
        Err(reason) => Err(NoStoredAnswer::miss(
            &key,
            reason,
            timed.cache_elapsed,
            started,
            &base_url,
            lab.config().disk_ttl_secs,
        )),
    }
}

/// `GET /stats`: both tiers' counters, which change with every request, so
/// no browser or proxy may keep a copy to show later, and the name of the
/// instance they belong to (several may run on one machine).
#[get("/stats")]
fn stats(lab: &State<Lab>) -> NotStored<Json<Value>> {
    NotStored::new(Json(json!({
        "instance": lab.config().instance_name,
        "memory": lab.memory().stats(),
        "disk": lab.disk().stats(),
    })))
}

/// `GET /health`: answers as cheaply as the framework allows; the yardstick
/// for what a cache hit should cost. Not stored: a stored "ok" would say
/// the server is up when it is not.
#[get("/health")]
fn health() -> NotStored<&'static str> {
    NotStored::new("ok")
}

/// The validators a GET or HEAD carried (`If-None-Match`, every field line
/// of it, and `If-Modified-Since`), read as sent; nothing is parsed unless
/// there is a tag to hold them against.
pub struct Validators<'r>(pub Preconditions<'r>);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Validators<'r> {
    type Error = std::convert::Infallible;

    async fn from_request(request: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        let headers = request.headers();
        Outcome::Success(Validators(Preconditions::from_field_lines(
            headers.get("If-None-Match"),
            headers.get_one("If-Modified-Since"),
        )))
    }
}

/// `POST /clear-cache`: empties both tiers (the original tutorial's command,
/// made a POST).
///
/// `?tier=memory` (or `disk`) empties one tier only: in a shared room, the
/// clearing exercise must not wipe the disk entries other learners' steps
/// depend on.
///
/// The query is read whole, and anything but no query or one `tier` that
/// names a tier is refused: a misspelled or doubled parameter must not
/// fall back to emptying both tiers.
#[post("/clear-cache")]
async fn clear_all(
    _from: SameOriginChange,
    uri: &rocket::http::uri::Origin<'_>,
    lab: &State<Lab>,
    learner: Result<Learner, ApiError>,
) -> Result<NotStored<Json<Value>>, ApiError> {
    let learner = learner?;
    let learner = learner.0.as_ref();
    let tier = match uri.query().map(|query| query.as_str()) {
        None | Some("") => None,
        Some(query) => Some(query.strip_prefix("tier=").unwrap_or(query)),
    };
    match tier {
        None | Some("both") => {
            let cleared = lab.clear_all(learner, "POST /clear-cache").await;
            Ok(NotStored::new(Json(json!({
                "message": "Cache cleared",
                "memory_entries_removed": cleared.memory_entries_removed,
                "disk_entries_removed": cleared.disk_entries_removed,
            }))))
        }
        Some("memory") => {
            let removed = lab.clear_memory(learner, "POST /clear-cache?tier=memory");
            Ok(NotStored::new(Json(
                json!({ "message": "Memory cache cleared", "entries_removed": removed }),
            )))
        }
        Some("disk") => {
            let removed = lab.clear_disk(learner, "POST /clear-cache?tier=disk").await;
            Ok(NotStored::new(Json(
                json!({ "message": "Disk cache cleared", "entries_removed": removed }),
            )))
        }
        Some(other) => {
            let shown: String = other.chars().take(40).collect();
            Err(ApiError::new(
                Status::BadRequest,
                format!("{shown:?} names no tier: nothing was cleared"),
            )
            .accepting(
                "no query (both tiers), or exactly one of ?tier=memory, ?tier=disk, ?tier=both",
            ))
        }
    }
}

/// `GET /clear-cache` changes nothing: browsers, link previews and crawlers
/// fetch GET links on their own, so a GET that deleted data would empty the
/// cache whenever someone pasted the link into a chat.
/// Browsers asking for HTML are answered by a page instead (see `pages`).
#[get("/clear-cache", format = "json")]
fn clear_all_by_get(
    lab: &State<Lab>,
    learner: Result<Learner, ApiError>,
    base_url: BaseUrl,
) -> ApiError {
    let learner = match learner {
        Ok(learner) => learner,
        Err(refused) => return refused,
    };
    lab.clear_by_get_refused(learner.0.as_ref());
    ApiError::new(
        Status::MethodNotAllowed,
        "clearing changes the cache, so it is a POST: GET requests must be safe to repeat and prefetch",
    )
    .accepting(format!(
        "POST /clear-cache, which empties both tiers, or POST /clear-cache?tier=memory for the memory tier only (for example: curl -X POST '{}/clear-cache?tier=memory')",
        base_url.0
    ))
    .allowing("POST")
}

/// `DELETE /cache/memory`: empties the memory tier only.
#[delete("/cache/memory")]
fn clear_memory(
    _from: SameOriginChange,
    lab: &State<Lab>,
    learner: Result<Learner, ApiError>,
) -> Result<NotStored<Json<Value>>, ApiError> {
    let removed = lab.clear_memory(learner?.0.as_ref(), "DELETE /cache/memory");
    Ok(NotStored::new(Json(
        json!({ "message": "Memory cache cleared", "entries_removed": removed }),
    )))
}

/// `DELETE /cache/disk`: empties the disk tier only.
#[delete("/cache/disk")]
async fn clear_disk(
    _from: SameOriginChange,
    lab: &State<Lab>,
    learner: Result<Learner, ApiError>,
) -> Result<NotStored<Json<Value>>, ApiError> {
    let removed = lab
        .clear_disk(learner?.0.as_ref(), "DELETE /cache/disk")
        .await;
    Ok(NotStored::new(Json(
        json!({ "message": "Disk cache cleared", "entries_removed": removed }),
    )))
}

/// A request body that is valid JSON, in canonical form.
pub struct JsonBody {
    pub canonical: CanonicalJson,
    pub raw_fingerprint: u64,
    /// Reading the body off the connection, canonicalizing it and hashing
    /// the result into the key (`Server-Timing`'s `body`): for a large body,
    /// most of a hit's time.
    pub read_and_parsed: Duration,
}

#[rocket::async_trait]
impl<'r> FromData<'r> for JsonBody {
    type Error = ApiError;

    async fn from_data(request: &'r Request<'_>, data: Data<'r>) -> data::Outcome<'r, Self> {
        let refuse = |error: ApiError| data::Outcome::Error((error.status, error));

        let is_json = request.content_type().is_some_and(|content_type| {
            content_type.is_json()
                || (content_type.top() == "application"
                    && content_type.sub().as_str().ends_with("+json"))
        });
        if !is_json {
            return refuse(
                ApiError::new(
                    Status::UnsupportedMediaType,
                    "the body must be sent as JSON (Content-Type: application/json)",
                )
                .accepting("curl -H 'Content-Type: application/json' -d '{\"a\": 1}' .../data"),
            );
        }

        let reading_started = Instant::now();
        let limit = request.limits().get("json").unwrap_or(1.mebibytes());
        let declared_length = request
            .headers()
            .get_one("Content-Length")
            .and_then(|length| length.trim().parse::<u64>().ok());
        let too_large = || {
            ApiError::new(Status::PayloadTooLarge, "the request body is too large")
                .accepting(format!("a JSON body of at most {limit}"))
        };
        if declared_length.is_some_and(|length| length > limit.as_u64()) {
            return refuse(too_large());
        }
        let bytes = match data.open(limit).into_bytes().await {
            Ok(bytes) if bytes.is_complete() => bytes.into_inner(),
            Ok(_) => return refuse(too_large()),
            Err(error) => {
                return refuse(ApiError::new(
                    Status::BadRequest,
                    format!("the request body could not be read: {error}"),
                ))
            }
        };

        // A client that hangs up mid-body leaves a prefix that may still
        // parse as JSON: it is not what was sent, so it is not answered.
        if declared_length.is_some_and(|length| length != bytes.len() as u64) {
            return refuse(ApiError::new(
                Status::BadRequest,
                "the request body ended before the length its Content-Length header promised",
            ));
        }

        match CanonicalJson::parse(&bytes) {
            Ok(canonical) => data::Outcome::Success(JsonBody {
                canonical,
                raw_fingerprint: raw_fingerprint(&bytes),
                read_and_parsed: reading_started.elapsed(),
            }),
            Err(refused) => refuse(
                ApiError::new(Status::BadRequest, refused.to_string())
                    .accepting("any JSON value, for example {\"user\": 42}"),
            ),
        }
    }
}

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
    body: Arc<[u8]>,
    hit: bool,
    /// One line for people (`X-Cache-Detail`): why a miss was a miss.
    detail: Option<String>,
    server_timing: String,
    /// `Cache-Status` (RFC 9211): what each tier consulted did.
    cache_status: Cow<'static, str>,
    key: Option<String>,
    caching: Caching,
}

/// What other caches may do with an answer.
enum Caching {
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
    fn factorial(timed: &Timed<FactorialAnswer>, started: RequestStarted) -> Self {
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
            MemoryLookup::Computed(work) => Some(match work.reused_from {
                Some(k) => format!("computed {} on top of {k}!", steps(work.steps_computed)),
                None => format!("computed {} from 0! = 1", steps(work.steps_computed)),
            }),
            MemoryLookup::Joined(_) => Some(format!(
                "waited for another request that was computing {n}!"
            )),
        };
        let caching = Caching::Revalidated {
            etag: answer.step.etag_field().to_string(),
            not_modified: timed.not_modified,
        };
        let body = Arc::clone(answer.step.answer_json());
        let total = started.0.elapsed();
        push_timing_total(&mut timing, total);
        Self {
            total,
            body,
            hit: lookup.is_hit(),
            detail,
            server_timing: timing,
            cache_status: memory_cache_status(&lookup),
            key: None,
            caching,
        }
    }

    /// As [`CachedJson::factorial`]: the whole time is measured last.
    fn data(timed: &Timed<DiskAnswer>, read_and_parsed: Duration, started: RequestStarted) -> Self {
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
                    "{}; computed{}",
                    miss_reason_text(reason),
                    if stored {
                        " and stored"
                    } else {
                        ", but the disk refused to store it"
                    }
                )),
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
        if !answer.lookup.is_hit() {
            push_timing_entry(
                &mut timing,
                "wait",
                "simulated cost",
                Some(answer.simulated_delay),
            );
        }
        let key = answer.key.clone();
        let body = Arc::clone(&answer.body);
        let total = started.0.elapsed();
        push_timing_total(&mut timing, total);
        Self {
            total,
            body,
            hit: answer.lookup.is_hit(),
            detail,
            server_timing: timing,
            cache_status: disk_cache_status(&answer.lookup),
            key: Some(key),
            caching: Caching::Never,
        }
    }

    /// `GET /data/<key>`'s answer for a stored entry (a hit: a miss is
    /// [`NoStoredAnswer::miss`]). The whole time is measured last.
    fn stored<T>(hit: &DiskAnswer, timed: &Timed<T>, started: RequestStarted) -> Self {
        let mut timing = String::with_capacity(80);
        push_timing_entry(&mut timing, "cache", "disk hit", Some(timed.cache_elapsed));
        let caching = Caching::Revalidated {
            etag: hit.entity_tag().to_string(),
            not_modified: timed.not_modified,
        };
        let body = Arc::clone(&hit.body);
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
                .sized_body(body.len(), Cursor::new(body));
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
    fn not_a_key(error: ApiError) -> Self {
        Self {
            error,
            cache_headers: Vec::new(),
        }
    }

    fn miss(
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
const MEMORY_HIT_STATUS: &str = "cachelab-memory;hit";
const DISK_HIT_STATUS: &str = "cachelab-disk;hit";

/// The memory tier's `Cache-Status` member: a hit; a miss it computed and
/// stored; or a miss that waited for another request's computation
/// (`collapsed`, RFC 9211 §2.6).
fn memory_cache_status(lookup: &MemoryLookup) -> Cow<'static, str> {
    let forward = match lookup {
        MemoryLookup::Hit => return Cow::Borrowed(MEMORY_HIT_STATUS),
        MemoryLookup::Computed(_) => Forward::because(ForwardReason::Miss).stored(true),
        MemoryLookup::Joined(_) => Forward::because(ForwardReason::Miss).collapsed(true),
    };
    Cow::Owned(CacheStatusEntry::forwarded(CacheName::memory_tier(), forward).to_string())
}

/// The disk tier's `Cache-Status` member. An expired entry is `fwd=stale`
/// (the tier had a copy, too old to use); a damaged one is a miss with
/// `detail=integrity`; `stored` says whether the new answer was written.
fn disk_cache_status(lookup: &DiskLookup) -> Cow<'static, str> {
    let Some(reason) = lookup.miss_reason() else {
        return Cow::Borrowed(DISK_HIT_STATUS);
    };
    // A waiter's answer was stored by the request it waited for.
    Cow::Owned(disk_miss_status(reason, |forward| match *lookup {
        DiskLookup::Computed { stored, .. } => forward.stored(stored),
        _ => forward.collapsed(true),
    }))
}

/// The disk tier's member for a miss for `reason`, with what the request
/// then did added by `then`.
fn disk_miss_status(reason: MissReason, then: impl FnOnce(Forward) -> Forward) -> String {
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

fn memory_desc(lookup: &MemoryLookup) -> &'static str {
    match lookup {
        MemoryLookup::Hit => "memory hit",
        MemoryLookup::Computed(_) | MemoryLookup::Joined(_) => "memory miss",
    }
}

fn miss_reason_text(reason: MissReason) -> &'static str {
    match reason {
        MissReason::Absent => "not stored yet",
        MissReason::Expired => "stored but expired",
        MissReason::Unreadable => "stored but failed its integrity check",
    }
}

/// `1 step`, `5 steps`.
fn steps(count: u64) -> String {
    crate::view::count_of(
        usize::try_from(count).unwrap_or(usize::MAX),
        "step",
        "steps",
    )
}

/// Appends one `Server-Timing` metric (`name;desc="...";dur=1.234`).
fn push_timing_entry(timing: &mut String, name: &str, desc: &str, duration: Option<Duration>) {
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

fn push_timing_total(timing: &mut String, elapsed: Duration) {
    timing.push_str(", total;dur=");
    timing.push_str(Millis::new(elapsed).as_str());
}

/// A duration as milliseconds with three decimals (`1.234`), the unit of
/// `Server-Timing`: whole microseconds, rounded, formatted
/// with integer arithmetic so that timing a hit costs no float formatting.
struct Millis {
    text: [u8; 24],
    len: usize,
}

impl Millis {
    fn new(duration: Duration) -> Self {
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

    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.text[..self.len]).expect("digits and a point are ASCII")
    }
}

#[cfg(test)]
mod tests;
