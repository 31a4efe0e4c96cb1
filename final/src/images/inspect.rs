//! `image inspect`: an image's config and names as Docker's JSON (Id,
//! RepoTags, RepoDigests, Created, Architecture, Os, Size, Config,
//! RootFS), or one `--format` template per image.

use serde_json::{Value, json};

use super::catalog::Catalog;
use crate::Result;
use crate::time::ZERO;

/// The JSON of the image `key` names.
pub fn inspect(catalog: &Catalog, key: &str) -> Result<Value> {
    let image = catalog.resolve(key)?;
    let rows: Vec<_> = catalog.names_of(&image.id).collect();
    let name = image
        .name
        .clone()
        .or_else(|| rows.first().map(|r| r.name.clone()))
        .unwrap_or_default();
    let record = catalog.store.lookup(&name)?;
    let (_, config) = catalog.store.describe(&record)?;
    let tags: Vec<&str> = rows
        .iter()
        .filter(|r| !r.name.contains('@'))
        .map(|r| r.name.as_str())
        .collect();
    let mut digests: Vec<String> = Vec::new();
    for row in &rows {
        let digest = format!("{}@{}", row.repository, row.digest);
        if !digests.contains(&digest) {
            digests.push(digest);
        }
    }
    let run = config.config.clone().unwrap_or_default();
    Ok(json!({
        "Id": image.id,
        "RepoTags": tags,
        "RepoDigests": digests,
        "Parent": "",
        "Comment": "",
        "Created": config.created.as_deref().unwrap_or(ZERO),
        "Author": config.author.as_deref().unwrap_or_default(),
        "Config": {
            "User": run.user.unwrap_or_default(),
            "Env": run.env,
            "Cmd": run.cmd,
            "Entrypoint": run.entrypoint,
            "WorkingDir": run.working_dir.unwrap_or_default(),
            "Labels": run.labels,
        },
        "Architecture": config.architecture,
        "Os": config.os,
        "Size": record.size,
        "RootFS": {
            "Type": config.rootfs.kind,
            "Layers": config.rootfs.diff_ids,
        },
    }))
}
