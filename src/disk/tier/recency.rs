//! The view's recency order, kept without making hits wait: a hit notes
//! the key it used in its own thread's buffer, and the notes reach the
//! order in batches (as the memory tier's do, see `memory::store`).

use super::*;

/// A key as a hit notes it: the tier's keys are 64 hex digits, kept
/// inline so that noting one allocates nothing.
pub(super) type NotedKey = [u8; 64];

impl DiskTier {
    /// The view, with every hit noted since the last change applied to
    /// its order first.
    pub(in crate::disk) fn lock_index(&self) -> MutexGuard<'_, Index> {
        let mut index = lock(&self.index);
        self.apply_uses(&mut index);
        index
    }

    /// Notes that a hit used `key`, without the index's lock: the note is
    /// applied to the order by the next change, or by a hit that fills its
    /// thread's notes while the lock is free. With the notes full and the
    /// lock busy, the note is dropped and that entry's recency not
    /// refreshed this once.
    pub(super) fn note_used(&self, key: &str) {
        let Ok(noted) = NotedKey::try_from(key.as_bytes()) else {
            // Not a key this tier makes (they are 64 hex digits): nothing
            // to order.
            return;
        };
        self.used.note(
            noted,
            || self.index.try_lock().ok(),
            |index, key| touch(index, &key),
        );
    }

    fn apply_uses(&self, index: &mut Index) {
        self.used.apply_all(|key| touch(index, &key));
    }
}

/// Marks a noted key used in the view's order.
fn touch(index: &mut Index, key: &NotedKey) {
    if let Ok(key) = std::str::from_utf8(key) {
        index.touch(key);
    }
}
