//! `security`: what chapter 7 takes away, as seen from inside.

use std::fs;

use crate::read;

/// Capability names by bit number (capabilities(7)).
pub const CAP_NAMES: &[&str] = &[
    "chown",
    "dac_override",
    "dac_read_search",
    "fowner",
    "fsetid",
    "kill",
    "setgid",
    "setuid",
    "setpcap",
    "linux_immutable",
    "net_bind_service",
    "net_broadcast",
    "net_admin",
    "net_raw",
    "ipc_lock",
    "ipc_owner",
    "sys_module",
    "sys_rawio",
    "sys_chroot",
    "sys_ptrace",
    "sys_pacct",
    "sys_admin",
    "sys_boot",
    "sys_nice",
    "sys_resource",
    "sys_time",
    "sys_tty_config",
    "mknod",
    "lease",
    "audit_write",
    "audit_control",
    "setfcap",
    "mac_override",
    "mac_admin",
    "syslog",
    "wake_alarm",
    "block_suspend",
    "audit_read",
    "perfmon",
    "bpf",
    "checkpoint_restore",
];

/// Docker's masked paths, then its read-only paths.
const MASKED: &[&str] = &[
    "/proc/asound",
    "/proc/acpi",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];
const READ_ONLY: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// `14 chown dac_override ...` from a `CapEff`-style hex mask.
pub fn cap_list(hex: &str) -> String {
    let bits = u64::from_str_radix(hex.trim(), 16).unwrap_or(0);
    let names: Vec<String> = (0..64)
        .filter(|b| bits & (1 << b) != 0)
        .map(|b| {
            CAP_NAMES
                .get(b)
                .map_or(format!("cap_{b}"), |n| n.to_string())
        })
        .collect();
    if names.is_empty() {
        "0".to_string()
    } else {
        format!("{} {}", names.len(), names.join(" "))
    }
}

pub fn security() {
    let Some(status) = read("/proc/self/status") else {
        println!("security: unavailable (no /proc)");
        return;
    };
    let field = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
            .map(|v| v.trim().to_string())
    };
    // SAFETY: cannot fail.
    let euid = unsafe { libc::geteuid() };
    println!("security.euid: {euid}");
    for (key, label) in [
        ("CapBnd", "bounding"),
        ("CapPrm", "permitted"),
        ("CapEff", "effective"),
        ("CapInh", "inheritable"),
        ("CapAmb", "ambient"),
    ] {
        let value = field(key).map_or("unavailable".to_string(), |v| cap_list(&v));
        println!("security.cap.{label}: {value}");
    }
    for (key, label) in [
        ("NoNewPrivs", "no_new_privs"),
        ("Seccomp", "seccomp.mode"),
        ("Seccomp_filters", "seccomp.filters"),
    ] {
        println!(
            "security.{label}: {}",
            field(key).unwrap_or_else(|| "unavailable".into())
        );
    }
    // clone3 with no arguments: EINVAL from the kernel, ENOSYS from a
    // filter that hides it (its flags are out of the filter's reach).
    // SAFETY: the kernel rejects a null, zero-sized argument.
    let rc = unsafe { libc::syscall(libc::SYS_clone3, std::ptr::null::<u8>(), 0usize) };
    let clone3 = if rc < 0 {
        let e = std::io::Error::last_os_error();
        let name = match e.raw_os_error() {
            Some(libc::ENOSYS) => "ENOSYS",
            Some(libc::EINVAL) => "EINVAL",
            Some(libc::EPERM) => "EPERM",
            _ => "other",
        };
        name.to_string()
    } else {
        "ok".to_string()
    };
    println!("security.clone3: {clone3}");
    for (name, result) in argument_checks() {
        println!("security.args.{name}: {result}");
    }
    let mounts = read("/proc/self/mountinfo").unwrap_or_default();
    for path in MASKED.iter().chain(READ_ONLY) {
        println!("security.path: {path} {}", cover(path, &mounts));
    }
}

/// What covers `path`: `masked` (/dev/null or an empty tmpfs), `read-only`
/// (a read-only mount of its own), `visible`, or `absent`.
fn cover(path: &str, mountinfo: &str) -> &'static str {
    let Ok(meta) = fs::symlink_metadata(path) else {
        return "absent";
    };
    // The last mount on exactly this path is the one on top.
    let top = mountinfo
        .lines()
        .rev()
        .find(|l| l.split(' ').nth(4) == Some(path));
    let Some(line) = top else {
        return "visible";
    };
    let fstype = line
        .split_once(" - ")
        .and_then(|(_, r)| r.split_whitespace().next())
        .unwrap_or("");
    let options = line.split(' ').nth(5).unwrap_or("");
    use std::os::unix::fs::FileTypeExt;
    if meta.file_type().is_char_device() || (meta.is_dir() && fstype == "tmpfs") {
        "masked"
    } else if options.split(',').any(|o| o == "ro") {
        "read-only"
    } else {
        "visible"
    }
}

/// `ok` or the errno's name.
fn answer(rc: i64) -> String {
    if rc >= 0 {
        return "ok".to_string();
    }
    let e = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
    match e {
        libc::EPERM => "EPERM".to_string(),
        libc::EAFNOSUPPORT => "EAFNOSUPPORT".to_string(),
        libc::EINVAL => "EINVAL".to_string(),
        libc::ENOSYS => "ENOSYS".to_string(),
        other => format!("errno {other}"),
    }
}

/// Syscalls a filter can allow or refuse by their arguments: `clone` with
/// a namespace flag (a user namespace needs no capability from the
/// kernel), `personality` turning off address randomisation, `socket` of
/// the families Docker refuses.
fn argument_checks() -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    // SAFETY: a raw clone whose child exits at once; we reap it.
    let pid = unsafe {
        libc::syscall(
            libc::SYS_clone,
            (libc::CLONE_NEWUSER | libc::SIGCHLD) as usize,
            0usize,
            0usize,
            0usize,
            0usize,
        )
    };
    if pid == 0 {
        unsafe { libc::_exit(0) };
    }
    let clone = answer(pid);
    if pid > 0 {
        unsafe { libc::waitpid(pid as i32, std::ptr::null_mut(), 0) };
    }
    out.push(("clone-newuser", clone));
    // SAFETY: personality is read, changed, and set back.
    let old = unsafe { libc::personality(0xffff_ffff) };
    let rc = unsafe { libc::personality(libc::ADDR_NO_RANDOMIZE as libc::c_ulong) };
    let no_aslr = answer(rc as i64);
    if rc >= 0 && old >= 0 {
        unsafe { libc::personality(old as libc::c_ulong) };
    }
    out.push(("personality-no-aslr", no_aslr));
    for (name, family) in [
        ("socket-alg", libc::AF_ALG),
        ("socket-vsock", libc::AF_VSOCK),
    ] {
        // SAFETY: a socket closed at once.
        let fd = unsafe { libc::socket(family, libc::SOCK_SEQPACKET, 0) };
        let result = answer(fd as i64);
        if fd >= 0 {
            unsafe { libc::close(fd) };
        }
        out.push((name, result));
    }
    out
}
