//! `cargo lab exercise`: the workshop. Start an exercise (its function's
//! body becomes a `todo!()` starter, the reference kept under `target/`),
//! check it (in the lab VM by default, so no root is needed here; `--host`
//! as root), take hints, reset, see the solution, watch, and report. And the
//! authors' gate, `verify`: every exercise's checks must fail with the
//! starter in place.

pub mod catalog;
pub mod progress;
pub mod rustfn;
pub mod verify;
pub mod workbench;

use std::fmt::Write as _;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use sha2::{Digest, Sha256};

use crate::{paths, privileged};
use catalog::{Exercise, Tier};
use progress::{Outcome, Progress};

/// `cargo lab exercise ...`
#[derive(Args, Debug, Clone)]
pub struct ExerciseArgs {
    #[command(subcommand)]
    pub command: ExerciseCommand,
}

#[derive(Subcommand, Debug, Clone)]
pub enum ExerciseCommand {
    /// Every exercise, with your progress.
    List,
    /// Replace the exercise's function(s) with a `todo!()` starter (the reference is kept aside).
    Start { id: String },
    /// Run the exercise's checks: in the lab VM (no root needed), or here as root with --host.
    Check {
        /// The exercise (default: the one started last).
        id: Option<String>,
        /// Run on this machine (as root) instead of the VM.
        #[arg(long)]
        host: bool,
    },
    /// The next hint for the exercise.
    Hint { id: Option<String> },
    /// Put the reference answer back in place of your work.
    Reset { id: String },
    /// Show the reference answer (asks first).
    Solution {
        id: String,
        /// Do not ask.
        #[arg(long)]
        yes: bool,
    },
    /// Check again every time the exercise's file changes (Ctrl-C ends).
    Watch {
        id: Option<String>,
        #[arg(long)]
        host: bool,
    },
    /// Authors' gate: every exercise's checks fail with its starter (as root, on this machine).
    Verify {
        /// Only these exercises (default: all).
        ids: Vec<String>,
    },
    /// One result per exercise, for a workshop leader to collect.
    Report {
        #[arg(long)]
        json: bool,
    },
}

