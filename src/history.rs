//! A short memory of recent cached requests, for the timing chart.
//!
//! Bounded, so it costs the same after a million requests as after ten.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;

/// Which tier answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    Memory,
    Disk,
}

/// One answered request.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RequestRecord {
    /// Unix time in milliseconds when the answer was ready.
    pub at_ms: u64,
    pub tier: Tier,
    pub hit: bool,
    /// Server time spent on the request, in microseconds.
    pub elapsed_us: u64,
    /// What was asked for: `20!` or the first characters of a body's key.
    pub subject: String,
}

/// The most recent requests, oldest first.
pub struct RequestHistory {
    records: Mutex<VecDeque<RequestRecord>>,
    capacity: usize,
}

impl RequestHistory {
    pub fn new(capacity: usize) -> Self {
        Self {
            records: Mutex::new(VecDeque::with_capacity(capacity)),
            capacity,
        }
    }

    pub fn record(&self, tier: Tier, hit: bool, elapsed: Duration, subject: String) {
        let record = RequestRecord {
            at_ms: crate::disk::now_ms(),
            tier,
            hit,
            elapsed_us: u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
            subject,
        };
        let mut records = self.records.lock().expect("history lock poisoned");
        if records.len() == self.capacity {
            records.pop_front();
        }
        records.push_back(record);
    }

    pub fn recent(&self) -> Vec<RequestRecord> {
        self.records
            .lock()
            .expect("history lock poisoned")
            .iter()
            .cloned()
            .collect()
    }

    pub fn clear(&self) {
        self.records.lock().expect("history lock poisoned").clear();
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
                Tier::Memory,
                true,
                Duration::from_micros(5),
                format!("{n}!"),
            );
        }
        let subjects: Vec<String> = history.recent().into_iter().map(|r| r.subject).collect();
        assert_eq!(subjects, vec!["1!", "2!"]);
    }
}
