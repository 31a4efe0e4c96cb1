//! The attack suite: escapes tried from inside a default container, each
//! of which must fail, and a control case for each (mostly
//! `--privileged`) showing it would have worked without the defence, so
//! that a broken defence fails its test.
//!
//! The probe's `attack` command does the trying (`lab/probe/src/attack.rs`)
//! and prints `attack.NAME: blocked (why)` or `attack.NAME: worked (what)`.

mod common;

use std::path::Path;

use common::Setup;
use lab::privileged::require_root;
use lab::scenario::Outcome;

/// The line the probe printed for `name`.
fn line(outcome: &Outcome, name: &str) -> String {
    outcome
        .value(&format!("attack.{name}"))
        .unwrap_or_else(|| panic!("no attack.{name} line:\n{}", outcome.render()))
        .to_string()
}

/// Runs attack `name` in a default container (plus `options`), asserting
/// it is blocked; then with `control` options, asserting it worked.
fn attack(name: &str, options: &[&str], control: &[&str]) -> (String, String) {
    let s = Setup::new();
    let default = s.run(options, &["/probe", "attack", name]);
    default.expect_code(0);
    let blocked = line(&default, name);
    assert!(blocked.starts_with("blocked ("), "{}", default.render());
    let controlled = s.run(control, &["/probe", "attack", name]);
    controlled.expect_code(0);
    let worked = line(&controlled, name);
    assert!(worked.starts_with("worked ("), "{}", controlled.render());
    assert!(s.mounts().is_empty(), "a mount outlived the run");
    (blocked, worked)
}

macro_rules! attacks {
    ($($test:ident: $name:literal, control $control:expr;)*) => {
        $(
            #[test]
            fn $test() {
                if !require_root() {
                    return;
                }
                attack($name, &[], $control);
            }
        )*
    };
}

const PRIVILEGED: &[&str] = &["--privileged"];

attacks! {
    // CAP_SYS_ADMIN (and the filter: mount is gated on it).
    mount_a_filesystem: "mount", control PRIVILEGED;
    // Remounts need CAP_SYS_ADMIN; /proc/sys is read-only, /sys is read-only.
    remount_proc_sys_read_write: "remount-proc-sys", control PRIVILEGED;
    remount_sys_read_write: "remount-sys", control PRIVILEGED;
    // Read-only /proc/sys: core_pattern names a program the host runs as root.
    write_proc_sys_kernel: "core-pattern", control PRIVILEGED;
    // Masked: the host's keyrings and timers.
    read_proc_keys: "keys", control PRIVILEGED;
    read_proc_timer_list: "timer-list", control PRIVILEGED;
    // The filter: keyctl, modules, kexec, bpf, the clock, the kernel log.
    keyctl: "keyctl", control PRIVILEGED;
    load_a_module: "module", control PRIVILEGED;
    kexec_load: "kexec", control PRIVILEGED;
    load_bpf: "bpf", control PRIVILEGED;
    set_the_clock: "clock", control PRIVILEGED;
    read_the_kernel_log: "syslog", control PRIVILEGED;
    io_ports: "ioperm", control PRIVILEGED;
    // CAP_SYS_ADMIN, and the filter (sethostname is gated on it).
    change_the_hostname: "hostname", control PRIVILEGED;
    // The filter: unshare is gated on CAP_SYS_ADMIN.
    new_user_namespace: "unshare-user", control PRIVILEGED;
    // CAP_DAC_READ_SEARCH, and the filter.
    shocker_open_by_handle: "shocker", control PRIVILEGED;
    // The pid namespace hides every process outside.
    ptrace_outside: "ptrace", control &["--privileged", "--share", "pid"];
    host_root_through_proc: "proc-root", control &["--privileged", "--share", "pid"];
    // CAP_SYS_ADMIN; and the cgroup namespace stops even a privileged
    // container from making a new hierarchy (the release_agent escape).
    mount_cgroup_v1_release_agent: "cgroup-mount", control &["--privileged", "--share", "cgroup"];
}

