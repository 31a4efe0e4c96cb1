//! Chapter 1 scenarios: real chroots of the busybox fixture, as root.
//!
//! Each snapshot is also the expected output shown in the book and the key
//! the workshop grader uses for the chapter's exercises.

use lab::fixture;
use lab::privileged::require_root;
use lab::scenario::{Outcome, Scenario};

const BIN: &str = env!("CARGO_BIN_EXE_ch01-chroot");

fn run_in_fixture(command: &[&str]) -> Outcome {
    Scenario::new(BIN)
        .arg("run")
        .arg(fixture::rootfs())
        .args(command)
        .run()
}

/// Exercise 1 (`enter_root`): the probe sees a root that is not the host's.
#[test]
fn probe_sees_another_root() {
    if !require_root() {
        return;
    }
    let out = run_in_fixture(&["/probe", "ids", "hostname", "root", "ns", "cwd"]);
    out.expect_code(0);
    assert_eq!(out.value("root.id"), Some("new"), "{}", out.render());
    // Inside the new root, not left behind in the host's tree.
    assert_eq!(out.value("cwd"), Some("/"), "{}", out.render());
    insta::assert_snapshot!("probe_sees_another_root", out.render());
}

#[test]
fn busybox_commands_work() {
    if !require_root() {
        return;
    }
    let out = run_in_fixture(&[
        "sh",
        "-c",
        "echo hello from $(sed -n s/^NAME=//p /etc/os-release); ls /etc",
    ]);
    insta::assert_snapshot!("busybox_commands_work", out.render());
}

#[test]
fn stdin_passes_through() {
    if !require_root() {
        return;
    }
    let out = Scenario::new(BIN)
        .arg("run")
        .arg(fixture::rootfs())
        .args(["tr", "a-z", "A-Z"])
        .stdin("piped into the jail\n")
        .run();
    out.expect_code(0);
    assert_eq!(out.stdout, "PIPED INTO THE JAIL\n");
}

/// Exercise 2 (`exit_code`): the exit status is forwarded as a shell does.
#[test]
fn exit_codes_are_forwarded() {
    if !require_root() {
        return;
    }
    let cases: &[(&[&str], i32)] = &[
        (&["true"], 0),
        (&["false"], 1),
        (&["sh", "-c", "exit 3"], 3),
        (&["sh", "-c", "kill -TERM $$"], 143),
        (&["sh", "-c", "kill -KILL $$"], 137),
    ];
    let mut transcript = String::new();
    for (command, code) in cases {
        let out = run_in_fixture(command);
        out.expect_code(*code);
        transcript.push_str(&out.render());
    }
    insta::assert_snapshot!("exit_codes_are_forwarded", transcript);
}

/// Exercise 3 (`exec_error`): failures to start say why, with Docker's codes.
#[test]
fn failures_are_explained() {
    if !require_root() {
        return;
    }
    let mut transcript = String::new();
    let not_found = run_in_fixture(&["no-such-command"]);
    not_found.expect_code(127);
    transcript.push_str(&not_found.render());
    let not_executable = run_in_fixture(&["/etc/passwd"]);
    not_executable.expect_code(126);
    transcript.push_str(&not_executable.render());
    let missing_root = Scenario::new(BIN)
        .args(["run", "/nonexistent/rootfs", "sh"])
        .run();
    missing_root.expect_code(125);
    transcript.push_str(&missing_root.render());
    let file_root = Scenario::new(BIN)
        .arg("run")
        .arg(fixture::rootfs().join("etc/passwd"))
        .run();
    file_root.expect_code(125);
    transcript.push_str(&file_root.render());
    insta::assert_snapshot!("failures_are_explained", transcript);
}

/// The reason for chapter 2: a root process walks out of its chroot.
#[test]
fn chroot_can_be_escaped() {
    if !require_root() {
        return;
    }
    let out = run_in_fixture(&["/chroot-escape"]);
    out.expect_code(0);
    assert_eq!(out.value("before.root.id"), Some("new"), "{}", out.render());
    assert_eq!(out.value("after.root.id"), Some("host"), "{}", out.render());
    // The escape tidied up after itself: the fixture holds no leftovers.
    let leftovers: Vec<_> = std::fs::read_dir(fixture::rootfs())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".berth-escape"))
        .collect();
    assert!(leftovers.is_empty(), "escape left {leftovers:?}");
    insta::assert_snapshot!("chroot_can_be_escaped", out.render());
}
