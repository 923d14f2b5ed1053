//! Emptying the disk tier: its files, its view of the index and the shared
//! footprint record, in one change every process on the directory sees.

use super::*;

impl DiskCache {
    /// Removes every entry, index and content, in every process's eyes, and
    /// returns how many there were.
    pub async fn clear(&self) -> usize {
        let tier = Arc::clone(&self.0);
        let cleared = tokio::task::spawn_blocking(move || tier.clear_blocking())
            .await
            .unwrap_or_else(|join_error| Err(std::io::Error::other(join_error.to_string())));
        match cleared {
            Ok(removed) => removed,
            Err(error) => {
                self.faults
                    .record(Fault::SharedRecord, 1, &files::one_line(&error.to_string()));
                0
            }
        }
    }
}

impl DiskTier {
    fn clear_blocking(&self) -> std::io::Result<usize> {
        self.shared.change(|footprint| {
            let removed = usize::try_from(footprint.entries).unwrap_or(usize::MAX);
            if let Err(error) = files::clear_dir(&self.dir, &[LOCK_FILE, FOOTPRINT_FILE]) {
                self.faults.record(Fault::Clear, 1, &error.to_string());
            }
            self.lock_index().clear();
            lock(&self.unreadable).clear();
            lock(&self.swept_expired).clear();
            let measured = files::measure(&self.dir);
            *footprint = Footprint {
                bytes_on_disk: measured.bytes_on_disk,
                entries: measured.entries,
                content_bytes: measured.content_bytes,
                generation: footprint.generation + 1,
            };
            self.seen_generation
                .store(footprint.generation, Ordering::Relaxed);
            removed
        })
    }
}
