//! Timestamps as Docker prints them: RFC 3339 in UTC with nanoseconds
//! (`2026-12-02T15:16:31.123456789Z`), and the durations of `ps`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Now, as nanoseconds since the Unix epoch.
pub fn now_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_nanos()
}

/// `nanos` since the epoch as RFC 3339 in UTC, nanoseconds included.
pub fn rfc3339(nanos: u128) -> String {
    let secs = (nanos / 1_000_000_000) as i64;
    let frac = (nanos % 1_000_000_000) as u32;
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let t = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{frac:09}Z",
        t / 3600,
        t / 60 % 60,
        t % 60
    )
}

/// Docker's zero time, for a container that never started or finished.
pub const ZERO: &str = "0001-01-01T00:00:00Z";

/// Parses what [`rfc3339`] prints (and the same without fraction, or with
/// a shorter one) back to nanoseconds since the epoch.
pub fn parse_rfc3339(text: &str) -> Option<u128> {
    let text = text.strip_suffix('Z')?;
    let (date, time) = text.split_once('T')?;
    let mut date = date.split('-').map(|p| p.parse::<i64>().ok());
    let (y, m, d) = (date.next()??, date.next()??, date.next()??);
    let (hms, frac) = time.split_once('.').unwrap_or((time, ""));
    let mut hms = hms.split(':').map(|p| p.parse::<i64>().ok());
    let (h, mi, s) = (hms.next()??, hms.next()??, hms.next()??);
    let nanos: u128 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<9}")[..9].parse().ok()?
    };
    let secs = days_from_civil(y, m, d) * 86_400 + h * 3600 + mi * 60 + s;
    u128::try_from(secs).ok().map(|s| s * 1_000_000_000 + nanos)
}

/// `--since`/`--until`: an RFC 3339 time, Unix seconds, or a duration
/// before now (`10m`, `1h30m`, `45s`).
pub fn parse_point(text: &str) -> Option<u128> {
    if let Some(t) = parse_rfc3339(text) {
        return Some(t);
    }
    if let Ok(secs) = text.parse::<f64>() {
        return Some((secs * 1e9) as u128);
    }
    let ago = parse_duration(text)?;
    Some(now_nanos().saturating_sub(ago.as_nanos()))
}

/// `1h30m`, `10m`, `45s`, `500ms`.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let mut total = Duration::ZERO;
    let mut rest = text;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit())?;
        let value: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = match &rest[..unit_len] {
            "ms" => Duration::from_millis(value),
            "s" => Duration::from_secs(value),
            "m" => Duration::from_secs(value * 60),
            "h" => Duration::from_secs(value * 3600),
            _ => return None,
        };
        total += unit;
        rest = &rest[unit_len..];
    }
    Some(total)
}

/// `ps`'s human durations: "Less than a second", "5 seconds", "2 minutes"...
pub fn human_duration(d: Duration) -> String {
    let s = d.as_secs();
    let plural = |n: u64, unit: &str| {
        if n == 1 {
            format!("1 {unit}")
        } else {
            format!("{n} {unit}s")
        }
    };
    match s {
        0 => "Less than a second".to_string(),
        1..=59 => plural(s, "second"),
        60..=3599 => plural(s / 60, "minute"),
        3600..=172_799 => plural(s / 3600, "hour"),
        _ => plural(s / 86_400, "day"),
    }
}

/// The duration from `nanos` to now.
pub fn since(nanos: u128) -> Duration {
    Duration::from_nanos(now_nanos().saturating_sub(nanos) as u64)
}

// Howard Hinnant's civil-calendar algorithms (days since 1970-01-01).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trips() {
        // 2026-12-02T15:16:31Z, from `date -u -d @1796224591`.
        let t = 1_796_224_591_u128 * 1_000_000_000 + 123_456_789;
        assert_eq!(rfc3339(t), "2026-12-02T15:16:31.123456789Z");
        assert_eq!(parse_rfc3339("2026-12-02T15:16:31.123456789Z"), Some(t));
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(
            parse_rfc3339("2000-02-29T00:00:00Z"),
            Some(951_782_400 * 1_000_000_000)
        );
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("10x"), None);
        assert_eq!(human_duration(Duration::from_secs(1)), "1 second");
        assert_eq!(human_duration(Duration::from_secs(125)), "2 minutes");
    }
}
