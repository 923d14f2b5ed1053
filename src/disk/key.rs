//! The name a stored answer goes by: what `POST /data` prints in
//! `X-Cache-Key`, and what `GET /data/<key>` asks for.

use std::fmt;

/// How many hex digits a SHA-256 is written in.
const KEY_HEX_DIGITS: usize = 64;

/// A disk entry's key: the SHA-256 of the body in canonical form, in 64
/// lowercase hex digits. Valid by construction, so a lookup never reaches
/// the disk with a path-like or oversized name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EntryKey(String);

impl EntryKey {
    /// Reads a key exactly as `X-Cache-Key` prints it. Uppercase hex is
    /// refused rather than folded: the app never prints it, so it is a
    /// mistyped key, and saying so helps more than a quiet guess.
    pub fn parse(text: &str) -> Result<Self, NotAKey> {
        let is_key = text.len() == KEY_HEX_DIGITS
            && text
                .bytes()
                .all(|byte| matches!(byte, b'0'..=b'9' | b'a'..=b'f'));
        if is_key {
            Ok(Self(text.to_owned()))
        } else {
            Err(NotAKey)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EntryKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The text is not a key: not 64 lowercase hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotAKey;

impl fmt::Display for NotAKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "a key is 64 lowercase hex digits (0-9, a-f): the SHA-256 of a body in \
             canonical form, as POST /data prints it in X-Cache-Key",
        )
    }
}

impl std::error::Error for NotAKey {}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945";

    #[test]
    fn a_key_is_64_lowercase_hex_digits() {
        assert_eq!(
            EntryKey::parse(KEY).map(|key| key.to_string()),
            Ok(KEY.into())
        );
        for not_a_key in [
            "",
            &KEY[..63],
            &format!("{KEY}0"),
            &KEY.to_ascii_uppercase(),
            &KEY.replacen('f', "g", 1),
            &format!("../{}", &KEY[3..]),
            &format!("é{}", &KEY[2..]),
        ] {
            assert_eq!(EntryKey::parse(not_a_key), Err(NotAKey), "{not_a_key:?}");
        }
    }
}
