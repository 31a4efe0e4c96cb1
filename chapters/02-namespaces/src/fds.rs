//! Inherited file descriptors: only the container's stdio, and the ones
//! passed on purpose, survive into the container.
//!
//! A process inherits every descriptor its parent had open without
//! close-on-exec. The engine's caller may hold anything: a shell's fd 7 on
//! a host directory, a socket, a log file. In the container, such a
//! descriptor is a door around `pivot_root`: `/proc/self/fd/7` reaches the
//! host directory itself, whatever the mount namespace says. So just before
//! exec the child marks every descriptor from 3 on close-on-exec (the
//! kernel then closes them at exec), except `--preserve-fds N` (fds 3 to
//! 3+N-1, runc's option, for a caller that passes sockets on purpose). The
//! init, which never execs, closes its own for real.

use std::os::fd::RawFd;

use crate::Error;

/// The first descriptor after stdin, stdout and stderr.
pub const FIRST_AFTER_STDIO: RawFd = 3;

// ANCHOR: close_range
/// `close_range(first, ~0, flags)`: with `CLOSE_RANGE_CLOEXEC` it marks,
/// without it closes, every descriptor from `first` on (Linux 5.9, the
/// marking 5.11). Older kernels: the same, one descriptor at a time, from
/// the list in `/proc/self/fd`.
fn close_range(first: RawFd, cloexec: bool) -> Result<(), Error> {
    let flags = if cloexec {
        libc::CLOSE_RANGE_CLOEXEC
    } else {
        0
    };
    // SAFETY: close_range takes plain integers; nothing else in this
    // single-threaded child uses the descriptors it affects.
    let done = unsafe { libc::syscall(libc::SYS_close_range, first as u32, u32::MAX, flags) };
    if done == 0 {
        return Ok(());
    }
    let open: Vec<RawFd> = std::fs::read_dir("/proc/self/fd")
        .map_err(|e| Error::engine(format!("listing /proc/self/fd: {}", crate::io_reason(&e))))?
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .filter(|fd| *fd >= first)
        .collect();
    for fd in open {
        // SAFETY: as above; the directory's own descriptor is closed by
        // now, so an EBADF for it is harmless.
        unsafe {
            if cloexec {
                libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
            } else {
                libc::close(fd);
            }
        }
    }
    Ok(())
}

/// Just before exec: every descriptor from 3 on, except the `preserve`
/// passed on purpose, is closed by the exec. The preserved ones are
/// cleared of close-on-exec, so they do survive it.
pub fn close_inherited_on_exec(preserve: u32) -> Result<(), Error> {
    let kept = FIRST_AFTER_STDIO.saturating_add(preserve.min(i32::MAX as u32 - 3) as RawFd);
    for fd in FIRST_AFTER_STDIO..kept {
        // SAFETY: F_SETFD on a descriptor the caller passed on purpose
        // (EBADF if it did not, which is harmless).
        unsafe { libc::fcntl(fd, libc::F_SETFD, 0) };
    }
    close_range(kept, true)
}
// ANCHOR_END: close_range

/// For a process that never execs (the init): close everything from 3 on.
pub fn close_all_inherited() -> Result<(), Error> {
    close_range(FIRST_AFTER_STDIO, false)
}
