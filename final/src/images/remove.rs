//! `rmi` / `image rm`: remove a name; when it was the image's last name,
//! the image (chapter 6 deletes what no other image reaches). Refused,
//! with the containers named, while a container (running or not) was
//! made from the image: `-f` then removes only the name and the image
//! stays, untagged, until the containers are gone (`image prune`).

use std::collections::BTreeSet;

use ch06_images::run::containers_using;

use super::catalog::{Catalog, users};
use crate::context::Engine;
use crate::{Error, Result};

// ANCHOR: rmi
/// Removes what `key` names; the lines Docker prints (`Untagged: NAME`,
/// `Deleted: sha256:...`).
pub fn rmi(engine: &Engine, key: &str, force: bool) -> Result<Vec<String>> {
    let catalog = Catalog::open(engine)?;
    let image = catalog.resolve(key)?;
    let names: Vec<String> = catalog
        .names_of(&image.id)
        .map(|r| r.name.clone())
        .collect();
    let targets = match &image.name {
        Some(name) => vec![name.clone()],
        None => {
            // An id removes every name; names in several repositories
            // are likely a mistake, as Docker says.
            let repositories: BTreeSet<&str> = catalog
                .names_of(&image.id)
                .map(|r| r.repository.as_str())
                .collect();
            if repositories.len() > 1 && !force {
                return Err(Error::conflict(format!(
                    "unable to delete {key}: the image is named in {} repositories; \
                     remove each name (berth rmi NAME) or all with rmi -f",
                    repositories.len()
                )));
            }
            names.clone()
        }
    };
    if targets.len() == names.len() {
        // The image itself would go: not while a container uses it.
        let users = users(engine, &image.id)?;
        if !users.is_empty() {
            if !force {
                return Err(Error::conflict(format!(
                    "unable to remove image {key}: container {} uses it; remove the \
                     container first (berth rm {}), or untag the image with rmi -f",
                    users.join(", "),
                    users.join(" ")
                )));
            }
            return untag(&catalog, key, &targets, &users);
        }
    }
    let mut untagged = Vec::new();
    let mut deleted = Vec::new();
    for name in &targets {
        let removed = catalog
            .store
            .remove_unless_used(name, |layer| containers_using(&engine.root, layer))?;
        untagged.push(format!("Untagged: {}", removed.untagged));
        if removed.blobs.iter().any(|b| b.to_string() == image.id) {
            deleted.push(format!("Deleted: {}", image.id));
        }
        deleted.extend(removed.layers.iter().map(|l| format!("Deleted: {l}")));
    }
    untagged.extend(deleted);
    Ok(untagged)
}
// ANCHOR_END: rmi

/// `rmi -f` of an image containers use: its tags go, the image stays
/// under its digest name (chapter 6's `untag`).
fn untag(
    catalog: &Catalog,
    key: &str,
    targets: &[String],
    users: &[String],
) -> Result<Vec<String>> {
    let tags: Vec<&String> = targets.iter().filter(|n| !n.contains('@')).collect();
    if tags.is_empty() {
        return Err(Error::conflict(format!(
            "unable to remove image {key}: container {} uses it and it has no tag left \
             to remove; remove the container first (berth rm {})",
            users.join(", "),
            users.join(" ")
        )));
    }
    let mut lines = Vec::new();
    for name in tags {
        catalog.store.untag(name)?;
        lines.push(format!("Untagged: {name}"));
    }
    Ok(lines)
}
