//! Keeps the book true: every `{{#include}}` resolves (file, anchor, line
//! range), every internal link points at a file that exists, every Rust
//! listing comes from an include, snapshot includes skip insta's header,
//! every exercise's "Check:" names tests that exist, and every anchor in the
//! sources is shown by some page (or listed in `book/unused-anchors.txt`).

use std::collections::BTreeSet;
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
        check_listing_captions(&name, &text, &mut problems);
    }
    problems
}

/// Checks the whole book of `workspace`: [`check`] on `book/src`, then the
/// exercises' checks and the anchors against the workspace's sources.
pub fn check_book(workspace: &Path) -> Vec<String> {
    let src = workspace.join("book/src");
    let mut problems = check(&src);
    let mut pages = Vec::new();
    collect_markdown(&src, &mut pages);
    pages.sort();
    let mut texts = Vec::new();
    for page in &pages {
        let text = std::fs::read_to_string(page).unwrap_or_default();
        let name = page
            .strip_prefix(&src)
            .unwrap_or(page)
            .display()
            .to_string();
        check_exercise_tests(&name, &text, workspace, &mut problems);
        check_exercise_functions(&name, &text, workspace, &mut problems);
        texts.push((page.parent().unwrap_or(&src).to_path_buf(), text));
    }
    match std::fs::read_to_string(workspace.join(crate::exercise::catalog::FILE)) {
        Ok(catalog) => problems.extend(exercises_agree(&src, &catalog)),
        // A scratch workspace (the unit tests') may have no catalogue.
        Err(_) if !workspace.join("lab").is_dir() => {}
        Err(e) => problems.push(format!("{}: {e}", crate::exercise::catalog::FILE)),
    }
    let unused =
        std::fs::read_to_string(workspace.join("book/unused-anchors.txt")).unwrap_or_default();
    problems.extend(unused_anchors(workspace, &texts, &unused));
    problems
}

/// One test command an exercise names: package, test target (`None` for
/// `--lib`) and name filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedCheck {
    pub package: String,
    pub target: Option<String>,
    pub filter: String,
}

/// The checks named by the "Check:" paragraphs of a page: every
/// `cargo test -p PKG (--test T | --lib) FILTER` (or `cargo lab vm test -p
/// PKG -- FILTER`) in backticks, and bare `name`s after one, which name more
/// tests of the same target.
pub fn named_checks(text: &str) -> Vec<NamedCheck> {
    let mut found = Vec::new();
    let mut paragraph = String::new();
    let mut inside = false;
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim();
        if let Some(pos) = trimmed.find("Check:") {
            inside = true;
            paragraph.push_str(&trimmed[pos + "Check:".len()..]);
            paragraph.push(' ');
        } else if inside {
            paragraph.push_str(trimmed);
            paragraph.push(' ');
        }
        let next = lines.get(i + 1).map(|l| l.trim()).unwrap_or("");
        let ends = next.is_empty()
            || next
                .split_once(". ")
                .is_some_and(|(n, _)| n.parse::<u32>().is_ok())
            || next.starts_with('#');
        if inside && ends {
            found.extend(parse_check_paragraph(&paragraph));
            paragraph.clear();
            inside = false;
        }
    }
    found
}

fn parse_check_paragraph(paragraph: &str) -> Vec<NamedCheck> {
    let mut found: Vec<NamedCheck> = Vec::new();
    let parts: Vec<&str> = paragraph.split('`').collect();
    for (i, quoted) in parts.iter().enumerate() {
        if i % 2 == 0 {
            continue;
        }
        // A bare name counts only as "and `name`" right after a command.
        let joined = parts[i - 1].trim_end().ends_with("and");
        let words: Vec<&str> = quoted.split_whitespace().collect();
        let is_test_command = words.starts_with(&["cargo", "test"])
            || words.starts_with(&["cargo", "lab", "vm", "test"]);
        if is_test_command {
            let value = |flag: &str| {
                words
                    .iter()
                    .position(|w| *w == flag)
                    .and_then(|p| words.get(p + 1))
                    .map(|w| w.to_string())
            };
            let Some(package) = value("-p") else { continue };
            let target = value("--test");
            // The filter is the last word that is not a flag or a flag's value.
            let mut filter = None;
            let mut skip = false;
            for w in words.iter().skip(2) {
                if skip {
                    skip = false;
                } else if matches!(*w, "-p" | "--test") {
                    skip = true;
                } else if !w.starts_with('-') && *w != "test" && *w != "vm" {
                    filter = Some(w.to_string());
                }
            }
            // No filter: the whole test target.
            found.push(NamedCheck {
                package,
                target,
                filter: filter.unwrap_or_default(),
            });
        } else if let Some(last) = found.last().cloned()
            && joined
            && !quoted.is_empty()
            && quoted
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            found.push(NamedCheck {
                filter: quoted.to_string(),
                ..last
            });
        }
    }
    found
}

