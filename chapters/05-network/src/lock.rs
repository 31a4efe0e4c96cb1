//! The state root's lock: one `flock(2)` serialises allocations and rule changes.
//!
//! The lock itself is chapter 3's [`lock_file`] (the kernel drops it when
//! its holder dies, so a killed run never leaves it taken); this module
//! says which files are locked, and when.

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use ch03_cgroups::ownership::lock_file;
use ch04_overlay::atomic::stale_temporaries;
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
    /// The state directories are made first, so that what is written under
    /// the lock (chapter 4's atomic writes) has its directory.
    pub fn lock(&self) -> Result<Locked> {
        for dir in [self.dir.join("networks"), self.dir.join("ipam")] {
            fs::create_dir_all(&dir)
                .map_err(|e| Error::engine(format!("cannot create {}: {e}", dir.display())))?;
        }
        let lock = lock_file(&self.dir.join("lock"), FlockArg::LockExclusive)?;
        Ok(Locked { _lock: lock })
    }

    /// Removes what a run killed in the middle of a state file's atomic
    /// write left: its temporary (chapter 4's [`stale_temporaries`]).
    pub fn remove_stale_temporaries(&self, _lock: &Locked) {
        for dir in [
            self.dir.join("networks"),
            self.dir.join("ipam"),
            self.dir.join("dns"),
        ] {
            for temp in stale_temporaries(&dir) {
                let _ = fs::remove_file(temp);
            }
        }
    }
}

/// The host-wide lock (`/run/berth-network.lock`), held while a network's
/// subnet is chosen and its bridge brought up: state roots are separate,
/// but the host's routes are one, so two roots creating a network at once
/// must not pick the same free subnet.
pub const HOST_LOCK: &str = "/run/berth-network.lock";

/// Takes [`HOST_LOCK`].
pub fn host_lock() -> Result<Locked> {
    let lock = lock_file(Path::new(HOST_LOCK), FlockArg::LockExclusive)?;
    Ok(Locked { _lock: lock })
}