/// /proc/kcore (the host's memory) and /proc/sysrq-trigger exist only on
/// kernels built with them; where they do, the control case reads or
/// opens them. Masked or read-only either way in a default container.
#[test]
fn read_proc_kcore_and_sysrq_trigger() {
    if !require_root() {
        return;
    }
    let s = Setup::new();
    let default = s.run(&[], &["/probe", "attack", "kcore", "sysrq-trigger"]);
    let control = s.run(PRIVILEGED, &["/probe", "attack", "kcore", "sysrq-trigger"]);
    for (name, path) in [
        ("kcore", "/proc/kcore"),
        ("sysrq-trigger", "/proc/sysrq-trigger"),
    ] {
        assert!(line(&default, name).starts_with("blocked ("));
        let expected = if Path::new(path).exists() {
            "worked ("
        } else {
            "blocked (No such file or directory)"
        };
        assert!(
            line(&control, name).starts_with(expected),
            "{}",
            control.render()
        );
    }
}

/// `mknod` of the host's disk fails although the container holds
/// CAP_MKNOD: the device controller refuses the number. With
/// `--privileged` the node is made (this host's own sandbox may still
/// refuse to open its disk, which says nothing about the container).
#[test]
fn mknod_the_host_disk() {
    if !require_root() {
        return;
    }
    let s = Setup::new();
    let default = s.run(&[], &["/probe", "attack", "mknod-disk"]);
    let blocked = line(&default, "mknod-disk");
    assert!(
        blocked.starts_with("blocked (mknod: "),
        "{}",
        default.render()
    );
    let control = s.run(PRIVILEGED, &["/probe", "attack", "mknod-disk"]);
    let past_mknod = line(&control, "mknod-disk");
    assert!(
        past_mknod.starts_with("worked (") || past_mknod.starts_with("blocked (open: "),
        "{}",
        control.render()
    );
    // --device gives one device, and only that one.
    let zero = s.run(
        &["--device", "/dev/zero:/dev/extra-zero"],
        &["sh", "-c", "head -c 4 /dev/extra-zero | wc -c"],
    );
    zero.expect_code(0);
    assert_eq!(zero.stdout.trim(), "4", "{}", zero.render());
}

/// CVE-2019-5736: with `--init`, pid 1 runs the engine's code. Chapter 6
/// runs it from the binary on the host (busy while it runs, writable the
/// moment it stops); chapter 7 from a sealed memfd copy, and not dumpable.
#[test]
fn overwrite_the_runtime_through_proc_exe() {
    if !require_root() {
        return;
    }
    let s = Setup::new();
    let default = s.run(&["--init"], &["/probe", "attack", "runtime-exe"]);
    assert_eq!(
        line(&default, "runtime-exe"),
        "blocked (/proc/1/exe: Permission denied)"
    );
    // Even with CAP_SYS_PTRACE to read the link: a sealed copy.
    let privileged = s.run(
        &["--init", "--privileged"],
        &["/probe", "attack", "runtime-exe"],
    );
    assert!(
        line(&privileged, "runtime-exe").starts_with("blocked (pid 1 runs a sealed copy, /memfd:"),
        "{}",
        privileged.render()
    );
    let ch06 = chapter6();
    let control = s.program(
        &ch06,
        &[
            "run",
            "--rm",
            "--network",
            "none",
            "--pull",
            "never",
            "--init",
            &s.image,
            "/probe",
            "attack",
            "runtime-exe",
        ],
    );
    assert!(
        line(&control, "runtime-exe").starts_with("worked (pid 1 is the host's "),
        "{}",
        control.render()
    );
}

/// The previous chapter's binary, built if needed (the lab VM has no
/// cargo: there the binary built on the host is used).
fn chapter6() -> std::path::PathBuf {
    let bin = lab::paths::workspace_bin("ch06-images");
    let built = std::process::Command::new(lab::paths::cargo())
        .current_dir(lab::paths::workspace())
        .args([
            "build",
            "--quiet",
            "-p",
            "ch06-images",
            "--bin",
            "ch06-images",
        ])
        .status();
    match built {
        Ok(status) => assert!(status.success(), "building ch06-images"),
        Err(e) => assert!(
            bin.exists(),
            "no cargo ({e}) and no {}: build ch06-images first",
            bin.display()
        ),
    }
    bin
}

/// A fork bomb meets `--pids-limit`; without it, it runs to the probe's
/// own stop at 1000.
#[test]
fn fork_bomb_with_pids_limit() {
    if !require_root() {
        return;
    }
    let s = Setup::new();
    let limited = s.run(&["--pids-limit", "50"], &["/probe", "forkbomb"]);
    limited.expect_code(0);
    let forked: u32 = limited.value("forkbomb.forked").unwrap().parse().unwrap();
    assert!(forked < 50, "{}", limited.render());
    assert_eq!(
        limited.value("forkbomb.stopped"),
        Some("Resource temporarily unavailable")
    );
    let control = s.run(&[], &["/probe", "forkbomb"]);
    assert_eq!(
        control.value("forkbomb.stopped"),
        Some("not refused (stopped at 1000)")
    );
}

