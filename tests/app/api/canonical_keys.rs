//! Property tests for cache keys: re-spelling a value never splits it into
//! two entries, and changing it, even by the last digit of a number, never
//! lets two values share one.
//!
//! Values are generated as a small model ([`Json`]) whose numbers are exact
//! decimals, written out as text here: serde_json's `Value` would round the
//! very numbers the keys must keep apart.

use cachelab::canonical::{CanonicalJson, FactorialInput};
use proptest::prelude::*;

/// A JSON value with exact numbers and objects whose keys are distinct.
#[derive(Debug, Clone)]
enum Json {
    Null,
    Bool(bool),
    Number(Decimal),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

/// `digits` × 10^`exponent`, negated when `negative`. `digits` has no
/// leading zero unless it is `"0"`.
#[derive(Debug, Clone)]
struct Decimal {
    negative: bool,
    digits: String,
    exponent: i64,
}

impl Decimal {
    fn new(negative: bool, digits: &str, exponent: i64) -> Self {
        let digits = digits.trim_start_matches('0');
        Self {
            negative,
            digits: if digits.is_empty() { "0" } else { digits }.to_owned(),
            exponent,
        }
    }

    /// A double's shortest decimal form, as Rust prints it (`1.5e-7`).
    fn from_f64(float: f64) -> Self {
        let text = format!("{float:e}");
        let (mantissa, exponent) = text.split_once('e').expect("{:e} writes an exponent");
        let exponent: i64 = exponent.parse().expect("{:e} writes an integer exponent");
        let (negative, mantissa) = match mantissa.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, mantissa),
        };
        let (integer, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        Self::new(
            negative,
            &format!("{integer}{fraction}"),
            exponent - fraction.len() as i64,
        )
    }

    /// The value as (negative, significant digits, exponent), or `None` for
    /// zero (whatever its sign): the one form two equal decimals share.
    fn normalized(&self) -> Option<(bool, &str, i64)> {
        let significant = self.digits.trim_end_matches('0');
        if significant.is_empty() {
            return None;
        }
        let trailing_zeros = (self.digits.len() - significant.len()) as i64;
        Some((self.negative, significant, self.exponent + trailing_zeros))
    }
}

fn decimal() -> impl Strategy<Value = Decimal> {
    prop_oneof![
        any::<i64>().prop_map(|n| Decimal::new(n < 0, &n.unsigned_abs().to_string(), 0)),
        any::<u64>().prop_map(|n| Decimal::new(false, &n.to_string(), 0)),
        any::<f64>()
            .prop_filter("JSON has no NaN or infinity", |float| float.is_finite())
            .prop_map(Decimal::from_f64),
        // Integers past u64, and decimals with more digits than a double.
        (any::<bool>(), "[1-9][0-9]{15,40}")
            .prop_map(|(negative, digits)| Decimal::new(negative, &digits, 0)),
        (any::<bool>(), "[0-9]{1,40}", -45i64..=0)
            .prop_map(|(negative, digits, exponent)| Decimal::new(negative, &digits, exponent)),
        // Far outside a double's range, and near the app's exponent limit.
        (any::<bool>(), "[1-9][0-9]{0,25}", -500i64..=500)
            .prop_map(|(negative, digits, exponent)| Decimal::new(negative, &digits, exponent)),
        (
            any::<bool>(),
            "[1-9][0-9]{0,5}",
            -(1i64 << 60)..(1i64 << 60)
        )
            .prop_map(|(negative, digits, exponent)| Decimal::new(negative, &digits, exponent)),
        any::<bool>().prop_map(|negative| Decimal::new(negative, "0", 0)),
    ]
}

/// Keys that often collide (and are deduplicated), often sort differently
/// by UTF-16 code units than by code points (U+E000 to U+FFFF against
/// characters above U+FFFF), and sometimes are anything at all.
fn object_key() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-c]{0,2}",
        "[\\x{E000}\\x{FFFD}\\x{10000}\\x{1F600}a]{1,3}",
        "\\PC{0,4}",
    ]
}

