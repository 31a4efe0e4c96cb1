//! Starting a container: `clone`, the parent's steps, release, the child's
//! steps, exec; then waiting, forwarding signals, and tearing down.
//!
//! Call it from a single-threaded process (the chapter binaries are):
//! the child runs ordinary Rust code between `clone` and `exec`, and
//! `CLONE_NEWUSER` is refused to a multi-threaded caller anyway.

use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::path::PathBuf;

use ch01_chroot::error::ENGINE_ERROR;
use ch01_chroot::exec::exec_command;
use ch01_chroot::report::{ReportWriter, report_pipe};
use ch01_chroot::rootfs::check_rootfs;
use nix::sched::{CloneFlags, clone};
use nix::sys::prctl::set_pdeathsig;
use nix::sys::signal::{SigSet, SigmaskHow, Signal, kill, sigprocmask};
use nix::sys::wait::waitpid;
use nix::unistd::{Pid, chdir};

use crate::Error;
use crate::forward::{BlockedSignals, wait_forwarding};
use crate::gate::{self, Gate};
use crate::sequence::{ChildContext, ChildStep, ParentContext, ParentStep, StartSequence};
use crate::spec::Spec;
use crate::stdio::{self, ChildStdio, Relay};
use crate::sync::{Wait, sync_channel};
use crate::{fds, init};

/// Stack for the cloned child until it execs (its own copy of memory).
const STACK_SIZE: usize = 1 << 20;

/// A started container: its first process runs the command (or the init).
///
/// Dropping it without [`Container::wait`] kills the container. Either way
/// the parent steps' teardowns run, in reverse, once the child is gone.
pub struct Container {
    spec: Spec,
    pid: Pid,
    /// Parent steps whose `run` succeeded, in order.
    done: Vec<Box<dyn ParentStep>>,
    signals: Option<BlockedSignals>,
    /// The caller's stdio relayed to the container's (a pty with `-t`).
    relay: Option<Relay>,
    /// The exec gate of a container created with `exec_fifo`.
    gate: Option<Gate>,
    reaped: bool,
}

// ANCHOR: run
/// Starts `spec` with `sequence` and waits for it: the exit code to
/// forward (the command's own, or 128+N for signal N).
pub fn run(spec: &Spec, sequence: StartSequence) -> Result<i32, Error> {
    start(spec, sequence)?.wait()
}
// ANCHOR_END: run

/// Prefixes an error with the step it happened in.
fn in_step(step: &str, error: Error) -> Error {
    error.context(step)
}

// ANCHOR: start
/// Clones the child into its namespaces, runs the parent steps, releases
/// the child, and returns once the command was executed (or with the first
/// error of either side, everything undone).
pub fn start(spec: &Spec, sequence: StartSequence) -> Result<Container, Error> {
    spec.validate()?;
    let rootfs = check_rootfs(&spec.rootfs)?;
    let (report, child_report) = report_pipe()?;
    let (release, wait) = sync_channel()?;
    let signals = BlockedSignals::block()?;
    let (stdio, relay) = stdio::prepare(spec.tty, spec.stdio)?;
    let gate = spec.exec_fifo.as_deref().map(Gate::create).transpose()?;
    let StartSequence { parent, child } = sequence;
    let inside = Inside {
        spec,
        rootfs,
        stdio,
        steps: child,
        wait,
        report: child_report,
        parent_ends: [report.as_fd().as_raw_fd(), release.as_fd().as_raw_fd()],
        mask: signals.original(),
        gate: gate.as_ref().map(Gate::handle),
    };
    // The child's ends are dropped here in the parent.
    let pid = clone_child(spec.namespaces.clone_flags(), inside)?;
    let mut container = Container {
        spec: spec.clone(),
        pid,
        done: Vec::new(),
        signals: Some(signals),
        relay,
        gate,
        reaped: false,
    };
    for mut step in parent {
        let ctx = ParentContext { spec, child: pid };
        // On error, dropping `container` kills the child and tears down.
        step.run(&ctx).map_err(|e| in_step(step.name(), e))?;
        container.done.push(step);
    }
    release.release()?;
    // End-of-file: the command was executed (or, with an exec gate, the
    // container is created and waits to be started). A message: a step failed.
    if let Some(error) = report.receive() {
        container.reap();
        return Err(error);
    }
    let ctx = ParentContext { spec, child: pid };
    for step in &mut container.done {
        step.started(&ctx);
    }
    Ok(container)
}
// ANCHOR_END: start

