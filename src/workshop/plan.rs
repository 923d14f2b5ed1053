//! Each learner's own numbers and bodies for the exercises.
//!
//! In a shared room, one learner's request must not do another's step: if
//! two learners both computed 20!, whoever came second would see a hit
//! without ever seeing the miss. So every learner gets numbers and bodies of
//! their own, derived from their name, and the browser and curl ways through
//! one exercise use different ones, so that whichever is done second still
//! starts from a miss. The checks accept only requests for these inputs.

use super::LearnerName;

/// Whether a step is done on the app's pages or from a terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Path {
    Browser,
    Curl,
}

impl Path {
    pub const BOTH: [Path; 2] = [Path::Browser, Path::Curl];

    fn offset(self) -> u64 {
        match self {
            Path::Browser => 0,
            Path::Curl => 50,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Path::Browser => "browser",
            Path::Curl => "curl",
        }
    }
}

/// What the exercises need to know about the app's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanSettings {
    pub memory_capacity: usize,
    pub max_factorial: u64,
}

impl Default for PlanSettings {
    fn default() -> Self {
        Self {
            memory_capacity: 100,
            max_factorial: 10_000,
        }
    }
}

/// Numbers are spread over this many from the learner's base: ten
/// exercises, a hundred apart, so that one exercise's misses are not made
/// cheap by another's steps (a miss starts from the largest k! in memory).
const SPAN: u64 = 1_000;

/// One learner's inputs for every exercise.
#[derive(Debug, Clone)]
pub struct Plan {
    name: String,
    base: u64,
    memory_capacity: u64,
    /// Part of the names of the learner's HTTP lab resources: from the
    /// seed, so nobody can guess another learner's resource and load it
    /// into a shared cache first.
    resource_tag: u32,
}

impl Plan {
    /// `seed` comes from the room secret and the name (see
    /// [`super::RoomSecret::plan_seed`]): nobody can work out another
    /// learner's numbers from their name alone and ask for them first.
    pub fn for_learner(name: &LearnerName, seed: u64, settings: PlanSettings) -> Self {
        // Start at 100 so no learner's numbers are the small ones everyone
        // tries first; stay below max_factorial with the whole span.
        let room = settings.max_factorial.saturating_sub(SPAN + 100).max(1);
        Self {
            name: name.to_string(),
            base: 100 + seed % room,
            memory_capacity: settings.memory_capacity.max(1) as u64,
            resource_tag: (seed.rotate_left(29) ^ seed.wrapping_mul(0x9e37_79b9_7f4a_7c15)) as u32,
        }
    }

    pub fn memory_capacity(&self) -> u64 {
        self.memory_capacity
    }

    /// Asked for twice: a miss, then a hit.
    pub fn first_hit(&self, path: Path) -> u64 {
        self.base + path.offset()
    }

    /// `(k, n)`: k! first, then n! = k! × (k+1) × … × n, five more steps.
    pub fn memoized(&self, path: Path) -> (u64, u64) {
        let k = self.base + 100 + path.offset();
        (k, k + 5)
    }

    /// The top of the run the LRU exercise fills memory with (see
    /// [`LruSteps`]). Far enough above the earlier exercises' numbers that
    /// computing it stores a whole cache's worth of new steps.
    pub fn lru(&self, path: Path) -> LruSteps {
        let top = self.base
            + match path {
                Path::Browser => 300,
                Path::Curl => 500,
            };
        LruSteps {
            top,
            capacity: self.memory_capacity,
        }
    }

    /// A factorial to lose in the restart, and a body to keep through it.
    pub fn persistence(&self, path: Path) -> (u64, String) {
        (
            self.base + 600 + path.offset(),
            format!(
                r#"{{"persist": "{}", "via": "{}"}}"#,
                self.name,
                path.label()
            ),
        )
    }

