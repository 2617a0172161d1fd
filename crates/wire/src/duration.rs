//! Mesos' (stout's) duration text, as flags, `/flags` output and executor environment variables
//! carry it: a number, possibly fractional, and one of `ns, us, ms, secs, mins, hrs, days,
//! weeks` (`15secs`, `10mins`, `1500ms`, `2.5secs`). Written back with the largest unit that
//! gives a whole number, as Mesos prints it.

use std::time::Duration;

/// Parses duration text; the error says what is wrong and how to write it.
pub fn parse(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| format!("invalid duration '{text}': missing unit (e.g. 15secs)"))?;
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("invalid duration '{text}': '{number}' is not a number"))?;
    let nanos_per_unit: f64 = match unit {
        "ns" => 1.0,
        "us" => 1e3,
        "ms" => 1e6,
        "secs" => 1e9,
        "mins" => 60e9,
        "hrs" => 3600e9,
        "days" => 86400e9,
        "weeks" => 604800e9,
        _ => {
            return Err(format!(
                "invalid duration '{text}': unknown unit '{unit}' (use ns, us, ms, secs, mins, \
                 hrs, days or weeks)"
            ));
        }
    };
    let nanos = value * nanos_per_unit;
    if !nanos.is_finite() || nanos < 0.0 || nanos > u64::MAX as f64 {
        return Err(format!("invalid duration '{text}': out of range"));
    }
    Ok(Duration::from_nanos(nanos as u64))
}

/// Formats a duration as Mesos does: the largest unit that gives a whole number.
pub fn format(d: Duration) -> String {
    let nanos = d.as_nanos();
    let units: [(&str, u128); 8] = [
        ("weeks", 604_800_000_000_000),
        ("days", 86_400_000_000_000),
        ("hrs", 3_600_000_000_000),
        ("mins", 60_000_000_000),
        ("secs", 1_000_000_000),
        ("ms", 1_000_000),
        ("us", 1_000),
        ("ns", 1),
    ];
    for (name, size) in units {
        if nanos >= size && nanos.is_multiple_of(size) {
            return format!("{}{name}", nanos / size);
        }
    }
    "0ns".to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mesos_spellings_parse_and_print_back() {
        for (text, duration) in [
            ("15secs", Duration::from_secs(15)),
            ("10mins", Duration::from_secs(600)),
            ("1500ms", Duration::from_millis(1500)),
            ("2hrs", Duration::from_secs(7200)),
            ("1weeks", Duration::from_secs(604_800)),
        ] {
            assert_eq!(parse(text), Ok(duration), "{text}");
            assert_eq!(format(duration), text);
        }
        assert_eq!(parse("2.5secs"), Ok(Duration::from_millis(2500)));
        assert_eq!(format(Duration::from_millis(2500)), "2500ms");
    }

    #[test]
    fn bad_text_says_what_is_wrong() {
        assert!(parse("15").unwrap_err().contains("missing unit"));
        assert!(parse("5fortnights").unwrap_err().contains("unknown unit"));
        assert!(parse("x5secs").unwrap_err().contains("is not a number"));
        assert!(parse("1e400secs").is_err());
    }
}
