//! Marathon's timestamps: ISO-8601 UTC with exactly three fractional digits
//! (`2020-01-02T03:04:05.000Z`), to and from milliseconds since the Unix epoch.

/// Formats milliseconds since the epoch as Marathon does.
pub fn timestamp(ms: u64) -> String {
    let secs = ms / 1000;
    let millis = ms % 1000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60
    )
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.fff]Z` (the forms Marathon writes) back to milliseconds.
pub fn parse_timestamp(text: &str) -> Option<u64> {
    let text = text.strip_suffix('Z')?;
    let (date, time) = text.split_once('T')?;
    let mut date_parts = date.split('-');
    let y: i64 = date_parts.next()?.parse().ok()?;
    let m: u32 = date_parts.next()?.parse().ok()?;
    let d: u32 = date_parts.next()?.parse().ok()?;
    if date_parts.next().is_some() || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let (hms, frac) = match time.split_once('.') {
        Some((hms, frac)) => (hms, frac),
        None => (time, "0"),
    };
    let mut hms_parts = hms.split(':');
    let h: u64 = hms_parts.next()?.parse().ok()?;
    let min: u64 = hms_parts.next()?.parse().ok()?;
    let s: u64 = hms_parts.next()?.parse().ok()?;
    if hms_parts.next().is_some() || h > 23 || min > 59 || s > 60 {
        return None;
    }
    if frac.is_empty() || frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let millis: u64 = format!("{frac:0<3}")[..3].parse().ok()?;
    let days = days_from_civil(y, m, d);
    if days < 0 {
        return None;
    }
    Some((days as u64 * 86_400 + h * 3600 + min * 60 + s) * 1000 + millis)
}

// Howard Hinnant's civil-date algorithms.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses() {
        assert_eq!(timestamp(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(timestamp(1_577_934_245_007), "2020-01-02T03:04:05.007Z");
        assert_eq!(
            parse_timestamp("2020-01-02T03:04:05.007Z"),
            Some(1_577_934_245_007)
        );
        assert_eq!(
            parse_timestamp("2020-01-02T03:04:05Z"),
            Some(1_577_934_245_000)
        );
        assert_eq!(parse_timestamp("2020-13-02T03:04:05Z"), None);
        assert_eq!(parse_timestamp("garbage"), None);
    }
}
