//! Docker's resource flags as clap options, parsed before anything is created.
//!
//! A bad value (`-m 12x`, `--cpus one`) is a usage error: clap prints it
//! with the flag's name and the binary exits 125, as `docker run` does.

use clap::Args;

use crate::device::{DeviceRate, parse_device_rate};
use crate::limits::{Limits, Swap};
use crate::units::{parse_cpu_list, parse_cpus, parse_size};

// ANCHOR: options
/// The `docker run` resource flags chapter 3 implements.
#[derive(Args, Debug, Clone, Default)]
pub struct LimitArgs {
    /// Memory limit (e.g. 64m, 512k, 1g); the container is OOM-killed above it.
    #[arg(short = 'm', long, value_name = "BYTES", value_parser = parse_size)]
    pub memory: Option<u64>,
    /// Memory plus swap (e.g. 128m); -1 for unlimited swap [default: twice --memory].
    #[arg(long, value_name = "BYTES", value_parser = parse_swap, allow_hyphen_values = true)]
    pub memory_swap: Option<Swap>,
    /// Number of CPUs (e.g. 1.5): CPU time per 100 ms period.
    #[arg(long, value_name = "CPUS", value_parser = parse_cpus)]
    pub cpus: Option<u64>,
    /// Relative CPU weight under contention (default 1024).
    #[arg(short = 'c', long, value_name = "SHARES", value_parser = clap::value_parser!(u64).range(2..=262_144))]
    pub cpu_shares: Option<u64>,
    /// CPUs the container may run on (e.g. 0-1, 0,2).
    #[arg(long, value_name = "LIST", value_parser = parse_list)]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes the container may allocate from (e.g. 0).
    #[arg(long, value_name = "LIST", value_parser = parse_list)]
    pub cpuset_mems: Option<String>,
    /// Maximum number of processes and threads (0 or -1: unlimited).
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Read rate limit of a block device, DEVICE:RATE (e.g. /dev/vda:1mb; repeatable).
    #[arg(long, value_name = "DEVICE:RATE", value_parser = parse_device_rate)]
    pub device_read_bps: Vec<DeviceRate>,
    /// Write rate limit of a block device, DEVICE:RATE (repeatable).
    #[arg(long, value_name = "DEVICE:RATE", value_parser = parse_device_rate)]
    pub device_write_bps: Vec<DeviceRate>,
    /// Relative block I/O weight, 10 to 1000.
    #[arg(long, value_name = "WEIGHT", value_parser = clap::value_parser!(u16).range(10..=1000))]
    pub blkio_weight: Option<u16>,
}
// ANCHOR_END: options

impl LimitArgs {
    /// The parsed limits.
    pub fn limits(&self) -> Limits {
        Limits {
            memory: self.memory,
            memory_swap: self.memory_swap,
            cpus: self.cpus,
            cpu_shares: self.cpu_shares,
            cpuset_cpus: self.cpuset_cpus.clone(),
            cpuset_mems: self.cpuset_mems.clone(),
            pids_limit: self.pids_limit,
            device_read_bps: self.device_read_bps.clone(),
            device_write_bps: self.device_write_bps.clone(),
            blkio_weight: self.blkio_weight,
        }
    }
}

/// `--memory-swap`: a size, or -1 for unlimited.
pub fn parse_swap(text: &str) -> Result<Swap, String> {
    if text.trim() == "-1" {
        return Ok(Swap::Unlimited);
    }
    parse_size(text).map(Swap::Total)
}

/// A cpuset list, checked and kept as written.
fn parse_list(text: &str) -> Result<String, String> {
    parse_cpu_list(text).map(|_| text.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        limits: LimitArgs,
    }

    #[test]
    fn flags_parse_like_dockers() {
        let cli = Cli::try_parse_from([
            "x",
            "-m",
            "64m",
            "--memory-swap",
            "-1",
            "--cpus",
            "1.5",
            "--pids-limit",
            "20",
            "--cpuset-cpus",
            "0-1",
        ])
        .unwrap();
        let limits = cli.limits.limits();
        assert_eq!(limits.memory, Some(64 << 20));
        assert_eq!(limits.memory_swap, Some(Swap::Unlimited));
        assert_eq!(limits.cpus, Some(1_500_000_000));
        assert_eq!(limits.pids_limit, Some(20));
        assert_eq!(limits.cpuset_cpus.as_deref(), Some("0-1"));
    }

    #[test]
    fn bad_values_are_usage_errors() {
        for args in [
            &["x", "-m", "lots"][..],
            &["x", "--cpus", "one"],
            &["x", "--cpu-shares", "1"],
            &["x", "--cpuset-cpus", "a-b"],
            &["x", "--blkio-weight", "5"],
            &["x", "--device-read-bps", "/dev/null:1m"],
        ] {
            assert!(Cli::try_parse_from(args).is_err(), "{args:?}");
        }
    }
}
