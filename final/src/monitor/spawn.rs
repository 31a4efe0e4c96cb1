//! Launching a monitor, and waiting for it to say "started".
//!
//! The command line runs `berth __monitor ID` in a new session (`setsid`),
//! its stdio on `/dev/null` and its stderr on the container's
//! `monitor.log`, with the write end of chapter 1's report pipe as fd 3.
//! End of file on the pipe: the container runs. A message: the error, with
//! its kind and exit code, as a failed exec reports it in chapter 1.

use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

use ch01_chroot::report::report_pipe;

use crate::context::Engine;
use crate::monitor::{ATTACH_FD, REPORT_FD};
use crate::{Error, Result};

// ANCHOR: spawn
/// Starts the monitor of container `id` (whose directory is `dir`) and
/// returns once the container runs, or with the reason it does not.
pub fn spawn_monitor(
    engine: &Engine,
    id: &str,
    dir: &Path,
    attach: Option<OwnedFd>,
) -> Result<SpawnedMonitor> {
    let (reader, writer) = report_pipe()?;
    let log = std::fs::File::options()
        .create(true)
        .append(true)
        .open(dir.join("monitor.log"))
        .map_err(|e| Error::engine(format!("monitor log: {e}")))?;
    let mut command = monitor_command(engine, id);
    if attach.is_some() {
        command.arg("--attach-first");
    }
    let report = writer.as_fd().as_raw_fd();
    let attach_raw = attach.as_ref().map(|fd| fd.as_raw_fd());
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log);
    // SAFETY: between fork and exec only async-signal-safe calls.
    unsafe {
        command.pre_exec(move || {
            if libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            // fd 3 and 4, inherited (dup2 clears close-on-exec). Both
            // lifted above 10 first: moving one never overwrites the other.
            let report = lift(report)?;
            let attach = attach_raw.map(lift).transpose()?;
            dup_to(report, REPORT_FD)?;
            if let Some(fd) = attach {
                dup_to(fd, ATTACH_FD)?;
            }
            Ok(())
        });
    }
    let child = command
        .spawn()
        .map_err(|e| Error::engine(format!("starting the monitor: {e}")))?;
    drop(writer);
    drop(attach);
    Ok(SpawnedMonitor { child, reader })
}
// ANCHOR_END: spawn

/// In the forked child: a copy of `fd` numbered 10 or above.
fn lift(fd: RawFd) -> std::io::Result<RawFd> {
    // SAFETY: fcntl is async-signal-safe; the fd is ours.
    match unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 10) } {
        -1 => Err(std::io::Error::last_os_error()),
        high => Ok(high),
    }
}

/// In the forked child: `fd` as `target`, open across exec.
fn dup_to(fd: RawFd, target: RawFd) -> std::io::Result<()> {
    // SAFETY: dup2 is async-signal-safe; the fds are ours.
    match unsafe { libc::dup2(fd, target) } {
        -1 => Err(std::io::Error::last_os_error()),
        _ => Ok(()),
    }
}

/// A monitor being started.
pub struct SpawnedMonitor {
    child: std::process::Child,
    reader: ch01_chroot::report::ReportReader,
}

// ANCHOR: wait_started
impl SpawnedMonitor {
    /// The monitor's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Blocks until the container runs (Ok) or the start failed.
    pub fn wait_started(mut self) -> Result<()> {
        match self.reader.receive() {
            None => {
                // The monitor lives on in its own session; the kernel
                // reparents it when we exit (it runs as long as the container).
                std::mem::forget(self.child);
                Ok(())
            }
            Some(error) => {
                // It exits after saying why: once it has, nothing of the
                // start remains (its mount, cgroup, network are undone).
                let _ = self.child.wait();
                Err(error)
            }
        }
    }
}
// ANCHOR_END: wait_started

fn monitor_command(engine: &Engine, id: &str) -> Command {
    let mut command = Command::new(&engine.exe);
    command
        .arg("--root")
        .arg(&engine.root)
        .arg("--run-dir")
        .arg(&engine.run_dir)
        .arg("__monitor")
        .arg(id)
        // An environment of its own: nothing of the caller's leaks into
        // the container (`-e KEY` was resolved at create).
        .env_clear()
        .env("PATH", ch01_chroot::exec::DEFAULT_PATH)
        .env("TERM", "xterm")
        .env("BERTH_EXE", &engine.exe);
    // The test suites' network tag (chapter 5), so the monitor uses the
    // same bridge and chains as the command that created the container.
    if let Some(tag) = std::env::var_os(ch05_network::network::TAG_VAR) {
        command.env(ch05_network::network::TAG_VAR, tag);
    }
    // And their resolvers' upstream (chapter 5), so no query leaves the machine.
    if let Some(upstream) = std::env::var_os(ch05_network::forward::UPSTREAM_VAR) {
        command.env(ch05_network::forward::UPSTREAM_VAR, upstream);
    }
    command
}

/// For a restart: the monitor becomes a new monitor of the same container.
pub fn exec_monitor(engine: &Engine, id: &str) -> Error {
    let error = monitor_command(engine, id).exec();
    Error::engine(format!("restarting the monitor: {error}"))
}
