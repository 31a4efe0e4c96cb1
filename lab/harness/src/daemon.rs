//! Real daemons started by tests and the bench (containerd, dockerd):
//! stopping one by its pid, killing its shims by pid, unmounting what it
//! left under its directory, and removing the host paths it made outside
//! it. Nothing here touches a process or path it did not start or make.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// Made by dockerd (and its containerd's shims) whatever its flags say.
pub const DOCKERD_HOST_PATHS: [&str; 6] = [
    "/run/containerd",
    "/run/containerd/s",
    "/run/docker",
    "/run/docker/plugins",
    "/etc/docker",
    "/etc/docker/key.json",
];

/// `dockerd` with everything of its own under `dir` (an empty config, its
/// data and exec roots, pidfile, socket `dir/docker.sock`, log
/// `dir/dockerd.log`), plus `extra` flags: a daemon beside any other.
pub fn dockerd_command(dir: &Path, extra: &[String]) -> std::io::Result<Command> {
    let config = dir.join("daemon.json");
    std::fs::write(&config, "{}")?;
    let log = std::fs::File::create(dir.join("dockerd.log"))?;
    let d = dir.display();
    let mut command = Command::new("dockerd");
    command
        .arg("--config-file")
        .arg(&config)
        .arg(format!("--data-root={d}/data"))
        .arg(format!("--exec-root={d}/exec"))
        .arg(format!("--pidfile={d}/docker.pid"))
        .arg(format!("--host=unix://{d}/docker.sock"))
        .arg("--ip6tables=false")
        .args(extra)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    Ok(command)
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
