//! One room across instances: every line the workshop writes also goes to a
//! Redis stream, and every instance applies the others' lines.
//!
//! Each line is numbered by the run that wrote it (its *origin*: the
//! instance's name and boot id) and appended with `XADD ... MAXLEN ~`, so
//! the stream stays bounded. A background task ([`SharingTask`]) sends this
//! run's lines and reads the stream with `XREAD BLOCK` on a connection of
//! its own, from the start whenever it (re)connects: a new instance, or
//! one restarted with an empty progress file, learns the room's history.
//! A line is applied as replaying the progress file applies it, at most
//! once per origin and number (the highest number held from each origin is
//! kept, in the progress file too), and is written to the progress file,
//! so progress survives a restart without Redis.
//!
//! No request waits on Redis: lines are queued, and the task sends them.
//! Every call to Redis gives up after `redis_timeout`; while Redis cannot
//! be reached, lines wait (up to [`OUTBOX_MAX_LINES`]) and the task tries
//! again with a short backoff. An outage is logged once, and its end once.
//!
//! Limits: lines evicted from the stream by its bound, and lines other
//! instances wrote while this one could not read and Redis then lost (a
//! restart of Redis empties the stream), never reach this instance. Every
//! instance of a room must have the same room secret (copy the
//! `.secret` file beside the progress file to each machine); lines from
//! another room are ignored, with one warning.

use crate::config::RedisUrl;
use std::collections::VecDeque;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::Weak;
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::streams::{StreamId, StreamReadReply};
use redis::AsyncConnectionConfig;
use tokio::sync::Notify;

use super::*;

/// The stream every instance of a room appends to and reads.
pub const STREAM_KEY: &str = "cachelab:workshop";

/// About how many lines the stream keeps (`MAXLEN ~`): a few days of a busy
/// room, some tens of megabytes at most. An instance started later learns
/// only these.
const STREAM_MAX_LINES: u64 = 50_000;

/// Lines this instance keeps for Redis while it cannot be reached. Past
/// this, the oldest waiting line is dropped (and counted in
/// [`SharingStatus::lines_dropped`]): this instance and its progress file
/// keep it, but the other instances never learn it.
pub const OUTBOX_MAX_LINES: usize = 10_000;

/// Lines sent in one pipeline, and read in one `XREAD`.
const SEND_BATCH: usize = 100;
const READ_BATCH: usize = 500;

/// How long one `XREAD` waits for new lines before asking again.
const READ_BLOCK: Duration = Duration::from_secs(1);

/// The wait before trying Redis again, doubled after each failure up to the
/// longest: an outage costs nothing, and the room is in step again within
/// a second or two of Redis coming back.
const RETRY_FIRST: Duration = Duration::from_millis(100);
const RETRY_LONGEST: Duration = Duration::from_secs(1);

/// How a room is shared between instances.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedRoom {
    /// This instance's name, recorded with each of its events.
    pub instance: InstanceName,
    pub redis_url: RedisUrl,
    /// How long any one call to Redis may take.
    pub redis_timeout: Duration,
}

impl SharedRoom {
    /// The shared room the settings ask for: `None` without `redis_url`.
    pub fn from_config(config: &crate::Config) -> Option<Self> {
        Some(Self {
            instance: config.instance_name.clone(),
            redis_url: config.redis_url.clone()?,
            redis_timeout: config.redis_timeout(),
        })
    }
}

/// One run of one instance: where a shared line comes from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub(super) struct Origin {
    instance: InstanceName,
    boot: u64,
}

impl Origin {
    /// As written in the stream: `<instance>/<boot>` (a name has no `/`).
    fn field(&self) -> String {
        format!("{}/{}", self.instance, self.boot)
    }

    fn parse(field: &str) -> Option<Self> {
        let (instance, boot) = field.rsplit_once('/')?;
        Some(Self {
            instance: InstanceName::parse(instance).ok()?,
            boot: boot.parse().ok()?,
        })
    }
}

