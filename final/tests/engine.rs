//! The engine's commands through the `berth` binary: attached runs and
//! exit codes, exec, restart policies, a killed monitor, published ports,
//! bad input; each test leaves nothing behind (its `Setup` removes what is
//! left, and the tests check mounts and records themselves).

mod common;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use common::Setup;

fn run_attached(s: &Setup, options: &[&str], command: &[&str]) -> lab::scenario::Outcome {
    let mut args = vec!["run", "--pull", "never", "--network", "none"];
    args.extend(options);
    args.push(&s.image);
    args.extend(command);
    s.berth(&args)
}

#[test]
fn attached_run_forwards_output_and_exit_code() {
    let s = Setup::new();
    let out = run_attached(
        &s,
        &["--rm"],
        &["sh", "-c", "echo out; echo err >&2; exit 3"],
    );
    out.expect_code(3);
    assert_eq!(out.stdout, "out\n");
    assert_eq!(out.stderr, "err\n");
    // --rm: gone by the time run returns.
    assert_eq!(s.containers(), 0);
    // Docker's codes: 127 command not found, 126 cannot invoke.
    let missing = run_attached(&s, &["--rm"], &["/no/such/command"]);
    missing.expect_code(127);
    let not_exec = run_attached(&s, &["--rm"], &["/etc/passwd"]);
    not_exec.expect_code(126);
    assert_eq!(
        s.containers(),
        0,
        "a container that could not start is not kept"
    );
    // stdin with -i.
    let cat = s
        .scenario(&[
            "run",
            "--rm",
            "-i",
            "--pull",
            "never",
            "--network",
            "none",
            &s.image,
            "cat",
        ])
        .stdin("piped in\n")
        .run();
    cat.expect_code(0);
    assert_eq!(cat.stdout, "piped in\n");
    assert!(s.mounts().is_empty());
}

