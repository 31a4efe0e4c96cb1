//! `cargo lab exercise list` and `report` into a reader that stops early
//! (`| head -1`): no panic, exit 0, as other listing tools.

use std::process::{Command, Stdio};

#[test]
fn listings_into_a_closed_pipe_end_quietly() {
    for args in [&["exercise", "list"][..], &["exercise", "report"][..]] {
        // A pipe whose reader is gone before the writer starts: every
        // write fails with EPIPE.
        let (reader, writer) = nix::unistd::pipe().unwrap();
        drop(reader);
        let out = Command::new(env!("CARGO_BIN_EXE_lab"))
            .args(args)
            .stdout(Stdio::from(writer))
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{args:?}: {:?} {stderr}", out.status);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}
