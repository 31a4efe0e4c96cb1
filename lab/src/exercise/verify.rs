//! The authors' gate: with an exercise's starter in place, its checks must
//! fail. A check that passes with `todo!()` in the function cannot grade
//! the learner's version of it.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use super::catalog::{Check, Exercise};
use super::workbench;

/// How long one check may run with the starter before it counts as failed
/// (a `todo!()` in a thread can leave the others waiting forever).
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(240);

/// What `verify` found for one exercise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finding {
    /// Its checks fail with the starter: they grade the function.
    Fails,
    /// Its checks pass with `todo!()` in place: they grade nothing.
    Weak,
    /// The package does not build with the starter.
    Broken,
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

// ANCHOR: verify
/// For each exercise: write its starter, build and run its checks here
/// (quietly), and put the file back exactly as it was. `say` gets one line
/// per exercise.
pub fn verify(
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
        let finding = judge(workspace, exercise)?;
        drop(restore);
        let words = match finding {
            Finding::Fails => "ok: its checks fail with the starter",
            Finding::Weak => "WEAK: its checks pass with todo!() in place",
            Finding::Broken => "BROKEN: its package does not build with the starter",
        };
        say(format!("{:<8} {words}", exercise.id));
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
        if !run(workspace, check, true)? {
            return Ok(Finding::Broken);
        }
    }
    for check in &exercise.checks {
        if !run(workspace, check, false)? {
            return Ok(Finding::Fails);
        }
    }
    Ok(Finding::Weak)
}
// ANCHOR_END: verify

/// `cargo test` for `check` (only building with `build_only`), in a
/// process group of its own that is killed past [`CHECK_TIMEOUT`].
fn run(workspace: &Path, check: &Check, build_only: bool) -> Result<bool> {
    let mut child = check
        .command(workspace, build_only)
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
