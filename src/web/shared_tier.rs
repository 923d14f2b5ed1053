//! The shared tier as the dashboard shows it: its state, its counters, and
//! the invalidations that arrived from other instances, put into words.

use serde::Serialize;

use crate::redis_tier::{Health, RedisStats, RedisTier, Scope};
use crate::view::{clock_utc, count_of, ratio_percent};

/// What the dashboard says about the shared tier.
#[derive(Debug, Serialize)]
pub struct SharedTierView {
    /// `redis_url` is set.
    pub configured: bool,
    /// `off`, `connecting`, `up` or `down`.
    pub health: Health,
    /// The state in a few words.
    pub state: &'static str,
    pub stats: RedisStats,
    pub hit_ratio: String,
    /// Answers of both kinds in Redis (`None` when it cannot be asked).
    pub entries: Option<u64>,
    /// Newest first.
    pub arrivals: Vec<ArrivalLine>,
    /// `redis_timeout_ms`: how long one call may take.
    pub timeout_ms: u128,
}

/// One invalidation that arrived, in words.
#[derive(Debug, Serialize)]
pub struct ArrivalLine {
    pub at: String,
    pub from_instance: String,
    pub what: String,
    pub delay_ms: u64,
    pub removed: String,
}

impl SharedTierView {
    /// Reads the tier now (counting its entries asks Redis, so only pages
    /// call this).
    pub async fn of(tier: &RedisTier) -> Self {
        let stats = tier.stats();
        let entries = if tier.is_configured() {
            tier.entries().await
        } else {
            None
        };
        Self {
            configured: tier.is_configured(),
            health: stats.health,
            state: match stats.health {
                Health::Off => "off: no redis_url",
                Health::Connecting => "connecting",
                Health::Up => "up: shared by every instance",
                Health::Down => "down: every lookup is a miss until it answers",
            },
            hit_ratio: ratio_percent(stats.hits, stats.misses + stats.unavailable),
            stats,
            entries,
            arrivals: tier
                .arrivals()
                .into_iter()
                .map(|arrival| ArrivalLine {
                    at: clock_utc(arrival.arrived_at_ms),
                    from_instance: arrival.from_instance,
                    what: match arrival.scope {
                        Scope::Memory => "memory cleared".to_owned(),
                        Scope::Factorial(n) => format!("{n}! invalidated"),
                    },
                    delay_ms: arrival.delay_ms,
                    removed: count_of(arrival.removed, "entry", "entries"),
                })
                .collect(),
            timeout_ms: tier.timeout().as_millis(),
        }
    }
}
