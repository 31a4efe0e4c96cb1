//! Mounting an overlay: lowers (read-only, lowest first), one upper
//! (where writes go), a work directory (overlay's scratch space, on the
//! upper's filesystem) and the merged mount point (the container's root).

use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::mount::MsFlags;

use crate::Error;
use crate::fscheck::{check_lowers, check_upper_fs};
use crate::idmapped::{IdMapping, MapNamespace, Views};
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
    /// The container's user namespace maps: the layers are then stacked
    /// through idmapped views of them.
    pub idmap: Option<IdMapping>,
}

/// Where idmapped views of the layers wait, inside the container's
/// directory, while overlay is mounted from them.
pub const IDMAPPED_DIR: &str = "idmapped";

/// Where an engine's idmapped views of volumes wait for the container's
/// mount namespace to copy them.
pub const IDMAPPED_VOLUMES_DIR: &str = "idmapped-volumes";

impl Overlay {
    // ANCHOR: mount
    /// Mounts the stack at `merged`, or says why it cannot.
    pub fn mount(&self) -> Result<(), Error> {
        let lowers = check_lowers(&self.lowers)?;
        check_upper_fs(&self.upper)?;
        // upper and work share a parent: the container's directory.
        let dir = self.upper.parent().unwrap_or(&self.upper).to_path_buf();
        let Some(mapping) = &self.idmap else {
            return self.mount_from(&lowers, &self.upper, &self.work, &dir);
        };
        // The layers are stacked through idmapped views of them. The upper
        // directory is not: overlay (mounted by host root) could not create
        // its work files through one, so what the container writes keeps
        // host ids (its root's is 100000), like the view of the layers.
        // Overlay keeps private copies of the views (idmaps included), so
        // they go as soon as it is mounted.
        let staged = Views::new(dir.join(IDMAPPED_DIR))?;
        let ns = MapNamespace::new(mapping)?;
        let mut views = Vec::with_capacity(lowers.len());
        for (i, lower) in lowers.iter().enumerate() {
            views.push(staged.view(lower, &format!("l{i}"), &ns, true)?);
        }
        self.mount_from(&views, &self.upper, &self.work, &dir)
    }
    // ANCHOR_END: mount

    fn mount_from(
        &self,
        lowers: &[PathBuf],
        upper: &Path,
        work: &Path,
        dir: &Path,
    ) -> Result<(), Error> {
        let flags = if self.read_only {
            MsFlags::MS_RDONLY
        } else {
            MsFlags::empty()
        };
        let result = match plan(lowers, upper, work, dir)? {
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
