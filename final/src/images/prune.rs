//! `image prune`: remove the dangling images (no tag names them: what a
//! moved tag or `rmi -f` left), or with `-a` every image no container was
//! made from; Docker's confirmation, report and reclaimed space.

use std::io::{BufRead, Write};

use ch01_chroot::events::warning;
use ch06_images::run::containers_using;
use ch06_images::store::human_size;

use super::PruneArgs;
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

/// `image prune [-a] [-f]`: asks first unless `-f`, then prints the report.
pub fn run(engine: &Engine, args: &PruneArgs) -> Result<i32> {
    if !args.force && !confirm(args.all) {
        return Ok(0);
    }
    let pruned = prune(engine, args.all)?;
    if !pruned.lines.is_empty() {
        println!("Deleted Images:");
        for line in &pruned.lines {
            println!("{line}");
        }
        println!();
    }
    println!("Total reclaimed space: {}", human_size(pruned.reclaimed));
    Ok(0)
}

/// Docker's question; only `y` or `yes` goes on.
fn confirm(all: bool) -> bool {
    let what = if all {
        "all images without at least one container associated to them"
    } else {
        "all dangling images"
    };
    print!("WARNING! This will remove {what}.\nAre you sure you want to continue? [y/N] ");
    let _ = std::io::stdout().flush();
    let mut answer = String::new();
    if std::io::stdin().lock().read_line(&mut answer).is_err() {
        return false;
    }
    matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}
