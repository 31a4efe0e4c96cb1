//! Removing what a killed run left behind.
//!
//! A run that ends normally removes its cgroup. One killed with SIGKILL
//! cannot: its `berth/<id>` directories stay, empty once the container's
//! processes are gone too. Before creating its own, a run sweeps those:
//! every `berth/*` cgroup with no process left whose owner lock it can take
//! (its creator is gone; a run still starting holds it, see
//! [`crate::ownership`]). `cargo lab clean` goes further and also kills
//! what is still inside.

use std::path::Path;

use crate::Error;
use crate::cgroup::PARENT;
use crate::layout::Layout;
use crate::ownership::{BaseLock, Owner};

// ANCHOR: sweep
/// Removes stale `berth/*` cgroups in every hierarchy; returns their names.
pub fn sweep_stale(layout: &Layout) -> Result<Vec<String>, Error> {
    let mut removed = Vec::new();
    for hierarchy in layout.hierarchies() {
        let parent = hierarchy.dir(PARENT);
        if !parent.exists() {
            continue;
        }
        // Exclusive: no creation is half-way, so every cgroup in `berth`
        // is either held by its owner or abandoned, and `berth` itself may go.
        let _sweeping = BaseLock::exclusive(hierarchy)?;
        let Ok(entries) = std::fs::read_dir(&parent) else {
            continue;
        };
        for entry in entries.flatten() {
            let dir = entry.path();
            if !dir.is_dir() {
                continue;
            }
            let Some(_abandoned) = Owner::take_abandoned(&dir) else {
                continue;
            };
            if is_empty(&dir) && std::fs::remove_dir(&dir).is_ok() {
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
