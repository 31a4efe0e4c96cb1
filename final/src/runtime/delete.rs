//! `delete`: releases what a container holds on the host, its cgroup and
//! its state directory (its mounts live in its own mount namespace and go
//! with its last process). A running one only with `--force` (SIGKILL
//! first); a created one is killed, as runc does.

use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::Globals;
use super::state::{State, Status};
use crate::Error;

/// How long `delete` waits for a killed container's first process to go.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

// ANCHOR: delete
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
            wait_gone(&state)?;
        }
        Status::Creating | Status::Stopped => {}
    }
    // Kills what is left inside (a container without its own pid
    // namespace may leave processes), then removes the directories.
    if let Ok(cgroup) = super::resources::open(id) {
        cgroup.remove()?;
    }
    // A bundle removed already has no hooks left to run.
    if let Ok(bundle) = super::bundle::load(&state.bundle) {
        let mut stopped = state.clone();
        stopped.status = Status::Stopped;
        super::hooks::run_warning(&bundle.config, super::hooks::Point::Poststop, &stopped);
    }
    std::fs::remove_dir_all(globals.dir(id))
        .map_err(|e| Error::engine(format!("removing container {id}: {e}")))
}
// ANCHOR_END: delete

/// Waits until the container's first process has exited (a zombie counts:
/// reaping it is its parent's business, the shim's).
fn wait_gone(state: &State) -> Result<(), Error> {
    let since = Instant::now();
    while state.alive() {
        if since.elapsed() > STOP_TIMEOUT {
            return Err(Error::busy(format!(
                "container {} did not stop after SIGKILL",
                state.id
            )));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(())
}
