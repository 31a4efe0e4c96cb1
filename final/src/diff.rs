//! `diff`: what a container changed in its filesystem, as chapter 4 reads
//! it from the upper directory (`A` added, `C` changed, `D` deleted).

use crate::Result;
use crate::context::Engine;
use crate::lookup::find;

pub fn diff(engine: &Engine, key: &str) -> Result<String> {
    let found = find(engine, key)?;
    let changes = found.container.diff()?;
    Ok(ch04_overlay::diff::render(&changes))
}
