//! The HTTP-cache lab: small resources whose caching policy the learner
//! picks per request (see [`Policy`]), and a count of every request that
//! reached the app for each of them, so that a page can compare "I loaded it
//! five times" with "one request arrived".
//!
//! A resource's body is small and stays the same until the learner changes
//! it, so its strong `ETag` stays the same and a revalidation can be
//! answered 304. Nothing here knows about Rocket: the web layer reads the
//! request into an [`Arrival`] and writes the [`Served`] answer's headers.

mod policy;

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Mutex, MutexGuard};

use cached::stores::LruCache;
use cached::{Cached, CachedPeek};
use serde::Serialize;

use crate::clock::Clock;
use crate::http_cache::{answers_not_modified, EntityTag};
use crate::view::clock_utc;

pub use policy::{
    CacheControl, Directive, Policy, PolicyError, VaryOn, KNOWN_DIRECTIVES, KNOWN_PARAMETERS,
    MAX_DIRECTIVE_SECS, MAX_SLOW_MS, MAX_VARIED_VALUE_BYTES,
};

/// How many resources the lab remembers. Each learner's page makes up a
/// name, and anyone can make up more, so the least recently used ones are
/// forgotten past this (their counts start again from zero if used again).
pub const MAX_RESOURCES: usize = 1_000;

/// How many of a resource's latest requests are listed one by one; older
/// ones are still counted.
pub const RECENT_REQUESTS_PER_RESOURCE: usize = 20;

/// The longest resource name.
pub const MAX_NAME_CHARS: usize = 40;

/// A resource's name: 1 to 40 of `a-z`, `0-9` and `-`, so it is the same in
/// a path, a log line and a cache key, with nothing to escape.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ResourceName(String);

impl ResourceName {
    pub fn parse(written: &str) -> Result<Self, InvalidResourceName> {
        let allowed = |byte: u8| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-';
        if (1..=MAX_NAME_CHARS).contains(&written.len()) && written.bytes().all(allowed) {
            Ok(Self(written.to_owned()))
        } else {
            Err(InvalidResourceName)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A name nobody else is likely to use (`lab-` and 12 random hex
    /// digits), so that each page view loads a resource of its own and no
    /// learner sees a copy another one's loads left in a shared cache.
    pub fn fresh() -> Self {
        let mut bytes = [0_u8; 6];
        if getrandom::fill(&mut bytes).is_err() {
            // Without the system's generator, the time still differs
            // between page views, which is all a lab name needs.
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |since| since.as_nanos());
            bytes.copy_from_slice(&nanos.to_le_bytes()[..6]);
        }
        let hex: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
        Self(format!("lab-{hex}"))
    }
}

impl fmt::Display for ResourceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A name with characters outside `a-z0-9-`, or of the wrong length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidResourceName;

impl InvalidResourceName {
    /// What a name may be, for a refusal.
    pub fn accepted() -> String {
        format!("1 to {MAX_NAME_CHARS} of the characters a-z, 0-9 and -, as in my-resource-1")
    }
}

impl fmt::Display for InvalidResourceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("that is not a resource name this lab uses")
    }
}

impl std::error::Error for InvalidResourceName {}

/// The two methods a resource answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ReadMethod {
    #[serde(rename = "GET")]
    Get,
    #[serde(rename = "HEAD")]
    Head,
}

/// What the app needs to know about one request for a resource.
#[derive(Debug, Clone)]
pub struct Arrival<'a> {
    pub method: ReadMethod,
    /// Every `If-None-Match` field line joined with `", "`, if any was sent.
    pub if_none_match: Option<String>,
    pub if_modified_since: Option<&'a str>,
    /// `X-Forwarded-For` or `Via` was present: a proxy passed it on.
    pub through_proxy: bool,
    /// The workshop learner who sent it, if they said.
    pub learner: Option<String>,
    /// The value of the header the policy varies on (`None`: not sent).
    pub varied_value: Option<&'a str>,
    /// Unix milliseconds when it reached the app.
    pub at_ms: u64,
}

