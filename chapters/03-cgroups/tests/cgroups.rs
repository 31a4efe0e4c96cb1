//! The cgroups library on this host's real layout (v1/hybrid here, v2 in
//! the lab VM): real processes in real cgroups, as root.
//!
//! Each test creates its own uniquely named cgroup, starts a shell held on
//! a pipe, moves it in, then releases it, the order chapter 3's start
//! sequence uses, so the process never runs outside its limits. Every
//! cgroup is removed on every path (`Cgroup` removes itself when dropped).

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use ch03_cgroups::cgroup::PARENT;
use ch03_cgroups::device::parse_device_rate;
use ch03_cgroups::stats::key_value;
use ch03_cgroups::{Cgroup, Layout, Limits, Swap};
use lab::privileged::require_root;
use nix::unistd::Pid;

/// A unique cgroup name for one test: `berth/test-<pid>-<name>`.
fn unique(name: &str) -> String {
    format!("{PARENT}/test-{}-{name}", std::process::id())
}

/// A shell blocked on `read` until released, running `script` afterwards.
struct Held {
    child: Child,
}

impl Held {
    fn start(script: &str) -> Held {
        let child = Command::new("sh")
            .args(["-c", &format!("read go; {script}")])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("starting sh");
        Held { child }
    }

    fn pid(&self) -> Pid {
        Pid::from_raw(self.child.id() as i32)
    }

    /// Places the shell in `cgroup`, then lets it go on.
    fn release_into(&mut self, cgroup: &Cgroup) {
        cgroup.add_process(self.pid()).expect("add_process");
        let mut stdin = self.child.stdin.take().expect("stdin");
        stdin.write_all(b"go\n").expect("releasing the shell");
    }

