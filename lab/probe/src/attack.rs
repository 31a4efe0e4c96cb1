//! `probe attack NAME...`: escapes a container must not manage.
//!
//! Each attack tries one way out or up and prints one line:
//! `attack.NAME: blocked (REASON)` or `attack.NAME: worked (WHAT)`. They
//! are written to leave nothing behind when they work (the `--privileged`
//! control cases run them too): they open for writing without writing,
//! call privileged syscalls with arguments the kernel then rejects, or
//! undo what they did.

use std::ffi::CString;
use std::fs;
use std::io::Read;
use std::os::unix::fs::MetadataExt;

/// What an attempt came to.
enum Outcome {
    Blocked(String),
    Worked(String),
}
use Outcome::{Blocked, Worked};

type Attack = (&'static str, fn() -> Outcome);

const ATTACKS: &[Attack] = &[
    ("mount", mount_tmpfs),
    ("cgroup-mount", cgroup_mount),
    ("remount-proc-sys", remount_proc_sys),
    ("remount-sys", remount_sys),
    ("sysrq-trigger", sysrq_trigger),
    ("core-pattern", core_pattern),
    ("kcore", kcore),
    ("keys", keys),
    ("timer-list", timer_list),
    ("keyctl", keyctl),
    ("mknod-disk", mknod_disk),
    ("module", module),
    ("kexec", kexec),
    ("ptrace", ptrace_outside),
    ("unshare-user", unshare_user),
    ("proc-root", proc_root),
    ("runtime-exe", runtime_exe),
    ("hostname", hostname),
    ("clock", clock),
    ("bpf", bpf),
    ("shocker", shocker),
    ("syslog", syslog),
    ("ioperm", ioperm),
    ("raw-socket", raw_socket),
    ("memory", memory),
];

/// Runs the named attacks (`all`: every one but `memory`); 2 on a bad name.
pub fn run(names: &[String]) -> i32 {
    let chosen: Vec<&Attack> = if names.iter().any(|n| n == "all") {
        ATTACKS.iter().filter(|(n, _)| *n != "memory").collect()
    } else {
        let mut chosen = Vec::new();
        for name in names {
            match ATTACKS.iter().find(|(n, _)| n == name) {
                Some(a) => chosen.push(a),
                None => {
                    let known: Vec<&str> = ATTACKS.iter().map(|(n, _)| *n).collect();
                    eprintln!(
                        "probe: unknown attack {name:?} (known: all, {})",
                        known.join(", ")
                    );
                    return 2;
                }
            }
        }
        chosen
    };
    for (name, attack) in chosen {
        match attack() {
            Blocked(why) => println!("attack.{name}: blocked ({why})"),
            Worked(what) => println!("attack.{name}: worked ({what})"),
        }
    }
    0
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// The kernel's words for an errno.
fn describe(code: i32) -> String {
    let text = std::io::Error::from_raw_os_error(code).to_string();
    text.split(" (os error").next().unwrap_or("").to_string()
}

fn c(text: &str) -> CString {
    CString::new(text).expect("no NUL")
}

/// A privileged syscall called with arguments the kernel rejects after
/// its permission checks: EPERM means it was stopped at the door; any
/// other answer means it got past it.
fn at_the_door(rc: i64, what: &str) -> Outcome {
    let e = errno();
    if rc >= 0 {
        Worked(what.to_string())
    } else if e == libc::EPERM || e == libc::EACCES {
        Blocked(describe(e))
    } else {
        Worked(format!(
            "{what}: past the permission checks, the kernel said {}",
            describe(e)
        ))
    }
}

fn mount_tmpfs() -> Outcome {
    let target = c("/mnt");
    // SAFETY: plain mount/umount of a new tmpfs on the container's /mnt.
    let rc = unsafe {
        libc::mount(
            c("tmpfs").as_ptr(),
            target.as_ptr(),
            c("tmpfs").as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    if rc != 0 {
        return Blocked(describe(errno()));
    }
    unsafe { libc::umount(target.as_ptr()) };
    Worked("mounted a tmpfs".into())
}

/// The release_agent escape (CVE-2022-0492) starts by mounting a cgroup v1
/// hierarchy: a new named one works on v1 and v2 hosts alike.
fn cgroup_mount() -> Outcome {
    let dir = "/tmp/berth-cgroup-attack";
    let _ = fs::create_dir(dir);
    let target = c(dir);
    // SAFETY: mount/umount on a directory of our own.
    let rc = unsafe {
        libc::mount(
            c("cgroup").as_ptr(),
            target.as_ptr(),
            c("cgroup").as_ptr(),
            0,
            c("none,name=berthattack").as_ptr().cast(),
        )
    };
    let e = errno();
    let outcome = if rc == 0 {
        let agent = fs::metadata(format!("{dir}/release_agent")).is_ok();
        unsafe { libc::umount(target.as_ptr()) };
        Worked(format!(
            "mounted a cgroup v1 hierarchy (release_agent: {agent})"
        ))
    } else {
        Blocked(describe(e))
    };
    let _ = fs::remove_dir(dir);
    outcome
}

fn read_only(path: &str) -> bool {
    // SAFETY: statvfs fills the struct we pass it.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    unsafe { libc::statvfs(c(path).as_ptr(), &mut st) == 0 && st.f_flag & libc::ST_RDONLY != 0 }
}

/// Tries to make `path` writable by remounting it; worked if it is now.
fn remount_writable(path: &str, bind: bool) -> Outcome {
    if !read_only(path) {
        return Worked(format!("{path} is writable"));
    }
    let flags = libc::MS_REMOUNT | if bind { libc::MS_BIND } else { 0 };
    // SAFETY: a remount in the container's own mount namespace.
    let rc = unsafe {
        libc::mount(
            std::ptr::null(),
            c(path).as_ptr(),
            std::ptr::null(),
            flags,
            std::ptr::null(),
        )
    };
    let e = errno();
    if rc == 0 && !read_only(path) {
        Worked(format!("remounted {path} read-write"))
    } else if rc == 0 {
        Blocked(format!("{path} stayed read-only"))
    } else {
        Blocked(describe(e))
    }
}

fn remount_proc_sys() -> Outcome {
    remount_writable("/proc/sys", true)
}

fn remount_sys() -> Outcome {
    remount_writable("/sys", false)
}

/// Opens for writing (never writes): that open is the whole permission.
fn open_for_writing(path: &str) -> Outcome {
    match fs::OpenOptions::new().write(true).open(path) {
        Ok(_) => Worked(format!("{path} open for writing")),
        Err(e) => Blocked(describe(e.raw_os_error().unwrap_or(0))),
    }
}

fn sysrq_trigger() -> Outcome {
    open_for_writing("/proc/sysrq-trigger")
}

/// core_pattern: a pipe to a program the host's kernel runs as root.
fn core_pattern() -> Outcome {
    open_for_writing("/proc/sys/kernel/core_pattern")
}

fn read_some(path: &str) -> Outcome {
    let mut buf = [0u8; 64];
    match fs::File::open(path).and_then(|mut f| f.read(&mut buf)) {
        Ok(0) => Blocked("reads empty".into()),
        Ok(n) => Worked(format!("read {n} bytes of {path}")),
        Err(e) => Blocked(describe(e.raw_os_error().unwrap_or(0))),
    }
}

/// The host's physical memory.
fn kcore() -> Outcome {
    read_some("/proc/kcore")
}

/// The keys of the host's kernel (not namespaced): add one, look for it.
fn keys() -> Outcome {
    // SAFETY: add_key with constant strings; the key lives in this
    // process's own keyring and goes with it.
    unsafe {
        libc::syscall(
            libc::SYS_add_key,
            c("user").as_ptr(),
            c("berth-attack").as_ptr(),
            c("x").as_ptr(),
            1usize,
            -2i32, // KEY_SPEC_PROCESS_KEYRING
        )
    };
    read_some("/proc/keys")
}

/// Every timer of the host, with pids and kernel symbols.
fn timer_list() -> Outcome {
    read_some("/proc/timer_list")
}

fn keyctl() -> Outcome {
    // KEYCTL_GET_KEYRING_ID of the session keyring, without creating it.
    // SAFETY: reads an id.
    let rc = unsafe { libc::syscall(libc::SYS_keyctl, 0, -3i32, 0) };
    at_the_door(rc, "the kernel keyring answered")
}

/// The first disk of `/proc/partitions` (not namespaced), as `(major, minor, name)`.
fn host_disk() -> Option<(u32, u32, String)> {
    let text = fs::read_to_string("/proc/partitions").ok()?;
    text.lines().skip(2).find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        Some((
            f.first()?.parse().ok()?,
            f.get(1)?.parse().ok()?,
            f.get(3)?.to_string(),
        ))
    })
}

fn mknod_disk() -> Outcome {
    // Without a disk (a VM booted from RAM), the first SCSI disk's number:
    // the node can be made for a device the kernel does not have.
    let (major, minor, name) = host_disk().unwrap_or((8, 0, "sda".into()));
    let node = "/dev/berth-disk";
    // SAFETY: mknod/unlink of a node in the container's own /dev.
    let rc = unsafe {
        libc::mknod(
            c(node).as_ptr(),
            libc::S_IFBLK | 0o600,
            libc::makedev(major, minor),
        )
    };
    if rc != 0 {
        return Blocked(format!("mknod: {}", describe(errno())));
    }
    let mut buf = [0u8; 512];
    let outcome = match fs::File::open(node).and_then(|mut f| f.read(&mut buf)) {
        Ok(n) => Worked(format!("read {n} bytes of the host's {name}")),
        Err(e) => Blocked(format!("open: {}", describe(e.raw_os_error().unwrap_or(0)))),
    };
    let _ = fs::remove_file(node);
    outcome
}

fn module() -> Outcome {
    // finit_module on a bad descriptor: EBADF once allowed to load.
    // SAFETY: no module is read.
    let rc = unsafe { libc::syscall(libc::SYS_finit_module, -1, c("").as_ptr(), 0) };
    at_the_door(rc, "module loading")
}

fn kexec() -> Outcome {
    // An unknown architecture in the flags: EINVAL once allowed.
    // SAFETY: nothing is loaded with zero segments and bad flags.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_kexec_load,
            0usize,
            0usize,
            std::ptr::null::<u8>(),
            0xdead_0000usize,
        )
    };
    at_the_door(rc, "kexec_load")
}

