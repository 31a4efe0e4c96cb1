//! Checks that turn overlay's `EINVAL` into a sentence.
//!
//! When overlay refuses a mount, `mount(2)` returns "invalid argument" and
//! the reason goes to the kernel log. The usual reasons are checked here
//! first: a lower that is missing or not a directory, and an upper
//! directory on a filesystem overlay cannot write its bookkeeping to.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::sys::statfs::{OVERLAYFS_SUPER_MAGIC, statfs};

use crate::{Error, xattr};

/// Each lower must be an existing directory; returns them made absolute.
pub fn check_lowers(lowers: &[PathBuf]) -> Result<Vec<PathBuf>, Error> {
    lowers
        .iter()
        .map(|lower| {
            let meta = std::fs::metadata(lower).map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => Error::not_found(format!(
                    "lower directory {}: no such directory",
                    lower.display()
                )),
                _ => Error::engine(format!("lower directory {}: {e}", lower.display())),
            })?;
            if !meta.is_dir() {
                return Err(Error::invalid(format!(
                    "lower directory {} is not a directory",
                    lower.display()
                )));
            }
            std::fs::canonicalize(lower)
                .map_err(|e| Error::engine(format!("lower directory {}: {e}", lower.display())))
        })
        .collect()
}

// ANCHOR: check_upper_fs
/// Checks that overlay can keep an upper layer in `dir` (an existing,
/// empty directory of the state root).
pub fn check_upper_fs(dir: &Path) -> Result<(), Error> {
    let fs = statfs(dir)
        .map_err(|e| Error::engine(format!("statfs {}: {}", dir.display(), e.desc())))?;
    if fs.filesystem_type() == OVERLAYFS_SUPER_MAGIC {
        return Err(Error::invalid(format!(
            "{} is on an overlay filesystem, which cannot hold another overlay's \
             upper layer (it refuses the trusted.overlay.* attributes): choose a \
             --root on ext4, xfs, btrfs or tmpfs",
            dir.display()
        )));
    }
    if !has_d_type(dir)? {
        return Err(Error::invalid(format!(
            "the filesystem of {} does not report file types in directory entries \
             (d_type), which overlay needs (xfs formatted with ftype=0?): choose \
             another --root",
            dir.display()
        )));
    }
    let probe = std::ffi::OsStr::new("trusted.berth.probe");
    match xattr::set(dir, probe, b"1") {
        Ok(()) => {
            let _ = xattr::remove(dir, probe);
            Ok(())
        }
        Err(e) => Err(Error::invalid(format!(
            "the filesystem of {} refuses trusted.* extended attributes ({e}), \
             where overlay records whiteouts and opaque directories: choose \
             another --root",
            dir.display()
        ))),
    }
}
// ANCHOR_END: check_upper_fs

/// True when reading `dir` returns entry types (`d_type`).
fn has_d_type(dir: &Path) -> Result<bool, Error> {
    let path = CString::new(dir.as_os_str().as_bytes())
        .map_err(|_| Error::engine(format!("{} contains a NUL byte", dir.display())))?;
    // SAFETY: a NUL-terminated path; the stream is closed before returning
    // and the entry is read before the stream is touched again.
    unsafe {
        let stream = libc::opendir(path.as_ptr());
        if stream.is_null() {
            let e = std::io::Error::last_os_error();
            return Err(Error::engine(format!("reading {}: {e}", dir.display())));
        }
        // Every directory lists "." first, as DT_DIR where d_type works.
        let entry = libc::readdir(stream);
        let known = entry.is_null() || (*entry).d_type != libc::DT_UNKNOWN;
        libc::closedir(stream);
        Ok(known)
    }
}
