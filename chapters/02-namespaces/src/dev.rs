//! `/dev`: a small tmpfs with the devices the OCI runtime spec says every
//! container gets, instead of the host's whole `/dev`.
//!
//! Outside a user namespace the nodes are created with `mknod`. Inside one,
//! `mknod` of a device is refused (it would let a fake root create a node
//! for the host's disk), so the host's nodes are bind-mounted instead.

use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;

use nix::mount::{MsFlags, mount};
use nix::sys::stat::{Mode, SFlag, makedev, mknod};

use crate::Error;
use crate::mounts::{mount_fs, pseudo_fs};

/// A character device of the default set.
pub struct Device {
    pub name: &'static str,
    pub major: u64,
    pub minor: u64,
}

// ANCHOR: devices
/// The OCI runtime spec's default devices, all mode 0666.
pub const DEFAULT_DEVICES: &[Device] = &[
    Device {
        name: "null",
        major: 1,
        minor: 3,
    },
    Device {
        name: "zero",
        major: 1,
        minor: 5,
    },
    Device {
        name: "full",
        major: 1,
        minor: 7,
    },
    Device {
        name: "random",
        major: 1,
        minor: 8,
    },
    Device {
        name: "urandom",
        major: 1,
        minor: 9,
    },
    Device {
        name: "tty",
        major: 5,
        minor: 0,
    },
];

/// The spec's default symlinks: (link, target).
pub const DEFAULT_LINKS: &[(&str, &str)] = &[
    ("fd", "/proc/self/fd"),
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
    ("ptmx", "pts/ptmx"),
];
// ANCHOR_END: devices

// ANCHOR: mount_dev
/// Builds the container's `/dev` at `dev` (a path under the rootfs).
pub fn mount_dev(dev: &Path, in_user_namespace: bool) -> Result<(), Error> {
    mount_fs(
        "tmpfs",
        dev,
        MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME,
        Some("mode=755,size=65536k"),
    )?;
    for device in DEFAULT_DEVICES {
        let path = dev.join(device.name);
        if in_user_namespace {
            bind_host_node(device.name, &path)?;
        } else {
            make_node(device, &path)?;
        }
    }
    for (link, target) in DEFAULT_LINKS {
        symlink(target, dev.join(link))
            .map_err(|e| Error::engine(format!("linking /dev/{link}: {}", crate::io_reason(&e))))?;
    }
    // Its own instance of devpts: the container's ptys, not the host's.
    let pts = dev.join("pts");
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC;
    let options = "newinstance,ptmxmode=0666,mode=0620";
    // gid 5 (tty) may be unmapped in a user namespace: then do without it.
    mount_fs("devpts", &pts, flags, Some(&format!("{options},gid=5")))
        .or_else(|_| mount_fs("devpts", &pts, flags, Some(options)))?;
    mount_fs(
        "tmpfs",
        &dev.join("shm"),
        pseudo_fs(),
        Some("mode=1777,size=65536k"),
    )?;
    mount_fs("mqueue", &dev.join("mqueue"), pseudo_fs(), None)?;
    bind_console(dev)
}
// ANCHOR_END: mount_dev

fn make_node(device: &Device, path: &Path) -> Result<(), Error> {
    let dev = makedev(device.major, device.minor);
    mknod(path, SFlag::S_IFCHR, Mode::from_bits_truncate(0o666), dev)
        .map_err(|e| Error::engine(format!("mknod /dev/{}: {}", device.name, e.desc())))?;
    // mknod applied our umask: set the mode the spec asks for.
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666)).map_err(|e| {
        Error::engine(format!(
            "chmod /dev/{}: {}",
            device.name,
            crate::io_reason(&e)
        ))
    })
}

/// Bind-mounts `/dev/<name>` of the host onto an empty file at `path`.
fn bind_host_node(name: &str, path: &Path) -> Result<(), Error> {
    std::fs::File::create(path)
        .map_err(|e| Error::engine(format!("creating /dev/{name}: {}", crate::io_reason(&e))))?;
    let host = format!("/dev/{name}");
    mount(
        Some(host.as_str()),
        path,
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .map_err(|e| Error::engine(format!("bind-mounting {host}: {}", e.desc())))
}

/// When stdin is a terminal, `/dev/console` is that terminal: with `-t`
/// the container's own pty (as runc does with the one it allocates for
/// `docker run -t`); without it, stdin is never the caller's terminal.
fn bind_console(dev: &Path) -> Result<(), Error> {
    let Ok(tty) = nix::unistd::ttyname(std::io::stdin()) else {
        return Ok(());
    };
    let console = dev.join("console");
    std::fs::File::create(&console)
        .map_err(|e| Error::engine(format!("creating /dev/console: {}", crate::io_reason(&e))))?;
    mount(
        Some(&tty),
        &console,
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .map_err(|e| {
        Error::engine(format!(
            "bind-mounting {} on /dev/console: {}",
            tty.display(),
            e.desc()
        ))
    })
}
