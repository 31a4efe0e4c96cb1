//! Joining a running container's cgroup: the cgroup half of `exec`.
//!
//! A process started inside a running container (chapter 2's
//! [`ch02_namespaces::join`]) must be counted and limited with the
//! container: the same memory, pids and CPU budget, frozen with it by
//! `pause`. `/proc/PID/cgroup` says where the container's first process
//! sits, one line per hierarchy (`4:memory:/berth/abc`, `0::/berth/abc`);
//! writing the new process's pid into `cgroup.procs` of the same
//! directory, in every hierarchy, moves it there. That works alike on v2,
//! v1 and hybrid hosts.

use std::path::PathBuf;

use nix::unistd::Pid;

use crate::Error;
use crate::cgroup::write_file;
use crate::layout::{Hierarchy, Layout};

// ANCHOR: join_cgroup_of
/// Moves `pid` into the cgroups `target` is in, in every hierarchy berth
/// uses on this host.
pub fn join_cgroup_of(target: Pid, pid: Pid) -> Result<(), Error> {
    let layout = Layout::detect()?;
    let membership = std::fs::read_to_string(format!("/proc/{target}/cgroup")).map_err(|_| {
        Error::not_found(format!(
            "no running process {target} (has the container exited?)"
        ))
    })?;
    for dir in cgroup_dirs(&layout, &membership)? {
        write_file(&dir.join("cgroup.procs"), &pid.to_string())?;
    }
    Ok(())
}
// ANCHOR_END: join_cgroup_of

/// The directory of each line of a `/proc/PID/cgroup`, in the hierarchy
/// of `layout` it belongs to. Named v1 hierarchies (`name=systemd`)
/// carry no controller and are left alone, as berth's own cgroups are.
pub fn cgroup_dirs(layout: &Layout, membership: &str) -> Result<Vec<PathBuf>, Error> {
    let mut dirs = Vec::new();
    for line in membership.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(id), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let hierarchy: Option<&Hierarchy> = if id == "0" && controllers.is_empty() {
            layout.unified.as_ref()
        } else {
            layout
                .v1
                .iter()
                .find(|h| controllers.split(',').any(|c| h.has(c)))
        };
        let Some(hierarchy) = hierarchy else {
            continue;
        };
        let dir = hierarchy.dir_of_path(path).ok_or_else(|| {
            Error::engine(format!(
                "cgroup {path} is outside {} (mounted from {})",
                hierarchy.mountpoint.display(),
                hierarchy.root.display()
            ))
        })?;
        dirs.push(dir);
    }
    Ok(dirs)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID_MOUNTS: &str = "\
30 25 0:26 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw
31 25 0:27 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
32 25 0:28 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct
33 25 0:29 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd
";

    #[test]
    fn every_hierarchy_of_a_hybrid_host() {
        let layout = Layout::parse(HYBRID_MOUNTS, "0::/\n4:memory:/\n").unwrap();
        let membership =
            "4:memory:/berth/abc\n3:cpu,cpuacct:/berth/abc\n1:name=systemd:/x\n0::/berth/abc\n";
        let dirs = cgroup_dirs(&layout, membership).unwrap();
        let dirs: Vec<_> = dirs.iter().map(|d| d.display().to_string()).collect();
        assert_eq!(
            dirs,
            [
                "/sys/fs/cgroup/memory/berth/abc",
                "/sys/fs/cgroup/cpu,cpuacct/berth/abc",
                "/sys/fs/cgroup/unified/berth/abc",
            ]
        );
    }

    #[test]
    fn a_mount_of_a_subtree() {
        let mounts = "30 25 0:26 /outer /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
        let layout = Layout::parse(mounts, "0::/outer\n").unwrap();
        let dirs = cgroup_dirs(&layout, "0::/outer/berth/abc\n").unwrap();
        assert_eq!(dirs, [PathBuf::from("/sys/fs/cgroup/berth/abc")]);
        let err = cgroup_dirs(&layout, "0::/elsewhere\n").unwrap_err();
        assert!(err.message.contains("outside"), "{}", err.message);
    }
}
