//! Mount points: is something mounted here, mount it from a directory,
//! unmount it, make a bind mount read-only.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{ForkResult, fork};

use crate::Error;

/// The mount points of this mount namespace (from /proc/self/mountinfo).
pub fn mount_points() -> Vec<PathBuf> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    info.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|m| PathBuf::from(unescape(m)))
        .collect()
}

/// True when something is mounted exactly at `path`.
pub fn is_mounted(path: &Path) -> bool {
    let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    mount_points().contains(&path)
}

/// mountinfo writes space, tab, newline and backslash as `\ooo`.
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes.get(i + 1..i + 4).and_then(|d| {
            std::str::from_utf8(d)
                .ok()
                .and_then(|d| u8::from_str_radix(d, 8).ok())
        });
        match (bytes[i], octal) {
            (b'\\', Some(b)) => {
                out.push(b);
                i += 4;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Mounts an overlay at `target` with `options` naming absolute paths.
pub fn mount_overlay(target: &Path, options: &str, flags: MsFlags) -> Result<(), Errno> {
    mount(
        Some("overlay"),
        target,
        Some("overlay"),
        flags,
        Some(options),
    )
}

// ANCHOR: mount_from
/// Mounts an overlay whose `options` name paths relative to `dir`.
///
/// The working directory belongs to the whole process, and a test runner
/// (or an engine) has other threads; so a short-lived child changes into
/// `dir` and mounts, as Docker's overlay2 driver does. The mount is made
/// in the shared mount namespace, so the parent sees it.
pub fn mount_overlay_from(
    dir: &Path,
    target: &Path,
    options: &str,
    flags: MsFlags,
) -> Result<(), Errno> {
    let cstr = |b: &[u8]| CString::new(b).map_err(|_| Errno::EINVAL);
    // Everything the child needs is allocated before fork.
    let dir = cstr(dir.as_os_str().as_bytes())?;
    let target = cstr(target.as_os_str().as_bytes())?;
    let options = cstr(options.as_bytes())?;
    let fstype = cstr(b"overlay")?;
    // SAFETY: the child only calls async-signal-safe functions (chdir,
    // mount, _exit) on memory prepared before the fork.
    match unsafe { fork() }? {
        ForkResult::Child => unsafe {
            let mut code = 0;
            if libc::chdir(dir.as_ptr()) != 0
                || libc::mount(
                    fstype.as_ptr(),
                    target.as_ptr(),
                    fstype.as_ptr(),
                    flags.bits(),
                    options.as_ptr().cast(),
                ) != 0
            {
                code = *libc::__errno_location();
            }
            libc::_exit(code)
        },
        ForkResult::Parent { child } => loop {
            match waitpid(child, None) {
                Ok(WaitStatus::Exited(_, 0)) => return Ok(()),
                Ok(WaitStatus::Exited(_, errno)) => return Err(Errno::from_raw(errno)),
                Ok(WaitStatus::Signaled(..)) => return Err(Errno::EINTR),
                Ok(_) | Err(Errno::EINTR) => continue,
                Err(e) => return Err(e),
            }
        },
    }
}
// ANCHOR_END: mount_from

/// Unmounts `path`; if it is busy, detaches it (the kernel finishes when
/// the last user leaves).
pub fn unmount(path: &Path) -> Result<(), Error> {
    match umount2(path, MntFlags::empty()) {
        Ok(()) => Ok(()),
        Err(Errno::EBUSY) => {
            umount2(path, MntFlags::MNT_DETACH).map_err(|e| unmount_error(path, e))
        }
        Err(e) => Err(unmount_error(path, e)),
    }
}

fn unmount_error(path: &Path, e: Errno) -> Error {
    Error::engine(format!("cannot unmount {}: {}", path.display(), e.desc()))
}

/// Makes `path` a read-only bind mount of itself (for drivers that do not
/// mount anything, like vfs).
pub fn bind_read_only(path: &Path) -> Result<(), Error> {
    let err = |e: Errno| {
        Error::engine(format!(
            "read-only bind mount of {}: {}",
            path.display(),
            e.desc()
        ))
    };
    mount(
        Some(path),
        path,
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .map_err(err)?;
    let ro = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY;
    if let Err(e) = mount(None::<&str>, path, None::<&str>, ro, None::<&str>) {
        let _ = umount2(path, MntFlags::MNT_DETACH);
        return Err(err(e));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_escapes() {
        assert_eq!(unescape("/a\\040b"), "/a b");
        assert_eq!(unescape("/plain"), "/plain");
        assert_eq!(unescape("/back\\134slash"), "/back\\slash");
    }

    #[test]
    fn the_root_is_a_mount_point() {
        assert!(is_mounted(Path::new("/")));
    }
}
