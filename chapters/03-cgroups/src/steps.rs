//! Chapter 3's two steps in chapter 2's start sequence.
//!
//! Parent side, `cgroup`: the child waits on the sync channel while the
//! parent writes its pid into the container's cgroup, so the container's
//! first instruction already runs under its limits, and so does every
//! process it forks. Child side, `mount-cgroup`: the container's own cgroup
//! directories, read-only, at `/sys/fs/cgroup`, so it can read its limits
//! and usage, and nothing of the host's tree.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ch02_namespaces::mounts::ensure_dir;
use ch02_namespaces::{ChildContext, ChildStep, ParentContext, ParentStep};
use nix::mount::{MsFlags, mount};

use crate::Error;
use crate::cgroup::Cgroup;
use crate::layout::Version;

// ANCHOR: join_cgroup
/// Parent step: moves the waiting child into the container's cgroup.
pub struct JoinCgroup {
    cgroup: Arc<Cgroup>,
}

impl JoinCgroup {
    pub fn new(cgroup: Arc<Cgroup>) -> JoinCgroup {
        JoinCgroup { cgroup }
    }
}

impl ParentStep for JoinCgroup {
    fn name(&self) -> &str {
        "cgroup"
    }

    fn run(&mut self, ctx: &ParentContext) -> Result<(), Error> {
        self.cgroup.add_process(ctx.child)
    }
    // No teardown: the run reads the cgroup's accounting after the child
    // is gone, then removes it (and `Cgroup`'s drop removes it on any
    // other path out).
}

/// Adds this chapter's two steps for `cgroup` to `sequence`: the join
/// before any other parent step (as runc does: everything after is
/// accounted), the read-only cgroupfs after `/sys` is mounted.
pub fn add_cgroup_steps(sequence: &mut ch02_namespaces::StartSequence, cgroup: &Arc<Cgroup>) {
    let join = Box::new(JoinCgroup::new(cgroup.clone()));
    match sequence.parent_names().first() {
        Some(first) => {
            let first = first.clone();
            sequence.parent_step_before(&first, join)
        }
        None => sequence.parent_step(join),
    };
    sequence.child_step_after("mount-sys", Box::new(MountCgroupfs::new(cgroup)));
}
// ANCHOR_END: join_cgroup

/// What the child mounts: one host directory per hierarchy, by name.
#[derive(Debug, Clone)]
pub struct MountCgroupfs {
    /// Pure v2: one directory mounted at `/sys/fs/cgroup` itself.
    unified_only: bool,
    /// `(memory, /sys/fs/cgroup/memory/berth/4f2a)`, ... (one, unnamed, on v2).
    dirs: Vec<(String, PathBuf)>,
}

impl MountCgroupfs {
    /// The mounts for `cgroup`, named as the host names its hierarchies.
    pub fn new(cgroup: &Cgroup) -> MountCgroupfs {
        let dirs = cgroup
            .dirs()
            .iter()
            .map(|(h, dir)| {
                let name = h
                    .mountpoint
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                (name, dir.clone())
            })
            .collect();
        MountCgroupfs {
            unified_only: cgroup.layout().version == Version::V2,
            dirs,
        }
    }
}

// ANCHOR: mount_cgroupfs
impl ChildStep for MountCgroupfs {
    fn name(&self) -> &str {
        "mount-cgroup"
    }

    fn run(&mut self, ctx: &mut ChildContext) -> Result<(), Error> {
        let target = ctx.path("/sys/fs/cgroup");
        if self.unified_only {
            // v2: the container's one directory is its whole cgroup tree.
            return bind_read_only(&self.dirs[0].1, &target);
        }
        // v1 and hybrid: a small tmpfs holding one directory per hierarchy,
        // each the container's own cgroup in that hierarchy, as the host
        // lays them out (`memory/`, `cpu/`, ..., `unified/`).
        let tmpfs_flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
        ensure_dir(&target)?;
        mount(
            Some("tmpfs"),
            &target,
            Some("tmpfs"),
            tmpfs_flags,
            Some("mode=755"),
        )
        .map_err(|e| {
            Error::engine(format!(
                "mounting tmpfs on {}: {}",
                target.display(),
                e.desc()
            ))
        })?;
        for (name, dir) in &self.dirs {
            let at = target.join(name);
            ensure_dir(&at)?;
            bind_read_only(dir, &at)?;
        }
        mount(
            None::<&str>,
            &target,
            None::<&str>,
            tmpfs_flags | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY,
            None::<&str>,
        )
        .map_err(|e| {
            Error::engine(format!(
                "making {} read-only: {}",
                target.display(),
                e.desc()
            ))
        })
    }
}

/// Bind-mounts `source` on `target`, then makes that mount read-only (a
/// bind mount takes its flags only from a second, remounting call).
fn bind_read_only(source: &Path, target: &Path) -> Result<(), Error> {
    let fail = |what: &str, e: nix::Error| {
        Error::engine(format!(
            "{what} {} on {}: {}",
            source.display(),
            target.display(),
            e.desc()
        ))
    };
    mount(
        Some(source),
        target,
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .map_err(|e| fail("bind-mounting", e))?;
    let read_only = MsFlags::MS_BIND
        | MsFlags::MS_REMOUNT
        | MsFlags::MS_RDONLY
        | MsFlags::MS_NOSUID
        | MsFlags::MS_NODEV
        | MsFlags::MS_NOEXEC;
    mount(None::<&str>, target, None::<&str>, read_only, None::<&str>)
        .map_err(|e| fail("making read-only", e))
}
// ANCHOR_END: mount_cgroupfs
