//! The exercises as data: `book/exercises.toml`, read once.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Deserialize;

/// The catalogue's place in the workspace.
pub const FILE: &str = "book/exercises.toml";

/// Where a check runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    /// Needs root: the lab VM by default, the host as root with `--host`.
    Vm,
    /// Runs anywhere, as anyone.
    Any,
}

/// One test that grades an exercise.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Check {
    pub package: String,
    /// A file under the package's `tests/`, or `lib` for its unit tests.
    pub target: String,
    /// A test name or part of one (libtest's filter); empty for all.
    #[serde(default)]
    pub filter: String,
}

impl Check {
    /// `cargo test` for this check in `workspace`, snapshots never updated
    /// (`build_only`: `--no-run`, no filter).
    pub fn command(&self, workspace: &std::path::Path, build_only: bool) -> std::process::Command {
        let mut args = self.cargo_args();
        if build_only {
            args.truncate(args.iter().position(|a| a == "--").unwrap_or(args.len()));
            args.push("--no-run".into());
        }
        let mut cmd = std::process::Command::new(crate::paths::cargo());
        cmd.current_dir(workspace)
            .args(args)
            .env("INSTA_UPDATE", "no")
            .env("CARGO_TERM_COLOR", "never")
            .stdin(std::process::Stdio::null());
        cmd
    }

    /// `cargo test` arguments for this check on the host.
    pub fn cargo_args(&self) -> Vec<String> {
        let mut args = vec!["test".into(), "-p".into(), self.package.clone()];
        if self.target == "lib" {
            args.push("--lib".into());
        } else {
            args.extend(["--test".into(), self.target.clone()]);
        }
        if !self.filter.is_empty() {
            args.extend(["--".into(), self.filter.clone()]);
        }
        args
    }
}

/// One exercise.
#[derive(Debug, Clone, Deserialize)]
pub struct Exercise {
    /// `ch03.4`: chapter 3, exercise 4 (`engine.2`: part II's second).
    pub id: String,
    /// What the learner writes: `function` or `Type::method`.
    pub functions: Vec<String>,
    /// The file that holds them, relative to the workspace.
    pub file: PathBuf,
    pub tier: Tier,
    pub checks: Vec<Check>,
    pub hints: Vec<String>,
}

impl Exercise {
    /// The chapter number, from the id (part II's come after chapter 7: 8).
    pub fn chapter(&self) -> u32 {
        if self.id.starts_with("engine") {
            return 8;
        }
        self.id
            .trim_start_matches("ch")
            .split('.')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    }
}

#[derive(Deserialize)]
struct Catalog {
    exercise: Vec<Exercise>,
}

/// Reads and checks the catalogue of `workspace`.
pub fn load(workspace: &Path) -> Result<Vec<Exercise>> {
    let path = workspace.join(FILE);
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    parse(&text).with_context(|| format!("in {}", path.display()))
}

/// Parses a catalogue and checks what a typo would break.
pub fn parse(text: &str) -> Result<Vec<Exercise>> {
    let catalog: Catalog = toml::from_str(text)?;
    let mut seen = std::collections::BTreeSet::new();
    for e in &catalog.exercise {
        if !seen.insert(e.id.clone()) {
            bail!("exercise {} is listed twice", e.id);
        }
        if e.functions.is_empty() || e.checks.is_empty() || e.hints.is_empty() {
            bail!("exercise {} needs functions, checks and hints", e.id);
        }
    }
    Ok(catalog.exercise)
}

/// The exercise `id` (`ch03.4`; `3.4` works too).
pub fn find<'a>(exercises: &'a [Exercise], id: &str) -> Result<&'a Exercise> {
    let wanted = if id.starts_with("ch") || id.starts_with("engine") {
        id.to_string()
    } else {
        let (chapter, number) = id.split_once('.').unwrap_or((id, ""));
        format!("ch{:0>2}.{number}", chapter)
    };
    exercises
        .iter()
        .find(|e| e.id == wanted)
        .with_context(|| format!("no exercise {id}: `cargo lab exercise list` shows them all"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO: &str = r#"
[[exercise]]
id = "ch03.4"
functions = ["inherit_cpuset"]
file = "chapters/03-cgroups/src/cgroup.rs"
tier = "vm"
checks = [{ package = "ch03-cgroups", target = "scenarios", filter = "cpuset" }]
hints = ["one", "two"]

[[exercise]]
id = "ch05.1"
functions = ["Allocations::allocate"]
file = "chapters/05-network/src/ipam.rs"
tier = "any"
checks = [{ package = "ch05-network", target = "lib", filter = "ipam" }]
hints = ["h"]
"#;

    #[test]
    fn reads_exercises_and_finds_them_by_id() {
        let all = parse(TWO).unwrap();
        assert_eq!(all.len(), 2);
        let e = find(&all, "3.4").unwrap();
        assert_eq!(
            (e.id.as_str(), e.chapter(), e.tier),
            ("ch03.4", 3, Tier::Vm)
        );
        assert_eq!(
            e.checks[0].cargo_args(),
            [
                "test",
                "-p",
                "ch03-cgroups",
                "--test",
                "scenarios",
                "--",
                "cpuset"
            ]
        );
        assert_eq!(
            find(&all, "ch05.1").unwrap().checks[0].cargo_args(),
            ["test", "-p", "ch05-network", "--lib", "--", "ipam"]
        );
        assert!(find(&all, "ch09.9").is_err());
    }

    #[test]
    fn duplicates_and_empty_exercises_are_refused() {
        let twice = format!(
            "{TWO}{}",
            &TWO[TWO.find("[[exercise]]\nid = \"ch05.1\"").unwrap()..]
        );
        assert!(parse(&twice).unwrap_err().to_string().contains("twice"));
        let empty = TWO.replace("hints = [\"h\"]", "hints = []");
        assert!(parse(&empty).is_err());
    }

    #[test]
    fn the_workspace_catalogue_reads() {
        let all = load(&crate::paths::workspace()).unwrap();
        assert!(all.len() >= 35, "{}", all.len());
    }
}
