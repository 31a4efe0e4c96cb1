//! Idmapped mounts: a directory seen through a user namespace's id map.
//!
//! A container with a user namespace of its own is root as an ordinary
//! host uid (100000, say). The image's files belong to host uid 0, so
//! through a plain mount it would see them owned by `nobody`. An idmapped
//! mount (Linux 5.12; as overlay's layers, 5.19) shows a directory with its
//! owners translated by a user namespace's map: a file of host uid 0 is
//! uid 100000 through it, and a file that uid 100000 creates through it is
//! written as 0. The layers on disk stay as they are, shared by every
//! container whatever its map.
//!
//! The kernel takes the map as a user namespace's file descriptor, so a
//! short-lived child makes one: it unshares, we write its maps and open
//! `/proc/CHILD/ns/user`, and it is gone. A filesystem that cannot be
//! idmapped (tmpfs before 6.3, ...) is reported by [`supported`]; the
//! store then copies the layers with shifted owners instead ([`shift`]).
//!
//! Only the read-only layers are idmapped. What the container writes goes
//! to overlay's upper directory with host ids (its root's, 100000): a
//! commit shifts them back.

use std::collections::HashSet;
use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt, lchown};
use std::path::{Path, PathBuf};

use ch02_namespaces::idmap::{IdMap, write_id_maps};
use nix::errno::Errno;
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::waitpid;
use nix::unistd::{ForkResult, Pid, fork, pipe};
use serde::{Deserialize, Serialize};

use crate::Error;

/// The id maps of a container's user namespace, as chapter 2 writes them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdMapping {
    pub uid: Vec<IdMap>,
    pub gid: Vec<IdMap>,
}

impl IdMapping {
    /// The maps of `spec`'s user namespace, if it has one of its own that
    /// moves ids (a rootless engine's container maps root to root: its
    /// files need nothing).
    pub fn of(spec: &ch02_namespaces::Spec) -> Option<IdMapping> {
        let moved = |maps: &[IdMap]| maps.iter().any(|m| m.inside != m.outside);
        (spec.has(ch02_namespaces::namespaces::Namespace::User)
            && (moved(&spec.uid_map) || moved(&spec.gid_map)))
        .then(|| IdMapping {
            uid: spec.uid_map.clone(),
            gid: spec.gid_map.clone(),
        })
    }

    /// The host uid and gid that `uid`, `gid` inside stand for (an id the
    /// maps leave out stays as it is: the container sees it as `nobody`).
    pub fn to_host(&self, uid: u32, gid: u32) -> (u32, u32) {
        let find = |maps: &[IdMap], id| maps.iter().find_map(|m| m.to_host(id)).unwrap_or(id);
        (find(&self.uid, uid), find(&self.gid, gid))
    }

    /// The reverse: the ids inside that host `uid`, `gid` are.
    pub fn to_container(&self, uid: u32, gid: u32) -> (u32, u32) {
        let find = |maps: &[IdMap], id: u32| {
            maps.iter()
                .find_map(|m| {
                    let offset = id.checked_sub(m.outside)?;
                    (offset < m.count).then(|| m.inside + offset)
                })
                .unwrap_or(id)
        };
        (find(&self.uid, uid), find(&self.gid, gid))
    }
}

/// A user namespace that only carries a map, for `mount_setattr`.
pub struct MapNamespace(OwnedFd);

// ANCHOR: map_namespace
impl MapNamespace {
    /// Makes a user namespace with `mapping`: a child unshares one and
    /// waits; we write its maps, keep a descriptor of it, and kill it.
    pub fn new(mapping: &IdMapping) -> Result<MapNamespace, Error> {
        let (ready_r, ready_w) = pipe().map_err(|e| engine("pipe", e))?;
        let parent = std::process::id() as libc::pid_t;
        // SAFETY: the child only calls async-signal-safe functions.
        let child = match unsafe { fork() }.map_err(|e| engine("fork", e))? {
            ForkResult::Child => unsafe {
                // Gone with us, even if we died before the prctl.
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                if libc::getppid() != parent {
                    libc::_exit(1);
                }
                let made = u8::from(libc::unshare(libc::CLONE_NEWUSER) == 0);
                libc::write(ready_w.as_raw_fd(), (&made as *const u8).cast(), 1);
                loop {
                    libc::pause();
                }
            },
            ForkResult::Parent { child } => child,
        };
        drop(ready_w);
        let result = Self::adopt(child, &ready_r, mapping);
        let _ = kill(child, Signal::SIGKILL);
        let _ = waitpid(child, None);
        result
    }

