//! `run`: chapter 2's container, inside a cgroup with Docker's limits.
//!
//! Before the child is released: validate the limits, sweep what killed
//! runs left, create `berth/<id>` and write the limits, and add the parent
//! step that moves the child in. After it exits: the accounting (`--stats`),
//! the OOM report, and the removal of the cgroup, on every path.

use std::sync::Arc;
use std::time::Duration;

use ch01_chroot::cli::program;
use ch01_chroot::events;
use ch02_namespaces::spec::generate_id;
use ch02_namespaces::{Spec, StartSequence, start};

use crate::Error;
use crate::cgroup::{Cgroup, PARENT};
use crate::layout::Layout;
use crate::limits::Limits;
use crate::pause::PauseTimer;
use crate::stats::Stats;
use crate::steps::add_cgroup_steps;
use crate::sweep::sweep_stale;
use crate::units::format_size;

/// Exit code of a process killed by SIGKILL (the OOM killer's signal).
pub const KILLED: i32 = 128 + 9;

/// What chapter 3 adds to a run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunOptions {
    pub limits: Limits,
    /// Print the cgroup's accounting when the container exits.
    pub stats: bool,
    /// Freeze the container this long after it started...
    pub pause_after: Option<Duration>,
    /// ...and thaw it this long later.
    pub resume_after: Duration,
    /// The cgroup's name under `berth/`: the container's id when it has
    /// one (chapter 4 on), so that an engine finds it again; else a new id.
    pub name: Option<String>,
}

impl RunOptions {
    /// Nothing to apply: no limit, no pause, no accounting asked for.
    pub fn without_limits(&self) -> bool {
        RunOptions {
            name: None,
            ..self.clone()
        } == RunOptions::default()
    }
}

/// Runs `spec` in a new cgroup limited by `options`; returns the exit code.
pub fn run(spec: &Spec, options: &RunOptions) -> Result<i32, Error> {
    run_with(spec, options, StartSequence::standard())
}

// ANCHOR: run
/// [`run`] with a start sequence that later chapters have added steps to.
pub fn run_with(
    spec: &Spec,
    options: &RunOptions,
    mut sequence: StartSequence,
) -> Result<i32, Error> {
    options.limits.validate(online_cpus())?;
    let mut layout = Layout::detect()?;
    // Rootless: under a cgroup delegated to the user, if there is one.
    if in_user_namespace()
        && let Some(delegated) = Layout::detect_delegated()
    {
        layout = delegated;
    }
    // Best effort: a failed sweep must not stop this run.
    let _ = sweep_stale(&layout);
    let name = options.name.clone().unwrap_or_else(generate_id);
    let cgroup = match Cgroup::create_in(&layout, &format!("{PARENT}/{name}")) {
        Ok(cgroup) => Arc::new(cgroup),
        // A rootless engine (root of a user namespace of its own) may not
        // write the host's cgroup tree: without limits to apply, the
        // container stays in the engine's cgroup, as podman's does.
        Err(_) if in_user_namespace() && options.without_limits() => {
            return start(spec, sequence)?.wait();
        }
        Err(e) => return Err(e),
    };
    for warning in cgroup.apply(&options.limits)? {
        events::warning(format!("{}: warning: {warning}", program()));
    }
    // The child joins its cgroup first. (Until it joins, the cgroup is
    // empty; the owner lock `cgroup` holds keeps concurrent sweeps off it.)
    add_cgroup_steps(&mut sequence, &cgroup);
    // On error, `cgroup` is dropped on the way out, which removes it.
    let container = start(spec, sequence)?;
    let timer = options
        .pause_after
        .map(|after| PauseTimer::start(cgroup.clone(), after, options.resume_after));
    let code = container.wait()?;
    drop(timer);
    let stats = cgroup.stats();
    let rendered = stats.render();
    if options.stats && !rendered.is_empty() {
        events::notice(rendered.trim_end_matches('\n'));
    }
    if let Some(report) = oom_report(&stats, options.limits.memory, code) {
        events::notice(format!("{}: {report}", program()));
    }
    if let Ok(cgroup) = Arc::try_unwrap(cgroup)
        && let Err(e) = cgroup.remove()
    {
        events::warning(format!("{}: warning: {e}", program()));
    }
    Ok(code)
}
// ANCHOR_END: run

// ANCHOR: oom_report
/// What to tell the user when the kernel's OOM killer struck in the container.
pub fn oom_report(stats: &Stats, memory: Option<u64>, code: i32) -> Option<String> {
    if stats.oom_kills == 0 {
        return None;
    }
    let limit = memory.map_or("no limit: the host ran out".to_string(), |m| {
        format!("limit {}", format_size(m))
    });
    Some(if code == KILLED {
        format!("container killed: out of memory ({limit})")
    } else {
        format!("a process of the container was killed: out of memory ({limit})")
    })
}
// ANCHOR_END: oom_report

/// Whether this process runs in a user namespace other than the host's
/// (whose map is the identity of every id).
fn in_user_namespace() -> bool {
    std::fs::read_to_string("/proc/self/uid_map")
        .is_ok_and(|m| m.split_whitespace().collect::<Vec<_>>() != ["0", "0", "4294967295"])
}

/// CPUs online, the ceiling for `--cpus`.
pub fn online_cpus() -> u64 {
    // SAFETY: sysconf has no side effects.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    u64::try_from(n).unwrap_or(1).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oom_reports() {
        let oom = Stats {
            oom_kills: 1,
            ..Stats::default()
        };
        assert_eq!(
            oom_report(&oom, Some(32 << 20), 137).as_deref(),
            Some("container killed: out of memory (limit 32 MiB)")
        );
        assert_eq!(
            oom_report(&oom, Some(32 << 20), 1).as_deref(),
            Some("a process of the container was killed: out of memory (limit 32 MiB)")
        );
        assert_eq!(oom_report(&Stats::default(), Some(1 << 30), 137), None);
    }
}
