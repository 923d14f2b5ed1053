//! The progress file: one writer, appended line by line, compacted when it
//! has grown, replayed at start-up.

use super::*;

/// The queue to the writer thread, and the thread itself so that dropping the
/// workshop waits until everything queued is on disk (a restarted app must
/// find all of it).
pub(super) struct ProgressLog {
    queue: Mutex<Option<Sender<ToWriter>>>,
    /// Lines sent since the file was last compacted.
    pub(super) lines_since_compaction: std::sync::atomic::AtomicU64,
    writer: Option<std::thread::JoinHandle<()>>,
}

impl ProgressLog {
    /// The writer for the file at `path`, or `None` (with a warning) if it
    /// cannot be opened for appending.
    pub(super) fn open(path: &Path) -> Option<Self> {
        match OpenOptions::new().create(true).append(true).open(path) {
            Ok(file) => {
                let (queue, writer) = spawn_writer(file, path.to_path_buf());
                Some(Self {
                    queue: Mutex::new(Some(queue)),
                    lines_since_compaction: std::sync::atomic::AtomicU64::new(0),
                    writer: Some(writer),
                })
            }
            Err(error) => {
                log::warn!(
                    "workshop progress will not survive a restart: {} cannot be written ({error})",
                    path.display()
                );
                None
            }
        }
    }

    pub(super) fn send(&self, message: ToWriter) {
        if let Some(queue) = &*self.queue.lock().expect("progress log lock poisoned") {
            // Sending fails only once the writer has stopped, at shutdown.
            let _ = queue.send(message);
        }
    }
}

/// What the writer thread is asked to do.
pub(super) enum ToWriter {
    /// Append one line.
    Line(LogLine),
    /// Replace the whole file with this text (see `compact_if_grown`).
    Compact(String),
}

