//! What the workshop keeps for each learner, how many learners it keeps,
//! and a learner's standing as pages show it.

use super::*;

/// One learner's recent events, ticks and claim.
#[derive(Default)]
pub(super) struct LearnerRecord {
    pub(super) events: VecDeque<Event>,
    pub(super) ticks: BTreeMap<Exercise, Tick>,
    pub(super) last_seen_ms: u64,
    /// The claim number of the key that holds this name (see `identity`):
    /// once set, only a credential with it acts as this learner.
    pub(super) claim: Option<u32>,
}

/// One learner's standing, for pages and JSON.
#[derive(Debug, Clone, Serialize)]
pub struct LearnerProgress {
    pub name: String,
    pub done: usize,
    pub total: usize,
    pub last_seen_ms: u64,
    /// Keyed by exercise slug.
    pub ticks: BTreeMap<String, Tick>,
}

pub(super) fn progress(name: &LearnerName, record: Option<&LearnerRecord>) -> LearnerProgress {
    let ticks: BTreeMap<String, Tick> = record
        .map(|record| {
            record
                .ticks
                .iter()
                .map(|(exercise, tick)| (exercise.slug().to_owned(), tick.clone()))
                .collect()
        })
        .unwrap_or_default();
    LearnerProgress {
        name: name.to_string(),
        done: ticks.len(),
        total: Exercise::ALL.len(),
        last_seen_ms: record.map_or(0, |record| record.last_seen_ms),
        ticks,
    }
}

/// Keeps at most `keep` learners, forgetting the least recently seen.
/// Forgets the least recently seen learners who have no ticks until at most
/// `keep` remain, and says whether that was enough. A learner with ticks is
/// never forgotten to make room: names cost nothing to invent, ticks cost
/// work.
pub(super) fn make_room_for_a_learner(
    learners: &mut HashMap<LearnerName, LearnerRecord>,
    keep: usize,
) -> bool {
    if learners.len() <= keep {
        return true;
    }
    let mut tickless: Vec<(u64, LearnerName)> = learners
        .iter()
        .filter(|(_, record)| record.ticks.is_empty())
        .map(|(name, record)| (record.last_seen_ms, name.clone()))
        .collect();
    tickless.sort_unstable();
    let excess = learners.len() - keep;
    for (_, name) in tickless.into_iter().take(excess) {
        learners.remove(&name);
    }
    learners.len() <= keep
}
