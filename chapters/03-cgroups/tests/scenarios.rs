//! Chapter 3 scenarios: real containers with real limits, as root, on this
//! host's layout (v1/hybrid here, pure v2 in the lab VM). The snapshots are
//! the same on both: the probe's `limits` section words them alike.
//!
//! Each snapshot is also the expected output shown in the book and the key
//! the workshop grader uses for the chapter's exercises.

use std::sync::{RwLock, RwLockReadGuard};

use lab::fixture;
use lab::host::CgroupLayout;
use lab::privileged::require_root;
use lab::scenario::{Outcome, Scenario};

const BIN: &str = env!("CARGO_BIN_EXE_ch03-cgroups");

/// Tests take it shared; the leak check takes it alone, so that no other
/// container is running while it looks for berth cgroups.
static HOST: RwLock<()> = RwLock::new(());

fn shared() -> RwLockReadGuard<'static, ()> {
    HOST.read().unwrap_or_else(|e| e.into_inner())
}

fn run_in_fixture(options: &[&str], command: &[&str]) -> Outcome {
    Scenario::new(BIN)
        .arg("run")
        .args(options)
        .arg(fixture::rootfs())
        .args(command)
        .run()
}

/// The stats lines' numbers vary from run to run: show them as `<n>`.
fn mask_stats(text: &str) -> String {
    text.lines()
        .map(|line| match line.split_once(": ") {
            Some((key, value))
                if (key.starts_with("stats.memory") || key.starts_with("stats.cpu"))
                    && value != "unavailable" =>
            {
                format!("{key}: <n>\n")
            }
            _ => format!("{line}\n"),
        })
        .collect()
}

/// A `stats.KEY: VALUE` line from stderr.
fn stat<'a>(out: &'a Outcome, key: &str) -> Option<&'a str> {
    out.stderr
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(": "))
}

/// Exercise 1 (`set_memory_max`, `set_cpus`, `set_pids_max`): the limits
/// asked for are the limits the container sees.
#[test]
fn limits_are_visible_inside() {
    if !require_root() {
        return;
    }
    let _host = shared();
    let out = run_in_fixture(
        &[
            "-m",
            "64m",
            "--memory-swap",
            "96m",
            "--cpus",
            "1.5",
            "--cpuset-cpus",
            "0",
            "--pids-limit",
            "50",
        ],
        &["/probe", "limits"],
    );
    out.expect_code(0);
    assert_eq!(
        out.value("limits.memory"),
        Some("67108864"),
        "{}",
        out.render()
    );
    assert_eq!(out.value("limits.memory+swap"), Some("100663296"));
    assert_eq!(out.value("limits.cpu"), Some("150000 100000"));
    assert_eq!(out.value("limits.cpuset.cpus"), Some("0"));
    assert_eq!(out.value("limits.pids"), Some("50"));
    insta::assert_snapshot!("limits_are_visible_inside", out.render());
}

/// Without flags, nothing is limited (Docker's default).
#[test]
fn no_flags_no_limits() {
    if !require_root() {
        return;
    }
    let _host = shared();
    let out = run_in_fixture(&[], &["/probe", "limits"]);
    out.expect_code(0);
    assert_eq!(out.value("limits.memory"), Some("max"), "{}", out.render());
    assert_eq!(out.value("limits.pids"), Some("max"));
    assert!(out.value("limits.cpu").unwrap().starts_with("max "));
}

/// Exercise 2 (`oom_report`): a memory hog is killed at its limit, and
/// the user is told why.
#[test]
fn memory_hog_is_oom_killed() {
    if !require_root() {
        return;
    }
    let _host = shared();
    let out = run_in_fixture(&["-m", "32m"], &["sh", "-c", "tail /dev/zero"]);
    out.expect_code(137);
    assert_eq!(
        out.stderr,
        "ch03-cgroups: container killed: out of memory (limit 32 MiB)\n"
    );
    insta::assert_snapshot!("memory_hog_is_oom_killed", out.render());
}

/// Exercise 3 (`JoinCgroup`): a fork bomb hits the pids limit: the
/// kernel refuses the 20th process (the shell and the probe are two).
#[test]
fn fork_bomb_stops_at_the_pids_limit() {
    if !require_root() {
        return;
    }
    let _host = shared();
    let out = run_in_fixture(
        &["--pids-limit", "20"],
        &["sh", "-c", "/probe forkbomb; /probe limits | grep pids"],
    );
    out.expect_code(0);
    assert_eq!(out.value("forkbomb.forked"), Some("18"), "{}", out.render());
    assert_eq!(out.value("limits.pids"), Some("20"));
    assert_eq!(out.value("limits.pids.limit_reached"), Some("yes"));
    insta::assert_snapshot!("fork_bomb_stops_at_the_pids_limit", out.render());
}

