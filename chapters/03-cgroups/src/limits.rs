//! Docker's resource flags, and the cgroup file each one writes.
//!
//! Every setter below is one flag of `docker run`, written for both
//! layouts side by side: the v2 file on one line, the v1 file on the next.

use crate::Error;
use crate::cgroup::Cgroup;
use crate::device::DeviceRate;
use crate::units::{NANOS_PER_CPU, format_size};

/// The CFS period berth (like Docker) uses for `--cpus`: 100 ms.
pub const CPU_PERIOD_US: u64 = 100_000;

/// The smallest memory limit Docker accepts (a smaller one cannot even start a shell).
pub const MIN_MEMORY: u64 = 6 << 20;

/// `--memory-swap`: memory plus swap, or unlimited swap (`-1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Swap {
    Unlimited,
    /// Memory and swap together, in bytes (Docker's meaning, not swap alone).
    Total(u64),
}

/// What a user asked for on the command line, already parsed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Limits {
    /// `-m/--memory`, bytes.
    pub memory: Option<u64>,
    /// `--memory-swap`.
    pub memory_swap: Option<Swap>,
    /// `--cpus`, in billionths of a CPU.
    pub cpus: Option<u64>,
    /// `--cpu-shares` (v1 units: 1024 is the default share).
    pub cpu_shares: Option<u64>,
    /// `--cpuset-cpus` (`0-1`), `--cpuset-mems` (`0`).
    pub cpuset_cpus: Option<String>,
    pub cpuset_mems: Option<String>,
    /// `--pids-limit`; zero or negative means unlimited, as in Docker.
    pub pids_limit: Option<i64>,
    /// `--device-read-bps`, `--device-write-bps`.
    pub device_read_bps: Vec<DeviceRate>,
    pub device_write_bps: Vec<DeviceRate>,
    /// `--blkio-weight`, 10 to 1000.
    pub blkio_weight: Option<u16>,
}

impl Limits {
    /// True when no limit was asked for.
    pub fn is_empty(&self) -> bool {
        *self == Limits::default()
    }

    // ANCHOR: validate
    /// Checks what no single flag can check alone, before anything is created.
    pub fn validate(&self, online_cpus: u64) -> Result<(), Error> {
        if let Some(memory) = self.memory
            && memory < MIN_MEMORY
        {
            return Err(Error::invalid(format!(
                "memory limit {} is too small: the minimum is {}",
                format_size(memory),
                format_size(MIN_MEMORY)
            )));
        }
        if let Some(Swap::Total(total)) = self.memory_swap {
            let Some(memory) = self.memory else {
                return Err(Error::invalid(
                    "--memory-swap needs --memory: it is the total of memory and swap",
                ));
            };
            if total < memory {
                return Err(Error::invalid(format!(
                    "--memory-swap ({}) must be at least --memory ({}): it is the total of memory and swap",
                    format_size(total),
                    format_size(memory)
                )));
            }
        }
        if let Some(cpus) = self.cpus {
            let max = online_cpus * NANOS_PER_CPU;
            if cpus < NANOS_PER_CPU / 100 || cpus > max {
                return Err(Error::invalid(format!(
                    "--cpus must be between 0.01 and {online_cpus} (this host has {online_cpus} CPUs)"
                )));
            }
        }
        if let Some(weight) = self.blkio_weight
            && !(10..=1000).contains(&weight)
        {
            return Err(Error::invalid(format!(
                "--blkio-weight {weight} is out of range: use 10 to 1000"
            )));
        }
        Ok(())
    }
    // ANCHOR_END: validate
}

// ANCHOR: memory
impl Cgroup {
    /// `--memory`: above this, the kernel reclaims, then OOM-kills.
    pub fn set_memory_max(&self, bytes: u64) -> Result<(), Error> {
        if self.is_v2() {
            self.write("memory", "memory.max", bytes)
        } else {
            self.write("memory", "memory.limit_in_bytes", bytes)
        }
    }

    /// `--memory-swap`: v1 limits memory+swap together (`memsw`), v2
    /// limits swap alone, so v2 gets the difference.
    pub fn set_memory_swap(&self, memory: u64, swap: Swap) -> Result<(), Error> {
        match (self.is_v2(), swap) {
            (true, Swap::Unlimited) => self.write("memory", "memory.swap.max", "max"),
            (true, Swap::Total(total)) => {
                self.write("memory", "memory.swap.max", total.saturating_sub(memory))
            }
            (false, Swap::Unlimited) => self.write("memory", "memory.memsw.limit_in_bytes", -1),
            (false, Swap::Total(total)) => {
                self.write("memory", "memory.memsw.limit_in_bytes", total)
            }
        }
    }

