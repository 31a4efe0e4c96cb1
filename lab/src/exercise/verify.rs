//! The authors' gate: with an exercise's starter in place, its checks must
//! fail, and with the reference they must pass. A check that passes with
//! `todo!()` in the function cannot grade the learner's version of it.
//!
//! Building once per exercise would take hours, so the gate builds once:
//! every exercise's functions get a *switched* starter, the reference body
//! behind `if BERTH_LAB_STARTER is this exercise { todo!() }`, and each
//! exercise's checks run twice on that one build: without the variable
//! (the reference must pass) and with it (the starter must fail). An
//! exercise that looks weak this way (the variable may not reach its code,
//! say inside a container) is judged again the slow, literal way: its
//! real starter written, built and run. The real starters must also
//! compile: one `cargo check` with all of them in place.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use super::catalog::Exercise;
use super::{rustfn, workbench};

/// How long one check may run with the starter before it counts as failed
/// (a `todo!()` in a thread can leave the others waiting forever).
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(240);

/// The variable that turns an exercise's switched starter on (its id).
pub const STARTER_VAR: &str = "BERTH_LAB_STARTER";

/// What `verify` found for one exercise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finding {
    /// Its checks fail with the starter and pass with the reference.
    Fails,
    /// Its checks pass with `todo!()` in place: they grade nothing.
    Weak,
    /// The package does not build with the starter.
    Broken,
    /// Its checks fail with the reference answer in place.
    ReferenceFails,
}

/// One exercise's finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub id: String,
    pub finding: Finding,
}

/// Puts a file's original text back when dropped, whatever happened.
struct Restore {
    path: PathBuf,
    original: String,
}

impl Drop for Restore {
    fn drop(&mut self) {
        let _ = std::fs::write(&self.path, &self.original);
    }
}

