//! `stats`: what running containers use, from their cgroups' accounting
//! (chapter 3's `Cgroup::stats`), in Docker's columns. CPU % is CPU time
//! used over wall time between two readings (Docker's ratio: container
//! time over the whole host's, times the CPUs); memory is usage without
//! the page cache that can be dropped (`inactive_file`), as Docker shows.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use ch03_cgroups::cgroup::Cgroup;
use clap::Args;
use serde_json::{Value, json};

use crate::Result;
use crate::context::Engine;
use crate::format::{align, render_rows};
use crate::lookup::{Found, all, find};

#[derive(Args)]
pub struct StatsArgs {
    /// Every container (default: running ones).
    #[arg(short, long)]
    pub all: bool,
    /// Print one reading and exit (default: refresh every second until Ctrl-C).
    #[arg(long)]
    pub no_stream: bool,
    /// Do not truncate ids.
    #[arg(long)]
    pub no_trunc: bool,
    /// table, json, or a Go template such as 'table {{.Name}}\t{{.MemUsage}}'.
    #[arg(long)]
    pub format: Option<String>,
    #[arg(value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

const COLUMNS: [&str; 8] = [
    "ID", "Name", "CPUPerc", "MemUsage", "MemPerc", "NetIO", "BlockIO", "PIDs",
];

/// One reading of one container.
struct Reading {
    at: Instant,
    cpu: Option<Duration>,
}

pub fn stats(engine: &Engine, args: &StatsArgs) -> Result<i32> {
    let mut previous: BTreeMap<String, Reading> = BTreeMap::new();
    let interval = Duration::from_secs(1);
    let mut first = true;
    loop {
        let containers = chosen(engine, args)?;
        if first {
            // CPU % needs two readings: the first is a baseline.
            for c in &containers {
                previous.insert(c.record.id.clone(), read_cpu(c));
            }
            std::thread::sleep(if args.no_stream {
                Duration::from_millis(500)
            } else {
                interval
            });
            first = false;
        }
        let mut rows = Vec::new();
        for c in &containers {
            let now = read_cpu(c);
            rows.push(row(c, previous.get(&c.record.id), &now, args.no_trunc));
            previous.insert(c.record.id.clone(), now);
        }
        let table = render(&rows, args.format.as_deref())?;
        if args.no_stream {
            print!("{table}");
            return Ok(0);
        }
        // Clear the screen, then the table, as Docker's live view does.
        print!("\x1b[2J\x1b[H{table}");
        use std::io::Write;
        let _ = std::io::stdout().flush();
        std::thread::sleep(interval);
    }
}

/// The containers named, or every running one (every one with `-a`).
fn chosen(engine: &Engine, args: &StatsArgs) -> Result<Vec<Found>> {
    if args.containers.is_empty() {
        let (found, _) = all(engine)?;
        return Ok(found
            .into_iter()
            .filter(|f| args.all || f.record.is_active())
            .collect());
    }
    args.containers.iter().map(|k| find(engine, k)).collect()
}

fn cgroup_of(found: &Found) -> Option<Cgroup> {
    if !found.record.is_active() {
        return None;
    }
    Cgroup::of_container(&found.record.id).ok()
}

fn read_cpu(found: &Found) -> Reading {
    Reading {
        at: Instant::now(),
        cpu: cgroup_of(found).and_then(|c| c.stats().cpu_time),
    }
}

fn row(found: &Found, before: Option<&Reading>, now: &Reading, no_trunc: bool) -> Value {
    let id = if no_trunc {
        found.record.id.clone()
    } else {
        found.record.short_id().to_string()
    };
    let name = found.record.name.clone();
    let Some(cgroup) = cgroup_of(found) else {
        return json!({
            "ID": id, "Container": id, "Name": name, "CPUPerc": "0.00%",
            "MemUsage": "0B / 0B", "MemPerc": "0.00%", "NetIO": "0B / 0B",
            "BlockIO": "0B / 0B", "PIDs": "0",
        });
    };
    let stats = cgroup.stats();
    let cpu = match (before.and_then(|b| b.cpu.map(|c| (b.at, c))), now.cpu) {
        (Some((at, was)), Some(is)) => {
            let wall = now.at.duration_since(at).as_secs_f64();
            let used = is.saturating_sub(was).as_secs_f64();
            if wall > 0.0 { used / wall * 100.0 } else { 0.0 }
        }
        _ => 0.0,
    };
    let usage = memory_usage(&cgroup, stats.memory_current.unwrap_or(0));
    let limit = memory_limit(&cgroup);
    let percent = if limit > 0 {
        usage as f64 / limit as f64 * 100.0
    } else {
        0.0
    };
    let (rx, tx) = found.record.live_pid().map(net_io).unwrap_or((0, 0));
    let (read, written) = block_io(&cgroup);
    json!({
        "ID": id,
        "Container": id,
        "Name": name,
        "CPUPerc": format!("{cpu:.2}%"),
        "MemUsage": format!("{} / {}", binary_size(usage), binary_size(limit)),
        "MemPerc": format!("{percent:.2}%"),
        "NetIO": format!("{} / {}", ch06_images::store::human_size(rx), ch06_images::store::human_size(tx)),
        "BlockIO": format!("{} / {}", ch06_images::store::human_size(read), ch06_images::store::human_size(written)),
        "PIDs": stats.pids_current.unwrap_or(0).to_string(),
    })
}

/// Usage without the inactive page cache (Docker's figure).
fn memory_usage(cgroup: &Cgroup, current: u64) -> u64 {
    let key = if cgroup.is_v2() {
        "inactive_file"
    } else {
        "total_inactive_file"
    };
    let inactive = cgroup
        .read("memory", "memory.stat")
        .ok()
        .and_then(|t| ch03_cgroups::stats::key_value(&t, key))
        .unwrap_or(0);
    current.saturating_sub(inactive)
}

/// The cgroup's memory limit; the host's memory when unlimited.
pub fn memory_limit(cgroup: &Cgroup) -> u64 {
    let file = if cgroup.is_v2() {
        "memory.max"
    } else {
        "memory.limit_in_bytes"
    };
    let host = host_memory();
    match cgroup
        .read("memory", file)
        .ok()
        .and_then(|t| t.trim().parse::<u64>().ok())
    {
        Some(limit) if limit < host => limit,
        _ => host,
    }
}

/// MemTotal of /proc/meminfo, in bytes.
pub fn host_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|l| l.split_whitespace().next()?.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// Bytes received and sent by the container's interfaces but `lo`.
fn net_io(pid: nix::unistd::Pid) -> (u64, u64) {
    let text = std::fs::read_to_string(format!("/proc/{pid}/net/dev")).unwrap_or_default();
    text.lines()
        .skip(2)
        .filter_map(|l| l.split_once(':'))
        .filter(|(name, _)| name.trim() != "lo")
        .map(|(_, rest)| {
            let n: Vec<u64> = rest
                .split_whitespace()
                .filter_map(|f| f.parse().ok())
                .collect();
            (
                n.first().copied().unwrap_or(0),
                n.get(8).copied().unwrap_or(0),
            )
        })
        .fold((0, 0), |(r, t), (a, b)| (r + a, t + b))
}

/// Bytes read and written on block devices: v2's io.stat, v1's
/// blkio.throttle.io_service_bytes.
fn block_io(cgroup: &Cgroup) -> (u64, u64) {
    let (mut read, mut written) = (0, 0);
    if cgroup.is_v2() {
        for line in cgroup.read("io", "io.stat").unwrap_or_default().lines() {
            for field in line.split_whitespace() {
                if let Some(v) = field.strip_prefix("rbytes=") {
                    read += v.parse::<u64>().unwrap_or(0);
                } else if let Some(v) = field.strip_prefix("wbytes=") {
                    written += v.parse::<u64>().unwrap_or(0);
                }
            }
        }
    } else {
        let text = cgroup
            .read("blkio", "blkio.throttle.io_service_bytes")
            .unwrap_or_default();
        for line in text.lines() {
            let parts: Vec<&str> = line.split_whitespace().collect();
            if let [_, op, value] = parts.as_slice() {
                match *op {
                    "Read" => read += value.parse::<u64>().unwrap_or(0),
                    "Write" => written += value.parse::<u64>().unwrap_or(0),
                    _ => {}
                }
            }
        }
    }
    (read, written)
}

/// Docker's memory sizes: binary units, 4 significant digits (`1.797MiB`).
pub fn binary_size(bytes: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < units.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    // 4 significant digits, trailing zeros dropped (Go's %.4g).
    let whole = if value >= 1000.0 {
        4
    } else if value >= 100.0 {
        3
    } else if value >= 10.0 {
        2
    } else {
        1
    };
    let text = format!("{value:.*}", 4 - whole);
    let text = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.')
    } else {
        &text
    };
    format!("{text}{}", units[unit])
}

