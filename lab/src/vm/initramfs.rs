//! The VM image: Debian's kernel plus an initramfs holding busybox, the
//! host's networking tools with their shared libraries, the kernel modules
//! the chapters need, and the lab's init. Cached under `target/lab-vm/`,
//! keyed by a hash of every input, and rebuilt only when one changes.

use std::collections::BTreeSet;
use std::fs;
use std::io::BufWriter;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use nix::fcntl::{Flock, FlockArg};
use sha2::{Digest, Sha256};

use super::{cpio, modules, packages};
use crate::fixture::HOST_BUSYBOX;

/// Bump when the layout written below changes without an input changing.
const LAYOUT_VERSION: &str = "1";

/// The init script, PID 1 in the guest.
pub const INIT: &str = include_str!("init.sh");

/// Host programs copied into the guest: (program, Debian package).
///
/// They are the real thing, not busybox applets: busybox's `ip` cannot
/// create veth pairs and its `unshare` knows no cgroup namespace.
// ANCHOR: tools
pub const TOOLS: &[(&str, &str)] = &[
    ("bash", "bash"),
    ("ip", "iproute2"),
    ("xtables-nft-multi", "iptables"),
    ("nft", "nftables"),
    ("unshare", "util-linux"),
    ("nsenter", "util-linux"),
];
// ANCHOR_END: tools

/// Host programs copied in when the host has them: the real components the
/// image tests start (a local registry, and skopeo to seed and check it).
pub const OPTIONAL_TOOLS: &[&str] = &["docker-registry", "skopeo"];

/// Host configuration copied in when present (skopeo reads its policy).
const OPTIONAL_CONFIG: &[&str] = &[
    "/etc/containers/policy.json",
    "/etc/containers/registries.conf",
];

/// Names under which `xtables-nft-multi` runs as iptables (nf_tables backend).
const XTABLES_LINKS: &[&str] = &[
    "iptables",
    "iptables-save",
    "iptables-restore",
    "ip6tables",
    "ip6tables-save",
    "ip6tables-restore",
    "iptables-nft",
    "ip6tables-nft",
];

/// Small files written into the guest's /etc.
const ETC: &[(&str, &str)] = &[
    (
        "passwd",
        "root:x:0:0:root:/root:/usr/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
    ),
    ("group", "root:x:0:\ntty:x:5:\nnogroup:x:65534:\n"),
    (
        "hosts",
        "127.0.0.1\tlocalhost berth-lab\n::1\tlocalhost ip6-localhost ip6-loopback\n",
    ),
    (
        "os-release",
        "NAME=\"berth lab\"\nID=berth-lab\nPRETTY_NAME=\"berth lab VM (cgroup v2)\"\n",
    ),
    ("profile", "export PS1='berth-lab:\\w# '\n"),
    // berth's subordinate ids, as `cargo lab setup` adds them on a host.
    ("subuid", "berth:100000:65536\n"),
    ("subgid", "berth:100000:65536\n"),
];

/// A built image, ready to boot.
#[derive(Debug, Clone)]
pub struct Image {
    pub kernel: packages::Kernel,
    pub initramfs: PathBuf,
    /// The hash of the inputs (also part of the initramfs file name).
    pub key: String,
}

/// One host file placed in the image at `dest` (relative to the guest's `/`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct HostFile {
    dest: String,
    src: PathBuf,
}

/// Builds (or reuses) the image in `cache`. `elf_users` are host binaries
/// that will run in the guest (test binaries): their shared libraries are
/// added to the image.
pub fn build(cache: &Path, elf_users: &[PathBuf]) -> Result<Image> {
    fs::create_dir_all(cache).with_context(|| format!("creating {}", cache.display()))?;
    // Two lab commands at once build the image once: the other one waits.
    let lock = fs::File::create(cache.join("lock"))?;
    let _lock = Flock::lock(lock, FlockArg::LockExclusive)
        .map_err(|(_, e)| anyhow::anyhow!("locking {}: {e}", cache.display()))?;
    let kernel = packages::kernel(&cache.join("kernel"))?;
    kernel.uncompress();
    let modules_dir = kernel.modules_dir();
    let resolved = modules::resolve(&modules_dir, modules::MODULES, modules::ON_DEMAND)?;
    let files = host_files(elf_users)?;
    let key = input_key(&kernel, &resolved, &files)?;
    let initramfs = cache.join(format!("initramfs-{}.cpio", &key[..16]));
    let image = Image {
        kernel,
        initramfs: initramfs.clone(),
        key,
    };
    if initramfs.is_file() {
        return Ok(image);
    }
    println!("lab vm: building {}", initramfs.display());
    let stage = cache.join("stage");
    if stage.exists() {
        fs::remove_dir_all(&stage).with_context(|| format!("removing {}", stage.display()))?;
    }
    populate(&stage, &image.kernel, &resolved, &files)
        .with_context(|| format!("populating {}", stage.display()))?;
    let partial = initramfs.with_extension("partial");
    {
        let file = fs::File::create(&partial)
            .with_context(|| format!("creating {}", partial.display()))?;
        let mut out = BufWriter::new(file);
        cpio::write_tree(&stage, &mut out)?;
        std::io::Write::flush(&mut out)?;
    }
    // Older images are stale now: keep only this one.
    for entry in fs::read_dir(cache)?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("initramfs-") && name.ends_with(".cpio") {
            fs::remove_file(entry.path())?;
        }
    }
    fs::rename(&partial, &initramfs)?;
    fs::remove_dir_all(&stage)?;
    Ok(image)
}

