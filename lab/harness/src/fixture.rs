//! The busybox fixture: a minimal root filesystem every chapter runs.
//!
//! Built once from the host's busybox-static plus the statically linked
//! probe and chroot-escape binaries, cached under `target/berth-fixture/`,
//! and rebuilt only when an input changes (the stamp holds their hash).
//! Tests must treat it as read-only: chapter 4 proves it stays unchanged.

use std::fs::{self, File};
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use anyhow::{Context, Result, bail};
use nix::fcntl::{Flock, FlockArg};
use sha2::{Digest, Sha256};

use crate::paths;

/// Where the host's busybox-static lives (Debian package `busybox-static`).
pub const HOST_BUSYBOX: &str = "/bin/busybox";

/// Bump when the layout written below changes.
const FIXTURE_VERSION: &str = "1";

/// The static binaries copied into the fixture root: (package, binary).
pub const STATIC_BINARIES: &[(&str, &str)] =
    &[("probe", "probe"), ("ch01-chroot", "chroot-escape")];

/// The directory holding the fixture, its stamp and its lock.
pub fn fixture_dir() -> PathBuf {
    paths::target_dir().join("berth-fixture")
}

/// The fixture root filesystem, built on first use in this process.
///
/// Panics with the reason on failure: callers are tests and the lab.
pub fn rootfs() -> PathBuf {
    static ROOTFS: OnceLock<PathBuf> = OnceLock::new();
    ROOTFS
        .get_or_init(|| match ensure() {
            Ok(path) => path,
            Err(e) => panic!("cannot build the busybox fixture: {e:#}"),
        })
        .clone()
}

/// Builds the fixture if it is missing or stale and returns its root.
///
/// Set `BERTH_PREBUILT_FIXTURE=1` (the lab VM does) to use the fixture
/// as it is without calling cargo.
pub fn ensure() -> Result<PathBuf> {
    let dir = fixture_dir();
    let root = dir.join("rootfs");
    if std::env::var("BERTH_PREBUILT_FIXTURE").is_ok_and(|v| v == "1") {
        if !root.join("probe").exists() {
            bail!("BERTH_PREBUILT_FIXTURE=1 but {} is missing", root.display());
        }
        return Ok(root);
    }
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    // Concurrent test binaries build it once: the others wait here.
    let lock = File::create(dir.join("lock"))?;
    let _lock = Flock::lock(lock, FlockArg::LockExclusive)
        .map_err(|(_, e)| anyhow::anyhow!("locking the fixture: {e}"))?;

    let binaries = build_static_binaries()?;
    let stamp = input_hash(&binaries)?;
    let stamp_file = dir.join("stamp");
    if root.is_dir() && fs::read_to_string(&stamp_file).is_ok_and(|s| s == stamp) {
        return Ok(root);
    }
    let staging = dir.join("rootfs.new");
    if staging.exists() {
        fs::remove_dir_all(&staging)?;
    }
    populate(&staging, &binaries).with_context(|| format!("populating {}", staging.display()))?;
    if root.exists() {
        fs::remove_dir_all(&root).with_context(|| format!("removing old {}", root.display()))?;
    }
    fs::rename(&staging, &root)?;
    fs::write(&stamp_file, &stamp)?;
    Ok(root)
}

/// Builds the probe and chroot-escape statically and returns their paths.
pub fn build_static_binaries() -> Result<Vec<(String, PathBuf)>> {
    let triple = "x86_64-unknown-linux-gnu";
    let target_dir = paths::target_dir().join("static");
    let mut cmd = Command::new(paths::cargo());
    cmd.current_dir(paths::workspace())
        .args([
            "build",
            "--quiet",
            "--release",
            "--locked",
            "--target",
            triple,
        ])
        .arg("--target-dir")
        .arg(&target_dir)
        // With --target, RUSTFLAGS reach only the target crates, not build scripts.
        .env("RUSTFLAGS", "-C target-feature=+crt-static")
        .env_remove("CARGO_TARGET_DIR");
    for (package, bin) in STATIC_BINARIES {
        cmd.args(["--package", package, "--bin", bin]);
    }
    let status = cmd
        .status()
        .with_context(|| format!("running {}", paths::cargo().display()))?;
    if !status.success() {
        bail!("building the static probe failed ({status})");
    }
    Ok(STATIC_BINARIES
        .iter()
        .map(|(_, bin)| {
            (
                bin.to_string(),
                target_dir.join(triple).join("release").join(bin),
            )
        })
        .collect())
}

