//! `tag` / `image tag`: another name for an image (chapter 6's
//! `Store::tag`; the image the target named before stays, untagged, if
//! nothing else names it).

use ch06_images::reference::Reference;

use super::catalog::{Catalog, no_such_image};
use crate::context::Engine;
use crate::{Error, Result};

/// Makes `target` name the image `source` names (a name, id or prefix).
pub fn tag(engine: &Engine, source: &str, target: &str) -> Result<()> {
    let catalog = Catalog::open(engine)?;
    let image = catalog.resolve(source)?;
    let source_name = match image.name {
        Some(name) => name,
        None => catalog
            .names_of(&image.id)
            .next()
            .map(|r| r.name.clone())
            .ok_or_else(|| no_such_image(source))?,
    };
    let target_ref = Reference::parse(target)?;
    if target_ref.digest.is_some() {
        return Err(Error::invalid(format!(
            "refusing to create a tag with a digest reference: {target}; a tag is \
             NAME[:TAG], e.g. app:v2"
        )));
    }
    catalog.store.tag(&source_name, &target_ref.to_string())
}
