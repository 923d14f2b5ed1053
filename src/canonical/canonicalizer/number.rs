//! Numbers: read exactly, written in their one canonical spelling.

use super::{line_and_column, Canonicalizer, Step};
use crate::canonical::JsonBodyError;

impl Canonicalizer<'_> {
    /// Reads a number and writes its canonical spelling.
    pub(super) fn number(&mut self) -> Step<()> {
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

        // Everyday numbers are already canonical: a short integer, and a
        // short decimal without trailing zeros (nor more than five zeros
        // right after the point, which the layout writes with an exponent).
        if exponent.is_none() && integer.len() <= 21 {
            if fraction.is_empty() {
                if integer != b"0" && negative {
                    self.out.push(b'-');
                }
                self.out.extend_from_slice(integer);
                return Ok(());
            }
            let zeros_after_point = fraction.iter().take_while(|&&digit| digit == b'0').count();
            if fraction.last() != Some(&b'0') && (integer != b"0" || zeros_after_point < 6) {
                self.out.extend_from_slice(&input[start..self.position]);
                return Ok(());
            }
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
            return Err(Box::new(JsonBodyError::ExponentOutOfRange { line, column }));
        }

        // RFC 8785 section 3.2.2.3, which is ECMAScript's Number::toString,
        // applied to the exact digits, with one change: an integer stays an
        // integer however many digits it has (ECMAScript switches to an
        // exponent past 21, where a double's precision ends; we keep every
        // digit, and an exponent would make most JSON parsers, Python's
        // among them, read the number back as a float). Only trailing zeros
        // are bounded, at 20 as in ECMAScript, so `1e21` and `1e400` keep
        // their exponent.
        let out = &mut self.out;
        if negative {
            out.push(b'-');
        }
        if significant <= point && point <= significant + 20 {
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
