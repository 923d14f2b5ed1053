//! A time a learner read off a page or a header and typed in.
//!
//! People write times in many ways: `2003.456`, `2003 ms`, `2.003 s`,
//! `12 µs`, `0,012` with a decimal comma. A reading keeps the precision it
//! was written with, so that it can be compared fairly: `2003` is right for
//! 2003.456 ms, `2000` is not, and a number coarser than the app ever shows
//! it (`2.50 s`, `0.01`), too rough to tell a reading from a guess, is
//! refused with a reason rather than waved through.

use serde::{Deserialize, Serialize};

/// The longest text accepted for one time.
const MAX_TYPED_CHARS: usize = 40;

/// Room for floating-point error when comparing resolutions.
const EPSILON_MS: f64 = 1e-9;

/// A time as typed, in milliseconds, with the worth of its last digit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reading {
    pub ms: f64,
    pub resolution_ms: f64,
    pub typed: String,
}

/// Why a typed time was not understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadingError {
    Empty,
    TooLong,
    NotANumber,
    UnknownUnit(String),
    /// `2,500`: two thousand five hundred, or two and a half?
    Ambiguous,
    TooRough,
}

impl ReadingError {
    /// What went wrong, in a sentence that fits beside the field.
    pub fn message(&self) -> String {
        match self {
            Self::Empty => "type the time you read, in milliseconds".into(),
            Self::TooLong => format!("that is longer than a time ({MAX_TYPED_CHARS} characters at most)"),
            Self::NotANumber => {
                "not a time: write a number such as 2003.456, optionally with ms, s or µs".into()
            }
            Self::UnknownUnit(unit) => {
                let unit: String = unit.chars().take(12).collect();
                format!("unknown unit {unit:?}: use ms (the default), s or µs")
            }
            Self::Ambiguous => {
                "a comma followed by three digits could be a thousands separator or a decimal comma: write 2500 or 2.5".into()
            }
            Self::TooRough => {
                "too rough to check against a measurement: write every digit the page or header shows, in milliseconds (2503, not 2.50 s; 0.012, not 0.01)".into()
            }
        }
    }
}

impl Reading {
    pub fn parse(typed: &str) -> Result<Self, ReadingError> {
        let trimmed = typed.trim();
        if trimmed.is_empty() {
            return Err(ReadingError::Empty);
        }
        if trimmed.chars().count() > MAX_TYPED_CHARS {
            return Err(ReadingError::TooLong);
        }
        let number_end = trimmed
            .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == ','))
            .unwrap_or(trimmed.len());
        let (number, unit) = trimmed.split_at(number_end);
        if number.is_empty() {
            return Err(ReadingError::NotANumber);
        }
        let ms_per_unit = match unit.trim().to_lowercase().as_str() {
            "" | "ms" | "msec" => 1.0,
            "s" | "sec" | "secs" | "seconds" => 1000.0,
            // The micro sign and the Greek letter mu look alike.
            "µs" | "μs" | "us" => 0.001,
            other => return Err(ReadingError::UnknownUnit(other.to_owned())),
        };
        let (digits, decimals) = plain_decimal(number)?;
        let value: f64 = digits.parse().map_err(|_| ReadingError::NotANumber)?;
        let resolution = 10f64.powi(-i32::try_from(decimals).map_err(|_| ReadingError::TooLong)?);
        if value <= 0.0 || resolution * ms_per_unit > coarsest_shown_ms(value * ms_per_unit) {
            return Err(ReadingError::TooRough);
        }
        Ok(Self {
            ms: value * ms_per_unit,
            resolution_ms: resolution * ms_per_unit,
            typed: trimmed.to_owned(),
        })
    }

    /// Whether this reading could have been read off `measured_us`: the
    /// measurement rounded to the reading's last digit, or cut off there
    /// (people do both). One off in the last digit is another measurement.
    pub fn matches_us(&self, measured_us: u64) -> bool {
        let typed_units = (self.ms / self.resolution_ms).round();
        let measured_units = measured_us as f64 / 1000.0 / self.resolution_ms;
        // A hair of slack, so 2003.0 is not cut off to 2002 by float error.
        let rounded = measured_units.round();
        let cut_off = (measured_units + 1e-6).floor();
        rounded == typed_units || cut_off == typed_units
    }
}

/// The coarsest a time of `ms` is ever shown: `Server-Timing` gives whole
/// microseconds, and the memory page whole milliseconds from 100 ms, tenths
/// from 1 ms, microseconds below. A reading must be at least that fine: a
/// coarser one (`2.50 s` for any capped miss, `0.01` for a hit) would let a
/// guess pass.
fn coarsest_shown_ms(ms: f64) -> f64 {
    let shown = if ms >= 100.0 {
        1.0
    } else if ms >= 1.0 {
        0.1
    } else {
        0.001
    };
    shown + EPSILON_MS
}

