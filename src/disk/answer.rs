//! What the disk tier says about one request: the answer, and how it was
//! found or why it was not.

use std::sync::Arc;
use std::time::Duration;

use crate::clock::duration_ms;

/// Why a request was not served from disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MissReason {
    /// Nothing stored under this key.
    Absent,
    /// Stored, but older than the TTL.
    Expired,
    /// Stored, but the content failed its integrity check or could not be read.
    Unreadable,
}

/// What the disk tier did to answer one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiskLookup {
    Hit,
    /// This request did the slow work (and stored the result if it could).
    Computed {
        reason: MissReason,
        stored: bool,
    },
    /// Another request was doing the same slow work; this one waited for it.
    Joined {
        reason: MissReason,
    },
}

impl DiskLookup {
    pub fn is_hit(&self) -> bool {
        matches!(self, DiskLookup::Hit)
    }
}

/// The answer for one JSON body.
pub struct DiskAnswer {
    pub key: String,
    pub body: Arc<[u8]>,
    pub lookup: DiskLookup,
    /// When the stored entry was written (unix ms); `None` if it could not be stored.
    pub written_at_ms: Option<u64>,
    pub ttl: Duration,
    /// Simulated cost waited on a miss.
    pub simulated_delay: Duration,
}

impl DiskAnswer {
    pub fn expires_at_ms(&self) -> Option<u64> {
        self.written_at_ms
            .map(|written| written.saturating_add(duration_ms(self.ttl)))
    }
}
