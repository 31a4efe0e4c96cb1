//! `cargo lab exercise verify` can fail: on a tiny crate of its own with
//! three exercises, one whose check calls the function, one whose check
//! cannot fail (it does not call it) and one whose check fails with the
//! reference, it passes the first, flags the other two, and leaves the
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

/// Its test expects what it does not do.
pub fn wrong() -> u32 {
    0
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

#[test]
fn wrong_is_one() {
    assert_eq!(demo::wrong(), 1);
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

[[exercise]]
id = "ch09.3"
functions = ["wrong"]
file = "src/lib.rs"
tier = "any"
checks = [{ package = "demo", target = "check", filter = "wrong_is_one" }]
hints = ["one"]
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
        [
            ("ch09.1", Finding::Fails),
            ("ch09.2", Finding::Weak),
            ("ch09.3", Finding::ReferenceFails)
        ],
        "{lines:?}"
    );
    assert!(lines.iter().any(|l| l.contains("WEAK")), "{lines:?}");
    assert!(lines.iter().any(|l| l.contains("FAILING")), "{lines:?}");
    assert_eq!(std::fs::read_to_string(ws.join("src/lib.rs")).unwrap(), LIB);
}
