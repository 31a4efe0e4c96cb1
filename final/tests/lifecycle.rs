//! The engine's lifecycle through the `berth` binary: a detached container
//! outlives the command line, logs, stop (the SIGKILL path), rm.

mod common;

use common::Setup;

#[test]
fn detached_run_logs_stop_rm() {
    let s = Setup::new();
    let id = s.run_detached(
        &["--name", "web", "--network", "none"],
        &["sh", "-c", "echo hello; echo oops >&2; exec sleep 1000"],
    );
    // The full id, which the scenario's normalisation hides.
    assert_eq!(id, "<id>");
    s.wait_status("web", "running");
    let ps = s.berth(&["ps", "--format", "{{.Names}} {{.State}}"]);
    ps.expect_code(0);
    assert_eq!(ps.stdout, "web running\n");
    // The log, split by stream.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let logs = s.berth(&["logs", "web"]);
        if logs.stdout == "hello\n" && logs.stderr == "oops\n" {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "logs: {logs:?}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let pid: u32 = s.inspect("web", "{{.State.Pid}}").parse().unwrap();
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
    // sleep as pid 1 ignores SIGTERM: SIGKILL after the timeout.
    s.berth(&["stop", "-t", "1", "web"]).expect_code(0);
    assert_eq!(
        s.inspect("web", "{{.State.Status}} {{.State.ExitCode}}"),
        "exited 137"
    );
    assert!(s.mounts().is_empty(), "mounts left: {:?}", s.mounts());
    s.berth(&["rm", "web"]).expect_code(0);
    assert_eq!(s.containers(), 0);
}

/// The book's "try it" transcript: a detached container's life, in the
/// commands a reader types (the output that varies is left out by the
/// formats chosen).
#[test]
fn a_containers_life() {
    let s = Setup::new();
    let run = s.berth(&[
        "run",
        "-d",
        "--pull",
        "never",
        "--name",
        "web",
        "--network",
        "none",
        &s.image,
        "sh",
        "-c",
        "echo started; exec httpd -f -v -p 80 -h /",
    ]);
    run.expect_code(0);
    s.wait_status("web", "running");
    let ps = s.berth(&[
        "ps",
        "--format",
        "table {{.Names}}\\t{{.Image}}\\t{{.State}}",
    ]);
    let exec = s.berth(&[
        "exec",
        "web",
        "sh",
        "-c",
        "echo pid 1 is $(cat /proc/1/comm) on $(hostname | wc -c) characters of hostname",
    ]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let logs = loop {
        let logs = s.berth(&["logs", "web"]);
        if logs.stdout.contains("started") || std::time::Instant::now() > deadline {
            break logs;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let stop = s.berth(&["stop", "-t", "1", "web"]);
    let inspect = s.berth(&[
        "inspect",
        "--format",
        "{{.State.Status}} {{.State.ExitCode}} {{.State.OOMKilled}}",
        "web",
    ]);
    let rm = s.berth(&["rm", "web"]);
    let ps_all = s.berth(&["ps", "-a", "--format", "{{.Names}}"]);
    let transcript: String = [&run, &ps, &exec, &logs, &stop, &inspect, &rm, &ps_all]
        .iter()
        .map(|o| o.render())
        .collect();
    insta::assert_snapshot!(transcript);
}
