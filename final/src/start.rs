//! `start`: a created or exited container gets a monitor, which starts it.

use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;

use crate::context::Engine;
use crate::lookup::{Found, find};
use crate::monitor::spawn::spawn_monitor;
use crate::record::{self, Status};
use crate::{Error, Result};

// ANCHOR: start
/// Starts `found` and returns once it runs. With `attach`, the monitor
/// gets its first attach client before it starts the container, so that
/// client sees all of the output: one end of a socket pair, passed as a
/// descriptor; the other end is returned.
pub fn start(engine: &Engine, found: &Found, attach: bool) -> Result<Option<UnixStream>> {
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
    let (ours, theirs) = match attach {
        true => {
            let (ours, theirs) =
                UnixStream::pair().map_err(|e| Error::engine(format!("socketpair: {e}")))?;
            if record.process.tty {
                // The window size goes first: the monitor sizes the pty
                // before the container's first output.
                crate::attach::send_size(&ours);
            }
            (Some(ours), Some(OwnedFd::from(theirs)))
        }
        false => (None, None),
    };
    // (What dead runs left is swept by the chapters on the monitor's way
    // to the start: chapter 5's reclaim, chapter 4's and 3's sweeps.)
    let spawned = spawn_monitor(engine, &record.id, &dir, theirs)?;
    // The monitor takes the lock to write the record: let it.
    drop(lock);
    spawned.wait_started()?;
    Ok(ours)
}
// ANCHOR_END: start

/// `start CONTAINER...` without attaching: prints each name as Docker does.
pub fn start_detached(engine: &Engine, key: &str) -> Result<String> {
    let found = find(engine, key)?;
    if matches!(found.record.state.status, Status::Running | Status::Paused) {
        return Ok(key.to_string());
    }
    record::update(found.dir(), |r| r.state.stopped_by_user = false)?;
    start(engine, &found, false)?;
    Ok(key.to_string())
}
