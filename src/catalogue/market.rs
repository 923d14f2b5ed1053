//! The "market": a background writer that changes a random item's price
//! every few seconds, so prices move while the learner watches. Seeded, so
//! a run can be repeated; and it stops by itself after a bounded time, so
//! a forgotten tab or a load test does not keep it going. A catalogue has
//! at most one market task at a time: starting, stopping or dropping the
//! catalogue ends the task that was running at once, so switching the
//! market on and off in a loop cannot pile up sleeping tasks.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;

use super::{Catalogue, Inner, ItemId, PriceCents, ITEM_COUNT, MAX_PRICE_CENTS};

/// How the market moves prices.
#[derive(Debug, Clone, Copy)]
pub struct MarketSettings {
    /// Time between two changes.
    pub interval: Duration,
    /// How long it runs once switched on.
    pub duration: Duration,
    /// Where its random numbers start.
    pub seed: u64,
}

/// Whether the market runs, for how much longer, and what it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MarketStatus {
    pub running: bool,
    /// Until when it runs (Unix milliseconds), while it runs.
    pub until_ms: Option<u64>,
    pub changes: u64,
    pub interval_ms: u64,
    pub duration_secs: u64,
}

pub(super) struct Market {
    settings: MarketSettings,
    state: Mutex<State>,
}

struct State {
    /// Bumped by every start and stop: a loop that sees another run's
    /// number ends.
    run: u64,
    running: bool,
    until_ms: Option<u64>,
    changes: u64,
    random: XorShift,
    /// The task of the run under way, ended when another starts, when the
    /// market is stopped, or when the catalogue goes away.
    task: Option<tokio::task::AbortHandle>,
}

impl Market {
    pub(super) fn new(settings: MarketSettings) -> Self {
        Self {
            settings,
            state: Mutex::new(State {
                run: 0,
                running: false,
                until_ms: None,
                changes: 0,
                random: XorShift::new(settings.seed),
                task: None,
            }),
        }
    }

    /// Starts a run (ending any earlier one) on `catalogue`'s prices.
    pub(super) fn start(market: &Market, catalogue: Catalogue) {
        let settings = market.settings;
        let mut state = market.lock();
        state.run += 1;
        state.running = true;
        state.until_ms = Some(
            catalogue
                .now_ms()
                .saturating_add(crate::clock::duration_ms(settings.duration)),
        );
        let run = state.run;
        let weak = Arc::downgrade(&catalogue.inner);
        drop(catalogue);
        // Spawned with the lock held, so that a stop arriving meanwhile
        // finds this run's task to end.
        let task = tokio::spawn(async move {
            let ends = tokio::time::Instant::now() + settings.duration;
            loop {
                tokio::time::sleep(settings.interval).await;
                let Some(inner) = weak.upgrade() else {
                    return;
                };
                if !Self::still(&inner, run) {
                    return;
                }
                if tokio::time::Instant::now() >= ends {
                    inner.market.finish(run);
                    return;
                }
                Self::change_one_price(inner);
            }
        });
        if let Some(earlier) = state.task.replace(task.abort_handle()) {
            earlier.abort();
        }
    }

    fn still(inner: &Inner, run: u64) -> bool {
        let state = inner.market.lock();
        state.running && state.run == run
    }

    fn change_one_price(inner: Arc<Inner>) {
        let (item, price) = {
            let mut state = inner.market.lock();
            state.changes += 1;
            let item = ItemId::all()
                .nth(state.random.below(ITEM_COUNT as u64) as usize)
                .expect("below ITEM_COUNT names an item");
            let old = inner.source.peek(item).price_cents;
            (item, next_price(old, &mut state.random))
        };
        Catalogue { inner }.set_price(item, price);
    }

    pub(super) fn stop(&self) {
        let mut state = self.lock();
        state.run += 1;
        state.running = false;
        state.until_ms = None;
        if let Some(task) = state.task.take() {
            task.abort();
        }
    }

    fn finish(&self, run: u64) {
        let mut state = self.lock();
        if state.run == run {
            state.running = false;
            state.until_ms = None;
            state.task = None;
        }
    }

    pub(super) fn status(&self) -> MarketStatus {
        let state = self.lock();
        MarketStatus {
            running: state.running,
            until_ms: state.until_ms,
            changes: state.changes,
            interval_ms: crate::clock::duration_ms(self.settings.interval),
            duration_secs: self.settings.duration.as_secs(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("market lock poisoned")
    }
}

impl Drop for Market {
    /// A catalogue dropped (a learner's, evicted to make room) ends its
    /// market at once rather than at the task's next tick.
    fn drop(&mut self) {
        let state = self
            .state
            .get_mut()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(task) = state.task.take() {
            task.abort();
        }
    }
}

/// A move of up to 20% either way, never below 1 cent nor above the maximum.
fn next_price(old_cents: u64, random: &mut XorShift) -> PriceCents {
    let step = (old_cents / 5).max(1);
    let delta = random.below(2 * step + 1);
    let moved = (old_cents + delta)
        .saturating_sub(step)
        .clamp(1, MAX_PRICE_CENTS);
    // Never the same price: a change nobody can see teaches nothing.
    let moved = match moved == old_cents {
        true if old_cents < MAX_PRICE_CENTS => old_cents + 1,
        true => old_cents - 1,
        false => moved,
    };
    PriceCents::new(moved).expect("clamped into bounds")
}

/// xorshift64*: small, seeded and good enough to pick items and steps.
struct XorShift(u64);

impl XorShift {
    fn new(seed: u64) -> Self {
        // Zero is xorshift's one fixed point.
        Self(seed.max(1))
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound.max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_moves() {
        let (mut a, mut b) = (XorShift::new(7), XorShift::new(7));
        let first: Vec<u64> = (0..5).map(|_| a.below(100)).collect();
        let second: Vec<u64> = (0..5).map(|_| b.below(100)).collect();
        assert_eq!(first, second);
        assert_ne!(XorShift::new(0).next(), 0);
    }

    #[test]
    fn a_move_changes_the_price_within_a_fifth_and_bounds() {
        let mut random = XorShift::new(42);
        for old in [1, 2, 45, 499, MAX_PRICE_CENTS] {
            for _ in 0..50 {
                let new = next_price(old, &mut random).cents();
                assert_ne!(new, old, "a move must be visible");
                assert!((1..=MAX_PRICE_CENTS).contains(&new));
                assert!(new.abs_diff(old) <= (old / 5).max(1) + 1, "{old} → {new}");
            }
        }
    }
}