    fn adopt(child: Pid, ready: &OwnedFd, mapping: &IdMapping) -> Result<MapNamespace, Error> {
        let mut made = [0u8];
        let n = nix::unistd::read(ready, &mut made).map_err(|e| engine("reading", e))?;
        if n != 1 || made[0] != 1 {
            return Err(Error::engine(
                "cannot create a user namespace for the id map \
                 (is /proc/sys/user/max_user_namespaces 0?)",
            ));
        }
        write_id_maps(child, &mapping.uid, &mapping.gid)?;
        let path = format!("/proc/{child}/ns/user");
        let file = std::fs::File::open(&path)
            .map_err(|e| Error::engine(format!("opening {path}: {e}")))?;
        Ok(MapNamespace(OwnedFd::from(file)))
    }
}
// ANCHOR_END: map_namespace

/// `struct mount_attr` of `mount_setattr(2)`.
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

const MOUNT_ATTR_RDONLY: u64 = 0x1;
const MS_PRIVATE: u64 = 1 << 18;
const MOUNT_ATTR_IDMAP: u64 = 0x0010_0000;
const OPEN_TREE_CLONE: libc::c_uint = 1;
const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 4;

fn cpath(path: &Path) -> Result<CString, Errno> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| Errno::EINVAL)
}

// ANCHOR: idmapped_copy
/// A detached copy of the tree at `path` whose owners read through `ns`'s
/// map (and read-only if asked): `open_tree(OPEN_TREE_CLONE)`, then
/// `mount_setattr(MOUNT_ATTR_IDMAP)`. Nothing is attached yet.
pub fn idmapped_copy(path: &Path, ns: &MapNamespace, read_only: bool) -> Result<OwnedFd, Errno> {
    let path = cpath(path)?;
    // SAFETY: plain system calls on a valid C string and a struct we own.
    unsafe {
        let fd = libc::syscall(
            libc::SYS_open_tree,
            libc::AT_FDCWD,
            path.as_ptr(),
            OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint,
        );
        if fd < 0 {
            return Err(Errno::last());
        }
        let tree = OwnedFd::from_raw_fd(fd as i32);
        let mut attr = MountAttr {
            attr_set: MOUNT_ATTR_IDMAP | if read_only { MOUNT_ATTR_RDONLY } else { 0 },
            attr_clr: 0,
            // Private: a mount namespace copied from ours keeps its copy
            // when we detach this one.
            propagation: MS_PRIVATE,
            userns_fd: ns.0.as_raw_fd() as u64,
        };
        let empty = c"";
        let r = libc::syscall(
            libc::SYS_mount_setattr,
            tree.as_raw_fd(),
            empty.as_ptr(),
            libc::AT_EMPTY_PATH,
            &mut attr as *mut MountAttr,
            std::mem::size_of::<MountAttr>(),
        );
        if r < 0 {
            return Err(Errno::last());
        }
        Ok(tree)
    }
}
// ANCHOR_END: idmapped_copy

/// Attaches the detached mount `tree` at `target` (`move_mount(2)`).
pub fn attach(tree: &OwnedFd, target: &Path) -> Result<(), Errno> {
    let target = cpath(target)?;
    // SAFETY: plain system call on valid descriptors and strings.
    let r = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            tree.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_FDCWD,
            target.as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH,
        )
    };
    if r < 0 { Err(Errno::last()) } else { Ok(()) }
}

/// True when every directory of `paths` is on a filesystem that takes
/// idmapped mounts (tried: a copy is made and dropped unattached).
pub fn supported(paths: &[&Path], ns: &MapNamespace) -> bool {
    paths.iter().all(|p| idmapped_copy(p, ns, true).is_ok())
}

