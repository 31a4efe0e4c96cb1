//! `images` / `image ls`: one line per name of an image, newest first,
//! with Docker's columns, filters and `--format` fields (Repository, Tag,
//! ID, Digest, CreatedSince, CreatedAt, Size).

use serde_json::{Value, json};

use ch06_images::reference::Reference;
use ch06_images::store::{ImageRow, human_size};

use super::ListArgs;
use super::catalog::{Catalog, short_id};
use super::created;
use crate::context::Engine;
use crate::format::{align, render_rows};
use crate::{Error, Result};

/// The listing `args` asks for, ready to print.
pub fn list(engine: &Engine, args: &ListArgs) -> Result<String> {
    let filters = args
        .filters
        .iter()
        .map(|f| parse_filter(f))
        .collect::<Result<Vec<_>>>()?;
    let repository = args
        .repository
        .as_deref()
        .map(Reference::parse)
        .transpose()?;
    let catalog = Catalog::open(engine)?;
    let mut rows: Vec<&ImageRow> = Vec::new();
    'rows: for row in &catalog.rows {
        if let (Some(reference), Some(text)) = (&repository, args.repository.as_deref())
            && !matches_repository(row, reference, text)
        {
            continue;
        }
        for filter in &filters {
            if !filter.passes(&catalog, row)? {
                continue 'rows;
            }
        }
        rows.push(row);
    }
    // Newest first, as Docker; then by name.
    rows.sort_by(|a, b| {
        let (ta, tb) = (
            created::parse(a.created.as_deref()),
            created::parse(b.created.as_deref()),
        );
        tb.cmp(&ta).then_with(|| a.name.cmp(&b.name))
    });
    let values: Vec<Value> = rows.iter().map(|r| row(r, args.no_trunc)).collect();
    if args.quiet {
        let mut ids: Vec<&str> = Vec::new();
        for v in &values {
            let id = v["ID"].as_str().unwrap_or_default();
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        return Ok(ids.iter().map(|id| format!("{id}\n")).collect());
    }
    match args.format.as_deref() {
        Some(format) if format != "table" => render_rows(format, &values, &header),
        _ => {
            let mut columns = vec!["Repository", "Tag"];
            if args.digests {
                columns.push("Digest");
            }
            columns.extend(["ID", "CreatedSince", "Size"]);
            let mut lines = vec![columns.iter().map(|c| header(c)).collect::<Vec<_>>()];
            for v in &values {
                lines.push(
                    columns
                        .iter()
                        .map(|c| v[c].as_str().unwrap_or_default().to_string())
                        .collect(),
                );
            }
            Ok(align(&lines))
        }
    }
}

/// One row's fields, named as Docker's `--format` names them.
pub fn row(r: &ImageRow, no_trunc: bool) -> Value {
    json!({
        "Repository": r.repository,
        "Tag": r.tag,
        "Digest": r.digest,
        "ID": if no_trunc { r.id.clone() } else { short_id(&r.id) },
        "CreatedSince": created::since(r.created.as_deref()),
        "CreatedAt": created::at(r.created.as_deref()),
        "Size": human_size(r.size),
        "VirtualSize": human_size(r.size),
        "SharedSize": "N/A",
        "UniqueSize": "N/A",
        "Containers": "N/A",
    })
}

fn header(field: &str) -> String {
    match field {
        "ID" => "IMAGE ID",
        "CreatedSince" => "CREATED",
        "CreatedAt" => "CREATED AT",
        "VirtualSize" => "SIZE",
        "SharedSize" => "SHARED SIZE",
        "UniqueSize" => "UNIQUE SIZE",
        other => return other.to_uppercase(),
    }
    .to_string()
}

/// `images REPOSITORY[:TAG]`: the rows of that repository (and tag, if
/// `text` gives one: the parsed reference says `latest` either way).
fn matches_repository(row: &ImageRow, reference: &Reference, text: &str) -> bool {
    let last = text.rsplit('/').next().unwrap_or(text);
    let tag_given = last.contains(':') && !text.contains('@');
    row.repository == reference.familiar_name()
        && (!tag_given || reference.tag.as_deref() == Some(row.tag.as_str()))
}

/// One `--filter`, checked before anything is listed.
enum Filter {
    Dangling(bool),
    Reference(String),
    Label(String, Option<String>),
}

// ANCHOR: filters
/// Parses `--filter KEY=VALUE`.
fn parse_filter(filter: &str) -> Result<Filter> {
    let (key, value) = filter.split_once('=').ok_or_else(|| {
        Error::invalid(format!(
            "bad filter {filter:?}: use KEY=VALUE, e.g. dangling=true"
        ))
    })?;
    Ok(match key {
        "dangling" => match value {
            "true" | "1" => Filter::Dangling(true),
            "false" | "0" => Filter::Dangling(false),
            _ => {
                return Err(Error::invalid(format!(
                    "invalid filter 'dangling={value}': use dangling=true or dangling=false"
                )));
            }
        },
        "reference" => Filter::Reference(value.to_string()),
        "label" => match value.split_once('=') {
            Some((k, v)) => Filter::Label(k.to_string(), Some(v.to_string())),
            None => Filter::Label(value.to_string(), None),
        },
        _ => {
            return Err(Error::invalid(format!(
                "unknown filter {key:?}: use dangling, reference or label"
            )));
        }
    })
}

impl Filter {
    /// Whether `row` passes.
    fn passes(&self, catalog: &Catalog, row: &ImageRow) -> Result<bool> {
        Ok(match self {
            // Dangling: no tag names it (what a moved tag or rmi -f leaves).
            Filter::Dangling(wanted) => (row.tag == "<none>") == *wanted,
            Filter::Reference(pattern) => {
                glob(pattern, &format!("{}:{}", row.repository, row.tag))
                    || glob(pattern, &row.repository)
            }
            Filter::Label(key, value) => {
                let record = catalog.store.lookup(&row.name)?;
                let (_, config) = catalog.store.describe(&record)?;
                let labels = config.config.and_then(|c| c.labels).unwrap_or_default();
                match value {
                    Some(v) => labels.get(key) == Some(v),
                    None => labels.contains_key(key),
                }
            }
        })
    }
}
// ANCHOR_END: filters

/// Shell-style matching: `*` is any run of characters but `/`, `?` one.
fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    fn at(p: &[char], t: &[char]) -> bool {
        match p.first() {
            None => t.is_empty(),
            Some('*') => (0..=t.len())
                .take_while(|&i| i == 0 || t[i - 1] != '/')
                .any(|i| at(&p[1..], &t[i..])),
            Some('?') => !t.is_empty() && t[0] != '/' && at(&p[1..], &t[1..]),
            Some(c) => t.first() == Some(c) && at(&p[1..], &t[1..]),
        }
    }
    at(&p, &t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob("busy*", "busybox:latest"));
        assert!(glob("*:latest", "busybox:latest"));
        assert!(!glob("*", "127.0.0.1:5000/busybox"));
        assert!(glob("*/busybox", "127.0.0.1:5000/busybox"));
        assert!(glob("b?sybox", "busybox"));
        assert!(!glob("busybox", "busybox:latest"));
    }
}