/// A progress-file line with its origin and its number there.
#[derive(Clone, Serialize, Deserialize)]
pub(super) struct SharedLine {
    pub(super) origin: Origin,
    pub(super) number: u64,
    pub(super) line: LogLine,
}

/// Whether this instance can reach the room's Redis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SharingState {
    /// No `redis_url`: this instance keeps its room to itself.
    Off,
    /// Not yet connected since start-up.
    Connecting,
    Connected,
    /// The last call to Redis failed; lines wait for it.
    Unavailable,
}

/// How the sharing of the room is going, for pages and `/stats`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SharingStatus {
    pub state: SharingState,
    /// This instance's lines now in the stream.
    pub lines_shared: u64,
    /// Other instances' lines applied here.
    pub lines_received: u64,
    /// Lines waiting for Redis.
    pub lines_waiting: usize,
    /// Lines given up past [`OUTBOX_MAX_LINES`].
    pub lines_dropped: u64,
    /// Calls to Redis that failed or took too long.
    pub errors: u64,
}

impl SharingStatus {
    pub(super) fn off() -> Self {
        Self {
            state: SharingState::Off,
            lines_shared: 0,
            lines_received: 0,
            lines_waiting: 0,
            lines_dropped: 0,
            errors: 0,
        }
    }
}

const CONNECTING: u8 = 0;
const CONNECTED: u8 = 1;
const UNAVAILABLE: u8 = 2;

/// What the workshop and its sharing task both hold: the queue of lines
/// for Redis, and the counters.
pub(super) struct Link {
    room: SharedRoom,
    origin: Origin,
    /// Sent with each line, so lines from another room are told apart.
    room_id: String,
    outbox: Mutex<Outbox>,
    wake: Notify,
    reachable: AtomicU8,
    lines_shared: AtomicU64,
    lines_received: AtomicU64,
    lines_dropped: AtomicU64,
    errors: AtomicU64,
    task_taken: AtomicBool,
    warned_other_room: AtomicBool,
    warned_same_name: AtomicBool,
}

#[derive(Default)]
struct Outbox {
    waiting: VecDeque<Outgoing>,
    /// The number of the latest line queued.
    latest_number: u64,
}

#[derive(Clone)]
struct Outgoing {
    number: u64,
    json: String,
}

impl Link {
    pub(super) fn new(room: SharedRoom, boot: u64, room_id: String) -> Self {
        Self {
            origin: Origin {
                instance: room.instance.clone(),
                boot,
            },
            room,
            room_id,
            outbox: Mutex::new(Outbox::default()),
            wake: Notify::new(),
            reachable: AtomicU8::new(CONNECTING),
            lines_shared: AtomicU64::new(0),
            lines_received: AtomicU64::new(0),
            lines_dropped: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            task_taken: AtomicBool::new(false),
            warned_other_room: AtomicBool::new(false),
            warned_same_name: AtomicBool::new(false),
        }
    }

    pub(super) fn origin(&self) -> &Origin {
        &self.origin
    }

    /// Numbers `line` and queues it for Redis; returns its number. Never
    /// waits on Redis.
    pub(super) fn enqueue(&self, line: &LogLine) -> u64 {
        let json = serde_json::to_string(line).expect("a log line always serializes");
        let mut outbox = self.lock_outbox();
        outbox.latest_number += 1;
        let number = outbox.latest_number;
        outbox.waiting.push_back(Outgoing { number, json });
        if outbox.waiting.len() > OUTBOX_MAX_LINES {
            outbox.waiting.pop_front();
            if self.lines_dropped.fetch_add(1, Ordering::Relaxed) == 0 {
                log::warn!(
                    "workshop sharing: more than {OUTBOX_MAX_LINES} lines wait for Redis; \
                     the oldest are dropped (this instance keeps them)"
                );
            }
        }
        drop(outbox);
        self.wake.notify_one();
        number
    }

    /// The number of the latest line queued: every line up to it is in this
    /// instance's state.
    pub(super) fn lines_numbered(&self) -> u64 {
        self.lock_outbox().latest_number
    }