    /// Whether this kernel accounts swap per cgroup (Debian needs
    /// `swapaccount=1` on v1; v2 has it when swap support is built in).
    pub fn supports_swap_limit(&self) -> bool {
        if self.is_v2() {
            self.has_file("memory", "memory.swap.max")
        } else {
            self.has_file("memory", "memory.memsw.limit_in_bytes")
        }
    }
}
// ANCHOR_END: memory

// ANCHOR: cpu
impl Cgroup {
    /// `--cpus 1.5`: at most 150 ms of CPU time in every 100 ms period.
    pub fn set_cpus(&self, nanos: u64) -> Result<(), Error> {
        let quota = nanos * CPU_PERIOD_US / NANOS_PER_CPU;
        if self.is_v2() {
            self.write("cpu", "cpu.max", format!("{quota} {CPU_PERIOD_US}"))
        } else {
            self.write("cpu", "cpu.cfs_period_us", CPU_PERIOD_US)?;
            self.write("cpu", "cpu.cfs_quota_us", quota)
        }
    }

    /// `--cpu-shares`: a relative weight, used only when CPUs are contended.
    pub fn set_cpu_shares(&self, shares: u64) -> Result<(), Error> {
        if self.is_v2() {
            self.write("cpu", "cpu.weight", shares_to_weight(shares))
        } else {
            self.write("cpu", "cpu.shares", shares)
        }
    }
}

/// v1 shares (2..262144, default 1024) to v2 weight (1..10000, default
/// 100), with the linear mapping runc has long used for Docker.
pub fn shares_to_weight(shares: u64) -> u64 {
    let shares = shares.clamp(2, 262_144);
    1 + (shares - 2) * 9_999 / 262_142
}
// ANCHOR_END: cpu

// ANCHOR: cpuset_pids
impl Cgroup {
    /// `--cpuset-cpus 0-1`: the CPUs the container may run on.
    pub fn set_cpuset_cpus(&self, cpus: &str) -> Result<(), Error> {
        self.write("cpuset", "cpuset.cpus", cpus)
            .map_err(|e| self.not_available("CPUs", cpus, "/sys/devices/system/cpu/online", e))
    }

    /// `--cpuset-mems 0`: the NUMA memory nodes it may allocate from.
    pub fn set_cpuset_mems(&self, mems: &str) -> Result<(), Error> {
        self.write("cpuset", "cpuset.mems", mems).map_err(|e| {
            self.not_available("memory nodes", mems, "/sys/devices/system/node/online", e)
        })
    }

    /// `--pids-limit`: at most this many processes and threads; `None` for no limit.
    pub fn set_pids_max(&self, max: Option<u64>) -> Result<(), Error> {
        match max {
            Some(max) => self.write("pids", "pids.max", max),
            None => self.write("pids", "pids.max", "max"),
        }
    }
}
// ANCHOR_END: cpuset_pids

impl Cgroup {
    /// A clearer error for a cpuset the host does not have.
    fn not_available(&self, what: &str, asked: &str, online: &str, error: Error) -> Error {
        // EINVAL: not in the parent's set; ERANGE: beyond the kernel's CPU ids.
        let refused = error.message.ends_with("Invalid argument")
            || error.message.ends_with("Math result not representable");
        match std::fs::read_to_string(online) {
            Ok(have) if refused => Error::invalid(format!(
                "{what} {asked} are not available: this host has {what} {}",
                have.trim()
            )),
            _ => error,
        }
    }
}

// ANCHOR: io
impl Cgroup {
    /// `--device-read-bps /dev/vda:1mb`.
    pub fn set_device_read_bps(&self, rate: &DeviceRate) -> Result<(), Error> {
        if self.is_v2() {
            let line = format!("{} rbps={}", rate.device(), rate.bytes_per_second);
            self.write("io", "io.max", line)
        } else {
            let line = format!("{} {}", rate.device(), rate.bytes_per_second);
            self.write("blkio", "blkio.throttle.read_bps_device", line)
        }
    }

    /// `--device-write-bps /dev/vda:1mb`.
    pub fn set_device_write_bps(&self, rate: &DeviceRate) -> Result<(), Error> {
        if self.is_v2() {
            let line = format!("{} wbps={}", rate.device(), rate.bytes_per_second);
            self.write("io", "io.max", line)
        } else {
            let line = format!("{} {}", rate.device(), rate.bytes_per_second);
            self.write("blkio", "blkio.throttle.write_bps_device", line)
        }
    }

