//! The VM's two outside ingredients: QEMU on the host, and a Debian kernel
//! package downloaded with apt and unpacked into the lab's cache (never
//! installed on the host).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::apt;

/// The meta package whose dependency names the distribution's current kernel.
pub const KERNEL_META: &str = "linux-image-amd64";

/// The Debian packages the VM needs on the host besides the chapters':
/// QEMU's x86 system emulator, and xz to uncompress the kernel once.
pub const VM_PACKAGES: &[&str] = &["qemu-system-x86", "xz-utils"];

/// Installs QEMU (and xz) when `qemu-system-x86_64` does not run: from
/// bookworm-backports on Debian 12 (see [`crate::apt`]), otherwise from the
/// distribution. As a non-root user, fails with the command to run.
pub fn ensure_qemu() -> Result<()> {
    let source = apt::Distro::host().qemu_source();
    if runs(find_program("qemu-system-x86_64").as_deref()) {
        return apt::ensure(&VM_PACKAGES[1..], apt::Source::Distribution);
    }
    apt::ensure(&VM_PACKAGES[..1], source)?;
    apt::ensure(&VM_PACKAGES[1..], apt::Source::Distribution)?;
    if !runs(find_program("qemu-system-x86_64").as_deref()) {
        // Installed but not runnable (a broken or partial install).
        let fix = apt::install_command(&["--reinstall qemu-system-x86".into()], source);
        bail!("qemu-system-x86_64 does not run: reinstall it with `{fix}`");
    }
    Ok(())
}

/// The QEMU system emulator, installed first when missing ([`ensure_qemu`]).
pub fn qemu() -> Result<PathBuf> {
    ensure_qemu()?;
    find_program("qemu-system-x86_64").context("qemu-system-x86_64 is not on PATH")
}

