//! Entity tags (RFC 9110 §8.8.3): how ours are made, how one is read, and the
//! two ways HTTP compares them.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};

/// Written before the digest so that whoever reads the header can tell how
/// the tag was made.
const OPAQUE_TAG_PREFIX: &str = "sha256-";

/// A full SHA-256 digest written in hex.
const SHA256_HEX_DIGITS: usize = 64;

/// How many of the digest's hex digits go into a tag: the first 128 bits.
///
/// A tag is only ever compared with tags of the same URL (RFC 9110 §8.8.3),
/// so it has to tell apart the few representations one resource has had, not
/// every body in the world. With 128 bits, even 2^32 different bodies behind
/// one URL would collide by accident with odds of about 2^-65, and making a
/// collision on purpose costs about 2^64 hashes. The full 256 bits would add
/// 32 bytes to every response and to every revalidation request for no
/// protection anyone needs here.
const TAG_HEX_DIGITS: usize = 32;

/// An entity tag: the opaque validator a server sends in `ETag` and a client
/// sends back in `If-None-Match` (RFC 9110 §8.8.3).
///
/// `==` compares two tags exactly as written, weakness included. HTTP's own
/// comparisons are [`EntityTag::weakly_matches`] (used by `If-None-Match`)
/// and [`EntityTag::strongly_matches`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EntityTag {
    weak: bool,
    /// What stands between the double quotes.
    opaque_tag: String,
}

impl EntityTag {
    /// The strong tag of a representation: `"sha256-"` and the first 32 hex
    /// digits of the SHA-256 of its bytes.
    ///
    /// Strong, because equal bytes are exactly what "strong" promises
    /// (RFC 9110 §8.8.1). Derived from the bytes alone, with no per-process
    /// salt or counter, so every process and every restart gives the same
    /// answer the same tag, and a browser's stored copy stays valid across
    /// them.
    #[must_use]
    pub fn of_bytes(representation: &[u8]) -> Self {
        let sha256_hex = format!("{:x}", Sha256::digest(representation));
        Self::from_sha256_hex(&sha256_hex).expect("a SHA-256 digest prints as 64 hex digits")
    }

    /// The same tag as [`EntityTag::of_bytes`], from a SHA-256 already known
    /// as 64 hex digits (the disk tier names each entry that way), so the
    /// body need not be hashed again. Either case is accepted; the tag is
    /// written in lowercase, as `of_bytes` writes it.
    pub fn from_sha256_hex(sha256_hex: &str) -> Result<Self, InvalidSha256Hex> {
        let is_sha256_hex = sha256_hex.len() == SHA256_HEX_DIGITS
            && sha256_hex.bytes().all(|byte| byte.is_ascii_hexdigit());
        if !is_sha256_hex {
            return Err(InvalidSha256Hex);
        }
        // Every byte is an ASCII hex digit, so any index is a char boundary.
        let digest_start = sha256_hex[..TAG_HEX_DIGITS].to_ascii_lowercase();
        Ok(Self {
            weak: false,
            opaque_tag: format!("{OPAQUE_TAG_PREFIX}{digest_start}"),
        })
    }

    /// Whether the tag was sent as `W/"..."`: the server promises only that
    /// the representations are equivalent, not byte for byte equal
    /// (RFC 9110 §8.8.1).
    #[must_use]
    pub fn is_weak(&self) -> bool {
        self.weak
    }

    /// What stands between the double quotes.
    #[must_use]
    pub fn opaque_tag(&self) -> &str {
        &self.opaque_tag
    }

    /// RFC 9110 §8.8.3.2's weak comparison: the opaque tags are the same,
    /// whether either tag is weak or not. `If-None-Match` must use this one
    /// (§13.1.2), since a weak tag is good enough to reuse a stored copy.
    #[must_use]
    pub fn weakly_matches(&self, other: &EntityTag) -> bool {
        self.opaque_tag == other.opaque_tag
    }

    /// RFC 9110 §8.8.3.2's strong comparison: neither tag is weak and the
    /// opaque tags are the same. `If-Match` and `If-Range` use this one,
    /// because they guard changes and byte ranges, where equivalent is not
    /// enough.
    #[must_use]
    pub fn strongly_matches(&self, other: &EntityTag) -> bool {
        !self.weak && !other.weak && self.opaque_tag == other.opaque_tag
    }
}

