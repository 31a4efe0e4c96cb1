//! Starting an exercise (the reference bodies out, `todo!()` starters in),
//! putting the reference back, and reading it.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result, bail};

use super::catalog::Exercise;
use super::progress::reference_file;
use super::rustfn;

/// The bodies of an exercise's functions in `source`, by function name.
pub fn bodies(source: &str, exercise: &Exercise) -> Result<BTreeMap<String, String>> {
    exercise
        .functions
        .iter()
        .map(|name| {
            let body = rustfn::find(source, name)
                .with_context(|| format!("{}: {}", exercise.file.display(), name))?;
            Ok((name.clone(), source[body.start..body.end].to_string()))
        })
        .collect()
}

/// `source` with each named function's body replaced by `replacement(name, indent)`.
pub fn replace_bodies(
    source: &str,
    exercise: &Exercise,
    replacement: impl Fn(&str, usize) -> String,
) -> Result<String> {
    let mut spans = Vec::new();
    for name in &exercise.functions {
        let body = rustfn::find(source, name)
            .with_context(|| format!("{}: {}", exercise.file.display(), name))?;
        spans.push((body, name));
    }
    // From the end, so earlier offsets stay valid.
    spans.sort_by_key(|(b, _)| std::cmp::Reverse(b.start));
    let mut out = source.to_string();
    for (body, name) in spans {
        out.replace_range(body.start..body.end, &replacement(name, body.indent));
    }
    Ok(out)
}

/// The file with the exercise's starters in place.
pub fn with_starters(source: &str, exercise: &Exercise) -> Result<String> {
    replace_bodies(source, exercise, |name, indent| {
        rustfn::starter(&exercise.id, name, indent)
    })
}

/// Starts `exercise` in `workspace`: saves the reference bodies under
/// `target`, then writes the starters. Refuses to start twice (the saved
/// reference would be lost).
pub fn start(workspace: &Path, target: &Path, exercise: &Exercise) -> Result<()> {
    let saved = reference_file(target, &exercise.id);
    if saved.exists() {
        bail!(
            "{} is already started: `cargo lab exercise reset {}` puts the reference back first",
            exercise.id,
            exercise.id
        );
    }
    let path = workspace.join(&exercise.file);
    let source =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let reference = bodies(&source, exercise)?;
    let edited = with_starters(&source, exercise)?;
    std::fs::create_dir_all(saved.parent().expect("a directory"))?;
    std::fs::write(&saved, serde_json::to_string_pretty(&reference)?)
        .with_context(|| format!("writing {}", saved.display()))?;
    std::fs::write(&path, edited).with_context(|| format!("writing {}", path.display()))
}

/// The reference bodies: saved by `start`, or (not started) the
/// committed file's, from git.
pub fn reference(
    workspace: &Path,
    target: &Path,
    exercise: &Exercise,
) -> Result<BTreeMap<String, String>> {
    let saved = reference_file(target, &exercise.id);
    if let Ok(text) = std::fs::read_to_string(&saved) {
        return serde_json::from_str(&text).with_context(|| format!("reading {}", saved.display()));
    }
    let out = std::process::Command::new("git")
        .current_dir(workspace)
        .args(["show", &format!("HEAD:{}", exercise.file.display())])
        .output()
        .context("running git")?;
    if !out.status.success() {
        bail!(
            "no saved reference for {} and git cannot show {}",
            exercise.id,
            exercise.file.display()
        );
    }
    bodies(&String::from_utf8_lossy(&out.stdout), exercise)
}

/// Puts the reference bodies back and forgets the saved copy.
pub fn reset(workspace: &Path, target: &Path, exercise: &Exercise) -> Result<()> {
    let reference = reference(workspace, target, exercise)?;
    let path = workspace.join(&exercise.file);
    let source =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let restored = replace_bodies(&source, exercise, |name, _| reference[name].clone())?;
    std::fs::write(&path, restored).with_context(|| format!("writing {}", path.display()))?;
    let saved = reference_file(target, &exercise.id);
    if saved.exists() {
        std::fs::remove_file(&saved)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every exercise's functions can be found, started and put back to
    /// the byte.
    #[test]
    fn every_exercise_starts_and_resets_exactly() {
        let workspace = crate::paths::workspace();
        for exercise in super::super::catalog::load(&workspace).unwrap() {
            let source = std::fs::read_to_string(workspace.join(&exercise.file)).unwrap();
            let reference = bodies(&source, &exercise).unwrap();
            let started = with_starters(&source, &exercise).unwrap();
            assert!(started.contains(&format!("todo!(\"{}:", exercise.id)));
            let back =
                replace_bodies(&started, &exercise, |name, _| reference[name].clone()).unwrap();
            assert_eq!(back, source, "{}", exercise.id);
        }
    }
}
