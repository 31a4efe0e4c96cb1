//! What a container used: memory now and at its peak, CPU time, processes,
//! and whether the kernel's OOM killer struck.
//!
//! v1 spreads these over controllers: `memory.usage_in_bytes` and
//! `memory.max_usage_in_bytes`, `cpuacct.usage` (nanoseconds, from the
//! separate cpuacct controller), `pids.current`, and `memory.oom_control`'s
//! `oom_kill` counter. v2 has `memory.current`, `memory.peak` (Linux 5.19+),
//! `cpu.stat`'s `usage_usec` (kept for every cgroup, cpu controller or not),
//! `pids.current`, and `memory.events`' `oom_kill` counter.

use std::time::Duration;

use crate::Error;
use crate::cgroup::{Cgroup, read_file};
use crate::units::format_size;

/// A snapshot of a cgroup's accounting. `None` where this kernel has no such file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub memory_current: Option<u64>,
    pub memory_peak: Option<u64>,
    pub cpu_time: Option<Duration>,
    pub pids_current: Option<u64>,
    /// How many times the OOM killer killed a process in this cgroup.
    pub oom_kills: u64,
}

// ANCHOR: stats
impl Cgroup {
    /// Reads the accounting files of every controller.
    pub fn stats(&self) -> Stats {
        let number = |controller: &str, file: &str| {
            self.read(controller, file)
                .ok()
                .and_then(|text| text.trim().parse::<u64>().ok())
        };
        let (memory_current, memory_peak, cpu_time) = if let Some(dir) = self.v2_dir() {
            let usage_usec = read_file(&dir.join("cpu.stat"))
                .ok()
                .and_then(|text| key_value(&text, "usage_usec"));
            (
                number("memory", "memory.current"),
                number("memory", "memory.peak"),
                usage_usec.map(Duration::from_micros),
            )
        } else {
            (
                number("memory", "memory.usage_in_bytes"),
                number("memory", "memory.max_usage_in_bytes"),
                number("cpuacct", "cpuacct.usage").map(Duration::from_nanos),
            )
        };
        Stats {
            memory_current,
            memory_peak,
            cpu_time,
            pids_current: number("pids", "pids.current"),
            oom_kills: self.oom_kills(),
        }
    }

    /// The OOM killer's count for this cgroup.
    pub fn oom_kills(&self) -> u64 {
        let file = if self.is_v2() {
            "memory.events"
        } else {
            "memory.oom_control"
        };
        self.read("memory", file)
            .ok()
            .and_then(|text| key_value(&text, "oom_kill"))
            .unwrap_or(0)
    }
}
// ANCHOR_END: stats

impl Cgroup {
    /// CPU time used so far (for measuring a window).
    pub fn cpu_time(&self) -> Result<Duration, Error> {
        self.stats()
            .cpu_time
            .ok_or_else(|| Error::engine("this kernel does not account CPU time per cgroup"))
    }
}

/// The number after `key` in a flat-keyed file (`oom_kill 1`).
pub fn key_value(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let (k, v) = line.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok())?
    })
}

impl Stats {
    /// The `--stats` report, one `key: value` line each.
    pub fn render(&self) -> String {
        let unavailable = || "unavailable".to_string();
        let size = |v: Option<u64>| v.map_or_else(unavailable, format_size);
        let cpu = self
            .cpu_time
            .map_or_else(unavailable, |t| format!("{:.3} s", t.as_secs_f64()));
        let pids = self
            .pids_current
            .map_or_else(unavailable, |p| p.to_string());
        format!(
            "stats.memory.peak: {}\nstats.memory.current: {}\nstats.cpu.time: {cpu}\nstats.pids.current: {pids}\nstats.oom_kills: {}\n",
            size(self.memory_peak),
            size(self.memory_current),
            self.oom_kills
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_keyed_files() {
        let v2 = "low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\noom_group_kill 0\n";
        assert_eq!(key_value(v2, "oom_kill"), Some(1));
        assert_eq!(key_value(v2, "oom"), Some(1));
        let v1 = "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n";
        assert_eq!(key_value(v1, "oom_kill"), Some(3));
        assert_eq!(
            key_value("usage_usec 1500\nuser_usec 1000\n", "usage_usec"),
            Some(1500)
        );
        assert_eq!(key_value("", "oom_kill"), None);
    }
}
