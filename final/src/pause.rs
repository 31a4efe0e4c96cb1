//! `pause` and `unpause`: chapter 3's freezer on the container's cgroup.

use crate::context::Engine;
use crate::lookup::{Found, find};
use crate::record::{self, Status};
use crate::{Error, Result};

pub fn pause(engine: &Engine, key: &str, paused: bool) -> Result<String> {
    let found = find(engine, key)?;
    let (from, verb) = match paused {
        true => (Status::Running, "pause"),
        false => (Status::Paused, "unpause"),
    };
    if found.record.state.status != from {
        return Err(Error::conflict(format!(
            "cannot {verb} container {key}: it is {}",
            found.record.state.status.as_str()
        )));
    }
    set_paused(&found, paused)?;
    record::update(found.dir(), |r| {
        r.state.status = if paused {
            Status::Paused
        } else {
            Status::Running
        };
    })?;
    Ok(key.to_string())
}

/// Freezes or thaws the cgroup the container's first process is in.
pub fn set_paused(found: &Found, paused: bool) -> Result<()> {
    let cgroup = ch03_cgroups::cgroup::Cgroup::of_container(&found.record.id)?;
    if paused {
        cgroup.freeze()
    } else {
        cgroup.thaw()
    }
}

/// A running container, frozen while a command walks its root (`cp`,
/// `commit`): none of its processes can swap a directory for a link
/// between the walk that resolves a path and the use of it (Docker's
/// CVE-2018-15664), nor change files half-way through a commit. Thawed
/// when dropped; a container that was not running is left as it is.
pub struct Frozen<'a>(Option<&'a Found>);

impl<'a> Frozen<'a> {
    pub fn freeze(found: &'a Found) -> Result<Frozen<'a>> {
        if found.record.state.status != Status::Running {
            return Ok(Frozen(None));
        }
        set_paused(found, true)?;
        Ok(Frozen(Some(found)))
    }
}

impl Drop for Frozen<'_> {
    fn drop(&mut self) {
        if let Some(found) = self.0 {
            let _ = set_paused(found, false);
        }
    }
}
