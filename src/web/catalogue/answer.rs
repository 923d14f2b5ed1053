//! An item's answer: the price the cache gave, the headers that say how
//! (`X-Cache`, `Cache-Status`, `Server-Timing`), and `Cache-Control:
//! max-age` for the browsers and proxies after it.

use std::io::Cursor;
use std::time::Duration;

use rocket::http::{ContentType, Header};
use rocket::request::Request;
use rocket::response::{self, Responder, Response};
use serde_json::json;

use crate::catalogue::{CatalogueRead, Freshness, ReadOutcome};
use crate::http_cache::{CacheName, CacheStatusEntry, Detail, Forward, ForwardReason};
use crate::web::request_start::RequestStarted;

/// The catalogue cache's name in `Cache-Status`.
const CACHE_NAME: &str = "cachelab-catalogue";

/// The request headers that choose whose catalogue answers (the
/// `?learner=` parameter is part of the address, which caches key on
/// anyway).
const VARY: &str = "Cookie, X-Learner";

pub struct ItemAnswer {
    body: String,
    x_cache: &'static str,
    cache_status: String,
    server_timing: String,
    cache_control: String,
    /// The request's whole time, as `Server-Timing` says it.
    pub total: Duration,
}

impl ItemAnswer {
    /// `for_a_learner`: the answer came from a learner's own catalogue,
    /// not the open one.
    pub fn new(
        read: &CatalogueRead,
        freshness: Freshness,
        for_a_learner: bool,
        started: RequestStarted,
    ) -> Self {
        let record = read.record;
        let body = json!({
            "item": record.item,
            "name": record.item.name(),
            "price_cents": record.price_cents,
            "version": record.version,
            "updated_at_ms": record.updated_at_ms,
            "cache": {
                "outcome": read.outcome,
                "age_ms": read.age_ms,
                "ttl_left_ms": read.ttl_left_ms,
                "strategy": read.strategy,
            },
            "answered_at_ms": read.answered_at_ms,
            "truth": format!("/catalogue/{}/truth", record.item.slug()),
        })
        .to_string();
        let x_cache = match read.outcome {
            ReadOutcome::Hit => "HIT",
            ReadOutcome::Miss | ReadOutcome::Expired => "MISS",
            ReadOutcome::Stale => "STALE",
        };
        let mut server_timing = format!("cache;desc=\"catalogue {}\"", describe(read.outcome));
        if let Some(elapsed) = read.source_elapsed {
            server_timing.push_str(&format!(
                ", source;desc=\"slow read\";dur={}",
                millis(elapsed)
            ));
        }
        let total = started.0.elapsed();
        server_timing.push_str(&format!(", total;dur={}", millis(total)));
        Self {
            body,
            x_cache,
            cache_status: cache_status(read),
            server_timing,
            // The browser's (and the proxy's) own freshness lifetime for
            // this answer (RFC 9111 §4.2.1): the learner sets it apart from
            // the server's TTL, to see each cache's staleness alone.
            cache_control: format!(
                "{}max-age={}",
                if for_a_learner { "private, " } else { "" },
                freshness.browser_max_age_secs
            ),
            total,
        }
    }
}

fn describe(outcome: ReadOutcome) -> &'static str {
    match outcome {
        ReadOutcome::Hit => "hit",
        ReadOutcome::Miss => "miss",
        ReadOutcome::Expired => "expired",
        ReadOutcome::Stale => "stale, refreshing in the background",
    }
}

/// The catalogue's `Cache-Status` member (RFC 9211): `hit` with the TTL
/// left; `fwd=miss` or `fwd=stale` and `stored` when the source was read;
/// for stale-while-revalidate, `fwd=stale` with a negative `ttl` (§2.4:
/// how long ago it went stale) and the detail that it was answered while a
/// background request went forward.
fn cache_status(read: &CatalogueRead) -> String {
    let name = CacheName::token(CACHE_NAME).expect("the catalogue's cache name is a token");
    // Whole seconds, cut toward zero as `Age` is (RFC 9111 §5.1): a copy
    // 1.2 s past its TTL went stale 1 second ago, `ttl=-1`.
    let ttl_secs = read.ttl_left_ms / 1000;
    let entry = match read.outcome {
        ReadOutcome::Hit => CacheStatusEntry::hit(name),
        ReadOutcome::Miss => {
            CacheStatusEntry::forwarded(name, Forward::because(ForwardReason::Miss).stored(true))
        }
        ReadOutcome::Expired => {
            CacheStatusEntry::forwarded(name, Forward::because(ForwardReason::Stale).stored(true))
        }
        ReadOutcome::Stale => {
            CacheStatusEntry::forwarded(name, Forward::because(ForwardReason::Stale)).detail(
                Detail::token("stale-while-revalidate")
                    .expect("\"stale-while-revalidate\" is a token"),
            )
        }
    };
    entry
        .ttl_secs(ttl_secs)
        .expect("a TTL of at most an hour, in seconds, is a valid ttl")
        .to_string()
}

/// Milliseconds with three decimals, the unit of `Server-Timing`.
fn millis(elapsed: Duration) -> String {
    format!("{:.3}", elapsed.as_secs_f64() * 1000.0)
}

impl<'r> Responder<'r, 'static> for ItemAnswer {
    fn respond_to(self, _: &'r Request<'_>) -> response::Result<'static> {
        Response::build()
            .header(ContentType::JSON)
            .header(Header::new("X-Cache", self.x_cache))
            .header(Header::new("Cache-Status", self.cache_status))
            .header(Header::new("Server-Timing", self.server_timing))
            .header(Header::new("Cache-Control", self.cache_control))
            .header(Header::new("Vary", VARY))
            .sized_body(self.body.len(), Cursor::new(self.body))
            .ok()
    }
}