fn json_value() -> impl Strategy<Value = Json> {
    let leaf = prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::Bool),
        decimal().prop_map(Json::Number),
        decimal().prop_map(Json::Number),
        any::<String>().prop_map(Json::String),
        // Characters with escapes of their own, and ones that must stay literal.
        "[\\x00-\\x1f\"\\\\/\\x7f\\x{2028}a]{0,6}".prop_map(Json::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Json::Array),
            prop::collection::vec((object_key(), inner), 0..6).prop_map(|members| {
                // An object names each key once: a repeated key is refused.
                let mut distinct: Vec<(String, Json)> = Vec::new();
                for (key, value) in members {
                    if distinct.iter().all(|(seen, _)| *seen != key) {
                        distinct.push((key, value));
                    }
                }
                Json::Object(distinct)
            }),
        ]
    })
}

/// Whether two models are the same JSON value.
fn same_value(left: &Json, right: &Json) -> bool {
    match (left, right) {
        (Json::Null, Json::Null) => true,
        (Json::Bool(left), Json::Bool(right)) => left == right,
        (Json::Number(left), Json::Number(right)) => left.normalized() == right.normalized(),
        (Json::String(left), Json::String(right)) => left == right,
        (Json::Array(left), Json::Array(right)) => {
            left.len() == right.len()
                && left
                    .iter()
                    .zip(right)
                    .all(|(left, right)| same_value(left, right))
        }
        (Json::Object(left), Json::Object(right)) => {
            left.len() == right.len()
                && left.iter().all(|(key, left)| {
                    right
                        .iter()
                        .any(|(other, right)| key == other && same_value(left, right))
                })
        }
        _ => false,
    }
}

/// The canonical text as RFC 8785 describes it, written independently of the
/// app: keys sorted by UTF-16 code units, serde_json's string escaping, and
/// the ECMAScript number layout applied to the exact digits.
fn expected_text(value: &Json) -> String {
    match value {
        Json::Null => "null".into(),
        Json::Bool(flag) => flag.to_string(),
        Json::Number(number) => expected_number(number),
        Json::String(text) => serde_json::to_string(text).expect("a string serializes"),
        Json::Array(items) => {
            let items: Vec<String> = items.iter().map(expected_text).collect();
            format!("[{}]", items.join(","))
        }
        Json::Object(members) => {
            let mut members: Vec<&(String, Json)> = members.iter().collect();
            members.sort_by_key(|(key, _)| key.encode_utf16().collect::<Vec<u16>>());
            let members: Vec<String> = members
                .into_iter()
                .map(|(key, value)| {
                    format!(
                        "{}:{}",
                        serde_json::to_string(key).expect("a string serializes"),
                        expected_text(value)
                    )
                })
                .collect();
            format!("{{{}}}", members.join(","))
        }
    }
}

fn expected_number(number: &Decimal) -> String {
    let Some((negative, digits, exponent)) = number.normalized() else {
        return "0".into();
    };
    let sign = if negative { "-" } else { "" };
    let k = digits.len() as i64;
    let n = k + exponent;
    let body = if k <= n && n <= k + 20 {
        format!("{digits}{}", "0".repeat((n - k) as usize))
    } else if 0 < n && n <= 21 {
        format!("{}.{}", &digits[..n as usize], &digits[n as usize..])
    } else if -6 < n && n <= 0 {
        format!("0.{}{digits}", "0".repeat(-n as usize))
    } else {
        let rest = if k > 1 {
            format!(".{}", &digits[1..])
        } else {
            String::new()
        };
        let power = n - 1;
        let power_sign = if power < 0 { '-' } else { '+' };
        format!(
            "{}{rest}e{power_sign}{}",
            &digits[..1],
            power.unsigned_abs()
        )
    };
    format!("{sign}{body}")
}

