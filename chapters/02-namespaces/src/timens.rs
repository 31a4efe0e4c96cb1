//! The time namespace: per-container offsets of the monotonic and boot-time
//! clocks (the wall clock, `CLOCK_REALTIME`, is never namespaced).
//!
//! `unshare(CLONE_NEWTIME)` does not move the caller: it creates a namespace
//! for the caller's *future children* (`/proc/self/ns/time_for_children`).
//! Its offsets can be written to `/proc/self/timens_offsets` only until the
//! first process enters it. Then the child enters it itself, with `setns`
//! on its own `time_for_children`: recent kernels would also move it at
//! its next `execve`, but the lab VM's 6.1 does not, and `setns` works on
//! every kernel with time namespaces (5.6 and later).

use std::str::FromStr;

use nix::sched::{setns, unshare};

use crate::Error;
use crate::namespaces::Namespace;

/// Seconds added to `CLOCK_MONOTONIC` and `CLOCK_BOOTTIME` inside.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimeOffsets {
    pub monotonic: i64,
    pub boottime: i64,
}

impl TimeOffsets {
    pub fn is_zero(&self) -> bool {
        self.monotonic == 0 && self.boottime == 0
    }
}

impl FromStr for TimeOffsets {
    type Err = Error;

    /// `monotonic=S,boottime=S` (either may be left out; S may be negative).
    fn from_str(text: &str) -> Result<TimeOffsets, Error> {
        let bad = || {
            Error::invalid(format!(
                "invalid time offset {text:?}: expected monotonic=SECONDS,boottime=SECONDS"
            ))
        };
        let mut offsets = TimeOffsets::default();
        for part in text.split(',') {
            let (clock, seconds) = part.split_once('=').ok_or_else(bad)?;
            let seconds: i64 = seconds.trim().parse().map_err(|_| bad())?;
            match clock.trim() {
                "monotonic" => offsets.monotonic = seconds,
                "boottime" => offsets.boottime = seconds,
                _ => return Err(bad()),
            }
        }
        Ok(offsets)
    }
}

// ANCHOR: unshare_time
/// Creates a time namespace with `offsets` and moves the caller into it.
pub fn unshare_time(offsets: TimeOffsets) -> Result<(), Error> {
    unshare(Namespace::Time.flag()).map_err(|e| Error::engine(e.desc()))?;
    if !offsets.is_zero() {
        // One line per clock: `<clock> <seconds> <nanoseconds>`.
        let text = format!(
            "monotonic {} 0\nboottime {} 0\n",
            offsets.monotonic, offsets.boottime
        );
        std::fs::write("/proc/self/timens_offsets", text).map_err(|e| {
            Error::engine(format!(
                "writing /proc/self/timens_offsets: {}",
                crate::io_reason(&e)
            ))
        })?;
    }
    // Enter it: from now on the offsets are fixed.
    let ns = std::fs::File::open("/proc/self/ns/time_for_children")
        .map_err(|e| Error::engine(format!("time_for_children: {}", crate::io_reason(&e))))?;
    setns(ns, Namespace::Time.flag()).map_err(|e| Error::engine(format!("setns: {}", e.desc())))
}
// ANCHOR_END: unshare_time

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_offsets() {
        let o: TimeOffsets = "monotonic=86400,boottime=-5".parse().unwrap();
        assert_eq!(
            o,
            TimeOffsets {
                monotonic: 86400,
                boottime: -5
            }
        );
        let o: TimeOffsets = "boottime=7".parse().unwrap();
        assert_eq!(o.monotonic, 0);
        assert!("realtime=3".parse::<TimeOffsets>().is_err());
        assert!("monotonic".parse::<TimeOffsets>().is_err());
        assert!("monotonic=x".parse::<TimeOffsets>().is_err());
    }
}
