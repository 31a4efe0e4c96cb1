//! Masked and read-only paths: the parts of `/proc` and `/sys` that are
//! not namespaced and tell about, or act on, the whole host.
//!
//! `/proc/kcore` is the host's memory, `/proc/keys` the host's keyrings,
//! `/proc/timer_list` every timer of the host (with pids and symbols):
//! each is covered, a file by a bind mount of `/dev/null`, a directory by
//! an empty read-only tmpfs. `/proc/sys` (the kernel's tunables) and
//! `/proc/sysrq-trigger` (which can crash or reboot the host) stay visible
//! but read-only: a bind mount of each onto itself, remounted read-only.

use std::path::Path;

use ch02_namespaces::{ChildContext, ChildStep};
use nix::mount::{MsFlags, mount};

use crate::{Error, Result};

// ANCHOR: paths
/// Docker's masked paths.
pub const MASKED: &[&str] = &[
    "/proc/asound",
    "/proc/acpi",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

/// Docker's read-only paths.
pub const READ_ONLY: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];
// ANCHOR_END: paths

fn fail(what: &str, path: &Path, e: nix::Error) -> Error {
    Error::engine(format!("{what} {}: {}", path.display(), e.desc()))
}

// ANCHOR: mask
/// Hides `path`: `/dev/null` over a file, an empty read-only tmpfs over a
/// directory. A path this kernel does not have is skipped.
pub fn mask(path: &Path) -> Result<()> {
    let Ok(meta) = path.symlink_metadata() else {
        return Ok(());
    };
    if meta.is_dir() {
        let flags =
            MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
        mount(Some("tmpfs"), path, Some("tmpfs"), flags, Some("size=0"))
            .map_err(|e| fail("masking", path, e))
    } else {
        mount(
            Some("/dev/null"),
            path,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .map_err(|e| fail("masking", path, e))
    }
}

/// Makes `path` read-only: a bind mount onto itself, then a remount of
/// that bind mount (the flags of a bind mount come only from a remount).
/// `/proc`'s own flags are repeated: in a user namespace the kernel
/// refuses a remount that would drop them.
pub fn read_only(path: &Path) -> Result<()> {
    if path.symlink_metadata().is_err() {
        return Ok(());
    }
    mount(
        Some(path),
        path,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(|e| fail("bind-mounting", path, e))?;
    let flags = MsFlags::MS_BIND
        | MsFlags::MS_REMOUNT
        | MsFlags::MS_RDONLY
        | MsFlags::MS_NOSUID
        | MsFlags::MS_NODEV
        | MsFlags::MS_NOEXEC;
    mount(None::<&str>, path, None::<&str>, flags, None::<&str>)
        .map_err(|e| fail("making read-only", path, e))
}
// ANCHOR_END: mask

/// Child step `mask-paths`, after `pivot_root` (`/dev/null` is the
/// container's own by then).
pub struct MaskPaths;

impl ChildStep for MaskPaths {
    fn name(&self) -> &str {
        "mask-paths"
    }
    fn run(&mut self, ctx: &mut ChildContext) -> Result<()> {
        for path in READ_ONLY {
            read_only(&ctx.path(path))?;
        }
        for path in MASKED {
            mask(&ctx.path(path))?;
        }
        Ok(())
    }
}

/// Child step `writable-sys` for `--privileged`: `/sys` read-write, as
/// Docker gives a privileged container.
pub struct WritableSys;

impl ChildStep for WritableSys {
    fn name(&self) -> &str {
        "writable-sys"
    }
    fn run(&mut self, ctx: &mut ChildContext) -> Result<()> {
        let sys = ctx.path("/sys");
        let flags =
            MsFlags::MS_REMOUNT | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
        mount(None::<&str>, &sys, None::<&str>, flags, None::<&str>)
            .or_else(|_| {
                // A bind mount of the host's /sys (user namespaces).
                mount(
                    None::<&str>,
                    &sys,
                    None::<&str>,
                    flags | MsFlags::MS_BIND,
                    None::<&str>,
                )
            })
            .map_err(|e| fail("remounting read-write", &sys, e))
    }
}
