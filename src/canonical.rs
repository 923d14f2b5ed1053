//! Turning untrusted request input into values the tiers can trust.
//!
//! Parse, don't validate: a [`FactorialInput`] is a number the memory tier
//! accepts, and a [`CanonicalJson`] is a JSON value with its cache key. Each
//! parse failure says what was wrong and what is accepted instead.
//!
//! # Why the JSON parser is hand-written
//!
//! A cache key must change exactly when the value changes. Parsing into a
//! `serde_json::Value` loses that: a number that is not an `i64` or `u64`
//! becomes an `f64`, so `18446744073709551616` and `18446744073709551617`
//! share a key, `3` and `3.0` do not, and a key named twice is silently
//! read as one. serde_json's `arbitrary_precision` feature would keep the
//! digits, but Cargo features are unified across the whole build, so it would
//! change how every crate in the app reads and writes numbers, Rocket's
//! `Json` included. The RFC 8785 (JCS) crates, serde_jcs among them, round
//! every number to an IEEE double, as that RFC says to.
//!
//! So the body is read here by a strict RFC 8259 parser that writes the
//! canonical form as it goes, without building a tree:
//!
//! - object keys in the order RFC 8785 gives them (by UTF-16 code units of the
//!   unescaped key); a key named twice in one object is refused;
//! - strings escaped as RFC 8785 (and serde_json) escape them;
//! - numbers laid out as RFC 8785's ECMAScript rules lay out a double, but
//!   applied to the exact decimal digits written, never rounded: `1e400`
//!   stays `1e+400`, and `1`, `1.0` and `10E-1` are all `1`.

use std::fmt;

use sha2::{Digest, Sha256};

mod canonicalizer;

use canonicalizer::{canonical_text, push_escaped_char};

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

/// A JSON value in canonical form and the hex SHA-256 of that form, which is
/// its cache key.
///
/// Two bodies have the same canonical form exactly when they are the same
/// JSON value: key order, whitespace, string escapes and the spelling of a
/// number (`1`, `1.0`, `10E-1`) never split an entry, and every digit of a
/// number counts (`1` and `1.0000000000000000000001` are two entries).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanonicalJson {
    text: String,
    key: String,
}

/// Why a JSON body was refused. Every message is one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonBodyError {
    /// Nothing but whitespace was sent.
    Empty,
    /// Not JSON: what is wrong, with its line and column.
    Invalid(String),
    /// More than 127 levels of arrays and objects.
    TooDeep,
    /// An object names the same key twice (compared after unescaping).
    DuplicateKey {
        /// The repeated key, unescaped.
        key: String,
        /// The JSON Pointer (RFC 6901) of the object naming it; empty for
        /// the top-level value.
        path: String,
    },
    /// A number whose decimal exponent, written as d.ddd×10^N, does not fit
    /// in an `i64`.
    ExponentOutOfRange {
        /// Where the number starts: line, from 1.
        line: usize,
        /// And column, from 1, counted in characters.
        column: usize,
    },
}

impl fmt::Display for JsonBodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => write!(f, "the request body is empty: send a JSON value"),
            Self::Invalid(detail) => write!(f, "the body is not valid JSON: {detail}"),
            Self::TooDeep => write!(
                f,
                "the JSON nests too deeply: at most 127 levels of arrays and objects are accepted"
            ),
            Self::DuplicateKey { key, path } => {
                if path.is_empty() {
                    write!(f, "the top-level object")?;
                } else {
                    write!(f, "the object at {}", one_line_excerpt(path, false))?;
                }
                write!(
                    f,
                    " names the key {} twice: its meaning would be ambiguous, because JSON \
                     parsers disagree on which of the two values wins, so it is refused",
                    one_line_excerpt(key, true)
                )
            }
            Self::ExponentOutOfRange { line, column } => write!(
                f,
                "the number at line {line} column {column} is too large or too small for this \
                 app: written as d.ddd×10^N, its N must lie between -9223372036854775808 and \
                 9223372036854775807 (a limit of this app, not of JSON)"
            ),
        }
    }
}

/// `text` escaped as a JSON string (so it stays on one line), quoted or not,
/// and cut short if long: a refused key can be a megabyte.
fn one_line_excerpt(text: &str, quoted: bool) -> String {
    const MAX_CHARS: usize = 80;
    let mut escaped = Vec::new();
    for character in text.chars().take(MAX_CHARS) {
        push_escaped_char(&mut escaped, character);
    }
    let mut excerpt = String::from_utf8(escaped).expect("escaping keeps text UTF-8");
    if text.chars().nth(MAX_CHARS).is_some() {
        excerpt.push('…');
    }
    if quoted {
        format!("\"{excerpt}\"")
    } else {
        excerpt
    }
}

