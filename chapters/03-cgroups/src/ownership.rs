//! Who may remove a cgroup: two `flock(2)`s that keep sweeps and removals
//! off what a concurrent run is creating or using.
//!
//! Both are locks on cgroup directories themselves, so no lock file is left
//! on the host, and the kernel drops them when their holder dies, SIGKILL
//! included.
//!
//! - The *base* lock, on the directory `berth` is made in (one per
//!   hierarchy). A run holds it shared from making `berth` (and, on v2,
//!   handing controllers down from it) until its own `berth/<id>` exists:
//!   creations never wait for each other. Whoever removes `berth`, or sweeps
//!   it, holds it exclusive: it waits for the creations under way, and none
//!   starts meanwhile. Once `berth/<id>` exists the kernel itself refuses to
//!   remove `berth` (not empty).
//! - The *owner* lock, on `berth/<id>`, taken exclusive by its creator while
//!   the base lock is still held and kept as long as the `Cgroup` lives. A
//!   sweep removes only a cgroup whose owner lock it can take: its creator
//!   is gone, even if no process ever joined it.

use std::fs::File;
use std::path::Path;

use nix::fcntl::{Flock, FlockArg};

use crate::Error;
use crate::cgroup::describe;
use crate::layout::Hierarchy;

// ANCHOR: locks
/// Held while a cgroup is created under `hierarchy`'s base, or while its
/// `berth` parent is swept or removed; released on drop.
pub struct BaseLock {
    _lock: Flock<File>,
}

impl BaseLock {
    /// Shared: for a creation (many at once).
    pub fn shared(hierarchy: &Hierarchy) -> Result<BaseLock, Error> {
        BaseLock::take(hierarchy, FlockArg::LockShared)
    }

    /// Exclusive: for removing `berth` or what is in it.
    pub fn exclusive(hierarchy: &Hierarchy) -> Result<BaseLock, Error> {
        BaseLock::take(hierarchy, FlockArg::LockExclusive)
    }

    fn take(hierarchy: &Hierarchy, how: FlockArg) -> Result<BaseLock, Error> {
        let base = hierarchy.mountpoint.join(&hierarchy.base);
        let lock = lock(&base, how)?;
        Ok(BaseLock { _lock: lock })
    }
}

/// The creator's hold on a new cgroup directory: proof that its run is alive.
#[derive(Debug)]
pub struct Owner {
    _lock: Flock<File>,
}

impl Owner {
    /// Claims `dir`, just created (under the base lock: no sweep holds it).
    pub fn claim(dir: &Path) -> Result<Owner, Error> {
        let lock = lock(dir, FlockArg::LockExclusive)?;
        Ok(Owner { _lock: lock })
    }

    /// `dir`'s owner lock if no live run holds it (its creator is gone);
    /// the caller may then remove `dir`.
    pub fn take_abandoned(dir: &Path) -> Option<Owner> {
        lock(dir, FlockArg::LockExclusiveNonblock)
            .ok()
            .map(|lock| Owner { _lock: lock })
    }
}

fn lock(dir: &Path, how: FlockArg) -> Result<Flock<File>, Error> {
    // A directory opens read-only; close-on-exec, so no program the engine
    // runs keeps the lock.
    let file = File::open(dir).map_err(|e| lock_error(dir, &describe(&e)))?;
    flock(file, dir, how)
}
// ANCHOR_END: locks

/// Takes `how` on the lock file `path`, created (mode 0600) if missing:
/// the one way the stores of chapters 4 to 6 serialise their changes. The
/// kernel drops the lock when its holder dies, so a killed command never
/// leaves it taken.
pub fn lock_file(path: &Path, how: FlockArg) -> Result<Flock<File>, Error> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
        .map_err(|e| lock_error(path, &describe(&e)))?;
    flock(file, path, how)
}

/// `flock(2)` on an open `file` (of `path`, for messages). A lock another
/// process holds, asked for without waiting, is [`Error::busy`].
fn flock(file: File, path: &Path, how: FlockArg) -> Result<Flock<File>, Error> {
    Flock::lock(file, how).map_err(|(_, e)| match e {
        nix::errno::Errno::EWOULDBLOCK => {
            Error::busy(format!("{} is locked by another process", path.display()))
        }
        e => lock_error(path, e.desc()),
    })
}

fn lock_error(path: &Path, why: &str) -> Error {
    Error::engine(format!("cannot lock {}: {why}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lock_file_is_made_once_and_held_until_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        let held = lock_file(&path, FlockArg::LockExclusive).unwrap();
        // Another open file description: flock treats it as another holder.
        let err = lock_file(&path, FlockArg::LockExclusiveNonblock).unwrap_err();
        assert_eq!(err.kind, ch01_chroot::ErrorKind::Busy, "{err}");
        drop(held);
        lock_file(&path, FlockArg::LockExclusiveNonblock).unwrap();
        let err = lock_file(&dir.path().join("no/lock"), FlockArg::LockShared).unwrap_err();
        assert!(err.message.starts_with("cannot lock "), "{err}");
    }
}
