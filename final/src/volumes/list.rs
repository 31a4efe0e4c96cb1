//! `volume ls`: DRIVER and VOLUME NAME columns, `-q`, and the filters
//! `dangling=` (no container uses it), `name=`, `label=`.

use serde_json::json;

use super::ListArgs;
use super::store::{Volume, Volumes, users};
use crate::context::Engine;
use crate::format::{align, render};
use crate::lookup::{Found, all};
use crate::{Error, Result};

pub fn list(engine: &Engine, args: &ListArgs) -> Result<String> {
    let volumes = Volumes::open(engine)?.list()?;
    let (containers, _) = all(engine)?;
    let mut rows = Vec::new();
    for volume in volumes {
        if passes(&args.filters, &volume, &containers)? {
            rows.push(volume);
        }
    }
    if args.quiet {
        return Ok(rows.iter().map(|v| format!("{}\n", v.name)).collect());
    }
    if let Some(template) = args.format.as_deref().filter(|f| *f != "table") {
        let mut out = String::new();
        for v in &rows {
            let value = serde_json::to_value(v).unwrap_or(json!({}));
            if template == "json" {
                out.push_str(&value.to_string());
            } else {
                out.push_str(&render(template, &value)?);
            }
            out.push('\n');
        }
        return Ok(out);
    }
    let mut lines = vec![vec!["DRIVER".to_string(), "VOLUME NAME".to_string()]];
    lines.extend(rows.iter().map(|v| vec![v.driver.clone(), v.name.clone()]));
    Ok(align(&lines))
}

fn passes(filters: &[String], volume: &Volume, containers: &[Found]) -> Result<bool> {
    for filter in filters {
        let ok = match filter.split_once('=') {
            Some(("dangling", v)) => {
                let dangling = users(containers, &volume.name).is_empty();
                match v {
                    "true" | "1" => dangling,
                    "false" | "0" => !dangling,
                    _ => return Err(bad(filter)),
                }
            }
            Some(("name", v)) => volume.name.contains(v),
            Some(("label", v)) => match v.split_once('=') {
                Some((k, want)) => volume.labels.get(k).is_some_and(|have| have == want),
                None => volume.labels.contains_key(v),
            },
            Some(("driver", v)) => volume.driver == v,
            _ => return Err(bad(filter)),
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

fn bad(filter: &str) -> Error {
    Error::invalid(format!(
        "invalid filter {filter:?}: use dangling=true|false, name=TEXT, label=KEY[=VALUE] or driver=local"
    ))
}
