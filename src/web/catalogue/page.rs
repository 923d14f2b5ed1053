//! What `/catalogue` shows: each item's cached and true price side by side,
//! the copy's age, the counters and the settings in force.

use serde::Serialize;

use crate::catalogue::{
    CatalogueStats, CataloguesCount, Freshness, ItemId, MarketStatus, Strategy, MAX_FRESHNESS_SECS,
    MAX_PRICE_CENTS,
};

/// Whose catalogue the page shows, and the credential its curl commands
/// carry so that they reach the same one.
#[derive(Serialize)]
pub struct Owner {
    pub learner: String,
    pub credential: String,
}

#[derive(Serialize)]
pub struct CataloguePage {
    base_url: String,
    owner: Owner,
    /// How many learners' catalogues this instance keeps, of how many.
    kept: CataloguesCount,
    learner_header: &'static str,
    items: Vec<ItemRow>,
    freshness: Freshness,
    strategies: Vec<StrategyOption>,
    stats: CatalogueStats,
    market: MarketStatus,
    stale_window_secs: u64,
    read_delay_ms: u64,
    max_freshness_secs: u64,
    max_price_cents: u64,
}

#[derive(Serialize)]
struct ItemRow {
    slug: &'static str,
    name: &'static str,
    true_price: String,
    true_price_cents: u64,
    true_version: u64,
    cached: Option<CachedRow>,
    /// The cached price differs from the true one.
    stale: bool,
}

#[derive(Serialize)]
struct CachedRow {
    price: String,
    version: u64,
    age_secs: u64,
    /// Within the TTL in force.
    fresh: bool,
}

#[derive(Serialize)]
struct StrategyOption {
    slug: &'static str,
    chosen: bool,
}

impl CataloguePage {
    pub fn of(
        catalogue: &crate::catalogue::Catalogue,
        owner: Owner,
        kept: CataloguesCount,
        base_url: String,
    ) -> Self {
        let freshness = catalogue.freshness();
        let now_ms = catalogue.now_ms();
        let items = ItemId::all()
            .map(|item| {
                let truth = catalogue.peek_truth(item);
                let copy = catalogue.peek_copy(item);
                ItemRow {
                    slug: item.slug(),
                    name: item.name(),
                    true_price: cents(truth.price_cents),
                    true_price_cents: truth.price_cents,
                    true_version: truth.version,
                    stale: copy.is_some_and(|copy| copy.record.price_cents != truth.price_cents),
                    cached: copy.map(|copy| {
                        let age_ms = now_ms.saturating_sub(copy.stored_at_ms);
                        CachedRow {
                            price: cents(copy.record.price_cents),
                            version: copy.record.version,
                            age_secs: age_ms / 1000,
                            fresh: age_ms < freshness.ttl_ms(),
                        }
                    }),
                }
            })
            .collect();
        Self {
            base_url,
            owner,
            kept,
            learner_header: crate::web::guards::LEARNER_HEADER,
            items,
            strategies: Strategy::ALL
                .into_iter()
                .map(|strategy| StrategyOption {
                    slug: strategy.slug(),
                    chosen: strategy == freshness.strategy,
                })
                .collect(),
            freshness,
            stats: catalogue.stats(),
            market: catalogue.market(),
            stale_window_secs: catalogue.stale_window_secs(),
            read_delay_ms: crate::clock::duration_ms(catalogue.read_delay()),
            max_freshness_secs: MAX_FRESHNESS_SECS,
            max_price_cents: MAX_PRICE_CENTS,
        }
    }
}

/// A price in cents, as `1.20`.
pub fn cents(cents: u64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}
