//! The probe: runs inside a container and prints what it sees.
//!
//! Every line is `key: value`, in a fixed order, so that the lab's scenario
//! harness can normalise volatile values (pids, inodes) and compare the rest
//! with a committed snapshot. `probe [SECTION]...` prints only the named
//! sections: ids, hostname, root, ns, mounts, cgroup, caps, net, ipc.
//! Two more run only when named, because their values move or they act:
//! `time` (clock readings) and `zombies` (makes orphans, counts zombies);
//! `forkbomb` forks until the kernel refuses (then ends its children);
//! `cwd` prints the working directory (`/` once a runtime has entered the
//! new root and moved into it);
//! `limits` prints the cgroup limits in the same words on cgroup v1 and v2;
//! `security` prints the five capability sets by name, no_new_privs, the
//! seccomp mode and filter count, and what covers each of Docker's masked
//! and read-only paths. `probe attack NAME...` (or `attack all`) tries the
//! escapes of `attack.rs` and says, for each, `blocked (why)` or `worked`.

mod attack;
mod security;

use std::ffi::CStr;
use std::fs;
use std::os::unix::fs::MetadataExt;

const SECTIONS: &[(&str, fn())] = &[
    ("ids", ids),
    ("hostname", hostname),
    ("root", root),
    ("ns", namespaces),
    ("mounts", mounts),
    ("cgroup", cgroup),
    ("caps", caps),
    ("net", net),
    ("ipc", ipc),
];

/// Sections printed only when asked for by name.
const ON_REQUEST: &[(&str, fn())] = &[
    ("cwd", cwd),
    ("time", time),
    ("zombies", zombies),
    ("forkbomb", forkbomb),
    ("limits", limits),
    ("security", security::security),
];

fn main() {
    let wanted: Vec<String> = std::env::args().skip(1).collect();
    if wanted.first().is_some_and(|w| w == "attack") {
        std::process::exit(attack::run(&wanted[1..]));
    }
    for name in &wanted {
        if !SECTIONS.iter().chain(ON_REQUEST).any(|(n, _)| n == name) {
            let names: Vec<&str> = SECTIONS.iter().chain(ON_REQUEST).map(|(n, _)| *n).collect();
            eprintln!(
                "probe: unknown section {name:?} (known: {})",
                names.join(", ")
            );
            std::process::exit(2);
        }
    }
    for (name, print) in SECTIONS {
        if wanted.is_empty() || wanted.iter().any(|w| w == name) {
            print();
        }
    }
    for (name, print) in ON_REQUEST {
        if wanted.iter().any(|w| w == name) {
            print();
        }
    }
}

/// Reads a /proc or /sys file, or says why not.
fn read(path: &str) -> Option<String> {
    fs::read_to_string(path).ok()
}

fn proc_missing(section: &str) -> bool {
    if fs::metadata("/proc/self/status").is_err() {
        println!("{section}: unavailable (no /proc)");
        return true;
    }
    false
}

fn ids() {
    // SAFETY: these calls cannot fail.
    let (pid, ppid, uid, gid) = unsafe {
        (
            libc::getpid(),
            libc::getppid(),
            libc::getuid(),
            libc::getgid(),
        )
    };
    println!("pid: {pid}");
    println!("ppid: {ppid}");
    println!("uid: {uid}");
    println!("gid: {gid}");
    for map in ["uid_map", "gid_map"] {
        match read(&format!("/proc/self/{map}")) {
            Some(text) => {
                for line in text.lines() {
                    let fields: Vec<&str> = line.split_whitespace().collect();
                    println!("{map}: {}", fields.join(" "));
                }
            }
            None => println!("{map}: unavailable (no /proc)"),
        }
    }
}

fn hostname() {
    // SAFETY: uname fills the struct we pass it.
    let mut uts: libc::utsname = unsafe { std::mem::zeroed() };
    if unsafe { libc::uname(&mut uts) } == 0 {
        let name = unsafe { CStr::from_ptr(uts.nodename.as_ptr()) };
        println!("hostname: {}", name.to_string_lossy());
    }
}

fn root() {
    match fs::metadata("/") {
        Ok(m) => println!("root.id: {}:{}", m.dev(), m.ino()),
        Err(e) => println!("root.id: unreadable ({e})"),
    }
}

