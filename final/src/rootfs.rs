//! A container's root filesystem from the host's side, for `cp` and
//! `export`: the merged directory its monitor mounted while it runs, or,
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

    pub fn path(&self) -> &Path {
        &self.path
    }
}