/// Every host file the image holds, with the libraries they load.
fn host_files(elf_users: &[PathBuf]) -> Result<Vec<HostFile>> {
    let mut files = BTreeSet::new();
    if !Path::new(HOST_BUSYBOX).is_file() {
        bail!("{HOST_BUSYBOX} is missing: install it with `apt-get install busybox-static`");
    }
    files.insert(HostFile {
        dest: "usr/bin/busybox".into(),
        src: HOST_BUSYBOX.into(),
    });
    let mut elves = Vec::new();
    for (program, package) in TOOLS {
        let src = packages::find_program(program).with_context(|| {
            format!("{program} is missing on the host: install it with `apt-get install {package}`")
        })?;
        let src = fs::canonicalize(&src)?;
        files.insert(HostFile {
            dest: guest_path(&src),
            src: src.clone(),
        });
        elves.push(src);
    }
    for program in OPTIONAL_TOOLS {
        if let Some(src) = packages::find_program(program) {
            let src = fs::canonicalize(&src)?;
            files.insert(HostFile {
                dest: guest_path(&src),
                src: src.clone(),
            });
            elves.push(src);
        }
    }
    for config in OPTIONAL_CONFIG {
        if Path::new(config).is_file() {
            files.insert(HostFile {
                dest: config.trim_start_matches('/').to_string(),
                src: config.into(),
            });
        }
    }
    // iptables loads its match and target extensions with dlopen.
    let plugins = xtables_dir()?;
    for entry in fs::read_dir(&plugins)? {
        let src = entry?.path();
        if src.extension().is_some_and(|e| e == "so") {
            files.insert(HostFile {
                dest: guest_path(&src),
                src: src.clone(),
            });
            elves.push(src);
        }
    }
    elves.extend(elf_users.iter().cloned());
    for lib in shared_libraries(&elves)? {
        files.insert(HostFile {
            dest: guest_path(&lib),
            src: lib,
        });
    }
    Ok(files.into_iter().collect())
}

/// Where a host path goes in the guest, whose /bin, /sbin, /lib and /lib64
/// are links into /usr (like a merged-/usr Debian).
fn guest_path(host: &Path) -> String {
    let relative = host.to_string_lossy().trim_start_matches('/').to_string();
    if relative.starts_with("usr/") {
        relative
    } else {
        format!("usr/{relative}")
    }
}

/// The directory holding iptables' extensions (`libxt_*.so`).
fn xtables_dir() -> Result<PathBuf> {
    [
        "/usr/lib/x86_64-linux-gnu/xtables",
        "/usr/lib64/xtables",
        "/usr/lib/xtables",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.is_dir())
    .context(
        "iptables' extensions (xtables) are missing: install them with `apt-get install iptables`",
    )
}

/// The shared libraries (and the dynamic loader) that `elves` load, per `ldd`.
fn shared_libraries(elves: &[PathBuf]) -> Result<BTreeSet<PathBuf>> {
    let mut libs = BTreeSet::new();
    for chunk in elves.chunks(200) {
        let out = Command::new("ldd")
            .args(chunk)
            .output()
            .context("running ldd (package libc-bin)")?;
        let text = String::from_utf8_lossy(&out.stdout);
        let mut current = String::new();
        for line in text.lines() {
            if !line.starts_with(char::is_whitespace) {
                current = line.trim_end_matches(':').to_string();
                continue;
            }
            let line = line.trim();
            let path = match line.split_once("=>") {
                Some((name, rest)) => {
                    let rest = rest.trim();
                    if rest.starts_with("not found") {
                        bail!("{current} needs {} which is not installed", name.trim());
                    }
                    rest.split_whitespace().next().unwrap_or_default()
                }
                None => line.split_whitespace().next().unwrap_or_default(),
            };
            if path.starts_with('/') {
                libs.insert(PathBuf::from(path));
            }
        }
    }
    Ok(libs)
}

