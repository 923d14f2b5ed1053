//! The freshness strategies: how reads and writes use the cache, and the
//! rules that decide, for a cached copy of a given age, what a read does.

use serde::{Deserialize, Serialize};

/// How the catalogue keeps its cached copies close to the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// A copy is used until its TTL runs out, whatever happens at the source.
    #[default]
    TtlOnly,
    /// A write deletes that item's copy; the next read fetches the new price.
    InvalidateOnWrite,
    /// A write replaces that item's copy with the new value.
    WriteThrough,
    /// Past its TTL a copy is still answered at once while a background
    /// read refreshes it (RFC 5861 §3), for up to the stale window.
    StaleWhileRevalidate,
}

/// What a write does to the written item's cached copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteRule {
    KeepCopy,
    DeleteCopy,
    ReplaceCopy,
}

/// A strategy name that is not one of [`Strategy::ALL`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownStrategy;

impl std::fmt::Display for UnknownStrategy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = Strategy::ALL
            .iter()
            .map(|strategy| strategy.slug())
            .collect();
        write!(
            f,
            "no strategy has this name; the strategies are {}",
            names.join(", ")
        )
    }
}

impl Strategy {
    pub const ALL: [Strategy; 4] = [
        Self::TtlOnly,
        Self::InvalidateOnWrite,
        Self::WriteThrough,
        Self::StaleWhileRevalidate,
    ];

    pub fn slug(self) -> &'static str {
        match self {
            Self::TtlOnly => "ttl-only",
            Self::InvalidateOnWrite => "invalidate-on-write",
            Self::WriteThrough => "write-through",
            Self::StaleWhileRevalidate => "stale-while-revalidate",
        }
    }

    pub fn parse(slug: &str) -> Result<Self, UnknownStrategy> {
        Self::ALL
            .into_iter()
            .find(|strategy| strategy.slug() == slug)
            .ok_or(UnknownStrategy)
    }

    pub fn on_write(self) -> WriteRule {
        match self {
            Self::TtlOnly | Self::StaleWhileRevalidate => WriteRule::KeepCopy,
            Self::InvalidateOnWrite => WriteRule::DeleteCopy,
            Self::WriteThrough => WriteRule::ReplaceCopy,
        }
    }
}

/// The learner's choice: a strategy, how long a copy counts as fresh here,
/// and how long a browser or proxy may reuse an answer without asking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Freshness {
    pub strategy: Strategy,
    pub ttl_secs: u64,
    /// `Cache-Control: max-age` on item answers (RFC 9111 §5.2.2.1).
    pub browser_max_age_secs: u64,
}

/// The longest TTL or max-age a learner may choose: an hour, far past
/// anything a lesson waits for.
pub const MAX_FRESHNESS_SECS: u64 = 3_600;

/// A TTL or max-age out of bounds, named by its field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FreshnessRefused(pub String);

impl Freshness {
    /// `self` with the given parts changed, each checked: a TTL of 1 to
    /// [`MAX_FRESHNESS_SECS`], a max-age of 0 to the same.
    pub fn with(
        self,
        strategy: Option<Strategy>,
        ttl_secs: Option<u64>,
        browser_max_age_secs: Option<u64>,
    ) -> Result<Self, FreshnessRefused> {
        let ttl_secs = ttl_secs.unwrap_or(self.ttl_secs);
        if !(1..=MAX_FRESHNESS_SECS).contains(&ttl_secs) {
            return Err(FreshnessRefused(format!(
                "ttl_secs must be between 1 and {MAX_FRESHNESS_SECS}, got {ttl_secs}"
            )));
        }
        let browser_max_age_secs = browser_max_age_secs.unwrap_or(self.browser_max_age_secs);
        if browser_max_age_secs > MAX_FRESHNESS_SECS {
            return Err(FreshnessRefused(format!(
                "browser_max_age_secs must be between 0 and {MAX_FRESHNESS_SECS}, got \
                 {browser_max_age_secs}"
            )));
        }
        Ok(Self {
            strategy: strategy.unwrap_or(self.strategy),
            ttl_secs,
            browser_max_age_secs,
        })
    }

