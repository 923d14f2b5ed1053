use super::*;

const TTL_SECS: u64 = 10;

fn catalogue(strategy: Strategy) -> (Catalogue, Arc<crate::clock::MockTime>) {
    let (clock, time) = Clock::mock();
    let settings = CatalogueSettings {
        read_delay: Duration::ZERO,
        freshness: Freshness {
            strategy,
            ttl_secs: TTL_SECS,
            browser_max_age_secs: 5,
        },
        stale_window: Duration::from_secs(60),
        market: MarketSettings {
            interval: Duration::from_millis(5),
            duration: Duration::from_secs(60),
            seed: 1,
        },
    };
    (Catalogue::new(settings, clock), time)
}

fn apple() -> ItemId {
    ItemId::parse("apple").expect("apple exists")
}

fn price(cents: u64) -> PriceCents {
    PriceCents::new(cents).expect("in bounds")
}

#[tokio::test]
async fn a_miss_then_a_hit_and_within_the_ttl_the_old_price() {
    let (catalogue, time) = catalogue(Strategy::TtlOnly);
    assert_eq!(catalogue.read(apple()).await.outcome, ReadOutcome::Miss);
    catalogue.set_price(apple(), price(999));
    time.advance(Duration::from_secs(TTL_SECS - 1));
    let stale = catalogue.read(apple()).await;
    assert_eq!(stale.outcome, ReadOutcome::Hit);
    assert_eq!(
        (stale.record.price_cents, stale.truth.price_cents),
        (120, 999)
    );
    assert!(stale.is_stale());
    // The mock clock runs on with real time between the reads.
    assert!(
        (900..=1_000).contains(&stale.ttl_left_ms),
        "{}",
        stale.ttl_left_ms
    );
    time.advance(Duration::from_secs(1));
    let fresh = catalogue.read(apple()).await;
    assert_eq!(fresh.outcome, ReadOutcome::Expired);
    assert_eq!(fresh.record.price_cents, 999);
    let stats = catalogue.stats();
    assert_eq!((stats.hits, stats.misses, stats.writes), (1, 2, 1));
}

#[tokio::test]
async fn invalidate_on_write_deletes_only_that_items_copy() {
    let (catalogue, _time) = catalogue(Strategy::InvalidateOnWrite);
    for item in ItemId::all() {
        catalogue.read(item).await;
    }
    let change = catalogue.set_price(apple(), price(5));
    assert_eq!(change.cache_effect, CacheEffect::Deleted { removed: 1 });
    assert_eq!(catalogue.stats().entries, ITEM_COUNT - 1);
    let read = catalogue.read(apple()).await;
    assert_eq!(
        (read.outcome, read.record.price_cents),
        (ReadOutcome::Miss, 5)
    );
    assert_eq!(catalogue.clear(), ITEM_COUNT, "a clear removes every copy");
}

#[tokio::test]
async fn write_through_replaces_the_copy_so_the_next_read_is_a_fresh_hit() {
    let (catalogue, _time) = catalogue(Strategy::WriteThrough);
    catalogue.read(apple()).await;
    let change = catalogue.set_price(apple(), price(7));
    assert_eq!(change.cache_effect, CacheEffect::Replaced);
    let read = catalogue.read(apple()).await;
    assert_eq!(
        (read.outcome, read.record.price_cents),
        (ReadOutcome::Hit, 7)
    );
    assert!(!read.is_stale());
}

#[tokio::test]
async fn ttl_only_keeps_the_copy_on_write() {
    let (catalogue, _time) = catalogue(Strategy::TtlOnly);
    catalogue.read(apple()).await;
    assert_eq!(
        catalogue.set_price(apple(), price(7)).cache_effect,
        CacheEffect::Kept
    );
    assert_eq!(
        catalogue
            .peek_copy(apple())
            .map(|copy| copy.record.price_cents),
        Some(120)
    );
}

