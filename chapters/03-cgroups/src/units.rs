//! Docker's syntax for sizes and CPUs: `64m`, `512k`, `1g`, `1.5`.
//!
//! Sizes are binary (`1k` is 1024 bytes, `1m` is 1024 KiB), with an
//! optional `b` or `ib` after the unit (`64mb`, `64MiB`) and an optional
//! fraction (`1.5g`), as Docker reads `--memory`. CPUs are a decimal
//! number of CPUs (`0.5`, `1.5`), kept as billionths of a CPU, the unit
//! Docker calls `NanoCPUs`, so no precision is lost to floating point.

/// Billionths of a CPU in one CPU.
pub const NANOS_PER_CPU: u64 = 1_000_000_000;

// ANCHOR: parse_size
/// Parses `64m`, `512k`, `1g`, `1.5g`, `64MiB` or `1048576` into bytes.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let invalid = || {
        format!(
            "invalid size {text:?}: use a number with an optional unit b, k, m, g or t (64m, 512k, 1g)"
        )
    };
    let lower = text.trim().to_ascii_lowercase();
    let digits_end = lower
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(lower.len());
    let (number, unit) = lower.split_at(digits_end);
    let unit = unit.trim_start();
    if !unit.is_ascii() {
        return Err(invalid());
    }
    let shift = match unit {
        "" | "b" => 0,
        _ => {
            // One unit letter, then nothing, `b` or `ib`: `m`, `mb`, `mib`.
            let (letter, suffix) = unit.split_at(1);
            if !matches!(suffix, "" | "b" | "ib") {
                return Err(invalid());
            }
            match letter {
                "k" => 10,
                "m" => 20,
                "g" => 30,
                "t" => 40,
                "p" => 50,
                _ => return Err(invalid()),
            }
        }
    };
    let (whole, fraction) = split_decimal(number).ok_or_else(invalid)?;
    let multiplier = 1u128 << shift;
    let bytes = whole as u128 * multiplier + fraction_of(fraction, multiplier);
    u64::try_from(bytes).map_err(|_| format!("size {text:?} is too large"))
}
// ANCHOR_END: parse_size

// ANCHOR: parse_cpus
/// Parses a number of CPUs (`1.5`, `0.25`, `2`) into billionths of a CPU.
pub fn parse_cpus(text: &str) -> Result<u64, String> {
    let invalid =
        || format!("invalid number of CPUs {text:?}: use a decimal number such as 0.5 or 1.5");
    let (whole, fraction) = split_decimal(text.trim()).ok_or_else(invalid)?;
    if fraction.len() > 9 {
        return Err(format!(
            "number of CPUs {text:?} is too precise (at most 9 decimals)"
        ));
    }
    let nanos =
        whole as u128 * NANOS_PER_CPU as u128 + fraction_of(fraction, NANOS_PER_CPU as u128);
    u64::try_from(nanos).map_err(|_| format!("number of CPUs {text:?} is too large"))
}
// ANCHOR_END: parse_cpus

/// Parses a duration: seconds (`1`, `0.5`, `2s`) or milliseconds (`500ms`).
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let invalid = || format!("invalid duration {text:?}: use seconds such as 0.5, 2s or 500ms");
    let text = text.trim();
    let (number, nanos_per_unit) = match text.strip_suffix("ms") {
        Some(ms) => (ms, 1_000_000u128),
        None => (text.strip_suffix('s').unwrap_or(text), 1_000_000_000u128),
    };
    let (whole, fraction) = split_decimal(number).ok_or_else(invalid)?;
    let nanos = whole as u128 * nanos_per_unit + fraction_of(fraction, nanos_per_unit);
    u64::try_from(nanos)
        .map(std::time::Duration::from_nanos)
        .map_err(|_| invalid())
}

/// `12.5` as (12, "5"); `None` unless it is digits with at most one dot.
fn split_decimal(number: &str) -> Option<(u64, &str)> {
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let all_digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    if whole.is_empty() || !all_digits(whole) || !all_digits(fraction) {
        return None;
    }
    if number.ends_with('.') {
        return None;
    }
    Some((whole.parse().ok()?, fraction))
}

/// `0.<fraction>` times `multiplier`, rounded down, exactly.
fn fraction_of(fraction: &str, multiplier: u128) -> u128 {
    let digits = &fraction[..fraction.len().min(18)];
    if digits.is_empty() {
        return 0;
    }
    let numerator: u128 = digits.parse().unwrap_or(0);
    let mut value = numerator * multiplier;
    for _ in 0..digits.len() {
        value /= 10;
    }
    value
}

