//! Chapter 2 scenarios: real containers in new namespaces, as root.
//!
//! Each snapshot is also the expected output shown in the book and the key
//! the workshop grader uses for the chapter's exercises.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{RwLock, RwLockReadGuard};
use std::time::{Duration, Instant};

use lab::fixture;
use lab::privileged::require_root;
use lab::scenario::{Outcome, Scenario};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

const BIN: &str = env!("CARGO_BIN_EXE_ch02-namespaces");

/// Tests take it shared; the leak check takes it alone, so that nothing
/// else starts containers while it counts mounts and processes.
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

/// A writable copy of the fixture, searchable by the user namespace's
/// root (host uid 100000), under cargo's tmp dir (`cargo lab clean` sweeps
/// `ch02-*` there if a run is killed).
fn fixture_copy() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("ch02-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let status = Command::new("cp")
        .arg("-a")
        .arg(fixture::rootfs())
        .arg(dir.path().join("rootfs"))
        .status()
        .unwrap();
    assert!(status.success(), "copying the fixture failed");
    dir
}

/// Starts the chapter binary with piped stdio, for tests that talk to it.
fn spawn(options: &[&str], rootfs: &Path, command: &[&str]) -> Child {
    Command::new(BIN)
        .arg("run")
        .args(options)
        .arg(rootfs)
        .args(command)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Reads stdout lines until one equals `want`; returns the lines read.
fn read_until(reader: &mut impl BufRead, want: &str) -> Vec<String> {
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap() == 0 {
            panic!("no {want:?} line; got {lines:?}");
        }
        let line = line.trim_end().to_string();
        let done = line == want;
        lines.push(line);
        if done {
            return lines;
        }
    }
}

/// Waits (up to 10 s) for `child` to exit; its code, 128+N for signal N.
fn wait_code(child: &mut Child) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status
                .code()
                .unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("container did not exit");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The container's first process: the only child of the chapter binary.
fn container_pid(parent: u32) -> Pid {
    let children = std::fs::read_to_string(format!("/proc/{parent}/task/{parent}/children"))
        .unwrap_or_default();
    let pid = children
        .split_whitespace()
        .next()
        .and_then(|p| p.parse().ok())
        .expect("the container process");
    Pid::from_raw(pid)
}

/// Exercise 2 (`pivot_to`): pid 1, its own hostname, and every namespace
/// new except user (the acceptance scenario).
#[test]
fn probe_sees_new_namespaces() {
    if !require_root() {
        return;
    }
    let _host = shared();
    let out = run_in_fixture(
        &["--hostname", "box"],
        &["/probe", "ids", "hostname", "root", "ns"],
    );
    out.expect_code(0);
    assert_eq!(out.value("pid"), Some("1"), "{}", out.render());
    assert_eq!(out.value("hostname"), Some("box"));
    assert_eq!(out.value("root.id"), Some("new"));
    for ns in ["cgroup", "ipc", "mnt", "net", "pid", "time", "uts"] {
        assert_eq!(out.value(&format!("ns.{ns}")), Some("new"), "{ns}");
    }
    assert_eq!(out.value("ns.user"), Some("host"));
    insta::assert_snapshot!("probe_sees_new_namespaces", out.render());
}

#[test]
fn the_default_hostname_is_a_short_id() {
    if !require_root() {
        return;
    }
    let _host = shared();
    // Not normalised: the id itself is what is checked.
    let out = Command::new(BIN)
        .arg("run")
        .arg(fixture::rootfs())
        .args(["sh", "-c", "hostname; echo $HOSTNAME"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert_eq!(lines[0], lines[1], "HOSTNAME matches the hostname");
    assert_eq!(lines[0].len(), 12, "{stdout}");
    assert!(lines[0].chars().all(|c| c.is_ascii_hexdigit()));
    assert_ne!(
        lines[0],
        nix::unistd::gethostname().unwrap().to_string_lossy()
    );
}

#[test]
fn share_keeps_host_namespaces() {
    if !require_root() {
        return;
    }
    let _host = shared();
    let shares = ["pid", "uts", "ipc", "net", "cgroup", "time"];
    let options: Vec<&str> = shares.iter().flat_map(|ns| ["--share", ns]).collect();
    let out = run_in_fixture(&options, &["/probe", "ns"]);
    out.expect_code(0);
    for ns in shares {
        assert_eq!(out.value(&format!("ns.{ns}")), Some("host"), "{ns}");
    }
    assert_eq!(out.value("ns.mnt"), Some("new"));
    insta::assert_snapshot!("share_keeps_host_namespaces", out.render());
}

/// Exercise 1 (`write_id_maps`): root inside is uid 100000 outside.
#[test]
fn user_namespace_maps_root() {
    if !require_root() {
        return;
    }
    let _host = shared();
    let out = run_in_fixture(&["--userns", "--hostname", "box"], &["/probe", "ids", "ns"]);
    out.expect_code(0);
    assert_eq!(out.value("uid"), Some("0"), "{}", out.render());
    assert_eq!(out.value("uid_map"), Some("0 100000 65536"));
    assert_eq!(out.value("gid_map"), Some("0 100000 65536"));
    assert_eq!(out.value("ns.user"), Some("new"));
    insta::assert_snapshot!("user_namespace_maps_root", out.render());
}

#[test]
fn files_made_by_container_root_belong_to_the_mapped_uid() {
    if !require_root() {
        return;
    }
    let _host = shared();
    let copy = fixture_copy();
    let rootfs = copy.path().join("rootfs");
    let out = Scenario::new(BIN)
        .replace(rootfs.display().to_string(), "<rootfs>")
        .args(["run", "--userns", "--uid-map", "0:200000:1000"])
        .args(["--gid-map", "0:200000:1000"])
        .arg(&rootfs)
        .args([
            "sh",
            "-c",
            "touch /tmp/made-inside && stat -c '%u:%g %n' /tmp/made-inside",
        ])
        .run();
    out.expect_code(0);
    assert_eq!(out.stdout, "0:0 /tmp/made-inside\n", "{}", out.render());
    let meta = std::fs::metadata(rootfs.join("tmp/made-inside")).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (200_000, 200_000));
    // The same file seen from the host, as `stat` would print it there.
    let host_side = format!(
        "$ stat -c '%u:%g %n' <rootfs>/tmp/made-inside    # on the host\n{}:{} <rootfs>/tmp/made-inside\n",
        meta.uid(),
        meta.gid()
    );
    insta::assert_snapshot!(
        "files_made_by_container_root",
        format!("{}{host_side}", out.render())
    );
}

#[test]
fn network_has_only_loopback() {
    if !require_root() {
        return;
    }
    let _host = shared();
    let out = run_in_fixture(&[], &["/probe", "net"]);
    out.expect_code(0);
    let interfaces: Vec<&str> = out
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("net.if: "))
        .collect();
    assert_eq!(interfaces, ["lo up 127.0.0.1/8"], "{}", out.render());
    insta::assert_snapshot!("network_has_only_loopback", out.render());
}

