//! `volume inspect`: the volumes as a JSON array, or a template each.

use super::store::Volumes;
use crate::context::Engine;
use crate::format::render;
use crate::{Error, Result};

/// Prints what it finds; a missing volume is reported and makes the
/// exit code 1, as Docker does.
pub fn inspect(engine: &Engine, format: Option<&str>, names: &[String]) -> Result<i32> {
    let store = Volumes::open(engine)?;
    let mut found = Vec::new();
    let mut code = 0;
    for name in names {
        match store.get(name) {
            Ok(v) => {
                found.push(serde_json::to_value(&v).map_err(|e| Error::engine(e.to_string()))?)
            }
            Err(e) => {
                eprintln!("Error: {}", e.message);
                code = 1;
            }
        }
    }
    match format {
        Some(template) => {
            for v in &found {
                println!("{}", render(template, v)?);
            }
        }
        None => println!(
            "{}",
            serde_json::to_string_pretty(&found).unwrap_or_default()
        ),
    }
    Ok(code)
}