/// A real shell fork bomb: contained, and the host keeps answering.
#[test]
fn shell_fork_bomb_is_contained() {
    if !require_root() {
        return;
    }
    let _host = shared();
    let started = std::time::Instant::now();
    // The bomb's shell dies at its first refused fork; the bomb's pieces
    // die with the container's pid namespace when it does.
    let out = run_in_fixture(
        &["--pids-limit", "20", "--init"],
        &["sh", "-c", "b() { b | b & }; b; while :; do b; done"],
    );
    assert_ne!(out.code, 125, "{}", out.render());
    assert!(started.elapsed() < std::time::Duration::from_secs(60));
    let host = std::process::Command::new("true").status().unwrap();
    assert!(host.success());
}

/// A busy loop under `--cpus 0.5` gets about half a CPU: the cgroup's own
/// CPU accounting, against the time the whole run took (an upper bound on
/// the container's life, so the share computed is a lower bound).
#[test]
fn half_a_cpu_for_a_busy_loop() {
    if !require_root() {
        return;
    }
    let _host = shared();
    let started = std::time::Instant::now();
    let out = run_in_fixture(
        &["--cpus", "0.5", "--stats"],
        &["sh", "-c", "yes >/dev/null & sleep 2; kill $!"],
    );
    let wall = started.elapsed().as_secs_f64();
    out.expect_code(0);
    let seconds: f64 = stat(&out, "stats.cpu.time")
        .and_then(|v| v.strip_suffix(" s"))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no CPU time:\n{}", out.render()));
    // Capped at half of the run (plus a little slack). A loaded host (the
    // emulated VM beside a build on two cores) may give far less: the lower
    // bound only proves that the loop ran.
    assert!(
        seconds <= 0.5 * wall + 0.15 && seconds >= 0.03 * wall,
        "a busy loop under --cpus 0.5 used {seconds} s of CPU in {wall:.2} s"
    );
    insta::assert_snapshot!("half_a_cpu_for_a_busy_loop", mask_stats(&out.render()));
}

/// Exercise 4 (`inherit_cpuset`): `--cpuset-cpus` pins the container.
#[test]
fn cpuset_pins_the_container() {
    if !require_root() {
        return;
    }
    let _host = shared();
    let out = run_in_fixture(
        &["--cpuset-cpus", "0"],
        &["grep", "Cpus_allowed_list", "/proc/self/status"],
    );
    out.expect_code(0);
    assert_eq!(out.stdout.split_whitespace().last(), Some("0"));
    insta::assert_snapshot!("cpuset_pins_the_container", out.render());
}

/// Exercise 5 (`freeze`): a paused container uses no CPU at all, and
/// finishes its work once resumed.
#[test]
fn pause_and_resume() {
    if !require_root() {
        return;
    }
    let _host = shared();
    let out = run_in_fixture(
        &["--pause-after", "0.2", "--resume-after", "1"],
        &[
            "sh",
            "-c",
            "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done; echo counted to $i",
        ],
    );
    out.expect_code(0);
    assert_eq!(out.stdout, "counted to 300000\n");
    assert!(
        out.stderr
            .contains("resumed; CPU time used while paused: 0 ms"),
        "{}",
        out.render()
    );
    insta::assert_snapshot!("pause_and_resume", out.render());
}

/// The cgroup namespace and the read-only mount: the container sees its
/// own cgroup as `/`, and cannot change its limits.
#[test]
fn own_cgroup_read_only() {
    if !require_root() {
        return;
    }
    let _host = shared();
    let paths = run_in_fixture(&[], &["/probe", "cgroup"]);
    paths.expect_code(0);
    let lines: Vec<&str> = paths
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("cgroup: "))
        .collect();
    assert!(!lines.is_empty(), "{}", paths.render());
    for line in &lines {
        assert!(line.ends_with(":/"), "{line}\n{}", paths.render());
    }
    let out = run_in_fixture(
        &["--pids-limit", "10"],
        &[
            "sh",
            "-c",
            "touch /sys/fs/cgroup/x; /probe limits | grep 'pids:'",
        ],
    );
    out.expect_code(0);
    assert!(
        out.stderr.contains("Read-only file system"),
        "{}",
        out.render()
    );
    insta::assert_snapshot!("own_cgroup_read_only", out.render());
}