/// The header value: `"…"`, or `W/"…"` for a weak tag.
impl fmt::Display for EntityTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.weak {
            f.write_str("W/")?;
        }
        write!(f, "\"{}\"", self.opaque_tag)
    }
}

/// Reads one `entity-tag` (RFC 9110 §8.8.3), such as an `ETag` field value.
/// Whitespace around it is allowed, because it is not part of a field value
/// (RFC 9110 §5.5); anything else around it is not.
impl FromStr for EntityTag {
    type Err = MalformedEntityTag;

    fn from_str(field_value: &str) -> Result<Self, Self::Err> {
        match parse_leading_entity_tag(field_value.trim_matches(is_optional_whitespace)) {
            Some((tag, "")) => Ok(tag),
            _ => Err(MalformedEntityTag),
        }
    }
}

/// Reads the `entity-tag` at the very start of `input`, and returns it with
/// what follows it; `None` if `input` does not start with one.
///
/// ```text
/// entity-tag = [ weak ] opaque-tag
/// weak       = %s"W/"
/// opaque-tag = DQUOTE *etagc DQUOTE
/// etagc      = %x21 / %x23-7E / obs-text
/// ```
///
/// `W/` is case-sensitive (`%s`) and nothing may stand between it and the
/// quote. A comma is a legal `etagc`, so a tag ends at its closing quote,
/// never at a comma.
pub(super) fn parse_leading_entity_tag(input: &str) -> Option<(EntityTag, &str)> {
    let (weak, quoted) = match input.strip_prefix("W/") {
        Some(quoted) => (true, quoted),
        None => (false, input),
    };
    let after_opening_quote = quoted.strip_prefix('"')?;
    // `etagc` excludes DQUOTE (%x22), so the first one closes the tag.
    let closing_quote = after_opening_quote.find('"')?;
    let (opaque_tag, closing_quote_and_rest) = after_opening_quote.split_at(closing_quote);
    if !opaque_tag.bytes().all(is_etagc) {
        return None;
    }
    let rest = closing_quote_and_rest.strip_prefix('"')?;
    Some((
        EntityTag {
            weak,
            opaque_tag: opaque_tag.to_owned(),
        },
        rest,
    ))
}

/// `etagc = %x21 / %x23-7E / obs-text`, with `obs-text = %x80-FF`
/// (RFC 9110 §8.8.3, §5.6.4). Every byte of a non-ASCII UTF-8 character is
/// `obs-text`; spaces, controls and DEL are not allowed.
fn is_etagc(byte: u8) -> bool {
    matches!(byte, 0x21 | 0x23..=0x7E | 0x80..=0xFF)
}

/// `OWS = *( SP / HTAB )` (RFC 9110 §5.6.3).
pub(super) fn is_optional_whitespace(character: char) -> bool {
    character == ' ' || character == '\t'
}

/// The text given as a SHA-256 is not 64 hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidSha256Hex;

impl fmt::Display for InvalidSha256Hex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a SHA-256 in hex is exactly 64 hex digits")
    }
}

impl std::error::Error for InvalidSha256Hex {}

/// The text is not one entity tag (RFC 9110 §8.8.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MalformedEntityTag;

impl fmt::Display for MalformedEntityTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an entity tag is a quoted string of visible characters, W/ before it if weak")
    }
}

impl std::error::Error for MalformedEntityTag {}

#[cfg(test)]
mod tests {
    use super::*;

    /// SHA-256("abc"), from FIPS 180-2's examples.
    const SHA256_OF_ABC: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

    #[test]
    fn the_tag_of_bytes_is_the_start_of_their_sha256() {
        let tag = EntityTag::of_bytes(b"abc");

        assert_eq!(
            tag.to_string(),
            "\"sha256-ba7816bf8f01cfea414140de5dae2223\""
        );
        assert!(!tag.is_weak());
        assert_eq!(tag.opaque_tag(), "sha256-ba7816bf8f01cfea414140de5dae2223");
    }

