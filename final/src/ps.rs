//! `ps`: the containers, as Docker lists them (and filters and formats).

use serde_json::{Value, json};

use crate::cli::PsArgs;
use crate::format::{align, render_rows};
use crate::lookup::Found;
use crate::record::Status;
use crate::time::{human_duration, since};
use crate::{Error, Result};

/// `Up 5 seconds`, `Exited (137) 2 minutes ago`, `Created`...
pub fn status_text(found: &Found) -> String {
    let s = &found.record.state;
    match s.status {
        Status::Created => "Created".to_string(),
        Status::Running => format!("Up {}", human_duration(since(s.started_at))),
        Status::Paused => format!("Up {} (Paused)", human_duration(since(s.started_at))),
        Status::Restarting => format!(
            "Restarting ({}) {} ago",
            s.exit_code,
            human_duration(since(s.finished_at))
        ),
        Status::Exited => format!(
            "Exited ({}) {} ago",
            s.exit_code,
            human_duration(since(s.finished_at))
        ),
        Status::Removing => "Removal In Progress".to_string(),
        Status::Dead => "Dead".to_string(),
    }
}

/// One row's fields, named as Docker's `--format` names them.
pub fn row(found: &Found, no_trunc: bool) -> Value {
    let r = &found.record;
    let command = r.process.argv.join(" ");
    let command = if no_trunc || command.chars().count() <= 20 {
        command
    } else {
        format!("{}…", command.chars().take(19).collect::<String>())
    };
    json!({
        "ID": if no_trunc { r.id.clone() } else { r.short_id().to_string() },
        "Image": r.image,
        "Command": format!("\"{command}\""),
        "CreatedAt": crate::time::rfc3339(r.created),
        "RunningFor": format!("{} ago", human_duration(since(r.created))),
        "Status": status_text(found),
        "State": r.state.status.as_str(),
        "Ports": r.host.ports.join(", "),
        "Names": r.name,
        "Labels": r.process.labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","),
        "Size": "0B",
        "Networks": r.host.network_mode,
    })
}

fn header(field: &str) -> String {
    match field {
        "ID" => "CONTAINER ID",
        "Command" => "COMMAND",
        "CreatedAt" => "CREATED AT",
        "RunningFor" => "CREATED",
        other => return other.to_uppercase(),
    }
    .to_string()
}

// ANCHOR: filters
/// Whether `found` passes one `--filter KEY=VALUE`.
fn passes(found: &Found, filter: &str) -> Result<bool> {
    let (key, value) = filter.split_once('=').ok_or_else(|| {
        Error::invalid(format!(
            "bad filter {filter:?}: use KEY=VALUE, e.g. status=running"
        ))
    })?;
    let r = &found.record;
    Ok(match key {
        "status" => r.state.status.as_str() == value,
        "name" => r.name.contains(value),
        "id" => r.id.starts_with(value),
        "label" => match value.split_once('=') {
            Some((k, v)) => r.process.labels.get(k).is_some_and(|l| l == v),
            None => r.process.labels.contains_key(value),
        },
        "ancestor" => {
            let id = r.image_id.trim_start_matches("sha256:");
            r.image == value || id.starts_with(value.trim_start_matches("sha256:"))
        }
        "exited" => r.state.status == Status::Exited && r.state.exit_code.to_string() == value,
        _ => {
            return Err(Error::invalid(format!(
                "unknown filter {key:?}: use status, name, id, label, ancestor or exited"
            )));
        }
    })
}
// ANCHOR_END: filters

pub fn ps(mut containers: Vec<Found>, args: &PsArgs) -> Result<String> {
    let limited = args.last.or(args.latest.then_some(1));
    if !args.all && limited.is_none() {
        containers.retain(|c| c.record.is_active());
    }
    let mut kept = Vec::new();
    for c in containers {
        let mut ok = true;
        for f in &args.filters {
            ok &= passes(&c, f)?;
        }
        if ok {
            kept.push(c);
        }
    }
    if let Some(n) = limited {
        kept.truncate(n);
    }
    let rows: Vec<Value> = kept.iter().map(|c| row(c, args.no_trunc)).collect();
    if args.quiet {
        return Ok(rows
            .iter()
            .map(|r| format!("{}\n", r["ID"].as_str().unwrap_or("")))
            .collect());
    }
    match args.format.as_deref() {
        Some(format) if format != "table" => render_rows(format, &rows, &header),
        _ => {
            let columns = [
                "ID",
                "Image",
                "Command",
                "RunningFor",
                "Status",
                "Ports",
                "Names",
            ];
            let mut lines = vec![columns.iter().map(|c| header(c)).collect::<Vec<_>>()];
            for row in &rows {
                lines.push(
                    columns
                        .iter()
                        .map(|c| row[c].as_str().unwrap_or_default().to_string())
                        .collect(),
                );
            }
            Ok(align(&lines))
        }
    }
}
