//! Turning untrusted request input into values the tiers can trust.
//!
//! Parse, don't validate: a [`FactorialInput`] is a number the memory tier
//! accepts, and a [`CanonicalJson`] is a JSON value with its cache key. Each
//! parse failure says what was wrong and what is accepted instead.

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// A factorial argument within the configured limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FactorialInput(u64);

/// Why a `/factorial/<n>` argument was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FactorialInputError {
    Negative { max: u64 },
    NotAWholeNumber { max: u64 },
    TooLarge { max: u64 },
}

impl FactorialInput {
    pub fn parse(raw: &str, max: u64) -> Result<Self, FactorialInputError> {
        let digits = raw.strip_prefix('+').unwrap_or(raw);
        if digits.is_empty() || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
            return Err(match raw.strip_prefix('-') {
                Some(rest) if !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()) => {
                    FactorialInputError::Negative { max }
                }
                _ => FactorialInputError::NotAWholeNumber { max },
            });
        }
        // All digits, so the only way to fail is being too large for u64.
        match digits.parse::<u64>() {
            Ok(n) if n <= max => Ok(Self(n)),
            _ => Err(FactorialInputError::TooLarge { max }),
        }
    }

    pub fn get(self) -> u64 {
        self.0
    }
}

impl FactorialInputError {
    /// What the learner sent wrong, in one sentence.
    pub fn message(&self, raw: &str) -> String {
        match self {
            Self::Negative { .. } => {
                format!("{raw:?} is negative, and factorials exist only for n ≥ 0")
            }
            Self::NotAWholeNumber { .. } => format!("{raw:?} is not a whole number"),
            Self::TooLarge { max } => format!("{raw:?} is larger than this app's limit of {max}"),
        }
    }

    /// What would have been accepted.
    pub fn accepted(&self) -> String {
        let (Self::Negative { max } | Self::NotAWholeNumber { max } | Self::TooLarge { max }) =
            self;
        format!("a whole number from 0 to {max} (the max_factorial setting)")
    }
}

/// A JSON value in canonical form (object keys sorted, no whitespace) and the
/// hex SHA-256 of that form, which is its cache key.
///
/// Two bodies that differ only in key order or whitespace have the same
/// canonical form and so the same key. Numbers keep the form serde_json gives
/// them: `1` and `1.0` are different values (an integer and a float).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanonicalJson {
    text: String,
    key: String,
}

/// Why a JSON body was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonBodyError {
    Empty,
    Invalid(String),
    TooDeep,
}

impl std::fmt::Display for JsonBodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Empty => write!(f, "the request body is empty: send a JSON value"),
            Self::Invalid(detail) => write!(f, "the body is not valid JSON: {detail}"),
            Self::TooDeep => write!(
                f,
                "the JSON nests too deeply: at most 127 levels of arrays and objects are accepted"
            ),
        }
    }
}

impl CanonicalJson {
    /// Parses a request body. serde_json refuses 128 or more levels of nesting,
    /// which keeps a hostile body from exhausting the stack.
    pub fn parse(body: &[u8]) -> Result<Self, JsonBodyError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Err(JsonBodyError::Empty);
        }
        let value: Value = serde_json::from_slice(body).map_err(|error| {
            if error.to_string().contains("recursion limit") {
                JsonBodyError::TooDeep
            } else {
                JsonBodyError::Invalid(error.to_string())
            }
        })?;
        Ok(Self::from_value(&value))
    }

    pub fn from_value(value: &Value) -> Self {
        let text = serde_json::to_string(&SortedKeys(value))
            .expect("a serde_json::Value always serializes");
        let key = format!("{:x}", Sha256::digest(text.as_bytes()));
        Self { text, key }
    }

    /// The canonical text: what is stored and what is answered.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Hex SHA-256 of the canonical text.
    pub fn key(&self) -> &str {
        &self.key
    }
}

/// A quick fingerprint of a body as it was written, before canonicalization:
/// it tells two spellings of the same value apart. Not a security measure.
pub fn raw_fingerprint(body: &[u8]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    body.hash(&mut hasher);
    hasher.finish()
}

/// Serializes a value with object keys in sorted order whatever map type
/// serde_json was built with (its `preserve_order` feature keeps insertion
/// order, and any crate in the build can switch it on).
struct SortedKeys<'a>(&'a Value);

impl Serialize for SortedKeys<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Object(map) => {
                let mut entries: Vec<_> = map.iter().collect();
                entries.sort_unstable_by_key(|(key, _)| *key);
                let mut out = serializer.serialize_map(Some(entries.len()))?;
                for (key, value) in entries {
                    out.serialize_entry(key, &SortedKeys(value))?;
                }
                out.end()
            }
            Value::Array(items) => serializer.collect_seq(items.iter().map(SortedKeys)),
            scalar => scalar.serialize(serializer),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn factorial_input_accepts_the_range_and_names_the_limit() {
        assert_eq!(
            FactorialInput::parse("0", 10).map(FactorialInput::get),
            Ok(0)
        );
        assert_eq!(
            FactorialInput::parse("10", 10).map(FactorialInput::get),
            Ok(10)
        );
        assert_eq!(
            FactorialInput::parse("007", 10).map(FactorialInput::get),
            Ok(7)
        );
        let cases = [
            ("-1", FactorialInputError::Negative { max: 10 }),
            ("abc", FactorialInputError::NotAWholeNumber { max: 10 }),
            ("1.5", FactorialInputError::NotAWholeNumber { max: 10 }),
            ("", FactorialInputError::NotAWholeNumber { max: 10 }),
            ("-", FactorialInputError::NotAWholeNumber { max: 10 }),
            ("11", FactorialInputError::TooLarge { max: 10 }),
            (
                "99999999999999999999999",
                FactorialInputError::TooLarge { max: 10 },
            ),
        ];
        for (raw, expected) in cases {
            let error = FactorialInput::parse(raw, 10).expect_err(raw);
            assert_eq!(error, expected, "{raw}");
            assert!(error.accepted().contains("0 to 10"));
        }
    }

    #[test]
    fn key_order_and_whitespace_do_not_change_the_key() {
        let a = CanonicalJson::parse(br#"{"b":1,"a":{"y":[1,2],"x":null}}"#).expect("valid");
        let b = CanonicalJson::parse(b"{ \"a\" : { \"x\": null, \"y\": [1, 2] },\n \"b\": 1 }")
            .expect("valid");
        assert_eq!(a, b);
        assert_eq!(a.text(), r#"{"a":{"x":null,"y":[1,2]},"b":1}"#);
        assert_eq!(a.key().len(), 64);
    }

    #[test]
    fn a_changed_value_changes_the_key() {
        let a = CanonicalJson::parse(br#"{"a":1}"#).expect("valid");
        let b = CanonicalJson::parse(br#"{"a":2}"#).expect("valid");
        assert_ne!(a.key(), b.key());
    }

    #[test]
    fn bad_bodies_are_refused_with_a_reason() {
        assert_eq!(CanonicalJson::parse(b""), Err(JsonBodyError::Empty));
        assert_eq!(CanonicalJson::parse(b"  \n"), Err(JsonBodyError::Empty));
        assert!(matches!(
            CanonicalJson::parse(b"{\"a\":"),
            Err(JsonBodyError::Invalid(_))
        ));
        let deep = "[".repeat(10_000) + &"]".repeat(10_000);
        assert_eq!(
            CanonicalJson::parse(deep.as_bytes()),
            Err(JsonBodyError::TooDeep)
        );
    }
}
