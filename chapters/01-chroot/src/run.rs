//! `run`: fork a child, put it in the new root, exec the command, and wait.

use std::convert::Infallible;
use std::path::Path;

use nix::errno::Errno;
use nix::sys::signal::{SigHandler, Signal, signal};
use nix::sys::wait::waitpid;
use nix::unistd::{ForkResult, Pid, fork};

use crate::Error;
use crate::chroot::enter_root;
use crate::exec::{DEFAULT_PATH, exec_command};
use crate::exit::exit_code;
use crate::report::report_pipe;
use crate::rootfs::check_rootfs;

// ANCHOR: run
/// Runs `argv` with `rootfs` as its root directory and returns the exit
/// code to forward (the command's own, or 128+N for signal N).
pub fn run(rootfs: &Path, argv: &[String]) -> Result<i32, Error> {
    let rootfs = check_rootfs(rootfs)?;
    let (report, child_report) = report_pipe()?;
    // SAFETY: the binaries calling this are single-threaded, so the child
    // may allocate and call any function until it execs.
    match unsafe { fork() } {
        Err(e) => Err(Error::engine(format!("fork: {}", e.desc()))),
        Ok(ForkResult::Child) => {
            drop(report);
            let Err(error) = child(&rootfs, argv);
            let code = error.code;
            child_report.send(&error);
            // SAFETY: _exit skips the parent's atexit handlers and buffers.
            unsafe { libc::_exit(code) }
        }
        Ok(ForkResult::Parent { child }) => {
            drop(child_report);
            // Like a shell running a foreground job: ^C is for the child.
            ignore_terminal_signals(true);
            let failure = report.receive();
            let status = wait_for_exit(child);
            ignore_terminal_signals(false);
            match failure {
                Some(error) => Err(error),
                None => status,
            }
        }
    }
}

/// The child's side: enter the root, then become the command.
fn child(rootfs: &Path, argv: &[String]) -> Result<Infallible, Error> {
    enter_root(rootfs).map_err(|e| {
        Error::engine(format!(
            "cannot chroot into {}: {}",
            rootfs.display(),
            e.desc()
        ))
    })?;
    if std::env::var_os("PATH").is_none() {
        // SAFETY: single-threaded child between fork and exec.
        unsafe { std::env::set_var("PATH", DEFAULT_PATH) };
    }
    exec_command(argv)
}
// ANCHOR_END: run

/// Waits for `child` to end and converts its status to an exit code.
pub fn wait_for_exit(child: Pid) -> Result<i32, Error> {
    loop {
        match waitpid(child, None) {
            Ok(status) => {
                if let Some(code) = exit_code(status) {
                    return Ok(code);
                }
            }
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(Error::engine(format!("waitpid: {}", e.desc()))),
        }
    }
}

/// Ignores (or restores) SIGINT and SIGQUIT in the waiting parent.
fn ignore_terminal_signals(ignore: bool) {
    let handler = if ignore {
        SigHandler::SigIgn
    } else {
        SigHandler::SigDfl
    };
    for sig in [Signal::SIGINT, Signal::SIGQUIT] {
        // SAFETY: installing SIG_IGN/SIG_DFL has no handler code to race.
        let _ = unsafe { signal(sig, handler) };
    }
}