fn clone_child(flags: CloneFlags, inside: Inside) -> Result<Pid, Error> {
    let mut stack = vec![0u8; STACK_SIZE];
    let mut inside = Some(inside);
    let child = Box::new(move || match inside.take() {
        Some(inside) => inside.run(),
        None => ENGINE_ERROR as isize,
    });
    // SAFETY: the caller is single-threaded; the child has its own copy of
    // memory (no CLONE_VM) and leaves only through exec or _exit.
    unsafe { clone(child, &mut stack, flags, Some(Signal::SIGCHLD as i32)) }
        .map_err(|e| Error::engine(format!("clone: {}", e.desc())))
}

/// Everything the child needs, moved into it by `clone`.
struct Inside<'a> {
    spec: &'a Spec,
    rootfs: PathBuf,
    /// Its stdio and session, set up first thing after release.
    stdio: ChildStdio,
    steps: Vec<Box<dyn ChildStep>>,
    wait: Wait,
    report: ReportWriter,
    /// The parent's ends of both pipes, closed first thing in the child.
    parent_ends: [RawFd; 2],
    mask: SigSet,
    /// The exec gate's descriptor, when only created.
    gate: Option<RawFd>,
}

// ANCHOR: inside
impl Inside<'_> {
    /// The child's whole life: wait, run the steps, exec. Never returns.
    fn run(self) -> ! {
        // If the parent dies, so does the container (unless it is to
        // outlive its parent, see [`Container::release`]).
        if self.spec.die_with_parent {
            let _ = set_pdeathsig(Signal::SIGKILL);
        }
        let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&self.mask), None);
        for fd in self.parent_ends {
            // SAFETY: the child's copies of descriptors only the parent uses.
            unsafe { libc::close(fd) };
        }
        let Inside {
            spec,
            rootfs,
            stdio,
            mut steps,
            wait,
            report,
            gate,
            ..
        } = self;
        if !wait.wait() {
            // The parent gave up: leave quietly, it reports why.
            // SAFETY: _exit skips destructors meant for the parent.
            unsafe { libc::_exit(ENGINE_ERROR) }
        }
        // A session of its own (and its own terminal with -t) before
        // anything else; only stdio and the descriptors passed on purpose
        // survive exec.
        let ready = stdio
            .apply()
            .and_then(|()| child_steps(spec, rootfs, &mut steps))
            .and_then(|()| fds::close_inherited_on_exec(spec.preserve_fds));
        if let Err(error) = ready {
            let code = error.code;
            report.send(&error);
            // SAFETY: as above.
            unsafe { libc::_exit(code) }
        }
        // Created: the parent hears end-of-file and returns; from here on
        // errors go to the container's own stderr, as with runc.
        let report = match gate {
            None => report,
            Some(handle) => {
                drop(report);
                if let Err(error) = gate::wait_to_be_started(handle) {
                    exit_with_message(&error);
                }
                nowhere()
            }
        };
        let error = match spec.init {
            true => init::become_init(&spec.argv, report),
            false => match exec_command(&spec.argv) {
                Ok(never) => match never {},
                Err(error) => error,
            },
        };
        if gate.is_some() {
            exit_with_message(&error);
        }
        let code = error.code;
        report.send(&error);
        // SAFETY: as above.
        unsafe { libc::_exit(code) }
    }
}

/// After the exec gate: the error on the container's stderr, then its code.
fn exit_with_message(error: &Error) -> ! {
    eprintln!("{}", error.message);
    // SAFETY: as above; the child never returns into the parent's code.
    unsafe { libc::_exit(error.code) }
}

