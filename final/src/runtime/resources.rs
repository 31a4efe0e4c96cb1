//! `linux.resources` through chapter 3: the container's cgroup, its
//! limits, and the steps that put the child in it before anything else.

use std::sync::Arc;

use ch01_chroot::events::warning;
use ch02_namespaces::StartSequence;
use ch03_cgroups::cgroup::{Cgroup, PARENT};
use ch03_cgroups::steps::add_cgroup_steps;
use ch03_cgroups::{Layout, Limits};
use oci_spec::runtime::Spec as Config;

use crate::Error;

/// The limits config.json asks for (memory, cpu and pids; blockIO is
/// warned about).
pub fn limits(config: &Config) -> Limits {
    let mut limits = Limits::default();
    let Some(resources) = config.linux().as_ref().and_then(|l| l.resources().clone()) else {
        return limits;
    };
    if let Some(memory) = resources.memory() {
        limits.memory = memory.limit().filter(|l| *l > 0).map(|l| l as u64);
        if memory.swap().is_some() || memory.reservation().is_some() {
            warning("linux.resources.memory: only limit is applied (swap and reservation are not)");
        }
    }
    if let Some(pids) = resources.pids() {
        limits.pids_limit = Some(pids.limit());
    }
    if let Some(cpu) = resources.cpu() {
        limits.cpu_shares = cpu.shares().filter(|s| *s > 0);
        if let (Some(quota), Some(period)) = (cpu.quota(), cpu.period())
            && quota > 0
            && period > 0
        {
            limits.cpus = Some(quota as u64 * 1_000_000_000 / period);
        }
        limits.cpuset_cpus = cpu.cpus().clone().filter(|c| !c.is_empty());
        limits.cpuset_mems = cpu.mems().clone().filter(|m| !m.is_empty());
    }
    if resources.block_io().is_some() {
        warning("linux.resources.blockIO is not applied yet");
    }
    limits
}

// ANCHOR: cgroup
/// Makes the container's cgroup `berth/rt-<id>` with `limits`, and adds
/// chapter 3's steps to `sequence`: the child joins first, and sees its
/// cgroup at /sys/fs/cgroup. Dropping the cgroup (or `remove`) undoes it.
pub fn cgroup_for(
    id: &str,
    limits: &Limits,
    sequence: &mut StartSequence,
) -> Result<Arc<Cgroup>, Error> {
    limits.validate(ch03_cgroups::run::online_cpus())?;
    let layout = Layout::detect()?;
    let cgroup = Arc::new(Cgroup::create_in(&layout, &cgroup_name(id))?);
    for text in cgroup.apply(limits)? {
        warning(text);
    }
    add_cgroup_steps(sequence, &cgroup);
    Ok(cgroup)
}
// ANCHOR_END: cgroup

/// The name of container `id`'s cgroup.
pub fn cgroup_name(id: &str) -> String {
    format!("{PARENT}/rt-{id}")
}

/// A handle on container `id`'s cgroup (created by `create`, removed by
/// `delete`).
pub fn open(id: &str) -> Result<Cgroup, Error> {
    Cgroup::open(&cgroup_name(id))
}

/// Removes the cgroup once the container is gone (its last holder).
pub fn remove(cgroup: Arc<Cgroup>) {
    if let Ok(cgroup) = Arc::try_unwrap(cgroup)
        && let Err(e) = cgroup.remove()
    {
        warning(e.message);
    }
}
