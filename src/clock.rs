//! Wall-clock time that tests can move forward.
//!
//! The disk tier stamps each entry with the time it was written and compares
//! that stamp with "now" to decide whether the entry has expired. Tests of a
//! one-hour TTL must not wait an hour, nor even a second: they take a
//! [`Clock::mock`] and advance it. Everything else uses [`Clock::system`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A source of the current time in milliseconds since the Unix epoch.
/// Cheap to clone; clones of a mock clock move together.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    mock: Option<Arc<MockTime>>,
}

/// The handle a test keeps to move a mock [`Clock`] forward.
#[derive(Debug, Default)]
pub struct MockTime {
    ahead_ms: AtomicU64,
}

impl Clock {
    /// The system's wall clock.
    pub fn system() -> Self {
        Self { mock: None }
    }

    /// A clock that runs with the system clock but can be moved ahead by the
    /// returned handle. It stays on real time, not a frozen instant, because
    /// its stamps are written into cache files that other processes read.
    pub fn mock() -> (Self, Arc<MockTime>) {
        let time = Arc::new(MockTime::default());
        (
            Self {
                mock: Some(Arc::clone(&time)),
            },
            time,
        )
    }

    /// Milliseconds since the Unix epoch.
    pub fn now_ms(&self) -> u64 {
        let ahead = self
            .mock
            .as_ref()
            .map_or(0, |time| time.ahead_ms.load(Ordering::Relaxed));
        system_now_ms().saturating_add(ahead)
    }
}

impl MockTime {
    /// Another clock driven by this handle (for an app restarted in a test,
    /// which must see the time the first one had reached).
    pub fn clock(self: &Arc<Self>) -> Clock {
        Clock {
            mock: Some(Arc::clone(self)),
        }
    }

    /// Moves every clone of the mock clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        self.ahead_ms.fetch_add(duration_ms(by), Ordering::Relaxed);
    }
}

/// Milliseconds since the Unix epoch by the system clock, for timestamps no
/// test needs to move.
pub fn system_now_ms() -> u64 {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    duration_ms(since_epoch)
}

/// Whole milliseconds in `duration`, saturating.
pub fn duration_ms(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mock_clock_moves_only_when_told_and_its_clones_follow() {
        let (clock, time) = Clock::mock();
        let copy = clock.clone();
        let before = clock.now_ms();
        time.advance(Duration::from_secs(3600));
        let after = copy.now_ms();
        assert!(after >= before + 3_600_000, "{before} → {after}");
        assert!(after < before + 3_600_000 + 60_000, "{before} → {after}");
        assert!(Clock::system().now_ms() < after);
    }
}