    /// Whether the sharing task may be started (only the first ask gets it).
    pub(super) fn take_task(&self) -> bool {
        !self.task_taken.swap(true, Ordering::Relaxed)
    }

    pub(super) fn status(&self) -> SharingStatus {
        SharingStatus {
            state: match self.reachable.load(Ordering::Relaxed) {
                CONNECTED => SharingState::Connected,
                UNAVAILABLE => SharingState::Unavailable,
                _ => SharingState::Connecting,
            },
            lines_shared: self.lines_shared.load(Ordering::Relaxed),
            lines_received: self.lines_received.load(Ordering::Relaxed),
            lines_waiting: self.lock_outbox().waiting.len(),
            lines_dropped: self.lines_dropped.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
        }
    }

    fn lock_outbox(&self) -> MutexGuard<'_, Outbox> {
        self.outbox.lock().expect("workshop outbox lock poisoned")
    }

    /// The oldest waiting lines, at most `limit`, still queued.
    fn oldest_waiting(&self, limit: usize) -> Vec<Outgoing> {
        let outbox = self.lock_outbox();
        outbox.waiting.iter().take(limit).cloned().collect()
    }

    /// Takes lines up to `number` off the queue: they are in the stream.
    fn sent_up_to(&self, number: u64) {
        let mut outbox = self.lock_outbox();
        let mut sent = 0;
        while outbox
            .waiting
            .front()
            .is_some_and(|line| line.number <= number)
        {
            outbox.waiting.pop_front();
            sent += 1;
        }
        self.lines_shared.fetch_add(sent, Ordering::Relaxed);
    }

    /// Notes a call to Redis that worked; logs the end of an outage.
    fn reached(&self) {
        match self.reachable.swap(CONNECTED, Ordering::Relaxed) {
            // The URL is never logged: it may hold a password.
            UNAVAILABLE => log::warn!("workshop sharing: Redis is reachable again"),
            CONNECTING => log::info!(
                "workshop sharing: the room is shared through Redis as {}",
                self.origin.instance
            ),
            _ => {}
        }
    }

    /// Notes a call to Redis that failed; logs the start of an outage once.
    fn failed(&self, what: &str, error: &dyn std::fmt::Display) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        if self.reachable.swap(UNAVAILABLE, Ordering::Relaxed) != UNAVAILABLE {
            log::warn!(
                "workshop sharing: Redis unavailable ({what}: {error}); lines wait for it \
                 and requests are not slowed"
            );
        }
    }

    /// The line in a stream entry, if it is another instance's line of
    /// this room. Warns once about lines from another room, and about
    /// another instance that uses this one's name.
    fn line_from_other(&self, entry: &StreamId) -> Option<SharedLine> {
        let origin = Origin::parse(&entry.get::<String>("origin")?)?;
        if origin == self.origin {
            return None;
        }
        if entry.get::<String>("room")? != self.room_id {
            if !self.warned_other_room.swap(true, Ordering::Relaxed) {
                log::warn!(
                    "workshop sharing: {STREAM_KEY} holds lines from {} with another room \
                     secret; they are ignored (copy the .secret file beside the progress file \
                     to every instance of a room)",
                    origin.instance
                );
            }
            return None;
        }
        if origin.instance == self.origin.instance
            && origin.boot >= self.origin.boot
            && !self.warned_same_name.swap(true, Ordering::Relaxed)
        {
            log::warn!(
                "workshop sharing: another running instance is also named {}; give each \
                 instance its own instance_name, or their events look like one instance's",
                origin.instance
            );
        }
        let number = entry.get::<u64>("number")?;
        let line = serde_json::from_str(&entry.get::<String>("line")?).ok()?;
        Some(SharedLine {
            origin,
            number,
            line,
        })
    }
}

/// The background work of a shared room: sends this instance's lines and
/// applies the others'. See [`SharingTask::run`].
pub struct SharingTask {
    core: Weak<Core>,
    link: Arc<Link>,
}

impl SharingTask {
    pub(super) fn new(core: Weak<Core>, link: Arc<Link>) -> Self {
        Self { core, link }
    }

