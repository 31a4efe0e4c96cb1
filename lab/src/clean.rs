//! `cargo lab clean`: remove the fixtures and anything berth left on the host.

use std::path::Path;

use anyhow::Result;
use nix::mount::{MntFlags, umount2};

use crate::{fixture, paths};

/// Mount points under `dir`, deepest first (from /proc/self/mountinfo).
pub fn mounts_under(dir: &Path) -> Vec<String> {
    let prefix = dir.display().to_string();
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut found: Vec<String> = info
        .lines()
        .filter_map(|l| l.split_whitespace().nth(4))
        .filter(|m| m.starts_with(&prefix))
        .map(String::from)
        .collect();
    found.sort_by_key(|m| std::cmp::Reverse(m.len()));
    found
}

/// Removes berth's leftovers; prints what it removed.
pub fn run() -> Result<()> {
    let target = paths::target_dir();
    for mount in mounts_under(&target) {
        match umount2(mount.as_str(), MntFlags::MNT_DETACH) {
            Ok(()) => println!("clean: unmounted {mount}"),
            Err(e) => println!("clean: cannot unmount {mount}: {}", e.desc()),
        }
    }
    let dir = fixture::fixture_dir();
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
        println!("clean: removed {}", dir.display());
    }
    println!("clean: done");
    Ok(())
}
