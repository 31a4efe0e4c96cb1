//! Signals for the container go to the container.
//!
//! The parent blocks the signals it forwards (and `SIGCHLD`) *before*
//! cloning, so none can slip by between `clone` and the wait loop; the
//! child restores the original mask before it runs anything. The wait loop
//! then takes signals one at a time with `sigwait`: `SIGCHLD` means "check
//! whether the child exited", anything else is sent on to the child.

use ch01_chroot::exit::exit_code;
use nix::errno::Errno;
use nix::sys::signal::{SigSet, SigmaskHow, Signal, kill, sigprocmask};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

use crate::Error;

/// The signals `ch02-namespaces` passes on to the container.
pub const FORWARDED: &[Signal] = &[
    Signal::SIGHUP,
    Signal::SIGINT,
    Signal::SIGQUIT,
    Signal::SIGTERM,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGWINCH,
];

/// The forwarded signals plus `SIGCHLD`.
pub fn waited_set() -> SigSet {
    let mut set = SigSet::empty();
    for signal in FORWARDED {
        set.add(*signal);
    }
    set.add(Signal::SIGCHLD);
    set
}

/// Signals blocked for as long as this guard lives; the mask is restored
/// when it drops.
pub struct BlockedSignals {
    original: SigSet,
}

impl BlockedSignals {
    pub fn block() -> Result<BlockedSignals, Error> {
        let mut original = SigSet::empty();
        sigprocmask(
            SigmaskHow::SIG_BLOCK,
            Some(&waited_set()),
            Some(&mut original),
        )
        .map_err(|e| Error::engine(format!("sigprocmask: {}", e.desc())))?;
        Ok(BlockedSignals { original })
    }

    /// The mask from before: what the child must restore.
    pub fn original(&self) -> SigSet {
        self.original
    }
}

impl Drop for BlockedSignals {
    fn drop(&mut self) {
        let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&self.original), None);
    }
}

// ANCHOR: wait_forwarding
/// Waits for `child` to exit, forwarding every signal of [`FORWARDED`]
/// to it meanwhile; returns its exit code (128+N for signal N).
///
/// A signal reaches a pid 1 only if it installed a handler for it (or the
/// signal is `SIGKILL` or `SIGSTOP`): a command running as pid 1 without a
/// `SIGTERM` handler does not stop on `SIGTERM`. That is the kernel
/// protecting init, and the reason for `--init`.
pub fn wait_forwarding(child: Pid) -> Result<i32, Error> {
    let set = waited_set();
    loop {
        match waitpid(child, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => {}
            Ok(status) => {
                if let Some(code) = exit_code(status) {
                    return Ok(code);
                }
            }
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(Error::engine(format!("waitpid: {}", e.desc()))),
        }
        // Blocked, so a SIGCHLD that came since waitpid is pending here.
        let Some(signal) = next_signal(&set) else {
            continue;
        };
        // The container has a session of its own: a ^C typed on the
        // caller's terminal signalled only the caller's process group,
        // this process included, so it is passed on like any other.
        if signal != Signal::SIGCHLD {
            let _ = kill(child, signal);
        }
    }
}
// ANCHOR_END: wait_forwarding

/// Takes the next pending signal of `set`.
fn next_signal(set: &SigSet) -> Option<Signal> {
    set.wait().ok()
}