/// A report pipe that leads nowhere, for an init started after the gate.
fn nowhere() -> ch01_chroot::report::ReportWriter {
    let null = std::fs::File::options()
        .write(true)
        .open("/dev/null")
        .map(std::os::fd::OwnedFd::from);
    match null {
        Ok(fd) => fd.into(),
        Err(e) => exit_with_message(&Error::engine(format!("/dev/null: {e}"))),
    }
}
// ANCHOR_END: inside

// ANCHOR: child_steps
/// Runs the child steps in order, then prepares the command's environment
/// and working directory. Every error names the step it happened in.
fn child_steps(
    spec: &Spec,
    rootfs: PathBuf,
    steps: &mut [Box<dyn ChildStep>],
) -> Result<(), Error> {
    let mut ctx = ChildContext {
        spec,
        rootfs,
        pivoted: false,
    };
    for step in steps.iter_mut() {
        step.run(&mut ctx).map_err(|e| in_step(step.name(), e))?;
    }
    set_environment(&spec.env);
    chdir(&spec.cwd).map_err(|e| {
        Error::engine(format!(
            "working directory {}: {}",
            spec.cwd.display(),
            e.desc()
        ))
    })
}
// ANCHOR_END: child_steps

/// Replaces the whole environment with `env` (`KEY=VALUE` entries).
pub(crate) fn set_environment(env: &[String]) {
    let keys: Vec<_> = std::env::vars_os().map(|(k, _)| k).collect();
    for key in keys {
        // SAFETY: the child is single-threaded until exec.
        unsafe { std::env::remove_var(key) };
    }
    for entry in env {
        if let Some((key, value)) = entry.split_once('=')
            && !key.is_empty()
        {
            // SAFETY: as above.
            unsafe { std::env::set_var(key, value) };
        }
    }
}

impl Container {
    /// The container's first process, as the host sees it.
    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// Where a created container waits to be started ([`crate::gate`]).
    pub fn exec_fifo(&self) -> Option<&std::path::Path> {
        self.gate.as_ref().map(Gate::path)
    }

    // ANCHOR: release
    /// Lets the container live on without this value: no kill, no
    /// teardown; a created container's gate stays for `start`. What the
    /// parent steps hold (a cgroup) now belongs to whoever deletes the
    /// container, so their values are forgotten, not dropped. For a
    /// process about to exit (an OCI runtime's `create`), with a spec
    /// whose `die_with_parent` is false; returns the container's pid.
    pub fn release(mut self) -> Pid {
        self.reaped = true;
        std::mem::forget(std::mem::take(&mut self.done));
        if let Some(gate) = self.gate.take() {
            gate.keep();
        }
        self.pid
    }
    // ANCHOR_END: release

    /// Waits for the container to exit, forwarding signals to it, and
    /// returns its exit code. Teardown follows (in `Drop`).
    pub fn wait(mut self) -> Result<i32, Error> {
        self.reaped = true;
        wait_child(self.pid, self.relay.take())
    }

    /// Kills (if needed) and reaps the child.
    fn reap(&mut self) {
        if !std::mem::replace(&mut self.reaped, true) {
            kill_and_reap(self.pid);
        }
    }
}

/// Waits for `pid` to exit, relaying its stdio when there is a relay and
/// forwarding signals to it; its exit code (128+N for signal N).
pub(crate) fn wait_child(pid: Pid, relay: Option<Relay>) -> Result<i32, Error> {
    match relay {
        Some(relay) => relay.run(pid),
        None => wait_forwarding(pid),
    }
}

/// SIGKILL, then reap: a child never outlives the value that started it.
pub(crate) fn kill_and_reap(pid: Pid) {
    let _ = kill(pid, Signal::SIGKILL);
    let _ = waitpid(pid, None);
}

impl Drop for Container {
    fn drop(&mut self) {
        self.reap();
        let ctx = ParentContext {
            spec: &self.spec,
            child: self.pid,
        };
        while let Some(mut step) = self.done.pop() {
            step.teardown(&ctx);
        }
        // Restores the signal mask last.
        self.signals.take();
    }
}
