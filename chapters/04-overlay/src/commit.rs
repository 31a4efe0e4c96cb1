//! `commit`: freeze a container's changes into a new layer directory.
//!
//! The layer has overlay's on-disk format, whatever the driver: new and
//! changed files as they are, a whiteout (0/0 character device) for each
//! deletion, `trusted.overlay.opaque=y` on directories that hide the lower
//! ones. Put it on top of the old lowers and the container's view comes
//! back: that is how image layers stack (chapter 6).

use std::path::Path;

use crate::Error;
use crate::copy::{HardLinks, copy_node, copy_tree, finish_dir};
use crate::diff::Kind;
use crate::idmapped::shift;
use crate::storage::Storage;
use crate::store::Container;
use crate::whiteout::make_whiteout;

// ANCHOR: commit
/// Writes `container`'s changes to `dest`, a new directory.
pub fn commit(container: &Container, dest: &Path) -> Result<(), Error> {
    match dest.symlink_metadata() {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Ok(_) => {
            return Err(Error::conflict(format!(
                "commit: {} already exists; a layer goes into a new directory",
                dest.display()
            )));
        }
        Err(e) => return Err(Error::engine(format!("commit: {}: {e}", dest.display()))),
    }
    let result = match container.config.storage {
        // The upper directory *is* the layer: copy it, whiteouts, opaque
        // markers and all.
        Storage::Overlay => copy_tree(&container.upper(), dest).and_then(|()| {
            // A container with a user namespace wrote with host ids.
            match &container.config.userns {
                Some(mapping) => shift(dest, &|u, g| mapping.to_container(u, g)),
                None => Ok(()),
            }
        }),
        Storage::Vfs => layer_from_copy(container, dest),
    };
    result.map_err(|e| {
        let _ = std::fs::remove_dir_all(dest);
        Error::engine(format!("commit to {}: {e}", dest.display()))
    })
}
// ANCHOR_END: commit

/// Builds the layer from a vfs container's diff: what was added or changed
/// is copied, what was deleted becomes a whiteout.
fn layer_from_copy(container: &Container, dest: &Path) -> std::io::Result<()> {
    let changes = container.diff().map_err(std::io::Error::other)?;
    let root = container.rootfs();
    let mut links = HardLinks::default();
    copy_node(&root, &root.symlink_metadata()?, dest, &mut links)?;
    let mut dirs = Vec::new();
    for change in &changes {
        let rel = change.path.strip_prefix("/").unwrap_or(&change.path);
        let (src, dst) = (root.join(rel), dest.join(rel));
        match change.kind {
            Kind::Deleted => make_whiteout(&dst)?,
            Kind::Added | Kind::Changed => {
                let meta = src.symlink_metadata()?;
                copy_node(&src, &meta, &dst, &mut links)?;
                if meta.is_dir() {
                    dirs.push((dst, meta));
                }
            }
        }
    }
    // Directory times last, deepest first: filling them changed them.
    for (dir, meta) in dirs.iter().rev() {
        finish_dir(dir, meta)?;
    }
    finish_dir(dest, &root.symlink_metadata()?)
}
