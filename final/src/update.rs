//! `update`: change a container's resource limits. A running container's
//! cgroup (chapter 3's `Cgroup::open` and its limit setters) changes at
//! once; the record changes too, its `HostConfig` and the stored options
//! the monitor parses again at every start, so the new limits stay.

use ch03_cgroups::cgroup::Cgroup;
use ch03_cgroups::limits::Swap;
use ch03_cgroups::units::{parse_cpus, parse_size};
use ch03_cgroups::{Limits, run::online_cpus};
use clap::Args;

use crate::context::Engine;
use crate::lookup::find;
use crate::record;
use crate::{Error, Result};

#[derive(Args)]
pub struct UpdateArgs {
    /// Memory limit (e.g. 64m, 1g).
    #[arg(short, long, value_name = "BYTES", value_parser = parse_size)]
    pub memory: Option<u64>,
    /// Number of CPUs (e.g. 1.5).
    #[arg(long, value_name = "CPUS", value_parser = parse_cpus)]
    pub cpus: Option<u64>,
    /// Maximum number of processes (0 or -1: unlimited).
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

pub fn update(engine: &Engine, args: &UpdateArgs, key: &str) -> Result<String> {
    if args.memory.is_none() && args.cpus.is_none() && args.pids_limit.is_none() {
        return Err(Error::invalid(
            "update needs at least one of --memory, --cpus, --pids-limit",
        ));
    }
    let limits = Limits {
        memory: args.memory,
        cpus: args.cpus,
        pids_limit: args.pids_limit,
        ..Limits::default()
    };
    limits.validate(online_cpus())?;
    let found = find(engine, key)?;
    let stored = found.record.options()?;
    let swap = stored.create.image.limits.memory_swap;
    if let (Some(memory), Some(Swap::Total(total))) = (args.memory, swap)
        && total < memory
    {
        return Err(Error::invalid(format!(
            "--memory {} is above the container's --memory-swap {}: the swap limit is the total of memory and swap",
            ch03_cgroups::units::format_size(memory),
            ch03_cgroups::units::format_size(total)
        )));
    }
    // The command after the image is the container's own: left alone.
    let trailing = stored.create.image.image_and_command.len();
    let mut new_args = found.record.args.clone();
    if let Some(memory) = args.memory {
        let options = new_args.len() - trailing;
        set_option(
            &mut new_args,
            options,
            "--memory",
            Some('m'),
            &memory.to_string(),
        );
    }
    if let Some(cpus) = args.cpus {
        let options = new_args.len() - trailing;
        let text = format!("{}", cpus as f64 / 1e9);
        set_option(&mut new_args, options, "--cpus", None, &text);
    }
    if let Some(pids) = args.pids_limit {
        let options = new_args.len() - trailing;
        set_option(
            &mut new_args,
            options,
            "--pids-limit",
            None,
            &pids.to_string(),
        );
    }
    if found.record.is_active() {
        let cgroup = Cgroup::of_container(&found.record.id)?;
        apply(&cgroup, &limits, swap)?;
    }
    record::update(found.dir(), |r| {
        r.args = new_args;
        if let Some(m) = args.memory {
            r.host.memory = m;
        }
        if let Some(c) = args.cpus {
            r.host.nano_cpus = c;
        }
        if let Some(p) = args.pids_limit {
            r.host.pids_limit = p;
        }
    })?;
    Ok(key.to_string())
}

/// Writes the new limits into a live cgroup. Memory and its swap total
/// move together (Docker's default total: twice the memory); on v1 the
/// kernel refuses memory above memory+swap, so the order depends on the
/// direction.
fn apply(cgroup: &Cgroup, limits: &Limits, swap: Option<Swap>) -> Result<()> {
    if let Some(memory) = limits.memory {
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
    if let Some(cpus) = limits.cpus {
        cgroup.set_cpus(cpus)?;
    }
    if let Some(pids) = limits.pids_limit {
        cgroup.set_pids_max(u64::try_from(pids).ok().filter(|p| *p > 0))?;
    }
    Ok(())
}

/// Replaces `--long VALUE`, `--long=VALUE`, `-s VALUE` and `-sVALUE`
/// among the first `options` words with `--long=value` (only options:
/// the command after the image is the container's own).
fn set_option(
    args: &mut Vec<String>,
    options: usize,
    long: &str,
    short: Option<char>,
    value: &str,
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
    args.insert(0, format!("{long}={value}"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_replaced_before_the_image_only() {
        let mut args: Vec<String> = ["-m", "64m", "--name", "x", "img", "sh", "-m", "1"]
            .map(String::from)
            .to_vec();
        set_option(&mut args, 5, "--memory", Some('m'), "100");
        assert_eq!(
            args,
            ["--memory=100", "--name", "x", "img", "sh", "-m", "1"]
        );
        let mut args: Vec<String> = ["--memory=1g", "-m2g", "img"].map(String::from).to_vec();
        set_option(&mut args, 2, "--memory", Some('m'), "5");
        assert_eq!(args, ["--memory=5", "img"]);
    }
}
