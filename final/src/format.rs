//! `--format`: `json`, `table`, or a Go template such as
//! `table {{.ID}}\t{{.Names}}` or `{{.State.Pid}}`, over the fields Docker
//! users script against (a subset of Go's text/template: field paths,
//! `{{json .X}}`, and the `\t`/`\n` escapes).

use serde_json::Value;

use crate::{Error, Result};

/// Renders one object with `template`.
pub fn render(template: &str, value: &Value) -> Result<String> {
    let template = template.replace("\\t", "\t").replace("\\n", "\n");
    let mut out = String::new();
    let mut rest = template.as_str();
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        let close = after
            .find("}}")
            .ok_or_else(|| Error::invalid(format!("template {template:?}: unclosed {{{{")))?;
        out.push_str(&action(after[..close].trim(), value)?);
        rest = &after[close + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

fn action(action: &str, value: &Value) -> Result<String> {
    let (json, path) = match action.strip_prefix("json ") {
        Some(path) => (true, path.trim()),
        None => (false, action),
    };
    let found = lookup(path, value)?;
    Ok(match (json, found) {
        (true, v) => v.to_string(),
        (false, Value::String(s)) => s.clone(),
        (false, Value::Null) => "<no value>".to_string(),
        (false, Value::Array(items)) => format!(
            "[{}]",
            items
                .iter()
                .map(|i| match i {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect::<Vec<_>>()
                .join(" ")
        ),
        (false, v) => v.to_string(),
    })
}

fn lookup<'a>(path: &str, value: &'a Value) -> Result<&'a Value> {
    if path == "." {
        return Ok(value);
    }
    let Some(fields) = path.strip_prefix('.') else {
        return Err(Error::invalid(format!(
            "template action {{{{{path}}}}}: berth knows field paths such as .ID and json .X"
        )));
    };
    let mut at = value;
    for field in fields.split('.') {
        at = at
            .get(field)
            .ok_or_else(|| Error::invalid(format!("template: no field {field:?} in {path}")))?;
    }
    Ok(at)
}

/// Renders rows: `table TEMPLATE` with a header line made from the field
/// names (`{{.ID}}` heads `CONTAINER ID` as `headers` says), a plain
/// template without header, or `json` (one object per line).
pub fn render_rows(
    format: &str,
    rows: &[Value],
    headers: &dyn Fn(&str) -> String,
) -> Result<String> {
    if format == "json" {
        return Ok(rows.iter().map(|r| format!("{r}\n")).collect());
    }
    let (table, template) = match format.strip_prefix("table") {
        Some(rest) => (true, rest.trim_start()),
        None => (false, format),
    };
    let mut lines: Vec<Vec<String>> = Vec::new();
    if table {
        let header = render_header(template, headers);
        lines.push(header.split('\t').map(String::from).collect());
    }
    for row in rows {
        lines.push(
            render(template, row)?
                .split('\t')
                .map(String::from)
                .collect(),
        );
    }
    Ok(if table {
        align(&lines)
    } else {
        lines.iter().map(|l| l.join("\t") + "\n").collect()
    })
}

fn render_header(template: &str, headers: &dyn Fn(&str) -> String) -> String {
    let mut out = template.replace("\\t", "\t");
    while let Some(open) = out.find("{{") {
        let Some(close) = out[open..].find("}}") else {
            break;
        };
        let field = out[open + 2..open + close]
            .trim()
            .trim_start_matches('.')
            .to_string();
        out.replace_range(open..open + close + 2, &headers(&field));
    }
    out
}

/// Columns padded to their widest cell, three spaces apart (as Docker).
pub fn align(lines: &[Vec<String>]) -> String {
    let columns = lines.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            lines
                .iter()
                .filter_map(|l| l.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for line in lines {
        let mut text = String::new();
        for (c, cell) in line.iter().enumerate() {
            if c + 1 == line.len() {
                text.push_str(cell);
            } else {
                text.push_str(&format!("{cell:<width$}   ", width = widths[c]));
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn templates() {
        let v = json!({"ID": "abc", "State": {"Pid": 42, "Running": true}, "Cmd": ["sh", "-c"]});
        assert_eq!(render("{{.ID}}\\t{{.State.Pid}}", &v).unwrap(), "abc\t42");
        assert_eq!(
            render("{{json .State}}", &v).unwrap(),
            r#"{"Pid":42,"Running":true}"#
        );
        assert_eq!(render("{{.Cmd}}", &v).unwrap(), "[sh -c]");
        assert!(render("{{.Nope}}", &v).is_err());
        let rows = vec![json!({"ID": "a", "Names": "web"})];
        let out = render_rows("table {{.ID}}\t{{.Names}}", &rows, &|f| f.to_uppercase()).unwrap();
        assert_eq!(out, "ID   NAMES\na    web\n");
    }
}
