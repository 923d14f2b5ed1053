//! One lookup in the shared tier: read, and on a miss take the lease (or
//! wait for the instance holding it), then store what was computed.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cached::{ConcurrentCachedAsync, SerializeCachedAsync};

use super::{
    bump, lease, Connected, Kind, Lease, RedisTier, SharedLookup, SharedOutcome, SharedValue,
};

/// What a nearer tier gets back when it asks the shared tier before
/// computing.
pub enum Fetched {
    /// The checked answer, and how it was found.
    Found {
        body: Arc<[u8]>,
        lookup: SharedLookup,
    },
    /// Compute it; then hand the answer to [`RedisTier::keep`] with this
    /// ticket, which stores it for the others and releases the lease.
    Compute(Ticket),
}

/// The right to compute one missing answer, with what the shared tier
/// already did about it. Dropped without [`RedisTier::keep`] (the
/// computation failed, or the request went away), it gives its lease back,
/// so the other instances stop waiting at once rather than when the lease
/// runs out.
pub struct Ticket {
    kind: Kind,
    key: String,
    held: Option<(Lease, RedisTier)>,
    outcome: SharedOutcome,
    /// What the shared tier took before the computation.
    spent: Duration,
}

impl Ticket {
    fn local(kind: Kind, key: &str, outcome: SharedOutcome) -> Self {
        Self {
            kind,
            key: key.to_owned(),
            held: None,
            outcome,
            spent: Duration::ZERO,
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let Some((lease, tier)) = self.held.take() else {
            return;
        };
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Some(connected) = tier.usable() {
                    lease::release(&tier, &connected, lease).await;
                }
            });
        }
    }
}

/// One read of a value.
enum Read {
    Found(Arc<[u8]>),
    Absent,
    /// Bytes that are no stored answer, or not this key's.
    Damaged,
    Failed,
}

impl RedisTier {
    /// Looks `key` up before a nearer tier computes it. A checked answer is
    /// [`Fetched::Found`]. Otherwise the caller computes, under a lease when
    /// Redis is up: if another instance already holds the lease, this waits
    /// (at most the lease's length) for its answer to appear, so a cold
    /// value requested on several instances at once is computed once.
    ///
    /// Each lookup ends in exactly one of the counters `hits` (of which
    /// `collapsed` waited first), `misses` or `unavailable`.
    pub async fn fetch(&self, kind: Kind, key: &str) -> Fetched {
        let started = Instant::now();
        let Some(connected) = self.usable() else {
            return Fetched::Compute(Ticket::local(kind, key, self.unusable_outcome()));
        };
        let mut damaged = false;
        match self.read(&connected, kind, key).await {
            Read::Found(body) => return self.found(body, SharedOutcome::Hit, started),
            Read::Absent => {}
            Read::Damaged => damaged = true,
            Read::Failed => return self.unavailable(kind, key),
        }
        let lease_length = self.0.settings.lease;
        let deadline = started + lease_length;
        let mut waited = false;
        loop {
            match lease::acquire(self, &connected, kind, key, lease_length).await {
                Ok(Some(lease)) => {
                    // The holder before us may have stored the answer and
                    // let go between our read and our lease.
                    if waited {
                        if let Read::Found(body) = self.read(&connected, kind, key).await {
                            lease::release(self, &connected, lease).await;
                            bump(&self.0.counters.collapsed);
                            return self.found(body, SharedOutcome::Collapsed, started);
                        }
                    }
                    bump(&self.0.counters.misses);
                    return Fetched::Compute(Ticket {
                        kind,
                        key: key.to_owned(),
                        held: Some((lease, self.clone())),
                        outcome: SharedOutcome::Miss {
                            damaged,
                            stored: false,
                        },
                        spent: started.elapsed(),
                    });
                }
                Ok(None) => {}
                Err(()) => return self.unavailable(kind, key),
            }
            // Someone else is computing it: wait for their answer, or for
            // their lease to go (finished, failed or crashed), whichever is
            // first, and never past our own deadline.
            if Instant::now() >= deadline {
                bump(&self.0.counters.misses);
                let mut ticket = Ticket::local(
                    kind,
                    key,
                    SharedOutcome::Miss {
                        damaged,
                        stored: false,
                    },
                );
                ticket.spent = started.elapsed();
                return Fetched::Compute(ticket);
            }
            tokio::time::sleep(lease::POLL_INTERVAL).await;
            waited = true;
            match self.read(&connected, kind, key).await {
                Read::Found(body) => {
                    bump(&self.0.counters.collapsed);
                    return self.found(body, SharedOutcome::Collapsed, started);
                }
                Read::Absent | Read::Damaged => {}
                Read::Failed => return self.unavailable(kind, key),
            }
        }
    }

