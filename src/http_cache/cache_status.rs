//! The `Cache-Status` response field (RFC 9211): one list member per cache
//! that handled the request, saying whether it answered from storage or
//! passed the request on, and why.
//!
//! The field is a Structured Field List (RFC 8941 §3.1). The `sfv` crate
//! writes it, so tokens are checked, strings quoted and escaped, and `true`
//! booleans written as a bare key (`hit`, not `hit=?1`) exactly as RFC 8941
//! §4.1 spells out. Values are checked when a member is built, so writing
//! one cannot fail.

use std::borrow::BorrowMut;
use std::fmt;

use sfv::{Integer, KeyRef, ListSerializer, RefBareItem, TokenRef};

// The parameters of RFC 9211 §2.1–§2.8. `key_ref` checks each name when
// this compiles.
const HIT: &KeyRef = sfv::key_ref("hit");
const FWD: &KeyRef = sfv::key_ref("fwd");
const FWD_STATUS: &KeyRef = sfv::key_ref("fwd-status");
const TTL: &KeyRef = sfv::key_ref("ttl");
const STORED: &KeyRef = sfv::key_ref("stored");
const COLLAPSED: &KeyRef = sfv::key_ref("collapsed");
const KEY: &KeyRef = sfv::key_ref("key");
const DETAIL: &KeyRef = sfv::key_ref("detail");

/// A Token or a String (RFC 8941 §3.3.4, §3.3.3): the two forms RFC 9211
/// allows for a cache's name and for `detail`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum TokenOrString {
    Token(sfv::Token),
    String(sfv::String),
}

impl TokenOrString {
    fn token(value: &str) -> Result<Self, CacheStatusError> {
        sfv::Token::from_string(value.to_owned())
            .map(Self::Token)
            .map_err(|(_, value)| CacheStatusError::NotAToken { value })
    }

    fn string(value: &str) -> Result<Self, CacheStatusError> {
        checked_string(value).map(Self::String)
    }

    fn as_bare_item(&self) -> RefBareItem<'_> {
        match self {
            Self::Token(token) => RefBareItem::Token(token),
            Self::String(string) => RefBareItem::String(string),
        }
    }
}

fn checked_string(value: &str) -> Result<sfv::String, CacheStatusError> {
    sfv::String::from_string(value.to_owned())
        .map_err(|(_, value)| CacheStatusError::NotAString { value })
}

/// The name a cache gives itself in its member. RFC 9211 §2: it "MUST be a
/// String or Token", such as a product name or a host name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheName(TokenOrString);

impl CacheName {
    /// `cachelab-memory`: the tier that keeps factorials in this process.
    #[must_use]
    pub fn memory_tier() -> Self {
        Self::known_token(sfv::token_ref("cachelab-memory"))
    }

    /// `cachelab-redis`: the shared tier, in the Redis server every
    /// instance reaches.
    #[must_use]
    pub fn redis_tier() -> Self {
        Self::known_token(sfv::token_ref("cachelab-redis"))
    }

    /// `cachelab-disk`: the tier that keeps JSON answers under `cache_dir`.
    #[must_use]
    pub fn disk_tier() -> Self {
        Self::known_token(sfv::token_ref("cachelab-disk"))
    }

    fn known_token(token: &TokenRef) -> Self {
        Self(TokenOrString::Token(token.to_owned()))
    }

    /// A name written bare, like `cachelab-memory`. A token starts with a
    /// letter or `*` and goes on with letters, digits and
    /// ``!#$%&'*+-.^_`|~:/`` (RFC 8941 §3.3.4).
    pub fn token(name: &str) -> Result<Self, CacheStatusError> {
        TokenOrString::token(name).map(Self)
    }

    /// A name written in quotes, for one that is no token, like
    /// `"CDN Company Here"`. Printable ASCII only (RFC 8941 §3.3.3).
    pub fn string(name: &str) -> Result<Self, CacheStatusError> {
        TokenOrString::string(name).map(Self)
    }
}

/// The `detail` parameter (RFC 9211 §2.8): whatever else the cache wants to
/// say, as a Token or a String.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detail(TokenOrString);

impl Detail {
    /// A detail written bare, under the same rules as [`CacheName::token`].
    pub fn token(detail: &str) -> Result<Self, CacheStatusError> {
        TokenOrString::token(detail).map(Self)
    }

    /// A detail written in quotes, under the same rules as
    /// [`CacheName::string`].
    pub fn string(detail: &str) -> Result<Self, CacheStatusError> {
        TokenOrString::string(detail).map(Self)
    }
}

