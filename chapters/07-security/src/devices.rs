//! Which devices a container may create and open: the device controller
//! of cgroups, and `--device` to add one of the host's.
//!
//! `CAP_MKNOD` lets root make a node for any device number, and an open
//! node reaches the driver: `mknod /dev/sda b 8 0` would give the host's
//! disk. The device controller answers every `mknod` and `open` of a
//! device node with an allow list: on cgroup v1 the `devices` hierarchy's
//! `devices.deny`/`devices.allow` files; on cgroup v2 there are no files,
//! only a BPF program of type `BPF_PROG_TYPE_CGROUP_DEVICE` attached to
//! the cgroup ([`crate::devices_bpf`]). Where both exist (hybrid hosts)
//! both are set, and both must allow.

use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use ch02_namespaces::namespaces::Namespace;
use ch02_namespaces::{ChildContext, ChildStep, ParentContext, ParentStep};
use ch03_cgroups::layout::{Hierarchy, Layout};
use nix::sys::stat::{Mode, SFlag, makedev, mknod};

use crate::{Error, Result};

/// One rule: block or character device, major and minor (`None`: any),
/// and the access allowed: `r`ead, `w`rite, `m`knod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRule {
    pub block: bool,
    pub major: Option<u32>,
    pub minor: Option<u32>,
    pub access: String,
}

impl DeviceRule {
    const fn char(major: u32, minor: Option<u32>) -> DeviceRule {
        DeviceRule {
            block: false,
            major: Some(major),
            minor,
            access: String::new(),
        }
    }

    /// The v1 syntax: `c 1:3 rwm`, `c 136:* rwm`.
    pub fn v1_line(&self) -> String {
        let n = |v: Option<u32>| v.map_or("*".to_string(), |v| v.to_string());
        let access = if self.access.is_empty() {
            "rwm"
        } else {
            &self.access
        };
        format!(
            "{} {}:{} {access}",
            if self.block { 'b' } else { 'c' },
            n(self.major),
            n(self.minor)
        )
    }
}

// ANCHOR: allowed
/// What every container may use: chapter 2's default devices, the
/// console, its own ptys (`/dev/pts/ptmx` is 5:2, the ptys 136:*).
/// Nothing else, not even `mknod` of another number (Docker allows
/// `mknod` of any number and refuses only the open: we refuse both).
pub const DEFAULT_RULES: &[DeviceRule] = &[
    DeviceRule::char(1, Some(3)), // null
    DeviceRule::char(1, Some(5)), // zero
    DeviceRule::char(1, Some(7)), // full
    DeviceRule::char(1, Some(8)), // random
    DeviceRule::char(1, Some(9)), // urandom
    DeviceRule::char(5, Some(0)), // tty
    DeviceRule::char(5, Some(1)), // console
    DeviceRule::char(5, Some(2)), // ptmx
    DeviceRule::char(136, None),  // the ptys
];
// ANCHOR_END: allowed

/// `--device HOST[:CONTAINER[:PERMISSIONS]]`: one of the host's devices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostDevice {
    pub host: PathBuf,
    pub container: PathBuf,
    pub rule: DeviceRule,
    /// The node's permission bits on the host.
    pub mode: u32,
}

