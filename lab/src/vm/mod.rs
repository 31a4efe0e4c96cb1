//! `cargo lab vm`: a throwaway QEMU VM with a pure cgroup v2 kernel.
//!
//! The image is Debian's kernel and a small initramfs built from host
//! packages ([`initramfs`]); the repository and its target directory are
//! shared into the guest at the same absolute paths over 9p, so binaries
//! built on the host run there unchanged ([`qemu`]). [`suite`] boots it once
//! and runs every test binary inside as root.

pub mod cpio;
pub mod initramfs;
pub mod modules;
pub mod packages;
pub mod qemu;
pub mod suite;

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};

use crate::paths;

/// `cargo lab vm ...`
#[derive(Args, Debug, Clone)]
pub struct VmArgs {
    #[command(subcommand)]
    pub command: VmCommand,
    #[command(flatten)]
    pub machine: MachineArgs,
}

/// The VM's size and accelerator, accepted after any `vm` subcommand.
#[derive(Args, Debug, Clone)]
pub struct MachineArgs {
    /// Guest memory in MiB.
    #[arg(long, global = true, default_value_t = 2048, value_parser = clap::value_parser!(u32).range(256..))]
    pub memory: u32,
    /// Virtual CPUs.
    #[arg(long, global = true, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub cpus: u32,
    /// Use KVM instead of TCG emulation (never chosen automatically: a
    /// /dev/kvm that cannot run the guest hangs or aborts QEMU).
    #[arg(long, global = true)]
    pub kvm: bool,
    /// Stop the VM after this many seconds (`test` and `run`).
    #[arg(long, global = true, value_name = "SECONDS", default_value_t = 3600)]
    pub timeout: u64,
}

impl Default for MachineArgs {
    fn default() -> Self {
        MachineArgs {
            memory: 2048,
            cpus: 2,
            kvm: false,
            timeout: 3600,
        }
    }
}

impl MachineArgs {
    /// The QEMU machine these options describe.
    pub fn to_machine(&self) -> qemu::Machine {
        qemu::Machine {
            memory: self.memory,
            cpus: self.cpus,
            kvm: self.kvm,
            timeout: std::time::Duration::from_secs(self.timeout),
        }
    }
}

#[derive(Subcommand, Debug, Clone)]
pub enum VmCommand {
    /// Download the kernel package and build the initramfs (cached; rebuilt when an input changes).
    Build,
    /// Build the test binaries on the host, boot the VM once, run them all inside as root.
    Test {
        /// Build and run only these packages' tests (default: the whole workspace).
        #[arg(short, long = "package", value_name = "PACKAGE")]
        packages: Vec<String>,
        /// Arguments for every test binary (e.g. `-- --test-threads 1 chroot`).
        #[arg(last = true)]
        test_args: Vec<String>,
    },
    /// An interactive root shell in the VM (Ctrl-D powers it off).
    Shell,
    /// Run one command in the VM as root, from the current directory if it is shared.
    Run {
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
        command: Vec<String>,
    },
}

/// Runs `cargo lab vm ...`.
pub fn run(args: &VmArgs) -> Result<()> {
    let machine = args.machine.to_machine();
    match &args.command {
        VmCommand::Build => {
            packages::qemu()?;
            let image = initramfs::build(&cache_dir(), &[std::env::current_exe()?])?;
            println!(
                "kernel: {} ({} {})",
                image.kernel.boot_image().display(),
                image.kernel.package,
                image.kernel.version
            );
            println!("initramfs: {}", image.initramfs.display());
            Ok(())
        }
        VmCommand::Test {
            packages,
            test_args,
        } => {
            let totals = suite::run(&machine, packages, test_args)?;
            if totals.failed > 0 {
                std::process::exit(1);
            }
            Ok(())
        }
        VmCommand::Shell => {
            let qemu = packages::qemu()?;
            let image = initramfs::build(&cache_dir(), &[])?;
            let cwd = shared_cwd().unwrap_or_else(paths::workspace);
            let cmd = qemu::command(
                &qemu,
                &image,
                &machine,
                &shares()?,
                &qemu::Task::Shell { cwd },
            )?;
            println!("lab vm: booting (TCG emulation takes ~10 s); Ctrl-A X kills the VM");
            qemu::interactive(cmd)?;
            Ok(())
        }
        VmCommand::Run { command } => {
            let cwd = shared_cwd().unwrap_or_else(paths::workspace);
            let mut script = format!("cd {} || exit 125\n", quote(&cwd.to_string_lossy()));
            script.push_str(
                &command
                    .iter()
                    .map(|a| quote(a))
                    .collect::<Vec<_>>()
                    .join(" "),
            );
            script.push('\n');
            let outcome = boot_script(&machine, &script, &[], |_, _| qemu::Echo::Show)?;
            let status = outcome.status.unwrap_or(125);
            if status != 0 {
                std::process::exit(status);
            }
            Ok(())
        }
    }
}

