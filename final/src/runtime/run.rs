//! `run`: create and start in the foreground, as runc's `run`: the
//! container is this process's child (dying with it), which waits for it,
//! forwarding signals, then deletes it; the exit code is the container's.

use super::create::{CreateOptions, create_here};
use super::state::EXEC_FIFO;
use super::{Globals, delete, hooks};
use crate::Error;

/// Runs container `options.id` to its end.
pub fn run(globals: &Globals, options: &CreateOptions) -> Result<i32, Error> {
    let created = create_here(globals, options, true)?;
    let pid = created.container.pid();
    let fifo = globals.dir(&options.id).join(EXEC_FIFO);
    let waited = ch02_namespaces::gate::start(&fifo, Some(pid)).and_then(|()| {
        if let Ok(bundle) = super::bundle::load(&created.state.bundle) {
            let mut state = created.state.clone();
            state.status = super::state::Status::Running;
            hooks::run_warning(&bundle.config, hooks::Point::Poststart, &state);
        }
        created.container.wait()
    });
    // The cgroup goes with our last hold on it, the state with delete.
    drop(created.cgroup);
    let deleted = delete::delete(globals, &options.id, true);
    let code = waited?;
    deleted?;
    Ok(code)
}
