//! `cargo lab demo`: run the newest chapter on the fixture and say what is
//! isolated and what is not yet.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::{chapters, fixture, paths, privileged, setup};

/// One thing a container may or may not have of its own.
struct Aspect {
    name: &'static str,
    /// Probe keys compared between host and container.
    keys: &'static [&'static str],
    /// Who provides it, for the "not yet" lines.
    provided_by: &'static str,
}

const ASPECTS: &[Aspect] = &[
    Aspect {
        name: "filesystem root",
        keys: &["root.id"],
        provided_by: "chapter 1: chroot",
    },
    Aspect {
        name: "process ids",
        keys: &["ns.pid"],
        provided_by: "chapter 2: pid namespace",
    },
    Aspect {
        name: "hostname",
        keys: &["ns.uts"],
        provided_by: "chapter 2: uts namespace",
    },
    Aspect {
        name: "mounts",
        keys: &["ns.mnt"],
        provided_by: "chapter 2: mount namespace + pivot_root",
    },
    Aspect {
        name: "network",
        keys: &["ns.net"],
        provided_by: "chapter 2: net namespace; chapter 5: veth + bridge",
    },
    Aspect {
        name: "IPC",
        keys: &["ns.ipc"],
        provided_by: "chapter 2: ipc namespace",
    },
    Aspect {
        name: "users",
        keys: &["ns.user"],
        provided_by: "chapter 2, off by default like Docker's: run --userns",
    },
    Aspect {
        name: "cgroup view",
        keys: &["ns.cgroup"],
        provided_by: "chapter 2: cgroup namespace",
    },
    Aspect {
        name: "clocks",
        keys: &["ns.time"],
        provided_by: "chapter 2: time namespace",
    },
    Aspect {
        name: "resource limits",
        keys: &[
            "cgroup.limit.memory.max",
            "cgroup.limit.memory/memory.limit_in_bytes",
        ],
        provided_by: "chapter 3: cgroups",
    },
];

fn parse(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn output(cmd: &mut Command) -> Result<String> {
    let out = cmd.output().with_context(|| format!("running {cmd:?}"))?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `cargo lab demo`.
pub fn run() -> Result<()> {
    if !privileged::is_root() {
        bail!(
            "the demo starts containers and needs root: run `sudo -E cargo lab demo` (or `cargo lab vm run -- cargo lab demo`)"
        );
    }
    setup::ensure_packages(setup::PACKAGES)?;
    let chapter = chapters::newest();
    let status = Command::new(paths::cargo())
        .current_dir(paths::workspace())
        .args(["build", "--quiet", "--package", chapter.package])
        .status()?;
    if !status.success() {
        bail!("building {} failed", chapter.package);
    }
    let rootfs = fixture::ensure()?;
    let bin = paths::workspace_bin(chapter.package);
    println!(
        "berth demo: chapter {} ({}), {}",
        chapter.number, chapter.package, chapter.mechanism
    );
    println!("fixture: {}", rootfs.display());
    println!();

    show(&bin, &rootfs, &["/bin/cat", "/etc/os-release"])?;
    show(
        &bin,
        &rootfs,
        &[
            "/bin/sh",
            "-c",
            "echo \"inside: pid $$, $(ls / | wc -l) entries in /\"",
        ],
    )?;

    let host = parse(&output(&mut Command::new(rootfs.join("probe")))?);
    let inside = parse(&output(
        Command::new(&bin)
            .arg("run")
            .args(chapter.every_run)
            .args(chapter.demo_options)
            .arg(&rootfs)
            .arg("/probe"),
    )?);
    if !chapter.demo_options.is_empty() {
        println!("(probed with `run {}`)", chapter.demo_options.join(" "));
    }
    println!("what the probe sees, inside versus on the host:");
    for aspect in ASPECTS {
        let differs = aspect
            .keys
            .iter()
            .any(|k| match (host.get(*k), inside.get(*k)) {
                (Some(h), Some(i)) => h != i,
                (None, Some(_)) => true,
                _ => false,
            });
        if differs {
            println!("  isolated  {:<16}", aspect.name);
        } else {
            println!("  not yet   {:<16} ({})", aspect.name, aspect.provided_by);
        }
    }
    if chapter.number >= 4 {
        show_copy_on_write(&bin, &rootfs)?;
    }
    println!();
    println!("and chapter 1's chroot escape:");
    show(&bin, &rootfs, &["/chroot-escape"])?;
    let escape = parse(&output(
        Command::new(&bin)
            .arg("run")
            .args(chapter.every_run)
            .arg(&rootfs)
            .arg("/chroot-escape"),
    )?);
    let host_root = crate::host::HostView::current().root_id;
    if escape.get("after.root.id") == Some(&host_root) {
        println!(
            "the host's / is {host_root}: the process walked out (chapter 2's pivot_root closes this)"
        );
    } else {
        println!(
            "the host's / is {host_root}: the escape ended at the container's own root (pivot_root left nothing above it)"
        );
    }
    Ok(())
}

/// Chapter 4 on: the container writes and deletes, the fixture stays whole.
fn show_copy_on_write(bin: &Path, rootfs: &Path) -> Result<()> {
    println!();
    show(
        bin,
        rootfs,
        &[
            "/bin/sh",
            "-c",
            "rm /bin/ls && echo hello > /demo-file && echo wrote /demo-file, deleted /bin/ls",
        ],
    )?;
    let intact =
        rootfs.join("bin/ls").symlink_metadata().is_ok() && !rootfs.join("demo-file").exists();
    if intact {
        println!(
            "the fixture still has /bin/ls and no /demo-file: the writes went to the container's own upper layer, removed with it (--rm)"
        );
    } else {
        println!("the fixture changed: the root is not copy-on-write");
    }
    Ok(())
}

fn show(bin: &Path, rootfs: &Path, command: &[&str]) -> Result<()> {
    let name = bin.file_name().unwrap_or_default().to_string_lossy();
    let shown: Vec<String> = command
        .iter()
        .map(|a| crate::scenario::shell_quote(a))
        .collect();
    let mut options: String = chapters::newest()
        .every_run
        .iter()
        .map(|o| format!(" {o}"))
        .collect();
    options.push_str(" <fixture>");
    println!("$ {name} run{options} {}", shown.join(" "));
    let status = Command::new(bin)
        .arg("run")
        .args(chapters::newest().every_run)
        .arg(rootfs)
        .args(command)
        .status()?;
    if !status.success() {
        println!("(exit {})", status.code().unwrap_or(-1));
    }
    println!();
    Ok(())
}