/// Why the request went on towards the origin: the `fwd` values of RFC 9211
/// §2.2. The RFC asks for the most specific reason the cache knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ForwardReason {
    /// `bypass`: the cache was configured not to handle this request.
    Bypass,
    /// `method`: the request's method has to go to the origin.
    Method,
    /// `uri-miss`: nothing was stored for this URL.
    UriMiss,
    /// `vary-miss`: something was stored for this URL, but for other values
    /// of the request fields that `Vary` names.
    VaryMiss,
    /// `miss`: no stored response could be used, for a cache that cannot
    /// tell `uri-miss` from `vary-miss`.
    Miss,
    /// `request`: a fresh stored response fitted, but the request did not
    /// allow using it (as with `Cache-Control: no-cache`).
    Request,
    /// `stale`: the stored response was stale, so it had to be validated or
    /// fetched again.
    Stale,
    /// `partial`: a stored response had only some of what was asked for
    /// (not every requested range, or the request wanted the whole body).
    Partial,
}

impl ForwardReason {
    fn token(self) -> &'static TokenRef {
        sfv::token_ref(match self {
            Self::Bypass => "bypass",
            Self::Method => "method",
            Self::UriMiss => "uri-miss",
            Self::VaryMiss => "vary-miss",
            Self::Miss => "miss",
            Self::Request => "request",
            Self::Stale => "stale",
            Self::Partial => "partial",
        })
    }
}

/// What a cache that passed the request on can add: `fwd` and the
/// parameters RFC 9211 calls meaningful only next to it (`fwd-status`
/// §2.3, `stored` §2.5, `collapsed` §2.6). Keeping them here means a hit
/// cannot claim any of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Forward {
    reason: ForwardReason,
    next_hop_status: Option<u16>,
    stored: Option<bool>,
    collapsed: Option<bool>,
}

impl Forward {
    /// The request went on for `reason` (`fwd`).
    #[must_use]
    pub fn because(reason: ForwardReason) -> Self {
        Self {
            reason,
            next_hop_status: None,
            stored: None,
            collapsed: None,
        }
    }

    /// `fwd-status`: the status code the next hop answered with. Left out,
    /// it is taken to be the status of this response (RFC 9211 §2.3), so it
    /// matters when the two differ, as when the origin's 304 let the cache
    /// send a stored 200.
    #[must_use]
    pub fn next_hop_status(self, status: u16) -> Self {
        Self {
            next_hop_status: Some(status),
            ..self
        }
    }

    /// `stored`: whether the cache kept the response it got. `true` is
    /// written `stored`, `false` is written `stored=?0`.
    #[must_use]
    pub fn stored(self, stored: bool) -> Self {
        Self {
            stored: Some(stored),
            ..self
        }
    }

    /// `collapsed`: whether this request waited for another one already on
    /// its way to the origin and reused its answer (`true`), or tried to but
    /// had to go on by itself (`false`).
    #[must_use]
    pub fn collapsed(self, collapsed: bool) -> Self {
        Self {
            collapsed: Some(collapsed),
            ..self
        }
    }
}

/// `hit` or `fwd`: RFC 9211 §2.1 says "hit and fwd are exclusive; only one
/// of them should appear on each list member".
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Hit,
    Forwarded(Forward),
}

/// One member of `Cache-Status`: what one cache did with the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheStatusEntry {
    cache: CacheName,
    outcome: Outcome,
    ttl_secs: Option<Integer>,
    key: Option<sfv::String>,
    detail: Option<Detail>,
}

impl CacheStatusEntry {
    /// The cache answered from what it had stored, without going on
    /// (`hit`, RFC 9211 §2.1). A stale response sent without asking the
    /// origin is still a hit; its `ttl` is negative.
    #[must_use]
    pub fn hit(cache: CacheName) -> Self {
        Self::new(cache, Outcome::Hit)
    }

    /// The cache passed the request on towards the origin (`fwd`,
    /// RFC 9211 §2.2).
    #[must_use]
    pub fn forwarded(cache: CacheName, forward: Forward) -> Self {
        Self::new(cache, Outcome::Forwarded(forward))
    }

    fn new(cache: CacheName, outcome: Outcome) -> Self {
        Self {
            cache,
            outcome,
            ttl_secs: None,
            key: None,
            detail: None,
        }
    }

    /// `ttl` (RFC 9211 §2.4): how many seconds the response stays fresh,
    /// as the cache reckons it when it sends the response; negative once it
    /// is stale. A Structured Field Integer has at most 15 digits
    /// (RFC 8941 §3.3.1), so a `ttl_secs` beyond ±999,999,999,999,999 is
    /// refused rather than written as something no parser accepts.
    pub fn ttl_secs(self, ttl_secs: i64) -> Result<Self, CacheStatusError> {
        let ttl_secs = Integer::try_from(ttl_secs)
            .map_err(|_| CacheStatusError::IntegerOutOfRange { value: ttl_secs })?;
        Ok(Self {
            ttl_secs: Some(ttl_secs),
            ..self
        })
    }

