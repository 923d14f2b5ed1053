//! The strict RFC 8259 parser behind [`CanonicalJson`](super::CanonicalJson),
//! which writes the canonical form while it reads.

use std::cmp::Ordering;

use super::JsonBodyError;

/// The deepest nesting of arrays and objects a body may have: serde_json's
/// default, which the app has always used. The parser keeps its own stack
/// on the heap, so this bounds memory, not the thread's stack.
const MAX_NESTING: usize = 127;

/// The canonical text of `body`, or why it is refused.
pub(super) fn canonical_text(body: &[u8]) -> Result<Vec<u8>, JsonBodyError> {
    Canonicalizer::new(body).run()
}

/// An array or object whose closing bracket has not been read yet.
enum Open {
    Array {
        /// Index of the item being read, for the path in an error.
        item: usize,
    },
    Object {
        /// Where the first member starts in the output.
        content_start: usize,
        /// This object's first entry in `Canonicalizer::members`.
        first_member: usize,
        /// The member being read, for the path in an error.
        current_member: usize,
        /// Whether every key so far came after the one before it.
        sorted: bool,
    },
}

/// One object member already written to the output.
struct Member {
    /// Where its unescaped key starts in `Canonicalizer::keys`; it ends where
    /// the next member's key starts (or at the end of `keys`).
    key_start: usize,
    /// Where `"key":value` starts in the output; it ends one byte (a comma)
    /// before the next member of the same object starts.
    span_start: usize,
}

/// Reads a body once, front to back, writing its canonical form as it goes.
///
/// Nesting is tracked on a heap stack (`open`) rather than by recursion, so
/// hostile nesting costs a refusal, never the thread's stack. Objects are
/// written in the order their members arrive; an object whose keys arrived
/// out of order is reordered when it closes, by copying its members' spans
/// through one scratch buffer. Already-sorted objects, the common case, cost
/// one key comparison per member and no copying.
struct Canonicalizer<'a> {
    input: &'a [u8],
    position: usize,
    out: Vec<u8>,
    open: Vec<Open>,
    /// Members of every open object, outermost first.
    members: Vec<Member>,
    /// The unescaped keys of `members`, back to back.
    keys: Vec<u8>,
    /// Reused by every reorder.
    order: Vec<usize>,
    scratch: Vec<u8>,
}

impl<'a> Canonicalizer<'a> {
    fn new(input: &'a [u8]) -> Self {
        Self {
            input,
            position: 0,
            out: Vec::with_capacity(input.len()),
            open: Vec::new(),
            members: Vec::new(),
            keys: Vec::new(),
            order: Vec::new(),
            scratch: Vec::new(),
        }
    }