fn cwd() {
    match std::env::current_dir() {
        Ok(dir) => println!("cwd: {}", dir.display()),
        // A directory outside the root (the kernel's "(unreachable)").
        Err(e) => println!("cwd: unreachable ({e})"),
    }
}

fn namespaces() {
    if proc_missing("ns") {
        return;
    }
    let Ok(dir) = fs::read_dir("/proc/self/ns") else {
        return;
    };
    let mut names: Vec<String> = dir
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for name in names {
        // The link reads `pid:[4026531836]`; the number is the inode.
        if let Ok(meta) = fs::metadata(format!("/proc/self/ns/{name}")) {
            println!("ns.{name}: {}", meta.ino());
        }
    }
}

fn mounts() {
    if proc_missing("mounts") {
        return;
    }
    let Some(text) = read("/proc/self/mountinfo") else {
        return;
    };
    // id parent major:minor root mountpoint options [optional...] - fstype source super
    for line in text.lines() {
        let (left, right) = line.split_once(" - ").unwrap_or((line, ""));
        let left: Vec<&str> = left.split_whitespace().collect();
        let fstype = right.split_whitespace().next().unwrap_or("?");
        if left.len() >= 6 {
            println!("mount: {} {} {}", left[4], fstype, left[5]);
        }
    }
}

fn cgroup() {
    if proc_missing("cgroup") {
        return;
    }
    if let Some(text) = read("/proc/self/cgroup") {
        for line in text.lines() {
            println!("cgroup: {line}");
        }
    }
    // Limits, where a cgroup filesystem is visible: v2 names, then v1 names.
    const FILES: &[&str] = &[
        "memory.max",
        "memory.swap.max",
        "cpu.max",
        "cpu.weight",
        "cpuset.cpus",
        "cpuset.mems",
        "pids.max",
        "io.max",
        "memory/memory.limit_in_bytes",
        "memory/memory.memsw.limit_in_bytes",
        "cpu/cpu.cfs_quota_us",
        "cpu/cpu.cfs_period_us",
        "cpu/cpu.shares",
        "cpuset/cpuset.cpus",
        "cpuset/cpuset.mems",
        "pids/pids.max",
        "blkio/blkio.weight",
    ];
    for file in FILES {
        if let Some(value) = read(&format!("/sys/fs/cgroup/{file}")) {
            let value = value.split_whitespace().collect::<Vec<_>>().join(" ");
            println!("cgroup.limit.{file}: {value}");
        }
    }
}

fn caps() {
    if proc_missing("caps") {
        return;
    }
    let Some(status) = read("/proc/self/status") else {
        return;
    };
    for (key, label) in [
        ("CapEff", "cap.eff"),
        ("CapBnd", "cap.bnd"),
        ("NoNewPrivs", "no_new_privs"),
        ("Seccomp", "seccomp"),
        ("Cpus_allowed_list", "cpus_allowed"),
    ] {
        if let Some(v) = status
            .lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        {
            println!("{label}: {}", v.trim());
        }
    }
}

fn net() {
    for line in interfaces() {
        println!("net.if: {line}");
    }
    match read("/proc/net/route") {
        Some(table) => {
            for line in routes(&table) {
                println!("net.route: {line}");
            }
        }
        None => println!("net.route: unavailable (no /proc)"),
    }
}

/// `name up|down addr/prefix...`, from getifaddrs (netlink, works without /proc).
fn interfaces() -> Vec<String> {
    let mut ifs: Vec<(String, bool, Vec<String>)> = Vec::new();
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs allocates a list we walk and then free.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return vec!["unavailable".to_string()];
    }
    let mut cur = head;
    while !cur.is_null() {
        let ifa = unsafe { &*cur };
        let name = unsafe { CStr::from_ptr(ifa.ifa_name) }
            .to_string_lossy()
            .into_owned();
        let up = ifa.ifa_flags & libc::IFF_UP as u32 != 0;
        let index = match ifs.iter().position(|(n, _, _)| *n == name) {
            Some(i) => i,
            None => {
                ifs.push((name, up, Vec::new()));
                ifs.len() - 1
            }
        };
        if let Some(addr) = ipv4(ifa.ifa_addr) {
            let prefix = ipv4(ifa.ifa_netmask).map_or(0, |m| u32::from(m).count_ones());
            ifs[index].2.push(format!("{addr}/{prefix}"));
        }
        cur = ifa.ifa_next;
    }
    unsafe { libc::freeifaddrs(head) };
    ifs.sort();
    ifs.into_iter()
        .map(|(name, up, addrs)| {
            let state = if up { "up" } else { "down" };
            let mut line = format!("{name} {state}");
            for a in addrs {
                line.push(' ');
                line.push_str(&a);
            }
            line
        })
        .collect()
}

