//! This chapter's steps of the start sequence, one small struct each.
//!
//! Every standard step is always in the sequence, so later chapters can
//! anchor their own steps to it; a step whose namespace is shared with the
//! host does nothing.

use nix::sched::unshare;
use nix::unistd::{Gid, Uid, setgroups, setresgid, setresuid};

use crate::Error;
use crate::namespaces::Namespace;
use crate::sequence::{ChildContext, ChildStep, ParentContext, ParentStep};
use crate::{dev, hostname, idmap, loopback, mounts, pivot, timens};

fn sys(what: &str) -> impl Fn(nix::Error) -> Error + '_ {
    move |e| Error::engine(format!("{what}: {}", e.desc()))
}

/// Parent: write the uid and gid maps of a new user namespace.
pub struct IdMaps;

impl ParentStep for IdMaps {
    fn name(&self) -> &str {
        "uid-gid-maps"
    }
    fn run(&mut self, ctx: &ParentContext) -> Result<(), Error> {
        if !ctx.spec.has(Namespace::User) {
            return Ok(());
        }
        idmap::write_id_maps(ctx.child, &ctx.spec.uid_map, &ctx.spec.gid_map)
    }
}

/// Child: become root of the new user namespace (uid and gid 0, no
/// supplementary groups from the host).
pub struct Identity;

impl ChildStep for Identity {
    fn name(&self) -> &str {
        "identity"
    }
    fn run(&mut self, ctx: &mut ChildContext) -> Result<(), Error> {
        if !ctx.spec.has(Namespace::User) {
            return Ok(());
        }
        // Refused (EPERM) only where the parent had to deny setgroups.
        match setgroups(&[]) {
            Ok(()) | Err(nix::Error::EPERM) => {}
            Err(e) => return Err(sys("setgroups")(e)),
        }
        let root = (Gid::from_raw(0), Uid::from_raw(0));
        setresgid(root.0, root.0, root.0).map_err(sys("setresgid 0"))?;
        setresuid(root.1, root.1, root.1).map_err(sys("setresuid 0"))?;
        // Changing credentials cleared the parent-death signal: set it again.
        ctx.spec.renew_death_signal()
    }
}

/// Child: a cgroup namespace rooted at the child's cgroup of this moment.
pub struct CgroupNamespace;

impl ChildStep for CgroupNamespace {
    fn name(&self) -> &str {
        "cgroup-namespace"
    }
    fn run(&mut self, ctx: &mut ChildContext) -> Result<(), Error> {
        if !ctx.spec.has(Namespace::Cgroup) {
            return Ok(());
        }
        unshare(Namespace::Cgroup.flag()).map_err(|e| Error::engine(e.desc()))
    }
}

/// Child: a time namespace with the requested clock offsets.
pub struct TimeNamespace;

impl ChildStep for TimeNamespace {
    fn name(&self) -> &str {
        "time-namespace"
    }
    fn run(&mut self, ctx: &mut ChildContext) -> Result<(), Error> {
        if !ctx.spec.has(Namespace::Time) {
            return Ok(());
        }
        timens::unshare_time(ctx.spec.time_offsets)
    }
}

/// Child: the hostname.
pub struct Hostname;

impl ChildStep for Hostname {
    fn name(&self) -> &str {
        "hostname"
    }
    fn run(&mut self, ctx: &mut ChildContext) -> Result<(), Error> {
        if !ctx.spec.has(Namespace::Uts) {
            return Ok(());
        }
        hostname::set_hostname(&ctx.spec.hostname)
    }
}

/// Child: `lo` up in a new network namespace.
pub struct Loopback;

impl ChildStep for Loopback {
    fn name(&self) -> &str {
        "loopback"
    }
    fn run(&mut self, ctx: &mut ChildContext) -> Result<(), Error> {
        if !ctx.spec.has(Namespace::Net) {
            return Ok(());
        }
        loopback::bring_up_loopback()
    }
}

/// Child: recursive private propagation on `/`.
pub struct MountPropagation;

impl ChildStep for MountPropagation {
    fn name(&self) -> &str {
        "mount-propagation"
    }
    fn run(&mut self, _ctx: &mut ChildContext) -> Result<(), Error> {
        mounts::make_private()
    }
}

/// Child: the rootfs bind-mounted onto itself.
pub struct BindRootfs;

impl ChildStep for BindRootfs {
    fn name(&self) -> &str {
        "bind-rootfs"
    }
    fn run(&mut self, ctx: &mut ChildContext) -> Result<(), Error> {
        mounts::bind_rootfs(&ctx.rootfs).map_err(|e| {
            if ctx.spec.has(Namespace::User) && e.message.ends_with("Permission denied") {
                // The container's root is an ordinary user on the host.
                let uid = ctx.spec.uid_map.iter().find_map(|m| m.to_host(0));
                let who = uid.map_or("its root".to_string(), |u| format!("host uid {u}"));
                Error::engine(format!(
                    "{} (with --userns the rootfs must be reachable by {who})",
                    e.message
                ))
            } else {
                e
            }
        })
    }
}

/// Child: `/proc` of the container's pid namespace.
pub struct MountProc;

impl ChildStep for MountProc {
    fn name(&self) -> &str {
        "mount-proc"
    }
    fn run(&mut self, ctx: &mut ChildContext) -> Result<(), Error> {
        mounts::mount_proc(&ctx.path("/proc"))
    }
}

/// Child: `/sys`, read-only.
pub struct MountSys;

impl ChildStep for MountSys {
    fn name(&self) -> &str {
        "mount-sys"
    }
    fn run(&mut self, ctx: &mut ChildContext) -> Result<(), Error> {
        mounts::mount_sys(&ctx.path("/sys"))
    }
}

/// Child: `/dev` with the default devices, ptys, shm, mqueue, console.
pub struct MountDev;

impl ChildStep for MountDev {
    fn name(&self) -> &str {
        "mount-dev"
    }
    fn run(&mut self, ctx: &mut ChildContext) -> Result<(), Error> {
        dev::mount_dev(&ctx.path("/dev"), ctx.spec.has(Namespace::User))
    }
}

/// Child: `pivot_root` into the rootfs and detach the host's root.
pub struct PivotRoot;

impl ChildStep for PivotRoot {
    fn name(&self) -> &str {
        "pivot_root"
    }
    fn run(&mut self, ctx: &mut ChildContext) -> Result<(), Error> {
        pivot::pivot_to(&ctx.rootfs)?;
        ctx.pivoted = true;
        Ok(())
    }
}
