//! The pieces of HTTP caching that a response's headers carry, kept free of
//! Rocket types so that each rule can be tested on its own:
//!
//! - [`EntityTag`]: strong validators made from a representation's bytes
//!   (RFC 9110 §8.8.3), so a browser can ask "still this one?" and get a 304;
//! - [`IfNoneMatch`], [`precondition_to_evaluate`],
//!   [`answers_not_modified`] and [`Preconditions`]: reading that question
//!   from a GET or HEAD (RFC 9110 §13.1.2, §13.2.2);
//! - [`CacheStatus`]: the `Cache-Status` field (RFC 9211) that says which of
//!   our caches answered and why, for people reading the response.

mod cache_status;
mod conditional;
mod entity_tag;

pub use cache_status::{
    CacheName, CacheStatus, CacheStatusEntry, CacheStatusError, Detail, Forward, ForwardReason,
};
pub use conditional::{
    answers_not_modified, precondition_to_evaluate, IfNoneMatch, MalformedIfNoneMatch,
    Precondition, Preconditions,
};
pub use entity_tag::{EntityTag, InvalidSha256Hex, MalformedEntityTag};
