//! `cargo lab setup`: check the host and install the packages berth needs.

use std::io::Write;
use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::apt;
use crate::host::CgroupLayout;

/// Debian packages the lab and the chapters need on the host.
pub const PACKAGES: &[&str] = &[
    "busybox-static",
    "iproute2",
    "iptables",
    "nftables",
    "docker-registry",
    "skopeo",
    // containerd, ctr and its runc shim, and dockerd on top of them:
    // berth-runtime's real clients.
    "containerd",
    "docker.io",
];

/// One line of the setup report.
pub struct Check {
    pub name: &'static str,
    pub ok: bool,
    pub detail: String,
}

/// Inspects the host: kernel, namespaces, cgroups, overlay, iptables.
pub fn host_checks() -> Vec<Check> {
    let kernel = nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_else(|_| "unknown".into());
    let mut namespaces: Vec<String> = std::fs::read_dir("/proc/self/ns")
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    namespaces.sort();
    let wanted = ["cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"];
    let missing: Vec<&str> = wanted
        .iter()
        .filter(|n| !namespaces.iter().any(|have| have == *n))
        .copied()
        .collect();
    let layout = CgroupLayout::detect();
    let filesystems = std::fs::read_to_string("/proc/filesystems").unwrap_or_default();
    let overlay = filesystems.contains("overlay")
        || Command::new("modprobe")
            .arg("overlay")
            .status()
            .is_ok_and(|s| s.success());
    let iptables = Command::new("iptables")
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    vec![
        Check {
            name: "kernel",
            ok: true,
            detail: kernel,
        },
        Check {
            name: "namespaces",
            ok: missing.is_empty(),
            detail: if missing.is_empty() {
                namespaces.join(" ")
            } else {
                format!("missing: {}", missing.join(" "))
            },
        },
        Check {
            name: "cgroups",
            ok: layout != CgroupLayout::None,
            detail: layout.describe(),
        },
        Check {
            name: "overlay",
            ok: overlay,
            detail: if overlay {
                "available".into()
            } else {
                "not available".into()
            },
        },
        Check {
            name: "iptables",
            ok: iptables.is_some(),
            detail: iptables.unwrap_or_else(|| "not found (apt-get install iptables)".into()),
        },
    ]
}

/// Installs the host's packages and the VM's QEMU when missing (as root),
/// or fails with the command that would.
pub fn ensure_all() -> Result<()> {
    apt::ensure(PACKAGES, apt::Source::Distribution)?;
    crate::vm::packages::ensure_qemu()?;
    if nix::unistd::geteuid().is_root() {
        for file in SUBID_FILES {
            ensure_subordinate_ids(Path::new(file))?;
        }
    }
    Ok(())
}

/// Where the host hands out subordinate ids (`--userns=private` maps a
/// container's root to berth's range there, as Docker's userns-remap
/// maps it to dockremap's).
pub const SUBID_FILES: [&str; 2] = ["/etc/subuid", "/etc/subgid"];

/// Adds a range of 65536 ids for `berth` to `file`, after every range
/// there, unless berth has one.
pub fn ensure_subordinate_ids(file: &Path) -> Result<()> {
    let text = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => bail!("reading {}: {e}", file.display()),
    };
    let Some(line) = subordinate_line(&text) else {
        return Ok(());
    };
    let mut out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)
        .with_context(|| format!("opening {}", file.display()))?;
    let lead = if text.is_empty() || text.ends_with('\n') {
        ""
    } else {
        "\n"
    };
    out.write_all(format!("{lead}{line}\n").as_bytes())
        .with_context(|| format!("writing {}", file.display()))
}

/// The line to add for berth, or None when it has a range already.
fn subordinate_line(text: &str) -> Option<String> {
    let ranges: Vec<(&str, u64, u64)> = text
        .lines()
        .filter_map(|l| {
            let mut f = l.trim().split(':');
            Some((f.next()?, f.next()?.parse().ok()?, f.next()?.parse().ok()?))
        })
        .collect();
    if ranges.iter().any(|(owner, _, _)| *owner == "berth") {
        return None;
    }
    let start = ranges
        .iter()
        .map(|(_, start, count)| start + count)
        .fold(100_000, u64::max);
    Some(format!("berth:{start}:65536"))
}

/// `cargo lab setup`: installs what is missing, then prints the report.
pub fn run() -> Result<()> {
    ensure_all()?;
    let mut ok = true;
    for check in host_checks() {
        println!(
            "{:<11} {:<4} {}",
            check.name,
            if check.ok { "ok" } else { "FAIL" },
            check.detail
        );
        ok &= check.ok;
    }
    println!("{:<11} {:<4} {}", "packages", "ok", PACKAGES.join(" "));
    for file in SUBID_FILES {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        let line = text.lines().find(|l| l.starts_with("berth:"));
        let (state, detail) = match line {
            Some(line) => ("ok", format!("{line} in {file} (--userns=private)")),
            None => (
                "-",
                format!("no range for berth in {file}: `sudo cargo lab setup` adds one"),
            ),
        };
        println!("{:<11} {:<4} {detail}", "subids", state);
    }
    let qemu = crate::vm::packages::qemu()?;
    println!("{:<11} {:<4} {} (the lab VM)", "qemu", "ok", qemu.display());
    if !ok {
        bail!("the host lacks something berth needs (see FAIL above)");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn berth_gets_a_range_after_the_others() {
        assert_eq!(subordinate_line("").as_deref(), Some("berth:100000:65536"));
        assert_eq!(
            subordinate_line("alice:100000:65536\nbob:165536:65536\n").as_deref(),
            Some("berth:231072:65536")
        );
        assert_eq!(subordinate_line("berth:300000:1000\n"), None);
    }
}