/// The simplest spelling of a value: keys in the order generated, no
/// whitespace, numbers as `digits` or `digitsEexponent`.
fn plain(value: &Json) -> String {
    match value {
        Json::Number(number) if number.exponent == 0 => {
            format!("{}{}", sign(number), number.digits)
        }
        Json::Number(number) => format!("{}{}e{}", sign(number), number.digits, number.exponent),
        Json::Array(items) => {
            let items: Vec<String> = items.iter().map(plain).collect();
            format!("[{}]", items.join(","))
        }
        Json::Object(members) => {
            let members: Vec<String> = members
                .iter()
                .map(|(key, value)| {
                    format!(
                        "{}:{}",
                        expected_text(&Json::String(key.clone())),
                        plain(value)
                    )
                })
                .collect();
            format!("{{{}}}", members.join(","))
        }
        other => expected_text(other),
    }
}

fn sign(number: &Decimal) -> &'static str {
    if number.negative {
        "-"
    } else {
        ""
    }
}

/// A tiny deterministic generator, so one `seed` picks every spelling choice.
struct Choices(u64);

impl Choices {
    fn next(&mut self, below: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % below as u64) as usize
    }

    fn coin(&mut self) -> bool {
        self.next(2) == 0
    }

    fn space(&mut self) -> &'static str {
        ["", " ", "\n", "\t", "\r\n  ", ""][self.next(6)]
    }
}

/// `value` spelled another way: object keys shuffled, whitespace between
/// tokens, strings partly written with escapes, and every number re-spelled
/// (its decimal point moved against its exponent, zeros added). When
/// `change` is `Some(i)`, the i-th number (in writing order) is also changed
/// by one step of its last written digit, so the value is no longer the same.
fn respell(value: &Json, choices: &mut Choices, change: &mut Option<usize>) -> String {
    let before = choices.space();
    let text = match value {
        Json::Array(items) => {
            let items: Vec<String> = items
                .iter()
                .map(|item| respell(item, choices, change))
                .collect();
            format!("[{}{}]", items.join(","), choices.space())
        }
        Json::Object(members) => {
            let mut members: Vec<&(String, Json)> = members.iter().collect();
            for i in (1..members.len()).rev() {
                let j = choices.next(i + 1);
                members.swap(i, j);
            }
            let members: Vec<String> = members
                .into_iter()
                .map(|(key, item)| {
                    let key = respell_string(key, choices);
                    let space = choices.space();
                    format!("{key}{space}:{}", respell(item, choices, change))
                })
                .collect();
            format!("{{{}{}}}", members.join(","), choices.space())
        }
        Json::String(text) => respell_string(text, choices),
        Json::Number(number) => {
            let spelled = respell_number(number, choices);
            match change {
                Some(0) => {
                    *change = None;
                    step_last_digit(&spelled, choices)
                }
                Some(remaining) => {
                    *remaining -= 1;
                    spelled
                }
                None => spelled,
            }
        }
        scalar => expected_text(scalar),
    };
    format!("{before}{text}{}", choices.space())
}

fn respell_string(text: &str, choices: &mut Choices) -> String {
    let mut literal = String::from("\"");
    for character in text.chars() {
        let short = match character {
            '"' => Some("\\\""),
            '\\' => Some("\\\\"),
            '/' => Some("\\/"),
            '\u{8}' => Some("\\b"),
            '\u{c}' => Some("\\f"),
            '\n' => Some("\\n"),
            '\r' => Some("\\r"),
            '\t' => Some("\\t"),
            _ => None,
        };
        let must_escape = matches!(character, '"' | '\\' | '\0'..='\u{1f}');
        match (choices.next(3), short) {
            (0, _) if !must_escape => literal.push(character),
            (1, Some(short)) => literal.push_str(short),
            _ => {
                let mut units = [0; 2];
                for unit in character.encode_utf16(&mut units) {
                    if choices.coin() {
                        literal.push_str(&format!("\\u{unit:04x}"));
                    } else {
                        literal.push_str(&format!("\\u{unit:04X}"));
                    }
                }
            }
        }
    }
    literal.push('"');
    literal
}

