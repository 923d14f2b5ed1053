//! Workshop progress: what each learner did, and which exercises that proves.
//!
//! Every experiment a learner runs (with a name proven by its key, from a
//! cookie, an `X-Learner` header or a `?learner=` parameter: see
//! [`Credential`]) becomes an [`Event`]. An exercise is ticked when its check
//! finds the learner's events show the effect it teaches, so progress is
//! checked by the app, not taken on trust.
//!
//! Events and ticks are appended to a JSON-lines file beside `cache_dir` (not
//! inside it: clearing the disk cache must not wipe anyone's progress) by a
//! background thread, so no request waits on that write, and replayed at
//! start-up. Each start gets a new boot id, which is how the persistence
//! exercise tells that the app was restarted between two requests.
//!
//! With `redis_url` set, instances share the room through a Redis stream
//! (see [`SharedRoom`]): a learner's progress is the same whichever
//! instance answers.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, Sender};
use std::sync::{Arc, Mutex, MutexGuard};

use serde::{Deserialize, Serialize};

use crate::clock::system_now_ms as now_ms;
use crate::disk::MissReason;
use crate::instances::InstanceName;

mod checks;
mod event;
mod exercise;
mod identity;
mod learner;
mod plan;
mod progress_log;
mod reading;
mod records;
mod shared_log;

pub use checks::sizing::{sized_from_the_curve, LOWEST_TARGET_PERCENT, MOST_OVER_SMALLEST};
pub use checks::{check, check_at, check_report, reports_used_up, short, Evidence};
pub use event::{
    CataloguePriceEvent, CatalogueReadEvent, ClearedTier, DataEvent, Event, FactorialEvent,
    HttpResourceEvent, SharedStep, SizingReplayEvent, What,
};
pub use exercise::Exercise;
pub use identity::{room_secret_path, Credential, CredentialRefusal, InstructorKey, RoomSecret};
pub use learner::LearnerName;
pub use plan::{key_of, HttpLesson, LruSteps, Path as ExercisePath, Plan, PlanSettings};
use progress_log::*;
pub use reading::{Reading, ReadingError};
pub use records::LearnerProgress;
use records::{make_room_for_a_learner, progress, LearnerRecord};
use shared_log::{Link, Origin, SharedLine};
pub use shared_log::{SharedRoom, SharingState, SharingStatus, SharingTask};

/// Events kept per learner: enough for every exercise, bounded so a busy
/// room cannot grow memory without limit. Some checks compare events
/// pairwise while the workshop is locked, so this also bounds their cost
/// (tens of microseconds per request at this size).
const EVENTS_PER_LEARNER: usize = 200;

/// Learners remembered at once. A room is far smaller; the bound is there so
/// that a client inventing names cannot grow memory or the progress file
/// without limit. The least recently seen are forgotten first.
const MAX_LEARNERS: usize = 2_000;

/// Lines the progress file may hold beyond what is remembered before it is
/// compacted while running (about 2 MB). Small in unit tests, so that they
/// reach it quickly.
#[cfg(not(test))]
const COMPACTION_SLACK_LINES: u64 = 10_000;
#[cfg(test)]
const COMPACTION_SLACK_LINES: u64 = 100;

/// Clears remembered for the eviction check; older ones no longer matter.
const CLEARS_KEPT: usize = 10_000;

/// Requests counted as arriving "together" for the stampede exercise.
const STAMPEDE_WINDOW_MS: u64 = 5_000;

/// How many requests must wait on one computation to show a stampede was absorbed.
const STAMPEDE_MIN_WAITERS: usize = 3;

/// What a timings report came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Report {
    /// The numbers are this learner's own miss and hit.
    Matched(Evidence),
    /// They are not.
    NoMatch,
    /// Too many reports about the learner's latest miss: a new miss must be
    /// measured before another counts.
    UsedUp,
}

/// Proof that an exercise was done.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tick {
    pub at_ms: u64,
    pub evidence: Evidence,
}

/// A clear by anyone: evictions only count if no clear explains the miss.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClearRecord {
    at_ms: u64,
    boot: u64,
    #[serde(default)]
    seq: u64,
    /// The instance whose tiers it emptied (see [`Event::instance`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    instance: Option<InstanceName>,
    tier: ClearedTier,
}

