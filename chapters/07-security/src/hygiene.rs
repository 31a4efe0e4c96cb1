//! Runtime hygiene: what the engine itself must not hand to the container.
//!
//! **CVE-2019-5736.** Between `clone` and `execve`, and for as long as
//! `--init` runs, a process of the container *is* the engine's binary:
//! `/proc/PID/exe` leads to the host's file. runc's fix, which crun and
//! youki share: the engine first copies itself into a memfd, seals it
//! against writes, and re-executes from that copy, so whatever the
//! container opens through `/proc/PID/exe` is a sealed copy, never the
//! file on the host. [`run_from_sealed_copy`].
//!
//! **CVE-2024-21626.** A descriptor of a host directory still open in the
//! child when it changes directory (`-w /proc/self/fd/N`) puts the
//! command's working directory outside its root. runc's fix: close such
//! descriptors, and check the working directory is inside the root:
//! `getcwd` says `(unreachable)` or fails with `ENOENT` otherwise.
//! [`CheckWorkdir`].

use std::ffi::CString;

use ch02_namespaces::{ChildContext, ChildStep};
use nix::fcntl::{FcntlArg, SealFlag, fcntl};
use nix::sys::memfd::{MFdFlags, memfd_create};

use crate::{Error, Result};

// ANCHOR: sealed_copy
/// Re-executes the running binary from a sealed memfd copy, once. Returns
/// only when already running from it (or, with an error, when it cannot).
pub fn run_from_sealed_copy() -> Result<()> {
    // Asked of the kernel, not of the environment, which anyone can set.
    if running_sealed() {
        return Ok(());
    }
    let fail = |what: &str, e: String| Error::engine(format!("sealed copy: {what}: {e}"));
    let mut exe =
        std::fs::File::open("/proc/self/exe").map_err(|e| fail("/proc/self/exe", e.to_string()))?;
    let name = c"berth-runtime";
    // Close-on-exec: the copy itself does not see its own descriptor.
    let memfd = memfd_create(name, MFdFlags::MFD_CLOEXEC | MFdFlags::MFD_ALLOW_SEALING)
        .map_err(|e| fail("memfd_create", e.desc().into()))?;
    let mut copy = std::fs::File::from(memfd);
    std::io::copy(&mut exe, &mut copy).map_err(|e| fail("copying", e.to_string()))?;
    let seals = SealFlag::F_SEAL_SEAL
        | SealFlag::F_SEAL_SHRINK
        | SealFlag::F_SEAL_GROW
        | SealFlag::F_SEAL_WRITE;
    fcntl(&copy, FcntlArg::F_ADD_SEALS(seals)).map_err(|e| fail("sealing", e.desc().into()))?;
    let args: Vec<CString> = std::env::args_os()
        .map(|a| CString::new(a.into_encoded_bytes()).unwrap_or_default())
        .collect();
    let env: Vec<CString> = std::env::vars_os()
        .filter_map(|(k, v)| {
            let mut entry = k.into_encoded_bytes();
            entry.push(b'=');
            entry.extend(v.into_encoded_bytes());
            CString::new(entry).ok()
        })
        .collect();
    let errno = match nix::unistd::fexecve(&copy, &args, &env) {
        Ok(never) => match never {},
        Err(errno) => errno,
    };
    Err(fail("fexecve", errno.desc().into()))
}
// ANCHOR_END: sealed_copy

/// Is this process running from a sealed copy (its exe a memfd)?
pub fn running_sealed() -> bool {
    std::fs::read_link("/proc/self/exe").is_ok_and(|p| p.to_string_lossy().starts_with("/memfd:"))
}

// ANCHOR: check_workdir
/// Child step `check-workdir`, after every other: changes to the working
/// directory as chapter 2 will, and refuses one outside the container's
/// root. Chapter 2's `chdir` that follows resolves the same path from the
/// same root, so it lands where this step looked.
pub struct CheckWorkdir;

impl ChildStep for CheckWorkdir {
    fn name(&self) -> &str {
        "check-workdir"
    }
    fn run(&mut self, ctx: &mut ChildContext) -> Result<()> {
        let dir = &ctx.spec.cwd;
        // chapter 2 reports a missing directory in its own words.
        if nix::unistd::chdir(dir).is_err() {
            return Ok(());
        }
        let outside = || {
            Error::engine(format!(
                "working directory {} is outside the container's root",
                dir.display()
            ))
        };
        match nix::unistd::getcwd() {
            Ok(cwd) if cwd.is_absolute() => Ok(()),
            Ok(_) | Err(nix::Error::ENOENT) => Err(outside()),
            Err(e) => Err(Error::engine(format!("getcwd: {}", e.desc()))),
        }
    }
}
// ANCHOR_END: check_workdir
