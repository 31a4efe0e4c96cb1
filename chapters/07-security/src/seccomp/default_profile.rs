//! The default profile: the behaviour of Docker's (moby's
//! `profiles/seccomp/default.json`), written as this chapter's own tables.
//!
//! Allow-list: every syscall not named here fails with `EPERM`. Most are
//! allowed whatever their arguments; a few only with harmless arguments
//! (`socket` without `AF_ALG` or `AF_VSOCK`, `personality` with the values programs
//! use, `clone` without namespace flags); some only when the container
//! holds the capability that makes them meaningful (`mount` with
//! `CAP_SYS_ADMIN`, `reboot` with `CAP_SYS_BOOT`, ...). `clone3` cannot be
//! filtered by its flags (they are in memory, which BPF cannot read), so
//! without `CAP_SYS_ADMIN` it fails with `ENOSYS`: callers (glibc) then
//! fall back to `clone`, whose flags the filter does see.

use super::profile::{Action, ArgCheck, Conditions, Op, Profile, Rule};

// ANCHOR: always
/// Allowed to every container, whatever the arguments.
pub const ALWAYS: &[&str] = &[
    "accept",
    "accept4",
    "access",
    "adjtimex",
    "alarm",
    "bind",
    "brk",
    "cachestat",
    "capget",
    "capset",
    "chdir",
    "chmod",
    "chown",
    "chown32",
    "clock_adjtime",
    "clock_adjtime64",
    "clock_getres",
    "clock_getres_time64",
    "clock_gettime",
    "clock_gettime64",
    "clock_nanosleep",
    "clock_nanosleep_time64",
    "close",
    "close_range",
    "connect",
    "copy_file_range",
    "creat",
    "dup",
    "dup2",
    "dup3",
    "epoll_create",
    "epoll_create1",
    "epoll_ctl",
    "epoll_ctl_old",
    "epoll_pwait",
    "epoll_pwait2",
    "epoll_wait",
    "epoll_wait_old",
    "eventfd",
    "eventfd2",
    "execve",
    "execveat",
    "exit",
    "exit_group",
    "faccessat",
    "faccessat2",
    "fadvise64",
    "fadvise64_64",
    "fallocate",
    "fanotify_mark",
    "fchdir",
    "fchmod",
    "fchmodat",
    "fchmodat2",
    "fchown",
    "fchown32",
    "fchownat",
    "fcntl",
    "fcntl64",
    "fdatasync",
    "fgetxattr",
    "flistxattr",
    "flock",
    "fork",
    "fremovexattr",
    "fsetxattr",
    "fstat",
    "fstat64",
    "fstatat64",
    "fstatfs",
    "fstatfs64",
    "fsync",
    "ftruncate",
    "ftruncate64",
    "futex",
    "futex_requeue",
    "futex_time64",
    "futex_wait",
    "futex_waitv",
    "futex_wake",
    "futimesat",
    "getcpu",
    "getcwd",
    "getdents",
    "getdents64",
    "getegid",
    "getegid32",
    "geteuid",
    "geteuid32",
    "getgid",
    "getgid32",
    "getgroups",
    "getgroups32",
    "getitimer",
    "getpeername",
    "getpgid",
    "getpgrp",
    "getpid",
    "getppid",
    "getpriority",
    "getrandom",
    "getresgid",
    "getresgid32",
    "getresuid",
    "getresuid32",
    "getrlimit",
    "get_robust_list",
    "getrusage",
    "getsid",
    "getsockname",
    "getsockopt",
    "get_thread_area",
    "gettid",
    "gettimeofday",
    "getuid",
    "getuid32",
    "getxattr",
    "getxattrat",
    "inotify_add_watch",
    "inotify_init",
    "inotify_init1",
    "inotify_rm_watch",
    "io_cancel",
    "ioctl",
    "io_destroy",
    "io_getevents",
    "io_pgetevents",
    "io_pgetevents_time64",
    "ioprio_get",
    "ioprio_set",
    "io_setup",
    "io_submit",
    "ipc",
    "kill",
    "landlock_add_rule",
    "landlock_create_ruleset",
    "landlock_restrict_self",
    "lchown",
    "lchown32",
    "lgetxattr",
    "link",
    "linkat",
    "listen",
    "listmount",
    "listxattr",
    "listxattrat",
    "llistxattr",
    "_llseek",
    "lremovexattr",
    "lseek",
    "lsetxattr",
    "lstat",
    "lstat64",
    "madvise",
    "map_shadow_stack",
    "membarrier",
    "memfd_create",
    "memfd_secret",
    "mincore",
    "mkdir",
    "mkdirat",
    "mknod",
    "mknodat",
    "mlock",
    "mlock2",
    "mlockall",
    "mmap",
    "mmap2",
    "mprotect",
    "mq_getsetattr",
    "mq_notify",
    "mq_open",
    "mq_timedreceive",
    "mq_timedreceive_time64",
    "mq_timedsend",
    "mq_timedsend_time64",
    "mq_unlink",
    "mremap",
    "mseal",
    "msgctl",
    "msgget",
    "msgrcv",
    "msgsnd",
    "msync",
    "munlock",
    "munlockall",
    "munmap",
    "name_to_handle_at",
    "nanosleep",
    "newfstatat",
    "_newselect",
    "open",
    "openat",
    "openat2",
    "pause",
    "pidfd_open",
    "pidfd_send_signal",
    "pipe",
    "pipe2",
    "pkey_alloc",
    "pkey_free",
    "pkey_mprotect",
    "poll",
    "ppoll",
    "ppoll_time64",
    "prctl",
    "pread64",
    "preadv",
    "preadv2",
    "prlimit64",
    "process_mrelease",
    "pselect6",
    "pselect6_time64",
    "pwrite64",
    "pwritev",
    "pwritev2",
    "read",
    "readahead",
    "readlink",
    "readlinkat",
    "readv",
    "recv",
    "recvfrom",
    "recvmmsg",
    "recvmmsg_time64",
    "recvmsg",
    "remap_file_pages",
    "removexattr",
    "removexattrat",
    "rename",
    "renameat",
    "renameat2",
    "restart_syscall",
    "riscv_hwprobe",
    "rmdir",
    "rseq",
    "rt_sigaction",
    "rt_sigpending",
    "rt_sigprocmask",
    "rt_sigqueueinfo",
    "rt_sigreturn",
    "rt_sigsuspend",
    "rt_sigtimedwait",
    "rt_sigtimedwait_time64",
    "rt_tgsigqueueinfo",
    "sched_getaffinity",
    "sched_getattr",
    "sched_getparam",
    "sched_get_priority_max",
    "sched_get_priority_min",
    "sched_getscheduler",
    "sched_rr_get_interval",
    "sched_rr_get_interval_time64",
    "sched_setaffinity",
    "sched_setattr",
    "sched_setparam",
    "sched_setscheduler",
    "sched_yield",
    "seccomp",
    "select",
    "semctl",
    "semget",
    "semop",
    "semtimedop",
    "semtimedop_time64",
    "send",
    "sendfile",
    "sendfile64",
    "sendmmsg",
    "sendmsg",
    "sendto",
    "setfsgid",
    "setfsgid32",
    "setfsuid",
    "setfsuid32",
    "setgid",
    "setgid32",
    "setgroups",
    "setgroups32",
    "setitimer",
    "setpgid",
    "setpriority",
    "setregid",
    "setregid32",
    "setresgid",
    "setresgid32",
    "setresuid",
    "setresuid32",
    "setreuid",
    "setreuid32",
    "setrlimit",
    "set_robust_list",
    "setsid",
    "setsockopt",
    "set_thread_area",
    "set_tid_address",
    "setuid",
    "setuid32",
    "setxattr",
    "setxattrat",
    "shmat",
    "shmctl",
    "shmdt",
    "shmget",
    "shutdown",
    "sigaltstack",
    "signalfd",
    "signalfd4",
    "sigprocmask",
    "sigreturn",
    "socketcall",
    "socketpair",
    "splice",
    "stat",
    "stat64",
    "statfs",
    "statfs64",
    "statmount",
    "statx",
    "symlink",
    "symlinkat",
    "sync",
    "sync_file_range",
    "syncfs",
    "sysinfo",
    "tee",
    "tgkill",
    "time",
    "timer_create",
    "timer_delete",
    "timer_getoverrun",
    "timer_gettime",
    "timer_gettime64",
    "timer_settime",
    "timer_settime64",
    "timerfd_create",
    "timerfd_gettime",
    "timerfd_gettime64",
    "timerfd_settime",
    "timerfd_settime64",
    "times",
    "tkill",
    "truncate",
    "truncate64",
    "ugetrlimit",
    "umask",
    "uname",
    "unlink",
    "unlinkat",
    "uretprobe",
    "utime",
    "utimensat",
    "utimensat_time64",
    "utimes",
    "vfork",
    "vmsplice",
    "wait4",
    "waitid",
    "waitpid",
    "write",
    "writev",
];
// ANCHOR_END: always