/// Parses `--device` and looks the device up on the host.
pub fn parse_device(text: &str) -> Result<HostDevice> {
    let mut parts = text.splitn(3, ':');
    let host = PathBuf::from(parts.next().unwrap_or_default());
    let container = parts
        .next()
        .map(PathBuf::from)
        .unwrap_or_else(|| host.clone());
    let access = parts.next().unwrap_or("rwm").to_string();
    let usage = |why: &str| {
        Error::engine(format!(
            "invalid --device {text:?}: {why} (use HOST[:CONTAINER[:rwm]], such as /dev/fuse)"
        ))
    };
    if !host.is_absolute() || !container.is_absolute() {
        return Err(usage("paths must be absolute"));
    }
    if access.is_empty() || !access.chars().all(|c| "rwm".contains(c)) {
        return Err(usage("permissions are letters of rwm"));
    }
    let meta = std::fs::metadata(&host).map_err(|e| {
        Error::engine(format!(
            "--device {}: {}",
            host.display(),
            ch02_namespaces::io_reason(&e)
        ))
    })?;
    let kind = meta.file_type();
    if !kind.is_block_device() && !kind.is_char_device() {
        return Err(usage("not a device node"));
    }
    let rdev = meta.rdev();
    Ok(HostDevice {
        rule: DeviceRule {
            block: kind.is_block_device(),
            major: Some(libc::major(rdev)),
            minor: Some(libc::minor(rdev)),
            access,
        },
        host,
        container,
        mode: meta.permissions().mode() & 0o7777,
    })
}

/// Every device node of the host's `/dev` (and one level below it, where
/// `/dev/net/tun` and `/dev/dri/*` live), as `--privileged` gives them, as
/// Docker does. The container's own `pts`, `shm` and `mqueue`, and the
/// nodes chapter 2 makes, are left out.
pub fn host_devices() -> Vec<HostDevice> {
    let mut found = Vec::new();
    let mut dirs = vec![(PathBuf::from("/dev"), 0)];
    while let Some((dir, depth)) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(meta) = path.symlink_metadata() else {
                continue;
            };
            let name = entry.file_name().to_string_lossy().into_owned();
            if meta.is_dir() && depth == 0 && !["pts", "shm", "mqueue"].contains(&name.as_str()) {
                dirs.push((path, depth + 1));
            } else if (meta.file_type().is_block_device() || meta.file_type().is_char_device())
                && !(depth == 0
                    && ch02_namespaces::dev::DEFAULT_DEVICES
                        .iter()
                        .any(|d| d.name == name))
                && !(depth == 0 && ["console", "ptmx"].contains(&name.as_str()))
                && let Some(text) = path.to_str()
                && let Ok(device) = parse_device(text)
            {
                found.push(device);
            }
        }
    }
    found.sort_by(|a, b| a.container.cmp(&b.container));
    found
}

/// This process's cgroup path in the hierarchy whose `/proc/PID/cgroup`
/// line `matches` (by its controller field).
fn cgroup_path(proc_cgroup: &str, matches: impl Fn(&str) -> bool) -> Option<String> {
    proc_cgroup.lines().find_map(|line| {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        matches(controllers).then(|| path.to_string())
    })
}

/// The directory of `pid`'s cgroup in `hierarchy` (berth's cgroups sit
/// under the engine's own, at the hierarchy's `base`).
fn dir_of(
    hierarchy: &Hierarchy,
    pid: &str,
    matches: impl Fn(&str) -> bool + Copy,
) -> Result<PathBuf> {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let child = cgroup_path(&read(&format!("/proc/{pid}/cgroup")), matches);
    let own = cgroup_path(&read("/proc/self/cgroup"), matches);
    let (Some(child), Some(own)) = (child, own) else {
        return Err(Error::engine("the container's cgroup is unknown"));
    };
    let relative = child.strip_prefix(own.as_str()).unwrap_or(&child);
    Ok(hierarchy
        .mountpoint
        .join(&hierarchy.base)
        .join(relative.trim_start_matches('/')))
}

// ANCHOR: parent_step
/// Parent step `devices`, after the child joined its cgroup: deny every
/// device, then allow `rules`, in each device controller the host has.
pub struct DeviceCgroup {
    pub rules: Vec<DeviceRule>,
}

impl ParentStep for DeviceCgroup {
    fn name(&self) -> &str {
        "devices"
    }
    fn run(&mut self, ctx: &ParentContext) -> Result<()> {
        let layout = Layout::detect()?;
        let pid = ctx.child.to_string();
        if let Some(v1) = layout.v1_hierarchy("devices") {
            let dir = dir_of(v1, &pid, |c| c.split(',').any(|c| c == "devices"))?;
            write(&dir.join("devices.deny"), "a")?;
            for rule in &self.rules {
                write(&dir.join("devices.allow"), &rule.v1_line())?;
            }
        }
        if let Some(v2) = &layout.unified {
            let dir = dir_of(v2, &pid, str::is_empty)?;
            crate::devices_bpf::attach(&dir, &self.rules)?;
        }
        Ok(())
    }
    // No teardown: the rules and the program go with the cgroup.
}
// ANCHOR_END: parent_step

