//! `start`: lets a created container run its command, by opening its exec
//! gate (chapter 2's `gate::start`).

use nix::unistd::Pid;

use super::state::{EXEC_FIFO, State, Status};
use super::{Globals, hooks};
use crate::Error;

/// Starts container `id`, which must be `created`.
pub fn start(globals: &Globals, id: &str) -> Result<(), Error> {
    let state = State::load(globals, id)?;
    if state.status != Status::Created {
        return Err(Error::conflict(format!(
            "container {id} is {}, not created: only a created container can be started",
            state.status.as_str()
        )));
    }
    let fifo = globals.dir(id).join(EXEC_FIFO);
    ch02_namespaces::gate::start(&fifo, Some(Pid::from_raw(state.pid)))?;
    // The container runs: poststart hooks may only warn from here.
    if let Ok(bundle) = super::bundle::load(&state.bundle) {
        let mut state = state;
        state.status = Status::Running;
        hooks::run_warning(&bundle.config, hooks::Point::Poststart, &state);
    }
    Ok(())
}
