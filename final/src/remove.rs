//! `rm`: a stopped container's directory (its root's upper layer, its log,
//! its record) goes, with its monitor's runtime directory.

use crate::context::Engine;
use crate::lookup::find;
use crate::{Error, Result};

/// `volumes` (`rm -v`): the container's anonymous volumes go too.
pub fn rm(engine: &Engine, key: &str, force: bool, volumes: bool) -> Result<String> {
    let store = engine.containers()?;
    // An unreadable record can only be removed by name, and by force.
    if let ch04_overlay::store::Found::Unreadable(u) =
        store.lookup(key).map_err(crate::lookup::no_such(key))?
    {
        if !force {
            return Err(Error::conflict(format!(
                "the record of container {key} is unreadable ({}): `rm -f {key}` removes it",
                u.error.message
            )));
        }
        store.remove_unreadable(&u)?;
        return Ok(key.to_string());
    }
    let container = store.find(key).map_err(crate::lookup::no_such(key))?;
    if let Err(e) = crate::record::Record::read(&container.dir) {
        // The engine's record is unreadable: kept until named with -f.
        if !force {
            return Err(Error::conflict(format!(
                "{}: `rm -f {key}` removes the container",
                e.message
            )));
        }
        remove_stopped(engine, &container)?;
        return Ok(key.to_string());
    }
    let found = find(engine, key)?;
    if found.record.is_active() || found.record.monitor_alive() {
        if !force {
            return Err(Error::conflict(format!(
                "cannot remove container {key}: it is {}: stop it first, or force remove with `rm -f`",
                found.record.state.status.as_str()
            )));
        }
        crate::stop::kill_and_wait(engine, &found)?;
        if found.record.host.auto_remove {
            // Its monitor removes it.
            return Ok(key.to_string());
        }
    }
    remove_stopped(engine, &found.container)?;
    if volumes {
        crate::mounts::remove_anonymous(engine, &found.record.mounts);
    }
    Ok(key.to_string())
}

/// Removes a container nothing runs in.
pub fn remove_stopped(engine: &Engine, container: &ch04_overlay::store::Container) -> Result<()> {
    let _ = std::fs::remove_dir_all(engine.run_dir_of(&container.config.id));
    match engine.containers()?.find(&container.config.id) {
        Ok(c) => engine.containers()?.remove(&c),
        Err(_) => Ok(()), // gone already
    }
}
