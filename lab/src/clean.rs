//! `cargo lab clean`: remove the fixtures, the VM cache, and anything berth
//! left on the host.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Result;
use nix::mount::{MntFlags, umount2};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

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

/// Directories in `tmp` (cargo's test tmp dir) whose names start with one
/// of `prefixes`: scratch copies made by chapter tests.
pub fn test_copies(tmp: &Path, prefixes: &[&str]) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(tmp) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            prefixes.iter().any(|p| name.starts_with(p))
        })
        .map(|e| e.path())
        .collect()
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
    for cgroup in crate::host::berth_cgroups() {
        match remove_cgroup(&cgroup) {
            Ok(()) => println!("clean: removed cgroup {}", cgroup.display()),
            Err(e) => println!("clean: cannot remove cgroup {}: {e}", cgroup.display()),
        }
    }
    // Chapter 5: the networks of the chapter binary's root (its state goes
    // below), stale allocations, their port rules and veths, test
    // namespaces and bridges, chains with no network left.
    // Chapter 5's own code does it, run as a program (`lab-sweep`).
    match crate::sweep::constants() {
        Ok(c) => match crate::sweep::remove_networks(Path::new(&c.chapter_root), None) {
            Ok(report) => report.iter().for_each(|line| println!("clean: {line}")),
            Err(e) => println!("clean: networks of {}: {e:#}", c.chapter_root),
        },
        Err(e) => println!("clean: networks: {e:#}"),
    }
    match crate::sweep::sweeper(&["clean-host"]) {
        Ok(report) => report.iter().for_each(|line| println!("clean: {line}")),
        Err(e) => println!("clean: network leftovers: {e:#}"),
    }
    // Chapter 2's runs leave nothing on the host: their mounts live in the
    // container's own mount namespace, and a killed `ch02-namespaces`
    // takes its container with it (parent-death signal). Its tests' copies
    // of the fixture (files owned by mapped uids) can outlive a killed test.
    for leftover in test_copies(&target.join("tmp"), &["ch02-"]) {
        std::fs::remove_dir_all(&leftover)?;
        println!("clean: removed {}", leftover.display());
    }
    for dir in overlay_state_dirs() {
        for mount in mounts_under(&dir) {
            match umount2(mount.as_str(), MntFlags::MNT_DETACH) {
                Ok(()) => println!("clean: unmounted {mount}"),
                Err(e) => println!("clean: cannot unmount {mount}: {}", e.desc()),
            }
        }
        if !mounts_under(&dir).is_empty() {
            println!("clean: {} still has mounts, left in place", dir.display());
            continue;
        }
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => println!("clean: removed {}", dir.display()),
            Err(e) => println!("clean: cannot remove {}: {e}", dir.display()),
        }
    }
    // Chapter 6: test registries of killed tests, their scratch directories.
    for line in crate::registry::clean_leftovers() {
        println!("clean: {line}");
    }
    // The fixture, and the VM's kernel, modules and initramfs: both are
    // rebuilt on the next `cargo lab test`.
    for dir in [fixture::fixture_dir(), crate::vm::cache_dir()] {
        if dir.exists() {
            std::fs::remove_dir_all(&dir)?;
            println!("clean: removed {}", dir.display());
        }
    }
    println!("clean: done");
    Ok(())
}

/// Kills what is left in a cgroup tree (berth started it), then removes
/// the directories, deepest first.
pub fn remove_cgroup(dir: &Path) -> std::io::Result<()> {
    let mut dirs = vec![dir.to_path_buf()];
    let mut i = 0;
    while i < dirs.len() {
        if let Ok(entries) = std::fs::read_dir(&dirs[i]) {
            for entry in entries.flatten() {
                if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    dirs.push(entry.path());
                }
            }
        }
        i += 1;
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    for dir in dirs.iter().rev() {
        // A frozen v1 cgroup handles SIGKILL only once thawed.
        let _ = std::fs::write(dir.join("freezer.state"), "THAWED");
        let _ = std::fs::write(dir.join("cgroup.freeze"), "0");
        loop {
            let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
            let pids: Vec<i32> = procs
                .split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect();
            if pids.is_empty() || Instant::now() > deadline {
                break;
            }
            for pid in pids {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        loop {
            match std::fs::remove_dir(dir) {
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) && Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
                other => {
                    other?;
                    break;
                }
            }
        }
    }
    Ok(())
}

/// Chapters 4 and 5's state: the binaries' default roots
/// (`/var/lib/berth-ch04`, `/var/lib/berth-ch05`) and the temporary roots
/// their tests make (`$TMPDIR/berth-ch04-test-*`, `$TMPDIR/berth-ch05-test-*`,
/// and chapters 6 and 7's `$TMPDIR/berth-ch06-*`, `$TMPDIR/berth-ch07-*`), which a killed test run can
/// leave behind with overlays still mounted.
pub fn overlay_state_dirs() -> Vec<PathBuf> {
    let mut dirs = vec![
        PathBuf::from("/var/lib/berth-ch04"),
        PathBuf::from("/var/lib/berth-ch05"),
    ];
    let tmp = std::env::temp_dir();
    if let Ok(entries) = std::fs::read_dir(&tmp) {
        dirs.extend(
            entries
                .flatten()
                .filter(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    // Chapters 6 and 7's tests run containers in their roots too.
                    [
                        "berth-ch04-test-",
                        "berth-ch05-test-",
                        "berth-ch06-",
                        "berth-ch07-",
                    ]
                    .iter()
                    .any(|p| name.starts_with(p))
                })
                .map(|e| e.path()),
        );
    }
    dirs.retain(|d| d.exists());
    dirs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_chapter_4_test_roots() {
        let dir = tempfile_dir("berth-ch04-test-clean-");
        assert!(overlay_state_dirs().contains(&dir));
        std::fs::remove_dir(&dir).unwrap();
        assert!(!overlay_state_dirs().contains(&dir));
    }

    fn tempfile_dir(prefix: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("{prefix}{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
