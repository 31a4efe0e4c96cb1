//! Mounts the user asked for: host directories and files bind-mounted into
//! the container's root (an engine's volumes are such directories), and
//! `tmpfs` mounts.
//!
//! They are made before `pivot_root`, from the host's side, so every
//! target is resolved *inside* the root ([`crate::inroot`]): an image whose
//! `/data` is a symbolic link to `/etc` or to `../../..` gets its mount on
//! its own `/etc`, never on the host's. A missing target is created there
//! (in the container's upper layer), a directory for a directory source, an
//! empty file for a file source.

use std::os::unix::fs::{MetadataExt, PermissionsExt, lchown, symlink};
use std::path::{Path, PathBuf};

use nix::mount::{MsFlags, mount};

use crate::Error;
use crate::sequence::{ChildContext, ChildStep};

/// Where a mount's content comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountSource {
    /// A host path (a directory or a file), bind-mounted.
    Host(PathBuf),
    /// A new, empty `tmpfs`.
    Tmpfs,
}

// ANCHOR: bind_mount
/// One mount into the container's root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindMount {
    pub source: MountSource,
    /// An absolute path inside the container.
    pub target: PathBuf,
    pub read_only: bool,
    /// `tmpfs`'s options (`size=64m,mode=1777`); empty for a bind.
    pub options: String,
    /// Fill an empty source directory with what the image has at the
    /// target first (an engine's new named volume: Docker's copy-up).
    pub copy_up: bool,
}
// ANCHOR_END: bind_mount

/// The child step: every mount, parents before children.
pub struct BindMounts(pub Vec<BindMount>);

impl ChildStep for BindMounts {
    fn name(&self) -> &str {
        "bind-mounts"
    }
    fn run(&mut self, ctx: &mut ChildContext) -> Result<(), Error> {
        let mut mounts = self.0.clone();
        // `/data` before `/data/logs`: the deeper mount lands on the first.
        mounts.sort_by_key(|m| m.target.components().count());
        for m in &mounts {
            let target = ctx.resolve(&m.target)?;
            mount_one(m, &target)
                .map_err(|e| Error::engine(format!("{}: {}", m.target.display(), e.message)))?;
        }
        Ok(())
    }
}

// ANCHOR: mount_one
/// Makes one mount on `target`, a host path already resolved inside the
/// root (no symbolic link left in it).
pub fn mount_one(m: &BindMount, target: &Path) -> Result<(), Error> {
    let sys = |what: &str| {
        let what = what.to_string();
        move |e: nix::Error| Error::engine(format!("{what}: {}", e.desc()))
    };
    match &m.source {
        MountSource::Tmpfs => {
            create_target(target, true)?;
            let mut flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
            if m.read_only {
                flags |= MsFlags::MS_RDONLY;
            }
            let data = (!m.options.is_empty()).then_some(m.options.as_str());
            mount(Some("tmpfs"), target, Some("tmpfs"), flags, data).map_err(sys("mount tmpfs"))
        }
        MountSource::Host(source) => {
            // Said plainly, before a mount point is made for nothing.
            if source.symlink_metadata().is_err() {
                return Err(Error::engine(format!(
                    "bind source {} does not exist: create it",
                    source.display()
                )));
            }
            let is_dir = source.is_dir();
            create_target(target, is_dir)?;
            if m.copy_up && is_dir {
                copy_up(target, source)?;
            }
            let bind = MsFlags::MS_BIND | MsFlags::MS_REC;
            mount(Some(source), target, None::<&str>, bind, None::<&str>)
                .map_err(sys("bind mount"))?;
            if m.read_only {
                // A bind mount takes its flags from a second call.
                let ro = bind | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY;
                mount(None::<&str>, target, None::<&str>, ro, None::<&str>)
                    .map_err(sys("read-only remount"))?;
            }
            Ok(())
        }
    }
}
// ANCHOR_END: mount_one

/// Creates the mount point (and its parents) unless it exists.
fn create_target(target: &Path, dir: bool) -> Result<(), Error> {
    let io = |e: std::io::Error| {
        // A read-only root cannot get new directories.
        let hint = if e.raw_os_error() == Some(libc::EROFS) {
            " (the root is read-only: mount where the image has a directory)"
        } else {
            ""
        };
        Error::engine(format!(
            "creating mount point {}: {}{hint}",
            target.display(),
            crate::io_reason(&e)
        ))
    };
    if dir {
        return std::fs::create_dir_all(target).map_err(io);
    }
    if target.symlink_metadata().is_ok() {
        return Ok(());
    }
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    std::fs::File::create(target).map(drop).map_err(io)
}

// ANCHOR: copy_up
/// Docker's copy-up: an empty volume mounted over a directory the image
/// fills starts as a copy of it (owners, modes and links kept), so an
/// image's `/var/lib/db` seeds the volume that then outlives containers.
fn copy_up(image_dir: &Path, volume: &Path) -> Result<(), Error> {
    let empty = std::fs::read_dir(volume).is_ok_and(|mut d| d.next().is_none());
    if !empty {
        return Ok(());
    }
    let reason = |e: std::io::Error| {
        Error::engine(format!(
            "copying {} into the volume: {}",
            image_dir.display(),
            crate::io_reason(&e)
        ))
    };
    copy_children(image_dir, volume).map_err(reason)?;
    let meta = image_dir.symlink_metadata().map_err(reason)?;
    keep_owner_and_mode(volume, &meta).map_err(reason)
}
// ANCHOR_END: copy_up

fn copy_children(from: &Path, to: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        let meta = src.symlink_metadata()?;
        let kind = meta.file_type();
        if kind.is_symlink() {
            symlink(std::fs::read_link(&src)?, &dst)?;
            lchown(&dst, Some(meta.uid()), Some(meta.gid()))?;
            continue;
        }
        if kind.is_dir() {
            std::fs::create_dir(&dst)?;
            copy_children(&src, &dst)?;
        } else if kind.is_file() {
            std::fs::copy(&src, &dst)?;
        } else {
            continue; // devices, sockets, fifos: not copied
        }
        keep_owner_and_mode(&dst, &meta)?;
    }
    Ok(())
}

fn keep_owner_and_mode(path: &Path, meta: &std::fs::Metadata) -> std::io::Result<()> {
    lchown(path, Some(meta.uid()), Some(meta.gid()))?;
    // After chown, which clears set-uid bits.
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(meta.mode() & 0o7777))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_up_keeps_owners_and_skips_a_full_volume() {
        let dir = tempfile::tempdir().unwrap();
        let (image, volume) = (dir.path().join("image"), dir.path().join("volume"));
        std::fs::create_dir_all(image.join("sub")).unwrap();
        std::fs::write(image.join("sub/f"), "x").unwrap();
        symlink("sub/f", image.join("link")).unwrap();
        std::fs::set_permissions(image.join("sub"), std::fs::Permissions::from_mode(0o750))
            .unwrap();
        std::fs::create_dir(&volume).unwrap();
        copy_up(&image, &volume).unwrap();
        assert_eq!(std::fs::read_to_string(volume.join("link")).unwrap(), "x");
        let mode = volume.join("sub").metadata().unwrap().mode() & 0o7777;
        assert_eq!(mode, 0o750);
        // Not empty any more: a second copy-up leaves it alone.
        std::fs::write(image.join("new"), "y").unwrap();
        copy_up(&image, &volume).unwrap();
        assert!(!volume.join("new").exists());
    }
}
