//! What the tests that start real daemons (containerd, dockerd) share:
//! the fixture image in the test registry, waiting for a daemon to answer,
//! stopping it by its pid, unmounting what it left under its directory,
//! and removing the host paths it made outside it.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// Pushes the fixture, as an image of one layer tagged `tag`, to `image`
/// (a reference in the test registry), through an OCI layout in `dir`.
pub fn push_fixture(dir: &Path, tag: &str, image: &str) {
    use lab::registry::{Compression, Layout, fixture_layer, skopeo_push};
    let layout_dir = dir.join("layout");
    let mut layout = Layout::create(&layout_dir).unwrap();
    let desc = layout
        .image(
            &[(fixture_layer().unwrap(), Compression::Gzip)],
            "amd64",
            &["/bin/sh"],
        )
        .unwrap();
    layout.tag(tag, &desc).unwrap();
    skopeo_push(&layout_dir, tag, image, false).unwrap();
}

/// Polls `ready` until it holds; fails after `patience` with the daemon's
/// log (`log`).
pub fn wait_until(what: &str, log: &Path, patience: Duration, ready: impl Fn() -> bool) {
    let since = Instant::now();
    while !ready() {
        assert!(
            since.elapsed() < patience,
            "{what} did not start: {}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Fails with the fix when a program of the daemons' packages is missing.
pub fn require(tools: &[&str]) {
    for tool in tools {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .unwrap();
        assert!(
            found.status.success(),
            "{tool} is missing: run `cargo lab setup` (it installs Debian's containerd and docker.io)"
        );
    }
}

/// Stops `daemon`, a child we started: SIGTERM, then SIGKILL after 15 s.
pub fn stop(daemon: &mut Child) {
    let pid = Pid::from_raw(daemon.id() as i32);
    let _ = kill(pid, Signal::SIGTERM);
    let since = Instant::now();
    while daemon.try_wait().ok().flatten().is_none() {
        if since.elapsed() > Duration::from_secs(15) {
            let _ = kill(pid, Signal::SIGKILL);
            let _ = daemon.wait();
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Kills the containerd shims serving the daemon at `socket` (started by
/// our daemon, for our containers), by pid.
pub fn kill_shims(socket: &Path) {
    let socket = socket.display().to_string();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains("containerd-shim") && cmdline.contains(&socket) {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
    }
}

/// Unmounts whatever is mounted under `dir` (deepest first).
pub fn unmount_under(dir: &Path) {
    let root = dir.display().to_string();
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut points: Vec<String> = mountinfo
        .lines()
        .filter_map(|l| l.split_whitespace().nth(4))
        .filter(|p| p.starts_with(&root))
        .map(String::from)
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for point in points {
        let _ = nix::mount::umount2(point.as_str(), nix::mount::MntFlags::MNT_DETACH);
    }
}

/// Host paths a daemon makes outside its own directories whatever its
/// flags say (containerd 1.6's shim sockets in `/run/containerd/s`,
/// dockerd's `/run/docker/plugins` and `/etc/docker/key.json`): those
/// that did not exist before are removed again, directories only if empty
/// (another daemon may be using them).
pub struct HostPaths {
    made: Vec<PathBuf>,
}

impl HostPaths {
    /// Notes which of `paths` (parents first) do not exist yet.
    pub fn note(paths: &[&str]) -> HostPaths {
        HostPaths {
            made: paths
                .iter()
                .map(PathBuf::from)
                .filter(|p| !p.exists())
                .collect(),
        }
    }
}

impl Drop for HostPaths {
    fn drop(&mut self) {
        for path in self.made.iter().rev() {
            match path.is_dir() {
                true => {
                    let _ = std::fs::remove_dir(path);
                }
                false => {
                    let _ = std::fs::remove_file(path);
                }
            }
        }
    }
}
