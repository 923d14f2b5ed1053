//! What the shared tier stores, and the check a value must pass before it
//! is used.
//!
//! Redis is a server other programs can write to, and its memory or disk
//! can be damaged like any other. A value is used only when the SHA-256
//! stored with it matches its bytes (the same digest the disk tier checks
//! every entry against) and when it is this key's answer: a `/data`
//! answer's key is that very digest, and a factorial's answer names its own
//! n. Anything else is a miss.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::Kind;

/// One answer as Redis holds it: the bytes sent to the client, and their
/// SHA-256 in hex.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharedValue {
    sha256: String,
    /// The JSON answer, exactly as sent (JSON is UTF-8).
    body: String,
}

impl SharedValue {
    /// The value for an answer's bytes; `None` for bytes that are not text,
    /// which no answer of this app is.
    pub fn of(body: &[u8]) -> Option<Self> {
        let body = std::str::from_utf8(body).ok()?.to_owned();
        Some(Self {
            sha256: sha256_hex(body.as_bytes()),
            body,
        })
    }

    /// The answer's bytes, if they are intact and are `key`'s answer.
    pub fn checked(self, kind: Kind, key: &str) -> Option<Arc<[u8]>> {
        if sha256_hex(self.body.as_bytes()) != self.sha256 {
            return None;
        }
        let belongs = match kind {
            Kind::Data => self.sha256 == key,
            Kind::Factorial => is_factorial_answer(&self.body, key),
        };
        belongs.then(|| Arc::from(self.body.into_bytes()))
    }
}

/// Whether `body` is exactly `{"number":<key>,"factorial":"<digits>","digits":<count>}`,
/// the answer for n = `key` as this app writes it.
fn is_factorial_answer(body: &str, key: &str) -> bool {
    let Some(rest) = body
        .strip_prefix("{\"number\":")
        .and_then(|rest| rest.strip_prefix(key))
        .and_then(|rest| rest.strip_prefix(",\"factorial\":\""))
    else {
        return false;
    };
    let Some((digits, rest)) = rest.split_once('"') else {
        return false;
    };
    let count = rest
        .strip_prefix(",\"digits\":")
        .and_then(|rest| rest.strip_suffix('}'));
    !digits.is_empty()
        && digits.bytes().all(|byte| byte.is_ascii_digit())
        && count == Some(digits.len().to_string().as_str())
}

fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut hex = String::with_capacity(64);
    for byte in digest {
        hex.push(char::from_digit(u32::from(byte >> 4), 16).expect("a nibble is a hex digit"));
        hex.push(char::from_digit(u32::from(byte & 15), 16).expect("a nibble is a hex digit"));
    }
    hex
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIVE: &str = r#"{"number":5,"factorial":"120","digits":3}"#;

    #[test]
    fn an_intact_answer_for_its_key_passes() {
        let value = SharedValue::of(FIVE.as_bytes()).expect("text");
        assert_eq!(
            value.checked(Kind::Factorial, "5").as_deref(),
            Some(FIVE.as_bytes())
        );
        let body = br#"{"a":1}"#;
        let key = sha256_hex(body);
        let value = SharedValue::of(body).expect("text");
        assert_eq!(value.checked(Kind::Data, &key).as_deref(), Some(&body[..]));
    }

    #[test]
    fn a_damaged_value_fails() {
        let mut value = SharedValue::of(FIVE.as_bytes()).expect("text");
        value.body = value.body.replace("120", "121");
        assert_eq!(value.checked(Kind::Factorial, "5"), None);
    }

    #[test]
    fn an_intact_value_that_is_not_shaped_as_an_answer_fails() {
        for body in [
            r#"{"number":5,"factorial":"12x","digits":3}"#,
            r#"{"number":5,"factorial":"120","digits":4}"#,
            r#"{"number":5,"factorial":"","digits":0}"#,
            r#"{"number":5,"factorial":"120","digits":3,"extra":1}"#,
        ] {
            let value = SharedValue::of(body.as_bytes()).expect("text");
            assert_eq!(value.checked(Kind::Factorial, "5"), None, "{body}");
        }
    }

    #[test]
    fn another_keys_answer_fails_even_when_intact() {
        let value = SharedValue::of(FIVE.as_bytes()).expect("text");
        assert_eq!(value.clone().checked(Kind::Factorial, "50"), None);
        assert_eq!(value.clone().checked(Kind::Factorial, "6"), None);
        let other = sha256_hex(b"{}");
        assert_eq!(value.checked(Kind::Data, &other), None);
    }
}