fn header(field: &str) -> String {
    match field {
        "ID" | "Container" => "CONTAINER ID",
        "Name" => "NAME",
        "CPUPerc" => "CPU %",
        "MemUsage" => "MEM USAGE / LIMIT",
        "MemPerc" => "MEM %",
        "NetIO" => "NET I/O",
        "BlockIO" => "BLOCK I/O",
        "PIDs" => "PIDS",
        other => return other.to_uppercase(),
    }
    .to_string()
}

fn render(rows: &[Value], format: Option<&str>) -> Result<String> {
    match format {
        Some(f) if f != "table" => render_rows(f, rows, &header),
        _ => {
            let mut lines = vec![COLUMNS.iter().map(|c| header(c)).collect::<Vec<_>>()];
            for row in rows {
                lines.push(
                    COLUMNS
                        .iter()
                        .map(|c| row[c].as_str().unwrap_or_default().to_string())
                        .collect(),
                );
            }
            Ok(align(&lines))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_memory_sizes() {
        assert_eq!(binary_size(0), "0B");
        assert_eq!(binary_size(1024), "1KiB");
        assert_eq!(binary_size(1_884_160), "1.797MiB");
        assert_eq!(binary_size(64 << 20), "64MiB");
        assert_eq!(binary_size(8_160_000_000), "7.6GiB");
    }
}