fn ipv4(sa: *const libc::sockaddr) -> Option<std::net::Ipv4Addr> {
    if sa.is_null() || unsafe { (*sa).sa_family } as i32 != libc::AF_INET {
        return None;
    }
    let sin = unsafe { &*(sa as *const libc::sockaddr_in) };
    Some(std::net::Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr)))
}

/// IPv4 routes from /proc/net/route as `dest/prefix [via gw] dev name`.
fn routes(table: &str) -> Vec<String> {
    let hex = |s: &str| u32::from_str_radix(s, 16).map(u32::from_be).unwrap_or(0);
    let mut out = Vec::new();
    for line in table.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 8 {
            continue;
        }
        let (dest, gw, mask) = (hex(f[1]), hex(f[2]), hex(f[7]));
        let mut route = if mask == 0 {
            "default".to_string()
        } else {
            format!("{}/{}", std::net::Ipv4Addr::from(dest), mask.count_ones())
        };
        if gw != 0 {
            route.push_str(&format!(" via {}", std::net::Ipv4Addr::from(gw)));
        }
        route.push_str(&format!(" dev {}", f[0]));
        out.push(route);
    }
    out.sort();
    out
}

/// System V shared memory segments visible here (an ipc namespace's own).
fn ipc() {
    let Some(table) = read("/proc/sysvipc/shm") else {
        println!("ipc.shm: unavailable (no /proc)");
        return;
    };
    // key shmid perms size ...: one line per segment after the header.
    let keys: Vec<&str> = table
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    println!("ipc.shm.count: {}", keys.len());
    for key in keys {
        println!("ipc.shm.key: {key}");
    }
}

/// Whole seconds of the namespaced clocks (and of /proc/uptime).
fn time() {
    for (name, clock) in [
        ("monotonic", libc::CLOCK_MONOTONIC),
        ("boottime", libc::CLOCK_BOOTTIME),
    ] {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime fills the struct we pass it.
        if unsafe { libc::clock_gettime(clock, &mut ts) } == 0 {
            println!("time.{name}: {}", ts.tv_sec);
        }
    }
    if let Some(uptime) = read("/proc/uptime") {
        let secs = uptime.split(['.', ' ']).next().unwrap_or("?");
        println!("time.uptime: {secs}");
    }
}

