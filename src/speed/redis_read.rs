//! Timing a read of the value from the shared tier's Redis server.
//!
//! A plain `GET` of a key of its own under the app's namespace
//! (`cachelab:speed:…`), on a connection of its own: the shared tier's
//! counters and the workshop's evidence stay untouched by a measurement, and
//! the timing is the round trip itself, not the tier's checks around it.

use crate::config::RedisUrl;
use std::time::{Duration, Instant};

use super::places::Timings;

/// Where and how to reach Redis for one measurement.
#[derive(Debug, Clone)]
pub struct RedisTarget {
    pub url: RedisUrl,
    /// The key written, read and deleted.
    pub key: String,
    /// How long any one call may take (the shared tier's `redis_timeout_ms`).
    pub timeout: Duration,
}

/// How long the written key may outlive a run that never got to delete it.
const KEY_LIFETIME: Duration = Duration::from_secs(60);

/// Writes `value` under the target's key, times `runs` reads of it, and
/// deletes it.
pub async fn redis_reads(target: &RedisTarget, value: &[u8], runs: usize) -> Timings {
    let within =
        |what: &'static str| move |_| format!("{what} took longer than {:?}", target.timeout);
    // Errors never repeat the URL, which may hold a password.
    let client =
        redis::Client::open(target.url.as_str()).map_err(|_| "redis_url does not parse")?;
    let mut connection = tokio::time::timeout(
        target.timeout * 4,
        client.get_multiplexed_async_connection(),
    )
    .await
    .map_err(within("connecting"))?
    .map_err(|error| format!("connecting: {error}"))?;
    tokio::time::timeout(
        target.timeout,
        redis::cmd("SET")
            .arg(&target.key)
            .arg(value)
            .arg("PX")
            .arg(u64::try_from(KEY_LIFETIME.as_millis()).unwrap_or(u64::MAX))
            .query_async::<()>(&mut connection),
    )
    .await
    .map_err(within("SET"))?
    .map_err(|error| format!("SET: {error}"))?;
    let mut timings = Vec::with_capacity(runs);
    let mut outcome = Ok(());
    for _ in 0..runs {
        let started = Instant::now();
        let got = tokio::time::timeout(
            target.timeout,
            redis::cmd("GET")
                .arg(&target.key)
                .query_async::<Option<Vec<u8>>>(&mut connection),
        )
        .await;
        timings.push(started.elapsed());
        outcome = match got {
            Ok(Ok(Some(bytes))) if bytes == value => Ok(()),
            Ok(Ok(_)) => Err("GET returned something other than the value".to_owned()),
            Ok(Err(error)) => Err(format!("GET: {error}")),
            Err(_) => Err(format!("GET took longer than {:?}", target.timeout)),
        };
        if outcome.is_err() {
            break;
        }
    }
    // Best effort: the key expires by itself if this fails.
    let _ = tokio::time::timeout(
        target.timeout,
        redis::cmd("DEL")
            .arg(&target.key)
            .query_async::<i64>(&mut connection),
    )
    .await;
    outcome.map(|()| timings)
}