    #[test]
    fn the_same_bytes_always_get_the_same_tag() {
        // The expected value is written out, so a tag that changed between
        // builds or processes (a salt, a random seed) would fail here too.
        let expected = "\"sha256-ba7816bf8f01cfea414140de5dae2223\"";
        for _ in 0..3 {
            assert_eq!(EntityTag::of_bytes(b"abc").to_string(), expected);
        }
        assert_eq!(EntityTag::of_bytes(b"[1,2]"), EntityTag::of_bytes(b"[1,2]"));
    }

    #[test]
    fn different_bytes_get_different_tags() {
        assert_ne!(EntityTag::of_bytes(b"abc"), EntityTag::of_bytes(b"abd"));
        assert_ne!(EntityTag::of_bytes(b""), EntityTag::of_bytes(b" "));
        assert_ne!(EntityTag::of_bytes(b"120"), EntityTag::of_bytes(b"120\n"));
    }

    #[test]
    fn a_known_sha256_gives_the_same_tag_as_the_bytes() {
        assert_eq!(
            EntityTag::from_sha256_hex(SHA256_OF_ABC),
            Ok(EntityTag::of_bytes(b"abc"))
        );
        assert_eq!(
            EntityTag::from_sha256_hex(&SHA256_OF_ABC.to_ascii_uppercase()),
            Ok(EntityTag::of_bytes(b"abc")),
            "uppercase hex names the same digest"
        );
    }

    #[test]
    fn anything_but_64_hex_digits_is_not_a_sha256() {
        for not_sha256 in [
            "",
            &SHA256_OF_ABC[..63],
            &format!("{SHA256_OF_ABC}0"),
            &SHA256_OF_ABC.replacen('b', "g", 1),
            &SHA256_OF_ABC.replacen('b', " ", 1),
            // 64 bytes, but not 64 ASCII digits.
            &format!("é{}", &SHA256_OF_ABC[..62]),
        ] {
            assert_eq!(
                EntityTag::from_sha256_hex(not_sha256),
                Err(InvalidSha256Hex),
                "{not_sha256:?}"
            );
        }
    }

    #[test]
    fn a_weak_tag_is_displayed_with_its_prefix() {
        let tag: EntityTag = "W/\"v1\"".parse().expect("a weak tag");

        assert!(tag.is_weak());
        assert_eq!(tag.opaque_tag(), "v1");
        assert_eq!(tag.to_string(), "W/\"v1\"");
    }

    #[test]
    fn reading_a_tag_follows_the_grammar() {
        let read = |text: &str| text.parse::<EntityTag>();

        assert_eq!(read("\"\"").map(|tag| tag.to_string()), Ok("\"\"".into()));
        assert_eq!(
            read(" \t\"a,b\" ").map(|tag| tag.opaque_tag().to_owned()),
            Ok("a,b".into())
        );
        assert_eq!(
            read("\"caf\u{e9}\"").map(|tag| tag.opaque_tag().to_owned()),
            Ok("caf\u{e9}".into())
        );
        for malformed in [
            "",
            "v1",
            "\"v1",
            "v1\"",
            "w/\"v1\"",
            "W/ \"v1\"",
            "W/v1",
            "\"v 1\"",
            "\"v\u{7f}\"",
            "\"v1\"x",
            "\"a\" \"b\"",
            "\"a\", \"b\"",
        ] {
            assert_eq!(read(malformed), Err(MalformedEntityTag), "{malformed:?}");
        }
    }

    #[test]
    fn weak_comparison_ignores_weakness_and_strong_comparison_does_not() {
        // The four rows of RFC 9110 §8.8.3.2's example table.
        let tag = |text: &str| text.parse::<EntityTag>().expect("a tag");
        let rows = [
            ("W/\"1\"", "W/\"1\"", false, true),
            ("W/\"1\"", "W/\"2\"", false, false),
            ("W/\"1\"", "\"1\"", false, true),
            ("\"1\"", "\"1\"", true, true),
        ];
        for (first, second, strong, weak) in rows {
            let (first, second) = (tag(first), tag(second));
            assert_eq!(first.strongly_matches(&second), strong, "{first} {second}");
            assert_eq!(first.weakly_matches(&second), weak, "{first} {second}");
            assert_eq!(second.weakly_matches(&first), weak, "{second} {first}");
        }
    }
}
