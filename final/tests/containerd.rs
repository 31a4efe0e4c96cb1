//! berth-runtime driven by real containerd: the test starts its own
//! containerd (Debian's, from `cargo lab setup`) on a private root, state
//! directory and socket, pulls the fixture image from a test registry on
//! 127.0.0.1, and has `ctr` run containers through containerd's runc shim
//! with `--runc-binary` pointing at berth-runtime. Everything it starts is
//! stopped by pid, everything mounted under its root unmounted, and the
//! directories removed. Runs as root.

use std::fs::File;
use std::io::Read;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use lab::registry::Registry;

mod daemon;

const RUNTIME: &str = env!("CARGO_BIN_EXE_berth-runtime");
/// containerd's namespace for the test's images and containers.
const NAMESPACE: &str = "berth-test";
/// Where containerd 1.6 puts its shims' sockets, whatever its config says.
const SHIM_SOCKETS: [&str; 2] = ["/run/containerd", "/run/containerd/s"];

/// A containerd of the test's own, and the image it pulled.
struct Containerd {
    dir: tempfile::TempDir,
    daemon: Option<Child>,
    image: String,
    _registry: Registry,
    _host_paths: daemon::HostPaths,
}

impl Containerd {
    /// Starts containerd and pulls the fixture image into it.
    fn start() -> Containerd {
        daemon::require(&["containerd", "ctr", "containerd-shim-runc-v2"]);
        let dir = tempfile::Builder::new()
            .prefix("berth-containerd-")
            .tempdir()
            .unwrap();
        let host_paths = daemon::HostPaths::note(&SHIM_SOCKETS);
        let config = dir.path().join("config.toml");
        std::fs::write(&config, config_toml(dir.path())).unwrap();
        std::fs::create_dir(dir.path().join("fifo")).unwrap();
        let log = File::create(dir.path().join("containerd.log")).unwrap();
        let daemon = Command::new("containerd")
            .arg("--config")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let registry = Registry::start().unwrap();
        let mut containerd = Containerd {
            dir,
            daemon: Some(daemon),
            _host_paths: host_paths,
            image: format!("{}/busybox:containerd", registry.host()),
            _registry: registry,
        };
        containerd.wait_ready();
        containerd.seed_and_pull();
        containerd
    }

    fn socket(&self) -> PathBuf {
        self.dir.path().join("containerd.sock")
    }

    /// Waits until containerd answers `ctr version`.
    fn wait_ready(&mut self) {
        daemon::wait_until(
            "containerd",
            &self.dir.path().join("containerd.log"),
            Duration::from_secs(20),
            || self.ctr(&["version"]).status.success(),
        );
    }

    /// The fixture as an image in the test registry, pulled by containerd.
    fn seed_and_pull(&self) {
        daemon::push_fixture(self.dir.path(), "containerd", &self.image);
        let out = self.ctr(&["image", "pull", "--plain-http", &self.image]);
        assert!(out.status.success(), "{out:?}");
    }

    /// `ctr` on our socket and namespace, with `args`.
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new("ctr");
        command
            .arg("--address")
            .arg(self.socket())
            .arg("--namespace")
            .arg(NAMESPACE)
            .args(args)
            .stdin(Stdio::null());
        command
    }

    fn ctr(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// `ctr run` through berth-runtime: the flags that pick the runtime
    /// binary, its state root and the stdio fifos' directory, then `args`.
    fn run_args(&self, args: &[&str]) -> Vec<String> {
        let mut all: Vec<String> = vec!["run".into()];
        all.extend(
            [
                "--runtime",
                "io.containerd.runc.v2",
                "--runc-binary",
                RUNTIME,
                "--runc-root",
            ]
            .map(String::from),
        );
        all.push(self.dir.path().join("runc").display().to_string());
        all.push("--fifo-dir".into());
        all.push(self.dir.path().join("fifo").display().to_string());
        all.extend(args.iter().map(|a| a.to_string()));
        all
    }

    fn run(&self, args: &[&str]) -> Output {
        let all = self.run_args(args);
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        self.ctr(&all)
    }

    /// Kills and deletes what is left of container `id` (best effort).
    fn remove(&self, id: &str) {
        let _ = self.ctr(&["task", "kill", "--signal", "SIGKILL", id]);
        let _ = self.ctr(&["task", "delete", "--force", id]);
        let _ = self.ctr(&["container", "rm", id]);
    }

    /// Stops containerd and the shims it left, by pid.
    fn stop(&mut self) {
        if let Some(mut child) = self.daemon.take() {
            daemon::stop(&mut child);
        }
        daemon::kill_shims(&self.socket());
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        for id in ["c-hello", "c-code", "c-exec", "c-kill", "c-tty"] {
            self.remove(id);
        }
        let _ = self.ctr(&["image", "rm", &self.image]);
        self.stop();
        daemon::unmount_under(self.dir.path());
    }
}

