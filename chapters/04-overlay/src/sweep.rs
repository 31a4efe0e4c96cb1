//! The sweep: what a killed run left behind.
//!
//! A run that is killed (SIGKILL, a crash, a power cut) cannot unmount its
//! overlay or remove its `--rm` container. Its `pid` file survives and
//! names a process that no longer exists (or a pid since reused by a
//! process that started later); that is how the sweep knows the state is
//! stale: it unmounts the root, removes the `pid` file, and
//! deletes containers that were half-created or meant to be removed.
//! A container whose record is there but unreadable is neither: its upper
//! directory may be someone's work, so the sweep unmounts it and keeps it
//! (`ls` reports it, `rm` removes it).

use crate::Error;
use crate::id::short_id;
use crate::mount::{is_mounted, unmount};
use crate::owner::Owner;
use crate::state::{Config, MERGED, PID};
use crate::store::{Store, remove_dir};

// ANCHOR: sweep
/// Cleans up after dead runs under `store`; returns what it did, one line each.
pub fn sweep(store: &Store) -> Result<Vec<String>, Error> {
    let _lock = store.lock()?;
    let mut done = Vec::new();
    let containers = store.containers_dir();
    let entries = std::fs::read_dir(&containers)
        .map_err(|e| Error::engine(format!("reading {}: {e}", containers.display())))?;
    for entry in entries.flatten() {
        let dir = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if Owner::read(&dir.join(PID)).is_some_and(|o| o.is_alive()) {
            continue; // in use
        }
        let record = Config::read_record(&dir);
        let merged = dir.join(MERGED);
        if is_mounted(&merged) {
            unmount(&merged)?;
            done.push(format!("unmounted {}", merged.display()));
        }
        let _ = std::fs::remove_file(dir.join(PID));
        match record {
            Ok(Some(c)) if !c.auto_remove => {}
            Ok(Some(c)) => {
                remove_dir(&dir)?;
                done.push(format!("removed container {} (--rm)", c.short_id()));
            }
            // Unreadable: kept, whatever it was meant to be.
            Err(_) => {}
            Ok(None) => {
                remove_dir(&dir)?;
                done.push(format!("removed unfinished container {}", short_id(&name)));
            }
        }
    }
    Ok(done)
}
// ANCHOR_END: sweep