/// A System V shared-memory segment of the host's, removed on drop.
struct HostSegment {
    id: i32,
    key: i32,
}

impl HostSegment {
    fn create() -> HostSegment {
        let key = 0x6265_0000 | (std::process::id() as i32 & 0xffff);
        // SAFETY: plain shmget; the segment is removed in Drop.
        let id = unsafe { libc::shmget(key, 4096, libc::IPC_CREAT | libc::IPC_EXCL | 0o600) };
        assert!(id >= 0, "shmget: {}", std::io::Error::last_os_error());
        HostSegment { id, key }
    }
}

impl Drop for HostSegment {
    fn drop(&mut self) {
        // SAFETY: removes the segment this test created.
        unsafe { libc::shmctl(self.id, libc::IPC_RMID, std::ptr::null_mut()) };
    }
}

#[test]
fn ipc_objects_of_the_host_are_invisible() {
    if !require_root() {
        return;
    }
    let _host = shared();
    let segment = HostSegment::create();
    let key = segment.key.to_string();
    let inside = run_in_fixture(&[], &["/probe", "ipc"]);
    inside.expect_code(0);
    assert_eq!(
        inside.value("ipc.shm.count"),
        Some("0"),
        "{}",
        inside.render()
    );
    let shared_ipc = run_in_fixture(&["--share", "ipc"], &["/probe", "ipc"]);
    shared_ipc.expect_code(0);
    assert!(
        shared_ipc.stdout.contains(&format!("ipc.shm.key: {key}\n")),
        "{}",
        shared_ipc.render()
    );
    insta::assert_snapshot!("ipc_objects_of_the_host_are_invisible", inside.render());
}

/// Exercise 3 (`make_private`): a mount made inside never shows on the host.
#[test]
fn mounts_made_inside_stay_inside() {
    if !require_root() {
        return;
    }
    let _host = shared();
    let name = format!("berth-ch02-{}", std::process::id());
    let script = format!(
        "mount -t tmpfs {name} /mnt && grep -c {name} /proc/self/mountinfo && echo mounted && read line; true"
    );
    let mut child = spawn(&[], &fixture::rootfs(), &["sh", "-c", &script]);
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let lines = read_until(&mut stdout, "mounted");
    assert_eq!(lines, ["1", "mounted"], "the container sees its mount");
    let host = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    // Closing stdin ends `read`, and the container.
    let leaked = host.contains(&name);
    drop(child.stdin.take());
    assert_eq!(wait_code(&mut child), 0);
    assert!(!leaked, "the container's mount propagated to the host");
}

#[test]
fn cgroup_namespace_shows_root() {
    if !require_root() {
        return;
    }
    let _host = shared();
    let out = run_in_fixture(&[], &["/probe", "cgroup"]);
    out.expect_code(0);
    let paths: Vec<&str> = out
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("cgroup: "))
        .collect();
    assert!(!paths.is_empty(), "{}", out.render());
    for line in paths {
        assert!(line.ends_with(":/"), "{line}\n{}", out.render());
    }
}

/// Whole seconds of the host's clock `id`.
fn host_clock(id: libc::clockid_t) -> i64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime fills the struct we pass it.
    assert_eq!(unsafe { libc::clock_gettime(id, &mut ts) }, 0);
    ts.tv_sec
}

