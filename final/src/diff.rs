//! `diff`: what a container changed in its filesystem, as chapter 4 reads
//! it from the upper directory (`A` added, `C` changed, `D` deleted).
//!
//! The engine's own mount points are left out, as Docker leaves them out:
//! chapter 5 bind-mounts `/etc/hostname`, `/etc/hosts` and
//! `/etc/resolv.conf` over empty files it creates in the upper directory
//! when the image has none; those placeholders are not the container's
//! doing (a directory changed only by them is not either).

use std::path::Path;

use ch04_overlay::diff::{Change, Kind, render};

use crate::Result;
use crate::context::Engine;
use crate::lookup::find;

/// The files the engine mounts over.
const MOUNT_POINTS: [&str; 3] = ["/etc/hostname", "/etc/hosts", "/etc/resolv.conf"];

pub fn diff(engine: &Engine, key: &str) -> Result<String> {
    let found = find(engine, key)?;
    let changes = found.container.diff()?;
    Ok(render(&without_mount_points(
        changes,
        &found.container.upper(),
    )))
}

/// Drops the engine's placeholders (added, still empty), then the
/// directories they alone had changed.
fn without_mount_points(changes: Vec<Change>, upper: &Path) -> Vec<Change> {
    let placeholder = |c: &Change| {
        c.kind == Kind::Added
            && MOUNT_POINTS.iter().any(|m| c.path == Path::new(m))
            && upper
                .join(c.path.strip_prefix("/").unwrap_or(&c.path))
                .metadata()
                .is_ok_and(|m| m.is_file() && m.len() == 0)
    };
    let (hidden, kept): (Vec<Change>, Vec<Change>) = changes.into_iter().partition(placeholder);
    let under = |c: &Change, dir: &Change| c.path != dir.path && c.path.starts_with(&dir.path);
    kept.iter()
        .filter(|dir| {
            let only_hidden = dir.kind == Kind::Changed
                && hidden.iter().any(|h| under(h, dir))
                && !kept.iter().any(|k| under(k, dir));
            !only_hidden
        })
        .cloned()
        .collect()
}