    fn stdout(&mut self) -> ChildStdout {
        self.child.stdout.take().expect("stdout")
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        // Our own child, by pid; usually already dead (cgroup removal kills it).
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn assert_removed(dirs: &[PathBuf]) {
    for dir in dirs {
        assert!(!dir.exists(), "{} is left behind", dir.display());
    }
}

fn dirs(cgroup: &Cgroup) -> Vec<PathBuf> {
    cgroup.dirs().iter().map(|(_, d)| d.clone()).collect()
}

#[test]
fn memory_hog_is_oom_killed_at_the_limit() {
    if !require_root() {
        return;
    }
    let cgroup = Cgroup::create(&unique("oom")).unwrap();
    let limits = Limits {
        memory: Some(32 << 20),
        memory_swap: Some(Swap::Total(32 << 20)),
        ..Limits::default()
    };
    limits.validate(2).unwrap();
    cgroup.apply(&limits).unwrap();
    let mut hog = Held::start("exec tail /dev/zero");
    hog.release_into(&cgroup);
    let status = hog.child.wait().unwrap();
    assert_eq!(
        status.signal(),
        Some(9),
        "the hog was not killed: {status:?}"
    );
    let stats = cgroup.stats();
    assert!(stats.oom_kills >= 1, "no OOM kill recorded: {stats:?}");
    assert_eq!(cgroup.oom_kills(), stats.oom_kills);
    if let Some(peak) = stats.memory_peak {
        assert!(
            (16 << 20..=33 << 20).contains(&peak),
            "peak {peak} is not near the 32 MiB limit"
        );
    }
    let dirs = dirs(&cgroup);
    cgroup.remove().unwrap();
    assert_removed(&dirs);
}

#[test]
fn fork_bomb_stops_at_the_pids_limit() {
    if !require_root() {
        return;
    }
    let cgroup = Cgroup::create(&unique("forkbomb")).unwrap();
    cgroup.set_pids_max(Some(20)).unwrap();
    // The shell ends as `sleep` without forking (`exec`): once the bomb has
    // used up pids.max a fork would fail, the shell would exit, and the
    // cgroup could empty before the checks below.
    let mut bomb = Held::start("exec 2>/dev/null; b() { b | b & }; b; exec sleep 30");
    bomb.release_into(&cgroup);
    // Let it hit the ceiling for a while.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let events = cgroup.read("pids", "pids.events").unwrap();
        if key_value(&events, "max").unwrap_or(0) > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "the bomb never reached pids.max");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    let current = cgroup.stats().pids_current.unwrap();
    assert!(current <= 20, "pids.current {current} exceeds the limit");
    assert!(!cgroup.procs().is_empty());
    // The host is responsive: a process outside the cgroup starts at once.
    let started = Instant::now();
    assert!(Command::new("true").status().unwrap().success());
    assert!(started.elapsed() < Duration::from_secs(5));
    // And removal kills the whole bomb.
    let dirs = dirs(&cgroup);
    cgroup.remove().unwrap();
    assert_removed(&dirs);
}

#[test]
fn frozen_processes_stop_and_thawed_ones_go_on() {
    if !require_root() {
        return;
    }
    let cgroup = Cgroup::create(&unique("freezer")).unwrap();
    let mut busy = Held::start("while :; do :; done");
    busy.release_into(&cgroup);
    std::thread::sleep(Duration::from_millis(200));
    cgroup.freeze().unwrap();
    assert!(cgroup.is_frozen().unwrap());
    let before = cgroup.cpu_time().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let frozen_for = cgroup.cpu_time().unwrap() - before;
    assert!(
        frozen_for < Duration::from_millis(20),
        "a frozen loop used {frozen_for:?} of CPU"
    );
    cgroup.thaw().unwrap();
    assert!(!cgroup.is_frozen().unwrap());
    // Running again: it uses CPU (however busy the host is, within 10 s).
    let before = cgroup.cpu_time().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let thawed_for = cgroup.cpu_time().unwrap() - before;
        if thawed_for > Duration::from_millis(50) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "a thawed loop used only {thawed_for:?} of CPU in 10 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // Removal also works on a frozen cgroup.
    cgroup.freeze().unwrap();
    let dirs = dirs(&cgroup);
    cgroup.remove().unwrap();
    assert_removed(&dirs);
}

#[test]
fn half_a_cpu_is_half_a_cpu() {
    if !require_root() {
        return;
    }
    let cgroup = Cgroup::create(&unique("cpus")).unwrap();
    cgroup.set_cpus(500_000_000).unwrap();
    let mut busy = Held::start("while :; do :; done");
    busy.release_into(&cgroup);
    std::thread::sleep(Duration::from_millis(300));
    let (cpu0, wall0) = (cgroup.cpu_time().unwrap(), Instant::now());
    std::thread::sleep(Duration::from_secs(2));
    let (cpu1, wall1) = (cgroup.cpu_time().unwrap(), Instant::now());
    let share = (cpu1 - cpu0).as_secs_f64() / (wall1 - wall0).as_secs_f64();
    // A generous band: the quota caps it at 0.5; a busy host may give less.
    assert!(
        (0.15..=0.65).contains(&share),
        "a busy loop under --cpus 0.5 got {share:.2} CPUs"
    );
    // The kernel enforced the quota: it throttled the loop, unless a busy
    // host (other tests run in parallel) never let it use its half.
    let throttled = key_value(&cgroup.read("cpu", "cpu.stat").unwrap(), "nr_throttled");
    assert!(
        throttled.unwrap_or(0) > 0 || share < 0.45,
        "never throttled at {share:.2} CPUs: {throttled:?}"
    );
    if cgroup.is_v2() {
        assert_eq!(
            cgroup.read("cpu", "cpu.max").unwrap().trim(),
            "50000 100000"
        );
    } else {
        assert_eq!(
            cgroup.read("cpu", "cpu.cfs_quota_us").unwrap().trim(),
            "50000"
        );
        assert_eq!(
            cgroup.read("cpu", "cpu.cfs_period_us").unwrap().trim(),
            "100000"
        );
    }
    assert_eq!(cgroup.stats().pids_current, Some(1));
    cgroup.remove().unwrap();
}

#[test]
fn cpuset_pins_the_process() {
    if !require_root() {
        return;
    }
    let cgroup = Cgroup::create(&unique("cpuset")).unwrap();
    cgroup.set_cpuset_cpus("0").unwrap();
    cgroup.set_cpuset_mems("0").unwrap();
    let mut shell = Held::start("grep Cpus_allowed_list /proc/self/status");
    let mut stdout = shell.stdout();
    shell.release_into(&cgroup);
    let mut text = String::new();
    stdout.read_to_string(&mut text).unwrap();
    assert_eq!(
        text.split_whitespace().collect::<Vec<_>>(),
        ["Cpus_allowed_list:", "0"]
    );
    // A CPU the host does not have is refused with the reason.
    let err = cgroup.set_cpuset_cpus("4095").unwrap_err();
    assert!(err.message.contains("are not available"), "{}", err.message);
    cgroup.remove().unwrap();
}

#[test]
fn io_throttles_name_the_device() {
    if !require_root() {
        return;
    }
    let device = BlockDevice::find();
    let cgroup = Cgroup::create(&unique("io")).unwrap();
    let read = parse_device_rate(&format!("{}:1mb", device.path.display())).unwrap();
    let write = parse_device_rate(&format!("{}:512k", device.path.display())).unwrap();
    cgroup.set_device_read_bps(&read).unwrap();
    cgroup.set_device_write_bps(&write).unwrap();
    let numbers = read.device();
    if cgroup.is_v2() {
        let io_max = cgroup.read("io", "io.max").unwrap();
        assert!(
            io_max.contains(&format!("{numbers} rbps=1048576 wbps=524288")),
            "{io_max}"
        );
    } else {
        let r = cgroup
            .read("blkio", "blkio.throttle.read_bps_device")
            .unwrap();
        let w = cgroup
            .read("blkio", "blkio.throttle.write_bps_device")
            .unwrap();
        assert_eq!(r.trim(), format!("{numbers} 1048576"));
        assert_eq!(w.trim(), format!("{numbers} 524288"));
    }
    // A weight is applied where the kernel has a weight file, or reported.
    let limits = Limits {
        blkio_weight: Some(300),
        ..Limits::default()
    };
    let warnings = cgroup.apply(&limits).unwrap();
    let has_weight = [
        "io.bfq.weight",
        "io.weight",
        "blkio.weight",
        "blkio.bfq.weight",
    ]
    .iter()
    .any(|f| cgroup.has_file(if cgroup.is_v2() { "io" } else { "blkio" }, f));
    assert_eq!(warnings.is_empty(), has_weight, "{warnings:?}");
    cgroup.remove().unwrap();
}

#[test]
fn names_are_unique_and_removal_is_complete() {
    if !require_root() {
        return;
    }
    let name = unique("twice");
    let cgroup = Cgroup::create(&name).unwrap();
    let err = Cgroup::create(&name).unwrap_err();
    assert!(err.message.contains("already exists"), "{}", err.message);
    // The failed second create did not remove the first one's directories.
    let dirs = dirs(&cgroup);
    for dir in &dirs {
        assert!(dir.exists(), "{}", dir.display());
    }
    // A process left inside is killed by remove.
    let mut sleeper = Held::start("sleep 60");
    sleeper.release_into(&cgroup);
    cgroup.remove().unwrap();
    assert_removed(&dirs);
    let status = sleeper.child.wait().unwrap();
    assert_eq!(status.signal(), Some(9));
}

#[test]
fn dropping_a_cgroup_removes_it() {
    if !require_root() {
        return;
    }
    let cgroup = Cgroup::create(&unique("dropped")).unwrap();
    let dirs = dirs(&cgroup);
    drop(cgroup);
    assert_removed(&dirs);
}

/// Sets `dirs`' modification time an hour back: what the sweep saw of a
/// cgroup whose run has been starting for a long time.
fn age(dirs: &[PathBuf]) {
    let an_hour_ago = nix::sys::time::TimeSpec::new(
        (std::time::SystemTime::now() - Duration::from_secs(3600))
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64,
        0,
    );
    for dir in dirs {
        nix::sys::stat::utimensat(
            nix::fcntl::AT_FDCWD,
            dir,
            &an_hour_ago,
            &an_hour_ago,
            nix::sys::stat::UtimensatFlags::NoFollowSymlink,
        )
        .unwrap();
    }
}

/// A cgroup created and not yet joined by any process (its run is still
/// starting, however long that takes) belongs to a live run: no sweep takes
/// it, however old it is.
#[test]
fn a_created_cgroup_with_no_process_yet_is_not_swept() {
    if !require_root() {
        return;
    }
    let layout = Layout::detect().unwrap();
    let name = unique("starting");
    let cgroup = Cgroup::create(&name).unwrap();
    let dirs = dirs(&cgroup);
    age(&dirs);
    let swept = ch03_cgroups::sweep::sweep_stale(&layout).unwrap();
    assert!(!swept.contains(&name), "{swept:?}");
    for dir in &dirs {
        assert!(dir.exists(), "the sweep removed {}", dir.display());
    }
    // And the run can go on: a process joins it.
    let mut sleeper = Held::start("sleep 60");
    sleeper.release_into(&cgroup);
    cgroup.remove().unwrap();
    assert_removed(&dirs);
}

/// Many runs creating, sweeping and removing at once, as parallel starts
/// do: every creation succeeds and no sweep or removal takes a shared
/// parent (`berth`) or a cgroup in use. Sweepers in tight loops remove
/// `berth` the moment it is empty, which is often, so a creation that is
/// not protected finds it gone half-way: on v2 while handing controllers
/// down (`cgroup.subtree_control`), on v1 while copying the parent's cpuset.
#[test]
fn concurrent_creations_sweeps_and_removals_never_collide() {
    if !require_root() {
        return;
    }
    const RUNS: usize = 4;
    const EACH: usize = 150;
    let layout = Layout::detect().unwrap();
    let failures = std::sync::Mutex::new(Vec::<String>::new());
    let done = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                while done.load(std::sync::atomic::Ordering::Relaxed) < RUNS {
                    let _ = ch03_cgroups::sweep::sweep_stale(&layout);
                }
            });
        }
        for run in 0..RUNS {
            let (layout, failures, done) = (&layout, &failures, &done);
            scope.spawn(move || {
                for i in 0..EACH {
                    // A run's part: sweep, create, (start), remove.
                    let _ = ch03_cgroups::sweep::sweep_stale(layout);
                    let name = unique(&format!("race-{run}-{i}"));
                    match Cgroup::create_in(layout, &name) {
                        Ok(cgroup) => {
                            for dir in dirs(&cgroup) {
                                if !dir.exists() {
                                    let gone = format!("{} was swept", dir.display());
                                    failures.lock().unwrap().push(gone);
                                }
                            }
                            if let Err(e) = cgroup.remove() {
                                failures.lock().unwrap().push(e.message);
                            }
                        }
                        Err(e) => failures.lock().unwrap().push(e.message),
                    }
                }
                done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "{} of {} creations failed, e.g. {:?}",
        failures.len(),
        RUNS * EACH,
        &failures[..failures.len().min(3)]
    );
}

/// A block device to throttle: one the host has, or a loop device.
struct BlockDevice {
    path: PathBuf,
    /// The loop device number we allocated, removed again on drop.
    allocated: Option<i32>,
}

const LOOP_CTL_REMOVE: libc::c_ulong = 0x4C81;
const LOOP_CTL_GET_FREE: libc::c_ulong = 0x4C82;

impl BlockDevice {
    fn find() -> BlockDevice {
        let mut names: Vec<String> = std::fs::read_dir("/sys/block")
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| std::path::Path::new("/dev").join(n).exists())
            .collect();
        names.sort();
        if let Some(name) = names.first() {
            return BlockDevice {
                path: PathBuf::from("/dev").join(name),
                allocated: None,
            };
        }
        // No disk at all (the lab VM runs from RAM): a loop device is a
        // block device even with nothing attached.
        let control = std::fs::File::open("/dev/loop-control")
            .expect("no block device on this host and no /dev/loop-control");
        // SAFETY: a plain ioctl on a file we own, no pointer argument.
        let n = unsafe { libc::ioctl(control.as_raw_fd(), LOOP_CTL_GET_FREE) };
        assert!(n >= 0, "LOOP_CTL_GET_FREE failed");
        BlockDevice {
            path: PathBuf::from(format!("/dev/loop{n}")),
            allocated: Some(n),
        }
    }
}

impl Drop for BlockDevice {
    fn drop(&mut self) {
        if let Some(n) = self.allocated
            && let Ok(control) = std::fs::File::open("/dev/loop-control")
        {
            // SAFETY: as above; removes only the device we allocated.
            unsafe { libc::ioctl(control.as_raw_fd(), LOOP_CTL_REMOVE, n as libc::c_ulong) };
        }
    }
}