/// Makes three orphans and reports how many are left as zombies: they are
/// re-parented to pid 1, and stay zombies unless pid 1 reaps them.
fn zombies() {
    let mut fds = [0; 2];
    // SAFETY: plain pipe/fork/_exit; the middle child only forks and exits.
    let pids = unsafe {
        if libc::pipe(fds.as_mut_ptr()) != 0 {
            println!("zombies: unavailable (pipe)");
            return;
        }
        let middle = libc::fork();
        if middle == 0 {
            for _ in 0..3 {
                let orphan = libc::fork();
                if orphan == 0 {
                    libc::_exit(0);
                }
                let bytes = orphan.to_ne_bytes();
                libc::write(fds[1], bytes.as_ptr().cast(), bytes.len());
            }
            libc::_exit(0);
        }
        libc::close(fds[1]);
        libc::waitpid(middle, std::ptr::null_mut(), 0);
        let mut pids = Vec::new();
        let mut buf = [0u8; 4];
        while libc::read(fds[0], buf.as_mut_ptr().cast(), 4) == 4 {
            pids.push(i32::from_ne_bytes(buf));
        }
        libc::close(fds[0]);
        pids
    };
    // A reaped orphan vanishes. One that stays a zombie *with us as its
    // parent* will never be reaped (we never wait for it): stop then.
    let me = std::process::id().to_string();
    let stat = |pid: i32| -> Option<(String, String)> {
        let text = read(&format!("/proc/{pid}/stat"))?;
        let mut fields = text.rsplit_once(')')?.1.split_whitespace();
        Some((fields.next()?.to_string(), fields.next()?.to_string()))
    };
    let mut zombies = 0;
    for _ in 0..500 {
        let states: Vec<Option<(String, String)>> = pids.iter().map(|p| stat(*p)).collect();
        zombies = states
            .iter()
            .filter(|s| s.as_ref().is_some_and(|(state, _)| state == "Z"))
            .count();
        let settled = states.iter().all(|s| {
            s.as_ref()
                .is_none_or(|(state, ppid)| state == "Z" && *ppid == me)
        });
        if settled {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    println!("orphans: {}", pids.len());
    println!("zombies: {zombies}");
}

/// The container's cgroup limits, named the same on v1 and v2 so one
/// snapshot fits both: `max` for none, memory+swap as a total (v1's
/// meaning, and Docker's), the CPU quota as `QUOTA PERIOD` like `cpu.max`.
fn limits() {
    let first = |paths: &[&str]| {
        paths
            .iter()
            .find_map(|p| read(&format!("/sys/fs/cgroup/{p}")))
            .map(|v| v.trim().to_string())
    };
    // v1 says "no limit" with a huge number (or -1); v2 says `max`.
    let bytes = |v: String| match v.parse::<i64>() {
        Ok(n) if !(0..1 << 62).contains(&n) => "max".to_string(),
        _ => v,
    };
    let show = |key: &str, value: Option<String>| {
        println!(
            "limits.{key}: {}",
            value.unwrap_or_else(|| "unavailable".into())
        );
    };
    let memory = first(&["memory.max", "memory/memory.limit_in_bytes"]).map(bytes);
    show("memory", memory.clone());
    let total = match (first(&["memory.swap.max"]), memory) {
        (Some(swap), Some(mem)) => match (swap.parse::<u64>(), mem.parse::<u64>()) {
            (Ok(swap), Ok(mem)) => Some((swap + mem).to_string()),
            _ => Some("max".to_string()),
        },
        _ => first(&["memory/memory.memsw.limit_in_bytes"]).map(bytes),
    };
    show("memory+swap", total);
    let cpu = first(&["cpu.max"]).or_else(|| {
        let quota = first(&["cpu/cpu.cfs_quota_us"])?;
        let period = first(&["cpu/cpu.cfs_period_us"])?;
        let quota = if quota == "-1" {
            "max".to_string()
        } else {
            quota
        };
        Some(format!("{quota} {period}"))
    });
    show("cpu", cpu);
    // The effective sets: v2 leaves `cpuset.mems` empty when it is inherited.
    show(
        "cpuset.cpus",
        first(&["cpuset.cpus.effective", "cpuset/cpuset.effective_cpus"]),
    );
    show(
        "cpuset.mems",
        first(&["cpuset.mems.effective", "cpuset/cpuset.effective_mems"]),
    );
    show("pids", first(&["pids.max", "pids/pids.max"]));
    // Whether a fork was ever refused at pids.max (the `max` event count).
    let hit = first(&["pids.events", "pids/pids.events"]).map(|events| {
        let count = events
            .lines()
            .find_map(|l| l.strip_prefix("max "))
            .and_then(|n| n.trim().parse::<u64>().ok())
            .unwrap_or(0);
        if count > 0 { "yes" } else { "no" }.to_string()
    });
    show("pids.limit_reached", hit);
}

/// Forks children that only wait, until `fork` fails or 1000 exist, says
/// how many it made and why it stopped, then kills and reaps them all.
fn forkbomb() {
    let mut children = Vec::new();
    let stopped = loop {
        if children.len() >= 1000 {
            break "not refused (stopped at 1000)".to_string();
        }
        // SAFETY: the child only waits for its signal, then exits.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            unsafe {
                libc::pause();
                libc::_exit(0)
            }
        }
        if pid < 0 {
            let error = std::io::Error::last_os_error().to_string();
            break error.split(" (os error").next().unwrap_or("").to_string();
        }
        children.push(pid);
    };
    println!("forkbomb.forked: {}", children.len());
    println!("forkbomb.stopped: {stopped}");
    for pid in &children {
        // SAFETY: our own children, by pid.
        unsafe {
            libc::kill(*pid, libc::SIGKILL);
            libc::waitpid(*pid, std::ptr::null_mut(), 0);
        }
    }
}