/// Writes `edit(original)` over each of `files`; the originals come back
/// when the returned guards drop.
fn rewrite(
    workspace: &Path,
    files: &BTreeMap<PathBuf, Vec<&Exercise>>,
    edit: impl Fn(&str, &[&Exercise]) -> Result<String>,
) -> Result<Vec<Restore>> {
    let mut guards = Vec::new();
    for (file, exercises) in files {
        let path = workspace.join(file);
        let original = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let edited = edit(&original, exercises)?;
        guards.push(Restore {
            path: path.clone(),
            original,
        });
        std::fs::write(&path, edited).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(guards)
}

/// `source` with each exercise's functions switched: the reference body,
/// preceded by a `todo!()` that runs only when [`STARTER_VAR`] names the
/// exercise.
pub fn with_switches(source: &str, exercises: &[&Exercise]) -> Result<String> {
    let mut inserts = Vec::new();
    for exercise in exercises {
        for name in &exercise.functions {
            let body = rustfn::find(source, name)
                .with_context(|| format!("{}: {}", exercise.file.display(), name))?;
            let pad = " ".repeat(body.indent);
            let text = format!(
                "\n{pad}    if ::std::env::var_os({STARTER_VAR:?}).is_some_and(|v| v == {id:?}) {{\n\
                 {pad}        todo!(\"{id}: write `{name}`\")\n{pad}    }}",
                id = exercise.id
            );
            inserts.push((body.start + 1, text));
        }
    }
    inserts.sort_by_key(|(at, _)| std::cmp::Reverse(*at));
    let mut out = source.to_string();
    for (at, text) in inserts {
        out.insert_str(at, &text);
    }
    Ok(out)
}

/// `source` with every exercise's real starter in place (a function two
/// exercises share is replaced once).
fn with_all_starters(source: &str, exercises: &[&Exercise]) -> Result<String> {
    let mut out = source.to_string();
    let mut done = BTreeSet::new();
    for exercise in exercises {
        let mut fresh = (*exercise).clone();
        fresh.functions.retain(|f| done.insert(f.clone()));
        if !fresh.functions.is_empty() {
            out = workbench::with_starters(&out, &fresh)?;
        }
    }
    Ok(out)
}

// ANCHOR: verify
/// Verifies `exercises` in `workspace` with one build (see the module's
/// comment) and puts every file back exactly as it was. `say` gets one
/// line per exercise, and a line per step.
pub fn verify(
    workspace: &Path,
    exercises: &[Exercise],
    mut say: impl FnMut(String),
) -> Result<Vec<Verdict>> {
    let mut files: BTreeMap<PathBuf, Vec<&Exercise>> = BTreeMap::new();
    for exercise in exercises {
        files
            .entry(exercise.file.clone())
            .or_default()
            .push(exercise);
    }
    let packages: BTreeSet<&str> = exercises
        .iter()
        .flat_map(|e| e.checks.iter().map(|c| c.package.as_str()))
        .collect();

    // The real starters compile (all at once; one by one if not).
    let clock = Instant::now();
    let guards = rewrite(workspace, &files, with_all_starters)?;
    let compiles = build(cargo(workspace, &["check", "--tests"], &packages))?;
    drop(guards);
    crate::interrupt::check()?;
    if !compiles {
        say("the starters do not all compile together: judging one by one".into());
        return verify_each(workspace, exercises, say);
    }

    // One build with every exercise switched.
    let guards = rewrite(workspace, &files, with_switches)?;
    if !build(cargo(workspace, &["test", "--no-run"], &packages))? {
        drop(guards);
        crate::interrupt::check()?;
        say("the switched build failed: judging one by one".into());
        return verify_each(workspace, exercises, say);
    }
    say(format!(
        "built the starters and the checks in {:.0}s",
        clock.elapsed().as_secs_f64()
    ));
    let passing = references_passing(workspace, exercises)?;
    let mut verdicts = Vec::new();
    let mut weak = Vec::new();
    for exercise in exercises {
        crate::interrupt::check()?;
        let started = Instant::now();
        let reference_passes =
            passing.contains(&exercise.id) || all_pass(workspace, exercise, None)?;
        let finding = if !reference_passes {
            Finding::ReferenceFails
        } else if all_pass(workspace, exercise, Some(&exercise.id))? {
            weak.push(exercise.clone());
            continue;
        } else {
            Finding::Fails
        };
        let also = if finding == Finding::Fails {
            ", pass with the reference"
        } else {
            ""
        };
        say(format!(
            "{:<8} {}{also} ({:.0}s)",
            exercise.id,
            words(finding),
            started.elapsed().as_secs_f64()
        ));
        verdicts.push(Verdict {
            id: exercise.id.clone(),
            finding,
        });
    }
    drop(guards);

    // What looked weak, the literal way: the variable may not reach the code.
    if !weak.is_empty() {
        verdicts.extend(verify_each(workspace, &weak, &mut say)?);
    }
    let order: Vec<&str> = exercises.iter().map(|e| e.id.as_str()).collect();
    verdicts.sort_by_key(|v| order.iter().position(|id| *id == v.id));
    Ok(verdicts)
}
// ANCHOR_END: verify

/// The exercises whose checks pass with the reference, found with one
/// run per test target (all its exercises' filters at once); an exercise
/// of a failing target is left out, to be run on its own.
fn references_passing(workspace: &Path, exercises: &[Exercise]) -> Result<BTreeSet<String>> {
    // (package, target) -> (the filters, the exercises they check)
    type Filters<'a> = (Vec<&'a str>, Vec<&'a str>);
    let mut targets: BTreeMap<(&str, &str), Filters> = BTreeMap::new();
    for exercise in exercises {
        for check in &exercise.checks {
            let (filters, ids) = targets
                .entry((check.package.as_str(), check.target.as_str()))
                .or_default();
            filters.push(check.filter.as_str());
            ids.push(exercise.id.as_str());
        }
    }
    let mut failing = BTreeSet::new();
    for ((package, target), (filters, ids)) in &targets {
        let whole = super::catalog::Check {
            package: package.to_string(),
            target: target.to_string(),
            filter: String::new(),
        };
        let mut command = whole.command(workspace, false);
        command.env_remove(STARTER_VAR);
        if !filters.iter().any(|f| f.is_empty()) {
            command.arg("--").args(filters);
        }
        if !run(command)? {
            failing.extend(ids.iter().copied());
        }
    }
    Ok(exercises
        .iter()
        .map(|e| e.id.clone())
        .filter(|id| !failing.contains(id.as_str()))
        .collect())
}

/// Runs `exercise`'s checks on the current build, with its switched
/// starter on (`starter`) or off; whether every one passed.
fn all_pass(workspace: &Path, exercise: &Exercise, starter: Option<&str>) -> Result<bool> {
    for check in &exercise.checks {
        let mut command = check.command(workspace, false);
        match starter {
            Some(id) => command.env(STARTER_VAR, id),
            None => command.env_remove(STARTER_VAR),
        };
        if !run(command)? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// `cargo VERB... -p P...` in `workspace`, snapshots never updated.
fn cargo(workspace: &Path, verb: &[&str], packages: &BTreeSet<&str>) -> Command {
    let mut command = Command::new(crate::paths::cargo());
    command
        .current_dir(workspace)
        .args(verb)
        .args(packages.iter().flat_map(|p| ["--package", p]))
        .env("INSTA_UPDATE", "no")
        .env_remove(STARTER_VAR)
        .stdin(Stdio::null());
    command
}

/// The slow, literal way, one exercise at a time: write its starter,
/// build and run its checks here (quietly), put the file back exactly as
/// it was. `say` gets one line per exercise.
pub fn verify_each(
    workspace: &Path,
    exercises: &[Exercise],
    mut say: impl FnMut(String),
) -> Result<Vec<Verdict>> {
    let mut verdicts = Vec::new();
    for exercise in exercises {
        let path = workspace.join(&exercise.file);
        let original = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let starter = workbench::with_starters(&original, exercise)?;
        let restore = Restore {
            path: path.clone(),
            original,
        };
        std::fs::write(&path, starter).with_context(|| format!("writing {}", path.display()))?;
        let finding = judge(workspace, exercise);
        drop(restore);
        crate::interrupt::check()?;
        let finding = finding?;
        say(format!("{:<8} {}", exercise.id, words(finding)));
        verdicts.push(Verdict {
            id: exercise.id.clone(),
            finding,
        });
    }
    Ok(verdicts)
}

/// Builds every check first (a build failure is the starter's fault, not a
/// failing check), then runs them: one failure is enough.
fn judge(workspace: &Path, exercise: &Exercise) -> Result<Finding> {
    for check in &exercise.checks {
        if !run(check.command(workspace, true))? {
            return Ok(Finding::Broken);
        }
    }
    for check in &exercise.checks {
        if !run(check.command(workspace, false))? {
            return Ok(Finding::Fails);
        }
    }
    Ok(Finding::Weak)
}

fn words(finding: Finding) -> &'static str {
    match finding {
        Finding::Fails => "ok: its checks fail with the starter",
        Finding::Weak => "WEAK: its checks pass with todo!() in place",
        Finding::Broken => "BROKEN: its package does not build with the starter",
        Finding::ReferenceFails => "FAILING: its checks fail with the reference answer",
    }
}

/// Runs a build quietly, for as long as it takes (a whole workspace on a
/// busy machine takes far longer than a check); whether it succeeded.
fn build(mut command: Command) -> Result<bool> {
    let status = command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .context("running cargo")?;
    Ok(status.success())
}

/// Runs `command` quietly in a process group of its own, killed past
/// [`CHECK_TIMEOUT`]; whether it succeeded.
fn run(mut command: Command) -> Result<bool> {
    let mut child = command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .context("running cargo test")?;
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(status.success());
        }
        if started.elapsed() > CHECK_TIMEOUT {
            let group = nix::unistd::Pid::from_raw(-(child.id() as i32));
            let _ = nix::sys::signal::kill(group, nix::sys::signal::Signal::SIGKILL);
            let _ = child.wait();
            return Ok(false);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
