//! Issue 14's remaining commands through the `berth` binary: top, stats,
//! diff, export, cp (both ways, running and stopped), update, version,
//! info, system df/prune/unit, and `-h` as `--hostname`. Each test's
//! `Setup` removes what is left; the tests check mounts themselves.

mod common;

use std::path::Path;

use common::Setup;

/// A container `name` running `sleep 1000`, without network: its id.
fn sleeper(s: &Setup, name: &str, options: &[&str]) -> String {
    let mut all = vec!["--name", name, "--network", "none"];
    all.extend(options);
    s.run_detached(&all, &["sleep", "1000"]);
    s.wait_status(name, "running");
    real(s, &["inspect", "--format", "{{.Id}}", name])
}

/// `berth ARGS` without the scenario's masks (ids, pids as they are).
fn real(s: &Setup, args: &[&str]) -> String {
    let out = s.command(args).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The host directory of `controller`'s file for the container's cgroup:
/// the v2 tree, or the controller's v1 hierarchy (under the cgroup the
/// test runs in, as chapter 3 nests it).
fn cgroup_file(id: &str, controller: &str, v2_file: &str, v1_file: &str) -> String {
    let layout = ch03_cgroups::Layout::detect().unwrap();
    let cgroup = ch03_cgroups::Cgroup::open(&format!("berth/{id}")).unwrap();
    let file = if layout.version == ch03_cgroups::Version::V2 {
        v2_file
    } else {
        v1_file
    };
    let dir = cgroup.dir_of(controller).unwrap();
    std::fs::read_to_string(dir.join(file)).unwrap()
}

#[test]
fn top_lists_the_containers_processes() {
    let s = Setup::new();
    sleeper(&s, "topbox", &[]);
    let out = s.berth(&["top", "topbox"]);
    out.expect_code(0);
    let mut lines = out.stdout.lines();
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]
    );
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 1, "{}", out.stdout);
    let row: Vec<&str> = rows[0].split_whitespace().collect();
    assert_eq!(row[0], "root");
    assert_eq!(row[row.len() - 2..], ["sleep", "1000"]);
    // The host's pid, as inspect reports it.
    assert_eq!(
        row[1],
        real(&s, &["inspect", "--format", "{{.State.Pid}}", "topbox"])
    );
    // ps options: the host's ps, the container's rows.
    let custom = s.berth(&["top", "topbox", "-eo", "pid,comm"]);
    custom.expect_code(0);
    let lines: Vec<Vec<&str>> = custom
        .stdout
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(lines[0], ["PID", "COMMAND"], "{}", custom.stdout);
    assert_eq!(lines[1..], [[row[1], "sleep"]], "{}", custom.stdout);
    let no_pid = s.berth(&["top", "topbox", "-eo", "comm"]);
    no_pid.expect_code(125);
    assert!(no_pid.stderr.contains("no PID column"), "{no_pid:?}");
    // Not running: refused, 125.
    s.berth(&["stop", "-t", "0", "topbox"]).expect_code(0);
    let stopped = s.berth(&["top", "topbox"]);
    stopped.expect_code(125);
    assert!(stopped.stderr.contains("not running"), "{stopped:?}");
}

#[test]
fn stats_no_stream_shows_name_and_memory() {
    let s = Setup::new();
    sleeper(&s, "statbox", &["--memory", "64m"]);
    let out = s.berth(&["stats", "--no-stream", "statbox"]);
    out.expect_code(0);

    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(lines[0].starts_with("CONTAINER ID"), "{}", out.stdout);
    assert!(lines[0].contains("MEM USAGE / LIMIT"), "{}", out.stdout);
    assert_eq!(lines.len(), 2, "{}", out.stdout);
    assert!(lines[1].contains("statbox"), "{}", out.stdout);
    // The limit is the container's 64 MiB; the usage a real figure.
    assert!(lines[1].contains(" / 64MiB"), "{}", out.stdout);
    let format = s.berth(&[
        "stats",
        "--no-stream",
        "--format",
        "{{.Name}} {{.MemUsage}} {{.PIDs}}",
    ]);
    format.expect_code(0);
    let fields: Vec<&str> = format.stdout.split_whitespace().collect();
    assert_eq!(fields[0], "statbox", "{}", format.stdout);
    let usage = fields[1];
    assert!(
        usage.ends_with("KiB") || usage.ends_with("MiB"),
        "{}",
        format.stdout
    );
    assert_ne!(usage, "0B");
    assert_eq!(fields[4], "1", "one process: {}", format.stdout);
}

