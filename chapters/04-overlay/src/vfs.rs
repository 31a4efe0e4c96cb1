//! The `vfs` storage driver: no copy-on-write at all.
//!
//! Each container gets a full copy of its layers, so every container costs
//! the whole image in disk space and in time to start. It needs nothing
//! from the filesystem, which is why Docker keeps it as the fallback and
//! for testing. Without an upper layer to read, `diff` compares the copy
//! with the layers, file by file.

use std::collections::BTreeSet;
use std::fs::Metadata;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::copy::{HardLinks, copy_node, finish_dir};
use crate::diff::{Change, Kind, absolute, sort};
use crate::lowers::Lowers;
use crate::whiteout::OPAQUE_XATTRS;
use crate::xattr;

// ANCHOR: materialize
/// Copies the union of `lowers` into `dest` (which must not exist).
pub fn materialize(lowers: &Lowers, dest: &Path) -> io::Result<()> {
    let mut links = HardLinks::default();
    copy_view(lowers, Path::new(""), dest, &mut links)
}

fn copy_view(lowers: &Lowers, rel: &Path, dest: &Path, links: &mut HardLinks) -> io::Result<()> {
    let found = lowers
        .lookup(rel)
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("/{}", rel.display())))?;
    let target = dest.join(rel);
    copy_node(&found.path, &found.meta, &target, links)?;
    if found.meta.is_dir() {
        // Opacity is a property of a layer, not of the merged view.
        for name in OPAQUE_XATTRS {
            let _ = xattr::remove(&target, name.as_ref());
        }
        for name in lowers.list(rel) {
            copy_view(lowers, &rel.join(name), dest, links)?;
        }
        finish_dir(&target, &found.meta)?;
    }
    Ok(())
}
// ANCHOR_END: materialize

// ANCHOR: same
/// True when two nodes look the same to the container: type, mode, owner,
/// modification time, device number, size or symlink target.
fn same(a: &Metadata, a_path: &Path, b: &Metadata, b_path: &Path) -> bool {
    let alike = a.file_type() == b.file_type()
        && a.mode() == b.mode()
        && a.uid() == b.uid()
        && a.gid() == b.gid()
        && a.mtime() == b.mtime()
        && a.mtime_nsec() == b.mtime_nsec()
        && a.rdev() == b.rdev()
        // A directory's size depends on the filesystem, not its contents.
        && (a.is_dir() || a.size() == b.size());
    if alike && a.file_type().is_symlink() {
        return std::fs::read_link(a_path).ok() == std::fs::read_link(b_path).ok();
    }
    alike
}
// ANCHOR_END: same

/// The changes in the copy at `root` against `lowers`.
pub fn diff(root: &Path, lowers: &Lowers) -> io::Result<Vec<Change>> {
    let mut changes = Vec::new();
    compare_dir(root, Path::new(""), lowers, &mut changes)?;
    sort(&mut changes);
    Ok(changes)
}

/// Compares directory `rel`; true when anything inside it changed.
fn compare_dir(
    root: &Path,
    rel: &Path,
    lowers: &Lowers,
    out: &mut Vec<Change>,
) -> io::Result<bool> {
    let mut names = lowers.list(rel);
    for entry in std::fs::read_dir(root.join(rel))? {
        names.insert(entry?.file_name());
    }
    let mut changed = false;
    for name in names {
        let rel = rel.join(name);
        let here_path = root.join(&rel);
        let here = here_path.symlink_metadata().ok();
        let below = lowers.lookup(&rel);
        let mut record = |kind| {
            out.push(Change {
                kind,
                path: absolute(&rel),
            })
        };
        match (here, below) {
            (None, None) => continue,
            (None, Some(_)) => record(Kind::Deleted),
            (Some(meta), None) => {
                record(Kind::Added);
                if meta.is_dir() {
                    all_added(root, &rel, out)?;
                }
            }
            (Some(meta), Some(found)) if meta.is_dir() && found.meta.is_dir() => {
                let inside = compare_dir(root, &rel, lowers, out)?;
                if !inside && same(&meta, &here_path, &found.meta, &found.path) {
                    continue;
                }
                out.push(Change {
                    kind: Kind::Changed,
                    path: absolute(&rel),
                });
            }
            (Some(meta), Some(found)) => {
                if same(&meta, &here_path, &found.meta, &found.path) {
                    continue;
                }
                record(Kind::Changed);
                if meta.is_dir() {
                    all_added(root, &rel, out)?;
                }
            }
        }
        changed = true;
    }
    Ok(changed)
}

/// Everything inside new directory `rel` is new.
fn all_added(root: &Path, rel: &Path, out: &mut Vec<Change>) -> io::Result<()> {
    let names: BTreeSet<_> = std::fs::read_dir(root.join(rel))?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<io::Result<_>>()?;
    for name in names {
        let rel = rel.join(name);
        out.push(Change {
            kind: Kind::Added,
            path: absolute(&rel),
        });
        if root.join(&rel).symlink_metadata()?.is_dir() {
            all_added(root, &rel, out)?;
        }
    }
    Ok(())
}
