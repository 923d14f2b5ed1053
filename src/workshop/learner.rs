//! Learner names: checked when they arrive, generated for new browsers.

use super::*;

/// A learner's name: 1 to 32 lowercase letters, digits, `-` or `_`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct LearnerName(String);

impl LearnerName {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let name = raw.trim().to_ascii_lowercase();
        let valid = (1..=32).contains(&name.len())
            && name
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_');
        if valid {
            Ok(Self(name))
        } else {
            // Echo only the start of what was sent: the message may travel
            // back in a cookie, and a 300 KB name must not become a 900 KB one.
            let shown: String = raw.chars().take(40).collect();
            let more = if shown.len() < raw.len() { "…" } else { "" };
            Err(format!(
                "{shown:?}{more} is not a usable learner name: use 1 to 32 letters, digits, '-' or '_'"
            ))
        }
    }

    /// A friendly name such as `curious-otter-42` for a new browser.
    pub fn generate() -> Self {
        const ADJECTIVES: [&str; 16] = [
            "curious", "brave", "calm", "eager", "gentle", "lucky", "nimble", "quick", "quiet",
            "sharp", "steady", "sunny", "swift", "tidy", "witty", "bold",
        ];
        const ANIMALS: [&str; 16] = [
            "otter", "heron", "badger", "falcon", "lynx", "panda", "puffin", "robin", "seal",
            "tapir", "wombat", "yak", "zebra", "koala", "marten", "newt",
        ];
        let seed = random_u64();
        let adjective = ADJECTIVES[(seed % 16) as usize];
        let animal = ANIMALS[((seed >> 8) % 16) as usize];
        Self(format!(
            "{adjective}-{animal}-{}",
            (seed >> 16) % 9000 + 1000
        ))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for LearnerName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Randomness for names from the standard library's per-process hash keys:
/// plenty for "unlikely to clash in one room", no extra crate.
pub(super) fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(now_ms());
    hasher.finish()
}
