//! The read-only view of a stack of layers, without mounting it.
//!
//! `diff` asks "did this path exist below the container?" and `vfs` copies
//! the union of the layers. Both resolve a path the way overlay does: from
//! the topmost layer down, where a whiteout deletes the name, a non-directory
//! hides everything below its path, and an opaque directory stops the
//! search from reaching lower layers.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::fs::Metadata;
use std::path::{Path, PathBuf};

use crate::whiteout::{is_opaque, is_whiteout};

/// Layers, lowest first (the order a stack is built in).
#[derive(Debug, Clone)]
pub struct Lowers {
    layers: Vec<PathBuf>,
}

/// Where a path of the view comes from.
#[derive(Debug)]
pub struct Found {
    /// The real path inside the layer that provides it.
    pub path: PathBuf,
    pub meta: Metadata,
}

impl Lowers {
    pub fn new(layers: &[PathBuf]) -> Self {
        Lowers {
            layers: layers.to_vec(),
        }
    }

    // ANCHOR: lookup
    /// Resolves `rel` (relative to `/`) through the stack, top layer first.
    pub fn lookup(&self, rel: &Path) -> Option<Found> {
        let parts: Vec<_> = rel.components().collect();
        'layers: for layer in self.layers.iter().rev() {
            let mut path = layer.clone();
            let mut below_opaque = false;
            for (i, part) in parts.iter().enumerate() {
                path.push(part);
                let Ok(meta) = path.symlink_metadata() else {
                    // Absent here: look lower, unless an opaque directory
                    // above it in this layer hides the lower layers.
                    if below_opaque {
                        return None;
                    }
                    continue 'layers;
                };
                if is_whiteout(&meta) {
                    return None;
                }
                if i + 1 == parts.len() {
                    return Some(Found { path, meta });
                }
                if !meta.is_dir() {
                    return None;
                }
                below_opaque |= is_opaque(&path).unwrap_or(false);
            }
            // `rel` is the root itself.
            return path
                .symlink_metadata()
                .ok()
                .map(|meta| Found { path, meta });
        }
        None
    }
    // ANCHOR_END: lookup

    /// The names inside directory `rel` of the view.
    pub fn list(&self, rel: &Path) -> BTreeSet<OsString> {
        let mut candidates = BTreeSet::new();
        for layer in &self.layers {
            if let Ok(entries) = std::fs::read_dir(layer.join(rel)) {
                candidates.extend(entries.flatten().map(|e| e.file_name()));
            }
        }
        candidates
            .into_iter()
            .filter(|name| self.lookup(&rel.join(name)).is_some())
            .collect()
    }
}