impl CanonicalJson {
    /// Parses a request body (RFC 8259, strictly) into its canonical form.
    ///
    /// Refused: an empty body, anything that is not exactly one JSON value,
    /// invalid UTF-8 or a lone surrogate in a string, more than 127 levels of
    /// nesting, an object naming a key twice, and a number whose exponent
    /// does not fit in an `i64`.
    pub fn parse(body: &[u8]) -> Result<Self, JsonBodyError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Err(JsonBodyError::Empty);
        }
        let text = canonical_text(body)?;
        let text = String::from_utf8(text)
            .expect("the canonical text is built from validated UTF-8 and ASCII");
        let key = format!("{:x}", Sha256::digest(text.as_bytes()));
        Ok(Self { text, key })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn canonical(body: &str) -> String {
        match CanonicalJson::parse(body.as_bytes()) {
            Ok(canonical) => canonical.text().to_owned(),
            Err(refused) => panic!("{body:?} was refused: {refused}"),
        }
    }

    fn key(body: &str) -> String {
        match CanonicalJson::parse(body.as_bytes()) {
            Ok(canonical) => canonical.key().to_owned(),
            Err(refused) => panic!("{body:?} was refused: {refused}"),
        }
    }

    fn refusal(body: &[u8]) -> JsonBodyError {
        match CanonicalJson::parse(body) {
            Ok(canonical) => panic!(
                "{:?} was accepted as {}",
                String::from_utf8_lossy(body),
                canonical.text()
            ),
            Err(refused) => refused,
        }
    }

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
    fn the_key_is_the_lowercase_hex_sha256_of_the_text() {
        let canonical = CanonicalJson::parse(b"[]").expect("valid");
        assert_eq!(
            canonical.key(),
            "4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945"
        );
    }

    #[test]
    fn a_changed_value_changes_the_key() {
        let a = CanonicalJson::parse(br#"{"a":1}"#).expect("valid");
        let b = CanonicalJson::parse(br#"{"a":2}"#).expect("valid");
        assert_ne!(a.key(), b.key());
    }

    #[test]
    fn every_spelling_of_a_number_has_one_canonical_form() {
        let table: &[(&[&str], &str)] = &[
            (
                &[
                    "1", "1.0", "1e0", "1E+0", "10E-1", "0.1e1", "100e-2", "0.0001e4",
                ],
                "1",
            ),
            (
                &["0", "-0", "0.0", "-0.0", "-0e5", "0e-7", "0.000E+99"],
                "0",
            ),
            (
                &["3", "3.0", "30e-1", "0.3E1", "3.000000000000000000000000"],
                "3",
            ),
            (&["-12.5", "-125e-1", "-0.125e2", "-12.50"], "-12.5"),
            (&["1200", "1.2e3", "12e2", "1200.00"], "1200"),
            // The ECMAScript layout: plain up to 21 integer digits, then an
            // exponent; plain down to 0.000001, then an exponent.
            (&["1e20", "100000000000000000000"], "100000000000000000000"),
            (&["123e18"], "123000000000000000000"),
            (&["1e21", "1000000000000000000000", "10e20"], "1e+21"),
            (&["1.5e21", "15e20"], "1500000000000000000000"),
            (&["0.000001", "1e-6", "10e-7"], "0.000001"),
            (&["0.00000123", "1.23e-6"], "0.00000123"),
            (&["0.0000001", "1e-7", "1E-7"], "1e-7"),
            (&["-1.5e-7", "-0.00000015"], "-1.5e-7"),
            (
                &["123.456", "123.4560", "1.23456e2", "123456e-3"],
                "123.456",
            ),
            (&["0.5", "5e-1", "50E-2"], "0.5"),
        ];
        for (spellings, expected) in table {
            for spelling in *spellings {
                assert_eq!(canonical(spelling), *expected, "{spelling}");
                assert_eq!(key(spelling), key(expected), "{spelling}");
            }
        }
    }

    #[test]
    fn numbers_keep_every_digit() {
        for exact in [
            "18446744073709551616",
            "-9223372036854775809",
            "1.0000000000000000000001",
            "0.30000000000000000000000000000001",
            "9007199254740993",
        ] {
            assert_eq!(canonical(exact), exact);
        }
        assert_eq!(
            canonical("123456789012345678901234567890"),
            "123456789012345678901234567890",
            "an integer stays an integer past 21 digits (RFC 8785 would use an exponent)"
        );
        assert_eq!(
            canonical("1234567890123456789012345678.9e1"),
            "12345678901234567890123456789"
        );
        assert_eq!(
            canonical("1e21"),
            "1e+21",
            "more than 20 trailing zeros take an exponent"
        );
        assert_eq!(canonical("12345e19"), "123450000000000000000000");
        let pairs = [
            ("18446744073709551616", "18446744073709551617"),
            ("1", "1.0000000000000000000001"),
            ("9007199254740992", "9007199254740993"),
            ("1e400", "1.0000000000000000000001e400"),
        ];
        for (one, other) in pairs {
            assert_ne!(key(one), key(other), "{one} and {other}");
        }
    }

    #[test]
    fn numbers_beyond_a_double_keep_their_exponent() {
        assert_eq!(canonical("1e400"), "1e+400");
        assert_eq!(canonical("-2.50E-400"), "-2.5e-400");
        assert_eq!(canonical("1e1000000"), "1e+1000000");
        assert_eq!(canonical("[1e1000000]").len(), "[1e+1000000]".len());
    }

    #[test]
    fn an_exponent_must_fit_in_an_i64() {
        assert_eq!(canonical("1e9223372036854775807"), "1e+9223372036854775807");
        assert_eq!(
            canonical("0.1e-9223372036854775807"),
            "1e-9223372036854775808"
        );
        assert_eq!(
            canonical("1e-9223372036854775808"),
            "1e-9223372036854775808"
        );
        assert_eq!(canonical("0e99999999999999999999999999999"), "0");
        for beyond in [
            "10e9223372036854775807",
            "1e9223372036854775808",
            "0.1e-9223372036854775808",
            "1e99999999999999999999999999999999999999999999",
        ] {
            let refused = refusal(format!("[\n {beyond}]").as_bytes());
            assert_eq!(
                refused,
                JsonBodyError::ExponentOutOfRange { line: 2, column: 2 },
                "{beyond}"
            );
            assert!(refused.to_string().contains("a limit of this app"));
        }
    }

    #[test]
    fn strings_are_written_with_the_canonical_escapes() {
        let cases = [
            (r#""\u0041""#, r#""A""#),
            (r#""\/""#, r#""/""#),
            (r#""\u005C\u0022""#, r#""\\\"""#),
            (r#""\u0008\u000C\u000a\u000D\u0009""#, r#""\b\f\n\r\t""#),
            (r#""\u001F\u0000""#, r#""\u001f\u0000""#),
            (r#""\u007f\u00e9\u2028""#, "\"\u{7f}\u{e9}\u{2028}\""),
            (r#""\uD83E\uDD80""#, "\"🦀\""),
            ("\"🦀 é\"", "\"🦀 é\""),
        ];
        for (sent, expected) in cases {
            assert_eq!(canonical(sent), expected, "{sent}");
        }
        assert_eq!(key(r#"{"\u0041":"\/"}"#), key(r#"{"A":"/"}"#));
    }

    #[test]
    fn strings_end_and_escape_at_any_offset() {
        // String content is scanned a word at a time: every byte that ends a
        // plain run must be found at every place in a word.
        for offset in 0..20 {
            let plain = "a".repeat(offset);
            for accepted in [
                format!("\"{plain}\""),
                format!("\"{plain}\\nbc\""),
                format!("\"{plain}\\\"bc\""),
                format!("\"{plain} \u{7f}~bc\""),
                format!("\"{plain}é€🦀bc\""),
            ] {
                assert_eq!(canonical(&accepted), accepted, "{accepted:?}");
            }
            for refused in [
                [b"\"", plain.as_bytes(), b"\x1fbc\""].concat(),
                [b"\"", plain.as_bytes(), b"\x00bc\""].concat(),
                [b"\"", plain.as_bytes(), b"\xffbc\""].concat(),
                [b"\"", plain.as_bytes(), b"\xc3bc\""].concat(),
                [b"\"", plain.as_bytes()].concat(),
            ] {
                assert!(
                    matches!(refusal(&refused), JsonBodyError::Invalid(_)),
                    "{refused:?}"
                );
            }
        }
    }

    #[test]
    fn keys_are_sorted_by_utf16_code_units_after_unescaping() {
        assert_eq!(canonical(r#"{"a":1,"B":2,"":3}"#), r#"{"":3,"B":2,"a":1}"#);
        assert_eq!(canonical(r#"{"ab":1,"a":2}"#), r#"{"a":2,"ab":1}"#);
        // Keys alike in their first eight bytes, and keys holding U+0000.
        assert_eq!(
            canonical(r#"{"abcdefgh2":1,"abcdefgh10":2,"abcdefgh":3}"#),
            r#"{"abcdefgh":3,"abcdefgh10":2,"abcdefgh2":1}"#
        );
        assert_eq!(
            canonical(r#"{"a\u0000b":1,"a\u0000":2,"a":3}"#),
            r#"{"a":3,"a\u0000":2,"a\u0000b":1}"#
        );
        assert_eq!(canonical(r#"{"\u0062":1,"a":2}"#), r#"{"a":2,"b":1}"#);
        // U+E000 sorts after U+1F600 in UTF-16 (0xE000 > 0xD83D), though not
        // in UTF-8 or by code point.
        assert_eq!(
            canonical("{\"\u{e000}\":1,\"😀\":2}"),
            "{\"😀\":2,\"\u{e000}\":1}"
        );
        assert_eq!(
            canonical("{\"😀\":2,\"\u{e000}\":1}"),
            "{\"😀\":2,\"\u{e000}\":1}"
        );
    }

    #[test]
    fn unsorted_objects_inside_unsorted_objects_are_reordered() {
        assert_eq!(
            canonical(r#"{"b":{"d":1,"c":[{"z":1,"y":{"q":0,"p":0}}]},"a":0,"c":"x"}"#),
            r#"{"a":0,"b":{"c":[{"y":{"p":0,"q":0},"z":1}],"d":1},"c":"x"}"#
        );
    }

    #[test]
    fn large_objects_are_reordered_whichever_member_is_largest() {
        // Past a few KiB, an object's largest member moves in place and the
        // others go around it: try every order and every largest member.
        let keys = ["a", "b", "c", "d"];
        let long = "x".repeat(10_000);
        for largest in 0..keys.len() {
            let value = |member: usize| {
                if member == largest {
                    format!("\"{long}\"")
                } else {
                    format!("[{member},{{\"z\":1,\"y\":2}}]")
                }
            };
            let sorted_value = |member: usize| {
                if member == largest {
                    format!("\"{long}\"")
                } else {
                    format!("[{member},{{\"y\":2,\"z\":1}}]")
                }
            };
            let expected: Vec<String> = (0..keys.len())
                .map(|member| format!("\"{}\":{}", keys[member], sorted_value(member)))
                .collect();
            let expected = format!("{{{}}}", expected.join(","));
            for order in permutations(keys.len()) {
                let members: Vec<String> = order
                    .iter()
                    .map(|&member| format!("\"{}\": {}", keys[member], value(member)))
                    .collect();
                let body = format!("{{ {} }}", members.join(", "));
                assert_eq!(
                    canonical(&body),
                    expected,
                    "order {order:?}, largest {largest}"
                );
            }
        }
    }

    /// Every order of `0..count`.
    fn permutations(count: usize) -> Vec<Vec<usize>> {
        if count == 0 {
            return vec![Vec::new()];
        }
        let mut all = Vec::new();
        for shorter in permutations(count - 1) {
            for place in 0..=shorter.len() {
                let mut order = shorter.clone();
                order.insert(place, count - 1);
                all.push(order);
            }
        }
        all
    }

    #[test]
    fn a_key_named_twice_is_refused_with_where_it_is() {
        let cases: [(&str, &str, &str); 6] = [
            (r#"{"a":1,"a":2}"#, "a", ""),
            (r#"{"a":1,"\u0061":2}"#, "a", ""),
            (r#"{"b":1,"a":2,"b":3}"#, "b", ""),
            (r#"{"x":[0,{"k":1,"k":2}]}"#, "k", "/x/1"),
            (r#"{"z":0,"x":[0,{"k":1,"j":0,"k":2}]}"#, "k", "/x/1"),
            (r#"[{"a/b~":{"k":1,"k":1}}]"#, "k", "/0/a~1b~0"),
        ];
        for (body, key, path) in cases {
            let refused = refusal(body.as_bytes());
            assert_eq!(
                refused,
                JsonBodyError::DuplicateKey {
                    key: key.into(),
                    path: path.into()
                },
                "{body}"
            );
            let message = refused.to_string();
            assert!(message.contains(&format!("\"{key}\"")), "{message}");
            assert!(message.contains(path), "{message}");
            assert!(message.contains("ambiguous"), "{message}");
        }
        assert!(refusal(br#"{"a":1,"a":2}"#)
            .to_string()
            .starts_with("the top-level object names the key \"a\" twice"));
    }

    #[test]
    fn nesting_is_limited_to_127_levels() {
        let arrays = |depth: usize| "[".repeat(depth) + &"]".repeat(depth);
        let objects = |depth: usize| "{\"a\":".repeat(depth) + "1" + &"}".repeat(depth);
        assert_eq!(canonical(&arrays(127)), arrays(127));
        assert_eq!(canonical(&objects(127)), objects(127));
        for too_deep in [
            arrays(128),
            objects(128),
            "[".repeat(127) + "{}" + &"]".repeat(127),
            "[".repeat(1_000_000),
        ] {
            let refused = refusal(too_deep.as_bytes());
            assert_eq!(refused, JsonBodyError::TooDeep);
            assert!(refused.to_string().contains("127 levels"));
        }
    }

    #[test]
    fn bad_bodies_are_refused_with_a_reason() {
        assert_eq!(CanonicalJson::parse(b""), Err(JsonBodyError::Empty));
        assert_eq!(CanonicalJson::parse(b"  \n"), Err(JsonBodyError::Empty));
        assert!(matches!(
            CanonicalJson::parse(b"{\"a\":"),
            Err(JsonBodyError::Invalid(_))
        ));
    }

    #[test]
    fn text_after_the_value_is_refused() {
        for body in ["{} {}", "1 2", "[]]", "nullx", "0x10", "\"a\"\"b\"", "1,"] {
            let refused = refusal(body.as_bytes());
            assert!(matches!(refused, JsonBodyError::Invalid(_)), "{body}");
        }
        assert_eq!(canonical(" \t\r\n{}\n "), "{}");
    }

    #[test]
    fn syntax_errors_say_where_on_one_line() {
        assert_eq!(
            refusal(b"{\n  \"a\": tru\n}").to_string(),
            "the body is not valid JSON: expected a value (true, false and null are written \
             in lowercase) at line 2 column 8"
        );
        let bad: &[&[u8]] = &[
            b"{",
            b"[1,]",
            b"{\"a\":1,}",
            b"{\"a\" 1}",
            b"{a:1}",
            b"[1 2]",
            b"01",
            b"1.",
            b".5",
            b"1e",
            b"-",
            b"+1",
            b"NaN",
            b"Infinity",
            b"'a'",
            b"\"a",
            b"\"\\x\"",
            b"\"\\u12\"",
            b"\"a\nb\"",
            b"\"a\x00b\"",
            b"\xef\xbb\xbf{}",
            b"{} // a comment",
            b"\"\xff\"",
            b"\"\xc3\x28\"",
            b"\"\xc0\xaf\"",
            b"\"\xed\xa0\x80\"",
            b"\"\\udc00\"",
            b"\"\\ud800\"",
            b"\"\\ud800\\u0041\"",
            b"\"\\ud800x\"",
        ];
        for body in bad {
            let refused = refusal(body);
            let message = refused.to_string();
            assert!(
                matches!(refused, JsonBodyError::Invalid(_)),
                "{:?}: {message}",
                String::from_utf8_lossy(body)
            );
            assert!(!message.contains('\n'), "{message}");
            assert!(message.contains(" at line 1 column "), "{message}");
        }
        let long_key = format!("{{\"{}\n\":1,\"{0}\n\":2}}", "k".repeat(10_000));
        let message = refusal(long_key.as_bytes()).to_string();
        assert!(!message.contains('\n') && message.len() < 400, "{message}");
        let escaped_key = refusal(b"{\"\\n\":1,\"\\n\":2}").to_string();
        assert!(escaped_key.contains(r#""\n""#), "{escaped_key}");
    }

    #[test]
    fn the_canonical_form_is_a_fixed_point() {
        for body in [
            r#"{"b":[1.50,{"y":"\u00e9","x":-0}],"a":1e400,"c":"\t\/"}"#,
            "[1e-7,123e18,1e21,0.000001,-1.25E-10,18446744073709551617]",
            "{\"\u{e000}\":1,\"😀\":2,\"\":null,\"\\u0000\":true}",
        ] {
            let first = CanonicalJson::parse(body.as_bytes()).expect("valid");
            let again = CanonicalJson::parse(first.text().as_bytes()).expect("canonical parses");
            assert_eq!(again, first, "{body}");
        }
    }
}
