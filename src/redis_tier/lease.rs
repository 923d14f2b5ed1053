//! Leases: one instance computes a missing answer while the others wait.
//!
//! The first instance to miss takes the lease with `SET key token NX PX
//! ms`: set only if absent, gone by itself after `ms`. The others see it
//! taken, and poll for the answer until it appears, the lease goes, or
//! their own wait reaches the lease's length, so a holder that crashed
//! mid-computation holds nobody up for longer than that. The holder
//! releases the lease only if it is still its own (a short Lua script
//! compares and deletes in one step): after a long computation the lease
//! may have expired and been taken by someone else.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::{Connected, Kind, RedisTier, NAMESPACE};

/// How often a waiting instance looks for the answer.
pub(super) const POLL_INTERVAL: Duration = Duration::from_millis(10);

/// Deletes the lease only if it still holds our token.
const RELEASE_IF_OURS: &str = r#"
if redis.call("GET", KEYS[1]) == ARGV[1] then
  return redis.call("DEL", KEYS[1])
end
return 0
"#;

/// A lease this instance holds.
#[derive(Debug)]
pub struct Lease {
    key: String,
    token: String,
}

/// Numbers this process's leases, so each token is unique.
static LEASES_TAKEN: AtomicU64 = AtomicU64::new(0);

/// The lease's key in Redis.
pub(super) fn lease_key(kind: Kind, key: &str) -> String {
    format!("{NAMESPACE}:lease:{}:{key}", kind.label())
}

/// Takes the lease for `key`. `Ok(None)`: another instance holds it.
/// `Err(())`: Redis could not be asked (the tier is now down).
pub(super) async fn acquire(
    tier: &RedisTier,
    connected: &Connected,
    kind: Kind,
    key: &str,
    length: Duration,
) -> Result<Option<Lease>, ()> {
    let lease = Lease {
        key: lease_key(kind, key),
        token: format!(
            "{}/{}",
            tier.0.origin,
            LEASES_TAKEN.fetch_add(1, Ordering::Relaxed)
        ),
    };
    let mut connection = connected.commands.clone();
    let set: Option<String> = tier
        .call(
            redis::cmd("SET")
                .arg(&lease.key)
                .arg(&lease.token)
                .arg("NX")
                .arg("PX")
                .arg(u64::try_from(length.as_millis()).unwrap_or(u64::MAX))
                .query_async::<Option<String>>(&mut connection),
        )
        .await
        .ok_or(())?;
    Ok(set.map(|_| lease))
}

/// Gives the lease back, if it is still ours.
pub(super) async fn release(tier: &RedisTier, connected: &Connected, lease: Lease) {
    let mut connection = connected.commands.clone();
    let script = redis::Script::new(RELEASE_IF_OURS);
    let _: Option<i64> = tier
        .call(
            script
                .key(&lease.key)
                .arg(&lease.token)
                .invoke_async::<i64>(&mut connection),
        )
        .await;
}
