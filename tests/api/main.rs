//! The JSON API, driven through Rocket's local client exactly as curl would.

mod clearing;
mod config;
mod disk;
mod helpers;
mod input;
mod memory;