/// One line of the progress file.
#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum LogLine {
    Event {
        learner: LearnerName,
        event: Event,
    },
    Tick {
        learner: LearnerName,
        exercise: Exercise,
        tick: Tick,
    },
    Clear(ClearRecord),
    Renamed {
        from: LearnerName,
        to: LearnerName,
        /// The claim number of the key handed out with the new name.
        #[serde(default)]
        claim: Option<u32>,
    },
    /// A name taken by the first use of a key for it.
    Claimed {
        learner: LearnerName,
        claim: u32,
    },
    /// A line numbered by the run of the instance it came from, in a room
    /// shared through Redis (see `shared_log`).
    Shared(Box<SharedLine>),
    /// Every line up to `number` from `origin` is already held.
    SharedUpTo {
        origin: Origin,
        number: u64,
    },
}

#[derive(Default)]
struct State {
    learners: HashMap<LearnerName, LearnerRecord>,
    clears: Vec<ClearRecord>,
    next_seq: u64,
    /// The highest line number held from each run of each instance, so a
    /// line read again from Redis is not applied twice. One entry per run.
    shared_marks: HashMap<Origin, u64>,
}

impl State {
    fn take_seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }
}

/// Every learner's events and ticks.
pub struct Workshop {
    /// Shared with the task that keeps a shared room in step (see
    /// [`Workshop::sharing_task`]), which holds it weakly.
    core: Arc<Core>,
}

/// What the workshop holds.
struct Core {
    state: Mutex<State>,
    boot: u64,
    /// This instance's name in a room shared through Redis, `None` otherwise.
    instance: Option<InstanceName>,
    /// The queue to the room's stream, in a room shared through Redis.
    link: Option<Arc<Link>>,
    /// What each learner's own exercise inputs are derived from.
    plan_settings: PlanSettings,
    log: Option<ProgressLog>,
    /// What learners' keys are worked out from (see [`RoomSecret`]).
    secret: RoomSecret,
    /// Held for as long as this workshop may write the progress file (see
    /// [`Workshop::open`]); closing it releases the lock.
    _exclusive: Option<File>,
}

impl Workshop {
    /// Opens (or starts) the progress file at `path`. A file that cannot be
    /// written leaves the workshop running in memory only, with a warning:
    /// losing progress on restart beats refusing to teach.
    ///
    /// Only one running copy of the app may write the file: compacting it
    /// rewrites it whole, so a second copy started by mistake (on a port
    /// already taken, say) would replace the file under the first, and the
    /// first's later ticks would be lost at its next restart. The writer
    /// holds an exclusive lock on `<path>.lock` (released by the kernel when
    /// the process ends, however it ends); a copy that cannot take it reads
    /// the progress but never writes the file.
    ///
    /// The room secret beside the file is read (or made) by every copy, so
    /// two copies on one progress file accept the same keys.
    pub fn open(path: &Path, plan_settings: PlanSettings) -> Self {
        Self::open_shared(path, plan_settings, None)
    }

    /// [`Workshop::open`], in a room shared with other instances through
    /// Redis when `shared` says so: nothing reaches Redis until
    /// [`Workshop::sharing_task`] runs.
    pub fn open_shared(
        path: &Path,
        plan_settings: PlanSettings,
        shared: Option<SharedRoom>,
    ) -> Self {
        let secret = RoomSecret::for_progress_file(path);
        let exclusive = lock_progress_file(path);
        let mut state = State::default();
        let boot = replay(path, &mut state).saturating_add(1).max(now_ms());
        let log = exclusive.as_ref().and_then(|_| {
            let replayed_events = state.learners.values().flat_map(|record| &record.events);
            state.next_seq = replayed_events
                .map(|event| event.seq)
                .chain(state.clears.iter().map(|clear| clear.seq))
                .max()
                .unwrap_or(0);
            make_room_for_a_learner(&mut state.learners, MAX_LEARNERS);
            if let Err(error) = compact(path, &state) {
                log::warn!(
                    "workshop progress file {} not compacted: {error}",
                    path.display()
                );
            }
            ProgressLog::open(path)
        });
        let instance = shared.as_ref().map(|room| room.instance.clone());
        let link = shared.map(|room| Arc::new(Link::new(room, boot, secret.room_id())));
        let core = Core {
            state: Mutex::new(state),
            boot,
            instance,
            link,
            plan_settings,
            log,
            secret,
            _exclusive: exclusive,
        };
        Self {
            core: Arc::new(core),
        }
    }

    /// Records what `learner` did and ticks any exercise it completes.
    pub fn record(&self, learner: &LearnerName, what: What) {
        self.record_then(learner, what, |_, _| ());
    }

