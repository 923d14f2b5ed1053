//! A miss's work: the shared tier's copy, or the slow work itself, and the
//! write to disk either way.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use super::{DiskCache, StoredValue};
use crate::canonical::CanonicalJson;
use crate::disk::faults::Fault;
use crate::disk::files;
use crate::redis_tier::{Fetched, Kind, RedisTier, SharedLookup};

impl DiskCache {
    pub(super) async fn compute_and_store(
        &self,
        request: &CanonicalJson,
        shared: &RedisTier,
    ) -> StoredValue {
        // A flight that finished just before ours began, here or in another
        // process, has already stored it.
        if let Ok((body, written_at_ms, _)) = self.read_fresh(request.key()) {
            return StoredValue {
                body,
                written_at_ms: Some(written_at_ms),
                simulated_delay: Duration::ZERO,
                computed_here: false,
                shared: SharedLookup::OFF,
                from_shared: false,
            };
        }
        let ticket = match shared.fetch(Kind::Data, request.key()).await {
            Fetched::Found { body, lookup } => {
                // Another machine computed it: keep a copy on this one.
                let written_at_ms = self.store(request.key(), &body).await;
                return StoredValue {
                    body,
                    written_at_ms,
                    simulated_delay: Duration::ZERO,
                    computed_here: false,
                    shared: lookup,
                    from_shared: true,
                };
            }
            Fetched::Compute(ticket) => ticket,
        };
        // A zero sleep still waits for the timer's next millisecond tick.
        if !self.settings.miss_delay.is_zero() {
            tokio::time::sleep(self.settings.miss_delay).await;
        }
        self.computed.fetch_add(1, Ordering::Relaxed);
        // The "expensive work" of this demo is to answer with the request
        // itself, in canonical form.
        let body: Arc<[u8]> = Arc::from(request.text().as_bytes());
        let written_at_ms = self.store(request.key(), &body).await;
        let shared = shared.keep(ticket, &body).await;
        StoredValue {
            body,
            written_at_ms,
            simulated_delay: self.settings.miss_delay,
            computed_here: true,
            shared,
            from_shared: false,
        }
    }

    /// Writes `body` under `key` and evicts past the bound; returns its write
    /// time, or `None` when it was not stored: the caller still gets its
    /// answer. The write runs on a blocking thread of its own, which
    /// finishes even if the request that started it goes away, so the
    /// content is never written without its index line.
    pub(super) async fn store(&self, key: &str, body: &Arc<[u8]>) -> Option<u64> {
        let tier = Arc::clone(&self.0);
        let owned_key = key.to_owned();
        let owned_body = Arc::clone(body);
        tokio::task::spawn_blocking(move || tier.write(&owned_key, &owned_body))
            .await
            .unwrap_or_else(|join_error| {
                self.faults
                    .record(Fault::Write, 1, &files::one_line(&join_error.to_string()));
                None
            })
    }
}
