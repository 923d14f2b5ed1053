//! The caching policy a learner chooses for a lab resource, read from the
//! query of `GET /http-cache/resource/<name>`: which `Cache-Control` to send,
//! whether to send an `ETag`, which request header to `Vary` on, and how
//! long to wait before answering.
//!
//! Every value is checked against a short list, so the headers the app sends
//! are always ones a learner can look up, and a typo is a clear refusal
//! rather than a header some cache silently ignores.

use std::fmt;
use std::time::Duration;

/// The longest delta-seconds value a directive may carry here: one year.
/// RFC 9111 §1.2.2 lets caches treat anything past 2^31 as "infinity"; a
/// year is as long as any lesson needs and as long as RFC 8246 suggests
/// `immutable` resources live.
pub const MAX_DIRECTIVE_SECS: u32 = 365 * 24 * 3600;

/// The longest wait `slow` may ask for.
pub const MAX_SLOW_MS: u64 = 3_000;

/// The longest value of a varied-on request header that is echoed back, so
/// that the body stays small.
pub const MAX_VARIED_VALUE_BYTES: usize = 200;

/// One `Cache-Control` response directive (RFC 9111 §5.2.2) from the set the
/// lab sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Directive {
    /// §5.2.2.9: any cache may store it, even where it normally would not.
    Public,
    /// §5.2.2.7: only a private cache (a browser's) may store it.
    Private,
    /// §5.2.2.5: no cache may store any of it.
    NoStore,
    /// §5.2.2.4: a cache may store it but must revalidate before each reuse.
    NoCache,
    /// §5.2.2.1: fresh for this many seconds.
    MaxAge(u32),
    /// §5.2.2.10: fresh for this many seconds in a shared cache.
    SharedMaxAge(u32),
    /// RFC 8246: will not change while fresh, so no need to revalidate on reload.
    Immutable,
    /// §5.2.2.2: once stale, never reused without revalidating.
    MustRevalidate,
    /// §5.2.2.8: must-revalidate, for shared caches only.
    ProxyRevalidate,
    /// RFC 5861 §3: a stale copy may be served while it is revalidated in
    /// the background, for this many seconds.
    StaleWhileRevalidate(u32),
    /// RFC 5861 §4: a stale copy may be served when the origin fails, for
    /// this many seconds.
    StaleIfError(u32),
    /// §5.2.2.6: no cache may transform the content.
    NoTransform,
}

/// The directives a learner may write, as `accepted` text for a refusal.
pub const KNOWN_DIRECTIVES: &str = "public, private, no-store, no-cache, max-age=N, s-maxage=N, \
     immutable, must-revalidate, proxy-revalidate, stale-while-revalidate=N, stale-if-error=N, \
     no-transform (N: whole seconds from 0 to 31536000, one year), separated by commas";

