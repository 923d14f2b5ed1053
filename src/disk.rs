//! The disk tier: JSON answers stored with `cacache` under `cache_dir`,
//! shared safely by every process pointed at the same directory.
//!
//! - [`tier`]: look up, store and clear (the public face);
//! - `key`: the name an answer is stored under, checked;
//! - `answer`: what one lookup found, or why it missed;
//! - `stats`: counters for `/stats` and the listing for the disk page;
//! - `index`: this process's view of the entries, read in the background;
//! - `files`: where cacache keeps an entry and what its files occupy;
//! - `ledger`: the directory's footprint, kept by every process under one lock;
//! - `sweep`: eviction past the bound and the periodic sweep;
//! - `page_cache`: hits read from memory when the kernel has the file;
//! - `faults`: faults counted always and logged once per cause.
//!
//! Every file fault becomes a miss or an answer that is not stored, never a
//! failed request.

mod answer;
mod faults;
mod files;
mod index;
mod key;
mod ledger;
mod page_cache;
mod stats;
mod sweep;
pub mod tier;

pub use answer::{DiskAnswer, DiskLookup, HitRead, MissReason};
pub use key::{EntryKey, NotAKey};
pub use ledger::Footprint;
pub use stats::{DiskEntry, DiskStats, EntriesPage};
pub use sweep::{SweepReport, Sweeper};
pub use tier::{DiskCache, DiskSettings, DiskTier};
