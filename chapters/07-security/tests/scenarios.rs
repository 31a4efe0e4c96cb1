//! Chapter 7 scenarios: what a container's root keeps and loses, seen by
//! the probe inside, as root, on images from a real registry.

mod common;

use common::{Setup, transcript};
use lab::privileged::require_root;

/// The issue's acceptance: Docker's 14 capabilities, seccomp mode 2 with
/// the filter stack, Docker's masked and read-only paths.
#[test]
fn defaults_of_a_container() {
    if !require_root() {
        return;
    }
    let s = Setup::new();
    let probe = s.run(&[], &["/probe", "security"]);
    probe.expect_code(0);
    let value = |k: &str| probe.value(k).unwrap_or("").to_string();
    assert!(
        value("security.cap.effective").starts_with("14 "),
        "{}",
        probe.render()
    );
    assert!(value("security.cap.bounding").starts_with("14 "));
    assert_eq!(value("security.cap.inheritable"), "0");
    assert_eq!(value("security.cap.ambient"), "0");
    assert_eq!(value("security.seccomp.mode"), "2");
    assert_eq!(value("security.no_new_privs"), "0");
    assert_paths_covered(&probe.stdout);
    assert!(probe.stdout.contains("security.path: /proc/sys read-only"));
    // The argument filters of Docker's profile.
    for check in [
        "clone-newuser",
        "personality-no-aslr",
        "socket-alg",
        "socket-vsock",
    ] {
        assert_eq!(
            probe.value(&format!("security.args.{check}")),
            Some("EPERM"),
            "{}",
            probe.render()
        );
    }
    assert!(s.mounts().is_empty(), "a mount outlived the run");
    insta::assert_snapshot!("defaults", without_paths(&probe.render()));
}

/// Every masked path is masked and every read-only path read-only, where
/// this kernel has it at all (`/proc/kcore` needs CONFIG_PROC_KCORE).
fn assert_paths_covered(stdout: &str) {
    let paths: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("security.path: "))
        .collect();
    assert_eq!(paths.len(), 17, "{stdout}");
    for (i, line) in paths.iter().enumerate() {
        let want = if i < 12 { "masked" } else { "read-only" };
        assert!(
            line.ends_with(want) || line.ends_with(" absent"),
            "{line}: want {want}"
        );
    }
}

