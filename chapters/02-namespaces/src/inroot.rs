//! Paths inside a container's root, resolved the way the container will
//! see them, from the host's side.
//!
//! Before `pivot_root` the engine works on the root filesystem as a host
//! directory: it mounts `/proc`, `/sys` and `/dev` there, and later
//! chapters add `/etc/hosts` and the cgroup filesystem. A plain
//! `rootfs.join("etc/hosts")` is resolved by the kernel against the
//! *host's* root: an image whose `/etc` is a symbolic link to `/host/dir`
//! sends the engine's writes and mounts to the host's `/host/dir`. The
//! container itself would resolve the same link inside its own root.
//!
//! [`resolve_in_root`] walks the path one component at a time, reading
//! each symbolic link and resolving its target against the container's
//! root (an absolute target restarts at the root, `..` never climbs above
//! it), as `openat2(RESOLVE_IN_ROOT)` does in the kernel. The result has
//! no symbolic link left in the part that exists, so using it from the
//! host's side reaches what the container would reach. The container does
//! not run yet while its root is prepared, so nothing changes the tree
//! between the walk and the use.

use std::ffi::OsString;
use std::path::{Component, Path, PathBuf};

use crate::Error;

/// Links followed before giving up (the kernel's limit is 40).
pub const MAX_LINKS: usize = 40;

// ANCHOR: resolve_in_root
/// The host path of `inside` (a path in the container) under `root`, with
/// every symbolic link of its existing part resolved inside `root`.
/// Components that do not exist yet are appended as they are, so creating
/// them creates them inside the root.
pub fn resolve_in_root(root: &Path, inside: &Path) -> Result<PathBuf, Error> {
    let mut todo: Vec<OsString> = components(inside);
    todo.reverse(); // a stack: the next component is last
    let mut resolved = PathBuf::new(); // relative to root, no links in it
    let mut links = 0;
    while let Some(name) = todo.pop() {
        if name == ".." {
            resolved.pop();
            continue;
        }
        let candidate = resolved.join(&name);
        let meta = match root.join(&candidate).symlink_metadata() {
            Ok(meta) => meta,
            // Missing (or under a non-directory): taken as it is; a later
            // `..` may climb back to where links resolve again.
            Err(_) => {
                resolved = candidate;
                continue;
            }
        };
        if !meta.file_type().is_symlink() {
            resolved = candidate;
            continue;
        }
        links += 1;
        if links > MAX_LINKS {
            return Err(Error::engine(format!(
                "{}: too many levels of symbolic links in the container's root",
                inside.display()
            )));
        }
        let target = std::fs::read_link(root.join(&candidate)).map_err(|e| {
            Error::engine(format!(
                "reading link {}: {}",
                candidate.display(),
                crate::io_reason(&e)
            ))
        })?;
        if target.is_absolute() {
            resolved = PathBuf::new();
        }
        let mut more = components(&target);
        more.reverse();
        todo.extend(more);
    }
    Ok(root.join(resolved))
}
// ANCHOR_END: resolve_in_root

/// The normal and `..` components of `path` (`/` and `.` dropped).
fn components(path: &Path) -> Vec<OsString> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(name) => Some(name.to_os_string()),
            Component::ParentDir => Some(OsString::from("..")),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;

    use super::*;

    #[test]
    fn links_resolve_inside_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("real/etc")).unwrap();
        symlink("/real/etc", root.join("etc")).unwrap();
        symlink("../../../../host/file", root.join("real/etc/resolv.conf")).unwrap();
        symlink("/tmp", root.join("tmp-link")).unwrap();
        symlink("loop2", root.join("loop1")).unwrap();
        symlink("loop1", root.join("loop2")).unwrap();
        let r = |p: &str| resolve_in_root(root, Path::new(p));
        assert_eq!(r("/etc/hosts").unwrap(), root.join("real/etc/hosts"));
        assert_eq!(r("/etc/resolv.conf").unwrap(), root.join("host/file"));
        assert_eq!(r("/tmp-link/x/y").unwrap(), root.join("tmp/x/y"));
        assert_eq!(r("/../../etc").unwrap(), root.join("real/etc"));
        assert_eq!(r("/new/../etc/./x").unwrap(), root.join("real/etc/x"));
        assert_eq!(r("/").unwrap(), root.to_path_buf());
        assert!(
            r("/loop1/x")
                .unwrap_err()
                .message
                .contains("too many levels")
        );
    }
}
