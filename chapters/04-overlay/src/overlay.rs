//! Mounting an overlay: lowers (read-only, lowest first), one upper
//! (where writes go), a work directory (overlay's scratch space, on the
//! upper's filesystem) and the merged mount point (the container's root).

use std::path::PathBuf;

use nix::errno::Errno;
use nix::mount::MsFlags;

use crate::Error;
use crate::fscheck::{check_lowers, check_upper_fs};
use crate::mount::{mount_overlay, mount_overlay_from};
use crate::options::{LINK_DIR, MountPlan, plan};

/// One overlay stack, ready to mount.
#[derive(Debug, Clone)]
pub struct Overlay {
    /// Read-only layers, lowest first.
    pub lowers: Vec<PathBuf>,
    pub upper: PathBuf,
    pub work: PathBuf,
    pub merged: PathBuf,
    /// Mount the merged root read-only (`--read-only`).
    pub read_only: bool,
}

impl Overlay {
    // ANCHOR: mount
    /// Mounts the stack at `merged`, or says why it cannot.
    pub fn mount(&self) -> Result<(), Error> {
        let lowers = check_lowers(&self.lowers)?;
        check_upper_fs(&self.upper)?;
        // upper and work share a parent: the container's directory.
        let dir = self.upper.parent().unwrap_or(&self.upper).to_path_buf();
        let flags = if self.read_only {
            MsFlags::MS_RDONLY
        } else {
            MsFlags::empty()
        };
        let result = match plan(&lowers, &self.upper, &self.work, &dir)? {
            MountPlan::Absolute(options) => mount_overlay(&self.merged, &options, flags),
            MountPlan::Relative {
                from,
                links,
                options,
            } => {
                let link_dir = from.join(LINK_DIR);
                let _ = std::fs::remove_dir_all(&link_dir);
                std::fs::create_dir(&link_dir)
                    .map_err(|e| Error::engine(format!("creating {}: {e}", link_dir.display())))?;
                for (link, target) in &links {
                    std::os::unix::fs::symlink(target, from.join(link)).map_err(|e| {
                        Error::engine(format!("linking layer {}: {e}", target.display()))
                    })?;
                }
                let result = mount_overlay_from(&from, &self.merged, &options, flags);
                // The kernel resolved the links when mounting; they can go.
                let _ = std::fs::remove_dir_all(&link_dir);
                result
            }
        };
        result.map_err(|e| self.mount_error(e))
    }
    // ANCHOR_END: mount

    fn mount_error(&self, e: Errno) -> Error {
        let hint = match e {
            Errno::EINVAL => " (the kernel log, `dmesg`, says which option it refused)",
            Errno::ENODEV => " (is the overlay module loaded? `modprobe overlay`)",
            Errno::EPERM => " (mounting needs CAP_SYS_ADMIN)",
            _ => "",
        };
        Error::engine(format!(
            "cannot mount overlay at {}: {}{hint}",
            self.merged.display(),
            e.desc()
        ))
    }
}
