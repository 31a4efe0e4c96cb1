//! `start`: a created or exited container gets a monitor, which starts it.

use crate::context::Engine;
use crate::lookup::{Found, find};
use crate::monitor::spawn::spawn_monitor;
use crate::record::{self, Status};
use crate::{Error, Result};

// ANCHOR: start
/// Starts `found` and returns once it runs. With `attach_first`, the
/// monitor waits for one attach client before it starts the container:
/// the caller connects with [`crate::attach::connect`] in between.
pub fn start(
    engine: &Engine,
    found: &Found,
    attach_first: bool,
    between: impl FnOnce(u32) -> Result<()>,
) -> Result<()> {
    let dir = found.dir().clone();
    // The transition is ours: no other start, stop or rm in between.
    let lock = record::lock(&dir)?;
    let record = crate::record::Record::read(&dir)?
        .ok_or_else(|| Error::not_found("no container record"))?;
    if record.monitor_alive() {
        return Err(Error::conflict(format!(
            "container {} is already {}",
            record.name,
            record.state.status.as_str()
        )));
    }
    // (What dead runs left is swept by the chapters on the monitor's way
    // to the start: chapter 5's reclaim, chapter 4's and 3's sweeps.)
    let spawned = spawn_monitor(engine, &record.id, &dir, attach_first)?;
    // The monitor takes the lock to write the record: let it.
    drop(lock);
    let attached = between(spawned.pid());
    // The monitor's own word first: why it did not start says more than
    // why we could not attach.
    spawned.wait_started()?;
    attached
}
// ANCHOR_END: start

/// `start CONTAINER...` without attaching: prints each name as Docker does.
pub fn start_detached(engine: &Engine, key: &str) -> Result<String> {
    let found = find(engine, key)?;
    if matches!(found.record.state.status, Status::Running | Status::Paused) {
        return Ok(key.to_string());
    }
    record::update(found.dir(), |r| r.state.stopped_by_user = false)?;
    start(engine, &found, false, |_| Ok(()))?;
    Ok(key.to_string())
}