#[test]
fn diff_shows_added_and_deleted_files() {
    let s = Setup::new();
    sleeper(&s, "diffbox", &[]);
    s.berth(&[
        "exec",
        "diffbox",
        "sh",
        "-c",
        "touch /new; rm /etc/os-release",
    ])
    .expect_code(0);
    let out = s.berth(&["diff", "diffbox"]);
    out.expect_code(0);

    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(lines.contains(&"A /new"), "{}", out.stdout);
    assert!(lines.contains(&"D /etc/os-release"), "{}", out.stdout);
    assert!(lines.contains(&"C /etc"), "{}", out.stdout);
    // The engine's mount points (chapter 5's /etc/hostname, resolv.conf)
    // are not the container's changes.
    assert!(!out.stdout.contains("/etc/hostname"), "{}", out.stdout);
    assert!(!out.stdout.contains("/etc/resolv.conf"), "{}", out.stdout);
}

#[test]
fn export_writes_the_root_as_tar() {
    let s = Setup::new();
    sleeper(&s, "expbox", &[]);
    s.berth(&["exec", "expbox", "sh", "-c", "echo hi > /made"])
        .expect_code(0);
    let file = s.tmp.path().join("exp.tar");
    s.berth(&["export", "-o", file.to_str().unwrap(), "expbox"])
        .expect_code(0);
    let names = tar_names(&std::fs::read(&file).unwrap());
    assert!(names.iter().any(|n| n == "bin/busybox"), "{names:?}");
    assert!(names.iter().any(|n| n == "made"), "{names:?}");
    // Stopped: mounted for the export, unmounted after.
    s.berth(&["stop", "-t", "0", "expbox"]).expect_code(0);
    let stdout = s.command(&["export", "expbox"]).output().unwrap();
    assert!(stdout.status.success(), "{stdout:?}");
    let names = tar_names(&stdout.stdout);
    assert!(names.iter().any(|n| n == "made"), "{names:?}");
    assert!(s.mounts().is_empty(), "{:?}", s.mounts());
}

fn tar_names(bytes: &[u8]) -> Vec<String> {
    tar::Archive::new(bytes)
        .entries()
        .unwrap()
        .map(|e| {
            e.unwrap()
                .path()
                .unwrap()
                .to_string_lossy()
                .trim_end_matches('/')
                .to_string()
        })
        .collect()
}