/// The probe's output without the path lines, whose `absent` entries
/// depend on the kernel's configuration.
fn without_paths(text: &str) -> String {
    text.lines()
        .filter(|l| !l.starts_with("security.path: "))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// `--privileged`: every capability, no filter, nothing masked.
#[test]
fn privileged_has_everything() {
    if !require_root() {
        return;
    }
    let s = Setup::new();
    let probe = s.run(&["--privileged"], &["/probe", "security"]);
    probe.expect_code(0);
    let all = ch07_security::capabilities::all_available().len();
    let effective = probe.value("security.cap.effective").unwrap_or("");
    assert!(
        effective.starts_with(&format!("{all} ")),
        "{}",
        probe.render()
    );
    assert_eq!(probe.value("security.seccomp.mode"), Some("0"));
    assert_eq!(probe.value("security.clone3"), Some("EINVAL"));
    // No filter: the kernel answers (the socket families depend on its
    // modules, so they are not shown).
    assert_eq!(probe.value("security.args.clone-newuser"), Some("ok"));
    assert_eq!(probe.value("security.args.personality-no-aslr"), Some("ok"));
    for family in ["socket-alg", "socket-vsock"] {
        let answer = probe.value(&format!("security.args.{family}"));
        assert_ne!(answer, Some("EPERM"), "{}", probe.render());
    }
    assert!(
        probe
            .stdout
            .lines()
            .filter(|l| l.starts_with("security.path: "))
            .all(|l| l.ends_with(" visible") || l.ends_with(" absent")),
        "{}",
        probe.render()
    );
    // The host's devices (/dev/kmsg, the kernel's log, among them); none
    // in a default container.
    let look = "test -c /dev/kmsg && echo present || echo absent";
    let privileged_dev = s.run(&["--privileged"], &["sh", "-c", look]);
    assert_eq!(
        privileged_dev.stdout,
        "present\n",
        "{}",
        privileged_dev.render()
    );
    let default_dev = s.run(&[], &["sh", "-c", look]);
    assert_eq!(default_dev.stdout, "absent\n", "{}", default_dev.render());
    // The capability lines name what this host's kernel and sandbox have.
    let shown: String = without_paths(&probe.render())
        .lines()
        .filter(|l| !l.starts_with("security.cap.") && !l.starts_with("security.args.socket"))
        .map(|l| format!("{l}\n"))
        .collect();
    insta::assert_snapshot!("privileged", shown);
}

/// Docker's capability arithmetic, and what a non-root user keeps: no
/// effective or permitted capabilities, the bounding set as root's.
#[test]
fn capabilities_added_dropped_and_non_root() {
    if !require_root() {
        return;
    }
    let s = Setup::new();
    let only = s.run(
        &["--cap-drop", "ALL", "--cap-add", "NET_ADMIN"],
        &["/probe", "security"],
    );
    only.expect_code(0);
    assert_eq!(
        only.value("security.cap.effective"),
        Some("1 net_admin"),
        "{}",
        only.render()
    );
    let fewer = s.run(&["--cap-drop", "net_raw,mknod"], &["/probe", "security"]);
    assert!(
        fewer
            .value("security.cap.effective")
            .is_some_and(|v| v.starts_with("12 ") && !v.contains("net_raw"))
    );
    let nobody = s.run(&["--user", "65534"], &["/probe", "security"]);
    nobody.expect_code(0);
    assert_eq!(nobody.value("security.cap.effective"), Some("0"));
    assert_eq!(nobody.value("security.cap.permitted"), Some("0"));
    assert!(
        nobody
            .value("security.cap.bounding")
            .is_some_and(|v| v.starts_with("14 "))
    );
    assert_eq!(nobody.value("security.seccomp.mode"), Some("2"));
    insta::assert_snapshot!(
        "capabilities",
        transcript(&[&only, &nobody])
            .lines()
            .filter(|l| l.starts_with("$ ") || l.starts_with("security.cap."))
            .map(|l| format!("{l}\n"))
            .collect::<String>()
    );
}

/// no_new_privs: a set-uid root copy of the probe, run by nobody, becomes
/// root (euid 0, the bounding set effective) unless no_new_privs is set.
#[test]
fn no_new_privileges_stops_setuid() {
    if !require_root() {
        return;
    }
    let s = Setup::new();
    let plain = s.run(&["--user", "65534"], &["/suid-probe", "security"]);
    plain.expect_code(0);
    assert_eq!(
        plain.value("security.euid"),
        Some("0"),
        "{}",
        plain.render()
    );
    assert!(
        plain
            .value("security.cap.effective")
            .is_some_and(|v| v.starts_with("14 "))
    );
    let nnp = s.run(
        &["--user", "65534", "--security-opt", "no-new-privileges"],
        &["/suid-probe", "security"],
    );
    nnp.expect_code(0);
    assert_eq!(
        nnp.value("security.euid"),
        Some("65534"),
        "{}",
        nnp.render()
    );
    assert_eq!(nnp.value("security.cap.effective"), Some("0"));
    assert_eq!(nnp.value("security.no_new_privs"), Some("1"));
    insta::assert_snapshot!(
        "no_new_privileges",
        transcript(&[&plain, &nnp])
            .lines()
            .filter(|l| {
                l.starts_with("$ ")
                    || l.starts_with("security.euid")
                    || l.starts_with("security.cap.effective")
                    || l.starts_with("security.no_new_privs")
            })
            .map(|l| format!("{l}\n"))
            .collect::<String>()
    );
}

/// The default profile's clone3 answer, a profile of one's own in
/// Docker's format, and unconfined.
#[test]
fn seccomp_profiles() {
    if !require_root() {
        return;
    }
    let s = Setup::new();
    let default = s.run(&[], &["/probe", "security"]);
    assert_eq!(default.value("security.clone3"), Some("ENOSYS"));
    // With CAP_SYS_ADMIN the default profile lets clone3 through.
    let admin = s.run(&["--cap-add", "SYS_ADMIN"], &["/probe", "security"]);
    assert_eq!(admin.value("security.clone3"), Some("EINVAL"));

    let profile = s.tmp.path().join("no-mkdir.json");
    std::fs::write(
        &profile,
        r#"{"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO",
                          "errnoRet": 13}]}"#,
    )
    .unwrap();
    let opt = format!("seccomp={}", profile.display());
    let denied = s.run(&["--security-opt", &opt], &["mkdir", "/made"]);
    assert_eq!(denied.code, 1, "{}", denied.render());
    assert!(
        denied.stderr.contains("Permission denied"),
        "{}",
        denied.render()
    );
    let unconfined = s.run(
        &["--security-opt", "seccomp=unconfined"],
        &["/probe", "security"],
    );
    assert_eq!(unconfined.value("security.seccomp.mode"), Some("0"));
    assert!(
        unconfined
            .value("security.cap.effective")
            .is_some_and(|v| v.starts_with("14 "))
    );
    insta::assert_snapshot!(
        "seccomp_profile",
        denied
            .render()
            .replace(&s.tmp.path().display().to_string(), "<tmp>")
    );
}

