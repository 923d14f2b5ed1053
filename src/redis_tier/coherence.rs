//! Coherence: a clear or an invalidation on one instance reaches the
//! memory of every other one, through Redis pub/sub.
//!
//! Each process has a memory tier of its own, so clearing one leaves the
//! others holding their copies. With a shared tier, the instance that
//! clears also publishes a message on one channel; every instance
//! subscribes to it and drops what the message names. Pub/sub delivers
//! to whoever is subscribed at that moment and keeps nothing: an instance
//! that is disconnected then never hears it (see the README's "Several
//! instances").

use serde::{Deserialize, Serialize};

use super::{bump, Connected, RedisTier, NAMESPACE};
use crate::clock::system_now_ms;

/// The channel every instance listens on.
pub(super) fn channel() -> String {
    format!("{NAMESPACE}:invalidations")
}

/// How many arrivals the pages can show.
const ARRIVALS_KEPT: usize = 20;

/// What to drop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Every entry of the memory tier.
    Memory,
    /// n! alone.
    Factorial(u64),
}

/// One message on the channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invalidation {
    /// The publishing process (name and start time), so an instance skips
    /// its own messages.
    pub origin: String,
    /// The publishing instance's name, for people.
    pub instance: String,
    pub scope: Scope,
    /// Unix milliseconds when it was published.
    pub sent_at_ms: u64,
    /// The workshop learner whose request caused it, if a named one did:
    /// the instance it reaches records the arrival for them (their evidence
    /// that a clear reaches every instance). Absent in messages from
    /// versions before it was sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub learner: Option<String>,
}

/// An invalidation as it arrived here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Arrival {
    pub from_instance: String,
    pub scope: Scope,
    pub sent_at_ms: u64,
    pub arrived_at_ms: u64,
    /// How long it took to arrive, by the two machines' clocks (the same
    /// clock when the instances share a machine).
    pub delay_ms: u64,
    /// Entries this instance's memory dropped for it.
    pub removed: usize,
}

pub(super) async fn publish(
    tier: &RedisTier,
    connected: &Connected,
    message: &Invalidation,
) -> Option<()> {
    let text = serde_json::to_string(message).ok()?;
    let mut connection = connected.commands.clone();
    tier.call(
        redis::cmd("PUBLISH")
            .arg(channel())
            .arg(text)
            .query_async::<i64>(&mut connection),
    )
    .await
    .map(|_| ())
}

/// Applies a message from the channel: another instance's is handed to the
/// app's handler and remembered for the pages; our own is skipped.
pub(super) fn arrived(tier: &RedisTier, payload: &[u8]) {
    let Ok(message) = serde_json::from_slice::<Invalidation>(payload) else {
        // Not ours to read (another program on the channel): ignored.
        return;
    };
    if message.origin == tier.0.origin {
        return;
    }
    bump(&tier.0.counters.invalidations_received);
    let removed = tier
        .0
        .on_invalidation
        .read()
        .expect("invalidation handler lock poisoned")
        .as_ref()
        .map_or(0, |handler| handler(&message));
    let arrived_at_ms = system_now_ms();
    let arrival = Arrival {
        from_instance: message.instance.clone(),
        scope: message.scope,
        sent_at_ms: message.sent_at_ms,
        arrived_at_ms,
        delay_ms: arrived_at_ms.saturating_sub(message.sent_at_ms),
        removed,
    };
    let mut arrivals = tier.0.arrivals.lock().expect("arrivals lock poisoned");
    if arrivals.len() == ARRIVALS_KEPT {
        arrivals.pop_front();
    }
    arrivals.push_back(arrival);
}