impl Directive {
    /// The directive's name, lowercase, as sent.
    pub fn name(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Private => "private",
            Self::NoStore => "no-store",
            Self::NoCache => "no-cache",
            Self::MaxAge(_) => "max-age",
            Self::SharedMaxAge(_) => "s-maxage",
            Self::Immutable => "immutable",
            Self::MustRevalidate => "must-revalidate",
            Self::ProxyRevalidate => "proxy-revalidate",
            Self::StaleWhileRevalidate(_) => "stale-while-revalidate",
            Self::StaleIfError(_) => "stale-if-error",
            Self::NoTransform => "no-transform",
        }
    }

    fn seconds(self) -> Option<u32> {
        match self {
            Self::MaxAge(secs)
            | Self::SharedMaxAge(secs)
            | Self::StaleWhileRevalidate(secs)
            | Self::StaleIfError(secs) => Some(secs),
            _ => None,
        }
    }

    /// Reads one directive as a learner writes it: its name in any case,
    /// and for the four that take one, `=` and a whole number of seconds.
    fn parse(written: &str) -> Result<Self, PolicyError> {
        let refuse = |problem: String| PolicyError::new("cc", problem, KNOWN_DIRECTIVES);
        let (name, argument) = match written.split_once('=') {
            Some((name, argument)) => (name.trim(), Some(argument.trim())),
            None => (written, None),
        };
        let name = name.to_ascii_lowercase();
        let with_seconds: Option<fn(u32) -> Self> = match name.as_str() {
            "max-age" => Some(Self::MaxAge),
            "s-maxage" => Some(Self::SharedMaxAge),
            "stale-while-revalidate" => Some(Self::StaleWhileRevalidate),
            "stale-if-error" => Some(Self::StaleIfError),
            _ => None,
        };
        if let Some(make) = with_seconds {
            let Some(argument) = argument else {
                return Err(refuse(format!(
                    "{name} needs a number of seconds, as in {name}=60"
                )));
            };
            return parse_seconds(argument).map(make).ok_or_else(|| {
                refuse(format!(
                    "{name}={} is not a whole number of seconds from 0 to {MAX_DIRECTIVE_SECS} \
                         (one year)",
                    shown(argument)
                ))
            });
        }
        let plain = match name.as_str() {
            "public" => Self::Public,
            "private" => Self::Private,
            "no-store" => Self::NoStore,
            "no-cache" => Self::NoCache,
            "immutable" => Self::Immutable,
            "must-revalidate" => Self::MustRevalidate,
            "proxy-revalidate" => Self::ProxyRevalidate,
            "no-transform" => Self::NoTransform,
            _ => {
                return Err(refuse(format!(
                    "{} is not a Cache-Control response directive this lab sends",
                    shown(&name)
                )))
            }
        };
        match argument {
            // `private="Set-Cookie"` and `no-cache="Set-Cookie"` exist
            // (§5.2.2.4, §5.2.2.7), but caches differ in how they honour
            // the field names, so the lab keeps to the plain forms.
            Some(argument) => Err(refuse(format!(
                "{name} takes no value here (got {name}={})",
                shown(argument)
            ))),
            None => Ok(plain),
        }
    }
}

impl fmt::Display for Directive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.seconds() {
            Some(secs) => write!(f, "{}={secs}", self.name()),
            None => f.write_str(self.name()),
        }
    }
}

/// A whole number of seconds in the token form RFC 9111 §1.2.2 asks senders
/// to use (digits only), at most [`MAX_DIRECTIVE_SECS`].
fn parse_seconds(text: &str) -> Option<u32> {
    if text.is_empty() || text.len() > 10 || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    text.parse::<u32>()
        .ok()
        .filter(|secs| *secs <= MAX_DIRECTIVE_SECS)
}

/// A `Cache-Control` field value the lab will send: one or more known
/// directives, each at most once, written lowercase and joined by `", "`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheControl(Vec<Directive>);

impl CacheControl {
    /// Reads what a learner wrote (`Public, max-age=60`), keeping their
    /// order. A directive given twice is refused: RFC 9111 §4.2.1 tells a
    /// cache to treat a duplicated freshness directive as invalid, and the
    /// lab would rather say so than send it.
    pub fn parse(written: &str) -> Result<Self, PolicyError> {
        let mut directives: Vec<Directive> = Vec::new();
        for member in written.split(',') {
            let member = member.trim();
            if member.is_empty() {
                continue;
            }
            let directive = Directive::parse(member)?;
            if directives
                .iter()
                .any(|already| already.name() == directive.name())
            {
                return Err(PolicyError::new(
                    "cc",
                    format!("{} is given twice", directive.name()),
                    "each directive at most once",
                ));
            }
            directives.push(directive);
        }
        if directives.is_empty() {
            return Err(PolicyError::new(
                "cc",
                "empty",
                "at least one directive (leave cc out to send no Cache-Control at all)",
            ));
        }
        Ok(Self(directives))
    }

    /// The directives, in the order written.
    pub fn directives(&self) -> &[Directive] {
        &self.0
    }

    /// Whether `directive`'s kind is among them (any seconds).
    pub fn has(&self, name: &str) -> bool {
        self.0.iter().any(|directive| directive.name() == name)
    }
}

/// The header value, normalized: `public, max-age=60`.
impl fmt::Display for CacheControl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, directive) in self.0.iter().enumerate() {
            if index > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{directive}")?;
        }
        Ok(())
    }
}

/// The request header a resource may vary on (RFC 9111 §4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VaryOn {
    /// What a browser sends on its own; one copy per language.
    AcceptLanguage,
    /// A header no browser sends unless a script does: easy to set with
    /// `fetch` or `curl -H`.
    XVariant,
}