    /// Records a learner's report of the timings they read, and says
    /// whether this report (not an earlier one) matches what the server
    /// measured for them.
    pub fn report_timings(&self, learner: &LearnerName, miss: Reading, hit: Reading) -> Report {
        self.record_then(
            learner,
            What::TimingsReported { miss, hit },
            |plan, events| {
                let report = events.len() - 1;
                match check_report(plan, events, report) {
                    Some(evidence) => Report::Matched(evidence),
                    None if reports_used_up(plan, events, report) => Report::UsedUp,
                    None => Report::NoMatch,
                }
            },
        )
        .unwrap_or(Report::NoMatch)
    }

    /// Records `what`, ticks what it completes, and returns what `then`
    /// finds in the learner's events afterwards (under the same lock, so no
    /// other request slips in between).
    fn record_then<R>(
        &self,
        learner: &LearnerName,
        what: What,
        then: impl FnOnce(&Plan, &[Event]) -> R,
    ) -> Option<R> {
        if let What::Cleared { tier, .. } = what {
            self.note_clear(tier);
        }
        let mut state = self.core.lock();
        self.record_locked(&mut state, learner, what, then)
    }

    /// [`Workshop::record_then`], with the state already locked by the caller.
    fn record_locked<R>(
        &self,
        state: &mut State,
        learner: &LearnerName,
        what: What,
        then: impl FnOnce(&Plan, &[Event]) -> R,
    ) -> Option<R> {
        if !state.learners.contains_key(learner)
            && !make_room_for_a_learner(&mut state.learners, MAX_LEARNERS - 1)
        {
            // Every place is taken by a learner who has done exercises: a
            // flood of new names must not cost anyone their ticks.
            log::debug!(
                "workshop full: {MAX_LEARNERS} learners with ticks; {learner} not recorded"
            );
            return None;
        }
        let event = Event {
            at_ms: now_ms(),
            boot: self.core.boot,
            seq: state.take_seq(),
            instance: self.core.instance.clone(),
            what,
        };
        self.core.write(LogLine::Event {
            learner: learner.clone(),
            event: event.clone(),
        });
        let plan = self.plan(learner);
        let record = state.learners.entry(learner.clone()).or_default();
        record.last_seen_ms = event.at_ms;
        if record.events.len() == EVENTS_PER_LEARNER {
            record.events.pop_front();
        }
        record.events.push_back(event);
        self.core.tick_what_events_show(state, learner, &plan);
        let events = state
            .learners
            .get_mut(learner)
            .expect("the learner was recorded just above")
            .events
            .make_contiguous();
        let found = then(&plan, events);
        self.core.compact_if_grown(state);
        Some(found)
    }

    /// A generated name nobody here uses yet.
    pub fn fresh_name(&self) -> LearnerName {
        let state = self.core.lock();
        loop {
            let name = LearnerName::generate();
            if !state.learners.contains_key(&name) {
                return name;
            }
        }
    }

    /// Notes a clear by someone without a name: it still explains later misses.
    pub fn note_clear(&self, tier: ClearedTier) {
        let mut state = self.core.lock();
        let clear = ClearRecord {
            at_ms: now_ms(),
            boot: self.core.boot,
            seq: state.take_seq(),
            instance: self.core.instance.clone(),
            tier,
        };
        if state.clears.len() >= CLEARS_KEPT {
            state.clears.drain(..CLEARS_KEPT / 2);
        }
        state.clears.push(clear.clone());
        // Queued with the state locked, like every other line, so lines
        // are numbered for the shared room in the order they happened.
        self.core.write(LogLine::Clear(clear));
    }

    /// Moves a learner's progress to a new name, and returns the
    /// credential for it. Refused if the new name is someone else's.
    ///
    /// The new name is claimed at once with a fresh key, and the old one is
    /// let go: a key obtained for a name before its holder chose it, or kept
    /// after leaving it, opens nothing.
    pub fn rename(&self, from: &LearnerName, to: &LearnerName) -> Result<Credential, String> {
        let mut state = self.core.lock();
        if from == to {
            if let Some(claim) = state.learners.get(from).and_then(|record| record.claim) {
                return Ok(self.core.secret.credential(to, claim));
            }
        } else if state.learners.contains_key(to) {
            return Err(format!("the name {to} is already taken: choose another"));
        }
        let credential = self.core.secret.issue(to);
        let mut record = state.learners.remove(from).unwrap_or_default();
        record.claim = Some(credential.claim());
        state.learners.insert(to.clone(), record);
        self.core.write(LogLine::Renamed {
            from: from.clone(),
            to: to.clone(),
            claim: Some(credential.claim()),
        });
        if from != to {
            self.record_locked(
                &mut state,
                to,
                What::Renamed { from: from.clone() },
                |_, _| (),
            );
        }
        Ok(credential)
    }

