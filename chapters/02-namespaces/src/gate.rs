//! The exec gate: a *created* container has run every step of the start
//! sequence and waits, just before exec, until another process *starts* it
//! (runc's `exec.fifo`, the create/start split of the OCI runtime spec).
//!
//! The gate is a named pipe on the host. The parent makes it and keeps an
//! `O_PATH` descriptor to it, which the child inherits: after `pivot_root`
//! the host path is out of the child's sight, but `/proc/self/fd/N` still
//! reopens the very same pipe. The child opens it for writing, which blocks
//! until a reader appears, writes one byte and execs. Whoever starts the
//! container opens it for reading, takes the byte and removes the pipe.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::fcntl::{OFlag, open};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::stat::Mode;
use nix::unistd::Pid;
use nix::unistd::mkfifo;

use crate::Error;

/// How long [`start`] waits for a container that nobody knows the pid of.
pub const START_TIMEOUT: Duration = Duration::from_secs(10);

/// The parent's hold on a gate: its path and an `O_PATH` descriptor that
/// the child inherits. Dropping it removes the pipe if nobody started the
/// container.
pub struct Gate {
    path: PathBuf,
    handle: OwnedFd,
    /// Leave the pipe on drop: another process will start the container.
    kept: bool,
}

// ANCHOR: gate
impl Gate {
    /// Makes the named pipe `path` (mode 0600; it must not exist yet).
    pub fn create(path: &Path) -> Result<Gate, Error> {
        mkfifo(path, Mode::S_IRUSR | Mode::S_IWUSR)
            .map_err(|e| Error::invalid(format!("exec fifo {}: {}", path.display(), e.desc())))?;
        let handle = open(path, OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty()).map_err(|e| {
            let _ = std::fs::remove_file(path);
            Error::engine(format!("exec fifo {}: {}", path.display(), e.desc()))
        })?;
        Ok(Gate {
            path: path.to_path_buf(),
            handle,
            kept: false,
        })
    }

    /// The named pipe's path on the host.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Drops the parent's hold but leaves the pipe, for a container that
    /// outlives its parent and is started later.
    pub fn keep(mut self) {
        self.kept = true;
    }

    /// The descriptor the child reopens (its number is the same there).
    pub fn handle(&self) -> RawFd {
        self.handle.as_raw_fd()
    }
}

/// In the child, after every step: blocks until the container is started.
pub fn wait_to_be_started(handle: RawFd) -> Result<(), Error> {
    let fail = |e: String| Error::engine(format!("waiting at the exec fifo: {e}"));
    // Reopening the O_PATH descriptor through /proc opens the pipe itself.
    let mut pipe = File::options()
        .write(true)
        .open(format!("/proc/self/fd/{handle}"))
        .map_err(|e| fail(crate::io_reason(&e)))?;
    pipe.write_all(b"0").map_err(|e| fail(crate::io_reason(&e)))
}

/// Starts the container waiting at `path`, from any process: opens the
/// pipe, takes the child's byte, removes the pipe. With the container's
/// `pid`, fails as soon as it is gone; without, after [`START_TIMEOUT`].
pub fn start(path: &Path, pid: Option<Pid>) -> Result<(), Error> {
    let fail = |e: &str| Error::engine(format!("starting {}: {e}", path.display()));
    let meta = std::fs::symlink_metadata(path).map_err(|e| {
        Error::not_found(format!(
            "no container waits at {}: {}",
            path.display(),
            crate::io_reason(&e)
        ))
    })?;
    if !std::os::unix::fs::FileTypeExt::is_fifo(&meta.file_type()) {
        return Err(Error::invalid(format!(
            "{} is not an exec fifo",
            path.display()
        )));
    }
    // Non-blocking, so that a container that died cannot hang us here.
    let fd = open(
        path,
        OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| fail(e.desc()))?;
    let mut pipe = File::from(fd);
    let since = Instant::now();
    loop {
        let mut fds = [PollFd::new(pipe.as_fd(), PollFlags::POLLIN)];
        let ready = poll(&mut fds, PollTimeout::from(100u16)).map_err(|e| fail(e.desc()))?;
        if ready > 0 {
            let mut byte = [0u8; 1];
            if let Ok(1) = pipe.read(&mut byte) {
                let _ = std::fs::remove_file(path);
                return Ok(());
            }
        }
        let gone = match pid {
            Some(pid) => nix::sys::signal::kill(pid, None).is_err(),
            None => since.elapsed() > START_TIMEOUT,
        };
        if gone {
            return Err(fail(
                "the container is not waiting (it exited, or never got there)",
            ));
        }
    }
}
// ANCHOR_END: gate

impl Drop for Gate {
    fn drop(&mut self) {
        // Still there: nobody started the container.
        if !self.kept {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}