/// Another spelling of the same number: `1`, `1.0`, `0.1e1`, `10E-1`, ...
fn respell_number(number: &Decimal, choices: &mut Choices) -> String {
    // digits × 10^exponent, with a few zeros appended to the digits.
    let zeros = choices.next(3);
    let digits = format!("{}{}", number.digits, "0".repeat(zeros));
    let exponent = number.exponent - zeros as i64;
    // Put the decimal point anywhere among the digits, or in front of them
    // after some zeros (0.000ddd).
    let (integer, fraction) = if choices.coin() {
        let point = choices.next(digits.len() + 1);
        let (integer, fraction) = digits.split_at(point);
        let integer = integer.trim_start_matches('0');
        (
            if integer.is_empty() { "0" } else { integer }.to_owned(),
            fraction.to_owned(),
        )
    } else {
        (
            "0".to_owned(),
            format!("{}{digits}", "0".repeat(choices.next(4))),
        )
    };
    let written_exponent = exponent + fraction.len() as i64;
    let mut text = String::from(sign(number));
    text.push_str(&integer);
    if !fraction.is_empty() {
        text.push('.');
        text.push_str(&fraction);
    }
    if written_exponent != 0 || choices.coin() {
        text.push(if choices.coin() { 'e' } else { 'E' });
        if written_exponent < 0 {
            text.push('-');
        } else if choices.coin() {
            text.push('+');
        }
        text.push_str(&"0".repeat(choices.next(3)));
        text.push_str(&written_exponent.unsigned_abs().to_string());
    }
    text
}

/// `spelled` changed by the smallest step its digits show: its last
/// mantissa digit moved by one, or (when it has decimals) a `1` appended.
fn step_last_digit(spelled: &str, choices: &mut Choices) -> String {
    let mantissa_end = spelled.find(['e', 'E']).unwrap_or(spelled.len());
    let (mantissa, exponent) = spelled.split_at(mantissa_end);
    if mantissa.contains('.') && choices.coin() {
        return format!("{mantissa}1{exponent}");
    }
    let (head, last) = mantissa.split_at(mantissa.len() - 1);
    let last = match last {
        "9" => "8",
        digit => ["1", "2", "3", "4", "5", "6", "7", "8", "9"][digit
            .parse::<usize>()
            .expect("a number's last mantissa character is a digit")],
    };
    format!("{head}{last}{exponent}")
}

fn count_numbers(value: &Json) -> usize {
    match value {
        Json::Number(_) => 1,
        Json::Array(items) => items.iter().map(count_numbers).sum(),
        Json::Object(members) => members.iter().map(|(_, value)| count_numbers(value)).sum(),
        _ => 0,
    }
}

