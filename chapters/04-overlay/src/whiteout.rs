//! How overlay records a deletion in the upper layer.
//!
//! A deleted file or directory leaves a *whiteout*: a character device
//! with device number 0/0 under the same name. A directory that replaced
//! one of the lowers' (removed, then created again) is *opaque*: it carries
//! the attribute `trusted.overlay.opaque = "y"` (or `user.overlay.opaque`
//! on mounts with `userxattr`), and hides everything below it.

use std::fs::Metadata;
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use nix::sys::stat::{Mode, SFlag, makedev, mknod};

use crate::xattr;

/// The attributes that mark a directory opaque, privileged first.
pub const OPAQUE_XATTRS: [&str; 2] = ["trusted.overlay.opaque", "user.overlay.opaque"];

// ANCHOR: is_whiteout
/// True for a whiteout: a character device numbered 0/0.
pub fn is_whiteout(meta: &Metadata) -> bool {
    meta.file_type().is_char_device() && meta.rdev() == 0
}

/// True for a directory marked opaque.
pub fn is_opaque(dir: &Path) -> io::Result<bool> {
    for name in OPAQUE_XATTRS {
        if xattr::get(dir, name)?.as_deref() == Some(b"y") {
            return Ok(true);
        }
    }
    Ok(false)
}
// ANCHOR_END: is_whiteout

/// Creates a whiteout at `path`, as overlay does when a file is deleted.
pub fn make_whiteout(path: &Path) -> io::Result<()> {
    mknod(path, SFlag::S_IFCHR, Mode::empty(), makedev(0, 0))?;
    Ok(())
}

/// Marks `dir` opaque.
pub fn make_opaque(dir: &Path) -> io::Result<()> {
    xattr::set(dir, OPAQUE_XATTRS[0].as_ref(), b"y")
}

/// True for an attribute overlay keeps for its own use while mounted
/// (origin, impure, redirect, ...), which must not travel into a layer;
/// the opaque marker is the one that must.
pub fn is_private_overlay_xattr(name: &str) -> bool {
    let private = name.starts_with("trusted.overlay.") || name.starts_with("user.overlay.");
    private && !OPAQUE_XATTRS.contains(&name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_attributes_travel() {
        assert!(!is_private_overlay_xattr("trusted.overlay.opaque"));
        assert!(!is_private_overlay_xattr("user.overlay.opaque"));
        assert!(is_private_overlay_xattr("trusted.overlay.origin"));
        assert!(is_private_overlay_xattr("trusted.overlay.impure"));
        assert!(is_private_overlay_xattr("user.overlay.redirect"));
        assert!(!is_private_overlay_xattr("security.capability"));
        assert!(!is_private_overlay_xattr("user.comment"));
    }

    #[test]
    fn a_regular_file_is_not_a_whiteout() {
        let meta = std::fs::metadata("/etc/hostname")
            .or_else(|_| std::fs::metadata("/"))
            .unwrap();
        assert!(!is_whiteout(&meta));
    }
}
