//! `history` / `image history`: the steps an image was built with, newest
//! first, from its config's `history` (each step that made a layer gets
//! that layer's size); an image without history shows one line per layer.

use serde_json::{Value, json};

use ch06_images::store::human_size;

use super::HistoryArgs;
use super::catalog::{Catalog, short_id};
use super::created;
use crate::Result;
use crate::context::Engine;
use crate::format::{align, render_rows};

/// One build step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub created: Option<String>,
    pub created_by: String,
    /// The compressed size of the layer it made (0 for none).
    pub size: u64,
    pub comment: String,
}

// ANCHOR: steps
/// The steps of the image `key` names, newest first, and its id.
pub fn steps(catalog: &Catalog, key: &str) -> Result<(String, Vec<Step>)> {
    let image = catalog.resolve(key)?;
    let name = match image.name {
        Some(name) => name,
        None => catalog
            .names_of(&image.id)
            .next()
            .map(|r| r.name.clone())
            .unwrap_or_default(),
    };
    let (manifest, config) = catalog.store.describe(&catalog.store.lookup(&name)?)?;
    let mut layers = manifest.layers.iter().map(|l| l.size);
    let mut steps: Vec<Step> = if config.history.is_empty() {
        layers
            .map(|size| Step {
                created: config.created.clone(),
                created_by: String::new(),
                size,
                comment: String::new(),
            })
            .collect()
    } else {
        config
            .history
            .iter()
            .map(|h| Step {
                created: h.created.clone(),
                created_by: h.created_by.clone().unwrap_or_default(),
                // Steps that made a layer pair with the layers in order.
                size: if h.empty_layer {
                    0
                } else {
                    layers.next().unwrap_or(0)
                },
                comment: h.comment.clone().unwrap_or_default(),
            })
            .collect()
    };
    steps.reverse();
    Ok((image.id, steps))
}
// ANCHOR_END: steps

/// The history `args` asks for, ready to print.
pub fn history(engine: &Engine, args: &HistoryArgs) -> Result<String> {
    let catalog = Catalog::open(engine)?;
    let (id, steps) = steps(&catalog, &args.image)?;
    let rows: Vec<Value> = steps
        .iter()
        .enumerate()
        .map(|(i, step)| {
            // Only the newest step is an image of its own here: the
            // earlier ones were built elsewhere, as Docker shows pulls.
            let id = match i {
                0 if args.no_trunc => id.clone(),
                0 => short_id(&id),
                _ => "<missing>".to_string(),
            };
            row(step, id, args)
        })
        .collect();
    if args.quiet {
        return Ok(rows
            .iter()
            .map(|r| format!("{}\n", r["ID"].as_str().unwrap_or_default()))
            .collect());
    }
    match args.format.as_deref() {
        Some(format) if format != "table" => render_rows(format, &rows, &header),
        _ => {
            let columns = ["ID", "CreatedSince", "CreatedBy", "Size", "Comment"];
            let mut lines = vec![columns.iter().map(|c| header(c)).collect::<Vec<_>>()];
            for r in &rows {
                lines.push(
                    columns
                        .iter()
                        .map(|c| r[c].as_str().unwrap_or_default().to_string())
                        .collect(),
                );
            }
            Ok(align(&lines))
        }
    }
}

fn row(step: &Step, id: String, args: &HistoryArgs) -> Value {
    let created_by = step.created_by.replace(['\t', '\n'], " ");
    let created_by = if args.no_trunc || created_by.chars().count() <= 45 {
        created_by
    } else {
        format!("{}…", created_by.chars().take(44).collect::<String>())
    };
    let (since, at, size) = if args.human {
        (
            created::since(step.created.as_deref()),
            created::at(step.created.as_deref()),
            human_size(step.size),
        )
    } else {
        let at = step.created.clone().unwrap_or_else(|| "N/A".to_string());
        (at.clone(), at, step.size.to_string())
    };
    json!({
        "ID": id,
        "CreatedSince": since,
        "CreatedAt": at,
        "CreatedBy": created_by,
        "Size": size,
        "Comment": step.comment,
    })
}

fn header(field: &str) -> String {
    match field {
        "ID" => "IMAGE",
        "CreatedSince" => "CREATED",
        "CreatedAt" => "CREATED AT",
        "CreatedBy" => "CREATED BY",
        other => return other.to_uppercase(),
    }
    .to_string()
}
