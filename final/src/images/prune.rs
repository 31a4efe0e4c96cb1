//! `image prune`: remove the dangling images (no tag names them: what a
//! moved tag or `rmi -f` left), or with `-a` every image no container was
//! made from; Docker's confirmation, report and reclaimed space.

use ch01_chroot::events::warning;
use ch06_images::run::containers_using;

use super::catalog::{Catalog, used_ids};
use crate::Result;
use crate::context::Engine;

/// What a prune removed: Docker's lines, and the bytes freed.
#[derive(Debug, Default)]
pub struct Pruned {
    pub lines: Vec<String>,
    pub reclaimed: u64,
}

// ANCHOR: prune
/// Removes the images no container uses: dangling ones, or all (`all`).
/// An image chapter 6 refuses (a container of a chapter binary stands on
/// a layer) is kept, with a warning.
pub fn prune(engine: &Engine, all: bool) -> Result<Pruned> {
    let catalog = Catalog::open(engine)?;
    let used = used_ids(engine)?;
    let mut pruned = Pruned::default();
    for id in catalog.ids() {
        let names: Vec<_> = catalog.names_of(&id).collect();
        let dangling = names.iter().all(|r| r.tag == "<none>");
        if used.contains(&id) || !(all || dangling) {
            continue;
        }
        for row in names {
            match catalog
                .store
                .remove_unless_used(&row.name, |layer| containers_using(&engine.root, layer))
            {
                Ok(removed) => {
                    pruned.lines.push(format!("untagged: {}", removed.untagged));
                    if removed.blobs.iter().any(|b| b.to_string() == id) {
                        pruned.lines.push(format!("deleted: {id}"));
                    }
                    for layer in &removed.layers {
                        pruned.lines.push(format!("deleted: {layer}"));
                    }
                    pruned.reclaimed += removed.reclaimed;
                }
                Err(e) => warning(format!("kept {}: {}", row.name, e.message)),
            }
        }
    }
    Ok(pruned)
}
// ANCHOR_END: prune