/// `--stats` prints what the container used.
#[test]
fn stats_at_exit() {
    if !require_root() {
        return;
    }
    let _host = shared();
    let out = run_in_fixture(&["-m", "64m", "--stats"], &["sh", "-c", "echo hello"]);
    out.expect_code(0);
    let peak = stat(&out, "stats.memory.peak").unwrap_or("missing");
    assert!(
        peak.ends_with("KiB") || peak.ends_with("MiB"),
        "{}",
        out.render()
    );
    assert_eq!(stat(&out, "stats.oom_kills"), Some("0"));
    insta::assert_snapshot!("stats_at_exit", mask_stats(&out.render()));
}

/// Invalid values: one clear line, exit 125, and nothing created.
#[test]
fn invalid_limits_are_rejected() {
    if !require_root() {
        return;
    }
    let _host = shared();
    let cases: &[&[&str]] = &[
        &["-m", "12x"],
        &["--cpus", "one"],
        &["-m", "1m"],
        &["--memory-swap", "1g"],
        &["-m", "64m", "--memory-swap", "32m"],
        &["--device-read-bps", "/dev/null:1mb"],
    ];
    let mut transcript = String::new();
    for options in cases {
        let out = run_in_fixture(options, &["true"]);
        out.expect_code(125);
        transcript.push_str(&out.render());
    }
    insta::assert_snapshot!("invalid_limits_are_rejected", transcript);
    // These name the host's CPUs, so they are checked, not snapshotted.
    let too_many = run_in_fixture(&["--cpus", "9999"], &["true"]);
    too_many.expect_code(125);
    assert!(
        too_many
            .stderr
            .starts_with("ch03-cgroups: --cpus must be between 0.01 and ")
    );
    let missing_cpu = run_in_fixture(&["--cpuset-cpus", "4095"], &["true"]);
    missing_cpu.expect_code(125);
    assert!(
        missing_cpu
            .stderr
            .starts_with("ch03-cgroups: CPUs 4095 are not available: this host has CPUs "),
        "{}",
        missing_cpu.render()
    );
}

/// `info` names the layout the lab detects.
#[test]
fn info_names_the_layout() {
    if !require_root() {
        return;
    }
    let out = Scenario::new(BIN).arg("info").run();
    out.expect_code(0);
    let layout = out.value("cgroup.layout").unwrap_or_default();
    let expected = match CgroupLayout::detect() {
        CgroupLayout::V2 { .. } => "v2 ",
        CgroupLayout::Hybrid { .. } => "hybrid ",
        CgroupLayout::V1 { .. } => "v1 ",
        CgroupLayout::None => "none",
    };
    assert!(layout.starts_with(expected), "{}", out.render());
    assert!(out.stdout.contains("cgroup.hierarchy."), "{}", out.render());
}

/// After runs that end every way (exit, failed start, OOM kill), no berth
/// cgroup is left in any hierarchy.
#[test]
fn nothing_is_left_behind() {
    if !require_root() {
        return;
    }
    let _alone = HOST.write().unwrap_or_else(|e| e.into_inner());
    let before = container_cgroups();
    run_in_fixture(&["-m", "64m"], &["true"]).expect_code(0);
    run_in_fixture(&["-m", "64m"], &["no-such-command"]).expect_code(127);
    run_in_fixture(&["-m", "64m", "-w", "/nonexistent"], &["true"]).expect_code(125);
    run_in_fixture(&["-m", "32m"], &["sh", "-c", "tail /dev/zero"]).expect_code(137);
    run_in_fixture(&["--cpuset-cpus", "4095"], &["true"]).expect_code(125);
    // Other berth processes (another `cargo lab test`) may come and go on
    // this host meanwhile: a new cgroup still here after 10 s is a leak.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let leaked = loop {
        let new: Vec<String> = container_cgroups()
            .into_iter()
            .filter(|c| !before.contains(c))
            .collect();
        if new.is_empty() || std::time::Instant::now() > deadline {
            break new;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert!(leaked.is_empty(), "left behind: {leaked:?}");
}

/// Every `berth/<id>` directory in every hierarchy.
fn container_cgroups() -> Vec<String> {
    lab::host::berth_cgroups()
        .iter()
        .flat_map(|dir| std::fs::read_dir(dir).into_iter().flatten().flatten())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path().display().to_string())
        .collect()
}