    /// The credential of whoever holds `name`, claiming it with a fresh
    /// key if nobody does: what choosing a name of one's own does.
    pub fn claim(&self, name: &LearnerName) -> Credential {
        self.rename(name, name)
            .expect("a name is never taken from whoever already holds it")
    }

    /// A credential for a name given to a new browser. Nothing is kept until
    /// it comes back with it (see [`Workshop::identify`]).
    pub fn offer(&self, name: &LearnerName) -> Credential {
        self.core.secret.issue(name)
    }

    /// The credential of a learner who holds their name, to show them.
    pub fn credential_of(&self, name: &LearnerName) -> Option<Credential> {
        let state = self.core.lock();
        let claim = state.learners.get(name)?.claim?;
        Some(self.core.secret.credential(name, claim))
    }

    /// The learner a credential proves, or why it proves none. The first
    /// use of a key this app gave out claims its name; after that, a key
    /// with any other claim number is refused.
    pub fn identify(&self, credential: &str) -> Result<LearnerName, CredentialRefusal> {
        let (name, claim) = self.core.secret.verify(credential)?;
        let mut state = self.core.lock();
        match state.learners.get_mut(&name) {
            Some(record) => match record.claim {
                Some(held) if held != claim => return Err(CredentialRefusal::WrongKey(name)),
                Some(_) => return Ok(name),
                None => record.claim = Some(claim),
            },
            None => {
                if !make_room_for_a_learner(&mut state.learners, MAX_LEARNERS - 1) {
                    // A full room records nobody new (see `record_locked`);
                    // the key still proves its name for this request.
                    return Ok(name);
                }
                state.learners.insert(
                    name.clone(),
                    LearnerRecord {
                        claim: Some(claim),
                        last_seen_ms: now_ms(),
                        ..LearnerRecord::default()
                    },
                );
            }
        }
        self.core.write(LogLine::Claimed {
            learner: name.clone(),
            claim,
        });
        Ok(name)
    }

    /// This learner's own inputs for every exercise.
    pub fn plan(&self, learner: &LearnerName) -> Plan {
        self.core.plan(learner)
    }

    /// The instructor key for a room whose settings name none: derived from
    /// the room secret, so it stays the same across restarts.
    pub fn derived_instructor_key(&self) -> InstructorKey {
        self.core.secret.instructor_key()
    }

    /// A learner's progress as of now: an exercise that time alone
    /// completes (see [`Exercise::waits_on_time`]) is ticked first if its
    /// wait is over, so a learner who only looks sees it.
    pub fn progress_of(&self, learner: &LearnerName) -> LearnerProgress {
        let mut state = self.core.lock();
        self.tick_what_time_completed(&mut state, learner);
        let record = state.learners.get(learner);
        progress(learner, record)
    }

    fn tick_what_time_completed(&self, state: &mut State, learner: &LearnerName) {
        let plan = self.plan(learner);
        let State {
            learners, clears, ..
        } = state;
        let Some(record) = learners.get_mut(learner) else {
            return;
        };
        let now = now_ms();
        for exercise in Exercise::ALL {
            if !exercise.waits_on_time() || record.ticks.contains_key(&exercise) {
                continue;
            }
            let events = record.events.make_contiguous();
            let Some(evidence) = check_at(exercise, &plan, events, clears, now) else {
                continue;
            };
            let tick = Tick {
                at_ms: now,
                evidence,
            };
            self.core.write(LogLine::Tick {
                learner: learner.clone(),
                exercise,
                tick: tick.clone(),
            });
            record.ticks.insert(exercise, tick);
        }
    }

    /// Every learner, most recently active first.
    pub fn all_progress(&self) -> Vec<LearnerProgress> {
        let state = self.core.lock();
        let mut all: Vec<LearnerProgress> = state
            .learners
            .iter()
            .map(|(name, record)| progress(name, Some(record)))
            .collect();
        all.sort_by(|a, b| {
            b.last_seen_ms
                .cmp(&a.last_seen_ms)
                .then(a.name.cmp(&b.name))
        });
        all
    }

