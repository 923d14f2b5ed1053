//! A short memory of recent cached requests, for the timing chart.
//!
//! Bounded, so it costs the same after a million requests as after ten.
//!
//! Every cached request records here, hits included, so one shared list
//! behind one lock would be a line two cores write on every hit (see
//! [`crate::striped`]). Each thread records into a ring of its own
//! instead, stamped with the time; the chart, which is drawn rarely,
//! merges the rings by time.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::striped::Striped;

use serde::Serialize;

/// Which tier answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    Memory,
    Disk,
    /// The shared tier (Redis): the answer was read from there after the
    /// nearer tier missed.
    Redis,
}

/// How the tier answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// From the cache.
    Hit,
    /// Computed by this request.
    Miss,
    /// Waited for another request computing the same value (coalesced):
    /// as slow as a miss, but no work of its own.
    Waited,
}

/// What the client was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Sent {
    /// The whole answer, body and all.
    Full,
    /// 304 Not Modified: the client already held this very answer (its
    /// `If-None-Match` named the answer's tag), so only headers were sent
    /// (RFC 9110 §15.4.5). The tier was still asked, and hit or missed.
    NotModified,
}

/// What a request asked for. Kept as the number or the key's first bytes,
/// not as text: every cache hit records one, and the label is only needed
/// when the chart is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    /// `n!`
    Factorial(u64),
    /// The first 12 hex digits of a body's key.
    Body([u8; 12]),
}

impl Subject {
    /// A body by its key. Keys are hex, so 12 bytes are 12 whole characters.
    pub fn body(key: &str) -> Self {
        let mut prefix = [b'?'; 12];
        for (slot, byte) in prefix.iter_mut().zip(key.bytes()) {
            *slot = byte;
        }
        Subject::Body(prefix)
    }
}

impl std::fmt::Display for Subject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Subject::Factorial(n) => write!(f, "{n}!"),
            Subject::Body(prefix) => write!(f, "{}…", String::from_utf8_lossy(prefix)),
        }
    }
}

/// One answered request.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestRecord {
    pub tier: Tier,
    pub outcome: Outcome,
    /// The time the cache tier took (`Server-Timing`'s `cache` part), in
    /// microseconds: what the chart compares across tiers and outcomes.
    pub elapsed_us: u64,
    pub subject: Subject,
    pub sent: Sent,
}

/// The most recent requests, oldest first.
pub struct RequestHistory {
    /// Per thread, each keeping the last `capacity` requests that thread
    /// recorded. Merged, they are ordered by when each lookup began; a
    /// slow lookup recorded late can push out of its ring one that began
    /// after it, so the merge is the recent requests, not always exactly
    /// the last `capacity` by start.
    rings: Striped<Mutex<VecDeque<(Instant, RequestRecord)>>>,
    capacity: usize,
}

impl RequestHistory {
    pub fn new(capacity: usize) -> Self {
        Self {
            // Grown as records arrive: most stripes never see a thread.
            rings: Striped::new(|| Mutex::new(VecDeque::new())),
            capacity,
        }
    }

    /// Keeps one request, `started` being when its lookup began (the
    /// caller has read the clock already to time it; reading it again
    /// here would cost each hit a second clock read).
    pub fn record(
        &self,
        started: Instant,
        tier: Tier,
        outcome: Outcome,
        elapsed: Duration,
        subject: Subject,
        sent: Sent,
    ) {
        let record = RequestRecord {
            tier,
            outcome,
            elapsed_us: u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
            subject,
            sent,
        };
        let at = started;
        // This thread's own ring: the lock is only ever waited on while
        // the chart copies it.
        let mut ring = self.rings.mine().lock().expect("history lock poisoned");
        if ring.len() == self.capacity {
            ring.pop_front();
        }
        ring.push_back((at, record));
    }

    /// The most recent `capacity` requests, oldest first.
    pub fn recent(&self) -> Vec<RequestRecord> {
        let mut all: Vec<(Instant, RequestRecord)> = self
            .rings
            .iter()
            .flat_map(|ring| {
                ring.lock()
                    .expect("history lock poisoned")
                    .iter()
                    .cloned()
                    .collect::<Vec<_>>()
            })
            .collect();
        // Stable: two records stamped alike keep their ring's order.
        all.sort_by_key(|(at, _)| *at);
        let skip = all.len().saturating_sub(self.capacity);
        all.into_iter()
            .skip(skip)
            .map(|(_, record)| record)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_only_the_most_recent() {
        let history = RequestHistory::new(2);
        for n in 0..3 {
            history.record(
                Instant::now(),
                Tier::Memory,
                Outcome::Hit,
                Duration::from_micros(5),
                Subject::Factorial(n),
                Sent::Full,
            );
        }
        let subjects: Vec<String> = history
            .recent()
            .into_iter()
            .map(|record| record.subject.to_string())
            .collect();
        assert_eq!(subjects, vec!["1!", "2!"]);
    }

    #[test]
    fn records_from_many_threads_merge_into_the_most_recent_in_time_order() {
        let history = std::sync::Arc::new(RequestHistory::new(10));
        for thread in 0..4u64 {
            let history = std::sync::Arc::clone(&history);
            std::thread::spawn(move || {
                for n in 0..5 {
                    history.record(
                        Instant::now(),
                        Tier::Memory,
                        Outcome::Hit,
                        Duration::from_micros(5),
                        Subject::Factorial(thread * 100 + n),
                        Sent::Full,
                    );
                }
            })
            .join()
            .expect("a recording thread does not panic");
        }
        // The threads ran one after another: the last ten records are the
        // third thread's and the fourth's, in order.
        let subjects: Vec<u64> = history
            .recent()
            .into_iter()
            .map(|record| match record.subject {
                Subject::Factorial(n) => n,
                Subject::Body(_) => unreachable!("only factorials were recorded"),
            })
            .collect();
        assert_eq!(
            subjects,
            vec![200, 201, 202, 203, 204, 300, 301, 302, 303, 304]
        );
    }
}
