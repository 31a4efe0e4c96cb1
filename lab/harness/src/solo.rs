//! Running one test in a process of its own.
//!
//! A test that calls a chapter's `start` in-process forks the test binary.
//! `fork` copies only the calling thread; a lock some other test thread held
//! at that moment (stdout, the environment, a mutex) stays locked forever in
//! the child. So such a test runs itself again, alone, in a fresh process
//! with one test thread, and the outer test passes only if that run passed.

use std::process::Command;
use std::time::{Duration, Instant};

/// Set in the re-executed process.
const SOLO_VAR: &str = "BERTH_SOLO_TEST";

/// Call first in a test that forks: returns true in the solo process (do
/// the work), false in the outer one after the solo run passed (it panics
/// with the solo run's output when it failed or hung).
pub fn in_own_process(test: &str) -> bool {
    if std::env::var(SOLO_VAR).is_ok_and(|v| v == test) {
        return true;
    }
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut child = Command::new(exe)
        .args(["--exact", test, "--test-threads", "1", "--nocapture"])
        .env(SOLO_VAR, test)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot re-run {test} alone: {e}"));
    let out = child.stdout.take();
    let err = child.stderr.take();
    let read = |pipe: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_string(&mut text);
            }
            text
        })
    };
    let out = read(out.map(|p| Box::new(p) as Box<dyn std::io::Read + Send>));
    let err = read(err.map(|p| Box::new(p) as Box<dyn std::io::Read + Send>));
    let deadline = Instant::now() + Duration::from_secs(600);
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                // Our own child, by pid.
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
    };
    let (out, err) = (
        out.join().unwrap_or_default(),
        err.join().unwrap_or_default(),
    );
    match status {
        Some(s) if s.success() && out.contains("1 passed") => false,
        Some(s) => panic!("{test} (run alone) failed with {s}:\n{out}\n{err}"),
        None => panic!("{test} (run alone) hung for 600 s and was killed:\n{out}\n{err}"),
    }
}