/// A run killed with SIGKILL removes nothing: its container dies with it
/// (chapter 2's parent-death signal) and leaves its cgroup empty, owned by
/// no one. The next run's sweep removes it, in every hierarchy, at once.
#[test]
fn a_killed_runs_cgroup_is_swept_by_the_next_run() {
    if !require_root() {
        return;
    }
    let _shared = shared();
    let mut engine = std::process::Command::new(BIN)
        .arg("run")
        .arg(fixture::rootfs())
        .args(["sleep", "60"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("starting ch03-cgroups");
    let engine_pid = engine.id();
    // The container (the engine's child) once it has joined its cgroup.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let (container, id) = loop {
        let children =
            std::fs::read_to_string(format!("/proc/{engine_pid}/task/{engine_pid}/children"))
                .unwrap_or_default();
        let joined = children.split_whitespace().find_map(|pid| {
            let cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
            let id = cgroup.lines().find_map(|l| l.split("/berth/").nth(1))?;
            Some((pid.to_string(), id.to_string()))
        });
        if let Some(found) = joined {
            break found;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no container joined a berth cgroup"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let own = |c: &String| c.ends_with(&format!("/berth/{id}"));
    assert!(container_cgroups().iter().any(own), "berth/{id}");
    // Our own child, by pid.
    engine.kill().unwrap();
    engine.wait().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    // Gone, or a zombie waiting for whoever reaps orphans here.
    let alive = || {
        std::fs::read_to_string(format!("/proc/{container}/stat")).is_ok_and(|stat| {
            stat.rsplit_once(") ")
                .is_some_and(|(_, s)| !s.starts_with('Z'))
        })
    };
    while alive() {
        assert!(
            std::time::Instant::now() < deadline,
            "the container outlived its engine"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    run_in_fixture(&[], &["true"]).expect_code(0);
    let left: Vec<String> = container_cgroups().into_iter().filter(own).collect();
    assert!(left.is_empty(), "the killed run's cgroup stays: {left:?}");
}

/// The first child of `parent` whose command is `comm`, waiting up to 10 s.
fn child_running(parent: u32, comm: &str) -> u32 {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let children = std::fs::read_to_string(format!("/proc/{parent}/task/{parent}/children"))
            .unwrap_or_default();
        let found = children.split_whitespace().find_map(|pid| {
            let name = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
            (name.trim() == comm).then(|| pid.parse().ok())?
        });
        if let Some(pid) = found {
            return pid;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no {comm} under {parent}"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// `/proc/PID/cgroup` without the named v1 hierarchies (`name=systemd`),
/// which berth leaves alone.
fn controller_cgroups(pid: u32) -> Vec<String> {
    std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .unwrap()
        .lines()
        .filter(|l| !l.contains(":name="))
        .map(String::from)
        .collect()
}

/// Issue 14, item 8: a process started with `exec` in a running container
/// is in the container's cgroup, in every hierarchy (v1, hybrid or v2),
/// and dies with the container.
#[test]
fn exec_joins_the_containers_cgroup() {
    if !require_root() {
        return;
    }
    let _shared = shared();
    let spawn = |args: &[&str]| {
        std::process::Command::new(BIN)
            .args(args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("starting ch03-cgroups")
    };
    let rootfs = fixture::rootfs().display().to_string();
    let mut engine = spawn(&["run", "--pids-limit", "50", &rootfs, "sleep", "600"]);
    let container = child_running(engine.id(), "sleep");
    let mut exec = spawn(&["exec", &container.to_string(), "sleep", "601"]);
    let inside = child_running(exec.id(), "sleep");
    let (ours, theirs) = (controller_cgroups(inside), controller_cgroups(container));
    // Ended first, by pid: the exec'd sleep goes with the container's pid
    // namespace.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(container as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    use std::os::unix::process::ExitStatusExt;
    let code =
        |status: std::process::ExitStatus| status.code().or(status.signal().map(|s| 128 + s));
    assert_eq!(code(engine.wait().unwrap()), Some(137));
    assert_eq!(code(exec.wait().unwrap()), Some(137));
    assert_eq!(ours, theirs);
    assert!(
        theirs.iter().all(|l| l.contains("/berth/")),
        "the container is in its own cgroup: {theirs:?}"
    );
}