/// Bad input: one line naming the problem, exit 125, nothing created.
#[test]
fn bad_input_creates_nothing() {
    if !require_root() {
        return;
    }
    let s = Setup::new();
    let broken = s.tmp.path().join("broken.json");
    std::fs::write(
        &broken,
        "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"syscalls\": [",
    )
    .unwrap();
    let bad_action = s.tmp.path().join("action.json");
    std::fs::write(
        &bad_action,
        r#"{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "ALLOW"}]}"#,
    )
    .unwrap();
    let outcomes = [
        s.run(&["--cap-add", "NET_ADMIM"], &["true"]),
        s.run(&["--cap-drop", "CAP_FOO"], &["true"]),
        s.run(
            &["--security-opt", &format!("seccomp={}", broken.display())],
            &["true"],
        ),
        s.run(
            &[
                "--security-opt",
                &format!("seccomp={}", bad_action.display()),
            ],
            &["true"],
        ),
        s.run(&["--security-opt", "no-new-privs"], &["true"]),
        s.run(&["--device", "/dev/berth-no-such-device"], &["true"]),
    ];
    for outcome in &outcomes {
        outcome.expect_code(125);
        assert_eq!(outcome.stderr.lines().count(), 1, "{}", outcome.render());
        assert!(outcome.stdout.is_empty());
    }
    assert_eq!(s.containers(), 0, "a container was created");
    assert!(s.mounts().is_empty());
    let outcomes: Vec<&lab::scenario::Outcome> = outcomes.iter().collect();
    insta::assert_snapshot!(
        "bad_input",
        transcript(&outcomes).replace(&s.tmp.path().display().to_string(), "<tmp>")
    );
}

/// Rootless, as the issue's acceptance asks: an unprivileged user (uid
/// 65534, with a home of its own) pulls and runs `--network none IMAGE id`,
/// and is root in the container; what needs the host's root is refused in
/// one line.
#[test]
fn rootless_run_as_an_unprivileged_user() {
    if !require_root() {
        return;
    }
    let s = Setup::new();
    let home = tempfile::tempdir().unwrap();
    std::os::unix::fs::chown(home.path(), Some(65534), Some(65534)).unwrap();
    let registry = s.image.split('/').next().unwrap().to_string();
    let user = |args: &[&str]| common::as_nobody(home.path(), &registry, args, None);
    let (pulled, code) = user(&["pull", "--insecure-registry", &registry, &s.image]);
    assert_eq!(code, 0, "{pulled}");
    // The state root is the user's own.
    let store = home.path().join(".local/share/berth/ch07");
    assert!(store.is_dir());
    let (id, code) = user(&["run", "--rm", "--network", "none", &s.image, "id"]);
    assert_eq!(code, 0, "{id}");
    assert!(id.contains("\nuid=0(root) gid=0(root)\n"), "{id}");
    let (probe, code) = user(&[
        "run",
        "--rm",
        "--network",
        "none",
        &s.image,
        "/probe",
        "security",
        "ns",
    ]);
    assert_eq!(code, 0, "{probe}");
    assert!(probe.contains("security.cap.effective: 14 "), "{probe}");
    assert!(probe.contains("security.seccomp.mode: 2"), "{probe}");
    let (bridge, code) = user(&["run", "--rm", &s.image, "id"]);
    assert_eq!(code, 125, "{bridge}");
    let (limited, code) = user(&[
        "run",
        "--rm",
        "-m",
        "64m",
        "--network",
        "none",
        &s.image,
        "id",
    ]);
    assert_eq!(code, 125, "{limited}");
    for refused in [&bridge, &limited] {
        assert_eq!(
            refused
                .lines()
                .filter(|l| l.starts_with("ch07-security: "))
                .count(),
            1
        );
    }
    let (ps, _) = user(&["ps"]);
    assert_eq!(ps.lines().count(), 3, "a container was left: {ps}");
    insta::assert_snapshot!("rootless", format!("{id}{bridge}{limited}"));
}