/// The lab's VM cache: `target/lab-vm/`.
pub fn cache_dir() -> PathBuf {
    paths::target_dir().join("lab-vm")
}

/// The host directories the guest mounts: the workspace, and the target
/// directory when it lives elsewhere (`CARGO_TARGET_DIR`). The target's
/// `tmp/` (integration tests' `CARGO_TARGET_TMPDIR`) is a tmpfs in the
/// guest, so tests can put overlayfs upper layers there.
pub fn shares() -> Result<Vec<qemu::Share>> {
    let workspace = paths::workspace();
    let target = paths::target_dir();
    fs::create_dir_all(&target).with_context(|| format!("creating {}", target.display()))?;
    let scratch = vec![target.join("tmp")];
    if target.starts_with(&workspace) {
        return Ok(vec![qemu::Share {
            tag: "workspace".into(),
            path: workspace,
            scratch,
        }]);
    }
    Ok(vec![
        qemu::Share {
            tag: "workspace".into(),
            path: workspace,
            scratch: Vec::new(),
        },
        qemu::Share {
            tag: "target".into(),
            path: target,
            scratch,
        },
    ])
}

/// The current directory, when the guest can see it.
fn shared_cwd() -> Option<PathBuf> {
    let cwd = std::env::current_dir().ok()?;
    let shares = shares().ok()?;
    shares
        .iter()
        .any(|s| cwd.starts_with(&s.path))
        .then_some(cwd)
}

/// Boots the VM once to run `script` (bash) with `elf_users`' libraries in
/// the image, streaming its output through `observe`.
pub fn boot_script(
    machine: &qemu::Machine,
    script: &str,
    elf_users: &[PathBuf],
    observe: impl FnMut(&str, std::time::Duration) -> qemu::Echo,
) -> Result<qemu::Outcome> {
    let qemu_bin = packages::qemu()?;
    let cache = cache_dir();
    let mut users = elf_users.to_vec();
    users.push(std::env::current_exe()?);
    let image = initramfs::build(&cache, &users)?;
    let runs = cache.join("runs");
    fs::create_dir_all(&runs)?;
    let script_path = runs.join(format!("run-{}.sh", std::process::id()));
    fs::write(&script_path, script)
        .with_context(|| format!("writing {}", script_path.display()))?;
    let cmd = qemu::command(
        &qemu_bin,
        &image,
        machine,
        &shares()?,
        &qemu::Task::Script(script_path.clone()),
    )?;
    println!(
        "lab vm: booting {} under {} ({} MiB, {} CPUs)",
        image.kernel.release,
        if machine.kvm { "KVM" } else { "TCG emulation" },
        machine.memory,
        machine.cpus
    );
    let outcome = qemu::stream(cmd, machine.timeout, observe);
    let _ = fs::remove_file(&script_path);
    let outcome = if machine.kvm {
        outcome.context("booting with --kvm failed; without --kvm the lab uses TCG emulation, which works everywhere")?
    } else {
        outcome?
    };
    check_cgroups(outcome.cgroup_line.as_deref())?;
    Ok(outcome)
}

/// The controllers the guest must offer: what chapter 3 limits.
pub const REQUIRED_CONTROLLERS: &[&str] = &["cpuset", "cpu", "io", "memory", "pids"];

fn check_cgroups(line: Option<&str>) -> Result<()> {
    let Some(line) = line else {
        bail!("the VM did not report its cgroup layout");
    };
    let missing: Vec<&str> = REQUIRED_CONTROLLERS
        .iter()
        .filter(|c| {
            !line
                .split(|ch: char| !ch.is_alphanumeric())
                .any(|w| w == **c)
        })
        .copied()
        .collect();
    if !line.starts_with("cgroup: v2") || !missing.is_empty() {
        bail!(
            "the VM's cgroup layout is not pure v2 with {}: {line}",
            REQUIRED_CONTROLLERS.join(" ")
        );
    }
    Ok(())
}

/// Quotes `word` for bash.
pub fn quote(word: &str) -> String {
    if !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-=:+,@%".contains(c))
    {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// True when `path` is inside one of `shares`.
pub fn is_shared(path: &Path, shares: &[qemu::Share]) -> bool {
    shares.iter().any(|s| path.starts_with(&s.path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_for_bash() {
        assert_eq!(quote("ls"), "ls");
        assert_eq!(quote("/work/main"), "/work/main");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote(""), "''");
    }

    #[test]
    fn cgroup_line_must_be_v2_with_the_controllers() {
        assert!(
            check_cgroups(Some(
                "cgroup: v2 (cpuset cpu io memory hugetlb pids rdma misc)"
            ))
            .is_ok()
        );
        assert!(check_cgroups(Some("cgroup: v2 (cpu memory)")).is_err());
        assert!(check_cgroups(None).is_err());
    }
}
