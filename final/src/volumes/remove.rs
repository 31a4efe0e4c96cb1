//! `volume rm`: refused while any container, running or not, names the
//! volume in its mounts (the error names them).

use super::store::{Volumes, users};
use crate::context::Engine;
use crate::lookup::all;
use crate::{Error, Result};

// ANCHOR: remove
pub fn remove_one(engine: &Engine, name: &str) -> Result<()> {
    let store = Volumes::open(engine)?;
    // Under the lock, so no `create` of a container mounts it meanwhile.
    let _lock = store.lock()?;
    store.get(name)?;
    let (containers, _) = all(engine)?;
    let using = users(&containers, name);
    if !using.is_empty() {
        return Err(Error::conflict(format!(
            "remove {name}: volume is in use by {}: remove the container(s) first",
            using.join(", ")
        )));
    }
    store.remove_unlocked(name)
}
// ANCHOR_END: remove