    /// `key` (RFC 9211 §2.7): the cache key used for the response, as a
    /// String: printable ASCII, quoted, with `"` and `\` escaped. A key with
    /// other characters is refused; leave the parameter out then.
    pub fn key(self, key: &str) -> Result<Self, CacheStatusError> {
        Ok(Self {
            key: Some(checked_string(key)?),
            ..self
        })
    }

    /// `detail` (RFC 9211 §2.8).
    #[must_use]
    pub fn detail(self, detail: Detail) -> Self {
        Self {
            detail: Some(detail),
            ..self
        }
    }

    /// The parameters, in the order RFC 9211 §2 defines them.
    fn parameters(&self) -> Vec<(&'static KeyRef, RefBareItem<'_>)> {
        let mut parameters = Vec::new();
        match &self.outcome {
            // A true Boolean is written as the bare key (RFC 8941 §3.1.2).
            Outcome::Hit => parameters.push((HIT, RefBareItem::Boolean(true))),
            Outcome::Forwarded(forward) => {
                parameters.push((FWD, RefBareItem::Token(forward.reason.token())));
                if let Some(status) = forward.next_hop_status {
                    parameters.push((FWD_STATUS, RefBareItem::Integer(Integer::from(status))));
                }
            }
        }
        if let Some(ttl_secs) = self.ttl_secs {
            parameters.push((TTL, RefBareItem::Integer(ttl_secs)));
        }
        if let Outcome::Forwarded(forward) = &self.outcome {
            if let Some(stored) = forward.stored {
                parameters.push((STORED, RefBareItem::Boolean(stored)));
            }
            if let Some(collapsed) = forward.collapsed {
                parameters.push((COLLAPSED, RefBareItem::Boolean(collapsed)));
            }
        }
        if let Some(key) = &self.key {
            parameters.push((KEY, RefBareItem::String(key)));
        }
        if let Some(detail) = &self.detail {
            parameters.push((DETAIL, detail.0.as_bare_item()));
        }
        parameters
    }

    fn write_to<W: BorrowMut<String>>(&self, list: &mut ListSerializer<W>) {
        // The serializer returned is only for writing more parameters, and
        // these are all of them.
        _ = list
            .bare_item(self.cache.0.as_bare_item())
            .parameters(self.parameters());
    }
}

/// The member on its own: a one-member `Cache-Status` value.
impl fmt::Display for CacheStatusEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut value = String::new();
        self.write_to(&mut ListSerializer::with_buffer(&mut value));
        f.write_str(&value)
    }
}

/// A whole `Cache-Status` value: the members in the order the response
/// passed the caches, nearest the origin first and nearest the user last
/// (RFC 9211 §2).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CacheStatus {
    entries: Vec<CacheStatusEntry>,
}

impl CacheStatus {
    /// No members yet.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the member of the next cache out from the origin, after those
    /// already here (RFC 9211 §2 has each cache append its own).
    pub fn push(&mut self, entry: CacheStatusEntry) {
        self.entries.push(entry);
    }

    /// The members, nearest the origin first.
    #[must_use]
    pub fn entries(&self) -> &[CacheStatusEntry] {
        &self.entries
    }

    /// The field value, or `None` when there are no members: RFC 8941 §4.1
    /// says an empty List is not serialized, so the field is left out.
    #[must_use]
    pub fn to_field_value(&self) -> Option<String> {
        let mut list = ListSerializer::new();
        for entry in &self.entries {
            entry.write_to(&mut list);
        }
        list.finish()
    }
}

/// The members in the order given, nearest the origin first.
impl FromIterator<CacheStatusEntry> for CacheStatus {
    fn from_iter<I: IntoIterator<Item = CacheStatusEntry>>(entries: I) -> Self {
        Self {
            entries: entries.into_iter().collect(),
        }
    }
}

/// A value `Cache-Status` cannot carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheStatusError {
    /// Not a Structured Field Token (RFC 8941 §3.3.4).
    NotAToken {
        /// The value as given.
        value: String,
    },
    /// Not a Structured Field String (RFC 8941 §3.3.3): a character outside
    /// printable ASCII.
    NotAString {
        /// The value as given.
        value: String,
    },
    /// Beyond the 15 digits a Structured Field Integer has (RFC 8941
    /// §3.3.1).
    IntegerOutOfRange {
        /// The value as given.
        value: i64,
    },
}

impl fmt::Display for CacheStatusError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotAToken { value } => write!(
                f,
                "{value:?} is not a token: a token starts with a letter or * and goes on with \
                 letters, digits and !#$%&'*+-.^_`|~:/"
            ),
            Self::NotAString { value } => write!(
                f,
                "{value:?} cannot be a Cache-Status string: only printable ASCII is allowed"
            ),
            Self::IntegerOutOfRange { value } => write!(
                f,
                "{value} does not fit a Cache-Status integer, which has at most 15 digits"
            ),
        }
    }
}

impl std::error::Error for CacheStatusError {}

#[cfg(test)]
mod tests;