#[test]
fn time_offsets_move_the_clocks() {
    if !require_root() {
        return;
    }
    let _host = shared();
    let (monotonic, boottime) = (86_400, 31_536_000);
    let before = (
        host_clock(libc::CLOCK_MONOTONIC),
        host_clock(libc::CLOCK_BOOTTIME),
    );
    let offsets = format!("monotonic={monotonic},boottime={boottime}");
    let mut out = run_in_fixture(&["--time-offset", &offsets], &["/probe", "time"]);
    out.expect_code(0);
    let after = (
        host_clock(libc::CLOCK_MONOTONIC),
        host_clock(libc::CLOCK_BOOTTIME),
    );
    // Show each reading as the host's plus the offset it carries.
    let mut shown = String::new();
    for (key, offset, low, high) in [
        ("time.monotonic", monotonic, before.0, after.0),
        ("time.boottime", boottime, before.1, after.1),
        ("time.uptime", boottime, before.1, after.1),
    ] {
        let value: i64 = out.value(key).unwrap().parse().unwrap();
        assert!(
            (low + offset..=high + offset + 1).contains(&value),
            "{key}: {value} not host + {offset}\n{}",
            out.render()
        );
        shown.push_str(&format!("{key}: host + {offset} s\n"));
    }
    out.stdout = shown;
    insta::assert_snapshot!("time_offsets_move_the_clocks", out.render());
}

/// Chapter 1's escape, again: this time there is nothing above the root.
#[test]
fn chroot_escape_stays_inside() {
    if !require_root() {
        return;
    }
    let _host = shared();
    let out = run_in_fixture(&[], &["/chroot-escape"]);
    out.expect_code(0);
    assert_eq!(out.value("before.root.id"), Some("new"), "{}", out.render());
    assert_eq!(out.value("after.root.id"), Some("new"), "{}", out.render());
    insta::assert_snapshot!("chroot_escape_stays_inside", out.render());
}

/// Exercise 4 (`reap_and_forward`): orphans become zombies under a pid 1
/// that never waits, and are reaped by berth's init.
#[test]
fn init_reaps_zombies() {
    if !require_root() {
        return;
    }
    let _host = shared();
    let without = run_in_fixture(&[], &["/probe", "zombies"]);
    without.expect_code(0);
    assert_eq!(without.value("zombies"), Some("3"), "{}", without.render());
    let with = run_in_fixture(&["--init"], &["/probe", "ids", "zombies"]);
    with.expect_code(0);
    // The probe is not pid 1 any more: berth's init is its parent.
    assert_eq!(with.value("ppid"), Some("1"), "{}", with.render());
    assert_eq!(with.value("pid"), Some("<pid>"), "{}", with.render());
    assert_eq!(with.value("zombies"), Some("0"), "{}", with.render());
    insta::assert_snapshot!(
        "init_reaps_zombies",
        format!("{}{}", without.render(), with.render())
    );
}

/// SIGINT, SIGHUP and SIGTERM sent to `ch02-namespaces` reach the command
/// (a shell with traps, so that even as pid 1 it takes them); the exit
/// code is the command's.
#[test]
fn signals_are_forwarded() {
    if !require_root() {
        return;
    }
    let _host = shared();
    let script = "trap 'echo got INT' INT; trap 'echo got HUP' HUP; \
                  trap 'echo got TERM; exit 7' TERM; \
                  echo ready; while :; do sleep 0.05; done";
    let mut child = spawn(&[], &fixture::rootfs(), &["sh", "-c", script]);
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    read_until(&mut stdout, "ready");
    let parent = Pid::from_raw(child.id() as i32);
    for (signal, line) in [
        (Signal::SIGINT, "got INT"),
        (Signal::SIGHUP, "got HUP"),
        (Signal::SIGTERM, "got TERM"),
    ] {
        kill(parent, signal).unwrap();
        assert_eq!(read_until(&mut stdout, line), [line], "{signal}");
    }
    assert_eq!(wait_code(&mut child), 7);
}

/// `sleep` as pid 1 has no SIGTERM handler, so the kernel drops SIGTERM;
/// behind `--init` it is pid 2 and SIGTERM ends it (143).
#[test]
fn pid_1_ignores_sigterm_unless_init() {
    if !require_root() {
        return;
    }
    let _host = shared();
    let mut transcript = String::new();
    for (options, expected) in [(&[][..], 137), (&["--init"][..], 143)] {
        let mut child = spawn(options, &fixture::rootfs(), &["sleep", "30"]);
        let parent = child.id();
        // Wait until the command runs (the container's pid 1 has exec'd, or
        // with --init, has a child).
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let ready = std::fs::read_to_string(format!("/proc/{parent}/task/{parent}/children"))
                .ok()
                .and_then(|c| c.split_whitespace().next().map(String::from))
                .is_some_and(|pid| {
                    let comm =
                        std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
                    let kids = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
                        .unwrap_or_default();
                    comm.trim() == "sleep" || !kids.trim().is_empty()
                });
            if ready {
                break;
            }
            assert!(Instant::now() < deadline, "container did not start");
            std::thread::sleep(Duration::from_millis(10));
        }
        kill(Pid::from_raw(parent as i32), Signal::SIGTERM).unwrap();
        // Without an init, give SIGTERM a moment to (not) work; with one,
        // it works, however busy the machine.
        let patience = Duration::from_millis(if options.is_empty() { 300 } else { 10_000 });
        let deadline = Instant::now() + patience;
        while child.try_wait().unwrap().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        let still_running = child.try_wait().unwrap().is_none();
        if still_running {
            // Only SIGKILL from outside the namespace ends a pid 1 that
            // ignores everything: sent to the process we started, by pid.
            kill(container_pid(parent), Signal::SIGKILL).unwrap();
        }
        let code = wait_code(&mut child);
        assert_eq!(code, expected, "options {options:?}");
        transcript.push_str(&format!(
            "$ ch02-namespaces run {}<fixture> sleep 30   # then SIGTERM\n{}--- exit: {code}\n",
            options.iter().map(|o| format!("{o} ")).collect::<String>(),
            if still_running {
                "(still running after 300 ms: SIGKILL)\n"
            } else {
                ""
            }
        ));
    }
    insta::assert_snapshot!("pid_1_ignores_sigterm_unless_init", transcript);
}