    fn run(mut self) -> Result<Vec<u8>, JsonBodyError> {
        'value: loop {
            self.skip_whitespace();
            match self.peek() {
                Some(b'{') => {
                    self.enter_container()?;
                    self.out.push(b'{');
                    self.skip_whitespace();
                    if self.peek() == Some(b'}') {
                        self.position += 1;
                        self.out.push(b'}');
                    } else {
                        self.open.push(Open::Object {
                            content_start: self.out.len(),
                            first_member: self.members.len(),
                            current_member: self.members.len(),
                            sorted: true,
                        });
                        self.member_key()?;
                        continue 'value;
                    }
                }
                Some(b'[') => {
                    self.enter_container()?;
                    self.out.push(b'[');
                    self.skip_whitespace();
                    if self.peek() == Some(b']') {
                        self.position += 1;
                        self.out.push(b']');
                    } else {
                        self.open.push(Open::Array { item: 0 });
                        continue 'value;
                    }
                }
                Some(b'"') => self.string(false)?,
                Some(b'-' | b'0'..=b'9') => self.number()?,
                Some(b't') => self.literal(b"true")?,
                Some(b'f') => self.literal(b"false")?,
                Some(b'n') => self.literal(b"null")?,
                Some(_) => return Err(self.invalid("expected a value")),
                None => return Err(self.invalid("the body ended where a value was expected")),
            }

            // A value is complete: close what it completes, up to the place
            // where the next value starts.
            loop {
                self.skip_whitespace();
                let next = self.peek();
                match self.open.last_mut() {
                    None if next.is_none() => return Ok(self.out),
                    None => return Err(self.invalid("unexpected text after the JSON value")),
                    Some(Open::Array { item }) => match next {
                        Some(b',') => {
                            *item += 1;
                            self.position += 1;
                            self.out.push(b',');
                            self.skip_whitespace();
                            if self.peek() == Some(b']') {
                                return Err(self.invalid("trailing comma before `]`"));
                            }
                            continue 'value;
                        }
                        Some(b']') => {
                            self.position += 1;
                            self.out.push(b']');
                            self.open.pop();
                        }
                        Some(_) => return Err(self.invalid("expected `,` or `]`")),
                        None => return Err(self.invalid("the body ended inside an array")),
                    },
                    Some(Open::Object { .. }) => match next {
                        Some(b',') => {
                            self.position += 1;
                            self.out.push(b',');
                            self.member_key()?;
                            continue 'value;
                        }
                        Some(b'}') => {
                            self.position += 1;
                            self.close_object()?;
                        }
                        Some(_) => return Err(self.invalid("expected `,` or `}`")),
                        None => return Err(self.invalid("the body ended inside an object")),
                    },
                }
            }
        }
    }

    fn peek(&self) -> Option<u8> {
        self.input.get(self.position).copied()
    }

    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.peek() {
            self.position += 1;
        }
    }

    /// Steps over an opening bracket, refusing one level too many.
    fn enter_container(&mut self) -> Result<(), JsonBodyError> {
        if self.open.len() >= MAX_NESTING {
            return Err(JsonBodyError::TooDeep);
        }
        self.position += 1;
        Ok(())
    }

    /// Reads `"key":` of the next member of the innermost object.
    fn member_key(&mut self) -> Result<(), JsonBodyError> {
        self.skip_whitespace();
        match self.peek() {
            Some(b'"') => {}
            Some(b'}') => return Err(self.invalid("trailing comma before `}`")),
            Some(_) => return Err(self.invalid("expected a key in double quotes")),
            None => return Err(self.invalid("the body ended inside an object")),
        }
        let index = self.members.len();
        self.members.push(Member {
            key_start: self.keys.len(),
            span_start: self.out.len(),
        });
        self.string(true)?;

        let Some(Open::Object {
            first_member,
            current_member,
            sorted,
            ..
        }) = self.open.last_mut()
        else {
            unreachable!("member_key is only called inside an object");
        };
        *current_member = index;
        if index > *first_member && *sorted {
            let previous =
                &self.keys[self.members[index - 1].key_start..self.members[index].key_start];
            let this = &self.keys[self.members[index].key_start..];
            match utf16_order(previous, this) {
                Ordering::Less => {}
                Ordering::Greater => *sorted = false,
                Ordering::Equal => {
                    let key = String::from_utf8_lossy(this).into_owned();
                    let enclosing = self.open.len() - 1;
                    return Err(self.duplicate_key(key, enclosing));
                }
            }
        }

        self.skip_whitespace();
        match self.peek() {
            Some(b':') => {
                self.position += 1;
                self.out.push(b':');
                Ok(())
            }
            Some(_) => Err(self.invalid("expected `:` after an object key")),
            None => Err(self.invalid("the body ended inside an object")),
        }
    }

    /// Writes `}` for the innermost object, first putting its members in key
    /// order if they did not arrive that way.
    fn close_object(&mut self) -> Result<(), JsonBodyError> {
        let Some(Open::Object {
            content_start,
            first_member,
            sorted,
            ..
        }) = self.open.pop()
        else {
            unreachable!("close_object is only called for an open object");
        };
        if !sorted {
            self.sort_members(content_start, first_member)?;
        }
        self.out.push(b'}');
        self.keys.truncate(self.members[first_member].key_start);
        self.members.truncate(first_member);
        Ok(())
    }

    /// Reorders the members `first_member..` (written from `content_start`
    /// on) by key, refusing a key named twice.
    fn sort_members(
        &mut self,
        content_start: usize,
        first_member: usize,
    ) -> Result<(), JsonBodyError> {
        let (members, keys) = (&self.members, &self.keys);
        let key = |index: usize| {
            let end = members
                .get(index + 1)
                .map_or(keys.len(), |next| next.key_start);
            &keys[members[index].key_start..end]
        };
        self.order.clear();
        self.order.extend(first_member..members.len());
        self.order
            .sort_unstable_by(|&left, &right| utf16_order(key(left), key(right)));
        if let Some(pair) = self
            .order
            .windows(2)
            .find(|pair| key(pair[0]) == key(pair[1]))
        {
            let repeated = String::from_utf8_lossy(key(pair[0])).into_owned();
            // The object is already off the stack: every open container
            // encloses it.
            return Err(self.duplicate_key(repeated, self.open.len()));
        }

        self.scratch.clear();
        for (rank, &index) in self.order.iter().enumerate() {
            if rank > 0 {
                self.scratch.push(b',');
            }
            let span_end = members
                .get(index + 1)
                .map_or(self.out.len(), |next| next.span_start - 1);
            self.scratch
                .extend_from_slice(&self.out[members[index].span_start..span_end]);
        }
        self.out[content_start..].copy_from_slice(&self.scratch);
        Ok(())
    }

    /// The refusal for `key` named twice in an object whose enclosing
    /// containers are `self.open[..enclosing]`.
    fn duplicate_key(&self, key: String, enclosing: usize) -> JsonBodyError {
        let mut path = String::new();
        for container in &self.open[..enclosing] {
            path.push('/');
            match *container {
                Open::Array { item } => path.push_str(itoa::Buffer::new().format(item)),
                Open::Object { current_member, .. } => {
                    let start = self.members[current_member].key_start;
                    let end = self
                        .members
                        .get(current_member + 1)
                        .map_or(self.keys.len(), |next| next.key_start);
                    let name = String::from_utf8_lossy(&self.keys[start..end]);
                    // RFC 6901: `~` and `/` inside a name are written `~0` and `~1`.
                    path.push_str(&name.replace('~', "~0").replace('/', "~1"));
                }
            }
        }
        JsonBodyError::DuplicateKey { key, path }
    }

    /// Reads a string, writing it in canonical escaping, and (for a key) its
    /// unescaped text to `keys` as well.
    fn string(&mut self, is_key: bool) -> Result<(), JsonBodyError> {
        let input = self.input;
        self.position += 1;
        self.out.push(b'"');
        loop {
            // A run of bytes that are written as they are: everything but the
            // closing quote, escapes and control characters.
            let run_start = self.position;
            let run_length = input[run_start..]
                .iter()
                .position(|&byte| byte == b'"' || byte == b'\\' || byte < 0x20)
                .unwrap_or(input.len() - run_start);
            self.position += run_length;
            let run = &input[run_start..self.position];
            // The run ends at an ASCII byte, so a valid character is never cut.
            if let Err(error) = std::str::from_utf8(run) {
                self.position = run_start + error.valid_up_to();
                return Err(self.invalid("invalid UTF-8 in a string"));
            }
            self.out.extend_from_slice(run);
            if is_key {
                self.keys.extend_from_slice(run);
            }

            match self.peek() {
                Some(b'"') => {
                    self.position += 1;
                    self.out.push(b'"');
                    return Ok(());
                }
                Some(b'\\') => {
                    let character = self.escape()?;
                    push_escaped_char(&mut self.out, character);
                    if is_key {
                        let mut utf8 = [0; 4];
                        self.keys
                            .extend_from_slice(character.encode_utf8(&mut utf8).as_bytes());
                    }
                }
                Some(_) => {
                    return Err(self.invalid(
                        "a control character in a string must be escaped (\\n, \\t, \\u0001, ...)",
                    ))
                }
                None => return Err(self.invalid("the body ended inside a string")),
            }
        }
    }

    /// Reads one escape (the position is at its backslash) and returns the
    /// character it stands for.
    fn escape(&mut self) -> Result<char, JsonBodyError> {
        self.position += 1;
        let character = match self.peek() {
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => return self.unicode_escape(),
            Some(_) => return Err(self.invalid("invalid escape in a string")),
            None => return Err(self.invalid("the body ended inside a string")),
        };
        self.position += 1;
        Ok(character)
    }

    /// Reads `uXXXX` (and a second `\uXXXX` for a surrogate pair).
    fn unicode_escape(&mut self) -> Result<char, JsonBodyError> {
        self.position += 1;
        let unit = self.hex_unit()?;
        let code_point = match unit {
            0xD800..=0xDBFF => {
                if self.input.get(self.position..self.position + 2) != Some(b"\\u") {
                    return Err(self.invalid("a \\u escape of a lone surrogate is not a character"));
                }
                self.position += 2;
                let low = self.hex_unit()?;
                if !(0xDC00..=0xDFFF).contains(&low) {
                    return Err(self.invalid("a \\u escape of a lone surrogate is not a character"));
                }
                0x10000 + ((u32::from(unit) - 0xD800) << 10) + (u32::from(low) - 0xDC00)
            }
            0xDC00..=0xDFFF => {
                return Err(self.invalid("a \\u escape of a lone surrogate is not a character"))
            }
            _ => u32::from(unit),
        };
        char::from_u32(code_point).ok_or_else(|| self.invalid("invalid \\u escape"))
    }

    fn hex_unit(&mut self) -> Result<u16, JsonBodyError> {
        let mut unit = 0u16;
        for _ in 0..4 {
            let digit = match self.peek() {
                Some(byte @ b'0'..=b'9') => byte - b'0',
                Some(byte @ b'a'..=b'f') => byte - b'a' + 10,
                Some(byte @ b'A'..=b'F') => byte - b'A' + 10,
                Some(_) => return Err(self.invalid("a \\u escape needs four hex digits")),
                None => return Err(self.invalid("the body ended inside a string")),
            };
            unit = unit * 16 + u16::from(digit);
            self.position += 1;
        }
        Ok(unit)
    }

    fn literal(&mut self, word: &'static [u8]) -> Result<(), JsonBodyError> {
        if self.input[self.position..].starts_with(word) {
            self.position += word.len();
            self.out.extend_from_slice(word);
            Ok(())
        } else {
            Err(self.invalid("expected a value (true, false and null are written in lowercase)"))
        }
    }

    /// Reads a number and writes its canonical spelling.
    fn number(&mut self) -> Result<(), JsonBodyError> {
        let input = self.input;
        let start = self.position;
        let negative = self.peek() == Some(b'-');
        if negative {
            self.position += 1;
        }

        let integer_start = self.position;
        match self.peek() {
            Some(b'0') => {
                self.position += 1;
                if let Some(b'0'..=b'9') = self.peek() {
                    return Err(self.invalid("a number cannot start with 0 unless it is 0"));
                }
            }
            Some(b'1'..=b'9') => self.skip_digits(),
            _ => return Err(self.invalid("expected a digit in a number")),
        }
        let integer = &input[integer_start..self.position];

        let mut fraction: &[u8] = &[];
        if self.peek() == Some(b'.') {
            self.position += 1;
            let fraction_start = self.position;
            self.skip_digits();
            if self.position == fraction_start {
                return Err(self.invalid("expected a digit after the decimal point"));
            }
            fraction = &input[fraction_start..self.position];
        }

        let mut exponent: Option<i128> = None;
        if let Some(b'e' | b'E') = self.peek() {
            self.position += 1;
            let exponent_negative = self.peek() == Some(b'-');
            if let Some(b'-' | b'+') = self.peek() {
                self.position += 1;
            }
            let digits_start = self.position;
            self.skip_digits();
            if self.position == digits_start {
                return Err(self.invalid("expected a digit in the exponent"));
            }
            // Past this bound the number is refused anyway (unless it is zero),
            // so the digits need not be read exactly; it keeps the sum below
            // far from overflowing an i128.
            const EXPONENT_CAP: i128 = 1 << 80;
            let magnitude = input[digits_start..self.position]
                .iter()
                .fold(0i128, |magnitude, &digit| {
                    (magnitude * 10 + i128::from(digit - b'0')).min(EXPONENT_CAP)
                });
            exponent = Some(if exponent_negative {
                -magnitude
            } else {
                magnitude
            });
        }

        // The everyday number, a short integer, is already canonical.
        if fraction.is_empty() && exponent.is_none() && integer.len() <= 21 {
            if integer != b"0" && negative {
                self.out.push(b'-');
            }
            self.out.extend_from_slice(integer);
            return Ok(());
        }

        let digits = Digits { integer, fraction };
        let Some(first) = digits.position(|digit| digit != b'0') else {
            self.out.push(b'0');
            return Ok(());
        };
        let last = digits
            .rposition(|digit| digit != b'0')
            .expect("a number with a nonzero digit has a last one");
        let significant = (last + 1 - first) as i128;
        // The value is 0.ddd × 10^point, with ddd the significant digits.
        let point = integer.len() as i128 - first as i128 + exponent.unwrap_or(0);
        if i64::try_from(point - 1).is_err() {
            let (line, column) = line_and_column(input, start);
            return Err(JsonBodyError::ExponentOutOfRange { line, column });
        }

        // RFC 8785 section 3.2.2.3, which is ECMAScript's Number::toString,
        // applied to the exact digits.
        let out = &mut self.out;
        if negative {
            out.push(b'-');
        }
        if significant <= point && point <= 21 {
            digits.write(out, first, last + 1);
            out.resize(out.len() + (point - significant) as usize, b'0');
        } else if 0 < point && point <= 21 {
            let split = first + point as usize;
            digits.write(out, first, split);
            out.push(b'.');
            digits.write(out, split, last + 1);
        } else if -6 < point && point <= 0 {
            out.extend_from_slice(b"0.");
            out.resize(out.len() + (-point) as usize, b'0');
            digits.write(out, first, last + 1);
        } else {
            digits.write(out, first, first + 1);
            if significant > 1 {
                out.push(b'.');
                digits.write(out, first + 1, last + 1);
            }
            let power = point - 1;
            out.extend_from_slice(if power < 0 { b"e-" } else { b"e+" });
            out.extend_from_slice(itoa::Buffer::new().format(power.unsigned_abs()).as_bytes());
        }
        Ok(())
    }

    fn skip_digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.position += 1;
        }
    }

    /// A syntax error at the current position.
    fn invalid(&self, what: &str) -> JsonBodyError {
        let (line, column) = line_and_column(self.input, self.position);
        JsonBodyError::Invalid(format!("{what} at line {line} column {column}"))
    }
}

