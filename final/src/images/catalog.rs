//! The images as the commands see them: chapter 6's names grouped by image
//! id (the config's digest), an image found by name, id or id prefix, and
//! the containers that use one.

use ch06_images::reference::Reference;
use ch06_images::store::{ImageRow, Store};

use crate::context::Engine;
use crate::lookup::all;
use crate::{Error, Result};

/// Chapter 6's store and its names, read once.
pub struct Catalog {
    pub store: Store,
    /// One row per name, as chapter 6 lists them.
    pub rows: Vec<ImageRow>,
}

/// What a user's word designates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The image's id, `sha256:...`.
    pub id: String,
    /// The name the word is, when it is one (`rmi NAME` removes only it);
    /// `None` when the word is an id (`rmi ID` removes every name).
    pub name: Option<String>,
}

impl Catalog {
    pub fn open(engine: &Engine) -> Result<Catalog> {
        let store = engine.images()?;
        let rows = store.images()?;
        Ok(Catalog { store, rows })
    }

    /// The names of the image `id`.
    pub fn names_of<'a>(&'a self, id: &'a str) -> impl Iterator<Item = &'a ImageRow> + 'a {
        self.rows.iter().filter(move |r| r.id == id)
    }

    /// The distinct image ids, in the order of their first name.
    pub fn ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = Vec::new();
        for row in &self.rows {
            if !ids.contains(&row.id) {
                ids.push(row.id.clone());
            }
        }
        ids
    }

    // ANCHOR: resolve
    /// The image `key` names: a name (`busybox` is `busybox:latest`), a
    /// `repository@digest` it was pulled as, or an id or id prefix with or
    /// without `sha256:`, as Docker accepts them.
    pub fn resolve(&self, key: &str) -> Result<Resolved> {
        let reference = Reference::parse(key);
        if let Ok(reference) = &reference {
            let name = reference.to_string();
            if let Some(row) = self.rows.iter().find(|r| r.name == name) {
                return Ok(Resolved {
                    id: row.id.clone(),
                    name: Some(name),
                });
            }
            if let Some(digest) = &reference.digest {
                let repository = reference.familiar_name();
                let digest = digest.to_string();
                if let Some(row) = self
                    .rows
                    .iter()
                    .find(|r| r.repository == repository && r.digest == digest)
                {
                    return Ok(Resolved {
                        id: row.id.clone(),
                        name: None,
                    });
                }
            }
        }
        let hex = key.strip_prefix("sha256:").unwrap_or(key);
        if !hex.is_empty() && hex.len() <= 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            let prefix = format!("sha256:{}", hex.to_ascii_lowercase());
            let ids: Vec<String> = self
                .ids()
                .into_iter()
                .filter(|id| id.starts_with(&prefix))
                .collect();
            match ids.as_slice() {
                [id] => {
                    return Ok(Resolved {
                        id: id.clone(),
                        name: None,
                    });
                }
                [] => {}
                _ => {
                    return Err(Error::invalid(format!(
                        "{key} is the start of {} image ids; give more of it",
                        ids.len()
                    )));
                }
            }
        }
        match reference {
            Ok(reference) => Err(no_such_image(&reference.to_string())),
            // Neither a name nor an id: the reference's own complaint.
            Err(e) => Err(e),
        }
    }
    // ANCHOR_END: resolve
}

/// The name to start a container of image `id` by: `preferred` (the name
/// it was created with) while that still names the image, else another
/// name of it (a tag first; `rmi -f` and moved tags leave a digest name).
/// `None` when no name of the store has that id.
pub fn name_for_id(engine: &Engine, id: &str, preferred: &str) -> Result<Option<String>> {
    let catalog = Catalog::open(engine)?;
    let mut names: Vec<&ImageRow> = catalog.names_of(id).collect();
    names.sort_by_key(|r| (r.name != preferred, r.name.contains('@')));
    Ok(names.first().map(|r| r.name.clone()))
}

/// The error for a word that names no image, with where to look.
pub fn no_such_image(key: &str) -> Error {
    Error::not_found(format!(
        "No such image: {key} (berth images lists them, berth pull fetches one)"
    ))
}

/// `sha256:0123456789ab...` as `images` shows it: 12 hex digits.
pub fn short_id(id: &str) -> String {
    id.trim_start_matches("sha256:").chars().take(12).collect()
}

/// The containers whose record names the image `id` (any status: a
/// stopped container still stands on the image's layers), by name.
pub fn users(engine: &Engine, id: &str) -> Result<Vec<String>> {
    let (found, _) = all(engine)?;
    Ok(found
        .into_iter()
        .filter(|f| f.record.image_id == id)
        .map(|f| f.record.name)
        .collect())
}

/// Every image id some container uses.
pub fn used_ids(engine: &Engine) -> Result<Vec<String>> {
    let (found, _) = all(engine)?;
    Ok(found.into_iter().map(|f| f.record.image_id).collect())
}