    /// The learner's most recent events, newest first.
    pub fn recent_events(&self, learner: &LearnerName, limit: usize) -> Vec<Event> {
        let state = self.core.lock();
        state
            .learners
            .get(learner)
            .map(|record| record.events.iter().rev().take(limit).cloned().collect())
            .unwrap_or_default()
    }

    /// Where this workshop stands with the room's other instances: `off`
    /// without `redis_url`, for pages and `/stats` to show.
    pub fn sharing_status(&self) -> SharingStatus {
        self.core
            .link
            .as_ref()
            .map_or_else(SharingStatus::off, |link| link.status())
    }

    /// The background work that keeps a shared room in step, to run on the
    /// app's runtime once (`None` without `redis_url`, or when it was
    /// already taken). It holds the workshop weakly, and ends soon after
    /// the workshop is dropped.
    pub fn sharing_task(&self) -> Option<SharingTask> {
        let link = self.core.link.as_ref()?;
        link.take_task()
            .then(|| SharingTask::new(Arc::downgrade(&self.core), Arc::clone(link)))
    }
}

impl Core {
    /// Queues `line` for the progress file, and for the room's other
    /// instances when it is shared. Called with the state locked, so lines
    /// reach the writer in the order the state changed.
    fn write(&self, line: LogLine) {
        match &self.link {
            Some(link) => {
                let number = link.enqueue(&line);
                self.write_to_file(LogLine::Shared(Box::new(SharedLine {
                    origin: link.origin().clone(),
                    number,
                    line,
                })));
            }
            None => self.write_to_file(line),
        }
    }

    /// Queues `line` for the progress file only.
    fn write_to_file(&self, line: LogLine) {
        if let Some(log) = &self.log {
            log.lines_since_compaction
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            log.send(ToWriter::Line(line));
        }
    }

    fn plan(&self, learner: &LearnerName) -> Plan {
        Plan::for_learner(learner, self.secret.plan_seed(learner), self.plan_settings)
    }

    /// Ticks every exercise the learner's events now show done (or brings
    /// the evidence of one still growing up to date).
    fn tick_what_events_show(&self, state: &mut State, learner: &LearnerName, plan: &Plan) {
        let State {
            learners, clears, ..
        } = state;
        let Some(record) = learners.get_mut(learner) else {
            return;
        };
        let latest_at_ms = record.events.back().map_or(0, |event| event.at_ms);
        let events = record.events.make_contiguous();
        for exercise in Exercise::ALL {
            let earlier = record.ticks.get(&exercise);
            let still_growing = earlier.is_some_and(|tick| {
                exercise.evidence_grows() && latest_at_ms <= tick.at_ms + STAMPEDE_WINDOW_MS
            });
            if earlier.is_some() && !still_growing {
                continue;
            }
            let Some(evidence) = check(exercise, plan, events, clears) else {
                continue;
            };
            if earlier.is_some_and(|tick| tick.evidence == evidence) {
                continue;
            }
            let tick = Tick {
                at_ms: earlier.map_or_else(now_ms, |tick| tick.at_ms),
                evidence,
            };
            self.write(LogLine::Tick {
                learner: learner.clone(),
                exercise,
                tick: tick.clone(),
            });
            record.ticks.insert(exercise, tick);
        }
    }

    /// Keeps the file bounded while the app runs: once more lines have been
    /// appended since the last compaction than the state remembers (plus
    /// some slack, so compaction stays rare), the file is rewritten with only
    /// what is remembered. One client repeating a request can no longer grow
    /// it without end. Called with the state locked, so the snapshot and the
    /// lines after it reach the writer in order.
    fn compact_if_grown(&self, state: &mut State) {
        let Some(log) = &self.log else {
            return;
        };
        if let Some(link) = &self.link {
            // The compacted file holds this run's lines without their
            // numbers: the mark says they are held.
            let numbered = link.lines_numbered();
            state.shared_marks.insert(link.origin().clone(), numbered);
        }
        let written = log
            .lines_since_compaction
            .load(std::sync::atomic::Ordering::Relaxed);
        if written < COMPACTION_SLACK_LINES {
            return;
        }
        let remembered: usize = state.clears.len()
            + state
                .learners
                .values()
                .map(|record| record.events.len() + record.ticks.len())
                .sum::<usize>();
        if written > remembered as u64 + COMPACTION_SLACK_LINES {
            log.lines_since_compaction
                .store(0, std::sync::atomic::Ordering::Relaxed);
            log.send(ToWriter::Compact(compacted_text(state)));
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().expect("workshop lock poisoned")
    }
}

#[cfg(test)]
mod tests;
