//! `--init`: a minimal pid 1 of berth's own, in front of the command.
//!
//! Two jobs that every pid 1 has and most programs do not do:
//!
//! 1. **Reap zombies.** A process whose parent exits is re-parented to pid 1
//!    of its pid namespace; when it exits, it stays a zombie until pid 1
//!    `wait`s for it. A shell or a server running as pid 1 rarely waits for
//!    children it does not know.
//! 2. **Forward signals.** The kernel delivers to pid 1 only the signals it
//!    has a handler for; the init takes them all and passes them on to the
//!    command, an ordinary process (pid 2) with default behaviour:
//!    `SIGTERM` terminates it.
//!
//! `docker run --init` executes tini, a static binary bind-mounted into the
//! container. The fixture has no init, and the chapter binary cannot simply
//! execute itself inside: it is linked dynamically, and the container has
//! no `ld-linux.so`. So the container's first process, already running
//! berth's code, *stays* pid 1: it forks, the new process execs the
//! command, and pid 1 runs [`reap_and_forward`] until the command exits.

use ch01_chroot::error::ENGINE_ERROR;
use ch01_chroot::exec::exec_command;
use ch01_chroot::exit::exit_code;
use ch01_chroot::report::ReportWriter;
use nix::errno::Errno;
use nix::sys::prctl::{set_dumpable, set_pdeathsig};
use nix::sys::signal::{SigSet, SigmaskHow, Signal, kill, sigprocmask};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, fork};

use crate::Error;

// ANCHOR: become_init
/// Turns the calling process (the container's pid 1) into the init: the
/// command runs in a child; this process reaps and forwards until it ends,
/// then exits with its code.
pub fn become_init(argv: &[String], report: ReportWriter) -> ! {
    // Not dumpable: from inside the container, /proc/1/mem and /proc/1/exe
    // (the host's binary) need CAP_SYS_PTRACE over the host's namespace.
    let _ = set_dumpable(false);
    // Every signal waits for `sigwait` from here on, in the init.
    let mut original = SigSet::empty();
    let _ = sigprocmask(
        SigmaskHow::SIG_BLOCK,
        Some(&SigSet::all()),
        Some(&mut original),
    );
    // SAFETY: the container's first process is single-threaded.
    match unsafe { fork() } {
        Err(e) => {
            report.send(&Error::engine(format!("init: fork: {}", e.desc())));
            // SAFETY: leave without running destructors meant for the parent.
            unsafe { libc::_exit(ENGINE_ERROR) }
        }
        Ok(ForkResult::Child) => {
            // With a shared pid namespace, nothing else would stop the
            // command from outliving its init.
            let _ = set_pdeathsig(Signal::SIGKILL);
            let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&original), None);
            let Err(error) = exec_command(argv);
            let code = error.code;
            report.send(&error);
            // SAFETY: leave without running destructors meant for pid 1.
            unsafe { libc::_exit(code) }
        }
        Ok(ForkResult::Parent { child }) => {
            // The command holds the report pipe until its exec closes it.
            drop(report);
            // Pid 1 never execs: what it inherited, it closes itself (it
            // would stay reachable through /proc/1/fd otherwise).
            let _ = crate::fds::close_all_inherited();
            let code = reap_and_forward(child);
            // SAFETY: as above.
            unsafe { libc::_exit(code) }
        }
    }
}
// ANCHOR_END: become_init

// ANCHOR: reap_and_forward
/// The init's loop: forward every signal to `child`, reap every child that
/// exits (orphans included), and return `child`'s exit code once it ends.
/// When pid 1 exits, the kernel kills what is left in the namespace.
pub fn reap_and_forward(child: Pid) -> i32 {
    let all = SigSet::all();
    loop {
        let signal = match all.wait() {
            Ok(signal) => signal,
            Err(_) => continue,
        };
        if signal != Signal::SIGCHLD {
            let _ = kill(child, signal);
            continue;
        }
        // One SIGCHLD may stand for many exits: reap until none is left.
        let mut child_code = None;
        loop {
            match waitpid(None::<Pid>, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => break,
                Ok(status) if status.pid() == Some(child) => {
                    child_code = exit_code(status).or(child_code);
                }
                Ok(_) | Err(Errno::EINTR) => {}
                Err(_) => break,
            }
        }
        if let Some(code) = child_code {
            return code;
        }
    }
}
// ANCHOR_END: reap_and_forward
