//! `pivot_root`: make the rootfs the root of the mount namespace, and
//! detach the old root so that nothing of the host remains above it.

use std::path::Path;

use nix::mount::{MntFlags, umount2};
use nix::unistd::{chdir, pivot_root};

use crate::Error;

// ANCHOR: pivot_to
/// Swaps the root of this mount namespace for `rootfs` (a mount point: the
/// `bind-rootfs` step made it one) and detaches the old root.
///
/// `pivot_root(".", ".")` stacks the old root on top of the new one at the
/// same place, so no `put_old` directory has to be created inside the
/// rootfs; unmounting "." then removes the old root, lazily (`MNT_DETACH`)
/// because the host's mounts below it are still busy elsewhere.
pub fn pivot_to(rootfs: &Path) -> Result<(), Error> {
    let fail = |what: &str, e: nix::Error| {
        if what.is_empty() {
            Error::engine(e.desc())
        } else {
            Error::engine(format!("{what}: {}", e.desc()))
        }
    };
    chdir(rootfs).map_err(|e| fail(&rootfs.display().to_string(), e))?;
    pivot_root(".", ".").map_err(|e| fail("", e))?;
    umount2(".", MntFlags::MNT_DETACH).map_err(|e| fail("detaching the old root", e))?;
    chdir("/").map_err(|e| fail("chdir /", e))
}
// ANCHOR_END: pivot_to