impl VaryOn {
    const ALL: [VaryOn; 2] = [VaryOn::AcceptLanguage, VaryOn::XVariant];

    /// The header's name as sent in `Vary`.
    pub fn header_name(self) -> &'static str {
        match self {
            Self::AcceptLanguage => "Accept-Language",
            Self::XVariant => "X-Variant",
        }
    }

    /// Field names are case-insensitive (RFC 9110 §5.1).
    fn parse(written: &str) -> Result<Self, PolicyError> {
        Self::ALL
            .into_iter()
            .find(|vary| vary.header_name().eq_ignore_ascii_case(written.trim()))
            .ok_or_else(|| {
                PolicyError::new(
                    "vary",
                    format!("{} is not a header this lab varies on", shown(written)),
                    "Accept-Language or X-Variant",
                )
            })
    }
}

/// Everything a request's query asks of the resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// `None`: no `Cache-Control` at all.
    pub cache_control: Option<CacheControl>,
    /// Whether to send a strong `ETag` of the body (and so answer
    /// `If-None-Match` with 304).
    pub etag: bool,
    pub vary: Option<VaryOn>,
    /// How long to wait before answering.
    pub slow: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            cache_control: None,
            etag: true,
            vary: None,
            slow: Duration::ZERO,
        }
    }
}

/// The query parameters `Policy::from_query` reads, for refusals.
pub const KNOWN_PARAMETERS: &str = "cc, etag, vary, slow (and learner)";

impl Policy {
    /// Reads the query's `(name, value)` pairs, already percent-decoded.
    /// `learner` is skipped: it names who is asking, not the policy, and
    /// is read by the web layer. Any other name, or a name given twice, is
    /// refused: a misspelled `max_age=60` must not quietly become "no
    /// header".
    pub fn from_query<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, PolicyError> {
        let mut policy = Policy::default();
        let mut seen: Vec<&str> = Vec::new();
        for (name, value) in pairs {
            if name == "learner" {
                continue;
            }
            if seen.contains(&name) {
                return Err(PolicyError::new(
                    name,
                    "given twice",
                    "each parameter at most once",
                ));
            }
            match name {
                "cc" => policy.cache_control = Some(CacheControl::parse(value)?),
                "etag" => {
                    policy.etag = match value {
                        "1" => true,
                        "0" => false,
                        other => {
                            return Err(PolicyError::new(
                                "etag",
                                format!("{} is neither 0 nor 1", shown(other)),
                                "etag=1 (send an ETag, the default) or etag=0 (send none)",
                            ))
                        }
                    }
                }
                "vary" => policy.vary = Some(VaryOn::parse(value)?),
                "slow" => {
                    let refuse = |problem: String| {
                        PolicyError::new(
                            "slow",
                            problem,
                            format!("slow=N with N from 0 to {MAX_SLOW_MS}"),
                        )
                    };
                    let slow_ms = value
                        .parse::<u64>()
                        .ok()
                        .filter(|_| value.bytes().all(|b| b.is_ascii_digit()))
                        .ok_or_else(|| {
                            refuse(format!(
                                "{} is not a whole number of milliseconds",
                                shown(value)
                            ))
                        })?;
                    if slow_ms > MAX_SLOW_MS {
                        return Err(refuse(format!(
                            "{slow_ms} ms is longer than the {MAX_SLOW_MS} ms a resource may wait"
                        )));
                    }
                    policy.slow = Duration::from_millis(slow_ms);
                }
                other => {
                    return Err(PolicyError::new(
                        other,
                        "not a parameter of this resource",
                        KNOWN_PARAMETERS,
                    ))
                }
            }
            seen.push(name);
        }
        Ok(policy)
    }
}

/// A query value the resource cannot honour: which parameter, what is wrong
/// with it, and what would have been accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    pub parameter: String,
    pub problem: String,
    pub accepted: String,
}

impl PolicyError {
    fn new(parameter: &str, problem: impl Into<String>, accepted: impl Into<String>) -> Self {
        Self {
            parameter: shown(parameter),
            problem: problem.into(),
            accepted: accepted.into(),
        }
    }
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the parameter {}: {}", self.parameter, self.problem)
    }
}

impl std::error::Error for PolicyError {}