/// Exit codes, and the pid 1 twist: a shell that signals itself as pid 1
/// is not killed.
#[test]
fn exit_codes_are_forwarded() {
    if !require_root() {
        return;
    }
    let _host = shared();
    let cases: &[(&[&str], &[&str], i32)] = &[
        (&[], &["true"], 0),
        (&[], &["sh", "-c", "exit 3"], 3),
        (&[], &["sh", "-c", "kill -TERM $$; echo still here"], 0),
        (&["--init"], &["sh", "-c", "kill -TERM $$"], 143),
    ];
    let mut transcript = String::new();
    for (options, command, code) in cases {
        let out = run_in_fixture(options, command);
        out.expect_code(*code);
        transcript.push_str(&out.render());
    }
    insta::assert_snapshot!("exit_codes_are_forwarded", transcript);
}

/// Every failure names its step; a failed parent step leaves no child.
#[test]
fn failures_are_explained() {
    if !require_root() {
        return;
    }
    let _host = shared();
    let mut transcript = String::new();
    let mut record = |out: Outcome, code: i32| {
        out.expect_code(code);
        transcript.push_str(&out.render());
    };
    record(run_in_fixture(&[], &["no-such-command"]), 127);
    record(run_in_fixture(&["--init"], &["no-such-command"]), 127);
    record(run_in_fixture(&["--share", "mnt"], &["true"]), 125);
    record(run_in_fixture(&["--share", "nope"], &["true"]), 125);
    record(run_in_fixture(&["--uid-map", "0:100000"], &["true"]), 125);
    // Overlapping ranges: the kernel refuses the map (a parent step).
    record(
        run_in_fixture(
            &["--uid-map", "0:100000:10", "--uid-map", "5:200000:10"],
            &["true"],
        ),
        125,
    );
    record(run_in_fixture(&["--workdir", "/nowhere"], &["true"]), 125);
    // A child step: the rootfs has a file where /dev should be.
    let copy = fixture_copy();
    let rootfs = copy.path().join("rootfs");
    std::fs::remove_dir_all(rootfs.join("dev")).unwrap();
    std::fs::write(rootfs.join("dev"), "not a directory\n").unwrap();
    record(
        Scenario::new(BIN)
            .replace(rootfs.display().to_string(), "<rootfs>")
            .arg("run")
            .arg(&rootfs)
            .arg("true")
            .run(),
        125,
    );
    // A rootfs the user namespace's root (host uid 100000) cannot reach.
    std::fs::set_permissions(copy.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    record(
        Scenario::new(BIN)
            .replace(rootfs.display().to_string(), "<rootfs>")
            .args(["run", "--userns"])
            .arg(&rootfs)
            .arg("true")
            .run(),
        125,
    );
    insta::assert_snapshot!("failures_are_explained", transcript);
}

#[test]
fn dev_has_the_default_devices() {
    if !require_root() {
        return;
    }
    let _host = shared();
    let list = "cd /dev && for f in *; do stat -c '%n %F %t:%T %a' $f; done";
    let mut transcript = String::new();
    for options in [&[][..], &["--userns"][..]] {
        let out = run_in_fixture(options, &["sh", "-c", list]);
        out.expect_code(0);
        assert!(
            out.stdout.contains("null character special file 1:3 666"),
            "{}",
            out.render()
        );
        assert!(
            out.stdout.contains("ptmx symbolic link"),
            "{}",
            out.render()
        );
        transcript.push_str(&out.render());
    }
    let mounts = run_in_fixture(&[], &["/probe", "mounts"]);
    mounts.expect_code(0);
    // The root's type depends on the host's disk; the rest does not.
    let mut mounts_shown = mounts.clone();
    mounts_shown.stdout = mounts
        .stdout
        .lines()
        .filter(|l| !l.starts_with("mount: / "))
        .map(|l| format!("{l}\n"))
        .collect();
    transcript.push_str(&mounts_shown.render());
    insta::assert_snapshot!("dev_has_the_default_devices", transcript);
}

#[test]
fn the_start_sequence_is_listed() {
    let out = Scenario::new(BIN).arg("steps").run();
    out.expect_code(0);
    insta::assert_snapshot!("the_start_sequence_is_listed", out.render());
}

/// The host's mounts a container run could leak, as `mountpoint fstype`:
/// anything under the target dir (where the fixture lives), and any
/// `proc`, `sysfs`, `devpts` or `mqueue` (what a container mounts). Other
/// mounts are left out: other test suites may share this host.
fn host_mounts() -> Vec<String> {
    let target = lab::paths::target_dir().display().to_string();
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let mut mounts: Vec<String> = info
        .lines()
        .filter_map(|l| {
            let mountpoint = l.split_whitespace().nth(4)?;
            let fstype = l.split_once(" - ")?.1.split_whitespace().next()?;
            let ours = mountpoint.starts_with(&target)
                || ["proc", "sysfs", "devpts", "mqueue"].contains(&fstype);
            ours.then(|| format!("{mountpoint} {fstype}"))
        })
        .collect();
    mounts.sort();
    mounts
}

/// Processes running the chapter binary.
fn chapter_processes() -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(exe) = std::fs::read_link(entry.path().join("exe"))
            && exe == Path::new(BIN)
        {
            found.push(entry.path());
        }
    }
    found
}

