//! `stop`, `kill` and `restart`: signals to the container's first process.
//!
//! `stop` sends the stop signal (SIGTERM unless `--stop-signal` said
//! otherwise), waits up to the timeout for the monitor to record the exit,
//! then sends SIGKILL. A pid 1 that installs no handler ignores SIGTERM
//! (the kernel protects a pid namespace's init), so busybox `httpd` as pid
//! 1 ends only by SIGKILL: exit code 137.

use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};

use crate::context::Engine;
use crate::lookup::{Found, find};
use crate::record::{self, Record, Status};
use crate::signal::parse_signal;
use crate::{Error, Result};

// ANCHOR: stop
/// Stops `key` and returns its name; `timeout` overrides the container's.
pub fn stop(engine: &Engine, key: &str, timeout: Option<u32>) -> Result<String> {
    let found = find(engine, key)?;
    if !found.record.is_active() {
        return Ok(key.to_string()); // stopped already: Docker says nothing
    }
    // From now on the restart policy stays off.
    record::update(found.dir(), |r| r.state.stopped_by_user = true)?;
    let signal = parse_signal(&found.record.host.stop_signal)?;
    let timeout = Duration::from_secs(timeout.unwrap_or(found.record.host.stop_timeout).into());
    thaw_if_paused(&found);
    signal_container(&found.record, signal)?;
    if !wait_exited(&found, timeout) {
        signal_container(&found.record, Signal::SIGKILL)?;
        if !wait_exited(&found, Duration::from_secs(10)) {
            return Err(Error::engine(format!(
                "container {key} did not exit after SIGKILL"
            )));
        }
    }
    Ok(key.to_string())
}
// ANCHOR_END: stop

/// `kill -s SIGNAL`: the container must run.
pub fn kill_container(engine: &Engine, key: &str, signal: &str) -> Result<String> {
    let signal = parse_signal(signal)?;
    let found = find(engine, key)?;
    if !matches!(found.record.state.status, Status::Running | Status::Paused) {
        return Err(Error::conflict(format!(
            "cannot kill container {key}: it is not running"
        )));
    }
    if matches!(signal, Signal::SIGKILL | Signal::SIGTERM | Signal::SIGINT) {
        record::update(found.dir(), |r| r.state.stopped_by_user = true)?;
    }
    if signal == Signal::SIGKILL {
        thaw_if_paused(&found);
    }
    signal_container(&found.record, signal)?;
    Ok(key.to_string())
}

/// `rm -f`: SIGKILL, and wait until the monitor has torn down. A monitor
/// still starting the container (its command line was killed, say) gets
/// a moment to get there; one that does not is killed itself, and the
/// chapters' sweeps reclaim what it held.
pub fn kill_and_wait(engine: &Engine, found: &Found) -> Result<()> {
    record::update(found.dir(), |r| r.state.stopped_by_user = true)?;
    thaw_if_paused(found);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let Some(record) = Record::read(found.dir())? else {
            return Ok(()); // removed by its monitor (--rm)
        };
        if !record.monitor_alive() {
            return Ok(());
        }
        if let Some(pid) = record.live_pid() {
            let _ = kill(pid, Signal::SIGKILL);
        }
        if Instant::now() >= deadline {
            if let Some(monitor) = record.state.monitor.filter(|m| m.is_alive()) {
                let _ = kill(
                    nix::unistd::Pid::from_raw(monitor.pid as i32),
                    Signal::SIGKILL,
                );
                while monitor.is_alive() {
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
            // Looking it up reconciles the record and sweeps what the
            // monitor held.
            crate::lookup::find(engine, &record.id)?;
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn signal_container(record: &Record, signal: Signal) -> Result<()> {
    match record.live_pid() {
        Some(pid) => kill(pid, signal)
            .map_err(|e| Error::engine(format!("kill {}: {}", record.name, e.desc()))),
        // Between restarts there is no process: the monitor sees the
        // stopped_by_user flag.
        None => Ok(()),
    }
}

/// Until the monitor is gone (it records the exit first) or `timeout`.
pub fn wait_exited(found: &Found, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        let record = Record::read(found.dir()).ok().flatten();
        let done = match &record {
            Some(r) => !r.monitor_alive(),
            None => true, // removed (--rm)
        };
        if done {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn thaw_if_paused(found: &Found) {
    if found.record.state.status == Status::Paused {
        let _ = crate::pause::set_paused(found, false);
    }
}