    /// Runs until `stop` completes or the workshop is dropped, reconnecting
    /// by itself whenever Redis fails.
    pub async fn run(self, stop: impl Future<Output = ()>) {
        let client = match redis::Client::open(self.link.room.redis_url.as_str()) {
            Ok(client) => client,
            Err(_) => {
                // The settings were checked at start, so this is not
                // expected; the error is not shown, since it may quote the
                // URL and its password.
                log::warn!("workshop sharing off: redis_url does not parse");
                return;
            }
        };
        tokio::select! {
            () = stop => {}
            () = send_lines(&client, &self.link, &self.core) => {}
            () = read_lines(&client, &self.link, &self.core) => {}
        }
    }
}

/// Sends queued lines, oldest first, until the workshop is dropped.
async fn send_lines(client: &redis::Client, link: &Link, core: &Weak<Core>) {
    let timeout = link.room.redis_timeout;
    let mut connection: Option<MultiplexedConnection> = None;
    let mut retry = RETRY_FIRST;
    while core.strong_count() > 0 {
        let batch = link.oldest_waiting(SEND_BATCH);
        let Some(last) = batch.last().map(|line| line.number) else {
            // Woken by a new line, or once a second to notice the end.
            let _ = tokio::time::timeout(Duration::from_secs(1), link.wake.notified()).await;
            continue;
        };
        let sent = match connection.as_mut() {
            Some(connection) => append(connection, link, &batch, timeout).await,
            None => match connect(client, Some(timeout)).await {
                Ok(mut opened) => {
                    let sent = append(&mut opened, link, &batch, timeout).await;
                    connection = Some(opened);
                    sent
                }
                Err(error) => Err(error),
            },
        };
        match sent {
            Ok(()) => {
                link.sent_up_to(last);
                link.reached();
                retry = RETRY_FIRST;
            }
            Err(error) => {
                // A line may be in the stream already: sending it again is
                // harmless, as readers skip a number they hold.
                connection = None;
                link.failed("sending", &error);
                tokio::time::sleep(retry).await;
                retry = (retry * 2).min(RETRY_LONGEST);
            }
        }
    }
}

/// `XADD`s `batch` in one pipeline, within `timeout`.
async fn append(
    connection: &mut MultiplexedConnection,
    link: &Link,
    batch: &[Outgoing],
    timeout: Duration,
) -> Result<(), String> {
    let origin = link.origin.field();
    let mut pipeline = redis::pipe();
    for line in batch {
        pipeline
            .cmd("XADD")
            .arg(STREAM_KEY)
            .arg("MAXLEN")
            .arg("~")
            .arg(STREAM_MAX_LINES)
            .arg("*")
            .arg("origin")
            .arg(&origin)
            .arg("number")
            .arg(line.number)
            .arg("room")
            .arg(&link.room_id)
            .arg("line")
            .arg(&line.json)
            .ignore();
    }
    match tokio::time::timeout(timeout, pipeline.query_async::<()>(connection)).await {
        Ok(result) => result.map_err(|error| error.to_string()),
        Err(_) => Err(format!("no answer within {timeout:?}")),
    }
}

