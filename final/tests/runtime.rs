//! berth-runtime driven as containerd's shim drives runc: global flags,
//! then create, state, start, kill, delete, on a bundle made from the lab's
//! busybox fixture. Like the shim, the test process is a child subreaper:
//! a container's first process, left by `create`, becomes its child, and
//! reaping it gives the exit code. Runs as root; every container is
//! deleted (and reaped) on every path.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_berth-runtime");

/// A state root and a bundle of their own; containers left are deleted.
struct Lab {
    dir: tempfile::TempDir,
    ids: Vec<String>,
    /// The first process of each container created, not yet reaped.
    pids: Vec<(String, i32)>,
}

impl Lab {
    /// A bundle whose process runs `args`.
    fn new(args: &[&str]) -> Lab {
        // As the shim is: orphans below us are re-parented to us.
        nix::sys::prctl::set_child_subreaper(true).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let bundle = dir.path().join("bundle");
        std::fs::create_dir(&bundle).unwrap();
        let copied = Command::new("cp")
            .arg("-a")
            .arg(lab::fixture::rootfs())
            .arg(bundle.join("rootfs"))
            .status()
            .unwrap();
        assert!(copied.success());
        let lab = Lab {
            dir,
            ids: Vec::new(),
            pids: Vec::new(),
        };
        let out = lab.runtime(&["spec", "--bundle", bundle.to_str().unwrap()]);
        assert!(out.status.success(), "{out:?}");
        let path = bundle.join("config.json");
        let mut config: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        config["process"]["args"] = serde_json::json!(args);
        std::fs::write(&path, serde_json::to_vec(&config).unwrap()).unwrap();
        lab
    }

