//! The background job that keeps the shared tier connected.
//!
//! It connects at start-up, and again whenever Redis went away: each time
//! from scratch (new connections, a new subscription), because a
//! connection that broke may look alive until the next call fails on it.
//! While Redis is up it pings it now and then, so an outage is noticed even
//! when no request asks, and it listens for other instances'
//! invalidations.

use crate::config::RedisUrl;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::task::JoinHandle;

use super::{coherence, AnswerStore, Health, Kind, RedisTier, NAMESPACE};

/// How often a Redis that is up is checked.
const CHECK_WHILE_UP: Duration = Duration::from_secs(1);
/// How often a Redis that is away is tried again.
const RETRY_WHILE_DOWN: Duration = Duration::from_millis(250);

/// The connections used while Redis is up.
pub(crate) struct Connected {
    /// `/factorial/<n>` answers, keyed `cachelab:factorial:<n>`.
    pub(super) factorials: AnswerStore,
    /// `/data` answers, keyed `cachelab:data:<sha256>`, with the disk
    /// tier's TTL.
    pub(super) data: AnswerStore,
    /// Leases, publishing, pings.
    pub(super) commands: ConnectionManager,
}

pub(super) async fn run(tier: RedisTier, stop: impl std::future::Future<Output = ()>) {
    tokio::pin!(stop);
    let mut listener: Option<JoinHandle<()>> = tier
        .0
        .first_listener
        .lock()
        .expect("listener lock poisoned")
        .take();
    let mut told_unreachable = false;
    loop {
        let health = tier.health();
        let wait = if health == Health::Up {
            let lost_subscription = listener.as_ref().is_some_and(JoinHandle::is_finished);
            if lost_subscription {
                tier.went_down("the subscription to invalidations was closed");
            } else if let Some(connected) = tier.usable() {
                // Twice, so that one slow answer is not taken for an outage.
                if let Err(why) = ping(&tier, &connected).await {
                    if ping(&tier, &connected).await.is_err() {
                        tier.went_down(&why);
                    }
                }
            }
            CHECK_WHILE_UP
        } else {
            match connect(&tier).await {
                Ok((connected, subscription)) => {
                    if let Some(old) = listener.replace(subscription) {
                        old.abort();
                    }
                    *tier
                        .0
                        .connected
                        .write()
                        .expect("redis connection lock poisoned") = Some(Arc::new(connected));
                    tier.0.health.store(Health::Up.as_u8(), Ordering::Relaxed);
                    if health == Health::Down || told_unreachable {
                        log::warn!("shared tier (Redis) answers again: sharing resumed");
                    }
                    told_unreachable = false;
                }
                Err(why) => {
                    if health == Health::Connecting && !told_unreachable {
                        told_unreachable = true;
                        log::warn!(
                            "shared tier (Redis) not reachable: {why}; every lookup is a miss \
                             until it answers"
                        );
                    }
                }
            }
            RETRY_WHILE_DOWN
        };
        tokio::select! {
            () = &mut stop => break,
            () = tokio::time::sleep(wait) => {}
            // A request's call failed: check now rather than at the next tick.
            () = tier.0.check_now.notified() => {}
        }
    }
    if let Some(listener) = listener {
        listener.abort();
    }
}

/// The first connection, made before the app serves anything, so that its
/// first requests can use Redis already. A failure is left to the keeper,
/// which retries and says so.
pub(super) async fn connect_at_start(tier: &RedisTier) {
    if let Ok((connected, subscription)) = connect(tier).await {
        *tier
            .0
            .connected
            .write()
            .expect("redis connection lock poisoned") = Some(Arc::new(connected));
        *tier
            .0
            .first_listener
            .lock()
            .expect("listener lock poisoned") = Some(subscription);
        tier.0.health.store(Health::Up.as_u8(), Ordering::Relaxed);
    }
}