/// Rootless limits under a delegated cgroup: on a cgroup v2 host the test
/// delegates one to `nobody` as systemd's `Delegate=yes` would (it owns a
/// parent cgroup that hands memory and pids down, and runs in a child of
/// it), and the container gets its limits there. Hybrid and v1 hosts have
/// no such thing: the limits stay refused, with the reason.
#[test]
fn rootless_limits_under_a_delegated_cgroup() {
    if !require_root() {
        return;
    }
    let s = Setup::new();
    let home = tempfile::tempdir().unwrap();
    std::os::unix::fs::chown(home.path(), Some(65534), Some(65534)).unwrap();
    let registry = s.image.split('/').next().unwrap().to_string();
    let v2 = std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .all(|l| !l.contains(" - cgroup "));
    let base = std::path::PathBuf::from(format!(
        "/sys/fs/cgroup/berth-delegated-{}",
        std::process::id()
    ));
    let session = base.join("session");
    // Removed on every path (children first; a cgroup goes with rmdir).
    struct Removed(Vec<std::path::PathBuf>);
    impl Drop for Removed {
        fn drop(&mut self) {
            for dir in &self.0 {
                let _ = std::fs::remove_dir(dir);
            }
        }
    }
    let _removed = Removed(vec![base.join("berth"), session.clone(), base.clone()]);
    if v2 {
        let root = std::path::Path::new("/sys/fs/cgroup");
        std::fs::write(root.join("cgroup.subtree_control"), "+memory +pids").unwrap();
        std::fs::create_dir(&base).unwrap();
        std::fs::write(base.join("cgroup.subtree_control"), "+memory +pids").unwrap();
        std::fs::create_dir(&session).unwrap();
        for path in [
            base.clone(),
            base.join("cgroup.procs"),
            base.join("cgroup.subtree_control"),
            base.join("cgroup.threads"),
            session.clone(),
            session.join("cgroup.procs"),
            session.join("cgroup.threads"),
        ] {
            std::os::unix::fs::chown(&path, Some(65534), Some(65534)).unwrap();
        }
    }
    let procs = session.join("cgroup.procs");
    let join = v2.then_some(procs.as_path());
    let user = |args: &[&str]| common::as_nobody(home.path(), &registry, args, join);
    let (pulled, code) = user(&["pull", "--insecure-registry", &registry, &s.image]);
    assert_eq!(code, 0, "{pulled}");
    let (limited, code) = user(&[
        "run",
        "--rm",
        "--network",
        "none",
        "-m",
        "64m",
        "--pids-limit",
        "50",
        &s.image,
        "cat",
        "/sys/fs/cgroup/memory.max",
        "/sys/fs/cgroup/pids.max",
    ]);
    if v2 {
        assert_eq!(code, 0, "{limited}");
        assert!(limited.contains("\n67108864\n50\n--- exit: 0"), "{limited}");
        // The container's cgroup went with it, and `berth` once empty.
        let left: Vec<_> = std::fs::read_dir(&base)
            .unwrap()
            .flatten()
            .filter(|e| e.path().is_dir())
            .map(|e| e.file_name())
            .collect();
        assert_eq!(left, ["session"], "{limited}");
    } else {
        assert_eq!(code, 125, "{limited}");
        assert!(
            limited.contains("need a cgroup delegated to you"),
            "{limited}"
        );
    }
}

/// Chapter 5's name resolution still works from chapter 7's sealed copy:
/// the network's resolver is the running program again (`/proc/self/exe`,
/// which has no path here), and a container finds itself by name through it.
#[test]
fn a_user_defined_network_resolves_names() {
    if !require_root() {
        return;
    }
    let s = Setup::new();
    let name = format!("t{}r", std::process::id());
    let subnet = format!("10.213.{}.0/24", std::process::id() % 250);
    s.ch07(&["network", "create", &name, "--subnet", &subnet])
        .expect_code(0);
    let out = s.ch07(&[
        "run",
        "--rm",
        "--network",
        &name,
        "--name",
        "solo",
        "--pull",
        "never",
        &s.image,
        "nslookup",
        "solo",
    ]);
    out.expect_code(0);
    let own = subnet.replace(".0/24", ".2");
    assert!(
        out.stdout.contains(&format!("Address: {own}\n")),
        "{}",
        out.render()
    );
    // The resolver exits with the network's last container.
    let pid_file = s.root().join(format!("network/dns/{name}.pid"));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while ch04_overlay::owner::Owner::read(&pid_file).is_some_and(|o| o.is_alive()) {
        assert!(std::time::Instant::now() < deadline, "the resolver stayed");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    s.ch07(&["network", "rm", &name]).expect_code(0);
}
