//! A container's state: `<root>/<id>/state.json`, written whole and
//! atomically by `create`, read by every other verb; and the
//! `state` verb, which prints it in the runtime spec's shape.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

use super::{Globals, OCI_VERSION};
use crate::Error;

/// The file's name in the container's state directory.
pub const STATE_FILE: &str = "state.json";
/// The exec gate a created container waits at (chapter 2's `gate`).
pub const EXEC_FIFO: &str = "exec.fifo";

/// Where a container is in its life, as the runtime spec names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }
}

/// The runtime spec's state, plus what berth-runtime keeps for itself.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct State {
    pub oci_version: String,
    pub id: String,
    pub status: Status,
    /// The container's first process on the host (0 once stopped).
    #[serde(default)]
    pub pid: i32,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    /// When it was created (RFC 3339).
    pub created: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// When its first process started (clock ticks since boot): with the
    /// pid, the process itself, not a later one given the same number
    /// (berth-runtime's own field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid_start: Option<u64>,
}

impl State {
    /// A state for a container being created from `bundle`.
    pub fn new(id: &str, bundle: &Path, rootfs: &Path) -> State {
        State {
            oci_version: OCI_VERSION.to_string(),
            id: id.to_string(),
            status: Status::Creating,
            pid: 0,
            bundle: bundle.to_path_buf(),
            rootfs: rootfs.to_path_buf(),
            created: crate::time::rfc3339(crate::time::now_nanos()),
            annotations: BTreeMap::new(),
            pid_start: None,
        }
    }

    /// Records the container's first process, with its start time.
    pub fn set_process(&mut self, pid: Pid) {
        self.pid = pid.as_raw();
        self.pid_start = ch04_overlay::owner::start_time(pid.as_raw() as u32);
    }

    // ANCHOR: alive
    /// True while the recorded first process lives: the same pid and start
    /// time, and not a zombie (exited, waiting for its parent, the shim,
    /// to reap it).
    pub fn alive(&self) -> bool {
        let owner = ch04_overlay::owner::Owner {
            pid: self.pid.max(0) as u32,
            start: self.pid_start,
        };
        owner.is_alive()
    }
    // ANCHOR_END: alive

    /// Writes it to `dir` at once (readers see the old or the new file).
    pub fn save(&self, dir: &Path) -> Result<(), Error> {
        let json = serde_json::to_vec_pretty(self)
            .map_err(|e| Error::engine(format!("state of {}: {e}", self.id)))?;
        ch04_overlay::atomic::write_atomic_volatile(&dir.join(STATE_FILE), &json)
    }

    /// The state as stored, with the status the processes show now: a
    /// stored `created` whose gate is gone runs; a dead pid is stopped.
    pub fn load(globals: &Globals, id: &str) -> Result<State, Error> {
        check_id(id)?;
        let dir = globals.dir(id);
        let text = std::fs::read(dir.join(STATE_FILE)).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                Error::not_found(format!("container {id} does not exist"))
            }
            _ => Error::engine(format!("state of {id}: {e}")),
        })?;
        let mut state: State = serde_json::from_slice(&text)
            .map_err(|e| Error::engine(format!("state of {id} is damaged: {e}")))?;
        if matches!(state.status, Status::Created | Status::Running) {
            if !state.alive() {
                state.status = Status::Stopped;
            } else if !dir.join(EXEC_FIFO).exists() {
                state.status = Status::Running;
                let frozen = super::resources::open(id).and_then(|c| c.is_frozen());
                if frozen.unwrap_or(false) {
                    state.status = Status::Paused;
                }
            }
        }
        if state.status == Status::Stopped {
            state.pid = 0;
        }
        Ok(state)
    }
}

/// Refuses ids that would name a path outside the root.
pub fn check_id(id: &str) -> Result<(), Error> {
    let fits = |c: char| c.is_ascii_alphanumeric() || "_+-.".contains(c);
    if id.is_empty() || id.starts_with('.') || !id.chars().all(fits) {
        return Err(Error::invalid(format!(
            "invalid container id {id:?}: use letters, digits, '_', '+', '-' and '.' (not first)"
        )));
    }
    Ok(())
}

/// The `state` verb: the state as JSON.
pub fn state(globals: &Globals, id: &str) -> Result<String, Error> {
    let state = State::load(globals, id)?;
    serde_json::to_string_pretty(&state).map_err(|e| Error::engine(format!("state of {id}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_cannot_leave_the_root() {
        check_id("abc-1_2.3+x").unwrap();
        for bad in ["", "..", ".hidden", "a/b", "../x", "a b"] {
            assert_eq!(check_id(bad).unwrap_err().code, 125, "{bad:?}");
        }
    }
}
