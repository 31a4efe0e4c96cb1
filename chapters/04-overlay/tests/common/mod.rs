//! Helpers for chapter 4's privileged tests: a throwaway state root under
//! /tmp, a shell inside a container's root, and tree fingerprints.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use ch04_overlay::mount::mount_points;
use ch04_overlay::{Container, Spec, Storage, Store};
use sha2::{Digest, Sha256};

/// The prefix of every test state root; `cargo lab clean` sweeps them.
pub const TEST_ROOT_PREFIX: &str = "berth-ch04-test-";

/// A state root that removes its containers, checks that nothing stays
/// mounted, and deletes itself when dropped.
pub struct TestRoot {
    pub dir: tempfile::TempDir,
    pub store: Store,
}

impl TestRoot {
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix(TEST_ROOT_PREFIX)
            .tempdir_in(std::env::temp_dir())
            .expect("a temporary state root");
        let store = Store::open(&dir.path().join("state")).expect("opening the store");
        TestRoot { dir, store }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A container on the fixture (or on `lowers`, when given).
    pub fn create(&self, storage: Storage, lowers: &[PathBuf]) -> Container {
        let lowers = if lowers.is_empty() {
            vec![lab::fixture::rootfs()]
        } else {
            lowers.to_vec()
        };
        self.store
            .create(&Spec {
                lowers,
                storage,
                ..Spec::default()
            })
            .unwrap_or_else(|e| panic!("create: {e}"))
    }

    /// The mounts still under this root.
    pub fn mounts(&self) -> Vec<PathBuf> {
        let root = std::fs::canonicalize(self.path()).unwrap();
        mount_points()
            .into_iter()
            .filter(|m| m.starts_with(&root))
            .collect()
    }

    /// Shows paths under this root as `<tmp>`.
    pub fn normalise(&self, text: &str) -> String {
        let root = std::fs::canonicalize(self.path()).unwrap();
        text.replace(&root.display().to_string(), "<tmp>")
            .replace(&lab::fixture::rootfs().display().to_string(), "<fixture>")
    }
}

impl Drop for TestRoot {
    fn drop(&mut self) {
        for c in self.store.list().unwrap_or_default() {
            let _ = self.store.remove(&c);
        }
        let _ = ch04_overlay::sweep::sweep(&self.store);
        let left = self.mounts();
        if !left.is_empty() {
            for m in left.iter().rev() {
                let _ = ch04_overlay::mount::unmount(m);
            }
            if !std::thread::panicking() {
                panic!("mounts left behind: {left:?}");
            }
        }
    }
}

/// Runs `script` with busybox `sh` chrooted into `root`; returns the
/// transcript `$ <script>` plus what it printed. Panics if it fails.
pub fn sh(root: &Path, script: &str) -> String {
    let out = Command::new("chroot")
        .arg(root)
        .args(["/bin/sh", "-c", script])
        .env("PATH", "/bin:/sbin:/usr/bin:/usr/sbin")
        .output()
        .expect("running chroot");
    let mut text = format!("/ # {script}\n");
    text.push_str(&String::from_utf8_lossy(&out.stdout));
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{script} failed:\n{text}");
    text
}

/// Like `sh`, but returns (exit code, output) without asserting.
pub fn try_sh(root: &Path, script: &str) -> (i32, String) {
    let out = Command::new("chroot")
        .arg(root)
        .args(["/bin/sh", "-c", script])
        .output()
        .expect("running chroot");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

/// Every node under `root`: path -> type, mode, owner, size, link target
/// and content hash (not times: a copy-up or a copy may change a
/// directory's), i.e. what a process inside sees.
pub fn view(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    walk(root, Path::new(""), false, &mut out);
    out
}

/// A fingerprint of a tree including modification times: a lower layer
/// must not change at all.
pub fn checksum(root: &Path) -> String {
    let mut out = BTreeMap::new();
    walk(root, Path::new(""), true, &mut out);
    let mut hasher = Sha256::new();
    for (path, entry) in &out {
        hasher.update(path);
        hasher.update(entry);
    }
    hex::encode(hasher.finalize())
}

fn walk(root: &Path, rel: &Path, times: bool, out: &mut BTreeMap<String, String>) {
    let path = root.join(rel);
    let meta = path.symlink_metadata().unwrap();
    let ft = meta.file_type();
    let mut entry = format!(
        "{:o} {}:{} rdev={}",
        meta.mode(),
        meta.uid(),
        meta.gid(),
        meta.rdev()
    );
    if times {
        entry.push_str(&format!(" mtime={}.{}", meta.mtime(), meta.mtime_nsec()));
    }
    if ft.is_file() {
        let data = std::fs::read(&path).unwrap();
        entry.push_str(&format!(
            " {} {}",
            data.len(),
            hex::encode(Sha256::digest(&data))
        ));
    } else if ft.is_symlink() {
        entry.push_str(&format!(
            " -> {}",
            std::fs::read_link(&path).unwrap().display()
        ));
    }
    out.insert(format!("/{}", rel.display()), entry);
    if ft.is_dir() {
        let mut names: Vec<_> = std::fs::read_dir(&path)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        for name in names {
            walk(root, &rel.join(name), times, out);
        }
    }
}
