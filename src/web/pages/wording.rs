//! What a page says about one lookup, in sentences for someone who has
//! never cached anything.

use crate::disk::MissReason;
use crate::memory::MemoryLookup;
use crate::view::count_of;

/// How the memory tier answered n!.
pub(super) fn memory_detail(lookup: &MemoryLookup, n: u64) -> String {
    match lookup {
        MemoryLookup::Hit => format!("{n}! was already in memory: nothing was computed."),
        MemoryLookup::Computed(work) => match work.reused_from {
            Some(k) => format!(
                "{k}! was in memory, so only {} {} needed to reach {n}!.",
                count_of(work.steps_computed as usize, "multiplication", "multiplications"),
                if work.steps_computed == 1 { "was" } else { "were" }
            ),
            None => format!(
                "Nothing smaller was in memory, so all {} multiplications were done.",
                work.steps_computed
            ),
        },
        MemoryLookup::Joined(_) => format!(
            "Another request was already computing {n}!; this one waited for its answer instead of repeating the work."
        ),
        MemoryLookup::Shared { .. } => format!(
            "{n}! was not in this instance's memory, but the shared tier (Redis) had it: it was read from there, checked, and kept in memory. Nothing was multiplied here."
        ),
    }
}

/// Why the disk tier had no answer to serve.
pub(super) fn miss_sentence(reason: MissReason) -> &'static str {
    match reason {
        MissReason::Absent => "Nothing was stored under this key yet.",
        MissReason::Expired => "An entry was stored, but it was older than the TTL.",
        MissReason::Unreadable => {
            "An entry was stored, but its bytes no longer matched their hash, so it was not used."
        }
    }
}