    pub fn ttl_ms(self) -> u64 {
        self.ttl_secs.saturating_mul(1000)
    }

    /// What a read does with a copy stored `age_ms` ago; `stale_window_ms`
    /// is how long past its TTL stale-while-revalidate may still answer
    /// with it (RFC 5861's `stale-while-revalidate=<seconds>`).
    pub fn judge(self, age_ms: u64, stale_window_ms: u64) -> ReadRule {
        let ttl_ms = self.ttl_ms();
        if age_ms < ttl_ms {
            return ReadRule::AnswerFresh;
        }
        let within_window = age_ms - ttl_ms < stale_window_ms;
        if self.strategy == Strategy::StaleWhileRevalidate && within_window {
            ReadRule::AnswerStaleAndRefresh
        } else {
            ReadRule::ReadSource
        }
    }
}

/// What a read does with the copy it found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadRule {
    /// The copy is within its TTL: answer with it.
    AnswerFresh,
    /// Past its TTL, within the stale window, under stale-while-revalidate:
    /// answer with it now and refresh it in the background.
    AnswerStaleAndRefresh,
    /// Read the source now and store what it says (the copy is too old).
    ReadSource,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn freshness(strategy: Strategy) -> Freshness {
        Freshness {
            strategy,
            ttl_secs: 10,
            browser_max_age_secs: 5,
        }
    }

    #[test]
    fn strategies_are_named_in_kebab_case_and_unknown_names_refused() {
        for strategy in Strategy::ALL {
            assert_eq!(Strategy::parse(strategy.slug()), Ok(strategy));
            let json = serde_json::to_string(&strategy).expect("serializes");
            assert_eq!(json, format!("\"{}\"", strategy.slug()));
        }
        assert_eq!(Strategy::parse("write-back"), Err(UnknownStrategy));
        assert!(UnknownStrategy
            .to_string()
            .contains("stale-while-revalidate"));
        assert_eq!(Strategy::default(), Strategy::TtlOnly);
    }

    #[test]
    fn each_strategy_has_its_write_rule() {
        assert_eq!(Strategy::TtlOnly.on_write(), WriteRule::KeepCopy);
        assert_eq!(
            Strategy::InvalidateOnWrite.on_write(),
            WriteRule::DeleteCopy
        );
        assert_eq!(Strategy::WriteThrough.on_write(), WriteRule::ReplaceCopy);
        assert_eq!(
            Strategy::StaleWhileRevalidate.on_write(),
            WriteRule::KeepCopy
        );
    }

    #[test]
    fn a_copy_is_fresh_until_its_ttl_then_only_swr_answers_with_it() {
        for strategy in Strategy::ALL {
            let rules = freshness(strategy);
            assert_eq!(rules.judge(9_999, 60_000), ReadRule::AnswerFresh);
            let past_ttl = rules.judge(10_000, 60_000);
            if strategy == Strategy::StaleWhileRevalidate {
                assert_eq!(past_ttl, ReadRule::AnswerStaleAndRefresh);
            } else {
                assert_eq!(past_ttl, ReadRule::ReadSource, "{strategy:?}");
            }
        }
    }

    #[test]
    fn past_the_stale_window_even_swr_reads_the_source() {
        let rules = freshness(Strategy::StaleWhileRevalidate);
        assert_eq!(rules.judge(69_999, 60_000), ReadRule::AnswerStaleAndRefresh);
        assert_eq!(rules.judge(70_000, 60_000), ReadRule::ReadSource);
    }

    #[test]
    fn settings_are_checked_and_missing_parts_kept() {
        let start = freshness(Strategy::TtlOnly);
        let changed = start
            .with(Some(Strategy::WriteThrough), None, Some(0))
            .expect("valid");
        assert_eq!(changed.strategy, Strategy::WriteThrough);
        assert_eq!((changed.ttl_secs, changed.browser_max_age_secs), (10, 0));
        assert!(start.with(None, Some(0), None).is_err());
        assert!(start
            .with(None, Some(MAX_FRESHNESS_SECS + 1), None)
            .is_err());
        assert!(start
            .with(None, None, Some(MAX_FRESHNESS_SECS + 1))
            .is_err());
    }
}
