//! Rootless: an unprivileged user runs a container, as podman does.
//!
//! The engine first makes a user namespace of its own, in which the user
//! is root (uid and gid 0 map to the user's own ids, the only ones an
//! unprivileged process may map), with a mount namespace it owns. Inside,
//! everything a container needs that the kernel namespaces is allowed:
//! mounts of its own, a pid, uts, ipc and network namespace. What the
//! host owns stays the host's: the cgroup tree (limits only under a
//! cgroup delegated to the user, see chapter 3's `Layout::delegated`),
//! bridges and iptables (only `--network none` or `host`),
//! and device nodes (chapter 2 bind-mounts the host's). Storage lives
//! under the user's home, and layers are copied (`--storage vfs`): overlay
//! keeps its bookkeeping in `trusted.*` attributes, which a user namespace
//! may not write.

use std::path::PathBuf;

use ch02_namespaces::Spec;
use ch02_namespaces::idmap::IdMap;
use ch02_namespaces::namespaces::Namespace;
use nix::sched::{CloneFlags, unshare};
use nix::unistd::{getegid, geteuid};

use crate::{Error, Result};

/// Is the engine an unprivileged user on the host?
pub fn rootless() -> bool {
    !geteuid().is_root()
}

/// The state root when none is given: the system's for root, the user's
/// own otherwise (`$XDG_DATA_HOME/berth/ch07`, `~/.local/share/berth/ch07`).
pub fn default_root() -> PathBuf {
    if !rootless() {
        return PathBuf::from("/var/lib/berth/ch07");
    }
    let data = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .unwrap_or_else(|| PathBuf::from("/tmp"));
    data.join("berth/ch07")
}

// ANCHOR: enter
/// Makes the calling (single-threaded) process root of a new user
/// namespace with its own mount namespace: uid and gid 0 are the user's.
pub fn enter_user_namespace() -> Result<()> {
    let (uid, gid) = (geteuid(), getegid());
    unshare(CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNS).map_err(|e| {
        Error::engine(format!(
            "rootless: cannot create a user namespace ({}): is \
             /proc/sys/user/max_user_namespaces 0?",
            e.desc()
        ))
    })?;
    let write = |file: &str, text: String| {
        std::fs::write(format!("/proc/self/{file}"), text).map_err(|e| {
            Error::engine(format!(
                "rootless: writing /proc/self/{file}: {}",
                ch02_namespaces::io_reason(&e)
            ))
        })
    };
    // An unprivileged writer must give up setgroups before mapping gids.
    write("setgroups", "deny".into())?;
    write("uid_map", format!("0 {uid} 1\n"))?;
    write("gid_map", format!("0 {gid} 1\n"))
}
// ANCHOR_END: enter

/// Refuses, in one line, what a rootless engine cannot do.
pub fn check(network: &str, limits: bool) -> Result<()> {
    if limits && ch03_cgroups::layout::Layout::detect_delegated().is_none() {
        return Err(Error::engine(
            "rootless: resource limits need a cgroup delegated to you (a cgroup v2 \
             parent cgroup you own, as systemd's Delegate=yes makes), and there is \
             none: run without -m, --cpus, --pids-limit, ...",
        ));
    }
    if !matches!(network, "none" | "host") {
        return Err(Error::engine(format!(
            "rootless: --network {network} needs root (a bridge and iptables): \
             use --network none or host"
        )));
    }
    Ok(())
}

/// The container's own user namespace inside the engine's, mapping root
/// to root: chapter 2 then bind-mounts device nodes instead of making them.
pub fn adapt(spec: &mut Spec) {
    spec.namespaces.insert(Namespace::User);
    let root = IdMap {
        inside: 0,
        outside: 0,
        count: 1,
    };
    spec.uid_map = vec![root];
    spec.gid_map = vec![root];
}