/// Shows a byte count the way people write limits: `32 MiB`, `1.5 GiB`, `100 bytes`.
pub fn format_size(bytes: u64) -> String {
    const UNITS: &[(u32, &str)] = &[(40, "TiB"), (30, "GiB"), (20, "MiB"), (10, "KiB")];
    for (shift, name) in UNITS {
        let unit = 1u64 << shift;
        if bytes >= unit {
            let tenths = bytes as u128 * 10 / unit as u128;
            return if tenths % 10 == 0 {
                format!("{} {name}", tenths / 10)
            } else {
                format!("{}.{} {name}", tenths / 10, tenths % 10)
            };
        }
    }
    format!("{bytes} bytes")
}

/// Shows billionths of a CPU as Docker's flag would take them: `1.5`, `0.25`.
pub fn format_cpus(nanos: u64) -> String {
    let whole = nanos / NANOS_PER_CPU;
    let fraction = nanos % NANOS_PER_CPU;
    if fraction == 0 {
        return whole.to_string();
    }
    let digits = format!("{fraction:09}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

/// Checks a cpuset list (`0-3,8`, `1`) and returns the ids it names.
pub fn parse_cpu_list(text: &str) -> Result<Vec<u32>, String> {
    let invalid = || format!("invalid list {text:?}: use ids and ranges such as 0-3,8");
    let mut ids = Vec::new();
    for part in text.trim().split(',') {
        let (first, last) = match part.split_once('-') {
            Some((a, b)) => (a.parse::<u32>(), b.parse::<u32>()),
            None => (part.parse::<u32>(), part.parse::<u32>()),
        };
        let (Ok(first), Ok(last)) = (first, last) else {
            return Err(invalid());
        };
        if first > last || last - first > 65_536 {
            return Err(invalid());
        }
        ids.extend(first..=last);
    }
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_sizes() {
        assert_eq!(parse_size("64m"), Ok(64 << 20));
        assert_eq!(parse_size("512k"), Ok(512 << 10));
        assert_eq!(parse_size("1g"), Ok(1 << 30));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert_eq!(parse_size("64mb"), Ok(64 << 20));
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("1.5g"), Ok(3 << 29));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("100b"), Ok(100));
        assert_eq!(parse_size("2 m"), Ok(2 << 20));
    }

    #[test]
    fn bad_sizes_say_what_to_write() {
        for bad in [
            "", "m", "abc", "-1", "1.2.3", "12x", "1.", ".5", "64ib", "1e3",
        ] {
            let err = parse_size(bad).unwrap_err();
            assert!(err.starts_with("invalid size"), "{bad}: {err}");
        }
        assert_eq!(
            parse_size("abc").unwrap_err(),
            "invalid size \"abc\": use a number with an optional unit b, k, m, g or t (64m, 512k, 1g)"
        );
        assert!(
            parse_size("99999999999p")
                .unwrap_err()
                .contains("too large")
        );
    }

    #[test]
    fn docker_cpus() {
        assert_eq!(parse_cpus("1.5"), Ok(1_500_000_000));
        assert_eq!(parse_cpus("0.5"), Ok(500_000_000));
        assert_eq!(parse_cpus("2"), Ok(2_000_000_000));
        assert_eq!(parse_cpus("0.000000001"), Ok(1));
        assert!(
            parse_cpus("0.0000000001")
                .unwrap_err()
                .contains("too precise")
        );
        for bad in ["", "one", "-1", "1,5", "1.5.0"] {
            assert!(parse_cpus(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn durations() {
        use std::time::Duration;
        assert_eq!(parse_duration("1"), Ok(Duration::from_secs(1)));
        assert_eq!(parse_duration("0.5"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        for bad in ["", "soon", "-1", "1m"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn formatting() {
        assert_eq!(format_size(32 << 20), "32 MiB");
        assert_eq!(format_size(3 << 29), "1.5 GiB");
        assert_eq!(format_size(512 << 10), "512 KiB");
        assert_eq!(format_size(100), "100 bytes");
        assert_eq!(format_cpus(1_500_000_000), "1.5");
        assert_eq!(format_cpus(250_000_000), "0.25");
        assert_eq!(format_cpus(2_000_000_000), "2");
    }

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list("0-3,8"), Ok(vec![0, 1, 2, 3, 8]));
        assert_eq!(parse_cpu_list("1"), Ok(vec![1]));
        assert_eq!(parse_cpu_list("1,1,0"), Ok(vec![0, 1]));
        for bad in ["", "a", "3-1", "1-", ",", "0-3,"] {
            assert!(parse_cpu_list(bad).is_err(), "{bad}");
        }
    }
}
