//! A learner's broken chapter never breaks the others: in a copy of the
//! workspace with a compile error in chapter 3, chapter 3 does not build,
//! yet `cargo lab` builds and `cargo lab exercise check ch01.1 --host`
//! builds chapter 1's checks and passes them. (Runs cargo: host suite only.)

use std::path::Path;
use std::process::{Command, Output};

/// The deliberate error: a type mismatch, as a learner's typo would make.
const BREAKAGE: &str =
    "\n/// A learner's mistake.\npub fn broken() -> u32 {\n    \"not a number\"\n}\n";

/// Copies the files git would see (tracked and new, not ignored) of
/// `from` into `to`.
fn copy_workspace(from: &Path, to: &Path) {
    let out = Command::new("git")
        .current_dir(from)
        .args([
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ])
        .output()
        .expect("running git ls-files");
    assert!(out.status.success(), "git ls-files failed");
    for name in out.stdout.split(|b| *b == 0).filter(|n| !n.is_empty()) {
        let name = String::from_utf8_lossy(name).into_owned();
        let source = from.join(&name);
        if !source.is_file() {
            continue; // deleted in the working tree
        }
        let dest = to.join(&name);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(&source, &dest).unwrap();
    }
}

/// `cargo ARGS` in `workspace`, with a target directory of the test's own
/// (kept between runs, so only the copied crates rebuild).
fn cargo(workspace: &Path, args: &[&str]) -> Output {
    Command::new(lab::paths::cargo())
        .current_dir(workspace)
        .args(args)
        .env(
            "CARGO_TARGET_DIR",
            lab::paths::target_dir().join("broken-chapter"),
        )
        .env("CARGO_TERM_COLOR", "never")
        .env_remove("BERTH_PREBUILT_FIXTURE")
        .output()
        .expect("running cargo")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn a_broken_chapter_3_leaves_chapter_1s_check_running() {
    if !lab::privileged::require_root() {
        return;
    }
    let copy = tempfile::Builder::new()
        .prefix("berth-broken-chapter-")
        .tempdir()
        .unwrap();
    let ws = copy.path();
    copy_workspace(&lab::paths::workspace(), ws);
    let lib = ws.join("chapters/03-cgroups/src/lib.rs");
    let mut source = std::fs::read_to_string(&lib).unwrap();
    source.push_str(BREAKAGE);
    std::fs::write(&lib, source).unwrap();

    let ch03 = cargo(ws, &["build", "--quiet", "-p", "ch03-cgroups", "--lib"]);
    assert!(
        !ch03.status.success() && text(&ch03).contains("E0308"),
        "chapter 3 should not build:\n{}",
        text(&ch03)
    );

    let check = cargo(ws, &["lab", "exercise", "check", "ch01.1", "--host"]);
    let said = text(&check);
    assert!(check.status.success(), "check ch01.1 failed:\n{said}");
    assert!(said.contains("ch01.1: passed."), "{said}");
    assert!(
        said.contains("test result: ok. 1 passed"),
        "ch01.1's check did not run:\n{said}"
    );
}