/// Attach to the process that started us, if it is outside the container
/// (visible only when the pid namespace is the host's).
fn ptrace_outside() -> Outcome {
    // SAFETY: getppid cannot fail.
    let parent = unsafe { libc::getppid() };
    if parent == 0 {
        return Blocked("no process outside is visible (pid namespace)".into());
    }
    if !outside(parent) {
        return Blocked("only the container's own processes are visible".into());
    }
    // SEIZE does not stop it; detaching happens when we exit.
    // SAFETY: as above.
    let rc = unsafe { libc::ptrace(libc::PTRACE_SEIZE, parent, 0, 0) };
    if rc == 0 {
        Worked(format!("attached to the host's pid {parent}"))
    } else {
        Blocked(describe(errno()))
    }
}

/// Whether `pid` runs in another root than ours (the host's).
fn outside(pid: i32) -> bool {
    let root = |p: &str| fs::metadata(p).map(|m| (m.dev(), m.ino())).ok();
    let theirs = root(&format!("/proc/{pid}/root"));
    theirs.is_some() && theirs != root("/")
}

fn unshare_user() -> Outcome {
    // In a child, so this process keeps its own namespaces.
    // SAFETY: the child only calls unshare and _exit.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        let rc = unsafe { libc::unshare(libc::CLONE_NEWUSER) };
        let code = if rc == 0 { 0 } else { errno() };
        unsafe { libc::_exit(code.min(255)) };
    }
    let mut status = 0;
    unsafe { libc::waitpid(pid, &mut status, 0) };
    match libc::WEXITSTATUS(status) {
        0 => Worked("a new user namespace, with every capability in it".into()),
        e => Blocked(describe(e)),
    }
}