fn write(path: &Path, value: &str) -> Result<()> {
    std::fs::write(path, value).map_err(|e| {
        Error::engine(format!(
            "writing {value:?} to {}: {}",
            path.display(),
            ch02_namespaces::io_reason(&e)
        ))
    })
}

/// Child step `add-devices`, after `mount-dev`: the `--device` nodes.
/// In a user namespace `mknod` is refused, so the host's node is
/// bind-mounted instead (as chapter 2 does for the default devices).
pub struct AddDevices(pub Vec<HostDevice>);

impl ChildStep for AddDevices {
    fn name(&self) -> &str {
        "add-devices"
    }
    fn run(&mut self, ctx: &mut ChildContext) -> Result<()> {
        for device in &self.0 {
            let at = ctx.path(&device.container);
            if let Some(parent) = at.parent() {
                ch02_namespaces::mounts::ensure_dir(parent)?;
            }
            let shown = device.container.display();
            if ctx.spec.has(Namespace::User) {
                std::fs::File::create(&at).map_err(|e| {
                    Error::engine(format!(
                        "creating {shown}: {}",
                        ch02_namespaces::io_reason(&e)
                    ))
                })?;
                nix::mount::mount(
                    Some(&device.host),
                    &at,
                    None::<&str>,
                    nix::mount::MsFlags::MS_BIND,
                    None::<&str>,
                )
                .map_err(|e| Error::engine(format!("bind-mounting {shown}: {}", e.desc())))?;
                continue;
            }
            // A node already there (one of chapter 2's) is replaced.
            if at.symlink_metadata().is_ok_and(|m| !m.is_dir()) {
                let _ = std::fs::remove_file(&at);
            }
            let kind = if device.rule.block {
                SFlag::S_IFBLK
            } else {
                SFlag::S_IFCHR
            };
            let number = makedev(
                device.rule.major.unwrap_or(0).into(),
                device.rule.minor.unwrap_or(0).into(),
            );
            mknod(&at, kind, Mode::from_bits_truncate(device.mode), number)
                .map_err(|e| Error::engine(format!("mknod {shown}: {}", e.desc())))?;
            std::fs::set_permissions(&at, std::fs::Permissions::from_mode(device.mode)).map_err(
                |e| Error::engine(format!("chmod {shown}: {}", ch02_namespaces::io_reason(&e))),
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_lines() {
        assert_eq!(DEFAULT_RULES[0].v1_line(), "c 1:3 rwm");
        assert_eq!(DEFAULT_RULES[8].v1_line(), "c 136:* rwm");
    }

    #[test]
    fn device_options() {
        let null = parse_device("/dev/null:/dev/mynull:rw").unwrap();
        assert_eq!(null.container, Path::new("/dev/mynull"));
        assert_eq!(null.rule.v1_line(), "c 1:3 rw");
        let err = |t: &str| parse_device(t).unwrap_err().message;
        assert!(err("/dev/null:/x:rwx").contains("letters of rwm"));
        assert!(err("/etc/passwd").contains("not a device node"));
        assert_eq!(
            err("/dev/berth-none"),
            "--device /dev/berth-none: No such file or directory"
        );
    }

    #[test]
    fn cgroup_lines() {
        let text = "5:devices:/berth/abc\n0::/berth/abc\n";
        assert_eq!(
            cgroup_path(text, |c| c == "devices").as_deref(),
            Some("/berth/abc")
        );
        assert_eq!(
            cgroup_path(text, str::is_empty).as_deref(),
            Some("/berth/abc")
        );
    }
}