// ANCHOR: by_capability
/// Allowed when the container holds the capability.
pub const BY_CAPABILITY: &[(&str, &[&str])] = &[
    ("CAP_DAC_READ_SEARCH", &["open_by_handle_at"]),
    (
        "CAP_SYS_ADMIN",
        &[
            "bpf",
            "clone",
            "clone3",
            "fanotify_init",
            "fsconfig",
            "fsmount",
            "fsopen",
            "fspick",
            "lookup_dcookie",
            "lsm_get_self_attr",
            "lsm_list_modules",
            "lsm_set_self_attr",
            "mount",
            "mount_setattr",
            "move_mount",
            "open_tree",
            "perf_event_open",
            "quotactl",
            "quotactl_fd",
            "setdomainname",
            "sethostname",
            "setns",
            "syslog",
            "umount",
            "umount2",
            "unshare",
        ],
    ),
    ("CAP_SYS_BOOT", &["reboot"]),
    ("CAP_SYS_CHROOT", &["chroot"]),
    (
        "CAP_SYS_MODULE",
        &["delete_module", "init_module", "finit_module"],
    ),
    ("CAP_SYS_PACCT", &["acct"]),
    (
        "CAP_SYS_PTRACE",
        &[
            "kcmp",
            "pidfd_getfd",
            "process_madvise",
            "process_vm_readv",
            "process_vm_writev",
            "ptrace",
        ],
    ),
    ("CAP_SYS_RAWIO", &["iopl", "ioperm"]),
    (
        "CAP_SYS_TIME",
        &["settimeofday", "stime", "clock_settime", "clock_settime64"],
    ),
    ("CAP_SYS_TTY_CONFIG", &["vhangup"]),
    (
        "CAP_SYS_NICE",
        &[
            "get_mempolicy",
            "mbind",
            "set_mempolicy",
            "set_mempolicy_home_node",
        ],
    ),
    ("CAP_SYSLOG", &["syslog"]),
    ("CAP_BPF", &["bpf"]),
    ("CAP_PERFMON", &["perf_event_open"]),
];
// ANCHOR_END: by_capability