fn input_hash(binaries: &[(String, PathBuf)]) -> Result<String> {
    let mut hasher = Sha256::new();
    hasher.update(FIXTURE_VERSION);
    let busybox = fs::read(HOST_BUSYBOX).with_context(|| {
        format!("reading {HOST_BUSYBOX}: install it with `apt-get install busybox-static`")
    })?;
    hasher.update(&busybox);
    for (name, path) in binaries {
        hasher.update(name);
        hasher.update(fs::read(path).with_context(|| format!("reading {}", path.display()))?);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// Files written into the fixture as they are.
const FILES: &[(&str, &str, u32)] = &[
    (
        "etc/passwd",
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
        0o644,
    ),
    ("etc/group", "root:x:0:\nnogroup:x:65534:\n", 0o644),
    (
        "etc/hosts",
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n",
        0o644,
    ),
    (
        "etc/os-release",
        "NAME=\"berth fixture\"\nID=berth-fixture\nPRETTY_NAME=\"berth busybox fixture\"\n",
        0o644,
    ),
    ("www/index.html", "hello from berth\n", 0o644),
];

/// Directories created empty, with their modes.
const DIRS: &[(&str, u32)] = &[
    ("bin", 0o755),
    ("sbin", 0o755),
    ("usr/bin", 0o755),
    ("usr/sbin", 0o755),
    ("etc", 0o755),
    ("dev", 0o755),
    ("proc", 0o555),
    ("sys", 0o555),
    ("tmp", 0o1777),
    ("var/tmp", 0o1777),
    ("run", 0o755),
    ("root", 0o700),
    ("home", 0o755),
    ("mnt", 0o755),
    ("www", 0o755),
];

fn populate(root: &Path, binaries: &[(String, PathBuf)]) -> Result<()> {
    for (dir, mode) in DIRS {
        let path = root.join(dir);
        fs::create_dir_all(&path)?;
        fs::set_permissions(&path, fs::Permissions::from_mode(*mode))?;
    }
    fs::copy(HOST_BUSYBOX, root.join("bin/busybox"))?;
    for applet in applets()? {
        let link = root.join(&applet);
        if applet == "bin/busybox" || link.exists() {
            continue;
        }
        if let Some(parent) = link.parent() {
            fs::create_dir_all(parent)?;
        }
        symlink("/bin/busybox", &link)?;
    }
    for (path, text, mode) in FILES {
        let path = root.join(path);
        fs::write(&path, text)?;
        fs::set_permissions(&path, fs::Permissions::from_mode(*mode))?;
    }
    for (name, built) in binaries {
        let dest = root.join(name);
        fs::copy(built, &dest).with_context(|| format!("copying {}", built.display()))?;
        fs::set_permissions(&dest, fs::Permissions::from_mode(0o755))?;
    }
    Ok(())
}

/// The applet paths busybox knows, relative to `/` (`bin/ls`, `usr/bin/wget`, ...).
fn applets() -> Result<Vec<String>> {
    let out = Command::new(HOST_BUSYBOX)
        .arg("--list-full")
        .output()
        .with_context(|| format!("running {HOST_BUSYBOX} --list-full"))?;
    if !out.status.success() {
        bail!("{HOST_BUSYBOX} --list-full failed");
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim_start_matches('/').to_string())
        .filter(|l| !l.is_empty() && !l.contains(".."))
        .collect())
}