    /// `--blkio-weight 500`: a relative share of disk time. Only the BFQ
    /// scheduler (and v2's io.cost) implement weights; returns `false` when
    /// this kernel has neither file, as Docker then discards the weight.
    pub fn set_blkio_weight(&self, weight: u16) -> Result<bool, Error> {
        let candidates = if self.is_v2() {
            [
                ("io.bfq.weight", weight.to_string()),
                (
                    "io.weight",
                    format!("default {}", blkio_to_io_weight(weight)),
                ),
            ]
        } else {
            [
                ("blkio.weight", weight.to_string()),
                ("blkio.bfq.weight", weight.to_string()),
            ]
        };
        let controller = if self.is_v2() { "io" } else { "blkio" };
        for (file, value) in &candidates {
            if self.has_file(controller, file) {
                self.write(controller, file, value)?;
                return Ok(true);
            }
        }
        Ok(false)
    }
}

/// v1 blkio weight (10..1000) to v2 io.weight (1..10000).
pub fn blkio_to_io_weight(weight: u16) -> u64 {
    1 + (weight.clamp(10, 1000) as u64 - 10) * 9_999 / 990
}
// ANCHOR_END: io

// ANCHOR: apply
impl Cgroup {
    /// Writes every limit in `limits`; returns warnings for the ones this
    /// kernel cannot enforce (Docker's behaviour: say so, carry on).
    pub fn apply(&self, limits: &Limits) -> Result<Vec<String>, Error> {
        let mut warnings = Vec::new();
        if let Some(memory) = limits.memory {
            self.set_memory_max(memory)?;
            // Docker's default: as much swap as memory (total = 2 x memory).
            let swap = limits
                .memory_swap
                .unwrap_or(Swap::Total(memory.saturating_mul(2)));
            if self.supports_swap_limit() {
                self.set_memory_swap(memory, swap)?;
            } else if limits.memory_swap.is_some() {
                warnings.push(
                    "this kernel does not limit swap per cgroup: memory limited without swap limit"
                        .to_string(),
                );
            }
        }
        if let Some(cpus) = limits.cpus {
            self.set_cpus(cpus)?;
        }
        if let Some(shares) = limits.cpu_shares {
            self.set_cpu_shares(shares)?;
        }
        if let Some(cpus) = &limits.cpuset_cpus {
            self.set_cpuset_cpus(cpus)?;
        }
        if let Some(mems) = &limits.cpuset_mems {
            self.set_cpuset_mems(mems)?;
        }
        if let Some(pids) = limits.pids_limit {
            self.set_pids_max(u64::try_from(pids).ok().filter(|p| *p > 0))?;
        }
        for rate in &limits.device_read_bps {
            self.set_device_read_bps(rate)?;
        }
        for rate in &limits.device_write_bps {
            self.set_device_write_bps(rate)?;
        }
        if let Some(weight) = limits.blkio_weight
            && !self.set_blkio_weight(weight)?
        {
            warnings.push(
                "this kernel does not support block I/O weights (no BFQ scheduler): weight discarded"
                    .to_string(),
            );
        }
        Ok(warnings)
    }
}
// ANCHOR_END: apply

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_map_to_weights() {
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(262_144), 10_000);
        assert_eq!(shares_to_weight(0), 1);
    }

    #[test]
    fn blkio_weights_map_to_io_weights() {
        assert_eq!(blkio_to_io_weight(10), 1);
        assert_eq!(blkio_to_io_weight(1000), 10_000);
        assert_eq!(blkio_to_io_weight(500), 4950);
    }

    #[test]
    fn validation_happens_before_anything_is_created() {
        let ok = Limits {
            memory: Some(64 << 20),
            memory_swap: Some(Swap::Total(128 << 20)),
            cpus: Some(1_500_000_000),
            ..Limits::default()
        };
        assert!(ok.validate(2).is_ok());
        let err = |l: Limits| l.validate(2).unwrap_err().message;
        assert_eq!(
            err(Limits {
                memory: Some(1 << 20),
                ..Limits::default()
            }),
            "memory limit 1 MiB is too small: the minimum is 6 MiB"
        );
        assert!(
            err(Limits {
                memory_swap: Some(Swap::Total(1 << 30)),
                ..Limits::default()
            })
            .contains("needs --memory")
        );
        assert!(
            err(Limits {
                memory: Some(64 << 20),
                memory_swap: Some(Swap::Total(32 << 20)),
                ..Limits::default()
            })
            .contains("must be at least")
        );
        assert_eq!(
            err(Limits {
                cpus: Some(3_000_000_000),
                ..Limits::default()
            }),
            "--cpus must be between 0.01 and 2 (this host has 2 CPUs)"
        );
        assert!(
            err(Limits {
                blkio_weight: Some(5),
                ..Limits::default()
            })
            .contains("10 to 1000")
        );
        assert_eq!(
            Limits {
                memory_swap: Some(Swap::Unlimited),
                memory: Some(64 << 20),
                ..Limits::default()
            }
            .validate(2),
            Ok(())
        );
    }
}
