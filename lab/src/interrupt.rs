//! Ctrl-C and SIGTERM during the bench or `exercise verify`: instead of
//! dying with containers, networks and state roots left behind (or the
//! sources rewritten), the command notes the signal, stops at the next step
//! and cleans up as on any other error. The handler is reset by exec, so
//! the programs it runs still die of the signal.

use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Result, bail};
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn note(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// From now on SIGINT and SIGTERM only set the flag [`check`] reads.
pub fn catch() -> Result<()> {
    let action = SigAction::new(SigHandler::Handler(note), SaFlags::empty(), SigSet::empty());
    for signal in [Signal::SIGINT, Signal::SIGTERM] {
        // SAFETY: the handler only stores to an atomic.
        unsafe { sigaction(signal, &action) }?;
    }
    Ok(())
}

/// An error once a signal came, so the caller unwinds and cleans up.
pub fn check() -> Result<()> {
    if INTERRUPTED.load(Ordering::SeqCst) {
        bail!("interrupted: stopped and put back what it had changed");
    }
    Ok(())
}