#[test]
fn exec_enters_the_running_container() {
    let s = Setup::new();
    s.run_detached(
        &[
            "--name",
            "box",
            "--network",
            "none",
            "--hostname",
            "boxhost",
        ],
        &["sleep", "1000"],
    );
    s.wait_status("box", "running");
    let out = s.berth(&[
        "exec",
        "box",
        "sh",
        "-c",
        "hostname; cat /proc/1/cmdline | tr '\\0' ' '; echo",
    ]);
    out.expect_code(0);
    assert_eq!(out.stdout, "boxhost\nsleep 1000 \n");
    s.berth(&["exec", "box", "sh", "-c", "exit 7"])
        .expect_code(7);
    s.berth(&["exec", "box", "/no/such"]).expect_code(127);
    // The container's environment, and -e on top.
    let env = s.berth(&["exec", "-e", "A=1", "box", "sh", "-c", "echo $A $HOSTNAME"]);
    assert_eq!(env.stdout, "1 boxhost\n");
    // Same confinement as the container: no CAP_SYS_ADMIN, so no mount.
    let mount = s.berth(&["exec", "box", "mount", "-t", "tmpfs", "t", "/mnt"]);
    assert_ne!(mount.code, 0, "exec must not escape chapter 7: {mount:?}");
    // -d: the process runs on after exec has returned (chapter 2's
    // release: it no longer dies with its caller).
    s.berth(&["exec", "-d", "box", "sh", "-c", "sleep 1; touch /detached"])
        .expect_code(0);
    let since = Instant::now();
    while s.berth(&["exec", "box", "test", "-f", "/detached"]).code != 0 {
        assert!(
            since.elapsed() < Duration::from_secs(10),
            "the detached process did not finish"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Not running: refused, 125.
    s.berth(&["stop", "-t", "0", "box"]).expect_code(0);
    let stopped = s.berth(&["exec", "box", "true"]);
    stopped.expect_code(125);
    assert!(stopped.stderr.contains("not running"), "{stopped:?}");
}

#[test]
fn on_failure_restarts_exactly_as_asked() {
    let s = Setup::new();
    s.run_detached(
        &[
            "--name",
            "flaky",
            "--network",
            "none",
            "--restart",
            "on-failure:2",
        ],
        &["sh", "-c", "echo try; exit 1"],
    );
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let state = s.inspect("flaky", "{{.State.Status}} {{.RestartCount}}");
        if state == "exited 2" {
            break;
        }
        assert!(Instant::now() < deadline, "still {state}");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(s.inspect("flaky", "{{.State.ExitCode}}"), "1");
    let logs = s.berth(&["logs", "flaky"]);
    assert_eq!(
        logs.stdout, "try\ntry\ntry\n",
        "the first run and two restarts"
    );
    // A stopped container is not restarted by `always`.
    s.run_detached(
        &[
            "--name",
            "always",
            "--network",
            "none",
            "--restart",
            "always",
        ],
        &["sleep", "1000"],
    );
    s.wait_status("always", "running");
    s.berth(&["stop", "-t", "0", "always"]).expect_code(0);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(s.inspect("always", "{{.State.Status}}"), "exited");
}

#[test]
fn a_killed_monitor_is_reconciled() {
    let s = Setup::new();
    s.run_detached(
        &["--name", "orphan", "--network", "none"],
        &["sleep", "1000"],
    );
    s.wait_status("orphan", "running");
    let pid: i32 = s.inspect("orphan", "{{.State.Pid}}").parse().unwrap();
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let monitor: i32 = after.split(' ').nth(1).unwrap().parse().unwrap();
    // The monitor is the container's parent, and ours to kill: we started it.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(monitor),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::path::Path::new(&format!("/proc/{pid}")).exists() {
        assert!(
            Instant::now() < deadline,
            "the container outlived its monitor"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        s.inspect("orphan", "{{.State.Status}} {{.State.ExitCode}}"),
        "exited 137"
    );
    let error = s.inspect("orphan", "{{.State.Error}}");
    assert!(error.contains("monitor died"), "{error}");
    // The next command's sweep reclaimed the mount.
    s.berth(&["ps", "-a"]).expect_code(0);
    assert!(s.mounts().is_empty(), "{:?}", s.mounts());
    // And it starts again.
    s.berth(&["start", "orphan"]).expect_code(0);
    s.wait_status("orphan", "running");
    s.berth(&["rm", "-f", "orphan"]).expect_code(0);
    assert_eq!(s.containers(), 0);
}

#[test]
fn published_port_answers_and_nothing_is_left() {
    let s = Setup::new();
    let port = lab::registry::free_port().unwrap();
    let publish = format!("127.0.0.1:{port}:80");
    s.run_detached(
        &["--name", "web", "-p", &publish],
        &[
            "sh",
            "-c",
            "mkdir -p /srv && echo hello-from-web > /srv/index.html && exec httpd -f -p 80 -h /srv",
        ],
    );
    s.wait_status("web", "running");
    let deadline = Instant::now() + Duration::from_secs(10);
    let body = loop {
        let got = std::net::TcpStream::connect(("127.0.0.1", port)).and_then(|mut c| {
            c.set_read_timeout(Some(Duration::from_secs(2)))?;
            c.write_all(b"GET /index.html HTTP/1.0\r\n\r\n")?;
            let mut text = String::new();
            c.read_to_string(&mut text)?;
            Ok(text)
        });
        match got {
            Ok(text) if text.contains("hello-from-web") => break text,
            _ if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            other => panic!(
                "no answer on {port}: {other:?}\n{:?}\n{:?}",
                s.berth(&["logs", "web"]),
                s.berth(&["ps", "-a"])
            ),
        }
    };
    assert!(body.starts_with("HTTP/1.1 200 OK"), "{body}");
    let ip = s.inspect("web", "{{.NetworkSettings.IPAddress}}");
    let _ = ip;
    // httpd as pid 1 ignores SIGTERM: stop ends it with SIGKILL.
    s.berth(&["stop", "-t", "1", "web"]).expect_code(0);
    assert_eq!(s.inspect("web", "{{.State.ExitCode}}"), "137");
    s.berth(&["rm", "web"]).expect_code(0);
    assert!(s.mounts().is_empty());
    let links: Vec<String> = s
        .host_links()
        .into_iter()
        .filter(|l| l.starts_with("vb"))
        .collect();
    assert!(links.is_empty(), "veth pairs left: {links:?}");
}

#[test]
fn bad_input_is_refused_and_creates_nothing() {
    let s = Setup::new();
    let cases: &[(&[&str], &str)] = &[
        (
            &["run", "--pull", "never", "127.0.0.1:1/nope:latest", "true"],
            "No such image",
        ),
        (
            &["run", "--restart", "sometimes", "img", "true"],
            "restart policy",
        ),
        (
            &["run", "--no-such-flag", "img"],
            "unknown flag: --no-such-flag",
        ),
        (&["run", "-m", "lots", "img"], "lots"),
        (
            &["run", "--log-opt", "max-file=3", "img"],
            "max-file needs max-size",
        ),
        (&["rm", "nothing-here"], "No such container"),
        (&["logs", "nothing-here"], "No such container"),
    ];
    for (args, says) in cases {
        let out = s.berth(args);
        out.expect_code(125);
        assert!(out.stderr.contains(says), "{args:?}: {}", out.stderr);
        assert_eq!(
            out.stderr.trim().lines().count(),
            1,
            "one line: {}",
            out.stderr
        );
    }
    // A name in use.
    s.run_detached(
        &["--name", "taken", "--network", "none"],
        &["sleep", "1000"],
    );
    let again = s.berth(&[
        "run", "-d", "--pull", "never", "--name", "taken", &s.image, "true",
    ]);
    again.expect_code(125);
    assert!(again.stderr.contains("already in use"), "{}", again.stderr);
    // Removing a running container needs -f.
    let rm = s.berth(&["rm", "taken"]);
    rm.expect_code(125);
    assert!(rm.stderr.contains("rm -f"), "{}", rm.stderr);
    s.berth(&["rm", "-f", "taken"]).expect_code(0);
    assert_eq!(s.containers(), 0);
    assert!(s.mounts().is_empty());
}

#[test]
fn fifty_parallel_detached_runs() {
    let s = Setup::new();
    let handles: Vec<_> = (0..50)
        .map(|_| {
            // 50 at once is slow in the lab VM's emulation: time enough.
            let cmd = s
                .scenario(&["run", "-d", "--pull", "never", &s.image, "sleep", "1000"])
                .timeout(std::time::Duration::from_secs(600));
            std::thread::spawn(move || cmd.run())
        })
        .collect();
    for h in handles {
        h.join().unwrap().expect_code(0);
    }
    let names = s.berth(&["ps", "--format", "{{.Names}} {{.NetworkSettings}}"]);
    let _ = names;
    let ps = s.berth(&["ps", "-q"]);
    assert_eq!(ps.stdout.lines().count(), 50);
    let ids: Vec<String> = s
        .berth(&["ps", "-q", "--no-trunc"])
        .stdout
        .lines()
        .map(String::from)
        .collect();
    let mut ips = std::collections::BTreeSet::new();
    let mut names = std::collections::BTreeSet::new();
    for id in &ids {
        let _ = id;
    }
    let all = s.berth(&["ps", "--format", "{{.Names}}"]);
    for n in all.stdout.lines() {
        names.insert(n.to_string());
        ips.insert(s.inspect(n, "{{.NetworkSettings.IPAddress}}"));
    }
    assert_eq!(names.len(), 50, "distinct names");
    assert_eq!(ips.len(), 50, "distinct addresses: {ips:?}");
    assert!(!ips.contains(""), "every container has an address");
    let mut rm = vec!["rm", "-f"];
    let all_names: Vec<String> = names.iter().cloned().collect();
    rm.extend(all_names.iter().map(String::as_str));
    s.berth(&rm).expect_code(0);
    assert_eq!(s.containers(), 0);
    assert!(s.mounts().is_empty());
    let links: Vec<String> = s
        .host_links()
        .into_iter()
        .filter(|l| l.starts_with("vb"))
        .collect();
    assert!(links.is_empty(), "veth pairs left: {links:?}");
}

/// The parent of the container's first process: its monitor.
fn monitor_of(s: &Setup, container: &str) -> u32 {
    let pid: u32 = s.inspect(container, "{{.State.Pid}}").parse().unwrap();
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    after.split(' ').nth(1).unwrap().parse().unwrap()
}

#[test]
fn monitors_run_from_one_shared_sealed_copy() {
    use std::os::unix::fs::MetadataExt;
    let s = Setup::new();
    s.run_detached(&["--name", "one", "--network", "none"], &["sleep", "1000"]);
    s.run_detached(&["--name", "two", "--network", "none"], &["sleep", "1000"]);
    s.wait_status("one", "running");
    s.wait_status("two", "running");
    let (a, b) = (monitor_of(&s, "one"), monitor_of(&s, "two"));
    assert_ne!(a, b);
    let exe = |pid: u32| std::fs::read_link(format!("/proc/{pid}/exe")).unwrap();
    assert!(
        exe(a)
            .to_string_lossy()
            .starts_with("/memfd:berth-runtime:"),
        "sealed: {:?}",
        exe(a)
    );
    let inode = |pid: u32| std::fs::metadata(format!("/proc/{pid}/exe")).unwrap().ino();
    assert_eq!(inode(a), inode(b), "one copy, not one per monitor");
    // Sealed: even root cannot open it for writing.
    let write = std::fs::OpenOptions::new()
        .write(true)
        .open(format!("/proc/{a}/exe"));
    assert!(write.is_err(), "the copy is writable");
}

/// The engine runs chapter 7's defaults: Docker's 14 capabilities, the
/// seccomp filter, the masked and read-only paths; `--privileged` lifts
/// them (so the probe can tell).
#[test]
fn run_has_the_least_privilege_defaults() {
    let s = Setup::new();
    let probe = run_attached(&s, &[], &["/probe", "security"]);
    probe.expect_code(0);
    let effective = probe.value("security.cap.effective").unwrap_or("");
    assert!(effective.starts_with("14 chown "), "{}", probe.render());
    assert_eq!(probe.value("security.seccomp.mode"), Some("2"));
    assert_eq!(probe.value("security.clone3"), Some("ENOSYS"));
    for line in [
        "security.path: /proc/keys masked",
        "security.path: /proc/sys read-only",
    ] {
        assert!(probe.stdout.contains(line), "{line}: {}", probe.render());
    }
    let all = run_attached(&s, &["--privileged"], &["/probe", "security"]);
    all.expect_code(0);
    assert_eq!(all.value("security.seccomp.mode"), Some("0"));
    let effective = all.value("security.cap.effective").unwrap_or("");
    assert!(!effective.starts_with("14 "), "{}", all.render());
}

/// `--userns=private`: the container's root is berth's range of
/// /etc/subuid on the host (what `ps` shows there), it owns the image's
/// files, keeps its map over a restart, and `inspect` says so.
#[test]
fn run_userns_private_is_an_unprivileged_range_on_the_host() {
    let s = Setup::new();
    let subuid = std::fs::read_to_string("/etc/subuid").unwrap_or_default();
    let start: u32 = subuid
        .lines()
        .find_map(|l| l.strip_prefix("berth:")?.split(':').next()?.parse().ok())
        .expect("/etc/subuid has no range for berth: run `cargo lab setup`");
    // (By name: the scenario hides ids in what it prints.)
    let id = "mapped";
    s.run_detached(
        &["--userns=private", "--name", id],
        &[
            "sh",
            "-c",
            "touch /mine; stat -c %u /bin/busybox /mine; exec sleep 300",
        ],
    );
    s.wait_status(id, "running");
    let host_uid = || {
        let pid = s.inspect(id, "{{.State.Pid}}");
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|v| v.split_whitespace().next()?.parse::<u32>().ok())
            .unwrap()
    };
    assert_eq!(host_uid(), start);
    assert_eq!(s.inspect(id, "{{.HostConfig.UsernsMode}}"), "private");
    s.berth(&["restart", "-t", "1", id]).expect_code(0);
    s.wait_status(id, "running");
    assert_eq!(host_uid(), start, "the map changed over a restart");
    // `cp` into it: the file is its root's, as in any container.
    let file = tempfile::NamedTempFile::new().unwrap();
    let copied = format!("{id}:/copied");
    s.berth(&["cp", &file.path().display().to_string(), &copied])
        .expect_code(0);
    let owner = s.berth(&["exec", id, "stat", "-c", "%u:%g", "/copied"]);
    assert_eq!(owner.stdout, "0:0\n", "{}", owner.render());
    // `export`: the container's owners, not the host ids they have on disk.
    let tarball = tempfile::NamedTempFile::new().unwrap();
    let out = tarball.path().display().to_string();
    s.berth(&["export", "-o", &out, id]).expect_code(0);
    let mut archive = tar::Archive::new(std::fs::File::open(tarball.path()).unwrap());
    let owners: Vec<(String, u64)> = archive
        .entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.path().unwrap().display().to_string(),
                e.header().uid().unwrap(),
            )
        })
        .filter(|(p, _)| ["bin/busybox", "mine", "copied"].contains(&p.as_str()))
        .collect();
    assert_eq!(owners.len(), 3, "{owners:?}");
    assert!(owners.iter().all(|(_, uid)| *uid == 0), "{owners:?}");
    let logs = s.berth(&["logs", id]);
    assert_eq!(logs.stdout, "0\n0\n0\n0\n", "{}", logs.render());
    s.berth(&["rm", "-f", id]).expect_code(0);

    // A new volume: filled from the image (copy-up) and written by the
    // container's root, then read by a container without a user namespace.
    let script = "stat -c %u /etc /etc/passwd; echo kept > /etc/mine; stat -c %u /etc/mine";
    let run = s.berth(&[
        "run",
        "--rm",
        "--pull",
        "never",
        "--userns=private",
        "-v",
        "conf:/etc",
        &s.image,
        "sh",
        "-c",
        script,
    ]);
    run.expect_code(0);
    assert_eq!(run.stdout, "0\n0\n0\n", "{}", run.render());
    let read = s.berth(&[
        "run", "--rm", "--pull", "never", "-v", "conf:/c", &s.image, "cat", "/c/mine",
    ]);
    assert_eq!(read.stdout, "kept\n", "{}", read.render());
    s.berth(&["volume", "rm", "conf"]).expect_code(0);
    assert!(s.mounts().is_empty(), "{:?}", s.mounts());
}