/// A learner's text, short enough to repeat in a message, quoted so that
/// spaces and empty values show.
fn shown(text: &str) -> String {
    const SHOWN_CHARS: usize = 60;
    let mut cut: String = text.chars().take(SHOWN_CHARS).collect();
    if text.chars().nth(SHOWN_CHARS).is_some() {
        cut.push('…');
    }
    format!("{cut:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache_control(written: &str) -> Result<String, String> {
        CacheControl::parse(written)
            .map(|parsed| parsed.to_string())
            .map_err(|error| error.to_string())
    }

    #[test]
    fn directives_are_sent_lowercase_in_the_order_written() {
        assert_eq!(cache_control("max-age=60"), Ok("max-age=60".into()));
        assert_eq!(
            cache_control(" Public ,S-MAXAGE=30,stale-if-error=300 "),
            Ok("public, s-maxage=30, stale-if-error=300".into())
        );
        assert_eq!(
            cache_control("no-cache,,must-revalidate,"),
            Ok("no-cache, must-revalidate".into())
        );
        assert_eq!(
            cache_control("max-age = 007"),
            Ok("max-age=7".into()),
            "spaces around = are the learner's, leading zeros are just a number"
        );
    }

    #[test]
    fn every_known_directive_round_trips() {
        let all = "public, private, no-store, no-cache, max-age=0, s-maxage=31536000, \
                   immutable, must-revalidate, proxy-revalidate, stale-while-revalidate=5, \
                   stale-if-error=6, no-transform";
        assert_eq!(cache_control(all), Ok(all.into()));
    }

    #[test]
    fn unknown_duplicated_or_malformed_directives_are_refused() {
        for (written, says) in [
            ("max-age", "needs a number of seconds"),
            ("max-age=", "is not a whole number"),
            ("max-age=-1", "is not a whole number"),
            ("max-age=1.5", "is not a whole number"),
            ("max-age=\"60\"", "is not a whole number"),
            ("max-age=31536001", "is not a whole number"),
            ("max-age=99999999999999999999", "is not a whole number"),
            ("max-age=60, max-age=30", "max-age is given twice"),
            ("public, PUBLIC", "public is given twice"),
            ("maxage=60", "not a Cache-Control response directive"),
            ("only-if-cached", "not a Cache-Control response directive"),
            ("private=\"Set-Cookie\"", "takes no value"),
            ("", "empty"),
            (" , ", "empty"),
        ] {
            let refused = cache_control(written).expect_err(written);
            assert!(refused.starts_with("the parameter \"cc\""), "{refused}");
            assert!(refused.contains(says), "{written:?}: {refused}");
        }
    }

    fn policy(query: &[(&'static str, &'static str)]) -> Result<Policy, PolicyError> {
        Policy::from_query(query.iter().copied())
    }

    #[test]
    fn no_query_is_no_header_an_etag_and_no_wait() {
        assert_eq!(policy(&[]), Ok(Policy::default()));
        let default = Policy::default();
        assert!(default.cache_control.is_none());
        assert!(default.etag);
    }

    #[test]
    fn each_parameter_is_read() {
        let read = policy(&[
            ("cc", "no-cache"),
            ("etag", "0"),
            ("vary", "accept-language"),
            ("slow", "3000"),
            ("learner", "ada:key"),
        ])
        .expect("a valid query");
        assert_eq!(
            read.cache_control.map(|cc| cc.to_string()),
            Some("no-cache".into())
        );
        assert!(!read.etag);
        assert_eq!(read.vary, Some(VaryOn::AcceptLanguage));
        assert_eq!(read.slow, Duration::from_millis(3000));
    }

    #[test]
    fn bad_parameters_name_themselves() {
        for (query, parameter) in [
            (vec![("max_age", "60")], "\"max_age\""),
            (vec![("cc", "max-age=1"), ("cc", "no-store")], "\"cc\""),
            (vec![("etag", "yes")], "\"etag\""),
            (vec![("vary", "Cookie")], "\"vary\""),
            (vec![("slow", "3001")], "\"slow\""),
            (vec![("slow", "+5")], "\"slow\""),
            (vec![("slow", "")], "\"slow\""),
        ] {
            let refused = policy(&query).expect_err("refused");
            assert_eq!(refused.parameter, parameter, "{query:?}");
            assert!(!refused.accepted.is_empty());
        }
    }
}
