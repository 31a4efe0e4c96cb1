//! `pause` and `resume`: freeze and thaw a running container's cgroup
//! (chapter 3's freezer).

use super::Globals;
use super::state::{State, Status};
use crate::Error;

/// Freezes container `id`, which must be running.
pub fn pause(globals: &Globals, id: &str) -> Result<(), Error> {
    let state = State::load(globals, id)?;
    if state.status != Status::Running {
        return Err(Error::conflict(format!(
            "container {id} is {}, not running: only a running container can be paused",
            state.status.as_str()
        )));
    }
    super::resources::open(id)?.freeze()
}

/// Thaws container `id`, which must be paused.
pub fn resume(globals: &Globals, id: &str) -> Result<(), Error> {
    let state = State::load(globals, id)?;
    if state.status != Status::Paused {
        return Err(Error::conflict(format!(
            "container {id} is {}, not paused: only a paused container can be resumed",
            state.status.as_str()
        )));
    }
    super::resources::open(id)?.thaw()
}