/// A minimal config: everything under `dir`, no CRI, debug logging.
fn config_toml(dir: &Path) -> String {
    let d = dir.display();
    format!(
        "version = 2\n\
         root = \"{d}/root\"\n\
         state = \"{d}/state\"\n\
         disabled_plugins = [\"io.containerd.grpc.v1.cri\", \"io.containerd.internal.v1.opt\", \
         \"io.containerd.snapshotter.v1.btrfs\", \"io.containerd.snapshotter.v1.zfs\", \
         \"io.containerd.snapshotter.v1.devmapper\", \"io.containerd.snapshotter.v1.aufs\", \
         \"io.containerd.tracing.processor.v1.otlp\"]\n\
         [grpc]\n  address = \"{d}/containerd.sock\"\n\
         [ttrpc]\n  address = \"{d}/containerd.sock.ttrpc\"\n\
         [debug]\n  level = \"debug\"\n"
    )
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs `command` with a pty's slave as its stdio (ctr's `-t` wants a
/// terminal): its status and what it wrote.
fn on_a_pty(mut command: Command) -> (std::process::ExitStatus, String) {
    let pty = nix::pty::openpty(None, None).unwrap();
    let slave: OwnedFd = pty.slave;
    let mut child = command
        .stdin(File::from(slave.try_clone().unwrap()))
        .stdout(File::from(slave.try_clone().unwrap()))
        .stderr(File::from(slave))
        .spawn()
        .unwrap();
    drop(command);
    let status = child.wait().unwrap();
    // Read what is there (the slave's last holder is gone: EIO ends it).
    let mut seen = String::new();
    let mut master = File::from(pty.master);
    let mut buf = [0u8; 256];
    while let Ok(n) = master.read(&mut buf) {
        if n == 0 {
            break;
        }
        seen.push_str(&text(&buf[..n]));
    }
    (status, seen)
}

#[test]
fn containerd_runs_containers_through_berth_runtime() {
    let containerd = Containerd::start();
    let image = containerd.image.clone();

    // The container's output and exit code, through the shim's fifos.
    let out = containerd.run(&["--rm", &image, "c-hello", "echo", "hello"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(text(&out.stdout), "hello\n");
    let out = containerd.run(&[
        "--rm",
        &image,
        "c-code",
        "sh",
        "-c",
        "echo to-stderr >&2; exit 7",
    ]);
    assert_eq!(out.status.code(), Some(7), "{out:?}");
    assert!(text(&out.stderr).contains("to-stderr"), "{out:?}");

    // Detached; then exec (the shim's `exec --process F --detach`), ps.
    let out = containerd.run(&["-d", &image, "c-exec", "sleep", "100"]);
    assert!(out.status.success(), "{out:?}");
    let out = containerd.ctr(&[
        "task",
        "exec",
        "--fifo-dir",
        containerd.dir.path().join("fifo").to_str().unwrap(),
        "--exec-id",
        "e1",
        "c-exec",
        "sh",
        "-c",
        "cat /proc/1/comm; exit 3",
    ]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert_eq!(text(&out.stdout), "sleep\n");
    // With a terminal: the exec's pty goes over its own console socket.
    let exec_tty = containerd.command(&[
        "task",
        "exec",
        "-t",
        "--fifo-dir",
        containerd.dir.path().join("fifo").to_str().unwrap(),
        "--exec-id",
        "e2",
        "c-exec",
        "sh",
        "-c",
        "test -t 0 && echo exec-on-a-tty; exit 2",
    ]);
    let (status, seen) = on_a_pty(exec_tty);
    assert_eq!(status.code(), Some(2), "{seen:?}");
    assert!(seen.contains("exec-on-a-tty"), "{seen:?}");
    let out = containerd.ctr(&["task", "ps", "c-exec"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(text(&out.stdout).lines().count(), 2, "{out:?}");
    // `ctr task kill`, then delete: the shim reaped the exit, 128+9.
    let out = containerd.ctr(&["task", "kill", "--signal", "SIGKILL", "c-exec"]);
    assert!(out.status.success(), "{out:?}");
    let since = Instant::now();
    while !text(&containerd.ctr(&["task", "ls"]).stdout).contains("STOPPED") {
        assert!(since.elapsed() < Duration::from_secs(10), "not stopped");
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = containerd.ctr(&["task", "delete", "c-exec"]);
    assert!(out.status.success(), "{out:?}");
    assert!(text(&out.stderr).contains("137"), "{out:?}");
    assert!(
        containerd
            .ctr(&["container", "rm", "c-exec"])
            .status
            .success()
    );

    // A foreground `ctr run` ends with the code of the signal that killed it.
    let args = containerd.run_args(&["--rm", &image, "c-kill", "sleep", "100"]);
    let mut foreground = containerd.command(&[]).args(&args).spawn().unwrap();
    let since = Instant::now();
    while !text(&containerd.ctr(&["task", "ls"]).stdout).contains("RUNNING") {
        assert!(since.elapsed() < Duration::from_secs(10), "not running");
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = containerd.ctr(&["task", "kill", "--signal", "SIGKILL", "c-kill"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(foreground.wait().unwrap().code(), Some(137));

    // -t: the pty's master travels over the console socket to the shim.
    let args = containerd.run_args(&[
        "--rm",
        "-t",
        &image,
        "c-tty",
        "sh",
        "-c",
        "test -t 0 && test -t 1 && echo on-a-tty",
    ]);
    let mut run_tty = containerd.command(&[]);
    run_tty.args(&args);
    let (status, seen) = on_a_pty(run_tty);
    assert!(status.success(), "{status:?}: {seen:?}");
    assert!(seen.contains("on-a-tty"), "{seen:?}");

    // Nothing of berth-runtime is left: no state, no cgroup.
    let state = containerd.dir.path().join("runc").join(NAMESPACE);
    let left: Vec<_> = std::fs::read_dir(&state)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
    for id in ["c-hello", "c-code", "c-exec", "c-kill", "c-tty"] {
        let cgroup = berth::runtime::resources::cgroup_name(id);
        assert!(ch03_cgroups::Cgroup::open(&cgroup).is_err(), "{cgroup}");
    }
}
