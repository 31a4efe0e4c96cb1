//! `top`: the processes of a running container, as `ps -ef` shows them
//! on the host (Docker's default columns: UID PID PPID C STIME TTY TIME
//! CMD, host pids). The container's processes are those of its cgroup
//! (chapter 3); each one's columns come from `/proc/PID`. With ps options
//! (`top web -o pid,comm`), the host's `ps` prints and the rows are
//! filtered by those pids, as Docker does.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ch03_cgroups::cgroup::Cgroup;
use nix::unistd::Pid;

use crate::context::Engine;
use crate::format::align;
use crate::lookup::{Found, find};
use crate::{Error, Result};

const COLUMNS: [&str; 8] = ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"];

/// `top CONTAINER`: the table.
pub fn top(engine: &Engine, key: &str, ps_options: &[String]) -> Result<String> {
    let found = find(engine, key)?;
    let pids = processes(&found).map_err(|_| not_running(key))?;
    if pids.is_empty() {
        return Err(not_running(key));
    }
    if !ps_options.is_empty() {
        return with_ps(&pids, ps_options);
    }
    let clock = Clock::now();
    let mut lines = vec![COLUMNS.iter().map(|c| c.to_string()).collect::<Vec<_>>()];
    // A process may exit between the listing and the reading: skipped.
    lines.extend(pids.iter().filter_map(|pid| row(*pid, &clock)));
    Ok(align(&lines))
}

/// `top CONTAINER OPTIONS...`: as Docker, the host's `ps OPTIONS`, with
/// the header and the rows whose PID column is one of the container's.
fn with_ps(pids: &[Pid], options: &[String]) -> Result<String> {
    let out = std::process::Command::new("ps")
        .args(options)
        .output()
        .map_err(|e| Error::engine(format!("running ps: {e}")))?;
    if !out.status.success() {
        return Err(Error::invalid(format!(
            "ps {}: {}",
            options.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    let column = header
        .split_whitespace()
        .position(|c| c == "PID")
        .ok_or_else(|| {
            Error::invalid(format!(
                "ps {} prints no PID column: add one (-o pid,...)",
                options.join(" ")
            ))
        })?;
    let mut kept = vec![header];
    kept.extend(lines.filter(|line| {
        line.split_whitespace()
            .nth(column)
            .and_then(|p| p.parse::<i32>().ok())
            .is_some_and(|p| pids.contains(&Pid::from_raw(p)))
    }));
    Ok(kept.join("\n") + "\n")
}

fn not_running(key: &str) -> Error {
    Error::conflict(format!(
        "container {key} is not running: start it first (`berth start {key}`)"
    ))
}

/// The pids in the container's cgroup (`berth/<id>`), host numbering.
pub fn processes(found: &Found) -> Result<Vec<Pid>> {
    if !found.record.is_active() {
        return Err(Error::conflict("not running"));
    }
    let cgroup = Cgroup::of_container(&found.record.id)?;
    Ok(cgroup.procs())
}

/// What every row needs once: clock ticks, boot time, now.
struct Clock {
    ticks: u64,
    boot: u64,
    now: u64,
}

impl Clock {
    fn now() -> Clock {
        // SAFETY: sysconf has no side effects.
        let ticks = u64::try_from(unsafe { libc::sysconf(libc::_SC_CLK_TCK) })
            .unwrap_or(100)
            .max(1);
        let boot = std::fs::read_to_string("/proc/stat")
            .ok()
            .and_then(|t| {
                t.lines()
                    .find_map(|l| l.strip_prefix("btime ")?.trim().parse().ok())
            })
            .unwrap_or(0);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        Clock { ticks, boot, now }
    }
}

/// One process's columns, or None if it is gone.
fn row(pid: Pid, clock: &Clock) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold spaces: fields
    // start after the last ')'.
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = &stat[open + 1..close];
    let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
    let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<u64>().ok());
    let (ppid, tty, utime, stime, start) =
        (field(4)?, field(7)?, field(14)?, field(15)?, field(22)?);
    let cpu_secs = (utime + stime) / clock.ticks;
    let started = clock.boot + start / clock.ticks;
    let elapsed = clock.now.saturating_sub(started).max(1);
    let percent = (utime + stime) * 100 / clock.ticks / elapsed;
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let cmd = if cmdline.is_empty() {
        format!("[{comm}]")
    } else {
        String::from_utf8_lossy(&cmdline)
            .trim_end_matches('\0')
            .replace('\0', " ")
    };
    Some(vec![
        user_of(pid),
        pid.to_string(),
        ppid.to_string(),
        percent.to_string(),
        start_time(started, clock.now),
        tty_name(tty),
        cpu_time(cpu_secs),
        cmd,
    ])
}

/// The effective uid's name in the host's /etc/passwd (as `ps` on the
/// host shows it), or the number.
fn user_of(pid: Pid) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let Some(uid) = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().nth(1))
    else {
        return "?".to_string();
    };
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    passwd
        .lines()
        .find_map(|l| {
            let mut parts = l.split(':');
            let name = parts.next()?;
            (parts.nth(1)? == uid).then(|| name.to_string())
        })
        .unwrap_or_else(|| uid.to_string())
}

/// `ps`'s STIME: the time of day within the last 24 hours, else the date.
fn start_time(started: u64, now: u64) -> String {
    let t = libc::time_t::try_from(started).unwrap_or(0);
    // SAFETY: localtime_r fills the tm we own.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    unsafe { libc::localtime_r(&t, &mut tm) };
    if now.saturating_sub(started) < 24 * 3600 {
        format!("{:02}:{:02}", tm.tm_hour, tm.tm_min)
    } else {
        const MONTHS: [&str; 12] = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        let month = MONTHS[usize::try_from(tm.tm_mon).unwrap_or(0) % 12];
        format!("{month}{:02}", tm.tm_mday)
    }
}

/// `ps`'s TTY: `?` for none, `pts/N` for a pseudo-terminal.
fn tty_name(tty_nr: u64) -> String {
    let major = (tty_nr >> 8) & 0xfff;
    let minor = (tty_nr & 0xff) | ((tty_nr >> 12) & 0xfff00);
    match major {
        0 => "?".to_string(),
        136..=143 => format!("pts/{}", minor + (major - 136) * 256),
        4 => format!("tty{minor}"),
        _ => format!("{major}:{minor}"),
    }
}

/// `ps`'s TIME: cumulative CPU time, `[D-]HH:MM:SS`.
fn cpu_time(secs: u64) -> String {
    let d = Duration::from_secs(secs).as_secs();
    let (days, h, m, s) = (d / 86_400, d / 3600 % 24, d / 60 % 60, d % 60);
    if days > 0 {
        format!("{days}-{h:02}:{m:02}:{s:02}")
    } else {
        format!("{h:02}:{m:02}:{s:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ps_columns() {
        assert_eq!(cpu_time(0), "00:00:00");
        assert_eq!(cpu_time(3661), "01:01:01");
        assert_eq!(cpu_time(90_061), "1-01:01:01");
        assert_eq!(tty_name(0), "?");
        assert_eq!(tty_name((136 << 8) | 3), "pts/3");
    }
}
