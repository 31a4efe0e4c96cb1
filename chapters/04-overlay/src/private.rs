//! Private state roots: what a container store holds must not be reachable
//! by the host's other users.
//!
//! A container's upper directory, and chapter 6's unpacked layers, hold
//! files with the modes the container or the image gave them: set-uid root
//! binaries, device nodes open to all. Under a directory any host user can
//! traverse, any of them could run `euid=0` or open a disk. So every state
//! root is created 0700, and an older, more open one is repaired, as Docker
//! does with `/var/lib/docker`.

use std::fs;
use std::io;
use std::path::Path;

use ch01_chroot::Error;

fn io_err(path: &Path, e: &io::Error) -> Error {
    Error::engine(format!("{}: {e}", path.display()))
}

// ANCHOR: private_dir
/// Creates `dir` mode 0700 (missing parents as usual: other chapters'
/// roots may share them), or repairs the mode of an existing one that is
/// more open. Unpacked layers hold set-uid root
/// binaries and device nodes with the image's modes: any host user who can
/// reach them could run `euid=0` or open a disk. A directory that was
/// opened to one group on purpose ([`share_root_with_group`]) keeps 0710.
pub fn private_dir(dir: &Path) -> Result<(), Error> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).map_err(|e| io_err(parent, &e))?;
    }
    match fs::DirBuilder::new().mode(0o700).create(dir) {
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => return Err(io_err(dir, &e)),
        _ => {}
    }
    let meta = fs::metadata(dir).map_err(|e| io_err(dir, &e))?;
    let mode = meta.mode() & 0o7777;
    let wanted = if mode & 0o070 == 0o010 && meta.gid() != 0 {
        0o710
    } else {
        0o700
    };
    if mode != wanted {
        fs::set_permissions(dir, fs::Permissions::from_mode(wanted)).map_err(|e| {
            Error::engine(format!(
                "cannot make {} private (mode {wanted:o}): {e}",
                dir.display()
            ))
        })?;
    }
    Ok(())
}

/// Lets the group `gid` traverse (not list) the state root `root`: mode
/// 0710, group `gid`. A container in a user namespace is started by its
/// own root, host uid/gid 100000 by default, which must reach its root
/// filesystem under `root` (Docker's userns-remap root is 0710 to the
/// remapped group likewise). The image store stays 0700: the container
/// sees its layers through overlay, mounted by the host's root.
pub fn share_root_with_group(root: &Path, gid: u32) -> Result<(), Error> {
    use std::os::unix::fs::PermissionsExt;
    std::os::unix::fs::chown(root, None, Some(gid))
        .and_then(|()| fs::set_permissions(root, fs::Permissions::from_mode(0o710)))
        .map_err(|e| {
            Error::engine(format!(
                "cannot open {} to group {gid} (mode 0710): {e}",
                root.display()
            ))
        })
}
// ANCHOR_END: private_dir

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_roots_are_private() {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let dir = tempfile::tempdir().unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().mode() & 0o7777;
        let fresh = dir.path().join("a/b");
        private_dir(&fresh).unwrap();
        assert_eq!(mode(&fresh), 0o700);
        assert_ne!(mode(&dir.path().join("a")), 0o700, "parents as usual");
        fs::set_permissions(&fresh, fs::Permissions::from_mode(0o4755)).unwrap();
        private_dir(&fresh).unwrap();
        assert_eq!(mode(&fresh), 0o700);
        if nix::unistd::geteuid().is_root() {
            share_root_with_group(&fresh, 100_000).unwrap();
            private_dir(&fresh).unwrap();
            assert_eq!(mode(&fresh), 0o710, "opened to one group on purpose");
        }
    }
}
