//! What an idle container costs in memory: its monitor's resident and
//! proportional set (`/proc/PID/smaps_rollup`), conmon's for comparison
//! when podman works, and the host's `MemAvailable` before and after
//! starting many idle containers.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::berth::Berth;

/// One process's memory, in KiB.
#[derive(Debug, Clone, Copy, Default)]
pub struct Usage {
    /// Resident pages, shared ones counted whole.
    pub rss: u64,
    /// Shared pages divided among their sharers.
    pub pss: u64,
    /// Pages only this process maps (`Private_Clean + Private_Dirty`).
    pub uss: u64,
}

/// `/proc/PID/smaps_rollup`.
pub fn usage(pid: i32) -> Result<Usage> {
    let path = format!("/proc/{pid}/smaps_rollup");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    let mut usage = Usage::default();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        let (Some(key), Some(value)) = (words.next(), words.next()) else {
            continue;
        };
        let Ok(kib) = value.parse::<u64>() else {
            continue;
        };
        match key {
            "Rss:" => usage.rss = kib,
            "Pss:" => usage.pss = kib,
            "Private_Clean:" | "Private_Dirty:" => usage.uss += kib,
            _ => {}
        }
    }
    if usage.rss == 0 {
        bail!("{path} has no Rss line");
    }
    Ok(usage)
}

/// `MemAvailable` of `/proc/meminfo`, in KiB.
pub fn mem_available() -> Result<u64> {
    let text = std::fs::read_to_string("/proc/meminfo")?;
    text.lines()
        .find_map(|l| l.strip_prefix("MemAvailable:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .context("/proc/meminfo has no MemAvailable")
}

/// The parent of `pid`: field 4 of `/proc/PID/stat` (after the command
/// name, which may hold spaces and parentheses, so read from the last `)`).
pub fn parent_of(pid: i32) -> Result<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let after = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .context("odd /proc/PID/stat")?;
    after
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .context("no parent pid in /proc/PID/stat")
}

/// The monitor of container `id`: the parent of its first process (the
/// monitor clones it), checked to be berth's monitor.
pub fn monitor_of(berth: &Berth, id: &str) -> Result<i32> {
    let pid = berth.pid_of(id)?;
    let monitor = parent_of(pid)?;
    let cmdline = std::fs::read(format!("/proc/{monitor}/cmdline"))?;
    if !cmdline.split(|b| *b == 0).any(|arg| arg == b"__monitor") {
        bail!(
            "the parent of container {id}'s pid {pid} is pid {monitor}, not its monitor: {}",
            String::from_utf8_lossy(&cmdline).replace('\0', " ")
        );
    }
    Ok(monitor)
}

/// The monitor's memory for one idle container, which is then removed,
/// and the size of the sealed copy of berth it runs from, if it does.
pub fn one_monitor(berth: &Berth, image: &str) -> Result<(Usage, Option<u64>)> {
    let id = berth.run_idle(image, &["sleep", "1000"])?;
    let measured = monitor_of(berth, &id).and_then(|pid| Ok((usage(pid)?, sealed_copy_size(pid))));
    let removed = berth.remove(std::slice::from_ref(&id));
    let measured = measured?;
    removed?;
    Ok(measured)
}

/// The size of the memfd `pid` runs from (chapter 7's sealed copy of the
/// binary): memory of its own, whole, mapped or not, for the process's life.
pub fn sealed_copy_size(pid: i32) -> Option<u64> {
    let exe = format!("/proc/{pid}/exe");
    let target = std::fs::read_link(&exe).ok()?;
    target
        .to_string_lossy()
        .starts_with("/memfd:")
        .then(|| std::fs::metadata(&exe).ok().map(|m| m.len()))
        .flatten()
}

/// conmon's memory for one idle podman container; `None` when podman
/// does not run one (not installed, not answering, no conmon pid).
pub fn conmon(image: &str) -> Option<Usage> {
    let out = podman(&["run", "-d", "--network", "none", image, "sleep", "1000"])?;
    let id = out.trim().to_string();
    let pid = podman(&["inspect", "--format", "{{.State.ConmonPid}}", &id])
        .and_then(|p| p.trim().parse::<i32>().ok())
        .filter(|p| *p > 0);
    let measured = pid.and_then(|p| usage(p).ok());
    podman(&["rm", "-f", &id]);
    measured
}

fn podman(args: &[&str]) -> Option<String> {
    let out = Command::new("podman")
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// What `n` idle containers took.
pub struct Idle {
    pub n: usize,
    /// `MemAvailable` before minus after, KiB.
    pub host_used: i64,
    /// Starting all of them, one after the other.
    pub start: Duration,
    /// Removing all of them.
    pub remove: Duration,
    /// Each monitor's memory.
    pub monitors: Vec<Usage>,
    /// Each container's first process (`sleep`).
    pub sleeps: Vec<Usage>,
}

/// Starts `n` idle containers (`sleep 1000`, detached, no network),
/// measures, removes them by id, whatever happened in between.
pub fn idle(berth: &Berth, image: &str, n: usize) -> Result<Idle> {
    let before = mem_available()?;
    let mut ids = Vec::with_capacity(n);
    let started = Instant::now();
    let measured = (|| {
        for _ in 0..n {
            crate::interrupt::check()?;
            ids.push(berth.run_idle(image, &["sleep", "1000"])?);
        }
        let start = started.elapsed();
        // Let the last starts' short-lived allocations go back first.
        std::thread::sleep(Duration::from_secs(1));
        let after = mem_available()?;
        let (mut monitors, mut sleeps) = (vec![], vec![]);
        for id in &ids {
            let pid = berth.pid_of(id)?;
            sleeps.push(usage(pid)?);
            monitors.push(usage(monitor_of(berth, id)?)?);
        }
        Ok::<_, anyhow::Error>((start, before as i64 - after as i64, monitors, sleeps))
    })();
    let removing = Instant::now();
    let removed = berth.remove(&ids);
    let remove = removing.elapsed();
    let (start, host_used, monitors, sleeps) = measured?;
    removed?;
    Ok(Idle {
        n,
        host_used,
        start,
        remove,
        monitors,
        sleeps,
    })
}

/// The median of one field over `all`.
pub fn median(all: &[Usage], field: fn(&Usage) -> u64) -> u64 {
    let mut values: Vec<u64> = all.iter().map(field).collect();
    values.sort_unstable();
    values.get(values.len() / 2).copied().unwrap_or_default()
}

/// KiB as MiB with one decimal.
pub fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let me = std::process::id() as i32;
        assert_eq!(parent_of(me).unwrap(), nix::unistd::getppid().as_raw());
        let u = usage(me).unwrap();
        assert!(u.rss >= u.pss && u.pss >= u.uss && u.uss > 0, "{u:?}");
        assert!(mem_available().unwrap() > 0);
        // The test binary is a file, not a sealed copy.
        assert_eq!(sealed_copy_size(me), None);
    }

    #[test]
    fn median_of_usages() {
        let at = |rss| Usage {
            rss,
            ..Usage::default()
        };
        assert_eq!(median(&[at(3), at(1), at(2)], |u| u.rss), 2);
        assert_eq!(median(&[], |u| u.rss), 0);
    }
}
