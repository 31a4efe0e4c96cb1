//! `volume prune`: anonymous volumes no container uses (`-a`: every
//! unused volume), and the space they freed.

use super::store::{Volumes, users};
use crate::context::Engine;
use crate::lookup::all;
use crate::system::disk_usage;
use crate::{Error, Result};

pub fn prune(engine: &Engine, every: bool, force: bool) -> Result<String> {
    if !force {
        return Err(Error::invalid(
            "volume prune deletes data: confirm with -f (berth does not ask)",
        ));
    }
    let store = Volumes::open(engine)?;
    let _lock = store.lock()?;
    let (containers, _) = all(engine)?;
    let mut out = String::new();
    let mut freed = 0;
    for volume in store.list()? {
        // Docker's anonymous volumes: a 64-hex name.
        let anonymous =
            volume.name.len() == 64 && volume.name.bytes().all(|b| b.is_ascii_hexdigit());
        if !(every || anonymous) || !users(&containers, &volume.name).is_empty() {
            continue;
        }
        freed += disk_usage(&volume.mountpoint);
        store.remove_unlocked(&volume.name)?;
        if out.is_empty() {
            out.push_str("Deleted Volumes:\n");
        }
        out.push_str(&volume.name);
        out.push('\n');
    }
    out.push_str(&format!(
        "\nTotal reclaimed space: {}\n",
        ch06_images::store::human_size(freed)
    ));
    Ok(out)
}
