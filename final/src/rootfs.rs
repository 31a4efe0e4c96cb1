//! A container's root filesystem from the host's side, for `cp` and
//! `export`: the merged directory its monitor mounted while it runs (or
//! for `cp` the container's own view of it), or,
//! stopped, chapter 4's mount of it for as long as the command needs it
//! (unmounted when the [`Root`] is dropped).

use std::path::{Path, PathBuf};

use ch04_overlay::Storage;
use ch04_overlay::store::Mounted;

use crate::Result;
use crate::lookup::Found;

/// A container's root, mounted while this value lives.
pub struct Root {
    path: PathBuf,
    _mounted: Option<Mounted>,
}

impl Root {
    pub fn open(found: &Found) -> Result<Root> {
        let container = &found.container;
        // vfs: the root is a plain copy, mounted or not.
        if container.is_mounted() || container.config.storage == Storage::Vfs {
            return Ok(Root {
                path: container.rootfs(),
                _mounted: None,
            });
        }
        // Stopped: mounted for us; chapter 4 records us as its user, so a
        // `start` meanwhile is refused as busy rather than mounting twice.
        let mounted = container.mount()?;
        Ok(Root {
            path: container.rootfs(),
            _mounted: Some(mounted),
        })
    }

    /// For `cp`: a running container's root as its processes see it,
    /// through `/proc/PID/root`, the engine's mounts in it included
    /// (`/etc/hostname`, `/etc/hosts`, `/etc/resolv.conf`), as Docker's
    /// `cp` shows them; a stopped container's as [`Root::open`].
    pub fn open_seen(found: &Found) -> Result<Root> {
        if found.record.state.status == crate::record::Status::Running
            && let Some(pid) = found.record.live_pid()
        {
            return Ok(Root {
                path: PathBuf::from(format!("/proc/{pid}/root")),
                _mounted: None,
            });
        }
        Root::open(found)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}