// ANCHOR: shift
/// Gives every file under `root` the owner `to` says for its owner. A
/// hard-linked file is changed once; `chown` clears set-id bits, so the
/// mode is set again after it. Used where the container's files are
/// copies: shifted to host ids (a vfs copy where idmapped mounts are
/// missing), or back to the container's (a commit of such a container's
/// changes).
pub fn shift(root: &Path, to: &dyn Fn(u32, u32) -> (u32, u32)) -> std::io::Result<()> {
    let mut seen = HashSet::new();
    shift_tree(root, to, &mut seen)
}

fn shift_tree(
    path: &Path,
    to: &dyn Fn(u32, u32) -> (u32, u32),
    seen: &mut HashSet<(u64, u64)>,
) -> std::io::Result<()> {
    let meta = std::fs::symlink_metadata(path)?;
    if seen.insert((meta.dev(), meta.ino())) {
        let (uid, gid) = to(meta.uid(), meta.gid());
        lchown(path, Some(uid), Some(gid))?;
        if !meta.file_type().is_symlink() && meta.mode() & 0o6000 != 0 {
            let mode = std::fs::Permissions::from_mode(meta.mode() & 0o7777);
            std::fs::set_permissions(path, mode)?;
        }
    }
    if meta.is_dir() {
        for entry in std::fs::read_dir(path)? {
            shift_tree(&entry?.path(), to, seen)?;
        }
    }
    Ok(())
}
// ANCHOR_END: shift

/// Idmapped views attached in one directory: detached, and the directory
/// removed, when dropped (on every path).
pub struct Views(PathBuf);

impl Views {
    /// Starts afresh: a killed start may have left views behind.
    pub fn new(dir: PathBuf) -> Result<Views, Error> {
        let views = Views(dir);
        views.release();
        std::fs::create_dir(&views.0)
            .map_err(|e| Error::engine(format!("creating {}: {e}", views.0.display())))?;
        Ok(views)
    }

    /// An idmapped view of `source` at `<dir>/name`.
    pub fn view(
        &self,
        source: &Path,
        name: &str,
        ns: &MapNamespace,
        read_only: bool,
    ) -> Result<PathBuf, Error> {
        let target = self.0.join(name);
        let failed = |what: &str, e: Errno| {
            let hint = if e == Errno::EINVAL {
                " (the filesystem or kernel does not support idmapped mounts)"
            } else {
                ""
            };
            Error::engine(format!(
                "cannot {what} an idmapped view of {}: {}{hint}",
                source.display(),
                e.desc()
            ))
        };
        if source.is_dir() {
            std::fs::create_dir(&target)
        } else {
            std::fs::File::create(&target).map(drop)
        }
        .map_err(|e| Error::engine(format!("creating {}: {e}", target.display())))?;
        let tree = idmapped_copy(source, ns, read_only).map_err(|e| failed("make", e))?;
        attach(&tree, &target).map_err(|e| failed("attach", e))?;
        Ok(target)
    }

    fn release(&self) {
        let mut mounted: Vec<PathBuf> = crate::mount::mount_points()
            .into_iter()
            .filter(|m| m.starts_with(&self.0))
            .collect();
        mounted.sort_by_key(|m| std::cmp::Reverse(m.as_os_str().len()));
        for m in &mounted {
            let _ = nix::mount::umount2(m, nix::mount::MntFlags::MNT_DETACH);
        }
        // Only once nothing is mounted inside: never through a view.
        if !crate::mount::mount_points()
            .iter()
            .any(|m| m.starts_with(&self.0))
        {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

impl Drop for Views {
    fn drop(&mut self) {
        self.release();
    }
}

fn engine(what: &str, e: Errno) -> Error {
    Error::engine(format!("idmapped mounts: {what}: {}", e.desc()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_ids_of_a_mapping() {
        let mapping = IdMapping {
            uid: vec!["0:100000:65536".parse().unwrap()],
            gid: vec!["0:200000:1000".parse().unwrap()],
        };
        assert_eq!(mapping.to_host(0, 0), (100_000, 200_000));
        assert_eq!(mapping.to_host(1000, 999), (101_000, 200_999));
        // Outside the gid map: left as it is.
        assert_eq!(mapping.to_host(1, 5000), (100_001, 5000));
        assert_eq!(mapping.to_container(101_000, 200_999), (1000, 999));
        assert_eq!(mapping.to_container(5, 5), (5, 5));
    }
}