/// Allowed on these architectures only (Docker's names).
pub const BY_ARCH: &[(&[&str], &[&str])] = &[
    (&["ppc64le"], &["sync_file_range2", "swapcontext"]),
    (
        &["arm", "arm64"],
        &[
            "arm_fadvise64_64",
            "arm_sync_file_range",
            "sync_file_range2",
            "breakpoint",
            "cacheflush",
            "set_tls",
        ],
    ),
    (&["amd64", "x32"], &["arch_prctl"]),
    (&["amd64", "x32", "x86"], &["modify_ldt"]),
    (
        &["s390", "s390x"],
        &[
            "s390_pci_mmio_read",
            "s390_pci_mmio_write",
            "s390_runtime_instr",
        ],
    ),
    (&["riscv64"], &["riscv_flush_icache"]),
];

/// `clone`'s flags that create namespaces: refused without `CAP_SYS_ADMIN`.
pub const NAMESPACE_FLAGS: u64 = (libc::CLONE_NEWNS
    | libc::CLONE_NEWCGROUP
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUSER
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWNET) as u64;

/// `personality` values programs use: Linux, with `UNAME26`, with
/// `READ_IMPLIES_EXEC` ... and the query `0xffffffff`.
pub const PERSONALITIES: &[u64] = &[0x0, 0x8, 0x20000, 0x20008, 0xffff_ffff];

/// The socket families refused: `AF_ALG` (the kernel's crypto, a long
/// line of bugs) and `AF_VSOCK` (a path to the hypervisor), as the allowed
/// ranges around them.
const SOCKET_FAMILIES: &[(Op, i32)] = &[
    (Op::Lt, libc::AF_ALG),
    (Op::Eq, libc::AF_NFC),
    (Op::Gt, libc::AF_VSOCK),
];

fn check(index: u8, op: Op, value: u64) -> ArgCheck {
    ArgCheck {
        index,
        op,
        value,
        value_two: 0,
    }
}

fn rule(names: &[&str], action: Action, args: Vec<ArgCheck>) -> Rule {
    Rule {
        names: names.iter().map(|n| n.to_string()).collect(),
        action,
        args,
        includes: Conditions::default(),
        excludes: Conditions::default(),
    }
}

