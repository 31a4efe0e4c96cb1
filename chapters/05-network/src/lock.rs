//! The state root's lock: one `flock(2)` serialises allocations and rule changes.
//!
//! The kernel drops a flock when its holder dies, so a killed run never
//! leaves the lock taken.

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};

use crate::{Error, Result};

/// The network state of one state root: `<root>/network/`.
#[derive(Debug, Clone)]
pub struct StateRoot {
    dir: PathBuf,
}

/// Held while the state is read and written; released on drop.
pub struct Locked {
    _lock: Flock<File>,
}

impl StateRoot {
    /// Network state lives in `<root>/network`; created on first use.
    pub fn new(root: impl AsRef<Path>) -> StateRoot {
        StateRoot {
            dir: root.as_ref().join("network"),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Takes the exclusive lock, waiting for other runs to finish their change.
    pub fn lock(&self) -> Result<Locked> {
        fs::create_dir_all(&self.dir)
            .map_err(|e| Error::engine(format!("cannot create {}: {e}", self.dir.display())))?;
        let path = self.dir.join("lock");
        let file = File::create(&path)
            .map_err(|e| Error::engine(format!("cannot open {}: {e}", path.display())))?;
        let lock = Flock::lock(file, FlockArg::LockExclusive)
            .map_err(|(_, e)| Error::engine(format!("cannot lock {}: {e}", path.display())))?;
        Ok(Locked { _lock: lock })
    }
}

/// The host-wide lock (`/run/berth-network.lock`), held while a network's
/// subnet is chosen and its bridge brought up: state roots are separate,
/// but the host's routes are one, so two roots creating a network at once
/// must not pick the same free subnet.
pub const HOST_LOCK: &str = "/run/berth-network.lock";

/// Takes [`HOST_LOCK`].
pub fn host_lock() -> Result<Locked> {
    let path = Path::new(HOST_LOCK);
    let file = File::create(path)
        .map_err(|e| Error::engine(format!("cannot open {}: {e}", path.display())))?;
    let lock = Flock::lock(file, FlockArg::LockExclusive)
        .map_err(|(_, e)| Error::engine(format!("cannot lock {}: {e}", path.display())))?;
    Ok(Locked { _lock: lock })
}

/// Writes `contents` to `path` atomically (a temporary file renamed over it).
pub fn write_atomic(path: &Path, contents: &str) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let fail = |e: std::io::Error| Error::engine(format!("cannot write {}: {e}", path.display()));
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(fail)?;
    }
    fs::write(&tmp, contents).map_err(fail)?;
    fs::rename(&tmp, path).map_err(fail)
}