/// One `PING`, within the timeout.
async fn ping(tier: &RedisTier, connected: &Connected) -> Result<(), String> {
    let mut connection = connected.commands.clone();
    let limit = tier.0.settings.timeout;
    match tokio::time::timeout(
        limit,
        redis::cmd("PING").query_async::<String>(&mut connection),
    )
    .await
    {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err(format!("no answer to PING within {} ms", limit.as_millis())),
    }
}

/// Everything a working tier needs, made afresh, within the timeout for
/// each step.
async fn connect(tier: &RedisTier) -> Result<(Connected, JoinHandle<()>), String> {
    let settings = &tier.0.settings;
    let url = settings
        .url
        .as_ref()
        .map(RedisUrl::as_str)
        .ok_or("no redis_url")?;
    let timeout = settings.timeout;
    let within = |what: &'static str| {
        move |elapsed: tokio::time::error::Elapsed| format!("{what}: {elapsed}")
    };
    // Errors are reported without the URL, which may hold a password.
    let client = redis::Client::open(url).map_err(|_| "redis_url does not parse".to_owned())?;
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(timeout))
        .set_response_timeout(Some(timeout))
        .set_number_of_retries(1);
    let commands = tokio::time::timeout(
        timeout * 4,
        client.get_connection_manager_with_config(config),
    )
    .await
    .map_err(within("connecting"))?
    .map_err(|error| error.to_string())?;
    let store = |prefix: &'static str, ttl: Option<Duration>| {
        let mut builder = AnswerStore::builder(prefix)
            .namespace(NAMESPACE)
            .connection_string(url)
            .connection_manager(true)
            // A value that is not a stored answer is reported, not deleted
            // quietly: it counts as damaged.
            .strict_deserialization(true);
        if let Some(ttl) = ttl {
            builder = builder.ttl(ttl);
        }
        async move {
            tokio::time::timeout(timeout * 4, builder.build())
                .await
                .map_err(within("connecting the store"))?
                .map_err(|error| error.to_string())
        }
    };
    let factorials = store("factorial", None).await?;
    let data = store("data", Some(settings.data_ttl)).await?;

    let mut subscriber = tokio::time::timeout(timeout * 4, client.get_async_pubsub())
        .await
        .map_err(within("subscribing"))?
        .map_err(|error| error.to_string())?;
    tokio::time::timeout(timeout * 4, subscriber.subscribe(coherence::channel()))
        .await
        .map_err(within("subscribing"))?
        .map_err(|error| error.to_string())?;
    let listening = tier.clone();
    let subscription = tokio::spawn(async move {
        let mut messages = subscriber.into_on_message();
        while let Some(message) = messages.next().await {
            coherence::arrived(&listening, message.get_payload_bytes());
        }
    });
    Ok((
        Connected {
            factorials,
            data,
            commands,
        },
        subscription,
    ))
}

/// Answers of both kinds in Redis now, counted with `SCAN`, within a few
/// calls' time in all (a page must not wait on a huge keyspace).
pub(super) async fn count_keys(tier: &RedisTier, connected: &Connected) -> Option<u64> {
    let budget = tier.0.settings.timeout * 5;
    tokio::time::timeout(budget, scan_count(tier, connected))
        .await
        .ok()
        .flatten()
}

async fn scan_count(tier: &RedisTier, connected: &Connected) -> Option<u64> {
    let mut total = 0;
    for kind in [Kind::Factorial, Kind::Data] {
        let pattern = format!("{NAMESPACE}:{}:*", kind.label());
        let mut connection = connected.commands.clone();
        let mut cursor: u64 = 0;
        loop {
            let (next, keys): (u64, Vec<Vec<u8>>) = tier
                .call(
                    redis::cmd("SCAN")
                        .arg(cursor)
                        .arg("MATCH")
                        .arg(&pattern)
                        .arg("COUNT")
                        .arg(1000)
                        .query_async(&mut connection),
                )
                .await?;
            total += keys.len() as u64;
            if next == 0 {
                break;
            }
            cursor = next;
        }
    }
    Some(total)
}