fn input_key(
    kernel: &packages::Kernel,
    resolved: &modules::Resolved,
    files: &[HostFile],
) -> Result<String> {
    let mut hasher = Sha256::new();
    hasher.update(LAYOUT_VERSION);
    hasher.update(INIT);
    for (name, text) in ETC {
        hasher.update(name);
        hasher.update(text);
    }
    for part in [&kernel.package, &kernel.version, &kernel.release] {
        hasher.update(part);
        hasher.update([0]);
    }
    for module in &resolved.ordered {
        hasher.update(&module.name);
        hasher.update([0]);
    }
    for file in files {
        hasher.update(&file.dest);
        hasher.update([0]);
        hasher.update(
            fs::read(&file.src).with_context(|| format!("reading {}", file.src.display()))?,
        );
    }
    Ok(hex::encode(hasher.finalize()))
}

fn populate(
    stage: &Path,
    kernel: &packages::Kernel,
    resolved: &modules::Resolved,
    files: &[HostFile],
) -> Result<()> {
    for dir in [
        "usr/bin",
        "usr/sbin",
        "usr/lib",
        "usr/lib64",
        "etc/lab",
        "newroot",
        "proc",
        "sys",
        "dev",
        "tmp",
        "run",
        "root",
        "mnt",
        "home",
        "var/lib",
        "var/tmp",
    ] {
        fs::create_dir_all(stage.join(dir))?;
    }
    for (link, target) in [
        ("bin", "usr/bin"),
        ("sbin", "usr/sbin"),
        ("lib", "usr/lib"),
        ("lib64", "usr/lib64"),
    ] {
        symlink(target, stage.join(link))?;
    }
    for file in files {
        let dest = stage.join(&file.dest);
        if let Some(parent) = dest.parent() {
            fs::create_dir_all(parent)?;
        }
        fs::copy(&file.src, &dest).with_context(|| format!("copying {}", file.src.display()))?;
    }
    for name in XTABLES_LINKS {
        symlink("xtables-nft-multi", stage.join("usr/sbin").join(name))?;
    }
    symlink("bash", stage.join("usr/bin/sh"))?;
    busybox_applets(stage)?;

    // Modules, then busybox's depmod for modprobe's index and aliases.
    let modules_dir = kernel.modules_dir();
    let guest_modules = stage.join("usr/lib/modules").join(&kernel.release);
    for module in &resolved.ordered {
        let dest = guest_modules.join(&module.relative);
        if let Some(parent) = dest.parent() {
            fs::create_dir_all(parent)?;
        }
        fs::copy(modules_dir.join(&module.relative), &dest)?;
    }
    for index in [
        "modules.builtin",
        "modules.builtin.modinfo",
        "modules.order",
    ] {
        let src = modules_dir.join(index);
        if src.is_file() {
            fs::copy(&src, guest_modules.join(index))?;
        }
    }
    let status = Command::new(HOST_BUSYBOX)
        .arg("depmod")
        .arg("-b")
        .arg(stage)
        .arg(&kernel.release)
        .status()
        .context("running busybox depmod")?;
    if !status.success() {
        bail!("busybox depmod failed for {}", kernel.release);
    }

    for (name, text) in ETC {
        fs::write(stage.join("etc").join(name), text)?;
    }
    let boot_modules: Vec<&str> = resolved
        .ordered
        .iter()
        .map(|m| m.name.as_str())
        .filter(|name| {
            !modules::ON_DEMAND
                .iter()
                .any(|o| modules::normalise(o) == *name)
        })
        .collect();
    fs::write(
        stage.join("etc/lab/modules"),
        boot_modules.join("\n") + "\n",
    )?;
    let init = stage.join("init");
    fs::write(&init, INIT)?;
    for exe in [init, stage.join("usr/bin/busybox")] {
        fs::set_permissions(&exe, fs::Permissions::from_mode(0o755))?;
    }
    fs::set_permissions(stage.join("tmp"), fs::Permissions::from_mode(0o1777))?;
    Ok(())
}

/// Links every busybox applet that no real program already provides.
fn busybox_applets(stage: &Path) -> Result<()> {
    let out = Command::new(HOST_BUSYBOX)
        .arg("--list")
        .output()
        .context("running busybox --list")?;
    for applet in String::from_utf8_lossy(&out.stdout).lines() {
        if applet.is_empty() || applet.contains('/') || applet == "busybox" {
            continue;
        }
        let taken = ["usr/bin", "usr/sbin"]
            .iter()
            .any(|dir| fs::symlink_metadata(stage.join(dir).join(applet)).is_ok());
        if !taken {
            symlink("busybox", stage.join("usr/bin").join(applet))?;
        }
    }
    Ok(())
}
