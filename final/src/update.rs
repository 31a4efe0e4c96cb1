//! `update`: change a container's resource limits. A running container's
//! cgroup (chapter 3's `Cgroup::open` and its limit setters) changes at
//! once; the record changes too, its `HostConfig` and the stored options
//! the monitor parses again at every start, so the new limits stay.
//! `--restart` changes the policy the monitor applies at the next exit.

use ch03_cgroups::cgroup::Cgroup;
use ch03_cgroups::limits::Swap;
use ch03_cgroups::options::LimitArgs;
use ch03_cgroups::{Limits, run::online_cpus};
use clap::Args;

use crate::cli::parse_restart;
use crate::context::Engine;
use crate::lookup::find;
use crate::record;
use crate::restart::RestartPolicy;
use crate::{Error, Result};

#[derive(Args)]
pub struct UpdateArgs {
    /// Chapter 3's limits, as `run` takes them.
    #[command(flatten)]
    pub limits: LimitArgs,
    /// Restart policy: no, on-failure[:N], always, unless-stopped.
    #[arg(long, value_name = "POLICY", value_parser = parse_restart)]
    pub restart: Option<RestartPolicy>,
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

impl UpdateArgs {
    /// The options to store, as `run` would read them: (long, short,
    /// values); every earlier occurrence of the option goes.
    fn stored(&self) -> Vec<(&'static str, Option<char>, Vec<String>)> {
        let l = &self.limits;
        let one = |v: Option<String>| v.into_iter().collect::<Vec<_>>();
        let rates = |r: &[ch03_cgroups::device::DeviceRate]| {
            r.iter()
                .map(|r| format!("{}:{}", r.path.display(), r.bytes_per_second))
                .collect::<Vec<_>>()
        };
        vec![
            ("--memory", Some('m'), one(l.memory.map(|m| m.to_string()))),
            (
                "--memory-swap",
                None,
                one(l.memory_swap.map(|s| match s {
                    Swap::Total(bytes) => bytes.to_string(),
                    Swap::Unlimited => "-1".to_string(),
                })),
            ),
            (
                "--cpus",
                None,
                one(l.cpus.map(|c| format!("{}", c as f64 / 1e9))),
            ),
            (
                "--cpu-shares",
                Some('c'),
                one(l.cpu_shares.map(|c| c.to_string())),
            ),
            ("--cpuset-cpus", None, one(l.cpuset_cpus.clone())),
            ("--cpuset-mems", None, one(l.cpuset_mems.clone())),
            (
                "--pids-limit",
                None,
                one(l.pids_limit.map(|p| p.to_string())),
            ),
            ("--device-read-bps", None, rates(&l.device_read_bps)),
            ("--device-write-bps", None, rates(&l.device_write_bps)),
            (
                "--blkio-weight",
                None,
                one(l.blkio_weight.map(|w| w.to_string())),
            ),
            ("--restart", None, one(self.restart.map(|r| r.to_string()))),
        ]
        .into_iter()
        .filter(|(_, _, values)| !values.is_empty())
        .collect()
    }
}

pub fn update(engine: &Engine, args: &UpdateArgs, key: &str) -> Result<String> {
    let limits = args.limits.limits();
    if limits.is_empty() && args.restart.is_none() {
        return Err(Error::invalid(
            "update needs at least one option: a limit (--memory, --cpus, --pids-limit, ...) or --restart",
        ));
    }
    limits.validate(online_cpus())?;
    let found = find(engine, key)?;
    if args.restart.is_some() && found.record.host.auto_remove {
        return Err(Error::conflict(format!(
            "container {key} was started with --rm: it cannot have a restart policy"
        )));
    }
    let stored = found.record.options()?;
    // The swap total the container will have: the new one, or its own.
    let swap = limits
        .memory_swap
        .or(stored.create.image.limits.memory_swap);
    let memory = limits.memory.or(stored.create.image.limits.memory);
    if let (Some(memory), Some(Swap::Total(total))) = (memory, swap)
        && total < memory
    {
        return Err(Error::invalid(format!(
            "--memory {} is above --memory-swap {}: the swap limit is the total of memory and swap",
            ch03_cgroups::units::format_size(memory),
            ch03_cgroups::units::format_size(total)
        )));
    }
    // The command after the image is the container's own: left alone.
    let trailing = stored.create.image.image_and_command.len();
    let mut new_args = found.record.args.clone();
    for (long, short, values) in args.stored() {
        let options = new_args.len() - trailing;
        set_option(&mut new_args, options, long, short, &values);
    }
    if found.record.is_active() {
        let cgroup = Cgroup::of_container(&found.record.id)?;
        apply(&cgroup, &limits, memory, swap)?;
    }
    record::update(found.dir(), |r| {
        r.args = new_args;
        if let Some(m) = limits.memory {
            r.host.memory = m;
        }
        if let Some(c) = limits.cpus {
            r.host.nano_cpus = c;
        }
        if let Some(p) = limits.pids_limit {
            r.host.pids_limit = p;
        }
        if let Some(policy) = args.restart {
            r.host.restart = policy;
        }
    })?;
    Ok(key.to_string())
}

/// Writes the new limits into a live cgroup. Memory and its swap total
/// move together (Docker's default total: twice the memory); on v1 the
/// kernel refuses memory above memory+swap, so the order depends on the
/// direction. The other limits are chapter 3's `apply`.
fn apply(cgroup: &Cgroup, limits: &Limits, memory: Option<u64>, swap: Option<Swap>) -> Result<()> {
    if limits.memory.is_some() || limits.memory_swap.is_some() {
        let Some(memory) = memory else {
            return Err(Error::invalid(
                "--memory-swap needs a memory limit: give --memory too",
            ));
        };
        let swap = swap.unwrap_or(Swap::Total(memory.saturating_mul(2)));
        if !cgroup.supports_swap_limit() {
            cgroup.set_memory_max(memory)?;
        } else if cgroup.set_memory_max(memory).is_ok() {
            cgroup.set_memory_swap(memory, swap)?;
        } else {
            cgroup.set_memory_swap(memory, swap)?;
            cgroup.set_memory_max(memory)?;
        }
    }
    let rest = Limits {
        memory: None,
        memory_swap: None,
        ..limits.clone()
    };
    for warning in cgroup.apply(&rest)? {
        ch01_chroot::events::warning(warning);
    }
    Ok(())
}

/// Replaces every `--long VALUE`, `--long=VALUE`, `-s VALUE` and `-sVALUE`
/// among the first `options` words with `--long=value` for each of
/// `values` (only options: the command after the image is the container's
/// own).
fn set_option(
    args: &mut Vec<String>,
    options: usize,
    long: &str,
    short: Option<char>,
    values: &[String],
) {
    let short = short.map(|c| format!("-{c}"));
    let mut i = 0;
    let mut end = options;
    while i < end {
        let word = args[i].as_str();
        let separate = word == long || Some(word) == short.as_deref();
        let joined = word.starts_with(&format!("{long}="))
            || short.as_deref().is_some_and(|s| {
                word.starts_with(s) && word.len() > s.len() && !word.starts_with("--")
            });
        if separate && i + 1 < end {
            args.drain(i..i + 2);
            end -= 2;
        } else if joined {
            args.remove(i);
            end -= 1;
        } else {
            i += 1;
        }
    }
    for value in values.iter().rev() {
        args.insert(0, format!("{long}={value}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_replaced_before_the_image_only() {
        let mut args: Vec<String> = ["-m", "64m", "--name", "x", "img", "sh", "-m", "1"]
            .map(String::from)
            .to_vec();
        set_option(&mut args, 5, "--memory", Some('m'), &["100".into()]);
        assert_eq!(
            args,
            ["--memory=100", "--name", "x", "img", "sh", "-m", "1"]
        );
        let mut args: Vec<String> = ["--memory=1g", "-m2g", "img"].map(String::from).to_vec();
        set_option(&mut args, 2, "--memory", Some('m'), &["5".into()]);
        assert_eq!(args, ["--memory=5", "img"]);
    }
}