impl Drop for ProgressLog {
    fn drop(&mut self) {
        if let Ok(mut queue) = self.queue.lock() {
            queue.take();
        }
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

/// The lock that makes one running copy the progress file's only writer, or
/// `None` (with a warning) if another copy holds it or it cannot be made.
pub(super) fn lock_progress_file(path: &Path) -> Option<File> {
    let mut lock_path = path.as_os_str().to_owned();
    lock_path.push(".lock");
    let file = match OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
    {
        Ok(file) => file,
        Err(error) => {
            log::warn!(
                "workshop progress kept in memory only: {} cannot be created ({error})",
                PathBuf::from(&lock_path).display()
            );
            return None;
        }
    };
    match file.try_lock() {
        Ok(()) => Some(file),
        Err(_) => {
            log::warn!(
                "workshop progress kept in memory only: another running copy of cachelab \
                 writes {}",
                path.display()
            );
            None
        }
    }
}

/// Rewrites the progress file with only what is remembered (bounded events,
/// learners and clears), through a temporary file renamed into place, so
/// the file does not grow without end across restarts.
pub(super) fn compact(path: &Path, state: &State) -> std::io::Result<()> {
    if !path.exists() {
        return Ok(());
    }
    replace_file(path, &compacted_text(state))
}

/// Writes `text` to a temporary file and renames it over `path`, so a crash
/// leaves the old file or the new one, never half of one.
pub(super) fn replace_file(path: &Path, text: &str) -> std::io::Result<()> {
    let temporary = path.with_extension("jsonl.compacting");
    std::fs::write(&temporary, text)?;
    std::fs::rename(&temporary, path)
}

/// The progress file's text holding only what `state` remembers.
pub(super) fn compacted_text(state: &State) -> String {
    let mut text = String::new();
    let mut push = |line: &LogLine| {
        text.push_str(&serde_json::to_string(line).expect("a log line always serializes"));
        text.push('\n');
    };
    for (origin, number) in &state.shared_marks {
        push(&LogLine::SharedUpTo {
            origin: origin.clone(),
            number: *number,
        });
    }
    for clear in &state.clears {
        push(&LogLine::Clear(clear.clone()));
    }
    for (learner, record) in &state.learners {
        if let Some(claim) = record.claim {
            push(&LogLine::Claimed {
                learner: learner.clone(),
                claim,
            });
        }
        for event in &record.events {
            push(&LogLine::Event {
                learner: learner.clone(),
                event: event.clone(),
            });
        }
        for (exercise, tick) in &record.ticks {
            push(&LogLine::Tick {
                learner: learner.clone(),
                exercise: *exercise,
                tick: tick.clone(),
            });
        }
    }
    text
}

/// Reads the progress file into `state`; returns the latest boot id seen.
/// Lines that do not parse (a crash mid-write leaves at most one) are skipped.
pub(super) fn replay(path: &Path, state: &mut State) -> u64 {
    let Ok(contents) = std::fs::read(path) else {
        return 0;
    };
    let mut latest_boot = 0;
    // Split on bytes, not text: a line torn by a crash or a full disk is
    // skipped on its own instead of ending the replay.
    for line in contents.split(|byte| *byte == b'\n') {
        let Ok(line) = serde_json::from_slice::<LogLine>(line) else {
            continue;
        };
        if let Some(boot) = apply_line(state, line) {
            latest_boot = latest_boot.max(boot);
        }
    }
    latest_boot
}

/// Applies one line to `state` as it was written; returns the boot id of
/// the event it held, if it held one. How the progress file is replayed,
/// and how lines from the room's other instances are taken in.
pub(super) fn apply_line(state: &mut State, line: LogLine) -> Option<u64> {
    match line {
        LogLine::Event { learner, event } => {
            let boot = event.boot;
            let record = state.learners.entry(learner).or_default();
            record.last_seen_ms = record.last_seen_ms.max(event.at_ms);
            if record.events.len() == EVENTS_PER_LEARNER {
                record.events.pop_front();
            }
            record.events.push_back(event);
            return Some(boot);
        }
        LogLine::Tick {
            learner,
            exercise,
            tick,
        } => {
            // A later line for the same exercise brings its evidence up to date.
            state
                .learners
                .entry(learner)
                .or_default()
                .ticks
                .insert(exercise, tick);
        }
        LogLine::Clear(clear) => {
            if state.clears.len() >= CLEARS_KEPT {
                state.clears.drain(..CLEARS_KEPT / 2);
            }
            state.clears.push(clear);
        }
        LogLine::Renamed { from, to, claim } => {
            let mut record = state.learners.remove(&from).unwrap_or_default();
            record.claim = claim.or(record.claim);
            state.learners.insert(to, record);
        }
        LogLine::Claimed { learner, claim } => {
            state.learners.entry(learner).or_default().claim = Some(claim);
        }
        LogLine::Shared(shared) => {
            let SharedLine {
                origin,
                number,
                line,
            } = *shared;
            let mark = state.shared_marks.entry(origin).or_insert(0);
            *mark = (*mark).max(number);
            // Shared lines are never nested: one that is was not written here.
            if !matches!(line, LogLine::Shared(_) | LogLine::SharedUpTo { .. }) {
                return apply_line(state, line);
            }
        }
        LogLine::SharedUpTo { origin, number } => {
            let mark = state.shared_marks.entry(origin).or_insert(0);
            *mark = (*mark).max(number);
        }
    }
    None
}

pub(super) fn spawn_writer(
    file: File,
    path: PathBuf,
) -> (Sender<ToWriter>, std::thread::JoinHandle<()>) {
    let (sender, receiver) = channel::<ToWriter>();
    let writer = std::thread::Builder::new()
        .name("workshop-progress".into())
        .spawn(move || {
            let mut file = file;
            let mut warned = false;
            for message in receiver {
                let line = match message {
                    ToWriter::Line(line) => line,
                    ToWriter::Compact(text) => {
                        let reopened = replace_file(&path, &text).and_then(|()| {
                            OpenOptions::new().create(true).append(true).open(&path)
                        });
                        match reopened {
                            Ok(reopened) => file = reopened,
                            Err(error) => log::warn!(
                                "workshop progress file {} not compacted: {error}",
                                path.display()
                            ),
                        }
                        continue;
                    }
                };
                let mut text = serde_json::to_string(&line).expect("a log line always serializes");
                text.push('\n');
                if let Err(error) = file.write_all(text.as_bytes()) {
                    if !warned {
                        log::warn!("workshop progress not saved to {}: {error}", path.display());
                        warned = true;
                    }
                }
            }
        })
        .expect("start the progress writer thread");
    (sender, writer)
}
