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
use crate::lab::{Lab, SharedChange, Timed};
use crate::memory::{FactorialAnswer, MemoryLookup, StepHandle};
use crate::redis_tier::{SharedLookup, SharedOutcome};
use crate::web::errors::ApiError;
use crate::web::guards::Learner;
use crate::web::guards::SameOriginChange;
use crate::web::render::BaseUrl;
use crate::web::request_start::RequestStarted;
use crate::web::NotStored;

mod answer;
mod json_body;

use answer::*;
pub use json_body::JsonBody;

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
            clear_disk,
            clear_shared,
            forget_factorial
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
    let seen = timed.answer.seen();
    let response = CachedJson::factorial(timed, started);
    lab.note_factorial(learner.0.as_ref(), seen, response.total);
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
///
/// `redis` is the shared tier's state (`off`, `connecting`, `up`, `down`)
/// and counters, how many answers it holds (`null` when Redis cannot be
/// asked) and the invalidations that arrived from other instances;
/// `workshop_sharing` says whether the workshop's events reach the other
/// instances through Redis.
#[get("/stats")]
async fn stats(lab: &State<Lab>) -> NotStored<Json<Value>> {
    let shared = lab.shared();
    let redis = if shared.is_configured() {
        json!({
            "stats": shared.stats(),
            "entries": shared.entries().await,
            "arrivals": shared.arrivals(),
        })
    } else {
        json!({ "stats": shared.stats() })
    };
    NotStored::new(Json(json!({
        "instance": lab.config().instance_name,
        "memory": lab.memory().stats(),
        "disk": lab.disk().stats(),
        "redis": redis,
        "workshop_sharing": lab.workshop().sharing_status(),
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
                "redis": cleared.redis,
            }))))
        }
        Some("memory") => {
            let removed = lab
                .clear_memory(learner, "POST /clear-cache?tier=memory")
                .await;
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
///
/// With a shared tier, every other instance empties its memory too, when
/// the invalidation this publishes reaches it.
#[delete("/cache/memory")]
async fn clear_memory(
    _from: SameOriginChange,
    lab: &State<Lab>,
    learner: Result<Learner, ApiError>,
) -> Result<NotStored<Json<Value>>, ApiError> {
    let removed = lab
        .clear_memory(learner?.0.as_ref(), "DELETE /cache/memory")
        .await;
    Ok(NotStored::new(Json(
        json!({ "message": "Memory cache cleared", "entries_removed": removed }),
    )))
}

/// `DELETE /cache/redis`: empties the shared tier (this app's keys only).
/// Without one, or with Redis down, nothing changes and the answer says
/// so: a 404 when there is no shared tier, a 200 with `"redis":
/// "unavailable"` when Redis could not be asked (the request itself did
/// nothing wrong).
#[delete("/cache/redis")]
async fn clear_shared(
    _from: SameOriginChange,
    lab: &State<Lab>,
    learner: Result<Learner, ApiError>,
) -> Result<NotStored<Json<Value>>, ApiError> {
    learner?;
    match lab.clear_shared().await {
        SharedChange::Off => Err(no_shared_tier()),
        SharedChange::Done => Ok(NotStored::new(Json(json!({
            "message": "Shared tier cleared", "redis": SharedChange::Done
        })))),
        SharedChange::Unavailable => Ok(NotStored::new(Json(json!({
            "message": "Redis could not be reached: nothing was cleared there",
            "redis": SharedChange::Unavailable
        })))),
    }
}

/// `DELETE /factorial/<n>`: invalidates one key: n! leaves this instance's
/// memory and the shared tier, and every other instance's memory when the
/// invalidation reaches it. Everything else stays cached.
#[delete("/factorial/<n>")]
async fn forget_factorial(
    _from: SameOriginChange,
    n: &str,
    lab: &State<Lab>,
    learner: Result<Learner, ApiError>,
) -> Result<NotStored<Json<Value>>, ApiError> {
    learner?;
    let input = FactorialInput::parse(n, lab.config().max_factorial).map_err(|refused| {
        ApiError::new(Status::BadRequest, refused.message(n)).accepting(refused.accepted())
    })?;
    let forgotten = lab.forget_factorial(input.get()).await;
    let message = match (forgotten.memory, forgotten.redis) {
        (_, SharedChange::Done) => format!(
            "{}! was removed from the shared tier and this instance's memory; the other \
             instances drop it when the invalidation reaches them",
            forgotten.n
        ),
        (true, _) => format!("{}! was removed from this instance's memory", forgotten.n),
        (false, _) => format!(
            "{}! was not in this instance's memory: nothing to remove",
            forgotten.n
        ),
    };
    Ok(NotStored::new(Json(json!({
        "message": message,
        "n": forgotten.n,
        "memory_removed": forgotten.memory,
        "redis": forgotten.redis,
    }))))
}

fn no_shared_tier() -> ApiError {
    ApiError::new(
        Status::NotFound,
        "there is no shared tier: this instance runs without redis_url",
    )
    .accepting(
        "start Redis (scripts/redis.sh) and the app with \
         ROCKET_REDIS_URL=redis://127.0.0.1:6379/",
    )
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

#[cfg(test)]
mod tests;
