//! Small formatting helpers for what pages show: durations, clock times and
//! ratios, written the way a person reads them.

use std::time::Duration;

/// Server time in milliseconds with enough precision to tell a 0.01 ms hit
/// from a 200 ms miss.
pub fn server_ms(elapsed: Duration) -> String {
    let ms = elapsed.as_secs_f64() * 1000.0;
    if ms < 1.0 {
        format!("{ms:.3} ms")
    } else if ms < 100.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{ms:.0} ms")
    }
}

/// `42 s`, `3 min 5 s`, `2 h 0 min`: a span of time at a glance.
pub fn human_duration_ms(ms: u64) -> String {
    let secs = ms / 1000;
    match secs {
        0 => format!("{ms} ms"),
        1..=59 => format!("{secs} s"),
        60..=3599 => format!("{} min {} s", secs / 60, secs % 60),
        _ => format!("{} h {} min", secs / 3600, (secs % 3600) / 60),
    }
}

/// The time of day of a unix time in milliseconds, in UTC: `14:03:27 UTC`.
pub fn clock_utc(unix_ms: u64) -> String {
    let secs_of_day = (unix_ms / 1000) % 86_400;
    format!(
        "{:02}:{:02}:{:02} UTC",
        secs_of_day / 3600,
        (secs_of_day % 3600) / 60,
        secs_of_day % 60
    )
}

/// Hits as a share of all lookups, or a dash before the first lookup.
pub fn ratio_percent(hits: u64, misses: u64) -> String {
    let total = hits + misses;
    if total == 0 {
        "–".to_owned()
    } else {
        format!("{:.0}%", hits as f64 * 100.0 / total as f64)
    }
}

/// A size as a person reads it: `512 bytes`, `4.0 KiB`, `673 MiB`, `2.0 GiB`
/// (binary units, as `du -h` and the `disk_max_bytes` setting use). Three
/// significant figures at most, so a number never claims more precision than
/// a glance needs; the exact bytes go beside it where they matter.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} byte{}", if bytes == 1 { "" } else { "s" });
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if value < 10.0 {
        format!("{value:.1} {}", UNITS[unit])
    } else {
        format!("{value:.0} {}", UNITS[unit])
    }
}

/// How many times faster a hit was than a miss, with no more precision than
/// the measurements hold. Times are whole microseconds, so a 4 µs hit is
/// known only to within about 12%: one significant figure ("about 50,000×"),
/// not "53,142×". Longer hits earn more figures, up to three.
pub fn speedup(miss_us: u64, hit_us: u64) -> String {
    if hit_us == 0 {
        return format!(
            "more than {}×",
            grouped(round_significant(miss_us as f64, 1))
        );
    }
    let ratio = miss_us as f64 / hit_us as f64;
    let figures = (hit_us as f64).log10().floor().clamp(0.0, 2.0) as i32 + 1;
    format!("about {}×", grouped(round_significant(ratio, figures)))
}

fn round_significant(value: f64, figures: i32) -> u64 {
    if value < 1.0 {
        return value.round() as u64;
    }
    let magnitude = 10f64.powi(value.log10().floor() as i32 - figures + 1);
    ((value / magnitude).round() * magnitude).round() as u64
}

/// `53000` → `53,000`.
fn grouped(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// `1 entry`, `3 entries`.
pub fn count_of(count: usize, one: &str, many: &str) -> String {
    format!("{count} {}", if count == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human_duration_ms(250), "250 ms");
        assert_eq!(human_duration_ms(42_000), "42 s");
        assert_eq!(human_duration_ms(185_000), "3 min 5 s");
        assert_eq!(human_duration_ms(7_200_000), "2 h 0 min");
        assert_eq!(server_ms(Duration::from_micros(12)), "0.012 ms");
        assert_eq!(server_ms(Duration::from_millis(201)), "201 ms");
    }

    #[test]
    fn a_speedup_claims_no_more_precision_than_its_measurements() {
        assert_eq!(speedup(200_352, 1), "about 200,000×");
        assert_eq!(speedup(801_408, 4), "about 200,000×");
        assert_eq!(speedup(801_408, 40), "about 20,000×");
        assert_eq!(speedup(801_408, 412), "about 1,950×");
        assert_eq!(speedup(5_000, 0), "more than 5,000×");
        assert_eq!(speedup(3, 2), "about 2×");
    }

    #[test]
    fn sizes_read_naturally() {
        assert_eq!(human_bytes(1), "1 byte");
        assert_eq!(human_bytes(1023), "1023 bytes");
        assert_eq!(human_bytes(4096), "4.0 KiB");
        assert_eq!(human_bytes(64 * 1024 * 1024), "64 MiB");
        assert_eq!(human_bytes(705_028_096), "672 MiB");
        assert_eq!(human_bytes(2 * 1024 * 1024 * 1024), "2.0 GiB");
    }

    #[test]
    fn clock_and_ratio() {
        assert_eq!(clock_utc(1_700_000_000_000), "22:13:20 UTC");
        assert_eq!(ratio_percent(0, 0), "–");
        assert_eq!(ratio_percent(3, 1), "75%");
    }
}
