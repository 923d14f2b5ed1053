//! What the disk tier says about one request: the answer, and how it was
//! found or why it was not.

use std::sync::Arc;
use std::time::Duration;

use crate::clock::duration_ms;
use crate::http_cache::EntityTag;
use crate::redis_tier::SharedLookup;

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
    /// Not on this machine's disk, but in the shared tier (Redis): read from
    /// there and written to disk. `joined`: another request here was
    /// already reading it, and this one waited for that.
    Shared {
        reason: MissReason,
        joined: bool,
    },
}

impl DiskLookup {
    pub fn is_hit(&self) -> bool {
        matches!(self, DiskLookup::Hit)
    }

    /// Whether this request waited for another one doing the same work.
    pub fn coalesced(&self) -> bool {
        matches!(
            self,
            DiskLookup::Joined { .. } | DiskLookup::Shared { joined: true, .. }
        )
    }

    /// Whether the answer came from the shared tier.
    pub fn from_shared(&self) -> bool {
        matches!(self, DiskLookup::Shared { .. })
    }

    /// Why the tier had no answer to serve (`None` for a hit).
    pub fn miss_reason(&self) -> Option<MissReason> {
        match *self {
            DiskLookup::Hit => None,
            DiskLookup::Computed { reason, .. }
            | DiskLookup::Joined { reason }
            | DiskLookup::Shared { reason, .. } => Some(reason),
        }
    }
}

/// Where a hit's bytes came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HitRead {
    /// The kernel had every byte in its page cache, in RAM, and handed them
    /// over without waiting for the device (see `page_cache`).
    PageCache,
    /// An ordinary file read: part of the file had to come from the device
    /// itself, or the system could not tell without waiting (the check needs
    /// Linux 5.12 or later).
    OrdinaryRead,
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
    /// How a hit was read (`None` for a miss).
    pub hit_read: Option<HitRead>,
    /// What the shared tier did after the disk missed ([`SharedLookup::OFF`]
    /// for a disk hit, which never asks it).
    pub shared: SharedLookup,
}

impl DiskAnswer {
    /// Whether the answer is on disk now: a hit's entry, or a miss's that
    /// was written (by this request, or by the one it waited for).
    pub fn stored(&self) -> bool {
        match self.lookup {
            DiskLookup::Hit => true,
            DiskLookup::Computed { stored, .. } => stored,
            DiskLookup::Joined { .. } | DiskLookup::Shared { .. } => self.written_at_ms.is_some(),
        }
    }

    /// The strong entity tag of `body`. The key is the hex SHA-256 of the
    /// body, which the tier checks every stored entry against (its
    /// integrity is that very hash), so the tag costs no hashing here.
    pub fn entity_tag(&self) -> EntityTag {
        EntityTag::from_sha256_hex(&self.key).expect("a disk key is a SHA-256 in hex")
    }

    pub fn expires_at_ms(&self) -> Option<u64> {
        self.written_at_ms
            .map(|written| written.saturating_add(duration_ms(self.ttl)))
    }
}