/// The test functions of one source file: `fn` names after `#[test]`.
pub fn test_functions(source: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut pending = false;
    for line in source.lines().map(str::trim) {
        if line.starts_with("#[test]") {
            pending = true;
        } else if pending && let Some(rest) = line.strip_prefix("fn ") {
            names.push(rest.split(['(', '<']).next().unwrap_or("").to_string());
            pending = false;
        }
    }
    names
}

fn package_dirs(workspace: &Path) -> Vec<(String, PathBuf)> {
    let mut dirs = Vec::new();
    let mut candidates = vec![workspace.join("lab"), workspace.join("final")];
    for parent in ["chapters"] {
        if let Ok(entries) = std::fs::read_dir(workspace.join(parent)) {
            candidates.extend(entries.flatten().map(|e| e.path()));
        }
    }
    for dir in candidates {
        let Ok(manifest) = std::fs::read_to_string(dir.join("Cargo.toml")) else {
            continue;
        };
        if let Some(name) = manifest
            .lines()
            .find_map(|l| l.trim().strip_prefix("name = "))
        {
            dirs.push((name.trim_matches('"').to_string(), dir));
        }
    }
    dirs
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn check_exercise_tests(page: &str, text: &str, workspace: &Path, problems: &mut Vec<String>) {
    let packages = package_dirs(workspace);
    for named in named_checks(text) {
        let Some((_, dir)) = packages.iter().find(|(name, _)| *name == named.package) else {
            problems.push(format!(
                "{page}: Check names package {}, which the workspace does not have",
                named.package
            ));
            continue;
        };
        let mut files = Vec::new();
        match &named.target {
            Some(target) => files.push(dir.join("tests").join(format!("{target}.rs"))),
            None => rust_files(&dir.join("src"), &mut files),
        }
        let sources: Vec<String> = files
            .iter()
            .filter_map(|f| std::fs::read_to_string(f).ok())
            .collect();
        let tests: Vec<String> = sources.iter().flat_map(|s| test_functions(s)).collect();
        let module_match = named.target.is_none()
            && files.iter().any(|f| {
                f.file_stem()
                    .is_some_and(|s| s.to_string_lossy() == named.filter)
            });
        // Tests a macro generates (`name: ...` in an invocation) have no
        // `fn` line: the name as a whole word in the file will do.
        let generated = || {
            sources.iter().any(|source| {
                source
                    .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .any(|w| w == named.filter)
            })
        };
        if !module_match && !tests.iter().any(|t| t.contains(&named.filter)) && !generated() {
            problems.push(format!(
                "{page}: Check names `{}` in {} {}, which has no such test",
                named.filter,
                named.package,
                named
                    .target
                    .as_deref()
                    .map(|t| format!("--test {t}"))
                    .unwrap_or_else(|| "--lib".into())
            ));
        }
    }
}

/// The exercises of a page: for each numbered item that starts with a bold
/// function name, the names (`**\`f\`**`, `Type::method` kept whole) and the
/// source file it names (the first backticked path under a `src/`).
pub fn exercise_functions(text: &str) -> Vec<(Vec<String>, String)> {
    let mut found = Vec::new();
    let mut items: Vec<String> = Vec::new();
    let mut open = false;
    for line in text.lines() {
        let trimmed = line.trim_start();
        let numbered = trimmed
            .split_once(". **`")
            .is_some_and(|(n, _)| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()));
        if numbered {
            items.push(String::new());
            open = true;
        } else if trimmed.is_empty() || trimmed.starts_with('#') {
            open = false;
        }
        if open && let Some(item) = items.last_mut() {
            item.push_str(trimmed);
            item.push(' ');
        }
    }
    for item in items.iter().filter(|i| !i.is_empty()) {
        let before_check = item.split("Check:").next().unwrap_or("");
        let names: Vec<String> = before_check
            .split("**`")
            .skip(1)
            .filter_map(|rest| rest.split_once("`**").map(|(n, _)| n.to_string()))
            .collect();
        let file = before_check
            .split('`')
            .skip(1)
            .step_by(2)
            .find(|w| w.contains("/src/") && w.ends_with(".rs"))
            .map(str::to_string);
        if let (false, Some(file)) = (names.is_empty(), file) {
            found.push((names, file));
        }
    }
    found
}

