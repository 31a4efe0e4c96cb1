//! Removing what a killed run left behind.
//!
//! A run that ends normally removes its cgroup. One killed with SIGKILL
//! cannot: its `berth/<id>` directories stay, empty once the container's
//! processes are gone too. Before creating its own, a run sweeps those:
//! every `berth/*` cgroup with no process left that is older than a few
//! seconds (a younger one may belong to a run that is just starting).
//! `cargo lab clean` goes further and also kills what is still inside.

use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::Error;
use crate::cgroup::PARENT;
use crate::layout::Layout;

/// An empty cgroup younger than this may be a run's that is still starting.
pub const STALE_AFTER: Duration = Duration::from_secs(10);

// ANCHOR: sweep
/// Removes stale `berth/*` cgroups in every hierarchy; returns their names.
pub fn sweep_stale(layout: &Layout) -> Result<Vec<String>, Error> {
    let mut removed = Vec::new();
    for hierarchy in layout.hierarchies() {
        let parent = hierarchy.mountpoint.join(&hierarchy.base).join(PARENT);
        let Ok(entries) = std::fs::read_dir(&parent) else {
            continue;
        };
        for entry in entries.flatten() {
            let dir = entry.path();
            if dir.is_dir() && is_empty(&dir) && is_old(&dir) && std::fs::remove_dir(&dir).is_ok() {
                let name = format!("{PARENT}/{}", entry.file_name().to_string_lossy());
                if !removed.contains(&name) {
                    removed.push(name);
                }
            }
        }
        // The parent itself, if nothing else uses it.
        let _ = std::fs::remove_dir(&parent);
    }
    Ok(removed)
}
// ANCHOR_END: sweep

/// No process in the cgroup, nor in any cgroup below it.
fn is_empty(dir: &Path) -> bool {
    let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
    if !procs.trim().is_empty() {
        return false;
    }
    let children = std::fs::read_dir(dir).into_iter().flatten().flatten();
    !children.map(|e| e.path()).any(|p| p.is_dir())
}

fn is_old(dir: &Path) -> bool {
    std::fs::metadata(dir)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .is_some_and(|age| age >= STALE_AFTER)
}
