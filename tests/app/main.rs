//! The app driven through Rocket's local client, in one test binary: the
//! JSON API as curl would use it, the HTML pages as a browser would, and
//! the workshop's exercises. One binary links the app once, not three
//! times.

// Each suite uses part of the shared helpers.
#[allow(dead_code)]
mod helpers;

mod api;
mod cache_control;
mod catalogue;
mod http_cache_lab;
mod instances;
mod metrics;
mod pages;
mod shared_tier;
mod sizing;
mod speed;
mod workshop;
