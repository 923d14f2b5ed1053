//! What a shared cache in front of the app received, told to the app by the
//! cache itself.
//!
//! A request the proxy answers from its stored copy never reaches the app,
//! so the app alone cannot tell "nobody asked" from "the proxy answered".
//! The proxy (`proxy/room.conf`) therefore mirrors each request it receives
//! for the lab's resource to a witness route, with a key that only it and
//! the app know ([`WitnessKey`]). [`ProxyWitness`] counts those reports per
//! resource name and per learner; set beside what reached the app, the
//! difference is what the proxy answered by itself.
//!
//! Memory stays bounded whatever clients send: at most
//! [`ProxyWitness::MAX_RESOURCES`] names, each with at most
//! [`ProxyWitness::MAX_LEARNERS_PER_RESOURCE`] learners, the least recently
//! reported forgotten first.

use std::num::NonZeroUsize;
use std::sync::Mutex;

use lru::LruCache;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The secret the proxy sends with each report, so that no client can
/// report requests the proxy never received: 16 to 128 letters, digits,
/// `-` or `_` (a header value as it is). The start scripts draw a new one
/// each time and give it to both.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct WitnessKey(String);

impl WitnessKey {
    /// Shorter keys could be guessed.
    pub const LENGTHS: std::ops::RangeInclusive<usize> = 16..=128;

    pub fn parse(raw: &str) -> Result<Self, String> {
        let usable = Self::LENGTHS.contains(&raw.len())
            && raw
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_');
        if usable {
            Ok(Self(raw.to_owned()))
        } else {
            Err(format!(
                "proxy_witness_key must be {} to {} letters, digits, '-' or '_' (it was {} \
                 characters)",
                Self::LENGTHS.start(),
                Self::LENGTHS.end(),
                raw.chars().count()
            ))
        }
    }

    /// Whether `offered` is this key. Compares digests of both, so the time
    /// taken says nothing about how much of a guess was right.
    pub fn matches(&self, offered: &str) -> bool {
        Sha256::digest(offered.as_bytes()) == Sha256::digest(self.0.as_bytes())
    }
}

impl TryFrom<String> for WitnessKey {
    type Error = String;

    fn try_from(raw: String) -> Result<Self, String> {
        Self::parse(&raw)
    }
}

impl From<WitnessKey> for String {
    fn from(key: WitnessKey) -> String {
        key.0
    }
}

/// Never prints the key itself: settings are debug-printed in places where
/// a key would not belong.
impl std::fmt::Debug for WitnessKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WitnessKey(…)")
    }
}

/// What the proxy reported for one resource name.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Received {
    /// Requests the proxy received for it, whoever sent them.
    pub requests: u64,
    /// Of those, how many asked "still this one?" (`If-None-Match`).
    pub conditional: u64,
    /// Requests the proxy received for it from the learner asked about.
    pub from_learner: Option<u64>,
}

struct ResourceRecord {
    requests: u64,
    conditional: u64,
    by_learner: LruCache<String, u64>,
}

/// Counts of what the proxy received, per resource name and learner.
pub struct ProxyWitness {
    resources: Mutex<LruCache<String, ResourceRecord>>,
}

impl Default for ProxyWitness {
    fn default() -> Self {
        Self::new()
    }
}

impl ProxyWitness {
    /// Resource names remembered; a room uses a few per learner.
    pub const MAX_RESOURCES: usize = 1_000;
    /// Learners remembered per name; the app remembers 2,000 in all, but
    /// one name is rarely shared by more than a room.
    pub const MAX_LEARNERS_PER_RESOURCE: usize = 200;

    pub fn new() -> Self {
        Self {
            resources: Mutex::new(LruCache::new(
                NonZeroUsize::new(Self::MAX_RESOURCES).expect("MAX_RESOURCES is not zero"),
            )),
        }
    }

    /// The proxy received a request for `resource`, from `learner` if the
    /// request said who, asking with `If-None-Match` if `conditional`.
    pub fn record(&self, resource: &str, learner: Option<&str>, conditional: bool) {
        let mut resources = self.lock();
        let record = resources.get_or_insert_mut(resource.to_owned(), || ResourceRecord {
            requests: 0,
            conditional: 0,
            by_learner: LruCache::new(
                NonZeroUsize::new(Self::MAX_LEARNERS_PER_RESOURCE)
                    .expect("MAX_LEARNERS_PER_RESOURCE is not zero"),
            ),
        });
        record.requests += 1;
        record.conditional += u64::from(conditional);
        if let Some(learner) = learner {
            *record
                .by_learner
                .get_or_insert_mut(learner.to_owned(), || 0) += 1;
        }
    }

    /// What the proxy reported for `resource`, with `learner`'s own count
    /// when one is named (zero if they sent none).
    pub fn received(&self, resource: &str, learner: Option<&str>) -> Received {
        let resources = self.lock();
        let Some(record) = resources.peek(resource) else {
            return Received {
                from_learner: learner.map(|_| 0),
                ..Received::default()
            };
        };
        Received {
            requests: record.requests,
            conditional: record.conditional,
            from_learner: learner
                .map(|learner| record.by_learner.peek(learner).copied().unwrap_or(0)),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LruCache<String, ResourceRecord>> {
        // Counting cannot leave the map half-changed, so a panic elsewhere
        // while it was held leaves counts that are still true.
        self.resources
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_each_name_and_learner_apart() {
        let witness = ProxyWitness::new();
        witness.record("logo", Some("ada"), false);
        witness.record("logo", Some("ada"), true);
        witness.record("logo", None, false);
        witness.record("other", Some("bob"), false);
        assert_eq!(
            witness.received("logo", Some("ada")),
            Received {
                requests: 3,
                conditional: 1,
                from_learner: Some(2)
            }
        );
        assert_eq!(witness.received("logo", Some("bob")).from_learner, Some(0));
        assert_eq!(witness.received("logo", None).from_learner, None);
        assert_eq!(witness.received("never", Some("ada")).requests, 0);
    }

    #[test]
    fn forgets_the_least_recently_reported_name_past_its_bound() {
        let witness = ProxyWitness::new();
        for index in 0..=ProxyWitness::MAX_RESOURCES {
            witness.record(&format!("name-{index}"), None, false);
        }
        assert_eq!(witness.received("name-0", None).requests, 0);
        let last = format!("name-{}", ProxyWitness::MAX_RESOURCES);
        assert_eq!(witness.received(&last, None).requests, 1);
    }

    #[test]
    fn a_key_is_long_enough_to_resist_guessing_and_safe_in_a_header() {
        assert!(WitnessKey::parse("short").is_err());
        assert!(WitnessKey::parse("sixteen-chars-ok").is_ok());
        assert!(WitnessKey::parse("sixteen chars no").is_err());
        let key = WitnessKey::parse("0123456789abcdef0123").expect("a usable key");
        assert!(key.matches("0123456789abcdef0123"));
        assert!(!key.matches("0123456789abcdef0124"));
        assert_eq!(format!("{key:?}"), "WitnessKey(…)");
    }
}
