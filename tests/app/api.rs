//! The JSON API, driven through Rocket's local client exactly as curl would.

mod bounds;
mod canonical_keys;
mod clearing;
mod config;
mod cross_site;
mod disk;
mod faults;
mod fuzz_replay;
mod hostile;
mod input;
pub(crate) mod memory;
mod stored;
mod validators;
