//! What a container changed, listed as `docker diff` does.
//!
//! `A` added, `C` changed, `D` deleted; paths absolute, a directory before
//! its contents. With overlay the answer is already on disk: everything in
//! the upper directory is a change, whiteouts are deletions, and whether a
//! path is new or changed depends only on whether the lowers had it.

use std::cmp::Ordering;
use std::fmt;
use std::fs::Metadata;
use std::io;
use std::path::{Component, Path, PathBuf};

use crate::lowers::Lowers;
use crate::whiteout::{is_opaque, is_whiteout};

/// The kind of a change, shown as its letter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Added,
    Changed,
    Deleted,
}

/// One changed path (absolute, as seen inside the container).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub kind: Kind,
    pub path: PathBuf,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let letter = match self.kind {
            Kind::Added => 'A',
            Kind::Changed => 'C',
            Kind::Deleted => 'D',
        };
        write!(f, "{letter} {}", self.path.display())
    }
}

/// Renders changes one per line, as `docker diff` prints them.
pub fn render(changes: &[Change]) -> String {
    changes.iter().map(|c| format!("{c}\n")).collect()
}

/// Orders paths component by component, so `/etc` and everything inside it
/// come before `/etc.d` (plain string order would put `/etc.d` first).
pub fn path_order(a: &Path, b: &Path) -> Ordering {
    a.components().cmp(b.components())
}

/// Sorts changes into the order they are shown in.
pub fn sort(changes: &mut [Change]) {
    changes.sort_by(|a, b| path_order(&a.path, &b.path));
}

// ANCHOR: classify
/// Classifies one entry of the upper directory, given what the lowers
/// hold at the same path.
pub fn classify(upper: &Metadata, lower: Option<&Metadata>) -> Option<Kind> {
    if is_whiteout(upper) {
        // Overlay only writes a whiteout over a name the lowers have.
        return Some(Kind::Deleted);
    }
    match lower {
        None => Some(Kind::Added),
        // A directory in the upper layer exists because something inside it
        // (or its own metadata) changed: it shows as `C`, like Docker's.
        Some(_) => Some(Kind::Changed),
    }
}
// ANCHOR_END: classify

// ANCHOR: overlay_diff
/// The changes recorded in an overlay upper directory on top of `lowers`.
pub fn overlay_diff(upper: &Path, lowers: &Lowers) -> io::Result<Vec<Change>> {
    let mut changes = Vec::new();
    walk_upper(upper, Path::new(""), lowers, &mut changes)?;
    sort(&mut changes);
    Ok(changes)
}

fn walk_upper(upper: &Path, rel: &Path, lowers: &Lowers, out: &mut Vec<Change>) -> io::Result<()> {
    for entry in std::fs::read_dir(upper.join(rel))? {
        let entry = entry?;
        let rel = rel.join(entry.file_name());
        let meta = entry.path().symlink_metadata()?;
        let below = lowers.lookup(&rel);
        let Some(kind) = classify(&meta, below.as_ref().map(|f| &f.meta)) else {
            continue;
        };
        out.push(Change {
            kind,
            path: absolute(&rel),
        });
        if kind == Kind::Deleted || !meta.is_dir() {
            continue;
        }
        // An opaque directory hides what the lowers had inside it: each
        // such name not created again in the upper layer is deleted.
        if below.as_ref().is_some_and(|f| f.meta.is_dir()) && is_opaque(&entry.path())? {
            for name in lowers.list(&rel) {
                if upper.join(&rel).join(&name).symlink_metadata().is_err() {
                    out.push(Change {
                        kind: Kind::Deleted,
                        path: absolute(&rel.join(name)),
                    });
                }
            }
        }
        walk_upper(upper, &rel, lowers, out)?;
    }
    Ok(())
}
// ANCHOR_END: overlay_diff

/// `/` joined with a relative path.
pub fn absolute(rel: &Path) -> PathBuf {
    let mut path = PathBuf::from("/");
    path.extend(
        rel.components()
            .filter(|c| matches!(c, Component::Normal(_))),
    );
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(kind: Kind, path: &str) -> Change {
        Change {
            kind,
            path: PathBuf::from(path),
        }
    }

    #[test]
    fn a_directory_comes_before_its_contents() {
        let mut changes = vec![
            change(Kind::Added, "/etc.d"),
            change(Kind::Added, "/etc/b"),
            change(Kind::Changed, "/etc"),
            change(Kind::Deleted, "/etc/a/x"),
            change(Kind::Changed, "/etc/a"),
            change(Kind::Added, "/bin"),
        ];
        sort(&mut changes);
        assert_eq!(
            render(&changes),
            "A /bin\nC /etc\nC /etc/a\nD /etc/a/x\nA /etc/b\nA /etc.d\n"
        );
    }

    #[test]
    fn classification() {
        let file = std::fs::symlink_metadata("/").unwrap();
        assert_eq!(classify(&file, None), Some(Kind::Added));
        assert_eq!(classify(&file, Some(&file)), Some(Kind::Changed));
    }

    #[test]
    fn absolute_paths() {
        assert_eq!(
            absolute(Path::new("etc/passwd")),
            PathBuf::from("/etc/passwd")
        );
        assert_eq!(absolute(Path::new("")), PathBuf::from("/"));
    }
}