/// Reads the stream and applies the other instances' lines, until the
/// workshop is dropped. Every (re)connection reads from the start: at
/// start-up that is the room's history, and after Redis restarted empty
/// the old position would skip new lines. Lines already held are skipped.
async fn read_lines(client: &redis::Client, link: &Link, core: &Weak<Core>) {
    let timeout = link.room.redis_timeout;
    let mut retry = RETRY_FIRST;
    while core.strong_count() > 0 {
        // A connection of its own: XREAD BLOCK holds it while it waits, so
        // its answer may take READ_BLOCK, and the timeout is applied here.
        let mut connection = match connect(client, None).await {
            Ok(connection) => connection,
            Err(error) => {
                link.failed("reading", &error);
                tokio::time::sleep(retry).await;
                retry = (retry * 2).min(RETRY_LONGEST);
                continue;
            }
        };
        let mut position = String::from("0-0");
        loop {
            let read = redis::cmd("XREAD")
                .arg("COUNT")
                .arg(READ_BATCH)
                .arg("BLOCK")
                .arg(READ_BLOCK.as_millis() as u64)
                .arg("STREAMS")
                .arg(STREAM_KEY)
                .arg(&position)
                .to_owned();
            let answer = tokio::time::timeout(
                READ_BLOCK + timeout,
                read.query_async::<Option<StreamReadReply>>(&mut connection),
            )
            .await;
            let entries: Vec<StreamId> = match answer {
                Ok(Ok(reply)) => reply
                    .into_iter()
                    .flat_map(|reply| reply.keys)
                    .flat_map(|key| key.ids)
                    .collect(),
                Ok(Err(error)) => {
                    link.failed("reading", &error);
                    break;
                }
                Err(_) => {
                    link.failed("reading", &format!("no answer within {timeout:?}"));
                    break;
                }
            };
            link.reached();
            retry = RETRY_FIRST;
            let Some(core) = core.upgrade() else {
                return;
            };
            if let Some(last) = entries.last() {
                position = last.id.clone();
                let lines = entries
                    .iter()
                    .filter_map(|entry| link.line_from_other(entry));
                let applied = core.apply_shared(lines);
                link.lines_received
                    .fetch_add(applied as u64, Ordering::Relaxed);
            }
        }
        tokio::time::sleep(retry).await;
        retry = (retry * 2).min(RETRY_LONGEST);
    }
}

/// A connection whose connecting, and each answer unless `response` is
/// `None`, gives up after the room's timeout.
async fn connect(
    client: &redis::Client,
    response: Option<Duration>,
) -> Result<MultiplexedConnection, String> {
    let limit = response.unwrap_or(RETRY_LONGEST);
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(limit))
        .set_response_timeout(response);
    match tokio::time::timeout(
        limit,
        client.get_multiplexed_async_connection_with_config(&config),
    )
    .await
    {
        Ok(connection) => connection.map_err(|error| error.to_string()),
        Err(_) => Err(format!("no connection within {limit:?}")),
    }
}

impl Core {
    /// Applies lines from the room's other instances, each as replaying
    /// the progress file would, except that events and clears are numbered
    /// here as they arrive (`seq` orders what this workshop holds). Writes
    /// them to the progress file, then ticks what the learners' events now
    /// show: the last step of an exercise may have been done here before
    /// an earlier step done elsewhere arrived. Returns how many were new.
    fn apply_shared(&self, lines: impl Iterator<Item = SharedLine>) -> usize {
        let mut state = self.lock();
        let mut learners_with_new_events = Vec::new();
        let mut applied = 0;
        for SharedLine {
            origin,
            number,
            mut line,
        } in lines
        {
            let held = state.shared_marks.get(&origin).copied().unwrap_or(0);
            if number <= held || matches!(line, LogLine::Shared(_) | LogLine::SharedUpTo { .. }) {
                continue;
            }
            match &mut line {
                LogLine::Event { learner, event } => {
                    if !state.learners.contains_key(learner)
                        && !make_room_for_a_learner(&mut state.learners, MAX_LEARNERS - 1)
                    {
                        continue;
                    }
                    event.seq = state.take_seq();
                    learners_with_new_events.push(learner.clone());
                }
                LogLine::Clear(clear) => clear.seq = state.take_seq(),
                _ => {}
            }
            let line = LogLine::Shared(Box::new(SharedLine {
                origin,
                number,
                line,
            }));
            apply_line(&mut state, line.clone());
            // Written as applied, with its number, so a restart holds it too.
            self.write_to_file(line);
            applied += 1;
        }
        learners_with_new_events.dedup();
        for learner in learners_with_new_events {
            let plan = self.plan(&learner);
            self.tick_what_events_show(&mut state, &learner, &plan);
        }
        self.compact_if_grown(&mut state);
        applied
    }
}

#[cfg(test)]
mod tests;
