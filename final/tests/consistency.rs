//! The store stays consistent whatever happens to the processes around
//! it: an unreadable record is reported and kept, a command line killed at
//! any moment leaves nothing the next commands cannot reconcile, and two
//! state roots never take each other's host names.

mod common;

use std::time::{Duration, Instant};

use common::{BIN, Setup};

#[test]
fn an_unreadable_record_is_reported_and_kept() {
    let s = Setup::new();
    s.run_detached(&["--name", "broken", "--network", "none"], &["true"]);
    s.wait_status("broken", "exited");
    let dir = std::fs::read_dir(s.root().join("containers"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::write(dir.join("record.json"), "{ not json").unwrap();
    let ps = s.berth(&["ps", "-a"]);
    ps.expect_code(0);
    assert!(ps.stderr.contains("unreadable"), "reported: {ps:?}");
    assert!(dir.exists(), "kept");
    let rm = s.berth(&["rm", "broken"]);
    rm.expect_code(125);
    assert!(rm.stderr.contains("rm -f"), "{rm:?}");
    assert!(dir.exists(), "still kept");
    s.berth(&["rm", "-f", "broken"]).expect_code(0);
    assert!(!dir.exists());
}

#[test]
fn a_killed_command_line_leaves_a_store_that_reconciles() {
    let s = Setup::new();
    // Attached: killing the client does not stop the container (Docker's
    // too); the container stays running under its monitor.
    let mut client = s
        .command(&[
            "run",
            "--name",
            "kept",
            "--pull",
            "never",
            "--network",
            "none",
            &s.image,
            "sleep",
            "1000",
        ])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    s.wait_status("kept", "running");
    client.kill().unwrap();
    client.wait().unwrap();
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(s.inspect("kept", "{{.State.Status}}"), "running");
    // `run -d` killed at moments spread over its whole life.
    for delay_ms in [0u64, 5, 10, 20, 40, 80, 160] {
        let mut child = s
            .command(&["run", "-d", "--pull", "never", &s.image, "sleep", "1000"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill();
        child.wait().unwrap();
    }
    // Every record reads; every container is in a state `rm -f` ends.
    let ps = s.berth(&["ps", "-a"]);
    ps.expect_code(0);
    assert!(!ps.stderr.contains("unreadable"), "{ps:?}");
    for id in s.ids() {
        s.berth(&["rm", "-f", &id]).expect_code(0);
    }
    // Directories of creations killed before their record was written
    // are chapter 4's "unfinished" ones: its sweep removes them.
    s.berth(&["ps", "-a"]).expect_code(0);
    let deadline = Instant::now() + Duration::from_secs(10);
    while s.containers() > 0 {
        assert!(
            Instant::now() < deadline,
            "{} container directories left",
            s.containers()
        );
        s.berth(&["ps", "-a"]).expect_code(0);
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(s.mounts().is_empty(), "{:?}", s.mounts());
}

#[test]
fn two_state_roots_keep_their_own_veth_pairs() {
    let s = Setup::new();
    s.run_detached(&["--name", "web"], &["sleep", "1000"]);
    s.wait_status("web", "running");
    // The same name in another state root, on the same default bridge.
    let other = s.tmp.path().join("other");
    let in_other = |args: &[&str]| {
        lab::scenario::Scenario::new(BIN)
            .arg("--root")
            .arg(&other)
            .arg("--run-dir")
            .arg(s.run_dir())
            .args(args)
            .env(ch05_network::network::TAG_VAR, &s.tag)
            .run()
    };
    let insecure = s.registry.host();
    in_other(&["pull", "--insecure-registry", &insecure, &s.image]).expect_code(0);
    in_other(&[
        "run", "-d", "--pull", "never", "--name", "web", &s.image, "sleep", "1000",
    ])
    .expect_code(0);
    // The first container still has its link to the bridge.
    let up = s.berth(&["exec", "web", "cat", "/sys/class/net/eth0/operstate"]);
    up.expect_code(0);
    assert_eq!(up.stdout, "up\n");
    let a = s.inspect("web", "{{.NetworkSettings.IPAddress}}");
    let b = in_other(&[
        "inspect",
        "--format",
        "{{.NetworkSettings.IPAddress}}",
        "web",
    ]);
    assert_ne!(a, b.stdout.trim(), "two addresses");
    in_other(&["rm", "-f", "web"]).expect_code(0);
    s.berth(&["rm", "-f", "web"]).expect_code(0);
}

#[test]
fn a_long_run_directory_still_has_room_for_the_socket() {
    let s = Setup::new();
    // Longer than a unix socket's 108 bytes once the id is added.
    let long = s
        .tmp
        .path()
        .join("a-run-directory-with-a-rather-long-name-for-the-monitor-sockets");
    let out = lab::scenario::Scenario::new(BIN)
        .arg("--root")
        .arg(s.root())
        .arg("--run-dir")
        .arg(&long)
        .args([
            "run",
            "--rm",
            "--pull",
            "never",
            "--network",
            "none",
            &s.image,
            "echo",
            "attached",
        ])
        .env(ch05_network::network::TAG_VAR, &s.tag)
        .run();
    out.expect_code(0);
    assert_eq!(out.stdout, "attached\n");
}