/// Another root reachable through /proc/PID/root.
fn proc_root() -> Outcome {
    let own = fs::metadata("/").map(|m| (m.dev(), m.ino())).ok();
    let Ok(dir) = fs::read_dir("/proc") else {
        return Blocked("no /proc".into());
    };
    let mut denied = None;
    for entry in dir.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.chars().all(|c| c.is_ascii_digit()) {
            continue;
        }
        match fs::metadata(format!("/proc/{name}/root")) {
            Ok(m) if Some((m.dev(), m.ino())) != own => {
                return Worked(format!("/proc/{name}/root is another root"));
            }
            Ok(_) => {}
            Err(e) => denied = Some(describe(e.raw_os_error().unwrap_or(0))),
        }
    }
    Blocked(
        denied.unwrap_or_else(|| "every visible process shares this root (pid namespace)".into()),
    )
}

/// CVE-2019-5736: pid 1 (berth's `--init`) runs the engine's binary; is
/// that binary reachable, and writable once it stops running?
fn runtime_exe() -> Outcome {
    let target = match fs::read_link("/proc/1/exe") {
        Ok(t) => t.to_string_lossy().into_owned(),
        Err(e) => {
            let why = describe(e.raw_os_error().unwrap_or(0));
            return Blocked(format!("/proc/1/exe: {why}"));
        }
    };
    if target.starts_with("/memfd:") {
        return Blocked(format!("pid 1 runs a sealed copy, {target}"));
    }
    // The container's own program (no --init): nothing of the host's.
    let id = |p: &str| fs::metadata(p).map(|m| (m.dev(), m.ino())).ok();
    if id("/proc/1/exe").is_some() && id("/proc/1/exe") == id(&target) {
        return Blocked(format!("pid 1 is the container's own {target}"));
    }
    match fs::OpenOptions::new().write(true).open("/proc/1/exe") {
        Ok(_) => Worked(format!("the host's {target} open for writing")),
        Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) => Worked(format!(
            "pid 1 is the host's {target}: busy now, writable once it exits"
        )),
        Err(e) => Blocked(describe(e.raw_os_error().unwrap_or(0))),
    }
}