#[test]
fn cp_copies_both_ways_running_and_stopped() {
    let s = Setup::new();
    sleeper(&s, "cpbox", &[]);
    let host = s.tmp.path().join("host");
    std::fs::create_dir(&host).unwrap();
    let file = host.join("in.txt");
    std::fs::write(&file, "into the box\n").unwrap();
    let p = |path: &Path| path.to_str().unwrap().to_string();

    // In, to a file name, then into a directory.
    s.berth(&["cp", &p(&file), "cpbox:/copied.txt"])
        .expect_code(0);
    s.berth(&["cp", &p(&file), "cpbox:/tmp"]).expect_code(0);
    let out = s.berth(&["exec", "cpbox", "cat", "/copied.txt", "/tmp/in.txt"]);
    assert_eq!(out.stdout, "into the box\ninto the box\n");
    // A directory into a new name: the directory becomes it.
    std::fs::create_dir(host.join("tree")).unwrap();
    std::fs::write(host.join("tree/leaf"), "leaf\n").unwrap();
    s.berth(&["cp", &p(&host.join("tree")), "cpbox:/newtree"])
        .expect_code(0);
    let out = s.berth(&["exec", "cpbox", "cat", "/newtree/leaf"]);
    assert_eq!(out.stdout, "leaf\n");

    // Out, a file into a host directory, and a directory's contents.
    s.berth(&["cp", "cpbox:/etc/passwd", &p(&host)])
        .expect_code(0);
    assert!(
        std::fs::read_to_string(host.join("passwd"))
            .unwrap()
            .starts_with("root:")
    );
    let out_dir = host.join("out");
    s.berth(&["cp", "cpbox:/newtree/.", &p(&out_dir)])
        .expect_code(0);
    assert_eq!(
        std::fs::read_to_string(out_dir.join("leaf")).unwrap(),
        "leaf\n"
    );
    // The container's own view: its /etc/hostname, mounted by chapter 5.
    let hostname = host.join("hostname");
    s.berth(&["cp", "cpbox:/etc/hostname", &p(&hostname)])
        .expect_code(0);
    let short = real(
        &s,
        &["inspect", "--format", "{{.Config.Hostname}}", "cpbox"],
    );
    assert_eq!(std::fs::read_to_string(&hostname).unwrap().trim(), short);
    // `-`: a tar stream on stdout.
    let tar = s.command(&["cp", "cpbox:/newtree", "-"]).output().unwrap();
    assert!(tar.status.success(), "{tar:?}");
    assert_eq!(tar_names(&tar.stdout), ["newtree", "newtree/leaf"]);

    // A link in the container pointing out of it is resolved inside it:
    // copying "through" /escape writes to the container's /etc, never
    // the host's.
    s.berth(&["exec", "cpbox", "ln", "-s", "/tmp", "/escape"])
        .expect_code(0);
    s.berth(&["cp", &p(&file), "cpbox:/escape/via-link.txt"])
        .expect_code(0);
    assert!(!Path::new("/tmp/via-link.txt").exists());
    let out = s.berth(&["exec", "cpbox", "cat", "/tmp/via-link.txt"]);
    assert_eq!(out.stdout, "into the box\n");

    // Stopped: in from a tar stream on stdin, then out again.
    s.berth(&["stop", "-t", "0", "cpbox"]).expect_code(0);
    let mut archive = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(8);
    header.set_mode(0o644);
    header.set_cksum();
    archive
        .append_data(&mut header, "streamed.txt", &b"in tar!\n"[..])
        .unwrap();
    let bytes = archive.into_inner().unwrap();
    s.scenario(&["cp", "-", "cpbox:/tmp"])
        .stdin(bytes)
        .run()
        .expect_code(0);
    let back = host.join("back.txt");
    s.berth(&["cp", "cpbox:/tmp/streamed.txt", &p(&back)])
        .expect_code(0);
    assert_eq!(std::fs::read_to_string(&back).unwrap(), "in tar!\n");
    assert!(s.mounts().is_empty(), "{:?}", s.mounts());
    // Still starts: the copy's mount is gone.
    s.berth(&["start", "cpbox"]).expect_code(0);
    let out = s.berth(&["exec", "cpbox", "cat", "/tmp/streamed.txt"]);
    assert_eq!(out.stdout, "in tar!\n");

    // Bad input: 125, one line.
    let missing = s.berth(&["cp", "cpbox:/no/such", &p(&host)]);
    missing.expect_code(125);
    assert_eq!(missing.stderr.lines().count(), 1, "{missing:?}");
    s.berth(&["cp", &p(&file), &p(&back)]).expect_code(125);
}