    /// Changes the bundle's config.json.
    fn edit(&self, change: impl FnOnce(&mut Value)) {
        let path = self.bundle().join("config.json");
        let mut config: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        change(&mut config);
        std::fs::write(&path, serde_json::to_vec(&config).unwrap()).unwrap();
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    fn bundle(&self) -> PathBuf {
        self.dir.path().join("bundle")
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(BIN);
        command.arg("--root").arg(self.root()).args(args);
        command
    }

    fn runtime(&self, args: &[&str]) -> Output {
        self.command(args).stdin(Stdio::null()).output().unwrap()
    }

    /// `create` with its stdout on `stdout` (the container's, then); its
    /// stderr goes to a file too, as a pipe would stay open in the container.
    fn create(&mut self, id: &str, stdout: &Path) -> Output {
        self.ids.push(id.to_string());
        let stderr = stdout.with_extension("err");
        let bundle = self.bundle();
        let pid_file = self.dir.path().join(format!("{id}.pid"));
        self.command(&[
            "--log",
            self.dir.path().join("log.json").to_str().unwrap(),
            "--log-format",
            "json",
            "create",
            "--bundle",
            bundle.to_str().unwrap(),
            "--pid-file",
            pid_file.to_str().unwrap(),
            id,
        ])
        .stdin(Stdio::null())
        .stdout(File::create(stdout).unwrap())
        .stderr(File::create(&stderr).unwrap())
        .status()
        .map(|status| {
            if let Ok(pid) = std::fs::read_to_string(&pid_file)
                && status.success()
            {
                self.pids
                    .push((id.to_string(), pid.trim().parse().unwrap()));
            }
            Output {
                status,
                stdout: Vec::new(),
                stderr: std::fs::read(&stderr).unwrap(),
            }
        })
        .unwrap()
    }

    /// Reaps container `id`'s first process, as the shim does: its exit
    /// code (128+N for signal N).
    fn exit_of(&mut self, id: &str) -> i32 {
        let at = self.pids.iter().position(|(i, _)| i == id).unwrap();
        let (_, pid) = self.pids.remove(at);
        reap(pid)
    }

    /// `state ID`, checked against the runtime spec's state: oci-spec's
    /// `State` type reads it (required fields, the status values), and the
    /// schema's rule that a created or running container has a pid.
    fn state(&self, id: &str) -> Value {
        let out = self.runtime(&["state", id]);
        assert!(out.status.success(), "{out:?}");
        let value: Value = serde_json::from_slice(&out.stdout).unwrap();
        // `paused` is runc's additional status (the spec allows runtimes
        // their own); the type knows only the spec's four.
        let mut standard = value.clone();
        if standard["status"] == "paused" {
            standard["status"] = "running".into();
        }
        let typed: oci_spec::runtime::State = serde_json::from_value(standard)
            .unwrap_or_else(|e| panic!("not the runtime spec's state ({e}): {out:?}"));
        if matches!(value["status"].as_str(), Some("created" | "running")) {
            assert!(typed.pid().is_some_and(|p| p > 0), "no pid: {value}");
        }
        value
    }

    /// Polls `state` until the status is `status`.
    fn wait_for(&self, id: &str, status: &str) -> Value {
        let since = Instant::now();
        loop {
            let state = self.state(id);
            if state["status"] == status {
                return state;
            }
            assert!(since.elapsed() < Duration::from_secs(10), "{state}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for id in &self.ids {
            let _ = self.runtime(&["delete", "--force", id]);
        }
        for (_, pid) in std::mem::take(&mut self.pids) {
            reap(pid);
        }
    }
}

/// Waits for our child `pid`: its exit code (128+N for signal N).
fn reap(pid: i32) -> i32 {
    use nix::sys::wait::{WaitStatus, waitpid};
    match waitpid(nix::unistd::Pid::from_raw(pid), None) {
        Ok(WaitStatus::Exited(_, code)) => code,
        Ok(WaitStatus::Signaled(_, signal, _)) => 128 + signal as i32,
        other => panic!("waiting for {pid}: {other:?}"),
    }
}

/// Exists and has not exited (a zombie waiting for us has).
fn alive(pid: i64) -> bool {
    ch04_overlay::owner::process_alive(pid as u32)
}

fn stderr_line(out: &Output) -> String {
    let text = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(text.lines().count(), 1, "one line expected: {text:?}");
    text
}

#[test]
fn create_state_start_output_stopped_delete() {
    let mut lab = Lab::new(&["sh", "-c", "echo hi; echo there > /tmp/out"]);
    let stdout = lab.dir.path().join("stdout");
    let out = lab.create("c1", &stdout);
    assert!(out.status.success(), "{out:?}");
    let state = lab.state("c1");
    assert_eq!(state["status"], "created");
    assert_eq!(state["ociVersion"], "1.2.0");
    assert_eq!(state["bundle"], lab.bundle().to_str().unwrap());
    let pid = state["pid"].as_i64().unwrap();
    assert!(pid > 0 && alive(pid));
    let pid_file = std::fs::read_to_string(lab.dir.path().join("c1.pid")).unwrap();
    assert_eq!(pid_file.trim(), pid.to_string());
    // Created: nothing ran yet.
    assert_eq!(std::fs::read_to_string(&stdout).unwrap(), "");
    let listed = lab.runtime(&["list"]);
    assert!(String::from_utf8_lossy(&listed.stdout).contains("created"));

    let out = lab.runtime(&["start", "c1"]);
    assert!(out.status.success(), "{out:?}");
    // Re-parented to us when create exited, the container is ours to reap.
    assert_eq!(lab.exit_of("c1"), 0);
    assert_eq!(lab.state("c1")["status"], "stopped");
    assert!(!alive(pid));
    assert_eq!(std::fs::read_to_string(&stdout).unwrap(), "hi\n");
    let written = lab.bundle().join("rootfs/tmp/out");
    assert_eq!(std::fs::read_to_string(written).unwrap(), "there\n");
    // A stopped container cannot be started again.
    assert!(!lab.runtime(&["start", "c1"]).status.success());

    let out = lab.runtime(&["delete", "c1"]);
    assert!(out.status.success(), "{out:?}");
    assert!(!lab.root().join("c1").exists());
    assert!(!lab.runtime(&["state", "c1"]).status.success());
}

#[test]
fn kill_running_sleep_stops_it() {
    let mut lab = Lab::new(&["sleep", "100"]);
    let out = lab.create("k1", &lab.dir.path().join("stdout"));
    assert!(out.status.success(), "{out:?}");
    assert!(lab.runtime(&["start", "k1"]).status.success());
    let state = lab.wait_for("k1", "running");
    let pid = state["pid"].as_i64().unwrap();
    // A running container is deleted only with --force.
    let out = lab.runtime(&["delete", "k1"]);
    assert!(!out.status.success());
    assert!(stderr_line(&out).contains("running"));
    assert!(alive(pid));
    // Numbers, as the shim sends them, and names.
    let out = lab.runtime(&["kill", "k1", "BOGUS"]);
    assert!(!out.status.success());
    stderr_line(&out);
    let out = lab.runtime(&["kill", "k1", "9"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(lab.exit_of("k1"), 128 + 9);
    assert_eq!(lab.state("k1")["status"], "stopped");
    assert!(!alive(pid));
    assert!(lab.runtime(&["delete", "k1"]).status.success());
}

#[test]
fn delete_force_kills_a_running_container() {
    let mut lab = Lab::new(&["sleep", "100"]);
    assert!(lab.create("f1", &lab.dir.path().join("o")).status.success());
    assert!(lab.runtime(&["start", "f1"]).status.success());
    let pid = lab.wait_for("f1", "running")["pid"].as_i64().unwrap();
    let out = lab.runtime(&["delete", "--force", "f1"]);
    assert!(out.status.success(), "{out:?}");
    assert!(!alive(pid));
    assert!(!lab.root().join("f1").exists());
    // The shim's cleanup deletes with --force what is already gone.
    assert!(lab.runtime(&["delete", "--force", "f1"]).status.success());
}

#[test]
fn delete_of_a_created_container_kills_it() {
    let mut lab = Lab::new(&["true"]);
    assert!(lab.create("d1", &lab.dir.path().join("o")).status.success());
    let pid = lab.state("d1")["pid"].as_i64().unwrap();
    assert!(lab.runtime(&["delete", "d1"]).status.success());
    assert!(!alive(pid));
    assert!(!lab.root().join("d1").exists());
}

#[test]
fn run_returns_the_exit_code_and_cleans_up() {
    let lab = Lab::new(&["sh", "-c", "echo ran; exit 3"]);
    let out = lab
        .command(&["run", "--bundle", lab.bundle().to_str().unwrap(), "r1"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "ran\n");
    assert!(!lab.root().join("r1").exists());
}

/// Docker 29.5 puts the time namespace in every spec: it must run.
#[test]
fn a_config_with_the_time_namespace_runs() {
    let lab = Lab::new(&["readlink", "/proc/self/ns/time"]);
    lab.edit(|c| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({"type": "time"}))
    });
    let out = lab
        .command(&["run", "--bundle", lab.bundle().to_str().unwrap(), "t1"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let inside = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let ours = std::fs::read_link("/proc/self/ns/time").unwrap();
    assert!(inside.starts_with("time:["), "{out:?}");
    assert_ne!(
        inside,
        ours.to_string_lossy(),
        "not a time namespace of its own"
    );
}

#[test]
fn version_features_and_spec() {
    let out = Command::new(BIN).arg("--version").output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("berth-runtime version "), "{text}");
    assert!(text.lines().any(|l| l == "spec: 1.2.0"), "{text}");

    let out = Command::new(BIN).arg("features").output().unwrap();
    assert!(out.status.success());
    let features: oci_spec::runtime::Features = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(features.oci_version_max(), "1.2.0");

    let lab = Lab::new(&["true"]);
    let config = oci_spec::runtime::Spec::load(lab.bundle().join("config.json")).unwrap();
    assert_eq!(config.version(), "1.2.0");
    assert_eq!(config.root().as_ref().unwrap().path(), Path::new("rootfs"));
    // An existing config.json is left alone.
    let out = lab.runtime(&["spec", "--bundle", lab.bundle().to_str().unwrap()]);
    assert!(!out.status.success());
    stderr_line(&out);
}

#[test]
fn bad_input_is_one_line_and_leaves_nothing() {
    let mut lab = Lab::new(&["true"]);
    let out = lab.runtime(&["state", "nosuch"]);
    assert!(!out.status.success());
    assert!(stderr_line(&out).contains("nosuch does not exist"));
    let out = lab.runtime(&["start", "nosuch"]);
    assert!(!out.status.success());
    stderr_line(&out);

    let missing = lab.dir.path().join("missing");
    let out = lab.runtime(&["create", "--bundle", missing.to_str().unwrap(), "b1"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(stderr_line(&out).contains("config.json"));
    assert!(!lab.root().join("b1").exists());

    let out = lab.runtime(&["create", "../escape"]);
    assert_eq!(out.status.code(), Some(125));
    stderr_line(&out);

    let out = lab.runtime(&["--systemd-cgroup", "list"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(stderr_line(&out).contains("systemd"));

    // A second create of the same id is refused; the first is untouched.
    assert!(lab.create("b2", &lab.dir.path().join("o")).status.success());
    let out = lab.create("b2", &lab.dir.path().join("o2"));
    assert!(!out.status.success());
    assert!(stderr_line(&out).contains("already exists"));
    assert_eq!(lab.state("b2")["status"], "created");
    // The shim reads the reason from the json log.
    let log = std::fs::read_to_string(lab.dir.path().join("log.json")).unwrap();
    let last: Value = serde_json::from_str(log.lines().last().unwrap()).unwrap();
    assert_eq!(last["level"], "error");
    assert!(last["msg"].as_str().unwrap().contains("already exists"));
}

#[test]
fn memory_and_pids_limits_apply_through_chapter_3() {
    let lab = Lab::new(&[
        "sh",
        "-c",
        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max 2>/dev/null \
         || cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max",
    ]);
    lab.edit(|config| {
        config["linux"]["resources"] =
            serde_json::json!({ "memory": { "limit": 67108864 }, "pids": { "limit": 42 } });
    });
    let out = lab
        .command(&["run", "--bundle", lab.bundle().to_str().unwrap(), "m1"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "67108864\n42\n");
    // The cgroup went with the container.
    assert!(ch03_cgroups::Cgroup::open("berth/rt-m1").is_err());
}

#[test]
fn capabilities_no_new_privileges_and_paths_through_chapter_7() {
    // The default spec keeps AUDIT_WRITE (29), KILL (5), NET_BIND_SERVICE
    // (10), sets noNewPrivileges, masks /proc/keys, makes /proc/sys read-only.
    let lab = Lab::new(&[
        "sh",
        "-c",
        "grep -E 'CapBnd|CapEff|NoNewPrivs' /proc/self/status; wc -c < /proc/keys; \
         awk '$5 == \"/proc/sys\" { split($6, o, \",\"); print o[1] }' /proc/self/mountinfo",
    ]);
    let out = lab
        .command(&["run", "--bundle", lab.bundle().to_str().unwrap(), "s1"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let lines: Vec<_> = text
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .collect();
    assert_eq!(lines[0], ["CapEff:", "0000000020000420"], "{text}");
    assert_eq!(lines[1], ["CapBnd:", "0000000020000420"], "{text}");
    assert_eq!(lines[2], ["NoNewPrivs:", "1"], "{text}");
    assert_eq!(lines[3], ["0"], "{text}");
    assert_eq!(lines[4], ["ro"], "{text}");
}

/// config.json's `linux.seccomp`, as dockerd writes it (the runtime
/// spec's format): a filter that denies `mkdir` with EACCES and allows the
/// rest; the probe sees seccomp mode 2. A profile with an unknown action
/// fails `create` with nothing left.
#[test]
fn seccomp_from_the_config_is_installed() {
    let lab = Lab::new(&[
        "sh",
        "-c",
        "grep Seccomp: /proc/self/status; mkdir /tmp/x 2>&1 || echo refused",
    ]);
    lab.edit(|c| {
        c["linux"]["seccomp"] = serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64"],
            "syscalls": [
                {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}
            ]
        })
    });
    let out = lab
        .command(&["run", "--bundle", lab.bundle().to_str().unwrap(), "sc1"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(text.starts_with("Seccomp:\t2\n"), "{text}");
    assert!(text.contains("Permission denied"), "{text}");
    assert!(text.ends_with("refused\n"), "{text}");
    // An action the spec knows and berth cannot do; one the spec does not know.
    for (action, says) in [
        ("SCMP_ACT_NOTIFY", "linux.seccomp"),
        ("SCMP_ACT_SOMETIMES", "unknown variant"),
    ] {
        lab.edit(|c| c["linux"]["seccomp"]["defaultAction"] = action.into());
        let bad = lab
            .command(&["create", "--bundle", lab.bundle().to_str().unwrap(), "sc2"])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(!bad.status.success(), "{bad:?}");
        assert!(stderr_line(&bad).contains(says), "{says}: {bad:?}");
        assert!(!lab.root().join("sc2").exists());
    }
}

#[test]
fn bind_and_tmpfs_mounts_are_made_others_warned_about() {
    let lab = Lab::new(&[
        "sh",
        "-c",
        "cat /mnt/share/f /etc/extra; (echo x > /mnt/share/g) 2>/dev/null || echo read-only; \
         awk '$2 == \"/scratch\" { print $3, $4 }' /proc/mounts",
    ]);
    let share = lab.bundle().join("share");
    std::fs::create_dir(&share).unwrap();
    std::fs::write(share.join("f"), "shared\n").unwrap();
    let extra = lab.dir.path().join("extra");
    std::fs::write(&extra, "extra\n").unwrap();
    lab.edit(|config| {
        let mounts = config["mounts"].as_array_mut().unwrap();
        mounts.push(
            serde_json::json!({ "destination": "/mnt/share", "type": "bind",
            "source": "share", "options": ["rbind", "ro"] }),
        );
        mounts.push(
            serde_json::json!({ "destination": "/etc/extra", "type": "bind",
            "source": extra, "options": ["bind"] }),
        );
        mounts.push(
            serde_json::json!({ "destination": "/scratch", "type": "tmpfs",
            "source": "tmpfs", "options": ["nosuid", "size=1m"] }),
        );
        mounts.push(serde_json::json!({ "destination": "/net", "type": "nfs",
            "source": "host:/x" }));
    });
    let out = lab
        .command(&["run", "--bundle", lab.bundle().to_str().unwrap(), "b1"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    // The tmpfs line's options vary with the kernel (6.1 adds inode64):
    // the ones the spec asked for must be there.
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[..3], ["shared", "extra", "read-only"], "{stdout}");
    let tmpfs = lines.get(3).copied().unwrap_or_default();
    assert!(
        tmpfs.starts_with("tmpfs rw,nosuid,") && tmpfs.split(',').any(|o| o == "size=1024k"),
        "{stdout}"
    );
    assert_eq!(lines.len(), 4, "{stdout}");
    assert!(!share.join("g").exists());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("mount /net of type \"nfs\" is left out"),
        "{stderr}"
    );
}

#[test]
fn process_user_is_switched_to_after_create_and_start() {
    let mut lab = Lab::new(&["sh", "-c", "id; grep CapEff /proc/self/status"]);
    lab.edit(|config| {
        config["process"]["user"] = serde_json::json!({ "uid": 1000, "gid": 1001,
            "additionalGids": [10] });
    });
    let stdout = lab.dir.path().join("stdout");
    let out = lab.create("u1", &stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(lab.runtime(&["start", "u1"]).status.success());
    assert_eq!(lab.exit_of("u1"), 0);
    let text = std::fs::read_to_string(&stdout).unwrap();
    assert_eq!(
        text.lines().next(),
        Some("uid=1000 gid=1001 groups=10"),
        "{text}"
    );
    assert!(text.contains("0000000000000000"), "{text}");
    assert!(lab.runtime(&["delete", "u1"]).status.success());
}

/// Receives the one descriptor a runtime sends on a console socket.
fn receive_fd(stream: &std::os::unix::net::UnixStream) -> std::os::fd::OwnedFd {
    use std::os::fd::{AsRawFd, FromRawFd};
    let mut name = [0u8; 64];
    let mut iov = libc::iovec {
        iov_base: name.as_mut_ptr() as *mut libc::c_void,
        iov_len: name.len(),
    };
    let mut control = [0u8; 64];
    // SAFETY: the buffers outlive recvmsg; the control message is read
    // only when the kernel filled one in.
    unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr() as *mut libc::c_void;
        msg.msg_controllen = control.len() as _;
        assert!(libc::recvmsg(stream.as_raw_fd(), &mut msg, 0) > 0);
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        assert!(!cmsg.is_null());
        assert_eq!((*cmsg).cmsg_type, libc::SCM_RIGHTS);
        let fd = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg) as *const libc::c_int);
        std::os::fd::OwnedFd::from_raw_fd(fd)
    }
}

#[test]
fn terminal_goes_to_the_console_socket() {
    use std::io::Read;
    let mut lab = Lab::new(&["sh", "-c", "test -t 0 && test -t 1 && echo on-a-tty"]);
    lab.edit(|config| config["process"]["terminal"] = Value::Bool(true));
    // Without a socket: refused, nothing made.
    let out = lab.create("t0", &lab.dir.path().join("o0"));
    assert_eq!(out.status.code(), Some(125));
    assert!(stderr_line(&out).contains("--console-socket"));
    assert!(!lab.root().join("t0").exists());

    let socket = lab.dir.path().join("console.sock");
    let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    let receiver = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        receive_fd(&stream)
    });
    lab.ids.push("t1".to_string());
    let pid_file = lab.dir.path().join("t1.pid");
    let out = lab.runtime(&[
        "create",
        "--bundle",
        lab.bundle().to_str().unwrap(),
        "--console-socket",
        socket.to_str().unwrap(),
        "--pid-file",
        pid_file.to_str().unwrap(),
        "t1",
    ]);
    assert!(out.status.success(), "{out:?}");
    let pid = std::fs::read_to_string(&pid_file).unwrap();
    lab.pids.push(("t1".into(), pid.trim().parse().unwrap()));
    let master = File::from(receiver.join().unwrap());
    assert!(lab.runtime(&["start", "t1"]).status.success());
    assert_eq!(lab.exit_of("t1"), 0);
    // Read until the slave's last holder is gone (EIO).
    let mut text = String::new();
    let mut buf = [0u8; 256];
    let mut master = master;
    while let Ok(n) = master.read(&mut buf) {
        if n == 0 {
            break;
        }
        text.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert_eq!(text, "on-a-tty\r\n");
}

#[test]
fn ps_pause_resume_and_kill_all() {
    let mut lab = Lab::new(&["sh", "-c", "sleep 100 & sleep 100; true"]);
    assert!(lab.create("p1", &lab.dir.path().join("o")).status.success());
    assert!(lab.runtime(&["start", "p1"]).status.success());
    let pid = lab.wait_for("p1", "running")["pid"].as_i64().unwrap();
    // Both sleeps have started once ps lists three processes.
    let since = Instant::now();
    let pids = loop {
        let out = lab.runtime(&["ps", "--format", "json", "p1"]);
        assert!(out.status.success(), "{out:?}");
        let pids: Vec<i64> = serde_json::from_slice(&out.stdout).unwrap();
        if pids.len() == 3 || since.elapsed() > Duration::from_secs(10) {
            break pids;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(pids.len(), 3, "{pids:?}");
    assert!(pids.contains(&pid));
    assert!(lab.runtime(&["pause", "p1"]).status.success());
    assert_eq!(lab.state("p1")["status"], "paused");
    assert!(!lab.runtime(&["pause", "p1"]).status.success());
    assert!(lab.runtime(&["resume", "p1"]).status.success());
    assert_eq!(lab.state("p1")["status"], "running");
    assert!(
        lab.runtime(&["kill", "--all", "p1", "KILL"])
            .status
            .success()
    );
    assert_eq!(lab.exit_of("p1"), 137);
    assert!(pids.iter().all(|p| !alive(*p)));
    assert!(lab.runtime(&["delete", "p1"]).status.success());
}

#[test]
fn a_failed_step_fails_create_and_leaves_nothing() {
    let mut lab = Lab::new(&["true"]);
    lab.edit(|config| config["process"]["cwd"] = Value::from("/no/such/dir"));
    let out = lab.create("w1", &lab.dir.path().join("o"));
    assert!(!out.status.success());
    assert!(stderr_line(&out).contains("/no/such/dir"));
    assert!(!lab.root().join("w1").exists());
    assert!(ch03_cgroups::Cgroup::open("berth/rt-w1").is_err());
}

#[test]
fn exec_runs_in_the_container_with_its_confinement() {
    let mut lab = Lab::new(&["sleep", "100"]);
    assert!(lab.create("e1", &lab.dir.path().join("o")).status.success());
    assert!(lab.runtime(&["start", "e1"]).status.success());
    lab.wait_for("e1", "running");
    // A command on the line; stdout is exec's own.
    let out = lab.runtime(&[
        "exec",
        "e1",
        "sh",
        "-c",
        "cat /proc/1/comm; grep CapEff /proc/self/status; exit 4",
    ]);
    assert_eq!(out.status.code(), Some(4), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let words: Vec<_> = text.split_whitespace().collect();
    assert_eq!(words, ["sleep", "CapEff:", "0000000020000420"], "{text}");
    // As the shim gives it: a Process file, with a pid file.
    let process = lab.dir.path().join("process.json");
    let json = serde_json::json!({ "args": ["sh", "-c", "id -u; id -g"],
        "cwd": "/tmp", "env": ["PATH=/bin:/usr/bin"], "user": { "uid": 1000, "gid": 1001 } });
    std::fs::write(&process, json.to_string()).unwrap();
    let pid_file = lab.dir.path().join("exec.pid");
    let out = lab.runtime(&[
        "exec",
        "--process",
        process.to_str().unwrap(),
        "--pid-file",
        pid_file.to_str().unwrap(),
        "e1",
    ]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "1000\n1001\n");
    let pid: i64 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(pid > 0);
    // Detached, as the shim asks: exec returns at once, the process is
    // re-parented to us and its exit code is ours to reap.
    // (Its stdio is exec's: not pipes we would read to their end.)
    let status = lab
        .command(&[
            "exec",
            "--detach",
            "--pid-file",
            pid_file.to_str().unwrap(),
            "e1",
            "sh",
            "-c",
            "sleep 1; exit 5",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(alive(pid as i64), "the detached process outlives exec");
    assert_eq!(reap(pid), 5);
    assert!(lab.runtime(&["delete", "--force", "e1"]).status.success());
    // exec in a stopped container is refused.
    let out = lab.runtime(&["exec", "e1", "true"]);
    assert!(!out.status.success());
    stderr_line(&out);
}

#[test]
fn preserve_fds_passes_descriptors_on() {
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;
    let lab = Lab::new(&["sh", "-c", "cat <&3"]);
    let input = lab.dir.path().join("fd3");
    std::fs::write(&input, "through fd 3\n").unwrap();
    let file = File::open(&input).unwrap();
    let raw = file.as_raw_fd();
    let bundle = lab.bundle();
    let mut command = lab.command(&[
        "run",
        "--preserve-fds",
        "1",
        "--bundle",
        bundle.to_str().unwrap(),
        "pf1",
    ]);
    // SAFETY: only dup2 and fcntl between fork and exec.
    unsafe {
        command.pre_exec(move || {
            if libc::dup2(raw, 3) < 0 || libc::fcntl(3, libc::F_SETFD, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = command.stdin(Stdio::null()).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "through fd 3\n");
    assert!(!lab.root().join("pf1").exists());
}

#[test]
fn hooks_run_with_the_state_on_their_stdin() {
    let mut lab = Lab::new(&["true"]);
    let dir = lab.dir.path().to_path_buf();
    let hook = |name: &str| {
        let file = dir.join(format!("{name}.json"));
        serde_json::json!({ "path": "/bin/sh", "env": ["PATH=/usr/bin:/bin"],
            "args": ["sh", "-c", format!("cat > {}", file.display())] })
    };
    let hooks = serde_json::json!({ "prestart": [hook("prestart")],
        "createRuntime": [hook("createRuntime")], "poststart": [hook("poststart")],
        "poststop": [hook("poststop")] });
    lab.edit(|config| config["hooks"] = hooks);
    let out = lab.create("h1", &dir.join("o"));
    assert!(out.status.success(), "{out:?}");
    let pid = lab.state("h1")["pid"].clone();
    let read = |name: &str| -> Value {
        serde_json::from_slice(&std::fs::read(dir.join(format!("{name}.json"))).unwrap()).unwrap()
    };
    for name in ["prestart", "createRuntime"] {
        let state = read(name);
        assert_eq!(state["status"], "creating", "{name}: {state}");
        assert_eq!(state["pid"], pid, "{name}: {state}");
        assert_eq!(state["id"], "h1");
    }
    assert!(!dir.join("poststart.json").exists());
    assert!(lab.runtime(&["start", "h1"]).status.success());
    assert_eq!(read("poststart")["status"], "running");
    assert_eq!(lab.exit_of("h1"), 0);
    assert!(!dir.join("poststop.json").exists());
    assert!(lab.runtime(&["delete", "h1"]).status.success());
    assert_eq!(read("poststop")["status"], "stopped");

    // A failing prestart hook fails create, and nothing is left.
    lab.edit(|config| {
        config["hooks"] = serde_json::json!({ "prestart": [
            { "path": "/bin/sh", "args": ["sh", "-c", "exit 3"] }] });
    });
    let out = lab.create("h2", &dir.join("o2"));
    assert!(!out.status.success());
    assert!(stderr_line(&out).contains("hook /bin/sh"), "{out:?}");
    assert!(!lab.root().join("h2").exists());
    assert!(ch03_cgroups::Cgroup::open("berth/rt-h2").is_err());
}