fn check_exercise_functions(page: &str, text: &str, workspace: &Path, problems: &mut Vec<String>) {
    for (names, file) in exercise_functions(text) {
        let Ok(source) = std::fs::read_to_string(workspace.join(&file)) else {
            problems.push(format!(
                "{page}: an exercise names {file}, which does not exist"
            ));
            continue;
        };
        for name in names {
            let function = name.rsplit("::").next().unwrap_or(&name);
            let defined = source.lines().any(|l| {
                l.trim_start()
                    .trim_start_matches("pub ")
                    .trim_start_matches("pub(crate) ")
                    .starts_with(&format!("fn {function}"))
                    && l.split(&format!("fn {function}"))
                        .nth(1)
                        .is_some_and(|r| r.starts_with('(') || r.starts_with('<'))
            });
            if !defined {
                problems.push(format!(
                    "{page}: an exercise names `{name}` in {file}, which defines no such function"
                ));
            }
        }
    }
}

/// The chapters' "Exercises" sections (pages `chNN-*.md` under `src`, and
/// part II's `engine-*.md`) and
/// the catalogue text `catalog` (book/exercises.toml) list the same
/// exercises: same ids, functions, files and checks.
pub fn exercises_agree(src: &Path, catalog: &str) -> Vec<String> {
    let exercises = match crate::exercise::catalog::parse(catalog) {
        Ok(e) => e,
        Err(e) => return vec![format!("{}: {e:#}", crate::exercise::catalog::FILE)],
    };
    let mut problems = Vec::new();
    let mut on_pages = BTreeSet::new();
    let mut pages = Vec::new();
    collect_markdown(src, &mut pages);
    pages.sort();
    for page in pages {
        let name = page
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        // A chapter's page (`chNN-*.md`: exercises `chNN.M`), or part II's
        // (`engine-*.md`: exercises `engine.M`, on one of its pages).
        let part = if name.starts_with("engine-") {
            Some("engine".to_string())
        } else {
            name.strip_prefix("ch")
                .and_then(|r| r.get(..2))
                .filter(|n| n.chars().all(|c| c.is_ascii_digit()))
                .map(|n| format!("ch{n}"))
        };
        let Some(part) = part else {
            continue;
        };
        let text = std::fs::read_to_string(&page).unwrap_or_default();
        let Some(section) = text.split("## Exercises").nth(1) else {
            continue;
        };
        let section = section.split("\n## ").next().unwrap_or("");
        for (number, item) in numbered_items(section) {
            let id = format!("{part}.{number}");
            on_pages.insert(id.clone());
            let Some(entry) = exercises.iter().find(|e| e.id == id) else {
                problems.push(format!(
                    "{name}: exercise {id} is not in book/exercises.toml"
                ));
                continue;
            };
            let (names, file) = exercise_functions(&item)
                .into_iter()
                .next()
                .unwrap_or_default();
            if names != entry.functions || file != entry.file.to_string_lossy() {
                problems.push(format!(
                    "{name}: exercise {id} names {names:?} in {file}, book/exercises.toml {:?} in {}",
                    entry.functions,
                    entry.file.display()
                ));
            }
            let page_checks: BTreeSet<(String, String, String)> = named_checks(&item)
                .into_iter()
                .map(|c| {
                    let target = c.target.unwrap_or_else(|| "lib".into());
                    (c.package, target, c.filter)
                })
                .collect();
            let file_checks: BTreeSet<(String, String, String)> = entry
                .checks
                .iter()
                .map(|c| (c.package.clone(), c.target.clone(), c.filter.clone()))
                .collect();
            if page_checks != file_checks {
                problems.push(format!(
                    "{name}: exercise {id}: the page's checks {page_checks:?} are not \
                     book/exercises.toml's {file_checks:?}"
                ));
            }
        }
    }
    for e in &exercises {
        if !on_pages.contains(&e.id) {
            problems.push(format!(
                "book/exercises.toml: exercise {} is on no chapter page",
                e.id
            ));
        }
    }
    problems
}

/// The numbered items (`N. **...`) of a section, each with its text.
fn numbered_items(section: &str) -> Vec<(u32, String)> {
    let mut items: Vec<(u32, String)> = Vec::new();
    for line in section.lines() {
        let number = line
            .trim_start()
            .split_once(". **`")
            .and_then(|(n, _)| n.parse::<u32>().ok());
        if let Some(n) = number {
            items.push((n, String::new()));
        }
        if let Some((_, text)) = items.last_mut() {
            text.push_str(line);
            text.push('\n');
        }
    }
    items
}