/// `2,003.5` → (`2003.5`, 1); `0,004` → (`0.004`, 3). Grouping separators
/// are dropped; the decimal separator becomes a dot.
fn plain_decimal(number: &str) -> Result<(String, usize), ReadingError> {
    if number.is_empty()
        || !number.starts_with(|c: char| c.is_ascii_digit() || c == '.' || c == ',')
    {
        return Err(ReadingError::NotANumber);
    }
    let last_dot = number.rfind('.');
    let last_comma = number.rfind(',');
    let commas = number.matches(',').count();
    let dots = number.matches('.').count();
    let decimal_at = match (last_dot, last_comma) {
        (Some(dot), Some(comma)) => Some(dot.max(comma)),
        (Some(dot), None) if dots == 1 => Some(dot),
        (None, Some(comma)) if commas == 1 => {
            let (whole, fraction) = (&number[..comma], &number[comma + 1..]);
            let looks_grouped = fraction.len() == 3
                && (1..=3).contains(&whole.len())
                && whole.trim_start_matches('0') == whole;
            if looks_grouped {
                return Err(ReadingError::Ambiguous);
            }
            Some(comma)
        }
        (None, None) => None,
        // Several commas or several dots alone: groups of thousands.
        _ => None,
    };
    let (whole, fraction) = match decimal_at {
        Some(at) => (&number[..at], &number[at + 1..]),
        None => (number, ""),
    };
    // Grouping separators only between groups of three digits.
    let groups: Vec<&str> = whole.split([',', '.']).collect();
    let grouped_well = groups.len() == 1
        || (groups[0].len() <= 3
            && !groups[0].is_empty()
            && groups[1..].iter().all(|group| group.len() == 3));
    if !grouped_well || fraction.contains([',', '.']) {
        return Err(ReadingError::NotANumber);
    }
    let whole: String = groups.concat();
    if whole.is_empty() && fraction.is_empty() {
        return Err(ReadingError::NotANumber);
    }
    let whole = if whole.is_empty() {
        "0".to_owned()
    } else {
        whole
    };
    Ok((format!("{whole}.{fraction}0"), fraction.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(typed: &str) -> f64 {
        Reading::parse(typed).expect(typed).ms
    }

    #[test]
    fn the_usual_ways_of_writing_a_time_are_understood() {
        assert_eq!(ms("2003.456"), 2003.456);
        assert_eq!(ms("2500 ms"), 2500.0);
        assert_eq!(ms("2500ms"), 2500.0);
        assert_eq!(ms(" 2.003 s "), 2003.0);
        assert_eq!(ms("0,004"), 0.004);
        assert_eq!(ms("12 µs"), 0.012);
        assert_eq!(ms("12 μs"), 0.012);
        assert_eq!(ms("12us"), 0.012);
        assert_eq!(ms("2,003.5"), 2003.5);
        assert_eq!(ms("2.003,5"), 2003.5);
        assert_eq!(ms(".012"), 0.012);
    }

    #[test]
    fn what_cannot_be_understood_says_why() {
        assert_eq!(Reading::parse(""), Err(ReadingError::Empty));
        assert_eq!(Reading::parse("2,500"), Err(ReadingError::Ambiguous));
        assert_eq!(Reading::parse("fast"), Err(ReadingError::NotANumber));
        assert_eq!(Reading::parse("-3"), Err(ReadingError::NotANumber));
        assert_eq!(Reading::parse("1.2.3"), Err(ReadingError::NotANumber));
        assert_eq!(
            Reading::parse("3 minutes"),
            Err(ReadingError::UnknownUnit("minutes".into()))
        );
        assert_eq!(Reading::parse("2 s"), Err(ReadingError::TooRough));
        assert_eq!(Reading::parse("2.50 s"), Err(ReadingError::TooRough));
        assert_eq!(Reading::parse("0.01"), Err(ReadingError::TooRough));
        assert_eq!(Reading::parse("0"), Err(ReadingError::TooRough));
        assert_eq!(Reading::parse(&"9".repeat(41)), Err(ReadingError::TooLong));
    }

    #[test]
    fn a_reading_matches_the_measurement_it_was_read_from_and_not_a_guess() {
        let measured_us = 2_003_456;
        for typed in ["2003.456", "2003.4", "2003", "2.003 s", "2,003.46"] {
            assert!(
                Reading::parse(typed).expect(typed).matches_us(measured_us),
                "{typed}"
            );
        }
        for typed in ["2000", "2004", "2010.5", "2.001 s", "2003.6"] {
            assert!(
                !Reading::parse(typed).expect(typed).matches_us(measured_us),
                "{typed}"
            );
        }
        let hit_us = 12;
        assert!(Reading::parse("0.012").expect("valid").matches_us(hit_us));
        assert!(Reading::parse("12 µs").expect("valid").matches_us(hit_us));
        assert!(!Reading::parse("0.020").expect("valid").matches_us(hit_us));
        assert!(
            !Reading::parse("0.013").expect("valid").matches_us(hit_us),
            "one off"
        );
        assert!(!Reading::parse("0.005").expect("valid").matches_us(hit_us));
    }
}
