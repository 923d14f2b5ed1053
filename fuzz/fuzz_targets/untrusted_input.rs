//! Any bytes, as a `/data` body and as a `/factorial/<n>` argument.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../invariants.rs"]
mod invariants;

fuzz_target!(|data: &[u8]| invariants::check(data));