#[tokio::test]
async fn stale_while_revalidate_answers_stale_then_refreshes_in_the_background() {
    let (catalogue, time) = catalogue(Strategy::StaleWhileRevalidate);
    catalogue.read(apple()).await;
    catalogue.set_price(apple(), price(321));
    time.advance(Duration::from_secs(TTL_SECS + 2));
    let stale = catalogue.read(apple()).await;
    assert_eq!(stale.outcome, ReadOutcome::Stale);
    assert_eq!(stale.record.price_cents, 120);
    assert!(
        (-2_100..=-2_000).contains(&stale.ttl_left_ms),
        "{}",
        stale.ttl_left_ms
    );
    assert!(
        stale.source_elapsed.is_none(),
        "no source read on the request"
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while catalogue.stats().refreshes == 0 {
        assert!(Instant::now() < deadline, "the refresh never finished");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let fresh = catalogue.read(apple()).await;
    assert_eq!(
        (fresh.outcome, fresh.record.price_cents),
        (ReadOutcome::Hit, 321)
    );
    assert_eq!(catalogue.stats().stale_served, 1);
}

#[tokio::test]
async fn a_shorter_ttl_applies_to_copies_already_held() {
    let (catalogue, time) = catalogue(Strategy::TtlOnly);
    catalogue.read(apple()).await;
    time.advance(Duration::from_secs(3));
    let shorter = catalogue
        .freshness()
        .with(None, Some(2), None)
        .expect("valid");
    catalogue.set_freshness(shorter);
    assert_eq!(catalogue.read(apple()).await.outcome, ReadOutcome::Expired);
}

#[tokio::test]
async fn the_market_changes_prices_and_stops_when_told() {
    let (catalogue, _time) = catalogue(Strategy::TtlOnly);
    assert!(catalogue.set_market(true).running);
    let deadline = Instant::now() + Duration::from_secs(5);
    while catalogue.market().changes < 3 {
        assert!(Instant::now() < deadline, "the market made no changes");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(catalogue.stats().writes >= 3);
    assert!(!catalogue.set_market(false).running);
    let stopped_at = catalogue.market().changes;
    tokio::time::sleep(Duration::from_millis(30)).await;
    assert!(catalogue.market().changes <= stopped_at + 1);
}

fn catalogues(capacity: usize) -> Catalogues {
    let (catalogue, _) = catalogue(Strategy::TtlOnly);
    let settings = CatalogueSettings {
        freshness: catalogue.freshness(),
        read_delay: Duration::ZERO,
        stale_window: Duration::from_secs(60),
        market: MarketSettings {
            interval: Duration::from_millis(5),
            duration: Duration::from_secs(60),
            seed: 1,
        },
    };
    Catalogues::new(
        settings,
        Clock::mock().0,
        std::num::NonZeroUsize::new(capacity).expect("a capacity of at least 1"),
    )
}

fn learner(name: &str) -> crate::workshop::LearnerName {
    crate::workshop::LearnerName::parse(name).expect("a usable name")
}

#[tokio::test]
async fn each_learner_has_a_catalogue_and_nobody_shares_the_open_one() {
    let catalogues = catalogues(10);
    let (ada, linus) = (learner("ada"), learner("linus"));
    catalogues.of(Some(&ada)).set_price(apple(), price(999));
    assert_eq!(
        catalogues.of(Some(&ada)).peek_truth(apple()).price_cents,
        999
    );
    assert_eq!(
        catalogues.of(Some(&linus)).peek_truth(apple()).price_cents,
        120
    );
    assert_eq!(catalogues.of(None).peek_truth(apple()).price_cents, 120);
    catalogues.of(None).set_price(apple(), price(5));
    assert_eq!(catalogues.open().peek_truth(apple()).price_cents, 5);
    assert_eq!(
        catalogues.of(Some(&linus)).peek_truth(apple()).price_cents,
        120
    );
    assert_eq!(catalogues.count().learners, 2);
}

#[tokio::test]
async fn an_evicted_learners_market_stops_and_the_count_stays_bounded() {
    let catalogues = catalogues(2);
    let (ada, linus, grace) = (learner("ada"), learner("linus"), learner("grace"));
    let adas = catalogues.of(Some(&ada));
    assert!(adas.set_market(true).running);
    catalogues.of(Some(&linus));
    catalogues.of(Some(&grace));
    assert!(
        !adas.market().running,
        "dropped to make room, Ada's market stopped"
    );
    let count = catalogues.count();
    assert_eq!((count.learners, count.capacity, count.evicted), (2, 2, 1));
    let changes = adas.market().changes;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(adas.market().changes, changes, "no change after the stop");
    assert_eq!(
        catalogues.of(Some(&ada)).market().changes,
        0,
        "she comes back to a fresh catalogue"
    );
}

#[tokio::test]
async fn switching_the_market_on_again_ends_the_earlier_run_at_once() {
    let (catalogue, _) = catalogue(Strategy::TtlOnly);
    let runtime = tokio::runtime::Handle::current().metrics();
    let before = runtime.num_alive_tasks();
    for _ in 0..100 {
        catalogue.set_market(true);
    }
    // Aborted tasks are reaped once the runtime gets to run.
    tokio::time::sleep(Duration::from_millis(1)).await;
    assert_eq!(
        runtime.num_alive_tasks(),
        before + 1,
        "one market task, not 100"
    );
    assert!(catalogue.market().running);
    catalogue.set_market(false);
    tokio::time::sleep(Duration::from_millis(1)).await;
    assert_eq!(runtime.num_alive_tasks(), before, "none once stopped");
}
