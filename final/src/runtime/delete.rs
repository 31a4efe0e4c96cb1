//! `delete`: removes a container's state; a running one only with
//! `--force` (SIGKILL first), a created one is killed as runc does.

use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::Globals;
use super::state::{State, Status};
use crate::Error;

/// How long `delete` waits for a killed container's keeper to record it.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// Deletes container `id`.
pub fn delete(globals: &Globals, id: &str, force: bool) -> Result<(), Error> {
    let state = match State::load(globals, id) {
        Ok(state) => state,
        // The shim's cleanup deletes with --force whatever is left.
        Err(e) if force && e.is(ch01_chroot::error::ErrorKind::NotFound) => return Ok(()),
        Err(e) => return Err(e),
    };
    match state.status {
        Status::Running | Status::Paused if !force => {
            return Err(Error::conflict(format!(
                "container {id} is running: stop it (kill) first, or delete --force"
            )));
        }
        Status::Created | Status::Running | Status::Paused => {
            let _ = kill(Pid::from_raw(state.pid), Signal::SIGKILL);
            // A frozen process dies only once thawed.
            if let Ok(cgroup) = super::resources::open(id) {
                let _ = cgroup.thaw();
            }
            wait_stopped(globals, id)?;
        }
        Status::Creating | Status::Stopped => {}
    }
    std::fs::remove_dir_all(globals.dir(id))
        .map_err(|e| Error::engine(format!("removing container {id}: {e}")))
}

/// Waits until the keeper has reaped the container and recorded it.
pub fn wait_stopped(globals: &Globals, id: &str) -> Result<State, Error> {
    let since = Instant::now();
    loop {
        let state = State::load(globals, id)?;
        if state.status == Status::Stopped && state.exit_code.is_some() {
            return Ok(state);
        }
        if state.status == Status::Stopped && since.elapsed() > Duration::from_secs(2) {
            // The keeper itself is gone (killed): nothing more will come.
            return Ok(state);
        }
        if since.elapsed() > STOP_TIMEOUT {
            return Err(Error::busy(format!("container {id} did not stop")));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
