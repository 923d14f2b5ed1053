//! Property tests for cache keys: formatting never splits one value into two
//! entries, and two values never share one.

use cachelab::canonical::{CanonicalJson, FactorialInput};
use proptest::prelude::*;
use serde_json::{Map, Value};

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("JSON has no NaN or infinity", |float| float.is_finite())
            .prop_map(Value::from),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((any::<String>(), inner), 0..6)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A tiny deterministic generator, so one `seed` picks every formatting choice.
struct Choices(u64);

impl Choices {
    fn next(&mut self, below: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % below as u64) as usize
    }

    fn space(&mut self) -> &'static str {
        ["", " ", "\n", "\t", "\r\n  ", ""][self.next(6)]
    }
}

/// `value` as JSON text with its object keys in a shuffled order, random
/// whitespace between tokens, and some strings written with `\u` escapes.
fn reformat(value: &Value, choices: &mut Choices) -> String {
    let padded = |text: String, choices: &mut Choices| {
        format!("{}{text}{}", choices.space(), choices.space())
    };
    match value {
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(|item| reformat(item, choices)).collect();
            padded(format!("[{}]", inner.join(",")), choices)
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            for i in (1..entries.len()).rev() {
                let j = choices.next(i + 1);
                entries.swap(i, j);
            }
            let inner: Vec<String> = entries
                .into_iter()
                .map(|(key, item)| {
                    format!(
                        "{}:{}",
                        padded(string_literal(key, choices), choices),
                        reformat(item, choices)
                    )
                })
                .collect();
            padded(format!("{{{}}}", inner.join(",")), choices)
        }
        Value::String(text) => padded(string_literal(text, choices), choices),
        scalar => padded(scalar.to_string(), choices),
    }
}

fn string_literal(text: &str, choices: &mut Choices) -> String {
    if choices.next(3) > 0 {
        return Value::String(text.to_owned()).to_string();
    }
    let mut literal = String::from("\"");
    for unit in text.encode_utf16() {
        literal.push_str(&format!("\\u{unit:04x}"));
    }
    literal.push('"');
    literal
}

fn key_of(text: &str) -> CanonicalJson {
    CanonicalJson::parse(text.as_bytes()).expect("generated JSON parses")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn any_formatting_of_a_value_gives_the_same_key(value in json_value(), seed in 1u64..) {
        let plain = key_of(&value.to_string());
        let reformatted = key_of(&reformat(&value, &mut Choices(seed)));
        prop_assert_eq!(reformatted.key(), plain.key());
        prop_assert_eq!(reformatted.text(), plain.text());
    }

    #[test]
    fn different_values_give_different_keys(a in json_value(), b in json_value()) {
        let (key_a, key_b) = (key_of(&a.to_string()), key_of(&b.to_string()));
        let parsed_a: Value = serde_json::from_str(key_a.text()).expect("canonical JSON");
        let parsed_b: Value = serde_json::from_str(key_b.text()).expect("canonical JSON");
        prop_assert_eq!(parsed_a == parsed_b, key_a.key() == key_b.key());
    }

    #[test]
    fn the_canonical_form_is_a_fixed_point(value in json_value()) {
        let canonical = key_of(&value.to_string());
        prop_assert_eq!(key_of(canonical.text()), canonical);
    }

    #[test]
    fn every_whole_number_up_to_the_limit_is_accepted_in_any_spelling(
        n in 0u64..=10_000,
        zeros in 0usize..4,
        plus in any::<bool>(),
    ) {
        let text = format!("{}{}{n}", if plus { "+" } else { "" }, "0".repeat(zeros));
        prop_assert_eq!(FactorialInput::parse(&text, 10_000).map(FactorialInput::get), Ok(n));
    }

    #[test]
    fn anything_that_is_not_plain_digits_is_refused(text in "\\PC*") {
        let digits = text.strip_prefix('+').unwrap_or(&text);
        let plain = !digits.is_empty() && digits.bytes().all(|byte| byte.is_ascii_digit());
        prop_assume!(!plain);
        prop_assert!(FactorialInput::parse(&text, 10_000).is_err());
    }
}