/// Full answer or 304.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Full,
    NotModified,
}

impl Outcome {
    pub fn status_code(self) -> u16 {
        match self {
            Self::Full => 200,
            Self::NotModified => 304,
        }
    }
}

/// The answer to one request, for the web layer to send.
#[derive(Debug, Clone)]
pub struct Served {
    pub outcome: Outcome,
    /// The representation (sent with a full answer only).
    pub body: String,
    /// The body's strong tag, if the policy sends one.
    pub etag: Option<EntityTag>,
    /// This was the kth request for the name to reach the app.
    pub served_by_app: u64,
}

/// A new version made by a change.
#[derive(Debug, Clone, Serialize)]
pub struct Changed {
    pub name: String,
    pub version: u64,
    pub made_at: String,
}

/// One request as the app saw it, for the recent list.
#[derive(Debug, Clone, Serialize)]
pub struct RecordedRequest {
    /// Which request for this name it was (`X-Served-By-App`).
    pub number: u64,
    pub at: String,
    pub at_ms: u64,
    pub method: ReadMethod,
    pub status: u16,
    /// It carried `If-None-Match`.
    pub conditional: bool,
    pub through_proxy: bool,
    pub learner: Option<String>,
    /// The version it was answered with.
    pub version: u64,
}

/// What reached the app for one name (`GET .../requests`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct RequestLog {
    pub requests: u64,
    pub full: u64,
    pub not_modified: u64,
    /// Of all requests, those that came through a proxy (`X-Forwarded-For`
    /// or `Via`), to set beside what the proxy itself received.
    pub through_proxy: u64,
    /// The current version (0: never asked for, or forgotten).
    pub version: u64,
    /// The latest requests, oldest first.
    pub recent: Vec<RecordedRequest>,
}

struct Resource {
    version: u64,
    made_at_ms: u64,
    log: RequestLog,
    recent: VecDeque<RecordedRequest>,
}

impl Resource {
    fn new(made_at_ms: u64) -> Self {
        Self {
            version: 1,
            made_at_ms,
            log: RequestLog::default(),
            recent: VecDeque::with_capacity(RECENT_REQUESTS_PER_RESOURCE),
        }
    }

    /// The representation for a request whose varied-on header said
    /// `varied_value`. Only what the learner chose goes into it, never the
    /// request count, so the same version has the same bytes and the same
    /// `ETag` on every request.
    fn body(
        &self,
        name: &ResourceName,
        vary: Option<VaryOn>,
        varied_value: Option<&str>,
    ) -> String {
        #[derive(Serialize)]
        struct VariedOn<'a> {
            header: &'static str,
            /// `null`: the request did not send it.
            value: Option<&'a str>,
        }
        #[derive(Serialize)]
        struct Body<'a> {
            name: &'a str,
            version: u64,
            made_at: String,
            made_at_ms: u64,
            #[serde(skip_serializing_if = "Option::is_none")]
            varied_on: Option<VariedOn<'a>>,
        }
        let body = Body {
            name: name.as_str(),
            version: self.version,
            made_at: clock_utc(self.made_at_ms),
            made_at_ms: self.made_at_ms,
            varied_on: vary.map(|vary| VariedOn {
                header: vary.header_name(),
                value: varied_value,
            }),
        };
        serde_json::to_string(&body).expect("a resource body always serializes")
    }
}

/// Every lab resource, most recently used first, at most [`MAX_RESOURCES`].
pub struct HttpLab {
    resources: Mutex<LruCache<ResourceName, Resource>>,
    clock: Clock,
}

impl HttpLab {
    pub fn new(clock: Clock) -> Self {
        Self::with_capacity(clock, MAX_RESOURCES)
    }