/// A memory bomb meets `-m`: the kernel's OOM killer ends it (137).
#[test]
fn memory_bomb_with_memory_limit() {
    if !require_root() {
        return;
    }
    let s = Setup::new();
    let limited = s.run(&["-m", "64m"], &["/probe", "attack", "memory"]);
    assert_eq!(limited.code, 137, "{}", limited.render());
    assert!(limited.value("attack.memory").is_none());
    let control = s.run(&[], &["/probe", "attack", "memory"]);
    control.expect_code(0);
    assert_eq!(
        control.value("attack.memory"),
        Some("worked (256 MiB allocated)")
    );
}

/// A raw socket (ARP or DHCP spoofing on the bridge) works with Docker's
/// defaults, which keep CAP_NET_RAW for ping; `--cap-drop NET_RAW` stops it.
#[test]
fn raw_socket_needs_cap_drop_net_raw() {
    if !require_root() {
        return;
    }
    let (blocked, worked) = attack("raw-socket", &["--cap-drop", "NET_RAW"], &[]);
    assert_eq!(blocked, "blocked (Operation not permitted)");
    assert_eq!(worked, "worked (a raw packet socket)");
}

/// Every attack in one default container: the table the book shows.
#[test]
fn attack_table() {
    if !require_root() {
        return;
    }
    let s = Setup::new();
    let all = s.run(&[], &["/probe", "attack", "all"]);
    all.expect_code(0);
    for l in all.stdout.lines() {
        let allowed_by_docker = l.starts_with("attack.raw-socket: ");
        assert_eq!(
            l.contains(": blocked ("),
            !allowed_by_docker,
            "{}",
            all.render()
        );
    }
    // kcore and sysrq-trigger exist only on some kernels (and have a
    // test of their own): the table shows the rest.
    let shown: String = all
        .render()
        .lines()
        .filter(|l| !l.starts_with("attack.kcore:") && !l.starts_with("attack.sysrq-trigger:"))
        .map(|l| format!("{l}\n"))
        .collect();
    insta::assert_snapshot!("attack_table", shown);
}

/// CVE-2024-21626: a descriptor of a host directory, still open in the
/// child, as the working directory (`-w /proc/self/fd/N`) would put the
/// command outside its root. Set up here by hand (chapter 2 leaves no
/// such descriptor to find): a thread with its own mount namespace and
/// root, holding a descriptor of a directory outside it.
#[test]
fn leaked_directory_as_working_directory() {
    if !require_root() {
        return;
    }
    use ch02_namespaces::{ChildContext, ChildStep, Spec};
    use ch07_security::hygiene::CheckWorkdir;
    use nix::mount::{MsFlags, mount};
    use std::os::fd::AsRawFd;

    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    std::fs::create_dir_all(root.join("proc")).unwrap();
    let outside = tmp.path().to_path_buf();
    let (checked, escaped) = std::thread::spawn(move || {
        // This thread alone: its own filesystem context and mounts.
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS).unwrap();
        let private = MsFlags::MS_REC | MsFlags::MS_PRIVATE;
        mount(None::<&str>, "/", None::<&str>, private, None::<&str>).unwrap();
        mount(
            Some("proc"),
            &root.join("proc"),
            Some("proc"),
            MsFlags::empty(),
            None::<&str>,
        )
        .unwrap();
        let leaked = std::fs::File::open(&outside).unwrap();
        nix::unistd::chroot(&root).unwrap();
        nix::unistd::chdir("/").unwrap();
        let mut spec = Spec::new("/", vec![]);
        spec.cwd = format!("/proc/self/fd/{}", leaked.as_raw_fd()).into();
        let mut ctx = ChildContext {
            spec: &spec,
            rootfs: "/".into(),
            pivoted: true,
        };
        let checked = CheckWorkdir.run(&mut ctx);
        // The control: a plain chdir lands outside, where getcwd cannot
        // name the directory from this root.
        nix::unistd::chdir(&spec.cwd).unwrap();
        let escaped = nix::unistd::getcwd();
        (checked, escaped)
    })
    .join()
    .unwrap();
    let error = checked.unwrap_err();
    assert_eq!(error.code, 125);
    assert!(
        error.message.ends_with("is outside the container's root"),
        "{}",
        error.message
    );
    assert!(escaped.is_err_and(|e| e == nix::Error::ENOENT));
}