fn runs(program: Option<&Path>) -> bool {
    program.is_some_and(|p| {
        Command::new(p)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

/// Finds `name` in `PATH`, then in the sbin directories (not always in a user's PATH).
pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// An unpacked kernel package in the cache.
#[derive(Debug, Clone)]
pub struct Kernel {
    /// The package, e.g. `linux-image-6.1.0-56-amd64`.
    pub package: String,
    /// The package version, e.g. `6.1.192-2`.
    pub version: String,
    /// The kernel release (`uname -r` in the guest), e.g. `6.1.0-56-amd64`.
    pub release: String,
    /// Where `dpkg -x` unpacked the package.
    pub root: PathBuf,
}

impl Kernel {
    /// The bootable kernel image.
    pub fn vmlinuz(&self) -> PathBuf {
        self.root
            .join("boot")
            .join(format!("vmlinuz-{}", self.release))
    }

    /// What QEMU boots: the uncompressed kernel when it can be made (see
    /// [`Kernel::uncompress`]), otherwise the compressed `vmlinuz`.
    pub fn boot_image(&self) -> PathBuf {
        let vmlinux = self.vmlinux();
        if vmlinux.is_file() {
            vmlinux
        } else {
            self.vmlinuz()
        }
    }

    fn vmlinux(&self) -> PathBuf {
        self.root
            .join("boot")
            .join(format!("vmlinux-{}", self.release))
    }

    /// Unpacks the xz payload of `vmlinuz` into `vmlinux`, once. Under TCG
    /// the kernel's own decompressor takes seconds; QEMU can boot the ELF
    /// directly instead (PVH entry point). Best effort: on any failure the
    /// VM boots `vmlinuz` as it is.
    pub fn uncompress(&self) {
        let vmlinux = self.vmlinux();
        let config = self
            .root
            .join("boot")
            .join(format!("config-{}", self.release));
        let config = fs::read_to_string(config).unwrap_or_default();
        let pvh_xz = ["CONFIG_PVH=y", "CONFIG_KERNEL_XZ=y"]
            .iter()
            .all(|opt| config.lines().any(|l| l == *opt));
        if vmlinux.is_file() || !pvh_xz {
            return;
        }
        let Ok(image) = fs::read(self.vmlinuz()) else {
            return;
        };
        const XZ_MAGIC: &[u8] = b"\xfd7zXZ\x00";
        let Some(start) = image.windows(XZ_MAGIC.len()).position(|w| w == XZ_MAGIC) else {
            return;
        };
        let partial = vmlinux.with_extension("partial");
        let Ok(mut child) = Command::new("xz")
            .args(["--decompress", "--stdout", "--single-stream", "--quiet"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
        else {
            return;
        };
        let payload = image[start..].to_vec();
        let stdin = child.stdin.take();
        let writer = std::thread::spawn(move || {
            if let Some(mut stdin) = stdin {
                // xz stops reading after its one stream: ignore the broken pipe.
                let _ = std::io::Write::write_all(&mut stdin, &payload);
            }
        });
        let out = child.wait_with_output();
        let _ = writer.join();
        if let Ok(out) = out
            && out.stdout.starts_with(b"\x7fELF")
            && fs::write(&partial, &out.stdout).is_ok()
        {
            let _ = fs::rename(&partial, &vmlinux);
        }
    }

    /// `lib/modules/<release>` inside the unpacked package.
    pub fn modules_dir(&self) -> PathBuf {
        self.root.join("lib/modules").join(&self.release)
    }
}

/// Returns the distribution's kernel, downloading and unpacking it into
/// `cache` the first time (one directory per package version).
pub fn kernel(cache: &Path) -> Result<Kernel> {
    let (package, version) = match kernel_package() {
        Ok(found) => found,
        Err(e) => match newest_cached(cache) {
            Some(cached) => {
                eprintln!("lab vm: {e:#}; using the cached {}", cached.package);
                return Ok(cached);
            }
            None => return Err(e),
        },
    };
    let dir = cache.join(format!("{package}_{version}"));
    let root = dir.join("root");
    if dir.join("complete").is_file() {
        return read_kernel(&dir, &package, &version);
    }
    if dir.exists() {
        fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    println!(
        "lab vm: downloading {package} {version} (unpacked under {}, not installed)",
        dir.display()
    );
    let status = Command::new("apt-get")
        .current_dir(&dir)
        .args(["download", "-q", &format!("{package}={version}")])
        .status()
        .context("running apt-get (is this a Debian host?)")?;
    if !status.success() {
        bail!("`apt-get download {package}={version}` failed: run `apt-get update` and try again");
    }
    let deb = fs::read_dir(&dir)?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "deb"))
        .context("apt-get download left no .deb file")?;
    let status = Command::new("dpkg")
        .arg("-x")
        .arg(&deb)
        .arg(&root)
        .status()
        .context("running dpkg -x")?;
    if !status.success() {
        bail!("`dpkg -x {}` failed", deb.display());
    }
    fs::remove_file(&deb)?;
    fs::write(dir.join("complete"), format!("{package} {version}\n"))?;
    // Older kernels are about 400 MB each and no longer used.
    for entry in fs::read_dir(cache)?.flatten() {
        if entry.path() != dir && entry.path().join("complete").is_file() {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
    read_kernel(&dir, &package, &version)
}

/// Asks apt which kernel package `linux-image-amd64` depends on, and its version.
fn kernel_package() -> Result<(String, String)> {
    let missing = || {
        format!(
            "apt does not know {KERNEL_META}: run `apt-get update` (the lab boots Debian's kernel)"
        )
    };
    let out = Command::new("apt-cache")
        .args(["depends", KERNEL_META])
        .output()
        .context("running apt-cache (the lab VM needs a Debian host or the Vagrant box)")?;
    let text = String::from_utf8_lossy(&out.stdout);
    let package = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Depends: "))
        .find(|p| p.starts_with("linux-image-"))
        .map(str::to_string)
        .with_context(missing)?;
    let out = Command::new("apt-cache")
        .args(["show", "--no-all-versions", &package])
        .output()
        .context("running apt-cache show")?;
    let text = String::from_utf8_lossy(&out.stdout);
    let version = text
        .lines()
        .find_map(|l| l.strip_prefix("Version: "))
        .map(|v| v.trim().to_string())
        .with_context(missing)?;
    Ok((package, version))
}

fn newest_cached(cache: &Path) -> Option<Kernel> {
    let mut dirs: Vec<PathBuf> = fs::read_dir(cache)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("complete").is_file())
        .collect();
    dirs.sort();
    let dir = dirs.pop()?;
    let stamp = fs::read_to_string(dir.join("complete")).ok()?;
    let mut words = stamp.split_whitespace();
    let (package, version) = (words.next()?, words.next()?);
    read_kernel(&dir, package, version).ok()
}

fn read_kernel(dir: &Path, package: &str, version: &str) -> Result<Kernel> {
    let root = dir.join("root");
    let modules = root.join("lib/modules");
    let release = fs::read_dir(&modules)
        .with_context(|| format!("reading {}", modules.display()))?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|name| root.join("boot").join(format!("vmlinuz-{name}")).is_file())
        .with_context(|| {
            format!(
                "{} holds no kernel: remove {} and run `cargo lab vm build` again",
                package,
                dir.display()
            )
        })?;
    Ok(Kernel {
        package: package.to_string(),
        version: version.to_string(),
        release,
        root,
    })
}