/// Every `ANCHOR: name` in the workspace's sources that no page includes and
/// `unused` (lines `path:anchor`, `#` comments) does not list.
pub fn unused_anchors(workspace: &Path, pages: &[(PathBuf, String)], unused: &str) -> Vec<String> {
    let listed: BTreeSet<&str> = unused
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let mut included: BTreeSet<(PathBuf, String)> = BTreeSet::new();
    for (dir, text) in pages {
        for spec in includes(text) {
            if let Some((file, anchor)) = spec.split_once(':') {
                let path = dir.join(file);
                let path = path.canonicalize().unwrap_or(path);
                included.insert((path, anchor.to_string()));
            }
        }
    }
    let mut sources = Vec::new();
    for dir in ["chapters", "lab", "final"] {
        collect_sources(&workspace.join(dir), &mut sources);
    }
    sources.sort();
    let mut problems = Vec::new();
    for file in sources {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        let canonical = file.canonicalize().unwrap_or(file.clone());
        let relative = file
            .strip_prefix(workspace)
            .unwrap_or(&file)
            .display()
            .to_string();
        for line in text.lines() {
            let comment = line.trim_start();
            if !(comment.starts_with("//") || comment.starts_with('#')) {
                continue;
            }
            let Some((_, anchor)) = comment.split_once("ANCHOR: ") else {
                continue;
            };
            let anchor = anchor.trim();
            if anchor.is_empty()
                || !anchor
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                continue;
            }
            if included.contains(&(canonical.clone(), anchor.to_string()))
                || listed.contains(format!("{relative}:{anchor}").as_str())
            {
                continue;
            }
            problems.push(format!(
                "{relative}: anchor {anchor:?} is not included by any page \
                 (include it, or list `{relative}:{anchor}` in book/unused-anchors.txt)"
            ));
        }
    }
    problems
}

fn collect_sources(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if name == "target" || name == "snapshots" {
            continue;
        }
        if path.is_dir() {
            collect_sources(&path, out);
        } else if path
            .extension()
            .is_some_and(|e| e == "rs" || e == "sh" || e == "toml")
        {
            out.push(path);
        }
    }
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