fn caps(names: &[&str]) -> Conditions {
    Conditions {
        caps: names.iter().map(|c| c.to_string()).collect(),
        ..Conditions::default()
    }
}

// ANCHOR: default_profile
/// Docker's default profile, as a [`Profile`] like any loaded from JSON.
pub fn default_profile() -> Profile {
    let allow = Action::Allow;
    let mut rules = vec![rule(ALWAYS, allow, vec![])];
    // Tracing other processes: allowed since 4.8, where seccomp is
    // rechecked after a tracer changes a syscall.
    let mut tracing = rule(
        &["process_vm_readv", "process_vm_writev", "ptrace"],
        allow,
        vec![],
    );
    tracing.includes.min_kernel = Some((4, 8));
    rules.push(tracing);
    for &(op, family) in SOCKET_FAMILIES {
        rules.push(rule(&["socket"], allow, vec![check(0, op, family as u64)]));
    }
    for &value in PERSONALITIES {
        rules.push(rule(&["personality"], allow, vec![check(0, Op::Eq, value)]));
    }
    for (arches, names) in BY_ARCH {
        let mut r = rule(names, allow, vec![]);
        r.includes.arches = arches.iter().map(|a| a.to_string()).collect();
        rules.push(r);
    }
    for (cap, names) in BY_CAPABILITY {
        let mut r = rule(names, allow, vec![]);
        r.includes = caps(&[cap]);
        rules.push(r);
    }
    // Without CAP_SYS_ADMIN: clone without namespace flags (x86 and arm
    // pass the flags first), and clone3 "not implemented".
    let no_namespaces = ArgCheck {
        index: 0,
        op: Op::MaskedEq,
        value: NAMESPACE_FLAGS,
        value_two: 0,
    };
    let mut plain_clone = rule(&["clone"], allow, vec![no_namespaces]);
    plain_clone.excludes = caps(&["CAP_SYS_ADMIN"]);
    rules.push(plain_clone);
    let mut clone3 = rule(&["clone3"], Action::Errno(libc::ENOSYS as u32), vec![]);
    clone3.excludes = caps(&["CAP_SYS_ADMIN"]);
    rules.push(clone3);
    Profile {
        default_action: Action::Errno(libc::EPERM as u32),
        rules,
    }
}
// ANCHOR_END: default_profile

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::seccomp::profile::Target;

    fn target(caps: &[&str]) -> Target {
        Target {
            caps: caps.iter().map(|c| c.to_string()).collect(),
            arch: "amd64",
            kernel: (6, 1),
        }
    }

    #[test]
    fn docker_counts() {
        // moby's default.json allows 361 syscalls unconditionally.
        assert_eq!(ALWAYS.len(), 361);
        let unique: BTreeSet<_> = ALWAYS.iter().collect();
        assert_eq!(unique.len(), 361);
        assert_eq!(NAMESPACE_FLAGS, 2114060288);
    }

    #[test]
    fn gated_by_capability() {
        let plain = default_profile().resolve(&target(&[]));
        let allow = &plain.actions[&Action::Allow];
        for nr in [libc::SYS_mount, libc::SYS_unshare, libc::SYS_kexec_load] {
            assert!(!allow.contains_key(&nr), "{nr}");
        }
        assert!(allow.contains_key(&libc::SYS_read));
        assert!(allow.contains_key(&libc::SYS_ptrace));
        // Newer than libc's tables, allowed all the same.
        let futex_wait = crate::seccomp::syscalls::number("futex_wait").unwrap();
        assert!(allow.contains_key(&futex_wait));
        assert_eq!(allow[&libc::SYS_personality].len(), 5);
        assert_eq!(allow[&libc::SYS_socket].len(), 3);
        assert_eq!(allow[&libc::SYS_clone].len(), 1);
        assert!(plain.actions[&Action::Errno(38)].contains_key(&libc::SYS_clone3));

        let admin = default_profile().resolve(&target(&["CAP_SYS_ADMIN"]));
        let allow = &admin.actions[&Action::Allow];
        assert!(allow.contains_key(&libc::SYS_mount));
        assert!(allow[&libc::SYS_clone].contains(&Vec::new()));
        assert!(!admin.actions.contains_key(&Action::Errno(38)));
        // Never allowed: not even with every capability.
        assert!(!allow.contains_key(&libc::SYS_kexec_load));
        assert!(!allow.contains_key(&libc::SYS_keyctl));
    }
}
