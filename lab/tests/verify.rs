//! `cargo lab exercise verify` can fail: on a tiny crate of its own with two
//! exercises, one whose check calls the function and one whose check does
//! not, it passes the first and flags the second as weak, and leaves the
//! source exactly as it was.

use std::path::Path;

use lab::exercise::catalog;
use lab::exercise::verify::{Finding, verify};

const LIB: &str = r#"/// The answer, doubled.
pub fn double(x: u32) -> u32 {
    x * 2
}

/// Never called by any test.
pub fn unchecked(x: u32) -> u32 {
    x + 1
}
"#;

const TESTS: &str = r#"#[test]
fn doubles() {
    assert_eq!(demo::double(21), 42);
}

#[test]
fn always_passes() {
    assert_eq!(1 + 1, 2);
}
"#;

const CATALOG: &str = r#"
[[exercise]]
id = "ch09.1"
functions = ["double"]
file = "src/lib.rs"
tier = "any"
checks = [{ package = "demo", target = "check", filter = "doubles" }]
hints = ["multiply"]

[[exercise]]
id = "ch09.2"
functions = ["unchecked"]
file = "src/lib.rs"
tier = "any"
checks = [{ package = "demo", target = "check", filter = "always_passes" }]
hints = ["add one"]
"#;

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[test]
fn verify_flags_a_check_that_cannot_fail() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path();
    write(
        &ws.join("Cargo.toml"),
        "[package]\nname = \"demo\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n[workspace]\n",
    );
    write(&ws.join("src/lib.rs"), LIB);
    write(&ws.join("tests/check.rs"), TESTS);
    let exercises = catalog::parse(CATALOG).unwrap();
    let mut lines = Vec::new();
    let verdicts = verify(ws, &exercises, |l| lines.push(l)).unwrap();
    let found: Vec<(&str, Finding)> = verdicts
        .iter()
        .map(|v| (v.id.as_str(), v.finding))
        .collect();
    assert_eq!(
        found,
        [("ch09.1", Finding::Fails), ("ch09.2", Finding::Weak)],
        "{lines:?}"
    );
    assert!(lines[1].contains("WEAK"), "{lines:?}");
    assert_eq!(std::fs::read_to_string(ws.join("src/lib.rs")).unwrap(), LIB);
}