/// 100 runs leave no mount, and no process, behind.
#[test]
fn a_hundred_runs_leave_nothing_behind() {
    if !require_root() {
        return;
    }
    let _alone = HOST.write().unwrap_or_else(|e| e.into_inner());
    let before = host_mounts();
    for _ in 0..100 {
        let out = run_in_fixture(&[], &["true"]);
        out.expect_code(0);
    }
    let mut with_init = spawn(
        &["--init"],
        &fixture::rootfs(),
        &["sh", "-c", "sleep 30 & sleep 30"],
    );
    std::thread::sleep(Duration::from_millis(200));
    // Killing the chapter binary takes its container with it (pdeathsig).
    with_init.kill().unwrap();
    with_init.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !chapter_processes().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(chapter_processes(), Vec::<PathBuf>::new(), "processes left");
    assert_eq!(host_mounts(), before, "mounts changed on the host");
}

/// `BIN run OPTIONS <fixture> COMMAND` with the caller's descriptor `fd`
/// open (no close-on-exec) as descriptor `at`, as a shell's `7<dir` does.
fn run_holding(
    fd: &impl std::os::fd::AsRawFd,
    at: i32,
    options: &[&str],
    command: &[&str],
) -> std::process::Output {
    use std::os::unix::process::CommandExt;
    let raw = fd.as_raw_fd();
    let mut cmd = Command::new(BIN);
    cmd.arg("run")
        .args(options)
        .arg(fixture::rootfs())
        .args(command);
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            let ok = if raw == at {
                libc::fcntl(at, libc::F_SETFD, 0)
            } else {
                libc::dup2(raw, at)
            };
            if ok < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd.output().unwrap()
}

/// Issue 12, item 9: a caller holding fd 7 on a host directory; the
/// container (its command, and with --init its pid 1) cannot reach it
/// through /proc/self/fd/7 or /proc/1/fd/7. `--preserve-fds 1` passes
/// fd 3 on purpose.
#[test]
fn inherited_descriptors_stay_outside() {
    if !require_root() {
        return;
    }
    let _shared = shared();
    let host = tempfile::tempdir().unwrap();
    std::fs::write(host.path().join("secret"), "host secret\n").unwrap();
    let dir = std::fs::File::open(host.path()).unwrap();
    let probe = "ls /proc/self/fd/7/ /proc/1/fd/7/; cat /proc/self/fd/7/secret /proc/1/fd/7/secret";
    for options in [&[][..], &["--init"]] {
        let out = run_holding(&dir, 7, options, &["sh", "-c", probe]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            !stdout.contains("secret"),
            "with {options:?} the container reached the caller's fd 7: {stdout}"
        );
        assert_ne!(out.status.code(), Some(0), "{stdout}");
    }
    let out = run_holding(
        &dir,
        3,
        &["--preserve-fds", "1"],
        &["cat", "/proc/self/fd/3/secret"],
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "host secret\n");
}

/// Issue 12, item 7: a root whose /proc, /sys and /dev are symbolic links
/// to host paths. The mounts (and the directories they need) land inside
/// the root, where the container resolves the same links; the host paths
/// are never created.
#[test]
fn mount_targets_resolve_inside_the_root() {
    if !require_root() {
        return;
    }
    let _shared = shared();
    let copy = fixture_copy();
    let rootfs = copy.path().join("rootfs");
    let host = tempfile::tempdir().unwrap();
    for name in ["proc", "sys", "dev"] {
        let target = host.path().join("missing").join(name);
        let at = rootfs.join(name);
        let _ = std::fs::remove_dir(&at);
        std::os::unix::fs::symlink(&target, &at).unwrap();
    }
    let out = Scenario::new(BIN)
        .args(["run"])
        .arg(&rootfs)
        .args(["sh", "-c", "cat /proc/1/comm; ls /dev/null"])
        .run();
    assert!(
        !host.path().join("missing").exists(),
        "the run created directories on the host: {}",
        out.render()
    );
    out.expect_code(0);
    assert_eq!(out.stdout, "sh\n/dev/null\n");
}

