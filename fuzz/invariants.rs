//! What must hold for any bytes a client can send: shared by the fuzz target
//! (`cargo fuzz run untrusted_input`) and by `cargo test`, which replays the
//! checked-in corpus and a bounded number of generated inputs through it.

use std::collections::HashSet;

use cachelab::canonical::{CanonicalJson, FactorialInput, JsonBodyError};
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

/// The `max_factorial` the checks run with.
const MAX: u64 = 10_000;

/// Panics if any invariant of the input parsers fails for `data`.
pub fn check(data: &[u8]) {
    check_json_body(data);
    if let Ok(text) = std::str::from_utf8(data) {
        check_factorial_argument(text);
    }
}

fn check_json_body(data: &[u8]) {
    let ours = CanonicalJson::parse(data);
    match &ours {
        Ok(canonical) => {
            // The canonical text is itself a body with the same canonical
            // form: storing and answering it changes nothing.
            let again = CanonicalJson::parse(canonical.text().as_bytes())
                .expect("the canonical text of a value parses");
            assert_eq!(&again, canonical, "canonical form is a fixed point");
            assert_eq!(canonical.key().len(), 64);
            assert!(canonical
                .key()
                .bytes()
                .all(|byte| byte.is_ascii_hexdigit() && !byte.is_ascii_uppercase()));
            // Any JSON reader can take the answer back, unless it holds a
            // number a double cannot (we keep `1e400`, serde_json refuses it).
            if let Err(error) = serde_json::from_str::<Value>(canonical.text()) {
                assert!(
                    error.to_string().starts_with("number out of range"),
                    "serde_json refuses the canonical text {:?}: {error}",
                    canonical.text()
                );
            }
        }
        Err(refused) => {
            let message = refused.to_string();
            assert!(!message.is_empty());
            assert!(!message.contains('\n'), "error messages are one line");
        }
    }

    // Whatever serde_json reads as one value with distinct keys (its own
    // depth limit is ours, and it refuses numbers beyond a double), we
    // accept, and our text means the same to serde_json.
    let Ok(original) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let Ok(DistinctKeys(true)) = serde_json::from_slice::<DistinctKeys>(data) else {
        return;
    };
    if !numbers_are_finite(&original) {
        return;
    }
    let canonical = match ours {
        Ok(canonical) => canonical,
        // serde_json reads a number too small for a double as 0, however
        // far past the smallest double it is (`1e-99999999999999999999`);
        // we keep exponents exactly, up to the limits of an i64. Only such
        // a number may be the difference.
        Err(JsonBodyError::ExponentOutOfRange { line, column }) => {
            let number = number_at(data, line, column);
            assert!(
                serde_json::from_str::<f64>(&number).is_ok_and(|float| float == 0.0)
                    && number.split(['e', 'E']).next().is_some_and(|mantissa| {
                        mantissa.bytes().any(|byte| (b'1'..=b'9').contains(&byte))
                    }),
                "only a nonzero number that serde_json rounds to 0 may be refused for its \
                 exponent, not {number:?}"
            );
            return;
        }
        Err(refused) => panic!("serde_json accepts what we refuse: {refused}"),
    };
    let reparsed: Value =
        serde_json::from_str(canonical.text()).expect("the canonical text of a double is JSON");
    assert!(
        same_value(&original, &reparsed),
        "canonical form keeps the value: {original} became {}",
        canonical.text()
    );
}

/// The number that starts at `line` and `column` (counted in characters).
fn number_at(data: &[u8], line: usize, column: usize) -> String {
    let text = std::str::from_utf8(data).expect("serde_json read it, so it is UTF-8");
    let line_start: usize = text
        .split('\n')
        .take(line - 1)
        .map(|line| line.len() + 1)
        .sum();
    let rest = &text[line_start..];
    let start = rest
        .char_indices()
        .nth(column - 1)
        .map_or(rest.len(), |(offset, _)| offset);
    rest[start..]
        .chars()
        .take_while(|character| "+-.eE0123456789".contains(*character))
        .collect()
}

/// Whether two values are equal, numbers compared by what they are rather
/// than how serde_json stores them: `3.0` (an `f64`) and `3` (a `u64`) are
/// one value. Integers both sides are compared exactly, and anything else as
/// the double each text parses to (serde_json's `float_roundtrip` rounds
/// correctly, so two spellings of one decimal give one double).
fn same_value(left: &Value, right: &Value) -> bool {
    match (left, right) {
        (Value::Number(left), Value::Number(right)) => {
            if left.is_f64() || right.is_f64() {
                left.as_f64() == right.as_f64()
            } else {
                left == right
            }
        }
        (Value::Array(left), Value::Array(right)) => {
            left.len() == right.len()
                && left
                    .iter()
                    .zip(right)
                    .all(|(left, right)| same_value(left, right))
        }
        (Value::Object(left), Value::Object(right)) => {
            left.len() == right.len()
                && left
                    .iter()
                    .all(|(key, left)| right.get(key).is_some_and(|right| same_value(left, right)))
        }
        (left, right) => left == right,
    }
}

fn numbers_are_finite(value: &Value) -> bool {
    match value {
        Value::Number(number) => number.as_f64().is_some_and(f64::is_finite),
        Value::Array(items) => items.iter().all(numbers_are_finite),
        Value::Object(members) => members.values().all(numbers_are_finite),
        _ => true,
    }
}

/// Whether no object in a document names a key twice, as serde_json reads
/// it: its `Value` keeps only the last of two equal keys, so it cannot tell.
struct DistinctKeys(bool);

impl<'de> Deserialize<'de> for DistinctKeys {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(DistinctKeysVisitor)
    }
}

struct DistinctKeysVisitor;

impl<'de> Visitor<'de> for DistinctKeysVisitor {
    type Value = DistinctKeys;

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<DistinctKeys, E> {
        Ok(DistinctKeys(true))
    }

    fn visit_i64<E>(self, _: i64) -> Result<DistinctKeys, E> {
        Ok(DistinctKeys(true))
    }

    fn visit_u64<E>(self, _: u64) -> Result<DistinctKeys, E> {
        Ok(DistinctKeys(true))
    }

    fn visit_f64<E>(self, _: f64) -> Result<DistinctKeys, E> {
        Ok(DistinctKeys(true))
    }

    fn visit_str<E>(self, _: &str) -> Result<DistinctKeys, E> {
        Ok(DistinctKeys(true))
    }

    fn visit_unit<E>(self) -> Result<DistinctKeys, E> {
        Ok(DistinctKeys(true))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<DistinctKeys, A::Error> {
        let mut distinct = true;
        while let Some(DistinctKeys(inner)) = items.next_element()? {
            distinct &= inner;
        }
        Ok(DistinctKeys(distinct))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut members: A) -> Result<DistinctKeys, A::Error> {
        let mut seen = HashSet::new();
        let mut distinct = true;
        while let Some(key) = members.next_key::<String>()? {
            distinct &= seen.insert(key);
            let DistinctKeys(inner) = members.next_value()?;
            distinct &= inner;
        }
        Ok(DistinctKeys(distinct))
    }
}

fn check_factorial_argument(text: &str) {
    match FactorialInput::parse(text, MAX) {
        Ok(input) => {
            assert!(input.get() <= MAX);
            let digits = text.strip_prefix('+').unwrap_or(text);
            assert!(!digits.is_empty() && digits.bytes().all(|byte| byte.is_ascii_digit()));
            assert_eq!(digits.parse::<u64>().ok(), Some(input.get()));
        }
        Err(refused) => {
            assert!(!refused.message(text).is_empty());
            assert!(refused.accepted().contains("10000"));
        }
    }
}