/// Runs `cargo lab exercise ...`.
pub fn run(args: &ExerciseArgs) -> Result<()> {
    let workspace = paths::workspace();
    let target = paths::target_dir();
    let exercises = catalog::load(&workspace)?;
    let mut progress = Progress::load(&workspace)?;
    let pick = |id: &Option<String>, progress: &Progress| -> Result<Exercise> {
        let id = match id {
            Some(id) => id.clone(),
            None => progress.current.clone().context(
                "no exercise started yet: name one (`cargo lab exercise list` shows them)",
            )?,
        };
        catalog::find(&exercises, &id).cloned()
    };
    match &args.command {
        ExerciseCommand::List => list(&exercises, &progress),
        ExerciseCommand::Start { id } => {
            let exercise = catalog::find(&exercises, id)?;
            workbench::start(&workspace, &target, exercise)?;
            progress.current = Some(exercise.id.clone());
            progress.state(&exercise.id).started = true;
            progress.save(&workspace)?;
            println!(
                "{}: {} in {} now panics with todo!(). Write your own, then \
                 `cargo lab exercise check`.",
                exercise.id,
                exercise.functions.join(", "),
                exercise.file.display()
            );
            Ok(())
        }
        ExerciseCommand::Check { id, host } => {
            let exercise = pick(id, &progress)?;
            let outcome = check(&workspace, &exercise, *host)?;
            let passed = outcome.passed;
            progress.state(&exercise.id).last_check = Some(outcome);
            progress.save(&workspace)?;
            if !passed {
                std::process::exit(1);
            }
            Ok(())
        }
        ExerciseCommand::Hint { id } => {
            let exercise = pick(id, &progress)?;
            let state = progress.state(&exercise.id);
            let shown = (state.hints_shown + 1).min(exercise.hints.len());
            state.hints_shown = shown;
            for (i, hint) in exercise.hints.iter().enumerate().take(shown) {
                println!("hint {}/{}: {hint}", i + 1, exercise.hints.len());
            }
            if shown == exercise.hints.len() {
                println!(
                    "(that was the last; the chapter's page explains the mechanism, and \
                     `cargo lab exercise solution {}` shows the reference)",
                    exercise.id
                );
            }
            progress.save(&workspace)
        }
        ExerciseCommand::Reset { id } => {
            let exercise = catalog::find(&exercises, id)?;
            workbench::reset(&workspace, &target, exercise)?;
            progress.state(&exercise.id).started = false;
            progress.save(&workspace)?;
            println!(
                "{}: the reference is back in {}",
                exercise.id,
                exercise.file.display()
            );
            Ok(())
        }
        ExerciseCommand::Solution { id, yes } => {
            let exercise = catalog::find(&exercises, id)?;
            if !yes && !confirm(&format!("Show the reference answer for {}?", exercise.id))? {
                return Ok(());
            }
            for (name, body) in workbench::reference(&workspace, &target, exercise)? {
                println!("// {} in {}", name, exercise.file.display());
                println!("{body}\n");
            }
            Ok(())
        }
        ExerciseCommand::Watch { id, host } => {
            let exercise = pick(id, &progress)?;
            watch(&workspace, &exercise, *host)
        }
        ExerciseCommand::Verify { ids } => {
            let chosen: Vec<Exercise> = if ids.is_empty() {
                exercises.clone()
            } else {
                ids.iter()
                    .map(|id| catalog::find(&exercises, id).cloned())
                    .collect::<Result<_>>()?
            };
            if !privileged::is_root() && chosen.iter().any(|e| e.tier == Tier::Vm) {
                bail!("verify runs the checks on this machine and needs root (CI runs it as root)");
            }
            // Ctrl-C stops at the next step and puts every source file back.
            crate::interrupt::catch()?;
            let verdicts = verify::verify(&workspace, &chosen, |line| println!("{line}"))?;
            let weak: Vec<&str> = verdicts
                .iter()
                .filter(|v| v.finding != verify::Finding::Fails)
                .map(|v| v.id.as_str())
                .collect();
            println!(
                "{} passed, {} failed",
                verdicts.len() - weak.len(),
                weak.len()
            );
            if !weak.is_empty() {
                bail!(
                    "these exercises cannot grade (their checks pass with the starter or \
                     fail with the reference, or the starter does not build): {}",
                    weak.join(", ")
                );
            }
            Ok(())
        }
        ExerciseCommand::Report { json } => report(&exercises, &progress, *json),
    }
}

fn list(exercises: &[Exercise], progress: &Progress) -> Result<()> {
    let mut out = String::new();
    writeln!(out, "{:<8} {:<9} {:<8} FUNCTION", "ID", "STATUS", "WHERE")?;
    for e in exercises {
        let state = progress.exercises.get(&e.id).cloned().unwrap_or_default();
        let status = match (&state.last_check, state.started) {
            (Some(o), _) if o.passed => "passed",
            (Some(_), _) => "failing",
            (None, true) => "started",
            (None, false) => "-",
        };
        let current = if progress.current.as_deref() == Some(e.id.as_str()) {
            " <- current"
        } else {
            ""
        };
        let place = match e.tier {
            Tier::Vm => "vm/root",
            Tier::Any => "any",
        };
        writeln!(
            out,
            "{:<8} {:<9} {:<8} {} ({}){current}",
            e.id,
            status,
            place,
            e.functions.join(", "),
            e.file.display()
        )?;
    }
    let passed = progress
        .exercises
        .values()
        .filter(|s| s.last_check.as_ref().is_some_and(|o| o.passed))
        .count();
    writeln!(out, "{passed} of {} passed", exercises.len())?;
    print_out(&out)
}

/// Runs an exercise's checks and says what to do next.
pub fn check(workspace: &Path, exercise: &Exercise, host: bool) -> Result<Outcome> {
    let source = std::fs::read_to_string(workspace.join(&exercise.file)).unwrap_or_default();
    if source.contains(&format!("todo!(\"{}:", exercise.id)) {
        println!(
            "{}: the starter is still in place in {}: write the function first.",
            exercise.id,
            exercise.file.display()
        );
    }
    let (passed, output) = if host || exercise.tier == Tier::Any {
        if exercise.tier == Tier::Vm && !privileged::is_root() {
            bail!(
                "{}'s checks start containers and need root: run them in the VM (drop --host)",
                exercise.id
            );
        }
        run_on_host(workspace, exercise)?
    } else {
        run_in_vm(exercise)?
    };
    if passed {
        println!("{}: passed.", exercise.id);
    } else {
        println!(
            "{id}: not yet. The first failure above says what differs. A snapshot \
             difference shows the committed key (-) against what your code printed \
             (+): change your code, never the snapshot (it is the grading key and what \
             the book prints). `cargo lab exercise hint {id}` gives a hint.",
            id = exercise.id
        );
    }
    Ok(Outcome {
        passed,
        when: progress::now(),
        output_digest: hex::encode(Sha256::digest(output.as_bytes())),
    })
}