/// Issue 12, item 8: the container's first process has a session and a
/// process group of its own: `kill(0, SIGTERM)` inside reaches neither
/// the engine's caller nor anything else of the caller's process group.
#[test]
fn kill_0_stays_in_the_container() {
    if !require_root() {
        return;
    }
    let _shared = shared();
    use std::os::unix::process::CommandExt;
    let script = format!(
        "sleep 30 & canary=$!; \
         {BIN} run {} sh -c 'echo session $(cut -d\" \" -f6 /proc/self/stat); kill -TERM 0; sleep 0.2'; \
         echo engine exited $?; \
         if kill -0 $canary 2>/dev/null; then echo canary alive; kill $canary; fi",
        fixture::rootfs().display()
    );
    // A process group of its own, so the test itself is never a target.
    let out = Command::new("sh")
        .arg("-c")
        .arg(script)
        .process_group(0)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        stdout,
        "session 1\nengine exited 0\ncanary alive\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A pseudo-terminal pair for a test's "user": (master, slave).
fn test_terminal() -> (std::fs::File, std::fs::File) {
    use std::os::fd::{FromRawFd, IntoRawFd};
    let master =
        nix::pty::posix_openpt(nix::fcntl::OFlag::O_RDWR | nix::fcntl::OFlag::O_NOCTTY).unwrap();
    nix::pty::grantpt(&master).unwrap();
    nix::pty::unlockpt(&master).unwrap();
    let name = nix::pty::ptsname_r(&master).unwrap();
    let slave = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&name)
        .unwrap();
    // SAFETY: the descriptor was just taken from its owner.
    let master = unsafe { std::fs::File::from_raw_fd(master.into_raw_fd()) };
    (master, slave)
}

/// Runs `BIN run OPTIONS <fixture> COMMAND` as a user at a terminal would:
/// stdin, stdout and stderr the terminal, which is the controlling
/// terminal of the caller's own session. Returns what the terminal showed,
/// and the terminal's device as `stat -c %t:%T` shows it.
fn run_at_terminal(options: &[&str], command: &[&str]) -> (String, String) {
    let mut args = vec!["run".into()];
    args.extend(options.iter().map(|o| o.to_string()));
    args.push(fixture::rootfs().display().to_string());
    args.extend(command.iter().map(|c| c.to_string()));
    at_terminal(&args)
}

