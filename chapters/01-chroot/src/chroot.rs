//! Entering another root directory: the chapter's one mechanism.

use std::path::Path;

use nix::unistd;

// ANCHOR: enter_root
/// Makes `rootfs` the root directory of this process, then moves into it.
///
/// `chroot` changes only how absolute paths resolve; the working directory
/// stays wherever it was, possibly outside the new root. The `chdir("/")`
/// afterwards is what puts the process inside. Forgetting it is the first
/// half of the classic escape (see `escape.rs`).
pub fn enter_root(rootfs: &Path) -> nix::Result<()> {
    unistd::chroot(rootfs)?;
    unistd::chdir("/")?;
    Ok(())
}
// ANCHOR_END: enter_root
