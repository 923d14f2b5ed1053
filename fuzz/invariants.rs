//! What must hold for any bytes a client can send: shared by the fuzz target
//! (`cargo fuzz run untrusted_input`) and by `cargo test`, which replays the
//! checked-in corpus and a bounded number of generated inputs through it.

use cachelab::canonical::{CanonicalJson, FactorialInput};

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
    match CanonicalJson::parse(data) {
        Ok(canonical) => {
            // The canonical text is itself a body with the same canonical
            // form: storing and answering it changes nothing.
            let again = CanonicalJson::parse(canonical.text().as_bytes())
                .expect("the canonical text of a value parses");
            assert_eq!(again, canonical, "canonical form is a fixed point");
            assert_eq!(canonical.key().len(), 64);
            assert!(canonical
                .key()
                .bytes()
                .all(|byte| byte.is_ascii_hexdigit() && !byte.is_ascii_uppercase()));
            let original: serde_json::Value = serde_json::from_slice(data).expect("it parsed once");
            let reparsed: serde_json::Value =
                serde_json::from_str(canonical.text()).expect("canonical text is JSON");
            assert_eq!(original, reparsed, "canonical form keeps the value");
        }
        Err(refused) => {
            let message = refused.to_string();
            assert!(!message.is_empty());
            assert!(!message.contains('\n'), "error messages are one line");
        }
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