/// A number's digits before and after its decimal point, read as one run.
struct Digits<'a> {
    integer: &'a [u8],
    fraction: &'a [u8],
}

impl Digits<'_> {
    fn position(&self, found: impl Fn(u8) -> bool) -> Option<usize> {
        let in_integer = self.integer.iter().position(|&digit| found(digit));
        in_integer.or_else(|| {
            let in_fraction = self.fraction.iter().position(|&digit| found(digit))?;
            Some(self.integer.len() + in_fraction)
        })
    }

    fn rposition(&self, found: impl Fn(u8) -> bool) -> Option<usize> {
        let in_fraction = self.fraction.iter().rposition(|&digit| found(digit));
        match in_fraction {
            Some(index) => Some(self.integer.len() + index),
            None => self.integer.iter().rposition(|&digit| found(digit)),
        }
    }

    /// Appends digits `from..to` of the run.
    fn write(&self, out: &mut Vec<u8>, from: usize, to: usize) {
        let split = self.integer.len();
        if from < split {
            out.extend_from_slice(&self.integer[from..to.min(split)]);
        }
        if to > split {
            out.extend_from_slice(&self.fraction[from.max(split) - split..to - split]);
        }
    }
}

/// Appends `character` as it appears inside a canonical JSON string: the
/// escaping of RFC 8785 and serde_json.
pub(super) fn push_escaped_char(out: &mut Vec<u8>, character: char) {
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
/// object keys. That is byte order, except that a character from U+E000 to
/// U+FFFF sorts after one above U+FFFF (whose first unit is a surrogate).
fn utf16_order(left: &[u8], right: &[u8]) -> Ordering {
    let common = left.iter().zip(right).take_while(|(a, b)| a == b).count();
    if common == left.len() || common == right.len() {
        return left.len().cmp(&right.len());
    }
    // The two keys agree up to the character holding the first difference,
    // so it starts at the same place in both.
    let mut start = common;
    while left[start] & 0xC0 == 0x80 {
        start -= 1;
    }
    utf16_units(&left[start..]).cmp(&utf16_units(&right[start..]))
}

/// The UTF-16 code units (one or two) of the character `text` starts with.
fn utf16_units(text: &[u8]) -> (u32, u32) {
    let lead = u32::from(text[0]);
    let (width, mut code_point) = match lead {
        0x00..=0x7F => (1, lead),
        0xC0..=0xDF => (2, lead & 0x1F),
        0xE0..=0xEF => (3, lead & 0x0F),
        _ => (4, lead & 0x07),
    };
    for &continuation in &text[1..width] {
        code_point = (code_point << 6) | (u32::from(continuation) & 0x3F);
    }
    match code_point.checked_sub(0x10000) {
        None => (code_point, 0),
        Some(above) => (0xD800 + (above >> 10), 0xDC00 + (above & 0x3FF)),
    }
}

/// Line and column (both from 1, the column counted in characters) of the
/// byte at `position`.
fn line_and_column(input: &[u8], position: usize) -> (usize, usize) {
    let before = &input[..position.min(input.len())];
    let line_start = before
        .iter()
        .rposition(|&byte| byte == b'\n')
        .map_or(0, |newline| newline + 1);
    let line = 1 + before.iter().filter(|&&byte| byte == b'\n').count();
    let column = 1 + before[line_start..]
        .iter()
        .filter(|&&byte| byte & 0xC0 != 0x80)
        .count();
    (line, column)
}
