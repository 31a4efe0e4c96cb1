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
    // Named after the file it copies, so that another process of the same
    // binary can tell the copy is one of its own (see run_from_shared_copy).
    let name = CString::new(copy_name()?).map_err(|e| fail("name", e.to_string()))?;
    // Close-on-exec: the copy itself does not see its own descriptor.
    let memfd = memfd_create(
        name.as_c_str(),
        MFdFlags::MFD_CLOEXEC | MFdFlags::MFD_ALLOW_SEALING,
    )
    .map_err(|e| fail("memfd_create", e.desc().into()))?;
    let mut copy = std::fs::File::from(memfd);
    std::io::copy(&mut exe, &mut copy).map_err(|e| fail("copying", e.to_string()))?;
    let seals = SealFlag::F_SEAL_SEAL
        | SealFlag::F_SEAL_SHRINK
        | SealFlag::F_SEAL_GROW
        | SealFlag::F_SEAL_WRITE;
    fcntl(&copy, FcntlArg::F_ADD_SEALS(seals)).map_err(|e| fail("sealing", e.desc().into()))?;
    reexec(&copy)
}
// ANCHOR_END: sealed_copy

/// Executes `file` with this process's arguments and environment.
fn reexec(file: &std::fs::File) -> Result<()> {
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
    let errno = match nix::unistd::fexecve(file, &args, &env) {
        Ok(never) => match never {},
        Err(errno) => errno,
    };
    Err(Error::engine(format!(
        "sealed copy: fexecve: {}",
        errno.desc()
    )))
}

/// `berth-runtime:DEV:INODE:SIZE:MTIME` of the running binary's file.
fn copy_name() -> Result<String> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata("/proc/self/exe")
        .map_err(|e| Error::engine(format!("sealed copy: /proc/self/exe: {e}")))?;
    Ok(format!(
        "berth-runtime:{}:{}:{}:{}",
        meta.dev(),
        meta.ino(),
        meta.size(),
        meta.mtime_nsec() + meta.mtime() * 1_000_000_000
    ))
}

// ANCHOR: shared_copy
/// [`run_from_sealed_copy`] for an engine that keeps many processes of its
/// binary alive (one monitor per container): a copy each would cost the
/// binary's size per container, so the copy of process `holder`, already
/// running sealed, is reused. `/proc/HOLDER/exe` opens that memfd itself;
/// it is used only if it is sealed against writes and was made from this
/// very file (its name says which). Otherwise a copy of our own.
pub fn run_from_shared_copy(holder: Option<u32>) -> Result<()> {
    if running_sealed() {
        return Ok(());
    }
    if let Some(pid) = holder
        && let Some(copy) = sealed_copy_of(pid)
    {
        reexec(&copy)?;
    }
    run_from_sealed_copy()
}

fn sealed_copy_of(pid: u32) -> Option<std::fs::File> {
    let exe = format!("/proc/{pid}/exe");
    let target = std::fs::read_link(&exe).ok()?;
    let expected = format!("/memfd:{} (deleted)", copy_name().ok()?);
    if target.to_string_lossy() != expected {
        return None;
    }
    let copy = std::fs::File::open(&exe).ok()?;
    let seals = fcntl(&copy, FcntlArg::F_GET_SEALS).ok()?;
    let needed = SealFlag::F_SEAL_SEAL
        | SealFlag::F_SEAL_WRITE
        | SealFlag::F_SEAL_SHRINK
        | SealFlag::F_SEAL_GROW;
    SealFlag::from_bits_truncate(seals)
        .contains(needed)
        .then_some(copy)
}
// ANCHOR_END: shared_copy

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