#[test]
fn update_changes_the_live_cgroup_and_the_record() {
    let s = Setup::new();
    let id = sleeper(&s, "upbox", &["--memory", "64m"]);
    let before = cgroup_file(&id, "memory", "memory.max", "memory.limit_in_bytes");
    assert_eq!(before.trim(), (64u64 << 20).to_string());
    s.berth(&["update", "--memory", "96m", "--pids-limit", "50", "upbox"])
        .expect_code(0);
    let after = cgroup_file(&id, "memory", "memory.max", "memory.limit_in_bytes");
    assert_eq!(after.trim(), (96u64 << 20).to_string());
    assert_eq!(
        cgroup_file(&id, "pids", "pids.max", "pids.max").trim(),
        "50"
    );
    assert_eq!(
        s.inspect("upbox", "{{.HostConfig.Memory}}"),
        (96u64 << 20).to_string()
    );
    s.berth(&[
        "update",
        "--cpuset-cpus",
        "0",
        "--restart",
        "on-failure:3",
        "upbox",
    ])
    .expect_code(0);
    assert_eq!(
        cgroup_file(&id, "cpuset", "cpuset.cpus", "cpuset.cpus").trim(),
        "0"
    );
    assert_eq!(
        s.inspect(
            "upbox",
            "{{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}"
        ),
        "on-failure:3"
    );
    // Kept across a restart: the monitor applies the stored options.
    s.berth(&["restart", "-t", "0", "upbox"]).expect_code(0);
    s.wait_status("upbox", "running");
    let again = cgroup_file(&id, "memory", "memory.max", "memory.limit_in_bytes");
    assert_eq!(again.trim(), (96u64 << 20).to_string());
    assert_eq!(
        cgroup_file(&id, "cpuset", "cpuset.cpus", "cpuset.cpus").trim(),
        "0"
    );
    // Bad input.
    s.berth(&["update", "upbox"]).expect_code(125);
    s.berth(&["update", "--memory", "1k", "upbox"])
        .expect_code(125);
    s.berth(&["update", "--memory-swap", "32m", "upbox"])
        .expect_code(125); // below the 96m of memory
    s.berth(&["update", "--restart", "sometimes", "upbox"])
        .expect_code(125);
}

#[test]
fn version_info_and_system_commands() {
    let s = Setup::new();
    let version = s.berth(&["version"]);
    version.expect_code(0);
    assert!(
        version.stdout.starts_with("Client:\n Version:"),
        "{version:?}"
    );
    assert!(version.stdout.contains(" OS/Arch:"), "{version:?}");
    let info = s.berth(&["info"]);
    info.expect_code(0);
    for heading in [
        " Containers: 0",
        " Images: 1",
        " Storage Driver: overlay2",
        " Logging Driver: json-file",
        " Cgroup Version: ",
        " Kernel Version: ",
        " Security Options:\n  seccomp\n   Profile: builtin (361 system calls",
        "  capabilities: 14 (Docker's default set)",
        "  masked paths: 12, read-only paths: 5",
    ] {
        assert!(info.stdout.contains(heading), "{heading}: {}", info.stdout);
    }
    sleeper(&s, "dfbox", &[]);
    let df = s.berth(&["system", "df"]);
    df.expect_code(0);
    let rows: Vec<Vec<&str>> = df
        .stdout
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows[0], ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]);
    assert_eq!(rows[1][..3], ["Images", "1", "1"], "{}", df.stdout);
    assert_eq!(rows[2][..3], ["Containers", "1", "1"], "{}", df.stdout);
    // prune: the stopped container and the unused network go, the
    // running one and the image stay (it is used).
    s.run_detached(&["--name", "done", "--network", "none"], &["true"]);
    s.wait_status("done", "exited");
    s.berth(&["network", "create", "unused"]).expect_code(0);
    let prune = s.berth(&["system", "prune", "-f", "-a"]);
    prune.expect_code(0);
    assert!(
        prune.stdout.starts_with("Deleted Containers:\n"),
        "{prune:?}"
    );
    assert!(
        prune.stdout.contains("Deleted Networks:\nunused\n"),
        "{prune:?}"
    );
    assert!(!prune.stdout.contains("Deleted Images"), "{prune:?}");
    let ps = s.berth(&["ps", "-a", "--format", "{{.Names}}"]);
    assert_eq!(ps.stdout, "dfbox\n");
    // Without -f and no answer: nothing removed.
    let asked = s.scenario(&["system", "prune"]).stdin("").run();
    asked.expect_code(0);
    assert!(asked.stdout.contains("Are you sure"), "{asked:?}");
    let unit = s.berth(&["system", "unit"]);
    unit.expect_code(0);
    assert!(unit.stdout.contains("Type=oneshot\n"), "{unit:?}");
    assert!(
        unit.stdout
            .contains(&format!("{} --root <root>", common::BIN)),
        "{unit:?}"
    );
    assert!(unit.stdout.contains("start --restartable\n"), "{unit:?}");
    assert!(unit.stdout.contains("WantedBy=multi-user.target\n"));
}