    fn found(&self, body: Arc<[u8]>, outcome: SharedOutcome, started: Instant) -> Fetched {
        bump(&self.0.counters.hits);
        self.0
            .counters
            .bytes_read
            .fetch_add(body.len() as u64, Ordering::Relaxed);
        Fetched::Found {
            body,
            lookup: SharedLookup {
                outcome,
                elapsed: started.elapsed(),
            },
        }
    }

    /// A call failed or ran out of time: this lookup is a miss.
    fn unavailable(&self, kind: Kind, key: &str) -> Fetched {
        bump(&self.0.counters.unavailable);
        Fetched::Compute(Ticket::local(kind, key, SharedOutcome::Unavailable))
    }

    /// Stores a computed answer for the other instances (when Redis is up)
    /// and releases the lease; returns what the shared tier did for this
    /// request, and what it cost in all.
    pub async fn keep(&self, mut ticket: Ticket, body: &[u8]) -> SharedLookup {
        let held = ticket.held.take();
        let SharedOutcome::Miss { damaged, .. } = ticket.outcome else {
            return SharedLookup {
                outcome: ticket.outcome,
                elapsed: ticket.spent,
            };
        };
        let writing = Instant::now();
        let stored = match self.usable() {
            Some(connected) => {
                // Stored before the lease goes, so that a waiting instance
                // finds the answer rather than a free lease.
                let stored = self.write(&connected, ticket.kind, &ticket.key, body).await;
                if let Some((lease, _)) = held {
                    lease::release(self, &connected, lease).await;
                }
                stored
            }
            None => false,
        };
        SharedLookup {
            outcome: SharedOutcome::Miss { damaged, stored },
            elapsed: ticket.spent + writing.elapsed(),
        }
    }

    async fn read(&self, connected: &Connected, kind: Kind, key: &str) -> Read {
        let store = match kind {
            Kind::Factorial => &connected.factorials,
            Kind::Data => &connected.data,
        };
        let got = tokio::time::timeout(
            self.0.settings.timeout,
            store.async_cache_get(&key.to_owned()),
        )
        .await;
        let value = match got {
            Ok(Ok(Some(value))) => value,
            Ok(Ok(None)) => return Read::Absent,
            // Bytes that are not a stored answer at all.
            Ok(Err(error)) if error.is_deserialization() => return self.damaged(),
            Ok(Err(_)) | Err(_) => {
                self.call_failed();
                return Read::Failed;
            }
        };
        match value.checked(kind, key) {
            Some(body) => Read::Found(body),
            None => self.damaged(),
        }
    }

    fn damaged(&self) -> Read {
        bump(&self.0.counters.damaged);
        Read::Damaged
    }

    async fn write(&self, connected: &Connected, kind: Kind, key: &str, body: &[u8]) -> bool {
        let Some(value) = SharedValue::of(body) else {
            return false;
        };
        let store = match kind {
            Kind::Factorial => &connected.factorials,
            Kind::Data => &connected.data,
        };
        // `set_ref` writes without reading back the value it replaces.
        let stored = self
            .call(store.async_cache_set_ref(&key.to_owned(), &value))
            .await
            .is_some();
        if stored {
            bump(&self.0.counters.stored);
        }
        stored
    }
}
