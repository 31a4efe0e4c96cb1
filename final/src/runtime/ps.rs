//! `ps`: the host pids of a container's processes (its cgroup's), which
//! containerd's shim asks for as a JSON array.

use super::Globals;
use super::state::{State, Status};
use crate::Error;

/// The pids of container `id`'s processes, sorted.
pub fn pids(globals: &Globals, id: &str) -> Result<Vec<i32>, Error> {
    let state = State::load(globals, id)?;
    if state.status == Status::Stopped {
        return Ok(Vec::new());
    }
    let mut pids: Vec<i32> = super::resources::open(id)?
        .procs()
        .iter()
        .map(|p| p.as_raw())
        .collect();
    pids.sort_unstable();
    Ok(pids)
}
