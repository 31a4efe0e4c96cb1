//! When an image was built, as `images` and `history` print it:
//! `3 weeks ago` (CreatedSince) and `2026-11-10 09:30:00 +0000 UTC`
//! (CreatedAt); `N/A` for an image whose config does not say.

use std::time::Duration;

use crate::time::{human_duration, now_nanos, parse_rfc3339};

/// An image config's `created` (RFC 3339) as nanoseconds since the epoch.
pub fn parse(created: Option<&str>) -> Option<u128> {
    let text = created?;
    // Configs write UTC as `Z` or, from some builders, `+00:00`.
    let text = match text.strip_suffix("+00:00") {
        Some(utc) => format!("{utc}Z"),
        None => text.to_string(),
    };
    parse_rfc3339(&text).filter(|&t| t > 0)
}

/// `2 hours ago`, `3 weeks ago`, `2 years ago`.
pub fn since(created: Option<&str>) -> String {
    let Some(at) = parse(created) else {
        return "N/A".to_string();
    };
    let age = Duration::from_nanos(now_nanos().saturating_sub(at) as u64);
    format!("{} ago", long_duration(age))
}

/// `ps`'s durations, then weeks, months and years as images age.
fn long_duration(d: Duration) -> String {
    let days = d.as_secs() / 86_400;
    let plural = |n: u64, unit: &str| {
        if n == 1 {
            format!("1 {unit}")
        } else {
            format!("{n} {unit}s")
        }
    };
    match days {
        0..=13 => human_duration(d),
        14..=59 => plural(days / 7, "week"),
        60..=729 => plural(days / 30, "month"),
        _ => plural(days / 365, "year"),
    }
}

/// `2026-11-10 09:30:00 +0000 UTC`, as Docker's `CreatedAt`.
pub fn at(created: Option<&str>) -> String {
    match parse(created) {
        Some(t) => {
            let text = crate::time::rfc3339(t);
            format!("{} {} +0000 UTC", &text[..10], &text[11..19])
        }
        None => "N/A".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_and_dates() {
        assert_eq!(since(None), "N/A");
        assert_eq!(since(Some("not a date")), "N/A");
        assert_eq!(
            at(Some("2023-05-19T20:19:23.123456789Z")),
            "2023-05-19 20:19:23 +0000 UTC"
        );
        assert_eq!(
            at(Some("2023-05-19T20:19:23+00:00")),
            "2023-05-19 20:19:23 +0000 UTC"
        );
        let day = Duration::from_secs(86_400);
        assert_eq!(long_duration(day * 3), "3 days");
        assert_eq!(long_duration(day * 21), "3 weeks");
        assert_eq!(long_duration(day * 95), "3 months");
        assert_eq!(long_duration(day * 800), "2 years");
    }
}