/// Every included Rust listing says which file it comes from: the line
/// before its fence is `` `path`: ``.
fn check_listing_captions(page: &str, text: &str, problems: &mut Vec<String>) {
    let lines: Vec<&str> = text.lines().collect();
    for (i, pair) in lines.windows(2).enumerate() {
        let (fence, include) = (pair[0].trim(), pair[1].trim());
        if !fence.starts_with("```rust") {
            continue;
        }
        let Some(spec) = include
            .strip_prefix("{{#include ")
            .or_else(|| include.strip_prefix("{{#rustdoc_include "))
        else {
            continue;
        };
        let file = spec.split(':').next().unwrap_or("").trim_end_matches("}}");
        let file = file.trim_start_matches("../");
        let caption = format!("`{file}`:");
        let before = lines[..i].iter().rev().find(|l| !l.trim().is_empty());
        if before.map(|l| l.trim()) != Some(caption.as_str()) {
            problems.push(format!(
                "{page}:{}: name the listing's file on the line before it, as {caption}",
                i + 1
            ));
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
    fn exercise_checks_are_parsed() {
        let page = "1. **`f`** in `a.rs`.\n   Check: `cargo test -p ch04-overlay --test overlay many_lowers_stack`\n   (and `writes_never_reach_the_lower`).\n2. **`g`**.\n   Check: `cargo test -p ch05-network --lib ipam`.\n";
        let checks = named_checks(page);
        let filters: Vec<(&str, Option<&str>, &str)> = checks
            .iter()
            .map(|c| (c.package.as_str(), c.target.as_deref(), c.filter.as_str()))
            .collect();
        assert_eq!(
            filters,
            [
                ("ch04-overlay", Some("overlay"), "many_lowers_stack"),
                (
                    "ch04-overlay",
                    Some("overlay"),
                    "writes_never_reach_the_lower"
                ),
                ("ch05-network", None, "ipam"),
            ]
        );
    }

    /// A scratch workspace with one chapter crate, a page and a source.
    fn workspace(page: &str, unused: &str) -> tempfile::TempDir {
        let ws = tempfile::tempdir().unwrap();
        let root = ws.path();
        let ch = root.join("chapters/09-demo");
        std::fs::create_dir_all(ch.join("tests")).unwrap();
        std::fs::create_dir_all(ch.join("src")).unwrap();
        std::fs::create_dir_all(root.join("book/src")).unwrap();
        std::fs::write(ch.join("Cargo.toml"), "[package]\nname = \"ch09-demo\"\n").unwrap();
        std::fs::write(ch.join("tests/scenarios.rs"), "#[test]\nfn it_runs() {}\n").unwrap();
        std::fs::write(
            ch.join("src/lib.rs"),
            "// ANCHOR: shown\npub fn a() {}\n// ANCHOR_END: shown\n// ANCHOR: hidden\npub fn b() {}\n// ANCHOR_END: hidden\n",
        )
        .unwrap();
        std::fs::write(root.join("book/src/SUMMARY.md"), "# Summary\n").unwrap();
        std::fs::write(root.join("book/src/ch09.md"), page).unwrap();
        std::fs::write(root.join("book/unused-anchors.txt"), unused).unwrap();
        ws
    }

    #[test]
    fn a_check_naming_a_missing_test_is_a_problem() {
        let page = "`chapters/09-demo/src/lib.rs`:\n```rust\n{{#include ../../chapters/09-demo/src/lib.rs:shown}}\n```\n\n1. **`a`**.\n   Check: `cargo test -p ch09-demo --test scenarios it_runs`.\n2. **`b`**.\n   Check: `cargo test -p ch09-demo --test scenarios it_flies`.\n";
        let ws = workspace(page, "chapters/09-demo/src/lib.rs:hidden\n");
        let problems = check_book(ws.path());
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("`it_flies`"), "{problems:?}");
    }

    #[test]
    fn an_exercise_naming_a_missing_function_is_a_problem() {
        let page = "## Exercises\n\n1. **`a`** and **`gone`** in `chapters/09-demo/src/lib.rs`: do it.\n   Check: `cargo test -p ch09-demo --test scenarios it_runs`.\n";
        assert_eq!(
            exercise_functions(page),
            [(
                vec!["a".to_string(), "gone".to_string()],
                "chapters/09-demo/src/lib.rs".to_string()
            )]
        );
        let ws = workspace(
            page,
            "chapters/09-demo/src/lib.rs:shown\nchapters/09-demo/src/lib.rs:hidden\n",
        );
        let problems = check_book(ws.path());
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("`gone`"), "{problems:?}");
    }

    #[test]
    fn an_anchor_no_page_includes_is_a_problem() {
        let page = "`chapters/09-demo/src/lib.rs`:\n```rust\n{{#include ../../chapters/09-demo/src/lib.rs:shown}}\n```\n";
        let ws = workspace(page, "");
        let problems = check_book(ws.path());
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("\"hidden\""), "{problems:?}");
        // Listed as unused on purpose: no problem.
        let ws = workspace(
            page,
            "# kept for later\nchapters/09-demo/src/lib.rs:hidden\n",
        );
        assert!(check_book(ws.path()).is_empty());
    }

    #[test]
    fn a_listing_without_its_file_is_a_problem() {
        let mut problems = Vec::new();
        let named =
            "`chapters/x/src/a.rs`:\n```rust\n{{#include ../../chapters/x/src/a.rs:x}}\n```\n";
        check_listing_captions("p.md", named, &mut problems);
        assert!(problems.is_empty(), "{problems:?}");
        check_listing_captions(
            "p.md",
            "Some text:\n```rust\n{{#include ../../chapters/x/src/a.rs:x}}\n```\n",
            &mut problems,
        );
        assert_eq!(problems.len(), 1, "{problems:?}");
    }

    #[test]
    fn pages_and_the_exercise_catalogue_must_agree() {
        let dir = tempfile::tempdir().unwrap();
        let page = "# Chapter 9\n\n## Exercises\n\n1. **`double`** in `chapters/09-demo/src/lib.rs`: twice.\n   Check: `cargo test -p ch09-demo --test scenarios doubles`.\n";
        std::fs::write(dir.path().join("ch09-demo.md"), page).unwrap();
        let entry = |filter: &str| {
            format!(
                "[[exercise]]\nid = \"ch09.1\"\nfunctions = [\"double\"]\nfile = \"chapters/09-demo/src/lib.rs\"\ntier = \"vm\"\nchecks = [{{ package = \"ch09-demo\", target = \"scenarios\", filter = \"{filter}\" }}]\nhints = [\"h\"]\n"
            )
        };
        assert!(exercises_agree(dir.path(), &entry("doubles")).is_empty());
        let other = exercises_agree(dir.path(), &entry("triples"));
        assert_eq!(other.len(), 1, "{other:?}");
        let missing = exercises_agree(dir.path(), &entry("doubles").replace("ch09.1", "ch09.2"));
        assert_eq!(missing.len(), 2, "{missing:?}");
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