fn hostname() -> Outcome {
    let mut old = [0u8; 65];
    // SAFETY: gethostname fills our buffer; sethostname sets it back.
    unsafe { libc::gethostname(old.as_mut_ptr().cast(), old.len()) };
    let len = old.iter().position(|b| *b == 0).unwrap_or(0);
    let rc = unsafe { libc::sethostname(old.as_ptr().cast(), len) };
    if rc == 0 {
        Worked("may set the hostname".into())
    } else {
        Blocked(describe(errno()))
    }
}

fn clock() -> Outcome {
    // settimeofday(NULL, NULL) checks CAP_SYS_TIME and changes nothing.
    // SAFETY: null pointers are allowed.
    let rc = unsafe { libc::syscall(libc::SYS_settimeofday, 0usize, 0usize) };
    at_the_door(rc, "may set the host's clock")
}

fn bpf() -> Outcome {
    // BPF_PROG_LOAD with an empty attribute: EINVAL once allowed.
    let attr = [0u8; 128];
    // SAFETY: the kernel reads our zeroed buffer.
    let rc = unsafe { libc::syscall(libc::SYS_bpf, 5, attr.as_ptr(), attr.len()) };
    at_the_door(rc, "bpf")
}

/// Shocker (2014): open_by_handle_at reaches any file of a filesystem
/// from a descriptor on it, here the root (inode 2) of the filesystem
/// behind the bind-mounted /etc/hosts.
fn shocker() -> Outcome {
    let Ok(file) = fs::File::open("/etc/hosts") else {
        return Blocked("no /etc/hosts".into());
    };
    use std::os::fd::AsRawFd;
    #[repr(C)]
    struct Handle {
        bytes: u32,
        kind: i32,
        ino: u32,
        generation: u32,
    }
    // FILEID_INO32_GEN, inode 2 (the root of ext2/3/4), generation 0.
    let mut handle = Handle {
        bytes: 8,
        kind: 1,
        ino: 2,
        generation: 0,
    };
    // SAFETY: the handle outlives the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_open_by_handle_at,
            file.as_raw_fd(),
            &mut handle as *mut Handle,
            libc::O_RDONLY | libc::O_DIRECTORY,
        )
    };
    if rc >= 0 {
        unsafe { libc::close(rc as i32) };
        return Worked("opened the root of the host's filesystem by handle".into());
    }
    at_the_door(rc, "open_by_handle_at")
}

/// The host's kernel log.
fn syslog() -> Outcome {
    // SYSLOG_ACTION_SIZE_BUFFER reads nothing.
    // SAFETY: no buffer is written.
    let rc = unsafe { libc::klogctl(10, std::ptr::null_mut(), 0) };
    at_the_door(rc as i64, "may read the host's kernel log")
}

#[cfg(target_arch = "x86_64")]
fn ioperm() -> Outcome {
    // Port 0x80 (POST codes), switched straight off again.
    // SAFETY: no port is touched.
    let rc = unsafe { libc::ioperm(0x80, 1, 1) };
    if rc == 0 {
        unsafe { libc::ioperm(0x80, 1, 0) };
        return Worked("direct access to I/O ports".into());
    }
    at_the_door(rc as i64, "ioperm")
}

#[cfg(not(target_arch = "x86_64"))]
fn ioperm() -> Outcome {
    Blocked("no I/O ports on this architecture".into())
}

/// Docker's defaults keep CAP_NET_RAW (ping): a raw socket can forge
/// packets on the bridge, such as ARP replies.
fn raw_socket() -> Outcome {
    // SAFETY: a socket we close at once.
    let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, 0) };
    if fd >= 0 {
        unsafe { libc::close(fd) };
        return Worked("a raw packet socket".into());
    }
    Blocked(describe(errno()))
}

/// Allocates and touches 256 MiB; under `-m` the kernel kills it first.
fn memory() -> Outcome {
    let mut chunks: Vec<Vec<u8>> = Vec::new();
    for _ in 0..256 {
        chunks.push(vec![1u8; 1 << 20]);
    }
    Worked(format!("{} MiB allocated", chunks.len()))
}