#[test]
fn short_h_is_the_hostname() {
    let s = Setup::new();
    let out = s.berth(&[
        "run",
        "--rm",
        "--pull",
        "never",
        "--network",
        "none",
        "-h",
        "shorthost",
        &s.image,
        "hostname",
    ]);
    out.expect_code(0);
    assert_eq!(out.stdout, "shorthost\n");
    // The stored options keep their meaning at every start.
    s.run_detached(
        &["--name", "hbox", "--network", "none", "-h", "boxname"],
        &["sleep", "1000"],
    );
    s.wait_status("hbox", "running");
    s.berth(&["restart", "-t", "0", "hbox"]).expect_code(0);
    s.wait_status("hbox", "running");
    let out = s.berth(&["exec", "hbox", "hostname"]);
    assert_eq!(out.stdout, "boxname\n");
    // --help still helps.
    let help = s.berth(&["run", "--help"]);
    help.expect_code(0);
    assert!(help.stdout.contains("-h, --hostname"), "{help:?}");
}

#[test]
fn commit_makes_an_image_of_the_changes() {
    let s = Setup::new();
    sleeper(&s, "combox", &[]);
    s.berth(&[
        "exec",
        "combox",
        "sh",
        "-c",
        "mkdir -p /data; echo kept > /data/file; rm /etc/os-release",
    ])
    .expect_code(0);
    let out = s.berth(&["commit", "-m", "a test", "combox", "committed:v1"]);
    out.expect_code(0);
    assert!(out.stdout.starts_with("sha256:"), "{out:?}");
    // Still running: the freeze is over.
    s.berth(&["exec", "combox", "true"]).expect_code(0);
    // The new image runs with the changes: the file there, the deleted
    // one gone (a whiteout in the new layer).
    let run = s.berth(&[
        "run",
        "--rm",
        "--pull",
        "never",
        "--network",
        "none",
        "committed:v1",
        "sh",
        "-c",
        "cat /data/file; test -e /etc/os-release && echo still there; echo end",
    ]);
    run.expect_code(0);
    assert_eq!(run.stdout, "kept\nend\n");
    // Its default command is the container's.
    let cmd = s.berth(&[
        "run",
        "-d",
        "--pull",
        "never",
        "--network",
        "none",
        "--name",
        "again",
        "committed:v1",
    ]);
    cmd.expect_code(0);
    s.wait_status("again", "running");
    let top = s.berth(&["top", "again"]);
    assert!(top.stdout.contains("sleep 1000"), "{top:?}");
    // Bad input: no name, unknown container.
    s.berth(&["commit", "combox"]).expect_code(125);
    s.berth(&["commit", "nosuch", "x:y"]).expect_code(125);
    // Two images now, both in use.
    let df = s.berth(&["system", "df"]);
    assert!(
        df.stdout
            .lines()
            .any(|l| l.split_whitespace().take(3).eq(["Images", "2", "2"])),
        "{df:?}"
    );
}