    /// One value written two ways, then a changed value.
    pub fn canonical(&self, path: Path) -> [String; 3] {
        let (name, via) = (&self.name, path.label());
        [
            format!(r#"{{"city": "Oslo", "days": 3, "by": "{name}", "via": "{via}"}}"#),
            format!(r#"{{ "via": "{via}", "by": "{name}",  "days": 3.0,   "city": "Oslo" }}"#),
            format!(r#"{{"city": "Oslo", "days": 4, "by": "{name}", "via": "{via}"}}"#),
        ]
    }

    pub fn ttl(&self, path: Path) -> String {
        format!(r#"{{"fresh": "{}", "via": "{}"}}"#, self.name, path.label())
    }

    pub fn clearing(&self, path: Path) -> u64 {
        self.base + 700 + path.offset()
    }

    pub fn timings(&self, path: Path) -> u64 {
        self.base + 800 + path.offset()
    }

    pub fn stampede(&self, path: Path) -> u64 {
        self.base + 900 + path.offset()
    }

    /// The exercises with several instances are done from a terminal only,
    /// so each has one number (above the stampede's, which ends at +950).
    /// Asked of one instance, then of another: a miss on both.
    pub fn per_process(&self) -> u64 {
        self.base + 960
    }

    /// Computed on one instance and stored in Redis, then a Redis hit on another.
    pub fn shared_hit(&self) -> u64 {
        self.base + 970
    }

    /// Kept by one instance while another one's memory is cleared.
    pub fn clear_reaches(&self) -> u64 {
        self.base + 980
    }

    /// Asked for while Redis is down, and again once it is back.
    pub fn outage(&self) -> u64 {
        self.base + 990
    }

    /// The HTTP lab resource (see `crate::http_lab`) for one of the HTTP
    /// exercises. One per exercise, the same for both ways: a browser and
    /// curl keep separate copies anyway, and each check looks only at its
    /// own resource's requests.
    pub fn resource(&self, lesson: HttpLesson) -> String {
        format!("{}-{:08x}", lesson.prefix(), self.resource_tag)
    }

    pub fn integrity(&self, path: Path) -> String {
        format!(r#"{{"check": "{}", "via": "{}"}}"#, self.name, path.label())
    }
}

/// The HTTP exercises, each with a resource of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpLesson {
    BrowserCache,
    Revalidation,
    NoStoreVersusNoCache,
    SharedCache,
}

impl HttpLesson {
    fn prefix(self) -> &'static str {
        match self {
            Self::BrowserCache => "fresh",
            Self::Revalidation => "ask",
            Self::NoStoreVersusNoCache => "store",
            Self::SharedCache => "shared",
        }
    }
}

/// The LRU exercise's numbers. After `top` is computed from far below, the
/// cache holds `oldest()..=top`, `oldest()` least recently used. Asking for
/// `oldest()` moves it to the front; computing `newcomer()` then evicts
/// `victim()`, the least recently used, where first-in-first-out would have
/// evicted `oldest()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LruSteps {
    pub top: u64,
    pub capacity: u64,
}

impl LruSteps {
    pub fn oldest(&self) -> u64 {
        self.top + 1 - self.capacity.min(self.top)
    }

    pub fn newcomer(&self) -> u64 {
        self.top + 1
    }

    pub fn victim(&self) -> u64 {
        self.oldest() + 1
    }
}

/// The cache key of a body the plan gives (bodies are valid JSON by
/// construction).
pub fn key_of(body: &str) -> String {
    crate::canonical::CanonicalJson::parse(body.as_bytes())
        .map(|canonical| canonical.key().to_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(name: &str) -> Plan {
        let name = LearnerName::parse(name).expect("valid");
        // Any seed: the layout holds for all of them.
        let seed = name.as_str().bytes().fold(7u64, |seed, byte| {
            seed.wrapping_mul(1_099_511_628_211) ^ u64::from(byte)
        });
        Plan::for_learner(&name, seed, PlanSettings::default())
    }

    #[test]
    fn every_number_is_distinct_and_within_the_limit() {
        for name in ["ada", "grace", "x", "curious-otter-1234"] {
            let plan = plan(name);
            let mut numbers = Vec::new();
            for path in Path::BOTH {
                let (k, n) = plan.memoized(path);
                let lru = plan.lru(path);
                numbers.extend([
                    plan.first_hit(path),
                    k,
                    n,
                    lru.oldest(),
                    lru.victim(),
                    lru.top,
                    lru.newcomer(),
                    plan.persistence(path).0,
                    plan.clearing(path),
                    plan.timings(path),
                    plan.stampede(path),
                ]);
            }
            numbers.extend([
                plan.per_process(),
                plan.shared_hit(),
                plan.clear_reaches(),
                plan.outage(),
            ]);
            assert!(numbers.iter().all(|n| *n <= 10_000), "{numbers:?}");
            let count = numbers.len();
            numbers.sort_unstable();
            numbers.dedup();
            assert_eq!(numbers.len(), count, "{name}: {numbers:?}");
        }
    }

    #[test]
    fn the_two_spellings_share_a_key_and_the_change_does_not() {
        let [first, respelled, changed] = plan("ada").canonical(Path::Browser);
        assert_eq!(key_of(&first), key_of(&respelled));
        assert_ne!(key_of(&first), key_of(&changed));
        assert_ne!(
            key_of(&first),
            key_of(&plan("ada").canonical(Path::Curl)[0])
        );
    }
}
