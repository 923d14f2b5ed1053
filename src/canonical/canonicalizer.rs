//! The strict RFC 8259 parser behind [`CanonicalJson`](super::CanonicalJson),
//! which writes the canonical form while it reads.

use std::cmp::Ordering;

use super::JsonBodyError;

mod number;
mod strings;

pub(super) use strings::push_escaped_char;
use strings::{plain_run_end, utf16_order, utf16_weight};

/// The deepest nesting of arrays and objects a body may have: serde_json's
/// default, which the app has always used. The parser keeps its own stack
/// on the heap, so this bounds memory, not the thread's stack.
const MAX_NESTING: usize = 127;

/// Objects up to this size are reordered through the scratch buffer whole;
/// larger ones move their largest member in place (see `sort_members`).
const SMALL_OBJECT_BYTES: usize = 4096;

/// The canonical text of `body`, or why it is refused.
pub(super) fn canonical_text(body: &[u8]) -> Result<Vec<u8>, JsonBodyError> {
    Canonicalizer::new(body).run().map_err(|refused| *refused)
}

/// What the parser's steps return. The refusal is boxed so that a step's
/// result fits in registers: refusals are rare, and steps are many.
type Step<T> = Result<T, Box<JsonBodyError>>;

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
        /// How long `Canonicalizer::keys` was when the object opened.
        keys_start: usize,
        /// The member being read, for the path in an error.
        current_member: usize,
        /// Whether every key so far came after the one before it.
        sorted: bool,
    },
}

/// One object member already written to the output.
struct Member {
    /// Where `"key":value` starts in the output; it ends one byte (a comma)
    /// before the next member of the same object starts.
    span_start: usize,
    /// Where the unescaped key is: bytes `key_start..key_end` of the output
    /// for a key written without escapes (nearly every key, and then the
    /// output already holds it), else of `Canonicalizer::keys`.
    key_start: usize,
    key_end: usize,
    key_kept_apart: bool,
    /// The key's first bytes as a number, compared before the whole key.
    key_prefix: u64,
}

impl Member {
    fn key<'b>(&self, out: &'b [u8], keys: &'b [u8]) -> &'b [u8] {
        let holder = if self.key_kept_apart { keys } else { out };
        &holder[self.key_start..self.key_end]
    }

    /// Orders two members by key, in RFC 8785 order.
    fn key_order(&self, other: &Member, out: &[u8], keys: &[u8]) -> Ordering {
        self.key_prefix
            .cmp(&other.key_prefix)
            .then_with(|| utf16_order(self.key(out, keys), other.key(out, keys)))
    }
}