/// `cargo test` for each check here, with snapshots never updated; echoes
/// what they print and returns whether all passed, and the text.
pub fn run_on_host(workspace: &Path, exercise: &Exercise) -> Result<(bool, String)> {
    let mut all = String::new();
    let mut passed = true;
    for check in &exercise.checks {
        let out = check
            .command(workspace, false)
            .output()
            .context("running cargo test")?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        print!("{text}");
        all.push_str(&text);
        passed &= out.status.success();
    }
    Ok((passed, all))
}

fn run_in_vm(exercise: &Exercise) -> Result<(bool, String)> {
    let mut packages: Vec<String> = exercise.checks.iter().map(|c| c.package.clone()).collect();
    packages.dedup();
    let filters: Vec<String> = if exercise.checks.iter().any(|c| c.filter.is_empty()) {
        Vec::new()
    } else {
        exercise.checks.iter().map(|c| c.filter.clone()).collect()
    };
    let machine = crate::vm::MachineArgs::default();
    let totals = crate::vm::suite::run(&machine.to_machine(), &packages, &filters)?;
    let summary = format!("{} {:?} {:?}", exercise.id, packages, totals);
    Ok((totals.failed == 0 && totals.passed > 0, summary))
}

fn confirm(question: &str) -> Result<bool> {
    print!("{question} [y/N] ");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

fn watch(workspace: &Path, exercise: &Exercise, host: bool) -> Result<()> {
    let file: PathBuf = workspace.join(&exercise.file);
    let modified = || std::fs::metadata(&file).and_then(|m| m.modified()).ok();
    loop {
        let seen = modified();
        let _ = check(workspace, exercise, host);
        println!("watching {} (Ctrl-C ends)", exercise.file.display());
        while modified() == seen {
            std::thread::sleep(std::time::Duration::from_millis(500));
        }
    }
}

fn report(exercises: &[Exercise], progress: &Progress, json: bool) -> Result<()> {
    let learner = std::env::var("SUDO_USER")
        .or_else(|_| std::env::var("USER"))
        .unwrap_or_else(|_| "unknown".into());
    let rows: Vec<serde_json::Value> = exercises
        .iter()
        .map(|e| {
            let state = progress.exercises.get(&e.id).cloned().unwrap_or_default();
            let last = state.last_check.as_ref();
            serde_json::json!({
                "id": e.id,
                "started": state.started,
                "passed": last.is_some_and(|o| o.passed),
                "checked": last.map(|o| o.when.clone()),
                "output_digest": last.map(|o| o.output_digest.clone()),
                "hints_shown": state.hints_shown,
            })
        })
        .collect();
    if json {
        let doc = serde_json::json!({ "learner": learner, "exercises": rows });
        return print_out(&format!("{}\n", serde_json::to_string_pretty(&doc)?));
    }
    let mut out = String::new();
    writeln!(out, "learner: {learner}")?;
    writeln!(out, "{:<8} {:<7} {:<21} HINTS", "ID", "PASSED", "CHECKED")?;
    for row in &rows {
        writeln!(
            out,
            "{:<8} {:<7} {:<21} {}",
            row["id"].as_str().unwrap_or(""),
            if row["passed"].as_bool() == Some(true) {
                "yes"
            } else {
                "no"
            },
            row["checked"].as_str().unwrap_or("-"),
            row["hints_shown"]
        )?;
    }
    print_out(&out)
}

/// Writes a listing to stdout; a reader that stopped early (`| head`) is
/// not an error.
fn print_out(text: &str) -> Result<()> {
    use std::io::Write;
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}
