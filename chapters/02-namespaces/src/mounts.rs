//! The mounts of the child's private mount namespace: propagation, the
//! rootfs bind mount, `/proc` and `/sys`.
//!
//! All of them are made *before* `pivot_root`, under the rootfs path, as
//! runc does: in a user namespace the kernel lets a process mount `proc` or
//! `sysfs` only while a fully visible instance is mounted in its mount
//! namespace, and the host's disappear with the old root.

use std::path::Path;

use nix::mount::{MsFlags, mount};

use crate::Error;

// ANCHOR: make_private
/// Stops mount events from crossing between the host and the container.
///
/// A new mount namespace starts as a copy of its parent's, and on systemd
/// hosts `/` is a *shared* mount: every mount below a shared mount is
/// propagated to its peers, in both directions. Without this, the `/proc`
/// mounted for the container would appear on the host, and `pivot_root`
/// refuses to work on a shared mount at all (`EINVAL`).
pub fn make_private() -> Result<(), Error> {
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(|e| Error::engine(e.desc()))
}
// ANCHOR_END: make_private

// ANCHOR: bind_rootfs
/// Bind-mounts the rootfs onto itself: `pivot_root` needs a mount point,
/// and any directory becomes one this way.
pub fn bind_rootfs(rootfs: &Path) -> Result<(), Error> {
    mount(
        Some(rootfs),
        rootfs,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(|e| Error::engine(format!("{}: {}", rootfs.display(), e.desc())))
}
// ANCHOR_END: bind_rootfs

/// Mounts a filesystem of type `fstype` on `target`, creating the directory
/// if the rootfs lacks it (an image need not ship `/proc`).
pub fn mount_fs(
    fstype: &str,
    target: &Path,
    flags: MsFlags,
    data: Option<&str>,
) -> Result<(), Error> {
    ensure_dir(target)?;
    mount(Some(fstype), target, Some(fstype), flags, data).map_err(|e| {
        Error::engine(format!(
            "mounting {fstype} on {}: {}",
            target.display(),
            e.desc()
        ))
    })
}

/// Creates `dir` (and its parents) unless it exists.
pub fn ensure_dir(dir: &Path) -> Result<(), Error> {
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::create_dir_all(dir).map_err(|e| {
        Error::engine(format!(
            "creating {}: {}",
            dir.display(),
            crate::io_reason(&e)
        ))
    })
}

/// The flags of every pseudo filesystem: no set-uid, no devices, no exec.
pub fn pseudo_fs() -> MsFlags {
    MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC
}

// ANCHOR: mount_proc
/// Mounts a `proc` of the child's pid namespace: a `proc` mount shows the
/// processes of the pid namespace of the process that mounts it.
pub fn mount_proc(target: &Path) -> Result<(), Error> {
    mount_fs("proc", target, pseudo_fs(), None)
}
// ANCHOR_END: mount_proc

/// Mounts `sysfs` read-only. `sysfs` shows the network devices of the
/// mounting process's network namespace; in a user namespace that shares
/// the host's network, the kernel refuses a new instance, so the host's
/// `/sys` is bind-mounted (read-only) instead, as runc does.
pub fn mount_sys(target: &Path) -> Result<(), Error> {
    let read_only = pseudo_fs() | MsFlags::MS_RDONLY;
    match mount_fs("sysfs", target, read_only, None) {
        Err(_) if std::path::Path::new("/sys").is_dir() => {
            let bind = MsFlags::MS_BIND | MsFlags::MS_REC;
            mount(Some("/sys"), target, None::<&str>, bind, None::<&str>)
                .and_then(|()| {
                    mount(
                        None::<&str>,
                        target,
                        None::<&str>,
                        bind | MsFlags::MS_REMOUNT | read_only,
                        None::<&str>,
                    )
                })
                .map_err(|e| {
                    Error::engine(format!(
                        "bind-mounting /sys on {}: {}",
                        target.display(),
                        e.desc()
                    ))
                })
        }
        other => other,
    }
}
