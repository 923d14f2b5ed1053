//! Strings: where a run of plain content ends, how a character is escaped
//! in the canonical form, and the UTF-16 order RFC 8785 sorts keys in.

use std::cmp::Ordering;

/// Where the run of plain string content (see [`STRING_RUN_ENDS`]) that
/// starts at `start` ends.
///
/// Eight bytes are tested at a time: strings are most of a typical body.
/// Per byte of a word, `x - 0x01` sets the high bit where `x` is zero (and
/// `x - 0x20` where `x` is below 0x20), so a zero byte of `word ^ quotes`
/// marks a quote. The borrow can also mark bytes after a real match, never
/// before one, so the lowest marked byte is the first match.
#[inline]
pub(super) fn plain_run_end(input: &[u8], start: usize) -> usize {
    const ONES: u64 = u64::from_le_bytes([0x01; 8]);
    const HIGH_BITS: u64 = u64::from_le_bytes([0x80; 8]);
    let zero_bytes = |word: u64| word.wrapping_sub(ONES) & !word & HIGH_BITS;
    let mut position = start;
    while let Some(chunk) = input.get(position..position + 8) {
        let word = u64::from_le_bytes(chunk.try_into().expect("a chunk of eight bytes"));
        let ends = zero_bytes(word ^ (ONES * u64::from(b'"')))
            | zero_bytes(word ^ (ONES * u64::from(b'\\')))
            | (word.wrapping_sub(ONES * 0x20) & !word & HIGH_BITS)
            | (word & HIGH_BITS);
        if ends != 0 {
            return position + (ends.trailing_zeros() / 8) as usize;
        }
        position += 8;
    }
    position
        + input[position..]
            .iter()
            .position(|&byte| STRING_RUN_ENDS[usize::from(byte)])
            .unwrap_or(input.len() - position)
}

/// Bytes that end a run of string content written as it is: the closing
/// quote, a backslash, a control character (refused), or the first byte of
/// a non-ASCII character (checked as UTF-8 before it is written).
const STRING_RUN_ENDS: [bool; 256] = {
    let mut ends = [false; 256];
    let mut byte = 0;
    while byte < 256 {
        ends[byte] = byte < 0x20 || byte >= 0x80 || byte == b'"' as usize || byte == b'\\' as usize;
        byte += 1;
    }
    ends
};

/// Appends `character` as it appears inside a canonical JSON string: the
/// escaping of RFC 8785 and serde_json.
pub(in crate::canonical) fn push_escaped_char(out: &mut Vec<u8>, character: char) {
    let escape: &[u8] = match character {
        '"' => b"\\\"",
        '\\' => b"\\\\",
        '\u{8}' => b"\\b",
        '\u{c}' => b"\\f",
        '\n' => b"\\n",
        '\r' => b"\\r",
        '\t' => b"\\t",
        '\0'..='\u{1f}' => {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            let code = character as usize;
            out.extend_from_slice(&[b'\\', b'u', b'0', b'0', HEX[code >> 4], HEX[code & 0xf]]);
            return;
        }
        _ => {
            let mut utf8 = [0; 4];
            out.extend_from_slice(character.encode_utf8(&mut utf8).as_bytes());
            return;
        }
    };
    out.extend_from_slice(escape);
}

/// Orders two UTF-8 keys by their UTF-16 code units, as RFC 8785 sorts
/// object keys.
pub(super) fn utf16_order(left: &[u8], right: &[u8]) -> Ordering {
    match left.iter().zip(right).position(|(a, b)| a != b) {
        Some(index) => utf16_weight(left[index]).cmp(&utf16_weight(right[index])),
        None => left.len().cmp(&right.len()),
    }
}

/// A byte's weight when UTF-8 keys are put in UTF-16 order.
///
/// UTF-8 bytes sort as code points do, and code points as UTF-16 units do,
/// but for one range: U+E000 to U+FFFF (one unit, above the surrogates)
/// comes after the characters above U+FFFF (two units, from 0xD800 on).
/// Those start with the byte 0xEE or 0xEF, the others with 0xF0 to 0xF4,
/// and no byte of valid UTF-8 is higher; so weighing 0xEE and 0xEF as the
/// highest bytes of all gives UTF-16 order.
#[inline]
pub(super) fn utf16_weight(byte: u8) -> u8 {
    match byte {
        0xEE | 0xEF => byte + 0x10,
        _ => byte,
    }
}
