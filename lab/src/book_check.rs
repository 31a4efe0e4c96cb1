//! Keeps the book true: every `{{#include}}` resolves (file, anchor, line
//! range), every internal link points at a file that exists, every Rust
//! listing comes from an include, and snapshot includes skip insta's header.

use std::path::{Path, PathBuf};

/// Checks every Markdown file under `src`; returns one line per problem.
pub fn check(src: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    let mut pages = Vec::new();
    collect_markdown(src, &mut pages);
    pages.sort();
    for page in pages {
        let text = match std::fs::read_to_string(&page) {
            Ok(t) => t,
            Err(e) => {
                problems.push(format!("{}: {e}", page.display()));
                continue;
            }
        };
        let dir = page.parent().unwrap_or(src);
        let name = page
            .strip_prefix(src)
            .unwrap_or(&page)
            .display()
            .to_string();
        check_includes(&name, dir, &text, &mut problems);
        check_links(&name, dir, &text, &mut problems);
        check_rust_listings(&name, &text, &mut problems);
    }
    problems
}

fn collect_markdown(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_markdown(&path, out);
        } else if path.extension().is_some_and(|e| e == "md") {
            out.push(path);
        }
    }
}

/// The `{{#include ...}}` and `{{#rustdoc_include ...}}` directives of a text.
pub fn includes(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for directive in ["{{#include ", "{{#rustdoc_include "] {
        let mut rest = text;
        while let Some(start) = rest.find(directive) {
            let after = &rest[start + directive.len()..];
            let Some(end) = after.find("}}") else { break };
            found.push(after[..end].trim().to_string());
            rest = &after[end..];
        }
    }
    found
}

fn check_includes(page: &str, dir: &Path, text: &str, problems: &mut Vec<String>) {
    for spec in includes(text) {
        let mut parts = spec.splitn(2, ':');
        let file = parts.next().unwrap_or("");
        let selector = parts.next();
        let path = dir.join(file);
        let Ok(source) = std::fs::read_to_string(&path) else {
            problems.push(format!("{page}: include {file}: no such file"));
            continue;
        };
        let lines = source.lines().count();
        match selector {
            None => {}
            Some(sel)
                if sel.chars().next().is_some_and(|c| c.is_ascii_digit())
                    || sel.starts_with(':') =>
            {
                let mut bounds = sel.splitn(2, ':');
                let start: usize = bounds.next().and_then(|s| s.parse().ok()).unwrap_or(1);
                if start > lines {
                    problems.push(format!(
                        "{page}: include {spec}: file has only {lines} lines"
                    ));
                }
                if file.ends_with(".snap") && start != snapshot_body_start(&source) {
                    problems.push(format!(
                        "{page}: include {spec}: snapshot body starts at line {}",
                        snapshot_body_start(&source)
                    ));
                }
            }
            Some(anchor) => {
                let begin = source
                    .lines()
                    .any(|l| l.trim_end().ends_with(&format!("ANCHOR: {anchor}")));
                let end = source
                    .lines()
                    .any(|l| l.trim_end().ends_with(&format!("ANCHOR_END: {anchor}")));
                if !begin || !end {
                    problems.push(format!(
                        "{page}: include {spec}: anchor {anchor:?} not found"
                    ));
                }
            }
        }
        if file.ends_with(".snap") && selector.is_none() {
            problems.push(format!(
                "{page}: include {spec}: name the body's line range (e.g. :5:)"
            ));
        }
    }
}

/// The first line (1-based) after insta's `---` header block.
pub fn snapshot_body_start(source: &str) -> usize {
    let mut dashes = 0;
    for (i, line) in source.lines().enumerate() {
        if line == "---" {
            dashes += 1;
            if dashes == 2 {
                return i + 2;
            }
        }
    }
    1
}

fn check_links(page: &str, dir: &Path, text: &str, problems: &mut Vec<String>) {
    let mut rest = text;
    while let Some(pos) = rest.find("](") {
        let after = &rest[pos + 2..];
        let Some(end) = after.find(')') else { break };
        let target = after[..end].split_whitespace().next().unwrap_or("");
        rest = &after[end..];
        let external = target.contains("://") || target.starts_with("mailto:");
        if target.is_empty() || external || target.starts_with('#') {
            continue;
        }
        let file = target.split('#').next().unwrap_or("");
        if !dir.join(file).exists() {
            problems.push(format!("{page}: link {target}: no such file"));
        }
    }
}

fn check_rust_listings(page: &str, text: &str, problems: &mut Vec<String>) {
    let mut in_rust = false;
    let mut in_other = false;
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if let Some(info) = trimmed.strip_prefix("```") {
            if in_rust || in_other {
                in_rust = false;
                in_other = false;
            } else if info.split([',', ' ']).next() == Some("rust") {
                in_rust = true;
            } else {
                in_other = true;
            }
            continue;
        }
        if in_rust && !trimmed.is_empty() && !trimmed.starts_with("{{#") {
            problems.push(format!(
                "{page}:{}: Rust listing must come from an {{{{#include}}}}, not be pasted",
                i + 1
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_directives_and_snapshot_bodies() {
        assert_eq!(
            includes("a {{#include ../x.rs:run}} b {{#include y.snap:5:}}"),
            vec!["../x.rs:run", "y.snap:5:"]
        );
        assert_eq!(
            snapshot_body_start("---\nsource: a\nexpression: b\n---\nbody\n"),
            5
        );
    }

    #[test]
    fn pasted_rust_is_a_problem() {
        let mut problems = Vec::new();
        check_rust_listings(
            "p.md",
            "```rust\nfn main() {}\n```\n```rust\n{{#include a.rs:x}}\n```\n",
            &mut problems,
        );
        assert_eq!(problems.len(), 1, "{problems:?}");
    }
}
