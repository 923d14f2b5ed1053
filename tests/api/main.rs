//! The JSON API, driven through Rocket's local client exactly as curl would.

mod bounds;
mod clearing;
mod config;
mod disk;
mod faults;
mod helpers;
mod input;
mod memory;