    /// A lab that remembers at most `max_resources` names.
    pub fn with_capacity(clock: Clock, max_resources: usize) -> Self {
        Self {
            resources: Mutex::new(LruCache::new(max_resources.max(1))),
            clock,
        }
    }

    pub fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }

    fn lock(&self) -> MutexGuard<'_, LruCache<ResourceName, Resource>> {
        // A panic while holding the lock leaves counts at worst one request
        // behind, which is no reason to stop answering.
        self.resources
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Answers one request under `policy`, and counts it: 304 when the
    /// policy sends an `ETag` and `If-None-Match` matches it (RFC 9110
    /// §13.1.2), else the full body.
    pub fn serve(&self, name: &ResourceName, policy: &Policy, arrival: Arrival<'_>) -> Served {
        let mut resources = self.lock();
        let now_ms = self.clock.now_ms();
        let resource = resources.cache_get_or_set_with_mut(name.clone(), || Resource::new(now_ms));
        let body = resource.body(name, policy.vary, arrival.varied_value);
        let etag = policy.etag.then(|| EntityTag::of_bytes(body.as_bytes()));
        let not_modified = etag.as_ref().is_some_and(|etag| {
            answers_not_modified(
                arrival.if_none_match.as_deref(),
                arrival.if_modified_since,
                etag,
            )
        });
        let outcome = if not_modified {
            Outcome::NotModified
        } else {
            Outcome::Full
        };
        let log = &mut resource.log;
        log.requests += 1;
        match outcome {
            Outcome::Full => log.full += 1,
            Outcome::NotModified => log.not_modified += 1,
        }
        log.through_proxy += u64::from(arrival.through_proxy);
        let number = log.requests;
        if resource.recent.len() == RECENT_REQUESTS_PER_RESOURCE {
            resource.recent.pop_front();
        }
        resource.recent.push_back(RecordedRequest {
            number,
            at: clock_utc(arrival.at_ms),
            at_ms: arrival.at_ms,
            method: arrival.method,
            status: outcome.status_code(),
            conditional: arrival.if_none_match.is_some(),
            through_proxy: arrival.through_proxy,
            learner: arrival.learner,
            version: resource.version,
        });
        Served {
            outcome,
            body,
            etag,
            served_by_app: number,
        }
    }

    /// Makes a new version of `name` (a new body, so a new `ETag`).
    pub fn change(&self, name: &ResourceName) -> Changed {
        let mut resources = self.lock();
        let now_ms = self.clock.now_ms();
        let resource = resources.cache_get_or_set_with_mut(name.clone(), || Resource::new(now_ms));
        resource.version += 1;
        // Two changes within one millisecond still differ by their version.
        resource.made_at_ms = now_ms;
        Changed {
            name: name.to_string(),
            version: resource.version,
            made_at: clock_utc(now_ms),
        }
    }

    /// What reached the app for `name`. Reading does not make a name
    /// remembered, nor count as using it.
    pub fn requests(&self, name: &ResourceName) -> RequestLog {
        let resources = self.lock();
        match resources.cache_peek(name) {
            Some(resource) => RequestLog {
                version: resource.version,
                recent: resource.recent.iter().cloned().collect(),
                ..resource.log.clone()
            },
            None => RequestLog::default(),
        }
    }

    /// How many names are remembered now.
    pub fn resource_count(&self) -> usize {
        self.lock().cache_size()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(text: &str) -> ResourceName {
        ResourceName::parse(text).expect("a valid name")
    }

    fn arrival(if_none_match: Option<&str>) -> Arrival<'static> {
        Arrival {
            method: ReadMethod::Get,
            if_none_match: if_none_match.map(str::to_owned),
            if_modified_since: None,
            through_proxy: false,
            learner: None,
            varied_value: None,
            at_ms: 0,
        }
    }

    #[test]
    fn fresh_names_are_valid_and_differ() {
        let (first, second) = (ResourceName::fresh(), ResourceName::fresh());
        assert_eq!(ResourceName::parse(first.as_str()), Ok(first.clone()));
        assert_ne!(first, second);
    }

    #[test]
    fn names_are_short_lowercase_words() {
        for good in ["a", "r-1", "0123456789-abcdefghijklmnopqrstuvwxyz-ab"] {
            assert!(ResourceName::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "A",
            "a_b",
            "a b",
            "a/b",
            "é",
            "0123456789-abcdefghijklmnopqrstuvwxyz-abc",
        ] {
            assert_eq!(ResourceName::parse(bad), Err(InvalidResourceName), "{bad}");
        }
    }

    #[test]
    fn the_body_is_stable_until_changed_and_a_match_earns_304() {
        let lab = HttpLab::new(Clock::system());
        let policy = Policy::default();
        let first = lab.serve(&name("r"), &policy, arrival(None));
        assert_eq!(first.outcome, Outcome::Full);
        let etag = first.etag.clone().expect("an ETag by default");

        let again = lab.serve(&name("r"), &policy, arrival(Some(&etag.to_string())));
        assert_eq!(again.outcome, Outcome::NotModified);
        assert_eq!(again.body, first.body);
        assert_eq!(again.served_by_app, 2);

        lab.change(&name("r"));
        let changed = lab.serve(&name("r"), &policy, arrival(Some(&etag.to_string())));
        assert_eq!(changed.outcome, Outcome::Full);
        assert_ne!(changed.etag, Some(etag));

        let log = lab.requests(&name("r"));
        assert_eq!((log.requests, log.full, log.not_modified), (3, 2, 1));
        assert_eq!(log.version, 2);
        let statuses: Vec<u16> = log.recent.iter().map(|request| request.status).collect();
        assert_eq!(statuses, [200, 304, 200]);
        assert!(!log.recent[0].conditional && log.recent[1].conditional);
    }

    #[test]
    fn without_an_etag_nothing_is_not_modified() {
        let lab = HttpLab::new(Clock::system());
        let policy = Policy {
            etag: false,
            ..Policy::default()
        };
        let served = lab.serve(&name("r"), &policy, arrival(Some("*")));
        assert_eq!(served.outcome, Outcome::Full);
        assert!(served.etag.is_none());
    }

    #[test]
    fn each_variant_has_its_own_body_and_tag() {
        let lab = HttpLab::new(Clock::system());
        let policy = Policy {
            vary: Some(VaryOn::AcceptLanguage),
            ..Policy::default()
        };
        let french = lab.serve(
            &name("r"),
            &policy,
            Arrival {
                varied_value: Some("fr"),
                ..arrival(None)
            },
        );
        let unsent = lab.serve(&name("r"), &policy, arrival(None));
        assert!(french.body.contains(r#""value":"fr""#), "{}", french.body);
        assert!(unsent.body.contains(r#""value":null"#), "{}", unsent.body);
        assert_ne!(french.etag, unsent.etag);
    }

    #[test]
    fn memory_stays_bounded() {
        let lab = HttpLab::with_capacity(Clock::system(), 3);
        for index in 0..10 {
            lab.serve(
                &name(&format!("r{index}")),
                &Policy::default(),
                arrival(None),
            );
        }
        assert_eq!(lab.resource_count(), 3);
        assert_eq!(lab.requests(&name("r0")).requests, 0, "forgotten");
        assert_eq!(lab.requests(&name("r9")).requests, 1);

        for _ in 0..(RECENT_REQUESTS_PER_RESOURCE + 5) {
            lab.serve(&name("r9"), &Policy::default(), arrival(None));
        }
        let log = lab.requests(&name("r9"));
        assert_eq!(log.recent.len(), RECENT_REQUESTS_PER_RESOURCE);
        assert_eq!(log.requests, RECENT_REQUESTS_PER_RESOURCE as u64 + 6);
        assert_eq!(log.recent.last().map(|r| r.number), Some(log.requests));
    }
}