/// `BIN ARGS...` run as a user at a terminal would (see [`run_at_terminal`]).
fn at_terminal(args: &[String]) -> (String, String) {
    use std::io::Read;
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;
    let (mut master, slave) = test_terminal();
    let tty = slave.as_raw_fd();
    let rdev = slave.metadata().unwrap().rdev();
    let device = format!("{:x}:{:x}", libc::major(rdev), libc::minor(rdev));
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .stdin(slave.try_clone().unwrap())
        .stdout(slave.try_clone().unwrap())
        .stderr(slave.try_clone().unwrap());
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setsid() < 0 || libc::ioctl(tty, libc::TIOCSCTTY, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().unwrap();
    drop(cmd);
    drop(slave);
    // Read until the last slave is closed (EIO), while the engine runs.
    let reader = std::thread::spawn(move || {
        let mut shown = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = master.read(&mut buf) {
            if n == 0 {
                break;
            }
            shown.extend_from_slice(&buf[..n]);
        }
        shown
    });
    assert_eq!(wait_code(&mut child), 0, "the engine failed");
    let shown = String::from_utf8_lossy(&reader.join().unwrap()).replace('\r', "");
    (shown, device)
}

/// Issue 12, item 8: a container run from a terminal never holds that
/// terminal (so no TIOCSTI into it): without -t its stdio are pipes the
/// engine relays; with -t it has a pseudo-terminal of its own, as its
/// controlling terminal, in a session of its own.
#[test]
fn the_callers_terminal_stays_outside() {
    if !require_root() {
        return;
    }
    let _shared = shared();
    // Each stdio's type and device (major:minor in hex), then the session
    // and the terminal's foreground process group (-1: no terminal).
    let show = "for fd in 0 1 2; do stat -L -c '%F %t:%T' /proc/self/fd/$fd; done; \
                cut -d' ' -f6,8 /proc/self/stat";
    let (plain, _) = run_at_terminal(&[], &["sh", "-c", show]);
    assert_eq!(
        plain, "fifo 0:0\nfifo 0:0\nfifo 0:0\n1 -1\n",
        "without -t the container's stdio are pipes, no controlling terminal"
    );
    let (tty, callers) = run_at_terminal(&["-t"], &["sh", "-c", show]);
    let lines: Vec<&str> = tty.lines().collect();
    assert_eq!(lines.len(), 4, "{tty}");
    let own = lines[0];
    assert!(own.starts_with("character special file 88:"), "{tty}");
    assert_ne!(
        own,
        format!("character special file {callers}"),
        "the caller's terminal"
    );
    assert!(lines[..3].iter().all(|l| *l == own), "{tty}");
    // Session 1 (its own), and a foreground process group: a terminal of its own.
    assert!(lines[3].starts_with("1 ") && lines[3] != "1 -1", "{tty}");
}

/// Issue 12, item 11: only RFC 1123 hostnames; a newline (which would add
/// a line to any file the name is written into) is refused, exit 125.
#[test]
fn hostnames_are_rfc_1123() {
    if !require_root() {
        return;
    }
    let _shared = shared();
    for bad in ["x\n6.6.6.6 evil", "a b", "box-", "a..b"] {
        let out = run_in_fixture(&["--hostname", bad], &["hostname"]);
        out.expect_code(125);
        assert!(out.stdout.is_empty(), "{}", out.render());
        assert!(out.stderr.contains("invalid hostname"), "{}", out.render());
    }
    let out = run_in_fixture(&["--hostname", "web-1.example"], &["hostname"]);
    out.expect_code(0);
    assert_eq!(out.stdout, "web-1.example\n");
}

/// The create/start split: with `--exec-fifo` the container runs every step
/// and waits before exec; its command runs only when another process starts
/// it (`ch02-namespaces start FIFO`), and the fifo is gone afterwards. A
/// start with nobody waiting fails in one line.
#[test]
fn a_created_container_runs_only_when_started() {
    use std::io::Read;
    use std::os::fd::AsRawFd;
    if !require_root() {
        return;
    }
    let _host = shared();
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("exec.fifo");
    let mut created = Command::new(BIN)
        .arg("run")
        .arg("--exec-fifo")
        .arg(&fifo)
        .arg(fixture::rootfs())
        .args(["sh", "-c", "echo started"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Created: the fifo exists, the engine waits, the command has not run.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !fifo.exists() {
        assert!(Instant::now() < deadline, "no exec fifo appeared");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        created.try_wait().unwrap().is_none(),
        "the engine did not wait"
    );
    let mut stdout = created.stdout.take().unwrap();
    // SAFETY: a descriptor this test owns; non-blocking for one peek.
    unsafe {
        let fd = stdout.as_raw_fd();
        libc::fcntl(
            fd,
            libc::F_SETFL,
            libc::fcntl(fd, libc::F_GETFL) | libc::O_NONBLOCK,
        );
    }
    let mut early = [0u8; 64];
    let peek = stdout.read(&mut early);
    assert!(
        matches!(&peek, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "the command ran before start: {peek:?}"
    );
    // Started, from another process.
    let start = Command::new(BIN).arg("start").arg(&fifo).output().unwrap();
    assert!(
        start.status.success(),
        "{}",
        String::from_utf8_lossy(&start.stderr)
    );
    // SAFETY: as above, blocking again to read to the end.
    unsafe {
        let fd = stdout.as_raw_fd();
        libc::fcntl(
            fd,
            libc::F_SETFL,
            libc::fcntl(fd, libc::F_GETFL) & !libc::O_NONBLOCK,
        );
    }
    let mut out = String::new();
    stdout.read_to_string(&mut out).unwrap();
    let status = created.wait().unwrap();
    assert!(status.success(), "{status}");
    assert_eq!(out.lines().next(), Some("started"), "{out}");
    assert!(!fifo.exists(), "start removes the fifo");
    // Nobody waits there any more: one line, exit 125.
    let again = Command::new(BIN).arg("start").arg(&fifo).output().unwrap();
    assert_eq!(again.status.code(), Some(125));
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(stderr.contains("no container waits at"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

/// A container running `sleep 600` in the background, with OPTIONS: the
/// chapter binary and the container's first process as the host numbers it.
// The child is returned to the caller, which reaps it (`stop`).
#[allow(clippy::zombie_processes)]
fn running(options: &[&str]) -> (Child, Pid) {
    let mut child = Command::new(BIN)
        .arg("run")
        .args(options)
        .arg(fixture::rootfs())
        .args(["sleep", "600"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let parent = child.id();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let pid = std::fs::read_to_string(format!("/proc/{parent}/task/{parent}/children"))
            .ok()
            .and_then(|c| c.split_whitespace().next()?.parse::<i32>().ok());
        if let Some(pid) = pid
            && std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| c.trim() == "sleep")
        {
            return (child, Pid::from_raw(pid));
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the container did not start");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Ends a container started by [`running`]: SIGKILL to its first process
/// (by pid), then the chapter binary reports 137 and is reaped.
fn stop(mut child: Child, pid: Pid) {
    kill(pid, Signal::SIGKILL).unwrap();
    assert_eq!(wait_code(&mut child), 137);
}

fn exec_in(pid: Pid, options: &[&str], command: &[&str]) -> Outcome {
    Scenario::new(BIN)
        .arg("exec")
        .args(options)
        .arg(pid.to_string())
        .args(command)
        .replace(format!(" {pid} "), " <pid> ")
        .replace(format!("process {pid} "), "process <pid> ")
        .run()
}

/// The namespace links of `pid` as the host reads them, `type:[inode]`.
fn namespace_links(pid: &str) -> Vec<String> {
    ["cgroup", "ipc", "mnt", "net", "pid", "time", "uts", "user"]
        .iter()
        .map(|ns| {
            let link = std::fs::read_link(format!("/proc/{pid}/ns/{ns}")).unwrap();
            link.display().to_string()
        })
        .collect()
}

/// Issue 14, item 8: `exec PID COMMAND` runs COMMAND inside the running
/// container of PID: its hostname, its pid namespace (pid 1 is the
/// container's sleep, and the process's parent is outside: ppid 0), every
/// one of its namespaces; exit codes forwarded, failures explained, and
/// nothing left behind in the container.
#[test]
fn exec_enters_a_running_container() {
    if !require_root() {
        return;
    }
    let _host = shared();
    let (container, pid) = running(&["--hostname", "box"]);
    let mut transcript = String::new();
    let mut record = |out: Outcome, code: i32| {
        out.expect_code(code);
        transcript.push_str(&out.render());
        out
    };
    let out = record(
        exec_in(
            pid,
            &[],
            &["sh", "-c", "hostname; cat /proc/1/comm; echo ppid $PPID"],
        ),
        0,
    );
    assert_eq!(out.stdout, "box\nsleep\nppid 0\n", "{}", out.render());
    // Every namespace of the exec'd process is the container's: a process
    // inside reports its own links, compared with the host's view of pid 1's.
    let out = exec_in(
        pid,
        &[],
        &[
            "sh",
            "-c",
            "for ns in cgroup ipc mnt net pid time uts user; do readlink /proc/$$/ns/$ns; done",
        ],
    );
    out.expect_code(0);
    let inside: Vec<String> = out.stdout.lines().map(String::from).collect();
    assert_eq!(
        inside,
        namespace_links(&pid.to_string()),
        "{}",
        out.render()
    );
    assert_ne!(
        namespace_links(&pid.to_string())[4],
        namespace_links("self")[4],
        "the container has a pid namespace of its own"
    );
    record(exec_in(pid, &[], &["sh", "-c", "exit 3"]), 3);
    let out = record(
        exec_in(
            pid,
            &["-e", "GREETING=hello", "-w", "/etc"],
            &["sh", "-c", "echo $GREETING from $(pwd)"],
        ),
        0,
    );
    assert_eq!(out.stdout, "hello from /etc\n");
    let out = record(exec_in(pid, &[], &["no-such-command"]), 127);
    assert!(
        out.stderr.contains("no-such-command: command not found"),
        "{}",
        out.render()
    );
    record(exec_in(pid, &["-w", "/no/such/dir"], &["true"]), 125);
    // The failed ones left no process behind: only the sleep and this ps.
    let out = exec_in(pid, &[], &["ps", "-o", "pid,comm"]);
    out.expect_code(0);
    let commands: Vec<&str> = out
        .stdout
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().nth(1))
        .collect();
    assert_eq!(commands, ["sleep", "ps"], "{}", out.render());
    stop(container, pid);
    // The container is gone: a clear error, exit 125.
    let out = record(exec_in(pid, &[], &["true"]), 125);
    assert!(
        out.stderr.contains("has the container exited?"),
        "{}",
        out.render()
    );
    insta::assert_snapshot!("exec_enters_a_running_container", transcript);
}

/// With a user namespace, the process joins it first and becomes the
/// container's root (host uid 100000), as the container's own processes are.
#[test]
fn exec_joins_the_user_namespace_first() {
    if !require_root() {
        return;
    }
    let _host = shared();
    let (container, pid) = running(&["--userns"]);
    let out = exec_in(
        pid,
        &[],
        &[
            "sh",
            "-c",
            "id -u; cat /proc/self/uid_map; grep ^Uid /proc/self/status",
        ],
    );
    stop(container, pid);
    out.expect_code(0);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines[0], "0", "{}", out.render());
    assert_eq!(
        lines[1].split_whitespace().collect::<Vec<_>>(),
        ["0", "100000", "65536"]
    );
    // Inside, /proc/self/status shows ids as the namespace maps them.
    assert_eq!(lines[2].split_whitespace().nth(1), Some("0"));
}

/// `exec -t`: a terminal of its own (not the caller's), from the
/// container's devpts, as stdin and controlling terminal, in a session of
/// its own.
#[test]
fn exec_with_a_terminal() {
    if !require_root() {
        return;
    }
    let _host = shared();
    let (container, pid) = running(&[]);
    let script = "tty; stat -L -c %d /proc/self/fd/0; \
                  echo $$ $(cut -d' ' -f6 /proc/$$/stat)";
    let args: Vec<String> = ["exec", "-t", &pid.to_string(), "sh", "-c", script]
        .iter()
        .map(|a| a.to_string())
        .collect();
    let (shown, _) = at_terminal(&args);
    stop(container, pid);
    let lines: Vec<&str> = shown.lines().collect();
    // A terminal of the container's own devpts, so it has a name inside.
    assert_eq!(lines.first(), Some(&"/dev/pts/0"), "{shown}");
    // Not the caller's terminal, nor any of the host's devpts.
    let host_devpts = std::fs::metadata("/dev/pts/ptmx")
        .unwrap()
        .dev()
        .to_string();
    assert_ne!(lines.get(1), Some(&host_devpts.as_str()), "{shown}");
    // Its session id is its own pid: setsid, as a container's first process.
    let ids: Vec<&str> = lines.get(2).unwrap_or(&"").split_whitespace().collect();
    assert_eq!(ids.len(), 2, "{shown}");
    assert_eq!(ids[0], ids[1], "{shown}");
}
