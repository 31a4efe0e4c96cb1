//! `cargo lab test`: setup, fixtures, the whole suite, one closing line.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use crate::{fixture, paths, privileged, setup};

/// Totals over every `test result:` line cargo printed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    pub passed: u64,
    pub failed: u64,
}

impl Totals {
    /// Adds the counts of one libtest summary line, if `line` is one.
    pub fn add_line(&mut self, line: &str) {
        let Some(rest) = line.trim().strip_prefix("test result: ") else {
            return;
        };
        for part in rest.split(';') {
            let words: Vec<&str> = part.split_whitespace().collect();
            let n = |w: &[&str]| w.iter().rev().nth(1).and_then(|n| n.parse::<u64>().ok());
            match words.last() {
                Some(&"passed") => self.passed += n(&words).unwrap_or(0),
                Some(&"failed") => self.failed += n(&words).unwrap_or(0),
                _ => {}
            }
        }
    }

    pub fn merge(&mut self, other: Totals) {
        self.passed += other.passed;
        self.failed += other.failed;
    }
}

/// Runs `cargo test` for the workspace, echoing its output, and counts.
pub fn run_cargo_tests(extra: &[String]) -> Result<(Totals, bool)> {
    let mut child = Command::new(paths::cargo())
        .current_dir(paths::workspace())
        .args(["test", "--workspace", "--no-fail-fast"])
        .args(extra)
        .stdout(Stdio::piped())
        .spawn()
        .context("starting cargo test")?;
    let mut totals = Totals::default();
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines() {
            let line = line?;
            println!("{line}");
            totals.add_line(&line);
        }
    }
    let status = child.wait()?;
    Ok((totals, status.success()))
}

/// `cargo lab test`.
pub fn run(extra: &[String]) -> Result<()> {
    if !privileged::is_root() && !privileged::opted_out() {
        bail!(
            "{}",
            privileged::HOW_TO_RUN
                .replace("privileged test needs", "the suite's privileged tests need")
        );
    }
    setup::run()?;
    let rootfs = fixture::ensure()?;
    println!("fixture: {}", rootfs.display());
    let (totals, ok) = run_cargo_tests(extra)?;
    let mut failed = totals.failed;
    if !ok && failed == 0 {
        println!("cargo test failed before running every test (see above)");
        failed = 1;
    }
    // Chapter 5's promise: no berth namespace, link or chain outlives the suite.
    match crate::sweep::sweeper(&["leftovers"]) {
        Ok(left) if !left.is_empty() => {
            println!("the suite left network resources behind (`cargo lab clean` removes them):");
            left.iter().for_each(|l| println!("  {l}"));
            failed += 1;
        }
        Ok(_) => {}
        Err(e) => println!("cannot check for network leftovers: {e:#}"),
    }
    println!("{} passed, {} failed", totals.passed, failed);
    let host = Totals {
        passed: totals.passed,
        failed,
    };

    // Then the same suite in the lab VM, on a pure cgroup v2 kernel.
    let vm = crate::vm::suite::after_host_suite()?;
    let all = vm.into_iter().fold(host, |mut sum, t| {
        sum.merge(t);
        sum
    });
    if vm.is_some() {
        println!("host and VM together:");
        println!("{} passed, {} failed", all.passed, all.failed);
    }
    if all.failed > 0 {
        std::process::exit(1);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_libtest_lines() {
        let mut t = Totals::default();
        t.add_line("test result: ok. 12 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.01s");
        t.add_line(
            "test result: FAILED. 3 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out",
        );
        t.add_line("running 5 tests");
        assert_eq!(
            t,
            Totals {
                passed: 15,
                failed: 2
            }
        );
    }
}