fn key_of(text: &str) -> CanonicalJson {
    match CanonicalJson::parse(text.as_bytes()) {
        Ok(canonical) => canonical,
        Err(refused) => panic!("generated JSON {text:?} was refused: {refused}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn the_canonical_text_is_the_rfc_8785_layout_of_the_exact_value(value in json_value()) {
        let canonical = key_of(&plain(&value));
        prop_assert_eq!(canonical.text(), expected_text(&value));
    }

    #[test]
    fn any_spelling_of_a_value_gives_the_same_key(value in json_value(), seed in 1u64..) {
        let plain = key_of(&plain(&value));
        let respelled = key_of(&respell(&value, &mut Choices(seed), &mut None));
        prop_assert_eq!(respelled.text(), plain.text());
        prop_assert_eq!(respelled.key(), plain.key());
    }

    #[test]
    fn a_number_changed_in_its_last_written_digit_gives_another_key(
        value in json_value().prop_filter("a value with a number", |value| count_numbers(value) > 0),
        seed in 1u64..,
        which in any::<usize>(),
    ) {
        let numbers = count_numbers(&value);
        let original = key_of(&plain(&value));
        let changed = key_of(&respell(&value, &mut Choices(seed), &mut Some(which % numbers)));
        prop_assert_ne!(changed.key(), original.key(), "{}", changed.text());
    }

    #[test]
    fn different_values_give_different_keys(a in json_value(), b in json_value()) {
        let (key_a, key_b) = (key_of(&plain(&a)), key_of(&plain(&b)));
        prop_assert_eq!(same_value(&a, &b), key_a.key() == key_b.key());
    }

    #[test]
    fn the_canonical_form_is_a_fixed_point(value in json_value(), seed in 1u64..) {
        let canonical = key_of(&respell(&value, &mut Choices(seed), &mut None));
        prop_assert_eq!(key_of(canonical.text()), canonical);
    }

    #[test]
    fn generated_values_hold_the_fuzz_invariants(value in json_value(), seed in 1u64..) {
        crate::api::fuzz_replay::invariants::check(
            respell(&value, &mut Choices(seed), &mut None).as_bytes(),
        );
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

/// What `POST /data` answers for each body, through the app.
mod over_http {
    use rocket::http::Status;

    use crate::helpers::{sha256_hex, TestApp};

    #[test]
    fn a_big_integer_is_answered_with_every_digit() {
        let app = TestApp::new();
        let answer = app.post_json("/data", r#"{"n":123456789012345678901234567890}"#);
        assert_eq!(answer.status, Status::Ok);
        // An integer stays an integer, every digit kept, where RFC 8785's
        // layout would switch to an exponent past 21 digits.
        let canonical = r#"{"n":123456789012345678901234567890}"#;
        assert_eq!(answer.body, canonical);
        assert_eq!(
            answer.header("X-Cache-Key"),
            Some(sha256_hex(canonical).as_str())
        );
        let spelled_otherwise =
            app.post_json("/data", r#"{"n":1.2345678901234567890123456789e29}"#);
        assert_eq!(spelled_otherwise.x_cache(), "HIT", "one value, one entry");
        assert_eq!(spelled_otherwise.body, canonical);
        // Past 20 trailing zeros the exponent stays, so 1e400 is short.
        let huge = app.post_json("/data", r#"{"n":1e400}"#);
        assert_eq!(huge.body, r#"{"n":1e+400}"#);
    }

    #[test]
    fn three_spellings_of_one_number_share_one_entry() {
        let app = TestApp::new();
        let first = app.post_json("/data", r#"{"d":3}"#);
        let second = app.post_json("/data", r#"{"d":3.0}"#);
        let third = app.post_json("/data", r#"{"d":30e-1}"#);
        assert_eq!(
            [first.x_cache(), second.x_cache(), third.x_cache()],
            ["MISS", "HIT", "HIT"]
        );
        let key = first.header("X-Cache-Key").expect("a key");
        assert_eq!(second.header("X-Cache-Key"), Some(key));
        assert_eq!(third.header("X-Cache-Key"), Some(key));
        assert_eq!(third.body, r#"{"d":3}"#);
        assert_eq!(app.disk_stat("entries"), 1);
    }

    #[test]
    fn integers_past_u64_that_differ_in_the_last_digit_get_two_keys() {
        let app = TestApp::new();
        let first = app.post_json("/data", "18446744073709551616");
        let second = app.post_json("/data", "18446744073709551617");
        assert_eq!((first.x_cache(), second.x_cache()), ("MISS", "MISS"));
        assert_ne!(first.header("X-Cache-Key"), second.header("X-Cache-Key"));
        assert_eq!(first.body, "18446744073709551616");
        assert_eq!(second.body, "18446744073709551617");
    }

    #[test]
    fn a_key_named_twice_is_refused_and_named() {
        let app = TestApp::new();
        let answer = app.post_json("/data", r#"{"x":[{"a":1,"a":2}]}"#);
        assert_eq!(answer.status, Status::BadRequest);
        assert_eq!(answer.json["status"], 400);
        let error = answer.json["error"].as_str().unwrap_or_default();
        assert!(
            error.contains(r#"the object at /x/0 names the key "a" twice"#),
            "{error}"
        );
        assert!(error.contains("ambiguous"), "{error}");
        assert_eq!(app.disk_stat("entries"), 0, "nothing refused was stored");
    }
}