/// Reads a body once, front to back, writing its canonical form as it goes.
///
/// Nesting is tracked on a heap stack (`open`) rather than by recursion, so
/// hostile nesting costs a refusal, never the thread's stack. Objects are
/// written in the order their members arrive; an object whose keys arrived
/// out of order is reordered when it closes, by copying its members' spans
/// through one scratch buffer (all but the largest, which moves in place).
/// Already-sorted objects, the common case, cost one key comparison per
/// member and no copying.
struct Canonicalizer<'a> {
    input: &'a [u8],
    position: usize,
    out: Vec<u8>,
    open: Vec<Open>,
    /// Members of every open object, outermost first.
    members: Vec<Member>,
    /// The unescaped text of keys written with escapes, back to back.
    keys: Vec<u8>,
    /// (key prefix, member index) of the members being sorted; like
    /// `scratch`, which takes the sorted members, reused by every reorder.
    order: Vec<(u64, usize)>,
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

    fn run(mut self) -> Step<Vec<u8>> {
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
                            keys_start: self.keys.len(),
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
                Some(b'"') => {
                    self.string(false)?;
                }
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
    fn enter_container(&mut self) -> Step<()> {
        if self.open.len() >= MAX_NESTING {
            return Err(Box::new(JsonBodyError::TooDeep));
        }
        self.position += 1;
        Ok(())
    }

    /// Reads `"key":` of the next member of the innermost object.
    fn member_key(&mut self) -> Step<()> {
        self.skip_whitespace();
        match self.peek() {
            Some(b'"') => {}
            Some(b'}') => return Err(self.invalid("trailing comma before `}`")),
            Some(_) => return Err(self.invalid("expected a key in double quotes")),
            None => return Err(self.invalid("the body ended inside an object")),
        }
        let index = self.members.len();
        let span_start = self.out.len();
        let key_in_input = self.position + 1;
        let member = match self.string(true)? {
            Some((key_start, key_end)) => Member {
                span_start,
                key_start,
                key_end,
                key_kept_apart: true,
                key_prefix: key_prefix(&self.keys, key_start, key_end - key_start),
            },
            // The key as written, between its quotes.
            None => {
                let (key_start, key_end) = (span_start + 1, self.out.len() - 1);
                Member {
                    span_start,
                    key_start,
                    key_end,
                    key_kept_apart: false,
                    // Read from the input, where the same bytes are followed
                    // by more: a whole word can be read at once.
                    key_prefix: key_prefix(self.input, key_in_input, key_end - key_start),
                }
            }
        };
        self.members.push(member);

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
            let (previous, this) = (&self.members[index - 1], &self.members[index]);
            match previous.key_order(this, &self.out, &self.keys) {
                Ordering::Less => {}
                Ordering::Greater => *sorted = false,
                Ordering::Equal => {
                    let key = this.key(&self.out, &self.keys);
                    let key = String::from_utf8_lossy(key).into_owned();
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
    fn close_object(&mut self) -> Step<()> {
        let Some(Open::Object {
            content_start,
            first_member,
            keys_start,
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
        self.keys.truncate(keys_start);
        self.members.truncate(first_member);
        Ok(())
    }

    /// Reorders the members `first_member..` (written from `content_start`
    /// on) by key, refusing a key named twice.
    fn sort_members(&mut self, content_start: usize, first_member: usize) -> Step<()> {
        let (members, out, keys) = (&self.members, &self.out, &self.keys);
        let key = |index: usize| members[index].key(out, keys);
        self.order.clear();
        self.order
            .extend((first_member..members.len()).map(|index| (members[index].key_prefix, index)));
        // Prefixes decide nearly every comparison without touching the keys.
        self.order
            .sort_unstable_by(|&(left_prefix, left), &(right_prefix, right)| {
                left_prefix
                    .cmp(&right_prefix)
                    .then_with(|| utf16_order(key(left), key(right)))
            });
        if let Some(pair) = self
            .order
            .windows(2)
            .find(|pair| pair[0].0 == pair[1].0 && key(pair[0].1) == key(pair[1].1))
        {
            let repeated = String::from_utf8_lossy(key(pair[0].1)).into_owned();
            // The object is already off the stack: every open container
            // encloses it.
            return Err(self.duplicate_key(repeated, self.open.len()));
        }

        let span = |index: usize| {
            let end = members
                .get(index + 1)
                .map_or(out.len(), |next| next.span_start - 1);
            members[index].span_start..end
        };
        self.scratch.clear();

        // A small object (a record, say) goes through `scratch` whole.
        if out.len() - content_start <= SMALL_OBJECT_BYTES {
            for (rank, &(_, index)) in self.order.iter().enumerate() {
                if rank > 0 {
                    self.scratch.push(b',');
                }
                self.scratch.extend_from_slice(&out[span(index)]);
            }
            self.out[content_start..].copy_from_slice(&self.scratch);
            return Ok(());
        }

        // In a large one, the largest member is moved in place and only the
        // others go through `scratch`. A large body is mostly one large
        // member (an array of records, say), so the scratch stays small.
        let (largest_rank, largest) = self
            .order
            .iter()
            .enumerate()
            .map(|(rank, &(_, index))| (rank, span(index)))
            .max_by_key(|(_, span)| span.len())
            .expect("an object with members out of order has members");
        self.scratch
            .reserve(out.len() - content_start - largest.len());
        // The members before the largest one, each followed by a comma;
        // then those after it, each preceded by one.
        let mut largest_offset = 0;
        for (rank, &(_, index)) in self.order.iter().enumerate() {
            if rank > largest_rank {
                self.scratch.push(b',');
            }
            if rank != largest_rank {
                self.scratch.extend_from_slice(&out[span(index)]);
            }
            if rank < largest_rank {
                self.scratch.push(b',');
                largest_offset = self.scratch.len();
            }
        }
        let largest_start = content_start + largest_offset;
        let largest_end = largest_start + largest.len();
        self.out.copy_within(largest, largest_start);
        self.out[content_start..largest_start].copy_from_slice(&self.scratch[..largest_offset]);
        self.out[largest_end..].copy_from_slice(&self.scratch[largest_offset..]);
        Ok(())
    }

    /// The refusal for `key` named twice in an object whose enclosing
    /// containers are `self.open[..enclosing]`.
    fn duplicate_key(&self, key: String, enclosing: usize) -> Box<JsonBodyError> {
        let mut path = String::new();
        for container in &self.open[..enclosing] {
            path.push('/');
            match *container {
                Open::Array { item } => path.push_str(itoa::Buffer::new().format(item)),
                Open::Object { current_member, .. } => {
                    let name = self.members[current_member].key(&self.out, &self.keys);
                    let name = String::from_utf8_lossy(name);
                    // RFC 6901: `~` and `/` inside a name are written `~0` and `~1`.
                    path.push_str(&name.replace('~', "~0").replace('/', "~1"));
                }
            }
        }
        Box::new(JsonBodyError::DuplicateKey { key, path })
    }

    /// Reads a string and writes it in canonical escaping. For a key written
    /// with escapes, its unescaped text also goes to `keys`, and where is
    /// returned.
    ///
    /// Inlined into its two callers: there is a string in nearly every
    /// member, and the call cost about a tenth of a body's time.
    #[inline(always)]
    fn string(&mut self, is_key: bool) -> Step<Option<(usize, usize)>> {
        let input = self.input;
        let start = self.position;
        // Without escapes, a string's canonical form is the string as written;
        // most strings are ASCII without escapes, and are copied in one go.
        let end = plain_run_end(input, start + 1);
        if input.get(end) == Some(&b'"') {
            self.position = end + 1;
            self.out.extend_from_slice(&input[start..=end]);
            return Ok(None);
        }
        self.string_beyond_ascii(start, end, is_key)
    }

    /// The rest of [`Self::string`], from `position`, the first byte that is
    /// not plain ASCII. Kept out of line so that the common case stays small.
    #[inline(never)]
    fn string_beyond_ascii(
        &mut self,
        start: usize,
        position: usize,
        is_key: bool,
    ) -> Step<Option<(usize, usize)>> {
        let input = self.input;
        self.position = position;
        self.skip_string_run()?;
        match self.peek() {
            Some(b'"') => {
                self.position += 1;
                self.out.extend_from_slice(&input[start..self.position]);
                return Ok(None);
            }
            Some(b'\\') => {}
            Some(_) => return Err(self.unescaped_control_character()),
            None => return Err(self.invalid("the body ended inside a string")),
        }

        self.out.extend_from_slice(&input[start..self.position]);
        let keys_start = self.keys.len();
        if is_key {
            self.keys
                .extend_from_slice(&input[start + 1..self.position]);
        }
        loop {
            match self.peek() {
                Some(b'"') => {
                    self.position += 1;
                    self.out.push(b'"');
                    return Ok(is_key.then_some((keys_start, self.keys.len())));
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
                Some(_) => return Err(self.unescaped_control_character()),
                None => return Err(self.invalid("the body ended inside a string")),
            }
            let run_start = self.position;
            self.skip_string_run()?;
            let run = &input[run_start..self.position];
            self.out.extend_from_slice(run);
            if is_key {
                self.keys.extend_from_slice(run);
            }
        }
    }

    /// Steps over string content that is written as it is, up to a quote, a
    /// backslash or a control character, checking non-ASCII bytes as UTF-8.
    fn skip_string_run(&mut self) -> Step<()> {
        let input = self.input;
        loop {
            self.position = plain_run_end(input, self.position);
            let non_ascii_start = self.position;
            let rest = &input[non_ascii_start..];
            let non_ascii = rest.iter().take_while(|byte| !byte.is_ascii()).count();
            if non_ascii == 0 {
                return Ok(());
            }
            // The run ends at an ASCII byte, so a valid character is never cut.
            if let Err(error) = std::str::from_utf8(&rest[..non_ascii]) {
                self.position = non_ascii_start + error.valid_up_to();
                return Err(self.invalid("invalid UTF-8 in a string"));
            }
            self.position += non_ascii;
        }
    }

    fn unescaped_control_character(&self) -> Box<JsonBodyError> {
        self.invalid("a control character in a string must be escaped (\\n, \\t, \\u0001, ...)")
    }

    /// Reads one escape (the position is at its backslash) and returns the
    /// character it stands for.
    fn escape(&mut self) -> Step<char> {
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
    fn unicode_escape(&mut self) -> Step<char> {
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

    fn hex_unit(&mut self) -> Step<u16> {
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

    fn literal(&mut self, word: &'static [u8]) -> Step<()> {
        if self.input[self.position..].starts_with(word) {
            self.position += word.len();
            self.out.extend_from_slice(word);
            Ok(())
        } else {
            Err(self.invalid("expected a value (true, false and null are written in lowercase)"))
        }
    }

    /// A syntax error at the current position.
    fn invalid(&self, what: &str) -> Box<JsonBodyError> {
        let (line, column) = line_and_column(self.input, self.position);
        Box::new(JsonBodyError::Invalid(format!(
            "{what} at line {line} column {column}"
        )))
    }
}

/// The first eight bytes of the key `source[start..start + length]`,
/// weighed for UTF-16 order and padded with zeros, as one number: keys
/// whose prefixes differ are ordered as their prefixes are, and only equal
/// prefixes need the whole keys compared.
// Inlined for the same reason as `Canonicalizer::string`: once per key.
#[inline(always)]
fn key_prefix(source: &[u8], start: usize, length: usize) -> u64 {
    const HIGH_BITS: u64 = u64::from_be_bytes([0x80; 8]);
    if let Some(chunk) = source.get(start..start + 8) {
        let word = u64::from_be_bytes(chunk.try_into().expect("a chunk of eight bytes"));
        // ASCII weighs as it is; anything else takes the byte-wise way.
        if word & HIGH_BITS == 0 {
            return match length {
                8.. => word,
                // Keep the key's own bytes, the first `length` of the word.
                _ => word & !(u64::MAX >> (8 * length)),
            };
        }
    }
    let key = &source[start..start + length];
    (0..8).fold(0, |prefix, index| {
        let weight = key.get(index).copied().map_or(0, utf16_weight);
        prefix << 8 | u64::from(weight)
    })
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
