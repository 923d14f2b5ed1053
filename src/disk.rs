//! The disk tier: JSON answers stored with `cacache` under `cache_dir`,
//! shared safely by every process pointed at the same directory.
//!
//! - [`tier`]: look up, store, clear, count and list (the public face);
//! - `index`: this process's view of the entries, read in the background;
//! - `files`: where cacache keeps an entry and what its files occupy;
//! - `ledger`: the directory's footprint, kept by every process under one lock;
//! - `sweep`: eviction past the bound and the periodic sweep;
//! - `page_cache`: hits read from memory when the kernel has the file;
//! - `faults`: faults counted always and logged once per cause.
//!
//! Every file fault becomes a miss or an answer that is not stored, never a
//! failed request.

mod faults;
mod files;
mod index;
mod ledger;
mod page_cache;
mod sweep;
pub mod tier;

pub use ledger::Footprint;
pub use sweep::{SweepReport, Sweeper};
pub use tier::{
    DiskAnswer, DiskCache, DiskEntry, DiskLookup, DiskSettings, DiskStats, DiskTier, EntriesPage,
    MissReason,
};
